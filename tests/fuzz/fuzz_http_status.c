/* What the proxy reads from a backend's bytes (the status line of each
 * response, split anywhere) and what the agent reads from the proxy (the
 * "counters" line). The first byte picks the split size of the scan; the
 * scan of every split must agree with the scan in one piece. */
#include "edgeflip/proxy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ef_http_scan whole = {0}, parts = {0};
	ef_port_counters *pc = NULL;
	size_t split, n = 0;
	int a, b = 0;
	char *line;

	if (size == 0)
		return 0;
	split = (size_t)data[0] % 13 + 1;
	data++;
	size--;
	a = ef_http_status_scan(&whole, (const char *)data, size);
	for (size_t off = 0; off < size && b == 0; off += split)
		b = ef_http_status_scan(&parts, (const char *)data + off,
		                        size - off < split ? size - off : split);
	if (a != b || (a > 0 && (a < 100 || a > 599)))
		abort();
	if (!(line = malloc(size + 1)))
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (ef_proxy_counters_parse(&pc, &n, line) == 0 && n > 0 && !pc)
		abort();
	for (size_t i = 0; i < n; i++)
		if (pc[i].weight > 100 || pc[i].listen_port == 0)
			abort();
	free(pc);
	free(line);
	return 0;
}
