/* OpenPGP v4: ASCII armor, packets, trusted keyrings and detached signatures
 * over commit payloads (RFC 4880, RFC 9580 v4 subset).
 *
 * A keyring is checked once when loaded: every self-signature, subkey
 * binding, primary key binding (back-signature) and revocation issued by a
 * primary key is verified cryptographically, and only verified packets
 * decide what a key may do, when it expires and whether it is revoked.
 * Third-party certifications are ignored; user ids never decide trust. */
#include "openpgp.h"

#include "edgeflip/error.h"
#include "pgp_crypto.h"

#include <sodium.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Caps on outside input. */
#define MAX_KEYFILE     (1024 * 1024) /* armored key file */
#define MAX_SIGTEXT     (64 * 1024)   /* armored signature */
#define MAX_PACKETS     4096          /* packets in a key file */
#define MAX_SUBKEYS     64            /* subkeys per primary key */
#define MAX_MPI_BITS    16384         /* parser limit; RSA is further capped at 8192 bits */
#define MAX_HEADER_LINE 1024

enum {
	PK_RSA = 1,
	PK_ECDSA = 19,
	PK_EDDSA_LEGACY = 22,
	PK_ED25519 = 27,
};

enum {
	SIG_BINARY = 0x00,
	SIG_CERT_GENERIC = 0x10,
	SIG_CERT_POSITIVE = 0x13,
	SIG_SUBKEY_BINDING = 0x18,
	SIG_PRIMARY_BINDING = 0x19,
	SIG_DIRECT_KEY = 0x1F,
	SIG_KEY_REVOCATION = 0x20,
	SIG_SUBKEY_REVOCATION = 0x28,
};

enum {
	SUB_CREATED = 2,
	SUB_SIG_EXPIRES = 3,
	SUB_KEY_EXPIRES = 9,
	SUB_ISSUER_KEYID = 16,
	SUB_KEY_FLAGS = 27,
	SUB_EMBEDDED_SIG = 32,
	SUB_ISSUER_FPR = 33,
};

#define KEY_FLAG_SIGN 0x02

static const uint8_t OID_P256[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};
static const uint8_t OID_P384[] = {0x2B, 0x81, 0x04, 0x00, 0x22};
static const uint8_t OID_ED25519[] = {0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01};

typedef struct {
	const uint8_t *body; /* the whole key packet body (borrowed from the keyring) */
	size_t body_len;
	uint8_t fpr[20];
	char hex[41];
	uint8_t algo;
	uint32_t created;
	bool usable;          /* algorithm and size supported */
	char problem[96];     /* why not usable */
	const uint8_t *n, *e; /* RSA */
	size_t n_len, e_len;
	int curve; /* ECDSA */
	const uint8_t *point;
	size_t point_len;
	const uint8_t *ed; /* EdDSA: 32 bytes */
} pgp_pubkey;

typedef struct {
	pgp_pubkey pub;
	bool bound;          /* primary: a valid self-signature; subkey: a valid binding */
	uint32_t bound_time; /* creation time of the self-signature or binding in force */
	bool can_sign;
	bool back_signed; /* subkey: the binding in force carries a valid back-signature */
	bool revoked;
	int64_t expires;      /* unix time, 0 = never */
	char why_unbound[96]; /* the last reason a self-signature or binding was refused */
} pgp_key;

typedef struct {
	pgp_key primary;
	pgp_key *subs;
	size_t nsubs;
} pgp_cert;

struct ef_pgp_keyring {
	uint8_t **blobs; /* dearmored key blocks; key bodies point into them */
	size_t nblobs;
	pgp_cert *certs;
	size_t ncerts;
};

typedef struct {
	uint8_t version, type, pk_algo, hash_algo;
	const uint8_t *hashed_part; /* body bytes [0, 6 + hashed subpacket length) */
	size_t hashed_part_len;
	uint8_t left16[2];
	const uint8_t *m1, *m2; /* RSA: m1; ECDSA/EdDSA legacy: r, s; Ed25519: m1 = 64 bytes */
	size_t m1_len, m2_len;
	bool has_created;
	uint32_t created;
	uint32_t sig_expires; /* seconds after creation, 0 = never */
	uint32_t key_expires; /* seconds after key creation, 0 = never */
	bool has_flags;
	uint8_t flags;
	bool has_issuer_fpr, issuer_fpr_hashed;
	uint8_t issuer_fpr[20];
	bool has_issuer_id;
	uint8_t issuer_id[8];
	const uint8_t *embedded;
	size_t embedded_len;
	int unknown_critical; /* subpacket type, or 0 */
} pgp_sig;

