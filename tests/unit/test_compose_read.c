/* The compose reader: YAML as Compose reads it (core schema, anchors, merge
 * keys, limits, errors at file:line:column), the merge of override files, and
 * ef_compose_load() on a directory (file names, .env, env_file, device id). */
#include "edgeflip/buf.h"
#include "edgeflip/compose_read.h"
#include "edgeflip/error.h"
#include "edgeflip/manifest.h"

#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define F "env/compose.yaml"

static char *read_json(const char *y, size_t len)
{
	cJSON *doc = NULL;
	char *s;
	int rc = ef_compose_yaml_read(&doc, y, len, F, NULL, NULL);

	if (rc != 0)
		fail_msg("unexpected error %d: %s\n  for %s", rc, ef_error_last(), y);
	s = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	return s;
}

typedef struct {
	const char *yaml;
	const char *json;
} ok_case;

static const ok_case ok_cases[] = {
        /* YAML 1.1 booleans are strings in the core schema (Compose: yes stays "yes") */
        {"a: yes\nb: on\nc: off\nd: no\ne: y\nf: N", "{\"a\":\"yes\",\"b\":\"on\",\"c\":\"off\","
                                                     "\"d\":\"no\",\"e\":\"y\",\"f\":\"N\"}"},
        {"t: true\nf: False\nT: TRUE\nn: ~\nm: null\ne:",
         "{\"t\":true,\"f\":false,\"T\":true,\"n\":null,\"m\":null,\"e\":null}"},
        /* Sexagesimal numbers (1.1) are strings: ports stay "22:22" */
        {"p: 22:22\nq: 1:30\nr: 190:20:30", "{\"p\":\"22:22\",\"q\":\"1:30\",\"r\":\"190:20:30\"}"},
        /* Integers: 0o octal, 0x hex; a leading 0 is decimal in 1.2 */
        {"o: 0o17\nh: 0x1F\nd: 017\ni: -42\nj: +7",
         "{\"o\":15,\"h\":31,\"d\":17,\"i\":-42,\"j\":7}"},
        {"f: 1.5\ng: .5\nh: 1e3\ni: -2.5E-1", "{\"f\":1.5,\"g\":0.5,\"h\":1000,\"i\":-0.25}"},
        /* Not numbers */
        {"v: 1.0.0\nw: 0b101\nx: 1_000\ny: 0o8\nz: '12'\nq: \"true\"",
         "{\"v\":\"1.0.0\",\"w\":\"0b101\",\"x\":\"1_000\",\"y\":\"0o8\",\"z\":\"12\","
         "\"q\":\"true\"}"},
        /* Beyond what a double holds exactly: kept as text */
        {"big: 123456789012345678901", "{\"big\":\"123456789012345678901\"}"},
        /* Core tags */
        {"a: !!str 123\nb: !!int \"42\"\nc: !!float 1\nd: !!bool true\ne: !!null ''",
         "{\"a\":\"123\",\"b\":42,\"c\":1,\"d\":true,\"e\":null}"},
        /* Anchors, aliases, x- extension fields */
        {"x-img: &img nginx:1.25\nservices:\n  a: {image: *img}\n  b: {image: *img}",
         "{\"x-img\":\"nginx:1.25\",\"services\":{\"a\":{\"image\":\"nginx:1.25\"},"
         "\"b\":{\"image\":\"nginx:1.25\"}}}"},
        /* Merge key, one mapping: explicit keys win wherever they stand */
        {"base: &b {a: 1, b: 2}\nm:\n  b: 3\n  <<: *b\n  c: 4",
         "{\"base\":{\"a\":1,\"b\":2},\"m\":{\"b\":3,\"c\":4,\"a\":1}}"},
        /* Merge key, a list: earlier mappings win */
        {"a: &a {k: 1, x: a}\nb: &b {k: 2, y: b}\nm: {<<: [*a, *b]}",
         "{\"a\":{\"k\":1,\"x\":\"a\"},\"b\":{\"k\":2,\"y\":\"b\"},"
         "\"m\":{\"k\":1,\"x\":\"a\",\"y\":\"b\"}}"},
        /* A quoted << is an ordinary key */
        {"m: {\"<<\": 1}", "{\"m\":{\"<<\":1}}"},
        /* An anchor redefined: an alias names the latest */
        {"a: &x 1\nb: &x 2\nc: *x", "{\"a\":1,\"b\":2,\"c\":2}"},
        /* JSON is YAML */
        {"{\"services\": {\"web\": {\"image\": \"x\", \"ports\": [\"80:80\", 443]}}}",
         "{\"services\":{\"web\":{\"image\":\"x\",\"ports\":[\"80:80\",443]}}}"},
        {"{\"a\":1,\"b\":[true,false,null],\"c\":\"yes\"}",
         "{\"a\":1,\"b\":[true,false,null],\"c\":\"yes\"}"},
        /* Block scalars, multi-line */
        {"cmd: |\n  echo a\n  echo b\nfolded: >\n  one\n  two\n",
         "{\"cmd\":\"echo a\\necho b\\n\",\"folded\":\"one two\\n\"}"},
};

static void test_yaml_ok(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		char *s = read_json(ok_cases[i].yaml, strlen(ok_cases[i].yaml));
		if (strcmp(s, ok_cases[i].json) != 0)
			fail_msg("%s\n  got  %s\n  want %s", ok_cases[i].yaml, s, ok_cases[i].json);
		free(s);
	}
}

