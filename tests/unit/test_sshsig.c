/* SSH commit signatures: real fixtures made by ssh-keygen and git
 * (data/verify/ssh, see make-fixtures.sh), hand-built SSHSIG variants signed
 * here with libsodium, allowed_signers parsing, times and patterns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../core/trust/allowed_signers.h"
#include "../../core/trust/sshsig.h"

#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/verify.h"

#include <sodium.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DIR EF_TEST_DATA "/verify/ssh"
#define NOW 1780000000 /* 2026-05-28T20:26:40Z */

/* ---- helpers ---------------------------------------------------------------- */

/* The fingerprint ssh-keygen -l printed for a fixture key (data/.../fingerprints). */
static void fixture_fingerprint(char *out, size_t size, const char *who)
{
	ef_buf text;
	char *p;
	size_t n = strlen(who);

	assert_int_equal(ef_read_file(&text, DIR "/fingerprints", 1 << 16), 0);
	for (p = text.ptr; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, who, n) == 0 && p[n] == ' ') {
			snprintf(out, size, "%.*s", (int)strcspn(p + n + 1, "\n"), p + n + 1);
			ef_buf_dispose(&text);
			return;
		}
	}
	fail_msg("no fingerprint for %s", who);
}

/* Replaces %K with `key` and %F with `file`. */
static void expand(char *out, size_t size, const char *tmpl, const char *key, const char *file)
{
	size_t n = 0;

	for (const char *p = tmpl; *p && n + 1 < size; p++) {
		const char *sub = NULL;

		if (p[0] == '%' && p[1] == 'K')
			sub = key;
		else if (p[0] == '%' && p[1] == 'F')
			sub = file;
		if (sub) {
			n += (size_t)snprintf(out + n, size - n, "%s", sub);
			p++;
		} else {
			out[n++] = *p;
		}
	}
	out[n < size ? n : size - 1] = '\0';
}

static int verify_file(ef_verify_result *r, const ef_trust *t, const char *path, int64_t now)
{
	ef_buf raw;
	int rc;

	assert_int_equal(ef_read_file(&raw, path, 1 << 20), 0);
	rc = ef_verify_commit(r, t, raw.ptr, raw.len, now);
	ef_buf_dispose(&raw);
	return rc;
}

/* ---- the fixtures made by ssh-keygen and git ------------------------------------ */

typedef struct {
	const char *name;
	int rc;
	const char *format;
	const char *who;    /* fixture key expected in r.key, or NULL for "" */
	const char *signer; /* "" unless good */
	const char *reason; /* %K: that key's fingerprint, %F: the allowed_signers path */
} fixture_case;

static const fixture_case fixtures[] = {
        {"good-ed25519", 0, "ssh", "alice", "alice@example.com", "good signature"},
        {"good-ecdsa256", 0, "ssh", "bob", "bob@example.com", "good signature"},
        {"good-ecdsa384", 0, "ssh", "carol", "carol@example.com", "good signature"},
        {"good-rsa", 0, "ssh", "dave", "dave@example.com", "good signature"},
        {"good-options", 0, "ssh", "ivan", "ivan@example.com", "good signature"},
        {"unsigned", EF_EREJECTED, "", NULL, "", "unsigned commit"},
        {"gpgsig-in-message", EF_EREJECTED, "", NULL, "", "unsigned commit"},
        {"untrusted", EF_EREJECTED, "ssh", "mallory", "",
         "no trusted key matches the signing key %K"},
        {"expired", EF_EREJECTED, "ssh", "erin", "",
         "key %K of erin@example.com is not valid after 2020-01-01T00:00:00Z (committer time "
         "2025-06-01T12:00:00Z)"},
        {"not-yet-valid", EF_EREJECTED, "ssh", "frank", "",
         "key %K of frank@example.com is not valid before 2099-01-01T00:00:00Z (committer time "
         "2025-06-01T12:00:00Z)"},
        {"namespace-refused", EF_EREJECTED, "ssh", "grace", "",
         "key %K of grace@example.com is not allowed to sign git commits (namespaces option on "
         "line 9 of %F)"},
        {"device-expired", EF_EREJECTED, "ssh", "heidi", "",
         "key %K of heidi@example.com expired at 2026-01-01T00:00:00Z by the device clock (now "
         "2026-05-28T20:26:40Z); an expired key cannot sign new commits, whatever committer time "
         "they claim"},
        {"namespace-file", EF_EREJECTED, "ssh", "alice", "", "namespace 'file' is not 'git'"},
        {"tree-changed", EF_EREJECTED, "ssh", "alice", "",
         "signature does not match the commit (content changed after signing?)"},
        {"message-changed", EF_EREJECTED, "ssh", "alice", "",
         "signature does not match the commit (content changed after signing?)"},
        {"nul-byte", EF_EINVALID, "", NULL, "", "NUL byte in commit object at offset 493"},
        {"duplicate-gpgsig", EF_EINVALID, "", NULL, "",
         "duplicate signature header: 'gpgsig' at offset 481 after 'gpgsig' at offset 175"},
        {"injected-gpgsig-sha256", EF_EINVALID, "", NULL, "",
         "duplicate signature header: 'gpgsig-sha256' at offset 481 after 'gpgsig' at offset 175"},
        {"trailing-bytes", EF_EREJECTED, "ssh", NULL, "", "SSH signature has 4 trailing bytes"},
        {"armor-trailing-text", EF_EREJECTED, "ssh", NULL, "",
         "data after the end of the SSH signature"},
        {"x509", EF_EREJECTED, "x509", NULL, "",
         "X.509 (gpgsm) signatures are unsupported; sign with an SSH or OpenPGP key"},
        {"ssh-rsa-sha1", EF_EREJECTED, "ssh", "dave", "",
         "ssh-rsa (SHA-1) signatures are refused; sign with rsa-sha2-256 or rsa-sha2-512"},
};

