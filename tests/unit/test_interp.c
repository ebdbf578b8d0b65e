/* Interpolation as compose-go's template package (cases from compose-spec/
 * compose-go template/template_test.go), the document walk, and .env files as
 * compose-go's dotenv parser reads them. */
#include "edgeflip/buf.h"
#include "edgeflip/compose_read.h"
#include "edgeflip/error.h"

#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* template_test.go's defaults: FOO=first, BAR="", JSON={"json":2}. */
static void defaults(ef_env *e)
{
	ef_env_init(e);
	assert_int_equal(ef_env_set(e, "FOO", "first"), 0);
	assert_int_equal(ef_env_set(e, "BAR", ""), 0);
	assert_int_equal(ef_env_set(e, "JSON", "{\"json\":2}"), 0);
}

typedef struct {
	const char *in;
	const char *out;
	int nunset; /* variables used without a default while unset */
} ok_case;

static const ok_case ok_cases[] = {
        /* TestEscaped, TestSubstituteNoMatch, TestUnescaped */
        {"$${foo}", "${foo}", 0},
        {"foo", "foo", 0},
        {"a $ string", "a $ string", 0},
        {"^REGEX$", "^REGEX$", 0},
        {"$}", "$}", 0},
        {"$", "$", 0},
        /* TestNonBraced */
        {"$FOO-bar", "first-bar", 0},
        /* TestNoValueNoDefault: "" (compose warns; edgeflip reports it) */
        {"This ${missing} var", "This  var", 1},
        {"This ${BAR} var", "This  var", 0},
        /* TestValueNoDefault */
        {"This $FOO var", "This first var", 0},
        {"This ${FOO} var", "This first var", 0},
        /* TestNoValueWithDefault */
        {"ok ${missing:-def}", "ok def", 0},
        {"ok ${missing-def}", "ok def", 0},
        /* TestLazyDefaultDoesNotWarn / WarnsWhenUsed */
        {"${A:+${A},}B", "B", 0},
        {"${A:-${B}}", "", 1},
        /* TestEmptyValueWithSoftDefault ... TestNonAlphanumericDefault */
        {"ok ${BAR:-def}", "ok def", 0},
        {"ok ${FOO:-def}", "ok first", 0},
        {"ok ${BAR-def}", "ok ", 0},
        {"ok ${UNSET_VAR:+presence_value}", "ok ", 0},
        {"ok ${UNSET_VAR+presence_value}", "ok ", 0},
        {"ok ${FOO:+presence_value}", "ok presence_value", 0},
        {"ok ${FOO+presence_value}", "ok presence_value", 0},
        {"ok ${BAR+presence_value}", "ok presence_value", 0},
        {"ok ${BAR:+presence_value}", "ok ", 0},
        {"ok ${BAR:-/non:-alphanumeric}", "ok /non:-alphanumeric", 0},
        /* TestInterpolationExternalInterference */
        {"-ok ${BAR:-defaultValue}", "-ok defaultValue", 0},
        {"+ok ${UNSET:-${BAR-defaultValue}}", "+ok ", 0},
        {"-ok ${FOO:-defaultValue}", "-ok first", 0},
        {":-ok ${UNSET-defaultValue}", ":-ok defaultValue", 0},
        {":-ok ${BAR-defaultValue}", ":-ok ", 0},
        {":?ok ${BAR-defaultValue}", ":?ok ", 0},
        {":?ok ${BAR:-defaultValue}", ":?ok defaultValue", 0},
        {":+ok ${BAR:-defaultValue}", ":+ok defaultValue", 0},
        {"+ok ${BAR-defaultValue}", "+ok ", 0},
        {"?ok ${BAR:-defaultValue}", "?ok defaultValue", 0},
        /* TestDefaultsWithNestedExpansion */
        {"ok ${UNSET_VAR-$FOO}", "ok first", 0},
        {"ok ${UNSET_VAR-${FOO}}", "ok first", 0},
        {"ok ${UNSET_VAR-${FOO} ${FOO}}", "ok first first", 0},
        {"ok ${BAR:-$FOO}", "ok first", 0},
        {"ok ${BAR:-${FOO}}", "ok first", 0},
        {"ok ${BAR:-${FOO} ${FOO}}", "ok first first", 0},
        {"ok ${BAR+$FOO}", "ok first", 0},
        {"ok ${BAR+$FOO ${FOO:+second}}", "ok first second", 0},
        /* TestDefaultsForMandatoryVariables */
        {"ok ${FOO:?err}", "ok first", 0},
        {"ok ${FOO?err}", "ok first", 0},
        {"ok ${BAR?err}", "ok ", 0},
        /* TestPrecedence */
        {"${UNSET_VAR-myerror?msg}", "myerror?msg", 0},
        {"${FOO?bar-baz}", "first", 0},
        {"${BAR:-default_value_for_empty_var}", "default_value_for_empty_var", 0},
        {"${UNSET_VAR-default_value_for_unset_var}", "default_value_for_unset_var", 0},
        /* TestSubstituteWithReplacementFunc (the default part) */
        {"ok ${SUBDOMAIN:-redis}.${FOO:?}", "ok redis.first", 0},
        /* TestNoValueWithCurlyBracesDefault, TestValueWithCurlyBracesDefault */
        {"ok ${missing:-{\"json\":1}}", "ok {\"json\":1}", 0},
        {"ok ${missing-{\"json\":1}}", "ok {\"json\":1}", 0},
        {"ok ${JSON:-{\"json\":1}}", "ok {\"json\":2}", 0},
        {"ok ${JSON-{\"json\":1}}", "ok {\"json\":2}", 0},
        /* The issue's nested default, several on a line, text after them */
        {"${A:-${B:-c}}", "c", 0},
        {"${A:-x}/${FOO}/${B:-y}!", "x/first/y!", 0},
        {"$FOO$FOO", "firstfirst", 0},
        {"${FOO}}", "first}", 0},
        {"a$$b$$$FOO", "a$b$first", 0},
        {"$1", "$1", 0},
        {"${missing}-$other", "-", 2},
};

