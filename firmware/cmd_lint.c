/* lint DIR [--policy FILE] [--format json]: the environment directory read
 * as the agent reads it (compose files, overrides, .env, interpolation), the
 * model's rules and a policy, for the GitOps repository's own CI. Every
 * finding is reported with file:line:column.
 *
 * What the device cannot deploy (the model's findings) is an error. The
 * device policy is the device's, not the repository's: with --policy FILE
 * (the devices' [policy]) its findings are errors too; without it, the
 * strictest policy (images pinned by digest, nothing privileged, no host
 * namespaces, no devices, no added capabilities, no bind mounts) is checked
 * and its findings are warnings, each naming the [policy] key that would
 * allow it, and lint exits 0 when the model is sound.
 *
 * config DIR [--env-file F] [--device ID] [--label K=V]...: the interpolated,
 * merged document as JSON, as `docker compose config` prints it.
 *
 * Both take what a device brings: --profile NAME (repeatable), the active
 * Compose profiles as [agent] profiles; --device ID (or --device-id) and
 * --label K=V (repeatable), the per-device layers devices/ID/ and
 * labels/K=V/ as [agent] device_id and labels. lint --layers checks the base
 * alone and then each layer directory the repository has on top of it. */
#include "cli.h"
#include "edgeflip/buf.h"
#include "edgeflip/compose_read.h"
#include "edgeflip/error.h"
#include "edgeflip/files.h"
#include "edgeflip/manifest.h"
#include "edgeflip/policy.h"
#include "lint_trust.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void add_json(cJSON *arr, const ef_findings *f, const char *severity)
{
	for (size_t i = 0; i < f->n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "severity", severity);
		cJSON_AddStringToObject(o, "file", f->v[i].file);
		cJSON_AddNumberToObject(o, "line", f->v[i].line);
		cJSON_AddNumberToObject(o, "column", f->v[i].col);
		cJSON_AddStringToObject(o, "path", f->v[i].path);
		cJSON_AddStringToObject(o, "message", f->v[i].message);
		cJSON_AddItemToArray(arr, o);
	}
}

/* {"dir", "ok", "services", "policy": "FILE"|null, "report": [lines], "findings": [...]}; a
 * finding's "severity" is "error" or "warning". */
static void print_json(const ef_findings *f, const ef_findings *w, const char *dir,
                       const char *policy_file, bool ok, size_t nservices, const ef_buf *report)
{
	cJSON *root = cJSON_CreateObject(), *arr, *lines;
	char *s;

	cJSON_AddStringToObject(root, "dir", dir);
	cJSON_AddBoolToObject(root, "ok", ok);
	cJSON_AddNumberToObject(root, "services", (double)nservices);
	if (policy_file)
		cJSON_AddStringToObject(root, "policy", policy_file);
	else
		cJSON_AddNullToObject(root, "policy");
	lines = cJSON_AddArrayToObject(root, "report");
	/* one string per report line (secrets, images) */
	for (const char *p = report->ptr, *nl; p && *p; p = nl + 1) {
		char line[4096];
		if (!(nl = strchr(p, '\n')))
			break;
		snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
		cJSON_AddItemToArray(lines, cJSON_CreateString(line));
	}
	arr = cJSON_AddArrayToObject(root, "findings");
	add_json(arr, f, "error");
	add_json(arr, w, "warning");
	if ((s = cJSON_Print(root))) {
		printf("%s\n", s);
		free(s);
	}
	cJSON_Delete(root);
}

/* --profile, --device/--device-id, --label: true when argv[*i] was one. */
static bool device_arg(const cli *c, int *i, ef_compose_opts *opts, char ***profiles,
                       char ***labels)
{
	const char *a = c->argv[*i];

	if (*i + 1 >= c->argc)
		return false;
	if (!strcmp(a, "--profile"))
		ef_strv_push(profiles, c->argv[++*i]);
	else if (!strcmp(a, "--label"))
		ef_strv_push(labels, c->argv[++*i]);
	else if (!strcmp(a, "--device") || !strcmp(a, "--device-id"))
		opts->device_id = c->argv[++*i];
	else
		return false;
	return true;
}