static void test_fixtures(void **state)
{
	ef_trust *t;

	(void)state;
	assert_int_equal(ef_trust_load(&t, DIR "/allowed_signers", NULL), 0);
	for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		const fixture_case *c = &fixtures[i];
		char path[512], key[EF_SSH_FINGERPRINT_LEN] = "", want[1024];
		ef_verify_result r;
		int rc;

		snprintf(path, sizeof(path), DIR "/cases/%s.commit", c->name);
		if (c->who)
			fixture_fingerprint(key, sizeof(key), c->who);
		expand(want, sizeof(want), c->reason, key, DIR "/allowed_signers");
		rc = verify_file(&r, t, path, NOW);
		print_message("%-24s rc=%d reason=%s\n", c->name, rc, r.reason);
		assert_int_equal(rc, c->rc);
		assert_int_equal(r.verdict, c->rc == 0 ? 0 : EF_EREJECTED);
		assert_string_equal(r.format, c->format);
		assert_string_equal(r.key, key);
		assert_string_equal(r.signer, c->signer);
		assert_string_equal(r.reason, want);
	}
	ef_trust_free(t);
}

/* heidi's key is valid until 2026-01-01: good while the device clock is before. */
static void test_device_clock(void **state)
{
	ef_verify_result r;
	ef_trust *t;

	(void)state;
	assert_int_equal(ef_trust_load(&t, DIR "/allowed_signers", NULL), 0);
	assert_int_equal(verify_file(&r, t, DIR "/cases/device-expired.commit", 1767225600), 0);
	assert_string_equal(r.signer, "heidi@example.com");
	assert_int_equal(verify_file(&r, t, DIR "/cases/device-expired.commit", 1767225601),
	                 EF_EREJECTED);
	ef_trust_free(t);
}

/* Both trust files: the armor's first line picks the verifier; a format
 * without its trust file is refused with a reason that says which is missing. */
