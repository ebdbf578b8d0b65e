/* The socket stream of the Git source, registered with libgit2 as
 * GIT_STREAM_STANDARD under its TLS layer, and the operation (a poll or a
 * fetch) in progress on this thread.
 *
 * libgit2 1.5 has no network timeouts at all, and its transfer progress
 * callback only runs while a pack arrives, not during the TLS handshake or
 * the ref advertisement. Every read and write on this stream waits with
 * poll() until the deadline of the operation in progress and counts the
 * bytes, so a server that answers one byte per second, or sends an endless
 * advertisement, cannot hang the agent or fill its memory. The same counters
 * give the wire bytes in the statistics. */
#include "source_internal.h"
#include "edgeflip/error.h"
#include "edgeflip/features.h"
#include "edgeflip/sys/clock.h"

#include <git2.h>
#include <git2/sys/stream.h>
#ifdef EF_HAVE_GIT_SYS_ERRORS_H
#include <git2/sys/errors.h> /* git_error_set() from libgit2 1.8 on */
#endif

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static _Thread_local struct ef_source_op *current_op;

void ef_source__op_begin(ef_source *s, struct ef_source_op *op, uint64_t max_bytes)
{
	memset(op, 0, sizeof(*op));
	if (s->timeout_ms)
		op->deadline_ms = ef_clock_ms() + s->timeout_ms;
	op->max_bytes = max_bytes;
	op->bytes_total = &s->stats.bytes_received;
	current_op = op;
}

void ef_source__op_end(void)
{
	current_op = NULL;
}

void ef_source__op_fail(struct ef_source_op *op, int cause, const char *fmt, ...)
{
	va_list ap;

	if (op->cause)
		return; /* keep the first cause */
	op->cause = cause;
	va_start(ap, fmt);
	vsnprintf(op->cause_msg, sizeof(op->cause_msg), fmt, ap);
	va_end(ap);
}

/* Milliseconds left for poll(): -1 without a deadline, 0 when it passed. */
static int time_left(const struct ef_source_op *op)
{
	uint64_t now;

	if (!op || !op->deadline_ms)
		return -1;
	now = ef_clock_ms();
	if (now >= op->deadline_ms)
		return 0;
	return op->deadline_ms - now > 60000 ? 60000 : (int)(op->deadline_ms - now);
}

/* Waits until `fd` is ready for `events` or the operation's deadline passes. */
static int wait_fd(int fd, short events)
{
	struct ef_source_op *op = current_op;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		int left = time_left(op);
		int n;

		if (left == 0) {
			ef_source__op_fail(op, EF_ETIMEOUT, "no answer before the deadline");
			git_error_set(GIT_ERROR_NET, "timed out");
			return -1;
		}
		n = poll(&p, 1, left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR) {
			git_error_set(GIT_ERROR_OS, "poll failed");
			return -1;
		}
	}
}

/* ---- the socket stream under libgit2's TLS layer ---- */

struct deadline_stream {
	git_stream parent;
	char *host;
	char *port;
	int fd;
};

static int connect_one(const struct addrinfo *ai, int *err)
{
	socklen_t len = sizeof(*err);
	int fd, one = 1;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			*err = errno;
			goto fail;
		}
		if (wait_fd(fd, POLLOUT) < 0) {
			*err = ETIMEDOUT;
			goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &len) < 0 || *err != 0)
			goto fail;
	}
	/* Requests go out in several small writes: do not let Nagle delay them. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
fail:
	close(fd);
	return -1;
}

static int stream_connect(git_stream *gs)
{
	struct deadline_stream *st = (struct deadline_stream *)gs;
	struct addrinfo hints = {0}, *res = NULL, *ai;
	struct ef_source_op *op = current_op;
	int rc, err = 0;

	if (op)
		op->connects++;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(st->host, st->port, &hints, &res);
	if (rc != 0) {
		if (op)
			ef_source__op_fail(op, EF_EUNREACHABLE, "cannot resolve host %s: %s",
			                   st->host, gai_strerror(rc));
		git_error_set(GIT_ERROR_NET, "cannot resolve host %s", st->host);
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		st->fd = connect_one(ai, &err);
		if (st->fd >= 0 || (op && op->cause))
			break;
	}
	freeaddrinfo(res);
	if (st->fd < 0) {
		if (op)
			ef_source__op_fail(op, EF_EUNREACHABLE, "cannot connect to %s port %s: %s",
			                   st->host, st->port, strerror(err));
		git_error_set(GIT_ERROR_NET, "cannot connect to %s port %s", st->host, st->port);
		return -1;
	}
	return 0;
}

static ssize_t stream_read(git_stream *gs, void *data, size_t len)
{
	struct deadline_stream *st = (struct deadline_stream *)gs;
	struct ef_source_op *op = current_op;
	ssize_t n;

	for (;;) {
		if (wait_fd(st->fd, POLLIN) < 0)
			return -1;
		n = recv(st->fd, data, len, 0);
		if (n >= 0)
			break;
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
			git_error_set(GIT_ERROR_NET, "cannot read from %s: %s", st->host,
			              strerror(errno));
			return -1;
		}
	}
	if (op) {
		op->bytes_read += (uint64_t)n;
		if (op->bytes_total)
			*op->bytes_total += (uint64_t)n;
		if (op->max_bytes && op->bytes_read > op->max_bytes) {
			ef_source__op_fail(op, EF_ETOOBIG, "received more than %llu bytes",
			                   (unsigned long long)op->max_bytes);
			git_error_set(GIT_ERROR_NET, "size limit reached");
			return -1;
		}
	}
	return n;
}

static ssize_t stream_write(git_stream *gs, const char *data, size_t len, int flags)
{
	struct deadline_stream *st = (struct deadline_stream *)gs;
	size_t done = 0;

	while (done < len) {
		ssize_t n;

		if (wait_fd(st->fd, POLLOUT) < 0)
			return -1;
		n = send(st->fd, data + done, len - done, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			git_error_set(GIT_ERROR_NET, "cannot write to %s: %s", st->host,
			              strerror(errno));
			return -1;
		}
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static int stream_close(git_stream *gs)
{
	struct deadline_stream *st = (struct deadline_stream *)gs;

	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
	return 0;
}

static void stream_free(git_stream *gs)
{
	struct deadline_stream *st = (struct deadline_stream *)gs;

	stream_close(gs);
	free(st->host);
	free(st->port);
	free(st);
}

int ef_source__stream_new(git_stream **out, const char *host, const char *port)
{
	struct deadline_stream *st = calloc(1, sizeof(*st));

	if (!st || !(st->host = strdup(host)) || !(st->port = strdup(port))) {
		if (st)
			free(st->host);
		free(st);
		git_error_set_oom();
		return -1;
	}
	st->parent.version = GIT_STREAM_VERSION;
	st->parent.connect = stream_connect;
	st->parent.read = stream_read;
	st->parent.write = stream_write;
	st->parent.close = stream_close;
	st->parent.free = stream_free;
	st->fd = -1;
	*out = &st->parent;
	return 0;
}
