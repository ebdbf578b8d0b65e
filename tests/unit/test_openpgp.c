/* OpenPGP verification: fixtures made by GnuPG 2.2 (data/verify/pgp, see
 * make-fixtures.sh) and packets crafted here with libsodium for the cases
 * GnuPG will not produce (Ed25519 algorithm 27, critical subpackets,
 * missing back-signatures, forged revocations, ...). */
#include "../../core/trust/openpgp.h"
#include "../../core/trust/pgp_crypto.h"

#include "edgeflip/buf.h"
#include "edgeflip/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#define DATA EF_TEST_DATA "/verify/pgp/"

/* Fixture times (make-fixtures.sh). */
#define T_KEYS  1735689600 /* 2025-01-01 */
#define T_SIG   1748736000 /* 2025-06-01 */
#define T_NOW   1751328000 /* 2025-07-01 */
#define T_FEB15 1739577600 /* 2025-02-15 */
#define T_LATE  1780272000 /* 2026-06-01 */

/* ---- fixture helpers -------------------------------------------------- */

static char *slurp(const char *name, size_t *len)
{
	char path[512];
	ef_buf b = EF_BUF_INIT(1 << 20);

	snprintf(path, sizeof(path), DATA "%s", name);
	assert_int_equal(ef_read_file(&b, path, 1 << 20), 0);
	*len = b.len;
	return ef_buf_detach(&b);
}

/* Splits a raw commit into the signed payload and the armored signature:
 * the gpgsig header and its continuation lines move to `sig` (without the
 * leading space), everything else stays in `payload`. */
static void split_commit(const char *raw, size_t len, ef_buf *payload, ef_buf *sig)
{
	size_t off = 0;
	bool in_sig = false, headers = true;

	while (off < len) {
		const char *nl = memchr(raw + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (raw + off)) + 1 : len - off;
		const char *l = raw + off;

		if (headers && n == 1)
			headers = false;
		if (headers && n > 7 && memcmp(l, "gpgsig ", 7) == 0) {
			in_sig = true;
			assert_int_equal(ef_buf_put(sig, l + 7, n - 7), 0);
		} else if (headers && in_sig && l[0] == ' ') {
			assert_int_equal(ef_buf_put(sig, l + 1, n - 1), 0);
		} else {
			in_sig = false;
			assert_int_equal(ef_buf_put(payload, l, n), 0);
		}
		off += n;
	}
}

