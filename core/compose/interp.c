/* Interpolation of `${VAR}` as compose-go's template package does it, the
 * dotenv parser of compose-go's dotenv package, and the variable table. */
#include "edgeflip/compose_read.h"
#include "edgeflip/error.h"
#include "edgeflip/log.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_NESTING 32 /* ${A:-${B:-${C...}}} */

/* ---------------------------------------------------------------------------
 * Variables */

void ef_env_init(ef_env *e)
{
	memset(e, 0, sizeof(*e));
}

/* Values may come from a SOPS .env: wiped before they are freed. */
static void wipe_free(char *v)
{
	if (v)
		sodium_memzero(v, strlen(v));
	free(v);
}

void ef_env_dispose(ef_env *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->names[i]);
		wipe_free(e->values[i]);
	}
	free(e->names);
	free(e->values);
	ef_env_init(e);
}

int ef_env_set(ef_env *e, const char *name, const char *value)
{
	char **names, **values, *v;

	if (!(v = strdup(value ? value : "")))
		goto oom;
	for (size_t i = 0; i < e->n; i++) {
		if (!strcmp(e->names[i], name)) {
			wipe_free(e->values[i]);
			e->values[i] = v;
			return 0;
		}
	}
	names = realloc(e->names, (e->n + 1) * sizeof(*names));
	if (names)
		e->names = names;
	values = names ? realloc(e->values, (e->n + 1) * sizeof(*values)) : NULL;
	if (!values)
		goto oom_v;
	e->values = values;
	if (!(e->names[e->n] = strdup(name)))
		goto oom_v;
	e->values[e->n++] = v;
	return 0;
oom_v:
	free(v);
oom:
	ef_error_set("out of memory");
	return EF_ENOMEM;
}

const char *ef_env_get(const ef_env *e, const char *name)
{
	for (size_t i = 0; e && i < e->n; i++)
		if (!strcmp(e->names[i], name))
			return e->values[i];
	return NULL;
}

/* ---------------------------------------------------------------------------
 * Templates: compose-go template.Substitute, case by case. */

typedef struct {
	const ef_env *env;
	const ef_env *env2; /* looked up first when not NULL (dotenv: lookup) */
	ef_buf *err;
	char ***unset;
	int depth;
} tctx;

static bool name_start(char c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

static const char *lookup(const tctx *c, const char *name, size_t n)
{
	char buf[256];
	const char *v = NULL;

	if (n >= sizeof(buf))
		return NULL;
	memcpy(buf, name, n);
	buf[n] = '\0';
	if (c->env2)
		v = ef_env_get(c->env2, buf);
	return v ? v : ef_env_get(c->env, buf);
}

static int subst(tctx *c, ef_buf *out, const char *s, size_t n);

/* getFirstBraceClosingIndex: a '{' skips the character after it. */
static long first_closing(const char *s, size_t n)
{
	int open = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '}' && --open == 0)
			return (long)i;
		if (s[i] == '{')
			open++, i++;
	}
	return -1;
}

static int invalid(tctx *c, const char *s, size_t n)
{
	if (c->err && !c->err->len)
		ef_buf_printf(
		        c->err,
		        "invalid interpolation \"%.*s\": write $VAR, ${VAR}, ${VAR:-default}, "
		        "${VAR:?message} or $$ for a literal $",
		        (int)(n > 80 ? 80 : n), s);
	return EF_EINVALID;
}

static int note_unset(tctx *c, const char *name, size_t n)
{
	char *v;

	if (!c->unset)
		return 0;
	if (!(v = strndup(name, n)))
		return EF_ENOMEM;
	return ef_strv_push_owned(c->unset, v);
}

