/* The engine's event stream parser (port/engine/docker_events.c), fed the
 * stream recorded from Podman 4.3.1 (tests/unit/data/engine/events_podman.*,
 * made by capture_events.sh: create, start, healthcheck, kill, start, stop,
 * remove of a labelled container, then an unlabelled one), Docker's dialect
 * as its documentation gives it, and hostile streams. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../port/engine/docker_events.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DATA   EF_TEST_DATA "/engine/"
#define CAP    (64u << 10)
#define WEB_ID "6ca602250eb341638958b1cdd7e448d0ac654c8eaa8e74af3eb11f40c7ce8524"

static void load(ef_buf *b, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s%s", DATA, name);
	assert_int_equal(ef_read_file(b, path, 1 << 20), 0);
}

static int feed_in_steps(ef_docker_events *p, const char *s, size_t len, size_t step)
{
	int error = 0;

	for (size_t off = 0; off < len && error == 0; off += step)
		error = ef_docker_events_feed(p, s + off, len - off < step ? len - off : step);
	return error;
}

/* The recorded reply: 19 events (type=container), 4 relevant: kill, die,
 * die (the stop), remove of the labelled container; none of the unlabelled. */
static void check_recorded(size_t step)
{
	ef_docker_events p;
	ef_buf b;

	load(&b, "events_podman.http");
	ef_docker_events_init(&p, CAP);
	assert_int_equal(feed_in_steps(&p, b.ptr, b.len, step), 0);
	assert_int_equal(p.status, 200);
	assert_int_equal(p.phase == EF_EV_SIZE || p.phase == EF_EV_DATA_END, 1);
	assert_int_equal(p.events, 19);
	assert_int_equal(p.invalid, 0);
	assert_int_equal(p.relevant, 4);
	assert_string_equal(p.last.action, "remove");
	assert_string_equal(p.last.service, "web");
	assert_string_equal(p.last.id, WEB_ID);
	ef_docker_events_dispose(&p);
	ef_buf_dispose(&b);
}

static void test_recorded_whole(void **state)
{
	(void)state;
	check_recorded(1 << 20);
}

static void test_recorded_byte_by_byte(void **state)
{
	(void)state;
	check_recorded(1);
	check_recorded(7);
	check_recorded(300);
}

/* Every line of the unfiltered recording, one by one. */
static void test_recorded_lines(void **state)
{
	static const struct {
		const char *action;
		bool relevant;
	} want[] = {
	        {"pull", false},          {"create", false},    {"init", false},  {"start", false},
	        {"health_status", false}, {"exec_died", false}, {"kill", true},   {"die", true},
	        {"cleanup", false},       {"init", false},      {"start", false}, {"die", true},
	        {"cleanup", false},       {"cleanup", false},   {"remove", true}, {"create", false},
	        {"init", false},          {"start", false},     {"die", false},   {"remove", false},
	};
	ef_buf b;
	char *line, *save = NULL;
	size_t i = 0;

	(void)state;
	load(&b, "events_podman.jsonl");
	for (line = strtok_r(b.ptr, "\n", &save); line; line = strtok_r(NULL, "\n", &save), i++) {
		ef_docker_event ev;
		assert_true(i < sizeof(want) / sizeof(want[0]));
		assert_int_equal(ef_docker_event_parse(&ev, line, strlen(line)), 0);
		assert_string_equal(ev.action, want[i].action);
		assert_int_equal(ev.relevant, want[i].relevant);
		assert_int_equal(ev.container, i != 0); /* the first is an image pull */
		if (i >= 1 && i <= 14)
			assert_string_equal(ev.service, "web");
		if (i >= 15)
			assert_string_equal(ev.service, "");
	}
	assert_int_equal(i, 20);
	ef_buf_dispose(&b);
}

/* Docker (and balena-engine): Action carries the health status; "stop" and
 * "destroy" exist; old engines send only status/id. */
