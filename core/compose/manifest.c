/* compose.json: a documented subset of the Compose Specification in its JSON
 * form, plus `x-edgeflip` extensions. See docs/manifest.md.
 *
 * Everything outside the subset is refused with the file name and the JSON
 * path of the offending value; nothing is silently dropped except `name`,
 * `version`, `x-*` extensions other than `x-edgeflip`, and the few values
 * docs/manifest.md lists as accepted and unused. */
#include "edgeflip/manifest.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Caps on counts (the caller caps the input size). */
#define MAX_SERVICES       64
#define MAX_ENV            256
#define MAX_LABELS         256
#define MAX_PORTS          64
#define MAX_VOLUMES        64
#define MAX_ARGS           256
#define MAX_LIST           64 /* cap_add, cap_drop, devices */
#define MAX_NAMED_VOLUMES  64
#define MAX_MEMBERS        512 /* any other object */
#define MAX_SERVICE_NAME   63
#define MAX_IMAGE_REF      1024
#define DEFAULT_PROBE_MS   30000
#define DEFAULT_RETRIES    3
#define RESERVED_LABEL_PFX "io.edgeflip."

/* ---------------------------------------------------------------------------
 * Parse context: file name and the JSON path of the value being read. */

typedef struct {
	const char *file;
	char path[256];
	size_t len;
} pctx;

static bool plain_key(const char *k)
{
	if (!*k)
		return false;
	for (; *k; k++) {
		char ch = *k;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

static void path_append(pctx *c, const char *s)
{
	size_t room = sizeof(c->path) - c->len;
	size_t n = strlen(s);

	if (n >= room)
		n = room - 1;
	memcpy(c->path + c->len, s, n);
	c->len += n;
	c->path[c->len] = '\0';
}

static size_t push_key(pctx *c, const char *key)
{
	size_t saved = c->len;

	if (plain_key(key)) {
		path_append(c, ".");
		path_append(c, key);
	} else {
		char quoted[80];
		size_t j = 0;
		for (size_t i = 0; key[i] && j < sizeof(quoted) - 4; i++) {
			unsigned char ch = (unsigned char)key[i];
			quoted[j++] = (ch < 0x20 || ch == 0x7f || ch == '\'' || ch == '\\')
			                      ? '?'
			                      : key[i];
		}
		quoted[j] = '\0';
		path_append(c, "['");
		path_append(c, quoted);
		path_append(c, "']");
	}
	return saved;
}

static size_t push_index(pctx *c, size_t i)
{
	size_t saved = c->len;
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "[%zu]", i);
	path_append(c, tmp);
	return saved;
}

static void pop(pctx *c, size_t saved)
{
	c->len = saved;
	c->path[saved] = '\0';
}

/* Sets "<file>: <path>: <message>" and returns `code`. */
__attribute__((format(printf, 3, 4))) static int fail(pctx *c, int code, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ef_error_set("%s: %s: %s", c->file, c->path, msg);
	return code;
}

/* Like fail(), for the member `key` of the current object. */
__attribute__((format(printf, 3, 4))) static int fail_at(pctx *c, const char *key, const char *fmt,
                                                         ...)
{
	char msg[768];
	size_t saved = push_key(c, key);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ef_error_set("%s: %s: %s", c->file, c->path, msg);
	pop(c, saved);
	return EF_EINVALID;
}

__attribute__((format(printf, 1, 2))) static char *str_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !(s = malloc((size_t)n + 1)))
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

static const char *type_name(const cJSON *it)
{
	if (cJSON_IsString(it))
		return "a string";
	if (cJSON_IsNumber(it))
		return "a number";
	if (cJSON_IsBool(it))
		return "a boolean";
	if (cJSON_IsNull(it))
		return "null";
	if (cJSON_IsArray(it))
		return "an array";
	if (cJSON_IsObject(it))
		return "an object";
	return "an invalid value";
}

static size_t count_members(const cJSON *obj)
{
	size_t n = 0;

	for (const cJSON *m = obj->child; m; m = m->next)
		n++;
	return n;
}

/* Checks the member count and refuses keys that appear twice (cJSON keeps both). */
static int check_members(pctx *c, const cJSON *obj, size_t max, const char *what)
{
	size_t n = count_members(obj);

	if (n > max)
		return fail(c, EF_ETOOBIG, "%zu %s; at most %zu are supported", n, what, max);
	for (const cJSON *m = obj->child; m; m = m->next) {
		for (const cJSON *p = obj->child; p != m; p = p->next) {
			if (strcmp(p->string, m->string) == 0)
				return fail_at(c, m->string, "key '%s' appears twice; keep one",
				               m->string);
		}
	}
	return 0;
}

/* `allowed` is NULL-terminated. `x_ok`: keys starting with "x-" are extensions and skipped. */
static int check_keys(pctx *c, const cJSON *obj, const char *const *allowed, bool x_ok)
{
	int error;

	if (!cJSON_IsObject(obj))
		return fail(c, EF_EINVALID, "expected an object, found %s", type_name(obj));
	if ((error = check_members(c, obj, MAX_MEMBERS, "keys")) < 0)
		return error;
	for (const cJSON *m = obj->child; m; m = m->next) {
		bool known = x_ok && strncmp(m->string, "x-", 2) == 0;
		char list[512] = "";
		size_t used = 0;

		for (size_t i = 0; allowed[i] && !known; i++)
			known = strcmp(allowed[i], m->string) == 0;
		if (known)
			continue;
		for (size_t i = 0; allowed[i]; i++) {
			int n = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
			                 allowed[i]);
			if (n < 0 || (size_t)n >= sizeof(list) - used)
				break;
			used += (size_t)n;
		}
		return fail_at(c, m->string,
		               "unsupported key '%s' (supported: %s%s); remove it or see "
		               "docs/manifest.md",
		               m->string, list, x_ok ? ", x-*" : "");
	}
	return 0;
}

static const cJSON *member(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* ---------------------------------------------------------------------------
 * Scalars. Each reads `item`, whose path is already on the stack. */

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static int get_string(pctx *c, const cJSON *it, char **out)
{
	char *s;

	if (!cJSON_IsString(it) || !it->valuestring)
		return fail(c, EF_EINVALID, "expected a string, found %s", type_name(it));
	if (!(s = strdup(it->valuestring)))
		return fail(c, EF_ENOMEM, "out of memory");
	free(*out);
	*out = s;
	return 0;
}

static int get_nonempty_string(pctx *c, const cJSON *it, char **out)
{
	int error = get_string(c, it, out);

	if (error == 0 && (*out)[0] == '\0')
		return fail(c, EF_EINVALID, "must not be empty");
	return error;
}

static int get_bool(pctx *c, const cJSON *it, bool *out)
{
	if (!cJSON_IsBool(it))
		return fail(c, EF_EINVALID, "expected true or false, found %s", type_name(it));
	*out = cJSON_IsTrue(it);
	return 0;
}

/* A whole JSON number in [min, max]. */
static bool whole_number(const cJSON *it, double min, double max, int64_t *out)
{
	double d;

	if (!cJSON_IsNumber(it))
		return false;
	d = it->valuedouble;
	if (!(d >= min && d <= max) || (double)(int64_t)d != d)
		return false;
	*out = (int64_t)d;
	return true;
}

/* Decimal digits only, no sign, value in [min, max]. */
static bool digits_number(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* A port given as a number or a string of digits. */
static int get_port(pctx *c, const cJSON *it, uint16_t *out)
{
	int64_t n;
	uint64_t u;

	if (whole_number(it, 1, 65535, &n)) {
		*out = (uint16_t)n;
		return 0;
	}
	if (cJSON_IsString(it) && digits_number(it->valuestring, 1, 65535, &u)) {
		*out = (uint16_t)u;
		return 0;
	}
	if (cJSON_IsString(it) && strchr(it->valuestring, '-'))
		return fail(c, EF_EINVALID,
		            "port ranges are not supported ('%s'); list each port on its own",
		            it->valuestring);
	return fail(c, EF_EINVALID, "expected a port number 1-65535");
}

/* Compose durations are Go durations: "1m30s", "10s", "500ms", "1.5h", "0". */
static int parse_go_duration(uint64_t *out_ms, const char *s)
{
	static const struct {
		const char *unit;
		uint64_t ns;
	} units[] = {{"ns", 1ULL},           {"us", 1000ULL},      {"\xc2\xb5s", 1000ULL}, /* µs */
	             {"ms", 1000000ULL},     {"s", 1000000000ULL}, {"m", 60000000000ULL},
	             {"h", 3600000000000ULL}};
	const uint64_t max_ns = (uint64_t)INT64_MAX;
	uint64_t total = 0;

	if (strcmp(s, "0") == 0) {
		*out_ms = 0;
		return 0;
	}
	if (!*s)
		return EF_EINVALID;
	while (*s) {
		uint64_t whole = 0, frac = 0, scale = 1, unit = 0, add;
		bool any = false;
		size_t ulen = 0;

		while (*s >= '0' && *s <= '9') {
			if (whole > (max_ns - 9) / 10)
				return EF_EINVALID;
			whole = whole * 10 + (uint64_t)(*s++ - '0');
			any = true;
		}
		if (*s == '.') {
			s++;
			while (*s >= '0' && *s <= '9') {
				if (scale < 1000000000000000000ULL) {
					frac = frac * 10 + (uint64_t)(*s - '0');
					scale *= 10;
				}
				s++;
				any = true;
			}
		}
		if (!any)
			return EF_EINVALID;
		/* longest unit match first: "ms" before "m" */
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t n = strlen(units[i].unit);
			if (strncmp(s, units[i].unit, n) == 0 && n > ulen) {
				ulen = n;
				unit = units[i].ns;
			}
		}
		if (!ulen)
			return EF_EINVALID;
		s += ulen;
		if (whole > max_ns / unit)
			return EF_EINVALID;
		add = whole * unit;
		/* frac < scale <= 1e18; frac/scale * unit without overflow */
		add += (uint64_t)((double)frac / (double)scale * (double)unit);
		if (add > max_ns - total)
			return EF_EINVALID;
		total += add;
	}
	*out_ms = total / 1000000ULL;
	if (total && !*out_ms) /* below a millisecond: round up, since 0 means the default */
		*out_ms = 1;
	return 0;
}

static int get_duration(pctx *c, const cJSON *it, uint64_t *out_ms)
{
	if (!cJSON_IsString(it) || parse_go_duration(out_ms, it->valuestring) < 0)
		return fail(c, EF_EINVALID,
		            "expected a duration such as \"30s\", \"1m30s\" or \"500ms\"");
	return 0;
}

/* "512m", "1g", "256k", "1.5g", "1024", "64MiB" (as go-units RAMInBytes: binary units). */
static int parse_mem(int64_t *out, const char *s)
{
	static const char units[] = "bkmgtp";
	uint64_t whole = 0, frac = 0, scale = 1, mult = 1;
	const char *p = s, *u;
	double total;

	if (!(*p >= '0' && *p <= '9'))
		return EF_EINVALID;
	while (*p >= '0' && *p <= '9') {
		if (whole > (UINT64_MAX - 9) / 10)
			return EF_EINVALID;
		whole = whole * 10 + (uint64_t)(*p++ - '0');
	}
	if (*p == '.') {
		p++;
		if (!(*p >= '0' && *p <= '9'))
			return EF_EINVALID;
		while (*p >= '0' && *p <= '9') {
			if (scale < 1000000000000ULL) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				scale *= 10;
			}
			p++;
		}
	}
	if (*p == ' ')
		p++;
	if (*p && (u = strchr(units, *p >= 'A' && *p <= 'Z' ? *p + 32 : *p)) && *u) {
		for (const char *k = units; k < u; k++)
			mult *= 1024;
		p++;
		if (mult > 1 && (*p == 'i' || *p == 'I'))
			p++;
		if (mult > 1 && (*p == 'b' || *p == 'B'))
			p++;
	}
	if (*p)
		return EF_EINVALID;
	total = ((double)whole + (double)frac / (double)scale) * (double)mult;
	if (total >= 9.2e18)
		return EF_EINVALID;
	*out = (int64_t)total;
	return 0;
}