static void test_dispatch(void **state)
{
	const char *pgp_keys = EF_TEST_DATA "/verify/pgp/trusted.asc";
	const char *pgp_commit = EF_TEST_DATA "/verify/pgp/commit-ed25519.raw";
	char key[EF_SSH_FINGERPRINT_LEN], want[512];
	ef_verify_result r;
	ef_trust *t;

	(void)state;
	fixture_fingerprint(key, sizeof(key), "alice");
	assert_int_equal(ef_trust_load(&t, DIR "/allowed_signers", pgp_keys), 0);
	assert_int_equal(verify_file(&r, t, DIR "/cases/good-ed25519.commit", NOW), 0);
	assert_string_equal(r.format, "ssh");
	assert_int_equal(verify_file(&r, t, pgp_commit, NOW), 0);
	assert_string_equal(r.format, "openpgp");
	ef_trust_free(t);

	assert_int_equal(ef_trust_load(&t, NULL, pgp_keys), 0);
	assert_int_equal(verify_file(&r, t, DIR "/cases/good-ed25519.commit", NOW), EF_EREJECTED);
	snprintf(want, sizeof(want),
	         "commit is signed with SSH key %s but no allowed_signers file is configured", key);
	assert_string_equal(r.reason, want);
	assert_string_equal(r.key, key);
	ef_trust_free(t);

	assert_int_equal(ef_trust_load(&t, DIR "/allowed_signers", NULL), 0);
	assert_int_equal(verify_file(&r, t, pgp_commit, NOW), EF_EREJECTED);
	assert_string_equal(r.format, "openpgp");
	assert_string_equal(r.reason,
	                    "commit is signed with OpenPGP but no openpgp_keys file is configured");
	ef_trust_free(t);
}

/* ---- hand-built signatures ------------------------------------------------------- */

#define PAYLOAD                                                                                    \
	"tree 4cf9f177c4c015836fca6a31f9c3917e89ae29ec\n"                                          \
	"author A <a@example.com> 1748779200 +0000\n"                                              \
	"committer C <c@example.com> 1748779200 +0000\n"
#define MESSAGE "\ndeploy\n"

typedef struct {
	const char *name;
	uint32_t version;
	const char *ns;
	const char *reserved;
	const char *hash;
	const char *sigtype;
	const char *keytype;
	const char *magic;
	int trailing, inner_trailing, truncate, wrap; /* wrap: base64 line length (0: 70) */
	bool corrupt, sign_other_payload;
	int rc;
	const char *reason;
} built_case;

static uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];

static void put_u32(ef_buf *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	assert_int_equal(ef_buf_put(b, x, 4), 0);
}

static void put_str(ef_buf *b, const void *s, size_t n)
{
	put_u32(b, (uint32_t)n);
	assert_int_equal(ef_buf_put(b, s, n), 0);
}

static void key_blob(ef_buf *b, const char *type)
{
	ef_buf_init(b, 1 << 16);
	put_str(b, type, strlen(type));
	put_str(b, pk, sizeof(pk));
	if (strncmp(type, "sk-", 3) == 0)
		put_str(b, "ssh:", 4);
}

static char *b64(const void *p, size_t n)
{
	size_t l = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(l);

	assert_non_null(s);
	sodium_bin2base64(s, l, p, n, sodium_base64_VARIANT_ORIGINAL);
	return s;
}

/* Builds a commit object signed as the case says. */
static void build_commit(ef_buf *out, const built_case *c)
{
	const char *payload = c->sign_other_payload ? PAYLOAD "\nother\n" : PAYLOAD MESSAGE;
	const char *hash = c->hash ? c->hash : "sha512";
	const char *ns = c->ns ? c->ns : "git";
	uint8_t digest[64], sig[crypto_sign_BYTES];
	ef_buf key, tosign, inner, blob;
	char *text;
	size_t wrap = c->wrap ? (size_t)c->wrap : 70, len;

	key_blob(&key, c->keytype ? c->keytype : "ssh-ed25519");
	if (strcmp(hash, "sha256") == 0) {
		crypto_hash_sha256(digest, (const uint8_t *)payload, strlen(payload));
		len = 32;
	} else {
		crypto_hash_sha512(digest, (const uint8_t *)payload, strlen(payload));
		len = 64;
	}
	ef_buf_init(&tosign, 1 << 16);
	assert_int_equal(ef_buf_put(&tosign, "SSHSIG", 6), 0);
	put_str(&tosign, ns, strlen(ns));
	put_str(&tosign, "", 0);
	put_str(&tosign, hash, strlen(hash));
	put_str(&tosign, digest, len);
	crypto_sign_detached(sig, NULL, (const uint8_t *)tosign.ptr, tosign.len, sk);
	if (c->corrupt)
		sig[10] ^= 1;

	ef_buf_init(&inner, 1 << 16);
	put_str(&inner, c->sigtype ? c->sigtype : "ssh-ed25519",
	        strlen(c->sigtype ? c->sigtype : "ssh-ed25519"));
	put_str(&inner, sig, sizeof(sig));
	for (int i = 0; i < c->inner_trailing; i++)
		assert_int_equal(ef_buf_put(&inner, "\0", 1), 0);

	ef_buf_init(&blob, 1 << 16);
	assert_int_equal(ef_buf_put(&blob, c->magic ? c->magic : "SSHSIG", 6), 0);
	put_u32(&blob, c->version ? c->version : 1);
	put_str(&blob, key.ptr, key.len);
	put_str(&blob, ns, strlen(ns));
	put_str(&blob, c->reserved ? c->reserved : "", c->reserved ? strlen(c->reserved) : 0);
	put_str(&blob, hash, strlen(hash));
	put_str(&blob, inner.ptr, inner.len);
	for (int i = 0; i < c->trailing; i++)
		assert_int_equal(ef_buf_put(&blob, "\0", 1), 0);
	text = b64(blob.ptr, blob.len - (size_t)c->truncate);

	ef_buf_init(out, 1 << 20);
	assert_int_equal(ef_buf_puts(out, PAYLOAD "gpgsig -----BEGIN SSH SIGNATURE-----\n"), 0);
	for (size_t i = 0; i < strlen(text); i += wrap)
		assert_int_equal(ef_buf_printf(out, " %.*s\n", (int)wrap, text + i), 0);
	assert_int_equal(ef_buf_puts(out, " -----END SSH SIGNATURE-----\n" MESSAGE), 0);
	free(text);
	ef_buf_dispose(&key);
	ef_buf_dispose(&tosign);
	ef_buf_dispose(&inner);
	ef_buf_dispose(&blob);
}

