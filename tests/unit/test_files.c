/* core/deploy/files.c: relative paths and secret files on the device, with a
 * fake environment directory standing in for the commit's tree. */
#include "edgeflip/buf.h"
#include "edgeflip/compose_read.h"
#include "edgeflip/error.h"
#include "edgeflip/files.h"
#include "edgeflip/spec.h"
#include "edgeflip/sys/fs.h"

#include <fcntl.h>
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

/* The fake tree: "path" -> content; directories are implied by paths. */
typedef struct {
	const char *const *files; /* path, content, path, content, ..., NULL */
} fake;

static int fake_read(void *ctx, ef_buf *out, const char *rel, size_t cap)
{
	const fake *f = ctx;

	ef_buf_init(out, cap);
	for (size_t i = 0; f->files[i]; i += 2)
		if (strcmp(f->files[i], rel) == 0)
			return ef_buf_puts(out, f->files[i + 1]);
	return EF_ENOTFOUND;
}

static int fake_stat(void *ctx, ef_compose_kind *out, const char *rel)
{
	const fake *f = ctx;
	size_t n = strlen(rel);

	*out = EF_COMPOSE_ABSENT;
	for (size_t i = 0; f->files[i]; i += 2) {
		if (strcmp(f->files[i], rel) == 0)
			*out = EF_COMPOSE_FILE;
		else if ((n == 0 || strcmp(rel, ".") == 0 ||
		          (strncmp(f->files[i], rel, n) == 0 && f->files[i][n] == '/')) &&
		         *out == EF_COMPOSE_ABSENT)
			*out = EF_COMPOSE_DIR;
	}
	return 0;
}

static int fake_list(void *ctx, char ***out, const char *rel)
{
	const fake *f = ctx;
	size_t n = strlen(rel);

	*out = NULL;
	for (size_t i = 0; f->files[i]; i += 2) {
		const char *p = f->files[i], *rest, *slash;
		char name[256];
		if (n && !(strncmp(p, rel, n) == 0 && p[n] == '/'))
			continue;
		rest = n ? p + n + 1 : p;
		slash = strchr(rest, '/');
		snprintf(name, sizeof(name), "%.*s",
		         (int)(slash ? (size_t)(slash - rest) : strlen(rest)), rest);
		if (!ef_strv_contains(*out, name))
			ef_strv_push(out, name);
	}
	return 0;
}

static char root[256];

static int setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/ef-test-files.XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	return ef_fs_remove_tree(root) < 0 ? -1 : 0;
}

static char *slurp(const char *path)
{
	ef_buf b = EF_BUF_INIT(1 << 20);

	if (ef_read_file(&b, path, 1 << 20) < 0) {
		ef_buf_dispose(&b);
		return NULL;
	}
	return ef_buf_detach(&b);
}