static void test_yaml_special_floats(void **state)
{
	cJSON *doc = NULL;
	const char *y = "a: .inf\nb: -.Inf\nc: .nan";

	(void)state;
	assert_int_equal(ef_compose_yaml_read(&doc, y, strlen(y), F, NULL, NULL), 0);
	assert_true(cJSON_GetObjectItem(doc, "a")->valuedouble > 1e308);
	assert_true(cJSON_GetObjectItem(doc, "b")->valuedouble < -1e308);
	assert_true(cJSON_GetObjectItem(doc, "c")->valuedouble !=
	            cJSON_GetObjectItem(doc, "c")->valuedouble);
	cJSON_Delete(doc);
}

typedef struct {
	const char *yaml;
	size_t len; /* 0: strlen */
	unsigned line, col;
	const char *message;
} err_case;

static const err_case err_cases[] = {
        {"a: 1\nb: 2\na: 3\n", 0, 3, 1, "duplicate key \"a\" (first at line 1)"},
        {"s:\n  web: {image: x, image: y}\n", 0, 2, 19, "duplicate key \"image\""},
        {"a: 1\n---\nb: 2\n", 0, 2, 1, "a second YAML document"},
        {"a: \xff\n", 0, 1, 4, "the file must be UTF-8 text"},
        {"a: b\0c\n", 7, 1, 5, "the file must be UTF-8 text"},
        {"a: \"x\\0y\"\n", 0, 1, 4, "a NUL character in a value is not supported"},
        {"a: *nope\n", 0, 1, 4, "the alias *nope names no anchor defined before it"},
        {"a: !custom []\n", 0, 1, 4, "the tag !custom is not supported"},
        {"a: !!int abc\n", 0, 1, 4, "\"abc\" is not a valid !!int"},
        {"a: [1, 2\nb: 3\n", 0, 2, 2, "did not find expected ',' or ']'"},
        {"? [a]\n: 1\n", 0, 1, 3, "a key must be a plain string"},
        {"m: {<<: 1}\n", 0, 1, 5, "the merge key << needs a mapping"},
        {"a:\n\tb: 1\n", 0, 2, 1, "found character that cannot start any token"},
};

static void test_yaml_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		const err_case *c = &err_cases[i];
		size_t len = c->len ? c->len : strlen(c->yaml);
		ef_findings f;
		cJSON *doc = NULL;
		ef_findings_init(&f);
		assert_int_equal(ef_compose_yaml_read(&doc, c->yaml, len, F, NULL, &f),
		                 EF_EINVALID);
		assert_null(doc);
		if (f.n < 1 || f.v[0].line != c->line || f.v[0].col != c->col ||
		    !strstr(f.v[0].message, c->message))
			fail_msg("case %zu: %zu findings, %u:%u %s (want %u:%u %s)", i, f.n,
			         f.n ? f.v[0].line : 0, f.n ? f.v[0].col : 0,
			         f.n ? f.v[0].message : "", c->line, c->col, c->message);
		assert_string_equal(f.v[0].file, F);
		/* The last error names the place too. */
		assert_non_null(strstr(ef_error_last(), F ":"));
		ef_findings_dispose(&f);
	}
}

/* Every duplicate is reported, not only the first. */
static void test_yaml_all_duplicates(void **state)
{
	const char *y = "a: 1\na: 2\nb: {c: 1, c: 2}\n";
	ef_findings f;
	cJSON *doc = NULL;

	(void)state;
	ef_findings_init(&f);
	assert_int_equal(ef_compose_yaml_read(&doc, y, strlen(y), F, NULL, &f), EF_EINVALID);
	assert_int_equal(f.n, 2);
	assert_string_equal(f.v[0].path, "$.a");
	assert_string_equal(f.v[1].path, "$.b.c");
	ef_findings_dispose(&f);
}

