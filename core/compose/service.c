/* One service: the table of its keys and their readers. */
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
 * Services. */

typedef int (*field_fn)(pctx *c, svc_ctx *sc, const cJSON *it);

static int f_image(pctx *c, svc_ctx *sc, const cJSON *it)
{
	int error = mf_get_nonempty_string(c, it, &sc->s->image);

	if (error == 0 && (error = ef_image_ref_split(sc->s->image, NULL, NULL, NULL, NULL)) < 0)
		return mf_fail(c, error, "%s", ef_error_last());
	return error;
}

static int f_command(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return mf_get_argv(c, it, &sc->s->command);
}

static int f_entrypoint(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return mf_get_argv(c, it, &sc->s->entrypoint);
}

static int f_environment(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return mf_get_kv(c, it, MAX_ENV, false, &sc->s->environment);
}

static int f_labels(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return mf_get_kv(c, it, MAX_LABELS, true, &sc->s->labels);
}

static int f_ports(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return mf_get_ports(c, it, sc->s);
}

static int f_volumes(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return mf_get_volumes(c, it, sc->decls, sc->s);
}

static int f_restart(pctx *c, svc_ctx *sc, const cJSON *it)
{
	const char *r = cJSON_IsString(it) ? it->valuestring : "";
	uint64_t n;

	if (!strcmp(r, "no") || !strcmp(r, "always") || !strcmp(r, "unless-stopped") ||
	    !strcmp(r, "on-failure") ||
	    (!strncmp(r, "on-failure:", 11) && mf_digits_number(r + 11, 0, 1000000, &n)))
		return mf_get_string(c, it, &sc->s->restart);
	return mf_fail(c, EF_EINVALID,
	               "expected \"no\", \"always\", \"on-failure\", \"on-failure:N\" or "
	               "\"unless-stopped\"");
}

static int f_user(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return mf_get_nonempty_string(c, it, &sc->s->user);
}

static int f_working_dir(pctx *c, svc_ctx *sc, const cJSON *it)
{
	int error = mf_get_nonempty_string(c, it, &sc->s->working_dir);

	if (error == 0)
		error = mf_check_abs_path(c, sc->s->working_dir, "working_dir");
	return error;
}

static int f_mem_limit(pctx *c, svc_ctx *sc, const cJSON *it)
{
	int64_t n;

	if (mf_whole_number(it, 0, 9.2e18, &n)) {
		sc->s->mem_limit = n;
		return 0;
	}
	if (cJSON_IsString(it) && mf_parse_mem(&sc->s->mem_limit, it->valuestring) == 0)
		return 0;
	return mf_fail(c, EF_EINVALID,
	               "expected a number of bytes or a size such as \"512m\", \"1g\" or \"256k\"");
}

static int f_privileged(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return mf_get_bool(c, it, &sc->s->privileged);
}

static int f_read_only(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return mf_get_bool(c, it, &sc->s->read_only);
}

static int get_enum(pctx *c, const cJSON *it, const char *const *allowed, const char *hint,
                    char **out)
{
	for (size_t i = 0; allowed[i]; i++)
		if (cJSON_IsString(it) && strcmp(it->valuestring, allowed[i]) == 0)
			return mf_get_string(c, it, out);
	return mf_fail(c, EF_EINVALID, "expected %s", hint);
}

static int f_network_mode(pctx *c, svc_ctx *sc, const cJSON *it)
{
	static const char *const modes[] = {"bridge", "host", "none", NULL};

	return get_enum(c, it, modes, "\"bridge\", \"host\" or \"none\"", &sc->s->network_mode);
}

static int f_pid(pctx *c, svc_ctx *sc, const cJSON *it)
{
	static const char *const modes[] = {"host", NULL};

	return get_enum(c, it, modes, "\"host\" (or leave it out)", &sc->s->pid);
}

