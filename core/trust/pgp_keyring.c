/* OpenPGP keyrings: the trusted keys of [trust] openpgp files.
 *
 * A keyring is checked once when loaded: every self-signature, subkey
 * binding, primary key binding (back-signature) and revocation issued by a
 * primary key is verified cryptographically, and only verified packets
 * decide what a key may do, when it expires and whether it is revoked.
 * Third-party certifications are ignored; user ids never decide trust. */
#include "pgp_internal.h"

#include "edgeflip/error.h"

#include <sodium.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

		if (pgp_parse_sig(&bs, s->embedded, s->embedded_len) < 0) {
			note_refusal(sub, "back-signature");
		} else if (bs.type != SIG_PRIMARY_BINDING || !bs.has_created ||
		           bs.unknown_critical) {
			ef_error_set("is not a valid primary key binding");
			note_refusal(sub, "back-signature");
		} else if (pgp_sig_check(&bs, &sub->pub, &subj, false) < 0) {
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

	if (ctx == CTX_OTHER || pgp_parse_sig(&s, body, len) < 0)
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
		if (pgp_sig_check(&s, &primary->pub, &subj, s.type == SIG_KEY_REVOCATION) < 0)
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
		if (pgp_sig_check(&s, &primary->pub, &subj, s.type == SIG_SUBKEY_REVOCATION) < 0) {
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
		if (pgp_sig_check(&s, &primary->pub, &subj, false) < 0) {
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

	while ((rc = pgp_next_packet(&r, &pkt)) > 0) {
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
			if ((error = pgp_parse_pubkey(&c->primary.pub, pkt.body, pkt.len)) < 0) {
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
			if ((error = pgp_parse_pubkey(&c->subs[c->nsubs].pub, pkt.body, pkt.len)) <
			    0) {
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

		error = pgp_dearmor_block(&bin, &bin_len, armored, len, &off,
		                          "PGP PUBLIC KEY BLOCK", false);
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
