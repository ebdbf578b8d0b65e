/* Health probes (core/deploy/health.c) through fakes at the port interfaces:
 * the HTTP client (include/edgeflip/sys/http.h) and the engine's inspect.
 * The integration suites probe real containers; these pin what the probe
 * asks of the HTTP port and how it judges the answer. */
#include "edgeflip/error.h"
#include "edgeflip/health.h"
#include "edgeflip/sys/http.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ---- the HTTP port, faked: ef_http_request() here keeps port/http/curl.c
 * out of the link (the reply helpers come from port/http/reply.c) ---- */

static struct {
	unsigned calls;
	char url[512];
	char method[8];
	bool allow_http, discard_body, follow_redirects;
	uint64_t timeout_ms;
	long status; /* answer; 0: unreachable */
} http;

int ef_http_request(ef_http_reply *out, const ef_http_req *req)
{
	http.calls++;
	snprintf(http.url, sizeof(http.url), "%s", req->url);
	snprintf(http.method, sizeof(http.method), "%s", req->method ? req->method : "GET");
	http.allow_http = req->allow_http;
	http.discard_body = req->discard_body;
	http.follow_redirects = req->follow_redirects;
	http.timeout_ms = req->timeout_ms;
	if (!http.status) {
		ef_error_set("%s: Connection refused", req->url);
		return EF_EUNREACHABLE;
	}
	out->status = http.status;
	return 0;
}

/* ---- the engine, faked: inspect only ---- */

static ef_cstate engine_state = EF_CSTATE_RUNNING;

static int fake_inspect(ef_engine *e, ef_container *out, const char *id)
{
	(void)e;
	memset(out, 0, sizeof(*out));
	snprintf(out->id, sizeof(out->id), "%s", id);
	out->state = engine_state;
	out->exit_code = engine_state == EF_CSTATE_EXITED ? 3 : 0;
	return 0;
}

static const struct ef_engine_ops fake_ops = {.name = "fake", .inspect = fake_inspect};
static ef_engine fake_engine = {&fake_ops};

static ef_service svc;
static ef_health_target target;

static int setup(void **state)
{
	(void)state;
	memset(&http, 0, sizeof(http));
	memset(&svc, 0, sizeof(svc));
	memset(&target, 0, sizeof(target));
	engine_state = EF_CSTATE_RUNNING;
	svc.health.kind = EF_PROBE_HTTP;
	svc.health.http_path = "/healthz";
	svc.health.timeout_ms = 1500;
	target.spec = &svc;
	snprintf(target.container_id, sizeof(target.container_id), "%s", "c0ffee");
	snprintf(target.host, sizeof(target.host), "%s", "10.0.0.5");
	target.port = 8080;
	return 0;
}

static void test_http_ok_asks_the_port(void **state)
{
	(void)state;
	http.status = 200;
	assert_int_equal(ef_health_probe(&target, &fake_engine), 0);
	assert_true(target.healthy);
	assert_int_equal(http.calls, 1);
	assert_string_equal(http.url, "http://10.0.0.5:8080/healthz");
	assert_string_equal(http.method, "GET");
	assert_true(http.allow_http);
	assert_true(http.discard_body);
	assert_false(http.follow_redirects);
	assert_int_equal(http.timeout_ms, 1500);
}

static void test_http_default_path_and_timeout(void **state)
{
	(void)state;
	svc.health.http_path = NULL;
	svc.health.timeout_ms = 0;
	http.status = 302; /* 2xx and 3xx pass */
	assert_int_equal(ef_health_probe(&target, &fake_engine), 0);
	assert_string_equal(http.url, "http://10.0.0.5:8080/");
	assert_int_equal(http.timeout_ms, 30000);
}

static void test_http_ipv6_host(void **state)
{
	(void)state;
	snprintf(target.host, sizeof(target.host), "%s", "fd00::5");
	http.status = 204;
	assert_int_equal(ef_health_probe(&target, &fake_engine), 0);
	assert_string_equal(http.url, "http://[fd00::5]:8080/healthz");
}

static void test_http_bad_status(void **state)
{
	(void)state;
	http.status = 500;
	assert_int_equal(ef_health_probe(&target, &fake_engine), EF_ERROR);
	assert_false(target.healthy);
	assert_string_equal(target.why, "GET http://10.0.0.5:8080/healthz: status 500");
}

static void test_http_expected_status(void **state)
{
	(void)state;
	svc.health.http_status = 204;
	http.status = 200;
	assert_int_equal(ef_health_probe(&target, &fake_engine), EF_ERROR);
	assert_non_null(strstr(target.why, "status 200"));
	http.status = 204;
	assert_int_equal(ef_health_probe(&target, &fake_engine), 0);
	assert_string_equal(target.why, "");
}

static void test_http_unreachable(void **state)
{
	(void)state;
	http.status = 0;
	assert_int_equal(ef_health_probe(&target, &fake_engine), EF_ERROR);
	assert_string_equal(target.why, "GET http://10.0.0.5:8080/healthz: Connection refused");
}

static void test_exited_container_is_not_probed(void **state)
{
	(void)state;
	engine_state = EF_CSTATE_EXITED;
	http.status = 200;
	assert_int_equal(ef_health_probe(&target, &fake_engine), EF_ERROR);
	assert_true(target.stopped);
	assert_int_equal(http.calls, 0);
	assert_string_equal(target.why, "container exited with code 3");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup(test_http_ok_asks_the_port, setup),
	        cmocka_unit_test_setup(test_http_default_path_and_timeout, setup),
	        cmocka_unit_test_setup(test_http_ipv6_host, setup),
	        cmocka_unit_test_setup(test_http_bad_status, setup),
	        cmocka_unit_test_setup(test_http_expected_status, setup),
	        cmocka_unit_test_setup(test_http_unreachable, setup),
	        cmocka_unit_test_setup(test_exited_container_is_not_probed, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
