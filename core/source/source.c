/* The Git source: one branch of an HTTPS repository, polled over one kept-alive
 * connection and fetched into a bare cache repository (libgit2).
 *
 * Deadlines and caps. libgit2 1.5 has no network timeouts at all, and its
 * transfer progress callback only runs while a pack arrives, not during the
 * TLS handshake or the ref advertisement. So the source registers its own
 * plain socket stream (GIT_STREAM_STANDARD) under libgit2's TLS layer. Every
 * read and write on it waits with poll() until the deadline of the operation
 * in progress and counts the bytes, so a server that answers one byte per
 * second, or sends an endless advertisement, cannot hang the agent or fill
 * its memory. The same counters give the wire bytes in the statistics.
 *
 * Connection reuse. libgit2 keeps the HTTP client (and its TLS connection)
 * inside the remote's transport, so one git_remote kept for the life of the
 * source lets every poll (connect, ls, disconnect) reuse the connection. A
 * connection that the server closed while idle fails on first use; the
 * operation is then retried once on a new connection.
 *
 * Protocol v2 polls. libgit2 speaks only protocol v0, whose ref advertisement
 * lists every ref of the repository on every poll. A poll therefore first
 * sends one protocol v2 `ls-refs` request with `ref-prefix refs/heads/<branch>`
 * (core/source/pkt.c), which the server answers with that branch alone. It goes
 * through libgit2's own HTTP client and TLS, on the same kept-alive
 * connection as the fetches: the remote's smart transport is made by this
 * file (git_remote_callbacks.transport) around libgit2's HTTP subtransport,
 * and a wrapper subtransport runs the ls-refs exchange when the transport's
 * connect asks for the v0 advertisement (see run_ls_refs). A server that does
 * not answer it gets the libgit2 listing instead, from then on. */
#include "edgeflip/source.h"
#include "pkt.h"
#include "source_internal.h"
#include "edgeflip/error.h"
#include "edgeflip/features.h"
#include "edgeflip/log.h"
#include "edgeflip/sys/fs.h"

#include <git2.h>
#include <git2/sys/stream.h>
#include <git2/sys/transport.h>
#ifdef EF_HAVE_GIT_SYS_ERRORS_H
#include <git2/sys/errors.h> /* git_error_set() from libgit2 1.8 on */
#endif
#include <mbedtls/base64.h>
#ifdef EF_HAVE_PSA_CRYPTO
#include <psa/crypto.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TOKEN_FILE_CAP 4096
#define SHA1_HEX_LEN   40 /* libgit2 1.5 has SHA-1 object ids only */
#define LOCAL_REF      "refs/edgeflip/head"
/* The user name sent with the token in HTTP Basic auth when the token file
 * holds no "user:" prefix. GitHub requires it for app and Actions tokens;
 * GitLab, Gitea/Forgejo and Azure DevOps accept any name with a token. */
#define TOKEN_USER "x-access-token"

/* One network operation (a poll or a fetch) in progress on this thread. The
 * socket stream consults it on every read and write. */
struct op {
	uint64_t deadline_ms; /* CLOCK_MONOTONIC milliseconds; 0: none */
	uint64_t max_bytes;   /* cap on bytes read during the operation; 0: none */
	uint64_t bytes_read;
	unsigned connects; /* connection attempts during the operation */
	int cause;         /* EF_ETIMEOUT, EF_ETOOBIG, EF_EUNREACHABLE or 0 */
	char cause_msg[256];
	uint64_t *bytes_total; /* the source's wire counter */
};

static _Thread_local struct op *current_op;

/* The header that makes the server answer in protocol v2 (git http-backend
 * passes it on to upload-pack). Only ls-refs polls send it: libgit2 cannot
 * read a v2 answer. */
static char git_protocol_v2[] = "Git-Protocol: version=2";

/* One ls-refs exchange, run from inside the transport's connect. */
struct ls_refs {
	bool ran;
	bool too_big;
	int gerr; /* libgit2's result of the HTTP exchange */
	ef_buf reply;
};

/* Wraps libgit2's HTTP subtransport: passes everything through, except the
 * v0 advertisement request of a connect made for an ls-refs poll. */
struct v2_sub {
	git_smart_subtransport parent;
	git_smart_subtransport *http;
	struct ef_source *s;
};

