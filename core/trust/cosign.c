/* cosign image signatures, verified offline against ECDSA P-256 keys:
 *
 * - the tag scheme (cosign 1.x/2.x, cosign's specs/SIGNATURE_SPEC.md): the
 *   manifest tagged `sha256-<hex>.sig` in the image's repository, each layer
 *   a simple-signing payload whose `critical.image.docker-manifest-digest`
 *   names the image, signed (ECDSA over SHA-256 of the payload, ASN.1 DER,
 *   base64) in the layer's `dev.cosignproject.cosign/signature` annotation;
 * - Sigstore bundles attached as OCI 1.1 referrers (cosign 3's default,
 *   specs/BUNDLE_SPEC.md): found through the referrers API or its tag
 *   fallback `sha256-<hex>`, a DSSE envelope holding an in-toto statement
 *   whose subject is the image's digest and whose predicate type is cosign's
 *   sign predicate.
 *
 * Every blob and manifest fetched by digest is checked against that digest.
 * Transparency-log entries and certificates (keyless signing) are not
 * verified: that needs the network (docs/verification.md). */
#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/imagesig.h"
#include "edgeflip/sys/http.h"
#include "pgp_crypto.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_KEYS        32
#define MAX_MANIFEST    (4u << 20)
#define MAX_BLOB        (1u << 20)
#define MAX_SIGS        16
#define SIMPLESIGNING   "application/vnd.dev.cosign.simplesigning.v1+json"
#define SIG_ANNOTATION  "dev.cosignproject.cosign/signature"
#define COSIGN_TYPE     "cosign container image signature"
#define BUNDLE_TYPE_PFX "application/vnd.dev.sigstore.bundle"
#define INTOTO_TYPE     "application/vnd.in-toto+json"
#define SIGN_PREDICATE  "https://sigstore.dev/cosign/sign/v1"
#define ACCEPT_MANIFEST                                                                            \
	"Accept: application/vnd.oci.image.manifest.v1+json, "                                     \
	"application/vnd.docker.distribution.manifest.v2+json"
#define ACCEPT_ANY                                                                                 \
	"Accept: application/vnd.oci.image.index.v1+json, "                                        \
	"application/vnd.docker.distribution.manifest.list.v2+json, "                              \
	"application/vnd.oci.image.manifest.v1+json, "                                             \
	"application/vnd.docker.distribution.manifest.v2+json"
#define ACCEPT_INDEX "Accept: application/vnd.oci.image.index.v1+json"

/* DER of SubjectPublicKeyInfo for id-ecPublicKey / prime256v1 up to the
 * uncompressed point: what every P-256 `PUBLIC KEY` PEM starts with. */
static const unsigned char p256_spki_prefix[] = {
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
        0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};

typedef struct {
	unsigned char point[65];
	char id[64]; /* SHA256:<base64 of the DER> */
} image_key;

struct ef_image_keys {
	image_key k[MAX_KEYS];
	size_t n;
};

static const char *find(const char *hay, size_t n, const char *needle, size_t m)
{
	for (size_t i = 0; m <= n && i <= n - m; i++)
		if (!memcmp(hay + i, needle, m))
			return hay + i;
	return NULL;
}

/* ---------------------------------------------------------------------------
 * Keys */

