/* Image signatures: cosign signatures checked offline against the device's
 * keys (`[trust] image_keys`) before any container is created, whether or
 * not the image is already in the engine's cache. See docs/verification.md
 * ("Image signatures"). */
#ifndef EDGEFLIP_IMAGESIG_H
#define EDGEFLIP_IMAGESIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ef_image_keys ef_image_keys;

/* Loads PEM public keys ("-----BEGIN PUBLIC KEY-----", ECDSA P-256, as
 * `cosign generate-key-pair` writes cosign.pub); several blocks allowed.
 * Errors name the file and the block. */
int ef_image_keys_parse(ef_image_keys **out, const char *pem, size_t len, const char *name);
size_t ef_image_keys_count(const ef_image_keys *k);
void ef_image_keys_free(ef_image_keys *k);

typedef struct {
	const char *ca_file;                /* HTTPS registries; NULL: the system store */
	const char *const *http_registries; /* hosts reached over plain http (tests) */
	uint64_t timeout_ms;
} ef_registry_opts;

typedef struct {
	char digest[72];  /* the digest verified: sha256:<64 hex> */
	char key[64];     /* "SHA256:<base64>" of the key that signed (SPKI DER) */
	char method[16];  /* "cosign-tag" (sha256-<hex>.sig) or "bundle" (OCI referrer) */
	char reason[512]; /* why refused, or "good signature" */
} ef_image_verdict;

/* An image is named by its registry host ("docker.io", "reg:5000") and
 * repository ("app", "team/app"), as ef_image_ref_split() gives them. */

/* Resolves a tag to the digest of its manifest in the registry. */
int ef_image_resolve(char digest[72], const ef_registry_opts *o, const char *registry,
                     const char *repo, const char *tag);

/* Checks that the image at `digest` carries a signature by one of
 * `keys`: the cosign tag scheme first, then Sigstore bundles attached as
 * OCI 1.1 referrers (the referrers API, then its tag fallback). 0 when a
 * good signature was found; EF_EREJECTED (out->reason says why) when none
 * is; EF_EUNREACHABLE / EF_ETIMEOUT when the registry cannot be asked (a
 * transient fault, not a verdict). */
int ef_image_verify(ef_image_verdict *out, const ef_image_keys *keys, const ef_registry_opts *o,
                    const char *registry, const char *repo, const char *digest);

#endif