static const built_case built[] = {
        {.name = "sha512", .reason = "good signature"},
        {.name = "sha256", .hash = "sha256", .reason = "good signature"},
        {.name = "one long base64 line", .wrap = 4000, .reason = "good signature"},
        {.name = "short base64 lines", .wrap = 4, .reason = "good signature"},
        {.name = "version 2",
         .version = 2,
         .rc = EF_EREJECTED,
         .reason = "SSH signature version 2 is not supported (only version 1)"},
        {.name = "namespace file",
         .ns = "file",
         .rc = EF_EREJECTED,
         .reason = "namespace 'file' is not 'git'"},
        {.name = "namespace gitx",
         .ns = "gitx",
         .rc = EF_EREJECTED,
         .reason = "namespace 'gitx' is not 'git'"},
        {.name = "hash md5",
         .hash = "md5",
         .rc = EF_EREJECTED,
         .reason = "hash algorithm 'md5' is not supported (sha256 or sha512)"},
        {.name = "reserved",
         .reserved = "x",
         .rc = EF_EREJECTED,
         .reason = "SSH signature has a non-empty reserved field"},
        {.name = "trailing bytes",
         .trailing = 4,
         .rc = EF_EREJECTED,
         .reason = "SSH signature has 4 trailing bytes"},
        {.name = "inner trailing bytes",
         .inner_trailing = 2,
         .rc = EF_EREJECTED,
         .reason = "SSH signature field has 2 trailing bytes"},
        {.name = "truncated",
         .truncate = 1,
         .rc = EF_EREJECTED,
         .reason = "SSH signature is truncated or malformed"},
        {.name = "magic",
         .magic = "SSHSIH",
         .rc = EF_EREJECTED,
         .reason = "SSH signature does not start with the SSHSIG magic"},
        {.name = "sigtype ssh-rsa on ed25519",
         .sigtype = "ssh-rsa",
         .rc = EF_EREJECTED,
         .reason = "signature algorithm 'ssh-rsa' does not fit a ssh-ed25519 key"},
        {.name = "sk key",
         .keytype = "sk-ssh-ed25519@openssh.com",
         .sigtype = "sk-ssh-ed25519@openssh.com",
         .rc = EF_EREJECTED,
         .reason = "signing key: security-key (sk-ssh-ed25519@openssh.com) signatures are not "
                   "supported: FIDO keys sign a different structure; use an ed25519, ecdsa or rsa "
                   "key"},
        {.name = "certificate",
         .keytype = "ssh-ed25519-cert-v01@openssh.com",
         .rc = EF_EREJECTED,
         .reason = "signing key: SSH certificates (ssh-ed25519-cert-v01@openssh.com) are not "
                   "supported; list the signing key itself"},
        {.name = "dsa",
         .keytype = "ssh-dss",
         .rc = EF_EREJECTED,
         .reason = "signing key: ssh-dss (DSA) keys are refused"},
        {.name = "corrupt signature",
         .corrupt = true,
         .rc = EF_EREJECTED,
         .reason = "signature does not match the commit (content changed after signing?)"},
        {.name = "other payload",
         .sign_other_payload = true,
         .rc = EF_EREJECTED,
         .reason = "signature does not match the commit (content changed after signing?)"},
};

