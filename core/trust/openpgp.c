/* OpenPGP signature verification: the cryptographic check of one signature
 * over what it covers (keys, user ids, data), and the verdict on a commit's
 * detached signature against a loaded keyring (ef_pgp_verify). The packet
 * parser is pgp_packet.c, keyrings pgp_keyring.c (pgp_internal.h lists the
 * files). */
#include "openpgp.h"
#include "pgp_internal.h"

#include "edgeflip/error.h"
#include "pgp_crypto.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool hash_allowed(uint8_t algo)
{
	return algo == PGP_HASH_SHA256 || algo == PGP_HASH_SHA384 || algo == PGP_HASH_SHA512;
}

static void hash_key(pgp_hash *h, const pgp_pubkey *k)
{
	uint8_t hdr[3] = {0x99};

	pgp_put_be16(hdr + 1, k->body_len);
	pgp_hash_update(h, hdr, 3);
	pgp_hash_update(h, k->body, k->body_len);
}

/* Checks `s` made by `k` over `subj`. Returns 0 when valid, -1 otherwise
 * (with a short reason in ef_error_last()). SHA-1 is accepted only for
 * revocations (`revocation`): a collision there can only take trust away,
 * and old keys were revoked with SHA-1. */
int pgp_sig_check(const pgp_sig *s, const pgp_pubkey *k, const sig_subject *subj, bool revocation)
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
		pgp_put_be32(uid_hdr + 1, subj->uid_len);
		pgp_hash_update(&h, uid_hdr, 5);
		pgp_hash_update(&h, subj->uid, subj->uid_len);
	}
	if (subj->data)
		pgp_hash_update(&h, subj->data, subj->data_len);
	pgp_hash_update(&h, s->hashed_part, s->hashed_part_len);
	trailer[0] = 0x04;
	trailer[1] = 0xFF;
	pgp_put_be32(trailer + 2, s->hashed_part_len);
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
	if (pgp_sig_check(s, &k->pub, &subj, false) < 0) {
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
		pgp_fmt_date(date, p->expires);
		reason(out, "key %s expired on %s", p->pub.hex, date);
		return 2;
	}
	if (k != p && k->expires && (t >= k->expires || now >= k->expires)) {
		pgp_fmt_date(date, k->expires);
		reason(out, "subkey %s of key %s expired on %s", k->pub.hex, p->pub.hex, date);
		return 2;
	}
	if (s->sig_expires && now >= t + (int64_t)s->sig_expires) {
		pgp_fmt_date(date, t + (int64_t)s->sig_expires);
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
	rc = pgp_next_packet(&r, &pkt);
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
	if (pgp_parse_sig(&s, pkt.body, pkt.len) < 0) {
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
			pgp_to_hex(hex, s.issuer_fpr, 20);
			reason(out, "no trusted key has fingerprint %s", hex);
		} else if (s.has_issuer_id) {
			pgp_to_hex(hex, s.issuer_id, 8);
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
