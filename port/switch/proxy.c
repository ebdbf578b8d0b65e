/* The built-in traffic switch: the "proxy" backend (the agent's side) and
 * the proxy process itself (`edgeflip proxy --state-dir DIR`).
 *
 * The agent writes DIR/proxy/routes.json and sends "reload\n" over
 * DIR/proxy/control.sock; the proxy re-reads the file, swaps all routes in
 * one step of its event loop and answers "ok GEN\n" or "error MSG\n".
 * Listeners of ports that stay are kept open across reloads; established
 * TCP connections and UDP flows keep their old target until they end. */
#define _GNU_SOURCE
#include "switch_int.h"
#include "edgeflip/error.h"
#include "edgeflip/log.h"
#include "edgeflip/proxy.h"
#include "edgeflip/sys/fs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h> /* malloc_trim */
#endif
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CONTROL_TIMEOUT_MS 10000 /* apply() waits this long for the ack */
#define START_TIMEOUT_MS   5000  /* open() waits this long for a new proxy */
#define TCP_BUF            16384 /* per direction, per connection */
#define UDP_BUF            65536 /* one, shared, allocated with the first UDP route */
#define MAX_FLOWS          1024
#define MAX_CTL_CLIENTS    8
#define CTL_LINE           128
#define CTL_DEADLINE_MS    5000
#define PUMP_ROUNDS        16    /* reads+writes per turn, so one transfer cannot hog the loop */
#define PIPE_CHUNK         65536 /* bytes per splice() into a direction's pipe */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int path_join(char *out, size_t n, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, n, "%s/proxy/%s", dir, name) >= n) {
		ef_error_set("path too long: %s/proxy/%s", dir, name);
		return EF_EINVALID;
	}
	return 0;
}

static int control_addr(struct sockaddr_un *sun, const char *dir)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if ((size_t)snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/proxy/control.sock", dir) >=
	    sizeof(sun->sun_path)) {
		ef_error_set("state directory path too long for a unix socket (%zu bytes max): %s",
		             sizeof(sun->sun_path) - sizeof("/proxy/control.sock"), dir);
		return EF_EINVALID;
	}
	return 0;
}

/* =================================================================== */
/* The agent's side: the "proxy" switch backend.                        */
/* =================================================================== */

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
	if ((error = control_addr(&sun, dir)) < 0)
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

	if ((error = path_join(log_path, sizeof(log_path), dir, "proxy.log")) < 0)
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
	if ((error = control_addr(&sun, opts->state_dir)) < 0)
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
	    (error = path_join(ps->routes_path, sizeof(ps->routes_path), ps->dir, "routes.json")) <
	            0)
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

const struct ef_switch_ops ef_switch_proxy_ops = {
        .name = "proxy",
        .open = proxy_open,
        .apply = proxy_apply,
        .current = proxy_current,
        .close = proxy_close,
};

/* =================================================================== */
/* The proxy process.                                                   */
/* =================================================================== */

enum kind {
	K_SIGNAL,
	K_CTL_LISTEN,
	K_CTL_CLIENT,
	K_TCP_LISTEN,
	K_UDP_LISTEN,
	K_CONN_CLIENT,
	K_CONN_TARGET,
	K_FLOW,
};

/* The first member of everything registered with epoll. Closed objects
 * are marked dead and freed after the current batch of events. */
struct handle {
	enum kind kind;
	int fd;
	bool dead;
	uint32_t events; /* registered events; 0 = not in the epoll set */
	bool rd, wr;     /* TCP connections (edge-triggered): readable, writable */
	bool rdhup;      /* the peer's FIN has arrived (read it after the data) */
	struct handle *grave;
};

struct flow;

struct listener {
	struct handle h;
	int type; /* SOCK_STREAM or SOCK_DGRAM */
	struct sockaddr_storage addr, target;
	socklen_t addrlen, targetlen;
	char desc[128]; /* "tcp 0.0.0.0:8080" */
	char target_desc[80];
	char *service;
	bool matched;
	struct listener *next;
	struct flow *flows;
};

/* One direction of a connection. Small messages go through `data`; a
 * direction whose reads fill the buffer is bulk and moves to a pipe, so
 * that splice() carries its bytes without copying them through us. */
struct dir_buf {
	char *data;
	size_t off, len;
	int pipe[2];   /* -1 until the direction turns bulk */
	size_t inpipe; /* bytes in the pipe */
	bool full;     /* the last recv() filled the buffer */
	bool eof;      /* the source sent FIN */
	bool shut;     /* FIN passed on to the destination */
};

struct conn {
	struct handle client, target; /* client.grave links the conn */
	struct dir_buf c2t, t2c;
	bool connected;
	bool queued; /* on the ready list: stopped at PUMP_ROUNDS with work left */
	struct conn *prev, *next, *ready_next;
};

