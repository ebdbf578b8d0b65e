/* Text from outside is inert in logs: the sink escapes every line's fields. */
#include "edgeflip/log.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static const struct {
	const char *in, *want;
} cases[] = {
        {"plain text", "plain text"},
        {"", ""},
        {"two\nlines", "two\\x0alines"},
        {"cr\rlf\r\n", "cr\\x0dlf\\x0d\\x0a"},
        {"\x1b[2J\x1b]0;pwned\x07", "\\x1b[2J\\x1b]0;pwned\\x07"},
        {"tab\there", "tab\\x09here"},
        {"del\x7f", "del\\x7f"},
        {"back\\slash", "back\\\\slash"},
        {"caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x9a\x80", "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x9a\x80"},
        /* C1 controls in UTF-8 (U+009B is an 8-bit CSI) and raw. */
        {"\xc2\x9b"
         "31m",
         "\\xc2\\x9b"
         "31m"},
        {"raw\x9b", "raw\\x9b"},
        /* not UTF-8: a lone continuation, an overlong '/', a surrogate */
        {"\x80x", "\\x80x"},
        {"\xc0\xaf", "\\xc0\\xaf"},
        {"\xed\xa0\x80", "\\xed\\xa0\\x80"},
        {"cut\xe2\x9c", "cut\\xe2\\x9c"},
};

static void test_escape_table(void **unused)
{
	char out[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ef_log_escape(out, sizeof(out), cases[i].in);
		assert_string_equal(out, cases[i].want);
	}
}

/* Truncation keeps whole characters and whole escapes. */
static void test_escape_truncates(void **unused)
{
	char out[8];

	assert_int_equal(ef_log_escape(out, sizeof(out), "abcdefghij"), 7);
	assert_string_equal(out, "abcdefg");
	ef_log_escape(out, sizeof(out), "abcde\n");
	assert_string_equal(out, "abcde");
	ef_log_escape(out, sizeof(out), "abcd\xe2\x9c\x93");
	assert_string_equal(out, "abcd\xe2\x9c\x93");
	ef_log_escape(out, sizeof(out), "abcde\xe2\x9c\x93");
	assert_string_equal(out, "abcde");
	ef_log_escape(out, 1, "x");
	assert_string_equal(out, "");
}

/* Through the sink: one physical line per event, no ESC byte, whatever a
 * commit message or an engine error holds. */
static void test_sink_one_line(void **unused)
{
	char path[] = "/tmp/ef-test-log.XXXXXX", text[4096];
	int fd = mkstemp(path), saved = dup(2);
	FILE *f;
	size_t n;
	int lines = 0;

	assert_true(fd >= 0 && saved >= 0);
	dup2(fd, 2);
	ef_log_write(EF_LOG_INFO, "new-commit", "commit=abc author=\"%s\" message=\"%s\"",
	             "Eve\x1b[8m", "fix\n2026-12-04T00:00:00Z info deployed commit=evil\r");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	f = fdopen(fd, "r");
	assert_non_null(f);
	rewind(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	unlink(path);
	for (size_t i = 0; i < n; i++)
		lines += text[i] == '\n';
	assert_int_equal(lines, 1);
	assert_null(strchr(text, '\x1b'));
	assert_null(strchr(text, '\r'));
	assert_non_null(strstr(text, "author=\"Eve\\x1b[8m\""));
	assert_non_null(strstr(text, "message=\"fix\\x0a2026-12-04T00:00:00Z info deployed"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_escape_table),
	        cmocka_unit_test(test_escape_truncates),
	        cmocka_unit_test(test_sink_one_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
