/* SOPS + age: files written by the real sops and age keys published by
 * sops-age and Flux (../shared/corpus/sops, read at run time, never copied
 * into the project), the copies with one deliberate change each, and
 * hand-made damage to the age layer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/secrets.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char corpus[4096];

static const void *find_bytes(const void *hay, size_t n, const void *needle, size_t m)
{
	const unsigned char *h = hay;

	for (size_t i = 0; m <= n && i <= n - m; i++)
		if (!memcmp(h + i, needle, m))
			return h + i;
	return NULL;
}

/* The corpus beside the project (../shared/corpus/sops), or $EF_CORPUS/sops. */
static bool find_corpus(void)
{
	const char *env = getenv("EF_CORPUS");
	const char *cands[] = {EF_SOURCE_DIR "/../shared/corpus", "/work/shared/corpus"};

	if (env) {
		snprintf(corpus, sizeof(corpus), "%s/sops", env);
		return access(corpus, R_OK) == 0;
	}
	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		snprintf(corpus, sizeof(corpus), "%s/sops", cands[i]);
		if (access(corpus, R_OK) == 0)
			return true;
	}
	return false;
}

static void readf(ef_buf *b, const char *rel)
{
	char path[4400];

	snprintf(path, sizeof(path), "%s/%s", corpus, rel);
	assert_int_equal(ef_read_file(b, path, 1 << 20), 0);
}

static ef_age_identities *load_ids(const char *rel)
{
	ef_age_identities *ids = NULL;
	ef_buf b;

	readf(&b, rel);
	assert_int_equal(ef_age_identities_parse(&ids, b.ptr, b.len, rel), 0);
	ef_buf_dispose(&b);
	return ids;
}

static cJSON *load_json(const char *rel)
{
	ef_buf b;
	cJSON *doc;

	readf(&b, rel);
	doc = cJSON_ParseWithLength(b.ptr, b.len);
	ef_buf_dispose(&b);
	assert_non_null(doc);
	return doc;
}

static int setup(void **state)
{
	(void)state;
	if (!find_corpus()) {
		fprintf(stderr, "test_secrets: ../shared/corpus/sops not found (set EF_CORPUS)\n");
		return -1;
	}
	return 0;
}

/* ---- identities ------------------------------------------------------------ */

static void identities_and_recipients(void **state)
{
	ef_age_identities *ids = load_ids("keys/agent-keys.txt");
	char r[128];

	(void)state;
	assert_int_equal(ef_age_identities_count(ids), 2);
	/* The recipients the key files' comments name, derived from the scalars. */
	assert_int_equal(ef_age_recipient(r, ids, 0), 0);
	assert_string_equal(r, "age1je6kjhzuhdjy3fqptpttxjh5k8q46vygzlgtpuq3030c947pc5tqz9dqvr");
	assert_int_equal(ef_age_recipient(r, ids, 1), 0);
	assert_string_equal(r, "age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29");
	ef_age_identities_free(ids);
}

static void identity_typos_refused(void **state)
{
	static const char *bad[] = {
	        /* one character changed: the bech32 checksum catches it */
	        "AGE-SECRET-KEY-1QXRVEJH9S4NQU0FPD6V79ESZQ8S6PXH3L8V40EVPTHFH6KNKD4DQ7SKC4Q\n",
	        /* truncated */
	        "AGE-SECRET-KEY-1QXRVEJH9S4NQU0FPD6V79ESZQ8S6PXH3L8V40EVPTHFH6KNKD4D\n",
	        /* a public key where the identity belongs */
	        "age1je6kjhzuhdjy3fqptpttxjh5k8q46vygzlgtpuq3030c947pc5tqz9dqvr\n",
	        /* mixed case */
	        "AGE-SECRET-KEY-1qXRVEJH9S4NQU0FPD6V79ESZQ8S6PXH3L8V40EVPTHFH6KNKD4DQ7SKC4P\n",
	        "# only a comment\n",
	        "",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ef_age_identities *ids = NULL;
		assert_int_equal(ef_age_identities_parse(&ids, bad[i], strlen(bad[i]), "key.txt"),
		                 EF_EINVALID);
		assert_null(ids);
		assert_non_null(strstr(ef_error_last(), "key.txt"));
	}
}

