/* ef_verify_raw: verifies one raw commit object read from stdin.
 *
 *   ef_verify_raw [--allowed-signers F] [--openpgp-keys F] [--now UNIX] [--repeat N] < commit
 *
 * Prints verdict=good|bad, format=, signer=, key=, reason= (one per line) and
 * exits 0 for good, 1 for bad, 2 for usage or setup errors. --repeat N runs
 * the verification N times and adds `us_per_verify=` (for the benchmarks). */
#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: ef_verify_raw [--allowed-signers FILE] [--openpgp-keys FILE] "
	                "[--now UNIX] [--repeat N] < raw-commit\n");
	return 2;
}

static int read_stdin(ef_buf *b)
{
	char chunk[65536];
	ssize_t n;

	ef_buf_init(b, 64u * 1024 * 1024);
	while ((n = read(0, chunk, sizeof(chunk))) > 0)
		if (ef_buf_put(b, chunk, (size_t)n) < 0)
			return -1;
	if (n < 0)
		return -1;
	return ef_buf_put(b, "", 0);
}

int main(int argc, char **argv)
{
	const char *ssh = NULL, *pgp = NULL;
	long long now = (long long)time(NULL), repeat = 1;
	ef_verify_result r;
	ef_trust *t = NULL;
	struct timespec t0, t1;
	ef_buf raw;
	int error = 0;

	for (int i = 1; i < argc; i++) {
		char *end;

		if (i + 1 >= argc)
			return usage();
		if (strcmp(argv[i], "--allowed-signers") == 0) {
			ssh = argv[++i];
		} else if (strcmp(argv[i], "--openpgp-keys") == 0) {
			pgp = argv[++i];
		} else if (strcmp(argv[i], "--now") == 0) {
			now = strtoll(argv[++i], &end, 10);
			if (*end || end == argv[i])
				return usage();
		} else if (strcmp(argv[i], "--repeat") == 0) {
			repeat = strtoll(argv[++i], &end, 10);
			if (*end || repeat < 1)
				return usage();
		} else {
			return usage();
		}
	}
	if (!ssh && !pgp)
		return usage();
	if (ef_trust_load(&t, ssh, pgp) < 0) {
		fprintf(stderr, "ef_verify_raw: %s\n", ef_error_last());
		return 2;
	}
	if (read_stdin(&raw) < 0) {
		fprintf(stderr, "ef_verify_raw: cannot read stdin\n");
		ef_trust_free(t);
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long long i = 0; i < repeat; i++)
		error = ef_verify_commit(&r, t, raw.ptr, raw.len, now);
	clock_gettime(CLOCK_MONOTONIC, &t1);

	printf("verdict=%s\nformat=%s\nsigner=%s\nkey=%s\nreason=%s\n",
	       error == 0 && r.verdict == 0 ? "good" : "bad", r.format, r.signer, r.key, r.reason);
	if (repeat > 1)
		printf("us_per_verify=%.1f\n", ((double)(t1.tv_sec - t0.tv_sec) * 1e6 +
		                                (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) /
		                                       (double)repeat);
	ef_buf_dispose(&raw);
	ef_trust_free(t);
	return error == 0 && r.verdict == 0 ? 0 : 1;
}