static void test_yaml_limits(void **state)
{
	ef_buf b = EF_BUF_INIT(16u << 20);
	ef_findings f;
	cJSON *doc = NULL;
	clock_t t0;

	(void)state;
	/* Nesting */
	for (int i = 0; i < 100; i++)
		ef_buf_puts(&b, "[");
	ef_findings_init(&f);
	assert_int_equal(ef_compose_yaml_read(&doc, b.ptr, b.len, F, NULL, &f), EF_EINVALID);
	assert_non_null(strstr(f.v[0].message, "EF_COMPOSE_MAX_DEPTH"));
	assert_int_equal(f.v[0].col, EF_COMPOSE_MAX_DEPTH + 1);
	ef_findings_dispose(&f);
	ef_buf_clear(&b);

	/* Billion laughs: refused at the first alias that would pass the limit,
	 * long before anything is expanded. */
	ef_buf_puts(&b,
	            "a: &a "
	            "[\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
	for (char c = 'b'; c <= 'i'; c++)
		ef_buf_printf(&b, "%c: &%c [*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c]\n", c, c, c - 1,
		              c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1);
	ef_findings_init(&f);
	t0 = clock();
	assert_int_equal(ef_compose_yaml_read(&doc, b.ptr, b.len, F, NULL, &f), EF_EINVALID);
	print_message("billion laughs refused in %.1f ms CPU\n",
	              (double)(clock() - t0) * 1000.0 / CLOCKS_PER_SEC);
	assert_non_null(strstr(f.v[0].message, "EF_COMPOSE_MAX_NODES"));
	assert_int_equal(f.v[0].line, 6); /* f: 9^6 nodes */
	ef_findings_dispose(&f);
	ef_buf_clear(&b);

	/* Input size */
	ef_findings_init(&f);
	assert_int_equal(ef_compose_yaml_read(&doc, "a: 1", EF_COMPOSE_MAX_FILE + 1, F, NULL, &f),
	                 EF_ETOOBIG);
	assert_non_null(strstr(f.v[0].message, "EF_COMPOSE_MAX_FILE"));
	ef_findings_dispose(&f);

	/* Empty file: no tree, no error */
	assert_int_equal(ef_compose_yaml_read(&doc, "", 0, F, NULL, NULL), 0);
	assert_null(doc);
	assert_int_equal(ef_compose_yaml_read(&doc, "# only a comment\n", 17, F, NULL, NULL), 0);
	assert_null(doc);
	ef_buf_dispose(&b);
}

static void expect_pos(const ef_compose_pos *pos, const cJSON *n, unsigned line, unsigned col,
                       const char *file)
{
	const char *fl;
	unsigned l, c;

	assert_non_null(n);
	assert_int_equal(ef_compose_pos_find(pos, n, &fl, &l, &c), 0);
	if (l != line || c != col || strcmp(fl, file) != 0)
		fail_msg("at %s:%u:%u, want %s:%u:%u", fl, l, c, file, line, col);
}

static void test_yaml_positions(void **state)
{
	const char *y = "x-d: &d\n"
	                "  restart: always\n"
	                "services:\n"
	                "  web:\n"
	                "    <<: *d\n"
	                "    image: nginx\n"
	                "    ports:\n"
	                "      - \"80:80\"\n"
	                "      - 443\n";
	ef_compose_pos *pos;
	cJSON *doc = NULL, *web;

	(void)state;
	assert_int_equal(ef_compose_pos_new(&pos), 0);
	assert_int_equal(ef_compose_yaml_read(&doc, y, strlen(y), F, pos, NULL), 0);
	web = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "services"), "web");
	expect_pos(pos, cJSON_GetObjectItem(web, "image"), 6, 12, F);
	expect_pos(pos, cJSON_GetArrayItem(cJSON_GetObjectItem(web, "ports"), 1), 9, 9, F);
	/* A merged value keeps where it was written */
	expect_pos(pos, cJSON_GetObjectItem(web, "restart"), 2, 12, F);
	cJSON_Delete(doc);
	ef_compose_pos_free(pos);
}

/* ---------------------------------------------------------------------------
 * Merge */

static cJSON *yaml(const char *y, const char *file, ef_compose_pos *pos)
{
	cJSON *doc = NULL;

	if (ef_compose_yaml_read(&doc, y, strlen(y), file, pos, NULL) != 0)
		fail_msg("%s", ef_error_last());
	return doc;
}

static void merge_expect(const char *base, const char *over, const char *want)
{
	cJSON *b = yaml(base, "b.yaml", NULL), *o = yaml(over, "o.yaml", NULL);
	char *s;

	if (ef_compose_merge(b, o, NULL, "o.yaml", NULL) != 0)
		fail_msg("merge: %s", ef_error_last());
	s = cJSON_PrintUnformatted(b);
	if (strcmp(s, want) != 0)
		fail_msg("\n  got  %s\n  want %s", s, want);
	free(s);
	cJSON_Delete(b);
}

