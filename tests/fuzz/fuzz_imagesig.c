/* libFuzzer target: what a registry answers during an image signature check
 * (core/trust/cosign.c): manifests, indexes, simple-signing payloads and
 * Sigstore bundles. The HTTP port is replaced here, at its interface: each
 * request gets the next slice of the input (slices separated by "\n--\n"),
 * status 200 unless the slice starts with "404". Also fuzzes the key parser. */
#include "edgeflip/buf.h"
#include "edgeflip/imagesig.h"
#include "edgeflip/sys/http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *cur, *end;

int ef_http_request(ef_http_reply *out, const ef_http_req *req)
{
	const char *sep;
	size_t n;

	(void)req;
	if (!cur || cur >= end)
		return -9; /* unreachable */
	sep = NULL;
	for (const char *p = cur; p + 4 <= end; p++)
		if (!memcmp(p, "\n--\n", 4)) {
			sep = p;
			break;
		}
	n = (size_t)((sep ? sep : end) - cur);
	out->status = n >= 3 && !memcmp(cur, "404", 3) ? 404 : 200;
	ef_buf_put(&out->body, cur, n);
	cur = sep ? sep + 4 : end;
	return 0;
}

static const char key[] = "-----BEGIN PUBLIC KEY-----\n"
                          "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEZxAfzrQG1EbWyCI8LiSB7YgSFXoI\n"
                          "FNGTyQGKHFc6/H8TQumT9VLS78pUwtv3w7EfKoyFZoP32KrO7nzUy2q6Cw==\n"
                          "-----END PUBLIC KEY-----\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ef_image_keys *keys;
	ef_image_keys *other = NULL;
	ef_image_verdict v;
	ef_registry_opts o = {0};
	char digest[72];

	if (!keys && ef_image_keys_parse(&keys, key, sizeof(key) - 1, "k") < 0)
		abort();
	cur = (const char *)data;
	end = cur + size;
	(void)ef_image_verify(
	        &v, keys, &o, "reg.example", "app",
	        "sha256:0000000000000000000000000000000000000000000000000000000000000000");
	cur = (const char *)data;
	(void)ef_image_resolve(digest, &o, "reg.example", "app", "v1");
	if (ef_image_keys_parse(&other, (const char *)data, size, "fuzz") == 0)
		ef_image_keys_free(other);
	return 0;
}