static int f_ipc(pctx *c, svc_ctx *sc, const cJSON *it)
{
	static const char *const modes[] = {"host", "private", "shareable", NULL};

	return get_enum(c, it, modes, "\"host\", \"private\" or \"shareable\"", &sc->s->ipc);
}

static int get_caps(pctx *c, const cJSON *it, char ***out)
{
	int error = mf_get_string_list(c, it, MAX_LIST, out);

	for (size_t i = 0; error == 0 && *out && (*out)[i]; i++) {
		const char *cap = (*out)[i];
		bool ok = cap[0] != '\0';
		for (const char *p = cap; *p && ok; p++)
			ok = mf_is_alnum(*p) || *p == '_';
		if (!ok) {
			size_t saved = mf_push_index(c, i);
			error = mf_fail(c, EF_EINVALID,
			                "'%s' is not a capability name (such as NET_ADMIN)", cap);
			mf_pop(c, saved);
		}
	}
	return error;
}

static int f_cap_add(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return get_caps(c, it, &sc->s->cap_add);
}

static int f_cap_drop(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return get_caps(c, it, &sc->s->cap_drop);
}

static int device_entry(pctx *c, const cJSON *e, char **out)
{
	static const char *const keys[] = {"source", "target", "permissions", NULL};
	const char *src, *dst = NULL, *perm = NULL;
	const cJSON *v;
	int error;

	if (cJSON_IsString(e)) {
		char *copy = strdup(e->valuestring), *tok, *save = NULL;
		size_t k = 0;
		if (!copy)
			return mf_fail(c, EF_ENOMEM, "out of memory");
		error = e->valuestring[0] == '/' && !mf_has_ctl(e->valuestring) ? 0 : EF_EINVALID;
		for (tok = strtok_r(copy, ":", &save); tok && error == 0;
		     tok = strtok_r(NULL, ":", &save), k++) {
			if (k == 2)
				error = strspn(tok, "rwm") == strlen(tok) ? 0 : EF_EINVALID;
			else if (k > 2 || tok[0] != '/')
				error = EF_EINVALID;
		}
		free(copy);
		if (error < 0)
			return mf_fail(c, EF_EINVALID,
			               "'%s' is not a device mapping (use \"/dev/x\", "
			               "\"/dev/x:/dev/y\" or \"/dev/x:/dev/y:rwm\")",
			               e->valuestring);
		*out = strdup(e->valuestring);
		return *out ? 0 : mf_fail(c, EF_ENOMEM, "out of memory");
	}
	if (!cJSON_IsObject(e))
		return mf_fail(c, EF_EINVALID,
		               "expected a \"/dev/x[:/dev/y[:rwm]]\" string, found %s",
		               mf_type_name(e));
	if ((error = mf_check_keys(c, e, keys, false)) < 0)
		return error;
	v = mf_member(e, "source");
	if (!cJSON_IsString(v) || v->valuestring[0] != '/')
		return mf_fail_at(c, "source", "expected a device path such as \"/dev/ttyUSB0\"");
	src = v->valuestring;
	if ((v = mf_member(e, "target"))) {
		if (!cJSON_IsString(v) || v->valuestring[0] != '/' || strchr(v->valuestring, ':'))
			return mf_fail_at(c, "target", "expected a device path");
		dst = v->valuestring;
	}
	if ((v = mf_member(e, "permissions"))) {
		if (!cJSON_IsString(v) || !v->valuestring[0] ||
		    strspn(v->valuestring, "rwm") != strlen(v->valuestring))
			return mf_fail_at(c, "permissions", "expected letters from \"rwm\"");
		perm = v->valuestring;
	}
	if (strchr(src, ':') || mf_has_ctl(src) || (dst && mf_has_ctl(dst)))
		return mf_fail_at(c, "source", "expected a device path such as \"/dev/ttyUSB0\"");
	if (!(*out = mf_str_printf("%s:%s%s%s", src, dst ? dst : src, perm ? ":" : "",
	                           perm ? perm : "")))
		return mf_fail(c, EF_ENOMEM, "out of memory");
	return 0;
}

