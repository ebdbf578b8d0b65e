/* A length-aware parser for raw Git commit objects (`git cat-file commit`
 * bytes): splits the signature header from the signed payload and reads the
 * tree, parents and committer time. Private to core/trust.
 *
 * Stricter than libgit2's git_commit_extract_signature on purpose: no NUL
 * byte anywhere, headers end at the first blank line (a "gpgsig" line in the
 * message is message text), and at most one signature header
 * (`gpgsig` or `gpgsig-sha256`). See docs/verification.md. */
#ifndef EDGEFLIP_VERIFY_COMMIT_H
#define EDGEFLIP_VERIFY_COMMIT_H

#include <stddef.h>
#include <stdint.h>

/* Largest commit object accepted (a commit is headers and a message). */
#define EF_COMMIT_MAX_BYTES (4u * 1024 * 1024)

typedef struct {
	/* The object minus the signature header lines; NULL when unsigned. */
	uint8_t *payload;
	size_t payload_len;
	/* The signature: the header value and its continuation lines with the
	 * leading space removed and newlines kept; NULL when unsigned. */
	char *signature;
	size_t signature_len;
	const char *signature_header; /* "gpgsig", "gpgsig-sha256" or NULL */

	char tree[65];  /* hex object id (40 or 64 digits) */
	char **parents; /* ef_strv of hex ids; NULL when none */
	int64_t committer_time;
	int committer_tz_minutes; /* offset east of UTC */
} ef_commit_info;

/* Parses `raw`. Returns 0 (also for an unsigned commit: signature == NULL),
 * or EF_EINVALID with a message in ef_error_last() that says what is wrong
 * ("NUL byte in commit object at offset 123", "duplicate signature header
 * ..."), or EF_ETOOBIG / EF_ENOMEM. *out is zeroed first and must be disposed
 * even after an error. */
int ef_commit_parse(ef_commit_info *out, const char *raw, size_t len);
void ef_commit_info_dispose(ef_commit_info *c);

#endif