/* ---- real files ------------------------------------------------------------ */

static void json_document(void **state)
{
	ef_age_identities *ids = load_ids("keys/humphd-key.txt");
	cJSON *doc = load_json("real/humphd-secret.enc.json");
	cJSON *plain = load_json("real/humphd-secret.plain.json");

	(void)state;
	assert_true(ef_sops_tree_is_encrypted(doc));
	assert_int_equal(ef_sops_decrypt_tree(doc, ids, "humphd-secret.enc.json"), 0);
	assert_null(cJSON_GetObjectItemCaseSensitive(doc, "sops"));
	assert_true(cJSON_Compare(doc, plain, true));
	cJSON_Delete(doc);
	cJSON_Delete(plain);
	ef_age_identities_free(ids);
}

static void binary_document(void **state)
{
	ef_age_identities *ids = load_ids("keys/flux-age.txt");
	cJSON *doc = load_json("real/flux-file.txt");

	(void)state;
	assert_int_equal(ef_sops_decrypt_tree(doc, ids, "flux-file.txt"), 0);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(doc, "data")->valuestring, "value");
	cJSON_Delete(doc);
	ef_age_identities_free(ids);
}

static void dotenv_documents(void **state)
{
	ef_age_identities *ids = load_ids("keys/agent-keys.txt");
	ef_buf in, out = EF_BUF_INIT(1 << 16);

	(void)state;
	readf(&in, "real/humphd-secret.enc.env");
	assert_true(ef_sops_dotenv_is_encrypted(in.ptr, in.len));
	assert_int_equal(ef_sops_decrypt_dotenv(&out, ids, in.ptr, in.len, "x.env"), 0);
	/* NUL-separated KEY=VALUE entries, in file order, metadata dropped. */
	assert_int_equal(out.len,
	                 strlen("secret=this is a secret") + 1 + strlen("another_secret=7") + 1);
	assert_string_equal(out.ptr, "secret=this is a secret");
	assert_string_equal(out.ptr + strlen(out.ptr) + 1, "another_secret=7");
	ef_buf_dispose(&in);
	ef_buf_dispose(&out);

	readf(&in, "real/flux-env.env");
	out = (ef_buf)EF_BUF_INIT(1 << 16);
	assert_int_equal(ef_sops_decrypt_dotenv(&out, ids, in.ptr, in.len, "flux-env.env"), 0);
	assert_string_equal(out.ptr, "key=value");
	ef_buf_dispose(&in);
	ef_buf_dispose(&out);
	ef_age_identities_free(ids);
}

static void wrong_identity_refused(void **state)
{
	ef_age_identities *ids = load_ids("keys/flux-age-global.txt");
	cJSON *doc = load_json("real/humphd-secret.enc.json");

	(void)state;
	assert_int_equal(ef_sops_decrypt_tree(doc, ids, "humphd-secret.enc.json"), EF_EREJECTED);
	assert_non_null(strstr(ef_error_last(), "humphd-secret.enc.json"));
	assert_non_null(strstr(ef_error_last(), "no age identity"));
	cJSON_Delete(doc);
	ef_age_identities_free(ids);
}

/* ---- derived: one change each ---------------------------------------------- */

static void derived_env(const char *rel, int want, const char *msg)
{
	ef_age_identities *ids = load_ids("keys/agent-keys.txt");
	ef_buf in, out = EF_BUF_INIT(1 << 16);

	readf(&in, rel);
	assert_int_equal(ef_sops_decrypt_dotenv(&out, ids, in.ptr, in.len, rel), want);
	assert_non_null(strstr(ef_error_last(), msg));
	/* Nothing of the plaintext comes back. */
	assert_true(out.len == 0 || !find_bytes(out.ptr, out.len, "secret", 6));
	ef_buf_dispose(&in);
	ef_buf_dispose(&out);
	ef_age_identities_free(ids);
}

