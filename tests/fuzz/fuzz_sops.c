/* libFuzzer target: SOPS documents and age files (core/secrets/). The input
 * is tried as a SOPS dotenv document, as a SOPS JSON document, as an age
 * file (binary and armored) and as an age identity file. The identity is the
 * public test key of the sops-age package, so inputs derived from its files
 * reach the AES-GCM, MAC and payload code. */
#include "edgeflip/buf.h"
#include "edgeflip/secrets.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char identity[] =
	"AGE-SECRET-KEY-1QXRVEJH9S4NQU0FPD6V79ESZQ8S6PXH3L8V40EVPTHFH6KNKD4DQ7SKC4P\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ef_age_identities *ids;
	const char *text = (const char *)data;
	ef_buf out = EF_BUF_INIT(1 << 20);
	ef_age_identities *other = NULL;
	cJSON *doc;

	if (!ids && ef_age_identities_parse(&ids, identity, sizeof(identity) - 1, "fuzz") < 0)
		abort();
	if (ef_sops_dotenv_is_encrypted(text, size))
		(void)ef_sops_decrypt_dotenv(&out, ids, text, size, "fuzz.env");
	ef_buf_dispose_secret(&out);
	if ((doc = cJSON_ParseWithLength(text, size))) {
		if (ef_sops_tree_is_encrypted(doc))
			(void)ef_sops_decrypt_tree(doc, ids, "fuzz.json");
		cJSON_Delete(doc);
	}
	out = (ef_buf)EF_BUF_INIT(1 << 20);
	(void)ef_age_decrypt(&out, ids, text, size);
	ef_buf_dispose_secret(&out);
	if (ef_age_identities_parse(&other, text, size, "fuzz-keys") == 0)
		ef_age_identities_free(other);
	return 0;
}
