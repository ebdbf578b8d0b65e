/* The top-level networks, volumes, secrets and configs. See docs/manifest.md. */
#include "edgeflip/manifest.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest_internal.h"

#define MAX_TOP 64

static int oom(pctx *c)
{
	return mf_fail(c, EF_ENOMEM, "out of memory");
}

static int opt_bool(pctx *c, const cJSON *obj, const char *key, bool *out)
{
	const cJSON *v = mf_member(obj, key);
	size_t saved;
	int error;

	if (!v)
		return 0;
	saved = mf_push_key(c, key);
	error = mf_get_bool(c, v, out);
	mf_pop(c, saved);
	return error;
}

static int opt_name(pctx *c, const cJSON *obj, const char *key, char **out)
{
	const cJSON *v = mf_member(obj, key);
	size_t saved;
	int error;

	if (!v)
		return 0;
	saved = mf_push_key(c, key);
	error = mf_get_name(c, v, out);
	if (error == 0 && !mf_valid_name(*out, "_.-", 128))
		error = mf_fail(
		        c, EF_EINVALID,
		        "'%s' is not a valid name (letters, digits, '_', '.', '-', starting "
		        "with a letter or digit)",
		        *out);
	mf_pop(c, saved);
	return error;
}

static int opt_kv(pctx *c, const cJSON *obj, const char *key, int mode, char ***out)
{
	const cJSON *v = mf_member(obj, key);
	size_t saved;
	int error;

	if (!v || cJSON_IsNull(v))
		return 0;
	saved = mf_push_key(c, key);
	error = mf_get_kv(c, v, MAX_LABELS, mode, out);
	mf_pop(c, saved);
	return error;
}

/* external: a boolean, or the older form {name: X} (external and named X), as
 * compose-go still reads it. *name is set from the older form. */
static int opt_external(pctx *c, const cJSON *obj, bool *external, char **name)
{
	const cJSON *v = mf_member(obj, "external"), *n, *top = mf_member(obj, "name");
	size_t saved;
	int error;

	if (!v || !cJSON_IsObject(v))
		return opt_bool(c, obj, "external", external);
	saved = mf_push_key(c, "external");
	for (const cJSON *m = v->child; m; m = m->next) {
		if (strcmp(m->string, "name")) {
			error = mf_fail_at(c, m->string,
			                   "expected only name in the older form "
			                   "external: {name: X}; write name: X and "
			                   "external: true");
			mf_pop(c, saved);
			return error;
		}
	}
	*external = true;
	error = opt_name(c, v, "name", name);
	if (error == 0 && (n = mf_member(v, "name")) && top &&
	    !(cJSON_IsString(top) && !strcmp(top->valuestring, *name)))
		error = mf_fail_at(c, "name",
		                   "external.name and name differ; keep name and write "
		                   "external: true");
	mf_pop(c, saved);
	return error;
}

static int external_only(pctx *c, const cJSON *obj)
{
	for (const cJSON *m = obj->child; m; m = m->next)
		if (strcmp(m->string, "external") && strcmp(m->string, "name") &&
		    strncmp(m->string, "x-", 2))
			return mf_fail_at(
			        c, m->string,
			        "an external entry is made outside the stack: only name may "
			        "be given with it");
	return 0;
}

/* ---------------------------------------------------------------------------
 * networks */

static int ipam_pool(pctx *c, const cJSON *e, ef_ipam_pool *p)
{
	static const char *const keys[] = {"subnet", "ip_range", "gateway", "aux_addresses", NULL};
	const char *names[] = {"subnet", "ip_range", "gateway"};
	char **slots[] = {&p->subnet, &p->ip_range, &p->gateway};
	int error;

	if ((error = mf_check_keys(c, e, keys, false)) < 0)
		return error;
	if (mf_member(e, "aux_addresses"))
		return mf_fail_at(c, "aux_addresses",
		                  "reserved addresses are not supported; "
		                  "remove them");
	for (size_t i = 0; i < 3; i++) {
		const cJSON *v = mf_member(e, names[i]);
		unsigned char addr[16];
		char tmp[64], *slash;
		if (!v)
			continue;
		if (!cJSON_IsString(v) || strlen(v->valuestring) >= sizeof(tmp))
			return mf_fail_at(c, names[i], "expected an address%s",
			                  i < 2 ? " range such as \"172.28.0.0/16\"" : "");
		snprintf(tmp, sizeof(tmp), "%s", v->valuestring);
		slash = strchr(tmp, '/');
		if (slash)
			*slash = '\0';
		if ((i < 2) != (slash != NULL) ||
		    (inet_pton(AF_INET, tmp, addr) != 1 && inet_pton(AF_INET6, tmp, addr) != 1))
			return mf_fail_at(c, names[i], "'%s' is not %s", v->valuestring,
			                  i < 2 ? "an address range such as \"172.28.0.0/16\""
			                        : "an IPv4 or IPv6 address");
		if (!(*slots[i] = strdup(v->valuestring)))
			return oom(c);
	}
	return 0;
}

