/* OpenSSH allowed_signers files (ssh-keygen(1) "ALLOWED SIGNERS"), as git
 * uses them through gpg.ssh.allowedSignersFile. Private to core/trust.
 *
 *   principals [options] keytype base64-key [comment]
 *
 * Options: namespaces="git,...", valid-after="YYYYMMDD[HHMM[SS]][Z]",
 * valid-before="...". Times without Z are read as UTC too (OpenSSH reads them
 * as local time; a device's local zone is not something to trust).
 * cert-authority lines and key types edgeflip cannot verify are load errors
 * that name the file and line. */
#ifndef EDGEFLIP_VERIFY_ALLOWED_SIGNERS_H
#define EDGEFLIP_VERIFY_ALLOWED_SIGNERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest allowed_signers file accepted. */
#define EF_ALLOWED_SIGNERS_MAX_BYTES (1024u * 1024)

typedef struct {
	char *principals; /* as written, e.g. "alice@example.com,ci" */
	uint8_t *key;     /* SSH public key blob */
	size_t key_len;
	char **namespaces; /* ef_strv of patterns; NULL: any namespace */
	bool has_valid_after, has_valid_before;
	int64_t valid_after, valid_before; /* unix seconds, inclusive bounds */
	unsigned line;
} ef_allowed_signer;

typedef struct {
	ef_allowed_signer *v;
	size_t n;
	char *name; /* file name, for messages */
} ef_allowed_signers;

/* Parses the text of an allowed_signers file; `name` is used in messages
 * ("NAME:LINE: ..."). Returns 0, EF_EINVALID, EF_ETOOBIG or EF_ENOMEM. A file
 * without any key is valid (it trusts nobody). */
int ef_allowed_signers_parse(ef_allowed_signers **out, const char *text, size_t len,
                             const char *name);
void ef_allowed_signers_free(ef_allowed_signers *as);

/* Finds the line that trusts `key` (byte for byte) for namespace "git" and is
 * valid at `commit_time` and, for valid-before, also at `now`. `fingerprint`
 * is only used in messages. Returns 0 with *out set (borrowed), or
 * EF_EREJECTED with a reason in ef_error_last(). */
int ef_allowed_signers_match(const ef_allowed_signer **out, const ef_allowed_signers *as,
                             const uint8_t *key, size_t key_len, const char *fingerprint,
                             int64_t commit_time, int64_t now);

/* "YYYYMMDD", "YYYYMMDDHHMM" or "YYYYMMDDHHMMSS", optionally followed by
 * 'Z'; read as UTC in every case. Returns 0 or EF_EINVALID. */
int ef_ssh_parse_time(int64_t *out, const char *s, size_t len);

/* OpenSSH pattern lists: comma separated, '*' and '?' wildcards, a leading
 * '!' negates. Returns true when `s` matches a pattern and no negated one. */
bool ef_ssh_match_pattern_list(const char *s, char *const *patterns);

#endif