static int f_devices(pctx *c, svc_ctx *sc, const cJSON *it)
{
	size_t i = 0;
	int error = 0;

	if (!cJSON_IsArray(it))
		return mf_fail(c, EF_EINVALID, "expected an array, found %s", mf_type_name(it));
	if ((size_t)cJSON_GetArraySize(it) > MAX_LIST)
		return mf_fail(c, EF_ETOOBIG, "%d devices; at most %d are supported",
		               cJSON_GetArraySize(it), MAX_LIST);
	for (const cJSON *e = it->child; e && error == 0; e = e->next, i++) {
		size_t saved = mf_push_index(c, i);
		char *dev = NULL;
		if ((error = device_entry(c, e, &dev)) == 0 &&
		    ef_strv_push_owned(&sc->s->devices, dev) < 0)
			error = mf_fail(c, EF_ENOMEM, "out of memory");
		mf_pop(c, saved);
	}
	return error;
}

static int f_container_name(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return mf_fail(
	        c, EF_EINVALID,
	        "container_name is refused: edgeflip names containers itself (blue and green "
	        "instances run side by side); remove it");
}

/* `networks` as `docker compose config` writes it: {"default": null} or ["default"]. */
static int f_networks(pctx *c, svc_ctx *sc, const cJSON *it)
{
	size_t i = 0;

	if (cJSON_IsArray(it)) {
		for (const cJSON *e = it->child; e; e = e->next, i++) {
			if (!cJSON_IsString(e) || strcmp(e->valuestring, "default")) {
				size_t saved = mf_push_index(c, i);
				int error = mf_fail(c, EF_EINVALID,
				                    "only the default network is supported; remove "
				                    "other networks");
				mf_pop(c, saved);
				return error;
			}
		}
		return 0;
	}
	if (!cJSON_IsObject(it))
		return mf_fail(c, EF_EINVALID, "expected {\"default\": null}");
	for (const cJSON *e = it->child; e; e = e->next) {
		if (strcmp(e->string, "default"))
			return mf_fail_at(c, e->string,
			                  "only the default network is supported; remove '%s'",
			                  e->string);
		if (!cJSON_IsNull(e) && !(cJSON_IsObject(e) && !e->child))
			return mf_fail_at(
			        c, e->string,
			        "per-service network settings are not supported; use null");
	}
	return mf_check_members(c, it, 1, "networks");
}

static int get_probe_port(pctx *c, const cJSON *obj, uint16_t *out)
{
	const cJSON *v = mf_member(obj, "port");
	size_t saved;
	int error;

	if (!v)
		return 0;
	saved = mf_push_key(c, "port");
	error = mf_get_port(c, v, out);
	mf_pop(c, saved);
	return error;
}

