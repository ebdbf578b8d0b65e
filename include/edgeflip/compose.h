/* Reading an environment directory as Compose reads a project directory:
 * the compose files (YAML or JSON) and their overrides, merged, with `${VAR}`
 * interpolation, into one document tree that ef_manifest_parse_doc() turns
 * into the normalised model (manifest.h). See docs/manifest.md.
 *
 * The document is a cJSON tree; every node read from a file has a position
 * (file, line, column) kept beside the tree, keyed by the node's address, so
 * that any later step (merge, interpolation, the field parsers, policy) can
 * say where a value came from. */
#ifndef EDGEFLIP_COMPOSE_H
#define EDGEFLIP_COMPOSE_H

#include "edgeflip/buf.h"

#include <stdbool.h>
#include <stddef.h>

struct cJSON;

/* ---------------------------------------------------------------------------
 * Positions of nodes: node address -> file:line:column (1-based). */

typedef struct ef_compose_pos ef_compose_pos;

int ef_compose_pos_new(ef_compose_pos **out);
void ef_compose_pos_free(ef_compose_pos *p);
/* Records where `node` was read. `file` is copied (interned) once per name. */
int ef_compose_pos_add(ef_compose_pos *p, const void *node, const char *file, unsigned line,
                       unsigned col);
/* 0 and the position, or EF_ENOTFOUND. `*file` is borrowed from `p`. */
int ef_compose_pos_find(const ef_compose_pos *p, const void *node, const char **file,
                        unsigned *line, unsigned *col);
/* A copy of the cJSON tree `n` whose nodes keep the positions and tags of the
 * originals; NULL when out of memory or, with *too_deep set, when n nests
 * deeper than max_depth. */
struct cJSON *ef_compose_pos_copy(ef_compose_pos *p, const struct cJSON *n, int max_depth,
                                  bool *too_deep);
/* Compose's merge tags on a node (`!reset`, `!override` in YAML), kept beside
 * its position: set after ef_compose_pos_add() (which clears them). */
enum { EF_COMPOSE_TAG_RESET = 1, EF_COMPOSE_TAG_OVERRIDE = 2 };
int ef_compose_pos_set_tag(ef_compose_pos *p, const void *node, unsigned tag);
unsigned ef_compose_pos_tag(const ef_compose_pos *p, const void *node);
/* Where a scalar ends in its file (line, column just past its last
 * character, 1-based), for tools that edit a file in place (`edgeflip pin`).
 * Only a scalar read at its own place has an end: a copy made for an alias or
 * a merge key keeps the start of what it copies but has none (EF_ENOTFOUND). */
int ef_compose_pos_set_end(ef_compose_pos *p, const void *node, unsigned line, unsigned col);
int ef_compose_pos_end(const ef_compose_pos *p, const void *node, unsigned *line, unsigned *col);

/* ---------------------------------------------------------------------------
 * Findings: every problem found, not only the first (lint reports them all). */

typedef struct {
	char *file;    /* the file the value came from */
	unsigned line; /* 0: unknown (JSON input without positions) */
	unsigned col;
	char *path;    /* "$.services.web.ports[0]" */
	char *message; /* what is wrong and what to do; no control characters */
} ef_finding;

typedef struct {
	ef_finding *v;
	size_t n;
} ef_findings;

void ef_findings_init(ef_findings *f);
void ef_findings_dispose(ef_findings *f);
int ef_findings_add(ef_findings *f, const char *file, unsigned line, unsigned col, const char *path,
                    const char *message);
/* Adds a finding at the position of `node` (`file` alone where it has none)
 * and, with set_error, makes it ef_error_last() as "file:line:col: path:
 * message". */
void ef_findings_at(ef_findings *f, const ef_compose_pos *pos, const void *node, const char *file,
                    const char *path, const char *msg, bool set_error);
/* "file:line:col: path: message" (or "file: path: message" without a line),
 * one per line, into `out`. */
int ef_findings_format(ef_buf *out, const ef_findings *f);

/* ---------------------------------------------------------------------------
 * Where the environment directory's files come from: the commit's tree in
 * the object database (the agent) or a directory on disk (lint, config). */

typedef enum { EF_COMPOSE_ABSENT = 0, EF_COMPOSE_FILE, EF_COMPOSE_DIR } ef_compose_kind;

typedef struct ef_compose_src {
	/* Reads `rel` (relative to the environment directory, already
	 * normalised: no leading "/", no "." or ".." parts) into `out`, at most
	 * `cap` bytes (EF_ETOOBIG beyond). EF_ENOTFOUND when absent. */
	int (*read)(void *ctx, ef_buf *out, const char *rel, size_t cap);
	/* What `rel` is. */
	int (*stat)(void *ctx, ef_compose_kind *out, const char *rel);
	/* The names in directory `rel` ("" for the environment directory
	 * itself), sorted; a NULL-terminated vector (ef_strv_free). */
	int (*list)(void *ctx, char ***out, const char *rel);
	void *ctx;
	/* For messages: the directory as the user knows it
	 * ("environments/production" in the repository, or a path on disk). */
	const char *name;
} ef_compose_src;

#endif
