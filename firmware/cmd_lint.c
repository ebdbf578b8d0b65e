/* lint DIR [--policy FILE] [--format json]: the environment directory read
 * as the agent reads it (compose files, overrides, .env, interpolation), the
 * model's rules and a policy, for the GitOps repository's own CI. Every
 * finding is reported with file:line:column. Without --policy the strictest
 * policy applies (images pinned by digest, nothing privileged, no host
 * namespaces, no devices, no added capabilities, no bind mounts).
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

static void print_json(const ef_findings *f, const char *dir, bool ok, size_t nservices,
                       const ef_buf *report)
{
	cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "findings");
	cJSON *lines = cJSON_AddArrayToObject(root, "report");
	char *s;

	/* one string per report line (secrets, images) */
	for (const char *p = report->ptr, *nl; p && *p; p = nl + 1) {
		char line[4096];
		if (!(nl = strchr(p, '\n')))
			break;
		snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
		cJSON_AddItemToArray(lines, cJSON_CreateString(line));
	}
	cJSON_AddStringToObject(root, "dir", dir);
	cJSON_AddBoolToObject(root, "ok", ok);
	cJSON_AddNumberToObject(root, "services", (double)nservices);
	for (size_t i = 0; i < f->n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "file", f->v[i].file);
		cJSON_AddNumberToObject(o, "line", f->v[i].line);
		cJSON_AddNumberToObject(o, "column", f->v[i].col);
		cJSON_AddStringToObject(o, "path", f->v[i].path);
		cJSON_AddStringToObject(o, "message", f->v[i].message);
		cJSON_AddItemToArray(arr, o);
	}
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

/* One reading of `dir` with `opts`, its findings (and the policy's) added
 * to `f`. 0 or EF_EXIT_REJECTED; `*nservices` counts the services. */
static int lint_one(ef_findings *f, size_t *nservices, const char *dir, const ef_compose_opts *opts,
                    const ef_policy *policy, const lint_trust *trust, ef_buf *report)
{
	ef_compose_src src;
	ef_manifest *m = NULL;
	char **pf = NULL;
	int rc = 0;

	ef_compose_src_dir(&src, dir);
	if (ef_compose_load(&m, NULL, NULL, &src, opts, f) < 0) {
		if (!f->n) /* not a finding: out of memory, ... */
			ef_findings_add(f, dir, 0, 0, "$", ef_error_last());
		rc = EF_EXIT_REJECTED;
	} else if (ef_policy_check(&pf, policy, m) < 0) {
		for (size_t i = 0; pf && pf[i]; i++)
			ef_findings_add(f, dir, 0, 0, "policy", pf[i]);
		rc = EF_EXIT_REJECTED;
	}
	if (m && lint_trust_report(f, report, trust, dir, m, opts) != 0)
		rc = EF_EXIT_REJECTED;
	*nservices = m ? m->nservices : 0;
	ef_strv_free(pf);
	ef_manifest_free(m);
	return rc;
}

/* --layers: the base alone, then base + each labels/K=V and each devices/ID
 * directory of `dir` on its own. */
static int lint_layers(ef_findings *f, size_t *nservices, const char *dir,
                       const ef_compose_opts *opts, const ef_policy *policy,
                       const lint_trust *trust, ef_buf *report)
{
	static const char *const kinds[] = {"labels", "devices"};
	ef_compose_src src;
	int rc = lint_one(f, nservices, dir, opts, policy, trust, report);

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
			if (lint_one(f, &n, dir, &o, policy, trust, report))
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
	ef_findings f;
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
	rc = layers ? lint_layers(&f, &nservices, dir, &opts, &lcfg.policy, &trust, &report)
	            : lint_one(&f, &nservices, dir, &opts, &lcfg.policy, &trust, &report);
	if (!strcmp(format, "json")) {
		print_json(&f, dir, rc == 0, nservices, &report);
	} else {
		if (report.len)
			fwrite(report.ptr, 1, report.len, stdout);
		ef_findings_format(&out, &f);
		if (out.len)
			fwrite(out.ptr, 1, out.len, stdout);
		if (rc == 0)
			printf("%s: ok (%zu services)\n", dir, nservices);
	}
	ef_buf_dispose(&out);
	ef_findings_dispose(&f);
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
