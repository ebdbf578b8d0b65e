/* age file decryption (https://age-encryption.org/v1), X25519 recipients:
 * identities from an `age-keygen` file, the header and its MAC, the STREAM
 * payload in 64 KiB ChaCha20-Poly1305 chunks. libsodium gives X25519,
 * ChaCha20-Poly1305 and HMAC-SHA-256; HKDF is two HMACs over them. */
#include "edgeflip/error.h"
#include "edgeflip/secrets.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IDENTITIES  64
#define MAX_STANZAS     64
#define MAX_HEADER      (64 * 1024)
#define FILE_KEY_LEN    16
#define CHUNK           (64 * 1024)
#define TAG_LEN         16
#define X25519_INFO     "age-encryption.org/v1/X25519"
#define ARMOR_BEGIN     "-----BEGIN AGE ENCRYPTED FILE-----"
#define ARMOR_END       "-----END AGE ENCRYPTED FILE-----"
#define IDENTITY_PREFIX "AGE-SECRET-KEY-1"

struct ef_age_identities {
	unsigned char (*keys)[32]; /* X25519 scalars */
	unsigned char (*pubs)[32];
	size_t n;
};

/* ---------------------------------------------------------------------------
 * bech32 (BIP 173), as age encodes keys. */

static const char bech32_chars[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static uint32_t bech32_polymod(const unsigned char *v, size_t n)
{
	static const uint32_t gen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
	uint32_t chk = 1;

	for (size_t i = 0; i < n; i++) {
		uint32_t top = chk >> 25;
		chk = ((chk & 0x1ffffff) << 5) ^ v[i];
		for (int j = 0; j < 5; j++)
			if ((top >> j) & 1)
				chk ^= gen[j];
	}
	return chk;
}

/* Decodes "hrp1data" (one case) to 32 bytes. */
static int bech32_decode32(unsigned char out[32], const char *s, size_t n, const char *hrp)
{
	size_t hrp_len = strlen(hrp), ndata;
	unsigned char v[256];
	size_t nv = 0, nout = 0;
	uint32_t acc = 0;
	int bits = 0;
	bool upper = false, lower = false;

	if (n < hrp_len + 1 + 6 || n > 200)
		return -1;
	for (size_t i = 0; i < n; i++) {
		upper |= s[i] >= 'A' && s[i] <= 'Z';
		lower |= s[i] >= 'a' && s[i] <= 'z';
	}
	if (upper && lower)
		return -1;
	for (size_t i = 0; i < hrp_len; i++) {
		char ch = s[i];
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if (ch != hrp[i])
			return -1;
	}
	if (s[hrp_len] != '1')
		return -1;
	for (size_t i = 0; i < hrp_len; i++)
		v[nv++] = (unsigned char)(hrp[i] >> 5);
	v[nv++] = 0;
	for (size_t i = 0; i < hrp_len; i++)
		v[nv++] = (unsigned char)(hrp[i] & 31);
	ndata = n - hrp_len - 1;
	for (size_t i = 0; i < ndata; i++) {
		char ch = s[hrp_len + 1 + i];
		const char *p;
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if (!ch || !(p = strchr(bech32_chars, ch)))
			return -1;
		v[nv++] = (unsigned char)(p - bech32_chars);
	}
	if (bech32_polymod(v, nv) != 1)
		return -1;
	/* 5-bit groups (without the 6 checksum ones) to bytes. */
	for (size_t i = nv - ndata; i < nv - 6; i++) {
		acc = (acc << 5) | v[i];
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (nout >= 32)
				return -1;
			out[nout++] = (unsigned char)(acc >> bits);
		}
	}
	if (nout != 32 || bits >= 5 || (acc & ((1u << bits) - 1)))
		return -1;
	return 0;
}

