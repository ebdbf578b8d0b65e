/* Hashes and public-key primitives for OpenPGP verification: mbedTLS for
 * SHA-1/SHA-2, RSA and ECDSA, libsodium for Ed25519. Hides the differences
 * between mbedTLS 2.28 and 3.x. Private to core/trust. */
#ifndef EDGEFLIP_VERIFY_PGP_CRYPTO_H
#define EDGEFLIP_VERIFY_PGP_CRYPTO_H

#include <mbedtls/md.h>

#include <stddef.h>
#include <stdint.h>

/* OpenPGP hash algorithm ids (RFC 9580 section 9.5). */
enum {
	PGP_HASH_MD5 = 1,
	PGP_HASH_SHA1 = 2,
	PGP_HASH_RIPEMD160 = 3,
	PGP_HASH_SHA256 = 8,
	PGP_HASH_SHA384 = 9,
	PGP_HASH_SHA512 = 10,
	PGP_HASH_SHA224 = 11,
};

enum { PGP_CURVE_NONE = 0, PGP_CURVE_P256, PGP_CURVE_P384 };

#define PGP_HASH_MAX 64

typedef struct {
	mbedtls_md_context_t ctx;
	size_t len;
} pgp_hash;

/* "SHA-256", "SHA-1", ... or "unknown". */
const char *pgp_hash_name(uint8_t algo);
/* Starts a hash; SHA-1 is allowed here for fingerprints. Returns 0 or -1. */
int pgp_hash_init(pgp_hash *h, uint8_t algo);
int pgp_hash_update(pgp_hash *h, const void *data, size_t len);
/* Writes h->len bytes to out (PGP_HASH_MAX room) and frees the context. */
int pgp_hash_final(pgp_hash *h, uint8_t *out);
void pgp_hash_free(pgp_hash *h);

/* Each returns 0 when the signature is valid, -1 otherwise. Inputs are
 * big-endian magnitudes with any length; they are checked here. */
int pgp_rsa_verify(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len,
                   uint8_t hash_algo, const uint8_t *digest, size_t digest_len, const uint8_t *sig,
                   size_t sig_len);
int pgp_ecdsa_verify(int curve, const uint8_t *point, size_t point_len, const uint8_t *digest,
                     size_t digest_len, const uint8_t *r, size_t r_len, const uint8_t *s,
                     size_t s_len);
int pgp_ed25519_verify(const uint8_t pk[32], const uint8_t *msg, size_t msg_len,
                       const uint8_t sig[64]);

#endif