/* The service key a policy finding is about, by the words of its message
 * (core/policy/policy.c), or NULL. */
static const char *policy_key(const char *msg)
{
	static const struct {
		const char *word, *key;
	} keys[] = {
	        {" image ", "image"},
	        {"registry ", "image"},
	        {"network_mode", "network_mode"},
	        {"pid: ", "pid"},
	        {"ipc: ", "ipc"},
	        {"(cap_add)", "cap_add"},
	        {"cap_add:", "cap_add"},
	        {"sysctl ", "sysctls"},
	        {"security_opt ", "security_opt"},
	        {"privileged", "privileged"},
	        {": device cgroup rule ", "device_cgroup_rules"},
	        {": device request ", "deploy"},
	        {": device ", "devices"},
	        {"bind mount", "volumes"},
	        {": network ", "networks"},
	        {": secret file", "secrets"},
	        {": config file", "configs"},
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strstr(msg, keys[i].word))
			return keys[i].key;
	return NULL;
}

/* Where the policy finding `msg` ("service NAME: ...") points: the service's
 * key it is about (policy_key()), else the service; `dir` without a line
 * when neither can be found. */
static void add_policy_finding(ef_findings *f, const char *dir, const cJSON *doc,
                               const ef_compose_pos *pos, const char *msg)
{
	const cJSON *svc = NULL, *node = NULL;
	const char *file = dir, *key = NULL;
	unsigned line = 0, col = 0;
	char path[320] = "policy";
	size_t n;

	if (!strncmp(msg, "service ", 8) && (n = strcspn(msg + 8, ":")) > 0 && msg[8 + n] == ':') {
		const cJSON *all = cJSON_GetObjectItemCaseSensitive(doc, "services");
		for (const cJSON *e = all ? all->child : NULL; e && !svc; e = e->next)
			if (e->string && strlen(e->string) == n && !strncmp(e->string, msg + 8, n))
				svc = e;
	}
	if (svc) {
		if ((key = policy_key(msg)))
			node = cJSON_GetObjectItemCaseSensitive(svc, key);
		if (!node || ef_compose_pos_find(pos, node, &file, &line, &col) < 0) {
			node = svc, key = NULL;
			if (ef_compose_pos_find(pos, svc, &file, &line, &col) < 0)
				file = dir, line = col = 0;
		}
		snprintf(path, sizeof(path), "$.services.%s%s%s", svc->string, key ? "." : "",
		         key ? key : "");
	}
	ef_findings_add(f, file, line, col, path, msg);
}

/* As ef_findings_format(), with "warning: " before each message. */
static void format_warnings(ef_buf *out, const ef_findings *w)
{
	for (size_t i = 0; i < w->n; i++) {
		const ef_finding *e = &w->v[i];
		int error = e->line ? ef_buf_printf(out, "%s:%u:%u: %s: warning: %s\n", e->file,
		                                    e->line, e->col, e->path, e->message)
		                    : ef_buf_printf(out, "%s: %s: warning: %s\n", e->file, e->path,
		                                    e->message);
		if (error < 0)
			return;
	}
}

/* One reading of `dir` with `opts`: the model's findings added to `f`, the
 * policy's to `pf` (errors when `pf` == `f`). 0 or EF_EXIT_REJECTED when `f`
 * got any; `*nservices` counts the services. */
static int lint_one(ef_findings *f, ef_findings *pw, size_t *nservices, const char *dir,
                    const ef_compose_opts *opts, const ef_policy *policy, const lint_trust *trust,
                    ef_buf *report)
{
	ef_compose_src src;
	ef_compose_pos *pos = NULL;
	ef_manifest *m = NULL;
	cJSON *doc = NULL;
	char **pf = NULL;
	int rc = 0;

	ef_compose_src_dir(&src, dir);
	if (ef_compose_load(&m, &doc, &pos, &src, opts, f) < 0) {
		if (!f->n) /* not a finding: out of memory, ... */
			ef_findings_add(f, dir, 0, 0, "$", ef_error_last());
		rc = EF_EXIT_REJECTED;
	} else if (ef_policy_check(&pf, policy, m) < 0) {
		for (size_t i = 0; pf && pf[i]; i++)
			add_policy_finding(pw, dir, doc, pos, pf[i]);
		if (pw == f)
			rc = EF_EXIT_REJECTED;
	}
	if (m && lint_trust_report(f, report, trust, dir, m, opts) != 0)
		rc = EF_EXIT_REJECTED;
	*nservices = m ? m->nservices : 0;
	ef_strv_free(pf);
	ef_manifest_free(m);
	cJSON_Delete(doc);
	ef_compose_pos_free(pos);
	return rc;
}

