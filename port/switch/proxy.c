/* The traffic proxy process (`edgeflip proxy --state-dir DIR`, or the small
 * edgeflip-proxy executable): the event loop, listeners, reloads, the
 * control socket and UDP flows. TCP connections are in proxy_conn.c; the
 * agent's side (the "proxy" switch backend) is in proxy_client.c.
 *
 * The agent writes DIR/proxy/routes.json and sends "reload\n" over
 * DIR/proxy/control.sock; the proxy re-reads the file, swaps all routes in
 * one step of its event loop and answers "ok GEN\n" or "error MSG\n".
 * Listeners of ports that stay are kept open across reloads; established
 * TCP connections to an old target drain until their drain deadline, UDP
 * flows keep their old target until they go idle.
 *
 * Nothing wakes the loop without a reason: epoll_wait() sleeps until the
 * nearest deadline (a connection's connect, idle or drain deadline, a UDP
 * flow's idle deadline, a control client's) or forever when there is none. */
#define _GNU_SOURCE
#include "proxy_int.h"
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
#include <malloc.h> /* malloc_trim, mallopt */
#endif
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CTL_DEADLINE_MS 5000
#define TRIM_AFTER_MS   1000 /* quiet time after the last connection before trimming */

int64_t ef_proxy_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Warnings that can repeat per connection: at most one per 10 s per kind,
 * so a dead target or a sustained overload cannot fill the disk. */
static int64_t warned_at[W_COUNT];

bool ef_proxy_warn_now(int kind)
{
	int64_t now = ef_proxy_now();

	if (warned_at[kind] && now - warned_at[kind] < 10000)
		return false;
	warned_at[kind] = now;
	return true;
}

void ef_proxy_set_events(struct proxy *p, struct handle *h, uint32_t ev)
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

void ef_proxy_bury(struct proxy *p, struct handle *h)
{
	h->dead = true;
	h->grave = p->graveyard;
	p->graveyard = h;
}

void ef_proxy_close_handle(struct handle *h)
{
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
	ef_proxy_close_handle(&f->h);
	p->nflows--;
	ef_proxy_bury(p, &f->h);
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
			if (p->flows_due == INT64_MAX)
				p->flows_due = p->now + p->udp_idle_ms;
			f->next = l->flows;
			l->flows = f;
			p->nflows++;
			ef_proxy_set_events(p, &f->h, EPOLLIN);
			ef_trace("proxy-flow-new", "listener=\"%s\" target=%s", l->desc,
			         l->target_desc);
		}
		f->last_ms = p->now;
		send(f->h.fd, p->udp_buf, (size_t)r, MSG_DONTWAIT);
	}
	p->epoll_more = true;
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
		f->last_ms = p->now;
		sendto(f->l->h.fd, p->udp_buf, (size_t)r, MSG_DONTWAIT, (struct sockaddr *)&f->peer,
		       f->peerlen);
	}
	p->epoll_more = true;
}

/* ---- listeners and reload ---- */

static void listener_free(struct listener *l)
{
	free(l->service);
	free(l);
}

