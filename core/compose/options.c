/* The Compose service keys beyond the original subset (issue 10): depends_on,
 * networks, expose, container_name, secrets and configs, tmpfs, stop and init
 * settings, names and addresses, kernel settings, logging, resources,
 * platform, profiles, env_file, deploy. See docs/manifest.md. */
#include "edgeflip/manifest.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "manifest_internal.h"

#define MAX_NETWORKS 32
#define MAX_REFS     64

static int oom(pctx *c)
{
	return mf_fail(c, EF_ENOMEM, "out of memory");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void mf_sort_strv(char **v)
{
	size_t n = ef_strv_len(v);

	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_str);
}

/* A name: letters, digits and `extra`, starting with a letter or digit. */
bool mf_valid_name(const char *s, const char *extra, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max || !mf_is_alnum(s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!mf_is_alnum(s[i]) && !strchr(extra, s[i]))
			return false;
	return true;
}

/* A string that names something: non-empty, no control characters. */
int mf_get_name(pctx *c, const cJSON *it, char **out)
{
	int error = mf_get_nonempty_string(c, it, out);

	if (error == 0 && mf_has_ctl(*out))
		return mf_fail(c, EF_EINVALID,
		               "control characters are not allowed here; write a plain name");
	return error;
}

/* A string, or a list of strings (`dns: 1.1.1.1` or `dns: [..]`). */
int mf_get_string_or_list(pctx *c, const cJSON *it, size_t max, char ***out)
{
	if (cJSON_IsString(it)) {
		char **v = NULL;
		if (ef_strv_push(&v, it->valuestring) < 0)
			return oom(c);
		ef_strv_free(*out);
		*out = v;
		return 0;
	}
	return mf_get_string_list(c, it, max, out);
}

/* A number of bytes, or a size such as "512m" (binary units). */
int mf_get_size(pctx *c, const cJSON *it, int64_t *out)
{
	int64_t n;

	if (mf_whole_number(it, 0, 9.2e18, &n)) {
		*out = n;
		return 0;
	}
	if (cJSON_IsString(it) && mf_parse_mem(out, it->valuestring) == 0)
		return 0;
	return mf_fail(c, EF_EINVALID,
	               "expected a number of bytes or a size such as \"512m\", \"1g\" or \"256k\"");
}

/* A relative path inside the environment directory, normalised: "./a//b/" ->
 * "a/b", "." for the directory itself. ".." that leaves the directory, "~"
 * and absolute paths are refused. */
int mf_rel_path(pctx *c, const char *raw, const char *what, char **out)
{
	ef_buf b = EF_BUF_INIT(4096);
	size_t depth = 0;
	const char *p = raw;
	int error = 0;

	if (raw[0] == '~')
		return mf_fail(c, EF_EINVALID,
		               "%s '%s' starts with '~': only a bind source may (it is the "
		               "environment's home directory on the device); use a path relative "
		               "to the environment directory (./x)",
		               what, raw);
	if (raw[0] == '/' || mf_has_ctl(raw))
		return mf_fail(c, EF_EINVALID,
		               "%s '%s' must be a relative path without control "
		               "characters",
		               what, raw);
	while (*p && error == 0) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.')) {
			/* skip */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (depth == 0) {
				ef_buf_dispose(&b);
				return mf_fail(
				        c, EF_EINVALID,
				        "%s '%s' leaves the environment directory; keep the "
				        "file inside it (or use an absolute path, checked by "
				        "the device policy)",
				        what, raw);
			}
			/* drop the last component */
			while (b.len && b.ptr[b.len - 1] != '/')
				b.len--;
			if (b.len)
				b.len--;
			depth--;
		} else {
			if (b.len)
				error = ef_buf_put(&b, "/", 1);
			if (error == 0)
				error = ef_buf_put(&b, p, n);
			depth++;
		}
		p += n;
		if (*p == '/')
			p++;
	}
	if (error == 0 && b.len == 0)
		error = ef_buf_put(&b, ".", 1);
	if (error < 0) {
		ef_buf_dispose(&b);
		return oom(c);
	}
	free(*out);
	*out = ef_buf_detach(&b);
	return *out ? 0 : oom(c);
}

static bool is_rel_source(const char *s)
{
	return s[0] == '.' || s[0] == '~';
}

/* ---------------------------------------------------------------------------
 * depends_on */

static const char *const conditions[] = {"service_started", "service_healthy",
                                         "service_completed_successfully", NULL};

static int depends_long(pctx *c, const cJSON *e, ef_depends *d)
{
	static const char *const keys[] = {"condition", "restart", "required", NULL};
	const cJSON *v;
	size_t saved;
	int error;

	d->required = true;
	if ((error = mf_check_keys(c, e, keys, false)) < 0)
		return error;
	if ((v = mf_member(e, "condition"))) {
		size_t i;
		for (i = 0; conditions[i]; i++)
			if (cJSON_IsString(v) && !strcmp(v->valuestring, conditions[i]))
				break;
		if (!conditions[i])
			return mf_fail_at(c, "condition",
			                  "expected \"service_started\", \"service_healthy\" or "
			                  "\"service_completed_successfully\"");
		d->condition = (ef_dep_condition)i;
	}
	if ((v = mf_member(e, "restart"))) {
		saved = mf_push_key(c, "restart");
		error = mf_get_bool(c, v, &d->restart);
		mf_pop(c, saved);
		if (error < 0)
			return error;
	}
	if ((v = mf_member(e, "required"))) {
		saved = mf_push_key(c, "required");
		error = mf_get_bool(c, v, &d->required);
		mf_pop(c, saved);
	}
	return error;
}

static int cmp_dep(const void *a, const void *b)
{
	return strcmp(((const ef_depends *)a)->service, ((const ef_depends *)b)->service);
}