static char trust_path[] = "/tmp/ef-test-sshsig-XXXXXX";

static int setup_built(void **state)
{
	static const uint8_t seed[crypto_sign_SEEDBYTES] = {1, 2, 3, 4, 5, 6, 7, 8};
	ef_buf key;
	char *text;
	FILE *f;
	int fd;

	(void)state;
	if (sodium_init() < 0)
		return -1;
	crypto_sign_seed_keypair(pk, sk, seed);
	key_blob(&key, "ssh-ed25519");
	text = b64(key.ptr, key.len);
	if ((fd = mkstemp(trust_path)) < 0 || !(f = fdopen(fd, "w")))
		return -1;
	fprintf(f, "# test key\n\n  test@example.com,ci  ssh-ed25519 %s  comment here\n", text);
	fclose(f);
	free(text);
	ef_buf_dispose(&key);
	return 0;
}

static int teardown_built(void **state)
{
	(void)state;
	unlink(trust_path);
	return 0;
}

static void test_built(void **state)
{
	ef_trust *t;

	(void)state;
	assert_int_equal(ef_trust_load(&t, trust_path, NULL), 0);
	for (size_t i = 0; i < sizeof(built) / sizeof(built[0]); i++) {
		const built_case *c = &built[i];
		ef_verify_result r;
		ef_buf raw;
		int rc;

		build_commit(&raw, c);
		rc = ef_verify_commit(&r, t, raw.ptr, raw.len, NOW);
		print_message("%-28s rc=%d reason=%s\n", c->name, rc, r.reason);
		assert_int_equal(rc, c->rc);
		assert_string_equal(r.reason, c->reason);
		assert_string_equal(r.format, "ssh");
		assert_string_equal(r.signer, rc == 0 ? "test@example.com,ci" : "");
		ef_buf_dispose(&raw);
	}
	ef_trust_free(t);
}

/* Armor and format errors, on a commit whose signature text is given. */
static void test_armor(void **state)
{
	static const struct {
		const char *sig; /* the header value lines, already with continuation spaces */
		const char *reason;
	} cases[] = {
	        {"-----BEGIN SSH SIGNATURE-----\n AAAA\n",
	         "SSH signature has no '-----END SSH SIGNATURE-----' line"},
	        {"-----BEGIN SSH SIGNATURE-----\n AA*A\n -----END SSH SIGNATURE-----\n",
	         "SSH signature armor holds a character that is not base64 (offset 32)"},
	        {"-----BEGIN SSH SIGNATURE-----\n AAA\n -----END SSH SIGNATURE-----\n",
	         "SSH signature is not valid base64"},
	        {"-----BEGIN SSH SIGNATURE-----\n AAB=\n -----END SSH SIGNATURE-----\n",
	         "SSH signature is not valid base64"},
	        {"-----BEGIN SSH SIGNATURE-----\n -----END SSH SIGNATURE-----\n",
	         "SSH signature does not start with the SSHSIG magic"},
	        {"-----BEGIN SSH SIGNATURE----- \n -----END SSH SIGNATURE-----\n",
	         "unknown signature format (first line '-----BEGIN SSH SIGNATURE----- ')"},
	        {"-----BEGIN FOO-----\n x\n",
	         "unknown signature format (first line '-----BEGIN FOO-----')"},
	        {"\n", "unknown signature format (first line '')"},
	        {"-----BEGIN PGP SIGNATURE-----\n \n iQ\n -----END PGP SIGNATURE-----\n",
	         "commit is signed with OpenPGP but no openpgp_keys file is configured"},
	};
	ef_trust *t;

	(void)state;
	assert_int_equal(ef_trust_load(&t, trust_path, NULL), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ef_verify_result r;
		ef_buf raw = EF_BUF_INIT(1 << 16);

		assert_int_equal(ef_buf_printf(&raw, PAYLOAD "gpgsig %s" MESSAGE, cases[i].sig), 0);
		assert_int_equal(ef_verify_commit(&r, t, raw.ptr, raw.len, NOW), EF_EREJECTED);
		assert_string_equal(r.reason, cases[i].reason);
		ef_buf_dispose(&raw);
	}
	ef_trust_free(t);
}

