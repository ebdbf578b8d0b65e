/* Rollout waves: the wariness of a device, the share of the wave, the
 * decision, and the x-edgeflip.rollout reader (docs/fleet.md). */
#include "edgeflip/error.h"
#include "edgeflip/manifest.h"
#include "edgeflip/rollout.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

/* Known answers from an independent implementation (Python hashlib:
 * int.from_bytes(sha256(b"edgeflip-rollout:" + id)[:8], "big") / 2**64). */
static void test_wariness_known_answers(void **unused)
{
	static const struct {
		const char *id;
		double w;
	} cases[] = {
	        {"gw-0001", 0.9508885143586034},     {"gw-0002", 0.910775124756643},
	        {"device-a", 0.4786205847504043},    {"", 0.4125253381233123},
	        {"kitchen-gw", 0.11579193943150669},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double w = ef_rollout_wariness(cases[i].id);
		if (fabs(w - cases[i].w) > 1e-15)
			fail_msg("%s: %.17g, expected %.17g", cases[i].id, w, cases[i].w);
	}
}

/* Over many ids the wariness is spread evenly: each tenth holds about a tenth. */
static void test_wariness_uniform(void **unused)
{
	unsigned bins[10] = {0};
	char id[32];

	for (int i = 0; i < 10000; i++) {
		double w;
		snprintf(id, sizeof(id), "gw-%05d", i);
		w = ef_rollout_wariness(id);
		assert_true(w >= 0.0 && w < 1.0);
		bins[(int)(w * 10)]++;
	}
	for (int b = 0; b < 10; b++)
		assert_in_range(bins[b], 900, 1100);
}

static void test_share_table(void **unused)
{
	/* start 1000, duration 100 s */
	static const struct {
		double pct;
		int64_t now;
		double share;
	} cases[] = {
	        {0, 900, 0.0},   {0, 1000, 0.0},    {0, 1050, 0.5},    {0, 1100, 1.0},
	        {0, 5000, 1.0},  {10, 900, 0.1},    {10, 1000, 0.1},   {10, 1050, 0.55},
	        {10, 1100, 1.0}, {100, 900, 1.0},   {50, 1025, 0.625}, {25, 1075, 0.8125},
	        {0, -5000, 0.0}, {5, 1001, 0.0595},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ef_rollout r = {.set = true,
		                .start = 1000,
		                .duration_ms = 100000,
		                .start_pct = cases[i].pct};
		double s = ef_rollout_share(&r, cases[i].now);
		if (fabs(s - cases[i].share) > 1e-12)
			fail_msg("case %zu: P=%g now=%lld: %.6f, expected %.6f", i, cases[i].pct,
			         (long long)cases[i].now, s, cases[i].share);
	}
}

static void test_decide_table(void **unused)
{
	static const struct {
		bool set, paused;
		double pct, w;
		int64_t now, commit_time;
		ef_rollout_verdict v;
	} cases[] = {
	        /* no rollout: every device at once */
	        {false, false, 0, 0.99, 1000, 0, EF_ROLLOUT_GO},
	        /* below the starting share */
	        {true, false, 10, 0.05, 900, 0, EF_ROLLOUT_GO},
	        {true, false, 10, 0.10, 900, 0, EF_ROLLOUT_WAIT}, /* w < share, strictly */
	        {true, false, 10, 0.50, 1000, 0, EF_ROLLOUT_WAIT},
	        {true, false, 10, 0.50, 1050, 0, EF_ROLLOUT_GO}, /* share 0.55 */
	        {true, false, 0, 0.999, 1099, 0, EF_ROLLOUT_WAIT},
	        {true, false, 0, 0.999, 1100, 0, EF_ROLLOUT_GO},
	        /* paused holds everyone back */
	        {true, true, 100, 0.0, 2000, 0, EF_ROLLOUT_PAUSED},
	        /* the clock before the commit's date: unset, wait */
	        {true, false, 100, 0.0, 500, 800, EF_ROLLOUT_CLOCK_UNSET},
	        {true, false, 100, 0.0, 800, 800, EF_ROLLOUT_GO},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ef_rollout r = {.set = cases[i].set,
		                .start = 1000,
		                .duration_ms = 100000,
		                .start_pct = cases[i].pct,
		                .paused = cases[i].paused};
		char why[300];
		ef_rollout_verdict v = ef_rollout_decide(&r, cases[i].w, cases[i].now,
		                                         cases[i].commit_time, why, sizeof(why));
		if (v != cases[i].v)
			fail_msg("case %zu: %s (%s), expected %s", i, ef_rollout_verdict_name(v),
			         why, ef_rollout_verdict_name(cases[i].v));
		assert_true(why[0] != '\0');
	}
}