int mf_f_depends_on(pctx *c, svc_ctx *sc, const cJSON *it)
{
	ef_service *s = sc->s;
	size_t n, i = 0;
	int error = 0, first = 0;

	if (!cJSON_IsArray(it) && !cJSON_IsObject(it))
		return mf_fail(c, EF_EINVALID,
		               "expected a list of service names or an object {service: "
		               "{condition: ...}}, found %s",
		               mf_type_name(it));
	if (cJSON_IsObject(it) && (error = mf_check_members(c, it, MAX_SERVICES, "services")) < 0)
		return error;
	n = (size_t)cJSON_GetArraySize(it);
	if (n > MAX_SERVICES)
		return mf_fail(c, EF_ETOOBIG, "%zu entries; at most %d", n, MAX_SERVICES);
	if (n == 0)
		return 0;
	if (!(s->depends_on = calloc(n, sizeof(*s->depends_on))))
		return oom(c);
	for (const cJSON *e = it->child; e; e = e->next, i++) {
		ef_depends *d = &s->depends_on[s->ndepends_on];
		const char *name = cJSON_IsObject(it) ? e->string : NULL;
		size_t saved = cJSON_IsObject(it) ? mf_push_key(c, e->string) : mf_push_index(c, i);

		error = 0;
		d->required = true;
		if (!name && !cJSON_IsString(e))
			error = mf_fail(c, EF_EINVALID, "expected a service name, found %s",
			                mf_type_name(e));
		else if (!name)
			name = e->valuestring;
		if (error == 0 && !mf_valid_name(name, "_.-", MAX_SERVICE_NAME))
			error = mf_fail(c, EF_EINVALID, "'%s' is not a valid service name", name);
		if (error == 0 && cJSON_IsObject(it) && !cJSON_IsNull(e))
			error = depends_long(c, e, d);
		if (error == 0 && strcmp(name, s->name) == 0)
			error = mf_fail(c, EF_EINVALID, "a service cannot depend on itself");
		for (size_t k = 0; error == 0 && k < s->ndepends_on; k++)
			if (!strcmp(s->depends_on[k].service, name))
				error = mf_fail(c, EF_EINVALID, "'%s' is listed twice", name);
		if (error == 0 && !(d->service = strdup(name)))
			error = oom(c);
		if (error == 0)
			s->ndepends_on++;
		else if (!first)
			first = error;
		mf_pop(c, saved);
	}
	if (s->ndepends_on > 1)
		qsort(s->depends_on, s->ndepends_on, sizeof(*s->depends_on), cmp_dep);
	return first;
}

/* ---------------------------------------------------------------------------
 * networks (per service) */

static int cmp_net(const void *a, const void *b)
{
	return strcmp(((const ef_service_net *)a)->network, ((const ef_service_net *)b)->network);
}

static int network_attach(pctx *c, const cJSON *e, ef_service_net *sn)
{
	static const char *const keys[] = {"aliases",     "ipv4_address",   "ipv6_address",
	                                   "priority",    "link_local_ips", "mac_address",
	                                   "driver_opts", "gw_priority",    NULL};
	const cJSON *v;
	int64_t n;
	int error;

	if (cJSON_IsNull(e))
		return 0;
	if ((error = mf_check_keys(c, e, keys, false)) < 0)
		return error;
	if ((v = mf_member(e, "aliases"))) {
		size_t saved = mf_push_key(c, "aliases");
		error = mf_get_string_list(c, v, MAX_LIST, &sn->aliases);
		for (size_t i = 0; error == 0 && sn->aliases && sn->aliases[i]; i++)
			if (!mf_valid_name(sn->aliases[i], "_.-", 253)) {
				size_t s2 = mf_push_index(c, i);
				error = mf_fail(c, EF_EINVALID, "'%s' is not a host name",
				                sn->aliases[i]);
				mf_pop(c, s2);
			}
		mf_sort_strv(sn->aliases);
		mf_pop(c, saved);
		if (error < 0)
			return error;
	}
	for (size_t i = 1; i < 3; i++) {
		const char *fam = i == 1 ? "IPv4" : "IPv6";
		char **slot = i == 1 ? &sn->ipv4_address : &sn->ipv6_address;
		unsigned char addr[16];
		if (!(v = mf_member(e, keys[i])))
			continue;
		if (!cJSON_IsString(v) ||
		    inet_pton(i == 1 ? AF_INET : AF_INET6, v->valuestring, addr) != 1)
			return mf_fail_at(c, keys[i], "expected an %s address", fam);
		if (!(*slot = strdup(v->valuestring)))
			return oom(c);
	}
	for (size_t i = 4; i < 6; i++)
		if (mf_member(e, keys[i]))
			return mf_fail_at(
			        c, keys[i],
			        "not supported: blue and green instances run side by side "
			        "and cannot share it; remove it");
	if ((v = mf_member(e, "driver_opts")))
		return mf_fail_at(c, "driver_opts",
		                  "per-attachment driver options are not "
		                  "supported; remove them");
	if ((v = mf_member(e, "priority")) || (v = mf_member(e, "gw_priority"))) {
		if (!mf_whole_number(v, -1000000, 1000000, &n))
			return mf_fail_at(c, v->string, "expected a whole number");
		sn->priority = (int)n;
	}
	return 0;
}

int mf_f_networks(pctx *c, svc_ctx *sc, const cJSON *it)
{
	ef_service *s = sc->s;
	size_t n, i = 0;
	int error = 0, first = 0;

	sc->have_networks = true;
	if (!cJSON_IsArray(it) && !cJSON_IsObject(it))
		return mf_fail(c, EF_EINVALID,
		               "expected a list of network names or an object {network: {aliases: "
		               "[...]}}, found %s",
		               mf_type_name(it));
	if (cJSON_IsObject(it) && (error = mf_check_members(c, it, MAX_NETWORKS, "networks")) < 0)
		return error;
	n = (size_t)cJSON_GetArraySize(it);
	if (n > MAX_NETWORKS)
		return mf_fail(c, EF_ETOOBIG, "%zu networks; at most %d", n, MAX_NETWORKS);
	if (n == 0)
		return 0;
	if (!(s->networks = calloc(n, sizeof(*s->networks))))
		return oom(c);
	for (const cJSON *e = it->child; e; e = e->next, i++) {
		ef_service_net *sn = &s->networks[s->nnetworks];
		const char *name = cJSON_IsObject(it) ? e->string : NULL;
		size_t saved = cJSON_IsObject(it) ? mf_push_key(c, e->string) : mf_push_index(c, i);

		error = 0;
		if (!name && !cJSON_IsString(e))
			error = mf_fail(c, EF_EINVALID, "expected a network name, found %s",
			                mf_type_name(e));
		else if (!name)
			name = e->valuestring;
		if (error == 0 && !mf_valid_name(name, "_.-", 64))
			error = mf_fail(c, EF_EINVALID, "'%s' is not a valid network name", name);
		for (size_t k = 0; error == 0 && k < s->nnetworks; k++)
			if (!strcmp(s->networks[k].network, name))
				error = mf_fail(c, EF_EINVALID, "'%s' is listed twice", name);
		if (error == 0 && cJSON_IsObject(it))
			error = network_attach(c, e, sn);
		if (error == 0 && !(sn->network = strdup(name)))
			error = oom(c);
		if (error == 0)
			s->nnetworks++;
		else {
			ef_strv_free(sn->aliases);
			free(sn->ipv4_address);
			free(sn->ipv6_address);
			memset(sn, 0, sizeof(*sn));
			if (!first)
				first = error;
		}
		mf_pop(c, saved);
	}
	if (s->nnetworks > 1)
		qsort(s->networks, s->nnetworks, sizeof(*s->networks), cmp_net);
	return first;
}

