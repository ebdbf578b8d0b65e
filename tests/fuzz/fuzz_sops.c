/* libFuzzer target: SOPS documents and age files (core/secrets/). The input
 * is tried as a SOPS dotenv document, as a SOPS JSON document (each also
 * inspected without a key, as lint does), as an age
 * file (binary and armored) and as an age identity file. The identity is the
 * public test key of the sops-age package, so inputs derived from its files
 * reach the AES-GCM, MAC and payload code. It is also read as a service's
 * env_file (core/deploy/files.c): dotenv, `format: raw`, json and yaml. */
#include "edgeflip/buf.h"
#include "edgeflip/files.h"
#include "edgeflip/secrets.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char identity[] =
        "AGE-SECRET-KEY-1QXRVEJH9S4NQU0FPD6V79ESZQ8S6PXH3L8V40EVPTHFH6KNKD4DQ7SKC4P\n";

typedef struct {
	const char *text;
	size_t len;
} one_file;

static int one_read(void *ctx, ef_buf *out, const char *rel, size_t cap)
{
	const one_file *f = ctx;

	(void)rel;
	ef_buf_init(out, cap);
	return ef_buf_put(out, f->text, f->len);
}

static int one_stat(void *ctx, ef_compose_kind *out, const char *rel)
{
	(void)ctx;
	(void)rel;
	*out = EF_COMPOSE_FILE;
	return 0;
}

static int one_list(void *ctx, char ***out, const char *rel)
{
	(void)ctx;
	(void)rel;
	*out = NULL;
	return 0;
}

/* The input as env_file NAME (format raw or not). */
static void env_file(const ef_age_identities *ids, const char *text, size_t size, const char *name,
                     const char *format)
{
	one_file f = {text, size};
	ef_compose_src src = {one_read, one_stat, one_list, &f, "fuzz"};
	ef_files files = {.src = &src, .age = ids};
	ef_env_file ef = {(char *)name, true, (char *)format};
	ef_env env;

	ef_env_init(&env);
	(void)ef_files_env(&env, &files, &ef);
	ef_env_dispose(&env);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ef_age_identities *ids;
	const char *text = (const char *)data;
	ef_buf out = EF_BUF_INIT(1 << 20);
	ef_age_identities *other = NULL;
	ef_sops_info info;
	size_t stanzas;
	cJSON *doc;

	if (!ids && ef_age_identities_parse(&ids, identity, sizeof(identity) - 1, "fuzz") < 0)
		abort();
	if (ef_sops_dotenv_is_encrypted(text, size)) {
		(void)ef_sops_inspect_dotenv(&info, text, size, "fuzz.env");
		ef_sops_info_dispose(&info);
		(void)ef_sops_decrypt_dotenv(&out, ids, text, size, "fuzz.env");
	}
	ef_buf_dispose_secret(&out);
	if ((doc = cJSON_ParseWithLength(text, size))) {
		if (ef_sops_tree_is_encrypted(doc)) {
			(void)ef_sops_inspect_tree(&info, doc, "fuzz.json");
			ef_sops_info_dispose(&info);
			(void)ef_sops_decrypt_tree(doc, ids, "fuzz.json");
		}
		cJSON_Delete(doc);
	}
	out = (ef_buf)EF_BUF_INIT(1 << 20);
	(void)ef_age_inspect(&stanzas, text, size);
	(void)ef_age_decrypt(&out, ids, text, size);
	ef_buf_dispose_secret(&out);
	if (ef_age_identities_parse(&other, text, size, "fuzz-keys") == 0)
		ef_age_identities_free(other);
	env_file(ids, text, size, "fuzz.env", NULL);
	env_file(ids, text, size, "fuzz.env", "raw");
	env_file(ids, text, size, "fuzz.json", NULL);
	env_file(ids, text, size, "fuzz.yaml", NULL);
	return 0;
}
