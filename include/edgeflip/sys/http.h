/* The HTTP client port (port/http/): what core/ asks of HTTP without
 * touching a socket or libcurl itself. Used by the registry client of image
 * signature checks, the webhook notifications (core/agent/fleet.c) and the
 * HTTP health probes (core/deploy/health.c). */
#ifndef EDGEFLIP_SYS_HTTP_H
#define EDGEFLIP_SYS_HTTP_H

#include "edgeflip/buf.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
	const char *method;         /* "GET" (default), "HEAD" or "POST" */
	const char *url;            /* http:// only when allow_http; https:// otherwise */
	const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
	const char *ca_file;        /* NULL: the system's CA store */
	bool allow_http;            /* plain http:// accepted (loopback registries in tests) */
	uint64_t timeout_ms;        /* whole request; 0: 30 s */
	size_t max_body;            /* cap on the reply body (EF_ETOOBIG beyond) */
	bool discard_body;          /* the body is read and dropped, whatever its size (probes) */
	bool follow_redirects;      /* same scheme only; our headers are not sent to another host */
	const void *body;           /* POST: the request body (sent as is; may be NULL) */
	size_t body_len;
} ef_http_req;

typedef struct {
	long status;
	char content_type[128];
	char docker_digest[80];      /* Docker-Content-Digest, "" when absent */
	char www_authenticate[1024]; /* WWW-Authenticate, "" when absent */
	ef_buf body;                 /* capped by max_body */
} ef_http_reply;

void ef_http_reply_init(ef_http_reply *r, size_t max_body);
void ef_http_reply_dispose(ef_http_reply *r);

/* Performs one request. Returns 0
 * when an HTTP status was received (any status), EF_EUNREACHABLE when the
 * host did not answer, EF_ETIMEOUT, EF_ETOOBIG, EF_EINVALID for a refused
 * URL. */
int ef_http_request(ef_http_reply *out, const ef_http_req *req);

#endif
