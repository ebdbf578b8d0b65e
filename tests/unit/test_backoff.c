#include "edgeflip/backoff.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Every delay lies in [base, min(cap, 3 * previous)]. */
static void test_delays_in_range(void **unused)
{
	for (uint32_t seed = 1; seed <= 200; seed++) {
		ef_backoff b;
		uint64_t prev = 1000;

		ef_backoff_init(&b, 1000, 900000);
		ef_backoff_seed(&b, seed);
		for (int i = 0; i < 40; i++) {
			uint64_t d = ef_backoff_next(&b);
			uint64_t hi = prev * 3 < 900000 ? prev * 3 : 900000;

			assert_in_range(d, 1000, hi);
			assert_int_equal(b.current_ms, d);
			assert_int_equal(b.failures, (uint32_t)i + 1);
			prev = d;
		}
	}
}

/* Averaged over many seeds, the n-th delay grows until the cap. */
static void test_delays_grow(void **unused)
{
	enum { SEEDS = 2000, STEPS = 8 };
	double mean[STEPS] = {0};

	for (uint32_t seed = 1; seed <= SEEDS; seed++) {
		ef_backoff b;

		ef_backoff_init(&b, 1000, 3600000);
		ef_backoff_seed(&b, seed * 2654435761u);
		for (int i = 0; i < STEPS; i++)
			mean[i] += (double)ef_backoff_next(&b) / SEEDS;
	}
	/* E[d1] = 2000 ms; each step multiplies the mean by about 2. */
	assert_true(mean[0] > 1800 && mean[0] < 2200);
	for (int i = 1; i < STEPS; i++)
		assert_true(mean[i] > mean[i - 1] * 1.5);
}

static void test_cap(void **unused)
{
	ef_backoff b;
	int at_cap = 0;
	double mean = 0;

	ef_backoff_init(&b, 500, 60000);
	ef_backoff_seed(&b, 42);
	for (int i = 0; i < 10000; i++) {
		uint64_t d = ef_backoff_next(&b);

		assert_in_range(d, 500, 60000);
		at_cap += d == 60000;
		mean += (double)d / 10000;
	}
	/* In the long run about 30% of the delays are the cap and the mean is
	 * about half of it: a device offline for hours retries a few times per
	 * cap period, not in a burst. */
	assert_in_range(at_cap, 2000, 4500);
	assert_true(mean > 60000 * 0.4 && mean < 60000 * 0.65);
	/* failures saturates instead of wrapping. */
	b.failures = UINT32_MAX;
	ef_backoff_next(&b);
	assert_int_equal(b.failures, UINT32_MAX);
}

static void test_reset(void **unused)
{
	ef_backoff b;
	uint64_t d;

	ef_backoff_init(&b, 1000, 600000);
	ef_backoff_seed(&b, 7);
	for (int i = 0; i < 20; i++)
		ef_backoff_next(&b);
	assert_true(b.current_ms > 3000);
	ef_backoff_reset(&b);
	assert_int_equal(b.failures, 0);
	assert_int_equal(b.current_ms, 1000);
	d = ef_backoff_next(&b);
	assert_in_range(d, 1000, 3000); /* back to the first step */
}

static void test_seed_repeatable(void **unused)
{
	ef_backoff a, b;
	int differ = 0;

	ef_backoff_init(&a, 1000, 900000);
	ef_backoff_init(&b, 1000, 900000);
	ef_backoff_seed(&a, 12345);
	ef_backoff_seed(&b, 12345);
	for (int i = 0; i < 50; i++)
		assert_int_equal(ef_backoff_next(&a), ef_backoff_next(&b));
	ef_backoff_seed(&b, 54321);
	ef_backoff_reset(&a);
	ef_backoff_reset(&b);
	for (int i = 0; i < 50; i++)
		differ += ef_backoff_next(&a) != ef_backoff_next(&b);
	assert_true(differ > 40);
	/* Seed 0 is mapped to a working one (xorshift would stick at 0). */
	ef_backoff_seed(&a, 0);
	assert_int_not_equal(a.seed, 0);
}

/* Jitter covers its whole range: draws of the first step spread over
 * [base, 3 * base] without clumping. */
