/* Reads from the Git source's cache: revisions, raw commits (capped before
 * anything is inflated), files of a commit's tree, ancestry and commit
 * times. Nothing here touches the network. */
#include "source_internal.h"
#include "edgeflip/error.h"

#include <git2.h>

#include <string.h>

static int lookup_commit(git_commit **out, ef_source *s, const char *commit)
{
	git_oid id;
	int error;

	if ((error = ef_source__parse_oid(&id, commit)) < 0)
		return error;
	if (git_commit_lookup(out, s->repo, &id) < 0) {
		ef_error_set("commit %s is not in the cache %s (fetch it first)", commit,
		             s->cache_dir);
		return EF_ENOTFOUND;
	}
	return 0;
}

int ef_source_resolve(ef_source *s, char out[EF_OID_HEX], const char *rev)
{
	git_object *obj = NULL, *peeled = NULL;
	const char *spec = rev;
	int error = EF_ENOTFOUND;

	/* The branch lives in the cache as refs/edgeflip/head (HEAD points to it). */
	if (strcmp(rev, s->branch) == 0 || strcmp(rev, s->ref_name) == 0)
		spec = LOCAL_REF;
	if (git_revparse_single(&obj, s->repo, spec) < 0) {
		ef_error_set("revision '%s' is not in the cache %s", rev, s->cache_dir);
		goto out;
	}
	if (git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) < 0) {
		ef_error_set("revision '%s' does not name a commit", rev);
		error = EF_EINVALID;
		goto out;
	}
	git_oid_tostr(out, EF_OID_HEX, git_object_id(peeled));
	error = 0;
out:
	git_object_free(peeled);
	git_object_free(obj);
	return error;
}

int ef_source_read_commit(ef_source *s, ef_buf *out, const char *commit, size_t cap)
{
	git_odb *odb = NULL;
	git_odb_object *obj = NULL;
	git_object_t type = GIT_OBJECT_INVALID;
	size_t size = 0;
	git_oid id;
	int error;

	ef_buf_init(out, cap);
	if ((error = ef_source__parse_oid(&id, commit)) < 0)
		return error;
	error = EF_ENOTFOUND;
	if (git_repository_odb(&odb, s->repo) < 0 ||
	    git_odb_read_header(&size, &type, odb, &id) < 0) {
		ef_error_set("commit %s is not in the cache %s (fetch it first)", commit,
		             s->cache_dir);
		goto out;
	}
	/* From the object's header, before anything is inflated: an unsigned
	 * "commit" of 500 MB costs no memory. */
	if (type != GIT_OBJECT_COMMIT) {
		ef_error_set("object %s is a %s, not a commit", commit,
		             git_object_type2string(type));
		error = EF_EINVALID;
		goto out;
	}
	if (size > cap) {
		ef_error_set("commit %s is larger than the limit of %zu bytes", commit, cap);
		error = EF_ETOOBIG;
		goto out;
	}
	if (git_odb_read(&obj, odb, &id) < 0) {
		ef_error_set("commit %s is not in the cache %s (fetch it first)", commit,
		             s->cache_dir);
		goto out;
	}
	error = EF_EINVALID;
	if (git_odb_object_type(obj) != GIT_OBJECT_COMMIT) {
		ef_error_set("object %s is a %s, not a commit", commit,
		             git_object_type2string(git_odb_object_type(obj)));
		goto out;
	}
	if (git_odb_object_size(obj) > cap) {
		ef_error_set("commit %s is larger than the limit of %zu bytes", commit, cap);
		error = EF_ETOOBIG;
		goto out;
	}
	error = ef_buf_put(out, git_odb_object_data(obj), git_odb_object_size(obj));
out:
	git_odb_object_free(obj);
	git_odb_free(odb);
	return error;
}

int ef_source_read_file(ef_source *s, ef_buf *out, const char *commit, const char *path, size_t cap)
{
	git_commit *c = NULL;
	git_tree *tree = NULL;
	git_tree_entry *entry = NULL;
	git_blob *blob = NULL;
	git_object_size_t size;
	int error;

	ef_buf_init(out, cap);
	if ((error = lookup_commit(&c, s, commit)) < 0)
		return error;
	error = EF_ERROR;
	if (git_commit_tree(&tree, c) < 0) {
		ef_error_set("cannot read the tree of commit %s: %s", commit,
		             git_error_last() ? git_error_last()->message : "unknown error");
		goto out;
	}
	if (git_tree_entry_bypath(&entry, tree, path) < 0) {
		ef_error_set("commit %s has no file %s", commit, path);
		error = EF_ENOTFOUND;
		goto out;
	}
	error = EF_EINVALID;
	if (git_tree_entry_type(entry) != GIT_OBJECT_BLOB) {
		ef_error_set("%s in commit %s is a %s, not a file", path, commit,
		             git_object_type2string(git_tree_entry_type(entry)));
		goto out;
	}
	if (git_tree_entry_filemode(entry) == GIT_FILEMODE_LINK) {
		ef_error_set("%s in commit %s is a symbolic link; links are not followed", path,
		             commit);
		goto out;
	}
	if (git_blob_lookup(&blob, s->repo, git_tree_entry_id(entry)) < 0) {
		ef_error_set("cannot read %s in commit %s: %s", path, commit,
		             git_error_last() ? git_error_last()->message : "unknown error");
		error = EF_ERROR;
		goto out;
	}
	size = git_blob_rawsize(blob);
	if (size > cap) {
		ef_error_set("%s in commit %s is larger than the limit of %zu bytes", path, commit,
		             cap);
		error = EF_ETOOBIG;
		goto out;
	}
	error = ef_buf_put(out, git_blob_rawcontent(blob), (size_t)size);
out:
	git_blob_free(blob);
	git_tree_entry_free(entry);
	git_tree_free(tree);
	git_commit_free(c);
	return error;
}

int ef_source_descends(ef_source *s, bool *out, const char *commit, const char *ancestor)
{
	git_commit *a = NULL, *b = NULL;
	int error, rc;

	*out = false;
	if ((error = lookup_commit(&a, s, commit)) < 0 ||
	    (error = lookup_commit(&b, s, ancestor)) < 0)
		goto out;
	if (git_oid_equal(git_commit_id(a), git_commit_id(b))) {
		*out = true;
		goto out;
	}
	rc = git_graph_descendant_of(s->repo, git_commit_id(a), git_commit_id(b));
	if (rc < 0) {
		ef_error_set("cannot walk the history from %s to %s: %s", commit, ancestor,
		             git_error_last() ? git_error_last()->message : "unknown error");
		error = EF_ERROR;
		goto out;
	}
	*out = rc == 1;
out:
	git_commit_free(a);
	git_commit_free(b);
	return error;
}

int ef_source_commit_time(ef_source *s, int64_t *out, const char *commit)
{
	git_commit *c = NULL;
	int error;

	*out = 0;
	if ((error = lookup_commit(&c, s, commit)) < 0)
		return error;
	*out = (int64_t)git_commit_committer(c)->when.time;
	git_commit_free(c);
	return 0;
}
