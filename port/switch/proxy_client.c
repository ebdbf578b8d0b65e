/* The agent's side of the built-in traffic switch: the "proxy" backend.
 *
 * The agent writes DIR/proxy/routes.json and sends "reload\n" over
 * DIR/proxy/control.sock; the proxy process (proxy.c) re-reads the file, swaps
 * all routes in one step of its event loop and answers "ok GEN\n" or
 * "error MSG\n". When no proxy answers, this side starts one, detached. */
#define _GNU_SOURCE
#include "switch_int.h"
#include "edgeflip/error.h"
#include "edgeflip/log.h"
#include "edgeflip/proxy.h"
#include "edgeflip/sys/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CONTROL_TIMEOUT_MS 10000 /* apply() waits this long for the ack */
#define START_TIMEOUT_MS   5000  /* open() waits this long for a new proxy */
#define CTL_LINE           128

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct proxy_switch {
	ef_switch parent;
	char *dir;
	char *self_exe;
	char routes_path[PATH_MAX];
};

/* Sends one command line and reads the one-line answer into `reply`
 * (without the newline). EF_EUNREACHABLE when no proxy listens. */
static int control_request(char *reply, size_t n, const char *dir, const char *cmd, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct sockaddr_un sun;
	size_t len = 0, cmdlen = strlen(cmd);
	int fd, error;

	reply[0] = '\0';
	if ((error = ef_proxy_control_addr(&sun, dir)) < 0)
		return error;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		ef_error_set("socket: %s", strerror(errno));
		return EF_ERROR;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		ef_error_set("no traffic proxy answers on %s: %s", sun.sun_path, strerror(errno));
		error = EF_EUNREACHABLE;
		goto out;
	}
	if (send(fd, cmd, cmdlen, MSG_NOSIGNAL) != (ssize_t)cmdlen) {
		ef_error_set("cannot talk to the traffic proxy on %s: %s", sun.sun_path,
		             strerror(errno));
		error = EF_EUNREACHABLE;
		goto out;
	}
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int left = (int)(deadline - now_ms());
		ssize_t r;

		if (left <= 0) {
			ef_error_set("the traffic proxy did not answer '%.*s' within %d ms",
			             (int)strcspn(cmd, "\n"), cmd, timeout_ms);
			error = EF_ETIMEOUT;
			goto out;
		}
		if (poll(&pfd, 1, left) < 0 && errno != EINTR) {
			ef_error_set("poll: %s", strerror(errno));
			error = EF_ERROR;
			goto out;
		}
		r = recv(fd, reply + len, n - 1 - len, 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0) {
			ef_error_set("the traffic proxy closed the control connection without an "
			             "answer");
			error = EF_EUNREACHABLE;
			goto out;
		}
		len += (size_t)r;
		reply[len] = '\0';
		if (strchr(reply, '\n') || len == n - 1)
			break;
	}
	reply[strcspn(reply, "\n")] = '\0';
	error = 0;
out:
	close(fd);
	return error;
}

/* "ok GEN" -> 0 and *gen; "error MSG" -> EF_ERROR with MSG. */
static int parse_reply(uint64_t *gen, const char *reply)
{
	char *end;

	if (strncmp(reply, "ok ", 3) == 0) {
		errno = 0;
		*gen = strtoull(reply + 3, &end, 10);
		if (errno == 0 && end != reply + 3 && *end == '\0')
			return 0;
	}
	if (strncmp(reply, "error ", 6) == 0) {
		ef_error_set("%s", reply + 6);
		return EF_ERROR;
	}
	ef_error_set("unexpected answer from the traffic proxy: '%.80s'", reply);
	return EF_ERROR;
}

/* Starts `self_exe proxy --state-dir DIR` detached: fork, setsid, fork
 * again so it is nobody's child but init's and outlives us. */
