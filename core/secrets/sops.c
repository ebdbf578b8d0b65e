/* SOPS documents (github.com/getsops/sops), as sops 3.x writes them: the data
 * key wrapped for age recipients under `sops.age[].enc`, each value
 * `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` with the value's key path
 * joined by ':' plus a trailing ':' as additional data (array indexes are
 * not part of the path), and `sops.mac`: uppercase hex SHA-512 over every
 * value in document order (only the encrypted ones with
 * mac_only_encrypted), itself encrypted with `lastmodified` as additional
 * data. The MAC is checked before anything is handed back. */
#include "edgeflip/error.h"
#include "edgeflip/secrets.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <mbedtls/gcm.h>
#include <regex.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH      64
#define MAX_PATH       1024
#define MAX_VALUE      (1u << 20)
#define DATA_KEY_LEN   32
#define MAX_DOTENV_LEN (4u << 20)

typedef struct {
	const char *name;
	unsigned char key[DATA_KEY_LEN];
	crypto_hash_sha512_state mac;
	bool mac_only_encrypted;
	const char *unencrypted_suffix;
	const char *encrypted_suffix;
	regex_t unencrypted_re, encrypted_re;
	bool has_unencrypted_re, has_encrypted_re;
	char path[MAX_PATH];
	size_t path_len;
	ef_sops_info *inspect; /* not NULL: check the structure only, decrypt nothing */
} sops_ctx;

typedef enum { T_STR, T_INT, T_FLOAT, T_BOOL, T_BYTES, T_COMMENT } enc_type;

/* ---------------------------------------------------------------------------
 * ENC[AES256_GCM,data:…,iv:…,tag:…,type:…] */

static bool is_enc(const char *s)
{
	return s && !strncmp(s, "ENC[AES256_GCM,", 15);
}

static const char *field(const char *s, const char *name, size_t *len)
{
	size_t n = strlen(name);

	for (const char *p = s; (p = strstr(p, name)) != NULL; p++) {
		if ((p[-1] == ',' || p[-1] == '[') && p[n] == ':') {
			const char *v = p + n + 1, *e = strpbrk(v, ",]");
			if (!e)
				return NULL;
			*len = (size_t)(e - v);
			return v;
		}
	}
	return NULL;
}

