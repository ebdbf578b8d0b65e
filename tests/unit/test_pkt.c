/* The protocol v2 ls-refs request and the strict parser of its reply
 * (core/source/pkt.c): framing, ids, names, the exact ref match, and the malformed
 * replies it must refuse with their exact messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../core/source/pkt.h"

#include "edgeflip/buf.h"
#include "edgeflip/error.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define OID1   "521f182a5e547d2aa4105a12ae0089e6324e96c6"
#define OID2   "0123456789abcdef0123456789abcdef01234567"
#define OID256 "521f182a5e547d2aa4105a12ae0089e6324e96c6521f182a5e547d2aa4105a12"
#define MAIN   "refs/heads/main"

typedef struct {
	const char *name;
	const char *reply;
	size_t len; /* 0: strlen(reply) */
	int rc;
	const char *error; /* exact ef_error_last() when rc != 0 */
	bool found;
	const char *oid;
} parse_case;

static const parse_case cases[] = {
        {"one line", "003d" OID1 " refs/heads/main\n0000", 0, 0, NULL, true, OID1},
        {"no LF (optional)", "003c" OID1 " refs/heads/main0000", 0, 0, NULL, true, OID1},
        {"prefix matches are skipped",
         "003e" OID2 " refs/heads/main2\n"
         "003d" OID1 " refs/heads/main\n"
         "0041" OID2 " refs/heads/main-old\n0000",
         0, 0, NULL, true, OID1},
        {"attributes after the name", "006d" OID1 " refs/heads/main peeled:" OID2 "\n0000", 0, 0,
         NULL, true, OID1},
        {"SHA-256 id", "0055" OID256 " refs/heads/main\n0000", 0, 0, NULL, true, OID256},
        {"upper-case length digits", "003D" OID1 " refs/heads/main\n0000", 0, 0, NULL, true, OID1},
        {"empty list", "0000", 0, 0, NULL, false, ""},
        {"only other refs", "003e" OID2 " refs/heads/main2\n0000", 0, 0, NULL, false, ""},
        {"empty reply", "", 0, EF_EINVALID,
         "ls-refs reply: empty (the server does not speak protocol v2)", false, ""},
        {"no flush", "003d" OID1 " refs/heads/main\n", 0, EF_EINVALID,
         "ls-refs reply: no flush packet at the end", false, ""},
        {"short tail", "003d" OID1 " refs/heads/main\n00", 0, EF_EINVALID,
         "ls-refs reply: no flush packet at the end", false, ""},
        {"data after flush", "003d" OID1 " refs/heads/main\n00000000", 0, EF_EINVALID,
         "ls-refs reply: data after the flush packet at offset 65", false, ""},
        {"bad length digit", "00g4xxxx0000", 0, EF_EINVALID,
         "ls-refs reply: bad pkt-line length at offset 0", false, ""},
        {"delimiter", "00010000", 0, EF_EINVALID,
         "ls-refs reply: unexpected special packet 0001 at offset 0", false, ""},
        {"response end", "00020000", 0, EF_EINVALID,
         "ls-refs reply: unexpected special packet 0002 at offset 0", false, ""},
        {"empty pkt-line", "00040000", 0, EF_EINVALID, "ls-refs reply: empty pkt-line at offset 0",
         false, ""},
        {"line past the end", "00ff" OID1 " refs/heads/main\n0000", 0, EF_EINVALID,
         "ls-refs reply: pkt-line at offset 0 runs past the end", false, ""},
        {"line over 65520", "fff5", 0, EF_EINVALID,
         "ls-refs reply: pkt-line longer than 65520 bytes at offset 0", false, ""},
        {"short id", "003c" OID1 "refs/heads/main\n0000", 0, EF_EINVALID,
         "ls-refs reply: bad object id at offset 4", false, ""},
        {"upper-case id", "003d521F182a5e547d2aa4105a12ae0089e6324e96c6 refs/heads/main\n0000", 0,
         EF_EINVALID, "ls-refs reply: bad object id at offset 4", false, ""},
        {"41 hex digits", "003e" OID1 "0 refs/heads/main\n0000", 0, EF_EINVALID,
         "ls-refs reply: bad object id at offset 4", false, ""},
        {"id only", "002d" OID1 "\n0000", 0, EF_EINVALID,
         "ls-refs reply: bad object id at offset 4", false, ""},
        {"empty name", "002e" OID1 " \n0000", 0, EF_EINVALID,
         "ls-refs reply: empty ref name at offset 45", false, ""},
        {"version line (a capability advertisement)", "000eversion 2\n0000", 0, EF_EINVALID,
         "ls-refs reply: bad object id at offset 4", false, ""},
        {"ERR packet", "0019ERR upload-pack: no\x01\n0000", 0, EF_EINVALID,
         "ls-refs reply: control character at offset 23", false, ""},
        {"ERR packet, printable", "0016ERR access denied\n0000", 0, EF_EINVALID,
         "ls-refs reply: the server sent an error: access denied", false, ""},
        {"NUL in a name", "003d" OID1 " refs/heads/ma\0n\n0000",
         sizeof("003d" OID1 " refs/heads/ma\0n\n0000") - 1, EF_EINVALID,
         "ls-refs reply: control character at offset 58", false, ""},
        {"LF inside a line", "003d" OID1 " refs/heads/m\nin\n0000", 0, EF_EINVALID,
         "ls-refs reply: control character at offset 57", false, ""},
        {"listed twice", "003d" OID1 " refs/heads/main\n003d" OID2 " refs/heads/main\n0000", 0,
         EF_EINVALID, "ls-refs reply: refs/heads/main listed twice", false, ""},
        {"a bad line after the match", "003d" OID1 " refs/heads/main\n0006xx0000", 0, EF_EINVALID,
         "ls-refs reply: bad object id at offset 65", false, ""},
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const parse_case *c = &cases[i];
		size_t len = c->len ? c->len : strlen(c->reply);
		char oid[65] = "garbage";
		bool found = true;
		int rc;

		print_message("case: %s\n", c->name);
		rc = ef_pkt_ls_refs_parse(oid, &found, c->reply, len, MAIN, NULL, NULL);
		assert_int_equal(rc, c->rc);
		if (c->rc != 0)
			assert_string_equal(ef_error_last(), c->error);
		assert_int_equal(found, c->found);
		assert_string_equal(oid, c->oid);
	}
}

