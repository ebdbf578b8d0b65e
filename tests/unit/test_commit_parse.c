/* The raw commit parser: signature header extraction, payload, tree, parents,
 * committer time, and the malformed objects it must refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../core/trust/commit.h"

#include "edgeflip/buf.h"
#include "edgeflip/error.h"

#include <stdbool.h>

#include <string.h>

#define TREE   "tree 4cf9f177c4c015836fca6a31f9c3917e89ae29ec\n"
#define PARENT "parent fb0b1631b5f082204c9eb5add015bf93a354d196\n"
#define AUTHOR "author A U Thor <a@example.com> 1748779200 +0000\n"
#define COMMIT "committer C O Mitter <c@example.com> 1748779200 +0130\n"
#define SIG                                                                                        \
	"gpgsig -----BEGIN SSH SIGNATURE-----\n"                                                   \
	" AAAA\n"                                                                                  \
	" \n"                                                                                      \
	" -----END SSH SIGNATURE-----\n"
#define SIG_TEXT "-----BEGIN SSH SIGNATURE-----\nAAAA\n\n-----END SSH SIGNATURE-----\n"

typedef struct {
	const char *name;
	const char *raw;
	size_t len; /* 0: strlen(raw) */
	int rc;
	const char *error;     /* exact ef_error_last() when rc != 0 */
	const char *signature; /* NULL: unsigned */
	const char *payload;
	size_t parents;
} parse_case;

