/* The HTTP reply of the port (include/edgeflip/sys/http.h), apart from the
 * client that fills it (curl.c): a test or fuzz target that fakes
 * ef_http_request() links these as they are. */
#include "edgeflip/sys/http.h"

#include <string.h>

void ef_http_reply_init(ef_http_reply *r, size_t max_body)
{
	memset(r, 0, sizeof(*r));
	ef_buf_init(&r->body, max_body);
}

void ef_http_reply_dispose(ef_http_reply *r)
{
	ef_buf_dispose(&r->body);
}
