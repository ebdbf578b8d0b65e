/* allowed_signers parsing and key lookup. Format: ssh-keygen(1), section
 * ALLOWED SIGNERS; differences from OpenSSH are listed in
 * docs/verification.md. */
#include "allowed_signers.h"

#include "sshsig.h"

#include "edgeflip/buf.h"
#include "edgeflip/date.h"
#include "edgeflip/error.h"

#include <sodium.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- times ---------------------------------------------------------------- */

static int digits(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

int ef_ssh_parse_time(int64_t *out, const char *s, size_t len)
{
	static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h = 0, mi = 0, sec = 0;
	unsigned dim;

	if (len > 0 && (s[len - 1] == 'Z' || s[len - 1] == 'z'))
		len--;
	if (len != 8 && len != 12 && len != 14)
		goto bad;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			goto bad;
	y = digits(s, 4);
	mo = digits(s + 4, 2);
	d = digits(s + 6, 2);
	if (len >= 12) {
		h = digits(s + 8, 2);
		mi = digits(s + 10, 2);
	}
	if (len == 14)
		sec = digits(s + 12, 2);
	if (mo < 1 || mo > 12 || h > 23 || mi > 59 || sec > 59)
		goto bad;
	dim = mdays[mo - 1] + (mo == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
	if (d < 1 || (unsigned)d > dim)
		goto bad;
	*out = ef_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec;
	return 0;
bad:
	ef_error_set("invalid time '%.*s' (want YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, "
	             "optionally followed by Z)",
	             (int)(len > 32 ? 32 : len), s);
	return EF_EINVALID;
}

static const char *fmt_time(char buf[32], int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, 32, "@%lld", (long long)t);
	return buf;
}

/* ---- patterns ------------------------------------------------------------- */

static bool match_pattern(const char *s, const char *p)
{
	for (;;) {
		if (!*p)
			return !*s;
		if (*p == '*') {
			while (*p == '*')
				p++;
			if (!*p)
				return true;
			for (; *s; s++)
				if (match_pattern(s, p))
					return true;
			return false;
		}
		if (!*s || (*p != '?' && *p != *s))
			return false;
		s++;
		p++;
	}
}

bool ef_ssh_match_pattern_list(const char *s, char *const *patterns)
{
	bool matched = false;

	for (size_t i = 0; patterns && patterns[i]; i++) {
		const char *p = patterns[i];
		bool negated = *p == '!';

		if (match_pattern(s, negated ? p + 1 : p)) {
			if (negated)
				return false;
			matched = true;
		}
	}
	return matched;
}

/* ---- parsing -------------------------------------------------------------- */

typedef struct {
	const char *p;
	size_t n;
} span;

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* The next whitespace-separated token; double quotes protect whitespace. */
static bool next_token(span *tok, const char *line, size_t len, size_t *pos)
{
	bool quoted = false;

	while (*pos < len && is_space(line[*pos]))
		(*pos)++;
	if (*pos >= len)
		return false;
	tok->p = line + *pos;
	while (*pos < len && (quoted || !is_space(line[*pos]))) {
		if (line[*pos] == '"')
			quoted = !quoted;
		(*pos)++;
	}
	tok->n = (size_t)(line + *pos - tok->p);
	return true;
}

static bool span_is(span s, const char *want)
{
	return s.n == strlen(want) && strncasecmp(s.p, want, s.n) == 0;
}

static bool looks_like_options(span t)
{
	return memchr(t.p, '=', t.n) || memchr(t.p, ',', t.n) || span_is(t, "cert-authority");
}

static int parse_options(ef_allowed_signer *e, span opts)
{
	size_t i = 0;

	while (i < opts.n) {
		span name, value = {NULL, 0};
		bool quoted = false;
		size_t start = i;
		char tmp[64];

		while (i < opts.n && (quoted || opts.p[i] != ',')) {
			if (opts.p[i] == '"')
				quoted = !quoted;
			i++;
		}
		name.p = opts.p + start;
		name.n = i - start;
		i++; /* the comma */
		if (quoted) {
			ef_error_set("option without a closing quote");
			return EF_EINVALID;
		}
		{
			const char *eq = memchr(name.p, '=', name.n);
			if (eq) {
				value.p = eq + 1;
				value.n = (size_t)(name.p + name.n - value.p);
				name.n = (size_t)(eq - name.p);
				if (value.n >= 2 && value.p[0] == '"' &&
				    value.p[value.n - 1] == '"') {
					value.p++;
					value.n -= 2;
				} else if (memchr(value.p, '"', value.n)) {
					ef_error_set("badly quoted value of option '%.*s'",
					             (int)name.n, name.p);
					return EF_EINVALID;
				}
			}
		}
		if (span_is(name, "cert-authority")) {
			ef_error_set(
			        "cert-authority lines are not supported (edgeflip does not verify "
			        "SSH certificates); list the signing keys themselves");
			return EF_EINVALID;
		}
		if (!value.p) {
			ef_error_set("unknown option '%.*s'", (int)(name.n > 64 ? 64 : name.n),
			             name.p);
			return EF_EINVALID;
		}
		if (span_is(name, "namespaces")) {
			char *list;
			int error;

			if (e->namespaces) {
				ef_error_set("more than one namespaces option");
				return EF_EINVALID;
			}
			if (!(list = strndup(value.p, value.n)))
				return EF_ENOMEM;
			error = ef_strv_split(&e->namespaces, list);
			free(list);
			if (error < 0)
				return error;
			if (!e->namespaces) {
				ef_error_set("empty namespaces option");
				return EF_EINVALID;
			}
		} else if (span_is(name, "valid-after") || span_is(name, "valid-before")) {
			bool after = span_is(name, "valid-after");
			bool *has = after ? &e->has_valid_after : &e->has_valid_before;

			if (*has) {
				ef_error_set("more than one %s option",
				             after ? "valid-after" : "valid-before");
				return EF_EINVALID;
			}
			if (ef_ssh_parse_time(after ? &e->valid_after : &e->valid_before, value.p,
			                      value.n) < 0) {
				ef_error_prefix("%s", after ? "valid-after" : "valid-before");
				return EF_EINVALID;
			}
			*has = true;
		} else {
			snprintf(tmp, sizeof(tmp), "%.*s", (int)(name.n > 40 ? 40 : name.n),
			         name.p);
			ef_error_set("unknown option '%s' (edgeflip knows namespaces, valid-after, "
			             "valid-before)",
			             tmp);
			return EF_EINVALID;
		}
	}
	return 0;
}

static void entry_dispose(ef_allowed_signer *e)
{
	free(e->principals);
	free(e->key);
	ef_strv_free(e->namespaces);
	memset(e, 0, sizeof(*e));
}

static int parse_line(ef_allowed_signer *e, const char *line, size_t len)
{
	span principals, tok, type, b64;
	size_t pos = 0, max;
	char typebuf[64];
	int error;

	if (!next_token(&principals, line, len, &pos))
		return 1; /* blank line */
	if (principals.p[0] == '#')
		return 1;
	if (principals.n >= 2 && principals.p[0] == '"' && principals.p[principals.n - 1] == '"') {
		principals.p++;
		principals.n -= 2;
	}
	if (principals.n == 0 || memchr(principals.p, '"', principals.n)) {
		ef_error_set("invalid principals");
		return EF_EINVALID;
	}
	if (!next_token(&tok, line, len, &pos)) {
		ef_error_set("missing key after the principals");
		return EF_EINVALID;
	}
	if (looks_like_options(tok)) {
		if ((error = parse_options(e, tok)) < 0)
			return error;
		if (!next_token(&tok, line, len, &pos)) {
			ef_error_set("missing key after the options");
			return EF_EINVALID;
		}
	}
	type = tok;
	if (!next_token(&b64, line, len, &pos)) {
		ef_error_set("missing base64 key after the key type '%.*s'",
		             (int)(type.n > 40 ? 40 : type.n), type.p);
		return EF_EINVALID;
	}
	if (type.n >= sizeof(typebuf)) {
		ef_error_set("unsupported SSH key type '%.40s...'", type.p);
		return EF_EINVALID;
	}
	memcpy(typebuf, type.p, type.n);
	typebuf[type.n] = '\0';

	max = b64.n / 4 * 3 + 3;
	if (!(e->key = malloc(max)))
		return EF_ENOMEM;
	if (b64.n % 4 != 0 || sodium_base642bin(e->key, max, b64.p, b64.n, NULL, &e->key_len, NULL,
	                                        sodium_base64_VARIANT_ORIGINAL) != 0) {
		ef_error_set("the key of type %s is not valid base64", typebuf);
		return EF_EINVALID;
	}
	if ((error = ef_sshkey_check(e->key, e->key_len, typebuf)) < 0)
		return EF_EINVALID;
	if (!(e->principals = strndup(principals.p, principals.n)))
		return EF_ENOMEM;
	return 0;
}

int ef_allowed_signers_parse(ef_allowed_signers **out, const char *text, size_t len,
                             const char *name)
{
	ef_allowed_signers *as;
	size_t pos = 0, alloc = 0;
	unsigned lineno = 0;
	const void *nul;
	int error = 0;

	*out = NULL;
	if (len > EF_ALLOWED_SIGNERS_MAX_BYTES) {
		ef_error_set("%s is larger than the limit of %u bytes", name,
		             EF_ALLOWED_SIGNERS_MAX_BYTES);
		return EF_ETOOBIG;
	}
	if ((nul = memchr(text, '\0', len)) != NULL) {
		ef_error_set("%s: NUL byte at offset %zu", name,
		             (size_t)((const char *)nul - text));
		return EF_EINVALID;
	}
	if (!(as = calloc(1, sizeof(*as))) || !(as->name = strdup(name))) {
		free(as);
		ef_error_set("out of memory");
		return EF_ENOMEM;
	}
	while (pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - line) : len - pos;
		ef_allowed_signer e = {0};

		pos += l + (nl ? 1 : 0);
		lineno++;
		error = parse_line(&e, line, l);
		if (error == 1) {
			error = 0;
			continue;
		}
		if (error < 0) {
			entry_dispose(&e);
			if (error == EF_ENOMEM)
				ef_error_set("out of memory");
			ef_error_prefix("%s:%u", name, lineno);
			goto out;
		}
		e.line = lineno;
		if (as->n == alloc) {
			ef_allowed_signer *v;

			alloc = alloc ? alloc * 2 : 8;
			if (!(v = realloc(as->v, alloc * sizeof(*v)))) {
				entry_dispose(&e);
				ef_error_set("out of memory");
				error = EF_ENOMEM;
				goto out;
			}
			as->v = v;
		}
		as->v[as->n++] = e;
	}
out:
	if (error < 0) {
		ef_allowed_signers_free(as);
		return error;
	}
	*out = as;
	return 0;
}