/* --layers: the base alone, then base + each labels/K=V and each devices/ID
 * directory of `dir` on its own. */
static int lint_layers(ef_findings *f, ef_findings *pw, size_t *nservices, const char *dir,
                       const ef_compose_opts *opts, const ef_policy *policy,
                       const lint_trust *trust, ef_buf *report)
{
	static const char *const kinds[] = {"labels", "devices"};
	ef_compose_src src;
	int rc = lint_one(f, pw, nservices, dir, opts, policy, trust, report);

	ef_compose_src_dir(&src, dir);
	for (size_t k = 0; k < 2; k++) {
		char **names = NULL;
		ef_compose_kind kind;

		if (src.stat(src.ctx, &kind, kinds[k]) < 0 || kind != EF_COMPOSE_DIR ||
		    src.list(src.ctx, &names, kinds[k]) < 0)
			continue;
		for (size_t i = 0; names && names[i]; i++) {
			ef_compose_opts o = *opts;
			char *one[2] = {names[i], NULL};
			size_t n;
			if (k == 0) {
				o.labels = one;
			} else {
				o.labels = NULL;
				o.device_id = names[i];
			}
			if (lint_one(f, pw, &n, dir, &o, policy, trust, report))
				rc = EF_EXIT_REJECTED;
		}
		ef_strv_free(names);
	}
	return rc;
}

int cmd_lint(const cli *c)
{
	const char *dir = NULL, *policy_file = NULL, *format = "text", *age_key = NULL;
	ef_compose_opts opts = {.dotenv_open = lint_trust_dotenv_open};
	char **profiles = NULL, **labels = NULL;
	ef_config lcfg; /* the lint file: [policy], [trust] image_keys, [secrets] age_key_file */
	lint_trust trust;
	ef_findings f, w, *pw;
	ef_buf out = EF_BUF_INIT(64u << 20), report = EF_BUF_INIT(16u << 20);
	size_t nservices = 0;
	bool layers = false;
	int rc = 0;

	ef_config_init(&lcfg);
	memset(&trust, 0, sizeof(trust));
	for (int i = 0; i < c->argc; i++) {
		if (!strcmp(c->argv[i], "--policy") && i + 1 < c->argc)
			policy_file = c->argv[++i];
		else if (!strcmp(c->argv[i], "--format") && i + 1 < c->argc)
			format = c->argv[++i];
		else if (!strcmp(c->argv[i], "--age-key") && i + 1 < c->argc)
			age_key = c->argv[++i];
		else if (!strcmp(c->argv[i], "--layers"))
			layers = true;
		else if (device_arg(c, &i, &opts, &profiles, &labels))
			continue;
		else if (!dir && c->argv[i][0] != '-')
			dir = c->argv[i];
		else
			dir = NULL, i = c->argc;
	}
	if (!dir || (strcmp(format, "text") && strcmp(format, "json"))) {
		fprintf(stderr, "usage: edgeflip lint DIR [--policy FILE] [--age-key FILE] "
		                "[--format text|json] [--profile NAME]... [--device ID] "
		                "[--label K=V]... [--layers]\n");
		rc = EF_EXIT_USAGE;
		goto out_args;
	}
	if ((policy_file && ef_config_load_lint(&lcfg, policy_file) < 0) ||
	    lint_trust_open(&trust, age_key ? age_key : lcfg.age_key_file, lcfg.image_keys) < 0) {
		fprintf(stderr, "edgeflip: %s\n", ef_error_last());
		rc = EF_EXIT_USAGE;
		goto out_args;
	}
	opts.dotenv_ctx = &trust;
	opts.profiles = profiles;
	opts.labels = labels;
	ef_findings_init(&f);
	ef_findings_init(&w);
	/* Without --policy the policy's findings go to `w`, as warnings. */
	pw = policy_file ? &f : &w;
	rc = layers ? lint_layers(&f, pw, &nservices, dir, &opts, &lcfg.policy, &trust, &report)
	            : lint_one(&f, pw, &nservices, dir, &opts, &lcfg.policy, &trust, &report);
	if (!strcmp(format, "json")) {
		print_json(&f, &w, dir, policy_file, rc == 0, nservices, &report);
	} else {
		if (report.len)
			fwrite(report.ptr, 1, report.len, stdout);
		ef_findings_format(&out, &f);
		format_warnings(&out, &w);
		if (out.len)
			fwrite(out.ptr, 1, out.len, stdout);
		if (rc == 0 && w.n)
			printf("%s: ok (%zu services); %zu warning%s of the strictest device "
			       "policy: "
			       "no --policy was given, so they do not fail lint; pass --policy "
			       "FILE "
			       "with the devices' [policy] to make them errors\n",
			       dir, nservices, w.n, w.n == 1 ? "" : "s");
		else if (rc == 0)
			printf("%s: ok (%zu services)\n", dir, nservices);
	}
	ef_buf_dispose(&out);
	ef_findings_dispose(&f);
	ef_findings_dispose(&w);
out_args:
	ef_buf_dispose(&report);
	lint_trust_close(&trust);
	ef_config_dispose(&lcfg);
	ef_strv_free(profiles);
	ef_strv_free(labels);
	return rc;
}