static void test_bind_kinds(void **state)
{
	static const char *const v1[] = {"config/app.conf", "port=1\n", "conf/a.txt", "a1",
	                                 "conf/sub/b.txt",  "b1",       NULL};
	static const char *const v2[] = {"config/app.conf", "port=2\n", "conf/a.txt", "a1",
	                                 "conf/sub/b.txt",  "b1",       NULL};
	fake f1 = {v1}, f2 = {v2};
	ef_compose_src s1 = {fake_read, fake_stat, fake_list, &f1, "environments/prod"};
	ef_compose_src s2 = {fake_read, fake_stat, fake_list, &f2, "environments/prod"};
	ef_files files = {.src = &s1, .root = root};
	ef_files_kind kind;
	char *p1, *p1b, *p2, *d1, *d2, *data1, *data2, *home, *c;
	struct stat st;

	/* a tracked file: configuration, per content */
	assert_int_equal(ef_files_bind(&p1, &kind, &files, "config/app.conf", false), 0);
	assert_int_equal(kind, EF_FILES_CONFIG);
	assert_non_null(strstr(p1, "/files/"));
	assert_string_equal(strrchr(p1, '/'), "/app.conf");
	assert_string_equal(c = slurp(p1), "port=1\n");
	free(c);
	assert_int_equal(ef_files_bind(&p1b, &kind, &files, "config/app.conf", false), 0);
	assert_string_equal(p1, p1b); /* unchanged content, same path */
	files.src = &s2;
	assert_int_equal(ef_files_bind(&p2, &kind, &files, "config/app.conf", false), 0);
	assert_string_not_equal(p1, p2); /* the next revision has its own */
	assert_string_equal(c = slurp(p2), "port=2\n");
	free(c);
	assert_string_equal(c = slurp(p1), "port=1\n"); /* blue's is untouched */
	free(c);

	/* a tracked directory, recursively; same content in both revisions */
	assert_int_equal(ef_files_bind(&d2, &kind, &files, "conf", false), 0);
	files.src = &s1;
	assert_int_equal(ef_files_bind(&d1, &kind, &files, "conf", false), 0);
	assert_string_equal(d1, d2);
	c = malloc(strlen(d1) + 32);
	sprintf(c, "%s/sub/b.txt", d1);
	assert_int_equal(stat(c, &st), 0);
	free(c);

	/* not tracked: data, kept */
	assert_int_equal(ef_files_bind(&data1, &kind, &files, "data/db", false), 0);
	assert_int_equal(kind, EF_FILES_DATA);
	assert_int_equal(stat(data1, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	files.src = &s2;
	assert_int_equal(ef_files_bind(&data2, &kind, &files, "data/db", false), 0);
	assert_string_equal(data1, data2);

	/* ~/x: home, never from the commit even when the commit has x */
	assert_int_equal(ef_files_bind(&home, &kind, &files, "config/app.conf", true), 0);
	assert_int_equal(kind, EF_FILES_HOME);
	assert_non_null(strstr(home, "/home/config/app.conf"));
	assert_int_equal(stat(home, &st), 0);
	assert_true(S_ISDIR(st.st_mode));

	/* without a source (no commit tree): data */
	files.src = NULL;
	free(data2);
	assert_int_equal(ef_files_bind(&data2, &kind, &files, "config/app.conf", false), 0);
	assert_int_equal(kind, EF_FILES_DATA);

	free(p1), free(p1b), free(p2), free(d1), free(d2), free(data1), free(data2), free(home);
}

static void test_put(void **state)
{
	ef_files files = {.root = root};
	char *a, *b, *c, *s;
	struct stat st;

	assert_int_equal(ef_files_put(&a, &files, "db-password", "s3cret", 6, 0400, -1, -1), 0);
	assert_string_equal(strrchr(a, '/'), "/db-password");
	assert_int_equal(stat(a, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0400);
	assert_string_equal(s = slurp(a), "s3cret");
	free(s);
	assert_int_equal(ef_files_put(&b, &files, "db-password", "s3cret", 6, 0400, -1, -1), 0);
	assert_string_equal(a, b);
	/* another mode: another file, the first keeps its own */
	assert_int_equal(ef_files_put(&c, &files, "db-password", "s3cret", 6, 0444, -1, -1), 0);
	assert_string_not_equal(a, c);
	assert_int_equal(stat(c, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0444);
	if (geteuid() == 0) {
		free(c);
		assert_int_equal(ef_files_put(&c, &files, "x", "1", 1, 0440, 1000, 1001), 0);
		assert_int_equal(stat(c, &st), 0);
		assert_int_equal(st.st_uid, 1000);
		assert_int_equal(st.st_gid, 1001);
	}
	free(a), free(b), free(c);
}

/* SOPS secrets (the corpus written by the real sops, ../shared/corpus/sops):
 * decrypted into the tmpfs secret root, never under root; the path comes
 * from the encrypted file; a wrong identity and a tampered file refused. */
static char *corpus_read(size_t *len, const char *rel)
{
	const char *env = getenv("EF_CORPUS");
	const char *dirs[] = {env ? env : EF_SOURCE_DIR "/../shared/corpus", "/work/shared/corpus"};
	char path[4400];

	for (size_t i = 0; i < 2; i++) {
		ef_buf b = EF_BUF_INIT(1u << 20);

		snprintf(path, sizeof(path), "%s/sops/%s", dirs[i], rel);
		if (ef_read_file(&b, path, b.cap) == 0) {
			*len = b.len;
			return ef_buf_detach(&b);
		}
		ef_buf_dispose(&b);
	}
	fail_msg("%s: not in ../shared/corpus/sops (set EF_CORPUS)", rel);
	return NULL;
}

static ef_age_identities *corpus_ids(const char *rel)
{
	ef_age_identities *ids = NULL;
	size_t len;
	char *text = corpus_read(&len, rel);

	assert_int_equal(ef_age_identities_parse(&ids, text, len, rel), 0);
	free(text);
	return ids;
}

static void put_sops(char **out, const ef_files *f, const char *file, int want)
{
	size_t len;
	char *text = corpus_read(&len, file);

	*out = NULL;
	assert_int_equal(ef_files_put_secret(out, f, file, "s", text, len, 0400, -1, -1), want);
	free(text);
}

static void test_put_secret(void **state)
{
	char shm[] = "/dev/shm/ef-test-files.XXXXXX", sroot[300], *p = NULL, *s;
	ef_files files = {.root = root, .secret_root = sroot};
	ef_age_identities *ids = corpus_ids("keys/agent-keys.txt");
	ef_age_identities *other = corpus_ids("keys/flux-age-global.txt");

	(void)state;
	if (!mkdtemp(shm) || ef_fs_in_memory(shm) != 1) {
		ef_age_identities_free(ids);
		ef_age_identities_free(other);
		skip();
	}
	snprintf(sroot, sizeof(sroot), "%s/secrets", shm);
	/* without identities: refused, nothing written */
	put_sops(&p, &files, "real/flux-file.txt", EF_EREJECTED);
	assert_false(ef_fs_exists(sroot));
	files.age = ids;
	/* binary: the bytes */
	put_sops(&p, &files, "real/flux-file.txt", 0);
	assert_non_null(p);
	assert_memory_equal(p, sroot, strlen(sroot));
	assert_string_equal(s = slurp(p), "value");
	free(s), free(p);
	/* json: the document without `sops`, as JSON */
	put_sops(&p, &files, "real/humphd-secret.enc.json", 0);
	s = slurp(p);
	assert_non_null(strstr(s, "this is a secret"));
	assert_null(strstr(s, "sops"));
	assert_null(strstr(s, "ENC["));
	free(s), free(p);
	/* yaml and dotenv */
	put_sops(&p, &files, "real/humphd-secret.enc.yaml", 0);
	assert_null(strstr(s = slurp(p), "ENC["));
	free(s), free(p);
	put_sops(&p, &files, "real/humphd-secret.enc.env", 0);
	assert_non_null(strstr(s = slurp(p), "secret=this is a secret"));
	free(s), free(p);
	/* plaintext: not SOPS, left to ef_files_put */
	assert_int_equal(ef_files_put_secret(&p, &files, "pw.txt", "s", "hunter2", 7, 0400, -1, -1),
	                 0);
	assert_null(p);
	/* tampered, and a wrong identity */
	put_sops(&p, &files, "derived/dropped-value.json", EF_EREJECTED);
	assert_null(p);
	put_sops(&p, &files, "derived/bad-value.env", EF_EREJECTED);
	files.age = other;
	put_sops(&p, &files, "real/flux-file.txt", EF_EREJECTED);
	assert_non_null(strstr(ef_error_last(), "flux-file.txt"));
	/* a secret root that is not a tmpfs: refused */
	files.age = ids;
	snprintf(sroot, sizeof(sroot), "%s/secrets", root);
	put_sops(&p, &files, "real/flux-file.txt", EF_EINVALID);
	ef_fs_remove_tree(shm);
	ef_age_identities_free(ids);
	ef_age_identities_free(other);
}

/* A service's env_file: plain dotenv, `format: raw`, and SOPS documents in
 * dotenv, json and yaml format, decrypted into variables only. */
static void test_env_file(void **state)
{
	char *envt, *json, *yaml, *bad, *dropped;
	size_t n;
	const char *files_v[] = {"plain.env",
	                         "A=1\nB='x y'\nC=${A}\n",
	                         "raw.env",
	                         "C=${A}\n",
	                         "s.env",
	                         envt = corpus_read(&n, "real/humphd-secret.enc.env"),
	                         "s.json",
	                         json = corpus_read(&n, "real/humphd-secret.enc.json"),
	                         "s.yaml",
	                         yaml = corpus_read(&n, "real/humphd-secret.enc.yaml"),
	                         "bad.env",
	                         bad = corpus_read(&n, "derived/bad-value.env"),
	                         "dropped.json",
	                         dropped = corpus_read(&n, "derived/dropped-value.json"),
	                         NULL};
	fake fk = {files_v};
	ef_compose_src src = {fake_read, fake_stat, fake_list, &fk, "environments/prod"};
	ef_age_identities *ids = corpus_ids("keys/agent-keys.txt");
	ef_files files = {.src = &src, .root = root};
	ef_env_file plain = {"plain.env", true, NULL}, raw = {"raw.env", true, "raw"},
	            sops_env = {"s.env", true, NULL}, sops_json = {"s.json", true, NULL},
	            sops_yaml = {"s.yaml", true, NULL}, absent = {"none.env", true, NULL},
	            optional = {"none.env", false, NULL}, tampered = {"bad.env", true, NULL},
	            dropped_f = {"dropped.json", true, NULL};
	ef_env env;

	(void)state;
	ef_env_init(&env);
	assert_int_equal(ef_files_env(&env, &files, &plain), 0);
	assert_string_equal(ef_env_get(&env, "B"), "x y");
	assert_string_equal(ef_env_get(&env, "C"), "1");
	assert_int_equal(ef_files_env(&env, &files, &raw), 0); /* later file wins, as written */
	assert_string_equal(ef_env_get(&env, "C"), "${A}");
	assert_int_equal(ef_files_env(&env, &files, &optional), 0);
	assert_int_equal(ef_files_env(&env, &files, &absent), EF_EINVALID);
	assert_non_null(strstr(ef_error_last(), "none.env"));
	/* SOPS without identities: refused */
	assert_int_equal(ef_files_env(&env, &files, &sops_env), EF_EREJECTED);
	assert_non_null(strstr(ef_error_last(), "age_key_file"));
	files.age = ids;
	assert_int_equal(ef_files_env(&env, &files, &sops_env), 1);
	assert_string_equal(ef_env_get(&env, "secret"), "this is a secret");
	assert_string_equal(ef_env_get(&env, "another_secret"), "7");
	ef_env_dispose(&env);
	assert_int_equal(ef_files_env(&env, &files, &sops_json), 1);
	assert_string_equal(ef_env_get(&env, "0word"), "gotta match go");
	assert_string_equal(ef_env_get(&env, "int"), "7");
	assert_string_equal(ef_env_get(&env, "boolean"), "true");
	assert_null(ef_env_get(&env, "complex")); /* nested: no dotenv form */
	assert_null(ef_env_get(&env, "sops"));
	ef_env_dispose(&env);
	assert_int_equal(ef_files_env(&env, &files, &sops_yaml), 1);
	assert_string_equal(ef_env_get(&env, "string"), "string");
	ef_env_dispose(&env);
	/* tampered: refused naming the file, nothing set */
	assert_int_equal(ef_files_env(&env, &files, &tampered), EF_EREJECTED);
	assert_non_null(strstr(ef_error_last(), "bad.env"));
	assert_int_equal(ef_files_env(&env, &files, &dropped_f), EF_EREJECTED);
	assert_non_null(strstr(ef_error_last(), "dropped.json"));
	assert_int_equal(env.n, 0);
	ef_env_dispose(&env);
	ef_age_identities_free(ids);
	free(envt), free(json), free(yaml), free(bad), free(dropped);
}

/* The environment directory's .env as a SOPS dotenv document: its values
 * interpolate the compose file, the spec hash folds in the encrypted file's
 * digest instead of the values, no key or a tampered file refuse it. */
static int load_env_with(ef_manifest **m, ef_findings *f, const char *dotenv, void *age,
                         const char *extra)
{
	char compose[1024];
	const char *files_v[] = {"compose.yaml", compose, ".env", dotenv, NULL};
	fake fk = {files_v};
	ef_compose_src src = {fake_read, fake_stat, fake_list, &fk, "environments/prod"};
	ef_compose_opts opts = {.dotenv_open = ef_files_open_dotenv, .dotenv_ctx = age};

	snprintf(compose, sizeof(compose),
	         "services:\n  api:\n    image: r.example/api@sha256:"
	         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
	         "    environment:\n      PW: ${secret}\n"
	         "      URL: db://u:${secret}@db/${another_secret}\n%s",
	         extra);
	*m = NULL;
	ef_findings_init(f);
	return ef_compose_load(m, NULL, NULL, &src, &opts, f);
}

static int load_env(ef_manifest **m, ef_findings *f, const char *dotenv, void *age)
{
	return load_env_with(m, f, dotenv, age, "");
}

static void test_interp_sops(void **state)
{
	char *envt = corpus_read(&(size_t){0}, "real/humphd-secret.enc.env");
	char *bad = corpus_read(&(size_t){0}, "derived/bad-value.env");
	ef_age_identities *ids = corpus_ids("keys/agent-keys.txt");
	ef_age_identities *other = corpus_ids("keys/flux-age-global.txt");
	char sealed_hash[65];
	ef_manifest *m;
	ef_findings f;

	(void)state;
	assert_int_equal(load_env(&m, &f, envt, ids), 0);
	assert_true(ef_strv_contains(m->services[0].environment, "PW=this is a secret"));
	assert_true(
	        ef_strv_contains(m->services[0].environment, "URL=db://u:this is a secret@db/7"));
	memcpy(sealed_hash, m->services[0].spec_hash, sizeof(sealed_hash));
	ef_manifest_free(m);
	ef_findings_dispose(&f);
	/* the same values in a plain .env: same model, another hash (the
	 * sealed one does not hash the plaintext) */
	assert_int_equal(load_env(&m, &f, "secret=this is a secret\nanother_secret=7\n", ids), 0);
	assert_true(ef_strv_contains(m->services[0].environment, "PW=this is a secret"));
	assert_string_not_equal(m->services[0].spec_hash, sealed_hash);
	ef_manifest_free(m);
	ef_findings_dispose(&f);
	/* the same file again: the same hash */
	assert_int_equal(load_env(&m, &f, envt, ids), 0);
	assert_string_equal(m->services[0].spec_hash, sealed_hash);
	ef_manifest_free(m);
	ef_findings_dispose(&f);
	/* a config's inline content is written in clear: no sealed value in it */
	assert_int_equal(
	        load_env_with(&m, &f, envt, ids, "configs:\n  c:\n    content: \"pw=${secret}\"\n"),
	        EF_EINVALID);
	assert_non_null(strstr(ef_error_last(), "configs.c.content"));
	assert_null(strstr(ef_error_last(), "this is a secret"));
	ef_findings_dispose(&f);
	/* no key, a key that does not open it, a tampered value: refused,
	 * naming the file (and for no key, the setting), never a value */
	assert_int_equal(load_env(&m, &f, envt, NULL), EF_EINVALID);
	assert_null(m);
	assert_non_null(strstr(ef_error_last(), "environments/prod/.env"));
	assert_non_null(strstr(ef_error_last(), "age_key_file"));
	ef_findings_dispose(&f);
	assert_int_equal(load_env(&m, &f, envt, other), EF_EINVALID);
	assert_non_null(strstr(ef_error_last(), "environments/prod/.env"));
	ef_findings_dispose(&f);
	assert_int_equal(load_env(&m, &f, bad, ids), EF_EINVALID);
	assert_non_null(strstr(ef_error_last(), "environments/prod/.env"));
	assert_null(strstr(ef_error_last(), "this is a secret"));
	ef_findings_dispose(&f);
	ef_age_identities_free(ids);
	ef_age_identities_free(other);
	free(envt), free(bad);
}

/* lint's view of a file: format and metadata without a key, the
 * decryption with one. */
static int inspect(const char **format, ef_sops_info *info, const ef_age_identities *age,
                   const char *rel, const char *as, bool env_file)
{
	size_t len;
	char *text = corpus_read(&len, rel);
	int rc = ef_files_inspect(info, format, age, as, text, len, env_file);

	free(text);
	return rc;
}

static void test_inspect(void **state)
{
	ef_age_identities *ids = corpus_ids("keys/agent-keys.txt");
	ef_age_identities *other = corpus_ids("keys/flux-age-global.txt");
	const char *fmt;
	ef_sops_info info;

	(void)state;
	assert_int_equal(inspect(&fmt, &info, NULL, "real/humphd-secret.enc.json", "s.json", false),
	                 1);
	assert_string_equal(fmt, "json");
	assert_int_equal(ef_strv_len(info.recipients), 3);
	ef_sops_info_dispose(&info);
	assert_int_equal(inspect(&fmt, &info, NULL, "real/humphd-secret.enc.yaml", "s.yaml", false),
	                 1);
	assert_string_equal(fmt, "yaml");
	ef_sops_info_dispose(&info);
	assert_int_equal(inspect(&fmt, &info, NULL, "real/flux-file.txt", "key.bin", false), 1);
	assert_string_equal(fmt, "binary");
	ef_sops_info_dispose(&info);
	/* an env_file of any name is dotenv; its variable names are known */
	assert_int_equal(inspect(&fmt, &info, NULL, "real/humphd-secret.enc.env", "app.conf", true),
	                 1);
	assert_string_equal(fmt, "dotenv");
	assert_true(ef_strv_contains(info.keys, "another_secret"));
	ef_sops_info_dispose(&info);
	/* with a key: decrypted, MAC checked */
	assert_int_equal(inspect(&fmt, &info, ids, "real/humphd-secret.enc.env", ".env", false), 1);
	ef_sops_info_dispose(&info);
	assert_int_equal(inspect(&fmt, &info, ids, "derived/bad-value.env", ".env", false),
	                 EF_EREJECTED);
	ef_sops_info_dispose(&info);
	assert_int_equal(inspect(&fmt, &info, NULL, "derived/bad-value.env", ".env", false), 1);
	ef_sops_info_dispose(&info);
	assert_int_equal(
	        inspect(&fmt, &info, other, "real/humphd-secret.enc.json", "s.json", false),
	        EF_EREJECTED);
	ef_sops_info_dispose(&info);
	/* malformed without a key; plain text */
	assert_int_equal(inspect(&fmt, &info, NULL, "derived/malformed.env", "m.env", false),
	                 EF_EINVALID);
	assert_non_null(strstr(ef_error_last(), "m.env"));
	ef_sops_info_dispose(&info);
	assert_int_equal(
	        inspect(&fmt, &info, NULL, "real/humphd-secret.plain.json", "p.json", false), 0);
	assert_null(fmt);
	ef_sops_info_dispose(&info);
	ef_age_identities_free(ids);
	ef_age_identities_free(other);
}

/* The container's environment: `environment:` wins over env_file. */
static void test_spec_env(void **state)
{
	char *envt;
	size_t n;
	const char *files_v[] = {"s.env", envt = corpus_read(&n, "real/humphd-secret.enc.env"),
	                         "b.env", "another_secret=8\nX=1\n", NULL};
	fake fk = {files_v};
	ef_compose_src src = {fake_read, fake_stat, fake_list, &fk, "environments/prod"};
	ef_age_identities *ids = corpus_ids("keys/agent-keys.txt");
	ef_files files = {.src = &src, .root = root, .age = ids};
	ef_env_file ef[] = {{"s.env", true, NULL}, {"b.env", true, NULL}};
	char *environment[] = {"secret=mine", NULL};
	ef_service svc;
	ef_spec_opts o = {.files = &files};
	ef_container_spec spec;

	(void)state;
	memset(&svc, 0, sizeof(svc));
	svc.name = "web";
	svc.image = "img";
	svc.environment = environment;
	svc.env_files = ef;
	svc.nenv_files = 2;
	assert_int_equal(ef_spec_build(&spec, &svc, &o), 0);
	assert_true(ef_strv_contains(spec.env, "secret=mine"));
	assert_false(ef_strv_contains(spec.env, "secret=this is a secret"));
	assert_true(ef_strv_contains(spec.env, "another_secret=8")); /* later file wins */
	assert_true(ef_strv_contains(spec.env, "X=1"));
	assert_int_equal(ef_strv_len(spec.env), 3);
	ef_spec_dispose(&spec);
	/* a key that does not open it: refused, naming service and file */
	files.age = NULL;
	assert_int_equal(ef_spec_build(&spec, &svc, &o), EF_EREJECTED);
	assert_non_null(strstr(ef_error_last(), "service web: env_file s.env"));
	ef_age_identities_free(ids);
	free(envt);
}

/* port/posix/fs.c: the stamp that lets the agent skip reading its trust
 * files when they were not touched. */
static void test_stamp(void **state)
{
	char path[4200], other[4200];
	ef_fs_stamp a, b, none;
	struct timespec old[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/keys", root);
	snprintf(other, sizeof(other), "%s/keys.new", root);
	assert_int_equal(ef_fs_stamp_of(&none, path), 0);
	for (size_t i = 0; i < 5; i++)
		assert_true(none.v[i] == 0); /* missing: all zero */
	assert_int_equal(ef_fs_write_atomic(path, "key one\n", 8), 0);
	assert_int_equal(ef_fs_stamp_of(&a, path), 0);
	assert_int_equal(ef_fs_stamp_of(&b, path), 0);
	assert_memory_equal(&a, &b, sizeof(a)); /* untouched: equal */
	assert_memory_not_equal(&a, &none, sizeof(a));
	assert_true(a.changed_s + 2 >= (int64_t)time(NULL)); /* just written */
	/* an edit in place that keeps the size, with the same modification
	 * time put back: the change time still tells (one clock tick later) */
	assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
	assert_int_equal(ef_fs_stamp_of(&a, path), 0);
	assert_true(a.changed_s + 2 >= (int64_t)time(NULL)); /* ctime: now */
	usleep(30000);
	assert_non_null(f = fopen(path, "r+"));
	assert_int_equal(fputs("key two\n", f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
	assert_int_equal(ef_fs_stamp_of(&b, path), 0);
	assert_true(a.v[3] == b.v[3] && a.v[2] == b.v[2] && a.v[1] == b.v[1]);
	assert_memory_not_equal(&a, &b, sizeof(a));
	/* replaced by a rename (what editors and ef_fs_write_atomic do): another inode */
	assert_int_equal(ef_fs_stamp_of(&a, path), 0);
	assert_int_equal(ef_fs_write_atomic(other, "key two\n", 8), 0);
	assert_int_equal(rename(other, path), 0);
	assert_int_equal(ef_fs_stamp_of(&b, path), 0);
	assert_true(a.v[1] != b.v[1]);
	/* gone again */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(ef_fs_stamp_of(&b, path), 0);
	assert_memory_equal(&b, &none, sizeof(b));
}

/* The daemon's pass lock, kept open between passes: dropped, another
 * opener gets it; taken again; and when the file is removed or replaced
 * under the holder, relock says so rather than lock a file nobody else
 * would open. */
static void test_relock(void **state)
{
	char path[4200], other[4200];
	int held = -1, them = -1;

	(void)state;
	snprintf(path, sizeof(path), "%s/pass.lock", root);
	snprintf(other, sizeof(other), "%s/pass.lock.new", root);
	assert_int_equal(ef_fs_lock(&held, path, 0), 0);
	assert_int_equal(ef_fs_lock(&them, path, 0), EF_EAGAIN); /* held */
	ef_fs_lock_drop(held);
	assert_int_equal(ef_fs_lock(&them, path, 0), 0); /* dropped: free */
	assert_int_equal(ef_fs_relock(held, path, 0), EF_EAGAIN);
	ef_fs_unlock(them);
	assert_int_equal(ef_fs_relock(held, path, 0), 0);
	assert_int_equal(ef_fs_lock(&them, path, 0), EF_EAGAIN); /* held again */
	ef_fs_lock_drop(held);
	/* replaced by a rename: the kept descriptor is another file now */
	assert_int_equal(ef_fs_write_atomic(other, "", 0), 0);
	assert_int_equal(rename(other, path), 0);
	assert_int_equal(ef_fs_relock(held, path, 0), EF_ENOTFOUND);
	assert_int_equal(ef_fs_lock(&them, path, 0), 0); /* and not left locked */
	ef_fs_unlock(them);
	ef_fs_unlock(held);
	/* removed */
	assert_int_equal(ef_fs_lock(&held, path, 0), 0);
	ef_fs_lock_drop(held);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(ef_fs_relock(held, path, 0), EF_ENOTFOUND);
	ef_fs_unlock(held);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_bind_kinds, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_put, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_put_secret, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_env_file, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_spec_env, setup, teardown),
	        cmocka_unit_test(test_interp_sops),
	        cmocka_unit_test(test_inspect),
	        cmocka_unit_test_setup_teardown(test_stamp, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_relock, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