static void test_merge_rules(void **state)
{
	(void)state;
	/* Mappings by key, scalars replaced, new keys added */
	merge_expect(
	        "services: {web: {image: a, restart: always}}",
	        "services: {web: {image: b, init: true}, db: {image: c}}",
	        "{\"services\":{\"web\":{\"image\":\"b\",\"restart\":\"always\",\"init\":true},"
	        "\"db\":{\"image\":\"c\"}}}");
	/* command, entrypoint and healthcheck.test replaced whole */
	merge_expect(
	        "services: {w: {command: [x, y], entrypoint: [sh], "
	        "healthcheck: {test: [CMD, a], interval: 5s}}}",
	        "services: {w: {command: [z], entrypoint: [bash, -c], "
	        "healthcheck: {test: [CMD, b], retries: 3}}}",
	        "{\"services\":{\"w\":{\"command\":[\"z\"],\"entrypoint\":[\"bash\",\"-c\"],"
	        "\"healthcheck\":{\"test\":[\"CMD\",\"b\"],\"interval\":\"5s\",\"retries\":3}}}}");
	/* environment and labels: by name, mappings stay mappings */
	merge_expect(
	        "services: {w: {environment: {A: '1', B: '2'}}}",
	        "services: {w: {environment: {B: '3', C: '4'}}}",
	        "{\"services\":{\"w\":{\"environment\":{\"A\":\"1\",\"B\":\"3\",\"C\":\"4\"}}}}");
	/* ... a list with a mapping: NAME=value entries, the later value in place */
	merge_expect("services: {w: {labels: [a=1, c=0], environment: [X=1, Y]}}",
	             "services: {w: {labels: {b: 3, a: 2}, environment: [Y=2]}}",
	             "{\"services\":{\"w\":{\"labels\":[\"a=2\",\"c=0\",\"b=3\"],"
	             "\"environment\":[\"X=1\",\"Y=2\"]}}}");
	/* Sequences append; one entry per target for ports, volumes, secrets, expose */
	merge_expect(
	        "services: {w: {ports: ['80:80', {target: 443, published: 8443}], "
	        "volumes: ['d:/data', /cache], secrets: [s1], expose: [3000], "
	        "cap_add: [NET_ADMIN]}}",
	        "services: {w: {ports: ['80:80', '9090:90', {target: 443, published: 8443, "
	        "protocol: tcp}], volumes: ['e:/data:ro', {type: tmpfs, target: /cache}], "
	        "secrets: [{source: s1, target: /run/secrets/s1, mode: 0o400}, s2], "
	        "expose: [3000, '4000'], cap_add: [NET_ADMIN, SYS_TIME]}}",
	        "{\"services\":{\"w\":{\"ports\":[\"80:80\",{\"target\":443,\"published\":8443,"
	        "\"protocol\":\"tcp\"},\"9090:90\"],\"volumes\":[\"e:/data:ro\",{\"type\":"
	        "\"tmpfs\",\"target\":\"/cache\"}],\"secrets\":[{\"source\":\"s1\",\"target\":"
	        "\"/run/secrets/s1\",\"mode\":256},\"s2\"],\"expose\":[3000,\"4000\"],"
	        "\"cap_add\":[\"NET_ADMIN\",\"SYS_TIME\"]}}}");
	/* dns: a string is a list of one */
	merge_expect("services: {w: {dns: 1.1.1.1}}", "services: {w: {dns: [8.8.8.8, 1.1.1.1]}}",
	             "{\"services\":{\"w\":{\"dns\":[\"1.1.1.1\",\"8.8.8.8\"]}}}");
	/* depends_on and networks: lists become mappings */
	merge_expect(
	        "services: {w: {depends_on: [db], networks: [front]}}",
	        "services: {w: {depends_on: {cache: {condition: service_healthy}}, "
	        "networks: {back: {aliases: [x]}}}}",
	        "{\"services\":{\"w\":{\"depends_on\":{\"db\":{\"condition\":\"service_started\","
	        "\"required\":true},\"cache\":{\"condition\":\"service_healthy\"}},"
	        "\"networks\":{\"front\":null,\"back\":{\"aliases\":[\"x\"]}}}}}");
	/* logging: another driver replaces the whole; the same merges */
	merge_expect("services: {w: {logging: {driver: json-file, options: {max-size: 1m}}}}",
	             "services: {w: {logging: {driver: syslog}}}",
	             "{\"services\":{\"w\":{\"logging\":{\"driver\":\"syslog\"}}}}");
	merge_expect("services: {w: {logging: {driver: json-file, options: {max-size: 1m}}}}",
	             "services: {w: {logging: {options: {max-file: '3'}}}}",
	             "{\"services\":{\"w\":{\"logging\":{\"driver\":\"json-file\",\"options\":"
	             "{\"max-size\":\"1m\",\"max-file\":\"3\"}}}}}");
	/* null in the override leaves the base's value */
	merge_expect("services: {w: {image: a}}", "services: {w: {image: null}}",
	             "{\"services\":{\"w\":{\"image\":\"a\"}}}");
	/* extra_hosts: no repeats */
	merge_expect("services: {w: {extra_hosts: ['a:1.1.1.1']}}",
	             "services: {w: {extra_hosts: ['a:1.1.1.1', 'b:2.2.2.2']}}",
	             "{\"services\":{\"w\":{\"extra_hosts\":[\"a:1.1.1.1\",\"b:2.2.2.2\"]}}}");
}

/* Compose's !reset and !override (merge.md): the tags travel beside the
 * positions. */
static void test_merge_reset_override(void **state)
{
	ef_compose_pos *pos;
	cJSON *b, *o, *empty;
	char *s;

	(void)state;
	assert_int_equal(ef_compose_pos_new(&pos), 0);
	b = yaml("services:\n"
	         "  web:\n"
	         "    image: a\n"
	         "    ports: ['80:80']\n"
	         "    environment: {A: '1'}\n"
	         "    command: [x]\n"
	         "    dns: 1.1.1.1\n",
	         "b.yaml", pos);
	/* x-none is itself !reset: it goes too */
	o = yaml("x-none: &none !reset []\n"
	         "services:\n"
	         "  web:\n"
	         "    ports: !reset []\n"
	         "    environment: !override {B: '2'}\n"
	         "    dns: *none\n"
	         "    labels: {x: !reset y, z: w}\n"
	         "    cap_add: !reset [ALL]\n",
	         "o.yaml", pos);
	assert_int_equal(ef_compose_merge(b, o, pos, "o.yaml", NULL), 0);
	s = cJSON_PrintUnformatted(b);
	assert_string_equal(s,
	                    "{\"services\":{\"web\":{\"image\":\"a\",\"environment\":{\"B\":\"2\"},"
	                    "\"command\":[\"x\"],\"labels\":{\"z\":\"w\"}}}}");
	free(s);
	/* A base file alone: merged into an empty document, its !reset goes. */
	empty = cJSON_CreateObject();
	assert_int_equal(ef_compose_merge(empty, b, pos, "b.yaml", NULL), 0);
	o = yaml("services: {web: {image: b, ports: !reset ['1:1'], init: !override true}}",
	         "c.yaml", pos);
	cJSON_Delete(empty);
	empty = cJSON_CreateObject();
	assert_int_equal(ef_compose_merge(empty, o, pos, "c.yaml", NULL), 0);
	s = cJSON_PrintUnformatted(empty);
	assert_string_equal(s, "{\"services\":{\"web\":{\"image\":\"b\",\"init\":true}}}");
	free(s);
	cJSON_Delete(empty);
	ef_compose_pos_free(pos);
}

