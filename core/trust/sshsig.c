/* SSHSIG parsing and verification (OpenSSH PROTOCOL.sshsig). Ed25519 through
 * libsodium; ECDSA and RSA through mbedTLS (2.28 on Debian 12, 3.6 in
 * firmware images: the few calls that differ are wrapped below). */
#include "sshsig.h"

#include "edgeflip/error.h"
#include "edgeflip/features.h"

#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/md.h>
#include <mbedtls/rsa.h>
#include <sodium.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define BEGIN_MARK "-----BEGIN SSH SIGNATURE-----"
#define END_MARK   "-----END SSH SIGNATURE-----"

#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 16384

/* ---- mbedTLS 2.28 / 3.x compatibility ---------------------------------- */

static void rsa_init_pkcs1_v15(mbedtls_rsa_context *rsa)
{
#ifdef EF_HAVE_MBEDTLS3
	mbedtls_rsa_init(rsa);
	mbedtls_rsa_set_padding(rsa, MBEDTLS_RSA_PKCS_V15, MBEDTLS_MD_NONE);
#else
	mbedtls_rsa_init(rsa, MBEDTLS_RSA_PKCS_V15, 0);
#endif
}

static int rsa_verify_pkcs1_v15(mbedtls_rsa_context *rsa, mbedtls_md_type_t md, const uint8_t *hash,
                                size_t hash_len, const uint8_t *sig)
{
#ifdef EF_HAVE_MBEDTLS3
	return mbedtls_rsa_rsassa_pkcs1_v15_verify(rsa, md, (unsigned int)hash_len, hash, sig);
#else
	return mbedtls_rsa_rsassa_pkcs1_v15_verify(rsa, NULL, NULL, MBEDTLS_RSA_PUBLIC, md,
	                                           (unsigned int)hash_len, hash, sig);
#endif
}

/* ---- SSH wire format ----------------------------------------------------- */

typedef struct {
	const uint8_t *p;
	size_t n;
} reader;

static int get_u32(reader *r, uint32_t *v)
{
	if (r->n < 4)
		return -1;
	*v = ((uint32_t)r->p[0] << 24) | ((uint32_t)r->p[1] << 16) | ((uint32_t)r->p[2] << 8) |
	     r->p[3];
	r->p += 4;
	r->n -= 4;
	return 0;
}

static int get_string(reader *r, const uint8_t **s, size_t *len)
{
	uint32_t l;

	if (get_u32(r, &l) < 0 || l > r->n)
		return -1;
	*s = r->p;
	*len = l;
	r->p += l;
	r->n -= l;
	return 0;
}

/* A positive mpint in its minimal encoding (as OpenSSH requires); the
 * returned bytes have the sign-padding zero removed. */
static int get_mpint(reader *r, const uint8_t **s, size_t *len)
{
	if (get_string(r, s, len) < 0 || *len == 0)
		return -1;
	if ((*s)[0] & 0x80)
		return -1; /* negative */
	if ((*s)[0] == 0) {
		if (*len == 1 || !((*s)[1] & 0x80))
			return -1; /* zero, or a leading zero that is not needed */
		(*s)++;
		(*len)--;
	}
	return 0;
}

static bool str_is(const uint8_t *s, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(s, want, len) == 0;
}

/* Copies an outside string into a message: printable ASCII only, truncated. */
static const char *printable(char *buf, size_t size, const uint8_t *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len && n + 4 < size; i++)
		buf[n++] = (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\'') ? (char)s[i] : '?';
	if (i < len && n + 3 < size) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

/* ---- public keys ---------------------------------------------------------- */

enum key_kind { KEY_ED25519, KEY_ECDSA_P256, KEY_ECDSA_P384, KEY_RSA };

typedef struct {
	enum key_kind kind;
	const char *type;
	const uint8_t *a; /* Ed25519 key | ECDSA point | RSA e */
	size_t a_len;
	const uint8_t *b; /* RSA n */
	size_t b_len;
} pubkey;

static size_t bit_length(const uint8_t *p, size_t n)
{
	size_t bits;
	uint8_t top;

	while (n && !*p) {
		p++;
		n--;
	}
	if (!n)
		return 0;
	bits = (n - 1) * 8;
	for (top = p[0]; top; top >>= 1)
		bits++;
	return bits;
}