int ef_image_keys_parse(ef_image_keys **out, const char *pem, size_t len, const char *name)
{
	static const char begin[] = "-----BEGIN PUBLIC KEY-----",
	                  end[] = "-----END PUBLIC KEY-----";
	ef_image_keys *ks = calloc(1, sizeof(*ks));
	const char *p = pem, *stop = pem + len;
	unsigned block = 0;
	int error = EF_EINVALID;

	*out = NULL;
	if (!ks) {
		ef_error_set("out of memory");
		return EF_ENOMEM;
	}
	while (p < stop) {
		const char *b = find(p, (size_t)(stop - p), begin, sizeof(begin) - 1), *e;
		unsigned char der[256], digest[32];
		size_t n;
		if (!b)
			break;
		block++;
		b += sizeof(begin) - 1;
		if (!(e = find(b, (size_t)(stop - b), end, sizeof(end) - 1))) {
			ef_error_set("%s: key %u: no '%s' line", name, block, end);
			goto out;
		}
		if (sodium_base642bin(der, sizeof(der), b, (size_t)(e - b), " \t\r\n", &n, NULL,
		                      sodium_base64_VARIANT_ORIGINAL) != 0) {
			ef_error_set("%s: key %u: bad base64", name, block);
			goto out;
		}
		if (n != sizeof(p256_spki_prefix) + 65 ||
		    memcmp(der, p256_spki_prefix, sizeof(p256_spki_prefix)) != 0 ||
		    der[sizeof(p256_spki_prefix)] != 0x04) {
			ef_error_set("%s: key %u: not an ECDSA P-256 public key (image signatures "
			             "are checked with the keys `cosign generate-key-pair` makes)",
			             name, block);
			goto out;
		}
		if (ks->n == MAX_KEYS) {
			ef_error_set("%s: more than %d keys", name, MAX_KEYS);
			error = EF_ETOOBIG;
			goto out;
		}
		memcpy(ks->k[ks->n].point, der + sizeof(p256_spki_prefix), 65);
		crypto_hash_sha256(digest, der, n);
		memcpy(ks->k[ks->n].id, "SHA256:", 7);
		sodium_bin2base64(ks->k[ks->n].id + 7, sizeof(ks->k[ks->n].id) - 7, digest,
		                  sizeof(digest), sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
		ks->n++;
		p = e + sizeof(end) - 1;
	}
	if (!ks->n) {
		ef_error_set("%s: no '%s' block found", name, begin);
		goto out;
	}
	*out = ks;
	ks = NULL;
	error = 0;
out:
	free(ks);
	return error;
}

size_t ef_image_keys_count(const ef_image_keys *k)
{
	return k ? k->n : 0;
}

void ef_image_keys_free(ef_image_keys *k)
{
	free(k);
}

/* ASN.1 DER `SEQUENCE { INTEGER r, INTEGER s }` (short lengths only, as
 * P-256 signatures always have). */
static int der_integer(const unsigned char **p, const unsigned char *end, const unsigned char **v,
                       size_t *n)
{
	if (end - *p < 2 || (*p)[0] != 0x02 || (*p)[1] > 33 || (size_t)(end - *p - 2) < (*p)[1])
		return -1;
	*n = (*p)[1];
	*v = *p + 2;
	*p += 2 + *n;
	if (*n == 0 || ((*v)[0] & 0x80) || (*n > 1 && (*v)[0] == 0 && !((*v)[1] & 0x80)))
		return -1; /* negative or not minimal */
	return 0;
}

/* Verifies a base64 DER signature over sha256(msg) by any key; the id of the
 * key that signed goes to `who`. */
static int verify_sig(char who[64], const ef_image_keys *keys, const char *sig_b64,
                      const unsigned char *msg, size_t msg_len)
{
	unsigned char sig[128], digest[32];
	const unsigned char *p = sig, *end, *r, *s;
	size_t n, rn, sn;

	if (!sig_b64 || sodium_base642bin(sig, sizeof(sig), sig_b64, strlen(sig_b64), NULL, &n,
	                                  NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
		return -1;
	if (n < 8 || sig[0] != 0x30 || sig[1] != n - 2)
		return -1;
	p = sig + 2;
	end = sig + n;
	if (der_integer(&p, end, &r, &rn) < 0 || der_integer(&p, end, &s, &sn) < 0 || p != end)
		return -1;
	crypto_hash_sha256(digest, msg, msg_len);
	for (size_t i = 0; i < keys->n; i++) {
		if (pgp_ecdsa_verify(PGP_CURVE_P256, keys->k[i].point, 65, digest, 32, r, rn, s,
		                     sn) == 0) {
			memcpy(who, keys->k[i].id, 64);
			return 0;
		}
	}
	return -1;
}

/* ---------------------------------------------------------------------------
 * A registry client (distribution spec) over the HTTP port */

typedef struct {
	const ef_registry_opts *o;
	char host[256];
	char repo[512];
	bool http;
	char *token;
} registry;

static void reg_dispose(registry *r)
{
	if (r->token)
		sodium_memzero(r->token, strlen(r->token));
	free(r->token);
}

static int reg_open(registry *r, const ef_registry_opts *o, const char *host, const char *repo)
{
	memset(r, 0, sizeof(*r));
	r->o = o;
	if (!strcmp(host, "docker.io") || !strcmp(host, "index.docker.io"))
		host = "registry-1.docker.io";
	snprintf(r->host, sizeof(r->host), "%s", host);
	if (!strcmp(r->host, "registry-1.docker.io") && !strchr(repo, '/'))
		snprintf(r->repo, sizeof(r->repo), "library/%s", repo);
	else
		snprintf(r->repo, sizeof(r->repo), "%s", repo);
	for (const char *const *h = o->http_registries; h && *h; h++)
		if (!strcmp(*h, host))
			r->http = true;
	if (strlen(host) >= sizeof(r->host) || strlen(repo) + 8 >= sizeof(r->repo)) {
		ef_error_set("image name too long");
		return EF_EINVALID;
	}
	return 0;
}

/* `Bearer realm="…",service="…",scope="…"` → the value of `key`. */
static bool challenge_param(char *out, size_t size, const char *ch, const char *key)
{
	size_t kl = strlen(key);

	for (const char *p = ch; (p = strstr(p, key)) != NULL; p += kl) {
		const char *v, *e;
		if (p != ch && p[-1] != ' ' && p[-1] != ',')
			continue;
		if (p[kl] != '=' || p[kl + 1] != '"')
			continue;
		v = p + kl + 2;
		if (!(e = strchr(v, '"')) || (size_t)(e - v) >= size)
			return false;
		memcpy(out, v, (size_t)(e - v));
		out[e - v] = '\0';
		return true;
	}
	return false;
}

static void urlenc(ef_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~')
			ef_buf_put(b, s, 1);
		else
			ef_buf_printf(b, "%%%02X", c);
	}
}

/* Anonymous pull token (Docker Hub, GHCR, distribution's token auth). */
static int fetch_token(registry *r, const char *challenge)
{
	char realm[512], service[256] = "", scope[600] = "";
	ef_buf url = EF_BUF_INIT(2048);
	ef_http_reply rep;
	ef_http_req req = {0};
	cJSON *j = NULL;
	const cJSON *t;
	int error = EF_EREJECTED;

	if (strncasecmp(challenge, "Bearer ", 7) != 0 ||
	    !challenge_param(realm, sizeof(realm), challenge + 7, "realm")) {
		ef_error_set("registry %s asks for authentication edgeflip does not do (%.60s)",
		             r->host, challenge);
		return EF_EREJECTED;
	}
	challenge_param(service, sizeof(service), challenge + 7, "service");
	if (!challenge_param(scope, sizeof(scope), challenge + 7, "scope"))
		snprintf(scope, sizeof(scope), "repository:%s:pull", r->repo);
	ef_buf_puts(&url, realm);
	ef_buf_puts(&url, strchr(realm, '?') ? "&" : "?");
	ef_buf_puts(&url, "service=");
	urlenc(&url, service);
	ef_buf_puts(&url, "&scope=");
	urlenc(&url, scope);
	ef_http_reply_init(&rep, 64 * 1024);
	req.url = url.ptr;
	req.ca_file = r->o->ca_file;
	req.allow_http = r->http;
	req.timeout_ms = r->o->timeout_ms;
	if ((error = ef_http_request(&rep, &req)) < 0)
		goto out;
	error = EF_EREJECTED;
	if (rep.status != 200 || !(j = cJSON_ParseWithLength(rep.body.ptr, rep.body.len)) ||
	    !((cJSON_IsString(t = cJSON_GetObjectItemCaseSensitive(j, "token"))) ||
	      cJSON_IsString(t = cJSON_GetObjectItemCaseSensitive(j, "access_token")))) {
		ef_error_set("registry %s: no pull token from %s (HTTP %ld)", r->host, realm,
		             rep.status);
		goto out;
	}
	if (!(r->token = strdup(t->valuestring))) {
		error = EF_ENOMEM;
		goto out;
	}
	error = 0;
out:
	cJSON_Delete(j);
	if (rep.body.ptr)
		sodium_memzero(rep.body.ptr, rep.body.len);
	ef_http_reply_dispose(&rep);
	ef_buf_dispose(&url);
	return error;
}

/* GET /v2/<repo>/<what> with one Accept header; a 401 gets one token. */
static int reg_get(registry *r, ef_http_reply *rep, const char *what, const char *accept,
                   size_t cap, bool follow)
{
	char url[1400], auth[4200];
	const char *hdrs[3] = {accept, NULL, NULL};
	ef_http_req req = {0};
	int error;

	snprintf(url, sizeof(url), "%s://%s/v2/%s/%s", r->http ? "http" : "https", r->host, r->repo,
	         what);
	for (int attempt = 0; attempt < 2; attempt++) {
		ef_http_reply_dispose(rep);
		ef_http_reply_init(rep, cap);
		if (r->token) {
			snprintf(auth, sizeof(auth), "Authorization: Bearer %s", r->token);
			hdrs[accept ? 1 : 0] = auth;
		}
		req.url = url;
		req.headers = hdrs;
		req.ca_file = r->o->ca_file;
		req.allow_http = r->http;
		req.timeout_ms = r->o->timeout_ms;
		req.follow_redirects = follow;
		error = ef_http_request(rep, &req);
		sodium_memzero(auth, sizeof(auth));
		if (error < 0)
			return error;
		if (rep->status != 401 || r->token || attempt)
			return 0;
		if ((error = fetch_token(r, rep->www_authenticate)) < 0)
			return error;
	}
	return 0;
}

static bool sha256_matches(const char *digest, const char *data, size_t len)
{
	unsigned char d[32];
	char hex[65];

	if (strncmp(digest, "sha256:", 7) != 0 || strlen(digest) != 71)
		return false;
	crypto_hash_sha256(d, (const unsigned char *)data, len);
	sodium_bin2hex(hex, sizeof(hex), d, sizeof(d));
	return !strcmp(hex, digest + 7);
}

static bool valid_digest(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) != 0 || strlen(d) != 71)
		return false;
	for (const char *p = d + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

/* Fetches what `digest` names (a blob or a manifest) and checks its hash. */
static int get_by_digest(registry *r, ef_http_reply *rep, bool manifest, const char *digest,
                         const char *accept, size_t cap)
{
	char what[128];
	int error;

	if (!valid_digest(digest)) {
		ef_error_set("registry %s: a descriptor with a bad digest", r->host);
		return EF_EREJECTED;
	}
	snprintf(what, sizeof(what), "%s/%s", manifest ? "manifests" : "blobs", digest);
	if ((error = reg_get(r, rep, what, accept, cap, !manifest)) < 0)
		return error;
	if (rep->status != 200) {
		ef_error_set("registry %s: %s: HTTP %ld", r->host, what, rep->status);
		return EF_EREJECTED;
	}
	if (!sha256_matches(digest, rep->body.ptr ? rep->body.ptr : "", rep->body.len)) {
		ef_error_set("registry %s: %s: the content does not match its digest", r->host,
		             what);
		return EF_EREJECTED;
	}
	return 0;
}

int ef_image_resolve(char digest[72], const ef_registry_opts *o, const char *host, const char *repo,
                     const char *tag)
{
	registry r;
	ef_http_reply rep;
	char what[300];
	int error;

	ef_http_reply_init(&rep, MAX_MANIFEST);
	if ((error = reg_open(&r, o, host, repo)) < 0)
		goto out;
	snprintf(what, sizeof(what), "manifests/%s", tag ? tag : "latest");
	if ((error = reg_get(&r, &rep, what, ACCEPT_ANY, MAX_MANIFEST, false)) < 0)
		goto out;
	if (rep.status != 200) {
		ef_error_set("registry %s: %s:%s: HTTP %ld", r.host, repo, tag, rep.status);
		error = rep.status == 404 ? EF_ENOTFOUND : EF_EUNREACHABLE;
		goto out;
	}
	/* The digest is that of the bytes served, whatever the header says. */
	{
		unsigned char d[32];
		char hex[65];
		crypto_hash_sha256(d, (const unsigned char *)(rep.body.ptr ? rep.body.ptr : ""),
		                   rep.body.len);
		sodium_bin2hex(hex, sizeof(hex), d, sizeof(d));
		snprintf(digest, 72, "sha256:%s", hex);
	}
	error = 0;
out:
	ef_http_reply_dispose(&rep);
	reg_dispose(&r);
	return error;
}

/* ---------------------------------------------------------------------------
 * The tag scheme */

/* "index.docker.io/library/nginx" and "nginx" name the same repository. */
static void canonical_ref(char *out, size_t size, const char *host, const char *repo)
{
	if (!strcmp(host, "docker.io") || !strcmp(host, "index.docker.io") ||
	    !strcmp(host, "registry-1.docker.io"))
		snprintf(out, size, "index.docker.io/%s%s", strchr(repo, '/') ? "" : "library/",
		         repo);
	else
		snprintf(out, size, "%s/%s", host, repo);
}

static const char *str_at(const cJSON *o, const char *a, const char *b, const char *c)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	if (c)
		v = cJSON_GetObjectItemCaseSensitive(v, c);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Checks one simple-signing payload; `why` says what is wrong. */
static bool payload_names(char *why, size_t whysize, const char *payload, size_t len,
                          const char *want_ref, const char *digest)
{
	cJSON *j = cJSON_ParseWithLength(payload, len);
	const char *d, *ty, *ref;
	char have[600];
	bool ok = false;

	if (!j) {
		snprintf(why, whysize, "the signed payload is not JSON");
		return false;
	}
	d = str_at(j, "critical", "image", "docker-manifest-digest");
	ty = str_at(j, "critical", "type", NULL);
	ref = str_at(j, "critical", "identity", "docker-reference");
	if (!ty || strcmp(ty, COSIGN_TYPE) != 0)
		snprintf(why, whysize, "the signed payload is not a cosign image signature");
	else if (!d || strcmp(d, digest) != 0)
		snprintf(why, whysize, "the signature is for another image (%.80s)",
		         d ? d : "none");
	else if (!ref)
		snprintf(why, whysize, "the signed payload names no repository");
	else {
		/* Compare as cosign writes it: registry/repository, no tag. */
		const char *slash = strchr(ref, '/');
		char host[256];
		snprintf(host, sizeof(host), "%.*s", slash ? (int)(slash - ref) : 0, ref);
		if (slash && (strchr(host, '.') || strchr(host, ':') || !strcmp(host, "localhost")))
			canonical_ref(have, sizeof(have), host, slash + 1);
		else
			canonical_ref(have, sizeof(have), "docker.io", ref);
		if (strcmp(have, want_ref) != 0)
			snprintf(why, whysize, "the signature is for another repository (%.120s)",
			         ref);
		else
			ok = true;
	}
	cJSON_Delete(j);
	return ok;
}

/* 1: a good signature; 0: none (why in out->reason); <0: transient. */
static int check_tag_scheme(ef_image_verdict *out, registry *r, const ef_image_keys *keys,
                            const char *want_ref, const char *digest)
{
	ef_http_reply rep, blob;
	char what[128];
	cJSON *m = NULL;
	const cJSON *layers, *l;
	int error, found = 0, n = 0;

	ef_http_reply_init(&rep, MAX_MANIFEST);
	ef_http_reply_init(&blob, MAX_BLOB);
	snprintf(what, sizeof(what), "manifests/sha256-%s.sig", digest + 7);
	if ((error = reg_get(r, &rep, what, ACCEPT_MANIFEST, MAX_MANIFEST, false)) < 0)
		goto out;
	if (rep.status == 404) {
		snprintf(out->reason, sizeof(out->reason),
		         "no cosign signature (no sha256-<digest>.sig manifest)");
		goto out;
	}
	if (rep.status != 200) {
		ef_error_set("registry %s: %s: HTTP %ld", r->host, what, rep.status);
		error = rep.status >= 500 ? EF_EUNREACHABLE : EF_EREJECTED;
		goto out;
	}
	if (!(m = cJSON_ParseWithLength(rep.body.ptr, rep.body.len)) ||
	    !cJSON_IsArray(layers = cJSON_GetObjectItemCaseSensitive(m, "layers"))) {
		snprintf(out->reason, sizeof(out->reason), "the signature manifest is malformed");
		goto out;
	}
	cJSON_ArrayForEach(l, layers)
	{
		const char *mt = str_at(l, "mediaType", NULL, NULL);
		const char *ld = str_at(l, "digest", NULL, NULL);
		const char *sig = str_at(l, "annotations", SIG_ANNOTATION, NULL);
		char who[64];
		if (!mt || strcmp(mt, SIMPLESIGNING) != 0 || !sig || ++n > MAX_SIGS)
			continue;
		if ((error = get_by_digest(r, &blob, false, ld, NULL, MAX_BLOB)) < 0) {
			if (error != EF_EREJECTED)
				goto out;
			snprintf(out->reason, sizeof(out->reason), "%s", ef_error_last());
			continue;
		}
		if (verify_sig(who, keys, sig, (const unsigned char *)blob.body.ptr,
		               blob.body.len) < 0) {
			snprintf(out->reason, sizeof(out->reason),
			         "the cosign signature is not by a trusted key");
			continue;
		}
		if (!payload_names(out->reason, sizeof(out->reason), blob.body.ptr, blob.body.len,
		                   want_ref, digest))
			continue;
		memcpy(out->key, who, sizeof(out->key));
		snprintf(out->method, sizeof(out->method), "cosign-tag");
		found = 1;
		break;
	}
	if (!found && !n)
		snprintf(out->reason, sizeof(out->reason),
		         "the signature manifest holds no signature");
	error = found;
out:
	cJSON_Delete(m);
	ef_http_reply_dispose(&rep);
	ef_http_reply_dispose(&blob);
	return error;
}

/* ---------------------------------------------------------------------------
 * Sigstore bundles as OCI referrers */

/* DSSE pre-authentication encoding: "DSSEv1 <len> <type> <len> <body>". */
static int pae(ef_buf *out, const char *type, const unsigned char *body, size_t n)
{
	int error = ef_buf_printf(out, "DSSEv1 %zu %s %zu ", strlen(type), type, n);

	return error < 0 ? error : ef_buf_put(out, body, n);
}

static bool statement_names(char *why, size_t whysize, const unsigned char *p, size_t n,
                            const char *digest)
{
	cJSON *j = cJSON_ParseWithLength((const char *)p, n);
	const char *ty = str_at(j, "_type", NULL, NULL);
	const char *pt = str_at(j, "predicateType", NULL, NULL);
	const cJSON *subj = cJSON_GetObjectItemCaseSensitive(j, "subject"), *s;
	bool ok = false;

	if (!j || !ty || strncmp(ty, "https://in-toto.io/Statement/", 29) != 0)
		snprintf(why, whysize, "the bundle does not hold an in-toto statement");
	else if (!pt || strcmp(pt, SIGN_PREDICATE) != 0)
		snprintf(why, whysize, "the bundle is an attestation (%.80s), not a signature",
		         pt ? pt : "no predicate type");
	else {
		snprintf(why, whysize, "the signature is for another image");
		cJSON_ArrayForEach(s, subj)
		{
			const char *hex = str_at(s, "digest", "sha256", NULL);
			if (hex && !strcmp(hex, digest + 7))
				ok = true;
		}
	}
	cJSON_Delete(j);
	return ok;
}

static int check_bundle(ef_image_verdict *out, registry *r, const ef_image_keys *keys,
                        const char *digest, const char *bundle, size_t len)
{
	cJSON *b = cJSON_ParseWithLength(bundle, len);
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(b, "dsseEnvelope"), *sigs, *s;
	const char *payload = str_at(env, "payload", NULL, NULL);
	const char *ptype = str_at(env, "payloadType", NULL, NULL);
	unsigned char *body = NULL;
	size_t n = 0;
	ef_buf msg = EF_BUF_INIT(MAX_BLOB + 256);
	int found = 0;

	(void)r;
	if (!env || !payload || !ptype) {
		snprintf(out->reason, sizeof(out->reason),
		         b && cJSON_GetObjectItemCaseSensitive(b, "messageSignature")
		                 ? "a bundle with a message signature (edgeflip checks cosign's "
		                   "DSSE image signatures)"
		                 : "the bundle holds no DSSE envelope");
		goto out;
	}
	if (strcmp(ptype, INTOTO_TYPE) != 0) {
		snprintf(out->reason, sizeof(out->reason), "the bundle's payload is not in-toto");
		goto out;
	}
	if (!(body = malloc(strlen(payload) + 1)) ||
	    sodium_base642bin(body, strlen(payload) + 1, payload, strlen(payload), NULL, &n, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    pae(&msg, ptype, body, n) < 0) {
		snprintf(out->reason, sizeof(out->reason), "the bundle's payload is not base64");
		goto out;
	}
	sigs = cJSON_GetObjectItemCaseSensitive(env, "signatures");
	cJSON_ArrayForEach(s, sigs)
	{
		char who[64];
		if (verify_sig(who, keys, str_at(s, "sig", NULL, NULL),
		               (const unsigned char *)msg.ptr, msg.len) < 0) {
			snprintf(out->reason, sizeof(out->reason),
			         "the bundle's signature is not by a trusted key");
			continue;
		}
		if (!statement_names(out->reason, sizeof(out->reason), body, n, digest))
			continue;
		memcpy(out->key, who, sizeof(out->key));
		snprintf(out->method, sizeof(out->method), "bundle");
		found = 1;
		break;
	}
out:
	ef_buf_dispose(&msg);
	free(body);
	cJSON_Delete(b);
	return found;
}

static int check_referrers(ef_image_verdict *out, registry *r, const ef_image_keys *keys,
                           const char *digest)
{
	ef_http_reply idx, man, blob;
	char what[200];
	cJSON *index = NULL;
	const cJSON *ms, *d;
	int error, found = 0;

	ef_http_reply_init(&idx, MAX_MANIFEST);
	ef_http_reply_init(&man, MAX_MANIFEST);
	ef_http_reply_init(&blob, MAX_BLOB);
	snprintf(what, sizeof(what), "referrers/%s", digest);
	if ((error = reg_get(r, &idx, what, ACCEPT_INDEX, MAX_MANIFEST, false)) < 0)
		goto out;
	if (idx.status != 200) {
		/* No referrers API: its tag fallback. */
		snprintf(what, sizeof(what), "manifests/sha256-%s", digest + 7);
		if ((error = reg_get(r, &idx, what, ACCEPT_INDEX, MAX_MANIFEST, false)) < 0)
			goto out;
	}
	error = 0;
	if (idx.status != 200 || !(index = cJSON_ParseWithLength(idx.body.ptr, idx.body.len)))
		goto out;
	ms = cJSON_GetObjectItemCaseSensitive(index, "manifests");
	cJSON_ArrayForEach(d, ms)
	{
		const char *at = str_at(d, "artifactType", NULL, NULL);
		const char *md = str_at(d, "digest", NULL, NULL);
		const cJSON *layers;
		cJSON *m;
		if (!at || strncmp(at, BUNDLE_TYPE_PFX, strlen(BUNDLE_TYPE_PFX)) != 0)
			continue;
		if ((error = get_by_digest(r, &man, true, md, ACCEPT_MANIFEST, MAX_MANIFEST)) < 0) {
			if (error != EF_EREJECTED)
				goto out;
			continue;
		}
		m = cJSON_ParseWithLength(man.body.ptr, man.body.len);
		layers = cJSON_GetObjectItemCaseSensitive(m, "layers");
		/* The subject must be this image: a bundle copied from another
		 * image's referrers is not ours. */
		if (!m || !str_at(m, "subject", "digest", NULL) ||
		    strcmp(str_at(m, "subject", "digest", NULL), digest) != 0 ||
		    !cJSON_GetArrayItem(layers, 0)) {
			cJSON_Delete(m);
			continue;
		}
		error = get_by_digest(r, &blob, false,
		                      str_at(cJSON_GetArrayItem(layers, 0), "digest", NULL, NULL),
		                      NULL, MAX_BLOB);
		cJSON_Delete(m);
		if (error < 0 && error != EF_EREJECTED)
			goto out;
		error = 0;
		if (blob.status == 200 &&
		    (found = check_bundle(out, r, keys, digest, blob.body.ptr, blob.body.len)))
			break;
	}
out:
	cJSON_Delete(index);
	ef_http_reply_dispose(&idx);
	ef_http_reply_dispose(&man);
	ef_http_reply_dispose(&blob);
	return error < 0 ? error : found;
}

int ef_image_verify(ef_image_verdict *out, const ef_image_keys *keys, const ef_registry_opts *o,
                    const char *host, const char *repo, const char *digest)
{
	registry r;
	char want[800], first[512] = "";
	int rc;

	memset(out, 0, sizeof(*out));
	snprintf(out->reason, sizeof(out->reason), "no signature");
	if (!valid_digest(digest)) {
		snprintf(out->reason, sizeof(out->reason), "the image is not pinned to a digest");
		ef_error_set("%s/%s: %s", host, repo, out->reason);
		return EF_EREJECTED;
	}
	snprintf(out->digest, sizeof(out->digest), "%s", digest);
	if (!keys || !keys->n) {
		ef_error_set("no image keys loaded");
		return EF_EREJECTED;
	}
	if ((rc = reg_open(&r, o, host, repo)) < 0)
		return rc;
	canonical_ref(want, sizeof(want), host, repo);
	rc = check_tag_scheme(out, &r, keys, want, digest);
	if (rc == 0) {
		snprintf(first, sizeof(first), "%s", out->reason);
		rc = check_referrers(out, &r, keys, digest);
		if (rc == 0 && first[0] && strcmp(out->reason, "no signature") == 0)
			snprintf(out->reason, sizeof(out->reason), "%s", first);
	}
	reg_dispose(&r);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		ef_error_set("%s/%s@%s: %s", host, repo, digest, out->reason);
		return EF_EREJECTED;
	}
	snprintf(out->reason, sizeof(out->reason), "good signature");
	return 0;
}