static const parse_case cases[] = {
        {"unsigned", TREE PARENT AUTHOR COMMIT "\nmsg\n", 0, 0, NULL, NULL, NULL, 1},
        {"signed", TREE PARENT AUTHOR COMMIT SIG "\nmsg\n", 0, 0, NULL, SIG_TEXT,
         TREE PARENT AUTHOR COMMIT "\nmsg\n", 1},
        {"gpgsig-sha256 in a SHA-1 commit", TREE AUTHOR COMMIT "gpgsig-sha256 X\n Y\n\nmsg\n", 0,
         EF_EINVALID, "signature header 'gpgsig-sha256' does not fit a SHA-1 commit (offset 149)",
         NULL, NULL, 0},
        {"signature between headers, mergetag kept",
         TREE PARENT PARENT AUTHOR COMMIT SIG "mergetag object 1\n tag v1\n\nmsg\n", 0, 0, NULL,
         SIG_TEXT, TREE PARENT PARENT AUTHOR COMMIT "mergetag object 1\n tag v1\n\nmsg\n", 2},
        {"gpgsig in the message is message", TREE AUTHOR COMMIT "\nmsg\n" SIG, 0, 0, NULL, NULL,
         NULL, 0},
        {"empty message", TREE AUTHOR COMMIT SIG "\n", 0, 0, NULL, SIG_TEXT,
         TREE AUTHOR COMMIT "\n", 0},
        {"NUL in the message", TREE AUTHOR COMMIT SIG "\nmsg\0evil\n",
         sizeof(TREE AUTHOR COMMIT SIG "\nmsg\0evil\n") - 1, EF_EINVALID,
         "NUL byte in commit object at offset 227", NULL, NULL, 0},
        {"NUL in a header", TREE AUTHOR "committer C <c@example.com> 1\0 +0000\n\n",
         sizeof(TREE AUTHOR "committer C <c@example.com> 1\0 +0000\n\n") - 1, EF_EINVALID,
         "NUL byte in commit object at offset 124", NULL, NULL, 0},
        {"duplicate gpgsig", TREE AUTHOR COMMIT SIG SIG "\nmsg\n", 0, EF_EINVALID,
         "duplicate signature header: 'gpgsig' at offset 223 after 'gpgsig' at offset 149", NULL,
         NULL, 0},
        {"gpgsig and gpgsig-sha256", TREE AUTHOR COMMIT SIG "gpgsig-sha256 junk\n\nmsg\n", 0,
         EF_EINVALID,
         "duplicate signature header: 'gpgsig-sha256' at offset 223 after 'gpgsig' at offset 149",
         NULL, NULL, 0},
        {"unknown gpgsig header", TREE AUTHOR COMMIT "gpgsigx y\n\nmsg\n", 0, EF_EINVALID,
         "unknown signature header 'gpgsigx' (offset 149)", NULL, NULL, 0},
        {"no blank line", TREE AUTHOR COMMIT, 0, EF_EINVALID,
         "commit headers do not end with a blank line (offset 149)", NULL, NULL, 0},
        {"last header without newline", TREE AUTHOR "committer C <c@x> 1 +0000", 0, EF_EINVALID,
         "commit headers do not end with a blank line (offset 95)", NULL, NULL, 0},
        {"signature runs to the end", TREE AUTHOR COMMIT "gpgsig X\n Y", 0, EF_EINVALID,
         "commit headers do not end with a blank line (offset 158)", NULL, NULL, 0},
        {"no tree", AUTHOR COMMIT "\nmsg\n", 0, EF_EINVALID,
         "commit object does not start with a tree header (offset 0)", NULL, NULL, 0},
        {"short tree id", "tree 4cf9\n" AUTHOR COMMIT "\n", 0, EF_EINVALID,
         "malformed tree header (offset 0)", NULL, NULL, 0},
        {"upper-case tree id", "tree 4CF9F177C4C015836FCA6A31F9C3917E89AE29EC\n" AUTHOR COMMIT "\n",
         0, EF_EINVALID, "malformed tree header (offset 0)", NULL, NULL, 0},
        {"two trees", TREE TREE AUTHOR COMMIT "\n", 0, EF_EINVALID,
         "more than one tree header (offset 46)", NULL, NULL, 0},
        {"parent after author", TREE AUTHOR PARENT COMMIT "\n", 0, EF_EINVALID,
         "parent header after other headers (offset 95)", NULL, NULL, 0},
        {"malformed parent", TREE "parent xyz\n" AUTHOR COMMIT "\n", 0, EF_EINVALID,
         "malformed parent header (offset 46)", NULL, NULL, 0},
        {"continuation first", " x\n" TREE AUTHOR COMMIT "\n", 0, EF_EINVALID,
         "continuation line without a header (offset 0)", NULL, NULL, 0},
        {"no author", TREE COMMIT "\n", 0, EF_EINVALID, "commit has no author header (offset 0)",
         NULL, NULL, 0},
        {"two authors", TREE AUTHOR AUTHOR COMMIT "\n", 0, EF_EINVALID,
         "more than one author header (offset 95)", NULL, NULL, 0},
        {"no committer", TREE AUTHOR "\n", 0, EF_EINVALID,
         "commit has no committer header (offset 0)", NULL, NULL, 0},
        {"two committers", TREE AUTHOR COMMIT COMMIT "\n", 0, EF_EINVALID,
         "more than one committer header (offset 149)", NULL, NULL, 0},
        {"committer without time", TREE AUTHOR "committer C <c@example.com>\n\n", 0, EF_EINVALID,
         "malformed committer header (offset 95)", NULL, NULL, 0},
        {"committer with a bad zone", TREE AUTHOR "committer C <c@example.com> 17 +01\n\n", 0,
         EF_EINVALID, "malformed committer header (offset 95)", NULL, NULL, 0},
        {"committer continued", TREE AUTHOR COMMIT " more\n\n", 0, EF_EINVALID,
         "malformed committer header (offset 95)", NULL, NULL, 0},
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const parse_case *c = &cases[i];
		size_t len = c->len ? c->len : strlen(c->raw);
		ef_commit_info info;
		int rc;

		ef_error_clear();
		rc = ef_commit_parse(&info, c->raw, len);
		print_message("case: %s -> %d %s\n", c->name, rc, ef_error_last());
		assert_int_equal(rc, c->rc);
		if (c->rc != 0) {
			assert_string_equal(ef_error_last(), c->error);
			ef_commit_info_dispose(&info);
			continue;
		}
		assert_string_equal(info.tree, "4cf9f177c4c015836fca6a31f9c3917e89ae29ec");
		assert_int_equal(ef_strv_len(info.parents), c->parents);
		assert_int_equal(info.committer_time, 1748779200);
		assert_int_equal(info.committer_tz_minutes, 90);
		if (!c->signature) {
			assert_null(info.signature);
			assert_null(info.payload);
		} else {
			assert_non_null(info.signature);
			assert_int_equal(info.signature_len, strlen(c->signature));
			assert_memory_equal(info.signature, c->signature, info.signature_len);
			assert_int_equal(info.payload_len, strlen(c->payload));
			assert_memory_equal(info.payload, c->payload, info.payload_len);
		}
		ef_commit_info_dispose(&info);
	}
}

