/* Preview environments: the ref pattern, ids, the port range and allocator,
 * and the previews.json record (core/agent/previews_state.c). */
#include "edgeflip/error.h"
#include "edgeflip/previews.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

typedef struct {
	const char *pattern;
	const char *ref;
	int rc;
	const char *id;
} match_case;

static const match_case matches[] = {
        {"refs/pull/*/head", "refs/pull/1/head", 1, "1"},
        {"refs/pull/*/head", "refs/pull/1234/head", 1, "1234"},
        {"refs/pull/*/head", "refs/pull/1/merge", 0, NULL},
        {"refs/pull/*/head", "refs/pull//head", 0, NULL},
        {"refs/pull/*/head", "refs/pull/a/b/head", 0, NULL},
        {"refs/pull/*/head", "refs/pull/../head", 0, NULL},
        {"refs/pull/*/head", "refs/pull/.x/head", 0, NULL},
        {"refs/pull/*/head", "refs/heads/main", 0, NULL},
        {"refs/heads/preview/*", "refs/heads/preview/login-page_2.1", 1, "login-page_2.1"},
        {"refs/heads/preview/*", "refs/heads/preview/", 0, NULL},
        {"refs/heads/preview/*", "refs/heads/preview/a b", 0, NULL},
        {"refs/heads/preview/*",
         "refs/heads/preview/"
         "0123456789012345678901234567890123456789012345678901234567890123",
         0, NULL},
};

static void test_match(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(matches) / sizeof(matches[0]); i++) {
		char id[EF_PREVIEW_ID_MAX] = "";
		const match_case *c = &matches[i];

		print_message("case: %s %s\n", c->pattern, c->ref);
		assert_int_equal(ef_preview_match(id, sizeof(id), c->pattern, c->ref), c->rc);
		if (c->rc)
			assert_string_equal(id, c->id);
	}
}

static void test_pattern_check(void **state)
{
	static const char *const good[] = {"refs/pull/*/head", "refs/heads/preview/*",
	                                   "refs/merge-requests/*/head"};
	static const char *const bad[] = {"refs/pull/*/*/head", "refs/pull/head",    "pull/*/head",
	                                  "refs/pull/x*/head",  "refs/pull/*x/head", "refs//pull/*",
	                                  "refs/../*",          "refs/pull/*/he ad", ""};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(ef_preview_pattern_check(good[i]), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("bad: %s\n", bad[i]);
		assert_int_equal(ef_preview_pattern_check(bad[i]), EF_EINVALID);
		assert_non_null(strstr(ef_error_last(), "refs/pull/*/head"));
	}
	char *prefix = ef_preview_prefix("refs/pull/*/head");
	assert_string_equal(prefix, "refs/pull/");
	free(prefix);
}

static void test_id_order(void **state)
{
	(void)state;
	assert_true(ef_preview_id_cmp("2", "10") < 0);
	assert_true(ef_preview_id_cmp("10", "9") > 0);
	assert_true(ef_preview_id_cmp("007", "7") == 0);
	assert_true(ef_preview_id_cmp("99", "abc") < 0);
	assert_true(ef_preview_id_cmp("abc", "abd") < 0);
}

static void test_ports_parse(void **state)
{
	uint16_t lo = 0, hi = 0;

	(void)state;
	assert_int_equal(ef_preview_ports_parse(&lo, &hi, "20000-20999"), 0);
	assert_int_equal(lo, 20000);
	assert_int_equal(hi, 20999);
	assert_int_equal(ef_preview_ports_parse(&lo, &hi, "7-7"), 0);
	static const char *const bad[] = {"20000", "20999-20000", "0-10",  "1-65536", "-1-5",
	                                  "a-b",   "1-2x",        "1 - 2", "1--2"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ef_preview_ports_parse(&lo, &hi, bad[i]), EF_EINVALID);
		assert_non_null(strstr(ef_error_last(), "LOW-HIGH"));
	}
}

static void add_port(ef_preview *p, const char *svc, uint16_t cport, uint16_t host)
{
	p->ports = realloc(p->ports, (p->nports + 1) * sizeof(*p->ports));
	assert_non_null(p->ports);
	memset(&p->ports[p->nports], 0, sizeof(p->ports[0]));
	p->ports[p->nports].service = strdup(svc);
	p->ports[p->nports].container_port = cport;
	p->ports[p->nports].host_port = host;
	strcpy(p->ports[p->nports].protocol, "tcp");
	p->nports++;
}

