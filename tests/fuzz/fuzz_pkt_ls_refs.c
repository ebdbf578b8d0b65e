/* libFuzzer target: the protocol v2 ls-refs reply parser (core/source/pkt.c). The
 * first byte picks the ref looked for; the rest is the reply. */
#define _GNU_SOURCE /* memmem */
#include "../../core/source/pkt.h"
#include "edgeflip/buf.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const refs[] = {"refs/heads/main", "refs/heads/m", "refs/heads/main2",
	                                   "refs/heads/feature/x"};
	char oid[65];
	char **others = NULL;
	bool found = true;
	size_t n;
	int rc;

	if (size == 0)
		return 0;
	/* Odd first bytes also collect the preview refs (refs/pull/). */
	rc = ef_pkt_ls_refs_parse(oid, &found, (const char *)data + 1, size - 1, refs[data[0] % 4],
	                          "refs/pull/", data[0] & 4 ? &others : NULL);
	for (size_t i = 0; others && others[i]; i++)
		if (!strstr(others[i], " refs/pull/"))
			abort();
	if (rc != 0 && others)
		abort();
	ef_strv_free(others);
	n = strlen(oid);
	if (rc == 0 && found) {
		/* An id is 40 or 64 lower-case hex digits taken from the reply. */
		if ((n != 40 && n != 64) || strspn(oid, "0123456789abcdef") != n ||
		    !memmem(data + 1, size - 1, oid, n))
			abort();
	} else if (found || n != 0) {
		abort();
	}
	return 0;
}
