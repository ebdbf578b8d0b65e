#define _GNU_SOURCE
#include "edgeflip/sys/fs.h"
#include "edgeflip/error.h"
#include "edgeflip/fault.h"

#include "edgeflip/buf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

static int fsync_dir_of(const char *path)
{
	char copy[PATH_MAX];
	int fd, error = 0;

	snprintf(copy, sizeof(copy), "%s", path);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fsync(fd) < 0)
		error = -1;
	close(fd);
	return error;
}

int ef_fs_write_atomic(const char *path, const void *data, size_t len)
{
	char tmp[PATH_MAX];
	const char *p = data;
	int fd;

	if (ef_fault_errno("fs-write", ENOSPC)) {
		ef_error_set("cannot write %s: %s", path, strerror(ENOSPC));
		return EF_ERROR;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		ef_error_set("path too long: %s", path);
		return EF_EINVALID;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail_close;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0)
		goto fail_close;
	if (close(fd) < 0) {
		fd = -1;
		goto fail_unlink;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail_unlink;
	if (fsync_dir_of(path) < 0)
		goto fail;
	return 0;

fail_close : {
	int saved = errno;
	close(fd);
	errno = saved;
}
fail_unlink : {
	int saved = errno;
	unlink(tmp);
	errno = saved;
}
fail:
	ef_error_set("cannot write %s: %s", path, strerror(errno));
	return EF_ERROR;
}

int ef_fs_mkdir_p(const char *path, unsigned mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf)) {
		ef_error_set("bad directory path '%s'", path);
		return EF_EINVALID;
	}
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			goto fail;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		goto fail;
	return 0;
fail:
	ef_error_set("cannot create directory %s: %s", buf, strerror(errno));
	return EF_ERROR;
}

int ef_fs_set_aside(char *out, size_t n, const char *path)
{
	snprintf(out, n, "%s.corrupt-%lld", path, (long long)time(NULL));
	if (rename(path, out) < 0) {
		ef_error_set("cannot move %s aside: %s", path, strerror(errno));
		return EF_ERROR;
	}
	fsync_dir_of(path);
	return 0;
}

static int remove_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

int ef_fs_remove_tree(const char *path)
{
	if (nftw(path, remove_cb, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT) {
		ef_error_set("cannot remove %s: %s", path, strerror(errno));
		return EF_ERROR;
	}
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ef_fs_list(char ***out, const char *dir)
{
	char **names = NULL;
	struct dirent *ent;
	DIR *d;
	int error = 0;

	*out = NULL;
	if (!(d = opendir(dir))) {
		ef_error_set("cannot list %s: %s", dir, strerror(errno));
		return errno == ENOENT ? EF_ENOTFOUND : EF_ERROR;
	}
	while (error == 0 && (ent = readdir(d)))
		if (strcmp(ent->d_name, ".") != 0 && strcmp(ent->d_name, "..") != 0)
			error = ef_strv_push(&names, ent->d_name);
	closedir(d);
	if (error < 0) {
		ef_strv_free(names);
		return error;
	}
	if (names)
		qsort(names, ef_strv_len(names), sizeof(*names), cmp_name);
	*out = names;
	return 0;
}

static int lock_wait(int fd, const char *path, unsigned wait_ms)
{
	for (unsigned waited = 0;; waited += 100) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK || waited >= wait_ms) {
			ef_error_set("%s is held by another edgeflip process (the daemon is "
			             "mid-pass?); try again",
			             path);
			return EF_EAGAIN;
		}
		usleep(100000);
	}
}

int ef_fs_lock(int *out_fd, const char *path, unsigned wait_ms)
{
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0) {
		ef_error_set("cannot open lock %s: %s", path, strerror(errno));
		return EF_ERROR;
	}
	if (lock_wait(fd, path, wait_ms) < 0) {
		close(fd);
		return EF_EAGAIN;
	}
	*out_fd = fd;
	return 0;
}

int ef_fs_relock(int fd, const char *path, unsigned wait_ms)
{
	struct stat st;
	int error;

	if ((error = lock_wait(fd, path, wait_ms)) < 0)
		return error;
	/* Checked under the lock: once the name leads to another file, a
	 * command that opens it would lock that one, and both would run. */
	if (fstat(fd, &st) == 0 && st.st_nlink > 0)
		return 0;
	flock(fd, LOCK_UN);
	return EF_ENOTFOUND;
}

void ef_fs_lock_drop(int fd)
{
	if (fd >= 0)
		flock(fd, LOCK_UN);
}

void ef_fs_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

int ef_fs_lock_note(int fd, const char *text)
{
	size_t len = strlen(text);
	struct stat st;

	/* An empty note on an empty file: write nothing (a pass that changes
	 * nothing leaves state_dir untouched). */
	if (len == 0 && fstat(fd, &st) == 0 && st.st_size == 0)
		return 0;
	if (ftruncate(fd, 0) < 0 || pwrite(fd, text, len, 0) != (ssize_t)len) {
		ef_error_set("cannot write the lock file: %s", strerror(errno));
		return EF_ERROR;
	}
	return 0;
}

/* The pid /proc/locks lists for a FLOCK on (dev, ino); 0 when the kernel
 * does not list one (or /proc is not mounted). */