struct ef_source {
	git_repository *repo;
	git_remote *remote;
	char *url;
	char *branch;
	char *ref_name;        /* refs/heads/<branch> */
	char *refspec;         /* +refs/heads/<branch>:refs/edgeflip/head */
	char *previews_prefix; /* listed too ("refs/pull/"), NULL: none */
	char **preview_refs;   /* "<oid> <name>" from the last poll */
	char *ca_file;
	char *token_file;
	char *cache_dir;
	uint64_t timeout_ms;
	uint64_t max_fetch_bytes;
	ef_buf auth_header; /* "Authorization: Basic ..."; a secret */
	char *header_list[1];
	git_strarray headers;
	/* Protocol v2 polls: the remote's transport (or ours until a connect of
	 * the remote adopts it), its subtransport, and the request. */
	git_transport *tp;
	bool tp_adopted; /* the remote owns tp and frees it */
	struct v2_sub *sub;
	struct ls_refs *ls; /* set while an ls-refs poll runs */
	bool v0_only;       /* the server did not answer ls-refs: libgit2 listing */
	char *v2_header_list[2];
	git_strarray v2_headers; /* the token header and "Git-Protocol: version=2" */
	ef_buf ls_request;
	ef_source_stats stats;
	/* The last fetch that brought objects: the commit, the packs it added
	 * (names without .pack), and LOCAL_REF before it, so that
	 * ef_source_discard can take it back when the commit is refused. */
	git_oid last_fetch;
	char **last_packs;
	git_oid ref_before;
	bool had_ref_before;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void op_fail(struct op *op, int cause, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void op_fail(struct op *op, int cause, const char *fmt, ...)
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
static int time_left(const struct op *op)
{
	uint64_t now;

	if (!op || !op->deadline_ms)
		return -1;
	now = now_ms();
	if (now >= op->deadline_ms)
		return 0;
	return op->deadline_ms - now > 60000 ? 60000 : (int)(op->deadline_ms - now);
}

/* Waits until `fd` is ready for `events` or the operation's deadline passes. */
static int wait_fd(int fd, short events)
{
	struct op *op = current_op;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		int left = time_left(op);
		int n;

		if (left == 0) {
			op_fail(op, EF_ETIMEOUT, "no answer before the deadline");
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
	struct op *op = current_op;
	int rc, err = 0;

	if (op)
		op->connects++;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(st->host, st->port, &hints, &res);
	if (rc != 0) {
		if (op)
			op_fail(op, EF_EUNREACHABLE, "cannot resolve host %s: %s", st->host,
			        gai_strerror(rc));
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
			op_fail(op, EF_EUNREACHABLE, "cannot connect to %s port %s: %s", st->host,
			        st->port, strerror(err));
		git_error_set(GIT_ERROR_NET, "cannot connect to %s port %s", st->host, st->port);
		return -1;
	}
	return 0;
}

static ssize_t stream_read(git_stream *gs, void *data, size_t len)
{
	struct deadline_stream *st = (struct deadline_stream *)gs;
	struct op *op = current_op;
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
			op_fail(op, EF_ETOOBIG, "received more than %llu bytes",
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

static int stream_new(git_stream **out, const char *host, const char *port)
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

/* ---- global setup ---- */

int ef_source_global_init(void)
{
	git_stream_registration reg = {.version = GIT_STREAM_VERSION, .init = stream_new};

#ifdef EF_HAVE_PSA_CRYPTO
	/* mbedTLS 3 runs TLS 1.3 on PSA crypto, which must be initialised before
	 * a handshake; libgit2 1.9 does not do it. mbedTLS 3.6.0 fails the
	 * handshake without it (3.6.1 on initialises it in the handshake). Done
	 * once here, and freed in ef_source_global_shutdown(). */
	if (psa_crypto_init() != PSA_SUCCESS) {
		ef_error_set("cannot initialise mbedTLS's PSA crypto");
		return EF_ERROR;
	}
#endif
	if (git_libgit2_init() < 0) {
		ef_error_set("cannot initialise libgit2");
		return EF_ERROR;
	}
	if (git_stream_register(GIT_STREAM_STANDARD, &reg) < 0) {
		ef_error_set("cannot register the network stream with libgit2");
		return EF_ERROR;
	}
	/* Every fetch adds a pack to the cache and libgit2 keeps each pack
	 * open: without a limit a daemon holds one more descriptor per deploy
	 * (seen by tests/integration/test_faults.sh). Least recently used packs
	 * are closed beyond this. */
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_FILE_LIMIT, (size_t)16);
	/* The cache must survive a power cut: without this libgit2 never
	 * fsyncs, and the full-system board test saw a cut lose the fetched
	 * pack or the ref in 193 of 201 boots, each costing a whole refetch on a
	 * metered link. Only fetches write, so no-change polls pay nothing. */
	git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
#ifdef EF_HAVE_GIT_CONNECT_TIMEOUT
	/* Our stream enforces each operation's deadline; these only bound a
	 * stream that libgit2 would make by itself. */
	git_libgit2_opts(GIT_OPT_SET_SERVER_CONNECT_TIMEOUT, 30000);
#endif
#ifdef EF_HAVE_GIT_SERVER_TIMEOUT
	git_libgit2_opts(GIT_OPT_SET_SERVER_TIMEOUT, 60000);
#endif
	return 0;
}

void ef_source_global_shutdown(void)
{
	git_libgit2_shutdown();
#ifdef EF_HAVE_PSA_CRYPTO
	mbedtls_psa_crypto_free();
#endif
}

/* ---- error translation: the one place libgit2 errors become ours ---- */

static int translate(const ef_source *s, const struct op *op, int gerr, const char *action)
{
	const git_error *e = git_error_last();
	int klass = e ? e->klass : GIT_ERROR_NONE;
	char msg[512];

	/* mbedTLS explains certificate failures over several lines. */
	snprintf(msg, sizeof(msg), "%s", e && e->message ? e->message : "unknown error");
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = *(p + 1) ? ';' : '\0';

	if (op && op->cause == EF_ETIMEOUT) {
		ef_error_set("%s %s: no complete answer within the deadline of %llu ms; check the "
		             "network and the server, or raise [source] timeout",
		             action, s->url, (unsigned long long)s->timeout_ms);
		return EF_ETIMEOUT;
	}
	if (op && op->cause == EF_ETOOBIG) {
		ef_error_set("%s %s: aborted: the server sent more than max_fetch_size=%llu bytes; "
		             "raise [source] max_fetch_size if the repository really is that large",
		             action, s->url, (unsigned long long)s->max_fetch_bytes);
		return EF_ETOOBIG;
	}
	if (op && op->cause == EF_EUNREACHABLE) {
		ef_error_set("%s %s: %s; the server is unreachable, will retry later", action,
		             s->url, op->cause_msg);
		return EF_EUNREACHABLE;
	}
	if (gerr == GIT_ECERTIFICATE ||
	    (klass == GIT_ERROR_SSL && strstr(msg, "certificate") != NULL)) {
		ef_error_set("%s %s: the server certificate is not trusted by ca_file=%s (%s); put "
		             "the CA that signed the server's certificate into that file",
		             action, s->url, s->ca_file ? s->ca_file : "(system bundle)", msg);
		return EF_EREJECTED;
	}
	if (gerr == GIT_EAUTH || strstr(msg, "authentication") != NULL ||
	    strstr(msg, "status code: 401") != NULL || strstr(msg, "status code: 403") != NULL) {
		ef_error_set("%s %s: the server refused access (%s); check token_file=%s", action,
		             s->url, msg, s->token_file ? s->token_file : "(none set)");
		return EF_EREJECTED;
	}
	if (strstr(msg, "redirect") != NULL || strstr(msg, "status code: 30") != NULL) {
		ef_error_set("%s %s: the server redirects (%s); edgeflip does not follow redirects "
		             "(the token would go to the other address): set [source] url to the "
		             "final address",
		             action, s->url, msg);
		return EF_EREJECTED;
	}
	if (strstr(msg, "status code: 404") != NULL) {
		ef_error_set("%s %s: no repository at this URL (HTTP 404); check [source] url",
		             action, s->url);
		return EF_ENOTFOUND;
	}
	if (klass == GIT_ERROR_SSL || klass == GIT_ERROR_NET || klass == GIT_ERROR_HTTP) {
		ef_error_set("%s %s: %s; will retry later", action, s->url, msg);
		return EF_EUNREACHABLE;
	}
	ef_error_set("%s %s: %s", action, s->url, msg);
	return gerr == GIT_ENOTFOUND ? EF_ENOTFOUND : EF_ERROR;
}

/* Errors that a stale kept-alive connection produces, worth one more try. */
static bool retriable(const struct op *op, unsigned connects_before)
{
	const git_error *e = git_error_last();
	int klass = e ? e->klass : GIT_ERROR_NONE;

	return op->cause == 0 && op->connects == connects_before &&
	       (klass == GIT_ERROR_NET || klass == GIT_ERROR_HTTP || klass == GIT_ERROR_SSL);
}

static void op_begin(ef_source *s, struct op *op, uint64_t max_bytes)
{
	memset(op, 0, sizeof(*op));
	if (s->timeout_ms)
		op->deadline_ms = now_ms() + s->timeout_ms;
	op->max_bytes = max_bytes;
	op->bytes_total = &s->stats.bytes_received;
	current_op = op;
}

static void op_end(void)
{
	current_op = NULL;
}

/* ---- the source ---- */

static int parse_oid(git_oid *out, const char *hex)
{
	size_t n = hex ? strlen(hex) : 0;

	if (n != SHA1_HEX_LEN || git_oid_fromstrn(out, hex, n) < 0) {
		ef_error_set("'%s' is not a full commit id", hex ? hex : "(null)");
		return EF_EINVALID;
	}
	return 0;
}

static int check_url(const ef_source_opts *opts)
{
	const char *u = opts->url;
	const char *rest;

	if (!u || !*u) {
		ef_error_set("[source] url is not set");
		return EF_EINVALID;
	}
	if (strncasecmp(u, "https://", 8) == 0) {
		rest = u + 8;
	} else if (strncasecmp(u, "http://", 7) == 0) {
		if (!opts->allow_insecure_http) {
			ef_error_set("url %s uses plain http://: refused; use https:// or set "
			             "allow_insecure_http = true",
			             u);
			return EF_EINVALID;
		}
		rest = u + 7;
	} else {
		ef_error_set("url %s: only https:// URLs are supported", u);
		return EF_EINVALID;
	}
	/* Credentials in the URL would end up in logs: they belong in token_file. */
	if (memchr(rest, '@', strcspn(rest, "/")) != NULL) {
		ef_error_set("url must not contain a user name or password: put the token into "
		             "token_file");
		return EF_EINVALID;
	}
	return 0;
}

/* Reads token_file and builds the preemptive "Authorization: Basic" header.
 * The file holds the token, or "user:token" to choose the user name. */
static int load_token(ef_source *s)
{
	ef_buf tok = EF_BUF_INIT(TOKEN_FILE_CAP), cred = EF_BUF_INIT(TOKEN_FILE_CAP + 64);
	unsigned char *b64 = NULL;
	size_t b64_len = 0, b64_cap;
	struct stat st;
	int error;

	error = ef_read_file(&tok, s->token_file, TOKEN_FILE_CAP);
	if (error < 0) {
		if (error == EF_ETOOBIG)
			ef_error_set("token_file %s is larger than %d bytes", s->token_file,
			             TOKEN_FILE_CAP);
		goto out;
	}
	while (tok.len > 0 && (tok.ptr[tok.len - 1] == '\n' || tok.ptr[tok.len - 1] == '\r' ||
	                       tok.ptr[tok.len - 1] == ' ' || tok.ptr[tok.len - 1] == '\t'))
		tok.ptr[--tok.len] = '\0';
	error = EF_EINVALID;
	if (tok.len == 0) {
		ef_error_set("token_file %s is empty", s->token_file);
		goto out;
	}
	for (size_t i = 0; i < tok.len; i++) {
		if ((unsigned char)tok.ptr[i] < 0x21 || (unsigned char)tok.ptr[i] == 0x7f) {
			ef_error_set("token_file %s holds spaces or control characters inside the "
			             "token",
			             s->token_file);
			goto out;
		}
	}
	if (stat(s->token_file, &st) == 0 && (st.st_mode & 077) != 0)
		ef_warn("source.token_file_readable", "file=%s mode=%04o hint=\"chmod 600\"",
		        s->token_file, (unsigned)(st.st_mode & 07777));

	if ((error = ef_buf_printf(&cred, "%s%s", strchr(tok.ptr, ':') ? "" : TOKEN_USER ":",
	                           tok.ptr)) < 0)
		goto out;
	b64_cap = 4 * ((cred.len + 2) / 3) + 1;
	error = EF_ENOMEM;
	if (!(b64 = malloc(b64_cap)))
		goto out;
	if (mbedtls_base64_encode(b64, b64_cap, &b64_len, (const unsigned char *)cred.ptr,
	                          cred.len) != 0) {
		ef_error_set("cannot encode the token");
		error = EF_ERROR;
		goto out;
	}
	ef_buf_init(&s->auth_header, b64_len + 64);
	if ((error = ef_buf_puts(&s->auth_header, "Authorization: Basic ")) < 0 ||
	    (error = ef_buf_put(&s->auth_header, b64, b64_len)) < 0)
		goto out;
	s->header_list[0] = s->auth_header.ptr;
	s->headers.strings = s->header_list;
	s->headers.count = 1;
	error = 0;
out:
	if (b64) {
		volatile unsigned char *v = b64;
		for (size_t i = 0; i < b64_cap; i++)
			v[i] = 0;
		free(b64);
	}
	ef_buf_dispose_secret(&tok);
	ef_buf_dispose_secret(&cred);
	return error;
}

static int create_cache(git_repository **out, const char *dir)
{
	git_repository_init_options io;
	git_config *cfg = NULL;
	int gerr;

	git_repository_init_options_init(&io, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	io.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
	io.initial_head = LOCAL_REF; /* HEAD names the one ref the cache holds */
	if ((gerr = git_repository_init_ext(out, dir, &io)) < 0)
		goto fail;
	/* No reflog, ever: an idle agent must not grow files. */
	if ((gerr = git_repository_config(&cfg, *out)) < 0 ||
	    (gerr = git_config_set_bool(cfg, "core.logAllRefUpdates", 0)) < 0)
		goto fail;
	git_config_free(cfg);
	return 0;
fail:
	ef_error_set("cannot create the cache repository %s: %s", dir,
	             git_error_last() ? git_error_last()->message : "unknown error");
	git_config_free(cfg);
	git_repository_free(*out);
	*out = NULL;
	return EF_ERROR;
}

static int open_cache(git_repository **out, const char *dir)
{
	char aside[4096];
	struct stat st;
	int gerr;

	if (stat(dir, &st) < 0 && errno == ENOENT)
		return create_cache(out, dir);
	gerr = git_repository_open_ext(
	        out, dir, GIT_REPOSITORY_OPEN_NO_SEARCH | GIT_REPOSITORY_OPEN_BARE, NULL);
	if (gerr == 0 && git_repository_is_bare(*out))
		return 0;
	ef_warn("source.cache_unusable", "dir=%s reason=\"%s\" action=\"moved aside, recreated\"",
	        dir, gerr < 0 && git_error_last() ? git_error_last()->message : "not bare");
	git_repository_free(*out);
	*out = NULL;
	if (ef_fs_set_aside(aside, sizeof(aside), dir) < 0)
		return EF_ERROR;
	ef_warn("source.cache_set_aside", "dir=%s moved_to=%s", dir, aside);
	return create_cache(out, dir);
}

/* GIT_OPT_SET_SSL_CERT_LOCATIONS is process-wide and parses the file: only
 * set it when it changes (several sources may use several CA files). */
static int use_ca_file(const char *ca_file)
{
	static char *current;

	if (!ca_file || (current && strcmp(current, ca_file) == 0))
		return 0;
	if (git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, ca_file, NULL) < 0) {
		ef_error_set("cannot load ca_file=%s: %s", ca_file,
		             git_error_last() ? git_error_last()->message : "unknown error");
		return EF_EINVALID;
	}
	free(current);
	current = strdup(ca_file);
	return 0;
}

int ef_source_new(ef_source **out, const ef_source_opts *opts)
{
	ef_source *s = NULL;
	int error;

	*out = NULL;
	if ((error = check_url(opts)) < 0)
		return error;
	if (!opts->branch || !*opts->branch || !opts->cache_dir) {
		ef_error_set("[source] branch and the cache directory must be set");
		return EF_EINVALID;
	}
	if (!(s = calloc(1, sizeof(*s))))
		return EF_ENOMEM;
	s->url = ef_strdup(opts->url);
	s->branch = ef_strdup(opts->branch);
	s->ca_file = ef_strdup(opts->ca_file);
	s->token_file = ef_strdup(opts->token_file);
	s->cache_dir = ef_strdup(opts->cache_dir);
	s->timeout_ms = opts->timeout_ms;
	s->max_fetch_bytes = opts->max_fetch_bytes;
	s->previews_prefix = ef_strdup(opts->previews_prefix);
	s->ref_name = malloc(strlen(opts->branch) + sizeof("refs/heads/"));
	s->refspec = malloc(strlen(opts->branch) + sizeof("+refs/heads/:" LOCAL_REF));
	error = EF_ENOMEM;
	if (!s->url || !s->branch || !s->cache_dir || !s->ref_name || !s->refspec ||
	    (opts->ca_file && !s->ca_file) || (opts->token_file && !s->token_file))
		goto fail;
	sprintf(s->ref_name, "refs/heads/%s", opts->branch);
	sprintf(s->refspec, "+refs/heads/%s:" LOCAL_REF, opts->branch);
	if (!git_reference_is_valid_name(s->ref_name)) {
		ef_error_set("branch '%s' is not a valid branch name", opts->branch);
		error = EF_EINVALID;
		goto fail;
	}
	if ((error = use_ca_file(s->ca_file)) < 0)
		goto fail;
	if (s->token_file && (error = load_token(s)) < 0)
		goto fail;
	s->v2_headers.strings = s->v2_header_list;
	if (s->headers.count)
		s->v2_header_list[s->v2_headers.count++] = s->auth_header.ptr;
	s->v2_header_list[s->v2_headers.count++] = git_protocol_v2;
	ef_buf_init(&s->ls_request, 1024 + strlen(s->ref_name));
	if ((error = ef_pkt_ls_refs_request(&s->ls_request, s->ref_name, s->previews_prefix)) < 0)
		goto fail;
	if ((error = open_cache(&s->repo, s->cache_dir)) < 0)
		goto fail;
	/* The one remote of this source (libgit2 1.5 leaks ~120 KB per remote). */
	if (git_remote_create_anonymous(&s->remote, s->repo, s->url) < 0) {
		ef_error_set("url %s: %s", s->url,
		             git_error_last() ? git_error_last()->message : "invalid");
		error = EF_EINVALID;
		goto fail;
	}
	*out = s;
	return 0;
fail:
	ef_source_free(s);
	return error;
}

/* ---- protocol v2 ls-refs polls ---- */

/* Sends the ls-refs request on libgit2's HTTP subtransport (a POST to
 * URL/git-upload-pack) and reads the whole reply, at most EF_PKT_LS_REFS_MAX
 * bytes. The transport's connect options, which the subtransport reads for
 * every request, hold our headers by now. */
static int ls_refs_exchange(struct v2_sub *v, const char *url, struct ls_refs *ls)
{
	git_smart_subtransport_stream *st = NULL;
	char chunk[2048];
	int gerr;

	if ((gerr = v->http->action(&st, v->http, url, GIT_SERVICE_UPLOADPACK)) < 0)
		return gerr;
	gerr = st->write(st, v->s->ls_request.ptr, v->s->ls_request.len);
	while (gerr == 0) {
		size_t n = 0;

		if ((gerr = st->read(st, chunk, sizeof(chunk), &n)) < 0 || n == 0)
			break;
		if (ef_buf_put(&ls->reply, chunk, n) < 0) {
			ls->too_big = true;
			break;
		}
	}
	st->free(st);
	return gerr;
}

static int sub_action(git_smart_subtransport_stream **out, git_smart_subtransport *t,
                      const char *url, git_smart_service_t action)
{
	struct v2_sub *v = (struct v2_sub *)t;
	struct ls_refs *ls = v->s->ls;

	if (!ls || ls->ran || action != GIT_SERVICE_UPLOADPACK_LS)
		return v->http->action(out, v->http, url, action);
	*out = NULL;
	ls->ran = true;
	ls->gerr = ls_refs_exchange(v, url, ls);
	/* Ends the transport's connect here: there is no v0 advertisement to
	 * read. run_ls_refs() takes the result from `ls`. */
	return -1;
}

static int sub_close(git_smart_subtransport *t)
{
	struct v2_sub *v = (struct v2_sub *)t;

	return v->http->close(v->http);
}

static void sub_free(git_smart_subtransport *t)
{
	struct v2_sub *v = (struct v2_sub *)t;

	v->http->free(v->http);
	if (v->s->sub == v) {
		v->s->sub = NULL;
		v->s->tp = NULL; /* the transport goes with its subtransport */
		v->s->tp_adopted = false;
	}
	free(v);
}

static int sub_new(git_smart_subtransport **out, git_transport *owner, void *param)
{
	struct v2_sub *v = calloc(1, sizeof(*v));

	if (!v) {
		git_error_set_oom();
		return -1;
	}
	if (git_smart_subtransport_http(&v->http, owner, NULL) < 0) {
		free(v);
		return -1;
	}
	v->parent.action = sub_action;
	v->parent.close = sub_close;
	v->parent.free = sub_free;
	v->s = param;
	v->s->sub = v;
	*out = &v->parent;
	return 0;
}

/* A smart HTTP transport for the remote, as libgit2 would make it, but with
 * our subtransport; the source keeps a pointer to it. */
static int make_transport(ef_source *s, git_remote *owner)
{
	git_smart_subtransport_definition def = {sub_new, 1, s};
	git_transport *t = NULL;

	if (git_transport_smart(&t, owner, &def) < 0)
		return -1;
	s->tp = t; /* s->sub was set by sub_new() */
	s->tp_adopted = false;
	return 0;
}

/* git_remote_callbacks.transport: the remote takes our transport. It calls
 * this only when it has none; on a failed connect it frees the transport
 * (sub_free then forgets it). The callbacks' payload starts with the source
 * (ef_source ** or struct fetch_ctx). */
static int adopt_transport(git_transport **out, git_remote *owner, void *payload)
{
	ef_source *s = *(ef_source **)payload;

	if (!s->tp && make_transport(s, owner) < 0)
		return -1;
	*out = s->tp;
	s->tp_adopted = true;
	return 0;
}

/* Frees a transport that no remote took yet (before the remote goes). */
static void drop_own_transport(ef_source *s)
{
	if (s->tp && !s->tp_adopted)
		s->tp->free(s->tp);
	s->tp = NULL;
	s->sub = NULL;
	s->tp_adopted = false;
}

/* One ls-refs poll. Returns libgit2's error of the exchange (< 0), or 0 with
 * the reply parsed: *parsed false when it is not a valid ls-refs reply (the
 * message is in ef_error_last()). */
static int run_ls_refs(ef_source *s, char head[EF_OID_HEX], bool *found, bool *parsed,
                       char ***others)
{
	git_remote_connect_options co;
	struct ls_refs ls = {0};
	int gerr;

	*found = false;
	*parsed = false;
	if (!s->tp && make_transport(s, s->remote) < 0)
		return -1;
	git_remote_connect_options_init(&co, GIT_REMOTE_CONNECT_OPTIONS_VERSION);
	co.custom_headers = s->v2_headers;
#ifdef EF_HAVE_GIT_FOLLOW_REDIRECTS
	co.follow_redirects = GIT_REMOTE_REDIRECT_NONE; /* see connect_remote */
#endif
	ef_buf_init(&ls.reply, EF_PKT_LS_REFS_MAX);
	/* The connect installs the options (the only way to give a transport
	 * its headers) and asks for the advertisement, which sub_action answers
	 * with the ls-refs exchange instead, ending the connect. */
	s->ls = &ls;
	gerr = s->tp->connect(s->tp, s->url, GIT_DIRECTION_FETCH, &co);
	s->ls = NULL;
	if (!ls.ran)
		gerr = gerr < 0 ? gerr : -1;
	else if ((gerr = ls.gerr) == 0) {
		if (ls.too_big)
			ef_error_set("ls-refs reply: larger than %u bytes", EF_PKT_LS_REFS_MAX);
		else
			*parsed =
			        ef_pkt_ls_refs_parse(head, found, ls.reply.ptr ? ls.reply.ptr : "",
			                             ls.reply.len, s->ref_name, s->previews_prefix,
			                             others) == 0;
	}
	ef_buf_dispose(&ls.reply);
	return gerr;
}

/* Failures that the v0 listing would meet as well: not worth a fallback. */
static bool v2_failure_is_final(const struct op *op, int gerr)
{
	const git_error *e = git_error_last();
	const char *msg = e && e->message ? e->message : "";

	return op->cause != 0 || gerr == GIT_ECERTIFICATE || gerr == GIT_EAUTH ||
	       (e && e->klass == GIT_ERROR_SSL) || strstr(msg, "status code: 401") != NULL ||
	       strstr(msg, "status code: 403") != NULL;
}

/* ---- the Git source ---- */

/* A fetch failed on our side of the wire: the cache's objects or refs are
 * unreadable (garbled or truncated files after a power cut or a bad disk). */
static bool cache_broken(const struct op *op)
{
	const git_error *e = git_error_last();
	int klass = e ? e->klass : GIT_ERROR_NONE;

	return op->cause == 0 &&
	       (klass == GIT_ERROR_ODB || klass == GIT_ERROR_ZLIB || klass == GIT_ERROR_OBJECT ||
	        klass == GIT_ERROR_REFERENCE || klass == GIT_ERROR_REPOSITORY);
}

/* Removes the cache and starts an empty one: it is only a cache, the server
 * has everything, and a corrupt copy kept on a small device would fill it. */
static int reset_cache(ef_source *s, const char *why)
{
	ef_warn("source.cache_unusable", "dir=%s reason=\"%s\" action=\"removed, fetching again\"",
	        s->cache_dir, why);
	drop_own_transport(s);
	git_remote_free(s->remote);
	s->remote = NULL;
	git_repository_free(s->repo);
	s->repo = NULL;
	if (ef_fs_remove_tree(s->cache_dir) < 0 || create_cache(&s->repo, s->cache_dir) < 0)
		return EF_ERROR;
	if (git_remote_create_anonymous(&s->remote, s->repo, s->url) < 0) {
		ef_error_set("url %s: %s", s->url,
		             git_error_last() ? git_error_last()->message : "invalid");
		git_repository_free(s->repo);
		s->repo = NULL;
		return EF_ERROR;
	}
	return 0;
}

/* After a reset that failed half way, try again before using the source. */
static int ensure_open(ef_source *s)
{
	if (s->repo && s->remote)
		return 0;
	return reset_cache(s, "an earlier reset did not finish");
}

/* Connects with our headers (the token). Redirects are never followed: the
 * token is a custom header, which libgit2 would send to whatever host a
 * redirect names (its default follows the first request's redirects). A
 * server that redirects gets an error naming the fix: set [source] url to
 * the final address. */
static int connect_remote(ef_source *s, const git_remote_callbacks *cb)
{
#ifdef EF_HAVE_GIT_FOLLOW_REDIRECTS
	git_remote_connect_options co;

	git_remote_connect_options_init(&co, GIT_REMOTE_CONNECT_OPTIONS_VERSION);
	co.callbacks = *cb;
	co.custom_headers = s->headers;
	co.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
	return git_remote_connect_ext(s->remote, GIT_DIRECTION_FETCH, &co);
#else
	return git_remote_connect(s->remote, GIT_DIRECTION_FETCH, cb, NULL, &s->headers);
#endif
}

/* One listing: connect (re-reading the advertisement), find the branch. */
static int list_branch(ef_source *s, git_oid *head, bool *found, char ***others)
{
	git_remote_callbacks cb;
	const git_remote_head **heads;
	size_t n;
	int gerr;

	git_remote_init_callbacks(&cb, GIT_REMOTE_CALLBACKS_VERSION);
	cb.transport = adopt_transport;
	cb.payload = &s;
	*found = false;
	if ((gerr = connect_remote(s, &cb)) < 0 ||
	    (gerr = git_remote_ls(&heads, &n, s->remote)) < 0)
		return gerr;
	ef_strv_free(*others);
	*others = NULL;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(heads[i]->name, s->ref_name) == 0) {
			git_oid_cpy(head, &heads[i]->oid);
			*found = true;
		} else if (s->previews_prefix && strncmp(heads[i]->name, s->previews_prefix,
		                                         strlen(s->previews_prefix)) == 0) {
			size_t len = EF_OID_HEX + 1 + strlen(heads[i]->name);
			char *item = malloc(len);

			if (!item)
				return GIT_ERROR;
			git_oid_tostr(item, EF_OID_HEX, &heads[i]->oid);
			snprintf(item + strlen(item), len - strlen(item), " %s", heads[i]->name);
			if (ef_strv_push_owned(others, item) < 0)
				return GIT_ERROR;
		}
	}
	return 0;
}

/* A failed ls-refs that says the server has no protocol v2 (rather than a
 * passing fault such as a 502 or a lost connection): a 4xx answer, or the
 * wrong content type. A 200 with a reply that does not parse says so too. */
static bool v2_refused(void)
{
	const git_error *e = git_error_last();
	const char *msg = e && e->message ? e->message : "";

	return strstr(msg, "status code: 4") != NULL || strstr(msg, "content-type") != NULL;
}

/* The ls-refs poll, retried once on a stale connection. 1: done (the branch
 * was found, or a failure the listing would meet too, translated); 0: try the
 * libgit2 listing, with the reason in `why`, and *refused when the listing
 * should replace ls-refs for good if it works. */
static int poll_v2(ef_source *s, struct op *op, char out_head[EF_OID_HEX], int *error, char *why,
                   size_t why_len, bool *refused)
{
	bool found = false, parsed = false;
	int gerr;

	for (int attempt = 0;; attempt++) {
		unsigned connects_before = op->connects;

		ef_strv_free(s->preview_refs);
		s->preview_refs = NULL;
		gerr = run_ls_refs(s, out_head, &found, &parsed, &s->preview_refs);
		/* An HTTP status came over a working connection: no retry. */
		if (gerr == 0 || attempt > 0 || !retriable(op, connects_before) ||
		    strstr(git_error_last() ? git_error_last()->message : "", "status code") !=
		            NULL)
			break;
		ef_debug("source.reconnect", "url=%s reason=\"%s\"", s->url,
		         git_error_last() ? git_error_last()->message : "");
	}
	*error = 0;
	*refused = gerr == 0 || v2_refused();
	if (gerr == 0 && parsed && found)
		return 1;
	if (gerr < 0 && v2_failure_is_final(op, gerr)) {
		*error = translate(s, op, gerr, "poll");
		return 1;
	}
	if (gerr < 0)
		snprintf(why, why_len, "%s",
		         git_error_last() ? git_error_last()->message : "unknown error");
	else if (!parsed)
		snprintf(why, why_len, "%s", ef_error_last());
	else
		snprintf(why, why_len, "ls-refs did not list %s", s->ref_name);
	return 0;
}

int ef_source_poll(ef_source *s, char out_head[EF_OID_HEX])
{
	git_oid head;
	bool found = false, refused = false;
	char why[256] = "";
	struct op op;
	int gerr, error;

	if ((error = use_ca_file(s->ca_file)) < 0 || (error = ensure_open(s)) < 0)
		return error;
	op_begin(s, &op, s->max_fetch_bytes);
	if (!s->v0_only && poll_v2(s, &op, out_head, &error, why, sizeof(why), &refused) == 1) {
		op_end();
		s->stats.polls++;
		if (error == 0)
			s->stats.polls_v2++;
		return error;
	}
	for (int attempt = 0;; attempt++) {
		unsigned connects_before = op.connects;

		gerr = list_branch(s, &head, &found, &s->preview_refs);
		if (gerr == 0 || attempt > 0 || !retriable(&op, connects_before))
			break;
		ef_debug("source.reconnect", "url=%s reason=\"%s\"", s->url,
		         git_error_last() ? git_error_last()->message : "");
		git_remote_disconnect(s->remote);
	}
	error = gerr < 0 ? translate(s, &op, gerr, "poll") : 0;
	/* Disconnecting ends the smart protocol session; libgit2 keeps the
	 * HTTP client and its TLS connection for the next poll. */
	git_remote_disconnect(s->remote);
	op_end();
	s->stats.polls++;
	if (error < 0)
		return error;
	if (!found) {
		ef_error_set("poll %s: the server has no branch '%s'; check [source] branch",
		             s->url, s->branch);
		return EF_ENOTFOUND;
	}
	if (why[0] && refused && !s->v0_only) {
		/* The server refused ls-refs and the v0 listing worked: keep to
		 * the listing. A passing fault (5xx, lost connection) does not
		 * count: ls-refs is tried again on the next poll. */
		s->v0_only = true;
		ef_info("source.protocol", "url=%s version=0 reason=\"%s\"", s->url, why);
	} else if (why[0]) {
		ef_debug("source.protocol", "url=%s version=0 once reason=\"%s\"", s->url, why);
	}
	git_oid_tostr(out_head, EF_OID_HEX, &head);
	return 0;
}

struct fetch_ctx {
	ef_source *s; /* first: adopt_transport() reads it */
	struct op *op;
};

static int on_transfer(const git_indexer_progress *p, void *payload)
{
	struct fetch_ctx *fc = payload;

	if (fc->s->max_fetch_bytes && p->received_bytes > fc->s->max_fetch_bytes) {
		op_fail(fc->op, EF_ETOOBIG, "pack larger than the limit");
		return -1;
	}
	if (fc->op->deadline_ms && now_ms() >= fc->op->deadline_ms) {
		op_fail(fc->op, EF_ETIMEOUT, "fetch not done before the deadline");
		return -1;
	}
	return 0;
}

/* Points `local` (refs/edgeflip/head, or a preview's ref) at `id`; no reflog
 * (core.logAllRefUpdates=false). */
static int set_local_ref(ef_source *s, const char *local, const git_oid *id)
{
	git_reference *ref = NULL;
	git_oid cur;
	int gerr;

	if (git_reference_name_to_id(&cur, s->repo, local) == 0 && git_oid_equal(&cur, id))
		return 0;
	gerr = git_reference_create(&ref, s->repo, local, id, 1, NULL);
	git_reference_free(ref);
	if (gerr < 0) {
		ef_error_set("cannot update %s in %s: %s", local, s->cache_dir,
		             git_error_last() ? git_error_last()->message : "unknown error");
		return EF_ERROR;
	}
	return 0;
}

/* git_remote_fetch truncates FETCH_HEAD whatever update_fetchhead says
 * (libgit2 1.5 to 1.9 at least); the cache keeps none. */
static void remove_fetch_head(const ef_source *s)
{
	char path[4096];

	if ((size_t)snprintf(path, sizeof(path), "%s/FETCH_HEAD", git_repository_path(s->repo)) <
	    sizeof(path))
		unlink(path);
}

/* The pack files in the cache (names without ".pack"), sorted. */
static char **list_packs(const ef_source *s)
{
	char dir[4096];
	char **v = NULL;
	DIR *d;
	struct dirent *e;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/objects/pack", git_repository_path(s->repo)) >=
	    sizeof(dir))
		return NULL;
	if (!(d = opendir(dir)))
		return NULL;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);