static void derived_json(const char *rel, int want, const char *msg)
{
	ef_age_identities *ids = load_ids("keys/agent-keys.txt");
	cJSON *doc = load_json(rel);
	char *text;

	assert_int_equal(ef_sops_decrypt_tree(doc, ids, rel), want);
	assert_non_null(strstr(ef_error_last(), msg));
	/* The tree is wiped: no plaintext left in it. */
	text = cJSON_PrintUnformatted(doc);
	assert_null(strstr(text, "this is a secret"));
	assert_null(strstr(text, "gotta match go"));
	free(text);
	cJSON_Delete(doc);
	ef_age_identities_free(ids);
}

static void derived_files(void **state)
{
	(void)state;
	derived_env("derived/bad-value.env", EF_EREJECTED,
	            "secret:: the value fails authentication");
	derived_env("derived/bad-mac.env", EF_EREJECTED, "the SOPS MAC");
	derived_env("derived/malformed.env", EF_EINVALID, "not a SOPS value");
	derived_json("derived/dropped-value.json", EF_EREJECTED, "MAC does not match");
	derived_json("derived/forged-mac.json", EF_EREJECTED, "MAC does not match");
	derived_json("derived/no-mac.json", EF_EINVALID, "not a SOPS document");
}

/* Without a key (edgeflip lint): the structure, never a value. What only
 * the key can catch (a flipped ciphertext bit, a dropped value, a MAC that
 * does not match) passes; what is malformed does not. */
static void inspect_without_key(void **state)
{
	ef_sops_info info;
	ef_buf in;
	cJSON *doc = load_json("real/humphd-secret.enc.json");
	char *before = cJSON_PrintUnformatted(doc), *after;

	(void)state;
	assert_int_equal(ef_sops_inspect_tree(&info, doc, "j"), 0);
	/* 6 top-level values, complex.value and the 3 items of complex.array */
	assert_int_equal(info.encrypted, 10);
	assert_int_equal(info.plain, 0);
	assert_int_equal(ef_strv_len(info.recipients), 3);
	assert_string_equal(info.recipients[0],
	                    "age1je6kjhzuhdjy3fqptpttxjh5k8q46vygzlgtpuq3030c947pc5tqz9dqvr");
	assert_int_equal(info.age_stanzas, 3);
	assert_string_equal(info.version, "3.9.2");
	ef_sops_info_dispose(&info);
	after = cJSON_PrintUnformatted(doc);
	assert_string_equal(before, after); /* not modified */
	free(before), free(after);
	cJSON_Delete(doc);
	readf(&in, "real/flux-env.env");
	assert_int_equal(ef_sops_inspect_dotenv(&info, in.ptr, in.len, "e"), 0);
	assert_int_equal(info.encrypted, 1);
	assert_int_equal(ef_strv_len(info.recipients), 1);
	ef_sops_info_dispose(&info);
	ef_buf_dispose(&in);
	/* only the key catches these */
	readf(&in, "derived/bad-value.env");
	assert_int_equal(ef_sops_inspect_dotenv(&info, in.ptr, in.len, "e"), 0);
	ef_sops_info_dispose(&info);
	ef_buf_dispose(&in);
	doc = load_json("derived/dropped-value.json");
	assert_int_equal(ef_sops_inspect_tree(&info, doc, "j"), 0);
	ef_sops_info_dispose(&info);
	cJSON_Delete(doc);
	/* malformed: refused as by the decryption */
	readf(&in, "derived/malformed.env");
	assert_int_equal(ef_sops_inspect_dotenv(&info, in.ptr, in.len, "m.env"), EF_EINVALID);
	assert_non_null(strstr(ef_error_last(), "not a SOPS value"));
	ef_sops_info_dispose(&info);
	ef_buf_dispose(&in);
	doc = load_json("derived/no-mac.json");
	assert_int_equal(ef_sops_inspect_tree(&info, doc, "n.json"), EF_EINVALID);
	ef_sops_info_dispose(&info);
	cJSON_Delete(doc);
	/* a damaged age entry */
	doc = load_json("real/humphd-secret.enc.json");
	{
		cJSON *age = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "sops"), "age");
		cJSON *e = cJSON_GetObjectItem(cJSON_GetArrayItem(age, 0), "enc");
		cJSON_SetValuestring(e, "-----BEGIN AGE ENCRYPTED FILE-----\nnot base64!\n"
		                        "-----END AGE ENCRYPTED FILE-----\n");
	}
	assert_int_equal(ef_sops_inspect_tree(&info, doc, "a.json"), EF_EINVALID);
	assert_non_null(strstr(ef_error_last(), "age entry 0"));
	ef_sops_info_dispose(&info);
	cJSON_Delete(doc);
}

