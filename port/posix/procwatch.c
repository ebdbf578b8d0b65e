/* pidfd watches of containers' main processes: include/edgeflip/sys/procwatch.h. */
#include "edgeflip/sys/procwatch.h"
#include "edgeflip/error.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

/* The same number on every architecture (the unified syscall table of 5.3);
 * older C libraries' headers lack the name. */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

int ef_proc_cgroup_names(const char *text, const char *id)
{
	size_t n = strlen(id);
	const char *p = text;

	if (n < 12)
		return 0;
	while ((p = strstr(p, id)) != NULL) {
		bool before = p == text || !isxdigit((unsigned char)p[-1]);
		bool after = !isxdigit((unsigned char)p[n]);
		if (before && after)
			return 1;
		p++;
	}
	return 0;
}

static int cgroup_of(char *out, size_t size, long pid)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/cgroup", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? EF_ENOTFOUND : EF_EUNREACHABLE;
	n = read(fd, out, size - 1);
	close(fd);
	if (n < 0)
		return errno == ESRCH ? EF_ENOTFOUND : EF_EUNREACHABLE;
	out[n] = '\0';
	return 0;
}

int ef_proc_watch_open(int *fd, long pid, const char *id)
{
	char cg[4096];
	long r;
	int error;

	*fd = -1;
	if (pid <= 1) {
		ef_error_set("container %.12s has no running process (pid %ld)", id, pid);
		return EF_ENOTFOUND;
	}
	/* Open first, then check: if the pid was reused in between, the check
	 * sees the newcomer, which is not in the container's cgroup. */
	r = syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (r < 0) {
		if (errno == ESRCH) {
			ef_error_set("container %.12s: process %ld has exited", id, pid);
			return EF_ENOTFOUND;
		}
		ef_error_set("pidfd_open: %s (Linux 5.3 or later is needed to watch "
		             "processes)",
		             strerror(errno));
		return EF_EUNREACHABLE;
	}
	if ((error = cgroup_of(cg, sizeof(cg), pid)) < 0) {
		close((int)r);
		ef_error_set("container %.12s: cannot read /proc/%ld/cgroup", id, pid);
		return error;
	}
	if (!ef_proc_cgroup_names(cg, id)) {
		close((int)r);
		ef_error_set("process %ld is not container %.12s's as seen from here (its "
		             "cgroup does not name the container: the engine runs in another "
		             "PID or cgroup namespace)",
		             pid, id);
		return EF_EUNREACHABLE;
	}
	(void)fcntl((int)r, F_SETFD, FD_CLOEXEC);
	*fd = (int)r;
	return 0;
}

int ef_proc_watch_exited(int fd)
{
	struct pollfd p = {fd, POLLIN, 0};

	return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

void ef_proc_watch_close(int fd)
{
	if (fd >= 0)
		close(fd);
}
