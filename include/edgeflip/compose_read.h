/* The reading half of the compose reader (compose.h): YAML/JSON into a
 * document tree with positions, `.env` files, `${VAR}` interpolation, the
 * merge of override files, and ef_compose_load() which does all of it for an
 * environment directory. See docs/manifest.md, "Reading compose files". */
#ifndef EDGEFLIP_COMPOSE_READ_H
#define EDGEFLIP_COMPOSE_READ_H

#include "edgeflip/buf.h"
#include "edgeflip/compose.h"
#include "edgeflip/manifest.h"

#include <stddef.h>

struct cJSON;

/* Limits of the YAML reader. A file beyond one of them is refused with a
 * message naming the limit. */
#define EF_COMPOSE_MAX_DEPTH    64         /* nesting of mappings and sequences */
#define EF_COMPOSE_MAX_NODES    200000     /* nodes, counting those aliases expand to */
#define EF_COMPOSE_MAX_FILE     (4u << 20) /* bytes of one compose file */
#define EF_COMPOSE_MAX_ENV_FILE (1u << 20) /* bytes of one .env file */

/* Reads one YAML (or JSON) file, YAML 1.2 core schema as Compose reads it,
 * into a tree. Every node gets a position in `pos` (when not NULL). Problems
 * go to `findings` (when not NULL) as well as the last error; returns
 * EF_EINVALID then, and `*out` is NULL. An empty file gives a NULL tree and 0. */
int ef_compose_yaml_read(struct cJSON **out, const char *text, size_t len, const char *file,
                         ef_compose_pos *pos, ef_findings *findings);

/* Variables for interpolation: later ef_env_set() of a name wins. */
typedef struct {
	char **names;
	char **values;
	size_t n;
} ef_env;

void ef_env_init(ef_env *e);
void ef_env_dispose(ef_env *e);
int ef_env_set(ef_env *e, const char *name, const char *value);
/* The value or NULL when unset (borrowed). */
const char *ef_env_get(const ef_env *e, const char *name);

/* Parses a dotenv file as compose-go's dotenv parser does (comments, `export`,
 * single and double quotes, escapes in double quotes, `${VAR}` of earlier
 * entries and of `lookup`) into `e`. `lookup` may be NULL. EF_EINVALID with
 * a finding naming file:line on a syntax error. */
int ef_dotenv_parse(ef_env *e, const char *text, size_t len, const char *file, const ef_env *lookup,
                    ef_findings *findings);

/* Interpolates one string as compose-go's template.Substitute does. `*out`
 * is the result (heap). On an error (invalid template, required variable)
 * returns EF_EINVALID and the message in `err`. A variable used without a
 * default while unset is reported in `unset` (when not NULL; names, one per
 * occurrence) and substituted by "". */
int ef_compose_interp_string(char **out, const char *tmpl, const ef_env *env, ef_buf *err,
                             char ***unset);

/* Interpolates every string value (never keys) of `doc` in place. Every
 * problem is a finding naming file:line (from `pos`), the key path and the
 * variable; an unset variable without a default is one. EF_EINVALID when any. */
int ef_compose_interpolate(struct cJSON *doc, const ef_env *env, const ef_compose_pos *pos,
                           const char *file, ef_findings *findings);

/* Merges `over` into `base` with the Compose rules for override files
 * (docs/manifest.md). Nodes of `over` move into `base` (their positions stay
 * valid); `over` is consumed (freed) in any case. */
int ef_compose_merge(struct cJSON *base, struct cJSON *over, ef_compose_pos *pos, const char *file,
                     ef_findings *findings);

typedef struct {
	const char *env_file; /* device-local dotenv file ([agent] env_file) or NULL */
	/* EDGEFLIP_DEVICE_ID and the layer `devices/ID/`, or NULL. Per-device
	 * layers (docs/manifest.md "Per-device layers"): after the base file
	 * and its override, `labels/KEY=VALUE/` for each of `labels`
	 * ("KEY=VALUE", NULL-terminated; applied sorted by KEY), then
	 * `devices/ID/`, each with an optional compose.override.{yaml,yml,json}
	 * and .env; the device's env_file last. */
	const char *device_id;
	char *const *labels;
	size_t max_file;       /* bytes per compose file; 0: EF_COMPOSE_MAX_FILE */
	char *const *profiles; /* active profiles (NULL-terminated) or NULL */
	/* Opens a `.env` of the environment directory that is a SOPS document
	 * (docs/secrets.md, "Secrets in interpolation"): 1 and its "KEY=VALUE\0"
	 * entries in `out` (plaintext: the reader wipes it), 0 when `text` is a
	 * plain dotenv file, or an error whose message names `file` (the commit
	 * is refused). NULL: every .env is read as plain dotenv. The variables
	 * it gives are sealed: the spec hash folds in the SHA-256 of the
	 * encrypted file where their values appear, never the values. */
	int (*dotenv_open)(void *ctx, ef_buf *out, const char *text, size_t len, const char *file);
	void *dotenv_ctx;
} ef_compose_opts;

/* Reads the environment directory `src` as Compose reads a project directory
 * and parses the model. `doc_out` and `pos_out` (each may be NULL) receive
 * the merged, interpolated document and its positions. Every problem is
 * added to `findings` (may be NULL); EF_EINVALID when there was any, and the
 * last error names the first. EF_ENOTFOUND (and a finding) when there is no
 * compose file. */
int ef_compose_load(ef_manifest **out, struct cJSON **doc_out, ef_compose_pos **pos_out,
                    const ef_compose_src *src, const ef_compose_opts *opts, ef_findings *findings);

/* Checks a device id or a label ("KEY=VALUE", `label` true) for use as a
 * layer directory name: 1 to 128 characters of [A-Za-z0-9._:@+-] (a label's
 * KEY and VALUE each), starting with a letter or digit, so never "..", "/"
 * or a hidden name. EF_EINVALID and a message naming `what` otherwise. */
int ef_compose_layer_name_check(const char *name, bool label, const char *what);

/* A source reading a directory on disk (O_NOFOLLOW, nothing outside it).
 * `dir` is borrowed and stays valid while `out` is used. */
void ef_compose_src_dir(ef_compose_src *out, const char *dir);

#endif
