/* The git bundle header parser (core/source/bundle.c): v2 and v3 headers as
 * `git bundle create` writes them, and the malformed ones it must refuse
 * with their messages. Table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../core/source/bundle.h"

#include "edgeflip/buf.h"
#include "edgeflip/error.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define O1   "521f182a5e547d2aa4105a12ae0089e6324e96c6"
#define O2   "0123456789abcdef0123456789abcdef01234567"
#define PACK "PACK\0\0\0\2\0\0\0\0"

typedef struct {
	const char *name;
	const char *text; /* header; the pack magic is appended when `pack` */
	bool pack;
	int want;           /* 0 or the error */
	int version;        /* on success */
	size_t nprereqs;    /* on success */
	size_t nrefs;       /* on success */
	const char *reason; /* on failure: a part of the message */
} row;

static const row rows[] = {
        {"v2, one ref", "# v2 git bundle\n" O1 " refs/heads/main\n\n", true, 0, 2, 0, 1, NULL},
        {"v2, prerequisite with a subject, two refs",
         "# v2 git bundle\n-" O2 " web v1\n" O1 " refs/heads/main\n" O1 " HEAD\n\n", true, 0, 2, 1,
         2, NULL},
        {"v2, prerequisite without a subject",
         "# v2 git bundle\n-" O2 "\n" O1 " refs/heads/main\n\n", true, 0, 2, 1, 1, NULL},
        {"v3, sha1", "# v3 git bundle\n@object-format=sha1\n-" O2 " x\n" O1 " refs/heads/main\n\n",
         true, 0, 3, 1, 1, NULL},
        {"v3 without capabilities", "# v3 git bundle\n" O1 " refs/heads/main\n\n", true, 0, 3, 0, 1,
         NULL},
        {"v3, sha256", "# v3 git bundle\n@object-format=sha256\n" O1 " refs/heads/main\n\n", true,
         EF_EINVALID, 0, 0, 0, ":2: only SHA-1"},
        {"v3, filter", "# v3 git bundle\n@filter=blob:none\n" O1 " refs/heads/main\n\n", true,
         EF_EINVALID, 0, 0, 0, "filtered"},
        {"v3, unknown capability", "# v3 git bundle\n@frobnicate\n" O1 " refs/heads/main\n\n", true,
         EF_EINVALID, 0, 0, 0, "unknown capability"},
        {"capability in v2", "# v2 git bundle\n@object-format=sha1\n" O1 " refs/heads/main\n\n",
         true, EF_EINVALID, 0, 0, 0, "only in a v3 bundle"},
        {"v4", "# v4 git bundle\n" O1 " refs/heads/main\n\n", true, EF_EINVALID, 0, 0, 0,
         "not a git bundle"},
        {"text", "hello\n", false, EF_EINVALID, 0, 0, 0, "not a git bundle"},
        {"empty", "", false, EF_EINVALID, 0, 0, 0, "not a git bundle"},
        {"no ref", "# v2 git bundle\n\n", true, EF_EINVALID, 0, 0, 0, "no ref"},
        {"no blank line", "# v2 git bundle\n" O1 " refs/heads/main\n", false, EF_EINVALID, 0, 0, 0,
         "ends before its blank line"},
        {"no pack", "# v2 git bundle\n" O1 " refs/heads/main\n\nJUNK", false, EF_EINVALID, 0, 0, 0,
         "no pack"},
        {"short id", "# v2 git bundle\n521f182a refs/heads/main\n\n", true, EF_EINVALID, 0, 0, 0,
         ":2: a ref line"},
        {"upper-case id",
         "# v2 git bundle\n521F182A5E547D2AA4105A12AE0089E6324E96C6 refs/heads/main\n\n", true,
         EF_EINVALID, 0, 0, 0, "a ref line"},
        {"no ref name", "# v2 git bundle\n" O1 "\n\n", true, EF_EINVALID, 0, 0, 0, "a ref line"},
        {"bad ref name", "# v2 git bundle\n" O1 " refs/heads/a..b\n\n", true, EF_EINVALID, 0, 0, 0,
         "not a valid ref name"},
        {"ref outside refs/", "# v2 git bundle\n" O1 " main\n\n", true, EF_EINVALID, 0, 0, 0,
         "not a valid ref name"},
        {"bad prerequisite", "# v2 git bundle\n-xyz\n" O1 " refs/heads/main\n\n", true, EF_EINVALID,
         0, 0, 0, "a prerequisite is"},
        {"prerequisite after refs", "# v2 git bundle\n" O1 " refs/heads/main\n-" O2 "\n\n", true,
         EF_EINVALID, 0, 0, 0, ":3: a prerequisite after the refs"},
        {"CR LF", "# v2 git bundle\r\n" O1 " refs/heads/main\r\n\r\n", true, EF_EINVALID, 0, 0, 0,
         "not a git bundle"},
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const row *r = &rows[i];
		size_t n = strlen(r->text);
		char *buf = malloc(n + sizeof(PACK));
		ef_bundle b;
		int rc;

		memcpy(buf, r->text, n);
		if (r->pack) {
			memcpy(buf + n, PACK, sizeof(PACK) - 1);
			n += sizeof(PACK) - 1;
		}
		rc = ef_bundle_parse(&b, buf, n, "t.bundle");
		if (rc != r->want)
			fail_msg("%s: want %d got %d (%s)", r->name, r->want, rc, ef_error_last());
		if (rc == 0) {
			assert_int_equal(b.version, r->version);
			assert_int_equal(b.nprereqs, r->nprereqs);
			assert_int_equal(b.nrefs, r->nrefs);
			assert_int_equal(b.pack_offset, strlen(r->text));
			assert_memory_equal(buf + b.pack_offset, "PACK", 4);
		} else {
			if (!strstr(ef_error_last(), r->reason))
				fail_msg("%s: [%s] not in [%s]", r->name, r->reason,
				         ef_error_last());
			assert_int_equal(b.nrefs, 0);
			assert_null(b.refs);
		}
		ef_bundle_dispose(&b);
		free(buf);
	}
}

