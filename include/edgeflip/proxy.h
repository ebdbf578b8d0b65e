/* The built-in traffic proxy (port/switch/proxy.c, proxy_conn.c; the agent's
 * side in proxy_client.c).
 *
 * `edgeflip proxy --state-dir DIR` runs a small single-threaded process that
 * owns the public ports and forwards TCP connections and UDP flows to the
 * targets in DIR/proxy/routes.json. The agent (the "proxy" switch backend)
 * rewrites that file and tells the process to reload it over the unix socket
 * DIR/proxy/control.sock. The process is not the agent's child: it keeps
 * forwarding while the agent restarts or crashes. See docs/switch.md. */
#ifndef EDGEFLIP_PROXY_H
#define EDGEFLIP_PROXY_H

#include "edgeflip/buf.h"
#include "edgeflip/sys/switch.h"

#include <stddef.h>
#include <stdint.h>

/* The entry point of the hidden sub-command. argv[0] is the program name;
 * a leading "proxy" word is skipped, then the options:
 *   --state-dir DIR   (required)
 *   --max-conns N     TCP connections at once (default: what RLIMIT_NOFILE allows,
 *                     after raising the soft limit to the hard one)
 *   --idle-timeout SECS     a TCP connection quiet this long is closed (default 30)
 *   --connect-timeout SECS  connecting to a target gives up after this (default 5)
 *   --drain-timeout SECS    after a flip, connections to the old target last this
 *                           long (default 30)
 *   --udp-idle SECS   a UDP flow with no traffic for this long is closed (default 60)
 *   --log-level LEVEL error | warn | info | debug | trace
 * Runs until SIGTERM or SIGINT; returns the process exit status
 * (0 clean stop or another proxy already runs, 1 failure, 2 usage). */
int ef_proxy_main(int argc, char **argv);

/* The routes file (DIR/proxy/routes.json, also used by the nftables and hook
 * backends in their own folders):
 *   {"generation": 3, "routes": [{"protocol": "tcp", "listen_addr": "0.0.0.0",
 *     "listen_port": 8080, "target_addr": "127.0.0.1", "target_port": 41001,
 *     "service": "web"}]}
 * It is read strictly: unknown keys, wrong types, bad addresses or ports and
 * duplicate listeners are errors naming the JSON path. */
#define EF_ROUTES_FILE_MAX (256 * 1024)
#define EF_ROUTES_MAX      512

int ef_proxy_routes_parse(ef_route **out, size_t *n, uint64_t *generation, const char *data,
                          size_t len);
int ef_proxy_routes_format(ef_buf *out, const ef_route *routes, size_t n, uint64_t generation);

#endif
