/* Shared helpers of the switch backends (port/switch/). Not a public API. */
#ifndef EDGEFLIP_PORT_SWITCH_INT_H
#define EDGEFLIP_PORT_SWITCH_INT_H

#include "edgeflip/buf.h"
#include "edgeflip/sys/switch.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct sockaddr_un;

extern const struct ef_switch_ops ef_switch_proxy_ops;
extern const struct ef_switch_ops ef_switch_nftables_ops;
extern const struct ef_switch_ops ef_switch_hook_ops;

/* Checks one route set as apply() receives it: protocol, addresses, ports,
 * no two routes on the same listener. Messages name "routes[i].key". */
int ef_routes_check(const ef_route *routes, size_t n);
/* Deep copies. ef_routes_dup of n == 0 gives *out == NULL. */
int ef_routes_dup(ef_route **out, const ef_route *routes, size_t n);

/* "tcp:0.0.0.0:8080>127.0.0.1:41001" (IPv6 addresses in brackets). */
int ef_route_describe(ef_buf *out, const ef_route *r);
/* The same, comma-separated. */
int ef_routes_describe(ef_buf *out, const ef_route *routes, size_t n);

/* Parses "ADDR" + port into a socket address; false if ADDR is no IP. */
bool ef_switch_sockaddr(struct sockaddr_storage *out, socklen_t *len, const char *addr,
                        uint16_t port);

/* Reads a routes file. EF_ENOTFOUND when it does not exist. */
int ef_routes_load(ef_route **out, size_t *n, uint64_t *generation, const char *path);

/* DIR/proxy/NAME into out; the unix socket DIR/proxy/control.sock. Both
 * fail with a message when the path is too long. */
int ef_proxy_path(char *out, size_t n, const char *dir, const char *name);
int ef_proxy_control_addr(struct sockaddr_un *sun, const char *dir);

/* Runs argv[0] (looked up in PATH when it has no '/') with the caller's
 * environment plus `env_add` ("KEY=VALUE", NULL-terminated, may be NULL),
 * feeds `input` on stdin, collects stdout and stderr into `output` (capped;
 * may be NULL) and waits at most `timeout_ms`; then kills the process group.
 * *status is the exit status, or 128 + signal number. */
int ef_switch_run(int *status, ef_buf *output, char *const argv[], char *const env_add[],
                  const char *input, size_t input_len, int timeout_ms);

/* Closes every descriptor from 3 up; for children between fork and exec. */
void ef_switch_close_fds(void);

#endif
