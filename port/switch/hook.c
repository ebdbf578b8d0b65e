/* The "hook" switch backend: a command of the operator's flips traffic
 * (a load balancer's API, a router's CLI, ...).
 *
 * apply() runs `/bin/sh -c '<hook> "$@"' edgeflip-switch-hook ROUTE...`
 * with EF_ROUTES_OLD, EF_ROUTES_NEW and EF_SWITCH_GENERATION in the
 * environment. A route reads "tcp:0.0.0.0:8080>127.0.0.1:41001"; a list of
 * routes is comma-separated. A canary route (strategy canary) adds its second
 * backend and the percent of new connections it gets:
 * "tcp:0.0.0.0:8080>127.0.0.1:41001+127.0.0.1:41002@10". Exit status 0 means the routes are in force;
 * anything else, or running longer than the timeout, is a failure. */
#include "switch_int.h"
#include "edgeflip/error.h"
#include "edgeflip/log.h"
#include "edgeflip/proxy.h"
#include "edgeflip/sys/fs.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOOK_TIMEOUT_MS 30000
#define HOOK_OUTPUT_MAX 4096

struct hook_switch {
	ef_switch parent;
	char *command;
	char routes_path[PATH_MAX];
};

static int hook_timeout_ms(void)
{
	/* A knob for tests; the default suits real hooks. */
	const char *v = getenv("EDGEFLIP_HOOK_TIMEOUT_MS");
	long ms = v ? strtol(v, NULL, 10) : 0;

	return ms > 0 && ms <= 3600000 ? (int)ms : HOOK_TIMEOUT_MS;
}

static void hook_close(ef_switch *s)
{
	struct hook_switch *hs = (struct hook_switch *)s;

	if (!hs)
		return;
	free(hs->command);
	free(hs);
}

static int hook_open(ef_switch **out, const ef_switch_opts *opts)
{
	struct hook_switch *hs;
	char dir[PATH_MAX];
	int error;

	*out = NULL;
	if (!opts->hook || !opts->hook[0]) {
		ef_error_set("switch backend 'hook' needs a command: set [switch] hook = COMMAND");
		return EF_EINVALID;
	}
	if (!(hs = calloc(1, sizeof(*hs))) || !(hs->command = strdup(opts->hook))) {
		free(hs);
		ef_error_set("out of memory");
		return EF_ENOMEM;
	}
	hs->parent.ops = &ef_switch_hook_ops;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/hook", opts->state_dir) >= sizeof(dir) ||
	    (size_t)snprintf(hs->routes_path, sizeof(hs->routes_path), "%s/routes.json", dir) >=
	            sizeof(hs->routes_path)) {
		ef_error_set("path too long: %s", opts->state_dir);
		error = EF_EINVALID;
		goto fail;
	}
	if ((error = ef_fs_mkdir_p(dir, 0700)) < 0)
		goto fail;
	*out = &hs->parent;
	return 0;
fail:
	hook_close(&hs->parent);
	return error;
}

static const char *last_line(ef_buf *b)
{
	char *end;

	if (!b->ptr)
		return "";
	while (b->len && (b->ptr[b->len - 1] == '\n' || b->ptr[b->len - 1] == '\r'))
		b->ptr[--b->len] = '\0';
	end = strrchr(b->ptr, '\n');
	return end ? end + 1 : b->ptr;
}

