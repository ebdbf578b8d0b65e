/* Files, as the platform provides them (port/posix/fs.c). */
#ifndef EDGEFLIP_SYS_FS_H
#define EDGEFLIP_SYS_FS_H

#include <stddef.h>
#include <stdint.h>

/* Replaces `path` with `data` so that after a crash at any instant the file
 * holds either the old or the new contents: write PATH.tmp, fsync, rename,
 * fsync the directory. */
int ef_fs_write_atomic(const char *path, const void *data, size_t len);
/* Creates a directory and its parents (mode 0700 for the last one). */
int ef_fs_mkdir_p(const char *path, unsigned mode);
/* Moves `path` aside to PATH.corrupt-<unix time> and returns the new name in
 * `out` (size `n`). */
int ef_fs_set_aside(char *out, size_t n, const char *path);
/* Removes a directory tree. */
int ef_fs_remove_tree(const char *path);
/* The names in directory `dir` (not "." and ".."), sorted; a NULL-terminated
 * vector (ef_strv_free), NULL when empty. EF_ENOTFOUND when `dir` is missing. */
int ef_fs_list(char ***out, const char *dir);
/* Whether `path` is on a file system held in memory (tmpfs, ramfs): 1 yes,
 * 0 no, negative when it cannot be told (the last error says why). */
int ef_fs_in_memory(const char *path);
/* Whether `path` exists (any kind). */
int ef_fs_exists(const char *path);
/* What a write or a replacement of a file changes, as stat(2) tells it
 * (following links): device, inode, size, modification and change times in
 * nanoseconds; all zero for a file that does not exist. Equal stamps mean
 * the file was not touched, as far as the file system can tell: not when
 * two writes fall in one tick of its clock, so a stamp taken less than a
 * few seconds after `changed_s` (wall clock, seconds) is not to be trusted. */
typedef struct ef_fs_stamp {
	uint64_t v[5];
	int64_t changed_s;
} ef_fs_stamp;
int ef_fs_stamp_of(ef_fs_stamp *out, const char *path);
/* rename(2), then fsync of the target's directory. */
int ef_fs_rename(const char *from, const char *to);
/* Permission bits, and the owner when uid/gid are not negative. */
int ef_fs_set_mode(const char *path, unsigned mode, long uid, long gid);

/* Takes an exclusive lock on `path` (created if missing), waiting up to
 * `wait_ms`. *out_fd keeps it; ef_fs_unlock releases. EF_EAGAIN when busy. */
int ef_fs_lock(int *out_fd, const char *path, unsigned wait_ms);
void ef_fs_unlock(int fd);
/* A lock held for a while, dropped and taken again on the descriptor kept
 * open (the daemon's pass lock: no path walk, open and close per pass).
 * ef_fs_relock takes it again on `fd` from ef_fs_lock; EF_ENOTFOUND when the
 * file was removed or replaced since (then nobody else locks that one:
 * ef_fs_unlock it and ef_fs_lock `path` again). `path` only names it in
 * errors. ef_fs_lock_drop releases the lock and keeps the descriptor. */
int ef_fs_relock(int fd, const char *path, unsigned wait_ms);
void ef_fs_lock_drop(int fd);

/* Replaces the contents of the held lock file `fd` with `text` (the daemon's
 * pid; "" for other holders). */
int ef_fs_lock_note(int fd, const char *text);
/* Who holds the lock on `path`: 0 and the holder's note (up to n - 1 bytes)
 * in `out` when some process holds it, EF_ENOTFOUND when the file is missing
 * or nobody holds it. `*out_pid` is the pid the kernel lists as holding the
 * lock (/proc/locks), or 0 where the kernel does not say. */
int ef_fs_lock_holder(char *out, size_t n, long *out_pid, const char *path);

/* Makes sure `path` is a directory only this user can change: created with
 * mode 0700 when missing; refused (EF_EINVALID, naming the path and the fix)
 * when it is a symlink, not a directory, owned by another user, or writable
 * by group or others. */
int ef_fs_private_dir(const char *path);

#endif