/* ---------------------------------------------------------------------------
 * expose */

static int cmp_port(const void *a, const void *b)
{
	const ef_port *x = a, *y = b;

	if (x->container_port != y->container_port)
		return x->container_port < y->container_port ? -1 : 1;
	return strcmp(x->protocol, y->protocol);
}

int mf_f_expose(pctx *c, svc_ctx *sc, const cJSON *it)
{
	ef_service *s = sc->s;
	size_t i = 0;
	int error = 0;

	if (!cJSON_IsArray(it))
		return mf_fail(c, EF_EINVALID, "expected a list of ports, found %s",
		               mf_type_name(it));
	for (const cJSON *e = it->child; e && error == 0; e = e->next, i++) {
		size_t saved = mf_push_index(c, i);
		char buf[64], proto[4] = "tcp", *slash, *dash;
		uint64_t lo, hi;
		int64_t num;

		if (mf_whole_number(e, 1, 65535, &num))
			snprintf(buf, sizeof(buf), "%lld", (long long)num);
		else if (cJSON_IsString(e) && strlen(e->valuestring) < sizeof(buf))
			snprintf(buf, sizeof(buf), "%s", e->valuestring);
		else
			buf[0] = '\0';
		if ((slash = strchr(buf, '/'))) {
			*slash = '\0';
			if (strcmp(slash + 1, "tcp") && strcmp(slash + 1, "udp"))
				buf[0] = '\0';
			else
				snprintf(proto, sizeof(proto), "%s", slash + 1);
		}
		if ((dash = strchr(buf, '-')))
			*dash = '\0';
		if (!mf_digits_number(buf, 1, 65535, &lo) ||
		    !mf_digits_number(dash ? dash + 1 : buf, lo, 65535, &hi)) {
			error = mf_fail(c, EF_EINVALID,
			                "expected a container port such as 80, \"80/udp\" or "
			                "\"8000-8010\" (ports 1-65535, the range ascending)");
		} else if (s->nexpose + (hi - lo + 1) > MAX_PORTS) {
			error = mf_fail(c, EF_ETOOBIG, "more than %d exposed ports", MAX_PORTS);
		} else {
			ef_port *np =
			        realloc(s->expose, (s->nexpose + (hi - lo + 1)) * sizeof(*np));
			if (!np)
				error = oom(c);
			else {
				s->expose = np;
				for (uint64_t p = lo; p <= hi; p++) {
					ef_port *q = &s->expose[s->nexpose++];
					memset(q, 0, sizeof(*q));
					q->container_port = (uint16_t)p;
					snprintf(q->protocol, sizeof(q->protocol), "%s", proto);
				}
			}
		}
		mf_pop(c, saved);
	}
	if (s->nexpose > 1)
		qsort(s->expose, s->nexpose, sizeof(*s->expose), cmp_port);
	/* the same port twice is one port */
	for (size_t k = 1; s->nexpose > 1 && k < s->nexpose;) {
		if (cmp_port(&s->expose[k - 1], &s->expose[k]) == 0) {
			memmove(&s->expose[k], &s->expose[k + 1],
			        (s->nexpose - k - 1) * sizeof(*s->expose));
			s->nexpose--;
		} else
			k++;
	}
	return error;
}

int mf_f_container_name(pctx *c, svc_ctx *sc, const cJSON *it)
{
	int error = mf_get_name(c, it, &sc->s->container_name);

	if (error == 0 && !mf_valid_name(sc->s->container_name, "_.-", 128))
		return mf_fail(
		        c, EF_EINVALID,
		        "'%s' is not a valid container name (letters, digits, '_', '.', '-', "
		        "starting with a letter or digit)",
		        sc->s->container_name);
	return error;
}

/* ---------------------------------------------------------------------------
 * secrets and configs (per service) */

static int cmp_ref(const void *a, const void *b)
{
	return strcmp(((const ef_file_ref *)a)->target, ((const ef_file_ref *)b)->target);
}

static int file_ref_long(pctx *c, const cJSON *e, ef_file_ref *r)
{
	static const char *const keys[] = {"source", "target", "uid", "gid", "mode", NULL};
	const cJSON *v;
	int error;

	if ((error = mf_check_keys(c, e, keys, false)) < 0)
		return error;
	if (!(v = mf_member(e, "source")))
		return mf_fail_at(c, "source", "missing; name the top-level entry");
	if ((error = mf_get_name(c, v, &r->source)) < 0)
		return error;
	if ((v = mf_member(e, "target"))) {
		size_t saved = mf_push_key(c, "target");
		error = mf_get_name(c, v, &r->target);
		mf_pop(c, saved);
		if (error < 0)
			return error;
	}
	for (int k = 0; k < 2; k++) {
		const char *key = k ? "gid" : "uid";
		char **slot = k ? &r->gid : &r->uid;
		uint64_t u;
		if (!(v = mf_member(e, key)))
			continue;
		if (!cJSON_IsString(v) || !mf_digits_number(v->valuestring, 0, 4294967295ULL, &u))
			return mf_fail_at(c, key,
			                  "expected a number as a string, such as \"1000\"");
		if (!(*slot = strdup(v->valuestring)))
			return oom(c);
	}
	if ((v = mf_member(e, "mode"))) {
		int64_t m;
		uint64_t u;
		if (mf_whole_number(v, 0, 07777, &m))
			r->mode = (uint32_t)m;
		else if (cJSON_IsString(v) && v->valuestring[0] == '0' &&
		         strspn(v->valuestring, "01234567") == strlen(v->valuestring) &&
		         strlen(v->valuestring) <= 5) {
			u = strtoull(v->valuestring, NULL, 8);
			r->mode = (uint32_t)u;
		} else
			return mf_fail_at(c, "mode",
			                  "expected permission bits such as 0440 (a number, or an "
			                  "octal string \"0440\")");
	}
	return 0;
}

