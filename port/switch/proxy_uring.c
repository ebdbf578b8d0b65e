/* The proxy's io_uring path: established TCP connections move their bytes
 * through one ring instead of a readiness event and a recv()/send() pair
 * per chunk. The operations of all connections are queued as they come and
 * handed to the kernel together with the wait for the next completions, in
 * one io_uring_enter(): on a busy proxy many chunks cost one system call.
 *
 * Each direction of a connection has at most one operation in flight: a
 * receive, or the send of what it received. A receive takes its buffer
 * from a ring of provided buffers only when bytes arrive, so a connection
 * that sends nothing holds no buffer, as on the epoll path. Sends are
 * MSG_DONTWAIT: a buffer is never held by a destination that does not
 * read; when one is full, or a receive fills a whole buffer (a bulk
 * transfer), the connection moves to the epoll path for good, where
 * splice() carries bulk bytes without copying and a full destination
 * waits for EPOLLOUT. Listeners, the control socket, signals and UDP stay
 * on epoll, whose descriptor the ring watches.
 *
 * A closed connection's operations are cancelled; its sockets stay open
 * (so their numbers cannot be reused under a queued operation) and its
 * struct stays allocated until the last completion.
 *
 * Chosen with `--io io_uring` (or EDGEFLIP_PROXY_IO=io_uring; needs
 * provided-buffer rings, Linux 5.19). Not the default: on the machines
 * measured (docs/figures.md) it spends 5-8 % less CPU per request than
 * epoll but serves no more requests, the kernel's TCP and wake-ups being
 * most of the cost either way. */
#define _GNU_SOURCE
#include "proxy_int.h"
#include "edgeflip/features.h"
#include "edgeflip/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#ifdef EF_HAVE_URING
#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define RING_ENTRIES 256
#define RBUF_SIZE    4096 /* a receive that fills one turns its direction bulk */
#define RBUF_FIRST   16   /* buffers given to the ring at start */
#define RBUF_MAX     32   /* doubled up to this while receives find none (a power of two) */
#define BGID         1

/* user_data: the connection's address with the operation in its low bits
 * (a struct conn is at least 8-aligned); 0 for cancels, whose completions
 * say nothing we need. */
enum op { OP_RX_C, OP_RX_T, OP_TX_T, OP_TX_C, OP_CONNECT };
#define UD_IGNORE 0
#define UD_EPOLL  8 /* the watch on the epoll descriptor */

struct ef_uring {
	struct io_uring ring;
	struct io_uring_buf_ring *br;
	char *bufs;     /* RBUF_MAX * RBUF_SIZE mapped; pages exist once used */
	unsigned nbufs; /* buffers given to the ring so far */
	unsigned out;   /* taken by receives and not given back */
	bool epoll_armed, epoll_ready;
	unsigned limbo; /* closed connections with operations in flight */
};

static uint64_t ud_of(struct conn *c, enum op op)
{
	return (uint64_t)(uintptr_t)c | (uint64_t)op;
}

static struct io_uring_sqe *sqe_get(struct ef_uring *u)
{
	struct io_uring_sqe *s = io_uring_get_sqe(&u->ring);

	if (!s) {
		/* The queue is full: hand it over now, then there is room. */
		io_uring_submit(&u->ring);
		s = io_uring_get_sqe(&u->ring);
	}
	return s;
}

/* ---- buffers ---- */

static char *rbuf_addr(struct ef_uring *u, unsigned bid)
{
	return u->bufs + (size_t)bid * RBUF_SIZE;
}

static void rbuf_give(struct ef_uring *u, unsigned bid)
{
	io_uring_buf_ring_add(u->br, rbuf_addr(u, bid), RBUF_SIZE, (unsigned short)bid,
	                      io_uring_buf_ring_mask(RBUF_MAX), 0);
	io_uring_buf_ring_advance(u->br, 1);
}

/* The direction's buffer, done with: back to the ring or to the pool. */
static void dir_release(struct proxy *p, struct dir_buf *b)
{
	if (b->data && b->bid >= 0) {
		rbuf_give(p->ur, (unsigned)b->bid);
		p->ur->out--;
	} else if (b->data) {
		ef_proxy_buf_put(p, b->data);
	}
	b->data = NULL;
	b->bid = -1;
	b->off = b->len = 0;
}

