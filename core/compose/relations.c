/* How a service relates to the rest of the file: depends_on, networks, expose,
 * secrets and configs. See docs/manifest.md. */
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

/* links: legacy. "db" (or "db:db") is a dependency that starts first, as
 * Compose reads it; the name resolves on the network both share. Another
 * alias ("db:database") would need a per-consumer name: refused. */
int mf_f_links(pctx *c, svc_ctx *sc, const cJSON *it)
{
	int error = mf_get_string_list(c, it, MAX_SERVICES, &sc->links);

	for (size_t i = 0; error == 0 && sc->links && sc->links[i]; i++) {
		char *l = sc->links[i], *colon = strchr(l, ':');
		size_t saved = mf_push_index(c, i);
		if (colon && strcmp(colon + 1, l) != 0 &&
		    (strlen(colon + 1) != (size_t)(colon - l) ||
		     strncmp(colon + 1, l, (size_t)(colon - l)))) {
			error = mf_fail(
			        c, EF_EINVALID,
			        "'%s': a link alias is not supported; add '%s' to the aliases "
			        "of service %.*s under its networks",
			        l, colon + 1, (int)(colon - l), l);
		} else {
			if (colon)
				*colon = '\0';
			if (!mf_valid_name(l, "_.-", MAX_SERVICE_NAME))
				error = mf_fail(c, EF_EINVALID, "'%s' is not a valid service name",
				                l);
		}
		mf_pop(c, saved);
	}
	if (error < 0) { /* none is merged: a refusal is reported once */
		ef_strv_free(sc->links);
		sc->links = NULL;
	}
	return error;
}

/* Adds the links as dependencies (service_started) unless depends_on has them. */
int mf_merge_links(pctx *c, svc_ctx *sc)
{
	ef_service *s = sc->s;
	size_t n = ef_strv_len(sc->links);
	ef_depends *d;

	if (n == 0)
		return 0;
	if (!(d = realloc(s->depends_on, (s->ndepends_on + n) * sizeof(*d))))
		return oom(c);
	s->depends_on = d;
	for (size_t i = 0; i < n; i++) {
		bool have = false;
		for (size_t k = 0; k < s->ndepends_on && !have; k++)
			have = !strcmp(s->depends_on[k].service, sc->links[i]);
		if (have || !strcmp(sc->links[i], s->name))
			continue;
		memset(&d[s->ndepends_on], 0, sizeof(*d));
		d[s->ndepends_on].required = true;
		if (!(d[s->ndepends_on].service = strdup(sc->links[i])))
			return oom(c);
		s->ndepends_on++;
	}
	if (s->ndepends_on > 1)
		qsort(s->depends_on, s->ndepends_on, sizeof(*s->depends_on), cmp_dep);
	return 0;
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
			/* at most MAX_PORTS (checked above): fits a size_t */
			size_t total = s->nexpose + (size_t)(hi - lo + 1);
			ef_port *np = realloc(s->expose, total * sizeof(*np));
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
		if (error == 0 &&
		    (r->target[0] != '/' || strstr(r->target, "/../") ||
		     (strlen(r->target) >= 3 && !strcmp(r->target + strlen(r->target) - 3, "/.."))))
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