/* One `${NAME<op>rest}` with an operator; `s` spans "${" to its '}'. */
static int braced_op(tctx *c, ef_buf *out, const char *s, size_t n)
{
	const char *name = s + 2, *arg;
	size_t nlen = 0, alen;
	const char *v;
	bool colon = false;
	char op;
	int error;

	while (name_char(name[nlen]))
		nlen++;
	arg = name + nlen;
	if (*arg == ':')
		colon = true, arg++;
	op = *arg++;
	alen = (size_t)(s + n - 1 - arg);
	v = lookup(c, name, nlen);
	if (++c->depth > MAX_NESTING) {
		if (c->err && !c->err->len)
			ef_buf_printf(c->err, "interpolation nested deeper than %d levels",
			              MAX_NESTING);
		return EF_EINVALID;
	}
	error = 0;
	switch (op) {
	case '-':
		if (!v || (colon && !*v))
			error = subst(c, out, arg, alen);
		else
			error = ef_buf_puts(out, v);
		break;
	case '+':
		if (v && (!colon || *v))
			error = subst(c, out, arg, alen);
		else
			error = ef_buf_puts(out, v ? v : "");
		break;
	default: /* '?' */
		if (!v || (colon && !*v)) {
			ef_buf msg = EF_BUF_INIT(4096);
			if ((error = subst(c, &msg, arg, alen)) == 0) {
				if (c->err && !c->err->len)
					ef_buf_printf(
					        c->err,
					        "required variable %.*s is missing a value%s%s",
					        (int)nlen, name, msg.len ? ": " : "",
					        msg.len ? msg.ptr : "");
				error = EF_EINVALID;
			}
			ef_buf_dispose(&msg);
		} else {
			error = ef_buf_puts(out, v);
		}
		break;
	}
	c->depth--;
	return error;
}

static int subst(tctx *c, ef_buf *out, const char *s, size_t n)
{
	int error = 0;

	for (size_t i = 0; i < n && error == 0;) {
		const char *v;
		size_t k;

		if (s[i] != '$' || i + 1 >= n) {
			error = ef_buf_put(out, s + i, 1);
			i++;
		} else if (s[i + 1] == '$') {
			error = ef_buf_put(out, "$", 1);
			i += 2;
		} else if (name_start(s[i + 1])) {
			for (k = i + 1; k < n && name_char(s[k]); k++)
				;
			if (!(v = lookup(c, s + i + 1, k - i - 1)))
				error = note_unset(c, s + i + 1, k - i - 1);
			if (error == 0)
				error = ef_buf_puts(out, v ? v : "");
			i = k;
		} else if (s[i + 1] == '{') {
			size_t last = 0, eol;
			long close;
			k = i + 2;
			if (k >= n || !name_start(s[k]))
				return invalid(c, s + i, n - i);
			while (k < n && name_char(s[k]))
				k++;
			if (k < n && s[k] == '}') {
				if (!(v = lookup(c, s + i + 2, k - i - 2)))
					error = note_unset(c, s + i + 2, k - i - 2);
				if (error == 0)
					error = ef_buf_puts(out, v ? v : "");
				i = k + 1;
				continue;
			}
			if (!(k < n && (strchr("-+?", s[k]) ||
			                (s[k] == ':' && k + 1 < n && strchr("-+?", s[k + 1])))) ||
			    !s[k])
				return invalid(c, s + i, n - i);
			/* The regular expression's greedy (.*)}: the last '}' on the line. */
			for (eol = k; eol < n && s[eol] != '\n'; eol++)
				if (s[eol] == '}')
					last = eol;
			if (!last)
				return invalid(c, s + i, n - i);
			/* Then cut at the first balanced '}'; what follows is a template
			 * of its own. */
			close = first_closing(s + i, last + 1 - i);
			if (close < 0) {
				error = braced_op(c, out, s + i, last + 1 - i);
			} else {
				error = braced_op(c, out, s + i, (size_t)close + 1);
				if (error == 0)
					error = subst(c, out, s + i + close + 1,
					              last - i - (size_t)close);
			}
			i = last + 1;
		} else {
			error = ef_buf_put(out, "$", 1);
			i++;
		}
	}
	return error;
}

static int interp(char **out, const char *tmpl, const ef_env *env, const ef_env *first, ef_buf *err,
                  char ***unset)
{
	ef_buf b = EF_BUF_INIT(EF_COMPOSE_MAX_FILE);
	tctx c = {env, first, err, unset, 0};
	int error;

	*out = NULL;
	if ((error = subst(&c, &b, tmpl, strlen(tmpl))) == 0 && (error = ef_buf_puts(&b, "")) == 0)
		*out = ef_buf_detach(&b);
	if (error == EF_ETOOBIG && err && !err->len)
		ef_buf_printf(err, "interpolated value larger than %u bytes",
		              (unsigned)EF_COMPOSE_MAX_FILE);
	ef_buf_dispose(&b);
	return error;
}