static int parse_x_health(pctx *c, svc_ctx *sc, const cJSON *it)
{
	static const char *const keys[] = {"http", "tcp", NULL};
	static const char *const http_keys[] = {"path", "status", "port", NULL};
	static const char *const tcp_keys[] = {"port", NULL};
	const cJSON *http, *tcp, *v;
	size_t saved;
	int error;

	if ((error = mf_check_keys(c, it, keys, false)) < 0)
		return error;
	http = mf_member(it, "http");
	tcp = mf_member(it, "tcp");
	if ((http && tcp) || (!http && !tcp))
		return mf_fail(c, EF_EINVALID, "give exactly one probe: http or tcp");
	sc->have_x_health = true;
	if (tcp) {
		sc->x_kind = EF_PROBE_TCP;
		saved = mf_push_key(c, "tcp");
		if ((error = mf_check_keys(c, tcp, tcp_keys, false)) == 0)
			error = get_probe_port(c, tcp, &sc->x_port);
		mf_pop(c, saved);
		return error;
	}
	sc->x_kind = EF_PROBE_HTTP;
	saved = mf_push_key(c, "http");
	if ((error = mf_check_keys(c, http, http_keys, false)) < 0)
		goto out;
	if ((error = get_probe_port(c, http, &sc->x_port)) < 0)
		goto out;
	if ((v = mf_member(http, "status"))) {
		int64_t st;
		if (!mf_whole_number(v, 100, 599, &st)) {
			error = mf_fail_at(c, "status", "expected an HTTP status code 100-599");
			goto out;
		}
		sc->x_status = (int)st;
	}
	if ((v = mf_member(http, "path"))) {
		if (!cJSON_IsString(v) || v->valuestring[0] != '/' ||
		    strpbrk(v->valuestring, " \t\r\n") || mf_has_ctl(v->valuestring)) {
			error = mf_fail_at(c, "path", "expected a URL path starting with '/'");
			goto out;
		}
		if (!(sc->x_path = strdup(v->valuestring)))
			error = mf_fail(c, EF_ENOMEM, "out of memory");
	}
out:
	mf_pop(c, saved);
	return error;
}

static int f_x_edgeflip(pctx *c, svc_ctx *sc, const cJSON *it)
{
	static const char *const keys[] = {"strategy", "health", NULL};
	const cJSON *v;
	size_t saved;
	int error;

	if ((error = mf_check_keys(c, it, keys, false)) < 0)
		return error;
	if ((v = mf_member(it, "strategy"))) {
		const char *st = cJSON_IsString(v) ? v->valuestring : "";
		if (!strcmp(st, "bluegreen"))
			sc->s->strategy = EF_STRATEGY_BLUEGREEN;
		else if (!strcmp(st, "handover"))
			sc->s->strategy = EF_STRATEGY_HANDOVER;
		else if (!strcmp(st, "recreate"))
			sc->s->strategy = EF_STRATEGY_RECREATE;
		else if (!strcmp(st, "auto"))
			sc->s->strategy = EF_STRATEGY_AUTO;
		else
			return mf_fail_at(c, "strategy",
			                  "expected \"bluegreen\", \"handover\", \"recreate\" or "
			                  "\"auto\"");
	}
	if ((v = mf_member(it, "health"))) {
		saved = mf_push_key(c, "health");
		error = parse_x_health(c, sc, v);
		mf_pop(c, saved);
	}
	return error;
}

static int healthcheck_test(pctx *c, ef_health *h, const cJSON *it)
{
	char **argv = NULL;
	int error;

	if (cJSON_IsString(it)) {
		if (!it->valuestring[0])
			return mf_fail(c, EF_EINVALID, "must not be empty");
		if (ef_strv_push(&argv, "/bin/sh") < 0 || ef_strv_push(&argv, "-c") < 0 ||
		    ef_strv_push(&argv, it->valuestring) < 0) {
			ef_strv_free(argv);
			return mf_fail(c, EF_ENOMEM, "out of memory");
		}
		goto done;
	}
	if ((error = mf_get_string_list(c, it, MAX_ARGS, &argv)) < 0)
		return error;
	if (argv && !strcmp(argv[0], "NONE") && !argv[1]) {
		ef_strv_free(argv);
		h->kind = EF_PROBE_NONE;
		ef_strv_free(h->exec_argv);
		h->exec_argv = NULL;
		return 0;
	}
	if (argv && !strcmp(argv[0], "CMD") && argv[1]) {
		char **rest = ef_strv_dup(argv + 1);
		ef_strv_free(argv);
		if (!rest)
			return mf_fail(c, EF_ENOMEM, "out of memory");
		argv = rest;
		goto done;
	}
	if (argv && !strcmp(argv[0], "CMD-SHELL") && argv[1] && !argv[2]) {
		char *cmd = argv[1];
		argv[1] = NULL;
		ef_strv_free(argv);
		argv = NULL;
		if (ef_strv_push(&argv, "/bin/sh") < 0 || ef_strv_push(&argv, "-c") < 0 ||
		    ef_strv_push_owned(&argv, cmd) < 0) {
			ef_strv_free(argv);
			return mf_fail(c, EF_ENOMEM, "out of memory");
		}
		goto done;
	}
	ef_strv_free(argv);
	return mf_fail(c, EF_EINVALID,
	               "expected [\"CMD\", args...], [\"CMD-SHELL\", \"command\"], [\"NONE\"] or a "
	               "string");
done:
	ef_strv_free(h->exec_argv);
	h->exec_argv = argv;
	h->kind = EF_PROBE_EXEC;
	return 0;
}

