/* Volumes of a service: the short syntax ("src:dst:opts", "/anon") and the long
 * syntax (bind, volume, tmpfs with their options). See docs/manifest.md. */
#include "edgeflip/manifest.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest_internal.h"

int mf_check_abs_path(pctx *c, const char *path, const char *what)
{
	if (path[0] != '/')
		return mf_fail(c, EF_EINVALID, "%s '%s' must be an absolute path", what, path);
	if (mf_has_ctl(path))
		return mf_fail(c, EF_EINVALID, "%s contains control characters", what);
	return 0;
}

static int resolve_volume(pctx *c, const ef_manifest *man, ef_mount *m)
{
	const ef_volume *v = ef_manifest_volume(man, m->source);

	if (!v)
		return mf_fail(c, EF_EINVALID,
		               "volume '%s' is not declared; add it under the top-level volumes "
		               "(or write ./%s for a directory of the environment)",
		               m->source, m->source);
	free(m->source);
	return (m->source = strdup(v->name ? v->name : v->key))
	               ? 0
	               : mf_fail(c, EF_ENOMEM, "out of memory");
}

static const char *const propagations[] = {"rprivate", "private", "rshared", "shared",
                                           "rslave",   "slave",   NULL};

static bool is_propagation(const char *s)
{
	for (size_t i = 0; propagations[i]; i++)
		if (!strcmp(s, propagations[i]))
			return true;
	return false;
}

/* The source of a bind: absolute, or relative to the environment directory. */
static int bind_source(pctx *c, ef_mount *m)
{
	if (m->source[0] == '/')
		return mf_check_abs_path(c, m->source, "the bind source");
	m->relative = true;
	if (m->source[0] == '~') {
		/* "~/x": the environment's home directory on the device */
		char *rest;
		if (m->source[1] != '\0' && m->source[1] != '/')
			return mf_fail(
			        c, EF_EINVALID,
			        "the bind source '%s': '~user' is not supported; write ~/path",
			        m->source);
		m->home = true;
		if (!(rest = strdup(m->source[1] ? m->source + 2 : "")))
			return mf_fail(c, EF_ENOMEM, "out of memory");
		free(m->source);
		m->source = rest;
	}
	return mf_rel_path(c, m->source, "the bind source", &m->source);
}

/* The options after the second ':' of the short syntax: "ro", "rw,z", "nocopy". */
static int short_options(pctx *c, const char *spec, const char *opts, ef_mount *m)
{
	char *copy = strdup(opts), *tok, *save = NULL;
	int error = 0;

	if (!copy)
		return mf_fail(c, EF_ENOMEM, "out of memory");
	for (tok = strtok_r(copy, ",", &save); tok && error == 0;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "ro"))
			m->read_only = true;
		else if (!strcmp(tok, "rw"))
			m->read_only = false;
		else if (!strcmp(tok, "nocopy") && m->type == EF_MOUNT_VOLUME)
			m->nocopy = true;
		else if (!strcmp(tok, "z") || !strcmp(tok, "Z"))
			/* on a named volume too, as Compose takes it (nextcloud's
			 * examples write "nextcloud:/var/www/html:z") */
			error = (free(m->selinux), m->selinux = strdup(tok)) ? 0 : EF_ENOMEM;
		else if (is_propagation(tok) && m->type == EF_MOUNT_BIND)
			error = (m->propagation = strdup(tok)) ? 0 : EF_ENOMEM;
		else if (!strcmp(tok, "cached") || !strcmp(tok, "delegated") ||
		         !strcmp(tok, "consistent"))
			; /* macOS file sharing hints: no meaning on Linux */
		else
			error = mf_fail(
			        c, EF_EINVALID,
			        "'%s': option '%s' is not supported here (use ro, rw, z, Z; "
			        "a propagation for a bind; nocopy for a volume)",
			        spec, tok);
	}
	free(copy);
	return error == EF_ENOMEM ? mf_fail(c, EF_ENOMEM, "out of memory") : error;
}

