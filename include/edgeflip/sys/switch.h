/* Traffic switch backends (port/switch/): proxy (built in, default),
 * nftables, hook. A switch routes each public port of the revision to one
 * backend endpoint and flips all of them at once. */
#ifndef EDGEFLIP_SYS_SWITCH_H
#define EDGEFLIP_SYS_SWITCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ef_switch ef_switch;

/* One public port and where its traffic goes now. */
typedef struct {
	char protocol[4];     /* "tcp" | "udp" */
	char *listen_addr;    /* e.g. "0.0.0.0" */
	uint16_t listen_port; /* the public port from compose.json */
	char *target_addr;    /* e.g. "127.0.0.1" */
	uint16_t target_port; /* the active slot's internal port */
	char *service;        /* for logs */
	/* Per-port options of the proxy backend (the others ignore them);
	 * 0 / false: the proxy's default (docs/switch.md). */
	uint32_t idle_timeout_ms;    /* a TCP connection quiet this long is closed */
	uint32_t connect_timeout_ms; /* connecting to the target gives up after this */
	uint32_t drain_timeout_ms; /* after a flip, connections to the old target last this long */
	uint32_t max_conns;        /* TCP connections on this port at once */
	bool proxy_protocol;       /* send a PROXY protocol v2 header to the target */
	/* Canary (docs/switch.md "Canary"): a second backend that gets
	 * `canary_weight` percent of the NEW TCP connections; NULL: none. */
	char *canary_addr;
	uint16_t canary_port;
	uint8_t canary_weight; /* 0..100 */
	bool http;             /* the port speaks HTTP/1: count 5xx status lines per slot */
} ef_route;

/* What the switch counted for one slot of a public port (slot 0: the
 * route's target, slot 1: its canary) since that slot's backend was set. */
typedef struct {
	uint64_t connections;    /* accepted and sent to this slot */
	uint64_t connect_failed; /* refused, unreachable or timed out */
	uint64_t resets;         /* closed by an error before any response byte */
	uint64_t responses;      /* http ports: status lines seen */
	uint64_t http_5xx;       /* http ports: of those, 5xx */
} ef_slot_counters;

typedef struct {
	char protocol[4];
	uint16_t listen_port;
	uint8_t weight;
	ef_slot_counters slot[2];
} ef_port_counters;

typedef struct {
	const char *state_dir; /* where the backend keeps its files */
	const char *hook;      /* [switch] hook command (hook backend) */
	const char *self_exe;  /* path of the edgeflip executable (proxy backend) */
} ef_switch_opts;

struct ef_switch_ops {
	const char *name;
	int (*open)(ef_switch **out, const ef_switch_opts *opts);
	/* Makes `routes` the complete set of routes, atomically: every route
	 * changes at once or none does. New connections go to the new targets;
	 * established ones drain on the old. */
	int (*apply)(ef_switch *s, const ef_route *routes, size_t n);
	/* Optional: the routes in force (to recover after a restart). */
	int (*current)(ef_switch *s, ef_route **out, size_t *n);
	/* Optional: the per-slot counters of every TCP port (canary analysis).
	 * *out is malloc'd; EF_ENOTFOUND when the backend does not count. */
	int (*counters)(ef_switch *s, ef_port_counters **out, size_t *n);
	void (*close)(ef_switch *s);
};

struct ef_switch {
	const struct ef_switch_ops *ops;
};

/* The nftables backend's own target addresses, on `lo` (docs/switch.md):
 * never loopback, so DNAT from other hosts needs no route_localnet. */
#define EF_SWITCH_NFT_ADDR4 "169.254.77.1"
#define EF_SWITCH_NFT_ADDR6 "fd65:6466:6c70::1"

/* Where a blue/green slot publishes its internal ports, for a public port on
 * listen_addr, with this backend: 127.0.0.1 for proxy and hook (and any
 * unknown name); for nftables EF_SWITCH_NFT_ADDR4, or EF_SWITCH_NFT_ADDR6 when
 * listen_addr is IPv6. backend NULL is the default (proxy). */
const char *ef_switch_target_addr(const char *backend, const char *listen_addr);

extern const struct ef_switch_ops *const ef_switch_backends[];
int ef_switch_open(ef_switch **out, const char *backend, const ef_switch_opts *opts);
void ef_switch_close(ef_switch *s);
void ef_routes_free(ef_route *r, size_t n);

#endif