static void test_merge_errors_and_positions(void **state)
{
	ef_compose_pos *pos;
	ef_findings f;
	cJSON *b, *o, *web;

	(void)state;
	assert_int_equal(ef_compose_pos_new(&pos), 0);
	ef_findings_init(&f);
	b = yaml("services:\n  web:\n    image: a\n    ports: ['80:80']\n", "env/compose.yaml",
	         pos);
	o = yaml("services:\n  web:\n    image: b\n    ports: {x: 1}\n",
	         "env/compose.override.yaml", pos);
	assert_int_equal(ef_compose_merge(b, o, pos, "env/compose.override.yaml", &f), EF_EINVALID);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.v[0].file, "env/compose.override.yaml");
	assert_int_equal(f.v[0].line, 4);
	assert_string_equal(f.v[0].path, "$.services.web.ports");
	assert_non_null(
	        strstr(f.v[0].message, "the override has a mapping where the base has a list"));
	/* The override's image moved into the base with its position */
	web = cJSON_GetObjectItem(cJSON_GetObjectItem(b, "services"), "web");
	assert_string_equal(cJSON_GetObjectItem(web, "image")->valuestring, "b");
	expect_pos(pos, cJSON_GetObjectItem(web, "image"), 3, 12, "env/compose.override.yaml");
	cJSON_Delete(b);
	ef_findings_dispose(&f);
	ef_compose_pos_free(pos);
}

/* ---------------------------------------------------------------------------
 * Loading a directory */

static char tmpdir[] = "/tmp/ef-compose-XXXXXX";

static void put_in(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(fp = fopen(path, "w"));
	fputs(text, fp);
	fclose(fp);
}

static void put(const char *name, const char *text)
{
	put_in(tmpdir, name, text);
}

static void rm_in(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

static void rm(const char *name)
{
	rm_in(tmpdir, name);
}

static void test_load_dir(void **state)
{
	ef_compose_opts opts = {0};
	ef_compose_src src;
	ef_manifest *m = NULL;
	ef_findings f;
	cJSON *doc = NULL;
	char devenv[600];
	const ef_service *s;

	(void)state;
	assert_non_null(mkdtemp(tmpdir));
	ef_compose_src_dir(&src, tmpdir);
	ef_findings_init(&f);

	/* Nothing there */
	assert_int_equal(ef_compose_load(&m, NULL, NULL, &src, NULL, &f), EF_ENOTFOUND);
	assert_non_null(strstr(f.v[0].message, "no compose file"));
	ef_findings_dispose(&f);

	put("compose.yaml", "x-common: &common\n"
	                    "  restart: always\n"
	                    "services:\n"
	                    "  web:\n"
	                    "    <<: *common\n"
	                    "    image: \"registry.local/web:${TAG}\"\n"
	                    "    environment:\n"
	                    "      DEVICE: ${EDGEFLIP_DEVICE_ID}\n"
	                    "      SITE: ${SITE:-default}\n"
	                    "    ports: [\"8080:80\"]\n");
	put("compose.override.yaml", "services:\n"
	                             "  web:\n"
	                             "    ports: [\"8443:443\"]\n"
	                             "    environment:\n"
	                             "      EXTRA: \"1\"\n");
	put(".env", "TAG=1.2\nSITE=lab\n");
	snprintf(devenv, sizeof(devenv), "%s/device.env", tmpdir);
	put("device.env", "# this device\nSITE=\"${TAG}-north\"\n");
	opts.env_file = devenv;
	opts.device_id = "gw-17";
	ef_findings_init(&f);
	if (ef_compose_load(&m, &doc, NULL, &src, &opts, &f) != 0)
		fail_msg("%s", ef_error_last());
	assert_int_equal(f.n, 0);
	assert_non_null(s = ef_manifest_find(m, "web"));
	assert_string_equal(s->image, "registry.local/web:1.2");
	{
		char *j = cJSON_PrintUnformatted(cJSON_GetObjectItem(
		        cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "services"), "web"),
		        "environment"));
		assert_string_equal(
		        j, "{\"DEVICE\":\"gw-17\",\"SITE\":\"1.2-north\",\"EXTRA\":\"1\"}");
		free(j);
		j = cJSON_PrintUnformatted(cJSON_GetObjectItem(
		        cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "services"), "web"), "ports"));
		assert_string_equal(j, "[\"8080:80\",\"8443:443\"]");
		free(j);
	}
	cJSON_Delete(doc);
	ef_manifest_free(m);
	m = NULL;

	/* An unset variable: a finding with the file, line, path and name */
	put(".env", "SITE=lab\n");
	ef_findings_init(&f);
	assert_int_equal(ef_compose_load(&m, NULL, NULL, &src, NULL, &f), EF_EINVALID);
	assert_null(m);
	assert_true(f.n >= 2); /* TAG and EDGEFLIP_DEVICE_ID */
	assert_non_null(strstr(f.v[0].file, "/compose.yaml"));
	assert_int_equal(f.v[0].line, 6);
	assert_string_equal(f.v[0].path, "$.services.web.image");
	assert_non_null(strstr(f.v[0].message, "variable TAG is not set"));
	assert_non_null(strstr(ef_error_last(), "variable TAG is not set"));
	ef_findings_dispose(&f);

	/* Two base files */
	put("docker-compose.yml", "services: {}\n");
	ef_findings_init(&f);
	assert_int_equal(ef_compose_load(&m, NULL, NULL, &src, &opts, &f), EF_EINVALID);
	assert_non_null(strstr(f.v[0].message, "both compose.yaml and docker-compose.yml"));
	ef_findings_dispose(&f);
	rm("docker-compose.yml");

	/* A symbolic link is not followed */
	rm("compose.override.yaml");
	put(".env", "TAG=1\n");
	{
		char target[600], link[600];
		snprintf(target, sizeof(target), "%s/device.env", tmpdir);
		snprintf(link, sizeof(link), "%s/compose.override.yml", tmpdir);
		assert_int_equal(symlink(target, link), 0);
	}
	ef_findings_init(&f);
	assert_int_equal(ef_compose_load(&m, NULL, NULL, &src, &opts, &f), EF_EINVALID);
	if (!strstr(f.v[0].message, "symbolic links are not followed"))
		fail_msg("%s", f.v[0].message);
	ef_findings_dispose(&f);
	rm("compose.override.yml");

	/* The old compose.json still works */
	rm("compose.yaml");
	put("compose.json", "{\"services\": {\"web\": {\"image\": \"nginx:${TAG}\"}}}");
	put(".env", "TAG=1.25\n");
	ef_findings_init(&f);
	if (ef_compose_load(&m, NULL, NULL, &src, NULL, &f) != 0)
		fail_msg("%s", ef_error_last());
	assert_string_equal(ef_manifest_find(m, "web")->image, "nginx:1.25");
	ef_manifest_free(m);
	ef_findings_dispose(&f);

	rm("compose.json");
	rm(".env");
	rm("device.env");
	rmdir(tmpdir);
}

