/* libFuzzer target: the merge of an override file into a base. The input is
 * two YAML documents separated by a line "#---#"; both are read, then merged,
 * then the model is parsed from the result. */
#include "edgeflip/compose_read.h"
#include "edgeflip/manifest.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char sep[] = "\n#---#\n";
	const char *text = (const char *)data, *split = NULL;
	ef_compose_pos *pos = NULL;
	ef_manifest *m = NULL;
	cJSON *base = NULL, *over = NULL;
	ef_findings f;

	for (size_t i = 0; i + sizeof(sep) - 1 <= size; i++)
		if (!memcmp(text + i, sep, sizeof(sep) - 1)) {
			split = text + i;
			break;
		}
	if (!split || ef_compose_pos_new(&pos) != 0)
		return 0;
	ef_findings_init(&f);
	if (ef_compose_yaml_read(&base, text, (size_t)(split - text), "base.yaml", pos, &f) == 0 &&
	    ef_compose_yaml_read(&over, split + sizeof(sep) - 1,
	                         size - (size_t)(split - text) - (sizeof(sep) - 1), "over.yaml",
	                         pos, &f) == 0 &&
	    base && over) {
		if (ef_compose_merge(base, over, pos, "over.yaml", &f) == 0)
			ef_manifest_parse_doc(&m, base, "base.yaml", pos, &f);
		over = NULL; /* consumed */
	}
	ef_manifest_free(m);
	cJSON_Delete(base);
	cJSON_Delete(over);
	ef_findings_dispose(&f);
	ef_compose_pos_free(pos);
	return 0;
}