static int file_refs(pctx *c, const cJSON *it, bool secret, ef_file_ref **out, size_t *nout)
{
	size_t i = 0, n;
	int error = 0, first = 0;

	if (!cJSON_IsArray(it))
		return mf_fail(c, EF_EINVALID,
		               "expected a list of names or {source, target, ...}, "
		               "found %s",
		               mf_type_name(it));
	n = (size_t)cJSON_GetArraySize(it);
	if (n > MAX_REFS)
		return mf_fail(c, EF_ETOOBIG, "%zu entries; at most %d", n, MAX_REFS);
	if (n == 0)
		return 0;
	if (!(*out = calloc(n, sizeof(**out))))
		return oom(c);
	for (const cJSON *e = it->child; e; e = e->next, i++) {
		ef_file_ref *r = &(*out)[*nout];
		size_t saved = mf_push_index(c, i);

		r->mode = 0444;
		if (cJSON_IsString(e))
			error = mf_get_name(c, e, &r->source);
		else if (cJSON_IsObject(e))
			error = file_ref_long(c, e, r);
		else
			error = mf_fail(c, EF_EINVALID,
			                "expected a name or {source, target, ...}, "
			                "found %s",
			                mf_type_name(e));
		if (error == 0 && !r->target)
			r->target = secret ? mf_str_printf("/run/secrets/%s", r->source)
			                   : mf_str_printf("/%s", r->source);
		else if (error == 0 && secret && r->target[0] != '/') {
			char *t = mf_str_printf("/run/secrets/%s", r->target);
			free(r->target);
			r->target = t;
		}
		if (error == 0 && !r->target)
			error = oom(c);
		if (error == 0 && (r->target[0] != '/' || strstr(r->target, "/../") ||
		                   !strcmp(r->target + strlen(r->target) - 3, "/..")))
			error = mf_fail(c, EF_EINVALID,
			                "the target '%s' must be an absolute path without '..'",
			                r->target);
		for (size_t k = 0; error == 0 && k < *nout; k++)
			if (!strcmp((*out)[k].target, r->target))
				error = mf_fail(c, EF_EINVALID, "target '%s' is used twice",
				                r->target);
		if (error == 0)
			(*nout)++;
		else {
			free(r->source);
			free(r->target);
			free(r->uid);
			free(r->gid);
			memset(r, 0, sizeof(*r));
			if (!first)
				first = error;
		}
		mf_pop(c, saved);
	}
	if (*nout > 1)
		qsort(*out, *nout, sizeof(**out), cmp_ref);
	return first;
}

int mf_f_secrets(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return file_refs(c, it, true, &sc->s->secrets, &sc->s->nsecrets);
}

int mf_f_configs(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return file_refs(c, it, false, &sc->s->configs, &sc->s->nconfigs);
}

/* ---------------------------------------------------------------------------
 * tmpfs, stop, init, hosts, dns */

int mf_f_tmpfs(pctx *c, svc_ctx *sc, const cJSON *it)
{
	int error = mf_get_string_or_list(c, it, MAX_LIST, &sc->s->tmpfs);

	for (size_t i = 0; error == 0 && sc->s->tmpfs && sc->s->tmpfs[i]; i++) {
		const char *t = sc->s->tmpfs[i];
		if (t[0] != '/' || mf_has_ctl(t) || strstr(t, "/../")) {
			size_t saved = cJSON_IsArray(it) ? mf_push_index(c, i) : c->len;
			error = mf_fail(c, EF_EINVALID,
			                "'%s' is not a tmpfs mount: expected an absolute path, "
			                "optionally \":size=64m,mode=1777\"",
			                t);
			mf_pop(c, saved);
		}
	}
	mf_sort_strv(sc->s->tmpfs);
	return error;
}

static const char *const signals[] = {
        "HUP",  "INT",  "QUIT", "ILL",    "TRAP",   "ABRT",  "BUS",  "FPE",  "KILL", "USR1", "SEGV",
        "USR2", "PIPE", "ALRM", "TERM",   "STKFLT", "CHLD",  "CONT", "STOP", "TSTP", "TTIN", "TTOU",
        "URG",  "XCPU", "XFSZ", "VTALRM", "PROF",   "WINCH", "IO",   "PWR",  "SYS",  NULL};

int mf_f_stop_signal(pctx *c, svc_ctx *sc, const cJSON *it)
{
	const char *s = cJSON_IsString(it) ? it->valuestring : "";
	const char *base = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
	uint64_t n;
	int64_t num;

	if (mf_whole_number(it, 1, 64, &num)) {
		char tmp[8];
		snprintf(tmp, sizeof(tmp), "%lld", (long long)num);
		free(sc->s->stop_signal);
		return (sc->s->stop_signal = strdup(tmp)) ? 0 : oom(c);
	}
	if (mf_digits_number(s, 1, 64, &n))
		return mf_get_string(c, it, &sc->s->stop_signal);
	for (size_t i = 0; signals[i]; i++)
		if (strcasecmp(base, signals[i]) == 0)
			return mf_get_string(c, it, &sc->s->stop_signal);
	if (!strncasecmp(base, "RTMIN", 5) || !strncasecmp(base, "RTMAX", 5))
		return mf_get_string(c, it, &sc->s->stop_signal);
	return mf_fail(c, EF_EINVALID,
	               "expected a signal name such as \"SIGTERM\" or \"SIGQUIT\", or a number");
}

int mf_f_stop_grace_period(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return mf_get_duration(c, it, &sc->s->stop_grace_period_ms);
}

int mf_f_init(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return mf_get_bool(c, it, &sc->s->init);
}

int mf_f_stdin_open(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return mf_get_bool(c, it, &sc->s->stdin_open);
}

int mf_f_tty(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return mf_get_bool(c, it, &sc->s->tty);
}

static bool valid_ip(const char *ip)
{
	unsigned char addr[16];

	return inet_pton(AF_INET, ip, addr) == 1 || inet_pton(AF_INET6, ip, addr) == 1;
}