		if (n > 5 && strcmp(e->d_name + n - 5, ".pack") == 0) {
			char *name = strndup(e->d_name, n - 5);

			if (!name || ef_strv_push_owned(&v, name) < 0)
				break;
		}
	}
	closedir(d);
	return v;
}

static bool strv_has(char *const *v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

/* Fetches `refspec` so that `want` is in the object database and points
 * `local` at it. The packs it adds are remembered for ef_source_discard only
 * for the branch (`main`). */
static int fetch_into(ef_source *s, char *refspec, const char *local, const char *want, bool main)
{
	char **packs_before = NULL;
	git_fetch_options fo;
	char *specs[1] = {refspec};
	git_strarray refspecs = {specs, 1};
	git_odb *odb = NULL;
	git_oid id;
	struct fetch_ctx fc;
	struct op op;
	bool reset = false;
	int gerr, error;

	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	if ((error = parse_oid(&id, want)) < 0 || (error = ensure_open(s)) < 0)
		return error;
	if (git_repository_odb(&odb, s->repo) < 0) {
		ef_error_set("cannot open the object database of %s", s->cache_dir);
		return EF_ERROR;
	}
	if (git_odb_exists(odb, &id)) {
		error = set_local_ref(s, local, &id);
		goto out;
	}
	if ((error = use_ca_file(s->ca_file)) < 0)
		goto out;
	if (main) {
		packs_before = list_packs(s);
		ef_strv_free(s->last_packs);
		s->last_packs = NULL;
		s->had_ref_before =
		        git_reference_name_to_id(&s->ref_before, s->repo, LOCAL_REF) == 0;
	}

	fc.s = s;
	fc.op = &op;
	fo.callbacks.transfer_progress = on_transfer;
	fo.callbacks.transport = adopt_transport;
	fo.callbacks.payload = &fc;
	fo.prune = GIT_FETCH_NO_PRUNE;
	fo.update_fetchhead = 0; /* FETCH_HEAD stays empty; removed after the fetch */
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	fo.custom_headers = s->headers;
#ifdef EF_HAVE_GIT_FOLLOW_REDIRECTS
	fo.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
#endif

	op_begin(s, &op, s->max_fetch_bytes);
	for (int attempt = 0;; attempt++) {
		unsigned connects_before = op.connects;

		/* Connect first with our own options: libgit2 1.5's
		 * git_remote_download leaks its copy of the headers (the
		 * token) and git_remote_fetch leaks it when it has to connect
		 * by itself; on a connected remote both only swap options. */
		gerr = connect_remote(s, &fo.callbacks);
		if (gerr == 0)
			gerr = git_remote_fetch(s->remote, &refspecs, &fo, NULL);
		if (gerr < 0 && !reset && cache_broken(&op)) {
			/* Once per fetch, within the same deadline. */
			char why[256];

			snprintf(why, sizeof(why), "%s",
			         git_error_last() ? git_error_last()->message : "unknown error");
			git_remote_disconnect(s->remote);
			git_odb_free(odb);
			odb = NULL;
			reset = true;
			if ((error = reset_cache(s, why)) < 0) {
				op_end();
				goto out;
			}
			if (git_repository_odb(&odb, s->repo) < 0) {
				ef_error_set("cannot open the object database of %s", s->cache_dir);
				error = EF_ERROR;
				op_end();
				goto out;
			}
			continue;
		}
		if (gerr == 0 || attempt > 0 || !retriable(&op, connects_before))
			break;
		git_remote_disconnect(s->remote);
	}
	error = gerr < 0 ? translate(s, &op, gerr, "fetch") : 0;
	git_remote_disconnect(s->remote);
	op_end();
	s->stats.fetches++;
	remove_fetch_head(s);
	if (error < 0)
		goto out;
	git_odb_refresh(odb);
	if (!git_odb_exists(odb, &id)) {
		ef_error_set("fetch %s: commit %s is not on %s any more (the ref moved "
		             "during the fetch); poll again",
		             s->url, want, main ? s->ref_name : refspec + 1);
		error = EF_EAGAIN;
		goto out;
	}
	if ((error = set_local_ref(s, local, &id)) < 0)
		goto out;
	if (main) {
		char **after = list_packs(s);

		for (size_t i = 0; after && after[i]; i++)
			if (!strv_has(packs_before, after[i]))
				ef_strv_push(&s->last_packs, after[i]);
		ef_strv_free(after);
		git_oid_cpy(&s->last_fetch, &id);
	}
	ef_info("source.fetched", "url=%s ref=%s commit=%s bytes=%llu", s->url, local, want,
	        (unsigned long long)op.bytes_read);
out:
	ef_strv_free(packs_before);
	git_odb_free(odb);
	return error;
}

int ef_source_fetch(ef_source *s, const char *want)
{
	return fetch_into(s, s->refspec, LOCAL_REF, want, true);
}

char *const *ef_source_preview_refs(const ef_source *s)
{
	return s->preview_refs;
}

int ef_source_fetch_ref(ef_source *s, const char *ref, const char *local, const char *want)
{
	size_t n = strlen(ref) + strlen(local) + 3;
	char *refspec = malloc(n);
	int error;

	if (!refspec)
		return EF_ENOMEM;
	snprintf(refspec, n, "+%s:%s", ref, local);
	if (!git_reference_is_valid_name(ref) || !git_reference_is_valid_name(local) ||
	    strncmp(local, "refs/edgeflip/", 14) != 0 || strcmp(local, LOCAL_REF) == 0) {
		ef_error_set("fetch %s: '%s' is not a ref edgeflip fetches", s->url, refspec);
		error = EF_EINVALID;
	} else {
		error = fetch_into(s, refspec, local, want, false);
	}
	free(refspec);
	return error;
}

void ef_source_drop_ref(ef_source *s, const char *local)
{
	if (s->repo && strncmp(local, "refs/edgeflip/", 14) == 0 && strcmp(local, LOCAL_REF) != 0)
		git_reference_remove(s->repo, local);
}

int ef_source_discard(ef_source *s, const char *commit)
{
	char dir[4096], path[4200];
	static const char *const exts[] = {".pack", ".idx", ".rev", ".keep", ".promisor"};
	unsigned long long freed = 0;
	size_t npacks = 0;
	git_oid id;
	int error;

	if ((error = parse_oid(&id, commit)) < 0)
		return error;
	if (!s->repo || !s->last_packs || !git_oid_equal(&id, &s->last_fetch))
		return 0; /* nothing fetched for it (already there, or already gone) */
	/* The branch ref back to where it was: the next fetch asks for these
	 * objects again rather than counting them as present. */
	if (s->had_ref_before)
		git_reference_create(NULL, s->repo, LOCAL_REF, &s->ref_before, 1, NULL);
	else
		git_reference_remove(s->repo, LOCAL_REF);
	snprintf(dir, sizeof(dir), "%s/objects/pack", git_repository_path(s->repo));
	/* libgit2 keeps packs open: close the repository so that the space of
	 * the unlinked files is given back now, not when the daemon exits. */
	drop_own_transport(s);
	git_remote_free(s->remote);
	s->remote = NULL;
	git_repository_free(s->repo);
	s->repo = NULL;
	for (size_t i = 0; s->last_packs[i]; i++, npacks++) {
		for (size_t e = 0; e < sizeof(exts) / sizeof(exts[0]); e++) {
			struct stat st;

			snprintf(path, sizeof(path), "%s/%s%s", dir, s->last_packs[i], exts[e]);
			if (lstat(path, &st) == 0 && unlink(path) == 0)
				freed += (unsigned long long)st.st_size;
		}
	}
	ef_strv_free(s->last_packs);
	s->last_packs = NULL;
	ef_info("source.discarded", "commit=%s packs=%zu bytes=%llu", commit, npacks, freed);
	if ((error = open_cache(&s->repo, s->cache_dir)) < 0)
		return error;
	if (git_remote_create_anonymous(&s->remote, s->repo, s->url) < 0) {
		ef_error_set("url %s: %s", s->url,
		             git_error_last() ? git_error_last()->message : "invalid");
		return EF_ERROR;
	}
	return 0;
}

static int lookup_commit(git_commit **out, ef_source *s, const char *commit)
{
	git_oid id;
	int error;

	if ((error = parse_oid(&id, commit)) < 0)
		return error;
	if (git_commit_lookup(out, s->repo, &id) < 0) {
		ef_error_set("commit %s is not in the cache %s (fetch it first)", commit,
		             s->cache_dir);
		return EF_ENOTFOUND;
	}
	return 0;
}

int ef_source_resolve(ef_source *s, char out[EF_OID_HEX], const char *rev)
{
	git_object *obj = NULL, *peeled = NULL;
	const char *spec = rev;
	int error = EF_ENOTFOUND;

	/* The branch lives in the cache as refs/edgeflip/head (HEAD points to it). */
	if (strcmp(rev, s->branch) == 0 || strcmp(rev, s->ref_name) == 0)
		spec = LOCAL_REF;
	if (git_revparse_single(&obj, s->repo, spec) < 0) {
		ef_error_set("revision '%s' is not in the cache %s", rev, s->cache_dir);
		goto out;
	}
	if (git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) < 0) {
		ef_error_set("revision '%s' does not name a commit", rev);
		error = EF_EINVALID;
		goto out;
	}
	git_oid_tostr(out, EF_OID_HEX, git_object_id(peeled));
	error = 0;
out:
	git_object_free(peeled);
	git_object_free(obj);
	return error;
}