static int network_ipam(pctx *c, const cJSON *it, ef_network *n)
{
	static const char *const keys[] = {"driver", "config", "options", NULL};
	const cJSON *v;
	size_t i = 0;
	int error;

	if ((error = mf_check_keys(c, it, keys, false)) < 0)
		return error;
	if ((error = opt_name(c, it, "driver", &n->ipam_driver)) < 0)
		return error;
	if ((v = mf_member(it, "options")) && !(cJSON_IsObject(v) && !v->child))
		return mf_fail_at(c, "options",
		                  "IPAM driver options are not supported; remove "
		                  "them");
	if (!(v = mf_member(it, "config")) || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > 8)
		return mf_fail_at(c, "config",
		                  "expected a list of at most 8 {subnet, ip_range, "
		                  "gateway}");
	if (!(n->ipam_config = calloc((size_t)cJSON_GetArraySize(v) + 1, sizeof(ef_ipam_pool))))
		return oom(c);
	size_t saved = mf_push_key(c, "config");
	for (const cJSON *e = v->child; e && error == 0; e = e->next, i++) {
		size_t s2 = mf_push_index(c, i);
		n->nipam_config = i + 1;
		error = ipam_pool(c, e, &n->ipam_config[i]);
		mf_pop(c, s2);
	}
	mf_pop(c, saved);
	return error;
}

static int parse_network(pctx *c, const char *key, const cJSON *e, ef_network *n)
{
	const cJSON *v;
	int error, first = 0;

	if (!(n->key = strdup(key)))
		return oom(c);
	if (!mf_valid_name(key, "_.-", 64))
		return mf_fail(c, EF_EINVALID, "'%s' is not a valid network name", key);
	if (cJSON_IsNull(e))
		return 0;
	if ((error = mf_check_table(c, e, mf_network_keys, "network")) < 0)
		return error;
	if ((error = opt_external(c, e, &n->external, &n->name)) < 0)
		return error;
	if (n->external && (error = external_only(c, e)) < 0)
		return error;
#define KEEP(x)                                                                                    \
	do {                                                                                       \
		if ((error = (x)) < 0 && !first)                                                   \
			first = error;                                                             \
	} while (0)
	KEEP(opt_name(c, e, "name", &n->name));
	KEEP(opt_name(c, e, "driver", &n->driver));
	KEEP(opt_kv(c, e, "driver_opts", KV_OPTS, &n->driver_opts));
	KEEP(opt_kv(c, e, "labels", KV_LABELS, &n->labels));
	KEEP(opt_bool(c, e, "internal", &n->internal));
	KEEP(opt_bool(c, e, "attachable", &n->attachable));
	KEEP(opt_bool(c, e, "enable_ipv6", &n->enable_ipv6));
	if ((v = mf_member(e, "ipam"))) {
		size_t saved = mf_push_key(c, "ipam");
		KEEP(network_ipam(c, v, n));
		mf_pop(c, saved);
	}
	return first;
}

/* ---------------------------------------------------------------------------
 * volumes */

