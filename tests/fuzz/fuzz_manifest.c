/* libFuzzer target: compose.json parsing, then the policy check and image
 * reference splitting on whatever parsed. */
#include "edgeflip/buf.h"
#include "edgeflip/config.h"
#include "edgeflip/manifest.h"
#include "edgeflip/policy.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *const registries[] = {"registry.example.com", NULL};
	static char *const caps[] = {"NET_ADMIN", NULL};
	static char *const binds[] = {"/data", "/srv/", NULL};
	ef_policy strict = {0}, open = {0};
	ef_manifest *m = NULL;
	char **findings = NULL;

	if (ef_manifest_parse(&m, (const char *)data, size, "fuzz.json") != 0)
		return 0;
	strict.registries = (char **)registries;
	strict.allowed_capabilities = (char **)caps;
	strict.bind_mounts = (char **)binds;
	open.allow_tags = open.allow_privileged = open.allow_host_namespaces = true;
	open.allow_devices = true;
	ef_policy_check(&findings, &strict, m);
	ef_strv_free(findings);
	ef_policy_check(&findings, &open, m);
	ef_strv_free(findings);
	for (size_t i = 0; i < m->nservices; i++) {
		const ef_service *s = &m->services[i];
		char *reg, *repo, *tag, *dig;
		if (ef_manifest_find(m, s->name) != s || strlen(s->spec_hash) != 64)
			abort();
		if (ef_image_ref_split(s->image, &reg, &repo, &tag, &dig) != 0)
			abort(); /* the parser accepted it */
		free(reg);
		free(repo);
		free(tag);
		free(dig);
	}
	ef_manifest_free(m);
	return 0;
}
