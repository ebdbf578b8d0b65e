/* The proxy process's TCP connections: accepting under caps, moving bytes,
 * buffers from a pool, deadlines (connect, idle, drain), the PROXY protocol.
 *
 * A connection that sends nothing holds no buffer: only its struct (about
 * 300 bytes) and two sockets. Every connection sits on one of its
 * listener's lists in deadline order, so the nearest deadline is at a
 * list's head and nothing is scanned to find it. */
#define _GNU_SOURCE
#include "proxy_int.h"
#include "edgeflip/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

/* ---- lists ---- */

static void list_append(struct conn_list *list, struct conn *c)
{
	c->next = NULL;
	c->prev = list->tail;
	if (list->tail)
		list->tail->next = c;
	else
		list->head = c;
	list->tail = c;
}

static void list_remove(struct conn_list *list, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		list->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		list->tail = c->prev;
	c->prev = c->next = NULL;
}

static void drain_append(struct conn_list *list, struct conn *c)
{
	c->dnext = NULL;
	c->dprev = list->tail;
	if (list->tail)
		list->tail->dnext = c;
	else
		list->head = c;
	list->tail = c;
}

static void drain_remove(struct conn_list *list, struct conn *c)
{
	if (c->dprev)
		c->dprev->dnext = c->dnext;
	else
		list->head = c->dnext;
	if (c->dnext)
		c->dnext->dprev = c->dprev;
	else
		list->tail = c->dprev;
	c->dprev = c->dnext = NULL;
}

static struct conn_list *home(struct conn *c)
{
	return c->connected ? &c->l->active : &c->l->connecting;
}

/* ---- buffers ---- */

char *ef_proxy_buf_get(struct proxy *p)
{
	char *b = p->pool;

	if (b) {
		memcpy(&p->pool, b, sizeof(char *));
		p->npool--;
		return b;
	}
	return malloc(TCP_BUF);
}

void ef_proxy_buf_put(struct proxy *p, char *b)
{
	if (!b)
		return;
	if (p->npool >= BUF_POOL_MAX) {
		free(b);
		return;
	}
	memcpy(b, &p->pool, sizeof(char *));
	p->pool = b;
	p->npool++;
}

void ef_proxy_pool_release(struct proxy *p)
{
	while (p->pool) {
		char *b = p->pool;

		memcpy(&p->pool, b, sizeof(char *));
		free(b);
	}
	p->npool = 0;
}

/* ---- closing ---- */

static void dir_close_pipe(struct proxy *p, struct dir_buf *b)
{
	if (b->pipe[0] < 0)
		return;
	close(b->pipe[0]);
	close(b->pipe[1]);
	b->pipe[0] = b->pipe[1] = -1;
	p->npipes--;
}

void ef_proxy_conn_close(struct proxy *p, struct conn *c)
{
	struct listener *l = c->l;

	if (c->client.dead)
		return;
	/* On the ring, the sockets stay open while operations on them are in
	 * flight (their numbers must not be reused under them); the ring
	 * gives back its buffers itself. */
	if (!c->ring || !ef_proxy_uring_close(p, c)) {
		ef_proxy_close_handle(&c->client);
		ef_proxy_close_handle(&c->target);
	}
	dir_close_pipe(p, &c->c2t);
	dir_close_pipe(p, &c->t2c);
	if (!c->ring) {
		ef_proxy_buf_put(p, c->c2t.data);
		ef_proxy_buf_put(p, c->t2c.data);
		c->c2t.data = c->t2c.data = NULL;
	}
	c->target.dead = true;
	list_remove(home(c), c);
	if (c->is_draining) {
		drain_remove(&l->draining, c);
		l->ndraining--;
	}
	l->nconns--;
	p->nconns--;
	if (p->nconns == 0)
		p->trim = true;
	ef_proxy_bury(p, &c->client);
	if (l->closed && l->nconns == 0)
		ef_proxy_listener_release(p, l);
}

void ef_proxy_conn_free(struct conn *c)
{
	if (c->ops) {
		c->orphan = true; /* the ring frees it at its last completion */
		return;
	}
	free(c);
}

/* ---- counting for the canary analysis ---- */

/* The counters of the connection's slot; NULL once its backend is neither
 * the listener's target nor its canary (it drains on an old one). */