/* Returns 0, or EF_EREJECTED for a type edgeflip refuses, EF_EINVALID for a
 * malformed blob. */
static int parse_key(pubkey *k, const uint8_t *blob, size_t len)
{
	reader r = {blob, len};
	const uint8_t *type = NULL, *s;
	size_t type_len = 0, s_len;
	char shown[80];

	memset(k, 0, sizeof(*k));
	if (get_string(&r, &type, &type_len) < 0)
		goto malformed;
	if (str_is(type, type_len, "ssh-ed25519")) {
		k->kind = KEY_ED25519;
		k->type = "ssh-ed25519";
		if (get_string(&r, &k->a, &k->a_len) < 0 || k->a_len != crypto_sign_PUBLICKEYBYTES)
			goto malformed;
	} else if (str_is(type, type_len, "ecdsa-sha2-nistp256") ||
	           str_is(type, type_len, "ecdsa-sha2-nistp384")) {
		bool p256 = type[type_len - 1] == '6';

		k->kind = p256 ? KEY_ECDSA_P256 : KEY_ECDSA_P384;
		k->type = p256 ? "ecdsa-sha2-nistp256" : "ecdsa-sha2-nistp384";
		if (get_string(&r, &s, &s_len) < 0 ||
		    !str_is(s, s_len, p256 ? "nistp256" : "nistp384"))
			goto malformed;
		if (get_string(&r, &k->a, &k->a_len) < 0 || k->a_len != (p256 ? 65u : 97u) ||
		    k->a[0] != 0x04)
			goto malformed;
	} else if (str_is(type, type_len, "ssh-rsa")) {
		size_t bits;

		k->kind = KEY_RSA;
		k->type = "ssh-rsa";
		if (get_mpint(&r, &k->a, &k->a_len) < 0 || k->a_len > 8 ||
		    get_mpint(&r, &k->b, &k->b_len) < 0)
			goto malformed;
		bits = bit_length(k->b, k->b_len);
		if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
			ef_error_set("RSA key of %zu bits refused (edgeflip accepts %d to %d bits)",
			             bits, RSA_MIN_BITS, RSA_MAX_BITS);
			return EF_EREJECTED;
		}
	} else if (type_len > 3 && memcmp(type, "sk-", 3) == 0) {
		ef_error_set("security-key (%s) signatures are not supported: FIDO keys sign a "
		             "different structure; use an ed25519, ecdsa or rsa key",
		             printable(shown, sizeof(shown), type, type_len));
		return EF_EREJECTED;
	} else if (type_len > 21 &&
	           memcmp(type + type_len - 21, "-cert-v01@openssh.com", 21) == 0) {
		ef_error_set("SSH certificates (%s) are not supported; list the signing key itself",
		             printable(shown, sizeof(shown), type, type_len));
		return EF_EREJECTED;
	} else if (str_is(type, type_len, "ssh-dss")) {
		ef_error_set("ssh-dss (DSA) keys are refused");
		return EF_EREJECTED;
	} else {
		ef_error_set("unsupported SSH key type '%s'",
		             printable(shown, sizeof(shown), type, type_len));
		return EF_EREJECTED;
	}
	if (r.n != 0) {
		ef_error_set("%s public key has %zu trailing bytes", k->type, r.n);
		return EF_EINVALID;
	}
	return 0;
malformed:
	ef_error_set("malformed %s public key",
	             type ? printable(shown, sizeof(shown), type, type_len) : "SSH");
	return EF_EINVALID;
}

int ef_sshkey_check(const uint8_t *blob, size_t len, const char *type)
{
	pubkey k;
	int error = parse_key(&k, blob, len);

	if (error < 0)
		return error;
	if (type && strcmp(type, k.type) != 0) {
		ef_error_set("key type '%s' does not match the key, which is %s", type, k.type);
		return EF_EINVALID;
	}
	return 0;
}