/* A SHA-256 repository's commit signs with gpgsig-sha256; gpgsig does not fit. */
static void test_sha256_object(void **state)
{
	const char head[] =
	        "tree 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
	        "author A <a@x> 1 +0000\ncommitter C <c@x> 2 +0000\n";
	const char good[] =
	        "tree 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
	        "author A <a@x> 1 +0000\ncommitter C <c@x> 2 +0000\n"
	        "gpgsig-sha256 X\n Y\n\nmsg\n";
	const char bad[] = "tree 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
	                   "author A <a@x> 1 +0000\ncommitter C <c@x> 2 +0000\n"
	                   "gpgsig X\n\nmsg\n";
	ef_commit_info info;

	(void)state;
	assert_int_equal(ef_commit_parse(&info, good, sizeof(good) - 1), 0);
	assert_string_equal(info.signature_header, "gpgsig-sha256");
	assert_string_equal(info.signature, "X\nY\n");
	assert_int_equal(info.payload_len, sizeof(head) - 1 + 5);
	assert_memory_equal(info.payload, head, sizeof(head) - 1);
	assert_int_equal(info.committer_time, 2);
	ef_commit_info_dispose(&info);
	assert_int_equal(ef_commit_parse(&info, bad, sizeof(bad) - 1), EF_EINVALID);
	assert_string_equal(ef_error_last(),
	                    "signature header 'gpgsig' does not fit a SHA-256 commit (offset 119)");
	ef_commit_info_dispose(&info);
}

static void test_parents_and_zone(void **state)
{
	const char raw[] = TREE PARENT "parent 0123456789abcdef0123456789abcdef01234567\n" AUTHOR
	                               "committer C <c@example.com> 1700000000 -0745\n\nm\n";
	ef_commit_info info;

	(void)state;
	assert_int_equal(ef_commit_parse(&info, raw, sizeof(raw) - 1), 0);
	assert_int_equal(ef_strv_len(info.parents), 2);
	assert_string_equal(info.parents[0], "fb0b1631b5f082204c9eb5add015bf93a354d196");
	assert_string_equal(info.parents[1], "0123456789abcdef0123456789abcdef01234567");
	assert_int_equal(info.committer_time, 1700000000);
	assert_int_equal(info.committer_tz_minutes, -(7 * 60 + 45));
	ef_commit_info_dispose(&info);
}

static bool contains(const void *hay, size_t n, const char *needle)
{
	size_t l = strlen(needle);

	for (size_t i = 0; i + l <= n; i++)
		if (memcmp((const char *)hay + i, needle, l) == 0)
			return true;
	return false;
}

/* A real `git cat-file commit` object: the payload is the object minus the
 * "gpgsig " prefix, the signature and one continuation space per extra line. */
static void test_real_fixture(void **state)
{
	ef_commit_info info;
	size_t lines = 0;
	ef_buf raw;

	(void)state;
	assert_int_equal(
	        ef_read_file(&raw, EF_TEST_DATA "/verify/ssh/cases/good-ed25519.commit", 1 << 20),
	        0);
	assert_int_equal(ef_commit_parse(&info, raw.ptr, raw.len), 0);
	assert_string_equal(info.signature_header, "gpgsig");
	assert_true(info.signature_len > 30);
	assert_memory_equal(info.signature, "-----BEGIN SSH SIGNATURE-----\n", 30);
	assert_int_equal(info.signature[info.signature_len - 1], '\n');
	assert_int_equal(info.committer_time, 1748779200);
	for (size_t i = 0; i < info.signature_len; i++)
		lines += info.signature[i] == '\n';
	assert_int_equal(raw.len,
	                 info.payload_len + strlen("gpgsig ") + info.signature_len + (lines - 1));
	assert_false(contains(info.payload, info.payload_len, "gpgsig"));
	assert_false(contains(info.payload, info.payload_len, "SSH SIGNATURE"));
	assert_true(contains(info.payload, info.payload_len, "\n\ndeploy web v1\n"));
	ef_commit_info_dispose(&info);
	ef_buf_dispose(&raw);
}

static void test_too_big(void **state)
{
	ef_commit_info info;

	(void)state;
	assert_int_equal(ef_commit_parse(&info, "", (size_t)EF_COMMIT_MAX_BYTES + 1), EF_ETOOBIG);
	ef_commit_info_dispose(&info);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_table),
	        cmocka_unit_test(test_sha256_object),
	        cmocka_unit_test(test_parents_and_zone),
	        cmocka_unit_test(test_real_fixture),
	        cmocka_unit_test(test_too_big),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