static int hook_apply(ef_switch *s, const ef_route *routes, size_t n)
{
	struct hook_switch *hs = (struct hook_switch *)s;
	ef_buf desc_old = EF_BUF_INIT(EF_ROUTES_FILE_MAX),
	       desc_new = EF_BUF_INIT(EF_ROUTES_FILE_MAX),
	       env_old = EF_BUF_INIT(EF_ROUTES_FILE_MAX), env_new = EF_BUF_INIT(EF_ROUTES_FILE_MAX),
	       env_gen = EF_BUF_INIT(64), script = EF_BUF_INIT(64 * 1024),
	       output = EF_BUF_INIT(HOOK_OUTPUT_MAX), text = EF_BUF_INIT(EF_ROUTES_FILE_MAX);
	char **argv = NULL;
	ef_route *old = NULL;
	size_t old_n = 0;
	uint64_t gen = 0;
	int error, status;

	if ((error = ef_routes_check(routes, n)) < 0)
		goto out;
	error = ef_routes_load(&old, &old_n, &gen, hs->routes_path);
	if (error < 0 && error != EF_ENOTFOUND)
		ef_warn("hook-routes-unreadable", "error=\"%s\"", ef_error_last());
	if ((error = ef_routes_describe(&desc_old, old, old_n)) < 0 ||
	    (error = ef_routes_describe(&desc_new, routes, n)) < 0 ||
	    (error = ef_buf_printf(&env_old, "EF_ROUTES_OLD=%s", desc_old.ptr)) < 0 ||
	    (error = ef_buf_printf(&env_new, "EF_ROUTES_NEW=%s", desc_new.ptr)) < 0 ||
	    (error = ef_buf_printf(&env_gen, "EF_SWITCH_GENERATION=%llu",
	                           (unsigned long long)(gen + 1))) < 0 ||
	    (error = ef_buf_printf(&script, "%s \"$@\"", hs->command)) < 0)
		goto out;
	if ((error = ef_strv_push(&argv, "/bin/sh")) < 0 ||
	    (error = ef_strv_push(&argv, "-c")) < 0 ||
	    (error = ef_strv_push(&argv, script.ptr)) < 0 ||
	    (error = ef_strv_push(&argv, "edgeflip-switch-hook")) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		ef_buf one = EF_BUF_INIT(1024);

		if ((error = ef_route_describe(&one, &routes[i])) < 0 ||
		    (error = ef_strv_push_owned(&argv, ef_buf_detach(&one))) < 0) {
			ef_buf_dispose(&one);
			goto out;
		}
	}
	{
		char *env[] = {env_old.ptr, env_new.ptr, env_gen.ptr, NULL};

		error = ef_switch_run(&status, &output, argv, env, NULL, 0, hook_timeout_ms());
	}
	if (error < 0) {
		ef_error_prefix("switch hook '%s'", hs->command);
		goto out;
	}
	if (status != 0) {
		if (output.len)
			ef_warn("hook-output", "status=%d output=\"%s\"", status, output.ptr);
		ef_error_set("switch hook '%s' exited with status %d: %s", hs->command, status,
		             last_line(&output));
		error = EF_ERROR;
		goto out;
	}
	if (output.len)
		ef_debug("hook-output", "output=\"%s\"", output.ptr);
	if ((error = ef_proxy_routes_format(&text, routes, n, gen + 1)) < 0 ||
	    (error = ef_fs_write_atomic(hs->routes_path, text.ptr, text.len)) < 0)
		goto out;
	ef_info("hook-applied", "generation=%llu routes=\"%s\"", (unsigned long long)(gen + 1),
	        desc_new.ptr);
out:
	ef_routes_free(old, old_n);
	ef_strv_free(argv);
	ef_buf_dispose(&desc_old);
	ef_buf_dispose(&desc_new);
	ef_buf_dispose(&env_old);
	ef_buf_dispose(&env_new);
	ef_buf_dispose(&env_gen);
	ef_buf_dispose(&script);
	ef_buf_dispose(&output);
	ef_buf_dispose(&text);
	return error;
}

static int hook_current(ef_switch *s, ef_route **out, size_t *n)
{
	struct hook_switch *hs = (struct hook_switch *)s;
	uint64_t gen;
	int error = ef_routes_load(out, n, &gen, hs->routes_path);

	if (error == EF_ENOTFOUND) {
		ef_error_clear();
		return 0;
	}
	return error;
}

const struct ef_switch_ops ef_switch_hook_ops = {
        .name = "hook",
        .open = hook_open,
        .apply = hook_apply,
        .current = hook_current,
        .close = hook_close,
};