static void test_docker_dialect(void **state)
{
	static const struct {
		const char *line;
		bool relevant;
		const char *action;
	} cases[] = {
	        {"{\"status\":\"health_status: unhealthy\",\"id\":\"" WEB_ID
	         "\",\"Type\":\"container\","
	         "\"Action\":\"health_status: unhealthy\",\"Actor\":{\"ID\":\"" WEB_ID "\","
	         "\"Attributes\":{\"io.edgeflip.service\":\"web\",\"name\":\"edgeflip-web-blue\"}},"
	         "\"scope\":\"local\",\"time\":1700000000,\"timeNano\":1700000000000000000}",
	         true, "health_status: unhealthy"},
	        {"{\"Type\":\"container\",\"Action\":\"health_status: "
	         "healthy\",\"Actor\":{\"ID\":\"" WEB_ID
	         "\",\"Attributes\":{\"io.edgeflip.service\":\"web\"}}}",
	         false, "health_status: healthy"},
	        {"{\"Type\":\"container\",\"Action\":\"stop\",\"Actor\":{\"ID\":\"" WEB_ID
	         "\",\"Attributes\":{\"io.edgeflip.service\":\"web\"}}}",
	         true, "stop"},
	        {"{\"Type\":\"container\",\"Action\":\"destroy\",\"Actor\":{\"ID\":\"" WEB_ID
	         "\",\"Attributes\":{\"io.edgeflip.service\":\"web\"}}}",
	         true, "destroy"},
	        {"{\"Type\":\"container\",\"Action\":\"health_status\",\"Actor\":{\"ID\":\"" WEB_ID
	         "\",\"Attributes\":{\"io.edgeflip.service\":\"web\",\"health_status\":"
	         "\"unhealthy\"}}}",
	         true, "health_status"},
	        {"{\"Type\":\"network\",\"Action\":\"destroy\",\"Actor\":{\"ID\":\"abc\","
	         "\"Attributes\":{\"io.edgeflip.service\":\"web\"}}}",
	         false, "destroy"},
	        {"{\"status\":\"die\",\"id\":\"" WEB_ID "\",\"from\":\"busybox\",\"time\":1}",
	         false, "die"}, /* no labels: not ours */
	        {"{\"Type\":\"container\",\"Action\":\"die\",\"Actor\":{\"ID\":\"not-hex!\","
	         "\"Attributes\":{\"io.edgeflip.service\":\"web\"}}}",
	         true, "die"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ef_docker_event ev;
		assert_int_equal(ef_docker_event_parse(&ev, cases[i].line, strlen(cases[i].line)),
		                 0);
		assert_int_equal(ev.relevant, cases[i].relevant);
		assert_string_equal(ev.action, cases[i].action);
	}
	{
		ef_docker_event ev;
		const char *l = cases[7].line;
		assert_int_equal(ef_docker_event_parse(&ev, l, strlen(l)), 0);
		assert_string_equal(ev.id, ""); /* an invalid id is dropped */
	}
}

/* A plain (not chunked) body, CRLF lines, a bad line skipped, the last chunk. */
static void test_plain_and_end(void **state)
{
	const char plain[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n"
	                     "{\"Type\":\"container\",\"Action\":\"die\",\"Actor\":{\"Attributes\":"
	                     "{\"io.edgeflip.service\":\"a\"}}}\r\n"
	                     "not json\n\n[1,2]\n";
	const char chunked[] = "HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n"
	                       "5;ext=1\r\n{\"a\":\r\n3\r\n1}\n\r\n0\r\n\r\n";
	ef_docker_events p;

	(void)state;
	ef_docker_events_init(&p, CAP);
	assert_int_equal(feed_in_steps(&p, plain, sizeof(plain) - 1, 3), 0);
	assert_int_equal(p.phase, EF_EV_PLAIN);
	assert_int_equal(p.events, 3);
	assert_int_equal(p.invalid, 2);
	assert_int_equal(p.relevant, 1);
	ef_docker_events_dispose(&p);

	ef_docker_events_init(&p, CAP);
	assert_int_equal(feed_in_steps(&p, chunked, sizeof(chunked) - 1, 1), 0);
	assert_int_equal(p.phase, EF_EV_DONE);
	assert_int_equal(p.events, 1);
	assert_int_equal(p.invalid, 0);
	ef_docker_events_dispose(&p);
}

static int feed_str(size_t cap, const char *s)
{
	ef_docker_events p;
	int error;

	ef_docker_events_init(&p, cap);
	error = feed_in_steps(&p, s, strlen(s), 1);
	ef_docker_events_dispose(&p);
	return error;
}

static void test_hostile(void **state)
{
	char big[600];

	(void)state;
	assert_int_equal(feed_str(CAP, "HTTP/1.1 404 Not Found\r\n\r\n"), EF_EUNREACHABLE);
	assert_non_null(strstr(ef_error_last(), "HTTP 404"));
	assert_int_equal(feed_str(CAP, "SSH-2.0-OpenSSH\r\n\r\n"), EF_EINVALID);
	assert_int_equal(
	        feed_str(CAP, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
	        EF_EINVALID);
	assert_int_equal(
	        feed_str(CAP, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX"),
	        EF_EINVALID);
	assert_int_equal(feed_str(CAP, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	                               "ffffffffffffffffff\r\n"),
	                 EF_EINVALID);
	/* A head or a line beyond the cap. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(feed_str(512, big), EF_ETOOBIG);
	{
		char s[800];
		snprintf(s, sizeof(s), "HTTP/1.1 200 OK\r\n\r\n%s", big);
		assert_int_equal(feed_str(512, s), EF_ETOOBIG);
	}
	/* Parse of odd lines: never trusted, never a crash. */
	{
		ef_docker_event ev;
		assert_int_equal(ef_docker_event_parse(&ev, "[]", 2), EF_EINVALID);
		assert_int_equal(ef_docker_event_parse(&ev, NULL, 0), EF_EINVALID);
		assert_int_equal(ef_docker_event_parse(&ev, "{\"Action\":7,\"Actor\":[]}", 23), 0);
		assert_false(ev.relevant);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_recorded_whole), cmocka_unit_test(test_recorded_byte_by_byte),
	        cmocka_unit_test(test_recorded_lines), cmocka_unit_test(test_docker_dialect),
	        cmocka_unit_test(test_plain_and_end),  cmocka_unit_test(test_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
