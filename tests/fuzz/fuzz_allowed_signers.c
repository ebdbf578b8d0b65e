/* libFuzzer target: allowed_signers parsing and lookup
 * (core/trust/allowed_signers.c). */
#include "../../core/trust/allowed_signers.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ef_allowed_signer *who;
	ef_allowed_signers *as;

	if (ef_allowed_signers_parse(&as, (const char *)data, size, "fuzz") < 0)
		return 0;
	for (size_t i = 0; i < as->n; i++) {
		if (ef_allowed_signers_match(&who, as, as->v[i].key, as->v[i].key_len, "SHA256:x",
		                             1748779200, 1780000000) == 0 &&
		    !who)
			abort();
	}
	(void)ef_ssh_parse_time(&(int64_t){0}, (const char *)data, size > 20 ? 20 : size);
	ef_allowed_signers_free(as);
	return 0;
}
