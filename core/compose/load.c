/* ef_compose_load(): an environment directory read as Compose reads a
 * project directory: one base file, at most one override, the per-device
 * layers (labels/KEY=VALUE/, devices/ID/: an override and a .env each),
 * `.env` files and the device's env file for `${VAR}`, each file
 * interpolated after reading, the overrides merged into the base in order,
 * then the model. */
#include "edgeflip/compose_read.h"
#include "edgeflip/error.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest_internal.h"

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
/* What a layer directory (labels/KEY=VALUE/, devices/ID/) may hold. */
static const char *const layer_override_names[] = {"compose.override.yaml", "compose.override.yml",
                                                   "compose.override.json", NULL};

#define MAX_LAYER_LABELS  32
#define MAX_EXTENDS_FILES 16
#define MAX_LAYER_NAME    128

/* One directory that contributes files: "" (the environment directory),
 * "labels/KEY=VALUE" or "devices/ID". */
typedef struct {
	char dir[2 * MAX_LAYER_NAME + 16];
	const char *over; /* its override file, or NULL */
} layer;

typedef struct {
	const ef_compose_src *src;
	const ef_compose_opts *opts;
	ef_findings *findings;
	mf_sealed *sealed; /* the variables of SOPS .env files */
	size_t nsealed;
	char name[4200];    /* "DIR/FILE" for messages */
	int extends_depth;  /* files read for extends.file, nested */
	bool extends_limit; /* a limit was reported: said once */
	/* The files read for extends.file, each read once (with its
	 * problems, said once): an error, or the document (its extends
	 * resolved), from which the bases are copied. */
	struct {
		char rel[400];
		cJSON *doc;
		int error;
	} xfiles[MAX_EXTENDS_FILES];
	size_t nxfiles;
} lctx;

static const char *shown(lctx *c, const char *file)
{
	snprintf(c->name, sizeof(c->name), "%s/%s", c->src->name ? c->src->name : ".", file);
	return c->name;
}

static int problem(lctx *c, const char *file, const char *msg)
{
	char copy[1024]; /* msg may be ef_error_last(), which ef_error_set() writes */

	snprintf(copy, sizeof(copy), "%s", msg);
	ef_findings_add(c->findings, file, 0, 0, "$", copy);
	ef_error_set("%s: %s", file, copy);
	return EF_EINVALID;
}

/* "DIR/NAME", or NAME for the environment directory itself. */
static const char *in_dir(char *out, size_t n, const char *dir, const char *name)
{
	size_t nd = strlen(dir), nn = strlen(name);

	if (nd + nn + 2 > n) { /* not with layer names of at most MAX_LAYER_NAME */
		out[0] = '\0';
		return out;
	}
	memcpy(out, dir, nd);
	if (nd)
		out[nd++] = '/';
	memcpy(out + nd, name, nn + 1);
	return out;
}

/* Which of `names` the directory `dir` has: 0 (none), 1 (`*out`), or an
 * error naming two of them. */
static int find_one(lctx *c, const char **out, const char *dir, const char *const *names,
                    const char *what)
{
	const char *found = NULL;
	char msg[600], rel[400];

	*out = NULL;
	for (size_t i = 0; names[i]; i++) {
		ef_compose_kind k;
		int error = c->src->stat(c->src->ctx, &k, in_dir(rel, sizeof(rel), dir, names[i]));
		if (error < 0) {
			problem(c, shown(c, rel), ef_error_last());
			return error;
		}
		if (k == EF_COMPOSE_ABSENT)
			continue;
		if (found) {
			snprintf(msg, sizeof(msg),
			         "both %s and %s are present; Compose reads one %s: remove one",
			         found, names[i], what);
			return problem(c, shown(c, rel), msg);
		}
		found = names[i];
	}
	*out = found;
	return 0;
}

/* Records a variable of a SOPS .env: the spec hash folds in `tag`
 * ("sops:NAME:<sha256 of the encrypted file>") where `value` occurs. */
