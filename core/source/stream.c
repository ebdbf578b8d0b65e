/* The socket stream of the Git source, registered with libgit2 as
 * GIT_STREAM_STANDARD under its TLS layer, and the operation (a poll or a
 * fetch) in progress on this thread.
 *
 * libgit2 1.5 has no network timeouts at all, and its transfer progress
 * callback only runs while a pack arrives, not during the TLS handshake or
 * the ref advertisement. Every read and write on this stream waits (in the
 * port, include/edgeflip/sys/net.h) until the deadline of the operation in
 * progress, and this file counts the bytes, so a server that answers one
 * byte per second, or sends an endless advertisement, cannot hang the agent
 * or fill its memory. The same counters give the wire bytes in the
 * statistics. */
#include "source_internal.h"
#include "edgeflip/error.h"
#include "edgeflip/features.h"
#include "edgeflip/sys/clock.h"
#include "edgeflip/sys/net.h"

#include <git2.h>
#include <git2/sys/stream.h>
#ifdef EF_HAVE_GIT_SYS_ERRORS_H
#include <git2/sys/errors.h> /* git_error_set() from libgit2 1.8 on */
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* ---- the socket stream under libgit2's TLS layer ---- */

/* Writes wait in `out` until the stream is read (or `out` is full): a
 * request that libgit2 writes as headers and body, each its own TLS record,
 * leaves in one segment, so the server wakes once and the poll makes one
 * send. Every exchange on this stream ends in a read (TLS, HTTP), so nothing
 * waits for long; close sends what is left if the socket takes it within a millisecond. */
#define OUT_MAX 4096

struct deadline_stream {
	git_stream parent;
	char *host;
	char *port;
	int fd;
	size_t out_len;
	char out[OUT_MAX];
};

/* A failure of the port (port/posix/net.c) on this stream: a passed deadline
 * is the operation's cause, anything else `cause`; libgit2 hears `what`. */
static int stream_fail(int rc, int cause, const char *what)
{
	struct ef_source_op *op = current_op;

	if (op)
		ef_source__op_fail(op, rc == EF_ETIMEOUT ? EF_ETIMEOUT : cause, "%s",
		                   ef_error_last());
	if (rc == EF_ETIMEOUT)
		git_error_set(GIT_ERROR_NET, "timed out");
	else
		git_error_set(GIT_ERROR_NET, "%s: %s", what, ef_error_last());
	return -1;
}

static uint64_t deadline(void)
{
	return current_op ? current_op->deadline_ms : 0;
}

static int stream_connect(git_stream *gs)
{
	struct deadline_stream *st = (struct deadline_stream *)gs;
	int rc;

	if (current_op)
		current_op->connects++;
	if ((rc = ef_net_tcp_connect(&st->fd, st->host, st->port, deadline())) < 0)
		return stream_fail(rc, EF_EUNREACHABLE, "cannot connect");
	return 0;
}

/* Sends what waits in `out`: 0, or -1 with libgit2's error set. */
static int flush_out(struct deadline_stream *st)
{
	int rc;

	if (!st->out_len)
		return 0;
	rc = ef_net_write_all(st->fd, st->out, st->out_len, deadline());
	st->out_len = 0;
	if (rc == EF_ETIMEOUT)
		return stream_fail(EF_ETIMEOUT, EF_ETIMEOUT, "write");
	if (rc < 0) {
		git_error_set(GIT_ERROR_NET, "cannot write to %s: %s", st->host, ef_error_last());
		return -1;
	}
	return 0;
}

static ssize_t stream_read(git_stream *gs, void *data, size_t len)
{
	struct deadline_stream *st = (struct deadline_stream *)gs;
	struct ef_source_op *op = current_op;
	int64_t n;

	if (flush_out(st) < 0)
		return -1;
	n = ef_net_read(st->fd, data, len, deadline());
	if (n < 0) {
		if (n == EF_ETIMEOUT)
			return stream_fail(EF_ETIMEOUT, EF_ETIMEOUT, "read");
		/* Not the operation's cause: libgit2 reports it (a reset
		 * connection is worth the retry of a kept-alive one). */
		git_error_set(GIT_ERROR_NET, "cannot read from %s: %s", st->host, ef_error_last());
		return -1;
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
	return (ssize_t)n;
}

static ssize_t stream_write(git_stream *gs, const char *data, size_t len, int flags)
{
	struct deadline_stream *st = (struct deadline_stream *)gs;
	int rc;

	(void)flags;
	if (len > OUT_MAX - st->out_len && flush_out(st) < 0)
		return -1;
	if (len <= OUT_MAX - st->out_len) {
		memcpy(st->out + st->out_len, data, len);
		st->out_len += len;
		return (ssize_t)len;
	}
	rc = ef_net_write_all(st->fd, data, len, deadline());
	if (rc == EF_ETIMEOUT)
		return stream_fail(EF_ETIMEOUT, EF_ETIMEOUT, "write");
	if (rc < 0) {
		git_error_set(GIT_ERROR_NET, "cannot write to %s: %s", st->host, ef_error_last());
		return -1;
	}
	return (ssize_t)len;
}

static int stream_close(git_stream *gs)
{
	struct deadline_stream *st = (struct deadline_stream *)gs;

	if (st->fd >= 0) {
		/* TLS's close_notify, if the socket takes it now. */
		if (st->out_len)
			(void)ef_net_write_all(st->fd, st->out, st->out_len, ef_clock_ms() + 1);
		close(st->fd);
	}
	st->fd = -1;
	st->out_len = 0;
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