int ef_source_read_commit(ef_source *s, ef_buf *out, const char *commit, size_t cap)
{
	git_odb *odb = NULL;
	git_odb_object *obj = NULL;
	git_object_t type = GIT_OBJECT_INVALID;
	size_t size = 0;
	git_oid id;
	int error;

	ef_buf_init(out, cap);
	if ((error = parse_oid(&id, commit)) < 0)
		return error;
	error = EF_ENOTFOUND;
	if (git_repository_odb(&odb, s->repo) < 0 ||
	    git_odb_read_header(&size, &type, odb, &id) < 0) {
		ef_error_set("commit %s is not in the cache %s (fetch it first)", commit,
		             s->cache_dir);
		goto out;
	}
	/* From the object's header, before anything is inflated: an unsigned
	 * "commit" of 500 MB costs no memory. */
	if (type != GIT_OBJECT_COMMIT) {
		ef_error_set("object %s is a %s, not a commit", commit,
		             git_object_type2string(type));
		error = EF_EINVALID;
		goto out;
	}
	if (size > cap) {
		ef_error_set("commit %s is larger than the limit of %zu bytes", commit, cap);
		error = EF_ETOOBIG;
		goto out;
	}
	if (git_odb_read(&obj, odb, &id) < 0) {
		ef_error_set("commit %s is not in the cache %s (fetch it first)", commit,
		             s->cache_dir);
		goto out;
	}
	error = EF_EINVALID;
	if (git_odb_object_type(obj) != GIT_OBJECT_COMMIT) {
		ef_error_set("object %s is a %s, not a commit", commit,
		             git_object_type2string(git_odb_object_type(obj)));
		goto out;
	}
	if (git_odb_object_size(obj) > cap) {
		ef_error_set("commit %s is larger than the limit of %zu bytes", commit, cap);
		error = EF_ETOOBIG;
		goto out;
	}
	error = ef_buf_put(out, git_odb_object_data(obj), git_odb_object_size(obj));
out:
	git_odb_object_free(obj);
	git_odb_free(odb);
	return error;
}