/* Preview refs listed in the same reply are collected by prefix. */
static void test_others(void **state)
{
	static const char reply[] = "003d" OID1 " refs/heads/main\n"
	                            "003e" OID1 " refs/pull/1/head\n"
	                            "003f" OID1 " refs/pull/2/merge\n"
	                            "0000";
	char oid[65], **others = NULL;
	ef_buf b = EF_BUF_INIT(4096);
	bool found = false;

	(void)state;
	assert_int_equal(ef_pkt_ls_refs_parse(oid, &found, reply, strlen(reply), MAIN, "refs/pull/",
	                                      &others),
	                 0);
	assert_true(found);
	assert_non_null(others);
	assert_string_equal(others[0], OID1 " refs/pull/1/head");
	assert_string_equal(others[1], OID1 " refs/pull/2/merge");
	assert_null(others[2]);
	ef_strv_free(others);
	assert_int_equal(ef_pkt_ls_refs_request(&b, MAIN, "refs/pull/"), 0);
	assert_non_null(strstr(b.ptr, "001aref-prefix refs/pull/\n0000"));
	ef_buf_dispose(&b);
}

static void test_request(void **state)
{
	ef_buf b = EF_BUF_INIT(4096);
	static const char want[] = "0014command=ls-refs\n"
	                           "0001"
	                           "001fref-prefix refs/heads/main\n"
	                           "0000";

	(void)state;
	assert_int_equal(ef_pkt_ls_refs_request(&b, MAIN, NULL), 0);
	assert_int_equal(b.len, sizeof(want) - 1);
	assert_memory_equal(b.ptr, want, b.len);
	ef_buf_dispose(&b);
}

/* The request the source sends is one its own parser would frame correctly:
 * each of its pkt-lines has the length it claims. */
static void test_request_lengths(void **state)
{
	ef_buf b = EF_BUF_INIT(4096);
	size_t off = 0, lines = 0;

	(void)state;
	assert_int_equal(ef_pkt_ls_refs_request(&b, "refs/heads/a/long/branch-name_1.2", NULL), 0);
	while (off + 4 <= b.len) {
		char hex[5];
		unsigned long n;

		memcpy(hex, b.ptr + off, 4);
		hex[4] = '\0';
		n = strtoul(hex, NULL, 16);
		if (n <= 1) {
			off += 4;
			continue;
		}
		assert_true(off + n <= b.len);
		assert_int_equal(b.ptr[off + n - 1], '\n');
		off += n;
		lines++;
	}
	assert_int_equal(off, b.len);
	assert_int_equal(lines, 2);
	ef_buf_dispose(&b);
}

static void test_too_big(void **state)
{
	size_t len = EF_PKT_LS_REFS_MAX + 1;
	char *big = malloc(len);
	char oid[65];
	bool found;

	(void)state;
	assert_non_null(big);
	memset(big, '0', len);
	assert_int_equal(ef_pkt_ls_refs_parse(oid, &found, big, len, MAIN, NULL, NULL),
	                 EF_EINVALID);
	assert_string_equal(ef_error_last(), "ls-refs reply: larger than 65536 bytes");
	free(big);
}

/* Many prefix matches up to the cap are fine; the exact one is found. */
static void test_many_lines(void **state)
{
	ef_buf b = EF_BUF_INIT(EF_PKT_LS_REFS_MAX);
	char oid[65];
	bool found = false;

	(void)state;
	for (int i = 0; i < 500; i++)
		assert_int_equal(ef_buf_printf(&b, "%04zx%s refs/heads/main-%03d\n",
		                               (size_t)(4 + 40 + 1 + 19 + 1), OID2, i),
		                 0);
	assert_int_equal(ef_buf_printf(&b, "003d%s refs/heads/main\n0000", OID1), 0);
	assert_int_equal(ef_pkt_ls_refs_parse(oid, &found, b.ptr, b.len, MAIN, NULL, NULL), 0);
	assert_true(found);
	assert_string_equal(oid, OID1);
	ef_buf_dispose(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_table),   cmocka_unit_test(test_request),
	        cmocka_unit_test(test_others),  cmocka_unit_test(test_request_lengths),
	        cmocka_unit_test(test_too_big), cmocka_unit_test(test_many_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