static int host_entry(pctx *c, const char *host, const char *ip, char ***v)
{
	char *e;

	if (!mf_valid_name(host, "_.-", 253))
		return mf_fail(c, EF_EINVALID, "'%s' is not a host name", host);
	if (strcmp(ip, "host-gateway") && !valid_ip(ip))
		return mf_fail(c, EF_EINVALID,
		               "'%s' is not an IPv4 or IPv6 address (or \"host-gateway\")", ip);
	if (!(e = mf_str_printf("%s:%s", host, ip)) || ef_strv_push_owned(v, e) < 0)
		return oom(c);
	return 0;
}

int mf_f_extra_hosts(pctx *c, svc_ctx *sc, const cJSON *it)
{
	char **v = NULL;
	size_t i = 0;
	int error = 0;

	if (cJSON_IsObject(it)) {
		if ((error = mf_check_members(c, it, MAX_LIST, "hosts")) < 0)
			return error;
		for (const cJSON *e = it->child; e && error == 0; e = e->next) {
			size_t saved = mf_push_key(c, e->string);
			if (!cJSON_IsString(e))
				error = mf_fail(c, EF_EINVALID, "expected an address, found %s",
				                mf_type_name(e));
			else
				error = host_entry(c, e->string, e->valuestring, &v);
			mf_pop(c, saved);
		}
	} else if (cJSON_IsArray(it)) {
		if (cJSON_GetArraySize(it) > MAX_LIST)
			return mf_fail(c, EF_ETOOBIG, "more than %d entries", MAX_LIST);
		for (const cJSON *e = it->child; e && error == 0; e = e->next, i++) {
			size_t saved = mf_push_index(c, i);
			char tmp[300], *sep;
			if (!cJSON_IsString(e) || strlen(e->valuestring) >= sizeof(tmp))
				error = mf_fail(c, EF_EINVALID,
				                "expected \"host:address\" or "
				                "\"host=address\"");
			else {
				snprintf(tmp, sizeof(tmp), "%s", e->valuestring);
				sep = strchr(tmp, '=');
				if (!sep)
					sep = strchr(tmp, ':');
				if (!sep)
					error = mf_fail(c, EF_EINVALID,
					                "'%s': expected \"host:address\" or "
					                "\"host=address\"",
					                tmp);
				else {
					*sep = '\0';
					/* "[::1]" as Compose writes IPv6 in the '=' form */
					char *ip = sep + 1;
					size_t n = strlen(ip);
					if (n > 2 && ip[0] == '[' && ip[n - 1] == ']') {
						ip[n - 1] = '\0';
						ip++;
					}
					error = host_entry(c, tmp, ip, &v);
				}
			}
			mf_pop(c, saved);
		}
	} else {
		return mf_fail(c, EF_EINVALID,
		               "expected a list of \"host:address\" or an object {host: address}, "
		               "found %s",
		               mf_type_name(it));
	}
	if (error < 0) {
		ef_strv_free(v);
		return error;
	}
	mf_sort_strv(v);
	ef_strv_free(sc->s->extra_hosts);
	sc->s->extra_hosts = v;
	return 0;
}

int mf_f_dns(pctx *c, svc_ctx *sc, const cJSON *it)
{
	int error = mf_get_string_or_list(c, it, MAX_LIST, &sc->s->dns);

	for (size_t i = 0; error == 0 && sc->s->dns && sc->s->dns[i]; i++)
		if (!valid_ip(sc->s->dns[i]))
			error = mf_fail(c, EF_EINVALID, "'%s' is not an IPv4 or IPv6 address",
			                sc->s->dns[i]);
	return error;
}

static int name_list(pctx *c, const cJSON *it, char ***out, const char *what)
{
	int error = mf_get_string_or_list(c, it, MAX_LIST, out);

	for (size_t i = 0; error == 0 && *out && (*out)[i]; i++)
		if (!(*out)[i][0] || mf_has_ctl((*out)[i]) || strchr((*out)[i], ' '))
			error = mf_fail(c, EF_EINVALID, "'%s' is not a %s", (*out)[i], what);
	return error;
}

int mf_f_dns_search(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return name_list(c, it, &sc->s->dns_search, "domain name");
}

int mf_f_dns_opt(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return name_list(c, it, &sc->s->dns_opt, "resolver option");
}

static int host_name(pctx *c, const cJSON *it, char **out)
{
	int error = mf_get_name(c, it, out);

	if (error == 0 && !mf_valid_name(*out, "-.", 253))
		return mf_fail(c, EF_EINVALID,
		               "'%s' is not a host name (letters, digits, '-', '.')", *out);
	return error;
}

int mf_f_hostname(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return host_name(c, it, &sc->s->hostname);
}

int mf_f_domainname(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return host_name(c, it, &sc->s->domainname);
}

/* ---------------------------------------------------------------------------
 * Kernel settings, groups, security options, logging */

int mf_f_sysctls(pctx *c, svc_ctx *sc, const cJSON *it)
{
	int error = mf_get_kv(c, it, MAX_LIST, KV_OPTS, &sc->s->sysctls);

	for (size_t i = 0; error == 0 && sc->s->sysctls && sc->s->sysctls[i]; i++) {
		const char *kv = sc->s->sysctls[i];
		size_t n = strcspn(kv, "=");
		for (size_t k = 0; k < n && error == 0; k++)
			if (!mf_is_alnum(kv[k]) && !strchr("._-/", kv[k]))
				error = mf_fail(c, EF_EINVALID, "'%.*s' is not a sysctl name",
				                (int)n, kv);
	}
	return error;
}

static int cmp_ulimit(const void *a, const void *b)
{
	return strcmp(((const ef_ulimit *)a)->name, ((const ef_ulimit *)b)->name);
}

