/* The proxy's routes file (STATE_DIR/proxy/routes.json) is input: parse it,
 * and when it parses, format it and parse it again to the same routes. */
#include "edgeflip/proxy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ef_buf text = EF_BUF_INIT(4 * EF_ROUTES_FILE_MAX);
	ef_route *r = NULL, *r2 = NULL;
	size_t n = 0, n2 = 0;
	uint64_t gen, gen2;

	if (ef_proxy_routes_parse(&r, &n, &gen, (const char *)data, size) < 0)
		return 0;
	if (ef_proxy_routes_format(&text, r, n, gen) == 0) {
		if (ef_proxy_routes_parse(&r2, &n2, &gen2, text.ptr, text.len) != 0 || n2 != n ||
		    gen2 != gen)
			abort();
		for (size_t i = 0; i < n; i++)
			if (strcmp(r[i].listen_addr, r2[i].listen_addr) != 0 ||
			    r[i].target_port != r2[i].target_port)
				abort();
	}
	ef_routes_free(r, n);
	ef_routes_free(r2, n2);
	ef_buf_dispose(&text);
	return 0;
}