/* ---------------------------------------------------------------------------
 * Image references. */

static bool is_lower_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

static bool is_alnum(char ch)
{
	return is_lower_alnum(ch) || (ch >= 'A' && ch <= 'Z');
}

static bool valid_registry(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0)
		return false;
	if (s[0] == '[') { /* [IPv6]:port */
		while (i < n && s[i] != ']')
			i++;
		if (i == n || i < 2)
			return false;
		for (size_t k = 1; k < i; k++)
			if (!(is_alnum(s[k]) || s[k] == ':' || s[k] == '.' || s[k] == '%'))
				return false;
		i++;
	} else {
		while (i < n && s[i] != ':') {
			if (!(is_alnum(s[i]) || s[i] == '.' || s[i] == '-'))
				return false;
			i++;
		}
		if (i == 0 || s[0] == '.' || s[0] == '-' || s[i - 1] == '.' || s[i - 1] == '-')
			return false;
	}
	if (i < n) {
		char port[8];
		uint64_t v;
		if (s[i] != ':' || n - i - 1 == 0 || n - i - 1 >= sizeof(port))
			return false;
		memcpy(port, s + i + 1, n - i - 1);
		port[n - i - 1] = '\0';
		if (!digits_number(port, 1, 65535, &v))
			return false;
	}
	return true;
}

/* Path components: lowercase alphanumerics separated by '.', '_' or '-' runs. */
static bool valid_repo(const char *s, size_t n)
{
	size_t start = 0;

	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '/')
			continue;
		if (i == start || !is_lower_alnum(s[start]) || !is_lower_alnum(s[i - 1]))
			return false;
		for (size_t k = start; k < i; k++)
			if (!(is_lower_alnum(s[k]) || s[k] == '.' || s[k] == '_' || s[k] == '-'))
				return false;
		start = i + 1;
	}
	return true;
}

