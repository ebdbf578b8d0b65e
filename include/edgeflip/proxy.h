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

/* Canary routes (port/switch/canary.c; docs/switch.md "Canary"). */

/* The slot of the next new connection: 1 (the canary) for `weight` of
 * every 100 connections, spread evenly (an error-diffusion counter, so
 * any 100 consecutive connections carry exactly `weight` canary ones).
 * `acc` is the port's counter, 0 at the start. */
unsigned ef_proxy_pick_slot(uint32_t *acc, unsigned weight);

/* Reads the status line at the start of an HTTP/1 response, "HTTP/1.1 503",
 * from bytes as they arrive (they may be split anywhere); nothing is
 * buffered beyond these 12 bytes and nothing is changed. */
#define EF_HTTP_SCAN_LEN 12
typedef struct {
	uint8_t len; /* bytes of the status line seen so far */
	char b[EF_HTTP_SCAN_LEN];
} ef_http_scan;

/* 0: more bytes needed; 100..599 the status code, once the 12 bytes are
 * there; -1: not an HTTP/1 status line (decided at the first wrong byte).
 * After a result other than 0, reset with `*s = (ef_http_scan){0}`. */
int ef_http_status_scan(ef_http_scan *s, const char *data, size_t len);

/* Parses the proxy's answer to "counters" (one line, without the newline):
 *   ok GEN tcp:ADDR:PORT w=W 0=C,F,R,S,E 1=C,F,R,S,E ...
 * into *out (malloc'd, at most EF_ROUTES_MAX ports). EF_EINVALID names the
 * byte where the line stops making sense. */
int ef_proxy_counters_parse(ef_port_counters **out, size_t *n, const char *line);

#endif