/* A value moved to another key fails: the key path is the additional data. */
static void moved_value_refused(void **state)
{
	ef_age_identities *ids = load_ids("keys/humphd-key.txt");
	cJSON *doc = load_json("real/humphd-secret.enc.json");
	cJSON *a = cJSON_GetObjectItemCaseSensitive(doc, "secret");
	cJSON *b = cJSON_GetObjectItemCaseSensitive(doc, "string");
	char *tmp = a->valuestring;

	(void)state;
	a->valuestring = b->valuestring;
	b->valuestring = tmp;
	assert_int_equal(ef_sops_decrypt_tree(doc, ids, "moved.json"), EF_EREJECTED);
	assert_non_null(strstr(ef_error_last(), "secret:"));
	cJSON_Delete(doc);
	ef_age_identities_free(ids);
}

/* A value replaced by plaintext is refused (not silently used). */
static void plaintext_value_refused(void **state)
{
	ef_age_identities *ids = load_ids("keys/humphd-key.txt");
	cJSON *doc = load_json("real/humphd-secret.enc.json");

	(void)state;
	cJSON_ReplaceItemInObjectCaseSensitive(doc, "string", cJSON_CreateString("hello"));
	assert_int_equal(ef_sops_decrypt_tree(doc, ids, "p.json"), EF_EREJECTED);
	assert_non_null(strstr(ef_error_last(), "not encrypted"));
	cJSON_Delete(doc);
	ef_age_identities_free(ids);
}

/* ---- the age layer --------------------------------------------------------- */

static int b64dec(unsigned char *out, size_t max, const char *b64, size_t *n)
{
	return sodium_base642bin(out, max, b64, strlen(b64), NULL, n, NULL,
	                         sodium_base64_VARIANT_ORIGINAL);
}

static char *age_enc_of(cJSON *doc)
{
	cJSON *s = cJSON_GetObjectItemCaseSensitive(doc, "sops");
	cJSON *age = cJSON_GetObjectItemCaseSensitive(s, "age");
	return cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(age, 0), "enc")->valuestring;
}

static void age_damage_refused(void **state)
{
	ef_age_identities *ids = load_ids("keys/flux-age.txt");
	cJSON *doc = load_json("real/flux-file.txt");
	const char *armored = age_enc_of(doc);
	ef_buf key = EF_BUF_INIT(64);
	ef_buf bin = EF_BUF_INIT(4096);
	const char *b = strchr(armored, '\n') + 1;
	const char *e = strstr(armored, "-----END");
	size_t n;
	unsigned char raw[1024];

	(void)state;
	/* Intact: a 32-byte data key. */
	assert_int_equal(ef_age_decrypt(&key, ids, armored, strlen(armored)), 0);
	assert_int_equal(key.len, 32);
	ef_buf_dispose_secret(&key);

	/* The binary form, then damaged in the header, the MAC and the payload. */
	{
		char b64[2048];
		size_t j = 0;
		for (const char *p = b; p < e; p++)
			if (*p != '\n')
				b64[j++] = *p;
		b64[j] = '\0';
		assert_int_equal(b64dec(raw, sizeof(raw), b64, &n), 0);
	}
	assert_int_equal(ef_age_decrypt(&key, ids, (char *)raw, n), 0);
	assert_int_equal(key.len, 32);
	ef_buf_dispose_secret(&key);
	{
		size_t mac = (size_t)((const unsigned char *)find_bytes(raw, n, "\n--- ", 5) - raw);
		unsigned char c[1024];
		/* a flipped byte of the stanza line's share: nothing opens it */
		memcpy(c, raw, n);
		c[30] ^= 1;
		key = (ef_buf)EF_BUF_INIT(64);
		assert_true(ef_age_decrypt(&key, ids, (char *)c, n) < 0);
		/* a flipped MAC byte */
		memcpy(c, raw, n);
		c[mac + 6] = c[mac + 6] == 'A' ? 'B' : 'A';
		assert_int_equal(ef_age_decrypt(&key, ids, (char *)c, n), EF_EREJECTED);
		/* a flipped payload byte */
		memcpy(c, raw, n);
		c[n - 1] ^= 0x80;
		assert_int_equal(ef_age_decrypt(&key, ids, (char *)c, n), EF_EREJECTED);
		assert_non_null(strstr(ef_error_last(), "payload"));
		/* truncated payload */
		assert_true(ef_age_decrypt(&key, ids, (char *)raw, n - 20) < 0);
		/* truncated header */
		assert_int_equal(ef_age_decrypt(&key, ids, (char *)raw, mac), EF_EINVALID);
		ef_buf_dispose_secret(&key);
	}
	ef_buf_dispose(&bin);
	cJSON_Delete(doc);
	ef_age_identities_free(ids);
}