static void test_jitter_spread(void **unused)
{
	enum { BUCKETS = 10, DRAWS = 20000 };
	int hist[BUCKETS] = {0};
	ef_backoff b;

	ef_backoff_init(&b, 1000, 900000);
	ef_backoff_seed(&b, 99);
	for (int i = 0; i < DRAWS; i++) {
		uint64_t d;

		ef_backoff_reset(&b);
		d = ef_backoff_next(&b);
		assert_in_range(d, 1000, 3000);
		hist[d == 3000 ? BUCKETS - 1 : (d - 1000) * BUCKETS / 2000]++;
	}
	for (int i = 0; i < BUCKETS; i++)
		assert_in_range(hist[i], DRAWS / BUCKETS * 8 / 10, DRAWS / BUCKETS * 12 / 10);
}

static void test_degenerate(void **unused)
{
	ef_backoff b;

	/* base 0 -> 1 ms; cap below base -> base. */
	ef_backoff_init(&b, 0, 0);
	assert_int_equal(b.base_ms, 1);
	assert_int_equal(b.cap_ms, 1);
	assert_int_equal(ef_backoff_next(&b), 1);
	ef_backoff_init(&b, 5000, 100);
	assert_int_equal(ef_backoff_next(&b), 5000);
	/* A huge cap does not overflow 3 * previous. */
	ef_backoff_init(&b, UINT64_MAX / 2, UINT64_MAX);
	for (int i = 0; i < 10; i++)
		assert_true(ef_backoff_next(&b) >= UINT64_MAX / 2);
}

/* The poll interval's jitter: within ±10 %, spread over the whole range,
 * and two generators set up at once (same clock, same pid) differ: the seed
 * comes from the kernel. */
static void test_interval_jitter(void **unused)
{
	ef_backoff a, b;
	uint64_t lo = UINT64_MAX, hi = 0;
	int same = 0;

	ef_backoff_init(&a, 1000, 60000);
	for (int i = 0; i < 10000; i++) {
		uint64_t d = ef_backoff_jitter(&a, 60000);

		assert_true(d >= 54000 && d <= 66000);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	assert_true(lo < 54600 && hi > 65400);
	for (int i = 0; i < 20; i++) {
		ef_backoff_init(&a, 1000, 60000);
		ef_backoff_init(&b, 1000, 60000);
		same += ef_backoff_jitter(&a, 60000) == ef_backoff_jitter(&b, 60000);
	}
	assert_true(same < 3);
}

/* The first wait after start: the interval plus a phase spread evenly over
 * a whole interval, different on devices started together. */
static void test_splay(void **unused)
{
	enum { N = 20000, BUCKETS = 10 };
	unsigned count[BUCKETS] = {0};
	ef_backoff a, b;
	int same = 0;

	ef_backoff_init(&a, 1000, 60000);
	for (int i = 0; i < N; i++) {
		uint64_t d = ef_backoff_splay(&a, 30000);

		assert_in_range(d, 30000, 59999);
		count[(d - 30000) * BUCKETS / 30000]++;
	}
	/* Each bucket holds N / 10 = 2000 (binomial sd 42): +-10% is 5 sd. */
	for (int i = 0; i < BUCKETS; i++)
		assert_in_range(count[i], 1800, 2200);
	for (int i = 0; i < 20; i++) {
		ef_backoff_init(&a, 1000, 60000);
		ef_backoff_init(&b, 1000, 60000);
		same += ef_backoff_splay(&a, 30000) == ef_backoff_splay(&b, 30000);
	}
	assert_true(same < 3);
	assert_int_equal(ef_backoff_splay(&a, 0), 1);
	assert_int_equal(ef_backoff_splay(&a, 1), 1);
	assert_in_range(ef_backoff_splay(&a, 2), 2, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_interval_jitter), cmocka_unit_test(test_delays_in_range),
	        cmocka_unit_test(test_delays_grow),     cmocka_unit_test(test_cap),
	        cmocka_unit_test(test_reset),           cmocka_unit_test(test_seed_repeatable),
	        cmocka_unit_test(test_jitter_spread),   cmocka_unit_test(test_degenerate),
	        cmocka_unit_test(test_splay),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
