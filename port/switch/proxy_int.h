/* The proxy process's insides, shared by proxy.c (the loop, listeners,
 * reloads, control socket, UDP) and proxy_conn.c (TCP connections, their
 * buffers and deadlines). Not a public API. */
#ifndef EDGEFLIP_PORT_SWITCH_PROXY_INT_H
#define EDGEFLIP_PORT_SWITCH_PROXY_INT_H

#include "edgeflip/proxy.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/socket.h>

struct epoll_event;
struct ef_uring;

#define TCP_BUF         16384 /* one direction's buffer, taken only while data waits */
#define BUF_POOL_MAX    64    /* free buffers kept for reuse: no malloc/free per request */
#define UDP_BUF         65536 /* one, shared, allocated with the first UDP route */
#define MAX_FLOWS       1024  /* UDP flows (one descriptor each) */
#define MAX_CTL_CLIENTS 8
#define FD_SPARE        32    /* epoll, signalfd, control socket, log, the reserve fd, ... */
#define PUMP_ROUNDS     16    /* reads+writes per turn, so one transfer cannot hog the loop */
#define PIPE_CHUNK      65536 /* bytes per splice() into a direction's pipe */

/* Defaults of the per-port options (routes.json may set each per route). */
#define IDLE_TIMEOUT_MS    30000 /* like HAProxy's usual `timeout client` */
#define CONNECT_TIMEOUT_MS 5000
#define DRAIN_TIMEOUT_MS   30000

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
	bool rdhup;      /* the peer's FIN (or an error) has arrived: read it after the data */
	bool fin;        /* a clean FIN, no error: a short read after it reached the end */
	struct handle *grave;
};

struct conn;
struct flow;

/* A list of connections in deadline order: the head expires first. */
struct conn_list {
	struct conn *head, *tail;
};

struct listener {
	struct handle h;
	int type; /* SOCK_STREAM or SOCK_DGRAM */
	struct sockaddr_storage addr, target;
	socklen_t addrlen, targetlen;
	char desc[128]; /* "tcp 0.0.0.0:8080" */
	char target_desc[80];
	char *service;
	bool matched;
	bool closed; /* its route is gone; kept while its connections drain */
	struct listener *next;
	struct flow *flows;
	/* TCP: connecting ones by age; established ones least recently active
	 * first; those to an old target by drain deadline. */
	struct conn_list connecting, active, draining;
	unsigned nconns, ndraining;
	unsigned max_conns;
	int64_t resume_at; /* out of descriptors even for the reserve: paused until then */
	int64_t idle_ms, connect_ms, drain_ms;
	bool proxy_protocol;
	/* Canary: `weight` percent of new connections go to `canary` (slot 1)
	 * instead of `target` (slot 0); counters per slot, reset when the
	 * slot's backend changes. */
	struct sockaddr_storage canary;
	socklen_t canarylen; /* 0: no canary */
	char canary_desc[80];
	unsigned weight;
	uint32_t wacc;
	bool http; /* count HTTP/1 status lines of responses */
	ef_slot_counters count[2];
};

/* One direction of a connection. `data` is taken from the pool when bytes
 * arrive and given back once they are sent. A direction whose reads fill
 * the buffer is bulk and moves to a pipe, so that splice() carries its
 * bytes without copying them through us. */
struct dir_buf {
	char *data;
	uint32_t off, len;
	int pipe[2];     /* -1 until the direction turns bulk */
	uint32_t inpipe; /* bytes in the pipe */
	bool full;       /* the last recv() filled the buffer */
	bool eof;        /* the source sent FIN */
	bool shut;       /* FIN passed on to the destination */
	int16_t bid;     /* io_uring: the ring buffer `data` is in, or -1 (a pool buffer) */
};

