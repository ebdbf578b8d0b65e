#include "edgeflip/error.h"
#include "edgeflip/sys/notify.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

static char tmpdir[64];

static int setup(void **unused)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ef-notify-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **unused)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A datagram socket bound at `path` (a leading '@': abstract namespace), as
 * the service manager would hold it. */
static int listen_at(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 2};
	socklen_t len;
	size_t n = strlen(path);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true(n < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@') {
		sa.sun_path[0] = '\0';
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	return fd;
}

static void expect_datagram(int fd, const char *want)
{
	char got[EF_NOTIFY_MAX + 16];
	ssize_t n = recv(fd, got, sizeof(got) - 1, 0);

	assert_true(n >= 0);
	got[n] = '\0';
	assert_int_equal((size_t)n, strlen(want)); /* no terminating NUL sent */
	assert_string_equal(got, want);
}

static void test_unset_is_noop(void **unused)
{
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(ef_notify("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "", 1);
	assert_int_equal(ef_notify("READY=1"), 0);
	unsetenv("NOTIFY_SOCKET");
}

static void test_path_socket(void **unused)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/notify.sock", tmpdir);
	fd = listen_at(path);
	setenv("NOTIFY_SOCKET", path, 1);
	assert_int_equal(ef_notify("READY=1"), 0);
	expect_datagram(fd, "READY=1");
	assert_int_equal(
	        ef_notify("STATUS=deployed revision %.12s; %d services", "3f2a9c1e8b7d6a5f4e3d", 3),
	        0);
	expect_datagram(fd, "STATUS=deployed revision 3f2a9c1e8b7d; 3 services");
	assert_int_equal(ef_notify("WATCHDOG=1"), 0);
	expect_datagram(fd, "WATCHDOG=1");
	assert_int_equal(ef_notify("RELOADING=1\nSTATUS=reloading"), 0);
	expect_datagram(fd, "RELOADING=1\nSTATUS=reloading");
	assert_int_equal(ef_notify("STOPPING=1"), 0);
	expect_datagram(fd, "STOPPING=1");
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}

static void test_abstract_socket(void **unused)
{
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "@edgeflip-test-notify-%ld", (long)getpid());
	fd = listen_at(name);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(ef_notify("READY=1"), 0);
	expect_datagram(fd, "READY=1");
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}

static void test_errors(void **unused)
{
	char path[128], big[EF_NOTIFY_MAX + 2];

	/* Nobody listening. */
	snprintf(path, sizeof(path), "%s/nobody.sock", tmpdir);
	setenv("NOTIFY_SOCKET", path, 1);
	assert_int_equal(ef_notify("READY=1"), EF_ERROR);
	assert_non_null(strstr(ef_error_last(), "notify: cannot send to"));

	setenv("NOTIFY_SOCKET", "relative.sock", 1);
	assert_int_equal(ef_notify("READY=1"), EF_EINVALID);
	assert_string_equal(ef_error_last(), "NOTIFY_SOCKET 'relative.sock' is not an absolute "
	                                     "socket path or @abstract name");
	setenv("NOTIFY_SOCKET", "@", 1);
	assert_int_equal(ef_notify("READY=1"), EF_EINVALID);

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	setenv("NOTIFY_SOCKET", "/run/whatever", 1);
	assert_int_equal(ef_notify("STATUS=%s", big), EF_EINVALID);
	assert_string_equal(ef_error_last(), "notify message longer than 4096 bytes");
	unsetenv("NOTIFY_SOCKET");
}

static void test_watchdog(void **unused)
{
	char pid[32];
	uint64_t usec = 99;

	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	assert_int_equal(ef_notify_watchdog_usec(&usec), 0);
	assert_int_equal(usec, 0);

	setenv("WATCHDOG_USEC", "30000000", 1);
	assert_int_equal(ef_notify_watchdog_usec(&usec), 0);
	assert_int_equal(usec, 30000000);

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(ef_notify_watchdog_usec(&usec), 0);
	assert_int_equal(usec, 30000000);

	/* Meant for another process. */
	snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(ef_notify_watchdog_usec(&usec), 0);
	assert_int_equal(usec, 0);
	unsetenv("WATCHDOG_PID");

	setenv("WATCHDOG_USEC", "30s", 1);
	assert_int_equal(ef_notify_watchdog_usec(&usec), EF_EINVALID);
	assert_string_equal(ef_error_last(), "WATCHDOG_USEC='30s' is not a decimal number");
	setenv("WATCHDOG_USEC", "-1", 1);
	assert_int_equal(ef_notify_watchdog_usec(&usec), EF_EINVALID);
	assert_int_equal(usec, 0);
	unsetenv("WATCHDOG_USEC");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_unset_is_noop),   cmocka_unit_test(test_path_socket),
	        cmocka_unit_test(test_abstract_socket), cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_watchdog),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