static int f_healthcheck(pctx *c, svc_ctx *sc, const cJSON *it)
{
	static const char *const keys[] = {"test",    "interval", "timeout", "start_period",
	                                   "retries", "disable",  NULL};
	static const char *const durations[] = {"interval", "timeout", "start_period"};
	ef_health *h = &sc->s->health;
	uint64_t *slots[] = {&h->interval_ms, &h->timeout_ms, &h->start_period_ms};
	const cJSON *v;
	bool disable = false;
	size_t saved;
	int error;

	if ((error = mf_check_keys(c, it, keys, false)) < 0)
		return error;
	for (size_t i = 0; i < 3; i++) {
		if (!(v = mf_member(it, durations[i])))
			continue;
		saved = mf_push_key(c, durations[i]);
		error = mf_get_duration(c, v, slots[i]);
		mf_pop(c, saved);
		if (error < 0)
			return error;
		if (*slots[i] == 0 && i < 2) /* 0 means the default, as in Docker */
			*slots[i] = DEFAULT_PROBE_MS;
	}
	if ((v = mf_member(it, "retries"))) {
		int64_t n;
		if (!mf_whole_number(v, 0, 1000, &n))
			return mf_fail_at(c, "retries", "expected a whole number 0-1000");
		h->retries = (unsigned)n;
	}
	if ((v = mf_member(it, "disable"))) {
		saved = mf_push_key(c, "disable");
		error = mf_get_bool(c, v, &disable);
		mf_pop(c, saved);
		if (error < 0)
			return error;
	}
	if ((v = mf_member(it, "test"))) {
		saved = mf_push_key(c, "test");
		error = healthcheck_test(c, h, v);
		mf_pop(c, saved);
		if (error < 0)
			return error;
	}
	if (disable) {
		h->kind = EF_PROBE_NONE;
		ef_strv_free(h->exec_argv);
		h->exec_argv = NULL;
	}
	return 0;
}

static const struct {
	const char *key;
	field_fn fn;
	bool listed; /* shown in the "supported" list */
} service_fields[] = {
        {"image", f_image, true},
        {"command", f_command, true},
        {"entrypoint", f_entrypoint, true},
        {"environment", f_environment, true},
        {"ports", f_ports, true},
        {"volumes", f_volumes, true},
        {"restart", f_restart, true},
        {"labels", f_labels, true},
        {"healthcheck", f_healthcheck, true},
        {"user", f_user, true},
        {"working_dir", f_working_dir, true},
        {"mem_limit", f_mem_limit, true},
        {"privileged", f_privileged, true},
        {"network_mode", f_network_mode, true},
        {"networks", f_networks, true},
        {"pid", f_pid, true},
        {"ipc", f_ipc, true},
        {"cap_add", f_cap_add, true},
        {"cap_drop", f_cap_drop, true},
        {"devices", f_devices, true},
        {"read_only", f_read_only, true},
        {"x-edgeflip", f_x_edgeflip, true},
        {"container_name", f_container_name, false},
};

#define NFIELDS (sizeof(service_fields) / sizeof(service_fields[0]))

