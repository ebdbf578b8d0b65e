/* The OpenPGP packet parser (RFC 4880, RFC 9580 v4 subset): ASCII armor
 * with its CRC24, packet framing, and the bodies of public key and
 * signature packets with their subpackets. Everything here reads outside
 * input under the caps of pgp_internal.h and decides nothing about trust:
 * pgp_keyring.c and openpgp.c do. Fuzzed by tests/fuzz/fuzz_armor.c,
 * fuzz_pgp_keys.c and fuzz_pgp_sig.c. */
#include "pgp_internal.h"

#include "edgeflip/error.h"
#include "pgp_crypto.h"

#include <sodium.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const uint8_t OID_P256[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};
static const uint8_t OID_P384[] = {0x2B, 0x81, 0x04, 0x00, 0x22};
static const uint8_t OID_ED25519[] = {0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01};

/* ---- small helpers ---------------------------------------------------- */

static bool rd_take(reader *r, size_t n, const uint8_t **out)
{
	if (n > r->len - r->off)
		return false;
	*out = r->p + r->off;
	r->off += n;
	return true;
}

static bool rd_u8(reader *r, uint8_t *out)
{
	const uint8_t *p;

	if (!rd_take(r, 1, &p))
		return false;
	*out = p[0];
	return true;
}

static bool rd_u16(reader *r, uint16_t *out)
{
	const uint8_t *p;

	if (!rd_take(r, 2, &p))
		return false;
	*out = (uint16_t)((p[0] << 8) | p[1]);
	return true;
}

static uint32_t be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static bool rd_u32(reader *r, uint32_t *out)
{
	const uint8_t *p;

	if (!rd_take(r, 4, &p))
		return false;
	*out = be32(p);
	return true;
}

/* An MPI: 2-byte bit count, then the bytes. Leading zero bytes are dropped. */
static bool rd_mpi(reader *r, const uint8_t **out, size_t *out_len)
{
	uint16_t bits;
	size_t n;

	if (!rd_u16(r, &bits) || bits > MAX_MPI_BITS)
		return false;
	n = ((size_t)bits + 7) / 8;
	if (!rd_take(r, n, out))
		return false;
	while (n > 0 && (*out)[0] == 0) {
		(*out)++;
		n--;
	}
	*out_len = n;
	return true;
}

/* Bits in a big-endian magnitude without leading zero bytes. */
static size_t mpi_bits(const uint8_t *p, size_t n)
{
	size_t bits = n * 8;

	if (n == 0)
		return 0;
	for (uint8_t top = p[0]; !(top & 0x80); top = (uint8_t)(top << 1))
		bits--;
	return bits;
}

void pgp_to_hex(char *out, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

void pgp_fmt_date(char out[32], int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || strftime(out, 32, "%Y-%m-%d", &tm) == 0)
		snprintf(out, 32, "@%lld", (long long)t);
}

void pgp_put_be16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void pgp_put_be32(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ---- armor ------------------------------------------------------------ */

uint32_t ef_pgp_crc24(const uint8_t *data, size_t len)
{
	uint32_t crc = 0xB704CEu;

	for (size_t i = 0; i < len; i++) {
		crc ^= (uint32_t)data[i] << 16;
		for (int b = 0; b < 8; b++) {
			crc <<= 1;
			if (crc & 0x1000000u)
				crc ^= 0x1864CFBu;
		}
	}
	return crc & 0xFFFFFFu;
}

typedef struct {
	const char *p;
	size_t len;
} line;

/* Returns the next line (without "\n" or "\r\n") and advances *off. */
static bool next_line(const char *text, size_t len, size_t *off, line *out)
{
	const char *nl;
	size_t n;

	if (*off >= len)
		return false;
	out->p = text + *off;
	nl = memchr(out->p, '\n', len - *off);
	n = nl ? (size_t)(nl - out->p) : len - *off;
	*off += nl ? n + 1 : n;
	if (n > 0 && out->p[n - 1] == '\r')
		n--;
	/* Trailing blanks are allowed after armor lines (RFC 9580 6.2). */
	while (n > 0 && (out->p[n - 1] == ' ' || out->p[n - 1] == '\t'))
		n--;
	out->len = n;
	return true;
}

static bool line_is(const line *l, const char *what, const char *label)
{
	size_t wl = strlen(what), ll = strlen(label);

	return l->len == 10 + wl + ll && memcmp(l->p, "-----", 5) == 0 &&
	       memcmp(l->p + 5, what, wl) == 0 && memcmp(l->p + 5 + wl, label, ll) == 0 &&
	       memcmp(l->p + 5 + wl + ll, "-----", 5) == 0;
}

static bool is_blank(const line *l)
{
	return l->len == 0;
}

static bool is_b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/' || c == '=';
}