static int parse_volume(pctx *c, const char *key, const cJSON *e, ef_volume *vol)
{
	int error, first = 0;

	if (!(vol->key = strdup(key)) || !(vol->name = strdup(key)))
		return oom(c);
	if (!mf_valid_name(key, "_.-", 128))
		return mf_fail(c, EF_EINVALID, "'%s' is not a valid volume name", key);
	if (!cJSON_IsNull(e)) {
		if ((error = mf_check_table(c, e, mf_volume_keys, "volume")) < 0)
			return error;
		if ((error = opt_external(c, e, &vol->external, &vol->name)) < 0)
			return error;
		if (vol->external && (error = external_only(c, e)) < 0)
			return error;
		KEEP(opt_name(c, e, "name", &vol->name));
		KEEP(opt_name(c, e, "driver", &vol->driver));
		KEEP(opt_kv(c, e, "driver_opts", KV_OPTS, &vol->driver_opts));
		KEEP(opt_kv(c, e, "labels", KV_LABELS, &vol->labels));
	}
	return first;
}

/* ---------------------------------------------------------------------------
 * secrets and configs */

static int parse_file_source(pctx *c, const char *key, const cJSON *e, ef_file_source *f,
                             bool config)
{
	const mf_key *table = config ? mf_config_keys : mf_secret_keys;
	const char *what = config ? "config" : "secret";
	const cJSON *v;
	size_t given = 0, saved;
	int error, first = 0;

	if (!(f->key = strdup(key)) || !(f->name = strdup(key)))
		return oom(c);
	if (!mf_valid_name(key, "_.-", 128))
		return mf_fail(c, EF_EINVALID, "'%s' is not a valid %s name", key, what);
	if ((error = mf_check_table(c, e, table, what)) < 0)
		return error;
	KEEP(opt_name(c, e, "name", &f->name));
	if ((v = mf_member(e, "file"))) {
		given++;
		saved = mf_push_key(c, "file");
		if (!cJSON_IsString(v) || !v->valuestring[0])
			error = mf_fail(c, EF_EINVALID, "expected a file name");
		else if (v->valuestring[0] == '/')
			error = mf_check_abs_path(c, v->valuestring, "the file") == 0 &&
			                        (f->file = strdup(v->valuestring))
			                ? 0
			                : (c->oom ? EF_ENOMEM : EF_EINVALID);
		else
			error = mf_rel_path(c, v->valuestring, "the file", &f->file);
		mf_pop(c, saved);
		KEEP(error);
	}
	if ((v = mf_member(e, "environment"))) {
		given++;
		saved = mf_push_key(c, "environment");
		error = mf_get_name(c, v, &f->environment);
		if (error == 0 && !mf_valid_name(f->environment, "_", 256))
			error = mf_fail(c, EF_EINVALID, "'%s' is not a variable name",
			                f->environment);
		mf_pop(c, saved);
		KEEP(error);
	}
	if (config && (v = mf_member(e, "content"))) {
		given++;
		saved = mf_push_key(c, "content");
		KEEP(mf_get_string(c, v, &f->content));
		mf_pop(c, saved);
	}
	if (given != 1 && !first)
		first = mf_fail(c, EF_EINVALID, "give exactly one of file, environment%s",
		                config ? " or content" : "");
	return first;
}
#undef KEEP

/* ---------------------------------------------------------------------------
 * The four sections */

typedef enum { T_NETWORK, T_VOLUME, T_SECRET, T_CONFIG } section;

static int cmp_key(const void *a, const void *b)
{
	/* every entry type starts with `char *key`; an entry that failed may have none */
	const char *x = *(char *const *)a, *y = *(char *const *)b;

	if (!x || !y)
		return x ? 1 : y ? -1 : 0;
	return strcmp(x, y);
}