/* The bytes go from the ring's buffer into one of the pool's, so that the
 * ring's buffer is not held while they wait (for a connect, a full
 * destination, the move to epoll). */
static int dir_to_pool(struct proxy *p, struct dir_buf *b)
{
	char *d;

	if (b->bid < 0 || !b->data)
		return 0;
	if (!(d = ef_proxy_buf_get(p)))
		return -1;
	memcpy(d, b->data + b->off, b->len);
	rbuf_give(p->ur, (unsigned)b->bid);
	p->ur->out--;
	b->data = d;
	b->bid = -1;
	b->off = 0;
	return 0;
}

/* ---- operations ---- */

static int queue_recv(struct proxy *p, struct conn *c, bool t2c)
{
	struct io_uring_sqe *s = sqe_get(p->ur);
	enum op op = t2c ? OP_RX_T : OP_RX_C;

	if (!s)
		return -1;
	io_uring_prep_recv(s, t2c ? c->target.fd : c->client.fd, NULL, RBUF_SIZE, 0);
	s->flags |= IOSQE_BUFFER_SELECT;
	s->buf_group = BGID;
	io_uring_sqe_set_data64(s, ud_of(c, op));
	c->ops |= (uint8_t)(1u << op);
	return 0;
}

static int queue_send(struct proxy *p, struct conn *c, bool t2c)
{
	struct io_uring_sqe *s = sqe_get(p->ur);
	struct dir_buf *b = t2c ? &c->t2c : &c->c2t;
	enum op op = t2c ? OP_TX_C : OP_TX_T;

	if (!s)
		return -1;
	/* MSG_DONTWAIT: a full destination answers EAGAIN at once instead of
	 * holding the buffer until it reads. */
	io_uring_prep_send(s, t2c ? c->client.fd : c->target.fd, b->data + b->off, b->len,
	                   MSG_DONTWAIT | MSG_NOSIGNAL);
	io_uring_sqe_set_data64(s, ud_of(c, op));
	c->ops |= (uint8_t)(1u << op);
	return 0;
}

static void queue_cancel(struct ef_uring *u, uint64_t ud)
{
	struct io_uring_sqe *s = sqe_get(u);

	if (!s)
		return;
	io_uring_prep_cancel64(s, ud, 0);
	io_uring_sqe_set_data64(s, UD_IGNORE);
}

/* ---- a connection's steps ---- */

/* What a direction does next when nothing of it is in flight: send what
 * it holds, pass on the source's FIN, or receive again. */
static int dir_next(struct proxy *p, struct conn *c, bool t2c)
{
	struct dir_buf *b = t2c ? &c->t2c : &c->c2t;
	struct dir_buf *other = t2c ? &c->c2t : &c->t2c;
	uint8_t busy =
	        (uint8_t)(t2c ? (1u << OP_RX_T | 1u << OP_TX_C) : (1u << OP_RX_C | 1u << OP_TX_T));

	if ((c->ops & busy) || (t2c && !c->connected))
		return 0;
	if (b->len > 0)
		return c->connected ? queue_send(p, c, t2c) : 0;
	if (b->eof) {
		if (!b->shut && c->connected) {
			/* When the other way is over too, the close that
			 * follows carries the FIN. */
			if (!other->shut)
				shutdown(t2c ? c->client.fd : c->target.fd, SHUT_WR);
			b->shut = true;
		}
		return 0;
	}
	if (c->to_epoll)
		return 0;
	return queue_recv(p, c, t2c);
}

static void conn_step(struct proxy *p, struct conn *c)
{
	if (dir_next(p, c, false) < 0 || dir_next(p, c, true) < 0) {
		ef_proxy_conn_reset(p, c, ENOMEM);
		return;
	}
	if (c->c2t.shut && c->t2c.shut) {
		ef_proxy_conn_close(p, c);
		return;
	}
	if (!c->to_epoll)
		return;
	if (c->ops == 0) {
		ef_proxy_conn_to_epoll(p, c);
		return;
	}
	/* A receive waiting on the other direction would wait for ever. */
	for (unsigned op = OP_RX_C; op <= OP_RX_T; op++)
		if ((c->ops & ~c->cancelled) & (1u << op)) {
			queue_cancel(p->ur, ud_of(c, (enum op)op));
			c->cancelled |= (uint8_t)(1u << op);
		}
}

