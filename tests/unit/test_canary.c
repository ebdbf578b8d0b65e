/* Canary pieces that need no network: the proxy's slot choice (weight
 * accuracy over 10,000 connections), the HTTP status-line scanner on
 * splits at every byte, the counters line the agent reads, canary routes in
 * routes.json, and x-edgeflip.canary in the manifest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "edgeflip/error.h"
#include "edgeflip/manifest.h"
#include "edgeflip/proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_weight_accuracy(void **state)
{
	static const unsigned weights[] = {0, 1, 5, 10, 25, 33, 50, 67, 90, 99, 100};

	(void)state;
	for (size_t i = 0; i < sizeof(weights) / sizeof(weights[0]); i++) {
		uint32_t acc = 0;
		unsigned green = 0, run = 0;

		for (unsigned k = 0; k < 10000; k++) {
			green += ef_proxy_pick_slot(&acc, weights[i]);
			/* Spread evenly: any 100 in a row carry exactly the weight. */
			if (k % 100 == 99) {
				assert_int_equal(green - run, weights[i]);
				run = green;
			}
		}
		print_message("weight %3u%%: %u of 10000 connections to green\n", weights[i],
		              green);
		assert_int_equal(green, weights[i] * 100);
	}
}

static int scan_all(const char *s, size_t split)
{
	ef_http_scan sc = {0};
	size_t len = strlen(s);
	int r = 0;

	for (size_t off = 0; off < len && r == 0; off += split)
		r = ef_http_status_scan(&sc, s + off, len - off < split ? len - off : split);
	return r;
}

