#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/state.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define REV_A "3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39"
#define REV_B "2222222222222222222222222222222222222222"
#define REV_C "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char tmpdir[64];

static int make_tmpdir(void **unused)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ef-state-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **unused)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void read_data(ef_buf *out, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/state/%s", EF_TEST_DATA, name);
	assert_int_equal(ef_read_file(out, path, 1 << 20), 0);
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* A state with every field set, built through the API. */
static void fill_state(ef_state *st)
{
	ef_state_service s = {0};

	ef_state_init(st);
	snprintf(st->revision, sizeof(st->revision), "%s", REV_A);
	st->signer = strdup("ops@example.com");
	st->deployed_at = 1795770000;
	s.name = strdup("web");
	s.container_id = strdup("5d8e");
	s.spec_hash = strdup("sha256:0b1c");
	s.image = strdup("registry.example.com/web@sha256:aa");
	s.slot = strdup("blue");
	assert_int_equal(ef_strv_push(&s.public_ports, "tcp:8080"), 0);
	s.endpoint = strdup("127.0.0.1:31001");
	st->services = calloc(1, sizeof(*st->services));
	assert_int_equal(ef_state_service_copy(&st->services[0], &s), 0);
	st->nservices = 1;
	st->phase = EF_PHASE_SOAK;
	snprintf(st->target, sizeof(st->target), "%s", REV_C);
	st->target_signer = strdup("SHA256:Zm9v");
	st->staged = calloc(1, sizeof(*st->staged));
	free(s.slot);
	s.slot = strdup("green");
	assert_int_equal(ef_state_service_copy(&st->staged[0], &s), 0);
	st->nstaged = 1;
	ef_state_service_dispose(&s);
	snprintf(st->previous, sizeof(st->previous), "%s", REV_B);
	st->last_poll = 1795770600;
	st->last_result = strdup("deploying");
	st->last_error = strdup("registry unreachable \"quoted\"\n");
	snprintf(st->last_rollback.revision, sizeof(st->last_rollback.revision), "%s", REV_B);
	st->last_rollback.result = strdup("rolled-back");
	st->last_rollback.reason = strdup("health");
	st->last_rollback.at = 1795700000;
	assert_int_equal(ef_state_add_history(st, REV_B, "rolled-back", "health", 20), 0);
	assert_int_equal(ef_state_add_history(st, REV_A, "deployed", NULL, 20), 0);
	assert_int_equal(ef_state_quarantine(st, REV_B, "health"), 0);
	assert_int_equal(ef_strv_push(&st->refusals, "not signed"), 0);
}

static void test_round_trip_json(void **unused)
{
	ef_state a, b;
	char *json = NULL;

	fill_state(&a);
	assert_int_equal(ef_state_to_json(&json, &a), 0);
	assert_int_equal(ef_state_from_json(&b, json, strlen(json)), 0);
	assert_true(ef_state_equal(&a, &b));
	assert_string_equal(b.revision, REV_A);
	assert_string_equal(b.signer, "ops@example.com");
	assert_int_equal(b.nservices, 1);
	assert_string_equal(b.services[0].public_ports[0], "tcp:8080");
	assert_int_equal(b.phase, EF_PHASE_SOAK);
	assert_string_equal(b.staged[0].slot, "green");
	assert_string_equal(b.last_error, "registry unreachable \"quoted\"\n");
	assert_int_equal(b.nhistory, 2);
	assert_string_equal(b.history[0].revision, REV_A); /* newest first */
	assert_null(b.history[0].reason);                  /* null stays null */
	assert_string_equal(b.history[1].reason, "health");
	assert_int_equal(b.last_rollback.at, 1795700000);
	assert_true(ef_state_is_quarantined(&b, REV_B));
	/* A difference is seen. */
	b.deployed_at++;
	assert_false(ef_state_equal(&a, &b));
	free(json);
	ef_state_dispose(&a);
	ef_state_dispose(&b);
}

/* image_signer: kept when set, absent when not (old journals load as before). */
static void test_image_signer(void **unused)
{
	ef_state a, b;
	ef_buf old;
	char *json = NULL;

	fill_state(&a);
	assert_null(a.services[0].image_signer);
	assert_int_equal(ef_state_to_json(&json, &a), 0);
	assert_null(strstr(json, "image_signer")); /* unset: not written */
	free(json);
	a.services[0].image_signer = strdup("SHA256:abc");
	assert_int_equal(ef_state_to_json(&json, &a), 0);
	assert_int_equal(ef_state_from_json(&b, json, strlen(json)), 0);
	assert_string_equal(b.services[0].image_signer, "SHA256:abc");
	assert_true(ef_state_equal(&a, &b));
	free(b.services[0].image_signer);
	b.services[0].image_signer = NULL;
	assert_false(ef_state_equal(&a, &b)); /* a difference is seen */
	free(json);
	ef_state_dispose(&a);
	ef_state_dispose(&b);
	/* a journal written before the field existed */
	read_data(&old, "full.json");
	assert_int_equal(ef_state_from_json(&b, old.ptr, old.len), 0);
	assert_null(b.services[0].image_signer);
	ef_state_dispose(&b);
	ef_buf_dispose(&old);
}

/* The fixture is in the exact form the agent writes: parse, print, same bytes. */
static void test_fixture_format(void **unused)
{
	ef_buf data;
	ef_state st;
	char *json = NULL;

	read_data(&data, "full.json");
	assert_int_equal(ef_state_from_json(&st, data.ptr, data.len), 0);
	assert_int_equal(st.nservices, 2);
	assert_int_equal(st.phase, EF_PHASE_HEALTH);
	assert_string_equal(st.target, REV_C);
	assert_string_equal(st.services[1].slot, "green");
	assert_null(st.services[1].public_ports);
	assert_int_equal(ef_state_to_json(&json, &st), 0);
	/* the file ends with a newline; cJSON prints none */
	assert_int_equal(strlen(json) + 1, data.len);
	assert_memory_equal(json, data.ptr, strlen(json));
	free(json);
	ef_state_dispose(&st);
	ef_buf_dispose(&data);
}

static void test_save_load_round_trip(void **unused)
{
	ef_state a, b;
	char dir[128];

	snprintf(dir, sizeof(dir), "%s/rt/sub", tmpdir); /* created by save */
	fill_state(&a);
	assert_int_equal(ef_state_save(&a, dir), 0);
	assert_int_equal(ef_state_load(&b, dir), 0);
	assert_true(ef_state_equal(&a, &b));
	ef_state_dispose(&a);
	ef_state_dispose(&b);
}

static void test_empty_state(void **unused)
{
	ef_state a, b;
	char *json = NULL;

	ef_state_init(&a);
	assert_int_equal(ef_state_to_json(&json, &a), 0);
	assert_null(strstr(json, "\"deploy\""));        /* no unfinished deploy */
	assert_null(strstr(json, "\"last_rollback\"")); /* never rolled back */
	assert_int_equal(ef_state_from_json(&b, json, strlen(json)), 0);
	assert_true(ef_state_equal(&a, &b));
	assert_int_equal(b.phase, EF_PHASE_IDLE);
	assert_null(b.last_error); /* "last_error": null, not "" */
	assert_null(b.signer);
	assert_non_null(strstr(json, "\"last_error\":\tnull"));
	free(json);
	ef_state_dispose(&b);

	/* The smallest valid journal. */
	assert_int_equal(ef_state_from_json(&b, "{\"version\":1}\n", 14), 0);
	assert_string_equal(b.revision, "");
	ef_state_dispose(&b);
}

static void test_missing_file(void **unused)
{
	ef_state st;
	char dir[128];

	snprintf(dir, sizeof(dir), "%s/nothing-here", tmpdir);
	assert_int_equal(ef_state_load(&st, dir), 0);
	assert_string_equal(st.revision, "");
	assert_int_equal(st.nservices, 0);
	ef_state_dispose(&st);
}

static const struct {
	const char *json;
	const char *message;
} bad_cases[] = {
        {"", "$: empty file"},
        {"[]", "$: expected an object"},
        {"{}", "$: missing key \"version\""},
        {"{\"version\":2}", "$.version: unsupported version 2 (this edgeflip reads version 1)"},
        {"{\"version\":\"1\"}", "$.version: expected a number"},
        {"{\"version\":1,\"colour\":1}", "$: unknown key \"colour\""},
        {"{\"version\":1,\"version\":1}", "$: duplicate key \"version\""},
        {"{\"version\":1,\"revision\":\"ABCDEF1234567890ABCDEF1234567890ABCDEF12\"}",
         "$.revision: expected a commit id (40 or 64 lowercase hex digits) or \"\""},
        {"{\"version\":1,\"revision\":\"abc\"}",
         "$.revision: expected a commit id (40 or 64 lowercase hex digits) or \"\""},
        {"{\"version\":1,\"revision\":1}", "$.revision: expected a string"},
        {"{\"version\":1,\"signer\":5}", "$.signer: expected a string or null"},
        {"{\"version\":1,\"services\":[{\"name\":null}]}", "$.services[0].name: expected a string"},
        {"{\"version\":1,\"deployed_at\":\"now\"}", "$.deployed_at: expected a number"},
        {"{\"version\":1,\"deployed_at\":-5}",
         "$.deployed_at: expected a whole number of seconds from 0 to 2^53"},
        {"{\"version\":1,\"last_poll\":1.5}",
         "$.last_poll: expected a whole number of seconds from 0 to 2^53"},
        {"{\"version\":1,\"services\":{}}", "$.services: expected an array"},
        {"{\"version\":1,\"services\":[1]}", "$.services[0]: expected an object"},
        {"{\"version\":1,\"services\":[{\"container_id\":\"x\"}]}",
         "$.services[0]: missing key \"name\""},
        {"{\"version\":1,\"services\":[{\"name\":\"\"}]}", "$.services[0].name: must not be empty"},
        {"{\"version\":1,\"services\":[{\"name\":\"a\"},{\"name\":\"b\",\"slot\":\"red\"}]}",
         "$.services[1].slot: expected \"blue\" or \"green\""},
        {"{\"version\":1,\"services\":[{\"name\":\"a\"},{\"name\":\"a\"}]}",
         "$.services[1]: service \"a\" appears twice"},
        {"{\"version\":1,\"services\":[{\"name\":\"a\",\"public_ports\":[\"tcp:1\",7]}]}",
         "$.services[0].public_ports[1]: expected a string"},
        {"{\"version\":1,\"services\":[{\"name\":\"a\",\"cpu\":1}]}",
         "$.services[0]: unknown key \"cpu\""},
        {"{\"version\":1,\"deploy\":[]}", "$.deploy: expected an object"},
        {"{\"version\":1,\"deploy\":{\"phase\":\"dance\"}}",
         "$.deploy.phase: unknown phase \"dance\""},
        {"{\"version\":1,\"deploy\":{\"phase\":3}}", "$.deploy.phase: expected a string"},
        {"{\"version\":1,\"deploy\":{\"phase\":\"pull\",\"target\":\"xyz\"}}",
         "$.deploy.target: expected a commit id (40 or 64 lowercase hex digits) or \"\""},
        {"{\"version\":1,\"deploy\":{\"staged\":[{\"name\":\"a\",\"image\":false}]}}",
         "$.deploy.staged[0].image: expected a string or null"},
        {"{\"version\":1,\"last_rollback\":{\"at\":true}}",
         "$.last_rollback.at: expected a number"},
        {"{\"version\":1,\"history\":[{\"revision\":\"" REV_A "\",\"when\":1}]}",
         "$.history[0]: unknown key \"when\""},
        {"{\"version\":1,\"quarantine\":[{\"result\":\"failed\"}]}",
         "$.quarantine: entry 0 has no revision"},
        {"{\"version\":1,\"refusals\":[null]}", "$.refusals[0]: expected a string"},
        {"{\"version\":1} x", "$: unexpected data after the JSON value at byte 14"},
        {"{\"version\":1,", "$: not valid JSON (truncated or damaged near byte 12)"},
};

static void test_bad_json(void **unused)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		ef_state st;
		int error;

		ef_error_clear();
		error = ef_state_from_json(&st, bad_cases[i].json, strlen(bad_cases[i].json));
		if (error != EF_EINVALID || strcmp(ef_error_last(), bad_cases[i].message) != 0)
			fail_msg("case %zu %s: got %d '%s', want '%s'", i, bad_cases[i].json, error,
			         ef_error_last(), bad_cases[i].message);
		/* left empty */
		assert_int_equal(st.nservices, 0);
		assert_null(st.signer);
		ef_state_dispose(&st);
	}
}

