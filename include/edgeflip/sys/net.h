/* Sockets (port/posix/net.c). */
#ifndef EDGEFLIP_SYS_NET_H
#define EDGEFLIP_SYS_NET_H

#include <stdbool.h>
#include <stdint.h>

/* Connects to host:port within timeout_ms and closes again. */
int ef_net_tcp_probe(const char *host, uint16_t port, uint64_t timeout_ms);

/* A port that is free on 127.0.0.1 right now (TCP or UDP). */
int ef_net_free_port(uint16_t *out, bool udp);

#endif