int mf_f_ulimits(pctx *c, svc_ctx *sc, const cJSON *it)
{
	static const char *const names[] = {"core",    "cpu",      "data",   "fsize",      "locks",
	                                    "memlock", "msgqueue", "nice",   "nofile",     "nproc",
	                                    "rss",     "rtprio",   "rttime", "sigpending", "stack",
	                                    "as",      NULL};
	ef_service *s = sc->s;
	size_t n;
	int error = 0;

	if (!cJSON_IsObject(it))
		return mf_fail(c, EF_EINVALID,
		               "expected an object {nofile: {soft: N, hard: N}}, "
		               "found %s",
		               mf_type_name(it));
	if ((error = mf_check_members(c, it, 32, "ulimits")) < 0)
		return error;
	n = mf_count_members(it);
	if (n == 0)
		return 0;
	if (!(s->ulimits = calloc(n, sizeof(*s->ulimits))))
		return oom(c);
	for (const cJSON *e = it->child; e && error == 0; e = e->next) {
		ef_ulimit *u = &s->ulimits[s->nulimits];
		size_t saved = mf_push_key(c, e->string), k;
		int64_t v;

		for (k = 0; names[k]; k++)
			if (!strcmp(names[k], e->string))
				break;
		if (!names[k])
			error = mf_fail(c, EF_EINVALID,
			                "'%s' is not a resource limit (such as nofile "
			                "or nproc)",
			                e->string);
		else if (mf_whole_number(e, -1, 9.2e18, &v)) {
			u->soft = u->hard = v;
		} else if (cJSON_IsObject(e)) {
			static const char *const keys[] = {"soft", "hard", NULL};
			const cJSON *so = mf_member(e, "soft"), *ha = mf_member(e, "hard");
			if ((error = mf_check_keys(c, e, keys, false)) == 0) {
				if (!so || !mf_whole_number(so, -1, 9.2e18, &u->soft))
					error = mf_fail_at(c, "soft",
					                   "expected a whole number (-1: "
					                   "unlimited)");
				else if (!ha || !mf_whole_number(ha, -1, 9.2e18, &u->hard))
					error = mf_fail_at(c, "hard",
					                   "expected a whole number (-1: "
					                   "unlimited)");
				else if (u->hard != -1 && (u->soft == -1 || u->soft > u->hard))
					error = mf_fail(c, EF_EINVALID,
					                "soft (%lld) is above hard (%lld)",
					                (long long)u->soft, (long long)u->hard);
			}
		} else
			error = mf_fail(c, EF_EINVALID,
			                "expected a number or {soft: N, hard: N}, found %s",
			                mf_type_name(e));
		if (error == 0 && !(u->name = strdup(e->string)))
			error = oom(c);
		if (error == 0)
			s->nulimits++;
		mf_pop(c, saved);
	}
	if (s->nulimits > 1)
		qsort(s->ulimits, s->nulimits, sizeof(*s->ulimits), cmp_ulimit);
	return error;
}

int mf_f_shm_size(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return mf_get_size(c, it, &sc->s->shm_size);
}

int mf_f_group_add(pctx *c, svc_ctx *sc, const cJSON *it)
{
	int64_t n;
	int error = 0;
	size_t i = 0;

	if (!cJSON_IsArray(it))
		return mf_fail(c, EF_EINVALID, "expected a list of group names or ids, found %s",
		               mf_type_name(it));
	for (const cJSON *e = it->child; e && error == 0; e = e->next, i++) {
		size_t saved = mf_push_index(c, i);
		char tmp[32];
		if (mf_whole_number(e, 0, 4294967295.0, &n)) {
			snprintf(tmp, sizeof(tmp), "%lld", (long long)n);
			if (ef_strv_push(&sc->s->group_add, tmp) < 0)
				error = oom(c);
		} else if (cJSON_IsString(e) && mf_valid_name(e->valuestring, "_.-", 64)) {
			if (ef_strv_push(&sc->s->group_add, e->valuestring) < 0)
				error = oom(c);
		} else
			error = mf_fail(c, EF_EINVALID, "expected a group name or number");
		mf_pop(c, saved);
	}
	mf_sort_strv(sc->s->group_add);
	return error;
}

int mf_f_security_opt(pctx *c, svc_ctx *sc, const cJSON *it)
{
	int error = mf_get_string_list(c, it, MAX_LIST, &sc->s->security_opt);

	for (size_t i = 0; error == 0 && sc->s->security_opt && sc->s->security_opt[i]; i++) {
		const char *o = sc->s->security_opt[i];
		if (!o[0] || mf_has_ctl(o)) {
			size_t saved = mf_push_index(c, i);
			error = mf_fail(c, EF_EINVALID,
			                "expected an option such as "
			                "\"no-new-privileges:true\"");
			mf_pop(c, saved);
		}
	}
	mf_sort_strv(sc->s->security_opt);
	return error;
}

int mf_f_logging(pctx *c, svc_ctx *sc, const cJSON *it)
{
	static const char *const keys[] = {"driver", "options", NULL};
	const cJSON *v;
	size_t saved;
	int error;

	if ((error = mf_check_keys(c, it, keys, false)) < 0)
		return error;
	if ((v = mf_member(it, "driver"))) {
		saved = mf_push_key(c, "driver");
		error = mf_get_name(c, v, &sc->s->log_driver);
		if (error == 0 && !mf_valid_name(sc->s->log_driver, "_.-", 64))
			error = mf_fail(c, EF_EINVALID, "'%s' is not a logging driver name",
			                sc->s->log_driver);
		mf_pop(c, saved);
		if (error < 0)
			return error;
	}
	if ((v = mf_member(it, "options")) && !cJSON_IsNull(v)) {
		saved = mf_push_key(c, "options");
		error = mf_get_kv(c, v, MAX_LIST, KV_OPTS, &sc->s->log_opts);
		mf_pop(c, saved);
	}
	return error;
}

/* ---------------------------------------------------------------------------
 * Resources */

/* "1.5", 1.5, "0.25": CPUs as nano-CPUs. */
static int get_cpus(pctx *c, const cJSON *it, int64_t *out)
{
	double d = -1;
	char *end = NULL;

	if (cJSON_IsNumber(it))
		d = it->valuedouble;
	else if (cJSON_IsString(it) && it->valuestring[0] >= '0' && it->valuestring[0] <= '9') {
		d = strtod(it->valuestring, &end);
		if (*end)
			d = -1;
	}
	if (!(d >= 0 && d <= 1024))
		return mf_fail(c, EF_EINVALID, "expected a number of CPUs such as 0.5 or 2");
	*out = (int64_t)(d * 1e9 + 0.5);
	return 0;
}

int mf_f_cpus(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return get_cpus(c, it, &sc->s->nano_cpus);
}

int mf_f_mem_reservation(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return mf_get_size(c, it, &sc->s->mem_reservation);
}

int mf_f_memswap_limit(pctx *c, svc_ctx *sc, const cJSON *it)
{
	int64_t n;

	if (mf_whole_number(it, -1, -1, &n) ||
	    (cJSON_IsString(it) && !strcmp(it->valuestring, "-1"))) {
		sc->s->memswap_limit = -1;
		return 0;
	}
	return mf_get_size(c, it, &sc->s->memswap_limit);
}

