/* ef_compose_load(): an environment directory read as Compose reads a
 * project directory: one base file, at most one override, `.env` and the
 * device's env file for `${VAR}`, each file interpolated after reading,
 * the override merged into the base, then the model. */
#include "edgeflip/compose_read.h"
#include "edgeflip/error.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const base_names[] = {"compose.yaml",        "compose.yml",
                                         "docker-compose.yaml", "docker-compose.yml",
                                         "compose.json",        NULL};
static const char *const override_names[] = {"compose.override.yaml",
                                             "compose.override.yml",
                                             "compose.override.json",
                                             "docker-compose.override.yaml",
                                             "docker-compose.override.yml",
                                             "docker-compose.override.json",
                                             NULL};

typedef struct {
	const ef_compose_src *src;
	ef_findings *findings;
	char name[4200]; /* "DIR/FILE" for messages */
} lctx;

static const char *shown(lctx *c, const char *file)
{
	snprintf(c->name, sizeof(c->name), "%s/%s", c->src->name ? c->src->name : ".", file);
	return c->name;
}

static int problem(lctx *c, const char *file, const char *msg)
{
	ef_findings_add(c->findings, file, 0, 0, "$", msg);
	ef_error_set("%s: %s", file, msg);
	return EF_EINVALID;
}

/* Which of `names` the directory has: 0 (none), 1 (`*out`), or an error
 * naming two of them. */
static int find_one(lctx *c, const char **out, const char *const *names, const char *what)
{
	const char *found = NULL;
	char msg[600];

	*out = NULL;
	for (size_t i = 0; names[i]; i++) {
		ef_compose_kind k;
		int error = c->src->stat(c->src->ctx, &k, names[i]);
		if (error < 0) {
			problem(c, shown(c, names[i]), ef_error_last());
			return error;
		}
		if (k == EF_COMPOSE_ABSENT)
			continue;
		if (found) {
			snprintf(msg, sizeof(msg),
			         "both %s and %s are present; Compose reads one %s: remove one",
			         found, names[i], what);
			return problem(c, shown(c, names[i]), msg);
		}
		found = names[i];
	}
	*out = found;
	return 0;
}

static int read_env(lctx *c, ef_env *env, const char *env_file)
{
	ef_compose_kind k;
	ef_buf b;
	int error;

	if ((error = c->src->stat(c->src->ctx, &k, ".env")) < 0)
		return problem(c, shown(c, ".env"), ef_error_last());
	if (k != EF_COMPOSE_ABSENT) {
		if ((error = c->src->read(c->src->ctx, &b, ".env", EF_COMPOSE_MAX_ENV_FILE)) < 0)
			return problem(c, shown(c, ".env"), ef_error_last());
		error = ef_dotenv_parse(env, b.ptr ? b.ptr : "", b.len, shown(c, ".env"), NULL,
		                        c->findings);
		ef_buf_dispose(&b);
		if (error < 0)
			return error;
	}
	if (env_file) {
		char msg[600];
		if ((error = ef_read_file(&b, env_file, EF_COMPOSE_MAX_ENV_FILE)) < 0) {
			snprintf(msg, sizeof(msg), "cannot read the device's env_file: %s",
			         ef_error_last());
			problem(c, env_file, msg);
			/* The device's fault, not the commit's: fails the pass only. */
			return EF_ERROR;
		}
		/* Its entries win over .env's, and may use them. */
		error = ef_dotenv_parse(env, b.ptr ? b.ptr : "", b.len, env_file, NULL,
		                        c->findings);
		ef_buf_dispose(&b);
	}
	return error;
}

static int read_one(lctx *c, cJSON **out, const char *file, size_t cap, const ef_env *env,
                    ef_compose_pos *pos)
{
	ef_buf b;
	int error;
	char *name;

	*out = NULL;
	if ((error = c->src->read(c->src->ctx, &b, file, cap)) < 0)
		return problem(c, shown(c, file), ef_error_last());
	if (!(name = strdup(shown(c, file)))) {
		ef_buf_dispose(&b);
		return EF_ENOMEM;
	}
	error = ef_compose_yaml_read(out, b.ptr ? b.ptr : "", b.len, name, pos, c->findings);
	ef_buf_dispose(&b);
	if (error == 0 && !*out)
		error = problem(c, name, "the file is empty; a compose file has services:");
	else if (error == 0 && !cJSON_IsObject(*out))
		error = problem(c, name, "a compose file is a mapping (services:, ...)");
	if (error == 0)
		error = ef_compose_interpolate(*out, env, pos, name, c->findings);
	free(name);
	return error;
}

