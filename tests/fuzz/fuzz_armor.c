/* libFuzzer target: OpenPGP ASCII armor (ef_pgp_dearmor), as found in a
 * commit's gpgsig header and in the trusted key file. */
#include "../../core/trust/openpgp.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const labels[] = {"PGP SIGNATURE", "PGP PUBLIC KEY BLOCK"};

	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		uint8_t *out = NULL;
		size_t out_len = 0;

		if (ef_pgp_dearmor(&out, &out_len, (const char *)data, size, labels[i]) == 0) {
			/* Decoded data is never larger than its base64 text. */
			if (!out || out_len == 0 || out_len > size)
				abort();
			ef_pgp_crc24(out, out_len);
		} else if (out) {
			abort();
		}
		free(out);
	}
	return 0;
}