/* A device's turn is the first second at which decide() says go: the daemon
 * wakes then instead of at its next poll. */
static void test_turn(void **unused)
{
	static const double pcts[] = {0, 5, 10, 50, 99.5};
	ef_rollout r = {.set = true, .start = 1796407200, .duration_ms = 180000};
	char why[300];

	for (size_t k = 0; k < sizeof(pcts) / sizeof(pcts[0]); k++) {
		r.start_pct = pcts[k];
		for (int i = 0; i < 1000; i++) {
			double w = i / 1000.0 + 0.0004;
			int64_t t = ef_rollout_turn(&r, w);

			assert_in_range(t, r.start, r.start + 181);
			assert_int_equal(ef_rollout_decide(&r, w, t, 0, why, sizeof(why)),
			                 EF_ROLLOUT_GO);
			if (t > r.start)
				assert_int_equal(
				        ef_rollout_decide(&r, w, t - 1, 0, why, sizeof(why)),
				        EF_ROLLOUT_WAIT);
			/* The formula of docs/fleet.md, up to the rounding to a second. */
			if (w >= pcts[k] / 100)
				assert_true(fabs((double)(t - r.start) -
				                 180.0 * (w - pcts[k] / 100) /
				                         (1 - pcts[k] / 100)) <= 1.0);
		}
	}
	r.start_pct = 10;
	assert_int_equal(ef_rollout_turn(&r, 0.05), r.start); /* in the first share */
	r.duration_ms = 0;
	assert_int_equal(ef_rollout_turn(&r, 0.9), r.start);
	r.duration_ms = 180000;
	r.paused = true;
	assert_int_equal(ef_rollout_turn(&r, 0.9), 0);
	r.paused = false;
	r.set = false;
	assert_int_equal(ef_rollout_turn(&r, 0.9), 0);
}