/* ---- allowed_signers -------------------------------------------------------------- */

#define ED "AAAAC3NzaC1lZDI1NTE5AAAAINnTrELKQfaqDZkILyDUPiOp68wbeiJEsIkZLSC4up+p"
#define RSA1024                                                                                    \
	"AAAAB3NzaC1yc2EAAAADAQABAAAAgQDhjdAswExps5hZy7+"                                          \
	"jKsZCXQNKgjf3Fgmibiwtj0DQVtQeB9tNcITjL0abOp"                                              \
	"k+vqiZYrgc5gXF+b2rUHK2qtkNPGWhlVrstZAjjlQ4wiXPwuHYFMUuLwhur5iZVlAu9IS+"                   \
	"cuS8Dhpa2OKzo0o7IO2y"                                                                     \
	"vmYWD633gtVltWfpBDpx8w=="
/* string "sk-ssh-ed25519@openssh.com" | string 32 bytes | string "ssh:" */
#define SK                                                                                         \
	"AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" \
	"AAAA"                                                                                     \
	"AAAABHNzaDo="

static void test_allowed_signers_parse(void **state)
{
	static const struct {
		const char *text;
		int rc;
		const char *error;
		size_t n;
	} cases[] = {
	        {"", 0, NULL, 0},
	        {"# only a comment\n\n   \n\t# indented comment\n", 0, NULL, 0},
	        {"a@x ssh-ed25519 " ED "\n", 0, NULL, 1},
	        {"a@x ssh-ed25519 " ED, 0, NULL, 1},
	        {"a@x ssh-ed25519 " ED " a comment with spaces\r\n", 0, NULL, 1},
	        {"\"a b@x\" ssh-ed25519 " ED "\n", 0, NULL, 1},
	        {"a@x namespaces=\"git\" ssh-ed25519 " ED "\n", 0, NULL, 1},
	        {"a@x NAMESPACES=\"git\",Valid-After=\"20240101\" ssh-ed25519 " ED "\n", 0, NULL,
	         1},
	        {"a@x valid-before=20991231Z ssh-ed25519 " ED "\n", 0, NULL, 1},
	        {"a@x ssh-ed25519 " ED "\nb@x ssh-ed25519 " ED "\n", 0, NULL, 2},
	        {"a@x cert-authority ssh-ed25519 " ED "\n", EF_EINVALID,
	         "F:1: cert-authority lines are not supported (edgeflip does not verify SSH "
	         "certificates); list the signing keys themselves",
	         0},
	        {"\na@x cert-authority,namespaces=\"git\" ssh-ed25519 " ED "\n", EF_EINVALID,
	         "F:2: cert-authority lines are not supported (edgeflip does not verify SSH "
	         "certificates); list the signing keys themselves",
	         0},
	        {"a@x from=\"*.example.com\" ssh-ed25519 " ED "\n", EF_EINVALID,
	         "F:1: unknown option 'from' (edgeflip knows namespaces, valid-after, "
	         "valid-before)",
	         0},
	        {"a@x valid-after=\"2024\" ssh-ed25519 " ED "\n", EF_EINVALID,
	         "F:1: valid-after: invalid time '2024' (want YYYYMMDD, YYYYMMDDHHMM or "
	         "YYYYMMDDHHMMSS, optionally followed by Z)",
	         0},
	        {"a@x valid-before=\"20240231\" ssh-ed25519 " ED "\n", EF_EINVALID,
	         "F:1: valid-before: invalid time '20240231' (want YYYYMMDD, YYYYMMDDHHMM or "
	         "YYYYMMDDHHMMSS, optionally followed by Z)",
	         0},
	        {"a@x valid-after=\"20240101\",valid-after=\"20250101\" ssh-ed25519 " ED "\n",
	         EF_EINVALID, "F:1: more than one valid-after option", 0},
	        {"a@x namespaces=\"git\",namespaces=\"file\" ssh-ed25519 " ED "\n", EF_EINVALID,
	         "F:1: more than one namespaces option", 0},
	        {"a@x namespaces=\"\" ssh-ed25519 " ED "\n", EF_EINVALID,
	         "F:1: empty namespaces option", 0},
	        {"a@x namespaces=\"git ssh-ed25519 " ED "\n", EF_EINVALID,
	         "F:1: option without a closing quote", 0},
	        {"a@x namespaces=g\"i\"t ssh-ed25519 " ED "\n", EF_EINVALID,
	         "F:1: badly quoted value of option 'namespaces'", 0},
	        {"a@x\n", EF_EINVALID, "F:1: missing key after the principals", 0},
	        {"\"a@x ssh-ed25519 " ED "\n", EF_EINVALID, "F:1: invalid principals", 0},
	        {"a\"b@x ssh-ed25519 " ED "\n", EF_EINVALID, "F:1: invalid principals", 0},
	        {"a@x ssh-ed25519\n", EF_EINVALID,
	         "F:1: missing base64 key after the key type 'ssh-ed25519'", 0},
	        {"a@x ssh-ed25519 AAAA*AAA\n", EF_EINVALID,
	         "F:1: the key of type ssh-ed25519 is not valid base64", 0},
	        {"a@x ssh-rsa " ED "\n", EF_EINVALID,
	         "F:1: key type 'ssh-rsa' does not match the key, which is ssh-ed25519", 0},
	        {"a@x ssh-rsa " RSA1024 "\n", EF_EINVALID,
	         "F:1: RSA key of 1024 bits refused (edgeflip accepts 2048 to 16384 bits)", 0},
	        {"a@x sk-ssh-ed25519@openssh.com " SK "\n", EF_EINVALID,
	         "F:1: security-key (sk-ssh-ed25519@openssh.com) signatures are not supported: "
	         "FIDO "
	         "keys sign a different structure; use an ed25519, ecdsa or rsa key",
	         0},
	        {"a@x ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAAQA=\n", EF_EINVALID,
	         "F:1: malformed ssh-ed25519 public key", 0},
	        {"a@x ssh-ed25519 " ED "\nb@x ssh-ed25519 AAAA\n", EF_EINVALID,
	         "F:2: malformed SSH public key", 0},
	        {"a@x \"ssh-ed25519 " ED "\n", EF_EINVALID,
	         "F:1: missing base64 key after the key type '\"ssh-ed25519 "
	         "AAAAC3NzaC1lZDI1NTE5AAAAINn'",
	         0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ef_allowed_signers *as = NULL;
		int rc;

		ef_error_clear();
		rc = ef_allowed_signers_parse(&as, cases[i].text, strlen(cases[i].text), "F");
		print_message("case %zu: rc=%d %s\n", i, rc, ef_error_last());
		assert_int_equal(rc, cases[i].rc);
		if (rc == 0) {
			assert_int_equal(as->n, cases[i].n);
		} else {
			assert_null(as);
			assert_string_equal(ef_error_last(), cases[i].error);
		}
		ef_allowed_signers_free(as);
	}
}

static void test_allowed_signers_fields(void **state)
{
	const char text[] = "\"a b@x,c@x\" namespaces=\"file,git\",valid-after=\"202401021504\","
	                    "valid-before=\"20991231235959Z\" ssh-ed25519 " ED " alice\n";
	ef_allowed_signers *as;

	(void)state;
	assert_int_equal(ef_allowed_signers_parse(&as, text, strlen(text), "F"), 0);
	assert_int_equal(as->n, 1);
	assert_string_equal(as->v[0].principals, "a b@x,c@x");
	assert_int_equal(ef_strv_len(as->v[0].namespaces), 2);
	assert_true(as->v[0].has_valid_after);
	assert_int_equal(as->v[0].valid_after, 1704207840);
	assert_int_equal(as->v[0].valid_before, 4102444799);
	assert_int_equal(as->v[0].key_len, 51);
	ef_allowed_signers_free(as);
}

static void test_times(void **state)
{
	static const struct {
		const char *s;
		int rc;
		int64_t t;
	} cases[] = {
	        {"19700101", 0, 0},
	        {"19700101Z", 0, 0},
	        {"20240229", 0, 1709164800},
	        {"20240229z", 0, 1709164800},
	        {"202402291230", 0, 1709209800},
	        {"20240229123059Z", 0, 1709209859},
	        {"20230229", EF_EINVALID, 0},
	        {"20241301", EF_EINVALID, 0},
	        {"20240100", EF_EINVALID, 0},
	        {"20240101246000", EF_EINVALID, 0},
	        {"2024010112", EF_EINVALID, 0},
	        {"2024-01-01", EF_EINVALID, 0},
	        {"", EF_EINVALID, 0},
	        {"Z", EF_EINVALID, 0},
	        {"21000228", 0, 4107456000},
	        {"21000229", EF_EINVALID, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t t = -1;
		int rc = ef_ssh_parse_time(&t, cases[i].s, strlen(cases[i].s));

		print_message("time %s -> %d %lld\n", cases[i].s, rc, (long long)t);
		assert_int_equal(rc, cases[i].rc);
		if (rc == 0)
			assert_int_equal(t, cases[i].t);
	}
}

static void test_patterns(void **state)
{
	char *git[] = {"git", NULL}, *file[] = {"file", NULL}, *star[] = {"*", NULL},
	     *g[] = {"g?t", NULL}, *neg[] = {"*", "!git", NULL}, *pre[] = {"gi*", NULL};

	(void)state;
	assert_true(ef_ssh_match_pattern_list("git", git));
	assert_false(ef_ssh_match_pattern_list("git", file));
	assert_true(ef_ssh_match_pattern_list("git", star));
	assert_true(ef_ssh_match_pattern_list("git", g));
	assert_false(ef_ssh_match_pattern_list("git", neg));
	assert_true(ef_ssh_match_pattern_list("git", pre));
	assert_false(ef_ssh_match_pattern_list("git", NULL));
}

static void test_trust_load(void **state)
{
	ef_trust *t = (ef_trust *)1;

	(void)state;
	assert_int_equal(ef_trust_load(&t, NULL, NULL), EF_EINVALID);
	assert_null(t);
	assert_string_equal(ef_error_last(),
	                    "no trusted keys: set allowed_signers and/or openpgp_keys");
	assert_int_equal(ef_trust_load(&t, DIR "/missing", NULL), EF_ENOTFOUND);
	assert_string_equal(ef_error_last(),
	                    "cannot open " DIR "/missing: No such file or directory");
}

/* The fingerprint matches `ssh-keygen -l` for every fixture key. */
static void test_fingerprints(void **state)
{
	static const char *names[] = {"good-ed25519", "good-ecdsa256", "good-ecdsa384", "good-rsa",
	                              "untrusted"};
	static const char *who[] = {"alice", "bob", "carol", "dave", "mallory"};

	(void)state;
	for (size_t i = 0; i < 5; i++) {
		char path[512], want[EF_SSH_FINGERPRINT_LEN], got[EF_SSH_FINGERPRINT_LEN];
		const char *sig;
		ef_sshsig s;
		ef_buf raw;

		snprintf(path, sizeof(path), DIR "/cases/%s.commit", names[i]);
		assert_int_equal(ef_read_file(&raw, path, 1 << 20), 0);
		sig = strstr(raw.ptr, "gpgsig ");
		assert_non_null(sig);
		{
			/* undo the header folding */
			ef_buf text = EF_BUF_INIT(1 << 16);
			const char *p = sig + 7;
			while (*p) {
				size_t l = strcspn(p, "\n") + 1;
				assert_int_equal(ef_buf_put(&text, p, l), 0);
				p += l;
				if (*p != ' ')
					break;
				p++;
			}
			assert_int_equal(ef_sshsig_parse(&s, text.ptr, text.len), 0);
			ef_buf_dispose(&text);
		}
		ef_sshkey_fingerprint(got, s.pubkey, s.pubkey_len);
		fixture_fingerprint(want, sizeof(want), who[i]);
		assert_string_equal(got, want);
		ef_sshsig_dispose(&s);
		ef_buf_dispose(&raw);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_fixtures),
	        cmocka_unit_test(test_device_clock),
	        cmocka_unit_test(test_dispatch),
	        cmocka_unit_test(test_built),
	        cmocka_unit_test(test_armor),
	        cmocka_unit_test(test_allowed_signers_parse),
	        cmocka_unit_test(test_allowed_signers_fields),
	        cmocka_unit_test(test_times),
	        cmocka_unit_test(test_patterns),
	        cmocka_unit_test(test_trust_load),
	        cmocka_unit_test(test_fingerprints),
	};
	return cmocka_run_group_tests(tests, setup_built, teardown_built);
}