void ef_sshkey_fingerprint(char out[EF_SSH_FINGERPRINT_LEN], const uint8_t *blob, size_t len)
{
	uint8_t digest[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(digest, blob, len);
	memcpy(out, "SHA256:", 7);
	sodium_bin2base64(out + 7, EF_SSH_FINGERPRINT_LEN - 7, digest, sizeof(digest),
	                  sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

/* ---- the signature -------------------------------------------------------- */

static int dearmor(uint8_t **out, size_t *out_len, const char *text, size_t len)
{
	size_t bl = strlen(BEGIN_MARK), el = strlen(END_MARK), pos, n = 0;
	char *b64 = NULL;
	uint8_t *bin = NULL;
	size_t bin_len;
	bool ended = false;
	int error = EF_EREJECTED;

	if (len > EF_SSHSIG_MAX_ARMOR) {
		ef_error_set("SSH signature is larger than the limit of %u bytes",
		             EF_SSHSIG_MAX_ARMOR);
		return EF_EREJECTED;
	}
	if (len < bl + 1 || memcmp(text, BEGIN_MARK, bl) != 0 || text[bl] != '\n') {
		ef_error_set("SSH signature does not start with '" BEGIN_MARK "'");
		return EF_EREJECTED;
	}
	if (!(b64 = malloc(len + 1)))
		goto nomem;
	for (pos = bl + 1; pos < len;) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - line) : len - pos;

		pos += l + (nl ? 1 : 0);
		if (l == el && memcmp(line, END_MARK, el) == 0) {
			ended = true;
			break;
		}
		for (size_t i = 0; i < l; i++) {
			char c = line[i];
			if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			      (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=')) {
				ef_error_set("SSH signature armor holds a character that is not "
				             "base64 (offset %zu)",
				             (size_t)(line + i - text));
				goto out;
			}
		}
		memcpy(b64 + n, line, l);
		n += l;
	}
	if (!ended) {
		ef_error_set("SSH signature has no '" END_MARK "' line");
		goto out;
	}
	if (pos != len) {
		ef_error_set("data after the end of the SSH signature");
		goto out;
	}
	bin_len = n / 4 * 3 + 3;
	if (!(bin = malloc(bin_len + 1)))
		goto nomem;
	if (sodium_base642bin(bin, bin_len, b64, n, NULL, &bin_len, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    n % 4 != 0) {
		ef_error_set("SSH signature is not valid base64");
		goto out;
	}
	*out = bin;
	*out_len = bin_len;
	bin = NULL;
	error = 0;
	goto out;
nomem:
	ef_error_set("out of memory");
	error = EF_ENOMEM;
out:
	free(b64);
	free(bin);
	return error;
}

int ef_sshsig_parse(ef_sshsig *out, const char *armored, size_t len)
{
	reader r, inner;
	const uint8_t *reserved, *sigfield;
	size_t reserved_len, sigfield_len;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = dearmor(&out->blob, &out->blob_len, armored, len)) < 0)
		return error;
	r.p = out->blob;
	r.n = out->blob_len;
	if (r.n < 6 || memcmp(r.p, "SSHSIG", 6) != 0) {
		ef_error_set("SSH signature does not start with the SSHSIG magic");
		return EF_EREJECTED;
	}
	r.p += 6;
	r.n -= 6;
	if (get_u32(&r, &out->version) < 0)
		goto truncated;
	if (out->version != 1) {
		ef_error_set("SSH signature version %u is not supported (only version 1)",
		             out->version);
		return EF_EREJECTED;
	}
	if (get_string(&r, &out->pubkey, &out->pubkey_len) < 0 ||
	    get_string(&r, &out->ns, &out->ns_len) < 0 ||
	    get_string(&r, &reserved, &reserved_len) < 0 ||
	    get_string(&r, &out->hash_alg, &out->hash_alg_len) < 0 ||
	    get_string(&r, &sigfield, &sigfield_len) < 0)
		goto truncated;
	if (r.n != 0) {
		ef_error_set("SSH signature has %zu trailing bytes", r.n);
		return EF_EREJECTED;
	}
	if (reserved_len != 0) {
		ef_error_set("SSH signature has a non-empty reserved field");
		return EF_EREJECTED;
	}
	inner.p = sigfield;
	inner.n = sigfield_len;
	if (get_string(&inner, &out->sigtype, &out->sigtype_len) < 0 ||
	    get_string(&inner, &out->sig, &out->sig_len) < 0)
		goto truncated;
	if (inner.n != 0) {
		ef_error_set("SSH signature field has %zu trailing bytes", inner.n);
		return EF_EREJECTED;
	}
	return 0;
truncated:
	ef_error_set("SSH signature is truncated or malformed");
	return EF_EREJECTED;
}