/* The last operation of a closed connection completed. */
static void limbo_end(struct proxy *p, struct conn *c)
{
	dir_release(p, &c->c2t);
	dir_release(p, &c->t2c);
	ef_proxy_close_handle(&c->client);
	ef_proxy_close_handle(&c->target);
	p->ur->limbo--;
	if (c->orphan)
		free(c);
}

static void on_send(struct proxy *p, struct conn *c, bool t2c, int res)
{
	struct dir_buf *b = t2c ? &c->t2c : &c->c2t;

	if (res < 0 && res != -EAGAIN) {
		ef_proxy_conn_reset(p, c, -res);
		return;
	}
	if (res > 0) {
		b->off += (uint32_t)res;
		b->len -= (uint32_t)res;
		ef_proxy_conn_touch(p, c);
	}
	if (b->len == 0) {
		dir_release(p, b);
		return;
	}
	/* The destination is full: the rest waits for EPOLLOUT on the epoll
	 * path, in a buffer of its own. */
	c->to_epoll = true;
	if (dir_to_pool(p, b) < 0)
		ef_proxy_conn_reset(p, c, ENOMEM);
}

static void on_recv(struct proxy *p, struct conn *c, bool t2c, int res, unsigned flags)
{
	struct dir_buf *b = t2c ? &c->t2c : &c->c2t;

	if (res == -ENOBUFS && p->ur->nbufs < RBUF_MAX) {
		/* Every ring buffer is taken: twice as many, and receive
		 * again. */
		for (unsigned i = 0, add = p->ur->nbufs; i < add && p->ur->nbufs < RBUF_MAX; i++)
			rbuf_give(p->ur, p->ur->nbufs++);
		return;
	}
	if (res == -ENOBUFS) {
		/* Still none at the most the ring has (many connections at
		 * once): the bytes waiting on this socket move as on the
		 * epoll path, with a system call each way. */
		if (!(b->data = ef_proxy_buf_get(p))) {
			ef_proxy_conn_reset(p, c, ENOMEM);
			return;
		}
		res = (int)recv(t2c ? c->target.fd : c->client.fd, b->data, TCP_BUF, MSG_DONTWAIT);
		if (res < 0)
			res = -errno;
		if (res <= 0)
			dir_release(p, b);
		if (res == -EAGAIN || res == -EINTR)
			return; /* nothing after all: receive again */
	} else if (res > 0) {
		b->data = rbuf_addr(p->ur, flags >> IORING_CQE_BUFFER_SHIFT);
		b->bid = (int16_t)(flags >> IORING_CQE_BUFFER_SHIFT);
	}
	if (res == -ECANCELED)
		return;
	if (res < 0) {
		ef_proxy_conn_reset(p, c, -res);
		return;
	}
	if (res == 0) {
		b->eof = true;
		return;
	}
	b->off = 0;
	b->len = (uint32_t)res;
	ef_proxy_conn_touch(p, c);
	ef_proxy_observe(c, t2c, b->data, (size_t)res);
	if (res == (b->bid >= 0 ? RBUF_SIZE : TCP_BUF)) {
		/* Bulk: splice() on the epoll path from now on. */
		b->full = true;
		c->to_epoll = true;
	}
	if (!t2c && !c->connected) {
		if (dir_to_pool(p, b) < 0)
			ef_proxy_conn_reset(p, c, ENOMEM);
	} else if (b->bid < 0) {
		/* Read outside the ring: sent at once too, so that the pool's
		 * buffer is back before the next one is needed. */
		ssize_t r = send(t2c ? c->client.fd : c->target.fd, b->data, b->len,
		                 MSG_DONTWAIT | MSG_NOSIGNAL);

		on_send(p, c, t2c, r >= 0 ? (int)r : errno == EINTR ? -EAGAIN : -errno);
	}
}