static int spawn_proxy(const char *self_exe, const char *dir)
{
	char log_path[PATH_MAX], small[PATH_MAX];
	char *argv[] = {(char *)self_exe, "proxy", "--state-dir", (char *)dir, NULL};
	const char *slash = strrchr(self_exe, '/');
	int status, error;
	pid_t pid;

	if ((error = ef_proxy_path(log_path, sizeof(log_path), dir, "proxy.log")) < 0)
		return error;
	/* Prefer edgeflip-proxy beside us: the same code, a fraction of the
	 * memory (it links no libgit2, mbedTLS or libcurl). */
	if (slash &&
	    (size_t)snprintf(small, sizeof(small), "%.*s/edgeflip-proxy", (int)(slash - self_exe),
	                     self_exe) < sizeof(small) &&
	    access(small, X_OK) == 0) {
		argv[0] = small;
		argv[1] = "--state-dir";
		argv[2] = (char *)dir;
		argv[3] = NULL;
		self_exe = small;
	}
	pid = fork();
	if (pid < 0) {
		ef_error_set("cannot start the traffic proxy: fork: %s", strerror(errno));
		return EF_ERROR;
	}
	if (pid == 0) {
		sigset_t none;
		int fd;

		setsid();
		if (fork() != 0)
			_exit(0);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		for (int sig = 1; sig < 32; sig++)
			if (sig != SIGKILL && sig != SIGSTOP)
				signal(sig, SIG_DFL);
		if (chdir("/") < 0)
			_exit(127);
		fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
		}
		fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0)
			dup2(fd, 2);
		ef_switch_close_fds();
		execv(self_exe, argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return 0;
}

static int ensure_running(struct proxy_switch *ps, uint64_t *gen)
{
	char reply[CTL_LINE];
	int64_t deadline;
	int error;

	if (control_request(reply, sizeof(reply), ps->dir, "ping\n", CONTROL_TIMEOUT_MS) == 0)
		return parse_reply(gen, reply);
	ef_info("proxy-start", "exe=%s state_dir=%s", ps->self_exe, ps->dir);
	if ((error = spawn_proxy(ps->self_exe, ps->dir)) < 0)
		return error;
	deadline = now_ms() + START_TIMEOUT_MS;
	for (;;) {
		error = control_request(reply, sizeof(reply), ps->dir, "ping\n", 1000);
		if (error == 0)
			return parse_reply(gen, reply);
		if (now_ms() >= deadline)
			break;
		usleep(10000);
	}
	ef_error_set("the traffic proxy (%s proxy --state-dir %s) did not start within %d ms; see "
	             "%s/proxy/proxy.log",
	             ps->self_exe, ps->dir, START_TIMEOUT_MS, ps->dir);
	return EF_EUNREACHABLE;
}

static void proxy_close(ef_switch *s)
{
	struct proxy_switch *ps = (struct proxy_switch *)s;

	if (!ps)
		return;
	/* The proxy process keeps running: it owns the public ports. */
	free(ps->dir);
	free(ps->self_exe);
	free(ps);
}

