/* The process watch's checks: which /proc/PID/cgroup texts name a container
 * (as Podman, Docker and balena-engine write them, cgroup v1 and v2), and
 * what ef_proc_watch_open() says about processes it must not watch. */
#include "edgeflip/error.h"
#include "edgeflip/sys/procwatch.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define ID "3f4e1c2d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d"

static void test_cgroup_names(void **state)
{
	static const struct {
		const char *text;
		int want;
	} t[] = {
	        /* Podman, systemd cgroup manager, cgroup v2 */
	        {"0::/machine.slice/libpod-" ID ".scope/container\n", 1},
	        /* Podman, cgroupfs manager */
	        {"0::/libpod_parent/libpod-" ID "\n", 1},
	        /* Docker, systemd driver, v2 */
	        {"0::/system.slice/docker-" ID ".scope\n", 1},
	        /* Docker or balena-engine, cgroup v1: many lines */
	        {"12:pids:/docker/" ID "\n11:memory:/docker/" ID "\n0::/\n", 1},
	        {"0::/balena/" ID "\n", 1},
	        /* not the container: another id, the host, a longer hex run */
	        {"0::/system.slice/docker-" ID "0.scope\n", 0},
	        {"0::/system.slice/docker-a" ID ".scope\n", 0},
	        {"0::/user.slice/user-0.slice/session-1.scope\n", 0},
	        {"0::/\n", 0},
	        {"", 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (ef_proc_cgroup_names(t[i].text, ID) != t[i].want)
			fail_msg("case %zu: %s", i, t[i].text);
	}
	/* the id must be given whole: a short id could match by chance */
	assert_int_equal(ef_proc_cgroup_names("0::/docker/3f4e1c2d9a8b\n", "3f4e1c2d9a8"), 0);
	/* a second occurrence counts when the first is part of a longer run */
	assert_int_equal(ef_proc_cgroup_names("0::/x/a" ID " /docker/" ID "\n", ID), 1);
}

/* Processes that are not the container's are never watched, and say why. */
static void test_watch_refuses(void **state)
{
	pid_t child;
	int fd = 7, status;

	(void)state;
	fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (fd < 0 && errno == ENOSYS)
		skip(); /* a kernel before 5.3: the daemon falls back to events */
	close(fd);
	fd = 7;
	/* no process: pid 0 and 1 are never a container's */
	assert_int_equal(ef_proc_watch_open(&fd, 0, ID), EF_ENOTFOUND);
	assert_int_equal(fd, -1);
	assert_int_equal(ef_proc_watch_open(&fd, 1, ID), EF_ENOTFOUND);
	/* a live process in another cgroup: this test's own child */
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		pause();
		_exit(0);
	}
	assert_int_equal(ef_proc_watch_open(&fd, (long)child, ID), EF_EUNREACHABLE);
	assert_int_equal(fd, -1);
	assert_non_null(strstr(ef_error_last(), "its cgroup does not name the container"));
	kill(child, SIGKILL);
	assert_int_equal(waitpid(child, &status, 0), child);
	/* the same pid, reaped: gone */
	assert_int_equal(ef_proc_watch_open(&fd, (long)child, ID), EF_ENOTFOUND);
	assert_int_equal(fd, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_cgroup_names),
	        cmocka_unit_test(test_watch_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
