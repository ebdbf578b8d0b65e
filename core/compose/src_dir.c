/* An environment directory on disk as an ef_compose_src (lint, config):
 * every path component opened with O_NOFOLLOW below the directory, so that
 * neither a symbolic link nor ".." reaches outside it. */
#include "edgeflip/compose_read.h"
#include "edgeflip/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool bad_rel(const char *rel)
{
	const char *p = rel;

	if (rel[0] == '/')
		return true;
	while (*p) {
		size_t n = strcspn(p, "/");
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return true;
		p += n;
		if (*p == '/')
			p++;
	}
	return false;
}

/* Opens the directory holding `rel`'s last component; `*last` points into rel. */
static int open_parent(int *out, const char *dir, const char *rel, const char **last)
{
	char part[256];
	const char *p = rel, *slash;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		ef_error_set("cannot open directory %s: %s", dir, strerror(errno));
		return errno == ENOENT ? EF_ENOTFOUND : EF_ERROR;
	}
	while ((slash = strchr(p, '/'))) {
		int next;
		if ((size_t)(slash - p) >= sizeof(part)) {
			close(fd);
			ef_error_set("%s/%s: a path component is too long", dir, rel);
			return EF_EINVALID;
		}
		memcpy(part, p, (size_t)(slash - p));
		part[slash - p] = '\0';
		next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		if (next < 0) {
			int e = errno;
			ef_error_set("cannot open %s/%s: %s%s", dir, rel, strerror(e),
			             e == ELOOP || e == ENOTDIR
			                     ? " (symbolic links are not followed)"
			                     : "");
			return e == ENOENT ? EF_ENOTFOUND : EF_EINVALID;
		}
		fd = next;
		p = slash + 1;
	}
	*last = p;
	*out = fd;
	return 0;
}

static int dir_read(void *ctx, ef_buf *out, const char *rel, size_t cap)
{
	const char *dir = ctx, *last;
	char chunk[65536];
	struct stat st;
	int dfd, fd, error;
	ssize_t n;

	ef_buf_init(out, cap);
	if (bad_rel(rel)) {
		ef_error_set("%s: the path leaves the environment directory", rel);
		return EF_EINVALID;
	}
	if ((error = open_parent(&dfd, dir, rel, &last)) < 0)
		return error;
	fd = openat(dfd, last, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	close(dfd);
	if (fd < 0) {
		int e = errno;
		ef_error_set("cannot open %s/%s: %s%s", dir, rel, strerror(e),
		             e == ELOOP ? " (symbolic links are not followed)" : "");
		return e == ENOENT ? EF_ENOTFOUND : EF_EINVALID;
	}
	error = EF_EINVALID;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		ef_error_set("%s/%s is not a regular file", dir, rel);
		goto out;
	}
	/* off_t has 64 bits, size_t 32 on armv7: compare as 64 bits (a 4 GiB + 1
	 * byte file must not pass as 1 byte). st_size >= 0 for a regular file. */
	if ((uint64_t)st.st_size > (uint64_t)cap) {
		ef_error_set("%s/%s is larger than the limit of %zu bytes", dir, rel, cap);
		error = EF_ETOOBIG;
		goto out;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if ((error = ef_buf_put(out, chunk, (size_t)n)) < 0) {
			if (error == EF_ETOOBIG)
				ef_error_set("%s/%s is larger than the limit of %zu bytes", dir,
				             rel, cap);
			goto out;
		}
	}
	if (n < 0) {
		ef_error_set("cannot read %s/%s: %s", dir, rel, strerror(errno));
		error = EF_ERROR;
		goto out;
	}
	error = ef_buf_puts(out, "");
out:
	if (error < 0)
		ef_buf_dispose(out);
	close(fd);
	return error;
}

static int dir_stat(void *ctx, ef_compose_kind *out, const char *rel)
{
	const char *dir = ctx, *last;
	struct stat st;
	int dfd, error;

	*out = EF_COMPOSE_ABSENT;
	if (bad_rel(rel)) {
		ef_error_set("%s: the path leaves the environment directory", rel);
		return EF_EINVALID;
	}
	if ((error = open_parent(&dfd, dir, rel, &last)) < 0)
		return error == EF_ENOTFOUND ? 0 : error;
	if (fstatat(dfd, last, &st, AT_SYMLINK_NOFOLLOW) == 0)
		/* A link counts as a file: reading it is then refused, by name. */
		*out = S_ISDIR(st.st_mode) ? EF_COMPOSE_DIR : EF_COMPOSE_FILE;
	close(dfd);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int dir_list(void *ctx, char ***out, const char *rel)
{
	const char *dir = ctx, *last;
	struct dirent *de;
	DIR *d;
	int dfd, fd, error = 0;

	*out = NULL;
	if (*rel && bad_rel(rel)) {
		ef_error_set("%s: the path leaves the environment directory", rel);
		return EF_EINVALID;
	}
	if (*rel) {
		if ((error = open_parent(&dfd, dir, rel, &last)) < 0)
			return error;
		fd = openat(dfd, last, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(dfd);
	} else {
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0 || !(d = fdopendir(fd))) {
		ef_error_set("cannot list %s/%s: %s", dir, rel, strerror(errno));
		if (fd >= 0)
			close(fd);
		return EF_ENOTFOUND;
	}
	while (error == 0 && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			error = ef_strv_push(out, de->d_name);
	closedir(d);
	if (error == 0 && !*out && !(*out = calloc(1, sizeof(**out))))
		error = EF_ENOMEM;
	if (error < 0) {
		ef_strv_free(*out);
		*out = NULL;
		return error;
	}
	qsort(*out, ef_strv_len(*out), sizeof(**out), cmp);
	return 0;
}

void ef_compose_src_dir(ef_compose_src *out, const char *dir)
{
	memset(out, 0, sizeof(*out));
	out->read = dir_read;
	out->stat = dir_stat;
	out->list = dir_list;
	out->ctx = (void *)dir;
	out->name = dir;
}