int ef_compose_interp_string(char **out, const char *tmpl, const ef_env *env, ef_buf *err,
                             char ***unset)
{
	return interp(out, tmpl, env, NULL, err, unset);
}

/* ---------------------------------------------------------------------------
 * The document tree */

#define CAST_DEPTH 8 /* the longest path of the cast table, and some */

typedef struct {
	const ef_env *env;
	const ef_compose_pos *pos;
	const char *file;
	ef_findings *findings;
	ef_buf path;
	int error;
	const char *keys[CAST_DEPTH]; /* the path as keys; NULL for a list index */
	size_t depth;
} ictx;

static void finding(ictx *c, const cJSON *n, const char *msg)
{
	ef_findings_at(c->findings, c->pos, n, c->file, c->path.ptr, msg, !c->error);
	if (!c->error)
		c->error = EF_EINVALID;
}

/* Typed keys given as strings. Compose converts a string at these paths to the
 * key's type after interpolation (compose-go loader/interpolate.go), so that
 * `read_only: ${RO:-false}` and `privileged: "false"` mean the boolean and
 * `pids_limit: "100"` the number. "*" is any key, "[]" any list index; the
 * paths are under services.NAME unless they start with "/". Modes of
 * secrets and configs stay strings: they are octal and read as such. */
enum cast { CAST_BOOL, CAST_INT, CAST_FLOAT };
static const struct {
	const char *path;
	enum cast to;
} casts[] = {
        {"cpu_count", CAST_INT},
        {"cpu_percent", CAST_FLOAT},
        {"cpu_period", CAST_INT},
        {"cpu_quota", CAST_INT},
        {"cpu_rt_period", CAST_INT},
        {"cpu_rt_runtime", CAST_INT},
        {"cpus", CAST_FLOAT},
        {"cpu_shares", CAST_INT},
        {"init", CAST_BOOL},
        {"depends_on.*.required", CAST_BOOL},
        {"depends_on.*.restart", CAST_BOOL},
        {"deploy.replicas", CAST_INT},
        {"deploy.update_config.parallelism", CAST_INT},
        {"deploy.update_config.max_failure_ratio", CAST_FLOAT},
        {"deploy.rollback_config.parallelism", CAST_INT},
        {"deploy.rollback_config.max_failure_ratio", CAST_FLOAT},
        {"deploy.restart_policy.max_attempts", CAST_INT},
        {"deploy.placement.max_replicas_per_node", CAST_INT},
        {"healthcheck.retries", CAST_INT},
        {"healthcheck.disable", CAST_BOOL},
        {"oom_kill_disable", CAST_BOOL},
        {"oom_score_adj", CAST_INT},
        {"pids_limit", CAST_INT},
        {"ports.[].target", CAST_INT},
        {"privileged", CAST_BOOL},
        {"read_only", CAST_BOOL},
        {"scale", CAST_INT},
        {"stdin_open", CAST_BOOL},
        {"tty", CAST_BOOL},
        {"ulimits.*", CAST_INT},
        {"ulimits.*.hard", CAST_INT},
        {"ulimits.*.soft", CAST_INT},
        {"volumes.[].read_only", CAST_BOOL},
        {"volumes.[].volume.nocopy", CAST_BOOL},
        {"/networks.*.external", CAST_BOOL},
        {"/networks.*.internal", CAST_BOOL},
        {"/networks.*.attachable", CAST_BOOL},
        {"/networks.*.enable_ipv6", CAST_BOOL},
        {"/volumes.*.external", CAST_BOOL},
        {"/secrets.*.external", CAST_BOOL},
        {"/configs.*.external", CAST_BOOL},
};