static void test_find(void **state)
{
	static const char text[] = "# v2 git bundle\n-" O2 " x\n" O1 " refs/heads/main\n" O2
	                           " refs/heads/main2\n\n" PACK;
	ef_bundle b;

	(void)state;
	assert_int_equal(ef_bundle_parse(&b, text, sizeof(text) - 1, "t"), 0);
	assert_non_null(ef_bundle_find(&b, "refs/heads/main"));
	assert_string_equal(ef_bundle_find(&b, "refs/heads/main")->oid, O1);
	assert_string_equal(ef_bundle_find(&b, "refs/heads/main2")->oid, O2);
	assert_null(ef_bundle_find(&b, "refs/heads/mai"));
	assert_string_equal(b.prereqs[0].oid, O2);
	assert_null(b.prereqs[0].name);
	ef_bundle_dispose(&b);
}

/* Caps: a line longer than EF_BUNDLE_MAX_LINE, and a header past
 * EF_BUNDLE_MAX_HEADER, are refused without reading further. */
static void test_caps(void **state)
{
	ef_buf big = EF_BUF_INIT(8u << 20);
	ef_bundle b;

	(void)state;
	assert_int_equal(ef_buf_puts(&big, "# v2 git bundle\n" O1 " refs/heads/"), 0);
	for (unsigned i = 0; i < EF_BUNDLE_MAX_LINE; i++)
		ef_buf_puts(&big, "a");
	ef_buf_puts(&big, "\n\n" PACK);
	assert_int_equal(ef_bundle_parse(&b, big.ptr, big.len, "t"), EF_EINVALID);
	assert_non_null(strstr(ef_error_last(), "longer than"));
	ef_buf_dispose(&big);

	ef_buf_init(&big, 8u << 20);
	ef_buf_puts(&big, "# v2 git bundle\n");
	while (big.len < EF_BUNDLE_MAX_HEADER + 100)
		ef_buf_puts(&big, "-" O2 " subject\n");
	ef_buf_puts(&big, O1 " refs/heads/main\n\n" PACK);
	assert_int_equal(ef_bundle_parse(&b, big.ptr, big.len, "t"), EF_ETOOBIG);
	assert_int_equal(b.nprereqs, 0);
	ef_buf_dispose(&big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_table),
	        cmocka_unit_test(test_find),
	        cmocka_unit_test(test_caps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