/* What a signature covers besides its own hashed part. */
typedef struct {
	const pgp_pubkey *key1, *key2;
	const uint8_t *uid;
	size_t uid_len;
	const uint8_t *data;
	size_t data_len;
} sig_subject;

/* ---- small helpers ---------------------------------------------------- */

typedef struct {
	const uint8_t *p;
	size_t len, off;
} reader;

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

static void to_hex(char *out, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static void fmt_date(char out[32], int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || strftime(out, 32, "%Y-%m-%d", &tm) == 0)
		snprintf(out, 32, "@%lld", (long long)t);
}

static void put_be16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, size_t v)
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
static int dearmor_block(uint8_t **out, size_t *out_len, const char *text, size_t len, size_t *off,
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
	return dearmor_block(out, out_len, text, len, &off, expect_label, true);
}

/* ---- packets ---------------------------------------------------------- */

typedef struct {
	uint8_t tag;
	const uint8_t *body;
	size_t len;
} packet;

/* Returns 1 with a packet, 0 at the end, or -1 (message set). */
static int next_packet(reader *r, packet *pkt)
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
static int parse_pubkey(pgp_pubkey *k, const uint8_t *body, size_t len)
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
	put_be16(hdr + 1, len);
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
	to_hex(k->hex, k->fpr, 20);

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

static int parse_sig(pgp_sig *s, const uint8_t *body, size_t len)
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

static bool hash_allowed(uint8_t algo)
{
	return algo == PGP_HASH_SHA256 || algo == PGP_HASH_SHA384 || algo == PGP_HASH_SHA512;
}

static void hash_key(pgp_hash *h, const pgp_pubkey *k)
{
	uint8_t hdr[3] = {0x99};

	put_be16(hdr + 1, k->body_len);
	pgp_hash_update(h, hdr, 3);
	pgp_hash_update(h, k->body, k->body_len);
}

/* Checks `s` made by `k` over `subj`. Returns 0 when valid, -1 otherwise
 * (with a short reason in ef_error_last()). SHA-1 is accepted only for
 * revocations (`revocation`): a collision there can only take trust away,
 * and old keys were revoked with SHA-1. */
static int sig_check(const pgp_sig *s, const pgp_pubkey *k, const sig_subject *subj,
                     bool revocation)
{
	uint8_t digest[PGP_HASH_MAX], trailer[6], uid_hdr[5];
	uint8_t sig[64];
	pgp_hash h;

	if (!hash_allowed(s->hash_algo) && !(revocation && s->hash_algo == PGP_HASH_SHA1)) {
		ef_error_set("made with %s, which is refused", pgp_hash_name(s->hash_algo));
		return -1;
	}
	if (!k->usable) {
		ef_error_set("key %s: %s", k->hex, k->problem);
		return -1;
	}
	if (s->pk_algo != k->algo) {
		ef_error_set("signature algorithm %u does not match key %s (algorithm %u)",
		             s->pk_algo, k->hex, k->algo);
		return -1;
	}
	if (pgp_hash_init(&h, s->hash_algo) < 0) {
		ef_error_set("%s is not available", pgp_hash_name(s->hash_algo));
		return -1;
	}
	if (subj->key1)
		hash_key(&h, subj->key1);
	if (subj->key2)
		hash_key(&h, subj->key2);
	if (subj->uid) {
		uid_hdr[0] = 0xB4;
		put_be32(uid_hdr + 1, subj->uid_len);
		pgp_hash_update(&h, uid_hdr, 5);
		pgp_hash_update(&h, subj->uid, subj->uid_len);
	}
	if (subj->data)
		pgp_hash_update(&h, subj->data, subj->data_len);
	pgp_hash_update(&h, s->hashed_part, s->hashed_part_len);
	trailer[0] = 0x04;
	trailer[1] = 0xFF;
	put_be32(trailer + 2, s->hashed_part_len);
	pgp_hash_update(&h, trailer, 6);
	if (pgp_hash_final(&h, digest) < 0) {
		ef_error_set("hashing failed");
		return -1;
	}
	ef_error_set("signature does not match");
	/* The two-byte prefix is a quick check only; the real check follows. */
	if (memcmp(digest, s->left16, 2) != 0)
		return -1;
	switch (k->algo) {
	case PK_RSA:
		return pgp_rsa_verify(k->n, k->n_len, k->e, k->e_len, s->hash_algo, digest, h.len,
		                      s->m1, s->m1_len);
	case PK_ECDSA:
		return pgp_ecdsa_verify(k->curve, k->point, k->point_len, digest, h.len, s->m1,
		                        s->m1_len, s->m2, s->m2_len);
	case PK_EDDSA_LEGACY:
		/* R and S are MPIs without leading zeros: left-pad each to 32. */
		if (s->m1_len > 32 || s->m2_len > 32)
			return -1;
		memset(sig, 0, sizeof(sig));
		memcpy(sig + 32 - s->m1_len, s->m1, s->m1_len);
		memcpy(sig + 64 - s->m2_len, s->m2, s->m2_len);
		/* EdDSA signs the digest, not the data. */
		return pgp_ed25519_verify(k->ed, digest, h.len, sig);
	case PK_ED25519:
		return pgp_ed25519_verify(k->ed, digest, h.len, s->m1);
	default:
		return -1;
	}
}