struct flow {
	struct handle h; /* a UDP socket connected to the target */
	struct listener *l;
	struct sockaddr_storage peer;
	socklen_t peerlen;
	int64_t last_ms;
	struct flow *next;
};

struct ctl_client {
	struct handle h;
	char line[CTL_LINE];
	size_t len;
	int64_t deadline;
	struct ctl_client *next;
};

struct proxy {
	int epfd;
	const char *dir;
	char routes_path[PATH_MAX];
	struct handle sig, ctl;
	struct listener *listeners;
	struct conn *conns;
	struct conn *ready; /* connections to pump again without waiting for an event */
	struct ctl_client *ctl_clients;
	struct handle *graveyard;
	char *udp_buf;
	uint64_t generation;
	unsigned nconns, max_conns, nflows, nctl;
	unsigned npipes, max_pipes; /* pipe pairs of bulk directions; 2 fds each */
	int64_t udp_idle_ms;
	bool paused; /* TCP listeners out of the epoll set: connection cap reached */
	bool trim;   /* the last connection closed: give freed memory back when idle */
	bool stop;
};

/* Warnings that can repeat per connection: at most one per 10 s per kind,
 * so a dead target or a sustained overload cannot fill the disk. */
enum { W_CONNECT, W_CAP, W_ACCEPT, W_COUNT };
static int64_t warned_at[W_COUNT];

static bool warn_now(int kind)
{
	int64_t now = now_ms();

	if (warned_at[kind] && now - warned_at[kind] < 10000)
		return false;
	warned_at[kind] = now;
	return true;
}

static void set_events(struct proxy *p, struct handle *h, uint32_t ev)
{
	struct epoll_event e = {.events = ev, .data.ptr = h};

	if (ev == h->events || h->fd < 0)
		return;
	/* An fd we wait nothing from leaves the set: epoll would keep reporting
	 * EPOLLHUP for it and spin. */
	if (ev == 0)
		epoll_ctl(p->epfd, EPOLL_CTL_DEL, h->fd, NULL);
	else if (h->events == 0)
		epoll_ctl(p->epfd, EPOLL_CTL_ADD, h->fd, &e);
	else
		epoll_ctl(p->epfd, EPOLL_CTL_MOD, h->fd, &e);
	h->events = ev;
}

static void bury(struct proxy *p, struct handle *h)
{
	h->dead = true;
	h->grave = p->graveyard;
	p->graveyard = h;
}

static void close_handle(struct proxy *p, struct handle *h)
{
	(void)p;
	/* close() takes the fd out of the epoll set: the proxy never forks
	 * or dups its descriptors, so no copy keeps it registered. */
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	h->events = 0;
}

static void format_addr(char *out, size_t n, const struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(out, n, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(out, n, "%s:%u", host, ntohs(s4->sin_port));
	}
}

/* ---- TCP connections ---- */

static void resume_accepting(struct proxy *p);

static void dir_close_pipe(struct proxy *p, struct dir_buf *b)
{
	if (b->pipe[0] < 0)
		return;
	close(b->pipe[0]);
	close(b->pipe[1]);
	b->pipe[0] = b->pipe[1] = -1;
	p->npipes--;
}

static void conn_close(struct proxy *p, struct conn *c)
{
	if (c->client.dead)
		return;
	close_handle(p, &c->client);
	close_handle(p, &c->target);
	dir_close_pipe(p, &c->c2t);
	dir_close_pipe(p, &c->t2c);
	c->target.dead = true;
	if (c->prev)
		c->prev->next = c->next;
	else
		p->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	p->nconns--;
	if (p->nconns == 0)
		p->trim = true;
	bury(p, &c->client);
	resume_accepting(p);
}

static void conn_free(struct conn *c)
{
	free(c->c2t.data);
	free(c->t2c.data);
	free(c);
}

static void conn_watch(struct proxy *p, struct handle *h)
{
	struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = h};

	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, h->fd, &e) == 0)
		h->events = e.events;
}

/* A direction whose reads fill the buffer turns bulk: from now on its
 * bytes go socket -> pipe -> socket with splice(), never through user
 * space. Pipes come from a budget of spare descriptors, so they cannot
 * starve the connection cap; without one the buffer carries on. */