/* A closed listener's last connection is gone: free it with the others. */
void ef_proxy_listener_release(struct proxy *p, struct listener *l)
{
	struct listener **pp;

	for (pp = &p->orphans; *pp && *pp != l; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = l->next;
	ef_proxy_bury(p, &l->h);
}

/* Stops listening. TCP connections still open drain on the old target:
 * the listener stays, without its socket, among the orphans until the
 * last one ends. */
static void listener_close(struct proxy *p, struct listener *l)
{
	while (l->flows)
		flow_close(p, l->flows);
	ef_proxy_close_handle(&l->h);
	if (l->nconns == 0) {
		ef_proxy_bury(p, &l->h);
		return;
	}
	l->closed = true;
	ef_proxy_listener_drain(p, l);
	l->next = p->orphans;
	p->orphans = l;
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
		/* A deep backlog (the kernel caps it at net.core.somaxconn): a
		 * burst of connections waits for accept() instead of having its
		 * handshakes dropped and retried seconds later. */
		if (listen(fd, 4096) < 0)
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

/* The connection cap follows from the descriptor limit: two per TCP
 * connection, one per listener, MAX_FLOWS only when a UDP route exists,
 * an eighth of the rest for the pipes of bulk transfers. */
static void set_caps(struct proxy *p, unsigned nlisteners, bool has_udp)
{
	uint64_t fixed = FD_SPARE + 2 * MAX_CTL_CLIENTS + nlisteners + (has_udp ? MAX_FLOWS : 0);
	uint64_t avail = p->fd_limit > fixed ? p->fd_limit - fixed : 0, conns;

	p->max_pipes = (unsigned)(avail / 8);
	conns = (avail - 2 * (uint64_t)p->max_pipes) / 2;
	if (conns < 1)
		conns = 1;
	if (p->opt_max_conns && p->opt_max_conns < conns)
		conns = p->opt_max_conns;
	p->max_conns = (unsigned)conns;
}

/* Loads the routes file and swaps every route in one step. Nothing
 * changes unless all new listeners could be opened. */
static int proxy_reload(struct proxy *p)
{
	struct pending {
		struct listener *l;
		struct sockaddr_storage target, canary;
		socklen_t targetlen, canarylen;
	} *matched = NULL;
	struct listener *fresh = NULL, *l, *next, *keep = NULL;
	ef_route *routes = NULL;
	size_t n = 0, i;
	bool has_udp = false;
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

		has_udp |= type == SOCK_DGRAM;
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
		if (routes[i].canary_addr)
			ef_switch_sockaddr(&matched[i].canary, &matched[i].canarylen,
			                   routes[i].canary_addr, routes[i].canary_port);
	}
	if (has_udp && !p->udp_buf && !(p->udp_buf = malloc(UDP_BUF))) {
		ef_error_set("out of memory");
		error = EF_ENOMEM;
		goto out;
	}

	/* Commit: from here on nothing fails. */
	for (l = p->listeners; l; l = next) {
		next = l->next;
		if (l->matched) {
			l->next = keep;
			keep = l;
		} else {
			ef_info("proxy-listener-closed", "listener=\"%s\" draining=%u", l->desc,
			        l->nconns);
			listener_close(p, l);
		}
	}
	p->listeners = keep;
	while (fresh) {
		l = fresh;
		fresh = fresh->next;
		l->next = p->listeners;
		p->listeners = l;
		ef_proxy_set_events(p, &l->h, EPOLLIN);
	}
	set_caps(p, (unsigned)n, has_udp);
	for (i = 0; i < n; i++) {
		const ef_route *r = &routes[i];

		l = matched[i].l;
		l->idle_ms = r->idle_timeout_ms ? r->idle_timeout_ms : p->idle_ms;
		l->connect_ms = r->connect_timeout_ms ? r->connect_timeout_ms : p->connect_ms;
		l->drain_ms = r->drain_timeout_ms ? r->drain_timeout_ms : p->drain_ms;
		l->max_conns =
		        r->max_conns && r->max_conns < p->max_conns ? r->max_conns : p->max_conns;
		l->proxy_protocol = r->proxy_protocol;
		l->http = r->http;
		l->weight = r->canary_weight;
		{
			/* The flip (or a canary step): connections keep their
			 * backend; those of a backend no longer routed drain. */
			struct sockaddr_storage old_t = l->target, old_c = l->canary;
			socklen_t old_tlen = l->targetlen, old_clen = l->canarylen;

			l->target = matched[i].target;
			l->targetlen = matched[i].targetlen;
			l->canary = matched[i].canary;
			l->canarylen = matched[i].canarylen;
			ef_proxy_listener_retarget(p, l, &old_t, old_tlen, &old_c, old_clen);
		}
		format_addr(l->target_desc, sizeof(l->target_desc), &l->target);
		if (l->canarylen)
			format_addr(l->canary_desc, sizeof(l->canary_desc), &l->canary);
		else
			snprintf(l->canary_desc, sizeof(l->canary_desc), "-");
		free(l->service);
		l->service = r->service ? strdup(r->service) : NULL;
		ef_info("proxy-route",
		        "listener=\"%s\" target=%s service=%s max_conns=%u idle_ms=%lld "
		        "drain_ms=%lld proxy_protocol=%s canary=%s weight=%u http=%s",
		        l->desc, l->target_desc, l->service ? l->service : "-", l->max_conns,
		        (long long)l->idle_ms, (long long)l->drain_ms,
		        l->proxy_protocol ? "v2" : "no", l->canary_desc, l->weight,
		        l->http ? "yes" : "no");
	}
	p->generation = gen;
	ef_info("proxy-reloaded", "generation=%llu routes=%zu max_conns=%u max_pipes=%u",
	        (unsigned long long)gen, n, p->max_conns, p->max_pipes);
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
	ef_proxy_close_handle(&cc->h);
	p->nctl--;
	ef_proxy_bury(p, &cc->h);
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

/* One line: the totals, then per TCP port the connections to its current
 * target and those still draining on an old one (the slots). */
static void ctl_status(struct proxy *p, struct ctl_client *cc)
{
	char ports[900];
	size_t used = 0;
	unsigned nl = 0, ndrain = 0;

	ports[0] = '\0';
	for (int pass = 0; pass < 2; pass++) {
		for (struct listener *l = pass ? p->orphans : p->listeners; l; l = l->next) {
			int n;

			nl += !pass;
			if (l->type != SOCK_STREAM)
				continue;
			ndrain += l->ndraining;
			n = snprintf(ports + used, sizeof(ports) - used, " %.3s:%s>%s=%u+%u",
			             l->desc, l->desc + 4, pass ? "-" : l->target_desc,
			             l->nconns - l->ndraining, l->ndraining);
			if (n < 0 || (size_t)n >= sizeof(ports) - used) {
				ports[used] = '\0';
				break;
			}
			used += (size_t)n;
		}
	}
	ctl_reply(cc,
	          "ok %llu listeners=%u connections=%u draining=%u flows=%u max_conns=%u io=%s "
	          "shed=%llu timed_out=%llu%s",
	          (unsigned long long)p->generation, nl, p->nconns, ndrain, p->nflows, p->max_conns,
	          p->ur ? "io_uring" : "epoll", (unsigned long long)p->shed,
	          (unsigned long long)p->timed_out, ports);
}

/* One line: per TCP port "tcp:ADDR:PORT" then the canary weight and per
 * slot connections,connect_failed,resets,responses,http_5xx:
 *   ok 7 tcp:0.0.0.0:8080 w=10 0=90,0,0,90,0 1=10,0,0,10,5
 * Read by the agent's proxy backend (proxy_client.c) during a canary. */
static void ctl_counters(struct proxy *p, struct ctl_client *cc)
{
	char ports[1100];
	size_t used = 0;

	ports[0] = '\0';
	for (struct listener *l = p->listeners; l; l = l->next) {
		const ef_slot_counters *k = l->count;
		int n;

		if (l->type != SOCK_STREAM)
			continue;
		n = snprintf(
		        ports + used, sizeof(ports) - used,
		        " %.3s:%s w=%u 0=%llu,%llu,%llu,%llu,%llu 1=%llu,%llu,%llu,%llu,%llu",
		        l->desc, l->desc + 4, l->canarylen ? l->weight : 0,
		        (unsigned long long)k[0].connections,
		        (unsigned long long)k[0].connect_failed, (unsigned long long)k[0].resets,
		        (unsigned long long)k[0].responses, (unsigned long long)k[0].http_5xx,
		        (unsigned long long)k[1].connections,
		        (unsigned long long)k[1].connect_failed, (unsigned long long)k[1].resets,
		        (unsigned long long)k[1].responses, (unsigned long long)k[1].http_5xx);
		if (n < 0 || (size_t)n >= sizeof(ports) - used) {
			ports[used] = '\0';
			break;
		}
		used += (size_t)n;
	}
	ctl_reply(cc, "ok %llu%s", (unsigned long long)p->generation, ports);
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
		ctl_status(p, cc);
	} else if (strcmp(cmd, "counters") == 0) {
		ctl_counters(p, cc);
	} else {
		ctl_reply(cc, "error unknown command (use ping, reload, status or counters)");
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
		cc->deadline = ef_proxy_now() + CTL_DEADLINE_MS;
		cc->next = p->ctl_clients;
		p->ctl_clients = cc;
		p->nctl++;
		ef_proxy_set_events(p, &cc->h, EPOLLIN);
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
			ef_proxy_conn_free(
			        (struct conn *)((char *)h - offsetof(struct conn, client)));
			break;
		case K_FLOW:
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

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* Closes everything past its deadline; returns the nearest deadline left
 * (INT64_MAX: none, so the loop sleeps until an event). */
static int64_t expire(struct proxy *p)
{
	int64_t next = INT64_MAX;

	for (int pass = 0; pass < 2; pass++) {
		struct listener *l = pass ? p->orphans : p->listeners, *lnext;

		for (; l; l = lnext) {
			lnext = l->next;
			if (l->type != SOCK_STREAM)
				continue;
			if (l->resume_at && l->resume_at <= p->now) {
				l->resume_at = 0;
				ef_proxy_set_events(p, &l->h, EPOLLIN);
			} else if (l->resume_at) {
				next = min64(next, l->resume_at);
			}
			next = min64(next, ef_proxy_tcp_expire(p, l));
		}
	}
	if (p->flows_due <= p->now) {
		/* All flows share one idle timeout: the next one due is
		 * found by looking at them only when one is due. */
		p->flows_due = INT64_MAX;
		for (struct listener *l = p->listeners; l; l = l->next) {
			for (struct flow *f = l->flows, *fnext; f; f = fnext) {
				fnext = f->next;
				if (p->now - f->last_ms >= p->udp_idle_ms) {
					ef_trace("proxy-flow-idle", "listener=\"%s\"", l->desc);
					flow_close(p, f);
				} else {
					p->flows_due =
					        min64(p->flows_due, f->last_ms + p->udp_idle_ms);
				}
			}
		}
	}
	next = min64(next, p->flows_due);
	for (struct ctl_client *cc = p->ctl_clients, *cnext; cc; cc = cnext) {
		cnext = cc->next;
		if (p->now >= cc->deadline)
			ctl_close(p, cc);
		else
			next = min64(next, cc->deadline);
	}
	if (p->trim && p->nconns) {
		p->trim = false;
		p->trim_at = 0;
	} else if (p->trim && !p->trim_at) {
		p->trim_at = p->now + TRIM_AFTER_MS;
	} else if (p->trim && p->trim_at <= p->now) {
		/* A quiet second after a busy spell: the pooled buffers and
		 * what glibc keeps of freed memory go back to the system. */
		p->trim = false;
		p->trim_at = 0;
		ef_proxy_pool_release(p);
		ef_proxy_uring_trim(p);
#ifdef __GLIBC__
		malloc_trim(0);
#endif
	}
	if (p->trim)
		next = min64(next, p->trim_at);
	return next;
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
		ef_proxy_tcp_accept(p, (struct listener *)h);
		break;
	case K_UDP_LISTEN:
		udp_receive(p, (struct listener *)h);
		break;
	case K_CONN_CLIENT:
		ef_proxy_conn_event(p, (struct conn *)((char *)h - offsetof(struct conn, client)),
		                    false, ev);
		break;
	case K_CONN_TARGET:
		ef_proxy_conn_event(p, (struct conn *)((char *)h - offsetof(struct conn, target)),
		                    true, ev);
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
		struct conn *ready;
		int64_t next;
		int timeout, n;

		p->now = ef_proxy_now();
		next = expire(p);
		ef_proxy_prune_ready(p);
		free_graveyard(p);
		ready = p->ready;
		p->ready = NULL;
		if (ready)
			timeout = 0;
		else if (next == INT64_MAX)
			timeout = -1;
		else
			timeout = next - p->now > INT_MAX
			                  ? INT_MAX
			                  : (int)(next > p->now ? next - p->now : 0);
		n = p->ur ? ef_proxy_uring_wait(p, timeout, events, 64)
		          : epoll_wait(p->epfd, events, 64, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ef_error("proxy-wait-failed", "io=%s error=\"%s\"",
			         p->ur ? "io_uring" : "epoll", strerror(errno));
			return 1;
		}
		p->now = ef_proxy_now();
		for (int i = 0; i < n; i++) {
			struct handle *h = events[i].data.ptr;

			if (!h->dead)
				dispatch(p, h, events[i].events);
		}
		ef_proxy_run_ready(p, ready);
		ef_proxy_prune_ready(p);
		free_graveyard(p);
	}
	return 0;
}

static void proxy_shutdown(struct proxy *p)
{
	for (int pass = 0; pass < 2; pass++) {
		for (struct listener *l = pass ? p->orphans : p->listeners, *next; l; l = next) {
			next = l->next;
			while (l->connecting.head)
				ef_proxy_conn_close(p, l->connecting.head);
			while (l->active.head)
				ef_proxy_conn_close(p, l->active.head);
		}
	}
	while (p->ctl_clients)
		ctl_close(p, p->ctl_clients);
	for (struct listener *l = p->listeners, *next; l; l = next) {
		next = l->next;
		listener_close(p, l);
	}
	p->listeners = NULL;
	free_graveyard(p);
	ef_proxy_pool_release(p);
	free(p->udp_buf);
}

static int usage(void)
{
	fprintf(stderr,
	        "usage: edgeflip proxy --state-dir DIR [--max-conns N] [--idle-timeout SECS] "
	        "[--connect-timeout SECS] [--drain-timeout SECS] [--udp-idle SECS] "
	        "[--io epoll|io_uring] [--log-level LEVEL]\n");
	return 2;
}

static bool parse_uint(unsigned long *out, const char *s, unsigned long lo, unsigned long hi)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return s[0] >= '0' && s[0] <= '9' && errno == 0 && *end == '\0' && *out >= lo && *out <= hi;
}

/* Seconds, with up to three decimals ("0.5", "30"), into ms. */
static bool parse_secs(int64_t *out_ms, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (s[0] < '0' || s[0] > '9' || errno || *end || v < 0.001 || v > 86400)
		return false;
	*out_ms = (int64_t)(v * 1000 + 0.5);
	return true;
}

/* As many descriptors as the hard limit allows (with systemd, set
 * LimitNOFILE in the unit). */
static uint64_t raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || getrlimit(RLIMIT_NOFILE, &rl) < 0)
			return 1024;
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1u << 24))
		return 1u << 24;
	return (uint64_t)rl.rlim_cur;
}