/* Decrypts one ENC[...] value into `out` (NUL-terminated; wipe after use). */
static int decrypt_value(ef_buf *out, enc_type *type, const sops_ctx *c, const char *enc,
                         const char *aad)
{
	const char *data, *iv, *tag, *ty;
	size_t dl, il, tl, yl, n;
	unsigned char ivb[64], tagb[16], *ct = NULL, *pt = NULL;
	size_t ivn, tagn, ctn;
	mbedtls_gcm_context gcm;
	int error = EF_EINVALID, rc;
	size_t elen = strlen(enc);

	if (elen < 2 || enc[elen - 1] != ']' || !(data = field(enc, "data", &dl)) ||
	    !(iv = field(enc, "iv", &il)) || !(tag = field(enc, "tag", &tl)) ||
	    !(ty = field(enc, "type", &yl))) {
		ef_error_set("%s: %s: not a SOPS value (ENC[AES256_GCM,data:…,iv:…,tag:…,type:…] "
		             "expected); re-encrypt the file with sops",
		             c->name, aad);
		return EF_EINVALID;
	}
	if (yl == 3 && !memcmp(ty, "str", 3))
		*type = T_STR;
	else if (yl == 3 && !memcmp(ty, "int", 3))
		*type = T_INT;
	else if (yl == 5 && !memcmp(ty, "float", 5))
		*type = T_FLOAT;
	else if (yl == 4 && !memcmp(ty, "bool", 4))
		*type = T_BOOL;
	else if (yl == 5 && !memcmp(ty, "bytes", 5))
		*type = T_BYTES;
	else if (yl == 7 && !memcmp(ty, "comment", 7))
		*type = T_COMMENT;
	else {
		ef_error_set("%s: %s: unknown SOPS value type '%.*s'", c->name, aad,
		             (int)(yl > 16 ? 16 : yl), ty);
		return EF_EINVALID;
	}
	if (dl > MAX_VALUE * 2) {
		ef_error_set("%s: %s: value larger than %u bytes", c->name, aad, MAX_VALUE);
		return EF_ETOOBIG;
	}
	mbedtls_gcm_init(&gcm);
	/* pt: plain malloc, wiped below. The plaintext is copied into `out`
	 * (a heap buffer) anyway; sodium_malloc's guard pages cost about ten
	 * system calls per value, 90 % of a 100-value document's time. */
	if (!(ct = malloc(dl + 1)) || !(pt = malloc(dl + 1))) {
		ef_error_set("out of memory");
		error = EF_ENOMEM;
		goto out;
	}
	if (sodium_base642bin(ct, dl + 1, data, dl, NULL, &ctn, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    sodium_base642bin(ivb, sizeof(ivb), iv, il, NULL, &ivn, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    sodium_base642bin(tagb, sizeof(tagb), tag, tl, NULL, &tagn, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    ivn == 0 || tagn != sizeof(tagb) || (c->inspect && ivn != 32)) {
		ef_error_set("%s: %s: bad base64 in the SOPS value; re-encrypt the file with sops",
		             c->name, aad);
		goto out;
	}
	if (c->inspect) { /* well-formed; nothing decrypted */
		error = 0;
		goto out;
	}
	if (mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, c->key, DATA_KEY_LEN * 8) != 0) {
		ef_error_set("%s: AES-256-GCM is not available", c->name);
		error = EF_ERROR;
		goto out;
	}
	rc = mbedtls_gcm_auth_decrypt(&gcm, ctn, ivb, ivn, (const unsigned char *)aad, strlen(aad),
	                              tagb, tagn, ct, pt);
	if (rc != 0) {
		ef_error_set("%s: %s: the value fails authentication (tampered, moved to another "
		             "key, or encrypted with another data key)",
		             c->name, aad);
		error = EF_EREJECTED;
		goto out;
	}
	n = ctn;
	if (memchr(pt, '\0', n) && *type != T_BYTES) {
		ef_error_set("%s: %s: the value contains a NUL byte", c->name, aad);
		goto out;
	}
	out->len = 0;
	if ((error = ef_buf_put(out, pt, n)) < 0)
		goto out;
	error = 0;
out:
	if (pt)
		sodium_memzero(pt, dl + 1);
	free(pt);
	free(ct);
	mbedtls_gcm_free(&gcm);
	return error;
}

/* ---------------------------------------------------------------------------
 * Which values are encrypted: sops' rules on the key path. */

static bool path_has_suffix(const char *const *parts, size_t n, const char *suffix)
{
	size_t sl = strlen(suffix);

	for (size_t i = 0; i < n; i++) {
		size_t pl = strlen(parts[i]);
		if (pl >= sl && !strcmp(parts[i] + pl - sl, suffix))
			return true;
	}
	return false;
}

static bool path_matches(const char *const *parts, size_t n, const regex_t *re)
{
	for (size_t i = 0; i < n; i++)
		if (regexec(re, parts[i], 0, NULL, 0) == 0)
			return true;
	return false;
}

static bool encrypted_at(const sops_ctx *c, const char *const *parts, size_t n)
{
	bool enc = true;

	if (c->unencrypted_suffix && path_has_suffix(parts, n, c->unencrypted_suffix))
		enc = false;
	if (c->encrypted_suffix)
		enc = path_has_suffix(parts, n, c->encrypted_suffix);
	if (c->has_unencrypted_re && path_matches(parts, n, &c->unencrypted_re))
		enc = false;
	if (c->has_encrypted_re)
		enc = path_matches(parts, n, &c->encrypted_re);
	return enc;
}

/* ---------------------------------------------------------------------------
 * The MAC: sops' ToBytes() of each value. */

static void mac_bytes(sops_ctx *c, const void *p, size_t n)
{
	crypto_hash_sha512_update(&c->mac, p, n);
}

/* Go's strconv.FormatFloat(f, 'f', -1, 64): the shortest decimal that reads
 * back as the same double, without an exponent. */
static void format_float(char *out, size_t size, double d)
{
	for (int prec = 0; prec <= 17; prec++) {
		snprintf(out, size, "%.*f", prec, d);
		if (strtod(out, NULL) == d)
			return;
	}
	snprintf(out, size, "%.17f", d);
}

static int mac_plain(sops_ctx *c, const cJSON *v)
{
	char tmp[400];

	if (cJSON_IsString(v)) {
		mac_bytes(c, v->valuestring, strlen(v->valuestring));
	} else if (cJSON_IsBool(v)) {
		mac_bytes(c, cJSON_IsTrue(v) ? "True" : "False", cJSON_IsTrue(v) ? 4 : 5);
	} else if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;
		if (d == floor(d) && fabs(d) < 9.2e18)
			snprintf(tmp, sizeof(tmp), "%lld", (long long)d);
		else
			format_float(tmp, sizeof(tmp), d);
		mac_bytes(c, tmp, strlen(tmp));
	} else if (!cJSON_IsNull(v)) {
		ef_error_set("%s: %s: a value sops cannot have written", c->name, c->path);
		return EF_EINVALID;
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * The tree */

static void set_plain(cJSON *v, enc_type type, const char *pt)
{
	if (v->valuestring) {
		sodium_memzero(v->valuestring, strlen(v->valuestring));
		cJSON_free(v->valuestring);
		v->valuestring = NULL;
	}
	if (type == T_BOOL) {
		v->type = !strcmp(pt, "True") || !strcmp(pt, "true") ? cJSON_True : cJSON_False;
	} else if (type == T_INT || type == T_FLOAT) {
		v->type = cJSON_Number;
		v->valuedouble = strtod(pt, NULL);
		v->valueint = v->valuedouble >= 2147483647.0    ? 2147483647
		              : v->valuedouble <= -2147483648.0 ? -2147483647 - 1
		                                                : (int)v->valuedouble;
	} else {
		v->type = cJSON_String;
		v->valuestring = (char *)cJSON_malloc(strlen(pt) + 1);
		if (v->valuestring)
			memcpy(v->valuestring, pt, strlen(pt) + 1);
		else
			v->type = cJSON_NULL;
	}
}

static int walk(sops_ctx *c, cJSON *node, const char **parts, size_t nparts, int depth)
{
	int error;

	if (depth > MAX_DEPTH) {
		ef_error_set("%s: nested deeper than %d levels", c->name, MAX_DEPTH);
		return EF_ETOOBIG;
	}
	if (cJSON_IsObject(node)) {
		for (cJSON *it = node->child; it; it = it->next) {
			if (depth == 0 && it->string && !strcmp(it->string, "sops"))
				continue;
			if (!it->string || nparts >= MAX_DEPTH) {
				ef_error_set("%s: nested deeper than %d levels", c->name,
				             MAX_DEPTH);
				return EF_ETOOBIG;
			}
			parts[nparts] = it->string;
			if ((error = walk(c, it, parts, nparts + 1, depth + 1)) < 0)
				return error;
		}
		return 0;
	}
	if (cJSON_IsArray(node)) {
		for (cJSON *it = node->child; it; it = it->next)
			if ((error = walk(c, it, parts, nparts, depth + 1)) < 0)
				return error;
		return 0;
	}
	/* A leaf: its AAD is the key path. */
	c->path_len = 0;
	c->path[0] = '\0';
	for (size_t i = 0; i < nparts; i++) {
		int n = snprintf(c->path + c->path_len, sizeof(c->path) - c->path_len,
		                 "%s:", parts[i]);
		if (n < 0 || (size_t)n >= sizeof(c->path) - c->path_len) {
			ef_error_set("%s: a key path longer than %d bytes", c->name, MAX_PATH);
			return EF_ETOOBIG;
		}
		c->path_len += (size_t)n;
	}
	if (!encrypted_at(c, parts, nparts)) {
		if (c->inspect)
			c->inspect->plain++;
		if (c->mac_only_encrypted || c->inspect)
			return 0;
		return mac_plain(c, node);
	}
	if (!cJSON_IsString(node) || !is_enc(node->valuestring)) {
		ef_error_set("%s: %s: the value is not encrypted although sops' rules say it must "
		             "be (added or changed in clear after encryption?); edit the file "
		             "with sops",
		             c->name, c->path);
		return EF_EREJECTED;
	}
	{
		ef_buf pt = EF_BUF_INIT(MAX_VALUE);
		enc_type type;
		if ((error = decrypt_value(&pt, &type, c, node->valuestring, c->path)) < 0) {
			ef_buf_dispose_secret(&pt);
			return error;
		}
		if (c->inspect) {
			c->inspect->encrypted++;
			return 0;
		}
		if (type != T_COMMENT)
			mac_bytes(c, pt.ptr ? pt.ptr : "", pt.len);
		set_plain(node, type, pt.ptr ? pt.ptr : "");
		ef_buf_dispose_secret(&pt);
	}
	return 0;
}

void ef_sops_tree_wipe(cJSON *node)
{
	for (cJSON *it = node ? node->child : NULL; it; it = it->next) {
		if (cJSON_IsString(it) && it->valuestring)
			sodium_memzero(it->valuestring, strlen(it->valuestring));
		else if (cJSON_IsNumber(it))
			it->valuedouble = 0, it->valueint = 0;
		ef_sops_tree_wipe(it);
	}
}

/* ---------------------------------------------------------------------------
 * Metadata: the data key, the rules, the MAC */

typedef struct {
	const char *lastmodified;
	const char *mac;
	const char *version;
	const char *age_enc[16];
	size_t nage;
	const char *unencrypted_suffix, *encrypted_suffix, *unencrypted_regex, *encrypted_regex;
	bool mac_only_encrypted;
} sops_meta;

static int open_data_key(sops_ctx *c, const sops_meta *m, const ef_age_identities *ids)
{
	ef_buf key = EF_BUF_INIT(64);
	int error = EF_EREJECTED;

	if (!m->nage) {
		ef_error_set("%s: no age recipient in the SOPS metadata (encrypted for PGP, KMS or "
		             "Vault only); add the device's age recipient with `sops updatekeys`",
		             c->name);
		return EF_EREJECTED;
	}
	for (size_t i = 0; c->inspect && i < m->nage; i++) {
		size_t n = 0;
		if ((error = ef_age_inspect(&n, m->age_enc[i], strlen(m->age_enc[i]))) < 0) {
			ef_error_prefix("%s: the SOPS data key (age entry %zu)", c->name, i);
			return error;
		}
		c->inspect->age_stanzas += n;
	}
	if (c->inspect)
		return 0;
	for (size_t i = 0; i < m->nage; i++) {
		key.len = 0;
		error = ef_age_decrypt(&key, ids, m->age_enc[i], strlen(m->age_enc[i]));
		if (error == 0 && key.len == DATA_KEY_LEN) {
			memcpy(c->key, key.ptr, DATA_KEY_LEN);
			break;
		}
		if (error == 0) {
			ef_error_set("a data key of %zu bytes (expected 32)", key.len);
			error = EF_EINVALID;
		}
	}
	ef_buf_dispose_secret(&key);
	if (error < 0)
		ef_error_prefix("%s: the SOPS data key", c->name);
	return error;
}

static int setup_rules(sops_ctx *c, const sops_meta *m)
{
	c->mac_only_encrypted = m->mac_only_encrypted;
	c->unencrypted_suffix = m->unencrypted_suffix;
	c->encrypted_suffix = m->encrypted_suffix;
	if (m->unencrypted_regex) {
		if (regcomp(&c->unencrypted_re, m->unencrypted_regex, REG_EXTENDED | REG_NOSUB)) {
			ef_error_set(
			        "%s: sops unencrypted_regex is not a regular expression edgeflip "
			        "can read",
			        c->name);
			return EF_EINVALID;
		}
		c->has_unencrypted_re = true;
	}
	if (m->encrypted_regex) {
		if (regcomp(&c->encrypted_re, m->encrypted_regex, REG_EXTENDED | REG_NOSUB)) {
			ef_error_set(
			        "%s: sops encrypted_regex is not a regular expression edgeflip "
			        "can read",
			        c->name);
			return EF_EINVALID;
		}
		c->has_encrypted_re = true;
	}
	return 0;
}

static void ctx_dispose(sops_ctx *c)
{
	if (c->has_unencrypted_re)
		regfree(&c->unencrypted_re);
	if (c->has_encrypted_re)
		regfree(&c->encrypted_re);
	sodium_memzero(c->key, sizeof(c->key));
	sodium_memzero(&c->mac, sizeof(c->mac));
}

static int check_mac(sops_ctx *c, const sops_meta *m)
{
	unsigned char digest[crypto_hash_sha512_BYTES];
	char hex[2 * crypto_hash_sha512_BYTES + 1];
	ef_buf stored = EF_BUF_INIT(1024);
	enc_type type;
	int error;

	crypto_hash_sha512_final(&c->mac, digest);
	for (size_t i = 0; i < sizeof(digest); i++)
		snprintf(hex + 2 * i, 3, "%02X", digest[i]);
	if (!m->mac || !m->lastmodified) {
		ef_error_set("%s: the SOPS metadata has no %s; sops refuses such a file, and so "
		             "does edgeflip",
		             c->name, !m->mac ? "mac" : "lastmodified");
		return EF_EREJECTED;
	}
	if ((error = decrypt_value(&stored, &type, c, m->mac, m->lastmodified)) < 0) {
		ef_buf_dispose(&stored);
		ef_error_prefix("%s: the SOPS MAC", c->name);
		return error == EF_ENOMEM ? error : EF_EREJECTED;
	}
	if (c->inspect) {
		ef_buf_dispose(&stored);
		return 0;
	}
	if (stored.len != strlen(hex) || sodium_memcmp(stored.ptr, hex, stored.len) != 0) {
		ef_error_set("%s: the SOPS MAC does not match the values (a value was added, "
		             "removed, reordered or changed outside sops)",
		             c->name);
		error = EF_EREJECTED;
	}
	ef_buf_dispose(&stored);
	return error;
}

static const char *str_member(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

bool ef_sops_tree_is_encrypted(const cJSON *doc)
{
	const cJSON *s = cJSON_IsObject(doc) ? cJSON_GetObjectItemCaseSensitive(doc, "sops") : NULL;

	return cJSON_IsObject(s) && cJSON_GetObjectItemCaseSensitive(s, "mac") &&
	       cJSON_GetObjectItemCaseSensitive(s, "lastmodified");
}

/* Decrypts `doc` in place, or with `inspect` checks its structure only. */
static int process_tree(cJSON *doc, const ef_age_identities *ids, const char *name,
                        ef_sops_info *inspect)
{
	const cJSON *s, *age, *v;
	sops_ctx c;
	sops_meta m;
	const char *parts[MAX_DEPTH + 1];
	int error;

	memset(&c, 0, sizeof(c));
	memset(&m, 0, sizeof(m));
	c.name = name;
	c.inspect = inspect;
	crypto_hash_sha512_init(&c.mac);
	if (!ef_sops_tree_is_encrypted(doc)) {
		ef_error_set("%s: not a SOPS document (no top-level sops object with mac and "
		             "lastmodified)",
		             name);
		return EF_EINVALID;
	}
	s = cJSON_GetObjectItemCaseSensitive(doc, "sops");
	m.mac = str_member(s, "mac");
	m.lastmodified = str_member(s, "lastmodified");
	m.version = str_member(s, "version");
	m.unencrypted_suffix = str_member(s, "unencrypted_suffix");
	m.encrypted_suffix = str_member(s, "encrypted_suffix");
	m.unencrypted_regex = str_member(s, "unencrypted_regex");
	m.encrypted_regex = str_member(s, "encrypted_regex");
	v = cJSON_GetObjectItemCaseSensitive(s, "mac_only_encrypted");
	m.mac_only_encrypted = cJSON_IsTrue(v);
	age = cJSON_GetObjectItemCaseSensitive(s, "age");
	cJSON_ArrayForEach(v, age)
	{
		const char *enc = str_member(v, "enc"), *rcpt = str_member(v, "recipient");
		if (enc && m.nage < sizeof(m.age_enc) / sizeof(m.age_enc[0]))
			m.age_enc[m.nage++] = enc;
		if (inspect && rcpt && (error = ef_strv_push(&inspect->recipients, rcpt)) < 0)
			goto out;
	}
	if (inspect && m.version && !(inspect->version = strdup(m.version))) {
		error = EF_ENOMEM;
		goto out;
	}
	for (const cJSON *it = doc->child; inspect && it; it = it->next)
		if (it->string && strcmp(it->string, "sops") &&
		    (error = ef_strv_push(&inspect->keys, it->string)) < 0)
			goto out;
	if ((error = setup_rules(&c, &m)) < 0 || (error = open_data_key(&c, &m, ids)) < 0 ||
	    (error = walk(&c, doc, parts, 0, 0)) < 0 || (error = check_mac(&c, &m)) < 0) {
		if (!inspect)
			ef_sops_tree_wipe(doc);
		goto out;
	}
	if (!inspect)
		cJSON_DeleteItemFromObjectCaseSensitive(doc, "sops");
out:
	ctx_dispose(&c);
	return error;
}

int ef_sops_decrypt_tree(cJSON *doc, const ef_age_identities *ids, const char *name)
{
	return process_tree(doc, ids, name, NULL);
}

int ef_sops_inspect_tree(ef_sops_info *out, cJSON *doc, const char *name)
{
	memset(out, 0, sizeof(*out));
	return process_tree(doc, NULL, name, out);
}

void ef_sops_info_dispose(ef_sops_info *info)
{
	ef_strv_free(info->recipients);
	ef_strv_free(info->keys);
	free(info->version);
	memset(info, 0, sizeof(*info));
}

/* ---------------------------------------------------------------------------
 * dotenv: KEY=VALUE lines, metadata flattened into sops_… keys. */

bool ef_sops_dotenv_is_encrypted(const char *text, size_t len)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if ((size_t)(end - p) >= 9 && !memcmp(p, "sops_mac=", 9))
			return true;
		p = nl ? nl + 1 : end;
	}
	return false;
}

/* "\n" sequences in a metadata value (the armored age key) to newlines. */
static char *unescape_nl(const char *s, size_t n)
{
	char *d = malloc(n + 1), *q = d;

	if (!d)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n && s[i + 1] == 'n') {
			*q++ = '\n';
			i++;
		} else {
			*q++ = s[i];
		}
	}
	*q = '\0';
	return d;
}

