/* Health probes: HTTP, TCP and exec (through the engine), with Compose's
 * interval/timeout/retries/start_period, plus "the container keeps running". */
#ifndef EDGEFLIP_HEALTH_H
#define EDGEFLIP_HEALTH_H

#include "edgeflip/manifest.h"
#include "edgeflip/sys/engine.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
	const ef_service *spec;
	char container_id[65];
	char host[64]; /* where HTTP/TCP probes connect */
	uint16_t port;
	uint64_t started_ms;    /* monotonic time the container was started */
	uint64_t next_ms;       /* next probe due */
	unsigned failures;      /* consecutive failures after start_period */
	unsigned restart_count; /* as first seen */
	bool healthy;           /* last verdict */
	bool ever_healthy;
	bool stopped;  /* the container exited or restarts: fails at once */
	char why[256]; /* last failure */
} ef_health_target;

/* Finds where to probe (the published host port of the probed container
 * port, else the container's IP) and remembers the restart count. */
int ef_health_init(ef_health_target *t, ef_engine *e, const ef_service *spec, const char *id);
/* Looks the address up again (a container moved between networks at a flip
 * has a new IP). */
int ef_health_readdress(ef_health_target *t, ef_engine *e);
/* One probe now: 0 healthy, EF_ERROR unhealthy (t->why says why). */
int ef_health_probe(ef_health_target *t, ef_engine *e);
/* Waits until every target has passed a probe. Before the first success
 * probes run every second (Compose's start_interval); failures during
 * start_period do not count; `retries` consecutive failures after it, an
 * exited or restarting container, or the deadline, fail. On failure *failed
 * points at the target that failed. */
int ef_health_wait(ef_health_target *ts, size_t n, ef_engine *e, uint64_t deadline_ms,
                   ef_health_target **failed);
/* Keeps probing every target at its interval for `duration_ms` (soak);
 * fails as soon as one is unhealthy (retries consecutive failures) or its
 * container stops. */
int ef_health_watch(ef_health_target *ts, size_t n, ef_engine *e, uint64_t duration_ms,
                    ef_health_target **failed);

#endif