int ef_proxy_main(int argc, char **argv)
{
	struct proxy px = {.epfd = -1,
	                   .reserve_fd = -1,
	                   .udp_idle_ms = 60000,
	                   .idle_ms = IDLE_TIMEOUT_MS,
	                   .connect_ms = CONNECT_TIMEOUT_MS,
	                   .drain_ms = DRAIN_TIMEOUT_MS,
	                   .flows_due = INT64_MAX};
	struct proxy *p = &px;
	char pid_path[PATH_MAX];
	struct sockaddr_un sun;
	sigset_t mask;
	const char *io = getenv("EDGEFLIP_PROXY_IO");
	char why[128];
	int i = 1, status = 1, lock_fd = -1, sig_fd = -1, ctl_fd = -1;
	unsigned long v;

	if (i < argc && strcmp(argv[i], "proxy") == 0)
		i++;
	for (; i < argc; i++) {
		const char *opt = argv[i];

		if (i + 1 >= argc)
			return usage();
		if (strcmp(opt, "--state-dir") == 0) {
			p->dir = argv[++i];
		} else if (strcmp(opt, "--max-conns") == 0) {
			if (!parse_uint(&v, argv[++i], 1, 1000000))
				return usage();
			p->opt_max_conns = (unsigned)v;
		} else if (strcmp(opt, "--udp-idle") == 0) {
			if (!parse_secs(&p->udp_idle_ms, argv[++i]))
				return usage();
		} else if (strcmp(opt, "--idle-timeout") == 0) {
			if (!parse_secs(&p->idle_ms, argv[++i]))
				return usage();
		} else if (strcmp(opt, "--connect-timeout") == 0) {
			if (!parse_secs(&p->connect_ms, argv[++i]))
				return usage();
		} else if (strcmp(opt, "--drain-timeout") == 0) {
			if (!parse_secs(&p->drain_ms, argv[++i]))
				return usage();
		} else if (strcmp(opt, "--io") == 0) {
			io = argv[++i];
			if (strcmp(io, "io_uring") && strcmp(io, "epoll"))
				return usage();
		} else if (strcmp(opt, "--log-level") == 0) {
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
	if (ef_proxy_control_addr(&sun, p->dir) < 0 ||
	    ef_proxy_path(p->routes_path, sizeof(p->routes_path), p->dir, "routes.json") < 0 ||
	    ef_proxy_path(pid_path, sizeof(pid_path), p->dir, "proxy.pid") < 0) {
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
	p->fd_limit = raise_fd_limit();
	set_caps(p, 0, false);
#ifdef __GLIBC__
	/* Freed buffers stay in the heap until the quiet trim: no brk() up
	 * and down, page faults and TLB flushes per connection. */
	mallopt(M_TRIM_THRESHOLD, 4 << 20);
#endif

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	p->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (p->epfd < 0 || sig_fd < 0 || ctl_fd < 0 || p->reserve_fd < 0) {
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
	if (!io || !*io)
		io = "epoll";
	if (strcmp(io, "io_uring") && strcmp(io, "epoll")) {
		ef_warn("proxy-io-invalid",
		        "EDGEFLIP_PROXY_IO=\"%s\" expected=epoll|io_uring using=epoll", io);
		io = "epoll";
	}
	/* io_uring is a preference, never a reason to forward nothing: a
	 * seccomp filter (a container engine's default profile, a unit's
	 * SystemCallFilter= without @aio), kernel.io_uring_disabled, an old
	 * kernel or a build without liburing each refuse it, and the proxy
	 * goes on with epoll. */
	if (strcmp(io, "io_uring") == 0 && ef_proxy_uring_init(p, why, sizeof(why)) < 0) {
		ef_warn("proxy-io-fallback", "wanted=io_uring using=epoll error=\"%s\"", why);
		io = "epoll";
	}
	ef_info("proxy-io", "mode=%s", io);
	p->sig = (struct handle){.kind = K_SIGNAL, .fd = sig_fd};
	p->ctl = (struct handle){.kind = K_CTL_LISTEN, .fd = ctl_fd};
	ef_proxy_set_events(p, &p->sig, EPOLLIN);
	ef_proxy_set_events(p, &p->ctl, EPOLLIN);

	/* Resume the routes in force before a restart. */
	p->now = ef_proxy_now();
	if (access(p->routes_path, F_OK) == 0 && proxy_reload(p) < 0)
		ef_error("proxy-reload-failed", "error=\"%s\"", ef_error_last());
	ef_info("proxy-started",
	        "pid=%ld state_dir=%s generation=%llu fd_limit=%llu max_conns=%u max_pipes=%u "
	        "idle_ms=%lld",
	        (long)getpid(), p->dir, (unsigned long long)p->generation,
	        (unsigned long long)p->fd_limit, p->max_conns, p->max_pipes, (long long)p->idle_ms);
	status = run_loop(p);
	proxy_shutdown(p);
	unlink(sun.sun_path);
out:
	ef_proxy_uring_free(p); /* after proxy_shutdown(): waits for the closed connections */
	if (p->reserve_fd >= 0)
		close(p->reserve_fd);
	if (ctl_fd >= 0)
		close(ctl_fd);
	if (sig_fd >= 0)
		close(sig_fd);
	if (p->epfd >= 0)
		close(p->epfd);
	close(lock_fd); /* releases the lock last */
	return status;
}