/* ---- keyring ---------------------------------------------------------- */

static bool issued_by(const pgp_sig *s, const pgp_pubkey *k)
{
	if (s->has_issuer_fpr)
		return memcmp(s->issuer_fpr, k->fpr, 20) == 0;
	if (s->has_issuer_id)
		return memcmp(s->issuer_id, k->fpr + 12, 8) == 0;
	return true; /* no hint: the signature check decides */
}

static int64_t expiry_of(const pgp_sig *s, uint32_t key_created)
{
	int64_t exp = s->key_expires ? (int64_t)key_created + s->key_expires : 0;

	if (s->sig_expires) {
		int64_t sexp = (int64_t)s->created + s->sig_expires;

		if (exp == 0 || sexp < exp)
			exp = sexp;
	}
	return exp;
}

/* A verified self-signature (certification or direct-key): the newest one
 * decides key flags and expiry. */
static void apply_selfsig(pgp_key *key, const pgp_sig *s)
{
	if (key->bound && s->created < key->bound_time)
		return;
	key->bound = true;
	key->bound_time = s->created;
	key->can_sign = !s->has_flags || (s->flags & KEY_FLAG_SIGN);
	key->expires = expiry_of(s, key->pub.created);
}

static void note_refusal(pgp_key *key, const char *what)
{
	snprintf(key->why_unbound, sizeof(key->why_unbound), "%s: %s", what, ef_error_last());
}

/* A subkey binding from the primary; a signing subkey also needs a valid
 * embedded primary key binding made by the subkey. */
static void apply_binding(pgp_key *primary, pgp_key *sub, const pgp_sig *s)
{
	sig_subject subj = {&primary->pub, &sub->pub, NULL, 0, NULL, 0};
	bool back = false;

	if (sub->bound && s->created < sub->bound_time)
		return;
	sub->why_unbound[0] = '\0';
	if (s->has_flags && (s->flags & KEY_FLAG_SIGN) && s->embedded) {
		pgp_sig bs;

		if (parse_sig(&bs, s->embedded, s->embedded_len) < 0) {
			note_refusal(sub, "back-signature");
		} else if (bs.type != SIG_PRIMARY_BINDING || !bs.has_created ||
		           bs.unknown_critical) {
			ef_error_set("is not a valid primary key binding");
			note_refusal(sub, "back-signature");
		} else if (sig_check(&bs, &sub->pub, &subj, false) < 0) {
			note_refusal(sub, "back-signature");
		} else {
			back = true;
		}
	}
	sub->bound = true;
	sub->bound_time = s->created;
	sub->can_sign = s->has_flags && (s->flags & KEY_FLAG_SIGN);
	sub->back_signed = back;
	sub->expires = expiry_of(s, sub->pub.created);
}

typedef enum { CTX_PRIMARY, CTX_UID, CTX_SUBKEY, CTX_OTHER } sig_context;

