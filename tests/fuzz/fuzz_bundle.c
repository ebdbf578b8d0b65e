/* libFuzzer target: the git bundle header parser (core/source/bundle.c).
 * On success every id is 40 lower-case hex digits, every ref is found by
 * its name, and the pack starts with "PACK" inside the input. */
#include "../../core/source/bundle.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_oid(const char *oid)
{
	if (strlen(oid) != 40 || strspn(oid, "0123456789abcdef") != 40)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ef_bundle b;

	if (ef_bundle_parse(&b, (const char *)data, size, "fuzz.bundle") != 0) {
		if (b.nrefs || b.nprereqs || b.refs || b.prereqs)
			abort();
		return 0;
	}
	if ((b.version != 2 && b.version != 3) || b.nrefs == 0 || b.pack_offset + 4 > size ||
	    memcmp(data + b.pack_offset, "PACK", 4) != 0)
		abort();
	for (size_t i = 0; i < b.nprereqs; i++)
		check_oid(b.prereqs[i].oid);
	for (size_t i = 0; i < b.nrefs; i++) {
		check_oid(b.refs[i].oid);
		if (!b.refs[i].name || !ef_bundle_find(&b, b.refs[i].name))
			abort();
	}
	ef_bundle_dispose(&b);
	return 0;
}