void ef_allowed_signers_free(ef_allowed_signers *as)
{
	if (!as)
		return;
	for (size_t i = 0; i < as->n; i++)
		entry_dispose(&as->v[i]);
	free(as->v);
	free(as->name);
	free(as);
}

/* ---- lookup --------------------------------------------------------------- */

int ef_allowed_signers_match(const ef_allowed_signer **out, const ef_allowed_signers *as,
                             const uint8_t *key, size_t key_len, const char *fingerprint,
                             int64_t commit_time, int64_t now)
{
	char reason[512] = "", t1[32], t2[32];
	const ef_allowed_signer *ns_refused = NULL;

	*out = NULL;
	for (size_t i = 0; as && i < as->n; i++) {
		const ef_allowed_signer *e = &as->v[i];
		char why[512];

		if (e->key_len != key_len || memcmp(e->key, key, key_len) != 0)
			continue;
		if (e->namespaces && !ef_ssh_match_pattern_list("git", e->namespaces)) {
			if (!ns_refused)
				ns_refused = e;
			continue;
		}
		why[0] = '\0';
		if (e->has_valid_after && commit_time < e->valid_after)
			snprintf(why, sizeof(why),
			         "key %s of %s is not valid before %s (committer time %s)",
			         fingerprint, e->principals, fmt_time(t1, e->valid_after),
			         fmt_time(t2, commit_time));
		else if (e->has_valid_before && commit_time > e->valid_before)
			snprintf(why, sizeof(why),
			         "key %s of %s is not valid after %s (committer time %s)",
			         fingerprint, e->principals, fmt_time(t1, e->valid_before),
			         fmt_time(t2, commit_time));
		else if (e->has_valid_before && now > e->valid_before)
			snprintf(why, sizeof(why),
			         "key %s of %s expired at %s by the device clock (now %s); an "
			         "expired key cannot sign new commits, whatever committer time "
			         "they claim",
			         fingerprint, e->principals, fmt_time(t1, e->valid_before),
			         fmt_time(t2, now));
		if (why[0]) {
			if (!reason[0])
				snprintf(reason, sizeof(reason), "%s", why);
			continue;
		}
		*out = e;
		return 0;
	}
	if (reason[0])
		ef_error_set("%s", reason);
	else if (ns_refused)
		ef_error_set("key %s of %s is not allowed to sign git commits (namespaces option "
		             "on line %u of %s)",
		             fingerprint, ns_refused->principals, ns_refused->line, as->name);
	else
		ef_error_set("no trusted key matches the signing key %s", fingerprint);
	return EF_EREJECTED;
}