/* One signature packet found after a key, user id or subkey. */
static void take_sig(pgp_cert *c, sig_context ctx, const uint8_t *uid, size_t uid_len,
                     const uint8_t *body, size_t len)
{
	pgp_key *primary = &c->primary;
	pgp_key *sub = ctx == CTX_SUBKEY ? &c->subs[c->nsubs - 1] : NULL;
	sig_subject subj = {&primary->pub, NULL, NULL, 0, NULL, 0};
	pgp_sig s;

	if (ctx == CTX_OTHER || parse_sig(&s, body, len) < 0)
		return; /* not ours to judge, or malformed: ignored like a foreign packet */
	if (!issued_by(&s, &primary->pub))
		return; /* third-party certification */
	if (!s.has_created || s.unknown_critical) {
		if (s.unknown_critical)
			ef_error_set("has unknown critical subpacket %d", s.unknown_critical);
		else
			ef_error_set("has no hashed creation time");
		note_refusal(sub ? sub : primary, "a self-signature");
		return;
	}
	switch (s.type) {
	case SIG_KEY_REVOCATION:
	case SIG_DIRECT_KEY:
		if (sig_check(&s, &primary->pub, &subj, s.type == SIG_KEY_REVOCATION) < 0)
			return;
		if (s.type == SIG_KEY_REVOCATION)
			primary->revoked = true;
		else if (s.created >= primary->pub.created)
			apply_selfsig(primary, &s);
		return;
	case SIG_SUBKEY_BINDING:
	case SIG_SUBKEY_REVOCATION:
		if (!sub)
			return;
		subj.key2 = &sub->pub;
		if (sig_check(&s, &primary->pub, &subj, s.type == SIG_SUBKEY_REVOCATION) < 0) {
			if (s.type == SIG_SUBKEY_BINDING)
				note_refusal(sub, "binding signature");
			return;
		}
		if (s.type == SIG_SUBKEY_REVOCATION)
			sub->revoked = true;
		else if (s.created >= sub->pub.created)
			apply_binding(primary, sub, &s);
		return;
	default:
		if (ctx != CTX_UID || s.type < SIG_CERT_GENERIC || s.type > SIG_CERT_POSITIVE)
			return;
		subj.uid = uid;
		subj.uid_len = uid_len;
		if (sig_check(&s, &primary->pub, &subj, false) < 0) {
			note_refusal(primary, "self-signature");
			return;
		}
		if (s.created >= primary->pub.created)
			apply_selfsig(primary, &s);
		return;
	}
}

static void cert_dispose(pgp_cert *c)
{
	free(c->subs);
	memset(c, 0, sizeof(*c));
}

void ef_pgp_keyring_free(ef_pgp_keyring *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->ncerts; i++)
		cert_dispose(&k->certs[i]);
	free(k->certs);
	for (size_t i = 0; i < k->nblobs; i++)
		free(k->blobs[i]);
	free(k->blobs);
	free(k);
}

size_t ef_pgp_keyring_count(const ef_pgp_keyring *k)
{
	return k ? k->ncerts : 0;
}

/* Checks a finished certificate and adds nothing: the caller already
 * appended it. */
static int cert_finish(const ef_pgp_keyring *kr, const pgp_cert *c, const char *name)
{
	const pgp_key *p = &c->primary;

	if (!p->pub.usable) {
		ef_error_set("%s: key %s: %s", name, p->pub.hex, p->pub.problem);
		return EF_EINVALID;
	}
	if (!p->bound) {
		ef_error_set("%s: key %s has no valid self-signature%s%s", name, p->pub.hex,
		             p->why_unbound[0] ? ": " : "", p->why_unbound);
		return EF_EINVALID;
	}
	for (size_t i = 0; i + 1 < kr->ncerts; i++) {
		if (memcmp(kr->certs[i].primary.pub.fpr, p->pub.fpr, 20) == 0) {
			ef_error_set("%s: key %s appears twice; export each key once", name,
			             p->pub.hex);
			return EF_EINVALID;
		}
	}
	return 0;
}

static int grow_array(void **arr, size_t count, size_t size)
{
	void *p = realloc(*arr, (count + 1) * size);

	if (!p) {
		ef_error_set("out of memory");
		return EF_ENOMEM;
	}
	*arr = p;
	return 0;
}

