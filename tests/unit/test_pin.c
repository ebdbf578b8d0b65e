/* ef_pin_scan / ef_pin_edit: image values found by the reader's positions and
 * replaced byte for byte (comments, quotes, flow style, anchors, JSON). */
#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/pin.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define D "sha256:00000000000000000000000000000000000000000000000000000000000000aa"

typedef struct {
	const char *in;
	const char *service; /* the one to pin */
	const char *out;     /* expected text, NULL: the edit is refused */
} edit_case;

static const edit_case cases[] = {
        /* plain, with a comment after it */
        {"services:\n  web:\n    image: nginx:1.25 # the web\n", "web",
         "services:\n  web:\n    image: nginx:1.25@" D " # the web\n"},
        /* double and single quotes, flow mapping, CRLF */
        {"services: {web: {image: \"nginx:1.25\", ports: [\"80:80\"]}}\r\n", "web",
         "services: {web: {image: \"nginx:1.25@" D "\", ports: [\"80:80\"]}}\r\n"},
        {"services:\n  web:\n    image:   'reg:5000/a/b:v1'   \n", "web",
         "services:\n  web:\n    image:   'reg:5000/a/b:v1@" D "'   \n"},
        /* an anchored value is edited after its anchor */
        {"services:\n  web:\n    image: &img nginx:1 # x\n  b:\n    image: other:2\n", "web",
         "services:\n  web:\n    image: &img nginx:1@" D " # x\n  b:\n    image: other:2\n"},
        /* a second service untouched; UTF-8 before the value on its line */
        {"# caf\xc3\xa9\nservices:\n  \xc3\xa9: {image: a:1}\n  b: {image: a:1}\n", "b",
         "# caf\xc3\xa9\nservices:\n  \xc3\xa9: {image: a:1}\n  b: {image: a:1@" D "}\n"},
        /* JSON */
        {"{\n  \"services\": {\"web\": {\"image\": \"nginx:1\"}}\n}\n", "web",
         "{\n  \"services\": {\"web\": {\"image\": \"nginx:1@" D "\"}}\n}\n"},
        /* aliases and merge keys, interpolation, escapes, block scalars: refused */
        {"x: &i nginx:1\nservices:\n  web:\n    image: *i\n", "web", NULL},
        {"x: &d {image: nginx:1}\nservices:\n  web:\n    <<: *d\n", "web", NULL},
        {"services:\n  web:\n    image: nginx:${TAG}\n", "web", NULL},
        {"services:\n  web:\n    image: \"ngin\\x78:1\"\n", "web", NULL},
        {"services:\n  web:\n    image: |\n      nginx:1\n", "web", NULL},
        {"services:\n  web:\n    image: nginx:1\n      .2\n", "web", NULL},
};

static void test_edit_cases(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		ef_pin_images imgs;
		ef_buf out;
		char **values;
		int rc;

		if (ef_pin_scan(&imgs, cases[c].in, strlen(cases[c].in), "compose.yaml") < 0)
			fail_msg("case %zu: scan: %s", c, ef_error_last());
		values = calloc(imgs.n + 1, sizeof(*values));
		assert_non_null(values);
		for (size_t i = 0; i < imgs.n; i++) {
			if (strcmp(imgs.v[i].service, cases[c].service) != 0)
				continue;
			values[i] = malloc(strlen(imgs.v[i].image) + sizeof(D) + 1);
			sprintf(values[i], "%s@%s", imgs.v[i].image, D);
		}
		rc = ef_pin_edit(&out, cases[c].in, strlen(cases[c].in), "compose.yaml", &imgs,
		                 values);
		if (cases[c].out) {
			if (rc < 0)
				fail_msg("case %zu: edit: %s", c, ef_error_last());
			assert_int_equal(out.len, strlen(cases[c].out));
			assert_memory_equal(out.ptr, cases[c].out, out.len);
			ef_buf_dispose(&out);
		} else {
			if (rc == 0)
				fail_msg("case %zu: edit accepted: %.*s", c, (int)out.len, out.ptr);
			assert_int_equal(rc, EF_EINVALID);
			assert_non_null(strstr(ef_error_last(), "cannot edit the image in place"));
		}
		for (size_t i = 0; i < imgs.n; i++)
			free(values[i]);
		free(values);
		ef_pin_images_dispose(&imgs);
	}
}

static void test_scan(void **state)
{
	const char *y = "services:\n  a:\n    image: x:1@" D "\n  b:\n    build: .\n  c:\n"
	                "    image: \"y\"\n";
	ef_pin_images imgs;

	(void)state;
	assert_int_equal(ef_pin_scan(&imgs, y, strlen(y), "f.yaml"), 0);
	assert_int_equal(imgs.n, 2);
	assert_string_equal(imgs.v[0].service, "a");
	assert_true(imgs.v[0].pinned);
	assert_string_equal(imgs.v[1].service, "c");
	assert_false(imgs.v[1].pinned);
	assert_int_equal(imgs.v[1].line, 7);
	assert_int_equal(imgs.v[1].col, 12);
	assert_string_equal(imgs.v[1].why_not, "");
	ef_pin_images_dispose(&imgs);

	/* A file the reader refuses is an error naming the file. */
	assert_int_equal(ef_pin_scan(&imgs, "services: [", 11, "bad.yaml"), EF_EINVALID);
	assert_non_null(strstr(ef_error_last(), "bad.yaml:"));
}

static void test_refuses_unsafe_value(void **state)
{
	const char *y = "services:\n  a:\n    image: x:1\n";
	char *values[] = {(char *)"x:1 # y", NULL};
	ef_pin_images imgs;
	ef_buf out;

	(void)state;
	assert_int_equal(ef_pin_scan(&imgs, y, strlen(y), "f.yaml"), 0);
	assert_int_equal(ef_pin_edit(&out, y, strlen(y), "f.yaml", &imgs, values), EF_EINVALID);
	assert_non_null(strstr(ef_error_last(), "not an image reference"));
	ef_pin_images_dispose(&imgs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_edit_cases),
	        cmocka_unit_test(test_scan),
	        cmocka_unit_test(test_refuses_unsafe_value),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
