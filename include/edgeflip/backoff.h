/* Retry delays: exponential backoff with decorrelated jitter, up to a cap.
 *
 *   ef_backoff b;
 *   ef_backoff_init(&b, interval_ms, max_backoff_ms);
 *   on failure:  sleep_ms(ef_backoff_next(&b));
 *   on success:  ef_backoff_reset(&b);
 *
 * Each delay is drawn uniformly from [base, 3 * previous delay] and clipped
 * to the cap (the "decorrelated jitter" of the AWS architecture blog), so
 * delays grow roughly threefold per failure, never fall below `base`, never
 * pass `cap`, and a fleet of gateways that lost the server together does
 * not come back in step. */
#ifndef EDGEFLIP_BACKOFF_H
#define EDGEFLIP_BACKOFF_H

#include <stdint.h>

typedef struct {
	uint64_t base_ms;    /* the smallest delay (at least 1) */
	uint64_t cap_ms;     /* the largest delay (at least base_ms) */
	uint64_t current_ms; /* the last delay returned; base_ms after a reset */
	uint32_t failures;   /* failures since the last reset */
	uint32_t seed;       /* state of the jitter generator (xorshift32) */
} ef_backoff;

/* Seeds the jitter from the kernel's generator (getrandom), so that devices
 * that boot together after a power cut, with the same clock and the same
 * pids, still draw different delays. */
void ef_backoff_init(ef_backoff *b, uint64_t base_ms, uint64_t cap_ms);
/* Replaces the seed: tests use this to get a repeatable sequence. */
void ef_backoff_seed(ef_backoff *b, uint32_t seed);
/* The delay to wait after one more failure. */
uint64_t ef_backoff_next(ef_backoff *b);
/* `ms` ± 10%, drawn from the same generator: the poll interval of a fleet
 * spreads out instead of staying in step. */
uint64_t ef_backoff_jitter(ef_backoff *b, uint64_t ms);
/* Uniform in [ms, 2 * ms) (1 when ms is 0): the daemon's first wait after
 * its start-up pass. Devices started together (a fleet after a power cut,
 * the fleet simulation) would otherwise keep polling within the ±10% of
 * ef_backoff_jitter() of each other for dozens of intervals; one wait that
 * adds a phase drawn over a whole interval spreads them at once. Never
 * shorter than the interval, so no device polls more often than it says. */
uint64_t ef_backoff_splay(ef_backoff *b, uint64_t ms);
/* Back to the first delay after a success. Keeps the seed. */
void ef_backoff_reset(ef_backoff *b);

#endif
