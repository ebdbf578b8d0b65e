/* Fetches of the Git source into its bare cache repository: the branch
 * (ef_source_fetch) and preview refs (ef_source_fetch_ref), each within the
 * source's deadline and max_fetch_size, retried once on a stale connection
 * and once after resetting a broken cache; and ef_source_discard, which takes
 * back the packs of a fetch whose commit was refused. */
#include "source_internal.h"
#include "edgeflip/error.h"
#include "edgeflip/features.h"
#include "edgeflip/log.h"
#include "edgeflip/sys/clock.h"

#include <git2.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fetch_ctx {
	ef_source *s; /* first: ef_source__adopt_transport() reads it */
	struct ef_source_op *op;
};

static int on_transfer(const git_indexer_progress *p, void *payload)
{
	struct fetch_ctx *fc = payload;

	if (fc->s->max_fetch_bytes && p->received_bytes > fc->s->max_fetch_bytes) {
		ef_source__op_fail(fc->op, EF_ETOOBIG, "pack larger than the limit");
		return -1;
	}
	if (fc->op->deadline_ms && ef_clock_ms() >= fc->op->deadline_ms) {
		ef_source__op_fail(fc->op, EF_ETIMEOUT, "fetch not done before the deadline");
		return -1;
	}
	return 0;
}

/* Points `local` (refs/edgeflip/head, or a preview's ref) at `id`; no reflog
 * (core.logAllRefUpdates=false). */
static int set_local_ref(ef_source *s, const char *local, const git_oid *id)
{
	git_reference *ref = NULL;
	git_oid cur;
	int gerr;

	if (git_reference_name_to_id(&cur, s->repo, local) == 0 && git_oid_equal(&cur, id))
		return 0;
	gerr = git_reference_create(&ref, s->repo, local, id, 1, NULL);
	git_reference_free(ref);
	if (gerr < 0) {
		ef_error_set("cannot update %s in %s: %s", local, s->cache_dir,
		             git_error_last() ? git_error_last()->message : "unknown error");
		return EF_ERROR;
	}
	return 0;
}

/* git_remote_fetch truncates FETCH_HEAD whatever update_fetchhead says
 * (libgit2 1.5 to 1.9 at least); the cache keeps none. */
static void remove_fetch_head(const ef_source *s)
{
	char path[4096];

	if ((size_t)snprintf(path, sizeof(path), "%s/FETCH_HEAD", git_repository_path(s->repo)) <
	    sizeof(path))
		unlink(path);
}

/* The pack files in the cache (names without ".pack"), sorted. */
static char **list_packs(const ef_source *s)
{
	char dir[4096];
	char **v = NULL;
	DIR *d;
	struct dirent *e;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/objects/pack", git_repository_path(s->repo)) >=
	    sizeof(dir))
		return NULL;
	if (!(d = opendir(dir)))
		return NULL;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);

		if (n > 5 && strcmp(e->d_name + n - 5, ".pack") == 0) {
			char *name = strndup(e->d_name, n - 5);

			if (!name || ef_strv_push_owned(&v, name) < 0)
				break;
		}
	}
	closedir(d);
	return v;
}