int ef_compose_load(ef_manifest **out, cJSON **doc_out, ef_compose_pos **pos_out,
                    const ef_compose_src *src, const ef_compose_opts *opts, ef_findings *findings)
{
	static const ef_compose_opts none;
	ef_findings local;
	const char *base_file, *over_file;
	cJSON *doc = NULL, *base = NULL, *over = NULL;
	ef_compose_pos *pos = NULL;
	ef_env env;
	lctx c;
	char mname[4200];
	size_t cap;
	int error = EF_ERROR, e2;

	*out = NULL;
	if (doc_out)
		*doc_out = NULL;
	if (pos_out)
		*pos_out = NULL;
	if (!opts)
		opts = &none;
	cap = opts->max_file ? opts->max_file : EF_COMPOSE_MAX_FILE;
	ef_findings_init(&local);
	ef_env_init(&env);
	c.src = src;
	c.findings = findings ? findings : &local;
	if ((error = ef_compose_pos_new(&pos)) < 0)
		goto out;
	if ((error = find_one(&c, &base_file, base_names, "base file")) < 0)
		goto out;
	if (!base_file) {
		problem(&c, src->name ? src->name : ".",
		        "no compose file: write compose.yaml (or compose.yml, docker-compose.yaml, "
		        "docker-compose.yml, compose.json) in the environment directory");
		error = EF_ENOTFOUND;
		goto out;
	}
	if ((error = find_one(&c, &over_file, override_names, "override file")) < 0)
		goto out;
	if ((error = read_env(&c, &env, opts->env_file)) < 0)
		goto out;
	if (opts->device_id &&
	    (error = ef_env_set(&env, "EDGEFLIP_DEVICE_ID", opts->device_id)) < 0)
		goto out;
	/* Each file is interpolated on its own, then merged: a problem in one
	 * does not hide those of the other. The base too is merged, into an
	 * empty document: its `!reset` entries go. */
	error = read_one(&c, &base, base_file, cap, &env, pos);
	if (error == 0) {
		const char *f;
		unsigned line, col;
		if (!(doc = cJSON_CreateObject())) {
			error = EF_ENOMEM;
			goto out;
		}
		if (ef_compose_pos_find(pos, base, &f, &line, &col) == 0)
			ef_compose_pos_add(pos, doc, f, line, col);
		error = ef_compose_merge(doc, base, pos, shown(&c, base_file), c.findings);
		base = NULL; /* consumed */
	}
	if (over_file) {
		e2 = read_one(&c, &over, over_file, cap, &env, pos);
		if (error == 0 && e2 == 0) {
			error = ef_compose_merge(doc, over, pos, shown(&c, over_file), c.findings);
			over = NULL; /* consumed */
		}
		error = error < 0 ? error : e2;
	}
	if (error < 0)
		goto out;
	snprintf(mname, sizeof(mname), "%s", shown(&c, base_file));
	error = ef_manifest_parse_doc_profiles(out, doc, mname, pos, c.findings, opts->profiles);
out:
	if (error < 0 && c.findings->n) {
		/* The last error names the first problem. */
		const ef_finding *f = &c.findings->v[0];
		if (f->line)
			ef_error_set("%s:%u:%u: %s: %s", f->file, f->line, f->col, f->path,
			             f->message);
		else
			ef_error_set("%s: %s: %s", f->file, f->path, f->message);
	}
	if (error < 0) {
		ef_manifest_free(*out);
		*out = NULL;
	}
	if (doc_out && doc) {
		*doc_out = doc;
		doc = NULL;
	}
	if (pos_out) {
		*pos_out = pos;
		pos = NULL;
	}
	cJSON_Delete(base);
	cJSON_Delete(over);
	cJSON_Delete(doc);
	ef_compose_pos_free(pos);
	ef_env_dispose(&env);
	ef_findings_dispose(&local);
	return error;
}