static char xdir[] = "/tmp/ef-extends-XXXXXX";

static void xput(const char *name, const char *text)
{
	put_in(xdir, name, text);
}

/* extends: the base copied, the service merged into it with the override
 * rules; from the same file or a file beside it; each file interpolated
 * first; positions of inherited values are the base's lines. */
static void test_load_extends(void **state)
{
	ef_compose_src src;
	ef_compose_pos *pos = NULL;
	ef_manifest *m = NULL;
	ef_findings f;
	cJSON *doc = NULL, *web;
	const char *file;
	unsigned line, col;
	char *j;

	(void)state;
	assert_non_null(mkdtemp(xdir));
	ef_compose_src_dir(&src, xdir);
	xput("compose.yaml", "services:\n"
	                     "  base:\n"
	                     "    image: nginx:1.25\n"
	                     "    environment: {A: \"1\", B: \"2\"}\n"
	                     "    command: [\"a\", \"b\"]\n"
	                     "  web:\n"
	                     "    extends: base\n"
	                     "    environment: {B: \"3\"}\n"
	                     "    command: [\"c\"]\n"
	                     "  top:\n"
	                     "    extends: {service: web}\n"
	                     "    labels: [k=v]\n"
	                     "  cache:\n"
	                     "    extends: {file: common.yml, service: redis}\n"
	                     "    tmpfs: [/x]\n");
	xput("common.yml", "services:\n"
	                   "  redis:\n"
	                   "    image: \"redis:${TAG:-7}\"\n"
	                   "    tmpfs: [/data]\n"
	                   "  other:\n"
	                   "    extends: redis\n");
	xput(".env", "TAG=7.2\n");
	ef_findings_init(&f);
	if (ef_compose_load(&m, &doc, &pos, &src, NULL, &f) != 0)
		fail_msg("%s", ef_error_last());
	web = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "services"), "web");
	j = cJSON_PrintUnformatted(web);
	assert_string_equal(j,
	                    "{\"image\":\"nginx:1.25\",\"environment\":{\"A\":\"1\",\"B\":\"3\"},"
	                    "\"command\":[\"c\"]}");
	free(j);
	j = cJSON_PrintUnformatted(
	        cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "services"), "top"));
	assert_string_equal(j,
	                    "{\"image\":\"nginx:1.25\",\"environment\":{\"A\":\"1\",\"B\":\"3\"},"
	                    "\"command\":[\"c\"],\"labels\":[\"k=v\"]}");
	free(j);
	j = cJSON_PrintUnformatted(
	        cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "services"), "cache"));
	assert_string_equal(j, "{\"image\":\"redis:7.2\",\"tmpfs\":[\"/data\",\"/x\"]}");
	free(j);
	/* the services keep their order; web's image is the base's line */
	assert_string_equal(cJSON_GetObjectItem(doc, "services")->child->next->string, "web");
	assert_int_equal(
	        ef_compose_pos_find(pos, cJSON_GetObjectItem(web, "image"), &file, &line, &col), 0);
	assert_non_null(strstr(file, "/compose.yaml"));
	assert_int_equal(line, 3);
	assert_int_equal(
	        ef_compose_pos_find(
	                pos,
	                cJSON_GetObjectItem(
	                        cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "services"), "cache"),
	                        "image"),
	                &file, &line, &col),
	        0);
	assert_non_null(strstr(file, "/common.yml"));
	assert_int_equal(line, 3);
	assert_non_null(ef_manifest_find(m, "cache"));
	ef_manifest_free(m);
	cJSON_Delete(doc);
	ef_compose_pos_free(pos);
	ef_findings_dispose(&f);

	/* what is refused, each once, at the extends line */
	static const struct {
		const char *yaml;
		unsigned line;
		const char *msg;
	} bad[] = {
	        {"services:\n  b: {image: x, extends: a}\n  a: {image: x, extends: b}\n", 3,
	         "services extend one another in a circle (b)"},
	        {"services:\n  a: {image: x, extends: a}\n", 2,
	         "services extend one another in a circle (a)"},
	        {"services:\n  a:\n    extends: nope\n", 3,
	         "service nope, which it extends, is not in this file"},
	        {"services:\n  a:\n    extends: {service: b, file: sub/c.yml}\n", 3,
	         "extends.file 'sub/c.yml' is not a file of this directory"},
	        {"services:\n  a:\n    extends: {service: b, file: common.yml}\n", 3,
	         "extends.file common.yml has no service b"},
	        {"services:\n  a:\n    extends: {service: b, from: x}\n  b: {image: x}\n", 3,
	         "unknown key 'from' (extends takes service and file)"},
	        {"services:\n  a:\n    extends: [b]\n", 3,
	         "expected a service name or {service, file}, found an array"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		xput("compose.yaml", bad[i].yaml);
		ef_findings_init(&f);
		assert_int_equal(ef_compose_load(&m, NULL, NULL, &src, NULL, &f), EF_EINVALID);
		if (f.n != 1 || f.v[0].line != bad[i].line || !strstr(f.v[0].message, bad[i].msg))
			fail_msg("case %zu: %zu findings, first %u: %s", i, f.n,
			         f.n ? f.v[0].line : 0, f.n ? f.v[0].message : "");
		assert_string_equal(f.v[0].path, "$.services.a.extends");
		ef_findings_dispose(&f);
	}
	/* files extending one another in a circle end at the limit */
	xput("compose.yaml", "services:\n  a:\n    extends: {service: b, file: c.yml}\n");
	xput("c.yml", "services:\n  b:\n    extends: {service: a, file: compose.yaml}\n");
	ef_findings_init(&f);
	assert_int_equal(ef_compose_load(&m, NULL, NULL, &src, NULL, &f), EF_EINVALID);
	assert_non_null(strstr(ef_error_last(), "more than 8 files extend one another"));
	ef_findings_dispose(&f);

	rm_in(xdir, "compose.yaml");
	rm_in(xdir, "common.yml");
	rm_in(xdir, "c.yml");
	rm_in(xdir, ".env");
	rmdir(xdir);
}