static bool strv_has(char *const *v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

/* Fetches `refspec` so that `want` is in the object database and points
 * `local` at it. The packs it adds are remembered for ef_source_discard only
 * for the branch (`main`). */
static int fetch_into(ef_source *s, char *refspec, const char *local, const char *want, bool main)
{
	char **packs_before = NULL;
	git_fetch_options fo;
	char *specs[1] = {refspec};
	git_strarray refspecs = {specs, 1};
	git_odb *odb = NULL;
	git_oid id;
	struct fetch_ctx fc;
	struct ef_source_op op;
	bool reset = false;
	int gerr, error;

	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	if ((error = ef_source__parse_oid(&id, want)) < 0 ||
	    (error = ef_source__ensure_open(s)) < 0)
		return error;
	if (git_repository_odb(&odb, s->repo) < 0) {
		ef_error_set("cannot open the object database of %s", s->cache_dir);
		return EF_ERROR;
	}
	if (git_odb_exists(odb, &id)) {
		error = set_local_ref(s, local, &id);
		goto out;
	}
	if ((error = ef_source__use_ca_file(s->ca_file)) < 0)
		goto out;
	if (main) {
		packs_before = list_packs(s);
		ef_strv_free(s->last_packs);
		s->last_packs = NULL;
		s->had_ref_before =
		        git_reference_name_to_id(&s->ref_before, s->repo, LOCAL_REF) == 0;
	}

	fc.s = s;
	fc.op = &op;
	fo.callbacks.transfer_progress = on_transfer;
	fo.callbacks.transport = ef_source__adopt_transport;
	fo.callbacks.payload = &fc;
	fo.prune = GIT_FETCH_NO_PRUNE;
	fo.update_fetchhead = 0; /* FETCH_HEAD stays empty; removed after the fetch */
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	fo.custom_headers = s->headers;
#ifdef EF_HAVE_GIT_FOLLOW_REDIRECTS
	fo.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
#endif

	ef_source__op_begin(s, &op, s->max_fetch_bytes);
	for (int attempt = 0;; attempt++) {
		unsigned connects_before = op.connects;

		/* Connect first with our own options: libgit2 1.5's
		 * git_remote_download leaks its copy of the headers (the
		 * token) and git_remote_fetch leaks it when it has to connect
		 * by itself; on a connected remote both only swap options. */
		gerr = ef_source__connect_remote(s, &fo.callbacks);
		if (gerr == 0)
			gerr = git_remote_fetch(s->remote, &refspecs, &fo, NULL);
		if (gerr < 0 && !reset && ef_source__cache_broken(&op)) {
			/* Once per fetch, within the same deadline. */
			char why[256];

			snprintf(why, sizeof(why), "%s",
			         git_error_last() ? git_error_last()->message : "unknown error");
			git_remote_disconnect(s->remote);
			git_odb_free(odb);
			odb = NULL;
			reset = true;
			if ((error = ef_source__reset_cache(s, why)) < 0) {
				ef_source__op_end();
				goto out;
			}
			if (git_repository_odb(&odb, s->repo) < 0) {
				ef_error_set("cannot open the object database of %s", s->cache_dir);
				error = EF_ERROR;
				ef_source__op_end();
				goto out;
			}
			continue;
		}
		if (gerr == 0 || attempt > 0 || !ef_source__retriable(&op, connects_before))
			break;
		git_remote_disconnect(s->remote);
	}
	error = gerr < 0 ? ef_source__translate(s, &op, gerr, "fetch") : 0;
	git_remote_disconnect(s->remote);
	ef_source__op_end();
	s->stats.fetches++;
	remove_fetch_head(s);
	if (error < 0)
		goto out;
	git_odb_refresh(odb);
	if (!git_odb_exists(odb, &id)) {
		ef_error_set("fetch %s: commit %s is not on %s any more (the ref moved "
		             "during the fetch); poll again",
		             s->url, want, main ? s->ref_name : refspec + 1);
		error = EF_EAGAIN;
		goto out;
	}
	if ((error = set_local_ref(s, local, &id)) < 0)
		goto out;
	if (main) {
		char **after = list_packs(s);

		for (size_t i = 0; after && after[i]; i++)
			if (!strv_has(packs_before, after[i]))
				ef_strv_push(&s->last_packs, after[i]);
		ef_strv_free(after);
		git_oid_cpy(&s->last_fetch, &id);
	}
	ef_info("source.fetched", "url=%s ref=%s commit=%s bytes=%llu", s->url, local, want,
	        (unsigned long long)op.bytes_read);
out:
	ef_strv_free(packs_before);
	git_odb_free(odb);
	return error;
}

int ef_source_fetch(ef_source *s, const char *want)
{
	return fetch_into(s, s->refspec, LOCAL_REF, want, true);
}

char *const *ef_source_preview_refs(const ef_source *s)
{
	return s->preview_refs;
}

int ef_source_fetch_ref(ef_source *s, const char *ref, const char *local, const char *want)
{
	size_t n = strlen(ref) + strlen(local) + 3;
	char *refspec = malloc(n);
	int error;

	if (!refspec)
		return EF_ENOMEM;
	snprintf(refspec, n, "+%s:%s", ref, local);
	if (!git_reference_is_valid_name(ref) || !git_reference_is_valid_name(local) ||
	    strncmp(local, "refs/edgeflip/", 14) != 0 || strcmp(local, LOCAL_REF) == 0) {
		ef_error_set("fetch %s: '%s' is not a ref edgeflip fetches", s->url, refspec);
		error = EF_EINVALID;
	} else {
		error = fetch_into(s, refspec, local, want, false);
	}
	free(refspec);
	return error;
}

void ef_source_drop_ref(ef_source *s, const char *local)
{
	if (s->repo && strncmp(local, "refs/edgeflip/", 14) == 0 && strcmp(local, LOCAL_REF) != 0)
		git_reference_remove(s->repo, local);
}

int ef_source_discard(ef_source *s, const char *commit)
{
	char dir[4096], path[4200];
	static const char *const exts[] = {".pack", ".idx", ".rev", ".keep", ".promisor"};
	unsigned long long freed = 0;
	size_t npacks = 0;
	git_oid id;
	int error;

	if ((error = ef_source__parse_oid(&id, commit)) < 0)
		return error;
	if (!s->repo || !s->last_packs || !git_oid_equal(&id, &s->last_fetch))
		return 0; /* nothing fetched for it (already there, or already gone) */
	/* The branch ref back to where it was: the next fetch asks for these
	 * objects again rather than counting them as present. */
	if (s->had_ref_before)
		git_reference_create(NULL, s->repo, LOCAL_REF, &s->ref_before, 1, NULL);
	else
		git_reference_remove(s->repo, LOCAL_REF);
	snprintf(dir, sizeof(dir), "%s/objects/pack", git_repository_path(s->repo));
	/* libgit2 keeps packs open: close the repository so that the space of
	 * the unlinked files is given back now, not when the daemon exits. */
	ef_source__drop_transport(s);
	git_remote_free(s->remote);
	s->remote = NULL;
	git_repository_free(s->repo);
	s->repo = NULL;
	for (size_t i = 0; s->last_packs[i]; i++, npacks++) {
		for (size_t e = 0; e < sizeof(exts) / sizeof(exts[0]); e++) {
			struct stat st;

			snprintf(path, sizeof(path), "%s/%s%s", dir, s->last_packs[i], exts[e]);
			if (lstat(path, &st) == 0 && unlink(path) == 0)
				freed += (unsigned long long)st.st_size;
		}
	}
	ef_strv_free(s->last_packs);
	s->last_packs = NULL;
	ef_info("source.discarded", "commit=%s packs=%zu bytes=%llu", commit, npacks, freed);
	if ((error = ef_source__open_cache(&s->repo, s->cache_dir)) < 0)
		return error;
	if (git_remote_create_anonymous(&s->remote, s->repo, s->url) < 0) {
		ef_error_set("url %s: %s", s->url,
		             git_error_last() ? git_error_last()->message : "invalid");
		return EF_ERROR;
	}
	return 0;
}