static ef_slot_counters *slot_count(struct conn *c)
{
	return c->slot < 2 ? &c->l->count[c->slot] : NULL;
}

static void count_connect_failed(struct conn *c)
{
	ef_slot_counters *k = slot_count(c);

	if (k)
		k->connect_failed++;
}

/* The connect to the target failed (`err`): said (rate-limited), counted,
 * the connection closed. */
void ef_proxy_connect_failed(struct proxy *p, struct conn *c, int err)
{
	if (ef_proxy_warn_now(W_CONNECT))
		ef_warn("proxy-connect-failed", "listener=\"%s\" target=%s error=\"%s\"",
		        c->l->desc, c->slot == 1 ? c->l->canary_desc : c->l->target_desc,
		        strerror(err));
	count_connect_failed(c);
	ef_proxy_conn_close(p, c);
}

/* The connect to the target completed: from the connecting list to the
 * active one. */
void ef_proxy_mark_connected(struct conn *c)
{
	list_remove(&c->l->connecting, c);
	c->connected = true;
	list_append(&c->l->active, c);
}

/* Looks at bytes as they pass, never changes or keeps them. On an http
 * port the first bytes the target sends after the client's bytes are the
 * start of a response: its status line is read from them (up to 12 bytes
 * over one or more reads). `data` is NULL for bytes spliced through a
 * pipe, which pump() never does while a status line is awaited. */
void ef_proxy_observe(struct conn *c, bool t2c, const char *data, size_t n)
{
	ef_slot_counters *k = slot_count(c);
	int code;

	if (!t2c) {
		if (c->l->http && c->in_response) {
			/* A new request after (part of) a response: keep-alive. */
			c->in_response = false;
			c->await_status = true;
			c->scan = (ef_http_scan){0};
		}
		return;
	}
	c->answered = true;
	c->in_response = true;
	if (!c->await_status || !data)
		return;
	code = ef_http_status_scan(&c->scan, data, n);
	if (code == 0)
		return;
	c->await_status = false;
	if (code > 0 && k) {
		k->responses++;
		if (code >= 500)
			k->http_5xx++;
	}
}

/* ---- moving bytes ---- */

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
	ef_proxy_buf_put(p, b->data);
	b->data = NULL;
}

/* Moves bytes from src to dst through b until either would block, the
 * source ends, or PUMP_ROUNDS are used up. `open`: dst is connected.
 * `last`: the other direction is over, so the close that follows carries
 * our FIN and no shutdown() is needed. Returns -1 when the connection
 * must be closed, 1 when there may be more to move. */
