/* Protocol v2 polls of the Git source.
 *
 * libgit2 speaks only protocol v0, whose ref advertisement lists every ref of
 * the repository on every poll. A poll therefore first sends one protocol v2
 * `ls-refs` request with `ref-prefix refs/heads/<branch>` (pkt.c), which the
 * server answers with that branch alone. It goes through libgit2's own HTTP
 * client and TLS, on the same kept-alive connection as the fetches: the
 * remote's smart transport is made here (git_remote_callbacks.transport)
 * around libgit2's HTTP subtransport, and a wrapper subtransport runs the
 * ls-refs exchange when the transport's connect asks for the v0
 * advertisement (see run_ls_refs). A server that does not answer it gets the
 * libgit2 listing instead (source.c), from then on. */
#include "pkt.h"
#include "source_internal.h"
#include "edgeflip/error.h"
#include "edgeflip/features.h"
#include "edgeflip/log.h"

#include <git2.h>
#include <git2/sys/transport.h>
#ifdef EF_HAVE_GIT_SYS_ERRORS_H
#include <git2/sys/errors.h> /* git_error_set() from libgit2 1.8 on */
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
int ef_source__adopt_transport(git_transport **out, git_remote *owner, void *payload)
{
	ef_source *s = *(ef_source **)payload;

	if (!s->tp && make_transport(s, owner) < 0)
		return -1;
	*out = s->tp;
	s->tp_adopted = true;
	return 0;
}

/* Frees a transport that no remote took yet (before the remote goes). */
void ef_source__drop_transport(ef_source *s)
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
static bool v2_failure_is_final(const struct ef_source_op *op, int gerr)
{
	const git_error *e = git_error_last();
	const char *msg = e && e->message ? e->message : "";

	return op->cause != 0 || gerr == GIT_ECERTIFICATE || gerr == GIT_EAUTH ||
	       (e && e->klass == GIT_ERROR_SSL) || strstr(msg, "status code: 401") != NULL ||
	       strstr(msg, "status code: 403") != NULL;
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
int ef_source__poll_v2(ef_source *s, struct ef_source_op *op, char out_head[EF_OID_HEX], int *error,
                       char *why, size_t why_len, bool *refused)
{
	bool found = false, parsed = false;
	int gerr;

	for (int attempt = 0;; attempt++) {
		unsigned connects_before = op->connects;

		ef_strv_free(s->preview_refs);
		s->preview_refs = NULL;
		gerr = run_ls_refs(s, out_head, &found, &parsed, &s->preview_refs);
		/* An HTTP status came over a working connection: no retry. */
		if (gerr == 0 || attempt > 0 || !ef_source__retriable(op, connects_before) ||
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
		*error = ef_source__translate(s, op, gerr, "poll");
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