static int load_packets(ef_pgp_keyring *kr, const uint8_t *data, size_t len, const char *name,
                        size_t *npackets)
{
	reader r = {data, len, 0};
	pgp_cert *c = NULL;
	sig_context ctx = CTX_OTHER;
	const uint8_t *uid = NULL;
	size_t uid_len = 0;
	packet pkt;
	int rc, error;

	while ((rc = next_packet(&r, &pkt)) > 0) {
		if (++*npackets > MAX_PACKETS) {
			ef_error_set("%s: more than %d packets", name, MAX_PACKETS);
			return EF_ETOOBIG;
		}
		switch (pkt.tag) {
		case 6: /* public key */
			if (c && (error = cert_finish(kr, c, name)) < 0)
				return error;
			if ((error = grow_array((void **)&kr->certs, kr->ncerts,
			                        sizeof(*kr->certs))) < 0)
				return error;
			c = &kr->certs[kr->ncerts++];
			memset(c, 0, sizeof(*c));
			if ((error = parse_pubkey(&c->primary.pub, pkt.body, pkt.len)) < 0) {
				ef_error_prefix("%s: key %zu", name, kr->ncerts);
				return error;
			}
			ctx = CTX_PRIMARY;
			break;
		case 14: /* public subkey */
			if (!c)
				goto orphan;
			if (c->nsubs >= MAX_SUBKEYS) {
				ef_error_set("%s: key %s has more than %d subkeys", name,
				             c->primary.pub.hex, MAX_SUBKEYS);
				return EF_ETOOBIG;
			}
			if ((error = grow_array((void **)&c->subs, c->nsubs, sizeof(*c->subs))) < 0)
				return error;
			memset(&c->subs[c->nsubs], 0, sizeof(*c->subs));
			if ((error = parse_pubkey(&c->subs[c->nsubs].pub, pkt.body, pkt.len)) < 0) {
				ef_error_prefix("%s: subkey of key %s", name, c->primary.pub.hex);
				return error;
			}
			c->nsubs++;
			ctx = CTX_SUBKEY;
			break;
		case 13: /* user id */
			if (!c)
				goto orphan;
			uid = pkt.body;
			uid_len = pkt.len;
			ctx = CTX_UID;
			break;
		case 17: /* user attribute (photo): its signatures are ignored */
			if (!c)
				goto orphan;
			ctx = CTX_OTHER;
			break;
		case 2: /* signature */
			if (!c)
				goto orphan;
			take_sig(c, ctx, uid, uid_len, pkt.body, pkt.len);
			break;
		case 12: /* trust (local to a GnuPG keyring) */
			break;
		default:
			ef_error_set("%s: unexpected packet (tag %u) in a public key block", name,
			             pkt.tag);
			return EF_EINVALID;
		}
	}
	if (rc < 0) {
		ef_error_prefix("%s", name);
		return EF_EINVALID;
	}
	if (c && (error = cert_finish(kr, c, name)) < 0)
		return error;
	return 0;
orphan:
	ef_error_set("%s: packet (tag %u) before any public key", name, pkt.tag);
	return EF_EINVALID;
}

int ef_pgp_keyring_load(ef_pgp_keyring **out, const char *armored, size_t len, const char *name)
{
	ef_pgp_keyring *kr;
	size_t off = 0, npackets = 0;
	int error = EF_EINVALID;

	*out = NULL;
	if (!name)
		name = "OpenPGP keys";
	if (len > MAX_KEYFILE) {
		ef_error_set("%s: larger than %d bytes", name, MAX_KEYFILE);
		return EF_ETOOBIG;
	}
	if (sodium_init() < 0) {
		ef_error_set("libsodium failed to initialise");
		return EF_ERROR;
	}
	if (!(kr = calloc(1, sizeof(*kr)))) {
		ef_error_set("out of memory");
		return EF_ENOMEM;
	}
	for (;;) {
		uint8_t *bin = NULL;
		size_t bin_len = 0;

		error = dearmor_block(&bin, &bin_len, armored, len, &off, "PGP PUBLIC KEY BLOCK",
		                      false);
		if (error == EF_ENOTFOUND && kr->nblobs > 0)
			break;
		if (error < 0) {
			if (error == EF_ENOTFOUND)
				error = EF_EINVALID;
			ef_error_prefix("%s", name);
			goto fail;
		}
		if ((error = grow_array((void **)&kr->blobs, kr->nblobs, sizeof(*kr->blobs))) < 0) {
			free(bin);
			goto fail;
		}
		kr->blobs[kr->nblobs++] = bin;
		if ((error = load_packets(kr, bin, bin_len, name, &npackets)) < 0)
			goto fail;
	}
	if (kr->ncerts == 0) {
		ef_error_set("%s: no OpenPGP public key found", name);
		error = EF_EINVALID;
		goto fail;
	}
	*out = kr;
	return 0;
fail:
	ef_pgp_keyring_free(kr);
	return error;
}