static void test_caps(void **unused)
{
	ef_buf j = EF_BUF_INIT(1 << 22);
	ef_state st;
	char big[EF_STATE_MAX_STRING + 2];

	/* Too many history entries. */
	assert_int_equal(ef_buf_puts(&j, "{\"version\":1,\"history\":["), 0);
	for (int i = 0; i <= EF_STATE_MAX_HISTORY; i++)
		assert_int_equal(ef_buf_puts(&j, i ? ",{}" : "{}"), 0);
	assert_int_equal(ef_buf_puts(&j, "]}"), 0);
	assert_int_equal(ef_state_from_json(&st, j.ptr, j.len), EF_EINVALID);
	assert_string_equal(ef_error_last(), "$.history: more than 1000 entries");
	ef_state_dispose(&st);

	/* A string past the cap. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ef_buf_clear(&j);
	assert_int_equal(ef_buf_printf(&j, "{\"version\":1,\"last_error\":\"%s\"}", big), 0);
	assert_int_equal(ef_state_from_json(&st, j.ptr, j.len), EF_EINVALID);
	assert_string_equal(ef_error_last(), "$.last_error: longer than 4096 bytes");
	ef_state_dispose(&st);

	/* A document past the size cap. */
	assert_int_equal(ef_state_from_json(&st, big, (size_t)EF_STATE_MAX_BYTES + 1), EF_EINVALID);
	assert_string_equal(ef_error_last(), "$: larger than 1048576 bytes");
	ef_state_dispose(&st);
	ef_buf_dispose(&j);
}