static void test_template_ok(void **state)
{
	ef_env e;

	(void)state;
	defaults(&e);
	for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		ef_buf err = EF_BUF_INIT(1024);
		char *out = NULL, **unset = NULL;
		int rc = ef_compose_interp_string(&out, ok_cases[i].in, &e, &err, &unset);
		if (rc != 0)
			fail_msg("%s: error %d %s", ok_cases[i].in, rc, err.ptr ? err.ptr : "");
		if (strcmp(out, ok_cases[i].out) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", ok_cases[i].in, out,
			         ok_cases[i].out);
		if ((int)ef_strv_len(unset) != ok_cases[i].nunset)
			fail_msg("%s: %zu unset, want %d", ok_cases[i].in, ef_strv_len(unset),
			         ok_cases[i].nunset);
		free(out);
		ef_strv_free(unset);
		ef_buf_dispose(&err);
	}
	ef_env_dispose(&e);
}

typedef struct {
	const char *in;
	const char *message; /* contained in the error */
} err_case;

static const err_case err_cases[] = {
        /* TestInvalid */
        {"${", "invalid interpolation"},
        {"${}", "invalid interpolation"},
        {"${ }", "invalid interpolation"},
        {"${ foo}", "invalid interpolation"},
        {"${foo }", "invalid interpolation"},
        {"${foo!}", "invalid interpolation"},
        /* TestMandatoryVariableErrors */
        {"not ok ${UNSET_VAR:?Mandatory Variable Unset}",
         "required variable UNSET_VAR is missing a value: Mandatory Variable Unset"},
        {"not ok ${BAR:?Mandatory Variable Empty}",
         "required variable BAR is missing a value: Mandatory Variable Empty"},
        {"not ok ${UNSET_VAR:?}", "required variable UNSET_VAR is missing a value"},
        {"not ok ${UNSET_VAR?Mandatory Variable Unset}",
         "required variable UNSET_VAR is missing a value: Mandatory Variable Unset"},
        {"not ok ${UNSET_VAR?}", "required variable UNSET_VAR is missing a value"},
        /* TestMandatoryVariableErrorsWithNestedExpansion */
        {"not ok ${UNSET_VAR:?Mandatory Variable ${FOO}}",
         "required variable UNSET_VAR is missing a value: Mandatory Variable first"},
        {"not ok ${UNSET_VAR?Mandatory Variable ${FOO}}",
         "required variable UNSET_VAR is missing a value: Mandatory Variable first"},
        /* TestPrecedence */
        {"${UNSET_VAR?bar-baz}", "required variable UNSET_VAR is missing a value: bar-baz"},
        /* An operator without a closing brace on the line */
        {"${A:-x\n}", "invalid interpolation"},
};

static void test_template_errors(void **state)
{
	ef_env e;

	(void)state;
	defaults(&e);
	for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		ef_buf err = EF_BUF_INIT(1024);
		char *out = NULL;
		int rc = ef_compose_interp_string(&out, err_cases[i].in, &e, &err, NULL);
		if (rc != EF_EINVALID)
			fail_msg("%s: rc %d, out %s", err_cases[i].in, rc, out ? out : "(null)");
		if (!err.ptr || !strstr(err.ptr, err_cases[i].message))
			fail_msg("%s: message \"%s\", want \"%s\"", err_cases[i].in,
			         err.ptr ? err.ptr : "", err_cases[i].message);
		assert_null(out);
		ef_buf_dispose(&err);
	}
	ef_env_dispose(&e);
}

