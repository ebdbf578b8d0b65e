/* Volumes: short and long syntax, named volumes. */
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
 * Volumes. */

int mf_check_abs_path(pctx *c, const char *path, const char *what)
{
	if (path[0] != '/')
		return mf_fail(c, EF_EINVALID, "%s '%s' must be an absolute path", what, path);
	if (mf_has_ctl(path))
		return mf_fail(c, EF_EINVALID, "%s contains control characters", what);
	return 0;
}

static int resolve_volume(pctx *c, const volume_decls *decls, ef_mount *m)
{
	for (size_t i = 0; i < decls->n; i++) {
		if (strcmp(decls->v[i].key, m->source) == 0) {
			char *name = strdup(decls->v[i].name);
			if (!name)
				return mf_fail(c, EF_ENOMEM, "out of memory");
			free(m->source);
			m->source = name;
			return 0;
		}
	}
	return mf_fail(c, EF_EINVALID, "volume '%s' is not declared; add it under $.volumes",
	               m->source);
}

static int parse_short_volume(pctx *c, const char *spec, const volume_decls *decls, ef_mount *m)
{
	const char *c1 = strchr(spec, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

	if (!c1)
		return mf_fail(
		        c, EF_EINVALID,
		        "'%s': anonymous volumes are not supported (blue and green instances "
		        "would not share them); use \"name:%s\" or \"/host/path:%s\"",
		        spec, spec, spec);
	if (c2) {
		if (strcmp(c2 + 1, "ro") == 0)
			m->read_only = true;
		else if (strcmp(c2 + 1, "rw") != 0)
			return mf_fail(c, EF_EINVALID,
			               "'%s': mode '%s' is not supported (use ro or rw)", spec,
			               c2 + 1);
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
	if (m->source[0] == '/') {
		m->type = EF_MOUNT_BIND;
		return mf_check_abs_path(c, m->source, "the source");
	}
	if (m->source[0] == '.' || m->source[0] == '~')
		return mf_fail(
		        c, EF_EINVALID,
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
		return mf_fail_at(c, "type", "expected \"bind\", \"volume\" or \"tmpfs\"");
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
	if ((v = mf_member(it, "bind"))) {
		saved = mf_push_key(c, "bind");
		if (m->type != EF_MOUNT_BIND)
			error = mf_fail(c, EF_EINVALID, "only allowed with type bind");
		else if ((error = mf_check_keys(c, v, bind_keys, false)) == 0 &&
		         (v = mf_member(v, "create_host_path")) && !cJSON_IsBool(v))
			error = mf_fail_at(c, "create_host_path", "expected true or false");
		mf_pop(c, saved);
		if (error < 0)
			return error;
	}
	if ((v = mf_member(it, "volume"))) {
		saved = mf_push_key(c, "volume");
		if (m->type != EF_MOUNT_VOLUME)
			error = mf_fail(c, EF_EINVALID, "only allowed with type volume");
		else
			error = mf_check_keys(c, v, none, false);
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
			return mf_fail_at(c, "source",
			                  "missing: anonymous volumes are not supported (blue and "
			                  "green instances would not share them); name the volume");
		return mf_fail_at(c, "source", "missing; give the host path");
	}
	saved = mf_push_key(c, "source");
	error = mf_get_string(c, v, &m->source);
	if (error == 0 && m->type == EF_MOUNT_BIND)
		error = mf_check_abs_path(c, m->source, "the bind source");
	else if (error == 0)
		error = resolve_volume(c, decls, m);
	mf_pop(c, saved);
	return error;
}

int mf_get_volumes(pctx *c, const cJSON *it, const volume_decls *decls, ef_service *s)
{
	size_t i = 0, n;
	int error = 0;

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
		size_t saved = mf_push_index(c, i);

		s->nvolumes = i + 1;
		if (cJSON_IsString(e))
			error = parse_short_volume(c, e->valuestring, decls, &s->volumes[i]);
		else if (cJSON_IsObject(e))
			error = parse_long_volume(c, e, decls, &s->volumes[i]);
		else
			error = mf_fail(c, EF_EINVALID,
			                "expected a \"SOURCE:TARGET[:ro]\" string or an object "
			                "{type, source, target, read_only}, found %s",
			                mf_type_name(e));
		mf_pop(c, saved);
		if (error < 0)
			return error;
	}
	return 0;
}