static int get_pids(pctx *c, const cJSON *it, int64_t *out)
{
	if (!mf_whole_number(it, -1, 4194304, out) || *out == 0)
		return mf_fail(c, EF_EINVALID,
		               "expected a number of processes (1-4194304, or -1 "
		               "for unlimited)");
	return 0;
}

int mf_f_pids_limit(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return get_pids(c, it, &sc->s->pids_limit);
}

int mf_f_cpu_shares(pctx *c, svc_ctx *sc, const cJSON *it)
{
	if (!mf_whole_number(it, 2, 262144, &sc->s->cpu_shares))
		return mf_fail(c, EF_EINVALID,
		               "expected a relative weight 2-262144 (1024 is the "
		               "default)");
	return 0;
}

int mf_f_cpuset(pctx *c, svc_ctx *sc, const cJSON *it)
{
	int error = mf_get_nonempty_string(c, it, &sc->s->cpuset);

	if (error == 0 && strspn(sc->s->cpuset, "0123456789,-") != strlen(sc->s->cpuset))
		return mf_fail(c, EF_EINVALID, "'%s': expected CPUs such as \"0-3\" or \"0,2\"",
		               sc->s->cpuset);
	return error;
}

int mf_f_platform(pctx *c, svc_ctx *sc, const cJSON *it)
{
	int error = mf_get_name(c, it, &sc->s->platform);
	const char *p = sc->s->platform;
	size_t slashes = 0;

	if (error < 0)
		return error;
	for (; *p; p++) {
		if (*p == '/')
			slashes++;
		else if (!mf_is_alnum(*p) && *p != '_' && *p != '-' && *p != '.')
			break;
	}
	if (*p || slashes < 1 || slashes > 2 || sc->s->platform[0] == '/' || p[-1] == '/' ||
	    strstr(sc->s->platform, "//"))
		return mf_fail(c, EF_EINVALID,
		               "'%s' is not a platform: expected \"os/arch[/variant]\" such as "
		               "\"linux/arm64\" or \"linux/arm/v7\"",
		               sc->s->platform);
	return 0;
}

int mf_f_profiles(pctx *c, svc_ctx *sc, const cJSON *it)
{
	int error = mf_get_string_list(c, it, MAX_LIST, &sc->s->profiles);

	for (size_t i = 0; error == 0 && sc->s->profiles && sc->s->profiles[i]; i++)
		if (!mf_valid_name(sc->s->profiles[i], "_.-", 64)) {
			size_t saved = mf_push_index(c, i);
			error = mf_fail(c, EF_EINVALID, "'%s' is not a profile name",
			                sc->s->profiles[i]);
			mf_pop(c, saved);
		}
	mf_sort_strv(sc->s->profiles);
	return error;
}

/* env_file: "a.env", ["a.env", {path, required, format}] */
int mf_f_env_file(pctx *c, svc_ctx *sc, const cJSON *it)
{
	static const char *const keys[] = {"path", "required", "format", NULL};
	ef_service *s = sc->s;
	const cJSON *one[1] = {it};
	size_t n = cJSON_IsString(it) ? 1 : (size_t)cJSON_GetArraySize(it), i = 0;
	int error = 0;

	if (!cJSON_IsString(it) && !cJSON_IsArray(it))
		return mf_fail(c, EF_EINVALID, "expected a file name or a list, found %s",
		               mf_type_name(it));
	if (n > MAX_LIST)
		return mf_fail(c, EF_ETOOBIG, "more than %d files", MAX_LIST);
	if (n == 0)
		return 0;
	if (!(s->env_files = calloc(n, sizeof(*s->env_files))))
		return oom(c);
	for (const cJSON *e = cJSON_IsString(it) ? one[0] : it->child; e && error == 0 && i < n;
	     e = cJSON_IsString(it) ? NULL : e->next, i++) {
		ef_env_file *f = &s->env_files[s->nenv_files];
		size_t saved = cJSON_IsString(it) ? c->len : mf_push_index(c, i);
		const cJSON *v;

		f->required = true;
		if (cJSON_IsString(e)) {
			error = mf_rel_path(c, e->valuestring, "env_file", &f->path);
		} else if (cJSON_IsObject(e)) {
			if ((error = mf_check_keys(c, e, keys, false)) == 0) {
				if (!(v = mf_member(e, "path")) || !cJSON_IsString(v))
					error = mf_fail_at(c, "path", "expected a file name");
				else {
					size_t s2 = mf_push_key(c, "path");
					error = mf_rel_path(c, v->valuestring, "env_file",
					                    &f->path);
					mf_pop(c, s2);
				}
			}
			if (error == 0 && (v = mf_member(e, "required"))) {
				size_t s2 = mf_push_key(c, "required");
				error = mf_get_bool(c, v, &f->required);
				mf_pop(c, s2);
			}
			if (error == 0 && (v = mf_member(e, "format")) &&
			    !(cJSON_IsString(v) && !strcmp(v->valuestring, "raw")))
				error = mf_fail_at(c, "format",
				                   "expected \"raw\" (or leave it out)");
			else if (error == 0 && v && !(f->format = strdup("raw")))
				error = oom(c);
		} else
			error = mf_fail(c, EF_EINVALID,
			                "expected a file name or {path, required}, "
			                "found %s",
			                mf_type_name(e));
		if (error == 0)
			s->nenv_files++;
		else {
			free(f->path);
			f->path = NULL;
		}
		mf_pop(c, saved);
	}
	return error;
}

/* ---------------------------------------------------------------------------
 * deploy */