/* What the writer writes, the reader reads back: more policy findings than
 * EF_STATE_MAX_REFUSALS and a longer error than EF_STATE_MAX_STRING are
 * clipped when written, not refused (and the journal set aside) when read. */
static void test_writer_within_reader_limits(void **unused)
{
	ef_state st, back;
	char *json = NULL, *big = malloc(EF_STATE_MAX_STRING + 100), line[64];
	size_t n = 0;

	assert_non_null(big);
	ef_state_init(&st);
	for (int i = 0; i < 300; i++) {
		snprintf(line, sizeof(line), "services.web%d: privileged is not allowed", i);
		assert_int_equal(ef_strv_push(&st.refusals, line), 0);
	}
	memset(big, 'e', EF_STATE_MAX_STRING + 99);
	/* a two-byte character across the cut */
	big[EF_STATE_MAX_STRING - 1] = (char)0xc3;
	big[EF_STATE_MAX_STRING] = (char)0xa9;
	big[EF_STATE_MAX_STRING + 99] = '\0';
	st.last_error = big;
	assert_int_equal(ef_state_to_json(&json, &st), 0);
	ef_state_init(&back);
	assert_int_equal(ef_state_from_json(&back, json, strlen(json)), 0);
	while (back.refusals && back.refusals[n])
		n++;
	assert_int_equal(n, EF_STATE_MAX_REFUSALS);
	assert_string_equal(back.refusals[0], "services.web0: privileged is not allowed");
	assert_string_equal(back.refusals[n - 1], "... and 45 more (not kept)");
	assert_int_equal(strlen(back.last_error), EF_STATE_MAX_STRING - 1);
	ef_state_dispose(&back);
	free(json);
	ef_state_dispose(&st); /* frees big */
}