/* Files written by Debian's age (data/secrets/make-fixtures.sh): several
 * chunks, exactly one full chunk (armored), empty, and a second stanza. */
static void age_files_from_age(void **state)
{
	static const struct {
		const char *file;
		size_t n;
	} cases[] = {
	        {"three-chunks.age", 150000},
	        {"exact-chunk.age.asc", 65536},
	        {"empty.age", 0},
	        {"two-recipients.age", 1000},
	};
	ef_age_identities *ids = NULL;
	ef_buf key, in, out;

	(void)state;
	assert_int_equal(ef_read_file(&key, EF_TEST_DATA "/secrets/test-identity.txt", 4096), 0);
	assert_int_equal(ef_age_identities_parse(&ids, key.ptr, key.len, "test-identity.txt"), 0);
	ef_buf_dispose(&key);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[512];
		snprintf(path, sizeof(path), EF_TEST_DATA "/secrets/%s", cases[i].file);
		assert_int_equal(ef_read_file(&in, path, 1 << 20), 0);
		out = (ef_buf)EF_BUF_INIT(1 << 20);
		assert_int_equal(ef_age_decrypt(&out, ids, in.ptr, in.len), 0);
		assert_int_equal(out.len, cases[i].n);
		for (size_t j = 0; j < cases[i].n; j++)
			if ((unsigned char)out.ptr[j] != (j * 31 + 7) % 251)
				fail_msg("%s: byte %zu differs", cases[i].file, j);
		ef_buf_dispose(&out);
		/* A chunk boundary cut away: refused, never a short plaintext. */
		if (cases[i].n > 65536) {
			out = (ef_buf)EF_BUF_INIT(1 << 20);
			assert_true(ef_age_decrypt(&out, ids, in.ptr,
			                           in.len - (150000 - 131072) - 16) < 0);
			ef_buf_dispose(&out);
		}
		/* The plaintext cap is a cap: EF_ETOOBIG, not a silent cut. */
		if (cases[i].n > 100) {
			out = (ef_buf)EF_BUF_INIT(100);
			assert_int_equal(ef_age_decrypt(&out, ids, in.ptr, in.len), EF_ETOOBIG);
			ef_buf_dispose(&out);
		}
		ef_buf_dispose(&in);
	}
	ef_age_identities_free(ids);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(identities_and_recipients),
	        cmocka_unit_test(identity_typos_refused),
	        cmocka_unit_test(json_document),
	        cmocka_unit_test(binary_document),
	        cmocka_unit_test(dotenv_documents),
	        cmocka_unit_test(wrong_identity_refused),
	        cmocka_unit_test(derived_files),
	        cmocka_unit_test(inspect_without_key),
	        cmocka_unit_test(moved_value_refused),
	        cmocka_unit_test(plaintext_value_refused),
	        cmocka_unit_test(age_damage_refused),
	        cmocka_unit_test(age_files_from_age),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
