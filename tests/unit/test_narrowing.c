/* 32-bit correctness (issue 12 item 10): values that a plain cast would
 * narrow on armv7 (long, size_t: 32 bits) or everywhere (int, %hu). These run
 * natively and under qemu-arm in tests/integration/test_cross.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "edgeflip/date.h"
#include "edgeflip/deploy.h"
#include "edgeflip/error.h"
#include "edgeflip/state.h"
#include "edgeflip/sys/clock.h"
#include "edgeflip/sys/switch.h"

#include <string.h>

/* poll() takes int and libcurl long milliseconds: a duration from the
 * configuration past 2^31 ms (24.8 days) is clamped, never wrapped. */
static void test_clock_timeout(void **unused)
{
	assert_int_equal(ef_clock_timeout(0), 0);
	assert_int_equal(ef_clock_timeout(1500), 1500);
	assert_int_equal(ef_clock_timeout(INT32_MAX), INT32_MAX);
	assert_int_equal(ef_clock_timeout((uint64_t)1 << 31), INT32_MAX);
	assert_int_equal(ef_clock_timeout(30ull * 86400000u), INT32_MAX); /* "30d" */
	assert_int_equal(ef_clock_timeout(((uint64_t)1 << 32) + 5), INT32_MAX);
	assert_int_equal(ef_clock_timeout(UINT64_MAX), INT32_MAX);
}

static int routes_of(const char *port, ef_route **r, size_t *n)
{
	char *ports[] = {(char *)port, NULL};
	ef_state_service svc;

	memset(&svc, 0, sizeof(svc));
	svc.name = (char *)"web";
	svc.public_ports = ports;
	return ef_deploy_routes(r, n, &svc, 1);
}

/* Journal route strings: a port outside 1-65535 is refused, not taken modulo
 * 65536 (sscanf's %hu made "70000" port 4464). */
static void test_journal_route_ports(void **unused)
{
	static const char *const bad[] = {
	        "tcp 0.0.0.0 70000 127.0.0.1 41001", "tcp 0.0.0.0 8080 127.0.0.1 65536",
	        "tcp 0.0.0.0 0 127.0.0.1 41001",     "tcp 0.0.0.0 4294975296 127.0.0.1 41001",
	        "tcp 0.0.0.0 -1 127.0.0.1 41001",
	};
	ef_route *r = NULL;
	size_t n = 0;

	assert_int_equal(routes_of("udp 0.0.0.0 65535 127.0.0.1 1", &r, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(r[0].protocol, "udp");
	assert_int_equal(r[0].listen_port, 65535);
	assert_int_equal(r[0].target_port, 1);
	ef_routes_free(r, n);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = NULL;
		n = 0;
		if (routes_of(bad[i], &r, &n) != EF_EINVALID)
			fail_msg("'%s' was taken as listen port %u, target port %u", bad[i],
			         n ? r[0].listen_port : 0, n ? r[0].target_port : 0);
		assert_non_null(strstr(ef_error_last(), "ports 1-65535"));
	}
}

/* Calendar days around the month shift of the algorithm and past 2038. */
static void test_days_from_civil(void **unused)
{
	assert_int_equal(ef_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(ef_days_from_civil(1969, 12, 31), -1);
	assert_int_equal(ef_days_from_civil(2000, 2, 29), 11016);
	assert_int_equal(ef_days_from_civil(2000, 3, 1), 11017);
	assert_int_equal(ef_days_from_civil(2038, 1, 19), 24855);
	assert_true(ef_days_from_civil(2106, 2, 7) == 49710);
	assert_true(ef_days_from_civil(1600, 1, 1) == -135140);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_clock_timeout),
	        cmocka_unit_test(test_journal_route_ports),
	        cmocka_unit_test(test_days_from_civil),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