/* Whether the keys (NULL for a list index) match the dotted pattern. */
static bool path_is(const char *const *keys, size_t n, const char *pat)
{
	size_t i = 0;

	for (const char *p = pat; i < n; i++) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);

		if (len == 2 && !memcmp(p, "[]", 2)) {
			if (keys[i])
				return false;
		} else if (!keys[i] || (!(len == 1 && *p == '*') &&
		                        (strlen(keys[i]) != len || memcmp(keys[i], p, len)))) {
			return false;
		}
		if (!dot)
			return i + 1 == n;
		p = dot + 1;
	}
	return false;
}

static int cast_to(ictx *c)
{
	for (size_t i = 0; i < sizeof(casts) / sizeof(casts[0]); i++) {
		const char *p = casts[i].path;

		if (*p == '/' ? path_is(c->keys, c->depth, p + 1)
		              : c->depth > 2 && c->keys[0] && !strcmp(c->keys[0], "services") &&
		                        path_is(c->keys + 2, c->depth - 2, p))
			return (int)casts[i].to;
	}
	return -1;
}

/* Converts the string node n in place (its position stays known) to the type
 * of its path, as compose-go's toBoolean, strconv.Atoi and ParseFloat do. */
static int cast(ictx *c, cJSON *n)
{
	static const char *const yes[] = {"y", "yes", "true", "on"};
	static const char *const no[] = {"n", "no", "false", "off"};
	const char *s = n->valuestring;
	char *end, msg[300], shown[64];
	int to = cast_to(c);
	double d;

	if (to < 0)
		return 0;
	if (to == CAST_BOOL) {
		for (size_t i = 0; i < 4; i++) {
			if (!strcasecmp(s, yes[i]) || !strcasecmp(s, no[i])) {
				int type = strcasecmp(s, yes[i]) ? cJSON_False : cJSON_True;
				free(n->valuestring);
				n->valuestring = NULL;
				n->type = type;
				return 0;
			}
		}
	} else {
		errno = 0;
		d = to == CAST_INT ? (double)strtoll(s, &end, 10) : strtod(s, &end);
		if (*s && !strchr(" \t\n\v\f\r", *s) && !*end && !errno && isfinite(d)) {
			free(n->valuestring);
			n->valuestring = NULL;
			n->type = cJSON_Number;
			cJSON_SetNumberValue(n, d);
			return 0;
		}
	}
	ef_log_escape(shown, sizeof(shown), s);
	snprintf(msg, sizeof(msg),
	         "'%s' is not %s (Compose converts this key's value after interpolation)", shown,
	         to == CAST_BOOL  ? "a boolean: write true or false"
	         : to == CAST_INT ? "a whole number"
	                          : "a number");
	finding(c, n, msg);
	return 0;
}

static int walk(ictx *c, cJSON *n)
{
	if (cJSON_IsString(n)) {
		ef_buf err = EF_BUF_INIT(1024);
		char **unset = NULL, *v = NULL, msg[700];
		int error;

		if (!strchr(n->valuestring, '$'))
			return cast(c, n);
		error = interp(&v, n->valuestring, c->env, NULL, &err, &unset);
		if (error == EF_ENOMEM) {
			ef_buf_dispose(&err);
			return error;
		}
		if (error < 0)
			finding(c, n, err.ptr ? err.ptr : "invalid interpolation");
		for (size_t i = 0; unset && unset[i]; i++) {
			snprintf(msg, sizeof(msg),
			         "variable %s is not set and has no default: set it in the "
			         "environment "
			         "directory's .env or the device's env_file, or write "
			         "${%s:-default}",
			         unset[i], unset[i]);
			finding(c, n, msg);
		}
		if (error == 0 && !cJSON_SetValuestring(n, v))
			error = EF_ENOMEM;
		free(v);
		ef_strv_free(unset);
		ef_buf_dispose(&err);
		if (error == 0)
			return cast(c, n);
		return error == EF_ENOMEM ? error : 0;
	}
	if (cJSON_IsObject(n) || cJSON_IsArray(n)) {
		size_t i = 0, plen = c->path.len;
		for (cJSON *e = n->child; e; e = e->next, i++) {
			int error;
			if (cJSON_IsObject(n))
				ef_buf_printf(&c->path, ".%s", e->string);
			else
				ef_buf_printf(&c->path, "[%zu]", i);
			if (c->depth < CAST_DEPTH)
				c->keys[c->depth] = cJSON_IsObject(n) ? e->string : NULL;
			c->depth++;
			error = walk(c, e);
			c->depth--;
			c->path.len = plen;
			if (c->path.ptr)
				c->path.ptr[plen] = '\0';
			if (error < 0)
				return error;
		}
	}
	return 0;
}