static int parse_section(pctx *c, const cJSON *it, ef_manifest *m, section t)
{
	static const size_t sizes[] = {sizeof(ef_network), sizeof(ef_volume),
	                               sizeof(ef_file_source), sizeof(ef_file_source)};
	void **arr[] = {(void **)&m->networks, (void **)&m->volumes, (void **)&m->secrets,
	                (void **)&m->configs};
	size_t *counts[] = {&m->nnetworks, &m->nvolumes, &m->nsecrets, &m->nconfigs};
	size_t n;
	int error, first = 0;

	if (cJSON_IsNull(it))
		return 0;
	if (!cJSON_IsObject(it))
		return mf_fail(c, EF_EINVALID, "expected an object {name: settings}, found %s",
		               mf_type_name(it));
	if ((error = mf_check_members(c, it, MAX_TOP, "entries")) < 0)
		return error;
	n = mf_count_members(it);
	if (!(*arr[t] = calloc(n + 1, sizes[t]))) /* + 1: room for an implicit "default" */
		return oom(c);
	for (const cJSON *e = it->child; e && !c->oom; e = e->next) {
		char *slot = (char *)*arr[t] + *counts[t] * sizes[t];
		size_t saved = mf_push_key(c, e->string);

		(*counts[t])++;
		if (t != T_NETWORK && t != T_VOLUME && !cJSON_IsObject(e))
			error = mf_fail(c, EF_EINVALID, "expected an object {file: ...}, found %s",
			                mf_type_name(e));
		else if ((t == T_NETWORK || t == T_VOLUME) && !cJSON_IsObject(e) &&
		         !cJSON_IsNull(e))
			error = mf_fail(c, EF_EINVALID, "expected an object or null, found %s",
			                mf_type_name(e));
		else if (t == T_NETWORK)
			error = parse_network(c, e->string, e, (ef_network *)(void *)slot);
		else if (t == T_VOLUME)
			error = parse_volume(c, e->string, e, (ef_volume *)(void *)slot);
		else
			error = parse_file_source(c, e->string, e, (ef_file_source *)(void *)slot,
			                          t == T_CONFIG);
		if (error < 0 && !first)
			first = error;
		mf_pop(c, saved);
	}
	if (!first && *counts[t] > 1)
		qsort(*arr[t], *counts[t], sizes[t], cmp_key);
	return first;
}

int mf_parse_top(pctx *c, const cJSON *root, ef_manifest *m)
{
	static const char *const keys[] = {"networks", "volumes", "secrets", "configs"};
	int error, first = 0;

	for (size_t t = 0; t < 4; t++) {
		const cJSON *v = mf_member(root, keys[t]);
		size_t saved;
		if (!v)
			continue;
		saved = mf_push_key(c, keys[t]);
		if ((error = parse_section(c, v, m, (section)t)) < 0 && !first)
			first = error;
		mf_pop(c, saved);
	}
	return first;
}

/* Adds the network "default" when a service uses it and the file does not
 * declare it (Compose makes it). */
int mf_add_default_network(pctx *c, ef_manifest *m)
{
	ef_network *n;

	if (ef_manifest_network(m, "default"))
		return 0;
	if (!m->networks && !(m->networks = calloc(1, sizeof(*m->networks))))
		return oom(c);
	n = &m->networks[m->nnetworks];
	memset(n, 0, sizeof(*n));
	if (!(n->key = strdup("default")))
		return oom(c);
	m->nnetworks++;
	if (m->nnetworks > 1)
		qsort(m->networks, m->nnetworks, sizeof(*m->networks), cmp_key);
	return 0;
}

void mf_top_dispose(ef_manifest *m)
{
	for (size_t i = 0; i < m->nnetworks; i++) {
		ef_network *n = &m->networks[i];
		free(n->key);
		free(n->name);
		free(n->driver);
		ef_strv_free(n->driver_opts);
		ef_strv_free(n->labels);
		free(n->ipam_driver);
		for (size_t k = 0; k < n->nipam_config; k++) {
			free(n->ipam_config[k].subnet);
			free(n->ipam_config[k].ip_range);
			free(n->ipam_config[k].gateway);
		}
		free(n->ipam_config);
	}
	free(m->networks);
	for (size_t i = 0; i < m->nvolumes; i++) {
		ef_volume *v = &m->volumes[i];
		free(v->key);
		free(v->name);
		free(v->driver);
		ef_strv_free(v->driver_opts);
		ef_strv_free(v->labels);
	}
	free(m->volumes);
	for (int t = 0; t < 2; t++) {
		ef_file_source *f = t ? m->configs : m->secrets;
		size_t n = t ? m->nconfigs : m->nsecrets;
		for (size_t i = 0; i < n; i++) {
			free(f[i].key);
			free(f[i].name);
			free(f[i].file);
			free(f[i].environment);
			free(f[i].content);
		}
		free(f);
	}
	free(m->name);
}