/* A dotenv document as the tree sops would have written for json: data
 * values at the top, metadata under `sops` (wipe before freeing). */
static int dotenv_tree(cJSON **out, const char *text, size_t len, const char *name)
{
	cJSON *doc = NULL, *sops = NULL, *age = NULL;
	const char *p = text, *end = text + len;
	unsigned line = 0;
	int error = EF_EINVALID;

	*out = NULL;
	if (len > MAX_DOTENV_LEN) {
		ef_error_set("%s: larger than %u bytes", name, MAX_DOTENV_LEN);
		return EF_ETOOBIG;
	}
	if (!(doc = cJSON_CreateObject()) || !(sops = cJSON_AddObjectToObject(doc, "sops")) ||
	    !(age = cJSON_AddArrayToObject(sops, "age"))) {
		ef_error_set("out of memory");
		error = EF_ENOMEM;
		goto out;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *e = nl ? nl : end, *eq;
		char *key = NULL, *val = NULL;
		line++;
		if (e > p && e[-1] == '\r')
			e--;
		if (e == p || *p == '#') {
			p = nl ? nl + 1 : end;
			continue;
		}
		if (!(eq = memchr(p, '=', (size_t)(e - p))) || eq == p) {
			ef_error_set("%s:%u: expected KEY=VALUE", name, line);
			goto out;
		}
		key = strndup(p, (size_t)(eq - p));
		val = unescape_nl(eq + 1, (size_t)(e - eq - 1));
		p = nl ? nl + 1 : end;
		if (!key || !val) {
			free(key);
			free(val);
			ef_error_set("out of memory");
			error = EF_ENOMEM;
			goto out;
		}
		if (!strncmp(key, "sops_age__list_", 15)) {
			/* sops_age__list_N__map_enc / _recipient */
			char *idx_end;
			unsigned long idx = strtoul(key + 15, &idx_end, 10);
			cJSON *ent;
			while (age && (unsigned long)cJSON_GetArraySize(age) <= idx && idx < 16)
				cJSON_AddItemToArray(age, cJSON_CreateObject());
			ent = idx < 16 ? cJSON_GetArrayItem(age, (int)idx) : NULL;
			if (ent && !strcmp(idx_end, "__map_enc"))
				cJSON_AddStringToObject(ent, "enc", val);
			else if (ent && !strcmp(idx_end, "__map_recipient"))
				cJSON_AddStringToObject(ent, "recipient", val);
		} else if (!strncmp(key, "sops_", 5)) {
			if (!strcmp(key + 5, "mac_only_encrypted"))
				cJSON_AddBoolToObject(sops, key + 5, !strcmp(val, "true"));
			else
				cJSON_AddStringToObject(sops, key + 5, val);
		} else if (cJSON_GetObjectItemCaseSensitive(doc, key)) {
			ef_error_set("%s:%u: %s is set twice", name, line, key);
			free(key);
			free(val);
			goto out;
		} else {
			/* Data values go in before the metadata object is walked past. */
			cJSON_AddItemToObject(doc, key, cJSON_CreateString(val));
		}
		free(key);
		sodium_memzero(val, strlen(val));
		free(val);
	}
	*out = doc;
	doc = NULL;
	error = 0;
out:
	cJSON_Delete(doc);
	return error;
}

