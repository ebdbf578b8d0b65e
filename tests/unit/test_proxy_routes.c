/* The routes file parser (ef_proxy_routes_parse), the route checks of
 * apply(), the route descriptions and the hook backend that receives them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../port/switch/switch_int.h"
#include "edgeflip/error.h"
#include "edgeflip/proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define R(body) "{\"generation\": 1, \"routes\": [" body "]}"
#define ROUTE(p, la, lp, ta, tp)                                                                   \
	"{\"protocol\": \"" p "\", \"listen_addr\": \"" la "\", \"listen_port\": " #lp             \
	", \"target_addr\": \"" ta "\", \"target_port\": " #tp "}"
#define WEB ROUTE("tcp", "0.0.0.0", 8080, "127.0.0.1", 41001)

static const struct {
	const char *input;
	int code;
	const char *message;
} bad_cases[] = {
        {"", EF_EINVALID, "routes file: invalid JSON at byte 0"},
        {"{\"generation\": 1,", EF_EINVALID, "routes file: invalid JSON at byte 16"},
        {"[]", EF_EINVALID, "routes file: the top level must be an object"},
        {"{\"generation\": 1, \"routes\": []} x", EF_EINVALID,
         "routes file: unexpected data after the JSON value at byte 32"},
        {"{\"routes\": []}", EF_EINVALID, "routes file: generation: missing"},
        {"{\"generation\": -1, \"routes\": []}", EF_EINVALID,
         "routes file: generation: must be an integer from 0 to 2^53-1"},
        {"{\"generation\": 1.5, \"routes\": []}", EF_EINVALID,
         "routes file: generation: must be an integer from 0 to 2^53-1"},
        {"{\"generation\": \"1\", \"routes\": []}", EF_EINVALID,
         "routes file: generation: must be an integer from 0 to 2^53-1"},
        {"{\"generation\": 1}", EF_EINVALID, "routes file: routes: missing"},
        {"{\"generation\": 1, \"routes\": {}}", EF_EINVALID,
         "routes file: routes: must be an array"},
        {"{\"generation\": 1, \"routes\": [], \"extra\": 1}", EF_EINVALID,
         "routes file: extra: unknown key"},
        {"{\"generation\": 1, \"generation\": 2, \"routes\": []}", EF_EINVALID,
         "routes file: generation: duplicate key"},
        {R("1"), EF_EINVALID, "routes file: routes[0]: must be an object"},
        {R("{}"), EF_EINVALID, "routes file: routes[0].protocol: missing"},
        {R(ROUTE("sctp", "0.0.0.0", 8080, "127.0.0.1", 41001)), EF_EINVALID,
         "routes file: routes[0].protocol: must be \"tcp\" or \"udp\""},
        {R(ROUTE("tcp", "0.0.0.0", 0, "127.0.0.1", 41001)), EF_EINVALID,
         "routes file: routes[0].listen_port: must be an integer from 1 to 65535"},
        {R(ROUTE("tcp", "0.0.0.0", 65536, "127.0.0.1", 41001)), EF_EINVALID,
         "routes file: routes[0].listen_port: must be an integer from 1 to 65535"},
        {R(ROUTE("tcp", "0.0.0.0", 8080, "127.0.0.1", 4.5)), EF_EINVALID,
         "routes file: routes[0].target_port: must be an integer from 1 to 65535"},
        {R(ROUTE("tcp", "localhost", 8080, "127.0.0.1", 41001)), EF_EINVALID,
         "routes file: routes[0].listen_addr: not an IPv4 or IPv6 address"},
        {R(ROUTE("tcp", "0.0.0.0", 8080, "127.0.0.256", 41001)), EF_EINVALID,
         "routes file: routes[0].target_addr: not a unicast IPv4 or IPv6 address"},
        {R(ROUTE("tcp", "0.0.0.0", 8080, "::", 41001)), EF_EINVALID,
         "routes file: routes[0].target_addr: not a unicast IPv4 or IPv6 address"},
        {R("{\"protocol\": \"tcp\", \"listen_addr\": 1}"), EF_EINVALID,
         "routes file: routes[0].listen_addr: must be a string"},
        {R("{\"protocol\": \"tcp\", \"listen_addr\": \"0.0.0.0\", \"listen_port\": 1}"),
         EF_EINVALID, "routes file: routes[0].target_addr: missing"},
        {R("{\"protocol\": \"tcp\", \"port\": 1}"), EF_EINVALID,
         "routes file: routes[0].port: unknown key"},
        {R("{\"protocol\": \"tcp\", \"protocol\": \"udp\"}"), EF_EINVALID,
         "routes file: routes[0].protocol: duplicate key"},
        {R(WEB ", " ROUTE("tcp", "0.0.0.0", 8080, "127.0.0.1", 41002)), EF_EINVALID,
         "routes file: routes[1]: tcp 0.0.0.0 port 8080 is already routed by routes[0]"},
        {R(WEB ", " ROUTE("tcp", "127.0.0.1", 8080, "127.0.0.1", 41002)), EF_EINVALID,
         "routes file: routes[1]: tcp 127.0.0.1 port 8080 is already routed by routes[0]"},
        {R(WEB ", {\"protocol\": \"tcp\", \"listen_addr\": \"0.0.0.0\", \"listen_port\": 9090, "
               "\"target_addr\": \"127.0.0.1\", \"target_port\": 41003, \"service\": 7}"),
         EF_EINVALID, "routes file: routes[1].service: must be a string"},
        {R("{\"protocol\": \"tcp\", \"listen_addr\": \"0.0.0.0\", \"listen_port\": 1, "
           "\"target_addr\": \"127.0.0.1\", \"target_port\": 2, \"idle_timeout_ms\": 0}"),
         EF_EINVALID,
         "routes file: routes[0].idle_timeout_ms: must be an integer from 1 to 86400000"},
        {R("{\"protocol\": \"tcp\", \"listen_addr\": \"0.0.0.0\", \"listen_port\": 1, "
           "\"target_addr\": \"127.0.0.1\", \"target_port\": 2, \"max_conns\": 1.5}"),
         EF_EINVALID, "routes file: routes[0].max_conns: must be an integer from 1 to 1000000"},
        {R("{\"protocol\": \"tcp\", \"listen_addr\": \"0.0.0.0\", \"listen_port\": 1, "
           "\"target_addr\": \"127.0.0.1\", \"target_port\": 2, \"proxy_protocol\": 2}"),
         EF_EINVALID, "routes file: routes[0].proxy_protocol: must be true or false"},
        {R("{\"protocol\": \"udp\", \"listen_addr\": \"0.0.0.0\", \"listen_port\": 1, "
           "\"target_addr\": \"127.0.0.1\", \"target_port\": 2, \"proxy_protocol\": true}"),
         EF_EINVALID,
         "routes file: routes[0].proxy_protocol: only TCP routes can send a PROXY "
         "protocol header; remove it from this UDP route"},
};

static void test_bad_inputs(void **state)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		ef_route *r = (ef_route *)1;
		size_t n = 99;
		uint64_t gen = 99;
		int error = ef_proxy_routes_parse(&r, &n, &gen, bad_cases[i].input,
		                                  strlen(bad_cases[i].input));

		if (error != bad_cases[i].code || strcmp(ef_error_last(), bad_cases[i].message)) {
			print_error("case %zu: %s\n  got %d '%s'\n  want %d '%s'\n", i,
			            bad_cases[i].input, error, ef_error_last(), bad_cases[i].code,
			            bad_cases[i].message);
			fail();
		}
		assert_null(r);
		assert_int_equal(n, 0);
		assert_int_equal(gen, 0);
	}
}

static void test_nul_and_size(void **state)
{
	static const char with_nul[] = "{\"generation\": 1, \"routes\": []}\0";
	ef_route *r;
	size_t n;
	uint64_t gen;
	char *big = malloc(EF_ROUTES_FILE_MAX + 2);

	assert_int_equal(ef_proxy_routes_parse(&r, &n, &gen, with_nul, sizeof(with_nul) - 1),
	                 EF_EINVALID);
	assert_string_equal(ef_error_last(), "routes file: contains a NUL byte");
	memset(big, ' ', EF_ROUTES_FILE_MAX + 1);
	assert_int_equal(ef_proxy_routes_parse(&r, &n, &gen, big, EF_ROUTES_FILE_MAX + 1),
	                 EF_ETOOBIG);
	assert_string_equal(ef_error_last(), "routes file: larger than 262144 bytes");
	free(big);
}

static void test_good_and_round_trip(void **state)
{
	static const char input[] = R(WEB ", " ROUTE(
	        "udp", "0.0.0.0", 8080, "127.0.0.1",
	        41001) ", "
	               "{\"protocol\": \"tcp\", \"listen_addr\": \"::\", \"listen_port\": 8443, "
	               "\"target_addr\": \"::1\", \"target_port\": 41002, \"service\": "
	               "\"api\"}, " ROUTE("tcp", "192.168.1.10", 9000, "127.0.0.1", 41003));
	ef_buf text = EF_BUF_INIT(1 << 20), desc = EF_BUF_INIT(1 << 20);
	ef_route *r, *r2;
	size_t n, n2;
	uint64_t gen, gen2;

	assert_int_equal(ef_proxy_routes_parse(&r, &n, &gen, input, strlen(input)), 0);
	assert_int_equal(n, 4);
	assert_int_equal(gen, 1);
	assert_string_equal(r[0].protocol, "tcp");
	assert_string_equal(r[1].protocol, "udp");
	assert_int_equal(r[2].listen_port, 8443);
	assert_string_equal(r[2].service, "api");
	assert_null(r[0].service);
	assert_int_equal(ef_routes_describe(&desc, r, n), 0);
	assert_string_equal(desc.ptr, "tcp:0.0.0.0:8080>127.0.0.1:41001,udp:0.0.0.0:8080>127.0.0."
	                              "1:41001,tcp:[::]:8443>[::1]:41002,tcp:192.168.1.10:9000>127."
	                              "0.0.1:41003");

	assert_int_equal(ef_proxy_routes_format(&text, r, n, 42), 0);
	assert_int_equal(ef_proxy_routes_parse(&r2, &n2, &gen2, text.ptr, text.len), 0);
	assert_int_equal(gen2, 42);
	assert_int_equal(n2, n);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(r[i].protocol, r2[i].protocol);
		assert_string_equal(r[i].listen_addr, r2[i].listen_addr);
		assert_string_equal(r[i].target_addr, r2[i].target_addr);
		assert_int_equal(r[i].listen_port, r2[i].listen_port);
		assert_int_equal(r[i].target_port, r2[i].target_port);
	}
	ef_routes_free(r, n);
	ef_routes_free(r2, n2);
	ef_buf_dispose(&text);
	ef_buf_dispose(&desc);
}

/* The proxy's per-port options survive format and parse; absent ones stay 0. */
static void test_port_options(void **state)
{
	static const char input[] =
	        R("{\"protocol\": \"tcp\", \"listen_addr\": \"0.0.0.0\", \"listen_port\": 80, "
	          "\"target_addr\": \"127.0.0.1\", \"target_port\": 41001, \"idle_timeout_ms\": "
	          "3000, "
	          "\"connect_timeout_ms\": 700, \"drain_timeout_ms\": 9000, \"max_conns\": 50, "
	          "\"proxy_protocol\": true}, " WEB);
	ef_buf text = EF_BUF_INIT(1 << 20);
	ef_route *r, *r2;
	size_t n, n2;
	uint64_t gen;

	(void)state;
	assert_int_equal(ef_proxy_routes_parse(&r, &n, &gen, input, strlen(input)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ef_proxy_routes_format(&text, r, n, 2), 0);
	assert_int_equal(ef_proxy_routes_parse(&r2, &n2, &gen, text.ptr, text.len), 0);
	assert_int_equal(r2[0].idle_timeout_ms, 3000);
	assert_int_equal(r2[0].connect_timeout_ms, 700);
	assert_int_equal(r2[0].drain_timeout_ms, 9000);
	assert_int_equal(r2[0].max_conns, 50);
	assert_true(r2[0].proxy_protocol);
	assert_int_equal(r2[1].idle_timeout_ms, 0);
	assert_int_equal(r2[1].max_conns, 0);
	assert_false(r2[1].proxy_protocol);
	ef_routes_free(r, n);
	ef_routes_free(r2, n2);
	ef_buf_dispose(&text);
}

static void test_empty_set(void **state)
{
	static const char input[] = "{\"generation\": 7, \"routes\": []}";
	ef_route *r;
	size_t n;
	uint64_t gen;

	assert_int_equal(ef_proxy_routes_parse(&r, &n, &gen, input, strlen(input)), 0);
	assert_null(r);
	assert_int_equal(n, 0);
	assert_int_equal(gen, 7);
}

/* Only the fields every backend uses; the proxy's per-port options stay 0. */
#define SW_ROUTE(pr, la, lp, ta, tp, sv)                                                           \
	{                                                                                          \
		.protocol = pr, .listen_addr = la, .listen_port = lp, .target_addr = ta,           \
		.target_port = tp, .service = sv                                                   \
	}

static void test_apply_checks(void **state)
{
	ef_route ok[2] = {
	        SW_ROUTE("tcp", "0.0.0.0", 8080, "127.0.0.1", 41001, "web"),
	        SW_ROUTE("tcp", "::", 8080, "::1", 41002, "web6"), /* another family: no clash */
	};
	ef_route clash[2] = {
	        SW_ROUTE("udp", "127.0.0.1", 53, "127.0.0.1", 41001, NULL),
	        SW_ROUTE("udp", "0.0.0.0", 53, "127.0.0.1", 41002, NULL),
	};
	ef_route bad_proto[1] = {SW_ROUTE("icmp", "0.0.0.0", 8080, "127.0.0.1", 41001, NULL)};
	ef_route no_addr[1] = {SW_ROUTE("tcp", NULL, 8080, "127.0.0.1", 41001, NULL)};

	assert_int_equal(ef_routes_check(ok, 2), 0);
	assert_int_equal(ef_routes_check(clash, 2), EF_EINVALID);
	assert_string_equal(ef_error_last(),
	                    "routes[1]: udp 0.0.0.0 port 53 is already routed by routes[0]");
	assert_int_equal(ef_routes_check(bad_proto, 1), EF_EINVALID);
	assert_string_equal(ef_error_last(), "routes[0].protocol: must be \"tcp\" or \"udp\"");
	assert_int_equal(ef_routes_check(no_addr, 1), EF_EINVALID);
	assert_string_equal(ef_error_last(), "routes[0].listen_addr: not an IPv4 or IPv6 address");
}

static void test_backend_table(void **state)
{
	ef_switch *s = (ef_switch *)1;
	ef_switch_opts opts = {.state_dir = "/nonexistent"};

	assert_int_equal(ef_switch_open(&s, "carrier-pigeon", &opts), EF_EINVALID);
	assert_null(s);
	assert_string_equal(
	        ef_error_last(),
	        "unknown switch backend 'carrier-pigeon' (use proxy, nftables or hook)");
	assert_int_equal(ef_switch_open(&s, "hook", &opts), EF_EINVALID);
	assert_string_equal(ef_error_last(),
	                    "switch backend 'hook' needs a command: set [switch] hook = COMMAND");
	assert_string_equal(ef_switch_backends[0]->name, "proxy");
	/* Where slots publish: loopback only for the user-space backends. */
	assert_string_equal(ef_switch_target_addr(NULL, "0.0.0.0"), "127.0.0.1");
	assert_string_equal(ef_switch_target_addr("proxy", "::"), "127.0.0.1");
	assert_string_equal(ef_switch_target_addr("hook", "0.0.0.0"), "127.0.0.1");
	assert_string_equal(ef_switch_target_addr("nftables", "0.0.0.0"), "169.254.77.1");
	assert_string_equal(ef_switch_target_addr("nftables", "192.0.2.7"), "169.254.77.1");
	assert_string_equal(ef_switch_target_addr("nftables", "::"), "fd65:6466:6c70::1");
	assert_string_equal(ef_switch_target_addr("nftables", "2001:db8::1"), "fd65:6466:6c70::1");
}

/* ---- the hook backend: environment, arguments, exit status, timeout ---- */

static char hook_dir[64];

static int hook_setup(void **state)
{
	snprintf(hook_dir, sizeof(hook_dir), "/tmp/ef-hook-test.XXXXXX");
	return mkdtemp(hook_dir) ? 0 : -1;
}

static int hook_teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", hook_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *slurp(const char *path)
{
	ef_buf b;

	if (ef_read_file(&b, path, 65536) < 0)
		return NULL;
	return ef_buf_detach(&b);
}

static void test_hook_apply(void **state)
{
	char cmd[512], out_path[128];
	ef_switch_opts opts = {.state_dir = hook_dir, .hook = cmd};
	ef_route blue[2] = {
	        SW_ROUTE("tcp", "0.0.0.0", 8080, "127.0.0.1", 41001, "web"),
	        SW_ROUTE("udp", "::", 53, "::1", 41053, "dns"),
	};
	ef_route green[1] = {SW_ROUTE("tcp", "0.0.0.0", 8080, "127.0.0.1", 41002, "web")};
	ef_route *cur = NULL;
	size_t n = 0;
	ef_switch *s;
	char *got;

	snprintf(out_path, sizeof(out_path), "%s/out", hook_dir);
	snprintf(cmd, sizeof(cmd),
	         "printf 'old=%%s new=%%s gen=%%s args=%%s|%%s|%%s\\n' \"$EF_ROUTES_OLD\" "
	         "\"$EF_ROUTES_NEW\" \"$EF_SWITCH_GENERATION\" >> %s; echo",
	         out_path);
	assert_int_equal(ef_switch_open(&s, "hook", &opts), 0);
	assert_int_equal(s->ops->apply(s, blue, 2), 0);
	assert_int_equal(s->ops->apply(s, green, 1), 0);
	got = slurp(out_path);
	assert_non_null(got);
	assert_string_equal(got,
	                    "old= new=tcp:0.0.0.0:8080>127.0.0.1:41001,udp:[::]:53>[::1]:41053 "
	                    "gen=1 args=||\n"
	                    "old=tcp:0.0.0.0:8080>127.0.0.1:41001,udp:[::]:53>[::1]:41053 "
	                    "new=tcp:0.0.0.0:8080>127.0.0.1:41002 gen=2 args=||\n");
	free(got);
	assert_int_equal(s->ops->current(s, &cur, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(cur[0].target_port, 41002);
	ef_routes_free(cur, n);
	ef_switch_close(s);

	/* The routes also come as arguments ("$@" is appended to the command). */
	snprintf(cmd, sizeof(cmd), "printf '%%s;' > %s", out_path);
	assert_int_equal(ef_switch_open(&s, "hook", &opts), 0);
	assert_int_equal(s->ops->apply(s, blue, 2), 0);
	got = slurp(out_path);
	assert_string_equal(got, "tcp:0.0.0.0:8080>127.0.0.1:41001;udp:[::]:53>[::1]:41053;");
	free(got);
	ef_switch_close(s);
}

static void test_hook_failures(void **state)
{
	char cmd[256];
	ef_switch_opts opts = {.state_dir = hook_dir, .hook = cmd};
	ef_route green[1] = {SW_ROUTE("tcp", "0.0.0.0", 8080, "127.0.0.1", 41002, "web")};
	ef_route *cur = NULL;
	size_t n = 0;
	struct timespec t0, t1;
	ef_switch *s;

	snprintf(cmd, sizeof(cmd), "echo noise; echo 'load balancer said no' >&2; exit 3; :");
	assert_int_equal(ef_switch_open(&s, "hook", &opts), 0);
	assert_int_equal(s->ops->apply(s, green, 1), EF_ERROR);
	assert_string_equal(ef_error_last(),
	                    "switch hook 'echo noise; echo 'load balancer said no' >&2; exit 3; :' "
	                    "exited with status 3: load balancer said no");
	/* A failed hook leaves the routes in force as they were. */
	assert_int_equal(s->ops->current(s, &cur, &n), 0);
	assert_int_equal(n, 2);
	ef_routes_free(cur, n);
	ef_switch_close(s);

	snprintf(cmd, sizeof(cmd), "sleep 5;");
	setenv("EDGEFLIP_HOOK_TIMEOUT_MS", "300", 1);
	assert_int_equal(ef_switch_open(&s, "hook", &opts), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(s->ops->apply(s, green, 1), EF_ETIMEOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	unsetenv("EDGEFLIP_HOOK_TIMEOUT_MS");
	assert_string_equal(
	        ef_error_last(),
	        "switch hook 'sleep 5;': /bin/sh did not finish within 300 ms and was killed");
	assert_true(t1.tv_sec - t0.tv_sec < 3);
	ef_switch_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_bad_inputs),          cmocka_unit_test(test_nul_and_size),
	        cmocka_unit_test(test_good_and_round_trip), cmocka_unit_test(test_port_options),
	        cmocka_unit_test(test_empty_set),           cmocka_unit_test(test_apply_checks),
	        cmocka_unit_test(test_backend_table),       cmocka_unit_test(test_hook_apply),
	        cmocka_unit_test(test_hook_failures),
	};

	return cmocka_run_group_tests(tests, hook_setup, hook_teardown);
}
