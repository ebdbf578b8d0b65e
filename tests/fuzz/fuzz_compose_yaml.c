/* libFuzzer target: the compose reader's YAML (and JSON) input, with
 * positions and findings, then the model on whatever was read. */
#include "edgeflip/compose_read.h"
#include "edgeflip/manifest.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ef_compose_pos *pos = NULL;
	ef_manifest *m = NULL;
	ef_findings f;
	ef_buf out = EF_BUF_INIT(1u << 24);
	cJSON *doc = NULL;
	int rc;

	if (ef_compose_pos_new(&pos) != 0)
		return 0;
	ef_findings_init(&f);
	rc = ef_compose_yaml_read(&doc, (const char *)data, size, "fuzz.yaml", pos, &f);
	if (rc == 0 && f.n)
		abort(); /* a finding is an error */
	if (rc != 0 && (doc || !f.n))
		abort(); /* an error comes with a finding and no tree */
	if (doc)
		ef_manifest_parse_doc(&m, doc, "fuzz.yaml", pos, &f);
	ef_findings_format(&out, &f);
	ef_buf_dispose(&out);
	ef_manifest_free(m);
	cJSON_Delete(doc);
	ef_findings_dispose(&f);
	ef_compose_pos_free(pos);
	return 0;
}