static void test_alloc(void **state)
{
	ef_previews all = {0};
	uint16_t port = 0;

	(void)state;
	all.items = calloc(2, sizeof(*all.items));
	all.count = 2;
	all.items[0].name = strdup("pr-1");
	all.items[0].ref = strdup("refs/pull/1/head");
	all.items[1].name = strdup("pr-2");
	all.items[1].ref = strdup("refs/pull/2/head");
	add_port(&all.items[0], "web", 80, 20000);
	add_port(&all.items[1], "web", 80, 20001);
	/* Stable: what is recorded stays. */
	assert_int_equal(ef_preview_port_alloc(&port, &all, "pr-2", "web", 80, "tcp", 20000, 20002),
	                 0);
	assert_int_equal(port, 20001);
	/* New: the lowest free one. */
	assert_int_equal(
	        ef_preview_port_alloc(&port, &all, "pr-2", "api", 8080, "tcp", 20000, 20002), 0);
	assert_int_equal(port, 20002);
	/* Same port, other protocol: a new mapping. */
	add_port(&all.items[1], "api", 8080, 20002);
	assert_int_equal(ef_preview_port_alloc(&port, &all, "pr-3", "web", 80, "tcp", 20000, 20002),
	                 EF_ENOTFOUND);
	assert_non_null(strstr(ef_error_last(), "preview_ports 20000-20002"));
	/* A removed preview frees its ports. */
	ef_previews_remove(&all, 0);
	assert_int_equal(all.count, 1);
	assert_string_equal(all.items[0].name, "pr-2");
	assert_int_equal(ef_preview_port_alloc(&port, &all, "pr-3", "web", 80, "tcp", 20000, 20002),
	                 0);
	assert_int_equal(port, 20000);
	ef_previews_dispose(&all);
}

static void test_json(void **state)
{
	static const char text[] =
	        "{\"previews\":[{\"name\":\"pr-1\",\"ref\":\"refs/pull/1/head\","
	        "\"revision\":\"521f182a5e547d2aa4105a12ae0089e6324e96c6\",\"refused\":\"\","
	        "\"ports\":[{\"service\":\"web\",\"container_port\":80,\"protocol\":\"tcp\","
	        "\"host_port\":20000}],\"volumes\":[\"edgeflip-pr-1_data\"]}]}";
	static const char *const bad[] = {
	        "",
	        "[]",
	        "{\"previews\":{}}",
	        "{\"previews\":[{\"name\":\"pr-../"
	        "x\",\"ref\":\"r\",\"revision\":\"\",\"ports\":[]}]}",
	        "{\"previews\":[{\"name\":\"x-1\",\"ref\":\"r\",\"revision\":\"\",\"ports\":[]}]}",
	        "{\"previews\":[{\"name\":\"pr-1\",\"ref\":\"r\",\"revision\":\"zz\",\"ports\":[]}]"
	        "}",
	        "{\"previews\":[{\"name\":\"pr-1\",\"ref\":\"r\",\"revision\":\"\",\"ports\":[{"
	        "\"service\":\"w\",\"container_port\":0,\"protocol\":\"tcp\",\"host_port\":1}]}]}",
	        "{\"previews\":[{\"name\":\"pr-1\",\"ref\":\"r\",\"revision\":\"\",\"ports\":[]},"
	        "{\"name\":\"pr-1\",\"ref\":\"r\",\"revision\":\"\",\"ports\":[]}]}",
	};
	ef_previews p, back;
	char *json = NULL;

	(void)state;
	assert_int_equal(ef_previews_parse(&p, text, strlen(text)), 0);
	assert_int_equal(p.count, 1);
	assert_string_equal(p.items[0].name, "pr-1");
	assert_int_equal(p.items[0].nports, 1);
	assert_int_equal(p.items[0].ports[0].host_port, 20000);
	assert_string_equal(p.items[0].volumes[0], "edgeflip-pr-1_data");
	assert_int_equal(ef_previews_to_json(&json, &p), 0);
	assert_int_equal(ef_previews_parse(&back, json, strlen(json)), 0);
	assert_int_equal(back.count, 1);
	assert_string_equal(back.items[0].revision, p.items[0].revision);
	free(json);
	ef_previews_dispose(&p);
	ef_previews_dispose(&back);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("bad: %s\n", bad[i]);
		assert_int_equal(ef_previews_parse(&p, bad[i], strlen(bad[i])), EF_EINVALID);
		assert_int_equal(p.count, 0);
		assert_non_null(strstr(ef_error_last(), "previews.json"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_match),    cmocka_unit_test(test_pattern_check),
	        cmocka_unit_test(test_id_order), cmocka_unit_test(test_ports_parse),
	        cmocka_unit_test(test_alloc),    cmocka_unit_test(test_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
