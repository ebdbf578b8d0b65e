/* Resources, platform, profiles, env_file, deploy, scale and build. See
 * docs/manifest.md. */
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

static int oom(pctx *c)
{
	return mf_fail(c, EF_ENOMEM, "out of memory");
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
 * Device requests (GPUs): deploy.resources.reservations.devices and gpus */

#define MAX_DEVICE_REQUESTS 8

static int device_request(pctx *c, const cJSON *it, ef_device_request *d, bool gpus)
{
	static const char *const keys[] = {"capabilities", "driver",  "count",
	                                   "device_ids",   "options", NULL};
	const cJSON *v, *ids;
	size_t saved;
	int error;

	if (!cJSON_IsObject(it))
		return mf_fail(
		        c, EF_EINVALID,
		        "expected {capabilities, driver, count, device_ids, options}, found %s",
		        mf_type_name(it));
	if ((error = mf_check_keys(c, it, keys, false)) < 0)
		return error;
	if ((v = mf_member(it, "capabilities"))) {
		saved = mf_push_key(c, "capabilities");
		error = mf_get_string_list(c, v, MAX_LIST, &d->capabilities);
		mf_pop(c, saved);
		if (error < 0)
			return error;
	}
	/* gpus: the capability is gpu unless given */
	if (!d->capabilities && gpus && ef_strv_push(&d->capabilities, "gpu") < 0)
		return mf_fail(c, EF_ENOMEM, "out of memory");
	if (!d->capabilities)
		return mf_fail_at(c, "capabilities",
		                  "missing; list what the device must offer, such as [gpu]");
	for (size_t i = 0; d->capabilities[i]; i++)
		if (!mf_valid_name(d->capabilities[i], "_.-", 64)) {
			saved = mf_push_key(c, "capabilities");
			error = mf_fail(c, EF_EINVALID, "'%s' is not a capability name",
			                d->capabilities[i]);
			mf_pop(c, saved);
			return error;
		}
	if ((v = mf_member(it, "driver"))) {
		saved = mf_push_key(c, "driver");
		error = mf_get_name(c, v, &d->driver);
		mf_pop(c, saved);
		if (error < 0)
			return error;
	}
	if ((ids = mf_member(it, "device_ids"))) {
		saved = mf_push_key(c, "device_ids");
		error = mf_get_string_list(c, ids, MAX_LIST, &d->device_ids);
		mf_pop(c, saved);
		if (error < 0)
			return error;
	}
	d->count = d->device_ids ? 0 : -1; /* neither: all that have the capabilities */
	if ((v = mf_member(it, "count"))) {
		if (ids)
			return mf_fail_at(
			        c, "count",
			        "count and device_ids exclude each other (as in Compose); "
			        "keep one");
		if (!(cJSON_IsString(v) && !strcmp(v->valuestring, "all")) &&
		    !mf_whole_number(v, 1, 1024, &d->count))
			return mf_fail_at(c, "count",
			                  "expected a number of devices 1-1024 or \"all\"");
	}
	if ((v = mf_member(it, "options"))) {
		saved = mf_push_key(c, "options");
		error = mf_get_kv(c, v, MAX_LIST, KV_OPTS, &d->options);
		mf_pop(c, saved);
		if (error < 0)
			return error;
	}
	return 0;
}

/* Appends the requests of `it` (a list; for gpus also "all") to the service. */
static int device_requests(pctx *c, const cJSON *it, ef_service *s, bool gpus)
{
	size_t n, i = 0;
	ef_device_request *v;
	int error = 0;

	if (gpus && cJSON_IsString(it) && !strcmp(it->valuestring, "all")) {
		static const char *const all_json = "[{}]";
		cJSON *list = cJSON_Parse(all_json);
		if (!list)
			return mf_fail(c, EF_ENOMEM, "out of memory");
		error = device_requests(c, list, s, true);
		cJSON_Delete(list);
		return error;
	}
	if (!cJSON_IsArray(it))
		return mf_fail(c, EF_EINVALID, "expected a list of device requests%s, found %s",
		               gpus ? " or \"all\"" : "", mf_type_name(it));
	n = (size_t)cJSON_GetArraySize(it);
	if (s->ndevice_requests + n > MAX_DEVICE_REQUESTS)
		return mf_fail(c, EF_ETOOBIG, "more than %d device requests", MAX_DEVICE_REQUESTS);
	if (!n)
		return 0;
	if (!(v = realloc(s->device_requests, (s->ndevice_requests + n) * sizeof(*v))))
		return mf_fail(c, EF_ENOMEM, "out of memory");
	s->device_requests = v;
	for (const cJSON *e = it->child; e && error == 0; e = e->next, i++) {
		size_t saved = mf_push_index(c, i);
		ef_device_request *d = &s->device_requests[s->ndevice_requests++];
		memset(d, 0, sizeof(*d));
		error = device_request(c, e, d, gpus);
		mf_pop(c, saved);
	}
	return error;
}

int mf_f_gpus(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return device_requests(c, it, sc->s, true);
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
			if (error == 0 && (v = mf_member(r, "devices"))) {
				size_t s2 = mf_push_key(c, "devices");
				error = device_requests(c, v, s, false);
				mf_pop(c, s2);
			}
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
	/* The specification's none, on-failure and any, and the engine's words
	 * for them, which docker compose maps the same way (no, always,
	 * unless-stopped). */
	if (cond && !cJSON_IsString(cond))
		return mf_fail_at(c, "condition", "expected a string, found %s",
		                  mf_type_name(cond));
	if (!cond || !strcmp(cond->valuestring, "any") || !strcmp(cond->valuestring, "always"))
		r = strdup("always");
	else if (!strcmp(cond->valuestring, "none") || !strcmp(cond->valuestring, "no"))
		r = strdup("no");
	else if (!strcmp(cond->valuestring, "unless-stopped"))
		r = strdup("unless-stopped");
	else if (!strcmp(cond->valuestring, "on-failure"))
		r = max ? mf_str_printf("on-failure:%lld", (long long)max) : strdup("on-failure");
	else
		return mf_fail_at(c, "condition",
		                  "expected \"none\", \"on-failure\" or \"any\" (or the engine's "
		                  "\"no\", \"always\", \"unless-stopped\")");
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
	/* global: one instance on each node, and a device is one node (docker
	 * compose runs one too) */
	if ((v = mf_member(it, "mode")) &&
	    !(cJSON_IsString(v) &&
	      (!strcmp(v->valuestring, "replicated") || !strcmp(v->valuestring, "global"))))
		first = mf_fail_at(c, "mode",
		                   "only \"replicated\" and \"global\" (one instance on the "
		                   "device) are supported");
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