/* Values only, never keys; every problem a finding with file:line and the key
 * path; an unset variable without a default is an error here. */
static void test_document(void **state)
{
	const char *y = "services:\n"
	                "  web:\n"
	                "    image: \"registry/${NAME}:${TAG:-1.0}\"\n"
	                "    environment:\n"
	                "      ${KEY}: $FOO\n"
	                "      OTHER: \"$$literal\"\n"
	                "    command: [\"a\", \"${MISSING}\"]\n"
	                "    labels: {x: \"${BAD:?set BAD}\"}\n";
	ef_compose_pos *pos;
	ef_findings f;
	cJSON *doc;
	ef_env e;
	char *s;

	(void)state;
	defaults(&e);
	assert_int_equal(ef_env_set(&e, "NAME", "app"), 0);
	ef_findings_init(&f);
	assert_int_equal(ef_compose_pos_new(&pos), 0);
	assert_int_equal(ef_compose_yaml_read(&doc, y, strlen(y), "env/compose.yaml", pos, &f), 0);
	assert_int_equal(ef_compose_interpolate(doc, &e, pos, "env/compose.yaml", &f), EF_EINVALID);
	assert_int_equal(f.n, 2);
	assert_string_equal(f.v[0].file, "env/compose.yaml");
	assert_int_equal(f.v[0].line, 7);
	assert_string_equal(f.v[0].path, "$.services.web.command[1]");
	assert_non_null(strstr(f.v[0].message, "variable MISSING is not set"));
	assert_int_equal(f.v[1].line, 8);
	assert_string_equal(f.v[1].path, "$.services.web.labels.x");
	assert_non_null(
	        strstr(f.v[1].message, "required variable BAD is missing a value: set BAD"));
	s = cJSON_PrintUnformatted(
	        cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "services"), "web"));
	assert_string_equal(s,
	                    "{\"image\":\"registry/app:1.0\",\"environment\":{\"${KEY}\":\"first\","
	                    "\"OTHER\":\"$literal\"},\"command\":[\"a\",\"\"],"
	                    "\"labels\":{\"x\":\"${BAD:?set BAD}\"}}");
	free(s);
	cJSON_Delete(doc);
	ef_compose_pos_free(pos);
	ef_findings_dispose(&f);
	ef_env_dispose(&e);
}

/* Typed keys given as strings become the key's type after interpolation, as
 * Compose converts them; other strings, keys of other objects and x- fields
 * stay strings; a string that is not of the type is a finding at its line. */
static void test_typed_keys(void **state)
{
	const char *y =
	        "services:\n"
	        "  web:\n"
	        "    read_only: ${RO:-false}\n"
	        "    privileged: \"FALSE\"\n"
	        "    tty: yes\n"
	        "    pids_limit: \"100\"\n"
	        "    cpus: \"0.5\"\n"
	        "    ulimits: {nofile: {soft: \"1024\", hard: \"${HARD:-2048}\"}, nproc: \"-1\"}\n"
	        "    volumes: [{type: volume, source: d, target: /d, read_only: \"on\"}]\n"
	        "    depends_on: {db: {condition: service_started, required: \"n\"}}\n"
	        "    labels: {read_only: \"true\"}\n"
	        "    x-tty: \"true\"\n"
	        "    hostname: \"1\"\n"
	        "  bad:\n"
	        "    init: maybe\n"
	        "    scale: \"1.5\"\n"
	        "    cpus: \" 1\"\n"
	        "networks: {n: {internal: \"true\"}}\n";
	ef_compose_pos *pos;
	ef_findings f;
	cJSON *doc;
	ef_env e;
	char *s;

	(void)state;
	defaults(&e);
	ef_findings_init(&f);
	assert_int_equal(ef_compose_pos_new(&pos), 0);
	assert_int_equal(ef_compose_yaml_read(&doc, y, strlen(y), "env/compose.yaml", pos, &f), 0);
	assert_int_equal(ef_compose_interpolate(doc, &e, pos, "env/compose.yaml", &f), EF_EINVALID);
	assert_int_equal(f.n, 3);
	assert_int_equal(f.v[0].line, 15);
	assert_string_equal(f.v[0].path, "$.services.bad.init");
	assert_non_null(strstr(f.v[0].message, "'maybe' is not a boolean"));
	assert_int_equal(f.v[1].line, 16);
	assert_non_null(strstr(f.v[1].message, "'1.5' is not a whole number"));
	assert_int_equal(f.v[2].line, 17);
	assert_non_null(strstr(f.v[2].message, "' 1' is not a number"));
	s = cJSON_PrintUnformatted(
	        cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "services"), "web"));
	assert_string_equal(
	        s,
	        "{\"read_only\":false,\"privileged\":false,\"tty\":true,\"pids_limit\":100,"
	        "\"cpus\":0.5,\"ulimits\":{\"nofile\":{\"soft\":1024,\"hard\":2048},\"nproc\":-1},"
	        "\"volumes\":[{\"type\":\"volume\",\"source\":\"d\",\"target\":\"/d\","
	        "\"read_only\":true}],\"depends_on\":{\"db\":{\"condition\":"
	        "\"service_started\",\"required\":false}},\"labels\":{\"read_only\":\"true\"},"
	        "\"x-tty\":\"true\",\"hostname\":\"1\"}");
	free(s);
	s = cJSON_PrintUnformatted(cJSON_GetObjectItem(doc, "networks"));
	assert_string_equal(s, "{\"n\":{\"internal\":true}}");
	free(s);
	cJSON_Delete(doc);
	ef_compose_pos_free(pos);
	ef_findings_dispose(&f);
	ef_env_dispose(&e);
}

