/* Lists, maps (environment, labels), argv and ports. */
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
#include <strings.h>

#include "manifest_internal.h"

/* ---------------------------------------------------------------------------
 * Lists and maps. */

int mf_get_string_list(pctx *c, const cJSON *it, size_t max, char ***out)
{
	char **v = NULL;
	size_t i = 0;
	int error = 0;

	if (!cJSON_IsArray(it))
		return mf_fail(c, EF_EINVALID, "expected an array of strings, found %s",
		               mf_type_name(it));
	if ((size_t)cJSON_GetArraySize(it) > max)
		return mf_fail(c, EF_ETOOBIG, "%d entries; at most %zu are supported",
		               cJSON_GetArraySize(it), max);
	for (const cJSON *e = it->child; e; e = e->next, i++) {
		size_t saved = mf_push_index(c, i);
		if (!cJSON_IsString(e))
			error = mf_fail(c, EF_EINVALID, "expected a string, found %s",
			                mf_type_name(e));
		else if (ef_strv_push(&v, e->valuestring) < 0)
			error = mf_fail(c, EF_ENOMEM, "out of memory");
		mf_pop(c, saved);
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
		error = mf_fail(c, EF_EINVALID, "unterminated %s quote",
		                quote == '"' ? "double" : "single");
	else if (error == EF_ETOOBIG)
		error = mf_fail(c, EF_ETOOBIG, "more than %d words", MAX_ARGS);
	else if (error < 0)
		error = mf_fail(c, EF_ENOMEM, "out of memory");
	else if (in_word && (error = ef_strv_push_owned(&v, ef_buf_detach(&w))) < 0)
		error = mf_fail(c, EF_ENOMEM, "out of memory");
	else if (!v && !(v = calloc(1, sizeof(*v))))
		error = mf_fail(c, EF_ENOMEM, "out of memory");
	ef_buf_dispose(&w);
	if (error < 0) {
		ef_strv_free(v);
		return error;
	}
	ef_strv_free(*out);
	*out = v;
	return 0;
}

/* command / entrypoint: null (not set), a string (split like a shell), or an
 * array. An empty array or a string of no words is set and empty (a
 * NULL-terminated vector of no strings), as Compose passes it on: an empty
 * entrypoint clears the image's, an empty command takes the image's. */
int mf_get_argv(pctx *c, const cJSON *it, char ***out)
{
	int error;

	if (cJSON_IsNull(it))
		return 0;
	if (cJSON_IsString(it))
		return shell_split(c, it->valuestring, out);
	if (!cJSON_IsArray(it))
		return mf_fail(c, EF_EINVALID, "expected an array of strings or a string, found %s",
		               mf_type_name(it));
	if ((error = mf_get_string_list(c, it, MAX_ARGS, out)) < 0)
		return error;
	if (!*out && !(*out = calloc(1, sizeof(**out))))
		return mf_fail(c, EF_ENOMEM, "out of memory");
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

/* Removes the entries of v ("K=V") whose name is that of kv ("K=..." or "K"):
 * in the list form a name given again replaces the earlier one, as Compose
 * reads it. */
static void drop_name(char **v, const char *kv)
{
	size_t j = 0;

	for (size_t i = 0; v && v[i]; i++) {
		if (cmp_kv(&v[i], &kv) == 0)
			free(v[i]);
		else
			v[j++] = v[i];
	}
	if (v)
		v[j] = NULL;
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
	else if (mf_whole_number(v, -9007199254740992.0, 9007199254740992.0, &n)) {
		snprintf(tmp, tmpsize, "%lld", (long long)n);
		*out = tmp;
	} else if (cJSON_IsNumber(v)) {
		snprintf(tmp, tmpsize, "%.17g", v->valuedouble);
		*out = tmp;
	} else
		return EF_EINVALID;
	return 0;
}

/* environment, labels and options: an object {K: V} (V string, number, bool or
 * null) or a list ["K=V", "K"]. Stored as sorted "K=V" strings. KV_ENV: a
 * variable without a value (`K`, `K: null`) is left out (unset, as Compose
 * does); KV_LABELS: it is the empty string; KV_OPTS: it is an error. */
int mf_get_kv(pctx *c, const cJSON *it, size_t max, int mode, char ***out)
{
	const bool labels = mode == KV_LABELS;
	const char *what = mode == KV_ENV ? "variables" : labels ? "labels" : "entries";
	char **v = NULL;
	size_t i = 0, n;
	int error = 0;

	if (cJSON_IsObject(it)) {
		if ((error = mf_check_members(c, it, max, what)) < 0)
			return error;
	} else if (cJSON_IsArray(it)) {
		if ((size_t)cJSON_GetArraySize(it) > max)
			return mf_fail(c, EF_ETOOBIG, "%d %s; at most %zu are supported",
			               cJSON_GetArraySize(it), what, max);
	} else {
		return mf_fail(c, EF_EINVALID,
		               "expected an object or an array of \"KEY=VALUE\", "
		               "found %s",
		               mf_type_name(it));
	}
	for (const cJSON *e = it->child; e; e = e->next, i++) {
		char tmp[64], *kv = NULL;
		const char *val = NULL;
		size_t saved;

		if (cJSON_IsObject(it)) {
			saved = mf_push_key(c, e->string);
			if (cJSON_IsNull(e) && mode == KV_ENV && e->string[0] &&
			    !strchr(e->string, '=')) {
				mf_pop(c, saved);
				continue;
			}
			if (cJSON_IsNull(e) && mode == KV_OPTS)
				error = mf_fail(c, EF_EINVALID, "expected a value, found null");
			else if (scalar_string(e, tmp, sizeof(tmp), &val) < 0)
				error = mf_fail(
				        c, EF_EINVALID,
				        "expected a string, number, boolean or null, found %s",
				        mf_type_name(e));
			else if (!e->string[0] || strchr(e->string, '='))
				error = mf_fail(
				        c, EF_EINVALID,
				        "the name must be non-empty and must not contain '='");
			else if (!(kv = mf_str_printf("%s=%s", e->string, val)))
				error = mf_fail(c, EF_ENOMEM, "out of memory");
		} else {
			saved = mf_push_index(c, i);
			if (!cJSON_IsString(e))
				error = mf_fail(c, EF_EINVALID,
				                "expected a \"KEY=VALUE\" string, found %s",
				                mf_type_name(e));
			else if (e->valuestring[0] == '=' || e->valuestring[0] == '\0')
				error = mf_fail(c, EF_EINVALID, "'%s' has no name before '='",
				                e->valuestring);
			else if (!strchr(e->valuestring, '=') && mode == KV_ENV) {
				drop_name(v, e->valuestring); /* unset: "A=1", "A" */
				mf_pop(c, saved);
				continue;
			} else if (!strchr(e->valuestring, '=') && mode == KV_OPTS)
				error = mf_fail(c, EF_EINVALID, "'%s' has no '=VALUE'",
				                e->valuestring);
			else if (!(kv = mf_str_printf("%s%s", e->valuestring,
			                              strchr(e->valuestring, '=') ? "" : "=")))
				error = mf_fail(c, EF_ENOMEM, "out of memory");
		}
		if (error == 0 && labels &&
		    strncmp(kv, RESERVED_LABEL_PFX, strlen(RESERVED_LABEL_PFX)) == 0)
			error = mf_fail(c, EF_EINVALID,
			                "labels starting with '" RESERVED_LABEL_PFX
			                "' are reserved for edgeflip's own bookkeeping; rename it");
		if (error == 0 && (labels ? mf_has_ctl(kv) : mf_has_ctl_n(kv, key_len(kv))))
			error = mf_fail(c, EF_EINVALID, "control characters are not allowed in %s",
			                labels ? "labels" : "names");
		mf_pop(c, saved);
		if (error == 0)
			drop_name(v, kv);
		if (error == 0 && (error = ef_strv_push_owned(&v, kv)) < 0)
			error = mf_fail(c, EF_ENOMEM, "out of memory");
		else if (error < 0)
			free(kv);
		if (error < 0)
			goto out;
	}
	n = ef_strv_len(v);
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_kv);
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
	return mf_fail(c, EF_EINVALID, "'%s' is not an IPv4 or IPv6 address", ip);
}

/* "tcp" or "udp", in any case ("53:53/UDP"): compose-go lower-cases it. */
static int set_protocol(pctx *c, ef_port *p, const char *proto)
{
	if (strcasecmp(proto, "tcp") && strcasecmp(proto, "udp"))
		return mf_fail(c, EF_EINVALID, "protocol '%s' is not supported (use tcp or udp)",
		               proto);
	snprintf(p->protocol, sizeof(p->protocol), "%s", strcasecmp(proto, "tcp") ? "udp" : "tcp");
	return 0;
}

static int short_port_number(pctx *c, const char *s, const char *spec, uint16_t *out)
{
	uint64_t v;

	if (!mf_digits_number(s, 1, 65535, &v))
		return mf_fail(c, EF_EINVALID,
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
		return mf_fail(c, EF_ENOMEM, "out of memory");
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
			error = mf_fail(c, EF_EINVALID, "'%s': expected [IPv6]:host:container",
			                spec);
			goto out;
		}
		*close = '\0';
		parts[np++] = rest + 1;
		rest = close + 2;
	}
	for (;;) {
		char *colon = strchr(rest, ':');
		if (np == 3) {
			error = mf_fail(c, EF_EINVALID,
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
		error = mf_fail(c, EF_EINVALID, "'%s': expected [IPv6]:host:container", spec);
		goto out;
	}
	if ((error = short_port_number(c, parts[np - 1], spec, &p->container_port)) < 0)
		goto out;
	if (np >= 2) {
		if (parts[np - 2][0] == '\0') {
			error = mf_fail(
			        c, EF_EINVALID,
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
			error = mf_fail(c, EF_ENOMEM, "out of memory");
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
	static const char *const keys[] = {"target", "published", "host_ip",      "protocol",
	                                   "mode",   "name",      "app_protocol", NULL};
	const cJSON *v;
	size_t saved;
	int error;

	if ((error = mf_check_keys(c, it, keys, false)) < 0)
		return error;
	/* name and app_protocol only describe the port (for tools and people) */
	for (const char *const *k = (const char *const[]){"name", "app_protocol", NULL}; *k; k++)
		if ((v = mf_member(it, *k)) && !cJSON_IsString(v))
			return mf_fail_at(c, *k, "expected a string, found %s", mf_type_name(v));
	snprintf(p->protocol, sizeof(p->protocol), "tcp");
	if (!(v = mf_member(it, "target")))
		return mf_fail_at(c, "target", "missing; give the container port");
	saved = mf_push_key(c, "target");
	error = mf_get_port(c, v, &p->container_port);
	mf_pop(c, saved);
	if (error < 0)
		return error;
	v = mf_member(it, "published");
	if (v && !cJSON_IsNull(v) && !(cJSON_IsString(v) && v->valuestring[0] == '\0')) {
		saved = mf_push_key(c, "published");
		error = mf_get_port(c, v, &p->host_port);
		mf_pop(c, saved);
		if (error < 0)
			return error;
	}
	if ((v = mf_member(it, "host_ip")) && !cJSON_IsNull(v)) {
		saved = mf_push_key(c, "host_ip");
		if ((error = mf_get_string(c, v, &p->host_ip)) == 0 && p->host_ip[0] == '\0') {
			free(p->host_ip);
			p->host_ip = NULL;
		} else if (error == 0) {
			error = check_host_ip(c, p->host_ip);
		}
		mf_pop(c, saved);
		if (error < 0)
			return error;
	}
	if ((v = mf_member(it, "protocol"))) {
		saved = mf_push_key(c, "protocol");
		if (!cJSON_IsString(v))
			error = mf_fail(c, EF_EINVALID, "expected \"tcp\" or \"udp\"");
		else
			error = set_protocol(c, p, v->valuestring);
		mf_pop(c, saved);
		if (error < 0)
			return error;
	}
	if ((v = mf_member(it, "mode")) &&
	    !(cJSON_IsString(v) &&
	      (!strcmp(v->valuestring, "ingress") || !strcmp(v->valuestring, "host"))))
		return mf_fail_at(c, "mode", "expected \"ingress\" or \"host\"");
	if (p->host_ip && !p->host_port)
		return mf_fail(c, EF_EINVALID,
		               "host_ip is set but published is not; give the host "
		               "port");
	return 0;
}

/* "A-B" or "A": 0 and the bounds, or -1. */
static int port_range(const char *s, uint64_t *lo, uint64_t *hi)
{
	const char *dash = strchr(s, '-');
	char a[8], b[8];

	if (!dash) {
		if (!mf_digits_number(s, 1, 65535, lo))
			return -1;
		*hi = *lo;
		return 0;
	}
	if ((size_t)(dash - s) >= sizeof(a) || strlen(dash + 1) >= sizeof(b))
		return -1;
	memcpy(a, s, (size_t)(dash - s));
	a[dash - s] = '\0';
	snprintf(b, sizeof(b), "%s", dash + 1);
	return mf_digits_number(a, 1, 65535, lo) && mf_digits_number(b, 1, 65535, hi) && *lo <= *hi
	               ? 0
	               : -1;
}

/* A short-syntax range, "[IP:]A-B:C-D[/proto]" or "C-D[/proto]", as the
 * single mappings it stands for ("IP:A:C/proto", ...): *out NULL when spec
 * has no range. Host and container ranges have one length: edgeflip
 * publishes fixed host ports, so Compose's "8000-8010:80" (any free one of
 * them) is refused. */
static int expand_port_range(pctx *c, const char *spec, char ***out)
{
	char *s = strdup(spec), *proto, *cpart, *host = NULL, *ip = NULL, *colon;
	uint64_t clo, chi, hlo = 0, hhi = 0;
	int error = 0;

	*out = NULL;
	if (!s)
		return mf_fail(c, EF_ENOMEM, "out of memory");
	if ((proto = strrchr(s, '/')))
		*proto++ = '\0';
	cpart = (colon = strrchr(s, ':')) ? colon + 1 : s;
	if (colon) {
		*colon = '\0';
		host = (colon = strrchr(s, ':')) && colon > strrchr(s, ']') ? colon + 1 : s;
		if (host != s) {
			*colon = '\0';
			ip = s;
		} else if (s[0] == '[') {
			host = NULL; /* "[::1]:80": parse_short_port says what is wrong */
		}
	}
	if (!strchr(cpart, '-') && !(host && strchr(host, '-')))
		goto out;
	if (port_range(cpart, &clo, &chi) < 0 || (host && port_range(host, &hlo, &hhi) < 0)) {
		error = mf_fail(c, EF_EINVALID,
		                "'%s' is not a port range mapping (use \"8000-8010:8000-8010\", "
		                "ports 1-65535, the lower first)",
		                spec);
		goto out;
	}
	if (host && hhi - hlo != chi - clo) {
		error = mf_fail(c, EF_EINVALID,
		                "'%s': the host range and the container range differ in length; "
		                "edgeflip publishes fixed host ports, one for each container port",
		                spec);
		goto out;
	}
	if (chi - clo >= MAX_PORTS) {
		error = mf_fail(c, EF_ETOOBIG, "'%s': %llu ports; at most %d are supported", spec,
		                (unsigned long long)(chi - clo + 1), MAX_PORTS);
		goto out;
	}
	for (uint64_t k = 0; k <= chi - clo && error == 0; k++) {
		char *one = host ? mf_str_printf("%s%s%llu:%llu%s%s", ip ? ip : "", ip ? ":" : "",
		                                 (unsigned long long)(hlo + k),
		                                 (unsigned long long)(clo + k), proto ? "/" : "",
		                                 proto ? proto : "")
		                 : mf_str_printf("%llu%s%s", (unsigned long long)(clo + k),
		                                 proto ? "/" : "", proto ? proto : "");
		if (!one || ef_strv_push_owned(out, one) < 0)
			error = mf_fail(c, EF_ENOMEM, "out of memory");
	}
out:
	free(s);
	if (error < 0) {
		ef_strv_free(*out);
		*out = NULL;
	}
	return error;
}

/* Adds one mapping (a string, a number or an object) to s->ports; the same
 * binding written twice is one binding, as the engine's port map makes it
 * (a file that lists "1883:1883" twice). */
static int add_port(pctx *c, const cJSON *e, const char *str, ef_service *s)
{
	ef_port *p, *v;
	int error;

	if (s->nports >= MAX_PORTS)
		return mf_fail(c, EF_ETOOBIG, "more than %d ports; at most %d are supported",
		               MAX_PORTS, MAX_PORTS);
	if (!(v = realloc(s->ports, (s->nports + 1) * sizeof(*v))))
		return mf_fail(c, EF_ENOMEM, "out of memory");
	s->ports = v;
	p = &s->ports[s->nports++];
	memset(p, 0, sizeof(*p));
	if (str)
		error = parse_short_port(c, str, p);
	else if (cJSON_IsNumber(e))
		error = mf_get_port(c, e, &p->container_port);
	else if (cJSON_IsObject(e))
		error = parse_long_port(c, e, p);
	else
		error = mf_fail(c, EF_EINVALID,
		                "expected a \"HOST:CONTAINER\" string or an object {target, "
		                "published, ...}, found %s",
		                mf_type_name(e));
	if (error == 0 && !p->protocol[0])
		snprintf(p->protocol, sizeof(p->protocol), "tcp");
	if (error < 0)
		return error;
	for (size_t k = 0; k + 1 < s->nports; k++) {
		const ef_port *o = &s->ports[k];
		if (o->host_port == p->host_port && o->container_port == p->container_port &&
		    !strcmp(o->protocol, p->protocol) &&
		    (o->host_ip && p->host_ip ? !strcmp(o->host_ip, p->host_ip)
		                              : o->host_ip == p->host_ip)) {
			free(p->host_ip);
			s->nports--;
			break;
		}
	}
	return 0;
}

int mf_get_ports(pctx *c, const cJSON *it, ef_service *s)
{
	size_t i = 0, n;
	int error = 0;

	if (!cJSON_IsArray(it))
		return mf_fail(c, EF_EINVALID, "expected an array, found %s", mf_type_name(it));
	n = (size_t)cJSON_GetArraySize(it);
	if (n > MAX_PORTS)
		return mf_fail(c, EF_ETOOBIG, "%zu ports; at most %d are supported", n, MAX_PORTS);
	for (const cJSON *e = it->child; e && error == 0; e = e->next, i++) {
		size_t saved = mf_push_index(c, i);
		char **range = NULL;

		if (cJSON_IsString(e) &&
		    (error = expand_port_range(c, e->valuestring, &range)) == 0 && range) {
			for (size_t k = 0; range[k] && error == 0; k++)
				error = add_port(c, e, range[k], s);
		} else if (error == 0) {
			error = add_port(c, e, cJSON_IsString(e) ? e->valuestring : NULL, s);
		}
		ef_strv_free(range);
		mf_pop(c, saved);
	}
	return error;
}
