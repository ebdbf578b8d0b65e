/* Which process acts on a state_dir: the daemon lock and the pass lock.
 *
 * STATE_DIR/agent.lock is held (flock) by `run` for its whole life and by
 * `once` and a local `rollback` while they work. Its holder writes its pid
 * into it when it is the daemon, nothing otherwise. `kick` and `rollback`
 * find the daemon through the lock itself: a lock nobody holds means no
 * daemon runs, whatever pid the file still names, so a stale pid is never
 * signalled.
 *
 * STATE_DIR/pass.lock is held during a pass (recovery, reconcile, rollback)
 * and by `plan`, `verify` and `retry`, so that none of them reads the cache
 * or the journal while a pass changes them. The daemon keeps it open between
 * passes and only drops and takes the lock (cli_hold_pass_lock). */
#include "cli.h"
#include "edgeflip/error.h"
#include "edgeflip/log.h"
#include "edgeflip/sys/fs.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static int state_path(char *out, size_t n, const ef_config *cfg, const char *name)
{
	if ((size_t)snprintf(out, n, "%s/%s", cfg->state_dir, name) >= n) {
		ef_error_set("state_dir path too long: %s", cfg->state_dir);
		return EF_EINVALID;
	}
	return 0;
}

int cli_take_lock(int *fd, const ef_config *cfg, bool daemon)
{
	char path[4200], note[32] = "";
	int error;

	*fd = -1;
	if ((error = ef_fs_private_dir(cfg->state_dir)) < 0)
		return error;
	if ((error = state_path(path, sizeof(path), cfg, "agent.lock")) < 0)
		return error;
	/* A moment's wait: `kick` tests the lock with a brief shared lock. */
	if ((error = ef_fs_lock(fd, path, 500)) < 0) {
		long pid = 0;

		if (cli_find_daemon(&pid, cfg) == 0)
			ef_error_set(
			        "an edgeflip daemon (pid %ld) already runs on %s (it holds %s); "
			        "stop it first, or use `edgeflip kick`",
			        pid, cfg->state_dir, path);
		else
			ef_error_set("another edgeflip command holds %s; wait for it to finish "
			             "and try again",
			             path);
		return EF_EAGAIN;
	}
	if (daemon)
		snprintf(note, sizeof(note), "%ld\n", (long)getpid());
	if ((error = ef_fs_lock_note(*fd, note)) < 0) {
		ef_fs_unlock(*fd);
		*fd = -1;
	}
	return error;
}

void cli_release_lock(int fd)
{
	if (fd < 0)
		return;
	ef_fs_lock_note(fd, ""); /* a pid left behind would only mislead a reader */
	ef_fs_unlock(fd);
}

int cli_take_pass_lock(int *fd, const ef_config *cfg, unsigned wait_ms)
{
	char path[4200];
	int error;

	*fd = -1;
	if ((error = ef_fs_private_dir(cfg->state_dir)) < 0)
		return error;
	if ((error = state_path(path, sizeof(path), cfg, "pass.lock")) < 0)
		return error;
	if (ef_fs_lock(fd, path, 0) == 0)
		return 0;
	if (wait_ms)
		fprintf(stderr, "edgeflip: waiting for the pass under way to finish (%s)\n", path);
	if ((error = ef_fs_lock(fd, path, wait_ms)) < 0)
		ef_error_set("a pass of the daemon still holds %s after %u s; try again later",
		             path, wait_ms / 1000);
	return error;
}

int cli_hold_pass_lock(int *fd, const ef_config *cfg)
{
	if (*fd >= 0) {
		int error = ef_fs_relock(*fd, "pass.lock", UINT_MAX);

		if (error == 0)
			return 0;
		/* Removed or replaced (or a descriptor gone bad): open it anew. */
		ef_info("pass-lock-reopened", "error=\"%s\"",
		        error == EF_ENOTFOUND ? "STATE_DIR/pass.lock was removed or replaced"
		                              : ef_error_last());
		ef_fs_unlock(*fd);
		*fd = -1;
	}
	return cli_take_pass_lock(fd, cfg, UINT_MAX);
}

int cli_find_daemon(long *out_pid, const ef_config *cfg)
{
	char path[4200], note[32];
	long listed = 0, pid;
	char *end;
	int error;

	*out_pid = 0;
	if ((error = state_path(path, sizeof(path), cfg, "agent.lock")) < 0)
		return error;
	if (ef_fs_lock_holder(note, sizeof(note), &listed, path) < 0) {
		ef_error_set("no edgeflip daemon runs on %s (nobody holds %s); start it with "
		             "`edgeflip run` (or systemctl start edgeflip)",
		             cfg->state_dir, path);
		return EF_ENOTFOUND;
	}
	errno = 0;
	pid = strtol(note, &end, 10);
	if (errno || end == note || pid <= 1) {
		ef_error_set("%s is held by an edgeflip command that is not the daemon (once, "
		             "rollback); try again when it has finished",
		             path);
		return EF_ENOTFOUND;
	}
	/* The kernel's word beats the file's: a holder that has not yet
	 * rewritten the note must not make us signal a pid from before. */
	if (listed && listed != pid) {
		ef_error_set("%s names pid %ld but pid %ld holds it; not signalling; try again",
		             path, pid, listed);
		return EF_ENOTFOUND;
	}
	*out_pid = pid;
	return 0;
}

int cli_signal_daemon(const ef_config *cfg, int sig)
{
	long pid;
	int error;

	if ((error = cli_find_daemon(&pid, cfg)) < 0)
		return error;
	if (kill((pid_t)pid, sig) < 0) {
		ef_error_set("cannot signal the daemon (pid %ld): %s", pid, strerror(errno));
		return EF_ERROR;
	}
	return 0;
}
