/* Test tool: image signature checks (core/trust/cosign.c) against a real
 * registry, without the agent.
 *   ef_imagesig_probe KEYS.pem HTTP_REGISTRY REGISTRY REPO DIGEST|:TAG
 * prints "ok KEY METHOD" or "refused REASON" (exit 0 / 3), or the error of a
 * transient fault (exit 5). ":TAG" resolves the tag first. */
#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/imagesig.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	ef_image_keys *keys = NULL;
	ef_image_verdict v;
	ef_buf pem;
	char digest[72];
	const char *http[2] = {NULL, NULL};
	ef_registry_opts o = {.timeout_ms = 10000};
	int rc;

	if (argc != 6) {
		fprintf(stderr,
		        "usage: ef_imagesig_probe KEYS HTTP_REGISTRY REGISTRY REPO DIGEST\n");
		return 2;
	}
	http[0] = argv[2];
	o.http_registries = http;
	if (ef_read_file(&pem, argv[1], 1 << 20) < 0 ||
	    ef_image_keys_parse(&keys, pem.ptr, pem.len, argv[1]) < 0) {
		printf("error %s\n", ef_error_last());
		return 2;
	}
	snprintf(digest, sizeof(digest), "%s", argv[5]);
	if (argv[5][0] == ':' && ef_image_resolve(digest, &o, argv[3], argv[4], argv[5] + 1) < 0) {
		printf("error %s\n", ef_error_last());
		return 5;
	}
	rc = ef_image_verify(&v, keys, &o, argv[3], argv[4], digest);
	if (rc == 0)
		printf("ok %s %s %s\n", v.key, v.method, v.digest);
	else if (rc == EF_EREJECTED)
		printf("refused %s\n", v.reason);
	else
		printf("error %s\n", ef_error_last());
	ef_image_keys_free(keys);
	ef_buf_dispose(&pem);
	return rc == 0 ? 0 : rc == EF_EREJECTED ? 3 : 5;
}