static int unsupported_service_key(pctx *c, const char *key)
{
	char list[600] = "";
	size_t used = 0;

	for (size_t i = 0; i < NFIELDS; i++) {
		int n;
		if (!service_fields[i].listed)
			continue;
		n = snprintf(list + used, sizeof(list) - used, "%s%s", used ? ", " : "",
		             service_fields[i].key);
		if (n < 0 || (size_t)n >= sizeof(list) - used)
			break;
		used += (size_t)n;
	}
	return mf_fail_at(c, key,
	                  "unsupported key '%s' (supported: %s, x-*); remove it or see "
	                  "docs/manifest.md",
	                  key, list);
}

static bool valid_service_name(const char *n)
{
	size_t len = strlen(n);

	if (len == 0 || len > MAX_SERVICE_NAME || !mf_is_alnum(n[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!(mf_is_alnum(n[i]) || n[i] == '_' || n[i] == '.' || n[i] == '-'))
			return false;
	return true;
}

static int finish_health(pctx *c, svc_ctx *sc)
{
	ef_service *s = sc->s;
	ef_health *h = &s->health;

	if (!sc->have_x_health)
		return 0;
	ef_strv_free(h->exec_argv);
	h->exec_argv = NULL;
	h->kind = sc->x_kind;
	h->port = sc->x_port;
	if (h->kind == EF_PROBE_HTTP) {
		h->http_status = sc->x_status;
		h->http_path = sc->x_path ? sc->x_path : strdup("/");
		sc->x_path = NULL;
		if (!h->http_path)
			return mf_fail(c, EF_ENOMEM, "out of memory");
	}
	if (h->port == 0 && s->nports == 0) {
		size_t saved = mf_push_key(c, "x-edgeflip");
		size_t saved2 = mf_push_key(c, "health");
		int error = mf_fail(c, EF_EINVALID,
		                    "no port to probe: set %s.port or list the service's ports",
		                    h->kind == EF_PROBE_HTTP ? "http" : "tcp");
		mf_pop(c, saved2);
		mf_pop(c, saved);
		return error;
	}
	return 0;
}

int mf_parse_service(pctx *c, ef_service *s, const char *name, const cJSON *obj,
                     const volume_decls *decls)
{
	svc_ctx sc;
	int error = 0;

	memset(&sc, 0, sizeof(sc));
	sc.s = s;
	sc.decls = decls;
	s->health.interval_ms = DEFAULT_PROBE_MS;
	s->health.timeout_ms = DEFAULT_PROBE_MS;
	s->health.retries = DEFAULT_RETRIES;
	if (!(s->name = strdup(name)))
		return mf_fail(c, EF_ENOMEM, "out of memory");
	if (!valid_service_name(name))
		return mf_fail(c, EF_EINVALID,
		               "'%s' is not a valid service name (1-63 letters, digits, '_', '.', "
		               "'-', starting with a letter or digit)",
		               name);
	if (!cJSON_IsObject(obj))
		return mf_fail(c, EF_EINVALID, "expected an object, found %s", mf_type_name(obj));
	if ((error = mf_check_members(c, obj, MAX_MEMBERS, "keys")) < 0)
		return error;
	for (const cJSON *m = obj->child; m && error == 0; m = m->next) {
		size_t i, saved;

		for (i = 0; i < NFIELDS; i++)
			if (strcmp(service_fields[i].key, m->string) == 0)
				break;
		if (i == NFIELDS) {
			if (strncmp(m->string, "x-", 2) == 0)
				continue;
			error = unsupported_service_key(c, m->string);
			break;
		}
		saved = mf_push_key(c, m->string);
		error = service_fields[i].fn(c, &sc, m);
		mf_pop(c, saved);
	}
	if (error == 0 && !s->image)
		error = mf_fail_at(c, "image", "missing; every service needs an image");
	if (error == 0)
		error = finish_health(c, &sc);
	free(sc.x_path);
	return error;
}