/* Per-device layers: labels/KEY=VALUE/ (sorted by key), then devices/ID/,
 * then the device's env_file; each layer's override merged and its .env
 * winning over the ones before; errors name the layer's file. */
static char layerdir[] = "/tmp/ef-layers-XXXXXX";

static void lput(const char *name, const char *text)
{
	put_in(layerdir, name, text);
}

/* Loads with `opts` and compares web's environment as compact JSON. */
static void expect_web_env(const ef_compose_src *src, const ef_compose_opts *opts, const char *want)
{
	ef_manifest *m = NULL;
	ef_findings f;
	cJSON *doc = NULL;
	char *j;

	ef_findings_init(&f);
	if (ef_compose_load(&m, &doc, NULL, src, opts, &f) != 0)
		fail_msg("%s", ef_error_last());
	j = cJSON_PrintUnformatted(cJSON_GetObjectItem(
	        cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "services"), "web"), "environment"));
	assert_string_equal(j, want);
	free(j);
	cJSON_Delete(doc);
	ef_manifest_free(m);
	ef_findings_dispose(&f);
}

static void test_load_layers(void **state)
{
	static const char *const dirs[] = {"labels",         "labels/site=north", "labels/hw=pi4",
	                                   "labels/zone=a",  "devices",           "devices/gw-1",
	                                   "labels/odd=file"};
	char *labels[] = {"zone=a", "site=north", "hw=pi4", "absent=x", NULL};
	ef_compose_opts opts = {0};
	ef_compose_src src;
	ef_manifest *m = NULL;
	ef_findings f;
	char path[600];

	(void)state;
	assert_non_null(mkdtemp(layerdir));
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) - 1; i++) {
		snprintf(path, sizeof(path), "%s/%s", layerdir, dirs[i]);
		assert_int_equal(mkdir(path, 0755), 0);
	}
	ef_compose_src_dir(&src, layerdir);
	lput("compose.yaml", "services:\n"
	                     "  web:\n"
	                     "    image: \"r/web:${TAG}\"\n"
	                     "    environment:\n"
	                     "      A: ${A}\n"
	                     "      B: ${B}\n"
	                     "      C: ${C:-c}\n");
	lput(".env", "TAG=1\nA=base\nB=base\n");
	/* hw < site < zone: zone's A wins over site's; the device's B over all. */
	lput("labels/site=north/.env", "A=north\nB=north\n");
	lput("labels/zone=a/.env", "A=zone-${A}\n");
	lput("labels/hw=pi4/compose.override.yaml",
	     "services:\n  web:\n    environment:\n      HW: pi4\n      A: from-hw\n");
	lput("labels/site=north/compose.override.json",
	     "{\"services\": {\"web\": {\"environment\": {\"HW\": \"site\"}}}}");
	lput("devices/gw-1/.env", "B=gw1\nC=gw1\n");
	lput("devices/gw-1/compose.override.yml",
	     "services:\n  web:\n    environment:\n      D: ${EDGEFLIP_DEVICE_ID}\n");
	snprintf(path, sizeof(path), "%s/dev.env", layerdir);
	lput("dev.env", "C=local\n");
	opts.labels = labels;
	opts.device_id = "gw-1";
	opts.env_file = path;
	/* Overrides merge in layer order: hw's sets A (over the interpolated
	 * value) and HW, site's (later) sets HW again; the device's adds D. */
	expect_web_env(&src, &opts,
	               "{\"A\":\"from-hw\",\"B\":\"gw1\",\"C\":\"local\",\"HW\":\"site\","
	               "\"D\":\"gw-1\"}");
	/* Without the hw label, A is interpolated from the .env layers. */
	labels[2] = NULL;
	expect_web_env(&src, &opts,
	               "{\"A\":\"zone-north\",\"B\":\"gw1\",\"C\":\"local\",\"HW\":\"site\","
	               "\"D\":\"gw-1\"}");

	/* An error in a layer names the layer's file and line. */
	lput("devices/gw-1/compose.override.yml", "services:\n  web:\n    bogus: 1\n");
	ef_findings_init(&f);
	assert_int_equal(ef_compose_load(&m, NULL, NULL, &src, &opts, &f), EF_EINVALID);
	assert_non_null(strstr(f.v[0].file, "/devices/gw-1/compose.override.yml"));
	assert_int_equal(f.v[0].line, 3);
	ef_findings_dispose(&f);

	/* Two overrides in one layer. */
	lput("devices/gw-1/compose.override.yaml", "services: {}\n");
	ef_findings_init(&f);
	assert_int_equal(ef_compose_load(&m, NULL, NULL, &src, &opts, &f), EF_EINVALID);
	assert_non_null(strstr(f.v[0].message, "both compose.override.yaml and "
	                                       "compose.override.yml"));
	ef_findings_dispose(&f);

	/* Names that would leave the directory, a repeated key, a file as a layer. */
	{
		char *bad[][3] = {{"site=..", NULL, NULL},
		                  {"site=a/b", NULL, NULL},
		                  {"../x=1", NULL, NULL},
		                  {"site", NULL, NULL},
		                  {"site=north", "site=south", NULL}};
		for (size_t i = 0; i < 5; i++) {
			ef_compose_opts o = {0};
			o.labels = bad[i];
			ef_findings_init(&f);
			if (ef_compose_load(&m, NULL, NULL, &src, &o, &f) != EF_EINVALID)
				fail_msg("label %s was taken", bad[i][0]);
			ef_findings_dispose(&f);
		}
	}
	{
		ef_compose_opts o = {0};
		o.device_id = "..";
		ef_findings_init(&f);
		assert_int_equal(ef_compose_load(&m, NULL, NULL, &src, &o, &f), EF_EINVALID);
		assert_non_null(strstr(f.v[0].message, "cannot name a layer directory"));
		ef_findings_dispose(&f);
	}
	{
		char *odd[] = {"odd=file", NULL};
		ef_compose_opts o = {0};
		lput("labels/odd=file", "x");
		o.labels = odd;
		ef_findings_init(&f);
		assert_int_equal(ef_compose_load(&m, NULL, NULL, &src, &o, &f), EF_EINVALID);
		assert_non_null(strstr(f.v[0].message, "a layer is a directory"));
		ef_findings_dispose(&f);
	}
	assert_int_equal(ef_compose_layer_name_check("0123abcdef", false, "id"), 0);
	assert_int_equal(ef_compose_layer_name_check(".hidden", false, "id"), EF_EINVALID);
	assert_int_equal(ef_compose_layer_name_check("a=b", true, "label"), 0);
	assert_int_equal(ef_compose_layer_name_check("a=b=c", true, "label"), EF_EINVALID);
	snprintf(path, sizeof(path), "rm -rf '%s'", layerdir);
	assert_int_equal(system(path), 0);
}