static void test_bad_files(void **unused)
{
	static const struct {
		const char *file;
		const char *message;
	} cases[] = {
	        {"truncated.json", "$: not valid JSON (truncated or damaged near byte 698)"},
	        {"torn.json", "$: not valid JSON (truncated or damaged near byte 24)"},
	        {"zeros.json", "$: NUL byte at offset 0 (a torn write?)"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ef_buf data;
		ef_state st;

		read_data(&data, cases[i].file);
		assert_int_equal(ef_state_from_json(&st, data.ptr, data.len), EF_EINVALID);
		if (strcmp(ef_error_last(), cases[i].message) != 0)
			fail_msg("%s: got '%s', want '%s'", cases[i].file, ef_error_last(),
			         cases[i].message);
		ef_state_dispose(&st);
		ef_buf_dispose(&data);
	}
}

static void test_history_capped(void **unused)
{
	ef_state st;
	char rev[41];

	ef_state_init(&st);
	for (int i = 0; i < 30; i++) {
		snprintf(rev, sizeof(rev), "%040x", i);
		assert_int_equal(ef_state_add_history(&st, rev, "deployed", NULL, 5), 0);
	}
	assert_int_equal(st.nhistory, 5);
	snprintf(rev, sizeof(rev), "%040x", 29);
	assert_string_equal(st.history[0].revision, rev); /* newest first */
	snprintf(rev, sizeof(rev), "%040x", 25);
	assert_string_equal(st.history[4].revision, rev);
	assert_true(st.history[0].at > 0);
	/* A smaller cap trims on the next add; 0 keeps nothing. */
	assert_int_equal(ef_state_add_history(&st, rev, "failed", "x", 2), 0);
	assert_int_equal(st.nhistory, 2);
	assert_int_equal(ef_state_add_history(&st, rev, "failed", "x", 0), 0);
	assert_int_equal(st.nhistory, 0);
	/* Bad input refused. */
	assert_int_equal(ef_state_add_history(&st, "xyz", "failed", NULL, 5), EF_EINVALID);
	assert_int_equal(ef_state_add_history(&st, rev, NULL, NULL, 5), EF_EINVALID);
	/* A huge cap is held to EF_STATE_MAX_HISTORY. */
	for (int i = 0; i < EF_STATE_MAX_HISTORY + 10; i++)
		assert_int_equal(ef_state_add_history(&st, "", "failed", NULL, 100000), 0);
	assert_int_equal(st.nhistory, EF_STATE_MAX_HISTORY);
	ef_state_dispose(&st);
}

static void test_quarantine(void **unused)
{
	ef_state st;
	char rev[41];

	ef_state_init(&st);
	assert_false(ef_state_is_quarantined(&st, REV_A));
	assert_int_equal(ef_state_quarantine(&st, REV_A, "health check failed"), 0);
	assert_true(ef_state_is_quarantined(&st, REV_A));
	assert_false(ef_state_is_quarantined(&st, REV_B));
	assert_false(ef_state_is_quarantined(&st, ""));
	assert_int_equal(ef_state_quarantine(&st, REV_A, "again"), 0);
	assert_int_equal(st.nquarantine, 1);
	assert_string_equal(st.quarantine[0].reason, "again");
	assert_string_equal(st.quarantine[0].result, "failed");
	assert_int_equal(ef_state_quarantine(&st, REV_C, NULL), 0);
	assert_int_equal(st.nquarantine, 2);
	assert_true(ef_state_is_quarantined(&st, REV_C));
	assert_int_equal(ef_state_quarantine(&st, "", "x"), EF_EINVALID);
	assert_int_equal(ef_state_quarantine(&st, "main", "x"), EF_EINVALID);
	/* Capped, the oldest dropped. */
	for (int i = 0; i < EF_STATE_MAX_QUARANTINE + 5; i++) {
		snprintf(rev, sizeof(rev), "%040x", i + 1);
		assert_int_equal(ef_state_quarantine(&st, rev, NULL), 0);
	}
	assert_int_equal(st.nquarantine, EF_STATE_MAX_QUARANTINE);
	assert_false(ef_state_is_quarantined(&st, REV_A));
	assert_true(ef_state_is_quarantined(&st, rev));
	ef_state_dispose(&st);
}

static int count_aside(const char *dir, char *name, size_t n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int count = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "state.json.corrupt-", 19) == 0) {
			snprintf(name, n, "%s/%s", dir, e->d_name);
			count++;
		}
	}
	closedir(d);
	return count;
}

