/* The parse context (JSON path, messages) and scalar values: strings, booleans,
 * numbers, ports, durations and sizes. */
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

#include "manifest_internal.h"

/* ---------------------------------------------------------------------------
 * Parse context: file name and the JSON path of the value being read. */

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

/* The node of the document at the current path: the nodes stack follows
 * mf_push_key() / mf_push_index() so that a message can find its position. */
static const cJSON *top_node(const pctx *c)
{
	return c->depth ? c->nodes[c->depth - 1] : NULL;
}

static void push_node(pctx *c, const cJSON *node, size_t saved)
{
	if (c->depth < MAX_DEPTH) {
		c->nodes[c->depth] = node;
		c->saved[c->depth] = saved;
		c->depth++;
	}
}

void mf_ctx_init(pctx *c, const char *file, const cJSON *root, const ef_compose_pos *pos,
                 ef_findings *findings)
{
	memset(c, 0, sizeof(*c));
	c->file = file;
	c->pos = pos;
	c->findings = findings;
	strcpy(c->path, "$");
	c->len = 1;
	push_node(c, root, 0);
}

size_t mf_push_key(pctx *c, const char *key)
{
	size_t saved = c->len;
	const cJSON *top = top_node(c);

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
	push_node(c, cJSON_IsObject(top) ? mf_member(top, key) : NULL, saved);
	return saved;
}

size_t mf_push_index(pctx *c, size_t i)
{
	size_t saved = c->len;
	const cJSON *top = top_node(c);
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "[%zu]", i);
	path_append(c, tmp);
	push_node(c,
	          cJSON_IsArray(top) && i < (size_t)INT32_MAX ? cJSON_GetArrayItem(top, (int)i)
	                                                      : NULL,
	          saved);
	return saved;
}

void mf_pop(pctx *c, size_t saved)
{
	c->len = saved;
	c->path[saved] = '\0';
	while (c->depth > 1 && c->saved[c->depth - 1] >= saved)
		c->depth--;
}

/* Copies `in` into `out` with control bytes written as \xNN: a message never
 * carries raw control characters to a terminal or a log. */
static void sanitize(char *out, size_t size, const char *in)
{
	size_t j = 0;

	for (; *in && j + 5 < size; in++) {
		unsigned char ch = (unsigned char)*in;
		if (ch < 0x20 || ch == 0x7f)
			j += (size_t)snprintf(out + j, size - j, "\\x%02x", ch);
		else
			out[j++] = (char)ch;
	}
	out[j] = '\0';
}

static void record(pctx *c, int code, const char *raw)
{
	const char *file = c->file;
	unsigned line = 0, col = 0;
	char msg[1024];

	sanitize(msg, sizeof(msg), raw);
	for (size_t d = c->depth; d > 0 && c->pos; d--) {
		if (c->nodes[d - 1] &&
		    ef_compose_pos_find(c->pos, c->nodes[d - 1], &file, &line, &col) == 0)
			break;
		file = c->file;
		line = col = 0;
	}
	if (line)
		ef_error_set("%s:%u:%u: %s: %s", file, line, col, c->path, msg);
	else
		ef_error_set("%s: %s: %s", file, c->path, msg);
	if (c->nerrors++ == 0) {
		snprintf(c->first, sizeof(c->first), "%s", ef_error_last());
		c->first_code = code;
	}
	if (code == EF_ENOMEM)
		c->oom = true;
	if (c->findings && ef_findings_add(c->findings, file, line, col, c->path, msg) < 0)
		c->oom = true;
}

/* Records a finding "<file>[:line:col]: <path>: <message>" and returns `code`. */
__attribute__((format(printf, 3, 4))) int mf_fail(pctx *c, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	record(c, code, msg);
	return code;
}

/* Like mf_fail(), for the member `key` of the current object. */
__attribute__((format(printf, 3, 4))) int mf_fail_at(pctx *c, const char *key, const char *fmt, ...)
{
	char msg[1024];
	size_t saved = mf_push_key(c, key);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	record(c, EF_EINVALID, msg);
	mf_pop(c, saved);
	return EF_EINVALID;
}

__attribute__((format(printf, 1, 2))) char *mf_str_printf(const char *fmt, ...)
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

const char *mf_type_name(const cJSON *it)
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