static void bech32_encode32(char *out, size_t outsize, const char *hrp, const unsigned char in[32])
{
	unsigned char v[128];
	size_t hrp_len = strlen(hrp), nv = 0, ndata = 0, o = 0;
	unsigned char data[64];
	uint32_t acc = 0, chk;
	int bits = 0;

	for (size_t i = 0; i < 32; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			data[ndata++] = (unsigned char)((acc >> bits) & 31);
		}
	}
	if (bits)
		data[ndata++] = (unsigned char)((acc << (5 - bits)) & 31);
	for (size_t i = 0; i < hrp_len; i++)
		v[nv++] = (unsigned char)(hrp[i] >> 5);
	v[nv++] = 0;
	for (size_t i = 0; i < hrp_len; i++)
		v[nv++] = (unsigned char)(hrp[i] & 31);
	memcpy(v + nv, data, ndata);
	nv += ndata;
	memset(v + nv, 0, 6);
	chk = bech32_polymod(v, nv + 6) ^ 1;
	o = (size_t)snprintf(out, outsize, "%s1", hrp);
	for (size_t i = 0; i < ndata && o + 1 < outsize; i++)
		out[o++] = bech32_chars[data[i]];
	for (int i = 0; i < 6 && o + 1 < outsize; i++)
		out[o++] = bech32_chars[(chk >> (5 * (5 - i))) & 31];
	out[o] = '\0';
}

/* ---------------------------------------------------------------------------
 * Identities */

int ef_age_identities_parse(ef_age_identities **out, const char *text, size_t len, const char *name)
{
	ef_age_identities *ids = NULL;
	const char *p = text, *end = text + len;
	unsigned line = 0;
	int error = EF_EINVALID;

	*out = NULL;
	if (sodium_init() < 0) {
		ef_error_set("libsodium failed to initialise");
		return EF_ERROR;
	}
	if (!(ids = calloc(1, sizeof(*ids))) || !(ids->keys = sodium_malloc(MAX_IDENTITIES * 32)) ||
	    !(ids->pubs = calloc(MAX_IDENTITIES, 32))) {
		ef_error_set("out of memory");
		error = EF_ENOMEM;
		goto out;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end, *b = p;
		line++;
		p = nl ? nl + 1 : end;
		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (b == e || *b == '#')
			continue;
		if ((size_t)(e - b) < strlen(IDENTITY_PREFIX) ||
		    strncmp(b, IDENTITY_PREFIX, strlen(IDENTITY_PREFIX)) != 0) {
			ef_error_set("%s:%u: not an age identity (expected a line starting with "
			             "%s, as age-keygen writes; plugin and SSH identities are not "
			             "supported)",
			             name, line, IDENTITY_PREFIX);
			goto out;
		}
		if (ids->n == MAX_IDENTITIES) {
			ef_error_set("%s:%u: more than %d identities", name, line, MAX_IDENTITIES);
			error = EF_ETOOBIG;
			goto out;
		}
		if (bech32_decode32(ids->keys[ids->n], b, (size_t)(e - b), "age-secret-key-") < 0) {
			ef_error_set("%s:%u: the age identity is damaged (bad bech32 encoding or "
			             "checksum); copy it again from the file age-keygen wrote",
			             name, line);
			goto out;
		}
		crypto_scalarmult_base(ids->pubs[ids->n], ids->keys[ids->n]);
		ids->n++;
	}
	if (!ids->n) {
		ef_error_set("%s: no age identity (AGE-SECRET-KEY-1…) found", name);
		goto out;
	}
	*out = ids;
	ids = NULL;
	error = 0;
out:
	ef_age_identities_free(ids);
	return error;
}

size_t ef_age_identities_count(const ef_age_identities *ids)
{
	return ids ? ids->n : 0;
}

int ef_age_recipient(char out[128], const ef_age_identities *ids, size_t i)
{
	if (!ids || i >= ids->n)
		return EF_ENOTFOUND;
	bech32_encode32(out, 128, "age", ids->pubs[i]);
	return 0;
}

void ef_age_identities_free(ef_age_identities *ids)
{
	if (!ids)
		return;
	sodium_free(ids->keys); /* wipes */
	free(ids->pubs);
	free(ids);
}

/* ---------------------------------------------------------------------------
 * HKDF-SHA-256 (RFC 5869), one or two blocks. */

