/* The Git source: one branch of an HTTPS repository, polled over one kept-alive
 * connection and fetched into a bare cache repository (libgit2).
 *
 * Connection reuse. libgit2 keeps the HTTP client (and its TLS connection)
 * inside the remote's transport, so one git_remote kept for the life of the
 * source lets every poll (connect, ls, disconnect) reuse the connection. A
 * connection that the server closed while idle fails on first use; the
 * operation is then retried once on a new connection.
 *
 * Deadlines and caps are the socket stream's (stream.c), protocol v2 polls
 * v2.c's; fetches are fetch.c, reads from the cache objects.c
 * (source_internal.h lists the files). */
#include "edgeflip/source.h"
#include "pkt.h"
#include "source_internal.h"
#include "edgeflip/error.h"
#include "edgeflip/features.h"
#include "edgeflip/log.h"
#include "edgeflip/sys/fs.h"

#include <git2.h>
#include <git2/sys/stream.h>
#include <mbedtls/base64.h>
#ifdef EF_HAVE_PSA_CRYPTO
#include <psa/crypto.h>
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define TOKEN_FILE_CAP 4096
#define SHA1_HEX_LEN   40 /* libgit2 1.5 has SHA-1 object ids only */
/* The user name sent with the token in HTTP Basic auth when the token file
 * holds no "user:" prefix. GitHub requires it for app and Actions tokens;
 * GitLab, Gitea/Forgejo and Azure DevOps accept any name with a token. */
#define TOKEN_USER "x-access-token"

/* The header that makes the server answer in protocol v2 (git http-backend
 * passes it on to upload-pack). Only ls-refs polls send it: libgit2 cannot
 * read a v2 answer. */
static char git_protocol_v2[] = "Git-Protocol: version=2";

/* ---- global setup ---- */

int ef_source_global_init(void)
{
	git_stream_registration reg = {.version = GIT_STREAM_VERSION,
	                               .init = ef_source__stream_new};

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

int ef_source__translate(const ef_source *s, const struct ef_source_op *op, int gerr,
                         const char *action)
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
bool ef_source__retriable(const struct ef_source_op *op, unsigned connects_before)
{
	const git_error *e = git_error_last();
	int klass = e ? e->klass : GIT_ERROR_NONE;

	return op->cause == 0 && op->connects == connects_before &&
	       (klass == GIT_ERROR_NET || klass == GIT_ERROR_HTTP || klass == GIT_ERROR_SSL);
}

int ef_source__parse_oid(git_oid *out, const char *hex)
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

int ef_source__open_cache(git_repository **out, const char *dir)
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
int ef_source__use_ca_file(const char *ca_file)
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
	if ((error = ef_source__use_ca_file(s->ca_file)) < 0)
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
	if ((error = ef_source__open_cache(&s->repo, s->cache_dir)) < 0)
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

/* ---- the Git source ---- */

/* A fetch failed on our side of the wire: the cache's objects or refs are
 * unreadable (garbled or truncated files after a power cut or a bad disk). */
bool ef_source__cache_broken(const struct ef_source_op *op)
{
	const git_error *e = git_error_last();
	int klass = e ? e->klass : GIT_ERROR_NONE;

	return op->cause == 0 &&
	       (klass == GIT_ERROR_ODB || klass == GIT_ERROR_ZLIB || klass == GIT_ERROR_OBJECT ||
	        klass == GIT_ERROR_REFERENCE || klass == GIT_ERROR_REPOSITORY);
}

/* Removes the cache and starts an empty one: it is only a cache, the server
 * has everything, and a corrupt copy kept on a small device would fill it. */
int ef_source__reset_cache(ef_source *s, const char *why)
{
	ef_warn("source.cache_unusable", "dir=%s reason=\"%s\" action=\"removed, fetching again\"",
	        s->cache_dir, why);
	ef_source__drop_transport(s);
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
int ef_source__ensure_open(ef_source *s)
{
	if (s->repo && s->remote)
		return 0;
	return ef_source__reset_cache(s, "an earlier reset did not finish");
}

/* Connects with our headers (the token). Redirects are never followed: the
 * token is a custom header, which libgit2 would send to whatever host a
 * redirect names (its default follows the first request's redirects). A
 * server that redirects gets an error naming the fix: set [source] url to
 * the final address. */
int ef_source__connect_remote(ef_source *s, const git_remote_callbacks *cb)
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
	cb.transport = ef_source__adopt_transport;
	cb.payload = &s;
	*found = false;
	if ((gerr = ef_source__connect_remote(s, &cb)) < 0 ||
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

int ef_source_poll(ef_source *s, char out_head[EF_OID_HEX])
{
	git_oid head;
	bool found = false, refused = false;
	char why[256] = "";
	struct ef_source_op op;
	int gerr, error;

	if ((error = ef_source__use_ca_file(s->ca_file)) < 0 ||
	    (error = ef_source__ensure_open(s)) < 0)
		return error;
	ef_source__op_begin(s, &op, s->max_fetch_bytes);
	if (!s->v0_only &&
	    ef_source__poll_v2(s, &op, out_head, &error, why, sizeof(why), &refused) == 1) {
		ef_source__op_end();
		s->stats.polls++;
		if (error == 0)
			s->stats.polls_v2++;
		return error;
	}
	for (int attempt = 0;; attempt++) {
		unsigned connects_before = op.connects;

		gerr = list_branch(s, &head, &found, &s->preview_refs);
		if (gerr == 0 || attempt > 0 || !ef_source__retriable(&op, connects_before))
			break;
		ef_debug("source.reconnect", "url=%s reason=\"%s\"", s->url,
		         git_error_last() ? git_error_last()->message : "");
		git_remote_disconnect(s->remote);
	}
	error = gerr < 0 ? ef_source__translate(s, &op, gerr, "poll") : 0;
	/* Disconnecting ends the smart protocol session; libgit2 keeps the
	 * HTTP client and its TLS connection for the next poll. */
	git_remote_disconnect(s->remote);
	ef_source__op_end();
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

void ef_source_get_stats(const ef_source *s, ef_source_stats *out)
{
	*out = s->stats;
}

void ef_source_free(ef_source *s)
{
	if (!s)
		return;
	ef_source__drop_transport(s);
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