static void test_status_scanner(void **state)
{
	static const struct {
		const char *in;
		int want;
	} cases[] = {
	        {"HTTP/1.1 200 OK\r\n", 200},
	        {"HTTP/1.0 503 Service Unavailable\r\n", 503},
	        {"HTTP/1.1 500", 500},
	        {"HTTP/1.1 404 Not Found", 404},
	        {"HTTP/1.1 599 x", 599},
	        {"HTTP/1.1 100 Continue", 100},
	        {"HTTP/1.1 50", 0}, /* not yet decided */
	        {"HTTP/", 0},
	        {"", 0},
	        {"HTTP/2 200", -1},
	        {"http/1.1 200", -1},
	        {"HTTP/1.1 600 x", -1},
	        {"HTTP/1.1 099 x", -1},
	        {"HTTP/1.1 2x0", -1},
	        {"HTTP/1.1  200", -1},
	        {"SSH-2.0-OpenSSH", -1},
	        {"<html>", -1},
	        {"\x16\x03\x01", -1},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (size_t split = 1; split <= 13; split++)
			if (scan_all(cases[i].in, split) != cases[i].want) {
				print_error("case %zu ('%s') split %zu: got %d, want %d\n", i,
				            cases[i].in, split, scan_all(cases[i].in, split),
				            cases[i].want);
				fail();
			}
}

static void test_counters_line(void **state)
{
	ef_port_counters *pc = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(ef_proxy_counters_parse(&pc, &n,
	                                         "ok 7 tcp:0.0.0.0:8080 w=10 0=90,0,0,88,1 "
	                                         "1=10,1,2,7,3 tcp:[::1]:9090 w=0 0=1,2,3,4,5 "
	                                         "1=0,0,0,0,0"),
	                 0);
	assert_int_equal(n, 2);
	assert_int_equal(pc[0].listen_port, 8080);
	assert_int_equal(pc[0].weight, 10);
	assert_int_equal(pc[0].slot[0].connections, 90);
	assert_int_equal(pc[0].slot[0].responses, 88);
	assert_int_equal(pc[0].slot[1].connect_failed, 1);
	assert_int_equal(pc[0].slot[1].resets, 2);
	assert_int_equal(pc[0].slot[1].http_5xx, 3);
	assert_int_equal(pc[1].listen_port, 9090);
	assert_int_equal(pc[1].slot[0].http_5xx, 5);
	free(pc);
	assert_int_equal(ef_proxy_counters_parse(&pc, &n, "ok 3"), 0);
	assert_int_equal(n, 0);
	free(pc);
	assert_int_equal(ef_proxy_counters_parse(&pc, &n,
	                                         "ok 3 tcp:0.0.0.0:8080 w=101 0=1,1,1,1,1 "
	                                         "1=1,1,1,1,1"),
	                 EF_EINVALID);
	assert_int_equal(ef_proxy_counters_parse(&pc, &n, "ok 3 tcp:0.0.0.0:8080 w=1 0=1,1,1,1"),
	                 EF_EINVALID);
	assert_int_equal(ef_proxy_counters_parse(&pc, &n, "error no"), EF_EINVALID);
	assert_int_equal(ef_proxy_counters_parse(&pc, &n,
	                                         "ok 1 tcp:0.0.0.0:8080 w=1 0=99999999999999999999"
	                                         ",1,1,1,1 1=1,1,1,1,1"),
	                 EF_EINVALID);
	assert_null(pc);
}

#define ROUTE_C(extra)                                                                             \
	"{\"generation\": 2, \"routes\": [{\"protocol\": \"tcp\", \"listen_addr\": \"0.0.0.0\", "  \
	"\"listen_port\": 8080, \"target_addr\": \"127.0.0.1\", \"target_port\": 41001" extra      \
	"}]}"

static void test_canary_routes_file(void **state)
{
	const char *good = ROUTE_C(", \"http\": true, \"canary_addr\": \"127.0.0.1\", "
	                           "\"canary_port\": 41002, \"canary_weight\": 10");
	ef_buf text = EF_BUF_INIT(1 << 16);
	ef_route *r = NULL, *r2 = NULL;
	size_t n, n2;
	uint64_t gen;

	(void)state;
	assert_int_equal(ef_proxy_routes_parse(&r, &n, &gen, good, strlen(good)), 0);
	assert_string_equal(r[0].canary_addr, "127.0.0.1");
	assert_int_equal(r[0].canary_port, 41002);
	assert_int_equal(r[0].canary_weight, 10);
	assert_true(r[0].http);
	assert_int_equal(ef_proxy_routes_format(&text, r, n, gen), 0);
	assert_int_equal(ef_proxy_routes_parse(&r2, &n2, &gen, text.ptr, text.len), 0);
	assert_int_equal(r2[0].canary_weight, 10);
	assert_int_equal(r2[0].canary_port, 41002);
	ef_routes_free(r, n);
	ef_routes_free(r2, n2);
	ef_buf_dispose(&text);

	static const struct {
		const char *in, *msg;
	} bad[] = {
	        {ROUTE_C(", \"canary_addr\": \"127.0.0.1\", \"canary_port\": 41002, "
	                 "\"canary_weight\": 101"),
	         "routes file: routes[0].canary_weight: must be an integer from 0 to 100"},
	        {ROUTE_C(", \"canary_addr\": \"127.0.0.1\", \"canary_weight\": 5"),
	         "routes file: routes[0].canary_port: must be an integer from 1 to 65535"},
	        {ROUTE_C(", \"canary_weight\": 5"),
	         "routes file: routes[0].canary_addr: missing (canary_port and canary_weight "
	         "need it)"},
	        {ROUTE_C(", \"canary_addr\": \"0.0.0.0\", \"canary_port\": 1, \"canary_weight\": "
	                 "5"),
	         "routes file: routes[0].canary_addr: not a unicast IPv4 or IPv6 address"},
	        {ROUTE_C(", \"http\": 1"), "routes file: routes[0].http: must be true or false"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ef_proxy_routes_parse(&r, &n, &gen, bad[i].in, strlen(bad[i].in)),
		                 EF_EINVALID);
		assert_string_equal(ef_error_last(), bad[i].msg);
	}
}

static int load(ef_manifest **m, const char *xe)
{
	char doc[1024];

	snprintf(doc, sizeof(doc),
	         "{\"services\": {\"web\": {\"image\": \"r.example/web@sha256:"
	         "0000000000000000000000000000000000000000000000000000000000000000\", "
	         "\"ports\": [\"8080:80\"], \"x-edgeflip\": %s}}}",
	         xe);
	return ef_manifest_parse(m, doc, strlen(doc), "compose.json");
}

static void test_manifest_canary(void **state)
{
	static const struct {
		const char *xe, *msg;
	} bad[] = {
	        {"{\"strategy\": \"canary\", \"canary\": {\"steps\": [{\"weight\": 50, \"pause\": "
	         "\"1s\"}, {\"weight\": 10, \"pause\": \"1s\"}]}}",
	         "weights increase"},
	        {"{\"strategy\": \"canary\", \"canary\": {\"steps\": [{\"weight\": 0, \"pause\": "
	         "\"1s\"}]}}",
	         "expected a whole number 1-100"},
	        {"{\"strategy\": \"canary\", \"canary\": {\"steps\": [{\"weight\": 10, \"pause\": "
	         "30}]}}",
	         "expected a duration"},
	        {"{\"strategy\": \"canary\", \"canary\": {\"steps\": [{\"weight\": 10}]}}",
	         "pause: missing"},
	        {"{\"strategy\": \"canary\", \"canary\": {\"max_error_rate\": 1.5}}",
	         "expected a number from 0 to 1"},
	        {"{\"strategy\": \"canary\", \"canary\": {\"min_requests\": 0}}",
	         "expected a whole number 1-1000000"},
	        {"{\"canary\": {\"min_requests\": 5}}", "need x-edgeflip.strategy: canary"},
	        {"{\"strategy\": \"canary\", \"canary\": {\"steps\": []}}",
	         "expected 1 to 20 steps"},
	        {"{\"http\": \"yes\"}", "http"},
	};
	ef_manifest *m = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_true(load(&m, bad[i].xe) < 0);
		if (!strstr(ef_error_last(), bad[i].msg) ||
		    !strstr(ef_error_last(), "compose.json")) {
			print_error("case %zu: '%s'\n", i, ef_error_last());
			fail();
		}
		ef_manifest_free(m);
		m = NULL;
	}
	assert_int_equal(load(&m,
	                      "{\"strategy\": \"canary\", \"http\": true, \"canary\": {\"steps\": "
	                      "[{\"weight\": 10, \"pause\": \"30s\"}, {\"weight\": 50, "
	                      "\"pause\": \"1m\"}], \"max_error_rate\": 0.1, "
	                      "\"min_requests\": 40}}"),
	                 0);
	assert_int_equal(m->services[0].strategy, EF_STRATEGY_CANARY);
	assert_true(m->services[0].http);
	assert_int_equal(m->services[0].canary.nsteps, 2);
	assert_int_equal(m->services[0].canary.steps[1].weight, 50);
	assert_int_equal(m->services[0].canary.steps[1].pause_ms, 60000);
	assert_int_equal(m->services[0].canary.min_requests, 40);
	assert_true(m->services[0].canary.max_error_rate == 0.1);
	ef_manifest_free(m);
	assert_int_equal(load(&m, "{\"strategy\": \"canary\"}"), 0);
	assert_int_equal(m->services[0].canary.nsteps, 0);
	assert_int_equal(m->services[0].canary.min_requests, EF_CANARY_DEFAULT_MIN);
	ef_manifest_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_weight_accuracy), cmocka_unit_test(test_status_scanner),
	        cmocka_unit_test(test_counters_line),   cmocka_unit_test(test_canary_routes_file),
	        cmocka_unit_test(test_manifest_canary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