static int seal(lctx *c, const char *name, const char *value, const char *digest)
{
	mf_sealed *v;
	size_t n = strlen(name) + strlen(digest) + 8;

	if (!*value)
		return 0;
	if (!(v = realloc(c->sealed, (c->nsealed + 1) * sizeof(*v))))
		return EF_ENOMEM;
	c->sealed = v;
	v = &c->sealed[c->nsealed];
	v->value = strdup(value);
	v->tag = malloc(n);
	if (!v->value || !v->tag) {
		free(v->value);
		free(v->tag);
		return EF_ENOMEM;
	}
	snprintf(v->tag, n, "sops:%s:%s", name, digest);
	c->nsealed++;
	return 0;
}

static void sealed_dispose(lctx *c)
{
	for (size_t i = 0; i < c->nsealed; i++) {
		sodium_memzero(c->sealed[i].value, strlen(c->sealed[i].value));
		free(c->sealed[i].value);
		free(c->sealed[i].tag);
	}
	free(c->sealed);
	c->sealed = NULL;
	c->nsealed = 0;
}

/* Wipes the strings of an interpolated tree that held sealed values. */
static void wipe_tree(cJSON *n)
{
	for (; n; n = n->next) {
		if (n->valuestring)
			sodium_memzero(n->valuestring, strlen(n->valuestring));
		wipe_tree(n->child);
	}
}

/* A config's inline `content:` is written to STATE_DIR in clear: refused
 * when a value of an encrypted .env was interpolated into it. */
static int check_sealed_configs(lctx *c, const ef_manifest *m, const char *file)
{
	char msg[600];
	int error = 0;

	for (size_t i = 0; i < m->nconfigs; i++) {
		const char *content = m->configs[i].content;
		for (size_t k = 0; content && k < c->nsealed; k++) {
			if (!*c->sealed[k].value || !strstr(content, c->sealed[k].value))
				continue;
			snprintf(msg, sizeof(msg),
			         "configs.%s.content: holds a value of an encrypted .env (%s), and "
			         "configs are written to the device's disk in clear; use a secret "
			         "(secrets: {NAME: {file: ...}}) for it",
			         m->configs[i].key, c->sealed[k].tag);
			error = problem(c, file, msg);
			break;
		}
	}
	return error;
}

/* A .env that the caller's dotenv_open says is a SOPS document: its
 * variables, taken as sops stored them, sealed. 1: it was one; 0: plain. */
