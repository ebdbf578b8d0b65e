/* The header of a `git bundle` file (git Documentation/gitformat-bundle.txt),
 * for `edgeflip import`. Private to core/source (and its tests, fuzz_bundle).
 *
 *   "# v2 git bundle" LF | "# v3 git bundle" LF *("@" capability LF)
 *   *("-" oid [SP comment] LF)      prerequisites: commits the pack needs
 *   *(oid SP refname LF)            the refs it carries
 *   LF
 *   pack                            a (thin) packfile, "PACK"...
 *
 * Only SHA-1 bundles without a filter are accepted (the cache is SHA-1,
 * and a filtered bundle lacks objects). */
#ifndef EDGEFLIP_BUNDLE_H
#define EDGEFLIP_BUNDLE_H

#include <stddef.h>

#define EF_BUNDLE_MAX_HEADER (1u << 20) /* bytes before the pack */
#define EF_BUNDLE_MAX_LINE   4096u      /* one header line */
#define EF_BUNDLE_MAX_REFS   10000u     /* prerequisites and refs, each */
#define EF_BUNDLE_OID_HEX    41         /* a SHA-1 id and the NUL */

typedef struct {
	char oid[EF_BUNDLE_OID_HEX];
	char *name; /* the ref name; NULL for a prerequisite */
} ef_bundle_ref;

typedef struct {
	int version;            /* 2 or 3 */
	ef_bundle_ref *prereqs; /* commits that must exist where it is applied */
	size_t nprereqs;
	ef_bundle_ref *refs;
	size_t nrefs;
	size_t pack_offset; /* where "PACK" starts in the file */
} ef_bundle;

void ef_bundle_init(ef_bundle *b);
void ef_bundle_dispose(ef_bundle *b);
/* Parses the header at the start of `data` (`len` bytes: the whole file or
 * at least its first EF_BUNDLE_MAX_HEADER + 4 bytes). EF_EINVALID with a
 * message naming `file` and the line on anything else than the grammar
 * above; `b` is then empty. */
int ef_bundle_parse(ef_bundle *b, const char *data, size_t len, const char *file);
/* The ref named exactly `name`, or NULL. */
const ef_bundle_ref *ef_bundle_find(const ef_bundle *b, const char *name);

#endif
