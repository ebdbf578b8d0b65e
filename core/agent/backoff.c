/* Exponential backoff with decorrelated jitter. See include/edgeflip/backoff.h. */
#include "edgeflip/backoff.h"

#include "edgeflip/sys/random.h"

#include <time.h>
#include <unistd.h>

static uint32_t next_random(ef_backoff *b)
{
	/* xorshift32 (Marsaglia): enough to spread retries, not for secrets. */
	uint32_t x = b->seed;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	b->seed = x;
	return x;
}

/* Uniform in [lo, hi] (modulo bias is negligible next to the spans used). */
static uint64_t random_between(ef_backoff *b, uint64_t lo, uint64_t hi)
{
	uint64_t r = ((uint64_t)next_random(b) << 32) | next_random(b);
	uint64_t span = hi - lo;

	if (span == UINT64_MAX)
		return r;
	return lo + r % (span + 1);
}

void ef_backoff_seed(ef_backoff *b, uint32_t seed)
{
	/* xorshift never leaves 0; any other value is a full-period start. */
	b->seed = seed ? seed : 0x9e3779b9u;
}

void ef_backoff_init(ef_backoff *b, uint64_t base_ms, uint64_t cap_ms)
{
	struct timespec ts = {0, 0};
	uint64_t mix;

	b->base_ms = base_ms ? base_ms : 1;
	b->cap_ms = cap_ms < b->base_ms ? b->base_ms : cap_ms;
	b->current_ms = b->base_ms;
	b->failures = 0;
	/* The kernel's generator: gateways that come back from one power cut
	 * have the same clock (no RTC) and the same pids. Clock and pid only
	 * where the kernel gives nothing. */
	if (ef_random_bytes(&mix, sizeof(mix)) == 0) {
		ef_backoff_seed(b, (uint32_t)(mix ^ (mix >> 32)));
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	/* splitmix64 finalizer over time and pid. */
	mix = ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 16);
	mix = (mix ^ (mix >> 30)) * 0xbf58476d1ce4e5b9ull;
	mix = (mix ^ (mix >> 27)) * 0x94d049bb133111ebull;
	mix ^= mix >> 31;
	ef_backoff_seed(b, (uint32_t)(mix ^ (mix >> 32)));
}

uint64_t ef_backoff_next(ef_backoff *b)
{
	uint64_t prev = b->current_ms < b->base_ms ? b->base_ms : b->current_ms;
	uint64_t hi = prev > UINT64_MAX / 3 ? UINT64_MAX : prev * 3;
	uint64_t d = random_between(b, b->base_ms, hi);

	/* Draw from [base, 3 * prev], then clip: once near the cap, most
	 * delays are the cap itself. */
	b->current_ms = d > b->cap_ms ? b->cap_ms : d;
	if (b->failures < UINT32_MAX)
		b->failures++;
	return b->current_ms;
}

uint64_t ef_backoff_jitter(ef_backoff *b, uint64_t ms)
{
	uint64_t tenth = ms / 10;

	return ms - tenth + random_between(b, 0, 2 * tenth);
}

uint64_t ef_backoff_splay(ef_backoff *b, uint64_t ms)
{
	if (!ms)
		return 1;
	return ms > UINT64_MAX / 2 ? ms : random_between(b, ms, 2 * ms - 1);
}

void ef_backoff_reset(ef_backoff *b)
{
	b->current_ms = b->base_ms;
	b->failures = 0;
}