size_t mf_count_members(const cJSON *obj)
{
	size_t n = 0;

	for (const cJSON *m = obj->child; m; m = m->next)
		n++;
	return n;
}

/* Checks the member count and refuses keys that appear twice (cJSON keeps both). */
int mf_check_members(pctx *c, const cJSON *obj, size_t max, const char *what)
{
	size_t n = mf_count_members(obj);

	if (n > max)
		return mf_fail(c, EF_ETOOBIG, "%zu %s; at most %zu are supported", n, what, max);
	for (const cJSON *m = obj->child; m; m = m->next) {
		for (const cJSON *p = obj->child; p != m; p = p->next) {
			if (strcmp(p->string, m->string) == 0)
				return mf_fail_at(c, m->string, "key '%s' appears twice; keep one",
				                  m->string);
		}
	}
	return 0;
}

/* `allowed` is NULL-terminated. `x_ok`: keys starting with "x-" are extensions and skipped. */
int mf_check_keys(pctx *c, const cJSON *obj, const char *const *allowed, bool x_ok)
{
	int error;

	if (!cJSON_IsObject(obj))
		return mf_fail(c, EF_EINVALID, "expected an object, found %s", mf_type_name(obj));
	if ((error = mf_check_members(c, obj, MAX_MEMBERS, "keys")) < 0)
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
		return mf_fail_at(c, m->string,
		                  "unsupported key '%s' (supported: %s%s); remove it or see "
		                  "docs/manifest.md",
		                  m->string, list, x_ok ? ", x-*" : "");
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * Scalars. Each reads `item`, whose path is already on the stack. */

bool mf_has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

bool mf_has_ctl_n(const char *s, size_t n)
{
	for (size_t i = 0; i < n && s[i]; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

int mf_get_string(pctx *c, const cJSON *it, char **out)
{
	char *s;

	if (!cJSON_IsString(it) || !it->valuestring)
		return mf_fail(c, EF_EINVALID, "expected a string, found %s", mf_type_name(it));
	if (!(s = strdup(it->valuestring)))
		return mf_fail(c, EF_ENOMEM, "out of memory");
	free(*out);
	*out = s;
	return 0;
}

int mf_get_nonempty_string(pctx *c, const cJSON *it, char **out)
{
	int error = mf_get_string(c, it, out);

	if (error == 0 && (*out)[0] == '\0')
		return mf_fail(c, EF_EINVALID, "must not be empty");
	return error;
}

int mf_get_bool(pctx *c, const cJSON *it, bool *out)
{
	if (!cJSON_IsBool(it))
		return mf_fail(c, EF_EINVALID, "expected true or false, found %s",
		               mf_type_name(it));
	*out = cJSON_IsTrue(it);
	return 0;
}

/* A whole JSON number in [min, max]. */
bool mf_whole_number(const cJSON *it, double min, double max, int64_t *out)
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
bool mf_digits_number(const char *s, uint64_t min, uint64_t max, uint64_t *out)
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
int mf_get_port(pctx *c, const cJSON *it, uint16_t *out)
{
	int64_t n;
	uint64_t u;

	if (mf_whole_number(it, 1, 65535, &n)) {
		*out = (uint16_t)n;
		return 0;
	}
	if (cJSON_IsString(it) && mf_digits_number(it->valuestring, 1, 65535, &u)) {
		*out = (uint16_t)u;
		return 0;
	}
	if (cJSON_IsString(it) && strchr(it->valuestring, '-'))
		return mf_fail(c, EF_EINVALID,
		               "port ranges are not supported ('%s'); list each port on its own",
		               it->valuestring);
	return mf_fail(c, EF_EINVALID, "expected a port number 1-65535");
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

int mf_get_duration(pctx *c, const cJSON *it, uint64_t *out_ms)
{
	if (!cJSON_IsString(it) || parse_go_duration(out_ms, it->valuestring) < 0)
		return mf_fail(c, EF_EINVALID,
		               "expected a duration such as \"30s\", \"1m30s\" or \"500ms\"");
	return 0;
}

/* "512m", "1g", "256k", "1.5g", "1024", "64MiB" (as go-units RAMInBytes: binary units). */
int mf_parse_mem(int64_t *out, const char *s)
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

bool mf_is_lower_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

bool mf_is_alnum(char ch)
{
	return mf_is_lower_alnum(ch) || (ch >= 'A' && ch <= 'Z');
}