/* ---------------------------------------------------------------------------
 * .env */

static void test_dotenv(void **state)
{
	const char *text = "\xef\xbb\xbf# a comment\n"
	                   "\n"
	                   "PLAIN=value\n"
	                   "export EXPORTED=yes\n"
	                   "SPACED = spaced value  \n"
	                   "INLINE=abc # a comment\n"
	                   "HASH=abc#def\n"
	                   "SINGLE='single $PLAIN \\n'\n"
	                   "DOUBLE=\"double $PLAIN\\n\\t\\\"q\\\" \\$PLAIN\"\n"
	                   "BRACED=${PLAIN}-${NOPE:-dflt}\n"
	                   "MULTI=\"line1\n"
	                   "line2\"\n"
	                   "EMPTY=\n"
	                   "COLON: colon\n"
	                   "CRLF=crlf\r\n"
	                   "OCT=\"\\0101\"\n"
	                   "dotted.name-x=1\n"
	                   "INHERIT\n"
	                   "LAST=end";
	static const char *const want[][2] = {
	        {"PLAIN", "value"},
	        {"EXPORTED", "yes"},
	        {"SPACED", "spaced value"},
	        {"INLINE", "abc"},
	        {"HASH", "abc#def"},
	        {"SINGLE", "single $PLAIN \\n"},
	        {"DOUBLE", "double value\n\t\"q\" $PLAIN"},
	        {"BRACED", "value-dflt"},
	        {"MULTI", "line1\nline2"},
	        {"EMPTY", ""},
	        {"COLON", "colon"},
	        {"CRLF", "crlf"},
	        {"OCT", "A"},
	        {"dotted.name-x", "1"},
	        {"INHERIT", "from lookup"},
	        {"LAST", "end"},
	};
	ef_env e, lookup;

	(void)state;
	ef_env_init(&e);
	ef_env_init(&lookup);
	assert_int_equal(ef_env_set(&lookup, "INHERIT", "from lookup"), 0);
	if (ef_dotenv_parse(&e, text, strlen(text), "env/.env", &lookup, NULL) != 0)
		fail_msg("%s", ef_error_last());
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *v = ef_env_get(&e, want[i][0]);
		if (!v || strcmp(v, want[i][1]) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", want[i][0], v ? v : "(unset)",
			         want[i][1]);
	}
	assert_int_equal(e.n, sizeof(want) / sizeof(want[0]));
	ef_env_dispose(&e);
	ef_env_dispose(&lookup);
}

static void test_dotenv_errors(void **state)
{
	static const struct {
		const char *text;
		unsigned line;
		const char *message;
	} cases[] = {
	        {"A=1\nB=\"open\nC=2\n", 2, "unterminated quoted value of B"},
	        {"A=1\nMY KEY=2\n", 2, "cannot contain a space"},
	        {"A=1\n\nB$=2\n", 3, "unexpected character '$'"},
	        {"A=${B:?needs B}\n", 1, "required variable B is missing a value: needs B"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ef_findings f;
		ef_env e;
		ef_env_init(&e);
		ef_findings_init(&f);
		assert_int_equal(ef_dotenv_parse(&e, cases[i].text, strlen(cases[i].text),
		                                 "env/.env", NULL, &f),
		                 EF_EINVALID);
		assert_int_equal(f.n, 1);
		if (f.v[0].line != cases[i].line || !strstr(f.v[0].message, cases[i].message))
			fail_msg("case %zu: %u %s", i, f.v[0].line, f.v[0].message);
		assert_string_equal(f.v[0].file, "env/.env");
		ef_findings_dispose(&f);
		ef_env_dispose(&e);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_template_ok), cmocka_unit_test(test_template_errors),
	        cmocka_unit_test(test_document),    cmocka_unit_test(test_typed_keys),
	        cmocka_unit_test(test_dotenv),      cmocka_unit_test(test_dotenv_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
