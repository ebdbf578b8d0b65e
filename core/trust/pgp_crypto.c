/* Crypto primitives for OpenPGP verification. The only file that knows which
 * mbedTLS major version it is built against. */
#include "pgp_crypto.h"

#include "edgeflip/features.h"

#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/rsa.h>
#include <sodium.h>

#include <string.h>

/* RSA moduli outside this range are refused (bits). */
#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 8192

static mbedtls_md_type_t md_type(uint8_t algo)
{
	switch (algo) {
	case PGP_HASH_SHA1:
		return MBEDTLS_MD_SHA1;
	case PGP_HASH_SHA256:
		return MBEDTLS_MD_SHA256;
	case PGP_HASH_SHA384:
		return MBEDTLS_MD_SHA384;
	case PGP_HASH_SHA512:
		return MBEDTLS_MD_SHA512;
	default:
		return MBEDTLS_MD_NONE;
	}
}

const char *pgp_hash_name(uint8_t algo)
{
	switch (algo) {
	case PGP_HASH_MD5:
		return "MD5";
	case PGP_HASH_SHA1:
		return "SHA-1";
	case PGP_HASH_RIPEMD160:
		return "RIPEMD-160";
	case PGP_HASH_SHA256:
		return "SHA-256";
	case PGP_HASH_SHA384:
		return "SHA-384";
	case PGP_HASH_SHA512:
		return "SHA-512";
	case PGP_HASH_SHA224:
		return "SHA-224";
	case 12:
		return "SHA3-256";
	case 14:
		return "SHA3-512";
	default:
		return "unknown";
	}
}

int pgp_hash_init(pgp_hash *h, uint8_t algo)
{
	const mbedtls_md_info_t *info = mbedtls_md_info_from_type(md_type(algo));

	mbedtls_md_init(&h->ctx);
	h->len = 0;
	if (!info || mbedtls_md_setup(&h->ctx, info, 0) != 0 || mbedtls_md_starts(&h->ctx) != 0) {
		mbedtls_md_free(&h->ctx);
		return -1;
	}
	h->len = mbedtls_md_get_size(info);
	return 0;
}

int pgp_hash_update(pgp_hash *h, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	return mbedtls_md_update(&h->ctx, data, len) == 0 ? 0 : -1;
}

int pgp_hash_final(pgp_hash *h, uint8_t *out)
{
	int rc = mbedtls_md_finish(&h->ctx, out) == 0 ? 0 : -1;

	mbedtls_md_free(&h->ctx);
	return rc;
}

void pgp_hash_free(pgp_hash *h)
{
	mbedtls_md_free(&h->ctx);
}

static void strip_zeros(const uint8_t **p, size_t *len)
{
	while (*len > 0 && (*p)[0] == 0) {
		(*p)++;
		(*len)--;
	}
}

int pgp_rsa_verify(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len,
                   uint8_t hash_algo, const uint8_t *digest, size_t digest_len, const uint8_t *sig,
                   size_t sig_len)
{
	uint8_t padded[RSA_MAX_BITS / 8];
	mbedtls_md_type_t md = md_type(hash_algo);
	mbedtls_rsa_context rsa;
	size_t bits;
	int rc = -1;

	strip_zeros(&n, &n_len);
	strip_zeros(&e, &e_len);
	strip_zeros(&sig, &sig_len);
	if (md == MBEDTLS_MD_NONE || n_len == 0 || n_len > sizeof(padded) || e_len == 0 ||
	    e_len > 8 || sig_len > n_len)
		return -1;
	bits = n_len * 8;
	for (unsigned top = n[0]; !(top & 0x80); top <<= 1)
		bits--;
	if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS)
		return -1;
	/* OpenPGP MPIs drop leading zeros; PKCS#1 wants the modulus length. */
	memset(padded, 0, n_len - sig_len);
	memcpy(padded + (n_len - sig_len), sig, sig_len);

#ifdef EF_HAVE_MBEDTLS3
	mbedtls_rsa_init(&rsa);
#else
	mbedtls_rsa_init(&rsa, MBEDTLS_RSA_PKCS_V15, 0);
#endif
	if (mbedtls_rsa_import_raw(&rsa, n, n_len, NULL, 0, NULL, 0, NULL, 0, e, e_len) != 0 ||
	    mbedtls_rsa_complete(&rsa) != 0 || mbedtls_rsa_check_pubkey(&rsa) != 0 ||
	    mbedtls_rsa_get_len(&rsa) != n_len)
		goto out;
#ifdef EF_HAVE_MBEDTLS3
	rc = mbedtls_rsa_pkcs1_verify(&rsa, md, (unsigned int)digest_len, digest, padded);
#else
	rc = mbedtls_rsa_pkcs1_verify(&rsa, NULL, NULL, MBEDTLS_RSA_PUBLIC, md,
	                              (unsigned int)digest_len, digest, padded);
#endif
	rc = rc == 0 ? 0 : -1;
out:
	mbedtls_rsa_free(&rsa);
	return rc;
}

int pgp_ecdsa_verify(int curve, const uint8_t *point, size_t point_len, const uint8_t *digest,
                     size_t digest_len, const uint8_t *r, size_t r_len, const uint8_t *s,
                     size_t s_len)
{
	mbedtls_ecp_group_id id;
	mbedtls_ecp_group grp;
	mbedtls_ecp_point q;
	mbedtls_mpi mr, ms;
	int rc = -1;

	switch (curve) {
	case PGP_CURVE_P256:
		id = MBEDTLS_ECP_DP_SECP256R1;
		break;
	case PGP_CURVE_P384:
		id = MBEDTLS_ECP_DP_SECP384R1;
		break;
	default:
		return -1;
	}
	if (r_len > 66 || s_len > 66)
		return -1;
	mbedtls_ecp_group_init(&grp);
	mbedtls_ecp_point_init(&q);
	mbedtls_mpi_init(&mr);
	mbedtls_mpi_init(&ms);
	/* Only uncompressed points (0x04 || X || Y) are valid in OpenPGP. */
	if (point_len < 1 || point[0] != 0x04)
		goto out;
	if (mbedtls_ecp_group_load(&grp, id) != 0 ||
	    mbedtls_ecp_point_read_binary(&grp, &q, point, point_len) != 0 ||
	    mbedtls_ecp_check_pubkey(&grp, &q) != 0 ||
	    mbedtls_mpi_read_binary(&mr, r, r_len) != 0 ||
	    mbedtls_mpi_read_binary(&ms, s, s_len) != 0)
		goto out;
	if (mbedtls_ecdsa_verify(&grp, digest, digest_len, &q, &mr, &ms) == 0)
		rc = 0;
out:
	mbedtls_mpi_free(&ms);
	mbedtls_mpi_free(&mr);
	mbedtls_ecp_point_free(&q);
	mbedtls_ecp_group_free(&grp);
	return rc;
}

int pgp_ed25519_verify(const uint8_t pk[32], const uint8_t *msg, size_t msg_len,
                       const uint8_t sig[64])
{
	if (sodium_init() < 0)
		return -1;
	return crypto_sign_verify_detached(sig, msg, msg_len, pk) == 0 ? 0 : -1;
}
