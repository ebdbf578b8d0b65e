/* Rollout waves (docs/fleet.md): the signed manifest's top-level
 * `x-edgeflip.rollout` says when which share of a fleet takes a commit; each
 * device decides alone from its id and its clock, without a server. */
#ifndef EDGEFLIP_ROLLOUT_H
#define EDGEFLIP_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;

typedef struct {
	bool set;             /* the manifest has x-edgeflip.rollout */
	int64_t start;        /* unix seconds (RFC 3339 in the manifest) */
	uint64_t duration_ms; /* from start_percentage to everyone */
	double start_pct;     /* 0..100: the share that goes at `start` */
	bool paused;          /* a halt: nobody not yet on it takes the commit */
} ef_rollout;

/* Reads the object under x-edgeflip.rollout. Unknown keys, a start that is
 * not RFC 3339, a duration without a unit, a percentage outside 0..100 are
 * EF_EINVALID with the key named in `err` (size `n`). */
int ef_rollout_parse(ef_rollout *out, const struct cJSON *obj, char *err, size_t n);

/* "2026-12-04T18:00:00Z" or with an offset ("+02:00"); fractions of a second
 * are accepted and dropped. */
int ef_rollout_parse_time(int64_t *out, const char *s);

/* The device's wariness in [0, 1): the first 8 bytes, big-endian, of
 * SHA-256("edgeflip-rollout:" + device_id), divided by 2^64. */
double ef_rollout_wariness(const char *device_id);

/* The share of the fleet the wave has reached at `now`:
 * P/100 + (1 - P/100) * clamp((now - start) / duration, 0, 1). */
double ef_rollout_share(const ef_rollout *r, int64_t now);

/* The first unix second at which a device of wariness `w` is in the wave
 * (ef_rollout_share(r, t) > w), i.e. its turn: `start` when w < P/100,
 * start + duration * (w - P/100) / (1 - P/100) rounded up to the second
 * otherwise. 0 when r is not set or paused (no turn to wait for). */
int64_t ef_rollout_turn(const ef_rollout *r, double w);

typedef enum {
	EF_ROLLOUT_GO = 0,      /* deploy now */
	EF_ROLLOUT_WAIT,        /* the wave has not reached this device */
	EF_ROLLOUT_PAUSED,      /* paused: true */
	EF_ROLLOUT_CLOCK_UNSET, /* the clock is before the commit's own date */
} ef_rollout_verdict;

/* Decides for a device of wariness `w` at `now`; `commit_time` is the
 * commit's committer date (0: unknown). `why` (size `n`) says it in words. */
ef_rollout_verdict ef_rollout_decide(const ef_rollout *r, double w, int64_t now,
                                     int64_t commit_time, char *why, size_t n);
const char *ef_rollout_verdict_name(ef_rollout_verdict v);

#endif
