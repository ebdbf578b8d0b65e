/* A directory of a commit's tree, read from the object database: the agent
 * reads the environment directory's compose files, overrides and .env
 * through it (as the compose reader's file source), never from a checkout. */
#include "edgeflip/error.h"
#include "source_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ef_source_tree {
	git_repository *repo;
	git_tree *root; /* the environment directory */
	char name[512]; /* "DIR@COMMIT12" */
};
typedef struct ef_source_tree tree_ctx;

static const char *git_msg(void)
{
	return git_error_last() ? git_error_last()->message : "unknown error";
}

int ef_source_tree_read(ef_source_tree *t, ef_buf *out, const char *rel, size_t cap)
{
	git_tree_entry *entry = NULL;
	git_blob *blob = NULL;
	git_object_size_t size;
	int error = EF_EINVALID;

	ef_buf_init(out, cap);
	if (git_tree_entry_bypath(&entry, t->root, rel) < 0) {
		ef_error_set("%s has no file %s", t->name, rel);
		return EF_ENOTFOUND;
	}
	if (git_tree_entry_type(entry) != GIT_OBJECT_BLOB) {
		ef_error_set("%s in %s is not a file", rel, t->name);
		goto out;
	}
	if (git_tree_entry_filemode(entry) == GIT_FILEMODE_LINK) {
		ef_error_set("%s in %s is a symbolic link; symbolic links are not followed", rel,
		             t->name);
		goto out;
	}
	if (git_blob_lookup(&blob, t->repo, git_tree_entry_id(entry)) < 0) {
		ef_error_set("cannot read %s in %s: %s", rel, t->name, git_msg());
		error = EF_ERROR;
		goto out;
	}
	size = git_blob_rawsize(blob);
	if (size > cap) {
		ef_error_set("%s in %s is larger than the limit of %zu bytes", rel, t->name, cap);
		error = EF_ETOOBIG;
		goto out;
	}
	if ((error = ef_buf_put(out, git_blob_rawcontent(blob), (size_t)size)) == 0)
		error = ef_buf_puts(out, "");
out:
	git_blob_free(blob);
	git_tree_entry_free(entry);
	return error;
}

int ef_source_tree_stat(ef_source_tree *t, ef_source_kind *out, const char *rel)
{
	git_tree_entry *entry = NULL;

	*out = EF_TREE_ABSENT;
	if (git_tree_entry_bypath(&entry, t->root, rel) < 0)
		return 0;
	*out = git_tree_entry_type(entry) == GIT_OBJECT_TREE ? EF_TREE_DIR : EF_TREE_FILE;
	git_tree_entry_free(entry);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ef_source_tree_list(ef_source_tree *t, char ***out, const char *rel)
{
	git_tree_entry *entry = NULL;
	git_tree *sub = NULL;
	const git_tree *dir = t->root;
	int error = 0;

	*out = NULL;
	if (*rel) {
		if (git_tree_entry_bypath(&entry, t->root, rel) < 0 ||
		    git_tree_entry_type(entry) != GIT_OBJECT_TREE ||
		    git_tree_lookup(&sub, t->repo, git_tree_entry_id(entry)) < 0) {
			git_tree_entry_free(entry);
			ef_error_set("%s has no directory %s", t->name, rel);
			return EF_ENOTFOUND;
		}
		git_tree_entry_free(entry);
		dir = sub;
	}
	if (!(*out = calloc(1, sizeof(**out))))
		error = EF_ENOMEM;
	for (size_t i = 0; error == 0 && i < git_tree_entrycount(dir); i++)
		error = ef_strv_push(out, git_tree_entry_name(git_tree_entry_byindex(dir, i)));
	git_tree_free(sub);
	if (error < 0) {
		ef_strv_free(*out);
		*out = NULL;
		ef_error_set("out of memory");
		return error;
	}
	qsort(*out, ef_strv_len(*out), sizeof(**out), cmp);
	return 0;
}

const char *ef_source_tree_name(const ef_source_tree *t)
{
	return t->name;
}

int ef_source_tree_open(ef_source_tree **out, ef_source *s, const char *commit, const char *dir)
{
	tree_ctx *t = calloc(1, sizeof(*t));
	git_commit *c = NULL;
	git_tree *top = NULL;
	git_tree_entry *entry = NULL;
	git_oid id;
	int error = EF_ERROR;

	*out = NULL;
	if (!t) {
		ef_error_set("out of memory");
		return EF_ENOMEM;
	}
	t->repo = ef_source__repo(s);
	snprintf(t->name, sizeof(t->name), "%s@%.12s", dir && *dir ? dir : ".", commit);
	if (git_oid_fromstr(&id, commit) < 0 || git_commit_lookup(&c, t->repo, &id) < 0) {
		ef_error_set("commit %s is not in the cache (fetch it first)", commit);
		error = EF_ENOTFOUND;
		goto out;
	}
	if (git_commit_tree(&top, c) < 0) {
		ef_error_set("cannot read the tree of commit %s: %s", commit, git_msg());
		goto out;
	}
	if (!dir || !*dir || !strcmp(dir, ".")) {
		t->root = top;
		top = NULL;
	} else if (git_tree_entry_bypath(&entry, top, dir) < 0 ||
	           git_tree_entry_type(entry) != GIT_OBJECT_TREE ||
	           git_tree_lookup(&t->root, t->repo, git_tree_entry_id(entry)) < 0) {
		ef_error_set("commit %.12s has no directory %s (check [source] path)", commit, dir);
		error = EF_ENOTFOUND;
		goto out;
	}
	*out = t;
	t = NULL;
	error = 0;
out:
	git_tree_entry_free(entry);
	git_tree_free(top);
	git_commit_free(c);
	free(t);
	return error;
}

void ef_source_tree_free(ef_source_tree *t)
{
	if (!t)
		return;
	git_tree_free(t->root);
	free(t);
}
