/* `extends`: a service built on another one, of the same file or of another
 * file of the same directory, as compose-go applies it: after the file is
 * interpolated and before files are merged, the base service (its own
 * `extends` first) is copied and the extending service is merged into the
 * copy with the override rules (merge.c). Positions stay those of the lines
 * the values come from, so a problem in an inherited value names the base
 * service's line. */
#include "edgeflip/compose_read.h"
#include "edgeflip/error.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest_internal.h"

#define MAX_EXTENDS 8 /* a chain of services, or of files */

typedef struct {
	const mf_extends_io *io;
	ef_compose_pos *pos;
	ef_findings *findings;
	const char *file; /* shown in messages */
	const char *chain[MAX_EXTENDS + 1];
	size_t nchain;
	int error;
} xctx;

static int fail(xctx *c, const cJSON *n, const char *service, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int fail(xctx *c, const cJSON *n, const char *service, const char *fmt, ...)
{
	char msg[600], path[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "$.services.%s.extends", service);
	ef_findings_at(c->findings, c->pos, n, c->file, path, msg, !c->error);
	if (!c->error)
		c->error = EF_EINVALID;
	return EF_EINVALID;
}

static int resolve(xctx *c, cJSON *services, cJSON *svc);

/* A copy of the base service `name` of another file of the directory (read,
 * interpolated and with its own extends resolved by io->read, once). */
static cJSON *from_file(xctx *c, const cJSON *at, const char *service, const char *file,
                        const char *name)
{
	const cJSON *other = NULL, *services, *base;
	bool too_deep = false;
	cJSON *copy;
	int error;

	if (strchr(file, '/') || !strcmp(file, ".") || !strcmp(file, "..")) {
		fail(c, at, service,
		     "extends.file '%s' is not a file of this directory: a device resolves "
		     "relative paths against the environment directory only; copy the base "
		     "service into a file beside this one",
		     file);
		return NULL;
	}
	if ((error = c->io->read(c->io->ctx, &other, file)) < 0) {
		if (error == EF_ENOMEM || !c->error)
			c->error = error;
		return NULL;
	}
	services = cJSON_GetObjectItemCaseSensitive(other, "services");
	if (!cJSON_IsObject(services) ||
	    !(base = cJSON_GetObjectItemCaseSensitive(services, name))) {
		fail(c, at, service, "extends.file %s has no service %s", file, name);
		return NULL;
	}
	if (!(copy = ef_compose_pos_copy(c->pos, base, EF_COMPOSE_MAX_DEPTH, &too_deep)))
		c->error = too_deep ? fail(c, at, service, "nested too deep") : EF_ENOMEM;
	return copy;
}

/* Moves every member of `from` to the end of `to`, nodes and positions kept. */
static int move_members(cJSON *from, cJSON *to)
{
	while (from->child) {
		cJSON *m = cJSON_DetachItemViaPointer(from, from->child);
		if (!cJSON_AddItemToObject(to, m->string, m)) {
			cJSON_Delete(m);
			return EF_ENOMEM;
		}
	}
	return 0;
}

/* Resolves the `extends` of svc (a member of services), bases first;
 * c->chain holds the services of this file being resolved. */
static int resolve_one(xctx *c, cJSON *services, cJSON *svc)
{
	cJSON *ext = cJSON_IsObject(svc) ? cJSON_GetObjectItemCaseSensitive(svc, "extends") : NULL;
	const cJSON *name_node, *file_node;
	cJSON *base, *wb = NULL, *wo = NULL, *sb, *so, *own;
	const char *name, *file = NULL;
	bool too_deep = false;
	int error;

	if (!ext)
		return 0;
	if (cJSON_IsString(ext)) {
		name_node = ext;
		file_node = NULL;
	} else if (cJSON_IsObject(ext)) {
		for (const cJSON *m = ext->child; m; m = m->next)
			if (strcmp(m->string, "service") && strcmp(m->string, "file"))
				return fail(c, m, svc->string,
				            "unknown key '%s' (extends takes service and file)",
				            m->string);
		name_node = cJSON_GetObjectItemCaseSensitive(ext, "service");
		file_node = cJSON_GetObjectItemCaseSensitive(ext, "file");
	} else {
		return fail(c, ext, svc->string,
		            "expected a service name or {service, file}, found %s",
		            cJSON_IsArray(ext) ? "an array" : "a scalar");
	}
	if (!cJSON_IsString(name_node) || !name_node->valuestring[0])
		return fail(c, ext, svc->string, "extends.service: give the name of the service");
	if (file_node && (!cJSON_IsString(file_node) || !file_node->valuestring[0]))
		return fail(c, file_node, svc->string, "extends.file: give a file name");
	name = name_node->valuestring;
	file = file_node ? file_node->valuestring : NULL;
	if (c->nchain >= MAX_EXTENDS)
		return fail(c, ext, svc->string,
		            "more than %d services extend one another here; write one in full",
		            MAX_EXTENDS);
	if (file) {
		if (!(base = from_file(c, ext, svc->string, file, name)))
			return c->error ? c->error : EF_ENOMEM;
	} else {
		cJSON *orig = cJSON_GetObjectItemCaseSensitive(services, name);
		if (!orig)
			return fail(c, name_node, svc->string,
			            "service %s, which it extends, is not in this file", name);
		for (size_t i = 0; i < c->nchain; i++)
			if (!strcmp(c->chain[i], name))
				return fail(c, name_node, svc->string,
				            "services extend one another in a circle (%s)", name);
		c->chain[c->nchain++] = svc->string;
		error = resolve(c, services, orig);
		c->nchain--;
		if (error < 0)
			return error;
		if (!(base = ef_compose_pos_copy(c->pos, orig, EF_COMPOSE_MAX_DEPTH, &too_deep)))
			return c->error = too_deep ? fail(c, ext, svc->string, "nested too deep")
			                           : EF_ENOMEM;
	}
	/* The extending service's own keys move into a new mapping, merged
	 * into the base's copy; the result moves back, so svc keeps its place
	 * and its position. */
	cJSON_Delete(cJSON_DetachItemViaPointer(svc, ext));
	if (!(wb = cJSON_CreateObject()) || !(wo = cJSON_CreateObject()) ||
	    !(sb = cJSON_AddObjectToObject(wb, "services")) ||
	    !(so = cJSON_AddObjectToObject(wo, "services")) ||
	    !cJSON_AddItemToObject(sb, svc->string, base)) {
		cJSON_Delete(base);
		error = EF_ENOMEM;
		goto out;
	}
	if (!(own = cJSON_AddObjectToObject(so, svc->string)) ||
	    (error = move_members(svc, own)) < 0) {
		error = EF_ENOMEM;
		goto out;
	}
	error = ef_compose_merge(wb, wo, c->pos, c->file, c->findings);
	wo = NULL; /* consumed */
	if (error == 0 && (base = cJSON_GetObjectItemCaseSensitive(
	                           cJSON_GetObjectItemCaseSensitive(wb, "services"), svc->string)))
		error = move_members(base, svc);
out:
	cJSON_Delete(wb);
	cJSON_Delete(wo);
	if (error == EF_ENOMEM)
		c->error = EF_ENOMEM;
	else if (error < 0 && !c->error)
		c->error = error;
	return error;
}

/* On failure the extends key goes: one problem is reported once, not again
 * for each service of a circle. */
static int resolve(xctx *c, cJSON *services, cJSON *svc)
{
	int error = resolve_one(c, services, svc);

	if (error < 0 && cJSON_IsObject(svc))
		cJSON_DeleteItemFromObjectCaseSensitive(svc, "extends");
	return error;
}

int mf_apply_extends(cJSON *doc, const char *file, ef_compose_pos *pos, ef_findings *findings,
                     const mf_extends_io *io)
{
	cJSON *services = cJSON_GetObjectItemCaseSensitive(doc, "services");
	xctx c;

	memset(&c, 0, sizeof(c));
	c.io = io;
	c.pos = pos;
	c.findings = findings;
	c.file = file;
	if (!cJSON_IsObject(services))
		return 0;
	for (cJSON *s = services->child; s; s = s->next)
		if (resolve(&c, services, s) == EF_ENOMEM)
			break;
	if (c.error == EF_ENOMEM)
		ef_error_set("out of memory");
	return c.error;
}
