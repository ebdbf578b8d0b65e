/* Fuzzes the previews.json parser (core/agent/previews_state.c): whatever a
 * damaged disk hands back is refused cleanly, or parses into a record that
 * is written and read back the same. */
#include "edgeflip/previews.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ef_previews p, back;
	char *json = NULL;

	if (ef_previews_parse(&p, (const char *)data, size) < 0) {
		if (p.count || p.items)
			abort();
		return 0;
	}
	if (ef_previews_to_json(&json, &p) < 0)
		abort();
	if (ef_previews_parse(&back, json, strlen(json)) < 0 || back.count != p.count)
		abort();
	for (size_t i = 0; i < p.count; i++) {
		if (strcmp(p.items[i].name, back.items[i].name) ||
		    strcmp(p.items[i].revision, back.items[i].revision) ||
		    p.items[i].nports != back.items[i].nports)
			abort();
		for (size_t j = 0; j < p.items[i].nports; j++)
			if (p.items[i].ports[j].host_port != back.items[i].ports[j].host_port)
				abort();
	}
	free(json);
	ef_previews_dispose(&p);
	ef_previews_dispose(&back);
	return 0;
}