int cmd_config(const cli *c)
{
	const char *dir = NULL;
	ef_compose_opts opts = {.dotenv_open = ef_files_open_dotenv};
	ef_compose_src src;
	ef_manifest *m = NULL;
	ef_findings f;
	cJSON *doc = NULL;
	ef_buf out = EF_BUF_INIT(64u << 20);
	char **profiles = NULL, **labels = NULL, *s;
	const char *age_key = NULL;
	lint_trust trust;
	int rc = 0;

	memset(&trust, 0, sizeof(trust));
	for (int i = 0; i < c->argc; i++) {
		if (!strcmp(c->argv[i], "--env-file") && i + 1 < c->argc)
			opts.env_file = c->argv[++i];
		else if (!strcmp(c->argv[i], "--age-key") && i + 1 < c->argc)
			age_key = c->argv[++i];
		else if (device_arg(c, &i, &opts, &profiles, &labels))
			continue;
		else if (!dir && c->argv[i][0] != '-')
			dir = c->argv[i];
		else
			dir = NULL, i = c->argc;
	}
	if (!dir) {
		fprintf(stderr, "usage: edgeflip config DIR [--env-file FILE] [--age-key FILE] "
		                "[--device ID] [--label K=V]... [--profile NAME]...\n");
		ef_strv_free(profiles);
		ef_strv_free(labels);
		return EF_EXIT_USAGE;
	}
	/* an encrypted .env: decrypted with --age-key, refused without one */
	if (lint_trust_open(&trust, age_key, NULL) < 0) {
		fprintf(stderr, "edgeflip: %s\n", ef_error_last());
		ef_strv_free(profiles);
		ef_strv_free(labels);
		return EF_EXIT_USAGE;
	}
	opts.dotenv_ctx = trust.age;
	opts.profiles = profiles;
	opts.labels = labels;
	ef_findings_init(&f);
	ef_compose_src_dir(&src, dir);
	if (ef_compose_load(&m, &doc, NULL, &src, &opts, &f) < 0) {
		if (!f.n)
			ef_findings_add(&f, dir, 0, 0, "$", ef_error_last());
		ef_findings_format(&out, &f);
		if (out.len)
			fwrite(out.ptr, 1, out.len, stderr);
		rc = EF_EXIT_REJECTED;
	} else if ((s = cJSON_Print(doc))) {
		printf("%s\n", s);
		free(s);
	}
	ef_buf_dispose(&out);
	ef_strv_free(profiles);
	ef_strv_free(labels);
	ef_findings_dispose(&f);
	cJSON_Delete(doc);
	ef_manifest_free(m);
	lint_trust_close(&trust);
	return rc;
}