static void hmac_sha256(unsigned char out[32], const unsigned char *key, size_t key_len,
                        const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
	static const unsigned char no_key[1];
	crypto_auth_hmacsha256_state st;

	/* An empty key (HKDF without salt) is still a valid pointer. */
	crypto_auth_hmacsha256_init(&st, key ? key : no_key, key_len);
	crypto_auth_hmacsha256_update(&st, a, alen);
	if (blen)
		crypto_auth_hmacsha256_update(&st, b, blen);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

static void hkdf32(unsigned char out[32], const unsigned char *ikm, size_t ikm_len,
                   const unsigned char *salt, size_t salt_len, const char *info)
{
	unsigned char prk[32], one = 1;
	unsigned char buf[128];
	size_t ilen = strlen(info);

	hmac_sha256(prk, salt, salt_len, ikm, ikm_len, NULL, 0);
	memcpy(buf, info, ilen);
	buf[ilen] = one;
	hmac_sha256(out, prk, sizeof(prk), buf, ilen + 1, NULL, 0);
	sodium_memzero(prk, sizeof(prk));
}

/* ---------------------------------------------------------------------------
 * The header */

typedef struct {
	const char *type;
	size_t type_len;
	const char *args[4];
	size_t arg_len[4];
	int nargs;
	unsigned char body[512];
	size_t body_len;
} stanza;

static int b64raw(unsigned char *out, size_t max, size_t *out_len, const char *s, size_t n)
{
	/* Canonical unpadded base64: sodium rejects trailing bits that are not zero. */
	if (sodium_base642bin(out, max, s, n, NULL, out_len, NULL,
	                      sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0)
		return -1;
	return 0;
}

static int header_error(const char *what)
{
	ef_error_set("not a valid age file: %s", what);
	return EF_EINVALID;
}

/* Parses the header of `in`: stanzas, the MAC, and where the payload starts. */
static int parse_header(stanza *st, size_t *nst, unsigned char mac[32], size_t *mac_at,
                        size_t *payload_at, const char *in, size_t len)
{
	static const char intro[] = "age-encryption.org/v1\n";
	size_t pos = sizeof(intro) - 1;

	*nst = 0;
	if (len < pos || memcmp(in, intro, pos) != 0)
		return header_error("it does not start with age-encryption.org/v1");
	for (;;) {
		const char *line = in + pos, *nl;
		size_t ll;
		if (pos >= len || pos > MAX_HEADER)
			return header_error("the header does not end");
		if (!(nl = memchr(line, '\n', len - pos)))
			return header_error("the header does not end");
		ll = (size_t)(nl - line);
		if (ll >= 4 && !memcmp(line, "--- ", 4)) {
			size_t n;
			*mac_at = pos + 3;
			if (b64raw(mac, 32, &n, line + 4, ll - 4) < 0 || n != 32)
				return header_error("bad header MAC encoding");
			*payload_at = pos + ll + 1;
			return 0;
		}
		if (ll < 3 || memcmp(line, "-> ", 3) != 0)
			return header_error(
			        "expected a stanza (\"-> \") or the MAC line (\"--- \")");
		if (*nst == MAX_STANZAS)
			return header_error("too many stanzas");
		stanza *s = &st[(*nst)++];
		memset(s, 0, sizeof(*s));
		/* "-> type arg..." */
		{
			const char *p = line + 3, *e = line + ll;
			int field = 0;
			while (p < e) {
				const char *sp = memchr(p, ' ', (size_t)(e - p));
				const char *we = sp ? sp : e;
				if (we == p)
					return header_error("empty stanza argument");
				if (field == 0) {
					s->type = p;
					s->type_len = (size_t)(we - p);
				} else {
					if (s->nargs == 4)
						return header_error("too many stanza arguments");
					s->args[s->nargs] = p;
					s->arg_len[s->nargs++] = (size_t)(we - p);
				}
				field++;
				p = sp ? sp + 1 : e;
			}
			if (!field)
				return header_error("stanza without a type");
		}
		pos += ll + 1;
		/* Body: base64 lines of 64 columns, ended by a shorter one. */
		{
			char b64[720];
			size_t nb = 0, n;
			for (;;) {
				const char *bl = in + pos, *bnl;
				size_t bll;
				if (pos >= len || !(bnl = memchr(bl, '\n', len - pos)))
					return header_error("a stanza body does not end");
				bll = (size_t)(bnl - bl);
				if (bll > 64)
					return header_error(
					        "a stanza body line is longer than 64 columns");
				if (nb + bll > sizeof(b64))
					return header_error("a stanza body is too long");
				memcpy(b64 + nb, bl, bll);
				nb += bll;
				pos += bll + 1;
				if (bll < 64)
					break;
			}
			if (b64raw(s->body, sizeof(s->body), &n, b64, nb) < 0)
				return header_error("bad stanza body encoding");
			s->body_len = n;
		}
	}
}

/* Unwraps the file key from an X25519 stanza with one identity. */
static int unwrap_x25519(unsigned char file_key[FILE_KEY_LEN], const stanza *s,
                         const unsigned char key[32], const unsigned char pub[32])
{
	unsigned char share[32], shared[32], salt[64], wrap[32], nonce[12] = {0};
	unsigned long long n;
	size_t sl;
	int ok;

	if (s->nargs != 1 || b64raw(share, sizeof(share), &sl, s->args[0], s->arg_len[0]) < 0 ||
	    sl != 32 || s->body_len != FILE_KEY_LEN + TAG_LEN)
		return EF_EINVALID;
	if (crypto_scalarmult(shared, key, share) != 0) /* low-order share */
		return EF_EINVALID;
	memcpy(salt, share, 32);
	memcpy(salt + 32, pub, 32);
	hkdf32(wrap, shared, 32, salt, 64, X25519_INFO);
	ok = crypto_aead_chacha20poly1305_ietf_decrypt(file_key, &n, NULL, s->body, s->body_len,
	                                               NULL, 0, nonce, wrap) == 0 &&
	     n == FILE_KEY_LEN;
	sodium_memzero(shared, sizeof(shared));
	sodium_memzero(wrap, sizeof(wrap));
	return ok ? 0 : EF_EREJECTED;
}

/* ---------------------------------------------------------------------------
 * Armor */

static int dearmor(unsigned char **out, size_t *out_len, const char *in, size_t len)
{
	const char *p = in, *end = in + len, *b, *e;
	size_t blen = strlen(ARMOR_BEGIN), elen = strlen(ARMOR_END), n;
	unsigned char *bin;

	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
		end--;
	if ((size_t)(end - p) < blen + elen || memcmp(p, ARMOR_BEGIN, blen) != 0 ||
	    memcmp(end - elen, ARMOR_END, elen) != 0)
		return header_error("bad ASCII armor");
	b = p + blen;
	e = end - elen;
	if (!(bin = malloc((size_t)(e - b) + 1))) {
		ef_error_set("out of memory");
		return EF_ENOMEM;
	}
	/* Lines of 64 columns, padded base64; sodium skips the newlines. */
	if (sodium_base642bin(bin, (size_t)(e - b) + 1, b, (size_t)(e - b), "\r\n", &n, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0) {
		free(bin);
		return header_error("bad base64 in the ASCII armor");
	}
	*out = bin;
	*out_len = n;
	return 0;
}

/* ---------------------------------------------------------------------------
 * Decryption */

static int decrypt_payload(ef_buf *out, const unsigned char file_key[FILE_KEY_LEN],
                           const unsigned char *p, size_t len)
{
	unsigned char key[32], nonce[12] = {0}, *chunk = NULL;
	size_t pos = 16;
	uint64_t counter = 0;
	int error = EF_EREJECTED;

	if (len < 16 + TAG_LEN)
		return header_error("the payload is truncated");
	hkdf32(key, file_key, FILE_KEY_LEN, p, 16, "payload");
	if (!(chunk = sodium_malloc(CHUNK))) {
		ef_error_set("out of memory");
		error = EF_ENOMEM;
		goto out;
	}
	for (;;) {
		size_t left = len - pos, clen = left > CHUNK + TAG_LEN ? CHUNK + TAG_LEN : left;
		bool last = left <= CHUNK + TAG_LEN;
		unsigned long long n;
		if (clen < TAG_LEN) {
			error = header_error("the payload is truncated");
			goto out;
		}
		/* An 11-byte big-endian counter; its top 3 bytes stay 0. */
		for (int i = 0; i < 8; i++)
			nonce[10 - i] = (unsigned char)(counter >> (8 * i));
		nonce[11] = last ? 1 : 0;
		if (crypto_aead_chacha20poly1305_ietf_decrypt(chunk, &n, NULL, p + pos, clen, NULL,
		                                              0, nonce, key) != 0) {
			ef_error_set("the age payload fails authentication (tampered or "
			             "truncated)");
			error = EF_EREJECTED;
			goto out;
		}
		if (n == 0 && counter > 0) {
			error = header_error("an empty final chunk");
			goto out;
		}
		if ((error = ef_buf_put(out, chunk, (size_t)n)) < 0)
			goto out;
		pos += clen;
		counter++;
		if (last)
			break;
	}
	error = 0;
out:
	sodium_memzero(key, sizeof(key));
	sodium_free(chunk);
	return error;
}

/* An age file's header, dearmored when armored, its stanzas parsed. */
typedef struct {
	stanza *st;
	size_t nst, mac_at, payload_at, bin_len;
	unsigned char mac[32], *armored;
	const unsigned char *bin;
} header;

static int header_open(header *h, const char *in, size_t len)
{
	int error;

	memset(h, 0, sizeof(*h));
	h->bin = (const unsigned char *)in;
	h->bin_len = len;
	if (len >= 5 && !memcmp(in, "-----", 5)) {
		if ((error = dearmor(&h->armored, &h->bin_len, in, len)) < 0)
			return error;
		h->bin = h->armored;
	}
	if (!(h->st = calloc(MAX_STANZAS, sizeof(*h->st)))) {
		ef_error_set("out of memory");
		return EF_ENOMEM;
	}
	return parse_header(h->st, &h->nst, h->mac, &h->mac_at, &h->payload_at,
	                    (const char *)h->bin, h->bin_len);
}

static void header_close(header *h)
{
	free(h->st);
	free(h->armored);
}

int ef_age_inspect(size_t *x25519, const char *in, size_t len)
{
	header h;
	int error = header_open(&h, in, len);

	*x25519 = 0;
	for (size_t i = 0; error == 0 && i < h.nst; i++)
		*x25519 += h.st[i].type_len == 6 && memcmp(h.st[i].type, "X25519", 6) == 0;
	header_close(&h);
	return error;
}

int ef_age_decrypt(ef_buf *out, const ef_age_identities *ids, const char *in, size_t len)
{
	header h;
	unsigned char want[32], hkey[32], file_key[FILE_KEY_LEN];
	bool found = false;
	int error = EF_EINVALID;

	if (!ids || !ids->n) {
		ef_error_set("no age identity loaded");
		return EF_EREJECTED;
	}
	if ((error = header_open(&h, in, len)) < 0)
		goto out;
	for (size_t i = 0; i < h.nst && !found; i++) {
		if (h.st[i].type_len != 6 || memcmp(h.st[i].type, "X25519", 6) != 0)
			continue;
		for (size_t k = 0; k < ids->n && !found; k++)
			found = unwrap_x25519(file_key, &h.st[i], ids->keys[k], ids->pubs[k]) == 0;
	}
	if (!found) {
		ef_error_set("no age identity of the key file opens it (encrypted to other "
		             "recipients)");
		error = EF_EREJECTED;
		goto out;
	}
	hkdf32(hkey, file_key, FILE_KEY_LEN, NULL, 0, "header");
	hmac_sha256(want, hkey, sizeof(hkey), h.bin, h.mac_at, NULL, 0);
	if (sodium_memcmp(want, h.mac, 32) != 0) {
		ef_error_set("the age header MAC does not match (tampered header)");
		error = EF_EREJECTED;
		goto out;
	}
	error = decrypt_payload(out, file_key, h.bin + h.payload_at, h.bin_len - h.payload_at);
out:
	sodium_memzero(file_key, sizeof(file_key));
	sodium_memzero(hkey, sizeof(hkey));
	header_close(&h);
	return error;
}