static void dir_try_pipe(struct proxy *p, struct dir_buf *b)
{
	b->full = false;
	if (p->npipes >= p->max_pipes || pipe2(b->pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
		b->pipe[0] = b->pipe[1] = -1;
		return;
	}
	p->npipes++;
	free(b->data);
	b->data = NULL;
}

/* Moves bytes from src to dst through b until either would block, the
 * source ends, or PUMP_ROUNDS are used up. `open`: dst is connected.
 * `last`: the other direction is over, so the close that follows carries
 * our FIN and no shutdown() is needed. Returns -1 when the connection
 * must be closed, 1 when there may be more to move. */
static int pump(struct proxy *p, struct handle *src, struct handle *dst, struct dir_buf *b,
                bool open, bool last)
{
	for (int round = 0; round < PUMP_ROUNDS; round++) {
		ssize_t r;

		if (b->len > 0 || b->inpipe > 0) {
			if (!open || !dst->wr)
				return 0;
			if (b->len > 0)
				r = send(dst->fd, b->data + b->off, b->len, MSG_NOSIGNAL);
			else
				r = splice(b->pipe[0], NULL, dst->fd, NULL, b->inpipe,
				           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				if (errno != EAGAIN)
					return -1;
				dst->wr = false;
				return 0;
			}
			if (b->len > 0) {
				b->off += (size_t)r;
				b->len -= (size_t)r;
				if (b->len == 0)
					b->off = 0;
			} else {
				b->inpipe -= (size_t)r;
			}
			continue;
		}
		if (b->eof) {
			if (!b->shut && open) {
				if (!last)
					shutdown(dst->fd, SHUT_WR);
				b->shut = true;
			}
			return 0;
		}
		if (!src->rd)
			return 0;
		if (b->full && b->pipe[0] < 0)
			dir_try_pipe(p, b);
		if (b->pipe[0] >= 0) {
			/* Only into an empty pipe: EAGAIN then means the socket
			 * is empty, not the pipe full. */
			r = splice(src->fd, NULL, b->pipe[1], NULL, PIPE_CHUNK,
			           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (r > 0)
				b->inpipe = (size_t)r;
		} else {
			r = recv(src->fd, b->data, TCP_BUF, 0);
			if (r > 0) {
				b->len = (size_t)r;
				b->full = r == TCP_BUF;
				/* A short read emptied the socket: the next data
				 * brings a new edge, no recv() just to hear EAGAIN.
				 * A FIN already reported brings none: read it. */
				if (!b->full && !src->rdhup)
					src->rd = false;
			}
		}
		if (r == 0) {
			b->eof = true;
		} else if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -1;
			src->rd = false;
			return 0;
		}
	}
	return 1;
}

static void conn_run(struct proxy *p, struct conn *c)
{
	int a, b = 0;

	a = pump(p, &c->client, &c->target, &c->c2t, c->connected, c->t2c.shut);
	if (a >= 0 && c->connected)
		b = pump(p, &c->target, &c->client, &c->t2c, true, c->c2t.shut);
	if (a < 0 || b < 0) {
		ef_debug("proxy-conn-reset", "error=\"%s\"", strerror(errno));
		conn_close(p, c);
		return;
	}
	if (c->c2t.shut && c->t2c.shut) {
		conn_close(p, c);
		return;
	}
	if ((a > 0 || b > 0) && !c->queued) {
		/* Edge-triggered: no new event comes for what is left. */
		c->queued = true;
		c->ready_next = p->ready;
		p->ready = c;
	}
}

static void conn_event(struct proxy *p, struct conn *c, bool on_target, uint32_t ev)
{
	struct handle *h = on_target ? &c->target : &c->client;

	if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		h->rd = true;
	if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		h->rdhup = true;
	if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		h->wr = true;
	if (on_target && !c->connected) {
		if (ev & (EPOLLERR | EPOLLHUP)) {
			int err = 0;
			socklen_t len = sizeof(err);

			if (getsockopt(c->target.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
				err = errno;
			if (warn_now(W_CONNECT))
				ef_warn("proxy-connect-failed", "error=\"%s\"",
				        strerror(err ? err : ECONNRESET));
			conn_close(p, c);
			return;
		}
		if (!(ev & EPOLLOUT))
			return;
		c->connected = true;
	}
	conn_run(p, c);
}

/* Pumps the connections that stopped at PUMP_ROUNDS in the last turn. */
static void run_ready(struct proxy *p, struct conn *ready)
{
	while (ready) {
		struct conn *c = ready;

		ready = c->ready_next;
		c->queued = false;
		if (!c->client.dead)
			conn_run(p, c);
	}
}

/* Closed connections leave the ready list before they are freed. */
static void prune_ready(struct proxy *p)
{
	struct conn **pp = &p->ready;

	while (*pp) {
		if ((*pp)->client.dead)
			*pp = (*pp)->ready_next;
		else
			pp = &(*pp)->ready_next;
	}
}

static void pause_accepting(struct proxy *p)
{
	if (p->paused)
		return;
	p->paused = true;
	for (struct listener *l = p->listeners; l; l = l->next)
		if (l->type == SOCK_STREAM)
			set_events(p, &l->h, 0);
}

static void resume_accepting(struct proxy *p)
{
	if (!p->paused || p->nconns >= p->max_conns)
		return;
	p->paused = false;
	for (struct listener *l = p->listeners; l; l = l->next)
		if (l->type == SOCK_STREAM)
			set_events(p, &l->h, EPOLLIN);
}

static void tcp_accept(struct proxy *p, struct listener *l)
{
	for (int i = 0; i < 64; i++) {
		struct conn *c;
		int cfd, tfd, one = 1;

		if (p->nconns >= p->max_conns) {
			if (warn_now(W_CAP))
				ef_warn("proxy-conn-cap", "connections=%u action=pause-accepting",
				        p->nconns);
			pause_accepting(p);
			return;
		}
		cfd = accept4(l->h.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				if (warn_now(W_CAP))
					ef_warn("proxy-out-of-fds", "connections=%u", p->nconns);
				pause_accepting(p);
			}
			return;
		}
		tfd = socket(l->target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		c = calloc(1, sizeof(*c));
		if (c) {
			c->c2t.pipe[0] = c->c2t.pipe[1] = c->t2c.pipe[0] = c->t2c.pipe[1] = -1;
			c->c2t.data = malloc(TCP_BUF);
			c->t2c.data = malloc(TCP_BUF);
		}
		if (tfd < 0 || !c || !c->c2t.data || !c->t2c.data) {
			if (warn_now(W_ACCEPT))
				ef_warn("proxy-accept-failed", "listener=\"%s\" error=\"%s\"",
				        l->desc, tfd < 0 ? strerror(errno) : "out of memory");
			if (tfd >= 0)
				close(tfd);
			close(cfd);
			if (c)
				conn_free(c);
			continue;
		}
		/* cfd has TCP_NODELAY from the listener. */
		setsockopt(tfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->client = (struct handle){.kind = K_CONN_CLIENT, .fd = cfd};
		c->target = (struct handle){.kind = K_CONN_TARGET, .fd = tfd};
		c->next = p->conns;
		if (p->conns)
			p->conns->prev = c;
		p->conns = c;
		p->nconns++;
		if (connect(tfd, (struct sockaddr *)&l->target, l->targetlen) == 0) {
			c->connected = true;
		} else if (errno != EINPROGRESS) {
			if (warn_now(W_CONNECT))
				ef_warn("proxy-connect-failed",
				        "listener=\"%s\" target=%s error=\"%s\"", l->desc,
				        l->target_desc, strerror(errno));
			conn_close(p, c);
			continue;
		}
		ef_trace("proxy-accept", "listener=\"%s\" target=%s", l->desc, l->target_desc);
		/* Registered once, edge-triggered: epoll reports each change in
		 * readiness and pump() remembers it, so no epoll_ctl per event. */
		conn_watch(p, &c->client);
		conn_watch(p, &c->target);
	}
}

/* ---- UDP flows ---- */

static void flow_close(struct proxy *p, struct flow *f)
{
	struct flow **pp;

	if (f->h.dead)
		return;
	for (pp = &f->l->flows; *pp && *pp != f; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = f->next;
	close_handle(p, &f->h);
	p->nflows--;
	bury(p, &f->h);
}

static bool same_peer(const struct flow *f, const struct sockaddr_storage *a, socklen_t alen)
{
	return f->peerlen == alen && memcmp(&f->peer, a, alen) == 0;
}

static void udp_receive(struct proxy *p, struct listener *l)
{
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		struct flow *f;
		ssize_t r =
		        recvfrom(l->h.fd, p->udp_buf, UDP_BUF, 0, (struct sockaddr *)&peer, &plen);

		if (r < 0)
			return;
		for (f = l->flows; f && !same_peer(f, &peer, plen); f = f->next)
			;
		if (!f) {
			int fd;

			if (p->nflows >= MAX_FLOWS) {
				ef_debug("proxy-flow-cap", "listener=\"%s\" action=drop", l->desc);
				continue;
			}
			fd = socket(l->target.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			            0);
			if (fd < 0)
				continue;
			if (connect(fd, (struct sockaddr *)&l->target, l->targetlen) < 0 ||
			    !(f = calloc(1, sizeof(*f)))) {
				close(fd);
				continue;
			}
			f->h = (struct handle){.kind = K_FLOW, .fd = fd};
			f->l = l;
			memcpy(&f->peer, &peer, plen);
			f->peerlen = plen;
			f->next = l->flows;
			l->flows = f;
			p->nflows++;
			set_events(p, &f->h, EPOLLIN);
			ef_trace("proxy-flow-new", "listener=\"%s\" target=%s", l->desc,
			         l->target_desc);
		}
		f->last_ms = now_ms();
		send(f->h.fd, p->udp_buf, (size_t)r, MSG_DONTWAIT);
	}
}

static void flow_receive(struct proxy *p, struct flow *f)
{
	for (int i = 0; i < 64; i++) {
		ssize_t r = recv(f->h.fd, p->udp_buf, UDP_BUF, 0);

		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (errno == ECONNREFUSED) {
				/* Nothing listens at the flow's target any more (the
				 * old slot was stopped): end the flow, so the client's
				 * next datagram opens one to the current target. */
				ef_debug("proxy-flow-refused", "listener=\"%s\"", f->l->desc);
				flow_close(p, f);
				return;
			}
			continue;
		}
		f->last_ms = now_ms();
		sendto(f->l->h.fd, p->udp_buf, (size_t)r, MSG_DONTWAIT, (struct sockaddr *)&f->peer,
		       f->peerlen);
	}
}

/* ---- listeners and reload ---- */

static void listener_free(struct listener *l)
{
	free(l->service);
	free(l);
}

static void listener_close(struct proxy *p, struct listener *l)
{
	while (l->flows)
		flow_close(p, l->flows);
	close_handle(p, &l->h);
	bury(p, &l->h);
}

static struct listener *listener_open(const ef_route *r, const struct sockaddr_storage *addr,
                                      socklen_t addrlen)
{
	struct listener *l = calloc(1, sizeof(*l));
	int one = 1, fd;

	if (!l) {
		ef_error_set("out of memory");
		return NULL;
	}
	l->type = strcmp(r->protocol, "udp") == 0 ? SOCK_DGRAM : SOCK_STREAM;
	memcpy(&l->addr, addr, addrlen);
	l->addrlen = addrlen;
	memcpy(l->desc, r->protocol, 3);
	l->desc[3] = ' ';
	format_addr(l->desc + 4, sizeof(l->desc) - 4, addr);
	fd = socket(addr->ss_family, l->type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	l->h = (struct handle){.kind = l->type == SOCK_DGRAM ? K_UDP_LISTEN : K_TCP_LISTEN,
	                       .fd = fd};
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (addr->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)addr, addrlen) < 0)
		goto fail;
	if (l->type == SOCK_STREAM) {
		/* Accepted sockets inherit it. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (listen(fd, 511) < 0)
			goto fail;
	}
	return l;
fail:
	ef_error_set("cannot listen on %s: %s", l->desc, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(l);
	return NULL;
}

/* Loads the routes file and swaps every route in one step. Nothing
 * changes unless all new listeners could be opened. */
static int proxy_reload(struct proxy *p)
{
	struct pending {
		struct listener *l;
		struct sockaddr_storage target;
		socklen_t targetlen;
	} *matched = NULL;
	struct listener *fresh = NULL, *l, *next;
	ef_route *routes = NULL;
	size_t n = 0, i;
	uint64_t gen;
	int error;

	if ((error = ef_routes_load(&routes, &n, &gen, p->routes_path)) < 0)
		return error;
	if (n && !(matched = calloc(n, sizeof(*matched)))) {
		ef_error_set("out of memory");
		error = EF_ENOMEM;
		goto out;
	}
	for (l = p->listeners; l; l = l->next)
		l->matched = false;
	for (i = 0; i < n; i++) {
		struct sockaddr_storage addr, target;
		socklen_t addrlen, targetlen;
		int type = strcmp(routes[i].protocol, "udp") == 0 ? SOCK_DGRAM : SOCK_STREAM;

		ef_switch_sockaddr(&addr, &addrlen, routes[i].listen_addr, routes[i].listen_port);
		ef_switch_sockaddr(&target, &targetlen, routes[i].target_addr,
		                   routes[i].target_port);
		for (l = p->listeners; l; l = l->next)
			if (!l->matched && l->type == type && l->addrlen == addrlen &&
			    memcmp(&l->addr, &addr, addrlen) == 0)
				break;
		if (!l) {
			if (!(l = listener_open(&routes[i], &addr, addrlen))) {
				error = EF_ERROR;
				goto out;
			}
			l->next = fresh;
			fresh = l;
		}
		l->matched = true;
		matched[i].l = l;
		matched[i].target = target;
		matched[i].targetlen = targetlen;
	}
	if (!p->udp_buf) {
		for (i = 0; i < n; i++)
			if (strcmp(routes[i].protocol, "udp") == 0)
				break;
		if (i < n && !(p->udp_buf = malloc(UDP_BUF))) {
			ef_error_set("out of memory");
			error = EF_ENOMEM;
			goto out;
		}
	}

	/* Commit: from here on nothing fails. */
	for (l = p->listeners; l; l = next) {
		next = l->next;
		if (!l->matched) {
			ef_info("proxy-listener-closed", "listener=\"%s\"", l->desc);
			listener_close(p, l);
		}
	}
	{
		struct listener **pp = &p->listeners;

		while (*pp) {
			if ((*pp)->h.dead)
				*pp = (*pp)->next;
			else
				pp = &(*pp)->next;
		}
		while (fresh) {
			l = fresh;
			fresh = fresh->next;
			l->next = p->listeners;
			p->listeners = l;
			set_events(p, &l->h, l->type == SOCK_STREAM && p->paused ? 0 : EPOLLIN);
		}
	}
	for (i = 0; i < n; i++) {
		l = matched[i].l;
		l->target = matched[i].target;
		l->targetlen = matched[i].targetlen;
		format_addr(l->target_desc, sizeof(l->target_desc), &l->target);
		free(l->service);
		l->service = routes[i].service ? strdup(routes[i].service) : NULL;
		ef_info("proxy-route", "listener=\"%s\" target=%s service=%s", l->desc,
		        l->target_desc, l->service ? l->service : "-");
	}
	p->generation = gen;
	ef_info("proxy-reloaded", "generation=%llu routes=%zu", (unsigned long long)gen, n);
	error = 0;
out:
	if (error < 0) {
		/* Undo: close what was opened; old listeners were not touched. */
		while (fresh) {
			l = fresh;
			fresh = fresh->next;
			close(l->h.fd);
			listener_free(l);
		}
	}
	free(matched);
	ef_routes_free(routes, n);
	return error;
}

/* ---- control socket ---- */

static void ctl_close(struct proxy *p, struct ctl_client *cc)
{
	struct ctl_client **pp;

	if (cc->h.dead)
		return;
	for (pp = &p->ctl_clients; *pp && *pp != cc; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = cc->next;
	close_handle(p, &cc->h);
	p->nctl--;
	bury(p, &cc->h);
}

static void ctl_reply(struct ctl_client *cc, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void ctl_reply(struct ctl_client *cc, const char *fmt, ...)
{
	char out[1200];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, sizeof(out) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(out) - 2)
		n = (int)sizeof(out) - 2;
	out[n++] = '\n';
	send(cc->h.fd, out, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void ctl_command(struct proxy *p, struct ctl_client *cc, const char *cmd)
{
	if (strcmp(cmd, "ping") == 0) {
		ctl_reply(cc, "ok %llu", (unsigned long long)p->generation);
	} else if (strcmp(cmd, "reload") == 0) {
		if (proxy_reload(p) == 0) {
			ctl_reply(cc, "ok %llu", (unsigned long long)p->generation);
		} else {
			char msg[1024];

			/* One line: the message may quote file contents. */
			snprintf(msg, sizeof(msg), "%s", ef_error_last());
			for (char *c = msg; *c; c++)
				if (*c == '\n' || *c == '\r')
					*c = ' ';
			ef_error("proxy-reload-failed", "generation=%llu error=\"%s\"",
			         (unsigned long long)p->generation, msg);
			ctl_reply(cc, "error %s", msg);
		}
	} else if (strcmp(cmd, "status") == 0) {
		unsigned nl = 0;

		for (struct listener *l = p->listeners; l; l = l->next)
			nl++;
		ctl_reply(cc, "ok %llu listeners=%u connections=%u flows=%u",
		          (unsigned long long)p->generation, nl, p->nconns, p->nflows);
	} else {
		ctl_reply(cc, "error unknown command (use ping, reload or status)");
	}
}

static void ctl_read(struct proxy *p, struct ctl_client *cc)
{
	ssize_t r = recv(cc->h.fd, cc->line + cc->len, sizeof(cc->line) - 1 - cc->len, 0);
	char *nl;

	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		ctl_close(p, cc);
		return;
	}
	cc->len += (size_t)r;
	cc->line[cc->len] = '\0';
	if ((nl = strchr(cc->line, '\n'))) {
		*nl = '\0';
		if (nl > cc->line && nl[-1] == '\r')
			nl[-1] = '\0';
		ctl_command(p, cc, cc->line);
		ctl_close(p, cc);
	} else if (cc->len == sizeof(cc->line) - 1) {
		ctl_reply(cc, "error line too long");
		ctl_close(p, cc);
	}
}

static void ctl_accept(struct proxy *p)
{
	for (;;) {
		int fd = accept4(p->ctl.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ctl_client *cc;

		if (fd < 0)
			return;
		if (p->nctl >= MAX_CTL_CLIENTS || !(cc = calloc(1, sizeof(*cc)))) {
			close(fd);
			continue;
		}
		cc->h = (struct handle){.kind = K_CTL_CLIENT, .fd = fd};
		cc->deadline = now_ms() + CTL_DEADLINE_MS;
		cc->next = p->ctl_clients;
		p->ctl_clients = cc;
		p->nctl++;
		set_events(p, &cc->h, EPOLLIN);
	}
}

/* ---- the loop ---- */

static void free_graveyard(struct proxy *p)
{
	while (p->graveyard) {
		struct handle *h = p->graveyard;

		p->graveyard = h->grave;
		switch (h->kind) {
		case K_CONN_CLIENT:
			conn_free((struct conn *)((char *)h - offsetof(struct conn, client)));
			break;
		case K_FLOW:
			free(h);
			break;
		case K_CTL_CLIENT:
			free(h);
			break;
		case K_TCP_LISTEN:
		case K_UDP_LISTEN:
			listener_free((struct listener *)h);
			break;
		default:
			break;
		}
	}
}

static void sweep(struct proxy *p)
{
	int64_t now = now_ms();

	for (struct listener *l = p->listeners; l; l = l->next) {
		struct flow *f = l->flows, *next;

		for (; f; f = next) {
			next = f->next;
			if (now - f->last_ms >= p->udp_idle_ms) {
				ef_trace("proxy-flow-idle", "listener=\"%s\"", l->desc);
				flow_close(p, f);
			}
		}
	}
	for (struct ctl_client *cc = p->ctl_clients, *next; cc; cc = next) {
		next = cc->next;
		if (now >= cc->deadline)
			ctl_close(p, cc);
	}
	resume_accepting(p); /* after EMFILE */
}

static void dispatch(struct proxy *p, struct handle *h, uint32_t ev)
{
	switch (h->kind) {
	case K_SIGNAL: {
		struct signalfd_siginfo si;

		while (read(h->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo == SIGHUP) {
				if (proxy_reload(p) < 0)
					ef_error("proxy-reload-failed", "error=\"%s\"",
					         ef_error_last());
			} else {
				ef_info("proxy-stop", "signal=%u", si.ssi_signo);
				p->stop = true;
			}
		}
		break;
	}
	case K_CTL_LISTEN:
		ctl_accept(p);
		break;
	case K_CTL_CLIENT:
		ctl_read(p, (struct ctl_client *)h);
		break;
	case K_TCP_LISTEN:
		tcp_accept(p, (struct listener *)h);
		break;
	case K_UDP_LISTEN:
		udp_receive(p, (struct listener *)h);
		break;
	case K_CONN_CLIENT:
		conn_event(p, (struct conn *)((char *)h - offsetof(struct conn, client)), false,
		           ev);
		break;
	case K_CONN_TARGET:
		conn_event(p, (struct conn *)((char *)h - offsetof(struct conn, target)), true, ev);
		break;
	case K_FLOW:
		flow_receive(p, (struct flow *)h);
		break;
	}
}

static int run_loop(struct proxy *p)
{
	struct epoll_event events[64];

	while (!p->stop) {
		struct conn *ready = p->ready;
		int timeout = -1, n;

		if (p->nflows || p->nctl || p->paused || p->trim)
			timeout = p->udp_idle_ms < 1000 ? (int)p->udp_idle_ms : 1000;
		p->ready = NULL;
		n = epoll_wait(p->epfd, events, 64, ready ? 0 : timeout);
		if (n == 0 && p->trim) {
			/* A quiet second after a busy spell: glibc keeps freed
			 * connection buffers in its heap unless asked. */
			p->trim = false;
#ifdef __GLIBC__
			if (p->nconns == 0)
				malloc_trim(0);
#endif
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ef_error("proxy-epoll-failed", "error=\"%s\"", strerror(errno));
			return 1;
		}
		for (int i = 0; i < n; i++) {
			struct handle *h = events[i].data.ptr;

			if (!h->dead)
				dispatch(p, h, events[i].events);
		}
		run_ready(p, ready);
		prune_ready(p);
		free_graveyard(p);
		if (timeout >= 0)
			sweep(p);
		prune_ready(p);
		free_graveyard(p);
	}
	return 0;
}

static void proxy_shutdown(struct proxy *p)
{
	while (p->conns)
		conn_close(p, p->conns);
	while (p->ctl_clients)
		ctl_close(p, p->ctl_clients);
	for (struct listener *l = p->listeners, *next; l; l = next) {
		next = l->next;
		listener_close(p, l);
	}
	p->listeners = NULL;
	free_graveyard(p);
	free(p->udp_buf);
}

static int usage(void)
{
	fprintf(stderr, "usage: edgeflip proxy --state-dir DIR [--max-conns N] [--udp-idle SECS] "
	                "[--log-level LEVEL]\n");
	return 2;
}

static bool parse_uint(unsigned long *out, const char *s, unsigned long lo, unsigned long hi)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return s[0] >= '0' && s[0] <= '9' && errno == 0 && *end == '\0' && *out >= lo && *out <= hi;
}

int ef_proxy_main(int argc, char **argv)
{
	struct proxy px = {.epfd = -1, .max_conns = 1000, .udp_idle_ms = 60000};
	struct proxy *p = &px;
	char pid_path[PATH_MAX];
	struct sockaddr_un sun;
	struct rlimit rl;
	sigset_t mask;
	int i = 1, status = 1, lock_fd = -1, sig_fd = -1, ctl_fd = -1;
	unsigned long v;

	if (i < argc && strcmp(argv[i], "proxy") == 0)
		i++;
	for (; i < argc; i++) {
		if (i + 1 >= argc)
			return usage();
		if (strcmp(argv[i], "--state-dir") == 0) {
			p->dir = argv[++i];
		} else if (strcmp(argv[i], "--max-conns") == 0) {
			if (!parse_uint(&v, argv[++i], 1, 1000000))
				return usage();
			p->max_conns = (unsigned)v;
		} else if (strcmp(argv[i], "--udp-idle") == 0) {
			if (!parse_uint(&v, argv[++i], 1, 86400))
				return usage();
			p->udp_idle_ms = (int64_t)v * 1000;
		} else if (strcmp(argv[i], "--log-level") == 0) {
			if (ef_log_parse_level(&ef_log_threshold, argv[++i]) < 0) {
				fprintf(stderr, "edgeflip proxy: %s\n", ef_error_last());
				return 2;
			}
		} else {
			return usage();
		}
	}
	if (!p->dir)
		return usage();
	if (control_addr(&sun, p->dir) < 0 ||
	    path_join(p->routes_path, sizeof(p->routes_path), p->dir, "routes.json") < 0 ||
	    path_join(pid_path, sizeof(pid_path), p->dir, "proxy.pid") < 0) {
		ef_error("proxy-start-failed", "error=\"%s\"", ef_error_last());
		return 1;
	}
	{
		char dir[PATH_MAX];

		snprintf(dir, sizeof(dir), "%s/proxy", p->dir);
		if (ef_fs_mkdir_p(dir, 0700) < 0) {
			ef_error("proxy-start-failed", "error=\"%s\"", ef_error_last());
			return 1;
		}
	}

	/* Only one proxy per state directory: the pid file's lock says who. */
	lock_fd = open(pid_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock_fd < 0) {
		ef_error("proxy-start-failed", "path=%s error=\"%s\"", pid_path, strerror(errno));
		return 1;
	}
	if (flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
		ef_info("proxy-already-running", "pidfile=%s", pid_path);
		close(lock_fd);
		return 0;
	}
	{
		char pid[32];
		int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());

		if (ftruncate(lock_fd, 0) < 0 || write(lock_fd, pid, (size_t)n) != n)
			ef_warn("proxy-pidfile", "path=%s error=\"%s\"", pid_path, strerror(errno));
	}

	/* Two descriptors per connection, some spare; what is left over
	 * feeds the pipes of bulk transfers (two descriptors each). */
	p->max_pipes = 2 * p->max_conns;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
			getrlimit(RLIMIT_NOFILE, &rl);
		}
		if (rl.rlim_cur != RLIM_INFINITY &&
		    rl.rlim_cur < 2 * (rlim_t)p->max_conns + 64 + MAX_FLOWS + 2 * MAX_CTL_CLIENTS)
			p->max_conns = rl.rlim_cur > 64 + MAX_FLOWS + 2 * MAX_CTL_CLIENTS + 2
			                       ? (unsigned)((rl.rlim_cur - 64 - MAX_FLOWS -
			                                     2 * MAX_CTL_CLIENTS) /
			                                    2)
			                       : 1;
		if (rl.rlim_cur != RLIM_INFINITY) {
			rlim_t used =
			        2 * (rlim_t)p->max_conns + 64 + MAX_FLOWS + 2 * MAX_CTL_CLIENTS;
			rlim_t spare = rl.rlim_cur > used ? (rl.rlim_cur - used) / 2 : 0;

			if (spare < p->max_pipes)
				p->max_pipes = (unsigned)spare;
		}
	}

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->epfd < 0 || sig_fd < 0 || ctl_fd < 0) {
		ef_error("proxy-start-failed", "error=\"%s\"", strerror(errno));
		goto out;
	}
	/* We hold the lock, so a socket file left there is from a dead proxy. */
	unlink(sun.sun_path);
	{
		mode_t old = umask(0077);
		int r = bind(ctl_fd, (struct sockaddr *)&sun, sizeof(sun));

		umask(old);
		if (r < 0 || listen(ctl_fd, 16) < 0) {
			ef_error("proxy-start-failed", "socket=%s error=\"%s\"", sun.sun_path,
			         strerror(errno));
			goto out;
		}
	}
	p->sig = (struct handle){.kind = K_SIGNAL, .fd = sig_fd};
	p->ctl = (struct handle){.kind = K_CTL_LISTEN, .fd = ctl_fd};
	set_events(p, &p->sig, EPOLLIN);
	set_events(p, &p->ctl, EPOLLIN);

	/* Resume the routes in force before a restart. */
	if (access(p->routes_path, F_OK) == 0 && proxy_reload(p) < 0)
		ef_error("proxy-reload-failed", "error=\"%s\"", ef_error_last());
	ef_info("proxy-started", "pid=%ld state_dir=%s generation=%llu max_conns=%u max_pipes=%u",
	        (long)getpid(), p->dir, (unsigned long long)p->generation, p->max_conns,
	        p->max_pipes);
	status = run_loop(p);
	proxy_shutdown(p);
	unlink(sun.sun_path);
out:
	if (ctl_fd >= 0)
		close(ctl_fd);
	if (sig_fd >= 0)
		close(sig_fd);
	if (p->epfd >= 0)
		close(p->epfd);
	close(lock_fd); /* releases the lock last */
	return status;
}