static int read_sealed(lctx *c, ef_env *env, const ef_buf *b, const char *rel)
{
	ef_buf plain = EF_BUF_INIT(EF_COMPOSE_MAX_ENV_FILE);
	unsigned char d[crypto_hash_sha256_BYTES];
	char digest[2 * sizeof(d) + 1];
	int error;

	error = c->opts->dotenv_open(c->opts->dotenv_ctx, &plain, b->ptr ? b->ptr : "", b->len,
	                             shown(c, rel));
	if (error < 0) {
		/* the message names the file already: not twice */
		const char *file = shown(c, rel);
		size_t n = strlen(file);
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", ef_error_last());
		if (strncmp(msg, file, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
			memmove(msg, msg + n + 2, strlen(msg + n + 2) + 1);
		error = problem(c, file, msg);
		goto out;
	}
	if (error == 0)
		goto out;
	crypto_hash_sha256(d, (const unsigned char *)(b->ptr ? b->ptr : ""), b->len);
	sodium_bin2hex(digest, sizeof(digest), d, sizeof(d));
	error = 0;
	/* "KEY=VALUE\0" entries */
	for (size_t i = 0; i < plain.len && error == 0;) {
		char *entry = plain.ptr + i, *eq = strchr(entry, '=');
		size_t n = strlen(entry);

		if (eq) {
			*eq = '\0';
			error = ef_env_set(env, entry, eq + 1);
			if (error == 0)
				error = seal(c, entry, eq + 1, digest);
			*eq = '=';
		}
		i += n + 1;
	}
	error = error < 0 ? error : 1;
out:
	ef_buf_dispose_secret(&plain);
	return error;
}

/* The .env of layer directory `dir`, when it has one: its entries win
 * over those read before, and may use them. */
static int read_dotenv(lctx *c, ef_env *env, const char *dir)
{
	ef_compose_kind k;
	ef_buf b;
	char rel[400];
	int error;

	in_dir(rel, sizeof(rel), dir, ".env");
	if ((error = c->src->stat(c->src->ctx, &k, rel)) < 0)
		return problem(c, shown(c, rel), ef_error_last());
	if (k == EF_COMPOSE_ABSENT)
		return 0;
	if ((error = c->src->read(c->src->ctx, &b, rel, EF_COMPOSE_MAX_ENV_FILE)) < 0)
		return problem(c, shown(c, rel), ef_error_last());
	if (c->opts->dotenv_open)
		error = read_sealed(c, env, &b, rel);
	if (error == 0)
		error = ef_dotenv_parse(env, b.ptr ? b.ptr : "", b.len, shown(c, rel), NULL,
		                        c->findings);
	ef_buf_dispose(&b);
	return error < 0 ? error : 0;
}

/* The device's own env_file ([agent] env_file), last. */
static int read_env_file(lctx *c, ef_env *env, const char *env_file)
{
	char msg[600];
	ef_buf b;
	int error;

	if ((error = ef_read_file(&b, env_file, EF_COMPOSE_MAX_ENV_FILE)) < 0) {
		snprintf(msg, sizeof(msg), "cannot read the device's env_file: %s",
		         ef_error_last());
		problem(c, env_file, msg);
		/* The device's fault, not the commit's: fails the pass only. */
		return EF_ERROR;
	}
	error = ef_dotenv_parse(env, b.ptr ? b.ptr : "", b.len, env_file, NULL, c->findings);
	ef_buf_dispose(&b);
	return error;
}

static bool name_char(int ch)
{
	return isalnum(ch) || ch == '.' || ch == '_' || ch == '-' || ch == ':' || ch == '@' ||
	       ch == '+';
}

static bool good_part(const char *s, size_t n)
{
	if (n == 0 || n > MAX_LAYER_NAME || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!name_char((unsigned char)s[i]))
			return false;
	return true;
}

int ef_compose_layer_name_check(const char *name, bool label, const char *what)
{
	const char *eq = label && name ? strchr(name, '=') : NULL;
	bool ok;

	if (!name)
		ok = false;
	else if (label)
		ok = eq && good_part(name, (size_t)(eq - name)) &&
		     good_part(eq + 1, strlen(eq + 1));
	else
		ok = good_part(name, strlen(name));
	if (ok)
		return 0;
	ef_error_set("%s '%s' cannot name a layer directory: %s1 to %d characters of letters, "
	             "digits and . _ - : @ +, starting with a letter or digit (no '/', no '..')",
	             what, name ? name : "", label ? "write KEY=VALUE, each " : "", MAX_LAYER_NAME);
	return EF_EINVALID;
}

static int by_key(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	size_t nx = strcspn(x, "="), ny = strcspn(y, "=");
	int r = strncmp(x, y, nx < ny ? nx : ny);

	return r ? r : (nx > ny) - (nx < ny);
}

/* The layers that exist, in order: the environment directory, each label's
 * directory (sorted by key), the device's. `*n` counts them. */
static int find_layers(lctx *c, layer *v, size_t *n, const ef_compose_opts *opts)
{
	const char *sorted[MAX_LAYER_LABELS + 1];
	size_t nl = ef_strv_len(opts->labels);
	char msg[700];
	int error;

	*n = 1; /* v[0], the environment directory, is filled by the caller */
	if (nl > MAX_LAYER_LABELS) {
		snprintf(msg, sizeof(msg), "%zu device labels; at most %d", nl, MAX_LAYER_LABELS);
		return problem(c, "labels", msg);
	}
	for (size_t i = 0; i < nl; i++) {
		if (ef_compose_layer_name_check(opts->labels[i], true, "label") < 0)
			return problem(c, "labels", ef_error_last());
		sorted[i] = opts->labels[i];
	}
	qsort(sorted, nl, sizeof(*sorted), by_key);
	for (size_t i = 0; i + 1 < nl; i++)
		if (by_key(&sorted[i], &sorted[i + 1]) == 0) {
			snprintf(msg, sizeof(msg), "labels '%s' and '%s' have the same key",
			         sorted[i], sorted[i + 1]);
			return problem(c, "labels", msg);
		}
	if (opts->device_id && ef_compose_layer_name_check(opts->device_id, false, "device id") < 0)
		return problem(c, "device_id", ef_error_last());
	for (size_t i = 0; i <= nl; i++) {
		layer *l = &v[*n];
		ef_compose_kind k;

		if (i < nl)
			snprintf(l->dir, sizeof(l->dir), "labels/%s", sorted[i]);
		else if (opts->device_id)
			snprintf(l->dir, sizeof(l->dir), "devices/%s", opts->device_id);
		else
			break;
		if ((error = c->src->stat(c->src->ctx, &k, l->dir)) < 0)
			return problem(c, shown(c, l->dir), ef_error_last());
		if (k == EF_COMPOSE_ABSENT)
			continue;
		if (k != EF_COMPOSE_DIR)
			return problem(c, shown(c, l->dir),
			               "a layer is a directory (with compose.override.yaml and/or "
			               ".env); remove the file or make it a directory");
		if ((error = find_one(c, &l->over, l->dir, layer_override_names,
		                      "override file per layer")) < 0)
			return error;
		(*n)++;
	}
	return 0;
}

static int read_one(lctx *c, cJSON **out, const char *file, size_t cap, const ef_env *env,
                    ef_compose_pos *pos);

/* extends.file: another file of the directory of the file being read. */
typedef struct {
	lctx *c;
	const char *file; /* the extending file, relative to the environment directory */
	size_t cap;
	const ef_env *env;
	ef_compose_pos *pos;
} xread;

static int read_for_extends(void *ctx, const cJSON **out, const char *name)
{
	xread *x = ctx;
	lctx *c = x->c;
	const char *slash = strrchr(x->file, '/');
	char rel[400];
	cJSON *doc = NULL;
	int error;

	*out = NULL;
	snprintf(rel, sizeof(rel), "%.*s%s%s", slash ? (int)(slash - x->file) : 0, x->file,
	         slash ? "/" : "", name);
	for (size_t i = 0; i < c->nxfiles; i++) {
		if (!strcmp(c->xfiles[i].rel, rel)) {
			*out = c->xfiles[i].doc;
			return c->xfiles[i].error;
		}
	}
	/* Files extending one another in a circle read each other until the
	 * depth limit (a file is cached once read whole); said once. */
	if (c->extends_limit)
		return EF_EINVALID;
	if (c->extends_depth >= 8 || c->nxfiles >= MAX_EXTENDS_FILES) {
		c->extends_limit = true;
		return problem(c, shown(c, rel),
		               c->extends_depth >= 8
		                       ? "more than 8 files extend one another; write the service "
		                         "in full"
		                       : "services extend services of more than 16 other files");
	}
	c->extends_depth++;
	error = read_one(c, &doc, rel, x->cap, x->env, x->pos);
	c->extends_depth--;
	if (error < 0) {
		cJSON_Delete(doc);
		doc = NULL;
	}
	if (c->nxfiles < MAX_EXTENDS_FILES) {
		snprintf(c->xfiles[c->nxfiles].rel, sizeof(c->xfiles[0].rel), "%s", rel);
		c->xfiles[c->nxfiles].doc = doc;
		c->xfiles[c->nxfiles].error = error;
		c->nxfiles++;
	} else {
		cJSON_Delete(doc);
		doc = NULL;
	}
	*out = doc;
	return error;
}

static int read_one(lctx *c, cJSON **out, const char *file, size_t cap, const ef_env *env,
                    ef_compose_pos *pos)
{
	xread x = {c, file, cap, env, pos};
	mf_extends_io io = {read_for_extends, &x};
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
	if (error == 0)
		error = mf_apply_extends(*out, name, pos, c->findings, &io);
	free(name);
	return error;
}

int ef_compose_load(ef_manifest **out, cJSON **doc_out, ef_compose_pos **pos_out,
                    const ef_compose_src *src, const ef_compose_opts *opts, ef_findings *findings)
{
	static const ef_compose_opts none;
	ef_findings local;
	const char *base_file;
	cJSON *doc = NULL, *base = NULL, *over = NULL;
	ef_compose_pos *pos = NULL;
	layer layers[MAX_LAYER_LABELS + 2];
	size_t nlayers = 0;
	ef_env env;
	lctx c;
	char mname[4200], rel[400];
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
	memset(&c, 0, sizeof(c));
	c.src = src;
	c.opts = opts;
	c.findings = findings ? findings : &local;
	if ((error = ef_compose_pos_new(&pos)) < 0)
		goto out;
	if ((error = find_one(&c, &base_file, "", base_names, "base file")) < 0)
		goto out;
	if (!base_file) {
		problem(&c, src->name ? src->name : ".",
		        "no compose file: write compose.yaml (or compose.yml, docker-compose.yaml, "
		        "docker-compose.yml, compose.json) in the environment directory");
		error = EF_ENOTFOUND;
		goto out;
	}
	layers[0].dir[0] = '\0';
	if ((error = find_one(&c, &layers[0].over, "", override_names, "override file")) < 0 ||
	    (error = find_layers(&c, layers, &nlayers, opts)) < 0)
		goto out;
	/* Variables: each layer's .env in order, then the device's env_file;
	 * every file is interpolated with the result. */
	for (size_t i = 0; i < nlayers; i++)
		if ((error = read_dotenv(&c, &env, layers[i].dir)) < 0)
			goto out;
	if (opts->env_file && (error = read_env_file(&c, &env, opts->env_file)) < 0)
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
	for (size_t i = 0; i < nlayers; i++) {
		if (!layers[i].over)
			continue;
		in_dir(rel, sizeof(rel), layers[i].dir, layers[i].over);
		e2 = read_one(&c, &over, rel, cap, &env, pos);
		if (error == 0 && e2 == 0) {
			error = ef_compose_merge(doc, over, pos, shown(&c, rel), c.findings);
			over = NULL; /* consumed */
		}
		cJSON_Delete(over);
		over = NULL;
		error = error < 0 ? error : e2;
	}
	if (error < 0)
		goto out;
	snprintf(mname, sizeof(mname), "%s", shown(&c, base_file));
	error = ef_manifest_parse_doc_profiles(out, doc, mname, pos, c.findings, opts->profiles);
	for (size_t i = 0; error == 0 && c.nsealed && i < (*out)->nservices; i++)
		mf_spec_hash_sealed(&(*out)->services[i], *out, c.sealed, c.nsealed);
	if (error == 0)
		error = check_sealed_configs(&c, *out, mname);
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
	if (c.nsealed) {
		wipe_tree(base);
		wipe_tree(over);
		wipe_tree(doc);
	}
	sealed_dispose(&c);
	for (size_t i = 0; i < c.nxfiles; i++) {
		if (c.nsealed)
			wipe_tree(c.xfiles[i].doc);
		cJSON_Delete(c.xfiles[i].doc);
	}
	cJSON_Delete(base);
	cJSON_Delete(over);
	cJSON_Delete(doc);
	ef_compose_pos_free(pos);
	ef_env_dispose(&env);
	ef_findings_dispose(&local);
	return error;
}
