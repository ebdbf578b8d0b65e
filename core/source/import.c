/* `edgeflip import FILE`: the objects of a `git bundle` indexed into the
 * cache repository (libgit2 has no bundle support: the header is ours,
 * bundle.c; the pack goes through the object database's pack writer, which
 * resolves a thin pack's bases from the cache). The branch tip is then in
 * the cache as if fetched: the agent verifies and deploys it as any commit. */
#include "bundle.h"
#include "edgeflip/error.h"
#include "edgeflip/log.h"
#include "source_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *git_msg(void)
{
	return git_error_last() ? git_error_last()->message : "unknown error";
}

/* Every prerequisite must be in the cache: the pack is thin against them,
 * and the descent check walks through them. */
static int check_prereqs(git_odb *odb, const ef_bundle *b, const char *file)
{
	for (size_t i = 0; i < b->nprereqs; i++) {
		git_oid id;
		if (git_oid_fromstr(&id, b->prereqs[i].oid) < 0 || !git_odb_exists(odb, &id)) {
			ef_error_set("%s needs commit %s, which this device does not have (the "
			             "bundle lacks history: make it from the device's revision, "
			             "`git bundle create FILE REVISION..BRANCH` with REVISION from "
			             "`edgeflip status`, or with the whole branch)",
			             file, b->prereqs[i].oid);
			return EF_EREJECTED;
		}
	}
	return 0;
}

/* Streams the pack (from the file's current position) into the cache. */
static int write_pack(git_odb *odb, int fd, const char *file, uint64_t max_bytes)
{
	git_odb_writepack *wp = NULL;
	git_indexer_progress stats;
	char chunk[65536];
	uint64_t total = 0;
	ssize_t n;
	int error = EF_EINVALID;

	memset(&stats, 0, sizeof(stats));
	if (git_odb_write_pack(&wp, odb, NULL, NULL) < 0) {
		ef_error_set("cannot write into the cache: %s", git_msg());
		return EF_ERROR;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		total += (uint64_t)n;
		if (max_bytes && total > max_bytes) {
			ef_error_set("%s: the pack is larger than [source] max_fetch_size (%llu "
			             "bytes)",
			             file, (unsigned long long)max_bytes);
			error = EF_ETOOBIG;
			goto out;
		}
		if (wp->append(wp, chunk, (size_t)n, &stats) < 0) {
			ef_error_set("%s: the bundle's pack is damaged: %s", file, git_msg());
			goto out;
		}
	}
	if (n < 0) {
		ef_error_set("cannot read %s: %s", file, strerror(errno));
		error = EF_ERROR;
		goto out;
	}
	if (wp->commit(wp, &stats) < 0) {
		ef_error_set("%s: the bundle's pack is damaged or needs objects this device does "
		             "not have: %s",
		             file, git_msg());
		goto out;
	}
	error = 0;
out:
	wp->free(wp);
	return error;
}

/* The tip's history down to the prerequisites must be complete: a bundle
 * that claims no prerequisite but leaves commits out is refused here, not
 * half-way through the descent check. */
static int check_history(git_repository *repo, const git_oid *tip, const ef_bundle *b,
                         const char *file)
{
	git_revwalk *w = NULL;
	git_oid id;
	int gerr, error = EF_EREJECTED;

	if (git_revwalk_new(&w, repo) < 0 || git_revwalk_push(w, tip) < 0) {
		ef_error_set("%s: the branch tip is not a commit in the bundle: %s", file,
		             git_msg());
		goto out;
	}
	for (size_t i = 0; i < b->nprereqs; i++)
		if (git_oid_fromstr(&id, b->prereqs[i].oid) == 0)
			git_revwalk_hide(w, &id);
	while ((gerr = git_revwalk_next(&id, w)) == 0)
		;
	if (gerr != GIT_ITEROVER) {
		ef_error_set("%s lacks history below its branch tip (%s); make it with the whole "
		             "branch or from the device's revision",
		             file, git_msg());
		goto out;
	}
	error = 0;
out:
	git_revwalk_free(w);
	return error;
}

int ef_source_import(ef_source *s, char out_head[EF_OID_HEX], const char *file)
{
	git_repository *repo = ef_source__repo(s);
	const char *ref_name = ef_source__ref_name(s);
	const ef_bundle_ref *tip;
	git_odb *odb = NULL;
	ef_bundle b;
	ef_buf head = EF_BUF_INIT(EF_BUNDLE_MAX_HEADER + 4);
	struct stat st;
	char chunk[65536];
	git_oid id;
	ssize_t n;
	int fd, error = EF_ERROR;

	out_head[0] = '\0';
	ef_bundle_init(&b);
	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0 ||
	    !S_ISREG(st.st_mode)) {
		ef_error_set("cannot read %s: %s", file,
		             fd < 0 ? strerror(errno) : "not a regular file");
		error = EF_ENOTFOUND;
		goto out;
	}
	/* The header: the first EF_BUNDLE_MAX_HEADER + 4 bytes at most. */
	while (head.len < head.cap &&
	       (n = read(fd, chunk,
	                 head.cap - head.len < sizeof(chunk) ? head.cap - head.len
	                                                     : sizeof(chunk))) > 0)
		if ((error = ef_buf_put(&head, chunk, (size_t)n)) < 0)
			goto out;
	if ((error = ef_bundle_parse(&b, head.ptr ? head.ptr : "", head.len, file)) < 0)
		goto out;
	error = EF_EREJECTED;
	if (!(tip = ef_bundle_find(&b, ref_name))) {
		ef_error_set("%s does not carry %s (the configured branch); make it with `git "
		             "bundle create FILE %s`",
		             file, ref_name, ref_name + strlen("refs/heads/"));
		goto out;
	}
	if (git_repository_odb(&odb, repo) < 0) {
		ef_error_set("cannot open the cache's object database: %s", git_msg());
		error = EF_ERROR;
		goto out;
	}
	if ((error = check_prereqs(odb, &b, file)) < 0)
		goto out;
	git_oid_fromstr(&id, tip->oid);
	if (lseek(fd, (off_t)b.pack_offset, SEEK_SET) < 0) {
		ef_error_set("cannot read %s: %s", file, strerror(errno));
		error = EF_ERROR;
		goto out;
	}
	if (!git_odb_exists(odb, &id) &&
	    (error = write_pack(odb, fd, file, ef_source__max_fetch(s))) < 0)
		goto out;
	git_odb_refresh(odb);
	if ((error = check_history(repo, &id, &b, file)) < 0)
		goto out;
	snprintf(out_head, EF_OID_HEX, "%s", tip->oid);
	ef_info("source.imported", "file=%s version=%d ref=%s commit=%s prerequisites=%zu", file,
	        b.version, ref_name, tip->oid, b.nprereqs);
	error = 0;
out:
	if (fd >= 0)
		close(fd);
	git_odb_free(odb);
	ef_buf_dispose(&head);
	ef_bundle_dispose(&b);
	return error;
}
