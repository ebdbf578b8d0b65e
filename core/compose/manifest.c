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

#include "manifest_internal.h"

/* ---------------------------------------------------------------------------
 * Top level. */

static int parse_volume_decls(pctx *c, const cJSON *it, volume_decls *decls)
{
	static const char *const keys[] = {"name", "external", NULL};
	int error;

	if (!cJSON_IsObject(it))
		return mf_fail(c, EF_EINVALID, "expected an object, found %s", mf_type_name(it));
	if ((error = mf_check_members(c, it, MAX_NAMED_VOLUMES, "volumes")) < 0)
		return error;
	for (const cJSON *e = it->child; e && error == 0; e = e->next) {
		size_t saved = mf_push_key(c, e->string);
		const cJSON *v;

		decls->v[decls->n].key = e->string;
		decls->v[decls->n].name = e->string;
		if (!e->string[0] || strchr(e->string, '/') || mf_has_ctl(e->string))
			error = mf_fail(c, EF_EINVALID, "'%s' is not a valid volume name",
			                e->string);
		else if (cJSON_IsObject(e) && (error = mf_check_keys(c, e, keys, false)) == 0) {
			if ((v = mf_member(e, "name"))) {
				if (!cJSON_IsString(v) || !v->valuestring[0] ||
				    strchr(v->valuestring, '/') || mf_has_ctl(v->valuestring))
					error = mf_fail_at(c, "name", "expected a volume name");
				else
					decls->v[decls->n].name = v->valuestring;
			}
			if (error == 0 && (v = mf_member(e, "external")) && !cJSON_IsBool(v))
				error = mf_fail_at(c, "external", "expected true or false");
		} else if (error == 0 && !cJSON_IsNull(e) && !cJSON_IsObject(e)) {
			error = mf_fail(c, EF_EINVALID, "expected an object or null, found %s",
			                mf_type_name(e));
		}
		decls->n++;
		mf_pop(c, saved);
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

	if ((error = mf_check_keys(c, it, keys, false)) < 0)
		return error;
	if (!(d = mf_member(it, "default")) || cJSON_IsNull(d))
		return 0;
	saved = mf_push_key(c, "default");
	if ((error = mf_check_keys(c, d, net_keys, false)) == 0) {
		if ((v = mf_member(d, "name")) && !cJSON_IsString(v))
			error = mf_fail_at(c, "name", "expected a string");
		else if ((v = mf_member(d, "ipam")) && !(cJSON_IsObject(v) && !v->child))
			error = mf_fail_at(c, "ipam",
			                   "network settings are not supported; remove it");
	}
	mf_pop(c, saved);
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
					mf_push_key(c, s->name);
					mf_push_key(c, "ports");
					mf_push_index(c, k);
					return mf_fail(c, EF_EINVALID,
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
		error = mf_fail(c, EF_EINVALID,
		                "expected a JSON object (the output of `docker compose config "
		                "--format json`)");
		goto out;
	}
	if ((error = mf_check_keys(c, root, top_keys, true)) < 0)
		goto out;
	if ((v = mf_member(root, "name")) && !cJSON_IsString(v)) {
		error = mf_fail_at(c, "name", "expected a string");
		goto out;
	}
	if ((v = mf_member(root, "x-edgeflip"))) {
		saved = mf_push_key(c, "x-edgeflip");
		if (!cJSON_IsObject(v))
			error = mf_fail(c, EF_EINVALID, "expected an object, found %s",
			                mf_type_name(v));
		else if (v->child)
			error = mf_fail_at(
			        c, v->child->string,
			        "no keys are defined under the top-level x-edgeflip yet; "
			        "put rollout settings under each service's x-edgeflip");
		mf_pop(c, saved);
		if (error < 0)
			goto out;
	}
	if ((v = mf_member(root, "networks"))) {
		saved = mf_push_key(c, "networks");
		error = check_networks(c, v);
		mf_pop(c, saved);
		if (error < 0)
			goto out;
	}
	if ((v = mf_member(root, "volumes"))) {
		saved = mf_push_key(c, "volumes");
		error = parse_volume_decls(c, v, &decls);
		mf_pop(c, saved);
		if (error < 0)
			goto out;
	}
	services = mf_member(root, "services");
	if (!services) {
		error = mf_fail_at(c, "services", "missing; list the services to run");
		goto out;
	}
	saved = mf_push_key(c, "services");
	if (!cJSON_IsObject(services)) {
		error = mf_fail(c, EF_EINVALID, "expected an object {name: service}, found %s",
		                mf_type_name(services));
		goto out;
	}
	if ((error = mf_check_members(c, services, MAX_SERVICES, "services")) < 0)
		goto out;
	n = mf_count_members(services);
	error = EF_ENOMEM;
	if (!(m = calloc(1, sizeof(*m))) ||
	    (n && !(m->services = calloc(n, sizeof(*m->services))))) {
		error = mf_fail(c, EF_ENOMEM, "out of memory");
		goto out;
	}
	for (const cJSON *s = services->child; s; s = s->next, i++) {
		size_t saved2 = mf_push_key(c, s->string);
		m->nservices = i + 1;
		error = mf_parse_service(c, &m->services[i], s->string, s, &decls);
		mf_pop(c, saved2);
		if (error < 0)
			goto out;
		mf_spec_hash(&m->services[i]);
	}
	mf_pop(c, saved);
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