/* Decodes one armored block starting at text[*off]. With `strict`, only
 * blank lines may come before the BEGIN line and after the END line. */
int pgp_dearmor_block(uint8_t **out, size_t *out_len, const char *text, size_t len, size_t *off,
                      const char *label, bool strict)
{
	uint8_t *bin = NULL, crc_bytes[3] = {0};
	char *b64 = NULL;
	size_t b64_len = 0, bin_len = 0;
	bool have_crc = false, in_headers = true, found = false;
	int error = EF_EINVALID;
	line l;

	while (next_line(text, len, off, &l)) {
		if (line_is(&l, "BEGIN ", label)) {
			found = true;
			break;
		}
		if (strict && !is_blank(&l)) {
			ef_error_set("expected '-----BEGIN %s-----'", label);
			return EF_EINVALID;
		}
	}
	if (!found) {
		ef_error_set("no '-----BEGIN %s-----' line", label);
		return EF_ENOTFOUND;
	}
	if (!(b64 = malloc(len - *off + 1))) {
		ef_error_set("out of memory");
		return EF_ENOMEM;
	}
	for (;;) {
		if (!next_line(text, len, off, &l)) {
			ef_error_set("armor ends without '-----END %s-----'", label);
			goto out;
		}
		if (in_headers) {
			/* "Key: value" lines end at a blank line. Some writers
			 * omit the blank line when there are no headers. */
			if (memchr(l.p, ':', l.len)) {
				if (l.len > MAX_HEADER_LINE) {
					ef_error_set("armor header line too long");
					goto out;
				}
				continue;
			}
			in_headers = false;
			if (is_blank(&l))
				continue;
		}
		if (line_is(&l, "END ", label))
			break;
		if (have_crc) {
			ef_error_set("unexpected data after the armor checksum");
			goto out;
		}
		if (l.len > 0 && l.p[0] == '=') {
			uint8_t tmp[4];
			size_t n = 0;

			if (l.len != 5 ||
			    sodium_base642bin(tmp, sizeof(tmp), l.p + 1, 4, NULL, &n, NULL,
			                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
			    n != 3) {
				ef_error_set("malformed armor checksum line");
				goto out;
			}
			memcpy(crc_bytes, tmp, 3);
			have_crc = true;
			continue;
		}
		for (size_t i = 0; i < l.len; i++) {
			if (!is_b64_char(l.p[i])) {
				ef_error_set("invalid character in armored data");
				goto out;
			}
			b64[b64_len++] = l.p[i];
		}
	}
	if (b64_len == 0) {
		ef_error_set("empty armored data");
		goto out;
	}
	if (!(bin = malloc(b64_len / 4 * 3 + 3))) {
		ef_error_set("out of memory");
		error = EF_ENOMEM;
		goto out;
	}
	{
		const char *end = NULL;

		if (sodium_base642bin(bin, b64_len / 4 * 3 + 3, b64, b64_len, NULL, &bin_len, &end,
		                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
		    end != b64 + b64_len || bin_len == 0) {
			ef_error_set("invalid base64 in armored data");
			goto out;
		}
	}
	if (have_crc) {
		uint32_t want = ((uint32_t)crc_bytes[0] << 16) | ((uint32_t)crc_bytes[1] << 8) |
		                crc_bytes[2];

		if (ef_pgp_crc24(bin, bin_len) != want) {
			ef_error_set("armor checksum (CRC24) mismatch: the data is corrupted");
			goto out;
		}
	}
	if (strict) {
		while (next_line(text, len, off, &l)) {
			if (!is_blank(&l)) {
				ef_error_set("unexpected text after '-----END %s-----'", label);
				goto out;
			}
		}
	}
	*out = bin;
	*out_len = bin_len;
	bin = NULL;
	error = 0;
out:
	free(bin);
	free(b64);
	return error;
}

int ef_pgp_dearmor(uint8_t **out, size_t *out_len, const char *text, size_t len,
                   const char *expect_label)
{
	size_t off = 0;

	*out = NULL;
	*out_len = 0;
	return pgp_dearmor_block(out, out_len, text, len, &off, expect_label, true);
}

/* ---- packets ---------------------------------------------------------- */

/* Returns 1 with a packet, 0 at the end, or -1 (message set). */
int pgp_next_packet(reader *r, packet *pkt)
{
	uint8_t ctb, o1, o2;
	uint32_t n32;
	size_t len;

	if (r->off == r->len)
		return 0;
	rd_u8(r, &ctb);
	if (!(ctb & 0x80)) {
		ef_error_set("invalid packet header 0x%02x at offset %zu", ctb, r->off - 1);
		return -1;
	}
	if (ctb & 0x40) {
		pkt->tag = ctb & 0x3F;
		if (!rd_u8(r, &o1))
			goto short_header;
		if (o1 < 192) {
			len = o1;
		} else if (o1 < 224) {
			if (!rd_u8(r, &o2))
				goto short_header;
			len = ((size_t)(o1 - 192) << 8) + o2 + 192;
		} else if (o1 == 255) {
			if (!rd_u32(r, &n32))
				goto short_header;
			len = n32;
		} else {
			ef_error_set("partial body lengths are not supported (packet tag %u)",
			             pkt->tag);
			return -1;
		}
	} else {
		uint16_t n16;

		pkt->tag = (ctb >> 2) & 0x0F;
		switch (ctb & 3) {
		case 0:
			if (!rd_u8(r, &o1))
				goto short_header;
			len = o1;
			break;
		case 1:
			if (!rd_u16(r, &n16))
				goto short_header;
			len = n16;
			break;
		case 2:
			if (!rd_u32(r, &n32))
				goto short_header;
			len = n32;
			break;
		default:
			ef_error_set(
			        "indeterminate packet lengths are not supported (packet tag %u)",
			        pkt->tag);
			return -1;
		}
	}
	if (!rd_take(r, len, &pkt->body)) {
		ef_error_set("packet (tag %u) of %zu bytes runs past the end of the data", pkt->tag,
		             len);
		return -1;
	}
	pkt->len = len;
	return 1;
short_header:
	ef_error_set("truncated packet header");
	return -1;
}

/* ---- keys ------------------------------------------------------------- */

/* Parses a v4 public key or subkey body. Unsupported algorithms are not an
 * error (an encryption subkey, say): the key is marked unusable. */
int pgp_parse_pubkey(pgp_pubkey *k, const uint8_t *body, size_t len)
{
	reader r = {body, len, 0};
	uint8_t version, oid_len;
	const uint8_t *oid, *mpi;
	size_t mpi_len;
	uint8_t hdr[3];
	uint8_t digest[PGP_HASH_MAX];
	pgp_hash h;

	memset(k, 0, sizeof(*k));
	k->body = body;
	k->body_len = len;
	if (!rd_u8(&r, &version) || version != 4) {
		ef_error_set("version %u key (only version 4 keys are supported)",
		             len ? body[0] : 0);
		return EF_EINVALID;
	}
	if (len > 0xFFFF || !rd_u32(&r, &k->created) || !rd_u8(&r, &k->algo)) {
		ef_error_set("malformed key packet");
		return EF_EINVALID;
	}
	hdr[0] = 0x99;
	pgp_put_be16(hdr + 1, len);
	if (pgp_hash_init(&h, PGP_HASH_SHA1) < 0) {
		ef_error_set("SHA-1 is not available for key fingerprints");
		return EF_ERROR;
	}
	pgp_hash_update(&h, hdr, 3);
	pgp_hash_update(&h, body, len);
	if (pgp_hash_final(&h, digest) < 0) {
		ef_error_set("hashing failed");
		return EF_ERROR;
	}
	memcpy(k->fpr, digest, 20);
	pgp_to_hex(k->hex, k->fpr, 20);

	switch (k->algo) {
	case PK_RSA:
		if (!rd_mpi(&r, &k->n, &k->n_len) || !rd_mpi(&r, &k->e, &k->e_len))
			goto malformed;
		if (mpi_bits(k->n, k->n_len) < 2048 || mpi_bits(k->n, k->n_len) > 8192) {
			snprintf(k->problem, sizeof(k->problem),
			         "RSA key of %zu bits (2048 to 8192 are accepted)",
			         mpi_bits(k->n, k->n_len));
			break;
		}
		if (k->e_len == 0 || k->e_len > 8) {
			snprintf(k->problem, sizeof(k->problem), "unsupported RSA public exponent");
			break;
		}
		k->usable = true;
		break;
	case PK_ECDSA:
		if (!rd_u8(&r, &oid_len) || oid_len == 0 || oid_len == 0xFF ||
		    !rd_take(&r, oid_len, &oid) || !rd_mpi(&r, &k->point, &k->point_len))
			goto malformed;
		if (oid_len == sizeof(OID_P256) && memcmp(oid, OID_P256, oid_len) == 0)
			k->curve = PGP_CURVE_P256;
		else if (oid_len == sizeof(OID_P384) && memcmp(oid, OID_P384, oid_len) == 0)
			k->curve = PGP_CURVE_P384;
		if (k->curve == PGP_CURVE_NONE) {
			snprintf(k->problem, sizeof(k->problem),
			         "unsupported ECDSA curve (P-256 and P-384 are accepted)");
			break;
		}
		k->usable = true;
		break;
	case PK_EDDSA_LEGACY:
		if (!rd_u8(&r, &oid_len) || oid_len == 0 || oid_len == 0xFF ||
		    !rd_take(&r, oid_len, &oid) || !rd_mpi(&r, &mpi, &mpi_len))
			goto malformed;
		if (oid_len != sizeof(OID_ED25519) || memcmp(oid, OID_ED25519, oid_len) != 0) {
			snprintf(k->problem, sizeof(k->problem),
			         "unsupported EdDSA curve (Ed25519 is accepted)");
			break;
		}
		/* Native point format: 0x40 || A. */
		if (mpi_len != 33 || mpi[0] != 0x40)
			goto malformed;
		k->ed = mpi + 1;
		k->usable = true;
		break;
	case PK_ED25519:
		if (!rd_take(&r, 32, &k->ed))
			goto malformed;
		k->usable = true;
		break;
	default:
		snprintf(k->problem, sizeof(k->problem), "unsupported public-key algorithm %u",
		         k->algo);
		return 0;
	}
	if (r.off != r.len)
		goto malformed;
	return 0;
malformed:
	ef_error_set("malformed key packet (algorithm %u)", k->algo);
	return EF_EINVALID;
}

/* ---- signatures ------------------------------------------------------- */

static bool subpacket_known(int type)
{
	switch (type) {
	case SUB_CREATED:
	case SUB_SIG_EXPIRES:
	case 4: /* exportable */
	case 7: /* revocable */
	case SUB_KEY_EXPIRES:
	case 11: /* preferred symmetric algorithms */
	case 12: /* revocation key (third-party revocations are not used here) */
	case SUB_ISSUER_KEYID:
	case 21: /* preferred hashes */
	case 22: /* preferred compression */
	case 23: /* key server preferences */
	case 24: /* preferred key server */
	case 25: /* primary user id */
	case 26: /* policy URI */
	case SUB_KEY_FLAGS:
	case 28: /* signer's user id */
	case 29: /* reason for revocation */
	case 30: /* features */
	case SUB_EMBEDDED_SIG:
	case SUB_ISSUER_FPR:
	case 34: /* preferred AEAD algorithms */
	case 39: /* preferred AEAD ciphersuites */
		return true;
	default:
		return false;
	}
}

static int parse_subpackets(pgp_sig *s, const uint8_t *p, size_t len, bool hashed)
{
	reader r = {p, len, 0};

	while (r.off < r.len) {
		uint8_t o1, o2, type;
		uint32_t n32;
		size_t n;
		const uint8_t *d;
		bool critical;

		rd_u8(&r, &o1);
		if (o1 < 192) {
			n = o1;
		} else if (o1 < 255) {
			if (!rd_u8(&r, &o2))
				goto malformed;
			n = ((size_t)(o1 - 192) << 8) + o2 + 192;
		} else {
			if (!rd_u32(&r, &n32))
				goto malformed;
			n = n32;
		}
		if (n == 0 || !rd_take(&r, n, &d))
			goto malformed;
		critical = (d[0] & 0x80) != 0;
		type = d[0] & 0x7F;
		d++;
		n--;
		if (critical && !subpacket_known(type) && s->unknown_critical == 0)
			s->unknown_critical = type;
		switch (type) {
		case SUB_CREATED:
			if (n != 4)
				goto malformed;
			if (hashed) {
				if (s->has_created) {
					ef_error_set("more than one signature creation time");
					return EF_EINVALID;
				}
				s->has_created = true;
				s->created = be32(d);
			}
			break;
		case SUB_SIG_EXPIRES:
		case SUB_KEY_EXPIRES:
			if (n != 4)
				goto malformed;
			if (hashed && type == SUB_SIG_EXPIRES)
				s->sig_expires = be32(d);
			else if (hashed)
				s->key_expires = be32(d);
			break;
		case SUB_KEY_FLAGS:
			if (hashed && n >= 1) {
				s->has_flags = true;
				s->flags = d[0];
			}
			break;
		case SUB_ISSUER_KEYID:
			if (n != 8)
				goto malformed;
			if (!s->has_issuer_id) {
				s->has_issuer_id = true;
				memcpy(s->issuer_id, d, 8);
			}
			break;
		case SUB_ISSUER_FPR:
			if (n < 1)
				goto malformed;
			/* Only v4 fingerprints (20 bytes) can name a v4 key. */
			/* The hashed area is read first, so a hashed one wins. */
			if (d[0] == 4 && n == 21 && !s->has_issuer_fpr) {
				memcpy(s->issuer_fpr, d + 1, 20);
				s->has_issuer_fpr = true;
				s->issuer_fpr_hashed = hashed;
			}
			break;
		case SUB_EMBEDDED_SIG:
			if (!s->embedded) {
				s->embedded = d;
				s->embedded_len = n;
			}
			break;
		default:
			break;
		}
	}
	return 0;
malformed:
	ef_error_set("malformed signature subpacket");
	return EF_EINVALID;
}

int pgp_parse_sig(pgp_sig *s, const uint8_t *body, size_t len)
{
	reader r = {body, len, 0};
	uint16_t hashed_len, unhashed_len;
	const uint8_t *hashed, *unhashed, *left;
	int error;

	memset(s, 0, sizeof(*s));
	if (!rd_u8(&r, &s->version)) {
		ef_error_set("empty signature packet");
		return EF_EINVALID;
	}
	if (s->version != 4) {
		ef_error_set("version %u signature (only version 4 is supported)", s->version);
		return EF_EINVALID;
	}
	if (!rd_u8(&r, &s->type) || !rd_u8(&r, &s->pk_algo) || !rd_u8(&r, &s->hash_algo) ||
	    !rd_u16(&r, &hashed_len) || !rd_take(&r, hashed_len, &hashed))
		goto malformed;
	s->hashed_part = body;
	s->hashed_part_len = r.off;
	if (!rd_u16(&r, &unhashed_len) || !rd_take(&r, unhashed_len, &unhashed) ||
	    !rd_take(&r, 2, &left))
		goto malformed;
	memcpy(s->left16, left, 2);
	switch (s->pk_algo) {
	case PK_RSA:
		if (!rd_mpi(&r, &s->m1, &s->m1_len))
			goto malformed;
		break;
	case PK_ECDSA:
	case PK_EDDSA_LEGACY:
		if (!rd_mpi(&r, &s->m1, &s->m1_len) || !rd_mpi(&r, &s->m2, &s->m2_len))
			goto malformed;
		break;
	case PK_ED25519:
		if (!rd_take(&r, 64, &s->m1))
			goto malformed;
		s->m1_len = 64;
		break;
	default:
		ef_error_set("unsupported public-key algorithm %u", s->pk_algo);
		return EF_EINVALID;
	}
	if (r.off != r.len)
		goto malformed;
	if ((error = parse_subpackets(s, hashed, hashed_len, true)) < 0 ||
	    (error = parse_subpackets(s, unhashed, unhashed_len, false)) < 0)
		return error;
	return 0;
malformed:
	ef_error_set("malformed signature packet");
	return EF_EINVALID;
}
