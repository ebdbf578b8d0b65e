/* The switch backend table and running a command (hook, nftables). Route
 * sets and the routes file are in routes.c. */
#define _GNU_SOURCE
#include "switch_int.h"
#include "edgeflip/error.h"
#include "edgeflip/log.h"
#include "edgeflip/proxy.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

const struct ef_switch_ops *const ef_switch_backends[] = {
        &ef_switch_proxy_ops,
        &ef_switch_nftables_ops,
        &ef_switch_hook_ops,
        NULL,
};

int ef_switch_open(ef_switch **out, const char *backend, const ef_switch_opts *opts)
{
	const char *name = backend ? backend : "proxy";

	*out = NULL;
	for (size_t i = 0; ef_switch_backends[i]; i++) {
		const struct ef_switch_ops *ops = ef_switch_backends[i];

		if (strcmp(ops->name, name) != 0)
			continue;
		if (!opts || !opts->state_dir) {
			ef_error_set("switch backend '%s' needs a state directory", name);
			return EF_EINVALID;
		}
		return ops->open(out, opts);
	}
	ef_error_set("unknown switch backend '%s' (use proxy, nftables or hook)", name);
	return EF_EINVALID;
}

const char *ef_switch_target_addr(const char *backend, const char *listen_addr)
{
	if (!backend || strcmp(backend, "nftables") != 0)
		return "127.0.0.1";
	return listen_addr && strchr(listen_addr, ':') ? EF_SWITCH_NFT_ADDR6 : EF_SWITCH_NFT_ADDR4;
}

void ef_switch_close(ef_switch *s)
{
	if (s)
		s->ops->close(s);
}

/* ---- running a command ---- */

void ef_switch_close_fds(void)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0)
		return;
#endif
	for (int fd = 3; fd < 4096; fd++)
		close(fd);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *find_program(const char *name)
{
	const char *path = getenv("PATH");
	ef_buf b = EF_BUF_INIT(4096);

	if (strchr(name, '/'))
		return strdup(name);
	if (!path || !*path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		ef_buf_clear(&b);
		if (ef_buf_printf(&b, "%.*s/%s", (int)n, path, name) == 0 && n > 0 &&
		    access(b.ptr, X_OK) == 0)
			return ef_buf_detach(&b);
		path += n;
		if (*path == ':')
			path++;
	}
	ef_buf_dispose(&b);
	return NULL;
}

static char **make_env(char *const env_add[])
{
	size_t n = 0, k = 0, i;
	char **env;

	while (environ && environ[n])
		n++;
	while (env_add && env_add[k])
		k++;
	if (!(env = calloc(n + k + 1, sizeof(*env))))
		return NULL;
	/* Added entries first: the first of two equal keys wins in getenv(). */
	for (i = 0; i < k; i++)
		env[i] = env_add[i];
	for (size_t j = 0; j < n; j++)
		env[i++] = environ[j];
	return env;
}

int ef_switch_run(int *status, ef_buf *output, char *const argv[], char *const env_add[],
                  const char *input, size_t input_len, int timeout_ms)
{
	int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, devnull = -1;
	int error = EF_ERROR, wstatus = 0;
	int64_t deadline = now_ms() + timeout_ms;
	char *prog = find_program(argv[0]);
	char **env = make_env(env_add);
	size_t written = 0;
	bool reaped = false;
	pid_t pid = -1;

	*status = -1;
	if (!prog) {
		ef_error_set("cannot find program '%s' in PATH", argv[0]);
		goto out;
	}
	if (!env) {
		ef_error_set("out of memory");
		error = EF_ENOMEM;
		goto out;
	}
	/* stdin is a socket so that writing to a child that has exited gives
	 * EPIPE (MSG_NOSIGNAL) instead of killing the caller with SIGPIPE. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pipe) < 0 ||
	    pipe2(out_pipe, O_CLOEXEC) < 0 ||
	    (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
		ef_error_set("cannot run %s: %s", argv[0], strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		ef_error_set("cannot run %s: fork: %s", argv[0], strerror(errno));
		goto out;
	}
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		setpgid(0, 0);
		dup2(input ? in_pipe[0] : devnull, 0);
		dup2(output ? out_pipe[1] : 2, 1);
		dup2(output ? out_pipe[1] : 2, 2);
		ef_switch_close_fds();
		execve(prog, argv, env);
		_exit(127);
	}
	close(in_pipe[0]);
	close(out_pipe[1]);
	in_pipe[0] = out_pipe[1] = -1;
	if (!input) {
		close(in_pipe[1]);
		in_pipe[1] = -1;
	}
	fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);

	/* Feed stdin and read the output until both pipes are done. */
	while (in_pipe[1] >= 0 || out_pipe[0] >= 0) {
		struct pollfd pfd[2];
		int nfd = 0, left = (int)(deadline - now_ms());

		if (left <= 0)
			break;
		if (in_pipe[1] >= 0)
			pfd[nfd++] = (struct pollfd){.fd = in_pipe[1], .events = POLLOUT};
		if (out_pipe[0] >= 0)
			pfd[nfd++] = (struct pollfd){.fd = out_pipe[0], .events = POLLIN};
		if (poll(pfd, (nfds_t)nfd, left) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < nfd; i++) {
			if (!pfd[i].revents)
				continue;
			if (pfd[i].fd == in_pipe[1]) {
				ssize_t w = send(in_pipe[1], input + written, input_len - written,
				                 MSG_NOSIGNAL);

				if (w > 0)
					written += (size_t)w;
				if ((w < 0 && errno != EAGAIN && errno != EINTR) ||
				    written == input_len) {
					close(in_pipe[1]);
					in_pipe[1] = -1;
				}
			} else {
				char chunk[1024];
				ssize_t r = read(out_pipe[0], chunk, sizeof(chunk));

				if (r > 0 && output && output->len + (size_t)r <= output->cap)
					ef_buf_put(output, chunk, (size_t)r);
				if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
					close(out_pipe[0]);
					out_pipe[0] = -1;
				}
			}
		}
	}
	/* Then wait for the exit, up to the deadline. */
	for (;;) {
		pid_t w = waitpid(pid, &wstatus, WNOHANG);

		if (w == pid) {
			reaped = true;
			break;
		}
		if (w < 0 && errno != EINTR)
			break;
		if (now_ms() >= deadline)
			break;
		usleep(2000);
	}
	if (!reaped) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		waitpid(pid, &wstatus, 0);
		ef_error_set("%s did not finish within %d ms and was killed", argv[0], timeout_ms);
		error = EF_ETIMEOUT;
		goto out;
	}
	if (WIFEXITED(wstatus))
		*status = WEXITSTATUS(wstatus);
	else if (WIFSIGNALED(wstatus))
		*status = 128 + WTERMSIG(wstatus);
	error = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (in_pipe[i] >= 0)
			close(in_pipe[i]);
		if (out_pipe[i] >= 0)
			close(out_pipe[i]);
	}
	if (devnull >= 0)
		close(devnull);
	free(prog);
	free(env);
	return error;
}