int ef_compose_interpolate(cJSON *doc, const ef_env *env, const ef_compose_pos *pos,
                           const char *file, ef_findings *findings)
{
	ictx c = {env, pos, file, findings, EF_BUF_INIT(4096), 0, {NULL}, 0};
	int error;

	ef_buf_puts(&c.path, "$");
	error = walk(&c, doc);
	ef_buf_dispose(&c.path);
	if (error == EF_ENOMEM)
		ef_error_set("out of memory");
	return error < 0 ? error : c.error;
}

/* ---------------------------------------------------------------------------
 * dotenv: compose-go dotenv/parser.go */

typedef struct {
	const char *file;
	ef_findings *findings;
	unsigned line;
} dctx;

static int dfail(dctx *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int dfail(dctx *d, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (d->findings)
		ef_findings_add(d->findings, d->file, d->line, 1, "$", msg);
	ef_error_set("%s:%u: %s", d->file, d->line, msg);
	return EF_EINVALID;
}

static bool dspace(char c) /* isSpace of the parser: not '\n' */
{
	return c == '\t' || c == '\v' || c == '\f' || c == '\r' || c == ' ';
}

static bool uspace(char c) /* unicode.IsSpace, ASCII part */
{
	return dspace(c) || c == '\n';
}

/* expandEscapes: \a \b \f \n \r \t \v \" \\, \$ stays a literal $ ($$),
 * \0ooo an octal byte. */
static int unescape(ef_buf *out, const char *s, size_t n)
{
	static const char from[] = "abfnrtv\"\\", to[] = "\a\b\f\n\r\t\v\"\\";
	int error = 0;

	for (size_t i = 0; i < n && error == 0; i++) {
		const char *p;
		if (s[i] != '\\' || i + 1 >= n) {
			error = ef_buf_put(out, s + i, 1);
		} else if (s[i + 1] == '$') {
			error = ef_buf_puts(out, "$$");
			i++;
		} else if (s[i + 1] && (p = strchr(from, s[i + 1]))) {
			error = ef_buf_put(out, &to[p - from], 1);
			i++;
		} else if (s[i + 1] == '0') {
			size_t k = i + 2, v = 0;
			bool octal = true;
			while (k < n && k < i + 5 && s[k] >= '0' && s[k] <= '9')
				octal = octal && s[k] <= '7', v = v * 8 + (size_t)(s[k] - '0'), k++;
			if (k == i + 5 && octal && v <= 255) {
				char ch = (char)v;
				error = ef_buf_put(out, &ch, 1);
			} else {
				error = ef_buf_put(out, "\\", 1);
				if (error == 0)
					error = ef_buf_put(out, s + i + 2, k - i - 2);
			}
			i = k - 1;
		} else {
			error = ef_buf_put(out, s + i, 1);
		}
	}
	return error;
}

static int expand(dctx *d, char **out, const char *v, ef_env *e, const ef_env *lookup_env)
{
	ef_buf err = EF_BUF_INIT(1024);
	int error = interp(out, v, e, lookup_env, &err, NULL);

	if (error == EF_EINVALID)
		dfail(d, "%s", err.ptr ? err.ptr : "invalid interpolation");
	ef_buf_dispose(&err);
	return error;
}

int ef_dotenv_parse(ef_env *e, const char *text, size_t len, const char *file,
                    const ef_env *lookup_env, ef_findings *findings)
{
	dctx d = {file, findings, 1};
	const char *p = text, *end = text + len;
	int error = 0;

	if (len >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
		p += 3;
	if (memchr(p, '\0', (size_t)(end - p)))
		return dfail(&d, "a NUL byte; a .env file is text");
	while (error == 0) {
		const char *k, *kend;
		char *key = NULL, *value = NULL;
		bool inherited = false;
		/* getStatementStart */
		for (;;) {
			while (p < end && uspace(*p))
				d.line += *p++ == '\n';
			if (p < end && *p == '#') {
				while (p < end && *p != '\n')
					p++;
				continue;
			}
			break;
		}
		if (p >= end)
			break;
		/* locateKeyName */
		if (end - p > 6 && !memcmp(p, "export", 6) && uspace(p[6])) {
			p += 6;
			while (p < end && dspace(*p))
				p++;
		}
		for (k = p; k < end; k++) {
			unsigned char ch = (unsigned char)*k;
			if (dspace(*k))
				continue;
			if (*k == '=' || *k == ':' || *k == '\n')
				break;
			if (name_char(*k) || *k == '.' || *k == '-' || *k == '[' || *k == ']' ||
			    ch >= 0x80)
				continue;
			return dfail(&d, "unexpected character '%c' in variable name", *k);
		}
		inherited = k >= end || *k == '\n';
		for (kend = k; kend > p && uspace(kend[-1]); kend--)
			;
		if (memchr(p, ' ', (size_t)(kend - p)))
			return dfail(&d, "a key cannot contain a space");
		if (!(key = strndup(p, (size_t)(kend - p))))
			return EF_ENOMEM;
		if (inherited) {
			/* `NAME` alone: taken from the lookup when it has it. */
			const char *v = lookup_env ? ef_env_get(lookup_env, key) : NULL;
			d.line++;
			if (v)
				error = ef_env_set(e, key, v);
			p = k < end ? k + 1 : end;
			free(key);
			continue;
		}
		p = k + 1;
		while (p < end && dspace(*p))
			p++;
		/* extractVarValue */
		if (p < end && (*p == '"' || *p == '\'')) {
			char quote = *p;
			ef_buf chars = EF_BUF_INIT(EF_COMPOSE_MAX_ENV_FILE);
			bool esc = false, closed = false;
			unsigned start = d.line;
			for (p++; p < end && error == 0; p++) {
				if (*p == '\n')
					d.line++;
				if (*p != quote) {
					if (!esc && *p == '\\') {
						esc = true;
						continue;
					}
					if (esc)
						esc = false, error = ef_buf_put(&chars, "\\", 1);
					if (error == 0)
						error = ef_buf_put(&chars, p, 1);
					continue;
				}
				if (esc) {
					esc = false;
					error = ef_buf_put(&chars, p, 1);
					continue;
				}
				closed = true;
				p++;
				break;
			}
			if (error == 0 && !closed) {
				d.line = start;
				error = dfail(&d, "unterminated quoted value of %s; close the %c",
				              key, quote);
			}
			error = error ? error : ef_buf_puts(&chars, "");
			if (error == 0 && quote == '"') {
				ef_buf u = EF_BUF_INIT(EF_COMPOSE_MAX_ENV_FILE);
				error = unescape(&u, chars.ptr, chars.len);
				if (error == 0 && (error = ef_buf_puts(&u, "")) == 0)
					error = expand(&d, &value, u.ptr, e, lookup_env);
				ef_buf_dispose(&u);
			} else if (error == 0) {
				value = ef_buf_detach(&chars);
			}
			ef_buf_dispose(&chars);
		} else {
			const char *eol = memchr(p, '\n', (size_t)(end - p)), *vend;
			char *raw;
			if (!eol)
				eol = end;
			vend = eol;
			for (const char *h = p; h + 1 < eol; h++)
				if (h[0] == ' ' && h[1] == '#') {
					vend = h;
					break;
				}
			while (vend > p && uspace(vend[-1]))
				vend--;
			if (!(raw = strndup(p, (size_t)(vend - p))))
				error = EF_ENOMEM;
			else
				error = expand(&d, &value, raw, e, lookup_env);
			free(raw);
			d.line++;
			p = eol < end ? eol + 1 : end;
		}
		if (error == 0)
			error = ef_env_set(e, key, value);
		free(key);
		free(value);
	}
	if (error == EF_ENOMEM || error == EF_ETOOBIG)
		ef_error_set("%s: out of memory or too large", file);
	return error;
}