int ef_sshsig_check(const ef_sshsig *s)
{
	char shown[80];
	pubkey k;
	int error;

	if (!str_is(s->ns, s->ns_len, "git")) {
		ef_error_set("namespace '%s' is not 'git'",
		             printable(shown, sizeof(shown), s->ns, s->ns_len));
		return EF_EREJECTED;
	}
	if (!str_is(s->hash_alg, s->hash_alg_len, "sha256") &&
	    !str_is(s->hash_alg, s->hash_alg_len, "sha512")) {
		ef_error_set("hash algorithm '%s' is not supported (sha256 or sha512)",
		             printable(shown, sizeof(shown), s->hash_alg, s->hash_alg_len));
		return EF_EREJECTED;
	}
	if ((error = parse_key(&k, s->pubkey, s->pubkey_len)) < 0) {
		ef_error_prefix("signing key");
		return EF_EREJECTED;
	}
	if (k.kind == KEY_RSA) {
		if (str_is(s->sigtype, s->sigtype_len, "ssh-rsa")) {
			ef_error_set("ssh-rsa (SHA-1) signatures are refused; sign with "
			             "rsa-sha2-256 or rsa-sha2-512");
			return EF_EREJECTED;
		}
		if (str_is(s->sigtype, s->sigtype_len, "rsa-sha2-256") ||
		    str_is(s->sigtype, s->sigtype_len, "rsa-sha2-512"))
			return 0;
	} else if (str_is(s->sigtype, s->sigtype_len, k.type)) {
		return 0;
	}
	ef_error_set("signature algorithm '%s' does not fit a %s key",
	             printable(shown, sizeof(shown), s->sigtype, s->sigtype_len), k.type);
	return EF_EREJECTED;
}

static void put_string(uint8_t *buf, size_t *n, const void *s, size_t len)
{
	buf[*n] = (uint8_t)(len >> 24);
	buf[*n + 1] = (uint8_t)(len >> 16);
	buf[*n + 2] = (uint8_t)(len >> 8);
	buf[*n + 3] = (uint8_t)len;
	memcpy(buf + *n + 4, s, len);
	*n += 4 + len;
}

static int verify_ecdsa(const pubkey *k, const uint8_t *msg, size_t msg_len, const uint8_t *sig,
                        size_t sig_len)
{
	mbedtls_ecp_group grp;
	mbedtls_ecp_point q;
	mbedtls_mpi r, s;
	reader rd = {sig, sig_len};
	const uint8_t *rb, *sb;
	size_t rl, sl, hash_len;
	uint8_t hash[64];
	const mbedtls_md_info_t *md;
	int error = EF_EREJECTED;

	mbedtls_ecp_group_init(&grp);
	mbedtls_ecp_point_init(&q);
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	if (get_mpint(&rd, &rb, &rl) < 0 || get_mpint(&rd, &sb, &sl) < 0 || rd.n != 0) {
		ef_error_set("malformed ECDSA signature");
		goto out;
	}
	md = mbedtls_md_info_from_type(k->kind == KEY_ECDSA_P256 ? MBEDTLS_MD_SHA256
	                                                         : MBEDTLS_MD_SHA384);
	if (!md || mbedtls_md(md, msg, msg_len, hash) != 0) {
		ef_error_set("cannot hash for ECDSA");
		goto out;
	}
	hash_len = mbedtls_md_get_size(md);
	if (mbedtls_ecp_group_load(&grp, k->kind == KEY_ECDSA_P256
	                                         ? MBEDTLS_ECP_DP_SECP256R1
	                                         : MBEDTLS_ECP_DP_SECP384R1) != 0 ||
	    mbedtls_ecp_point_read_binary(&grp, &q, k->a, k->a_len) != 0 ||
	    mbedtls_ecp_check_pubkey(&grp, &q) != 0) {
		ef_error_set("invalid %s public key", k->type);
		goto out;
	}
	if (mbedtls_mpi_read_binary(&r, rb, rl) != 0 || mbedtls_mpi_read_binary(&s, sb, sl) != 0 ||
	    mbedtls_ecdsa_verify(&grp, hash, hash_len, &q, &r, &s) != 0) {
		ef_error_set(
		        "signature does not match the commit (content changed after signing?)");
		goto out;
	}
	error = 0;
out:
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	mbedtls_ecp_point_free(&q);
	mbedtls_ecp_group_free(&grp);
	return error;
}

