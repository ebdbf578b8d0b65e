/* Shared between the files of core/source; not a public interface.
 *
 * The Git source is split by what each file owns:
 *   source.c   the source itself: setup (URL, token, CA file, cache), the
 *              one place libgit2 errors become ours, the poll loop
 *   stream.c   the socket stream under libgit2's TLS layer: deadlines and
 *              byte caps of the operation in progress (struct ef_source_op)
 *   v2.c       protocol v2 `ls-refs` polls through our smart transport
 *              (the pkt-lines themselves are pkt.c)
 *   fetch.c    fetches into the cache, and taking a refused fetch back
 *   objects.c  reads from the cache: commits, files, ancestry
 *   tree_src.c, bundle.c, import.c: the tree source and bundle import */
#ifndef EDGEFLIP_SOURCE_INTERNAL_H
#define EDGEFLIP_SOURCE_INTERNAL_H

#include "edgeflip/buf.h"
#include "edgeflip/source.h"

#include <git2.h>
#include <git2/sys/stream.h>

#include <stdbool.h>
#include <stdint.h>

/* The one ref the cache holds for the branch (HEAD points to it). */
#define LOCAL_REF "refs/edgeflip/head"

/* One network operation (a poll or a fetch) in progress on this thread. The
 * socket stream (stream.c) consults it on every read and write. */
struct ef_source_op {
	uint64_t deadline_ms; /* CLOCK_MONOTONIC milliseconds; 0: none */
	uint64_t max_bytes;   /* cap on bytes read during the operation; 0: none */
	uint64_t bytes_read;
	unsigned connects; /* connection attempts during the operation */
	int cause;         /* EF_ETIMEOUT, EF_ETOOBIG, EF_EUNREACHABLE or 0 */
	char cause_msg[256];
	uint64_t *bytes_total; /* the source's wire counter */
};

struct ls_refs; /* v2.c */
struct v2_sub;  /* v2.c */

struct ef_source {
	git_repository *repo;
	git_remote *remote;
	char *url;
	char *branch;
	char *ref_name;        /* refs/heads/<branch> */
	char *refspec;         /* +refs/heads/<branch>:refs/edgeflip/head */
	char *previews_prefix; /* listed too ("refs/pull/"), NULL: none */
	char **preview_refs;   /* "<oid> <name>" from the last poll */
	char *ca_file;
	char *token_file;
	char *cache_dir;
	uint64_t timeout_ms;
	uint64_t max_fetch_bytes;
	ef_buf auth_header; /* "Authorization: Basic ..."; a secret */
	char *header_list[1];
	git_strarray headers;
	/* Protocol v2 polls: the remote's transport (or ours until a connect of
	 * the remote adopts it), its subtransport, and the request. */
	git_transport *tp;
	bool tp_adopted; /* the remote owns tp and frees it */
	struct v2_sub *sub;
	struct ls_refs *ls; /* set while an ls-refs poll runs */
	bool v0_only;       /* the server did not answer ls-refs: libgit2 listing */
	char *v2_header_list[2];
	git_strarray v2_headers; /* the token header and "Git-Protocol: version=2" */
	ef_buf ls_request;
	ef_source_stats stats;
	/* The last fetch that brought objects: the commit, the packs it added
	 * (names without .pack), and LOCAL_REF before it, so that
	 * ef_source_discard can take it back when the commit is refused. */
	git_oid last_fetch;
	char **last_packs;
	git_oid ref_before;
	bool had_ref_before;
};

/* ---- stream.c ---- */

/* Makes `op` the operation in progress on this thread (deadline from the
 * source's timeout, `max_bytes` cap, bytes counted into the statistics). */
void ef_source__op_begin(ef_source *s, struct ef_source_op *op, uint64_t max_bytes);
void ef_source__op_end(void);
/* Records why the operation fails; the first cause is kept. */
void ef_source__op_fail(struct ef_source_op *op, int cause, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* git_stream_registration.init: the deadline socket stream. */
int ef_source__stream_new(git_stream **out, const char *host, const char *port);

/* ---- source.c ---- */

/* The one place libgit2 errors become ours: sets the message, returns EF_*. */
int ef_source__translate(const ef_source *s, const struct ef_source_op *op, int gerr,
                         const char *action);
/* Errors that a stale kept-alive connection produces, worth one more try. */
bool ef_source__retriable(const struct ef_source_op *op, unsigned connects_before);
int ef_source__parse_oid(git_oid *out, const char *hex);
int ef_source__use_ca_file(const char *ca_file);
int ef_source__open_cache(git_repository **out, const char *dir);
bool ef_source__cache_broken(const struct ef_source_op *op);
int ef_source__reset_cache(ef_source *s, const char *why);
int ef_source__ensure_open(ef_source *s);
int ef_source__connect_remote(ef_source *s, const git_remote_callbacks *cb);

/* ---- v2.c ---- */

/* git_remote_callbacks.transport; the payload starts with the source. */
int ef_source__adopt_transport(git_transport **out, git_remote *owner, void *payload);
/* Frees a transport that no remote took yet (before the remote goes). */
void ef_source__drop_transport(ef_source *s);
/* The ls-refs poll: 1 done (*error set), 0 try the libgit2 listing. */
int ef_source__poll_v2(ef_source *s, struct ef_source_op *op, char out_head[EF_OID_HEX], int *error,
                       char *why, size_t why_len, bool *refused);

/* ---- for tree_src.c and import.c ---- */

git_repository *ef_source__repo(ef_source *s);
/* "refs/heads/BRANCH" of the configured branch. */
const char *ef_source__ref_name(const ef_source *s);
/* [source] max_fetch_size: also the cap of an imported pack. */
uint64_t ef_source__max_fetch(const ef_source *s);

#endif