int ef_sops_inspect_dotenv(ef_sops_info *out, const char *text, size_t len, const char *name)
{
	cJSON *doc = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = dotenv_tree(&doc, text, len, name)) == 0)
		error = process_tree(doc, NULL, name, out);
	cJSON_Delete(doc);
	return error;
}

int ef_sops_decrypt_dotenv(ef_buf *out, const ef_age_identities *ids, const char *text, size_t len,
                           const char *name)
{
	cJSON *doc = NULL;
	int error;

	if ((error = dotenv_tree(&doc, text, len, name)) < 0 ||
	    (error = ef_sops_decrypt_tree(doc, ids, name)) < 0)
		goto out;
	for (cJSON *it = doc->child; it; it = it->next) {
		const char *v = cJSON_IsString(it) ? it->valuestring : "";
		char num[64];
		if (cJSON_IsNumber(it)) {
			format_float(num, sizeof(num), it->valuedouble);
			v = num;
		} else if (cJSON_IsBool(it)) {
			v = cJSON_IsTrue(it) ? "true" : "false";
		}
		if ((error = ef_buf_printf(out, "%s=%s", it->string, v)) < 0 ||
		    (error = ef_buf_put(out, "", 1)) < 0)
			goto out;
	}
	error = 0;
out:
	if (doc)
		ef_sops_tree_wipe(doc);
	cJSON_Delete(doc);
	return error;
}