static void on_connect(struct proxy *p, struct conn *c, int res)
{
	if (res < 0 || (res & (POLLERR | POLLHUP))) {
		int err = res < 0 ? -res : 0;
		socklen_t len = sizeof(err);

		if (res >= 0 && getsockopt(c->target.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		ef_proxy_connect_failed(p, c, err ? err : ECONNRESET);
		return;
	}
	ef_proxy_mark_connected(c);
	ef_proxy_conn_touch(p, c);
}

static void on_cqe(struct proxy *p, uint64_t ud, int res, unsigned flags)
{
	struct ef_uring *u = p->ur;
	struct conn *c = (struct conn *)(uintptr_t)(ud & ~(uint64_t)7);
	enum op op = (enum op)(ud & 7);

	if (ud == UD_IGNORE)
		return;
	if (ud == UD_EPOLL) {
		u->epoll_ready = true;
		if (!(flags & IORING_CQE_F_MORE))
			u->epoll_armed = false;
		return;
	}
	c->ops &= (uint8_t) ~(1u << op);
	c->cancelled &= (uint8_t) ~(1u << op);
	if ((op == OP_RX_C || op == OP_RX_T) && res > 0)
		u->out++; /* the completion took a buffer */
	if (c->client.dead) {
		/* Closed meanwhile: only what the completion holds is given
		 * back. */
		if ((op == OP_RX_C || op == OP_RX_T) && res > 0) {
			rbuf_give(u, flags >> IORING_CQE_BUFFER_SHIFT);
			u->out--;
		}
		if (c->ops == 0)
			limbo_end(p, c);
		return;
	}
	switch (op) {
	case OP_RX_C:
	case OP_RX_T:
		on_recv(p, c, op == OP_RX_T, res, flags);
		break;
	case OP_TX_T:
	case OP_TX_C:
		on_send(p, c, op == OP_TX_C, res);
		break;
	case OP_CONNECT:
		on_connect(p, c, res);
		break;
	}
	/* Closed by this completion: with nothing else in flight it was
	 * closed whole; otherwise its last completion ends it (above). */
	if (!c->client.dead)
		conn_step(p, c);
}

/* ---- the interface ---- */

int ef_proxy_uring_start(struct proxy *p, struct conn *c)
{
	struct io_uring_sqe *s;

	c->ring = true;
	if (!c->connected) {
		if (!(s = sqe_get(p->ur)))
			return -1;
		io_uring_prep_poll_add(s, c->target.fd, POLLOUT);
		io_uring_sqe_set_data64(s, ud_of(c, OP_CONNECT));
		c->ops |= 1u << OP_CONNECT;
	}
	conn_step(p, c);
	return 0;
}

bool ef_proxy_uring_close(struct proxy *p, struct conn *c)
{
	struct ef_uring *u = p->ur;

	for (unsigned op = OP_RX_C; op <= OP_CONNECT; op++)
		if (c->ops & (1u << op))
			queue_cancel(u, ud_of(c, (enum op)op));
	/* A buffer with no send in flight goes back now. */
	if (!(c->ops & (1u << OP_TX_T)))
		dir_release(p, &c->c2t);
	if (!(c->ops & (1u << OP_TX_C)))
		dir_release(p, &c->t2c);
	if (c->ops)
		u->limbo++;
	return c->ops != 0;
}

static void reap(struct proxy *p)
{
	struct io_uring_cqe *cqe;

	/* Bounded, so that the epoll side gets its turn under load. */
	for (int i = 0; i < 4096 && io_uring_peek_cqe(&p->ur->ring, &cqe) == 0; i++) {
		uint64_t ud = cqe->user_data;
		int res = cqe->res;
		unsigned flags = cqe->flags;

		io_uring_cqe_seen(&p->ur->ring, cqe);
		on_cqe(p, ud, res, flags);
	}
}

int ef_proxy_uring_wait(struct proxy *p, int timeout, struct epoll_event *ev, int max)
{
	struct ef_uring *u = p->ur;
	struct io_uring_cqe *cqe;
	int r, n = 0;

	if (!u->epoll_armed) {
		struct io_uring_sqe *s = sqe_get(u);

		if (!s) {
			errno = EBUSY;
			return -1;
		}
		io_uring_prep_poll_multishot(s, p->epfd, POLLIN);
		io_uring_sqe_set_data64(s, UD_EPOLL);
		u->epoll_armed = true;
	}
	if (p->epoll_more)
		timeout = 0;
	if (timeout == 0) {
		r = io_uring_submit_and_get_events(&u->ring);
	} else if (timeout < 0) {
		r = io_uring_submit_and_wait(&u->ring, 1);
	} else {
		struct __kernel_timespec ts = {.tv_sec = timeout / 1000,
		                               .tv_nsec = (long long)(timeout % 1000) * 1000000};

		r = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
	}
	if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY && r != -EAGAIN) {
		errno = -r;
		return -1;
	}
	p->now = ef_proxy_now();
	reap(p);
	if (u->epoll_ready || p->epoll_more) {
		u->epoll_ready = false;
		p->epoll_more = false;
		n = epoll_wait(p->epfd, ev, max, 0);
		if (n == max)
			p->epoll_more = true;
	}
	return n;
}

void ef_proxy_uring_trim(struct proxy *p)
{
	struct ef_uring *u = p->ur;

	/* Every buffer is in the ring: none holds bytes; the kernel fills
	 * the next one used with fresh zero pages. */
	if (u && u->out == 0)
		madvise(u->bufs, (size_t)u->nbufs * RBUF_SIZE, MADV_DONTNEED);
}

int ef_proxy_uring_init(struct proxy *p, char *why, size_t n)
{
	struct ef_uring *u;
	struct io_uring_buf_reg reg = {0};
	void *brmem = NULL;
	int r;

	if (!(u = calloc(1, sizeof(*u)))) {
		snprintf(why, n, "out of memory");
		return -1;
	}
	/* Completions are run in our own io_uring_enter(), not in whoever
	 * woke the socket, and without an interrupt of the proxy for each
	 * (6.1); without, as they come (5.19). */
	r = io_uring_queue_init(RING_ENTRIES, &u->ring,
	                        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);
	if (r == -EINVAL)
		r = io_uring_queue_init(RING_ENTRIES, &u->ring,
		                        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG);
	if (r == -EINVAL)
		r = io_uring_queue_init(RING_ENTRIES, &u->ring, 0);
	if (r < 0) {
		snprintf(why, n, "io_uring_queue_init: %s", strerror(-r));
		free(u);
		return -1;
	}
	u->bufs = mmap(NULL, (size_t)RBUF_MAX * RBUF_SIZE, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (u->bufs == MAP_FAILED ||
	    posix_memalign(&brmem, 4096, RBUF_MAX * sizeof(struct io_uring_buf)) != 0) {
		snprintf(why, n, "out of memory");
		goto fail;
	}
	u->br = brmem;
	io_uring_buf_ring_init(u->br);
	reg.ring_addr = (uint64_t)(uintptr_t)u->br;
	reg.ring_entries = RBUF_MAX;
	reg.bgid = BGID;
	r = io_uring_register_buf_ring(&u->ring, &reg, 0);
	if (r < 0) {
		/* Provided-buffer rings came with Linux 5.19. */
		snprintf(why, n, "io_uring_register_buf_ring: %s", strerror(-r));
		goto fail;
	}
	u->nbufs = 0;
	for (unsigned i = 0; i < RBUF_FIRST; i++)
		rbuf_give(u, u->nbufs++);
	p->ur = u;
	return 0;
fail:
	if (u->bufs && u->bufs != MAP_FAILED)
		munmap(u->bufs, (size_t)RBUF_MAX * RBUF_SIZE);
	free(brmem);
	io_uring_queue_exit(&u->ring);
	free(u);
	return -1;
}

void ef_proxy_uring_free(struct proxy *p)
{
	struct ef_uring *u = p->ur;

	if (!u)
		return;
	/* The closed connections' cancels complete: their structs are
	 * freed (bounded: 100 ms). */
	for (int i = 0; i < 50 && u->limbo; i++) {
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = {.tv_nsec = 2000000};

		io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
		reap(p);
	}
	io_uring_queue_exit(&u->ring); /* cancels what is left */
	munmap(u->bufs, (size_t)RBUF_MAX * RBUF_SIZE);
	free(u->br);
	free(u);
	p->ur = NULL;
}

#else /* !EF_HAVE_URING: the epoll path only */

int ef_proxy_uring_init(struct proxy *p, char *why, size_t n)
{
	snprintf(why, n, "built without liburing");
	return -1;
}

void ef_proxy_uring_free(struct proxy *p)
{
}

int ef_proxy_uring_wait(struct proxy *p, int timeout, struct epoll_event *ev, int max)
{
	return epoll_wait(p->epfd, ev, max, timeout);
}

int ef_proxy_uring_start(struct proxy *p, struct conn *c)
{
	errno = ENOSYS;
	return -1;
}

bool ef_proxy_uring_close(struct proxy *p, struct conn *c)
{
	return false;
}

void ef_proxy_uring_trim(struct proxy *p)
{
}

#endif