int ef_source_read_file(ef_source *s, ef_buf *out, const char *commit, const char *path, size_t cap)
{
	git_commit *c = NULL;
	git_tree *tree = NULL;
	git_tree_entry *entry = NULL;
	git_blob *blob = NULL;
	git_object_size_t size;
	int error;

	ef_buf_init(out, cap);
	if ((error = lookup_commit(&c, s, commit)) < 0)
		return error;
	error = EF_ERROR;
	if (git_commit_tree(&tree, c) < 0) {
		ef_error_set("cannot read the tree of commit %s: %s", commit,
		             git_error_last() ? git_error_last()->message : "unknown error");
		goto out;
	}
	if (git_tree_entry_bypath(&entry, tree, path) < 0) {
		ef_error_set("commit %s has no file %s", commit, path);
		error = EF_ENOTFOUND;
		goto out;
	}
	error = EF_EINVALID;
	if (git_tree_entry_type(entry) != GIT_OBJECT_BLOB) {
		ef_error_set("%s in commit %s is a %s, not a file", path, commit,
		             git_object_type2string(git_tree_entry_type(entry)));
		goto out;
	}
	if (git_tree_entry_filemode(entry) == GIT_FILEMODE_LINK) {
		ef_error_set("%s in commit %s is a symbolic link; links are not followed", path,
		             commit);
		goto out;
	}
	if (git_blob_lookup(&blob, s->repo, git_tree_entry_id(entry)) < 0) {
		ef_error_set("cannot read %s in commit %s: %s", path, commit,
		             git_error_last() ? git_error_last()->message : "unknown error");
		error = EF_ERROR;
		goto out;
	}
	size = git_blob_rawsize(blob);
	if (size > cap) {
		ef_error_set("%s in commit %s is larger than the limit of %zu bytes", path, commit,
		             cap);
		error = EF_ETOOBIG;
		goto out;
	}
	error = ef_buf_put(out, git_blob_rawcontent(blob), (size_t)size);
out:
	git_blob_free(blob);
	git_tree_entry_free(entry);
	git_tree_free(tree);
	git_commit_free(c);
	return error;
}