static int proxy_open(ef_switch **out, const ef_switch_opts *opts)
{
	struct proxy_switch *ps;
	struct sockaddr_un sun;
	char dir[PATH_MAX];
	uint64_t gen;
	int error;

	*out = NULL;
	if ((error = ef_proxy_control_addr(&sun, opts->state_dir)) < 0)
		return error;
	if (!(ps = calloc(1, sizeof(*ps)))) {
		ef_error_set("out of memory");
		return EF_ENOMEM;
	}
	ps->parent.ops = &ef_switch_proxy_ops;
	ps->dir = strdup(opts->state_dir);
	if (opts->self_exe) {
		ps->self_exe = strdup(opts->self_exe);
	} else {
		char exe[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

		if (n > 0) {
			exe[n] = '\0';
			ps->self_exe = strdup(exe);
		}
	}
	if (!ps->dir || !ps->self_exe) {
		ef_error_set("cannot find the edgeflip executable to start the traffic proxy");
		error = EF_ERROR;
		goto fail;
	}
	snprintf(dir, sizeof(dir), "%s/proxy", ps->dir);
	if ((error = ef_fs_mkdir_p(dir, 0700)) < 0 ||
	    (error = ef_proxy_path(ps->routes_path, sizeof(ps->routes_path), ps->dir,
	                           "routes.json")) < 0)
		goto fail;
	if ((error = ensure_running(ps, &gen)) < 0)
		goto fail;
	ef_debug("proxy-connected", "state_dir=%s generation=%llu", ps->dir,
	         (unsigned long long)gen);
	*out = &ps->parent;
	return 0;
fail:
	proxy_close(&ps->parent);
	return error;
}

static int proxy_apply(ef_switch *s, const ef_route *routes, size_t n)
{
	struct proxy_switch *ps = (struct proxy_switch *)s;
	ef_buf old = EF_BUF_INIT(EF_ROUTES_FILE_MAX), text = EF_BUF_INIT(EF_ROUTES_FILE_MAX);
	ef_route *old_routes = NULL;
	size_t old_n = 0;
	uint64_t old_gen = 0, gen = 0;
	bool had_old = false;
	char reply[512];
	int error, rerr;

	if ((error = ef_routes_check(routes, n)) < 0)
		return error;
	/* The next generation number follows the file's. */
	rerr = ef_read_file(&old, ps->routes_path, EF_ROUTES_FILE_MAX);
	if (rerr == 0) {
		had_old = true;
		if (ef_proxy_routes_parse(&old_routes, &old_n, &old_gen, old.ptr, old.len) < 0)
			ef_warn("proxy-routes-unreadable", "path=%s error=\"%s\"", ps->routes_path,
			        ef_error_last());
		ef_routes_free(old_routes, old_n);
	} else if (rerr != EF_ENOTFOUND) {
		error = rerr;
		goto out;
	}
	if ((error = ef_proxy_routes_format(&text, routes, n, old_gen + 1)) < 0)
		goto out;
	if ((error = ef_fs_write_atomic(ps->routes_path, text.ptr, text.len)) < 0)
		goto out;

	error = control_request(reply, sizeof(reply), ps->dir, "reload\n", CONTROL_TIMEOUT_MS);
	if (error == EF_EUNREACHABLE) {
		/* The proxy died: a new one loads the file we just wrote. */
		ef_warn("proxy-gone", "state_dir=%s action=restart", ps->dir);
		if ((error = ensure_running(ps, &gen)) == 0)
			error = control_request(reply, sizeof(reply), ps->dir, "reload\n",
			                        CONTROL_TIMEOUT_MS);
	}
	if (error < 0)
		goto out; /* timeout: the proxy may still load the file; the caller retries */
	if ((error = parse_reply(&gen, reply)) == 0 && gen != old_gen + 1) {
		ef_error_set("the traffic proxy loaded generation %llu instead of %llu",
		             (unsigned long long)gen, (unsigned long long)(old_gen + 1));
		error = EF_ERROR;
	}
	if (error < 0) {
		/* The proxy kept the old routes: put the old file back. */
		ef_error_prefix("the traffic proxy refused the new routes");
		if (had_old)
			ef_fs_write_atomic(ps->routes_path, old.ptr, old.len);
		else
			unlink(ps->routes_path);
		goto out;
	}
	ef_info("proxy-applied", "generation=%llu routes=%zu", (unsigned long long)gen, n);
out:
	ef_buf_dispose(&old);
	ef_buf_dispose(&text);
	return error;
}

static int proxy_current(ef_switch *s, ef_route **out, size_t *n)
{
	struct proxy_switch *ps = (struct proxy_switch *)s;
	uint64_t gen;
	int error = ef_routes_load(out, n, &gen, ps->routes_path);

	if (error == EF_ENOTFOUND) {
		ef_error_clear();
		return 0;
	}
	return error;
}

static int proxy_counters(ef_switch *s, ef_port_counters **out, size_t *n)
{
	struct proxy_switch *ps = (struct proxy_switch *)s;
	char reply[1400];
	int error;

	*out = NULL;
	*n = 0;
	if ((error = control_request(reply, sizeof(reply), ps->dir, "counters\n",
	                             CONTROL_TIMEOUT_MS)) < 0)
		return error;
	if (strncmp(reply, "error ", 6) == 0) {
		ef_error_set("the traffic proxy refused 'counters': %s", reply + 6);
		return EF_ERROR;
	}
	return ef_proxy_counters_parse(out, n, reply);
}

const struct ef_switch_ops ef_switch_proxy_ops = {
        .name = "proxy",
        .open = proxy_open,
        .apply = proxy_apply,
        .current = proxy_current,
        .counters = proxy_counters,
        .close = proxy_close,
};