static void test_corrupt_set_aside(void **unused)
{
	static const char garbage[] = "{\"version\":1,\"revision\":\"3f2a9c\0\0\0\0";
	char dir[128], path[256], kept[512];
	ef_state st;
	ef_buf data;
	struct stat sb;

	snprintf(dir, sizeof(dir), "%s/corrupt", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	write_file(path, garbage, sizeof(garbage) - 1);

	assert_int_equal(ef_state_load(&st, dir), EF_EINVALID);
	/* The message names the file, the problem and where it was kept. */
	assert_non_null(strstr(ef_error_last(), path));
	assert_non_null(strstr(ef_error_last(), "$: NUL byte at offset 31"));
	assert_non_null(strstr(ef_error_last(), "rebuilding from the engine's labels"));
	/* A fresh state results. */
	assert_string_equal(st.revision, "");
	assert_int_equal(st.nservices, 0);
	assert_int_equal(st.phase, EF_PHASE_IDLE);
	ef_state_dispose(&st);
	/* The file was moved, with its contents, to state.json.corrupt-*. */
	assert_int_equal(stat(path, &sb), -1);
	assert_int_equal(count_aside(dir, kept, sizeof(kept)), 1);
	assert_non_null(strstr(ef_error_last(), kept));
	assert_int_equal(ef_read_file(&data, kept, 4096), 0);
	assert_int_equal(data.len, sizeof(garbage) - 1);
	assert_memory_equal(data.ptr, garbage, data.len);
	ef_buf_dispose(&data);
	/* The next load starts clean, and saving works again. */
	assert_int_equal(ef_state_load(&st, dir), 0);
	fill_state(&st);
	assert_int_equal(ef_state_save(&st, dir), 0);
	ef_state_dispose(&st);
	assert_int_equal(ef_state_load(&st, dir), 0);
	assert_string_equal(st.revision, REV_A);
	ef_state_dispose(&st);

	/* Valid JSON of the wrong shape is set aside too. */
	write_file(path, "{\"version\":7}", 13);
	assert_int_equal(ef_state_load(&st, dir), EF_EINVALID);
	assert_non_null(strstr(ef_error_last(), "$.version: unsupported version 7"));
	assert_int_equal(stat(path, &sb), -1);
	ef_state_dispose(&st);
}

static ino_t inode_of(const char *path)
{
	struct stat sb;

	assert_int_equal(stat(path, &sb), 0);
	return sb.st_ino;
}

/* A no-change poll writes nothing: save with only last_poll changed leaves
 * the file (same inode, same bytes); any other change replaces it. */
static void test_save_skips_unchanged(void **unused)
{
	char dir[128], path[256];
	ef_state st, back;
	ino_t ino;

	snprintf(dir, sizeof(dir), "%s/nochange", tmpdir);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	fill_state(&st);
	assert_int_equal(ef_state_save(&st, dir), 0);
	ino = inode_of(path);

	assert_int_equal(ef_state_save(&st, dir), 0);
	assert_true(inode_of(path) == ino);
	st.last_poll += 60;
	assert_int_equal(ef_state_save(&st, dir), 0);
	assert_true(inode_of(path) == ino);
	assert_int_equal(ef_state_load(&back, dir), 0);
	assert_int_equal(back.last_poll, 1795770600); /* still the old one */
	ef_state_dispose(&back);

	/* A real change is written, with the new last_poll. */
	free(st.last_result);
	st.last_result = strdup("deployed");
	assert_int_equal(ef_state_save(&st, dir), 0);
	assert_true(inode_of(path) != ino);
	assert_int_equal(ef_state_load(&back, dir), 0);
	assert_int_equal(back.last_poll, 1795770660);
	assert_string_equal(back.last_result, "deployed");
	ef_state_dispose(&back);

	/* A damaged file on disk is never "the same": save replaces it. */
	ino = inode_of(path);
	write_file(path, "{\"vers", 6);
	assert_int_equal(ef_state_save(&st, dir), 0);
	assert_int_equal(ef_state_load(&back, dir), 0);
	assert_true(ef_state_equal(&st, &back));
	ef_state_dispose(&back);
	ef_state_dispose(&st);
}

static void test_services_helpers(void **unused)
{
	ef_state st;
	ef_state_service copy;

	fill_state(&st);
	assert_non_null(ef_state_find_service(&st, "web"));
	assert_null(ef_state_find_service(&st, "db"));
	assert_int_equal(ef_state_service_copy(&copy, ef_state_find_service(&st, "web")), 0);
	assert_string_equal(copy.endpoint, "127.0.0.1:31001");
	assert_ptr_not_equal(copy.name, st.services[0].name);
	ef_state_service_dispose(&copy);
	ef_state_clear_services(&st.services, &st.nservices);
	assert_null(st.services);
	assert_int_equal(st.nservices, 0);
	ef_state_dispose(&st);
	ef_state_dispose(&st); /* twice is fine */
}

static void test_phase_names(void **unused)
{
	static const char *const want[] = {"idle", "pull", "stage",  "health",
	                                   "flip", "soak", "commit", "rollback"};

	for (int p = EF_PHASE_IDLE; p <= EF_PHASE_ROLLBACK; p++) {
		ef_state st, back;
		char *json = NULL;

		assert_string_equal(ef_phase_name((ef_phase)p), want[p]);
		ef_state_init(&st);
		st.phase = (ef_phase)p;
		assert_int_equal(ef_state_to_json(&json, &st), 0);
		assert_int_equal(ef_state_from_json(&back, json, strlen(json)), 0);
		assert_int_equal(back.phase, p);
		free(json);
		ef_state_dispose(&back);
	}
	assert_string_equal(ef_phase_name((ef_phase)99), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_round_trip_json),
	        cmocka_unit_test(test_image_signer),
	        cmocka_unit_test(test_fixture_format),
	        cmocka_unit_test(test_save_load_round_trip),
	        cmocka_unit_test(test_empty_state),
	        cmocka_unit_test(test_missing_file),
	        cmocka_unit_test(test_bad_json),
	        cmocka_unit_test(test_caps),
	        cmocka_unit_test(test_bad_files),
	        cmocka_unit_test(test_writer_within_reader_limits),
	        cmocka_unit_test(test_history_capped),
	        cmocka_unit_test(test_quarantine),
	        cmocka_unit_test(test_corrupt_set_aside),
	        cmocka_unit_test(test_save_skips_unchanged),
	        cmocka_unit_test(test_services_helpers),
	        cmocka_unit_test(test_phase_names),
	};

	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