/* Looks a fixture up in keys.txt: its primary and signing fingerprints. */
static void fixture_keys(const char *name, char primary[41], char signing[41])
{
	size_t len;
	char *txt = slurp("keys.txt", &len), *save = NULL;

	primary[0] = signing[0] = '\0';
	for (char *l = strtok_r(txt, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char n[32], p[41], s[41];

		if (l[0] != '#' && sscanf(l, "%31s %40s %40s", n, p, s) == 3 &&
		    strcmp(n, name) == 0) {
			memcpy(primary, p, 41);
			memcpy(signing, s, 41);
		}
	}
	free(txt);
	assert_true(primary[0] != '\0');
}

static ef_pgp_keyring *load_fixture_keyring(const char *file)
{
	ef_pgp_keyring *kr = NULL;
	size_t len;
	char *txt = slurp(file, &len);

	if (ef_pgp_keyring_load(&kr, txt, len, file) != 0)
		fail_msg("%s: %s", file, ef_error_last());
	free(txt);
	return kr;
}

typedef enum { MOD_NONE, MOD_PAYLOAD, MOD_CRC, MOD_BASE64 } modification;

static int verify_fixture(ef_verify_result *res, const ef_pgp_keyring *kr, const char *commit,
                          int64_t now, modification mod)
{
	char file[64];
	size_t len;
	char *raw;
	ef_buf payload = EF_BUF_INIT(1 << 20), sig = EF_BUF_INIT(1 << 20);
	int rc;

	snprintf(file, sizeof(file), "commit-%s.raw", commit);
	raw = slurp(file, &len);
	split_commit(raw, len, &payload, &sig);
	assert_non_null(strstr(sig.ptr, "-----BEGIN PGP SIGNATURE-----\n"));
	if (mod == MOD_PAYLOAD) {
		char *msg = strstr(payload.ptr, "fixture ");

		assert_non_null(msg);
		msg[0] = 'F';
	} else if (mod == MOD_CRC) {
		char *crc = strstr(sig.ptr, "\n=");

		assert_non_null(crc);
		crc[2] = crc[2] == 'A' ? 'B' : 'A';
	} else if (mod == MOD_BASE64) {
		char *body = strstr(sig.ptr, "\n\n");

		assert_non_null(body);
		body[10] = body[10] == 'A' ? 'B' : 'A';
	}
	rc = ef_pgp_verify(res, kr, (const uint8_t *)payload.ptr, payload.len, sig.ptr, sig.len,
	                   now);
	ef_buf_dispose(&payload);
	ef_buf_dispose(&sig);
	free(raw);
	return rc;
}

/* ---- fixtures made by GnuPG ------------------------------------------- */

typedef struct {
	const char *commit;
	int64_t now;
	modification mod;
	int rc;
	/* The reason, with %P for the primary and %S for the signing key fingerprint. */
	const char *reason;
} gpg_case;

static const gpg_case gpg_cases[] = {
        {"rsa", T_NOW, MOD_NONE, 0, "good signature"},
        {"p256", T_NOW, MOD_NONE, 0, "good signature"},
        {"ed25519", T_NOW, MOD_NONE, 0, "good signature"},
        {"subkey", T_NOW, MOD_NONE, 0, "good signature"},
        {"sha512", T_NOW, MOD_NONE, 0, "good signature"},
        {"expired", T_NOW, MOD_NONE, 0, "good signature"},
        {"expsub", T_FEB15, MOD_NONE, 0, "good signature"},
        {"sha1", T_NOW, MOD_NONE, EF_EREJECTED, "signature made with SHA-1 is refused"},
        {"untrusted", T_NOW, MOD_NONE, EF_EREJECTED, "no trusted key has fingerprint %P"},
        {"expired", T_LATE, MOD_NONE, EF_EREJECTED, "key %P expired on 2026-01-01"},
        {"expsub", T_NOW, MOD_NONE, EF_EREJECTED, "subkey %S of key %P expired on 2025-03-01"},
        {"revoked", T_NOW, MOD_NONE, EF_EREJECTED, "key %P is revoked"},
        {"revsub", T_NOW, MOD_NONE, EF_EREJECTED, "subkey %S of key %P is revoked"},
        {"rsa", T_NOW, MOD_PAYLOAD, EF_EREJECTED, "signature does not match the commit"},
        {"p256", T_NOW, MOD_PAYLOAD, EF_EREJECTED, "signature does not match the commit"},
        {"ed25519", T_NOW, MOD_PAYLOAD, EF_EREJECTED, "signature does not match the commit"},
        {"subkey", T_NOW, MOD_PAYLOAD, EF_EREJECTED, "signature does not match the commit"},
        {"expsub", T_FEB15, MOD_PAYLOAD, EF_EREJECTED, "signature does not match the commit"},
        {"ed25519", T_NOW, MOD_CRC, EF_EREJECTED,
         "malformed OpenPGP signature: armor checksum (CRC24) mismatch: the data is corrupted"},
        {"rsa", T_NOW, MOD_BASE64, EF_EREJECTED,
         "malformed OpenPGP signature: armor checksum (CRC24) mismatch: the data is corrupted"},
};

static void expand(char *out, size_t cap, const char *fmt, const char *p, const char *s)
{
	size_t n = 0;

	for (; *fmt && n + 41 < cap; fmt++) {
		if (fmt[0] == '%' && (fmt[1] == 'P' || fmt[1] == 'S')) {
			n += (size_t)snprintf(out + n, cap - n, "%s", fmt[1] == 'P' ? p : s);
			fmt++;
		} else {
			out[n++] = *fmt;
		}
	}
	out[n] = '\0';
}

static void test_gnupg_fixtures(void **unused)
{
	ef_pgp_keyring *kr = load_fixture_keyring("trusted.asc");

	assert_int_equal(ef_pgp_keyring_count(kr), 8);
	for (size_t i = 0; i < sizeof(gpg_cases) / sizeof(gpg_cases[0]); i++) {
		const gpg_case *c = &gpg_cases[i];
		ef_verify_result res;
		char primary[41], signing[41], want[512];
		int rc;

		fixture_keys(c->commit, primary, signing);
		expand(want, sizeof(want), c->reason, primary, signing);
		rc = verify_fixture(&res, kr, c->commit, c->now, c->mod);
		print_message("%s (mod %d): %s\n", c->commit, c->mod, res.reason);
		assert_string_equal(res.reason, want);
		assert_int_equal(rc, c->rc);
		assert_int_equal(res.verdict, c->rc);
		assert_string_equal(res.format, "openpgp");
		if (rc == 0) {
			assert_string_equal(res.signer, primary);
			assert_string_equal(res.key, signing);
		}
	}
	ef_pgp_keyring_free(kr);
}

/* A keyring holding only one key knows nothing of the others. */
static void test_single_key_keyring(void **unused)
{
	ef_pgp_keyring *kr = load_fixture_keyring("ed25519.asc");
	ef_verify_result res;
	char primary[41], signing[41], want[128];

	assert_int_equal(ef_pgp_keyring_count(kr), 1);
	assert_int_equal(verify_fixture(&res, kr, "ed25519", T_NOW, MOD_NONE), 0);
	fixture_keys("rsa", primary, signing);
	assert_int_equal(verify_fixture(&res, kr, "rsa", T_NOW, MOD_NONE), EF_EREJECTED);
	snprintf(want, sizeof(want), "no trusted key has fingerprint %s", primary);
	assert_string_equal(res.reason, want);
	assert_int_equal(verify_fixture(&res, NULL, "rsa", T_NOW, MOD_NONE), EF_EREJECTED);
	assert_string_equal(res.reason, want);
	ef_pgp_keyring_free(kr);
}

/* ---- keyring loading errors ------------------------------------------- */

static void test_keyring_errors(void **unused)
{
	size_t len, len2;
	char *trusted = slurp("trusted.asc", &len);
	char *commit = slurp("commit-ed25519.raw", &len2);
	char *twice = malloc(2 * len + 1), *p;
	ef_pgp_keyring *kr = NULL;
	char primary[41], signing[41], want[256];

	assert_int_equal(ef_pgp_keyring_load(&kr, "", 0, "empty.asc"), EF_EINVALID);
	assert_string_equal(ef_error_last(),
	                    "empty.asc: no '-----BEGIN PGP PUBLIC KEY BLOCK-----' line");
	assert_null(kr);

	assert_int_equal(ef_pgp_keyring_load(&kr, commit, len2, "sig.asc"), EF_EINVALID);
	assert_string_equal(ef_error_last(),
	                    "sig.asc: no '-----BEGIN PGP PUBLIC KEY BLOCK-----' line");

	/* The same key twice. */
	memcpy(twice, trusted, len);
	memcpy(twice + len, trusted, len);
	assert_int_equal(ef_pgp_keyring_load(&kr, twice, 2 * len, "twice.asc"), EF_EINVALID);
	fixture_keys("rsa", primary, signing);
	snprintf(want, sizeof(want), "twice.asc: key %s appears twice; export each key once",
	         primary);
	assert_string_equal(ef_error_last(), want);

	/* A flipped base64 character: the CRC24 line catches it. */
	p = strstr(trusted, "\n\n") + 20;
	*p = *p == 'A' ? 'B' : 'A';
	assert_int_equal(ef_pgp_keyring_load(&kr, trusted, len, "bad.asc"), EF_EINVALID);
	assert_string_equal(ef_error_last(),
	                    "bad.asc: armor checksum (CRC24) mismatch: the data is corrupted");

	/* Truncated: no END line. */
	assert_int_equal(ef_pgp_keyring_load(&kr, trusted, len / 2, "cut.asc"), EF_EINVALID);
	assert_string_equal(ef_error_last(),
	                    "cut.asc: armor ends without '-----END PGP PUBLIC KEY BLOCK-----'");
	assert_int_equal(ef_pgp_keyring_load(&kr, trusted, (size_t)2 << 20, "huge.asc"),
	                 EF_ETOOBIG);
	free(twice);
	free(trusted);
	free(commit);
}

static void test_crc24_and_armor(void **unused)
{
	static const char text[] = "Comment: made by hand\r\n"
	                           "Version: 1\r\n"
	                           "\r\n"
	                           "MTIzNDU2\r\n"
	                           "Nzg5\r\n"
	                           "=Ic8C\r\n"
	                           "-----END PGP SIGNATURE-----\r\n";
	char buf[512];
	uint8_t *out = NULL;
	size_t out_len = 0;

	assert_int_equal(ef_pgp_crc24((const uint8_t *)"", 0), 0xB704CE);
	assert_int_equal(ef_pgp_crc24((const uint8_t *)"123456789", 9), 0x21CF02);

	snprintf(buf, sizeof(buf), "-----BEGIN PGP SIGNATURE-----\r\n%s", text);
	assert_int_equal(ef_pgp_dearmor(&out, &out_len, buf, strlen(buf), "PGP SIGNATURE"), 0);
	assert_int_equal(out_len, 9);
	assert_memory_equal(out, "123456789", 9);
	free(out);

	/* Wrong label, junk before the armor, junk after it. */
	assert_int_equal(ef_pgp_dearmor(&out, &out_len, buf, strlen(buf), "PGP MESSAGE"),
	                 EF_EINVALID);
	assert_string_equal(ef_error_last(), "expected '-----BEGIN PGP MESSAGE-----'");
	assert_int_equal(ef_pgp_dearmor(&out, &out_len, "\n\n", 2, "PGP MESSAGE"), EF_ENOTFOUND);
	assert_string_equal(ef_error_last(), "no '-----BEGIN PGP MESSAGE-----' line");
	snprintf(buf, sizeof(buf), "junk\n-----BEGIN PGP SIGNATURE-----\r\n%s", text);
	assert_int_equal(ef_pgp_dearmor(&out, &out_len, buf, strlen(buf), "PGP SIGNATURE"),
	                 EF_EINVALID);
	assert_string_equal(ef_error_last(), "expected '-----BEGIN PGP SIGNATURE-----'");
	snprintf(buf, sizeof(buf), "-----BEGIN PGP SIGNATURE-----\r\n%sjunk\n", text);
	assert_int_equal(ef_pgp_dearmor(&out, &out_len, buf, strlen(buf), "PGP SIGNATURE"),
	                 EF_EINVALID);
	assert_string_equal(ef_error_last(), "unexpected text after '-----END PGP SIGNATURE-----'");
	/* Without a CRC line the data is accepted (the CRC is optional). */
	snprintf(buf, sizeof(buf),
	         "-----BEGIN PGP SIGNATURE-----\n\nMTIzNDU2Nzg5\n"
	         "-----END PGP SIGNATURE-----\n");
	assert_int_equal(ef_pgp_dearmor(&out, &out_len, buf, strlen(buf), "PGP SIGNATURE"), 0);
	free(out);
	/* Bad base64 and a short CRC line. */
	snprintf(buf, sizeof(buf),
	         "-----BEGIN PGP SIGNATURE-----\n\nMTIz*DU2\n"
	         "-----END PGP SIGNATURE-----\n");
	assert_int_equal(ef_pgp_dearmor(&out, &out_len, buf, strlen(buf), "PGP SIGNATURE"),
	                 EF_EINVALID);
	assert_string_equal(ef_error_last(), "invalid character in armored data");
	snprintf(buf, sizeof(buf),
	         "-----BEGIN PGP SIGNATURE-----\n\nMTIzNDU\n"
	         "-----END PGP SIGNATURE-----\n");
	assert_int_equal(ef_pgp_dearmor(&out, &out_len, buf, strlen(buf), "PGP SIGNATURE"),
	                 EF_EINVALID);
	assert_string_equal(ef_error_last(), "invalid base64 in armored data");
	snprintf(buf, sizeof(buf),
	         "-----BEGIN PGP SIGNATURE-----\n\nMTIzNDU2\n=Ic8\n"
	         "-----END PGP SIGNATURE-----\n");
	assert_int_equal(ef_pgp_dearmor(&out, &out_len, buf, strlen(buf), "PGP SIGNATURE"),
	                 EF_EINVALID);
	assert_string_equal(ef_error_last(), "malformed armor checksum line");
}

/* ---- crafted packets -------------------------------------------------- */

typedef struct {
	uint8_t b[8192];
	size_t n;
} bytes;

static void put(bytes *o, const void *p, size_t n)
{
	assert_true(o->n + n <= sizeof(o->b));
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

static void put8(bytes *o, unsigned v)
{
	uint8_t b = (uint8_t)v;

	put(o, &b, 1);
}

static void put16(bytes *o, size_t v)
{
	put8(o, (unsigned)(v >> 8));
	put8(o, (unsigned)v);
}

static void put32(bytes *o, uint32_t v)
{
	put16(o, v >> 16);
	put16(o, v & 0xFFFF);
}

/* New-format packet with a one, two or five byte length. */
static void packet(bytes *o, unsigned tag, const bytes *body)
{
	put8(o, 0xC0 | tag);
	if (body->n < 192) {
		put8(o, (unsigned)body->n);
	} else if (body->n < 8384) {
		put8(o, (unsigned)(((body->n - 192) >> 8) + 192));
		put8(o, (unsigned)((body->n - 192) & 0xFF));
	} else {
		put8(o, 255);
		put32(o, (uint32_t)body->n);
	}
	put(o, body->b, body->n);
}

static void subpacket(bytes *o, unsigned type, bool critical, const void *data, size_t n)
{
	put8(o, (unsigned)n + 1);
	put8(o, type | (critical ? 0x80 : 0));
	put(o, data, n);
}

static void subpacket32(bytes *o, unsigned type, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

	subpacket(o, type, false, b, 4);
}

typedef struct {
	uint8_t algo; /* 22 EdDSA legacy or 27 Ed25519 */
	uint8_t pk[32], sk[64];
	uint32_t created;
	bytes body;
	uint8_t fpr[20];
	char hex[41];
} tkey;

static const uint8_t OID_ED25519[] = {0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01};

static void tkey_make(tkey *k, uint8_t algo, uint8_t seed_byte, uint32_t created)
{
	uint8_t seed[32], digest[PGP_HASH_MAX], hdr[3];
	pgp_hash h;

	memset(k, 0, sizeof(*k));
	memset(seed, seed_byte, sizeof(seed));
	crypto_sign_seed_keypair(k->pk, k->sk, seed);
	k->algo = algo;
	k->created = created;
	put8(&k->body, 4);
	put32(&k->body, created);
	put8(&k->body, algo);
	if (algo == 22) {
		put8(&k->body, sizeof(OID_ED25519));
		put(&k->body, OID_ED25519, sizeof(OID_ED25519));
		put16(&k->body, 263);
		put8(&k->body, 0x40);
	}
	put(&k->body, k->pk, 32);
	hdr[0] = 0x99;
	hdr[1] = (uint8_t)(k->body.n >> 8);
	hdr[2] = (uint8_t)k->body.n;
	assert_int_equal(pgp_hash_init(&h, PGP_HASH_SHA1), 0);
	pgp_hash_update(&h, hdr, 3);
	pgp_hash_update(&h, k->body.b, k->body.n);
	pgp_hash_final(&h, digest);
	memcpy(k->fpr, digest, 20);
	for (int i = 0; i < 20; i++)
		sprintf(k->hex + 2 * i, "%02X", k->fpr[i]);
}

static void prefix_key(bytes *o, const tkey *k)
{
	put8(o, 0x99);
	put16(o, k->body.n);
	put(o, k->body.b, k->body.n);
}

typedef struct {
	unsigned version; /* 0 = 4 */
	unsigned type;
	unsigned hash;     /* 0 = SHA-256 */
	unsigned sig_algo; /* 0 = the key's */
	uint32_t created;  /* 0 = T_SIG */
	bool no_created, created_unhashed, no_issuer_fpr, issuer_keyid, corrupt;
	int flags; /* key flags, -1 = none */
	uint32_t key_expires, sig_expires;
	int extra; /* an extra hashed subpacket type, or 0 */
	bool extra_critical;
	const bytes *embedded;
} sigopt;

/* A signature body by `k` over `prefix` (what precedes the hashed part). */
static void make_sig(bytes *o, const tkey *k, const sigopt *opt, const bytes *prefix)
{
	bytes hashed = {0}, unhashed = {0}, h_in = {0};
	uint8_t digest[PGP_HASH_MAX], sig[64], fprv[21] = {4}, trailer[6];
	unsigned hash = opt->hash ? opt->hash : PGP_HASH_SHA256;
	uint32_t created = opt->created ? opt->created : T_SIG;
	size_t start = o->n, dlen;
	pgp_hash h;

	memcpy(fprv + 1, k->fpr, 20);
	if (!opt->no_created)
		subpacket32(opt->created_unhashed ? &unhashed : &hashed, 2, created);
	if (!opt->no_issuer_fpr)
		subpacket(&hashed, 33, false, fprv, 21);
	if (opt->flags >= 0) {
		uint8_t f = (uint8_t)opt->flags;

		subpacket(&hashed, 27, false, &f, 1);
	}
	if (opt->key_expires)
		subpacket32(&hashed, 9, opt->key_expires);
	if (opt->sig_expires)
		subpacket32(&hashed, 3, opt->sig_expires);
	if (opt->extra)
		subpacket(&hashed, (unsigned)opt->extra, opt->extra_critical, "xy", 2);
	if (opt->issuer_keyid)
		subpacket(&unhashed, 16, false, k->fpr + 12, 8);
	if (opt->embedded)
		subpacket(&unhashed, 32, false, opt->embedded->b, opt->embedded->n);

	put8(o, opt->version ? opt->version : 4);
	put8(o, opt->type);
	put8(o, opt->sig_algo ? opt->sig_algo : k->algo);
	put8(o, hash);
	put16(o, hashed.n);
	put(o, hashed.b, hashed.n);

	if (prefix)
		put(&h_in, prefix->b, prefix->n);
	put(&h_in, o->b + start, o->n - start);
	trailer[0] = 4;
	trailer[1] = 0xFF;
	trailer[2] = (uint8_t)((o->n - start) >> 24);
	trailer[3] = (uint8_t)((o->n - start) >> 16);
	trailer[4] = (uint8_t)((o->n - start) >> 8);
	trailer[5] = (uint8_t)(o->n - start);
	put(&h_in, trailer, 6);
	if (pgp_hash_init(&h, (uint8_t)hash) == 0) {
		pgp_hash_update(&h, h_in.b, h_in.n);
		pgp_hash_final(&h, digest);
		dlen = h.len;
	} else { /* MD5, RIPEMD-160: only the refusal is tested */
		memset(digest, 0, sizeof(digest));
		dlen = 16;
	}
	crypto_sign_detached(sig, NULL, digest, dlen, k->sk);
	if (opt->corrupt)
		sig[5] ^= 1;

	put16(o, unhashed.n);
	put(o, unhashed.b, unhashed.n);
	put(o, digest, 2);
	if ((opt->sig_algo ? opt->sig_algo : k->algo) == 22) {
		for (int part = 0; part < 2; part++) {
			const uint8_t *m = sig + 32 * part;
			size_t n = 32;

			while (n > 0 && m[0] == 0) {
				m++;
				n--;
			}
			put16(o, n ? (n - 1) * 8 + (size_t)(32 - __builtin_clz(m[0])) : 0);
			put(o, m, n);
		}
	} else {
		put(o, sig, 64);
	}
}

typedef struct {
	tkey primary, sub;
	bool with_sub;
	int primary_flags; /* -1 = none */
	uint32_t primary_expires;
	unsigned selfsig_hash;
	bool revoke, forge_revocation;
	unsigned revoke_hash;
	int sub_flags;
	uint32_t sub_expires;
	bool no_backsig, bad_backsig, bad_binding, revoke_sub;
} certspec;

static void certspec_init(certspec *cs, uint8_t algo)
{
	memset(cs, 0, sizeof(*cs));
	tkey_make(&cs->primary, algo, 1, T_KEYS);
	tkey_make(&cs->sub, algo, 2, T_KEYS);
	cs->primary_flags = 0x03;
	cs->sub_flags = 0x02;
}

static const char UID[] = "Crafted <crafted@example.com>";

static void build_cert(bytes *o, const certspec *cs)
{
	bytes body = {0}, prefix = {0};

	packet(o, 6, &cs->primary.body);
	if (cs->revoke || cs->forge_revocation) {
		sigopt so = {.type = 0x20,
		             .flags = -1,
		             .created = T_KEYS,
		             .hash = cs->revoke_hash,
		             .corrupt = cs->forge_revocation};

		prefix_key(&prefix, &cs->primary);
		make_sig(&body, &cs->primary, &so, &prefix);
		packet(o, 2, &body);
	}
	body.n = 0;
	put(&body, UID, strlen(UID));
	packet(o, 13, &body);
	{
		sigopt so = {.type = 0x13,
		             .flags = cs->primary_flags,
		             .created = T_KEYS,
		             .key_expires = cs->primary_expires,
		             .hash = cs->selfsig_hash};

		prefix.n = 0;
		prefix_key(&prefix, &cs->primary);
		put8(&prefix, 0xB4);
		put32(&prefix, (uint32_t)strlen(UID));
		put(&prefix, UID, strlen(UID));
		body.n = 0;
		make_sig(&body, &cs->primary, &so, &prefix);
		packet(o, 2, &body);
	}
	if (!cs->with_sub)
		return;
	packet(o, 14, &cs->sub.body);
	prefix.n = 0;
	prefix_key(&prefix, &cs->primary);
	prefix_key(&prefix, &cs->sub);
	{
		bytes back = {0};
		sigopt bo = {
		        .type = 0x19, .flags = -1, .created = T_KEYS, .corrupt = cs->bad_backsig};
		sigopt so = {.type = 0x18,
		             .flags = cs->sub_flags,
		             .created = T_KEYS,
		             .key_expires = cs->sub_expires,
		             .corrupt = cs->bad_binding};

		make_sig(&back, &cs->sub, &bo, &prefix);
		if (!cs->no_backsig)
			so.embedded = &back;
		body.n = 0;
		make_sig(&body, &cs->primary, &so, &prefix);
		packet(o, 2, &body);
	}
	if (cs->revoke_sub) {
		sigopt so = {.type = 0x28, .flags = -1, .created = T_KEYS};

		body.n = 0;
		make_sig(&body, &cs->primary, &so, &prefix);
		packet(o, 2, &body);
	}
}

static char *armor(const char *label, const bytes *data)
{
	size_t b64_cap = sodium_base64_encoded_len(data->n, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = malloc(b64_cap), crc_b64[8];
	uint32_t crc = ef_pgp_crc24(data->b, data->n);
	uint8_t crc_bytes[3] = {(uint8_t)(crc >> 16), (uint8_t)(crc >> 8), (uint8_t)crc};
	ef_buf out = EF_BUF_INIT(1 << 20);

	sodium_bin2base64(b64, b64_cap, data->b, data->n, sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(crc_b64, sizeof(crc_b64), crc_bytes, 3, sodium_base64_VARIANT_ORIGINAL);
	ef_buf_printf(&out, "-----BEGIN %s-----\n\n", label);
	for (size_t i = 0; i < strlen(b64); i += 64)
		ef_buf_printf(&out, "%.64s\n", b64 + i);
	ef_buf_printf(&out, "=%s\n-----END %s-----\n", crc_b64, label);
	free(b64);
	return ef_buf_detach(&out);
}

static ef_pgp_keyring *load_cert(const certspec *cs, int want_rc)
{
	bytes data = {0};
	ef_pgp_keyring *kr = NULL;
	char *txt;

	build_cert(&data, cs);
	txt = armor("PGP PUBLIC KEY BLOCK", &data);
	assert_int_equal(ef_pgp_keyring_load(&kr, txt, strlen(txt), "crafted.asc"), want_rc);
	free(txt);
	return kr;
}

static const char PAYLOAD[] = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
                              "author A <a@example.com> 1748736000 +0000\n"
                              "committer A <a@example.com> 1748736000 +0000\n\ncrafted\n";

/* Signs PAYLOAD with `k` and verifies it against `kr`. `raw` lets a test
 * wrap the signature packet (NULL: one signature packet). */
static int sign_and_verify(ef_verify_result *res, const ef_pgp_keyring *kr, const tkey *k,
                           const sigopt *opt, int64_t now)
{
	bytes body = {0}, pkt = {0}, prefix = {0};
	char *txt;
	int rc;

	put(&prefix, PAYLOAD, strlen(PAYLOAD));
	make_sig(&body, k, opt, &prefix);
	packet(&pkt, 2, &body);
	txt = armor("PGP SIGNATURE", &pkt);
	rc = ef_pgp_verify(res, kr, (const uint8_t *)PAYLOAD, strlen(PAYLOAD), txt, strlen(txt),
	                   now);
	free(txt);
	return rc;
}

static int verify_packets(ef_verify_result *res, const ef_pgp_keyring *kr, const bytes *pkts)
{
	char *txt = armor("PGP SIGNATURE", pkts);
	int rc = ef_pgp_verify(res, kr, (const uint8_t *)PAYLOAD, strlen(PAYLOAD), txt, strlen(txt),
	                       T_NOW);

	free(txt);
	return rc;
}

/* Expected reason, with %P/%S replaced by the crafted fingerprints. */
static void expect(const ef_verify_result *res, int rc, int want_rc, const char *fmt,
                   const certspec *cs)
{
	char want[512];

	expand(want, sizeof(want), fmt, cs->primary.hex, cs->sub.hex);
	assert_string_equal(res->reason, want);
	assert_int_equal(rc, want_rc);
	assert_int_equal(res->verdict, want_rc);
}

static void test_crafted_primary(void **unused)
{
	static const uint8_t algos[] = {27, 22};

	for (size_t a = 0; a < sizeof(algos); a++) {
		certspec cs;
		ef_pgp_keyring *kr;
		ef_verify_result res;
		int rc;

		certspec_init(&cs, algos[a]);
		kr = load_cert(&cs, 0);
		rc = sign_and_verify(&res, kr, &cs.primary, &(sigopt){.flags = -1}, T_NOW);
		expect(&res, rc, 0, "good signature", &cs);
		assert_string_equal(res.signer, cs.primary.hex);
		assert_string_equal(res.key, cs.primary.hex);

		/* SHA-384 and SHA-512 work too. */
		rc = sign_and_verify(&res, kr, &cs.primary, &(sigopt){.flags = -1, .hash = 9},
		                     T_NOW);
		expect(&res, rc, 0, "good signature", &cs);
		rc = sign_and_verify(&res, kr, &cs.primary, &(sigopt){.flags = -1, .hash = 10},
		                     T_NOW);
		expect(&res, rc, 0, "good signature", &cs);

		/* Issuer given only as a key id, or not at all: still found. */
		rc = sign_and_verify(
		        &res, kr, &cs.primary,
		        &(sigopt){.flags = -1, .no_issuer_fpr = true, .issuer_keyid = true}, T_NOW);
		expect(&res, rc, 0, "good signature", &cs);
		rc = sign_and_verify(&res, kr, &cs.primary,
		                     &(sigopt){.flags = -1, .no_issuer_fpr = true}, T_NOW);
		expect(&res, rc, 0, "good signature", &cs);

		/* A non-critical unknown subpacket is fine, a critical one is not. */
		rc = sign_and_verify(&res, kr, &cs.primary, &(sigopt){.flags = -1, .extra = 35},
		                     T_NOW);
		expect(&res, rc, 0, "good signature", &cs);
		rc = sign_and_verify(&res, kr, &cs.primary,
		                     &(sigopt){.flags = -1, .extra = 35, .extra_critical = true},
		                     T_NOW);
		expect(&res, rc, EF_EREJECTED, "unknown critical subpacket 35", &cs);
		rc = sign_and_verify(&res, kr, &cs.primary,
		                     &(sigopt){.flags = -1, .extra = 20, .extra_critical = true},
		                     T_NOW);
		expect(&res, rc, EF_EREJECTED, "unknown critical subpacket 20", &cs);

		/* Creation time missing or only in the unhashed area. */
		rc = sign_and_verify(&res, kr, &cs.primary,
		                     &(sigopt){.flags = -1, .no_created = true}, T_NOW);
		expect(&res, rc, EF_EREJECTED, "signature has no hashed creation time", &cs);
		rc = sign_and_verify(&res, kr, &cs.primary,
		                     &(sigopt){.flags = -1, .created_unhashed = true}, T_NOW);
		expect(&res, rc, EF_EREJECTED, "signature has no hashed creation time", &cs);

		/* Weak or unknown digests, other signature types and versions. */
		rc = sign_and_verify(&res, kr, &cs.primary, &(sigopt){.flags = -1, .hash = 1},
		                     T_NOW);
		expect(&res, rc, EF_EREJECTED, "signature made with MD5 is refused", &cs);
		rc = sign_and_verify(&res, kr, &cs.primary, &(sigopt){.flags = -1, .hash = 2},
		                     T_NOW);
		expect(&res, rc, EF_EREJECTED, "signature made with SHA-1 is refused", &cs);
		rc = sign_and_verify(&res, kr, &cs.primary, &(sigopt){.flags = -1, .hash = 3},
		                     T_NOW);
		expect(&res, rc, EF_EREJECTED, "signature made with RIPEMD-160 is refused", &cs);
		rc = sign_and_verify(&res, kr, &cs.primary, &(sigopt){.flags = -1, .hash = 11},
		                     T_NOW);
		expect(&res, rc, EF_EREJECTED,
		       "signature uses unsupported hash algorithm 11 (SHA-224)", &cs);
		rc = sign_and_verify(&res, kr, &cs.primary, &(sigopt){.flags = -1, .type = 1},
		                     T_NOW);
		expect(&res, rc, EF_EREJECTED,
		       "signature type 0x01 is not a binary document signature", &cs);
		rc = sign_and_verify(&res, kr, &cs.primary, &(sigopt){.flags = -1, .version = 5},
		                     T_NOW);
		expect(&res, rc, EF_EREJECTED,
		       "malformed OpenPGP signature: version 5 signature (only version 4 is "
		       "supported)",
		       &cs);

		/* A broken signature, and one claiming the other EdDSA algorithm. */
		rc = sign_and_verify(&res, kr, &cs.primary, &(sigopt){.flags = -1, .corrupt = true},
		                     T_NOW);
		expect(&res, rc, EF_EREJECTED, "signature does not match the commit", &cs);
		rc = sign_and_verify(&res, kr, &cs.primary,
		                     &(sigopt){.flags = -1, .sig_algo = algos[a] == 22 ? 27 : 22},
		                     T_NOW);
		expect(&res, rc, EF_EREJECTED,
		       algos[a] == 22 ? "signature algorithm 27 does not match key %P (algorithm "
		                        "22)"
		                      : "signature algorithm 22 does not match key %P (algorithm "
		                        "27)",
		       &cs);

		/* Dated before the key existed; expired signature. */
		rc = sign_and_verify(&res, kr, &cs.primary,
		                     &(sigopt){.flags = -1, .created = T_KEYS - 10}, T_NOW);
		expect(&res, rc, EF_EREJECTED, "signature is dated before key %P was created", &cs);
		rc = sign_and_verify(&res, kr, &cs.primary,
		                     &(sigopt){.flags = -1, .sig_expires = 86400}, T_NOW);
		expect(&res, rc, EF_EREJECTED, "signature expired on 2025-06-02", &cs);
		ef_pgp_keyring_free(kr);
	}
}

/* EdDSA legacy R and S are MPIs without leading zeros: find signatures
 * whose R, then S, starts with a zero byte and check they verify. */
static void test_eddsa_leading_zeros(void **unused)
{
	certspec cs;
	ef_pgp_keyring *kr;

	certspec_init(&cs, 22);
	kr = load_cert(&cs, 0);
	for (int part = 0; part < 2; part++) {
		bool found = false;

		for (uint32_t t = T_SIG; t < T_SIG + 5000 && !found; t++) {
			bytes body = {0}, prefix = {0}, pkt = {0};
			ef_verify_result res;
			sigopt so = {.flags = -1, .created = t};
			size_t off;

			put(&prefix, PAYLOAD, strlen(PAYLOAD));
			make_sig(&body, &cs.primary, &so, &prefix);
			/* The MPIs end the body: R bits at [n - 4 - rlen - slen]. */
			off = body.n;
			{
				size_t hl = (size_t)(body.b[4] << 8 | body.b[5]);
				size_t ul_off = 6 + hl;
				size_t ul = (size_t)(body.b[ul_off] << 8 | body.b[ul_off + 1]);
				size_t r_off = ul_off + 2 + ul + 2;
				size_t rlen =
				        ((size_t)(body.b[r_off] << 8 | body.b[r_off + 1]) + 7) / 8;
				size_t slen = ((size_t)(body.b[r_off + 2 + rlen] << 8 |
				                        body.b[r_off + 3 + rlen]) +
				               7) /
				              8;

				if ((part == 0 ? rlen : slen) >= 32)
					continue;
				assert_int_equal(r_off + 4 + rlen + slen, off);
			}
			packet(&pkt, 2, &body);
			assert_int_equal(verify_packets(&res, kr, &pkt), 0);
			found = true;
		}
		assert_true(found);
	}
	ef_pgp_keyring_free(kr);
}

static void test_crafted_keys(void **unused)
{
	certspec cs;
	ef_pgp_keyring *kr;
	ef_verify_result res;
	sigopt plain = {.flags = -1};
	int rc;

	/* Primary key limited to certification. */
	certspec_init(&cs, 27);
	cs.primary_flags = 0x01;
	kr = load_cert(&cs, 0);
	rc = sign_and_verify(&res, kr, &cs.primary, &plain, T_NOW);
	expect(&res, rc, EF_EREJECTED, "key %P is not allowed to sign (key flags)", &cs);
	ef_pgp_keyring_free(kr);

	/* No key flags at all: the primary may sign. */
	certspec_init(&cs, 27);
	cs.primary_flags = -1;
	kr = load_cert(&cs, 0);
	rc = sign_and_verify(&res, kr, &cs.primary, &plain, T_NOW);
	expect(&res, rc, 0, "good signature", &cs);
	ef_pgp_keyring_free(kr);

	/* Expiry on the self-signature, checked at the signature time and now. */
	certspec_init(&cs, 27);
	cs.primary_expires = 365 * 86400;
	kr = load_cert(&cs, 0);
	rc = sign_and_verify(&res, kr, &cs.primary, &plain, T_NOW);
	expect(&res, rc, 0, "good signature", &cs);
	rc = sign_and_verify(&res, kr, &cs.primary, &plain, T_LATE);
	expect(&res, rc, EF_EREJECTED, "key %P expired on 2026-01-01", &cs);
	rc = sign_and_verify(&res, kr, &cs.primary, &(sigopt){.flags = -1, .created = T_LATE},
	                     T_LATE - 86400 * 300);
	expect(&res, rc, EF_EREJECTED, "key %P expired on 2026-01-01", &cs);
	ef_pgp_keyring_free(kr);

	/* A valid revocation counts; a forged one is ignored. */
	certspec_init(&cs, 27);
	cs.revoke = true;
	kr = load_cert(&cs, 0);
	rc = sign_and_verify(&res, kr, &cs.primary, &plain, T_NOW);
	expect(&res, rc, EF_EREJECTED, "key %P is revoked", &cs);
	ef_pgp_keyring_free(kr);
	certspec_init(&cs, 27);
	cs.forge_revocation = true;
	kr = load_cert(&cs, 0);
	rc = sign_and_verify(&res, kr, &cs.primary, &plain, T_NOW);
	expect(&res, rc, 0, "good signature", &cs);
	ef_pgp_keyring_free(kr);
	/* Old keys were revoked with SHA-1: such a revocation still counts. */
	certspec_init(&cs, 27);
	cs.revoke = true;
	cs.revoke_hash = 2;
	kr = load_cert(&cs, 0);
	rc = sign_and_verify(&res, kr, &cs.primary, &plain, T_NOW);
	expect(&res, rc, EF_EREJECTED, "key %P is revoked", &cs);
	ef_pgp_keyring_free(kr);

	/* A self-signature made with SHA-1 does not count. */
	certspec_init(&cs, 27);
	cs.selfsig_hash = 2;
	load_cert(&cs, EF_EINVALID);
	{
		char want[256];

		snprintf(want, sizeof(want),
		         "crafted.asc: key %s has no valid self-signature: self-signature: made "
		         "with SHA-1, which is refused",
		         cs.primary.hex);
		assert_string_equal(ef_error_last(), want);
	}

	/* An unknown key id. */
	certspec_init(&cs, 27);
	kr = load_cert(&cs, 0);
	{
		tkey other;

		tkey_make(&other, 27, 9, T_KEYS);
		rc = sign_and_verify(
		        &res, kr, &other,
		        &(sigopt){.flags = -1, .no_issuer_fpr = true, .issuer_keyid = true}, T_NOW);
		{
			char want[128];

			snprintf(want, sizeof(want), "no trusted key has key id %s",
			         other.hex + 24);
			assert_string_equal(res.reason, want);
			assert_int_equal(rc, EF_EREJECTED);
		}
		rc = sign_and_verify(&res, kr, &other,
		                     &(sigopt){.flags = -1, .no_issuer_fpr = true}, T_NOW);
		expect(&res, rc, EF_EREJECTED,
		       "signature names no issuer and no trusted key made it", &cs);
	}
	ef_pgp_keyring_free(kr);
}

typedef struct {
	const char *name;
	void (*tweak)(certspec *cs);
	int rc;
	const char *reason;
} subkey_case;

static void sub_ok(certspec *cs)
{
}
static void sub_no_backsig(certspec *cs)
{
	cs->no_backsig = true;
}
static void sub_bad_backsig(certspec *cs)
{
	cs->bad_backsig = true;
}
static void sub_bad_binding(certspec *cs)
{
	cs->bad_binding = true;
}
static void sub_encrypt_only(certspec *cs)
{
	cs->sub_flags = 0x0C;
}
static void sub_no_flags(certspec *cs)
{
	cs->sub_flags = -1;
}
static void sub_revoked(certspec *cs)
{
	cs->revoke_sub = true;
}
static void sub_expired(certspec *cs)
{
	cs->sub_expires = 30 * 86400;
}
static void sub_primary_cert_only(certspec *cs)
{
	cs->primary_flags = 0x01;
}

static const subkey_case subkey_cases[] = {
        {"good", sub_ok, 0, "good signature"},
        {"primary cert-only", sub_primary_cert_only, 0, "good signature"},
        {"no back-signature", sub_no_backsig, EF_EREJECTED,
         "subkey %S of key %P has no valid primary key binding (back-signature)"},
        {"bad back-signature", sub_bad_backsig, EF_EREJECTED,
         "subkey %S of key %P has no valid primary key binding (back-signature): "
         "back-signature: signature does not match"},
        {"bad binding", sub_bad_binding, EF_EREJECTED,
         "subkey %S of key %P has no valid binding signature: binding signature: signature does "
         "not match"},
        {"encryption subkey", sub_encrypt_only, EF_EREJECTED,
         "subkey %S of key %P is not allowed to sign (key flags)"},
        {"no key flags", sub_no_flags, EF_EREJECTED,
         "subkey %S of key %P is not allowed to sign (key flags)"},
        {"revoked", sub_revoked, EF_EREJECTED, "subkey %S of key %P is revoked"},
        {"expired", sub_expired, EF_EREJECTED, "subkey %S of key %P expired on 2025-01-31"},
};

static void test_crafted_subkeys(void **unused)
{
	static const uint8_t algos[] = {27, 22};

	for (size_t a = 0; a < sizeof(algos); a++) {
		for (size_t i = 0; i < sizeof(subkey_cases) / sizeof(subkey_cases[0]); i++) {
			const subkey_case *c = &subkey_cases[i];
			certspec cs;
			ef_pgp_keyring *kr;
			ef_verify_result res;
			int rc;

			certspec_init(&cs, algos[a]);
			cs.with_sub = true;
			c->tweak(&cs);
			kr = load_cert(&cs, 0);
			print_message("algo %u, %s\n", algos[a], c->name);
			rc = sign_and_verify(&res, kr, &cs.sub, &(sigopt){.flags = -1}, T_NOW);
			expect(&res, rc, c->rc, c->reason, &cs);
			assert_string_equal(res.signer, cs.primary.hex);
			assert_string_equal(res.key, cs.sub.hex);
			ef_pgp_keyring_free(kr);
		}
	}
}

/* Packet framing of the signature itself. */
static void test_signature_framing(void **unused)
{
	certspec cs;
	ef_pgp_keyring *kr;
	ef_verify_result res;
	bytes body = {0}, prefix = {0}, pkts = {0};
	int rc;

	certspec_init(&cs, 27);
	kr = load_cert(&cs, 0);
	put(&prefix, PAYLOAD, strlen(PAYLOAD));
	make_sig(&body, &cs.primary, &(sigopt){.flags = -1}, &prefix);

	/* Old-format header as GnuPG writes it (0x88 / 0x89). */
	put8(&pkts, 0x89);
	put16(&pkts, body.n);
	put(&pkts, body.b, body.n);
	rc = verify_packets(&res, kr, &pkts);
	expect(&res, rc, 0, "good signature", &cs);

	/* Two signature packets. */
	packet(&pkts, 2, &body);
	rc = verify_packets(&res, kr, &pkts);
	expect(&res, rc, EF_EREJECTED,
	       "malformed OpenPGP signature: expected exactly one signature packet", &cs);

	/* Indeterminate old-format length, partial new-format length. */
	pkts.n = 0;
	put8(&pkts, 0x8B);
	put(&pkts, body.b, body.n);
	rc = verify_packets(&res, kr, &pkts);
	expect(&res, rc, EF_EREJECTED,
	       "malformed OpenPGP signature: indeterminate packet lengths are not supported "
	       "(packet tag 2)",
	       &cs);
	pkts.n = 0;
	put8(&pkts, 0xC2);
	put8(&pkts, 0xE1);
	put(&pkts, body.b, 2);
	rc = verify_packets(&res, kr, &pkts);
	expect(&res, rc, EF_EREJECTED,
	       "malformed OpenPGP signature: partial body lengths are not supported (packet tag "
	       "2)",
	       &cs);

	/* Truncated body; a literal data packet instead of a signature. */
	pkts.n = 0;
	put8(&pkts, 0xC2);
	put8(&pkts, (unsigned)body.n);
	put(&pkts, body.b, body.n - 1);
	rc = verify_packets(&res, kr, &pkts);
	{
		char want[160];

		snprintf(want, sizeof(want),
		         "malformed OpenPGP signature: packet (tag 2) of %zu bytes runs past the "
		         "end of the data",
		         body.n);
		assert_string_equal(res.reason, want);
		assert_int_equal(rc, EF_EREJECTED);
	}
	pkts.n = 0;
	packet(&pkts, 11, &body);
	rc = verify_packets(&res, kr, &pkts);
	expect(&res, rc, EF_EREJECTED,
	       "malformed OpenPGP signature: packet tag 11 is not a signature", &cs);
	/* Trailing bytes inside the signature packet. */
	put8(&body, 0);
	pkts.n = 0;
	packet(&pkts, 2, &body);
	rc = verify_packets(&res, kr, &pkts);
	expect(&res, rc, EF_EREJECTED, "malformed OpenPGP signature: malformed signature packet",
	       &cs);
	ef_pgp_keyring_free(kr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_crc24_and_armor),
	        cmocka_unit_test(test_gnupg_fixtures),
	        cmocka_unit_test(test_single_key_keyring),
	        cmocka_unit_test(test_keyring_errors),
	        cmocka_unit_test(test_crafted_primary),
	        cmocka_unit_test(test_eddsa_leading_zeros),
	        cmocka_unit_test(test_crafted_keys),
	        cmocka_unit_test(test_crafted_subkeys),
	        cmocka_unit_test(test_signature_framing),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
