/* Commit signature verification: SSH (SSHSIG) and OpenPGP v4, offline,
 * against keys the device trusts. See docs/verification.md. */
#ifndef EDGEFLIP_VERIFY_H
#define EDGEFLIP_VERIFY_H

#include <stddef.h>
#include <stdint.h>

typedef struct ef_trust ef_trust;

/* Loads the trusted keys: an OpenSSH allowed_signers file and/or an armored
 * OpenPGP key file (several keys allowed). Either path may be NULL, not both.
 * Errors name the file and line (allowed_signers) or key (OpenPGP). */
int ef_trust_load(ef_trust **out, const char *allowed_signers, const char *openpgp_keys);
void ef_trust_free(ef_trust *t);

typedef struct {
	int verdict;      /* 0 = good; EF_EREJECTED otherwise */
	char format[8];   /* "ssh" | "openpgp" | "" (unsigned) */
	char signer[256]; /* SSH principal or OpenPGP primary fingerprint (hex, upper) */
	char key[160]; /* SSH "SHA256:<base64>" key fingerprint, or the signing (sub)key fingerprint
	                */
	char reason[512]; /* why rejected, or "good signature" */
} ef_verify_result;

/* Verifies one raw commit object (`git cat-file commit` bytes). `now` is the
 * device clock (unix seconds) used for key validity besides the commit's own
 * committer time. Returns 0 for a good signature by a trusted key; otherwise
 * EF_EREJECTED (or EF_EINVALID for a malformed object) with out->reason set. */
int ef_verify_commit(ef_verify_result *out, const ef_trust *t, const char *raw, size_t len,
                     int64_t now);

#endif
