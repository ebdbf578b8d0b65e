/* Test tool: image signature checks (core/trust/cosign.c) against a real
 * registry, without the agent.
 *   ef_imagesig_probe KEYS.pem HTTP_REGISTRY REGISTRY REPO DIGEST|:TAG
 * prints "ok KEY METHOD" or "refused REASON" (exit 0 / 3), or the error of a
 * transient fault (exit 5). ":TAG" resolves the tag first.
 * EF_PROBE_REPEAT=N verifies N times more in the same process and prints
 * "median_ms X min_ms Y cpu_ms Z" (registry requests and the check, no
 * start-up; Z the median CPU time of the process) on
 * stderr, for tests/bench/bench_secrets.sh. */
#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/imagesig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timing.h"

/* EF_PROBE_REPEAT: the time of n more verifications of `digest`. */
static void repeat(const ef_image_keys *keys, const ef_registry_opts *o, char **argv,
                   const char *digest)
{
	const char *env = getenv("EF_PROBE_REPEAT");
	size_t n = env ? strtoul(env, NULL, 10) : 0;
	double t[1000], cpu[1000];
	ef_image_verdict v;

	if (n == 0 || n > 1000)
		return;
	for (size_t i = 0; i < n; i++) {
		double t0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
		if (ef_image_verify(&v, keys, o, argv[3], argv[4], digest) != 0) {
			fprintf(stderr, "repeat: %s\n", ef_error_last());
			return;
		}
		t[i] = now_ms(CLOCK_MONOTONIC) - t0;
		cpu[i] = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
	}
	qsort(t, n, sizeof(t[0]), cmp_double);
	qsort(cpu, n, sizeof(cpu[0]), cmp_double);
	fprintf(stderr, "median_ms %.3f min_ms %.3f cpu_ms %.3f runs %zu\n", t[n / 2], t[0],
	        cpu[n / 2], n);
}

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
	if (rc == 0) {
		printf("ok %s %s %s\n", v.key, v.method, v.digest);
		repeat(keys, &o, argv, digest);
	} else if (rc == EF_EREJECTED)
		printf("refused %s\n", v.reason);
	else
		printf("error %s\n", ef_error_last());
	ef_image_keys_free(keys);
	ef_buf_dispose(&pem);
	return rc == 0 ? 0 : rc == EF_EREJECTED ? 3 : 5;
}