static int deploy_resources(pctx *c, svc_ctx *sc, const cJSON *it)
{
	static const char *const keys[] = {"limits", "reservations", NULL};
	static const char *const lim_keys[] = {"cpus", "memory", "pids", NULL};
	static const char *const res_keys[] = {"cpus", "memory", "devices", "generic_resources",
	                                       NULL};
	ef_service *s = sc->s;
	const cJSON *l, *r, *v;
	size_t saved;
	int error;

	if ((error = mf_check_keys(c, it, keys, false)) < 0)
		return error;
	if ((l = mf_member(it, "limits"))) {
		saved = mf_push_key(c, "limits");
		if ((error = mf_check_keys(c, l, lim_keys, false)) == 0) {
			if ((v = mf_member(l, "cpus"))) {
				size_t s2 = mf_push_key(c, "cpus");
				error = get_cpus(c, v, &s->nano_cpus);
				mf_pop(c, s2);
			}
			if (error == 0 && (v = mf_member(l, "memory"))) {
				size_t s2 = mf_push_key(c, "memory");
				error = mf_get_size(c, v, &s->mem_limit);
				mf_pop(c, s2);
			}
			if (error == 0 && (v = mf_member(l, "pids"))) {
				size_t s2 = mf_push_key(c, "pids");
				error = get_pids(c, v, &s->pids_limit);
				mf_pop(c, s2);
			}
		}
		mf_pop(c, saved);
		if (error < 0)
			return error;
	}
	if ((r = mf_member(it, "reservations"))) {
		saved = mf_push_key(c, "reservations");
		if ((error = mf_check_keys(c, r, res_keys, false)) == 0) {
			int64_t ignored;
			if ((v = mf_member(r, "cpus"))) {
				/* the Engine API has no CPU reservation: checked, not used */
				size_t s2 = mf_push_key(c, "cpus");
				error = get_cpus(c, v, &ignored);
				mf_pop(c, s2);
			}
			if (error == 0 && (v = mf_member(r, "memory"))) {
				size_t s2 = mf_push_key(c, "memory");
				error = mf_get_size(c, v, &s->mem_reservation);
				mf_pop(c, s2);
			}
			if (error == 0 && mf_member(r, "devices"))
				error = mf_fail_at(
				        c, "devices",
				        "device reservations (GPUs) are not supported; list "
				        "the device under the service's devices");
			if (error == 0 && mf_member(r, "generic_resources"))
				error = mf_fail_at(
				        c, "generic_resources",
				        "generic resources are a swarm feature; remove them");
		}
		mf_pop(c, saved);
	}
	return error;
}

static int deploy_restart(pctx *c, svc_ctx *sc, const cJSON *it)
{
	static const char *const keys[] = {"condition", "max_attempts", "delay", "window", NULL};
	const cJSON *cond, *v;
	int64_t max = 0;
	uint64_t ms;
	char *r = NULL;
	int error;

	if ((error = mf_check_keys(c, it, keys, false)) < 0)
		return error;
	cond = mf_member(it, "condition");
	if ((v = mf_member(it, "max_attempts")) && !mf_whole_number(v, 0, 1000000, &max))
		return mf_fail_at(c, "max_attempts", "expected a whole number");
	for (int k = 0; k < 2; k++) {
		const char *key = k ? "window" : "delay";
		if ((v = mf_member(it, key))) {
			size_t saved = mf_push_key(c, key);
			error = mf_get_duration(c, v, &ms); /* checked; the engine has no such
			                                       setting */
			mf_pop(c, saved);
			if (error < 0)
				return error;
		}
	}
	if (!cond || (cJSON_IsString(cond) && !strcmp(cond->valuestring, "any")))
		r = strdup("always");
	else if (cJSON_IsString(cond) && !strcmp(cond->valuestring, "none"))
		r = strdup("no");
	else if (cJSON_IsString(cond) && !strcmp(cond->valuestring, "on-failure"))
		r = max ? mf_str_printf("on-failure:%lld", (long long)max) : strdup("on-failure");
	else
		return mf_fail_at(c, "condition", "expected \"none\", \"on-failure\" or \"any\"");
	if (!r)
		return oom(c);
	if (sc->s->restart && strcmp(sc->s->restart, r)) {
		error = mf_fail(c, EF_EINVALID,
		                "restart_policy gives '%s' but the service's restart is '%s'; keep "
		                "one of them",
		                r, sc->s->restart);
		free(r);
		return error;
	}
	free(sc->s->restart);
	sc->s->restart = r;
	sc->have_deploy_restart = true;
	return 0;
}

int mf_f_deploy(pctx *c, svc_ctx *sc, const cJSON *it)
{
	static const char *const keys[] = {
	        "resources", "restart_policy", "replicas",        "mode",          "labels",
	        "placement", "update_config",  "rollback_config", "endpoint_mode", NULL};
	const cJSON *v;
	size_t saved;
	int64_t n;
	int error, first = 0;

	if ((error = mf_check_keys(c, it, keys, false)) < 0)
		return error;
	if ((v = mf_member(it, "replicas")) && !(mf_whole_number(v, 0, 1, &n)))
		first = mf_fail_at(c, "replicas",
		                   "a device runs one instance of a service (blue/green gives two "
		                   "during an update); use 1 or remove it");
	if ((v = mf_member(it, "mode")) &&
	    !(cJSON_IsString(v) && !strcmp(v->valuestring, "replicated")))
		first = mf_fail_at(c, "mode", "only \"replicated\" (one instance) is supported");
	if ((v = mf_member(it, "labels"))) {
		/* service labels in swarm: checked, not used (docs/manifest.md) */
		char **tmp = NULL;
		saved = mf_push_key(c, "labels");
		if ((error = mf_get_kv(c, v, MAX_LABELS, KV_LABELS, &tmp)) < 0 && !first)
			first = error;
		ef_strv_free(tmp);
		mf_pop(c, saved);
	}
	if ((v = mf_member(it, "resources"))) {
		saved = mf_push_key(c, "resources");
		if ((error = deploy_resources(c, sc, v)) < 0 && !first)
			first = error;
		mf_pop(c, saved);
	}
	if ((v = mf_member(it, "restart_policy"))) {
		saved = mf_push_key(c, "restart_policy");
		if ((error = deploy_restart(c, sc, v)) < 0 && !first)
			first = error;
		mf_pop(c, saved);
	}
	return first;
}

int mf_f_scale(pctx *c, svc_ctx *sc, const cJSON *it)
{
	int64_t n;

	(void)sc;
	if (!mf_whole_number(it, 1, 1, &n))
		return mf_fail(c, EF_EINVALID,
		               "a device runs one instance of a service (blue/green gives two "
		               "during an update); use 1 or remove it");
	return 0;
}

int mf_f_build(pctx *c, svc_ctx *sc, const cJSON *it)
{
	(void)sc;
	(void)it;
	return mf_fail(c, EF_EINVALID,
	               "a device does not build images: publish one to a registry and set "
	               "image: (pinned by digest)");
}

bool mf_is_relative_source(const char *s)
{
	return is_rel_source(s);
}
