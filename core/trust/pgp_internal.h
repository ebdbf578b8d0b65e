/* OpenPGP v4, shared between the files of core/trust that implement it; not
 * an interface (openpgp.h is, for verify.c).
 *
 *   pgp_packet.c   the parser of outside input: ASCII armor (CRC24), packet
 *                  framing, public key and signature packets with their
 *                  subpackets. Parses only; decides nothing.
 *   pgp_keyring.c  key handling: a keyring is checked once when loaded, and
 *                  only verified self-signatures, bindings, back-signatures
 *                  and revocations decide what a key may do.
 *   openpgp.c      signature verification: the cryptographic check of one
 *                  signature over its subject (pgp_sig_check), and the
 *                  verdict on a commit's detached signature (ef_pgp_verify).
 *   pgp_crypto.c   hashes and public-key primitives (mbedTLS, libsodium). */
#ifndef EDGEFLIP_TRUST_PGP_INTERNAL_H
#define EDGEFLIP_TRUST_PGP_INTERNAL_H

#include "openpgp.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

typedef struct {
	const uint8_t *p;
	size_t len, off;
} reader;

typedef struct {
	uint8_t tag;
	const uint8_t *body;
	size_t len;
} packet;

/* ---- pgp_packet.c ---- */

/* Lower-case hex of n bytes into out (2n + 1 bytes). */
void pgp_to_hex(char *out, const uint8_t *p, size_t n);
/* YYYY-MM-DD of a unix time (UTC). */
void pgp_fmt_date(char out[32], int64_t t);
void pgp_put_be16(uint8_t *p, size_t v);
void pgp_put_be32(uint8_t *p, size_t v);
/* Dearmors the next `label` block of text from *off on (strict: nothing but
 * blank lines around it). */
int pgp_dearmor_block(uint8_t **out, size_t *out_len, const char *text, size_t len, size_t *off,
                      const char *label, bool strict);
/* Returns 1 with a packet, 0 at the end, or -1 (message set). */
int pgp_next_packet(reader *r, packet *pkt);
/* A v4 public key or subkey body; unsupported algorithms give usable=false. */
int pgp_parse_pubkey(pgp_pubkey *k, const uint8_t *body, size_t len);
/* A v4 signature packet body with its subpackets. */
int pgp_parse_sig(pgp_sig *s, const uint8_t *body, size_t len);

/* ---- openpgp.c ---- */

/* Checks `s` made by `k` over `subj`: 0 when valid, -1 otherwise (reason in
 * ef_error_last()). SHA-1 only for revocations. */
int pgp_sig_check(const pgp_sig *s, const pgp_pubkey *k, const sig_subject *subj, bool revocation);

#endif