static long flock_pid_of(dev_t dev, ino_t ino)
{
	char line[256], want[64];
	FILE *f = fopen("/proc/locks", "re");
	long pid = 0;

	if (!f)
		return 0;
	snprintf(want, sizeof(want), "%02x:%02x:%llu ", major(dev), minor(dev),
	         (unsigned long long)ino);
	while (fgets(line, sizeof(line), f)) {
		long p;
		char kind[16];

		/* "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; waiters
		 * are listed as "1: -> FLOCK ...". */
		if (strstr(line, "->") || !strstr(line, want))
			continue;
		if (sscanf(line, "%*d: %15s %*s %*s %ld", kind, &p) == 2 &&
		    !strcmp(kind, "FLOCK")) {
			pid = p;
			break;
		}
	}
	fclose(f);
	return pid;
}

int ef_fs_lock_holder(char *out, size_t n, long *out_pid, const char *path)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int error = EF_ENOTFOUND;
	struct stat st;
	ssize_t got;

	*out_pid = 0;
	if (n)
		out[0] = '\0';
	if (fd < 0) {
		ef_error_set("%s: %s", path, strerror(errno));
		return EF_ENOTFOUND;
	}
	/* A shared lock is granted only when nobody holds the exclusive one. */
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		ef_error_set("nobody holds %s", path);
		goto out;
	}
	if (errno != EWOULDBLOCK) {
		ef_error_set("cannot test the lock %s: %s", path, strerror(errno));
		error = EF_ERROR;
		goto out;
	}
	got = n ? pread(fd, out, n - 1, 0) : 0;
	if (got < 0)
		got = 0;
	if (n)
		out[got] = '\0';
	if (fstat(fd, &st) == 0)
		*out_pid = flock_pid_of(st.st_dev, st.st_ino);
	error = 0;
out:
	close(fd);
	return error;
}

int ef_fs_private_dir(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		if (errno != ENOENT) {
			ef_error_set("state_dir %s: %s", path, strerror(errno));
			return EF_ERROR;
		}
		if (ef_fs_mkdir_p(path, 0700) < 0)
			return EF_ERROR;
		if (lstat(path, &st) < 0) {
			ef_error_set("state_dir %s: %s", path, strerror(errno));
			return EF_ERROR;
		}
	}
	if (S_ISLNK(st.st_mode)) {
		ef_error_set(
		        "state_dir %s is a symbolic link; refusing to follow it. Point [agent] "
		        "state_dir at the real directory",
		        path);
		return EF_EINVALID;
	}
	if (!S_ISDIR(st.st_mode)) {
		ef_error_set("state_dir %s is not a directory; remove it or fix [agent] state_dir",
		             path);
		return EF_EINVALID;
	}
	if (st.st_uid != geteuid()) {
		ef_error_set("state_dir %s is owned by uid %lu, not by this user (uid %lu); "
		             "chown it to the user edgeflip runs as",
		             path, (unsigned long)st.st_uid, (unsigned long)geteuid());
		return EF_EINVALID;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		ef_error_set("state_dir %s is writable by %s (mode %04o); run chmod 700 %s", path,
		             st.st_mode & S_IWOTH ? "everyone" : "its group",
		             (unsigned)(st.st_mode & 07777), path);
		return EF_EINVALID;
	}
	return 0;
}

int ef_fs_in_memory(const char *path)
{
	/* linux/magic.h: TMPFS_MAGIC, RAMFS_MAGIC */
	const unsigned long tmpfs = 0x01021994ul, ramfs = 0x858458f6ul;
	struct statfs st;

	if (statfs(path, &st) < 0) {
		ef_error_set("%s: %s", path, strerror(errno));
		return EF_ERROR;
	}
	return (unsigned long)st.f_type == tmpfs || (unsigned long)st.f_type == ramfs;
}

int ef_fs_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

int ef_fs_stamp_of(ef_fs_stamp *out, const char *path)
{
	struct stat st;

	memset(out, 0, sizeof(*out));
	if (stat(path, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		ef_error_set("cannot stat %s: %s", path, strerror(errno));
		return EF_ERROR;
	}
	out->v[0] = (uint64_t)st.st_dev;
	out->v[1] = (uint64_t)st.st_ino;
	out->v[2] = (uint64_t)st.st_size;
	out->v[3] = (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec;
	out->v[4] = (uint64_t)st.st_ctim.tv_sec * 1000000000u + (uint64_t)st.st_ctim.tv_nsec;
	out->changed_s =
	        st.st_mtim.tv_sec > st.st_ctim.tv_sec ? st.st_mtim.tv_sec : st.st_ctim.tv_sec;
	return 0;
}

int ef_fs_rename(const char *from, const char *to)
{
	char dir[PATH_MAX];
	char *slash;
	int fd;

	if (rename(from, to) < 0) {
		ef_error_set("cannot rename %s to %s: %s", from, to, strerror(errno));
		return EF_ERROR;
	}
	snprintf(dir, sizeof(dir), "%s", to);
	if ((slash = strrchr(dir, '/')) && slash != dir) {
		*slash = '\0';
		if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
			fsync(fd);
			close(fd);
		}
	}
	return 0;
}

int ef_fs_set_mode(const char *path, unsigned mode, long uid, long gid)
{
	if (chmod(path, (mode_t)mode) < 0) {
		ef_error_set("cannot set mode %o on %s: %s", mode, path, strerror(errno));
		return EF_ERROR;
	}
	if ((uid >= 0 || gid >= 0) &&
	    chown(path, uid >= 0 ? (uid_t)uid : (uid_t)-1, gid >= 0 ? (gid_t)gid : (gid_t)-1) < 0) {
		ef_error_set("cannot set owner %ld:%ld on %s: %s", uid, gid, path, strerror(errno));
		return EF_ERROR;
	}
	return 0;
}
