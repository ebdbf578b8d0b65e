/* The Git source: one branch of an HTTPS repository, fetched into a bare
 * cache repository under state_dir; files are read from commit trees in the
 * object database (no working tree, no checkout). */
#ifndef EDGEFLIP_SOURCE_H
#define EDGEFLIP_SOURCE_H

#include "edgeflip/buf.h"

#include <stdbool.h>
#include <stdint.h>

#define EF_OID_HEX 65 /* room for a SHA-256 id and the NUL */

typedef struct ef_source ef_source;

typedef struct {
	const char *url;
	const char *branch;
	const char *ca_file;    /* NULL: the system bundle */
	const char *token_file; /* NULL: no auth; the token is never logged */
	bool allow_insecure_http;
	uint64_t timeout_ms;      /* deadline for one poll or one fetch */
	uint64_t max_fetch_bytes; /* a fetch that receives more is aborted */
	const char *cache_dir;    /* the bare repository, e.g. STATE_DIR/cache.git */
	/* Preview refs: every poll lists the refs starting with this prefix
	 * too ("refs/pull/"), in the same ls-refs request; NULL: none. */
	const char *previews_prefix;
} ef_source_opts;

/* Opens (or creates) the cache repository and the one remote kept for the
 * life of the source (libgit2 1.5 leaks ~120 KB per remote created). A cache
 * that cannot be opened is moved aside and created anew. */
int ef_source_new(ef_source **out, const ef_source_opts *opts);
/* One ref listing on the kept-alive connection: the commit id the branch
 * points to on the server. Writes nothing to disk. EF_EUNREACHABLE,
 * EF_ETIMEOUT, EF_ENOTFOUND (no such branch), EF_EINVALID (bad reply). */
int ef_source_poll(ef_source *s, char out_head[EF_OID_HEX]);
/* The refs under previews_prefix the last successful poll listed, as
 * "<oid> <refname>" (borrowed until the next poll; NULL: none). */
char *const *ef_source_preview_refs(const ef_source *s);
/* Fetches `ref` of the server (a preview ref from the listing) so that
 * `want` is in the object database, into the cache's ref `local` (under
 * refs/edgeflip/, not the branch's). */
int ef_source_fetch_ref(ef_source *s, const char *ref, const char *local, const char *want);
/* Deletes the cache's ref `local` (a preview that went away). */
void ef_source_drop_ref(ef_source *s, const char *local);
/* Fetches the branch so that `want` (from poll) is in the object database.
 * Writes no FETCH_HEAD and no reflog. EF_ETOOBIG past max_fetch_bytes. */
int ef_source_fetch(ef_source *s, const char *want);
/* Takes back what the last fetch brought for `commit`, which was refused:
 * removes the packs it added and points the branch ref back to where it was,
 * so that the cache does not grow by every rejected push. No-op when the
 * last fetch was of another commit or brought nothing. */
int ef_source_discard(ef_source *s, const char *commit);
/* Indexes the objects of the `git bundle` `file` (v2 or v3, SHA-1) into the
 * cache and gives the commit the bundle's ref of the configured branch points
 * to, for the same checks as a fetched commit (the ref of the cache is set
 * by ef_source_fetch, which then finds the commit present). EF_EINVALID: not
 * a bundle, or a damaged pack; EF_EREJECTED: no such branch in it, or it
 * lacks history: a prerequisite the cache does not have (checked before
 * anything is written) or commits missing below the tip (found after the
 * pack is in; its objects stay unreferenced). EF_ETOOBIG past
 * max_fetch_bytes. */
int ef_source_import(ef_source *s, char out_head[EF_OID_HEX], const char *file);
/* Resolves "HEAD"/branch name/full or short id against the cache to a commit id. */
int ef_source_resolve(ef_source *s, char out[EF_OID_HEX], const char *rev);
/* The raw commit object (headers, blank line, message), for verification. */
int ef_source_read_commit(ef_source *s, ef_buf *out, const char *commit, size_t cap);
/* The blob at `path` in the tree of `commit`; EF_ENOTFOUND when absent. */
int ef_source_read_file(ef_source *s, ef_buf *out, const char *commit, const char *path,
                        size_t cap);
/* *out = true when `commit` equals `ancestor` or descends from it. */
int ef_source_descends(ef_source *s, bool *out, const char *commit, const char *ancestor);
/* The committer date of `commit` (seconds since the epoch, as signed). */
int ef_source_commit_time(ef_source *s, int64_t *out, const char *commit);
/* Wire and disk counters since ef_source_new (for benchmarks and status). */
typedef struct {
	uint64_t polls;
	uint64_t polls_v2; /* polls answered by protocol v2 ls-refs */
	uint64_t fetches;
	uint64_t bytes_received;
} ef_source_stats;
void ef_source_get_stats(const ef_source *s, ef_source_stats *out);
void ef_source_free(ef_source *s);

/* The directory `dir` ("" for the root) of `commit`'s tree, read from the
 * object database (no checkout): what the agent hands the compose reader as
 * its file source. Paths are relative to `dir`; symbolic links are refused
 * by name. EF_ENOTFOUND when the commit has no such directory. */
typedef struct ef_source_tree ef_source_tree;
typedef enum { EF_TREE_ABSENT = 0, EF_TREE_FILE, EF_TREE_DIR } ef_source_kind;
int ef_source_tree_open(ef_source_tree **out, ef_source *s, const char *commit, const char *dir);
/* At most `cap` bytes (EF_ETOOBIG beyond); EF_ENOTFOUND when absent. */
int ef_source_tree_read(ef_source_tree *t, ef_buf *out, const char *rel, size_t cap);
int ef_source_tree_stat(ef_source_tree *t, ef_source_kind *out, const char *rel);
/* Sorted names in `rel` ("" for the directory itself); ef_strv_free. */
int ef_source_tree_list(ef_source_tree *t, char ***out, const char *rel);
/* "DIR@COMMIT12", for messages. */
const char *ef_source_tree_name(const ef_source_tree *t);
void ef_source_tree_free(ef_source_tree *t);

/* Global libgit2 setup (once per process): init, TLS CA, timeouts. */
int ef_source_global_init(void);
void ef_source_global_shutdown(void);

#endif