/* ---- commit signatures ------------------------------------------------ */

static void reason(ef_verify_result *out, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void reason(ef_verify_result *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
}

/* Checks one candidate key. Returns 0 when it made a valid signature and
 * may sign at the signature time and now; otherwise sets out->reason and
 * returns how far it got (1 = key unusable, 2 = signature verified but key
 * not valid, 3 = signature did not verify). */
static int check_candidate(ef_verify_result *out, const pgp_cert *c, const pgp_key *k,
                           const pgp_sig *s, const uint8_t *payload, size_t payload_len,
                           int64_t now)
{
	const pgp_key *p = &c->primary;
	sig_subject subj = {NULL, NULL, NULL, 0, payload, payload_len};
	int64_t t = s->created;
	char date[32];

	snprintf(out->signer, sizeof(out->signer), "%s", p->pub.hex);
	snprintf(out->key, sizeof(out->key), "%s", k->pub.hex);
	if (k != p) {
		if (!k->bound) {
			reason(out, "subkey %s of key %s has no valid binding signature%s%s",
			       k->pub.hex, p->pub.hex, k->why_unbound[0] ? ": " : "",
			       k->why_unbound);
			return 1;
		}
		if (!k->can_sign) {
			reason(out, "subkey %s of key %s is not allowed to sign (key flags)",
			       k->pub.hex, p->pub.hex);
			return 1;
		}
		if (!k->back_signed) {
			reason(out,
			       "subkey %s of key %s has no valid primary key binding "
			       "(back-signature)%s%s",
			       k->pub.hex, p->pub.hex, k->why_unbound[0] ? ": " : "",
			       k->why_unbound);
			return 1;
		}
	} else if (!k->can_sign) {
		reason(out, "key %s is not allowed to sign (key flags)", p->pub.hex);
		return 1;
	}
	if (!k->pub.usable) {
		reason(out, "key %s: %s", k->pub.hex, k->pub.problem);
		return 1;
	}
	if (s->pk_algo != k->pub.algo) {
		reason(out, "signature algorithm %u does not match key %s (algorithm %u)",
		       s->pk_algo, k->pub.hex, k->pub.algo);
		return 1;
	}
	if (sig_check(s, &k->pub, &subj, false) < 0) {
		reason(out, "signature does not match the commit");
		return 3;
	}
	if (p->revoked) {
		reason(out, "key %s is revoked", p->pub.hex);
		return 2;
	}
	if (k != p && k->revoked) {
		reason(out, "subkey %s of key %s is revoked", k->pub.hex, p->pub.hex);
		return 2;
	}
	if (t < (int64_t)k->pub.created) {
		reason(out, "signature is dated before key %s was created", k->pub.hex);
		return 2;
	}
	if (p->expires && (t >= p->expires || now >= p->expires)) {
		fmt_date(date, p->expires);
		reason(out, "key %s expired on %s", p->pub.hex, date);
		return 2;
	}
	if (k != p && k->expires && (t >= k->expires || now >= k->expires)) {
		fmt_date(date, k->expires);
		reason(out, "subkey %s of key %s expired on %s", k->pub.hex, p->pub.hex, date);
		return 2;
	}
	if (s->sig_expires && now >= t + (int64_t)s->sig_expires) {
		fmt_date(date, t + (int64_t)s->sig_expires);
		reason(out, "signature expired on %s", date);
		return 2;
	}
	reason(out, "good signature");
	return 0;
}

static bool candidate_for(const pgp_sig *s, const pgp_pubkey *k)
{
	if (s->has_issuer_fpr)
		return memcmp(s->issuer_fpr, k->fpr, 20) == 0;
	if (s->has_issuer_id)
		return memcmp(s->issuer_id, k->fpr + 12, 8) == 0;
	return true;
}

int ef_pgp_verify(ef_verify_result *out, const ef_pgp_keyring *k, const uint8_t *payload,
                  size_t payload_len, const char *armored_sig, size_t sig_len, int64_t now)
{
	ef_verify_result best = {0}, tmp;
	uint8_t *bin = NULL;
	size_t bin_len = 0;
	reader r;
	packet pkt;
	pgp_sig s;
	int best_rank = 0, tried = 0, rc;
	int error = EF_EREJECTED;
	char hex[41];

	memset(out, 0, sizeof(*out));
	out->verdict = EF_EREJECTED;
	snprintf(out->format, sizeof(out->format), "openpgp");
	if (sig_len > MAX_SIGTEXT) {
		reason(out, "malformed OpenPGP signature: larger than %d bytes", MAX_SIGTEXT);
		return EF_EREJECTED;
	}
	if (ef_pgp_dearmor(&bin, &bin_len, armored_sig, sig_len, "PGP SIGNATURE") < 0) {
		reason(out, "malformed OpenPGP signature: %s", ef_error_last());
		goto out;
	}
	r = (reader){bin, bin_len, 0};
	rc = next_packet(&r, &pkt);
	if (rc > 0 && pkt.tag != 2) {
		reason(out, "malformed OpenPGP signature: packet tag %u is not a signature",
		       pkt.tag);
		goto out;
	}
	if (rc > 0 && r.off != r.len) {
		reason(out, "malformed OpenPGP signature: expected exactly one signature packet");
		goto out;
	}
	if (rc <= 0) {
		reason(out, "malformed OpenPGP signature: %s",
		       rc == 0 ? "no packet" : ef_error_last());
		goto out;
	}
	if (parse_sig(&s, pkt.body, pkt.len) < 0) {
		reason(out, "malformed OpenPGP signature: %s", ef_error_last());
		goto out;
	}
	if (s.hash_algo == PGP_HASH_MD5 || s.hash_algo == PGP_HASH_SHA1 ||
	    s.hash_algo == PGP_HASH_RIPEMD160) {
		reason(out, "signature made with %s is refused", pgp_hash_name(s.hash_algo));
		goto out;
	}
	if (!hash_allowed(s.hash_algo)) {
		reason(out, "signature uses unsupported hash algorithm %u (%s)", s.hash_algo,
		       pgp_hash_name(s.hash_algo));
		goto out;
	}
	if (s.type != SIG_BINARY) {
		reason(out, "signature type 0x%02x is not a binary document signature", s.type);
		goto out;
	}
	if (!s.has_created) {
		reason(out, "signature has no hashed creation time");
		goto out;
	}
	if (s.unknown_critical) {
		reason(out, "unknown critical subpacket %d", s.unknown_critical);
		goto out;
	}

	for (size_t i = 0; k && i < k->ncerts; i++) {
		const pgp_cert *c = &k->certs[i];

		for (size_t j = 0; j <= c->nsubs; j++) {
			const pgp_key *key = j == 0 ? &c->primary : &c->subs[j - 1];
			int rank;

			if (!candidate_for(&s, &key->pub))
				continue;
			/* Without an issuer, only keys that could have signed are tried. */
			if (!s.has_issuer_fpr && !s.has_issuer_id &&
			    (!key->pub.usable || key->pub.algo != s.pk_algo))
				continue;
			memset(&tmp, 0, sizeof(tmp));
			tried++;
			rank = check_candidate(&tmp, c, key, &s, payload, payload_len, now);
			if (rank == 0) {
				snprintf(out->signer, sizeof(out->signer), "%s", tmp.signer);
				snprintf(out->key, sizeof(out->key), "%s", tmp.key);
				snprintf(out->reason, sizeof(out->reason), "%s", tmp.reason);
				out->verdict = 0;
				error = 0;
				goto out;
			}
			/* Prefer the reason of a key that really made the signature. */
			if (best_rank == 0 || (rank == 2 && best_rank != 2)) {
				best = tmp;
				best_rank = rank;
			}
		}
	}
	if (tried == 0) {
		if (s.has_issuer_fpr) {
			to_hex(hex, s.issuer_fpr, 20);
			reason(out, "no trusted key has fingerprint %s", hex);
		} else if (s.has_issuer_id) {
			to_hex(hex, s.issuer_id, 8);
			reason(out, "no trusted key has key id %s", hex);
		} else {
			reason(out, "signature names no issuer and no trusted key can check it");
		}
		goto out;
	}
	if (!s.has_issuer_fpr && !s.has_issuer_id && best_rank == 3) {
		reason(out, "signature names no issuer and no trusted key made it");
		goto out;
	}
	snprintf(out->signer, sizeof(out->signer), "%s", best.signer);
	snprintf(out->key, sizeof(out->key), "%s", best.key);
	snprintf(out->reason, sizeof(out->reason), "%s", best.reason);
out:
	free(bin);
	return error;
}
