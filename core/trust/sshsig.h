/* SSH signatures (OpenSSH PROTOCOL.sshsig) as git writes them with
 * gpg.format=ssh, and SSH public key blobs. Private to core/trust.
 *
 * Verification is split so the caller can decide trust in between:
 *   ef_sshsig_parse   armor and structure (magic, version, fields, no trailing bytes)
 *   ef_sshsig_check   policy: namespace "git", hash sha256|sha512, supported
 *                     key type and signature algorithm (no ssh-rsa/SHA-1, no sk-*)
 *   ef_sshsig_verify  the cryptography, with the key carried in the signature
 *                     (the caller must have matched that key against trusted keys).
 * Each returns 0 or EF_EREJECTED with the reason in ef_error_last(). */
#ifndef EDGEFLIP_VERIFY_SSHSIG_H
#define EDGEFLIP_VERIFY_SSHSIG_H

#include <stddef.h>
#include <stdint.h>

/* Largest armored signature accepted (RSA 16384 is about 5 KB). */
#define EF_SSHSIG_MAX_ARMOR (64u * 1024)
/* "SHA256:" + 43 base64 characters + NUL. */
#define EF_SSH_FINGERPRINT_LEN 64

typedef struct {
	uint8_t *blob; /* the decoded signature; the pointers below point into it */
	size_t blob_len;
	uint32_t version;
	const uint8_t *pubkey; /* SSH public key blob: the signer's claim */
	size_t pubkey_len;
	const uint8_t *ns;
	size_t ns_len;
	const uint8_t *hash_alg;
	size_t hash_alg_len;
	const uint8_t *sigtype; /* inside the signature field */
	size_t sigtype_len;
	const uint8_t *sig; /* the algorithm-specific signature bytes */
	size_t sig_len;
} ef_sshsig;

int ef_sshsig_parse(ef_sshsig *out, const char *armored, size_t len);
int ef_sshsig_check(const ef_sshsig *s);
int ef_sshsig_verify(const ef_sshsig *s, const uint8_t *payload, size_t payload_len);
void ef_sshsig_dispose(ef_sshsig *s);

/* Checks that `blob` is a public key of a type edgeflip verifies (ssh-ed25519,
 * ecdsa-sha2-nistp256/384, ssh-rsa of at least 2048 bits), well formed with no
 * trailing bytes, and that its type name equals `type` when `type` is not
 * NULL. Returns 0 or EF_EINVALID / EF_EREJECTED with a message. */
int ef_sshkey_check(const uint8_t *blob, size_t len, const char *type);

/* "SHA256:<base64 without padding>" of the key blob, like ssh-keygen -l. */
void ef_sshkey_fingerprint(char out[EF_SSH_FINGERPRINT_LEN], const uint8_t *blob, size_t len);

#endif