static int verify_rsa(const pubkey *k, bool sha512, const uint8_t *msg, size_t msg_len,
                      const uint8_t *sig, size_t sig_len)
{
	mbedtls_rsa_context rsa;
	uint8_t hash[64], *padded = NULL;
	size_t mod_len;
	int error = EF_EREJECTED;

	rsa_init_pkcs1_v15(&rsa);
	if (mbedtls_rsa_import_raw(&rsa, k->b, k->b_len, NULL, 0, NULL, 0, NULL, 0, k->a,
	                           k->a_len) != 0 ||
	    mbedtls_rsa_complete(&rsa) != 0 || mbedtls_rsa_check_pubkey(&rsa) != 0) {
		ef_error_set("invalid RSA public key");
		goto out;
	}
	mod_len = mbedtls_rsa_get_len(&rsa);
	/* OpenSSH left-pads a short signature to the modulus size; so do we. */
	if (sig_len > mod_len || !(padded = calloc(1, mod_len))) {
		ef_error_set(
		        "signature does not match the commit (content changed after signing?)");
		goto out;
	}
	memcpy(padded + mod_len - sig_len, sig, sig_len);
	if (sha512)
		crypto_hash_sha512(hash, msg, msg_len);
	else
		crypto_hash_sha256(hash, msg, msg_len);
	if (rsa_verify_pkcs1_v15(&rsa, sha512 ? MBEDTLS_MD_SHA512 : MBEDTLS_MD_SHA256, hash,
	                         sha512 ? 64 : 32, padded) != 0) {
		ef_error_set(
		        "signature does not match the commit (content changed after signing?)");
		goto out;
	}
	error = 0;
out:
	free(padded);
	mbedtls_rsa_free(&rsa);
	return error;
}

int ef_sshsig_verify(const ef_sshsig *s, const uint8_t *payload, size_t payload_len)
{
	uint8_t digest[crypto_hash_sha512_BYTES], *msg;
	size_t digest_len, n = 0;
	pubkey k;
	int error = EF_EREJECTED;

	if (ef_sshsig_check(s) < 0 || parse_key(&k, s->pubkey, s->pubkey_len) < 0)
		return EF_EREJECTED;
	if (sodium_init() < 0) {
		ef_error_set("libsodium failed to initialise");
		return EF_ERROR;
	}
	if (str_is(s->hash_alg, s->hash_alg_len, "sha512")) {
		crypto_hash_sha512(digest, payload, payload_len);
		digest_len = crypto_hash_sha512_BYTES;
	} else {
		crypto_hash_sha256(digest, payload, payload_len);
		digest_len = crypto_hash_sha256_BYTES;
	}

	/* What the key signed: "SSHSIG" | namespace | reserved "" | hash algorithm | H(payload). */
	if (!(msg = malloc(6 + 4 * 4 + s->ns_len + s->hash_alg_len + digest_len))) {
		ef_error_set("out of memory");
		return EF_ENOMEM;
	}
	memcpy(msg, "SSHSIG", 6);
	n = 6;
	put_string(msg, &n, s->ns, s->ns_len);
	put_string(msg, &n, "", 0);
	put_string(msg, &n, s->hash_alg, s->hash_alg_len);
	put_string(msg, &n, digest, digest_len);

	switch (k.kind) {
	case KEY_ED25519:
		if (s->sig_len != crypto_sign_BYTES ||
		    crypto_sign_verify_detached(s->sig, msg, n, k.a) != 0)
			ef_error_set("signature does not match the commit (content changed after "
			             "signing?)");
		else
			error = 0;
		break;
	case KEY_ECDSA_P256:
	case KEY_ECDSA_P384:
		error = verify_ecdsa(&k, msg, n, s->sig, s->sig_len);
		break;
	case KEY_RSA:
		error = verify_rsa(&k, str_is(s->sigtype, s->sigtype_len, "rsa-sha2-512"), msg, n,
		                   s->sig, s->sig_len);
		break;
	}
	free(msg);
	return error;
}

void ef_sshsig_dispose(ef_sshsig *s)
{
	if (!s)
		return;
	free(s->blob);
	memset(s, 0, sizeof(*s));
}
