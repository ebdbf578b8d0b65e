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
	return mf_get_kv(c, it, MAX_ENV, KV_ENV, &sc->s->environment);
}

static int f_labels(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return mf_get_kv(c, it, MAX_LABELS, KV_LABELS, &sc->s->labels);
}

static int f_ports(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return mf_get_ports(c, it, sc->s);
}

static int f_volumes(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return mf_get_volumes(c, it, sc->m, sc->s);
}

static int f_restart(pctx *c, svc_ctx *sc, const cJSON *it)
{
	const char *r = cJSON_IsString(it) ? it->valuestring : "";
	uint64_t n;

	if (!strcmp(r, "no") || !strcmp(r, "always") || !strcmp(r, "unless-stopped") ||
	    !strcmp(r, "on-failure") ||
	    (!strncmp(r, "on-failure:", 11) && mf_digits_number(r + 11, 0, 1000000, &n))) {
		if (sc->have_deploy_restart && strcmp(sc->s->restart, r))
			return mf_fail(c, EF_EINVALID,
			               "'%s' differs from deploy.restart_policy ('%s'); keep one",
			               r, sc->s->restart);
		return mf_get_string(c, it, &sc->s->restart);
	}
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
	return mf_get_size(c, it, &sc->s->mem_limit);
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

/* The compose reader resolves extends (extends.c) before the model is read:
 * a document that still has one did not come through it. */
static int f_extends(pctx *c, svc_ctx *sc, const cJSON *it)
{
	(void)sc;
	(void)it;
	return mf_fail(c, EF_EINVALID,
	               "extends is resolved when the compose files are read; this document was "
	               "not read through them");
}

static int f_network_mode(pctx *c, svc_ctx *sc, const cJSON *it)
{
	static const char *const modes[] = {"bridge", "host", "none", NULL};

	if (cJSON_IsString(it) && (!strncmp(it->valuestring, "service:", 8) ||
	                           !strncmp(it->valuestring, "container:", 10)))
		return mf_fail(c, EF_EINVALID,
		               "sharing another container's network is refused: blue and green "
		               "instances are separate containers; put both services on one "
		               "network instead");
	sc->have_network_mode = true;
	/* "default" is the engine's word for its default network: bridge on
	 * Linux (Docker's NetworkMode.IsDefault) */
	if (cJSON_IsString(it) && !strcmp(it->valuestring, "default")) {
		free(sc->s->network_mode);
		return (sc->s->network_mode = strdup("bridge"))
		               ? 0
		               : mf_fail(c, EF_ENOMEM, "out of memory");
	}
	return get_enum(c, it, modes, "\"bridge\", \"default\", \"host\" or \"none\"",
	                &sc->s->network_mode);
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

/* Capability names, normalised: upper case, without "CAP_", sorted. "ALL" is every
 * capability. */
static int get_caps(pctx *c, const cJSON *it, char ***out)
{
	int error = mf_get_string_list(c, it, MAX_LIST, out);

	for (size_t i = 0; error == 0 && *out && (*out)[i]; i++) {
		char *cap = (*out)[i];
		bool ok = cap[0] != '\0';
		for (const char *p = cap; *p && ok; p++)
			ok = mf_is_alnum(*p) || *p == '_';
		if (!ok) {
			size_t saved = mf_push_index(c, i);
			error = mf_fail(c, EF_EINVALID,
			                "'%s' is not a capability name (such as NET_ADMIN, or ALL)",
			                cap);
			mf_pop(c, saved);
			break;
		}
		for (char *p = cap; *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 32);
		if (!strncmp(cap, "CAP_", 4) && cap[4])
			memmove(cap, cap + 4, strlen(cap + 4) + 1);
	}
	mf_sort_strv(*out);
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

/* A number (at most 9 digits) or "*"; returns the character after it, or NULL. */
static const char *cgroup_number(const char *p)
{
	size_t n = 0;

	if (*p == '*')
		return p + 1;
	while (p[n] >= '0' && p[n] <= '9' && n < 9)
		n++;
	return n && !(p[n] >= '0' && p[n] <= '9') ? p + n : NULL;
}

/* "TYPE MAJOR:MINOR ACCESS" as the kernel's devices controller and the
 * engines take it: TYPE a, b or c; MAJOR and MINOR a number or *; ACCESS one
 * to three of r, w, m, each once. */
static bool cgroup_rule_ok(const char *r)
{
	const char *p = r;
	bool seen[3] = {false, false, false};

	if ((*p != 'a' && *p != 'b' && *p != 'c') || p[1] != ' ')
		return false;
	if (!(p = cgroup_number(p + 2)) || *p != ':' || !(p = cgroup_number(p + 1)) || *p != ' ')
		return false;
	if (!*++p)
		return false;
	for (; *p; p++) {
		const char *k = strchr("rwm", *p);
		if (!k || seen[k - "rwm"])
			return false;
		seen[k - "rwm"] = true;
	}
	return true;
}

static int f_device_cgroup_rules(pctx *c, svc_ctx *sc, const cJSON *it)
{
	char ***out = &sc->s->device_cgroup_rules;
	int error = mf_get_string_list(c, it, MAX_LIST, out);

	for (size_t i = 0; error == 0 && *out && (*out)[i]; i++) {
		if (!cgroup_rule_ok((*out)[i])) {
			size_t saved = mf_push_index(c, i);
			error = mf_fail(c, EF_EINVALID,
			                "expected a device cgroup rule \"TYPE MAJOR:MINOR ACCESS\" "
			                "such as \"c 188:* rw\" (TYPE a, b or c; MAJOR and MINOR a "
			                "number or *; ACCESS of r, w and m)");
			mf_pop(c, saved);
		}
	}
	return error;
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

const char *const mf_x_service_keys[] = {"strategy", "health", "canary", "http", "ports", NULL};

static int f_x_edgeflip(pctx *c, svc_ctx *sc, const cJSON *it)
{
	const cJSON *v;
	size_t saved;
	int error;

	if ((error = mf_check_keys(c, it, mf_x_service_keys, false)) < 0)
		return error;
	if ((v = mf_member(it, "ports"))) {
		saved = mf_push_key(c, "ports");
		error = mf_parse_port_opts(c, sc->s, v);
		mf_pop(c, saved);
		if (error < 0)
			return error;
	}
	if ((v = mf_member(it, "strategy"))) {
		const char *st = cJSON_IsString(v) ? v->valuestring : "";
		if (!strcmp(st, "bluegreen"))
			sc->s->strategy = EF_STRATEGY_BLUEGREEN;
		else if (!strcmp(st, "handover"))
			sc->s->strategy = EF_STRATEGY_HANDOVER;
		else if (!strcmp(st, "recreate"))
			sc->s->strategy = EF_STRATEGY_RECREATE;
		else if (!strcmp(st, "canary"))
			sc->s->strategy = EF_STRATEGY_CANARY;
		else if (!strcmp(st, "auto"))
			sc->s->strategy = EF_STRATEGY_AUTO;
		else
			return mf_fail_at(c, "strategy",
			                  "expected \"bluegreen\", \"canary\", \"handover\", "
			                  "\"recreate\" or \"auto\"");
	}
	if ((v = mf_member(it, "http"))) {
		saved = mf_push_key(c, "http");
		error = mf_get_bool(c, v, &sc->s->http);
		mf_pop(c, saved);
		if (error < 0)
			return error;
	}
	if ((v = mf_member(it, "canary"))) {
		if (sc->s->strategy != EF_STRATEGY_CANARY)
			return mf_fail_at(c, "canary",
			                  "canary settings need x-edgeflip.strategy: canary");
		saved = mf_push_key(c, "canary");
		error = mf_parse_canary(c, &sc->s->canary, v);
		mf_pop(c, saved);
		if (error < 0)
			return error;
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
		h->disabled = true;
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
	if (argv && !strcmp(argv[0], "CMD-SHELL") && argv[1]) {
		/* Several strings are one command joined with spaces, as Podman
		 * runs them and as their authors mean them (["CMD-SHELL",
		 * "pg_isready", "-U", "postgres"]). */
		ef_buf joined = EF_BUF_INIT((size_t)64 << 20);
		char *cmd = NULL;
		int e = 0;
		for (size_t k = 1; argv[k] && e == 0; k++)
			e = ef_buf_printf(&joined, "%s%s", k > 1 ? " " : "", argv[k]);
		if (e == 0)
			cmd = ef_buf_detach(&joined);
		ef_buf_dispose(&joined);
		ef_strv_free(argv);
		argv = NULL;
		if (!cmd || ef_strv_push(&argv, "/bin/sh") < 0 || ef_strv_push(&argv, "-c") < 0 ||
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
	static const char *const keys[] = {"test",    "interval", "timeout",        "start_period",
	                                   "retries", "disable",  "start_interval", NULL};
	static const char *const durations[] = {"interval", "timeout", "start_period",
	                                        "start_interval"};
	ef_health *h = &sc->s->health;
	uint64_t *slots[] = {&h->interval_ms, &h->timeout_ms, &h->start_period_ms,
	                     &h->start_interval_ms};
	const cJSON *v;
	bool disable = false;
	size_t saved;
	int error;

	if ((error = mf_check_keys(c, it, keys, false)) < 0)
		return error;
	for (size_t i = 0; i < 4; i++) {
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
		h->disabled = true;
		ef_strv_free(h->exec_argv);
		h->exec_argv = NULL;
	}
	return 0;
}

#define S(k, fn)                                                                                   \
	{                                                                                          \
		k, EF_KEY_SUPPORTED, NULL, fn                                                      \
	}
#define I(k, why)                                                                                  \
	{                                                                                          \
		k, EF_KEY_IGNORED, why, NULL                                                       \
	}
#define R(k, why)                                                                                  \
	{                                                                                          \
		k, EF_KEY_REFUSED, why, NULL                                                       \
	}

/* Every key of the Compose specification's service object, and what edgeflip
 * does with it. docs/manifest.md lists the same (tests/unit/test_manifest.c
 * checks that they agree). */
const mf_key mf_service_keys[] = {
        S("image", f_image),
        S("command", f_command),
        S("entrypoint", f_entrypoint),
        S("environment", f_environment),
        S("env_file", mf_f_env_file),
        S("ports", f_ports),
        S("expose", mf_f_expose),
        S("volumes", f_volumes),
        S("tmpfs", mf_f_tmpfs),
        S("restart", f_restart),
        S("labels", f_labels),
        S("healthcheck", f_healthcheck),
        S("user", f_user),
        S("working_dir", f_working_dir),
        S("privileged", f_privileged),
        S("read_only", f_read_only),
        S("network_mode", f_network_mode),
        S("extends", f_extends),
        S("gpus", mf_f_gpus),
        S("networks", mf_f_networks),
        S("pid", f_pid),
        S("ipc", f_ipc),
        S("cap_add", f_cap_add),
        S("cap_drop", f_cap_drop),
        S("devices", f_devices),
        S("device_cgroup_rules", f_device_cgroup_rules),
        S("depends_on", mf_f_depends_on),
        S("links", mf_f_links),
        S("container_name", mf_f_container_name),
        S("secrets", mf_f_secrets),
        S("configs", mf_f_configs),
        S("stop_signal", mf_f_stop_signal),
        S("stop_grace_period", mf_f_stop_grace_period),
        S("init", mf_f_init),
        S("extra_hosts", mf_f_extra_hosts),
        S("dns", mf_f_dns),
        S("dns_search", mf_f_dns_search),
        S("dns_opt", mf_f_dns_opt),
        S("hostname", mf_f_hostname),
        S("domainname", mf_f_domainname),
        S("sysctls", mf_f_sysctls),
        S("ulimits", mf_f_ulimits),
        S("shm_size", mf_f_shm_size),
        S("group_add", mf_f_group_add),
        S("security_opt", mf_f_security_opt),
        S("logging", mf_f_logging),
        S("deploy", mf_f_deploy),
        S("cpus", mf_f_cpus),
        S("mem_limit", f_mem_limit),
        S("mem_reservation", mf_f_mem_reservation),
        S("memswap_limit", mf_f_memswap_limit),
        S("pids_limit", mf_f_pids_limit),
        S("cpu_shares", mf_f_cpu_shares),
        S("cpuset", mf_f_cpuset),
        S("platform", mf_f_platform),
        S("profiles", mf_f_profiles),
        S("stdin_open", mf_f_stdin_open),
        S("tty", mf_f_tty),
        S("scale", mf_f_scale),
        {"build", EF_KEY_REFUSED,
         "a device does not build images: publish one to a registry and set image: (pinned by "
         "digest)",
         mf_f_build},
        S("x-edgeflip", f_x_edgeflip),
        I("pull_policy", "the agent pulls an image that is missing; a digest fixes its content"),
        I("develop", "watch mode is for development machines"),
        I("attach", "nobody attaches to a device's containers; logs go to the logging driver"),
        R("annotations", "OCI annotations can change how the runtime starts the container"),
        R("blkio_config", "block I/O weights are not supported; remove it"),
        R("cgroup", "the cgroup namespace is the engine's default"),
        R("cgroup_parent", "the device's cgroup layout belongs to the device"),
        R("cpu_count", "Windows only"),
        R("cpu_percent", "Windows only"),
        R("cpu_period", "use cpus"),
        R("cpu_quota", "use cpus"),
        R("cpu_rt_period", "real-time scheduling is not supported"),
        R("cpu_rt_runtime", "real-time scheduling is not supported"),
        R("credential_spec", "Windows only"),
        R("external_links", "legacy links to containers outside the stack; use a network"),
        R("isolation", "Windows only"),
        R("label_file", "write the labels under labels"),
        R("mac_address", "blue and green instances run side by side and cannot share one"),
        R("mem_swappiness", "not supported; remove it"),
        R("models", "AI models are not supported"),
        R("oom_kill_disable", "a container that cannot be killed on OOM can starve the device"),
        R("oom_score_adj", "not supported; remove it"),
        R("post_start", "lifecycle hooks are not supported; use the image's entrypoint"),
        R("pre_stop", "lifecycle hooks are not supported; use stop_signal"),
        R("provider", "provider services are not supported"),
        R("runtime", "the device runs containers with its engine's default runtime"),
        R("storage_opt", "storage driver options belong to the device"),
        R("use_api_socket", "a container never gets the engine's socket from a manifest"),
        R("userns_mode", "the user namespace is the engine's default"),
        R("uts", "the UTS namespace is the container's own"),
        R("volumes_from", "blue and green would share another container's volumes; declare a "
                          "named volume"),
        {NULL, 0, NULL, NULL},
};

#undef S
#undef I
#undef R

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
                     const ef_manifest *man)
{
	svc_ctx sc;
	int error = 0, first = 0;

	memset(&sc, 0, sizeof(sc));
	sc.s = s;
	sc.m = man;
	s->health.interval_ms = DEFAULT_PROBE_MS;
	s->canary.max_error_rate = EF_CANARY_DEFAULT_RATE;
	s->canary.min_requests = EF_CANARY_DEFAULT_MIN;
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
	for (const cJSON *m = obj->child; m && !c->oom; m = m->next) {
		const mf_key *k;
		size_t saved;

		if (strncmp(m->string, "x-", 2) == 0 && strcmp(m->string, "x-edgeflip"))
			continue;
		k = mf_key_find(mf_service_keys, m->string);
		if (!k) {
			error = mf_fail_at(
			        c, m->string,
			        "unknown key '%s': not a key of a Compose service; check "
			        "the spelling (docs/manifest.md lists every key)",
			        m->string);
		} else if (k->status == EF_KEY_REFUSED && !k->fn) {
			error = mf_fail_at(c, m->string, "'%s' is not supported: %s", m->string,
			                   k->reason);
		} else if (k->status == EF_KEY_IGNORED) {
			continue;
		} else {
			saved = mf_push_key(c, m->string);
			error = k->fn(c, &sc, m);
			mf_pop(c, saved);
		}
		if (error < 0 && !first)
			first = error;
	}
	if (!s->image && !mf_member(obj, "build"))
		first = mf_fail_at(c, "image", "missing; every service needs an image");
	if (!sc.have_networks && !sc.have_network_mode) {
		/* Compose attaches such a service to the network "default" */
		if (!(s->networks = calloc(1, sizeof(*s->networks))) ||
		    !(s->networks[0].network = strdup("default")))
			return mf_fail(c, EF_ENOMEM, "out of memory");
		s->nnetworks = 1;
	}
	if (sc.have_networks && sc.have_network_mode && s->network_mode &&
	    strcmp(s->network_mode, "bridge"))
		first = mf_fail_at(c, "network_mode",
		                   "network_mode '%s' cannot be combined with "
		                   "networks; keep one",
		                   s->network_mode);
	if ((error = finish_health(c, &sc)) < 0 && !first)
		first = error;
	if ((error = mf_merge_links(c, &sc)) < 0 && !first)
		first = error;
	ef_strv_free(sc.links);
	for (size_t i = 0; i < s->nnetworks; i++) {
		if (!s->networks[i].ipv4_address && !s->networks[i].ipv6_address)
			continue;
		/* one fixed address cannot be held by blue and green at once */
		if (s->strategy == EF_STRATEGY_AUTO)
			s->strategy = EF_STRATEGY_RECREATE;
		else if (s->strategy != EF_STRATEGY_RECREATE)
			first = mf_fail_at(
			        c, "networks",
			        "a fixed address (network '%s') needs strategy recreate: "
			        "blue and green cannot hold it at once; remove the address "
			        "or set x-edgeflip.strategy: recreate",
			        s->networks[i].network);
		break;
	}
	if ((error = mf_check_port_opts(c, s)) < 0 && !first)
		first = error;
	free(sc.x_path);
	return first;
}