static bool valid_tag(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128 || !(is_alnum(s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(is_alnum(s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return false;
	return true;
}

static bool valid_digest(const char *s)
{
	static const struct {
		const char *algo;
		size_t hexlen;
	} algos[] = {{"sha256:", 64}, {"sha384:", 96}, {"sha512:", 128}};

	for (size_t i = 0; i < sizeof(algos) / sizeof(algos[0]); i++) {
		size_t n = strlen(algos[i].algo);
		if (strncmp(s, algos[i].algo, n) != 0)
			continue;
		s += n;
		if (strlen(s) != algos[i].hexlen)
			return false;
		for (; *s; s++)
			if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
				return false;
		return true;
	}
	return false;
}

int ef_image_ref_split(const char *ref, char **registry, char **repo, char **tag, char **digest)
{
	char *name = NULL, *r_reg = NULL, *r_repo = NULL, *r_tag = NULL, *r_dig = NULL;
	const char *why = NULL;
	char *at, *slash, *colon;
	int error = EF_EINVALID;

	if (registry)
		*registry = NULL;
	if (repo)
		*repo = NULL;
	if (tag)
		*tag = NULL;
	if (digest)
		*digest = NULL;
	if (!ref || !*ref) {
		ef_error_set("the image reference is empty");
		return EF_EINVALID;
	}
	if (strlen(ref) > MAX_IMAGE_REF) {
		ef_error_set("the image reference is longer than %d characters", MAX_IMAGE_REF);
		return EF_EINVALID;
	}
	if (!(name = strdup(ref)))
		goto oom;
	if ((at = strchr(name, '@'))) {
		*at = '\0';
		if (!valid_digest(at + 1)) {
			why = "the digest must be sha256: and 64 lowercase hex digits";
			goto out;
		}
		if (!(r_dig = strdup(at + 1)))
			goto oom;
	}
	slash = strrchr(name, '/');
	colon = strrchr(name, ':');
	if (colon && (!slash || colon > slash)) {
		*colon = '\0';
		if (!valid_tag(colon + 1)) {
			why = "the tag must be 1-128 letters, digits, '_', '.' or '-'";
			goto out;
		}
		if (!(r_tag = strdup(colon + 1)))
			goto oom;
	}
	slash = strchr(name, '/');
	if (slash) {
		size_t n = (size_t)(slash - name);
		bool domain = memchr(name, '.', n) || memchr(name, ':', n) ||
		              (n == 9 && strncmp(name, "localhost", 9) == 0);
		for (size_t i = 0; i < n && !domain; i++)
			domain = name[i] >= 'A' && name[i] <= 'Z';
		if (domain) {
			if (!valid_registry(name, n)) {
				why = "the registry must be host[:port]";
				goto out;
			}
			r_reg = strndup(name, n);
			r_repo = strdup(slash + 1);
		}
	}
	if (!r_repo) {
		r_reg = strdup("docker.io");
		r_repo = strdup(name);
	}
	if (!r_reg || !r_repo)
		goto oom;
	if (!valid_repo(r_repo, strlen(r_repo))) {
		why = "the repository must be lowercase letters, digits and '/', '.', '_', '-' "
		      "between them";
		goto out;
	}
	error = 0;
	if (registry) {
		*registry = r_reg;
		r_reg = NULL;
	}
	if (repo) {
		*repo = r_repo;
		r_repo = NULL;
	}
	if (tag) {
		*tag = r_tag;
		r_tag = NULL;
	}
	if (digest) {
		*digest = r_dig;
		r_dig = NULL;
	}
	goto out;
oom:
	why = NULL;
	error = EF_ENOMEM;
	ef_error_set("out of memory");
out:
	if (why)
		ef_error_set("'%s' is not a valid image reference: %s", ref, why);
	free(name);
	free(r_reg);
	free(r_repo);
	free(r_tag);
	free(r_dig);
	return error;
}

/* ---------------------------------------------------------------------------
 * Lists and maps. */

static int get_string_list(pctx *c, const cJSON *it, size_t max, char ***out)
{
	char **v = NULL;
	size_t i = 0;
	int error = 0;

	if (!cJSON_IsArray(it))
		return fail(c, EF_EINVALID, "expected an array of strings, found %s",
		            type_name(it));
	if ((size_t)cJSON_GetArraySize(it) > max)
		return fail(c, EF_ETOOBIG, "%d entries; at most %zu are supported",
		            cJSON_GetArraySize(it), max);
	for (const cJSON *e = it->child; e; e = e->next, i++) {
		size_t saved = push_index(c, i);
		if (!cJSON_IsString(e))
			error = fail(c, EF_EINVALID, "expected a string, found %s", type_name(e));
		else if (ef_strv_push(&v, e->valuestring) < 0)
			error = fail(c, EF_ENOMEM, "out of memory");
		pop(c, saved);
		if (error < 0)
			break;
	}
	if (error < 0) {
		ef_strv_free(v);
		return error;
	}
	ef_strv_free(*out);
	*out = v;
	return 0;
}

/* Simple shell-like splitting: whitespace separates words; '...' is literal;
 * "..." allows \" \\ \$ \`; a backslash outside quotes escapes the next byte. */
static int shell_split(pctx *c, const char *s, char ***out)
{
	ef_buf w = EF_BUF_INIT((size_t)64 << 20);
	char **v = NULL;
	bool in_word = false;
	char quote = 0;
	int error = 0;

	for (const char *p = s; *p && error == 0; p++) {
		char ch = *p;
		if (quote == '\'') {
			if (ch == '\'')
				quote = 0;
			else
				error = ef_buf_put(&w, p, 1);
		} else if (quote == '"') {
			if (ch == '"')
				quote = 0;
			else if (ch == '\\' && p[1] && strchr("\"\\$`", p[1]))
				error = ef_buf_put(&w, ++p, 1);
			else
				error = ef_buf_put(&w, p, 1);
		} else if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
			if (in_word) {
				if (ef_strv_len(v) >= MAX_ARGS)
					error = EF_ETOOBIG;
				else
					error = ef_strv_push_owned(&v, ef_buf_detach(&w));
			}
			in_word = false;
		} else {
			in_word = true;
			if (ch == '\'' || ch == '"')
				quote = ch;
			else if (ch == '\\' && p[1])
				error = ef_buf_put(&w, ++p, 1);
			else
				error = ef_buf_put(&w, p, 1);
		}
	}
	if (error == 0 && quote)
		error = fail(c, EF_EINVALID, "unterminated %s quote",
		             quote == '"' ? "double" : "single");
	else if (error == EF_ETOOBIG)
		error = fail(c, EF_ETOOBIG, "more than %d words", MAX_ARGS);
	else if (error < 0)
		error = fail(c, EF_ENOMEM, "out of memory");
	else if (in_word && (error = ef_strv_push_owned(&v, ef_buf_detach(&w))) < 0)
		error = fail(c, EF_ENOMEM, "out of memory");
	else if (!v)
		error = fail(c, EF_EINVALID,
		             "must not be empty; remove the key to use the image's default");
	ef_buf_dispose(&w);
	if (error < 0) {
		ef_strv_free(v);
		return error;
	}
	ef_strv_free(*out);
	*out = v;
	return 0;
}

/* command / entrypoint: null (not set), a string (split like a shell), or an array. */
static int get_argv(pctx *c, const cJSON *it, char ***out)
{
	int error;

	if (cJSON_IsNull(it))
		return 0;
	if (cJSON_IsString(it))
		return shell_split(c, it->valuestring, out);
	if (!cJSON_IsArray(it))
		return fail(c, EF_EINVALID, "expected an array of strings or a string, found %s",
		            type_name(it));
	if ((error = get_string_list(c, it, MAX_ARGS, out)) < 0)
		return error;
	if (!*out)
		return fail(c, EF_EINVALID,
		            "must not be empty; remove the key to use the image's default");
	return 0;
}

static size_t key_len(const char *kv)
{
	return strcspn(kv, "=");
}

static int cmp_kv(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	size_t nx = key_len(x), ny = key_len(y);
	int r = memcmp(x, y, nx < ny ? nx : ny);

	if (r)
		return r;
	return nx < ny ? -1 : nx > ny;
}

static int scalar_string(const cJSON *v, char *tmp, size_t tmpsize, const char **out)
{
	int64_t n;

	if (cJSON_IsString(v))
		*out = v->valuestring;
	else if (cJSON_IsNull(v))
		*out = "";
	else if (cJSON_IsBool(v))
		*out = cJSON_IsTrue(v) ? "true" : "false";
	else if (whole_number(v, -9007199254740992.0, 9007199254740992.0, &n)) {
		snprintf(tmp, tmpsize, "%lld", (long long)n);
		*out = tmp;
	} else if (cJSON_IsNumber(v)) {
		snprintf(tmp, tmpsize, "%.17g", v->valuedouble);
		*out = tmp;
	} else
		return EF_EINVALID;
	return 0;
}

/* environment and labels: an object {K: V} (V string, number, bool or null) or a
 * list ["K=V", "K"]. Stored as sorted "K=V" strings. */
static int get_kv(pctx *c, const cJSON *it, size_t max, bool labels, char ***out)
{
	const char *what = labels ? "labels" : "variables";
	char **v = NULL;
	size_t i = 0, n;
	int error = 0;

	if (cJSON_IsObject(it)) {
		if ((error = check_members(c, it, max, what)) < 0)
			return error;
	} else if (cJSON_IsArray(it)) {
		if ((size_t)cJSON_GetArraySize(it) > max)
			return fail(c, EF_ETOOBIG, "%d %s; at most %zu are supported",
			            cJSON_GetArraySize(it), what, max);
	} else {
		return fail(c, EF_EINVALID,
		            "expected an object or an array of \"KEY=VALUE\", "
		            "found %s",
		            type_name(it));
	}
	for (const cJSON *e = it->child; e; e = e->next, i++) {
		char tmp[64], *kv = NULL;
		const char *val = NULL;
		size_t saved;

		if (cJSON_IsObject(it)) {
			saved = push_key(c, e->string);
			if (scalar_string(e, tmp, sizeof(tmp), &val) < 0)
				error = fail(c, EF_EINVALID,
				             "expected a string, number, boolean or null, found %s",
				             type_name(e));
			else if (!e->string[0] || strchr(e->string, '='))
				error = fail(c, EF_EINVALID,
				             "the name must be non-empty and must not contain '='");
			else if (!(kv = str_printf("%s=%s", e->string, val)))
				error = fail(c, EF_ENOMEM, "out of memory");
		} else {
			saved = push_index(c, i);
			if (!cJSON_IsString(e))
				error = fail(c, EF_EINVALID,
				             "expected a \"KEY=VALUE\" string, found %s",
				             type_name(e));
			else if (e->valuestring[0] == '=' || e->valuestring[0] == '\0')
				error = fail(c, EF_EINVALID, "'%s' has no name before '='",
				             e->valuestring);
			else if (!(kv = str_printf("%s%s", e->valuestring,
			                           strchr(e->valuestring, '=') ? "" : "=")))
				error = fail(c, EF_ENOMEM, "out of memory");
		}
		if (error == 0 && labels &&
		    strncmp(kv, RESERVED_LABEL_PFX, strlen(RESERVED_LABEL_PFX)) == 0)
			error = fail(c, EF_EINVALID,
			             "labels starting with '" RESERVED_LABEL_PFX
			             "' are reserved for edgeflip's own bookkeeping; rename it");
		if (error == 0 && has_ctl(kv) && labels)
			error = fail(c, EF_EINVALID,
			             "control characters are not allowed in labels");
		pop(c, saved);
		if (error == 0 && (error = ef_strv_push_owned(&v, kv)) < 0)
			error = fail(c, EF_ENOMEM, "out of memory");
		else if (error < 0)
			free(kv);
		if (error < 0)
			goto out;
	}
	n = ef_strv_len(v);
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_kv);
	for (i = 1; i < n; i++) {
		if (cmp_kv(&v[i - 1], &v[i]) == 0) {
			error = fail(c, EF_EINVALID, "'%.*s' is set twice; keep one",
			             (int)key_len(v[i]), v[i]);
			goto out;
		}
	}
	ef_strv_free(*out);
	*out = v;
	v = NULL;
out:
	ef_strv_free(v);
	return error;
}

/* ---------------------------------------------------------------------------
 * Ports. */

static int check_host_ip(pctx *c, const char *ip)
{
	unsigned char addr[16];

	if (inet_pton(AF_INET, ip, addr) == 1 || inet_pton(AF_INET6, ip, addr) == 1)
		return 0;
	return fail(c, EF_EINVALID, "'%s' is not an IPv4 or IPv6 address", ip);
}

static int set_protocol(pctx *c, ef_port *p, const char *proto)
{
	if (strcmp(proto, "tcp") && strcmp(proto, "udp"))
		return fail(c, EF_EINVALID, "protocol '%s' is not supported (use tcp or udp)",
		            proto);
	snprintf(p->protocol, sizeof(p->protocol), "%s", proto);
	return 0;
}

static int short_port_number(pctx *c, const char *s, const char *spec, uint16_t *out)
{
	uint64_t v;

	if (strchr(s, '-'))
		return fail(c, EF_EINVALID,
		            "port ranges are not supported ('%s'); list each port on its own",
		            spec);
	if (!digits_number(s, 1, 65535, &v))
		return fail(c, EF_EINVALID,
		            "'%s' is not a port mapping (use \"80\", \"8080:80\" or "
		            "\"127.0.0.1:8080:80/udp\"; ports 1-65535)",
		            spec);
	*out = (uint16_t)v;
	return 0;
}

/* "80", "8080:80", "127.0.0.1:8080:80/udp", "[::1]:8080:80". */
static int parse_short_port(pctx *c, const char *spec, ef_port *p)
{
	char *s = strdup(spec), *slash, *rest, *parts[3] = {NULL, NULL, NULL};
	size_t np = 0;
	int error;

	if (!s)
		return fail(c, EF_ENOMEM, "out of memory");
	snprintf(p->protocol, sizeof(p->protocol), "tcp");
	if ((slash = strrchr(s, '/'))) {
		*slash = '\0';
		if ((error = set_protocol(c, p, slash + 1)) < 0)
			goto out;
	}
	rest = s;
	if (rest[0] == '[') {
		char *close = strchr(rest, ']');
		if (!close || close[1] != ':') {
			error = fail(c, EF_EINVALID, "'%s': expected [IPv6]:host:container", spec);
			goto out;
		}
		*close = '\0';
		parts[np++] = rest + 1;
		rest = close + 2;
	}
	for (;;) {
		char *colon = strchr(rest, ':');
		if (np == 3) {
			error = fail(c, EF_EINVALID,
			             "'%s' is not a port mapping (use \"80\", \"8080:80\" or "
			             "\"127.0.0.1:8080:80/udp\")",
			             spec);
			goto out;
		}
		parts[np++] = rest;
		if (!colon)
			break;
		*colon = '\0';
		rest = colon + 1;
	}
	if (s[0] == '[' && np != 3) {
		error = fail(c, EF_EINVALID, "'%s': expected [IPv6]:host:container", spec);
		goto out;
	}
	if ((error = short_port_number(c, parts[np - 1], spec, &p->container_port)) < 0)
		goto out;
	if (np >= 2) {
		if (parts[np - 2][0] == '\0') {
			error = fail(c, EF_EINVALID,
			             "'%s' has no host port; edgeflip publishes fixed host ports "
			             "only",
			             spec);
			goto out;
		}
		if ((error = short_port_number(c, parts[np - 2], spec, &p->host_port)) < 0)
			goto out;
	}
	if (np == 3) {
		if ((error = check_host_ip(c, parts[0])) < 0)
			goto out;
		if (!(p->host_ip = strdup(parts[0]))) {
			error = fail(c, EF_ENOMEM, "out of memory");
			goto out;
		}
	}
	error = 0;
out:
	free(s);
	return error;
}

static int parse_long_port(pctx *c, const cJSON *it, ef_port *p)
{
	static const char *const keys[] = {"target",   "published", "host_ip",
	                                   "protocol", "mode",      NULL};
	const cJSON *v;
	size_t saved;
	int error;

	if ((error = check_keys(c, it, keys, false)) < 0)
		return error;
	snprintf(p->protocol, sizeof(p->protocol), "tcp");
	if (!(v = member(it, "target")))
		return fail_at(c, "target", "missing; give the container port");
	saved = push_key(c, "target");
	error = get_port(c, v, &p->container_port);
	pop(c, saved);
	if (error < 0)
		return error;
	v = member(it, "published");
	if (v && !cJSON_IsNull(v) && !(cJSON_IsString(v) && v->valuestring[0] == '\0')) {
		saved = push_key(c, "published");
		error = get_port(c, v, &p->host_port);
		pop(c, saved);
		if (error < 0)
			return error;
	}
	if ((v = member(it, "host_ip")) && !cJSON_IsNull(v)) {
		saved = push_key(c, "host_ip");
		if ((error = get_string(c, v, &p->host_ip)) == 0 && p->host_ip[0] == '\0') {
			free(p->host_ip);
			p->host_ip = NULL;
		} else if (error == 0) {
			error = check_host_ip(c, p->host_ip);
		}
		pop(c, saved);
		if (error < 0)
			return error;
	}
	if ((v = member(it, "protocol"))) {
		saved = push_key(c, "protocol");
		if (!cJSON_IsString(v))
			error = fail(c, EF_EINVALID, "expected \"tcp\" or \"udp\"");
		else
			error = set_protocol(c, p, v->valuestring);
		pop(c, saved);
		if (error < 0)
			return error;
	}
	if ((v = member(it, "mode")) &&
	    !(cJSON_IsString(v) &&
	      (!strcmp(v->valuestring, "ingress") || !strcmp(v->valuestring, "host"))))
		return fail_at(c, "mode", "expected \"ingress\" or \"host\"");
	if (p->host_ip && !p->host_port)
		return fail(c, EF_EINVALID,
		            "host_ip is set but published is not; give the host "
		            "port");
	return 0;
}

static int get_ports(pctx *c, const cJSON *it, ef_service *s)
{
	size_t i = 0, n;
	int error = 0;

	if (!cJSON_IsArray(it))
		return fail(c, EF_EINVALID, "expected an array, found %s", type_name(it));
	n = (size_t)cJSON_GetArraySize(it);
	if (n > MAX_PORTS)
		return fail(c, EF_ETOOBIG, "%zu ports; at most %d are supported", n, MAX_PORTS);
	if (n == 0)
		return 0;
	if (!(s->ports = calloc(n, sizeof(*s->ports))))
		return fail(c, EF_ENOMEM, "out of memory");
	for (const cJSON *e = it->child; e; e = e->next, i++) {
		size_t saved = push_index(c, i);
		ef_port *p = &s->ports[i];

		s->nports = i + 1;
		if (cJSON_IsString(e))
			error = parse_short_port(c, e->valuestring, p);
		else if (cJSON_IsNumber(e))
			error = get_port(c, e, &p->container_port);
		else if (cJSON_IsObject(e))
			error = parse_long_port(c, e, p);
		else
			error = fail(c, EF_EINVALID,
			             "expected a \"HOST:CONTAINER\" string or an object {target, "
			             "published, ...}, found %s",
			             type_name(e));
		if (error == 0 && !p->protocol[0])
			snprintf(p->protocol, sizeof(p->protocol), "tcp");
		pop(c, saved);
		if (error < 0)
			return error;
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * Volumes. */

typedef struct {
	const char *key;  /* name used in services */
	const char *name; /* engine volume name */
} named_volume;

typedef struct {
	named_volume v[MAX_NAMED_VOLUMES];
	size_t n;
} volume_decls;

static int check_abs_path(pctx *c, const char *path, const char *what)
{
	if (path[0] != '/')
		return fail(c, EF_EINVALID, "%s '%s' must be an absolute path", what, path);
	if (has_ctl(path))
		return fail(c, EF_EINVALID, "%s contains control characters", what);
	return 0;
}

static int resolve_volume(pctx *c, const volume_decls *decls, ef_mount *m)
{
	for (size_t i = 0; i < decls->n; i++) {
		if (strcmp(decls->v[i].key, m->source) == 0) {
			char *name = strdup(decls->v[i].name);
			if (!name)
				return fail(c, EF_ENOMEM, "out of memory");
			free(m->source);
			m->source = name;
			return 0;
		}
	}
	return fail(c, EF_EINVALID, "volume '%s' is not declared; add it under $.volumes",
	            m->source);
}

static int parse_short_volume(pctx *c, const char *spec, const volume_decls *decls, ef_mount *m)
{
	const char *c1 = strchr(spec, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

	if (!c1)
		return fail(c, EF_EINVALID,
		            "'%s': anonymous volumes are not supported (blue and green instances "
		            "would not share them); use \"name:%s\" or \"/host/path:%s\"",
		            spec, spec, spec);
	if (c2) {
		if (strcmp(c2 + 1, "ro") == 0)
			m->read_only = true;
		else if (strcmp(c2 + 1, "rw") != 0)
			return fail(c, EF_EINVALID,
			            "'%s': mode '%s' is not supported (use ro or rw)", spec,
			            c2 + 1);
	}
	if (c1 == spec)
		return fail(c, EF_EINVALID, "'%s' has no source before ':'", spec);
	m->source = strndup(spec, (size_t)(c1 - spec));
	m->target = c2 ? strndup(c1 + 1, (size_t)(c2 - c1 - 1)) : strdup(c1 + 1);
	if (!m->source || !m->target)
		return fail(c, EF_ENOMEM, "out of memory");
	if (m->target[0] != '/')
		return fail(c, EF_EINVALID, "'%s': the target '%s' must be an absolute path", spec,
		            m->target);
	if (m->source[0] == '/') {
		m->type = EF_MOUNT_BIND;
		return check_abs_path(c, m->source, "the source");
	}
	if (m->source[0] == '.' || m->source[0] == '~')
		return fail(c, EF_EINVALID,
		            "'%s': relative bind sources are not supported; use an absolute path",
		            spec);
	m->type = EF_MOUNT_VOLUME;
	return resolve_volume(c, decls, m);
}

static int parse_long_volume(pctx *c, const cJSON *it, const volume_decls *decls, ef_mount *m)
{
	static const char *const keys[] = {"type", "source", "target", "read_only",
	                                   "bind", "volume", NULL};
	static const char *const bind_keys[] = {"create_host_path", NULL};
	static const char *const none[] = {NULL};
	const cJSON *v;
	size_t saved;
	int error;

	if ((error = check_keys(c, it, keys, false)) < 0)
		return error;
	v = member(it, "type");
	if (!v)
		return fail_at(c, "type", "missing; use bind, volume or tmpfs");
	if (cJSON_IsString(v) && strcmp(v->valuestring, "bind") == 0)
		m->type = EF_MOUNT_BIND;
	else if (cJSON_IsString(v) && strcmp(v->valuestring, "volume") == 0)
		m->type = EF_MOUNT_VOLUME;
	else if (cJSON_IsString(v) && strcmp(v->valuestring, "tmpfs") == 0)
		m->type = EF_MOUNT_TMPFS;
	else
		return fail_at(c, "type", "expected \"bind\", \"volume\" or \"tmpfs\"");
	if (!(v = member(it, "target")))
		return fail_at(c, "target", "missing; give the path inside the container");
	saved = push_key(c, "target");
	if ((error = get_nonempty_string(c, v, &m->target)) == 0)
		error = check_abs_path(c, m->target, "the target");
	pop(c, saved);
	if (error < 0)
		return error;
	if ((v = member(it, "read_only"))) {
		saved = push_key(c, "read_only");
		error = get_bool(c, v, &m->read_only);
		pop(c, saved);
		if (error < 0)
			return error;
	}
	if ((v = member(it, "bind"))) {
		saved = push_key(c, "bind");
		if (m->type != EF_MOUNT_BIND)
			error = fail(c, EF_EINVALID, "only allowed with type bind");
		else if ((error = check_keys(c, v, bind_keys, false)) == 0 &&
		         (v = member(v, "create_host_path")) && !cJSON_IsBool(v))
			error = fail_at(c, "create_host_path", "expected true or false");
		pop(c, saved);
		if (error < 0)
			return error;
	}
	if ((v = member(it, "volume"))) {
		saved = push_key(c, "volume");
		if (m->type != EF_MOUNT_VOLUME)
			error = fail(c, EF_EINVALID, "only allowed with type volume");
		else
			error = check_keys(c, v, none, false);
		pop(c, saved);
		if (error < 0)
			return error;
	}
	v = member(it, "source");
	if (m->type == EF_MOUNT_TMPFS) {
		if (v)
			return fail_at(c, "source", "a tmpfs mount has no source; remove it");
		return 0;
	}
	if (!v || (cJSON_IsString(v) && v->valuestring[0] == '\0')) {
		if (m->type == EF_MOUNT_VOLUME)
			return fail_at(c, "source",
			               "missing: anonymous volumes are not supported (blue and "
			               "green instances would not share them); name the volume");
		return fail_at(c, "source", "missing; give the host path");
	}
	saved = push_key(c, "source");
	error = get_string(c, v, &m->source);
	if (error == 0 && m->type == EF_MOUNT_BIND)
		error = check_abs_path(c, m->source, "the bind source");
	else if (error == 0)
		error = resolve_volume(c, decls, m);
	pop(c, saved);
	return error;
}

static int get_volumes(pctx *c, const cJSON *it, const volume_decls *decls, ef_service *s)
{
	size_t i = 0, n;
	int error = 0;

	if (!cJSON_IsArray(it))
		return fail(c, EF_EINVALID, "expected an array, found %s", type_name(it));
	n = (size_t)cJSON_GetArraySize(it);
	if (n > MAX_VOLUMES)
		return fail(c, EF_ETOOBIG, "%zu volumes; at most %d are supported", n, MAX_VOLUMES);
	if (n == 0)
		return 0;
	if (!(s->volumes = calloc(n, sizeof(*s->volumes))))
		return fail(c, EF_ENOMEM, "out of memory");
	for (const cJSON *e = it->child; e; e = e->next, i++) {
		size_t saved = push_index(c, i);

		s->nvolumes = i + 1;
		if (cJSON_IsString(e))
			error = parse_short_volume(c, e->valuestring, decls, &s->volumes[i]);
		else if (cJSON_IsObject(e))
			error = parse_long_volume(c, e, decls, &s->volumes[i]);
		else
			error = fail(c, EF_EINVALID,
			             "expected a \"SOURCE:TARGET[:ro]\" string or an object "
			             "{type, source, target, read_only}, found %s",
			             type_name(e));
		pop(c, saved);
		if (error < 0)
			return error;
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * Services. */

typedef struct {
	ef_service *s;
	const volume_decls *decls;
	bool have_x_health;
	ef_probe_kind x_kind;
	char *x_path;
	int x_status;
	uint16_t x_port;
} svc_ctx;

typedef int (*field_fn)(pctx *c, svc_ctx *sc, const cJSON *it);

static int f_image(pctx *c, svc_ctx *sc, const cJSON *it)
{
	int error = get_nonempty_string(c, it, &sc->s->image);

	if (error == 0 && (error = ef_image_ref_split(sc->s->image, NULL, NULL, NULL, NULL)) < 0)
		return fail(c, error, "%s", ef_error_last());
	return error;
}

static int f_command(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return get_argv(c, it, &sc->s->command);
}

static int f_entrypoint(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return get_argv(c, it, &sc->s->entrypoint);
}

static int f_environment(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return get_kv(c, it, MAX_ENV, false, &sc->s->environment);
}

static int f_labels(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return get_kv(c, it, MAX_LABELS, true, &sc->s->labels);
}

static int f_ports(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return get_ports(c, it, sc->s);
}

static int f_volumes(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return get_volumes(c, it, sc->decls, sc->s);
}

static int f_restart(pctx *c, svc_ctx *sc, const cJSON *it)
{
	const char *r = cJSON_IsString(it) ? it->valuestring : "";
	uint64_t n;

	if (!strcmp(r, "no") || !strcmp(r, "always") || !strcmp(r, "unless-stopped") ||
	    !strcmp(r, "on-failure") ||
	    (!strncmp(r, "on-failure:", 11) && digits_number(r + 11, 0, 1000000, &n)))
		return get_string(c, it, &sc->s->restart);
	return fail(c, EF_EINVALID,
	            "expected \"no\", \"always\", \"on-failure\", \"on-failure:N\" or "
	            "\"unless-stopped\"");
}

static int f_user(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return get_nonempty_string(c, it, &sc->s->user);
}

static int f_working_dir(pctx *c, svc_ctx *sc, const cJSON *it)
{
	int error = get_nonempty_string(c, it, &sc->s->working_dir);

	if (error == 0)
		error = check_abs_path(c, sc->s->working_dir, "working_dir");
	return error;
}

static int f_mem_limit(pctx *c, svc_ctx *sc, const cJSON *it)
{
	int64_t n;

	if (whole_number(it, 0, 9.2e18, &n)) {
		sc->s->mem_limit = n;
		return 0;
	}
	if (cJSON_IsString(it) && parse_mem(&sc->s->mem_limit, it->valuestring) == 0)
		return 0;
	return fail(c, EF_EINVALID,
	            "expected a number of bytes or a size such as \"512m\", \"1g\" or \"256k\"");
}

static int f_privileged(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return get_bool(c, it, &sc->s->privileged);
}

static int f_read_only(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return get_bool(c, it, &sc->s->read_only);
}

static int get_enum(pctx *c, const cJSON *it, const char *const *allowed, const char *hint,
                    char **out)
{
	for (size_t i = 0; allowed[i]; i++)
		if (cJSON_IsString(it) && strcmp(it->valuestring, allowed[i]) == 0)
			return get_string(c, it, out);
	return fail(c, EF_EINVALID, "expected %s", hint);
}

static int f_network_mode(pctx *c, svc_ctx *sc, const cJSON *it)
{
	static const char *const modes[] = {"bridge", "host", "none", NULL};

	return get_enum(c, it, modes, "\"bridge\", \"host\" or \"none\"", &sc->s->network_mode);
}

static int f_pid(pctx *c, svc_ctx *sc, const cJSON *it)
{
	static const char *const modes[] = {"host", NULL};

	return get_enum(c, it, modes, "\"host\" (or leave it out)", &sc->s->pid);
}

static int f_ipc(pctx *c, svc_ctx *sc, const cJSON *it)
{
	static const char *const modes[] = {"host", "private", "shareable", NULL};

	return get_enum(c, it, modes, "\"host\", \"private\" or \"shareable\"", &sc->s->ipc);
}

static int get_caps(pctx *c, const cJSON *it, char ***out)
{
	int error = get_string_list(c, it, MAX_LIST, out);

	for (size_t i = 0; error == 0 && *out && (*out)[i]; i++) {
		const char *cap = (*out)[i];
		bool ok = cap[0] != '\0';
		for (const char *p = cap; *p && ok; p++)
			ok = is_alnum(*p) || *p == '_';
		if (!ok) {
			size_t saved = push_index(c, i);
			error = fail(c, EF_EINVALID,
			             "'%s' is not a capability name (such as NET_ADMIN)", cap);
			pop(c, saved);
		}
	}
	return error;
}

static int f_cap_add(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return get_caps(c, it, &sc->s->cap_add);
}

static int f_cap_drop(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return get_caps(c, it, &sc->s->cap_drop);
}

static int device_entry(pctx *c, const cJSON *e, char **out)
{
	static const char *const keys[] = {"source", "target", "permissions", NULL};
	const char *src, *dst = NULL, *perm = NULL;
	const cJSON *v;
	int error;

	if (cJSON_IsString(e)) {
		char *copy = strdup(e->valuestring), *tok, *save = NULL;
		size_t k = 0;
		if (!copy)
			return fail(c, EF_ENOMEM, "out of memory");
		error = e->valuestring[0] == '/' && !has_ctl(e->valuestring) ? 0 : EF_EINVALID;
		for (tok = strtok_r(copy, ":", &save); tok && error == 0;
		     tok = strtok_r(NULL, ":", &save), k++) {
			if (k == 2)
				error = strspn(tok, "rwm") == strlen(tok) ? 0 : EF_EINVALID;
			else if (k > 2 || tok[0] != '/')
				error = EF_EINVALID;
		}
		free(copy);
		if (error < 0)
			return fail(c, EF_EINVALID,
			            "'%s' is not a device mapping (use \"/dev/x\", "
			            "\"/dev/x:/dev/y\" or \"/dev/x:/dev/y:rwm\")",
			            e->valuestring);
		*out = strdup(e->valuestring);
		return *out ? 0 : fail(c, EF_ENOMEM, "out of memory");
	}
	if (!cJSON_IsObject(e))
		return fail(c, EF_EINVALID, "expected a \"/dev/x[:/dev/y[:rwm]]\" string, found %s",
		            type_name(e));
	if ((error = check_keys(c, e, keys, false)) < 0)
		return error;
	v = member(e, "source");
	if (!cJSON_IsString(v) || v->valuestring[0] != '/')
		return fail_at(c, "source", "expected a device path such as \"/dev/ttyUSB0\"");
	src = v->valuestring;
	if ((v = member(e, "target"))) {
		if (!cJSON_IsString(v) || v->valuestring[0] != '/' || strchr(v->valuestring, ':'))
			return fail_at(c, "target", "expected a device path");
		dst = v->valuestring;
	}
	if ((v = member(e, "permissions"))) {
		if (!cJSON_IsString(v) || !v->valuestring[0] ||
		    strspn(v->valuestring, "rwm") != strlen(v->valuestring))
			return fail_at(c, "permissions", "expected letters from \"rwm\"");
		perm = v->valuestring;
	}
	if (strchr(src, ':') || has_ctl(src) || (dst && has_ctl(dst)))
		return fail_at(c, "source", "expected a device path such as \"/dev/ttyUSB0\"");
	if (!(*out = str_printf("%s:%s%s%s", src, dst ? dst : src, perm ? ":" : "",
	                        perm ? perm : "")))
		return fail(c, EF_ENOMEM, "out of memory");
	return 0;
}

static int f_devices(pctx *c, svc_ctx *sc, const cJSON *it)
{
	size_t i = 0;
	int error = 0;

	if (!cJSON_IsArray(it))
		return fail(c, EF_EINVALID, "expected an array, found %s", type_name(it));
	if ((size_t)cJSON_GetArraySize(it) > MAX_LIST)
		return fail(c, EF_ETOOBIG, "%d devices; at most %d are supported",
		            cJSON_GetArraySize(it), MAX_LIST);
	for (const cJSON *e = it->child; e && error == 0; e = e->next, i++) {
		size_t saved = push_index(c, i);
		char *dev = NULL;
		if ((error = device_entry(c, e, &dev)) == 0 &&
		    ef_strv_push_owned(&sc->s->devices, dev) < 0)
			error = fail(c, EF_ENOMEM, "out of memory");
		pop(c, saved);
	}
	return error;
}

static int f_container_name(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return fail(c, EF_EINVALID,
	            "container_name is refused: edgeflip names containers itself (blue and green "
	            "instances run side by side); remove it");
}

/* `networks` as `docker compose config` writes it: {"default": null} or ["default"]. */
static int f_networks(pctx *c, svc_ctx *sc, const cJSON *it)
{
	size_t i = 0;

	if (cJSON_IsArray(it)) {
		for (const cJSON *e = it->child; e; e = e->next, i++) {
			if (!cJSON_IsString(e) || strcmp(e->valuestring, "default")) {
				size_t saved = push_index(c, i);
				int error = fail(c, EF_EINVALID,
				                 "only the default network is supported; remove "
				                 "other networks");
				pop(c, saved);
				return error;
			}
		}
		return 0;
	}
	if (!cJSON_IsObject(it))
		return fail(c, EF_EINVALID, "expected {\"default\": null}");
	for (const cJSON *e = it->child; e; e = e->next) {
		if (strcmp(e->string, "default"))
			return fail_at(c, e->string,
			               "only the default network is supported; remove '%s'",
			               e->string);
		if (!cJSON_IsNull(e) && !(cJSON_IsObject(e) && !e->child))
			return fail_at(c, e->string,
			               "per-service network settings are not supported; use null");
	}
	return check_members(c, it, 1, "networks");
}

static int get_probe_port(pctx *c, const cJSON *obj, uint16_t *out)
{
	const cJSON *v = member(obj, "port");
	size_t saved;
	int error;

	if (!v)
		return 0;
	saved = push_key(c, "port");
	error = get_port(c, v, out);
	pop(c, saved);
	return error;
}

static int parse_x_health(pctx *c, svc_ctx *sc, const cJSON *it)
{
	static const char *const keys[] = {"http", "tcp", NULL};
	static const char *const http_keys[] = {"path", "status", "port", NULL};
	static const char *const tcp_keys[] = {"port", NULL};
	const cJSON *http, *tcp, *v;
	size_t saved;
	int error;

	if ((error = check_keys(c, it, keys, false)) < 0)
		return error;
	http = member(it, "http");
	tcp = member(it, "tcp");
	if ((http && tcp) || (!http && !tcp))
		return fail(c, EF_EINVALID, "give exactly one probe: http or tcp");
	sc->have_x_health = true;
	if (tcp) {
		sc->x_kind = EF_PROBE_TCP;
		saved = push_key(c, "tcp");
		if ((error = check_keys(c, tcp, tcp_keys, false)) == 0)
			error = get_probe_port(c, tcp, &sc->x_port);
		pop(c, saved);
		return error;
	}
	sc->x_kind = EF_PROBE_HTTP;
	saved = push_key(c, "http");
	if ((error = check_keys(c, http, http_keys, false)) < 0)
		goto out;
	if ((error = get_probe_port(c, http, &sc->x_port)) < 0)
		goto out;
	if ((v = member(http, "status"))) {
		int64_t st;
		if (!whole_number(v, 100, 599, &st)) {
			error = fail_at(c, "status", "expected an HTTP status code 100-599");
			goto out;
		}
		sc->x_status = (int)st;
	}
	if ((v = member(http, "path"))) {
		if (!cJSON_IsString(v) || v->valuestring[0] != '/' ||
		    strpbrk(v->valuestring, " \t\r\n") || has_ctl(v->valuestring)) {
			error = fail_at(c, "path", "expected a URL path starting with '/'");
			goto out;
		}
		if (!(sc->x_path = strdup(v->valuestring)))
			error = fail(c, EF_ENOMEM, "out of memory");
	}
out:
	pop(c, saved);
	return error;
}

static int f_x_edgeflip(pctx *c, svc_ctx *sc, const cJSON *it)
{
	static const char *const keys[] = {"strategy", "health", NULL};
	const cJSON *v;
	size_t saved;
	int error;

	if ((error = check_keys(c, it, keys, false)) < 0)
		return error;
	if ((v = member(it, "strategy"))) {
		const char *st = cJSON_IsString(v) ? v->valuestring : "";
		if (!strcmp(st, "bluegreen"))
			sc->s->strategy = EF_STRATEGY_BLUEGREEN;
		else if (!strcmp(st, "handover"))
			sc->s->strategy = EF_STRATEGY_HANDOVER;
		else if (!strcmp(st, "recreate"))
			sc->s->strategy = EF_STRATEGY_RECREATE;
		else if (!strcmp(st, "auto"))
			sc->s->strategy = EF_STRATEGY_AUTO;
		else
			return fail_at(c, "strategy",
			               "expected \"bluegreen\", \"handover\", \"recreate\" or "
			               "\"auto\"");
	}
	if ((v = member(it, "health"))) {
		saved = push_key(c, "health");
		error = parse_x_health(c, sc, v);
		pop(c, saved);
	}
	return error;
}

static int healthcheck_test(pctx *c, ef_health *h, const cJSON *it)
{
	char **argv = NULL;
	int error;

	if (cJSON_IsString(it)) {
		if (!it->valuestring[0])
			return fail(c, EF_EINVALID, "must not be empty");
		if (ef_strv_push(&argv, "/bin/sh") < 0 || ef_strv_push(&argv, "-c") < 0 ||
		    ef_strv_push(&argv, it->valuestring) < 0) {
			ef_strv_free(argv);
			return fail(c, EF_ENOMEM, "out of memory");
		}
		goto done;
	}
	if ((error = get_string_list(c, it, MAX_ARGS, &argv)) < 0)
		return error;
	if (argv && !strcmp(argv[0], "NONE") && !argv[1]) {
		ef_strv_free(argv);
		h->kind = EF_PROBE_NONE;
		ef_strv_free(h->exec_argv);
		h->exec_argv = NULL;
		return 0;
	}
	if (argv && !strcmp(argv[0], "CMD") && argv[1]) {
		char **rest = ef_strv_dup(argv + 1);
		ef_strv_free(argv);
		if (!rest)
			return fail(c, EF_ENOMEM, "out of memory");
		argv = rest;
		goto done;
	}
	if (argv && !strcmp(argv[0], "CMD-SHELL") && argv[1] && !argv[2]) {
		char *cmd = argv[1];
		argv[1] = NULL;
		ef_strv_free(argv);
		argv = NULL;
		if (ef_strv_push(&argv, "/bin/sh") < 0 || ef_strv_push(&argv, "-c") < 0 ||
		    ef_strv_push_owned(&argv, cmd) < 0) {
			ef_strv_free(argv);
			return fail(c, EF_ENOMEM, "out of memory");
		}
		goto done;
	}
	ef_strv_free(argv);
	return fail(c, EF_EINVALID,
	            "expected [\"CMD\", args...], [\"CMD-SHELL\", \"command\"], [\"NONE\"] or a "
	            "string");
done:
	ef_strv_free(h->exec_argv);
	h->exec_argv = argv;
	h->kind = EF_PROBE_EXEC;
	return 0;
}

static int f_healthcheck(pctx *c, svc_ctx *sc, const cJSON *it)
{
	static const char *const keys[] = {"test",    "interval", "timeout", "start_period",
	                                   "retries", "disable",  NULL};
	static const char *const durations[] = {"interval", "timeout", "start_period"};
	ef_health *h = &sc->s->health;
	uint64_t *slots[] = {&h->interval_ms, &h->timeout_ms, &h->start_period_ms};
	const cJSON *v;
	bool disable = false;
	size_t saved;
	int error;

	if ((error = check_keys(c, it, keys, false)) < 0)
		return error;
	for (size_t i = 0; i < 3; i++) {
		if (!(v = member(it, durations[i])))
			continue;
		saved = push_key(c, durations[i]);
		error = get_duration(c, v, slots[i]);
		pop(c, saved);
		if (error < 0)
			return error;
		if (*slots[i] == 0 && i < 2) /* 0 means the default, as in Docker */
			*slots[i] = DEFAULT_PROBE_MS;
	}
	if ((v = member(it, "retries"))) {
		int64_t n;
		if (!whole_number(v, 0, 1000, &n))
			return fail_at(c, "retries", "expected a whole number 0-1000");
		h->retries = (unsigned)n;
	}
	if ((v = member(it, "disable"))) {
		saved = push_key(c, "disable");
		error = get_bool(c, v, &disable);
		pop(c, saved);
		if (error < 0)
			return error;
	}
	if ((v = member(it, "test"))) {
		saved = push_key(c, "test");
		error = healthcheck_test(c, h, v);
		pop(c, saved);
		if (error < 0)
			return error;
	}
	if (disable) {
		h->kind = EF_PROBE_NONE;
		ef_strv_free(h->exec_argv);
		h->exec_argv = NULL;
	}
	return 0;
}

static const struct {
	const char *key;
	field_fn fn;
	bool listed; /* shown in the "supported" list */
} service_fields[] = {
        {"image", f_image, true},
        {"command", f_command, true},
        {"entrypoint", f_entrypoint, true},
        {"environment", f_environment, true},
        {"ports", f_ports, true},
        {"volumes", f_volumes, true},
        {"restart", f_restart, true},
        {"labels", f_labels, true},
        {"healthcheck", f_healthcheck, true},
        {"user", f_user, true},
        {"working_dir", f_working_dir, true},
        {"mem_limit", f_mem_limit, true},
        {"privileged", f_privileged, true},
        {"network_mode", f_network_mode, true},
        {"networks", f_networks, true},
        {"pid", f_pid, true},
        {"ipc", f_ipc, true},
        {"cap_add", f_cap_add, true},
        {"cap_drop", f_cap_drop, true},
        {"devices", f_devices, true},
        {"read_only", f_read_only, true},
        {"x-edgeflip", f_x_edgeflip, true},
        {"container_name", f_container_name, false},
};

#define NFIELDS (sizeof(service_fields) / sizeof(service_fields[0]))

static int unsupported_service_key(pctx *c, const char *key)
{
	char list[600] = "";
	size_t used = 0;

	for (size_t i = 0; i < NFIELDS; i++) {
		int n;
		if (!service_fields[i].listed)
			continue;
		n = snprintf(list + used, sizeof(list) - used, "%s%s", used ? ", " : "",
		             service_fields[i].key);
		if (n < 0 || (size_t)n >= sizeof(list) - used)
			break;
		used += (size_t)n;
	}
	return fail_at(c, key,
	               "unsupported key '%s' (supported: %s, x-*); remove it or see "
	               "docs/manifest.md",
	               key, list);
}

static bool valid_service_name(const char *n)
{
	size_t len = strlen(n);

	if (len == 0 || len > MAX_SERVICE_NAME || !is_alnum(n[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!(is_alnum(n[i]) || n[i] == '_' || n[i] == '.' || n[i] == '-'))
			return false;
	return true;
}

static int finish_health(pctx *c, svc_ctx *sc)
{
	ef_service *s = sc->s;
	ef_health *h = &s->health;

	if (!sc->have_x_health)
		return 0;
	ef_strv_free(h->exec_argv);
	h->exec_argv = NULL;
	h->kind = sc->x_kind;
	h->port = sc->x_port;
	if (h->kind == EF_PROBE_HTTP) {
		h->http_status = sc->x_status;
		h->http_path = sc->x_path ? sc->x_path : strdup("/");
		sc->x_path = NULL;
		if (!h->http_path)
			return fail(c, EF_ENOMEM, "out of memory");
	}
	if (h->port == 0 && s->nports == 0) {
		size_t saved = push_key(c, "x-edgeflip");
		size_t saved2 = push_key(c, "health");
		int error = fail(c, EF_EINVALID,
		                 "no port to probe: set %s.port or list the service's ports",
		                 h->kind == EF_PROBE_HTTP ? "http" : "tcp");
		pop(c, saved2);
		pop(c, saved);
		return error;
	}
	return 0;
}

static int parse_service(pctx *c, ef_service *s, const char *name, const cJSON *obj,
                         const volume_decls *decls)
{
	svc_ctx sc;
	int error = 0;

	memset(&sc, 0, sizeof(sc));
	sc.s = s;
	sc.decls = decls;
	s->health.interval_ms = DEFAULT_PROBE_MS;
	s->health.timeout_ms = DEFAULT_PROBE_MS;
	s->health.retries = DEFAULT_RETRIES;
	if (!(s->name = strdup(name)))
		return fail(c, EF_ENOMEM, "out of memory");
	if (!valid_service_name(name))
		return fail(c, EF_EINVALID,
		            "'%s' is not a valid service name (1-63 letters, digits, '_', '.', "
		            "'-', starting with a letter or digit)",
		            name);
	if (!cJSON_IsObject(obj))
		return fail(c, EF_EINVALID, "expected an object, found %s", type_name(obj));
	if ((error = check_members(c, obj, MAX_MEMBERS, "keys")) < 0)
		return error;
	for (const cJSON *m = obj->child; m && error == 0; m = m->next) {
		size_t i, saved;

		for (i = 0; i < NFIELDS; i++)
			if (strcmp(service_fields[i].key, m->string) == 0)
				break;
		if (i == NFIELDS) {
			if (strncmp(m->string, "x-", 2) == 0)
				continue;
			error = unsupported_service_key(c, m->string);
			break;
		}
		saved = push_key(c, m->string);
		error = service_fields[i].fn(c, &sc, m);
		pop(c, saved);
	}
	if (error == 0 && !s->image)
		error = fail_at(c, "image", "missing; every service needs an image");
	if (error == 0)
		error = finish_health(c, &sc);
	free(sc.x_path);
	return error;
}

/* ---------------------------------------------------------------------------
 * The spec hash: SHA-256 over a length-prefixed serialization of every parsed
 * field, in a fixed order. See docs/manifest.md. */

static void h_bytes(crypto_hash_sha256_state *st, const char *tag, const char *s)
{
	char hdr[64];
	int n;

	if (!s)
		n = snprintf(hdr, sizeof(hdr), "%s=-\n", tag);
	else
		n = snprintf(hdr, sizeof(hdr), "%s=%zu:", tag, strlen(s));
	crypto_hash_sha256_update(st, (const unsigned char *)hdr, (unsigned long long)n);
	if (s) {
		crypto_hash_sha256_update(st, (const unsigned char *)s, strlen(s));
		crypto_hash_sha256_update(st, (const unsigned char *)"\n", 1);
	}
}

static void h_u64(crypto_hash_sha256_state *st, const char *tag, uint64_t v)
{
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);
	h_bytes(st, tag, tmp);
}

static void h_strv(crypto_hash_sha256_state *st, const char *tag, char *const *v)
{
	if (!v) {
		h_bytes(st, tag, NULL);
		return;
	}
	h_u64(st, tag, ef_strv_len(v));
	for (size_t i = 0; v[i]; i++)
		h_bytes(st, "-", v[i]);
}

static void spec_hash(ef_service *s)
{
	static const char hex[] = "0123456789abcdef";
	crypto_hash_sha256_state st;
	unsigned char d[crypto_hash_sha256_BYTES];
	const ef_health *h = &s->health;

	crypto_hash_sha256_init(&st);
	h_bytes(&st, "edgeflip-spec", "1");
	h_bytes(&st, "name", s->name);
	h_bytes(&st, "image", s->image);
	h_strv(&st, "command", s->command);
	h_strv(&st, "entrypoint", s->entrypoint);
	h_strv(&st, "environment", s->environment);
	h_u64(&st, "ports", s->nports);
	for (size_t i = 0; i < s->nports; i++) {
		h_bytes(&st, "host_ip", s->ports[i].host_ip);
		h_u64(&st, "host_port", s->ports[i].host_port);
		h_u64(&st, "container_port", s->ports[i].container_port);
		h_bytes(&st, "protocol", s->ports[i].protocol);
	}
	h_u64(&st, "volumes", s->nvolumes);
	for (size_t i = 0; i < s->nvolumes; i++) {
		h_u64(&st, "type", (uint64_t)s->volumes[i].type);
		h_bytes(&st, "source", s->volumes[i].source);
		h_bytes(&st, "target", s->volumes[i].target);
		h_u64(&st, "read_only", s->volumes[i].read_only);
	}
	h_bytes(&st, "restart", s->restart);
	h_strv(&st, "labels", s->labels);
	h_bytes(&st, "user", s->user);
	h_bytes(&st, "working_dir", s->working_dir);
	h_u64(&st, "mem_limit", (uint64_t)s->mem_limit);
	h_u64(&st, "privileged", s->privileged);
	h_bytes(&st, "network_mode", s->network_mode);
	h_bytes(&st, "pid", s->pid);
	h_bytes(&st, "ipc", s->ipc);
	h_strv(&st, "cap_add", s->cap_add);
	h_strv(&st, "cap_drop", s->cap_drop);
	h_strv(&st, "devices", s->devices);
	h_u64(&st, "read_only", s->read_only);
	h_u64(&st, "health.kind", (uint64_t)h->kind);
	h_strv(&st, "health.exec", h->exec_argv);
	h_bytes(&st, "health.http_path", h->http_path);
	h_u64(&st, "health.http_status", (uint64_t)h->http_status);
	h_u64(&st, "health.port", h->port);
	h_u64(&st, "health.interval", h->interval_ms);
	h_u64(&st, "health.timeout", h->timeout_ms);
	h_u64(&st, "health.start_period", h->start_period_ms);
	h_u64(&st, "health.retries", h->retries);
	h_u64(&st, "strategy", (uint64_t)s->strategy);
	crypto_hash_sha256_final(&st, d);
	for (size_t i = 0; i < sizeof(d); i++) {
		s->spec_hash[2 * i] = hex[d[i] >> 4];
		s->spec_hash[2 * i + 1] = hex[d[i] & 15];
	}
	s->spec_hash[64] = '\0';
}

/* ---------------------------------------------------------------------------
 * Top level. */

static int parse_volume_decls(pctx *c, const cJSON *it, volume_decls *decls)
{
	static const char *const keys[] = {"name", "external", NULL};
	int error;

	if (!cJSON_IsObject(it))
		return fail(c, EF_EINVALID, "expected an object, found %s", type_name(it));
	if ((error = check_members(c, it, MAX_NAMED_VOLUMES, "volumes")) < 0)
		return error;
	for (const cJSON *e = it->child; e && error == 0; e = e->next) {
		size_t saved = push_key(c, e->string);
		const cJSON *v;

		decls->v[decls->n].key = e->string;
		decls->v[decls->n].name = e->string;
		if (!e->string[0] || strchr(e->string, '/') || has_ctl(e->string))
			error = fail(c, EF_EINVALID, "'%s' is not a valid volume name", e->string);
		else if (cJSON_IsObject(e) && (error = check_keys(c, e, keys, false)) == 0) {
			if ((v = member(e, "name"))) {
				if (!cJSON_IsString(v) || !v->valuestring[0] ||
				    strchr(v->valuestring, '/') || has_ctl(v->valuestring))
					error = fail_at(c, "name", "expected a volume name");
				else
					decls->v[decls->n].name = v->valuestring;
			}
			if (error == 0 && (v = member(e, "external")) && !cJSON_IsBool(v))
				error = fail_at(c, "external", "expected true or false");
		} else if (error == 0 && !cJSON_IsNull(e) && !cJSON_IsObject(e)) {
			error = fail(c, EF_EINVALID, "expected an object or null, found %s",
			             type_name(e));
		}
		decls->n++;
		pop(c, saved);
	}
	return error;
}

/* Top-level `networks`: only `default`, as `docker compose config` writes it. */
static int check_networks(pctx *c, const cJSON *it)
{
	static const char *const keys[] = {"default", NULL};
	static const char *const net_keys[] = {"name", "ipam", NULL};
	const cJSON *d, *v;
	size_t saved;
	int error;

	if ((error = check_keys(c, it, keys, false)) < 0)
		return error;
	if (!(d = member(it, "default")) || cJSON_IsNull(d))
		return 0;
	saved = push_key(c, "default");
	if ((error = check_keys(c, d, net_keys, false)) == 0) {
		if ((v = member(d, "name")) && !cJSON_IsString(v))
			error = fail_at(c, "name", "expected a string");
		else if ((v = member(d, "ipam")) && !(cJSON_IsObject(v) && !v->child))
			error = fail_at(c, "ipam", "network settings are not supported; remove it");
	}
	pop(c, saved);
	return error;
}

static bool ports_clash(const ef_port *a, const ef_port *b)
{
	if (!a->host_port || a->host_port != b->host_port || strcmp(a->protocol, b->protocol))
		return false;
	return !a->host_ip || !b->host_ip || strcmp(a->host_ip, b->host_ip) == 0;
}

static int check_port_clashes(pctx *c, const ef_manifest *m)
{
	for (size_t i = 0; i < m->nservices; i++) {
		const ef_service *s = &m->services[i];
		for (size_t k = 0; k < s->nports; k++) {
			for (size_t j = 0; j <= i; j++) {
				const ef_service *o = &m->services[j];
				size_t lim = j == i ? k : o->nports;
				for (size_t l = 0; l < lim; l++) {
					if (!ports_clash(&s->ports[k], &o->ports[l]))
						continue;
					snprintf(c->path, sizeof(c->path), "$.services");
					c->len = strlen(c->path);
					push_key(c, s->name);
					push_key(c, "ports");
					push_index(c, k);
					return fail(c, EF_EINVALID,
					            "host port %u/%s is already published by "
					            "service %s",
					            s->ports[k].host_port, s->ports[k].protocol,
					            o->name);
				}
			}
		}
	}
	return 0;
}

static void service_dispose(ef_service *s)
{
	free(s->name);
	free(s->image);
	ef_strv_free(s->command);
	ef_strv_free(s->entrypoint);
	ef_strv_free(s->environment);
	for (size_t i = 0; i < s->nports; i++)
		free(s->ports[i].host_ip);
	free(s->ports);
	for (size_t i = 0; i < s->nvolumes; i++) {
		free(s->volumes[i].source);
		free(s->volumes[i].target);
	}
	free(s->volumes);
	free(s->restart);
	ef_strv_free(s->labels);
	free(s->user);
	free(s->working_dir);
	free(s->network_mode);
	free(s->pid);
	free(s->ipc);
	ef_strv_free(s->cap_add);
	ef_strv_free(s->cap_drop);
	ef_strv_free(s->devices);
	ef_strv_free(s->health.exec_argv);
	free(s->health.http_path);
}

static int cmp_service(const void *a, const void *b)
{
	return strcmp(((const ef_service *)a)->name, ((const ef_service *)b)->name);
}

static int syntax_error(const char *file, const char *json, size_t len, const char *end)
{
	size_t off = end && end >= json && end <= json + len ? (size_t)(end - json) : 0;
	size_t line = 1;

	for (size_t i = 0; i < off; i++)
		if (json[i] == '\n')
			line++;
	ef_error_set("%s: not valid JSON (line %zu, byte %zu); produce it with `docker compose "
	             "config --format json`",
	             file, line, off);
	return EF_EINVALID;
}

int ef_manifest_parse(ef_manifest **out, const char *json, size_t len, const char *name)
{
	static const char *const top_keys[] = {"services", "name",       "version", "volumes",
	                                       "networks", "x-edgeflip", NULL};
	pctx ctx = {.file = name ? name : EF_MANIFEST_FILE, .path = "$", .len = 1};
	pctx *c = &ctx;
	volume_decls decls;
	ef_manifest *m = NULL;
	const char *end = NULL;
	const cJSON *services, *v;
	cJSON *root;
	size_t n, i = 0, saved;
	int error = EF_EINVALID;

	*out = NULL;
	memset(&decls, 0, sizeof(decls));
	if (!json)
		return syntax_error(c->file, "", 0, NULL);
	root = cJSON_ParseWithLengthOpts(json, len, &end, false);
	if (!root)
		return syntax_error(c->file, json, len, end);
	for (; end && end < json + len; end++) {
		if (*end != ' ' && *end != '\t' && *end != '\n' && *end != '\r') {
			error = syntax_error(c->file, json, len, end);
			goto out;
		}
	}
	if (!cJSON_IsObject(root)) {
		error = fail(c, EF_EINVALID,
		             "expected a JSON object (the output of `docker compose config "
		             "--format json`)");
		goto out;
	}
	if ((error = check_keys(c, root, top_keys, true)) < 0)
		goto out;
	if ((v = member(root, "name")) && !cJSON_IsString(v)) {
		error = fail_at(c, "name", "expected a string");
		goto out;
	}
	if ((v = member(root, "x-edgeflip"))) {
		saved = push_key(c, "x-edgeflip");
		if (!cJSON_IsObject(v))
			error = fail(c, EF_EINVALID, "expected an object, found %s", type_name(v));
		else if (v->child)
			error = fail_at(c, v->child->string,
			                "no keys are defined under the top-level x-edgeflip yet; "
			                "put rollout settings under each service's x-edgeflip");
		pop(c, saved);
		if (error < 0)
			goto out;
	}
	if ((v = member(root, "networks"))) {
		saved = push_key(c, "networks");
		error = check_networks(c, v);
		pop(c, saved);
		if (error < 0)
			goto out;
	}
	if ((v = member(root, "volumes"))) {
		saved = push_key(c, "volumes");
		error = parse_volume_decls(c, v, &decls);
		pop(c, saved);
		if (error < 0)
			goto out;
	}
	services = member(root, "services");
	if (!services) {
		error = fail_at(c, "services", "missing; list the services to run");
		goto out;
	}
	saved = push_key(c, "services");
	if (!cJSON_IsObject(services)) {
		error = fail(c, EF_EINVALID, "expected an object {name: service}, found %s",
		             type_name(services));
		goto out;
	}
	if ((error = check_members(c, services, MAX_SERVICES, "services")) < 0)
		goto out;
	n = count_members(services);
	error = EF_ENOMEM;
	if (!(m = calloc(1, sizeof(*m))) ||
	    (n && !(m->services = calloc(n, sizeof(*m->services))))) {
		error = fail(c, EF_ENOMEM, "out of memory");
		goto out;
	}
	for (const cJSON *s = services->child; s; s = s->next, i++) {
		size_t saved2 = push_key(c, s->string);
		m->nservices = i + 1;
		error = parse_service(c, &m->services[i], s->string, s, &decls);
		pop(c, saved2);
		if (error < 0)
			goto out;
		spec_hash(&m->services[i]);
	}
	pop(c, saved);
	if (m->nservices > 1)
		qsort(m->services, m->nservices, sizeof(*m->services), cmp_service);
	if ((error = check_port_clashes(c, m)) < 0)
		goto out;
	*out = m;
	m = NULL;
	error = 0;
out:
	ef_manifest_free(m);
	cJSON_Delete(root);
	return error;
}

const ef_service *ef_manifest_find(const ef_manifest *m, const char *service)
{
	size_t lo = 0, hi = m ? m->nservices : 0;

	if (!service)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(m->services[mid].name, service);
		if (r == 0)
			return &m->services[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void ef_manifest_free(ef_manifest *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nservices; i++)
		service_dispose(&m->services[i]);
	free(m->services);
	free(m);
}