int ef_source_descends(ef_source *s, bool *out, const char *commit, const char *ancestor)
{
	git_commit *a = NULL, *b = NULL;
	int error, rc;

	*out = false;
	if ((error = lookup_commit(&a, s, commit)) < 0 ||
	    (error = lookup_commit(&b, s, ancestor)) < 0)
		goto out;
	if (git_oid_equal(git_commit_id(a), git_commit_id(b))) {
		*out = true;
		goto out;
	}
	rc = git_graph_descendant_of(s->repo, git_commit_id(a), git_commit_id(b));
	if (rc < 0) {
		ef_error_set("cannot walk the history from %s to %s: %s", commit, ancestor,
		             git_error_last() ? git_error_last()->message : "unknown error");
		error = EF_ERROR;
		goto out;
	}
	*out = rc == 1;
out:
	git_commit_free(a);
	git_commit_free(b);
	return error;
}

int ef_source_commit_time(ef_source *s, int64_t *out, const char *commit)
{
	git_commit *c = NULL;
	int error;

	*out = 0;
	if ((error = lookup_commit(&c, s, commit)) < 0)
		return error;
	*out = (int64_t)git_commit_committer(c)->when.time;
	git_commit_free(c);
	return 0;
}

void ef_source_get_stats(const ef_source *s, ef_source_stats *out)
{
	*out = s->stats;
}

void ef_source_free(ef_source *s)
{
	if (!s)
		return;
	drop_own_transport(s);
	git_remote_free(s->remote);
	git_repository_free(s->repo);
	ef_strv_free(s->last_packs);
	ef_buf_dispose_secret(&s->auth_header);
	ef_buf_dispose(&s->ls_request);
	free(s->url);
	free(s->branch);
	free(s->previews_prefix);
	ef_strv_free(s->preview_refs);
	free(s->ref_name);
	free(s->refspec);
	free(s->ca_file);
	free(s->token_file);
	free(s->cache_dir);
	free(s);
}

/* For the tree source (tree_src.c): the cache's repository. */
git_repository *ef_source__repo(ef_source *s)
{
	return s->repo;
}

const char *ef_source__ref_name(const ef_source *s)
{
	return s->ref_name;
}

uint64_t ef_source__max_fetch(const ef_source *s)
{
	return s->max_fetch_bytes;
}