static int pump(struct proxy *p, struct conn *c, bool t2c, bool open, bool last)
{
	struct handle *src = t2c ? &c->target : &c->client;
	struct handle *dst = t2c ? &c->client : &c->target;
	struct dir_buf *b = t2c ? &c->t2c : &c->c2t;

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
				b->off += (uint32_t)r;
				b->len -= (uint32_t)r;
				if (b->len == 0) {
					/* Drained: the buffer goes back to the pool. */
					b->off = 0;
					ef_proxy_buf_put(p, b->data);
					b->data = NULL;
				}
			} else {
				b->inpipe -= (uint32_t)r;
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
		if (b->pipe[0] >= 0 && !(t2c && c->await_status)) {
			/* Only into an empty pipe: EAGAIN then means the socket
			 * is empty, not the pipe full. */
			r = splice(src->fd, NULL, b->pipe[1], NULL, PIPE_CHUNK,
			           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (r > 0) {
				b->inpipe = (uint32_t)r;
				ef_proxy_observe(c, t2c, NULL, (size_t)r);
			}
		} else {
			/* Also a bulk direction's first read of an HTTP response:
			 * its status line is read in user space, the rest of the
			 * response is spliced. */
			/* A buffer only now that the socket says it has data. */
			if (!b->data && !(b->data = ef_proxy_buf_get(p))) {
				errno = ENOMEM;
				return -1;
			}
			r = recv(src->fd, b->data, TCP_BUF, 0);
			if (r > 0) {
				b->len = (uint32_t)r;
				b->full = r == TCP_BUF;
				ef_proxy_observe(c, t2c, b->data, (size_t)r);
				/* A short read emptied the socket: the next data
				 * brings a new edge, no recv() just to hear EAGAIN.
				 * A FIN reported before this read comes after all
				 * its data: the end is reached, no recv() just to
				 * hear 0 (response and FIN often come together). An
				 * error reported brings no edge: read it. */
				if (!b->full && src->fin)
					b->eof = true;
				else if (!b->full && !src->rdhup)
					src->rd = false;
			} else {
				ef_proxy_buf_put(p, b->data);
				b->data = NULL;
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

void ef_proxy_conn_reset(struct proxy *p, struct conn *c, int err)
{
	ef_slot_counters *k = slot_count(c);

	if (k && !c->answered)
		k->resets++;
	ef_debug("proxy-conn-reset", "listener=\"%s\" error=\"%s\"", c->l->desc, strerror(err));
	ef_proxy_conn_close(p, c);
}

static void conn_run(struct proxy *p, struct conn *c)
{
	int a, b = 0;

	a = pump(p, c, false, c->connected, c->t2c.shut);
	if (a >= 0 && c->connected)
		b = pump(p, c, true, true, c->c2t.shut);
	if (a < 0 || b < 0) {
		ef_proxy_conn_reset(p, c, errno);
		return;
	}
	if (c->c2t.shut && c->t2c.shut) {
		ef_proxy_conn_close(p, c);
		return;
	}
	if ((a > 0 || b > 0) && !c->queued) {
		/* Edge-triggered: no new event comes for what is left. */
		c->queued = true;
		c->ready_next = p->ready;
		p->ready = c;
	}
}

void ef_proxy_conn_event(struct proxy *p, struct conn *c, bool on_target, uint32_t ev)
{
	struct handle *h = on_target ? &c->target : &c->client;

	if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		h->rd = true;
	if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		h->rdhup = true;
	if ((ev & (EPOLLRDHUP | EPOLLHUP)) && !(ev & EPOLLERR))
		h->fin = true;
	if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		h->wr = true;
	if (on_target && !c->connected) {
		if (ev & (EPOLLERR | EPOLLHUP)) {
			int err = 0;
			socklen_t len = sizeof(err);

			if (getsockopt(c->target.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
				err = errno;
			ef_proxy_connect_failed(p, c, err ? err : ECONNRESET);
			return;
		}
		if (!(ev & EPOLLOUT))
			return;
		ef_proxy_mark_connected(c);
	}
	ef_proxy_conn_touch(p, c);
	conn_run(p, c);
}

/* Activity: the idle deadline moves on, to the list's tail. Connecting
 * ones keep their accept time: the connect deadline counts from it. */
void ef_proxy_conn_touch(struct proxy *p, struct conn *c)
{
	if (!c->connected)
		return;
	c->last_ms = p->now;
	if (c->l->active.tail != c) {
		list_remove(&c->l->active, c);
		list_append(&c->l->active, c);
	}
}

/* Pumps the connections that stopped at PUMP_ROUNDS in the last turn. */
void ef_proxy_run_ready(struct proxy *p, struct conn *ready)
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
void ef_proxy_prune_ready(struct proxy *p)
{
	struct conn **pp = &p->ready;

	while (*pp) {
		if ((*pp)->client.dead)
			*pp = (*pp)->ready_next;
		else
			pp = &(*pp)->ready_next;
	}
}

/* ---- the PROXY protocol (version 2, binary) ---- */

static const char pp2_sig[12] = "\r\n\r\n\0\r\nQUIT\n";

/* Puts the header in front of everything the client sends: the client's
 * address and the address it connected to. */
static int pp2_header(struct proxy *p, struct conn *c)
{
	struct sockaddr_storage src, dst;
	socklen_t slen = sizeof(src), dlen = sizeof(dst);
	char *h;
	uint32_t n = 16;

	if (getpeername(c->client.fd, (struct sockaddr *)&src, &slen) < 0 ||
	    getsockname(c->client.fd, (struct sockaddr *)&dst, &dlen) < 0 ||
	    !(h = c->c2t.data = ef_proxy_buf_get(p)))
		return -1;
	memcpy(h, pp2_sig, sizeof(pp2_sig));
	h[12] = 0x21; /* version 2, PROXY */
	if (src.ss_family == AF_INET && dst.ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)&src, *d = (const void *)&dst;

		h[13] = 0x11; /* TCP over IPv4 */
		memcpy(h + n, &s->sin_addr, 4);
		memcpy(h + n + 4, &d->sin_addr, 4);
		memcpy(h + n + 8, &s->sin_port, 2);
		memcpy(h + n + 10, &d->sin_port, 2);
		n += 12;
	} else if (src.ss_family == AF_INET6 && dst.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)&src, *d = (const void *)&dst;

		h[13] = 0x21; /* TCP over IPv6 */
		memcpy(h + n, &s->sin6_addr, 16);
		memcpy(h + n + 16, &d->sin6_addr, 16);
		memcpy(h + n + 32, &s->sin6_port, 2);
		memcpy(h + n + 34, &d->sin6_port, 2);
		n += 36;
	} else {
		h[12] = 0x20; /* LOCAL: no addresses */
		h[13] = 0x00;
	}
	h[14] = (char)((n - 16) >> 8);
	h[15] = (char)((n - 16) & 0xff);
	c->c2t.len = n;
	return 0;
}

/* ---- accepting ---- */

/* The connection to give up for a new one: the least recently active of
 * the listener (the head of either list). */
static struct conn *oldest(struct listener *l)
{
	struct conn *a = l->connecting.head, *b = l->active.head;

	if (!a)
		return b;
	if (!b)
		return a;
	return a->last_ms <= b->last_ms ? a : b;
}

static struct listener *heaviest(struct proxy *p)
{
	struct listener *best = NULL;

	for (int pass = 0; pass < 2; pass++)
		for (struct listener *l = pass ? p->orphans : p->listeners; l; l = l->next)
			if (l->type == SOCK_STREAM && (!best || l->nconns > best->nconns))
				best = l;
	return best;
}

/* At a cap, the least recently active connection makes room: of this
 * port at the port's cap, of the busiest port at the global cap. So a
 * flood on one port never stops another port, and SYNs never wait in the
 * backlog for a slot that idle connections hold. */
static bool make_room(struct proxy *p, struct listener *l)
{
	struct listener *from = NULL;
	struct conn *victim;

	if (l->nconns >= l->max_conns)
		from = l;
	else if (p->nconns >= p->max_conns)
		from = heaviest(p);
	else
		return true;
	if (!from || !(victim = oldest(from)))
		return false;
	if (ef_proxy_warn_now(W_CAP))
		ef_warn("proxy-conn-cap",
		        "listener=\"%s\" connections=%u port_cap=%u global_cap=%u "
		        "action=close-least-active",
		        l->desc, p->nconns, l->max_conns, p->max_conns);
	p->shed++;
	ef_proxy_conn_close(p, victim);
	return true;
}

/* Out of descriptors: the reserve one makes room to accept and close, so
 * the SYN does not wait and the listener does not wake us again at once.
 * Without a reserve (something else took the descriptors) only this
 * listener pauses, for 100 ms. */
static void accept_and_drop(struct proxy *p, struct listener *l)
{
	int fd;

	if (p->reserve_fd < 0 && (p->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		ef_proxy_set_events(p, &l->h, 0);
		l->resume_at = p->now + 100;
		if (ef_proxy_warn_now(W_CAP))
			ef_warn("proxy-out-of-fds",
			        "listener=\"%s\" connections=%u action=pause-100ms", l->desc,
			        p->nconns);
		return;
	}
	if (p->reserve_fd >= 0) {
		close(p->reserve_fd);
		p->reserve_fd = -1;
	}
	fd = accept4(l->h.fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0)
		close(fd);
	p->epoll_more = true; /* level-triggered: the rest is still there */
	p->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	p->shed++;
	if (ef_proxy_warn_now(W_CAP))
		ef_warn("proxy-out-of-fds",
		        "listener=\"%s\" connections=%u fd_limit=%llu "
		        "action=accept-and-close",
		        l->desc, p->nconns, (unsigned long long)p->fd_limit);
}

static void conn_watch(struct proxy *p, struct handle *h)
{
	struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = h};

	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, h->fd, &e) == 0)
		h->events = e.events;
}

void ef_proxy_conn_to_epoll(struct proxy *p, struct conn *c)
{
	c->ring = false;
	c->to_epoll = false;
	conn_watch(p, &c->client);
	conn_watch(p, &c->target);
	/* Not known to be empty or full: pump() finds out. */
	c->client.rd = c->client.wr = c->target.rd = c->target.wr = true;
	conn_run(p, c);
}

/* Right after the accept and the connect, before the two sockets are
 * registered: on loopback the client's first bytes are often here already
 * and the connect to the target often done, so the bytes go on now rather
 * than a turn of the event loop later (speculative I/O, as HAProxy does).
 * What is still to come after this arrives as an edge once registered: a
 * short read left the client socket empty, an unsent rest waits in the
 * buffer for EPOLLOUT. Returns -1 when the connect failed. */
static int forward_early(struct proxy *p, struct conn *c)
{
	struct dir_buf *b = &c->c2t;
	ssize_t r;

	if (!(b->data = ef_proxy_buf_get(p)))
		return 0;
	r = recv(c->client.fd, b->data, TCP_BUF, 0);
	if (r <= 0) {
		/* Nothing yet, or an end or error the events will say. */
		ef_proxy_buf_put(p, b->data);
		b->data = NULL;
		return 0;
	}
	b->len = (uint32_t)r;
	b->full = r == TCP_BUF;
	ef_proxy_observe(c, false, b->data, (size_t)r);
	r = send(c->target.fd, b->data, b->len, MSG_NOSIGNAL);
	if (r < 0)
		/* EAGAIN: still connecting; the bytes wait for EPOLLOUT. */
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (!c->connected)
		ef_proxy_mark_connected(c);
	b->off = (uint32_t)r;
	b->len -= (uint32_t)r;
	if (b->len == 0) {
		b->off = 0;
		ef_proxy_buf_put(p, b->data);
		b->data = NULL;
	}
	return 0;
}

void ef_proxy_tcp_accept(struct proxy *p, struct listener *l)
{
	for (int i = 0; i < 64; i++) {
		const struct sockaddr_storage *to;
		socklen_t tolen;
		struct conn *c;
		int cfd, tfd, one = 1;
		unsigned slot;

		cfd = accept4(l->h.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				accept_and_drop(p, l);
				return; /* level-triggered: the rest wakes us again */
			} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED &&
			           ef_proxy_warn_now(W_ACCEPT))
				ef_warn("proxy-accept-failed", "listener=\"%s\" error=\"%s\"",
				        l->desc, strerror(errno));
			if (errno == EAGAIN)
				return;
			continue;
		}
		if (!make_room(p, l)) {
			close(cfd);
			continue;
		}
		slot = l->canarylen ? ef_proxy_pick_slot(&l->wacc, l->weight) : 0;
		to = slot ? &l->canary : &l->target;
		tolen = slot ? l->canarylen : l->targetlen;
		tfd = socket(to->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		c = calloc(1, sizeof(*c));
		if (tfd < 0 || !c) {
			if (ef_proxy_warn_now(W_ACCEPT))
				ef_warn("proxy-accept-failed", "listener=\"%s\" error=\"%s\"",
				        l->desc, tfd < 0 ? strerror(errno) : "out of memory");
			if (tfd >= 0)
				close(tfd);
			close(cfd);
			free(c);
			continue;
		}
		c->c2t.pipe[0] = c->c2t.pipe[1] = c->t2c.pipe[0] = c->t2c.pipe[1] = -1;
		c->c2t.bid = c->t2c.bid = -1;
		/* cfd has TCP_NODELAY from the listener. */
		setsockopt(tfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->client = (struct handle){.kind = K_CONN_CLIENT, .fd = cfd};
		c->target = (struct handle){.kind = K_CONN_TARGET, .fd = tfd};
		c->l = l;
		c->slot = (uint8_t)slot;
		c->await_status = l->http;
		l->count[slot].connections++;
		c->last_ms = p->now;
		list_append(&l->connecting, c);
		l->nconns++;
		p->nconns++;
		if (l->proxy_protocol && pp2_header(p, c) < 0) {
			ef_proxy_conn_close(p, c);
			continue;
		}
		if (connect(tfd, (const struct sockaddr *)to, tolen) == 0) {
			ef_proxy_mark_connected(c);
		} else if (errno != EINPROGRESS) {
			ef_proxy_connect_failed(p, c, errno);
			continue;
		}
		if (p->ur) {
			/* On the ring the first read is a queued operation too:
			 * it runs at once if the bytes are here. */
			if (ef_proxy_uring_start(p, c) < 0)
				ef_proxy_conn_reset(p, c, errno);
			continue;
		}
		if (!l->proxy_protocol && forward_early(p, c) < 0) {
			ef_proxy_connect_failed(p, c, errno);
			continue;
		}
		ef_trace("proxy-accept", "listener=\"%s\" target=%s", l->desc, l->target_desc);
		/* Registered once, edge-triggered: epoll reports each change in
		 * readiness and pump() remembers it, so no epoll_ctl per event. */
		conn_watch(p, &c->client);
		conn_watch(p, &c->target);
	}
	p->epoll_more = true; /* stopped at 64 with more perhaps waiting */
}

/* ---- deadlines ---- */

void ef_proxy_listener_drain(struct proxy *p, struct listener *l)
{
	for (int pass = 0; pass < 2; pass++)
		for (struct conn *c = pass ? l->active.head : l->connecting.head; c; c = c->next) {
			if (c->is_draining)
				continue;
			c->is_draining = true;
			c->drain_at = p->now + l->drain_ms;
			drain_append(&l->draining, c);
			l->ndraining++;
		}
}

static bool same_sa(const struct sockaddr_storage *a, socklen_t alen,
                    const struct sockaddr_storage *b, socklen_t blen)
{
	return alen && alen == blen && memcmp(a, b, alen) == 0;
}

void ef_proxy_listener_retarget(struct proxy *p, struct listener *l,
                                const struct sockaddr_storage *old_target, socklen_t old_tlen,
                                const struct sockaddr_storage *old_canary, socklen_t old_clen)
{
	if (!same_sa(old_target, old_tlen, &l->target, l->targetlen))
		l->count[0] = (ef_slot_counters){0};
	if (!same_sa(old_canary, old_clen, &l->canary, l->canarylen)) {
		l->count[1] = (ef_slot_counters){0};
		l->wacc = 0;
	}
	for (int pass = 0; pass < 2; pass++)
		for (struct conn *c = pass ? l->active.head : l->connecting.head; c; c = c->next) {
			const struct sockaddr_storage *was = c->slot ? old_canary : old_target;
			socklen_t wlen = c->slot ? old_clen : old_tlen;

			if (c->is_draining)
				continue;
			if (c->slot < 2 && same_sa(was, wlen, &l->target, l->targetlen)) {
				c->slot = 0;
			} else if (c->slot < 2 && same_sa(was, wlen, &l->canary, l->canarylen)) {
				c->slot = 1;
			} else {
				c->slot = 2;
				c->is_draining = true;
				c->drain_at = p->now + l->drain_ms;
				drain_append(&l->draining, c);
				l->ndraining++;
			}
		}
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

int64_t ef_proxy_tcp_expire(struct proxy *p, struct listener *l)
{
	int64_t next = INT64_MAX;
	struct conn *c;

	while ((c = l->connecting.head) && c->last_ms + l->connect_ms <= p->now) {
		if (ef_proxy_warn_now(W_CONNECT))
			ef_warn("proxy-connect-timeout",
			        "listener=\"%s\" target=%s timeout_ms=%lld", l->desc,
			        l->target_desc, (long long)l->connect_ms);
		p->timed_out++;
		count_connect_failed(c);
		ef_proxy_conn_close(p, c);
		if (l->h.dead)
			return INT64_MAX; /* a closed listener's last connection: freed */
	}
	if (c)
		next = c->last_ms + l->connect_ms;
	while ((c = l->active.head) && c->last_ms + l->idle_ms <= p->now) {
		ef_trace("proxy-idle-timeout", "listener=\"%s\"", l->desc);
		p->timed_out++;
		ef_proxy_conn_close(p, c);
		if (l->h.dead)
			return INT64_MAX;
	}
	if (c)
		next = min64(next, c->last_ms + l->idle_ms);
	while ((c = l->draining.head) && c->drain_at <= p->now) {
		ef_debug("proxy-drain-timeout", "listener=\"%s\"", l->desc);
		p->timed_out++;
		ef_proxy_conn_close(p, c);
		if (l->h.dead)
			return INT64_MAX;
	}
	if (c)
		next = min64(next, c->drain_at);
	return next;
}
