/* OpenPGP v4 (RFC 4880 / RFC 9580 v4 subset): keyrings and detached
 * signatures over commit payloads. Private to core/trust. */
#ifndef EDGEFLIP_VERIFY_OPENPGP_H
#define EDGEFLIP_VERIFY_OPENPGP_H

#include "edgeflip/verify.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ef_pgp_keyring ef_pgp_keyring;

/* Parses an armored file holding one or more public keys (with user ids,
 * self-signatures, subkeys and their binding signatures). `name` is used in
 * messages. */
int ef_pgp_keyring_load(ef_pgp_keyring **out, const char *armored, size_t len, const char *name);
size_t ef_pgp_keyring_count(const ef_pgp_keyring *k);
void ef_pgp_keyring_free(ef_pgp_keyring *k);

/* Verifies an armored detached signature (`-----BEGIN PGP SIGNATURE-----`)
 * over `payload`. Fills out->signer (primary fingerprint), out->key (the
 * signing key's fingerprint), out->format = "openpgp", out->reason.
 * Returns 0 or EF_EREJECTED. `now` and `sig creation time` both checked
 * against key expiry/revocation. */
int ef_pgp_verify(ef_verify_result *out, const ef_pgp_keyring *k, const uint8_t *payload,
		  size_t payload_len, const char *armored_sig, size_t sig_len, int64_t now);

/* Dearmor (exposed for the fuzz target): base64 body, CRC24 checked when present. */
int ef_pgp_dearmor(uint8_t **out, size_t *out_len, const char *text, size_t len,
		   const char *expect_label /* e.g. "PGP SIGNATURE" */);
uint32_t ef_pgp_crc24(const uint8_t *data, size_t len);

#endif
