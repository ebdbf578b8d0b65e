/* The HTTP client port over libcurl: one easy handle per request, replies
 * capped, no redirects, TLS verified against the configured CA file. */
#include "edgeflip/error.h"
#include "edgeflip/sys/clock.h"
#include "edgeflip/sys/http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef struct {
	ef_http_reply *r;
	bool discard;
	int error;
} xfer;

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	xfer *x = ud;

	if (x->discard)
		return size * n;
	if ((x->error = ef_buf_put(&x->r->body, p, size * n)) < 0)
		return 0;
	return size * n;
}

static void header_value(char *out, size_t outsize, const char *line, size_t len, const char *name)
{
	size_t nl = strlen(name), vl;
	const char *v;

	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	v = line + nl + 1;
	vl = len - nl - 1;
	while (vl && (*v == ' ' || *v == '\t'))
		v++, vl--;
	while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
		vl--;
	if (vl >= outsize)
		vl = outsize - 1; /* the fields are only compared; a long one never matches */
	memcpy(out, v, vl);
	out[vl] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	xfer *x = ud;
	size_t len = size * n;

	header_value(x->r->content_type, sizeof(x->r->content_type), p, len, "Content-Type");
	header_value(x->r->docker_digest, sizeof(x->r->docker_digest), p, len,
	             "Docker-Content-Digest");
	header_value(x->r->www_authenticate, sizeof(x->r->www_authenticate), p, len,
	             "WWW-Authenticate");
	return len;
}

int ef_http_request(ef_http_reply *out, const ef_http_req *req)
{
	CURL *h = NULL;
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	xfer x = {out, req->discard_body, 0};
	CURLcode rc;
	int error = EF_ERROR;
	bool is_http = !strncmp(req->url, "http://", 7);

	if (!is_http && strncmp(req->url, "https://", 8) != 0) {
		ef_error_set("%s: only http(s) URLs are used", req->url);
		return EF_EINVALID;
	}
	if (is_http && !req->allow_http) {
		ef_error_set("%s: plain http is refused (allow it only for a loopback registry)",
		             req->url);
		return EF_EINVALID;
	}
	if (!(h = curl_easy_init())) {
		ef_error_set("out of memory");
		return EF_ENOMEM;
	}
	for (const char *const *p = req->headers; p && *p; p++) {
		struct curl_slist *n = curl_slist_append(hdrs, *p);
		if (!n) {
			ef_error_set("out of memory");
			error = EF_ENOMEM;
			goto out;
		}
		hdrs = n;
	}
	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, req->allow_http ? "http,https" : "https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, req->follow_redirects ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, is_http ? "http" : "https");
	curl_easy_setopt(h, CURLOPT_UNRESTRICTED_AUTH, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
	                 (long)ef_clock_timeout(req->timeout_ms ? req->timeout_ms : 30000));
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	if (hdrs)
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	if (req->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, req->ca_file);
	if (req->method && !strcmp(req->method, "HEAD"))
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	if (req->method && !strcmp(req->method, "POST")) {
		/* Not copied: the caller keeps the body alive for the call. */
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)(req->body ? req->body_len : 0));
		/* A POST is not repeated on a redirect. */
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	}
	rc = curl_easy_perform(h);
	if (x.error < 0) {
		ef_error_set("%s: the reply is larger than %zu bytes", req->url, out->body.cap);
		error = x.error;
		goto out;
	}
	if (rc == CURLE_OPERATION_TIMEDOUT) {
		ef_error_set("%s: timed out", req->url);
		error = EF_ETIMEOUT;
		goto out;
	}
	if (rc != CURLE_OK) {
		ef_error_set("%s: %s", req->url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
		error = EF_EUNREACHABLE;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
	error = 0;
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return error;
}