/* Every compose file of the awesome-compose corpus reads (the model may
 * refuse what a device cannot do, e.g. build:, but the reader must not). */
static void test_corpus(void **state)
{
	/* ../shared beside the main checkout, ../../shared beside a worktree */
	const char *root = access(EF_SOURCE_DIR "/../shared/corpus/awesome-compose", R_OK) == 0
	                           ? EF_SOURCE_DIR "/../shared/corpus/awesome-compose"
	                           : EF_SOURCE_DIR "/../../shared/corpus/awesome-compose";
	char cmd[1200], path[1024];
	size_t n = 0;
	FILE *p;

	(void)state;
	snprintf(cmd, sizeof(cmd),
	         "find %s -name 'compose.yaml' -o -name 'docker-compose.yml' -o -name "
	         "'compose.yml' 2>/dev/null",
	         root);
	if (!(p = popen(cmd, "r")))
		skip();
	while (fgets(path, sizeof(path), p)) {
		ef_buf b;
		cJSON *doc = NULL;
		path[strcspn(path, "\n")] = '\0';
		assert_int_equal(ef_read_file(&b, path, EF_COMPOSE_MAX_FILE), 0);
		if (ef_compose_yaml_read(&doc, b.ptr, b.len, path, NULL, NULL) != 0)
			fail_msg("%s", ef_error_last());
		assert_true(cJSON_IsObject(doc));
		cJSON_Delete(doc);
		ef_buf_dispose(&b);
		n++;
	}
	pclose(p);
	if (!n)
		skip(); /* the shared corpus is not there */
	print_message("%zu corpus files read\n", n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_yaml_ok),
	        cmocka_unit_test(test_yaml_special_floats),
	        cmocka_unit_test(test_yaml_errors),
	        cmocka_unit_test(test_yaml_all_duplicates),
	        cmocka_unit_test(test_yaml_limits),
	        cmocka_unit_test(test_yaml_positions),
	        cmocka_unit_test(test_merge_rules),
	        cmocka_unit_test(test_merge_reset_override),
	        cmocka_unit_test(test_merge_errors_and_positions),
	        cmocka_unit_test(test_load_dir),
	        cmocka_unit_test(test_load_extends),
	        cmocka_unit_test(test_load_layers),
	        cmocka_unit_test(test_corpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