struct conn {
	struct handle client, target; /* client.grave links the conn */
	struct dir_buf c2t, t2c;
	struct listener *l;
	int64_t last_ms;  /* accepted, or the last event */
	int64_t drain_at; /* when draining: the moment it is closed */
	bool connected;
	bool is_draining;
	bool queued;       /* on the ready list: stopped at PUMP_ROUNDS with work left */
	uint8_t slot;      /* 0: the listener's target, 1: its canary */
	bool answered;     /* the target has sent at least one byte */
	bool await_status; /* http: the next target bytes start a response */
	bool in_response;  /* target bytes came since the client's last bytes */
	ef_http_scan scan;
	struct conn *prev, *next;   /* in l->connecting or l->active */
	struct conn *dprev, *dnext; /* in l->draining */
	struct conn *ready_next;
	/* io_uring (proxy_uring.c): a connection starts on the ring and moves
	 * to epoll (for good) when a direction turns bulk or a destination
	 * is full. */
	bool ring;         /* its I/O goes through the ring, its sockets are not in epoll */
	bool to_epoll;     /* moves to epoll once nothing of it is in flight */
	bool orphan;       /* the graveyard is done with it: freed at its last completion */
	uint8_t ops;       /* operations in flight on the ring, a bit each */
	uint8_t cancelled; /* operations asked to stop for the move to epoll */
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
	char line[128];
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
	struct listener *orphans; /* closed listeners whose connections still drain */
	struct conn *ready;       /* connections to pump again without waiting for an event */
	struct ctl_client *ctl_clients;
	struct handle *graveyard;
	char *udp_buf;
	char *pool; /* free TCP buffers, linked through their first bytes */
	unsigned npool;
	uint64_t generation;
	int64_t now; /* CLOCK_MONOTONIC ms, read once per turn of the loop */
	unsigned nconns, max_conns, nflows, nctl;
	unsigned opt_max_conns;     /* --max-conns; 0 = as many as descriptors allow */
	unsigned npipes, max_pipes; /* pipe pairs of bulk directions; 2 fds each */
	uint64_t fd_limit;          /* RLIMIT_NOFILE after raising the soft limit */
	uint64_t shed, timed_out;   /* connections closed at a cap / at a deadline */
	int reserve_fd;             /* given up for a moment to accept() and close at EMFILE */
	int64_t udp_idle_ms, idle_ms, connect_ms, drain_ms; /* the defaults */
	int64_t flows_due; /* the earliest UDP flow idle deadline, or INT64_MAX */
	int64_t trim_at;
	bool trim; /* the last connection closed: give freed memory back when quiet */
	bool stop;
	bool epoll_more;     /* a handler stopped with work left on a level-triggered fd */
	struct ef_uring *ur; /* the io_uring path, or NULL: epoll only */
};

/* proxy.c */
int64_t ef_proxy_now(void);
void ef_proxy_set_events(struct proxy *p, struct handle *h, uint32_t ev);
void ef_proxy_bury(struct proxy *p, struct handle *h);
void ef_proxy_close_handle(struct handle *h);
bool ef_proxy_warn_now(int kind);
enum { W_CONNECT, W_CAP, W_ACCEPT, W_COUNT };
void ef_proxy_listener_release(struct proxy *p, struct listener *l);

/* proxy_conn.c */
void ef_proxy_tcp_accept(struct proxy *p, struct listener *l);
void ef_proxy_conn_event(struct proxy *p, struct conn *c, bool on_target, uint32_t ev);
void ef_proxy_conn_close(struct proxy *p, struct conn *c);
void ef_proxy_conn_free(struct conn *c);
void ef_proxy_run_ready(struct proxy *p, struct conn *ready);
void ef_proxy_prune_ready(struct proxy *p);
/* Connections of `l` to its old target drain from now on. */
void ef_proxy_listener_drain(struct proxy *p, struct listener *l);
/* A reload set the listener's target and canary: connections keep their
 * backend; those whose backend is neither of them any more drain. */
void ef_proxy_listener_retarget(struct proxy *p, struct listener *l,
                                const struct sockaddr_storage *old_target, socklen_t old_tlen,
                                const struct sockaddr_storage *old_canary, socklen_t old_clen);
/* Closes what is past its deadline; returns the next deadline or INT64_MAX. */
int64_t ef_proxy_tcp_expire(struct proxy *p, struct listener *l);
void ef_proxy_pool_release(struct proxy *p);
/* For the ring path: */
char *ef_proxy_buf_get(struct proxy *p);
void ef_proxy_buf_put(struct proxy *p, char *b);
void ef_proxy_observe(struct conn *c, bool t2c, const char *data, size_t n);
void ef_proxy_mark_connected(struct conn *c);
void ef_proxy_connect_failed(struct proxy *p, struct conn *c, int err);
/* Activity: the idle deadline moves on. */
void ef_proxy_conn_touch(struct proxy *p, struct conn *c);
/* An error on a socket (`err`): counted, the connection closed. */
void ef_proxy_conn_reset(struct proxy *p, struct conn *c, int err);
/* Registers both sockets with epoll and moves what is pending. */
void ef_proxy_conn_to_epoll(struct proxy *p, struct conn *c);

/* proxy_uring.c. 0: the ring is up (p->ur); -1: it cannot be, `why`
 * says why. */
int ef_proxy_uring_init(struct proxy *p, char *why, size_t n);
void ef_proxy_uring_free(struct proxy *p);
/* Waits like epoll_wait() (timeout in ms, -1: forever), handles the
 * ring's completions and returns the epoll events to dispatch, or -1. */
int ef_proxy_uring_wait(struct proxy *p, int timeout, struct epoll_event *ev, int max);
/* A new connection (connected or connecting) starts on the ring. */
int ef_proxy_uring_start(struct proxy *p, struct conn *c);
/* Closing a ring connection: cancels what is in flight. True when its
 * sockets must stay open until the last completion. */
bool ef_proxy_uring_close(struct proxy *p, struct conn *c);
/* Quiet: the ring's buffers go back to the system. */
void ef_proxy_uring_trim(struct proxy *p);

#endif
