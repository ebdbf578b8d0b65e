/* libFuzzer target: the raw commit parser (core/trust/commit.c). */
#include "../../core/trust/commit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ef_commit_info c;

	if (ef_commit_parse(&c, (const char *)data, size) == 0 && c.signature) {
		/* The payload and the signature come from disjoint parts of the object. */
		if (c.payload_len + c.signature_len > size || c.signature_len == 0 ||
		    c.signature[c.signature_len - 1] != '\n' || memchr(c.payload, 0, c.payload_len))
			abort();
	}
	ef_commit_info_dispose(&c);
	return 0;
}
