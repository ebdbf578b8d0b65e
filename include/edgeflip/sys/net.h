/* Sockets (port/posix/net.c). */
#ifndef EDGEFLIP_SYS_NET_H
#define EDGEFLIP_SYS_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Connects to host:port within timeout_ms and closes again. */
int ef_net_tcp_probe(const char *host, uint16_t port, uint64_t timeout_ms);

/* A port that is free on 127.0.0.1 right now (TCP or UDP). */
int ef_net_free_port(uint16_t *out, bool udp);

/* A TCP connection bounded by a deadline (CLOCK_MONOTONIC milliseconds, as
 * ef_clock_ms(); 0: none): the transport of the Git source under libgit2's
 * TLS layer. Every call waits with poll() at most until the deadline, so a
 * peer that answers one byte a second cannot hold the caller longer.
 *
 * Resolves host (any family) and connects to the first address that
 * answers, non-blocking, with TCP_NODELAY. *fd is the connection; 0, or
 * EF_EUNREACHABLE (cannot resolve or connect: the message names host and
 * port) or EF_ETIMEOUT (the deadline passed). */
int ef_net_tcp_connect(int *fd, const char *host, const char *port, uint64_t deadline_ms);
/* Up to len bytes into buf: the count (0 at the peer's end of stream), or
 * EF_ETIMEOUT, or EF_ERROR (message set). */
int64_t ef_net_read(int fd, void *buf, size_t len, uint64_t deadline_ms);
/* All of buf, or EF_ETIMEOUT, or EF_ERROR (message set); no SIGPIPE. */
int ef_net_write_all(int fd, const void *buf, size_t len, uint64_t deadline_ms);

#endif