static void test_time(void **unused)
{
	static const struct {
		const char *s;
		int64_t t; /* -1: refused */
	} cases[] = {
	        {"1970-01-01T00:00:00Z", 0},
	        {"2026-12-04T18:00:00Z", 1796407200},
	        {"2026-12-04T20:00:00+02:00", 1796407200},
	        {"2026-12-04T17:30:00-00:30", 1796407200},
	        {"2026-12-04T18:00:00.123Z", 1796407200},
	        {"2024-02-29T00:00:00Z", 1709164800},
	        {"2023-02-29T00:00:00Z", -1},
	        {"2026-13-01T00:00:00Z", -1},
	        {"2026-12-04 18:00:00Z", -1},
	        {"2026-12-04T18:00:00", -1},
	        {"2026-12-04T18:00:00+0200", -1},
	        {"2026-12-04T24:00:00Z", -1},
	        {"yesterday", -1},
	        {"", -1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t t = -1;
		int rc = ef_rollout_parse_time(&t, cases[i].s);
		if (cases[i].t < 0) {
			if (rc == 0)
				fail_msg("'%s' accepted as %lld", cases[i].s, (long long)t);
		} else if (rc != 0 || t != cases[i].t) {
			fail_msg("'%s': rc %d t %lld, expected %lld", cases[i].s, rc, (long long)t,
			         (long long)cases[i].t);
		}
	}
}

static void test_parse(void **unused)
{
	static const struct {
		const char *json;
		const char *err; /* NULL: accepted; else a piece of the message */
	} cases[] = {
	        {"{\"start\":\"2026-12-04T18:00:00Z\",\"duration\":\"24h\"}", NULL},
	        {"{\"start\":\"2026-12-04T18:00:00Z\",\"duration\":\"1h30m\","
	         "\"start_percentage\":5}",
	         NULL},
	        {"{\"paused\":true}", NULL},
	        {"{\"start\":\"2026-12-04T18:00:00Z\"}", "duration: missing"},
	        {"{\"duration\":\"24h\"}", "start: missing"},
	        {"{\"start\":\"tomorrow\",\"duration\":\"24h\"}", "start: expected an RFC 3339"},
	        {"{\"start\":\"2026-12-04T18:00:00Z\",\"duration\":\"24\"}", "duration: expected"},
	        {"{\"start\":\"2026-12-04T18:00:00Z\",\"duration\":24}", "duration: expected"},
	        {"{\"start\":\"2026-12-04T18:00:00Z\",\"duration\":\"1h\","
	         "\"start_percentage\":101}",
	         "start_percentage: expected a number from 0 to 100"},
	        {"{\"start\":\"2026-12-04T18:00:00Z\",\"duration\":\"1h\",\"paused\":\"no\"}",
	         "paused: expected true or false"},
	        {"{\"start\":\"2026-12-04T18:00:00Z\",\"duration\":\"1h\",\"speed\":2}",
	         "speed: unknown key"},
	        {"[1]", "expected a mapping"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *j = cJSON_Parse(cases[i].json);
		ef_rollout r;
		char err[300] = "";
		int rc;

		assert_non_null(j);
		rc = ef_rollout_parse(&r, j, err, sizeof(err));
		cJSON_Delete(j);
		if (!cases[i].err) {
			if (rc != 0 || !r.set)
				fail_msg("%s: refused: %s", cases[i].json, err);
		} else if (rc != EF_EINVALID || !strstr(err, cases[i].err)) {
			fail_msg("%s: rc %d '%s', expected '%s'", cases[i].json, rc, err,
			         cases[i].err);
		}
	}
}

/* Through the manifest reader: the top-level x-edgeflip holds rollout. */
static void test_manifest(void **unused)
{
	static const char ok[] =
	        "{\"x-edgeflip\":{\"rollout\":{\"start\":\"2026-12-04T18:00:00Z\","
	        "\"duration\":\"2h\",\"start_percentage\":10}},"
	        "\"services\":{\"web\":{\"image\":\"busybox@sha256:"
	        "0000000000000000000000000000000000000000000000000000000000000000\"}}}";
	static const char bad[] =
	        "{\"x-edgeflip\":{\"waves\":{}},"
	        "\"services\":{\"web\":{\"image\":\"busybox@sha256:"
	        "0000000000000000000000000000000000000000000000000000000000000000\"}}}";
	static const char none[] =
	        "{\"services\":{\"web\":{\"image\":\"busybox@sha256:"
	        "0000000000000000000000000000000000000000000000000000000000000000\"}}}";
	ef_manifest *m = NULL;

	assert_int_equal(ef_manifest_parse(&m, ok, strlen(ok), "compose.json"), 0);
	assert_true(m->rollout.set);
	assert_int_equal(m->rollout.start, 1796407200);
	assert_int_equal(m->rollout.duration_ms, 7200000);
	assert_true(m->rollout.start_pct == 10.0);
	ef_manifest_free(m);
	m = NULL;
	assert_int_equal(ef_manifest_parse(&m, none, strlen(none), "compose.json"), 0);
	assert_false(m->rollout.set);
	ef_manifest_free(m);
	m = NULL;
	assert_int_equal(ef_manifest_parse(&m, bad, strlen(bad), "compose.json"), EF_EINVALID);
	assert_non_null(strstr(ef_error_last(), "waves"));
	assert_null(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_wariness_known_answers),
	        cmocka_unit_test(test_wariness_uniform),
	        cmocka_unit_test(test_share_table),
	        cmocka_unit_test(test_decide_table),
	        cmocka_unit_test(test_turn),
	        cmocka_unit_test(test_time),
	        cmocka_unit_test(test_parse),
	        cmocka_unit_test(test_manifest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