static int parse_short_volume(pctx *c, const char *spec, const ef_manifest *man, ef_mount *m)
{
	const char *c1 = strchr(spec, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	int error;

	if (mf_has_ctl(spec))
		return mf_fail(c, EF_EINVALID, "control characters are not allowed in a volume");
	if (!c1) { /* "/data": an anonymous volume */
		m->type = EF_MOUNT_VOLUME;
		if (!(m->target = strdup(spec)))
			return mf_fail(c, EF_ENOMEM, "out of memory");
		return mf_check_abs_path(c, m->target, "the target");
	}
	if (c1 == spec)
		return mf_fail(c, EF_EINVALID, "'%s' has no source before ':'", spec);
	m->source = strndup(spec, (size_t)(c1 - spec));
	m->target = c2 ? strndup(c1 + 1, (size_t)(c2 - c1 - 1)) : strdup(c1 + 1);
	if (!m->source || !m->target)
		return mf_fail(c, EF_ENOMEM, "out of memory");
	if (m->target[0] != '/')
		return mf_fail(c, EF_EINVALID, "'%s': the target '%s' must be an absolute path",
		               spec, m->target);
	if (m->source[0] == '/' || mf_is_relative_source(m->source)) {
		m->type = EF_MOUNT_BIND;
		m->create_host_path = true; /* the short syntax creates a missing source */
	} else {
		m->type = EF_MOUNT_VOLUME;
	}
	if (c2 && (error = short_options(c, spec, c2 + 1, m)) < 0)
		return error;
	if (m->type == EF_MOUNT_BIND)
		return bind_source(c, m);
	return resolve_volume(c, man, m);
}

static int long_bind(pctx *c, const cJSON *v, ef_mount *m)
{
	static const char *const keys[] = {"create_host_path", "propagation", "selinux",
	                                   "recursive", NULL};
	const cJSON *o;
	int error;

	if ((error = mf_check_keys(c, v, keys, false)) < 0)
		return error;
	if ((o = mf_member(v, "create_host_path"))) {
		size_t saved = mf_push_key(c, "create_host_path");
		error = mf_get_bool(c, o, &m->create_host_path);
		mf_pop(c, saved);
		if (error < 0)
			return error;
	}
	if ((o = mf_member(v, "propagation"))) {
		if (!cJSON_IsString(o) || !is_propagation(o->valuestring))
			return mf_fail_at(
			        c, "propagation",
			        "expected rprivate, private, rshared, shared, rslave or slave");
		if (!(m->propagation = strdup(o->valuestring)))
			return mf_fail(c, EF_ENOMEM, "out of memory");
	}
	if ((o = mf_member(v, "selinux"))) {
		if (!cJSON_IsString(o) ||
		    (strcmp(o->valuestring, "z") && strcmp(o->valuestring, "Z")))
			return mf_fail_at(c, "selinux", "expected \"z\" or \"Z\"");
		if (!(m->selinux = strdup(o->valuestring)))
			return mf_fail(c, EF_ENOMEM, "out of memory");
	}
	if ((o = mf_member(v, "recursive")) &&
	    !(cJSON_IsString(o) && !strcmp(o->valuestring, "enabled")))
		return mf_fail_at(c, "recursive", "only \"enabled\" (the default) is supported");
	return 0;
}

static int long_volume(pctx *c, const cJSON *v, ef_mount *m)
{
	static const char *const keys[] = {"nocopy", "subpath", NULL};
	const cJSON *o;
	int error;

	if ((error = mf_check_keys(c, v, keys, false)) < 0)
		return error;
	if ((o = mf_member(v, "nocopy"))) {
		size_t saved = mf_push_key(c, "nocopy");
		error = mf_get_bool(c, o, &m->nocopy);
		mf_pop(c, saved);
		if (error < 0)
			return error;
	}
	if ((o = mf_member(v, "subpath"))) {
		size_t saved = mf_push_key(c, "subpath");
		if (!cJSON_IsString(o))
			error = mf_fail(c, EF_EINVALID, "expected a relative path");
		else
			error = mf_rel_path(c, o->valuestring, "subpath", &m->subpath);
		mf_pop(c, saved);
	}
	return error;
}

static int long_tmpfs(pctx *c, const cJSON *v, ef_mount *m)
{
	static const char *const keys[] = {"size", "mode", NULL};
	const cJSON *o;
	int64_t n;
	int error;

	if ((error = mf_check_keys(c, v, keys, false)) < 0)
		return error;
	if ((o = mf_member(v, "size"))) {
		size_t saved = mf_push_key(c, "size");
		error = mf_get_size(c, o, &m->tmpfs_size);
		mf_pop(c, saved);
		if (error < 0)
			return error;
	}
	if ((o = mf_member(v, "mode"))) {
		if (!mf_whole_number(o, 0, 07777, &n))
			return mf_fail_at(c, "mode",
			                  "expected permission bits such as 1777 (as a "
			                  "number: 1023)");
		m->tmpfs_mode = (uint32_t)n;
	}
	return 0;
}

static int parse_long_volume(pctx *c, const cJSON *it, const ef_manifest *man, ef_mount *m)
{
	static const char *const keys[] = {"type",   "source", "target",      "read_only", "bind",
	                                   "volume", "tmpfs",  "consistency", NULL};
	static const struct {
		const char *key;
		ef_mount_type type;
		int (*fn)(pctx *, const cJSON *, ef_mount *);
	} subs[] = {{"bind", EF_MOUNT_BIND, long_bind},
	            {"volume", EF_MOUNT_VOLUME, long_volume},
	            {"tmpfs", EF_MOUNT_TMPFS, long_tmpfs}};
	const cJSON *v;
	size_t saved;
	int error;

	if ((error = mf_check_keys(c, it, keys, false)) < 0)
		return error;
	v = mf_member(it, "type");
	if (!v)
		return mf_fail_at(c, "type", "missing; use bind, volume or tmpfs");
	if (cJSON_IsString(v) && strcmp(v->valuestring, "bind") == 0)
		m->type = EF_MOUNT_BIND;
	else if (cJSON_IsString(v) && strcmp(v->valuestring, "volume") == 0)
		m->type = EF_MOUNT_VOLUME;
	else if (cJSON_IsString(v) && strcmp(v->valuestring, "tmpfs") == 0)
		m->type = EF_MOUNT_TMPFS;
	else
		return mf_fail_at(c, "type",
		                  "expected \"bind\", \"volume\" or \"tmpfs\" (npipe, cluster and "
		                  "image mounts are not supported)");
	if (!(v = mf_member(it, "target")))
		return mf_fail_at(c, "target", "missing; give the path inside the container");
	saved = mf_push_key(c, "target");
	if ((error = mf_get_nonempty_string(c, v, &m->target)) == 0)
		error = mf_check_abs_path(c, m->target, "the target");
	mf_pop(c, saved);
	if (error < 0)
		return error;
	if ((v = mf_member(it, "read_only"))) {
		saved = mf_push_key(c, "read_only");
		error = mf_get_bool(c, v, &m->read_only);
		mf_pop(c, saved);
		if (error < 0)
			return error;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (!(v = mf_member(it, subs[i].key)))
			continue;
		saved = mf_push_key(c, subs[i].key);
		if (m->type != subs[i].type)
			error = mf_fail(c, EF_EINVALID, "only allowed with type %s", subs[i].key);
		else
			error = subs[i].fn(c, v, m);
		mf_pop(c, saved);
		if (error < 0)
			return error;
	}
	v = mf_member(it, "source");
	if (m->type == EF_MOUNT_TMPFS) {
		if (v)
			return mf_fail_at(c, "source", "a tmpfs mount has no source; remove it");
		return 0;
	}
	if (!v || (cJSON_IsString(v) && v->valuestring[0] == '\0')) {
		if (m->type == EF_MOUNT_VOLUME)
			return 0; /* an anonymous volume */
		return mf_fail_at(c, "source", "missing; give the host path");
	}
	saved = mf_push_key(c, "source");
	error = mf_get_string(c, v, &m->source);
	if (error == 0 && mf_has_ctl(m->source))
		error = mf_fail(c, EF_EINVALID, "control characters are not allowed in a source");
	else if (error == 0 && m->type == EF_MOUNT_BIND)
		error = bind_source(c, m);
	else if (error == 0)
		error = resolve_volume(c, man, m);
	mf_pop(c, saved);
	return error;
}

/* Whether the short-syntax entry e is written, byte for byte, by an earlier
 * entry of the list (after interpolation: "${DATA:-./data}:/data" beside
 * "./data:/data"): one mount, as the engine would make it. */
static bool repeated(const cJSON *list, const cJSON *e)
{
	if (!cJSON_IsString(e))
		return false;
	for (const cJSON *o = list->child; o && o != e; o = o->next)
		if (cJSON_IsString(o) && !strcmp(o->valuestring, e->valuestring))
			return true;
	return false;
}

int mf_get_volumes(pctx *c, const cJSON *it, const ef_manifest *man, ef_service *s)
{
	size_t i = 0, n, at[MAX_VOLUMES]; /* at[k]: the list index of volumes[k] */
	int error = 0, first = 0;

	if (!cJSON_IsArray(it))
		return mf_fail(c, EF_EINVALID, "expected an array, found %s", mf_type_name(it));
	n = (size_t)cJSON_GetArraySize(it);
	if (n > MAX_VOLUMES)
		return mf_fail(c, EF_ETOOBIG, "%zu volumes; at most %d are supported", n,
		               MAX_VOLUMES);
	if (n == 0)
		return 0;
	if (!(s->volumes = calloc(n, sizeof(*s->volumes))))
		return mf_fail(c, EF_ENOMEM, "out of memory");
	for (const cJSON *e = it->child; e; e = e->next, i++) {
		size_t saved;
		ef_mount *m = &s->volumes[s->nvolumes];

		if (repeated(it, e))
			continue;
		saved = mf_push_index(c, i);
		at[s->nvolumes++] = i;
		if (cJSON_IsString(e))
			error = parse_short_volume(c, e->valuestring, man, m);
		else if (cJSON_IsObject(e))
			error = parse_long_volume(c, e, man, m);
		else
			error = mf_fail(c, EF_EINVALID,
			                "expected a \"SOURCE:TARGET[:ro]\" string or an object "
			                "{type, source, target, read_only}, found %s",
			                mf_type_name(e));
		mf_pop(c, saved);
		if (error < 0 && !first)
			first = error;
	}
	for (size_t a = 0; a < s->nvolumes; a++)
		for (size_t b = 0; b < a; b++)
			if (s->volumes[a].target && s->volumes[b].target &&
			    !strcmp(s->volumes[a].target, s->volumes[b].target)) {
				size_t saved = mf_push_index(c, at[a]);
				first = mf_fail(c, EF_EINVALID,
				                "target '%s' is mounted twice, differently (docker "
				                "compose would keep only the last); keep one",
				                s->volumes[a].target);
				mf_pop(c, saved);
			}
	return first;
}
