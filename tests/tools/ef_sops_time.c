/* Benchmark tool: the time to decrypt one SOPS document (age unwrap of the
 * data key, every value, the MAC), as the agent does for a secret file or
 * an encrypted .env (tests/bench/bench_secrets.sh).
 *   ef_sops_time KEYS FILE [N]
 * decrypts FILE (json by its extension, dotenv otherwise) N times (default
 * 20) and prints "values V runs N min_ms X median_ms Y cpu_ms Z" (wall
 * minimum and median, median CPU time of the process), or the error
 * (exit 3). */
#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/secrets.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timing.h"

#define MAX_RUNS 1000

/* One decryption; *values counts what came out. */
static int decrypt_once(size_t *values, const ef_age_identities *ids, const ef_buf *text,
                        const char *name, int json)
{
	ef_buf plain = EF_BUF_INIT(16u << 20);
	cJSON *doc;
	int error;

	*values = 0;
	if (!json) {
		error = ef_sops_decrypt_dotenv(&plain, ids, text->ptr, text->len, name);
		for (size_t i = 0; error == 0 && i < plain.len; i++)
			*values += plain.ptr[i] == '\0';
		ef_buf_dispose_secret(&plain);
		return error;
	}
	if (!(doc = cJSON_ParseWithLength(text->ptr, text->len))) {
		ef_error_set("%s: not JSON", name);
		return EF_EINVALID;
	}
	error = ef_sops_decrypt_tree(doc, ids, name);
	*values = (size_t)cJSON_GetArraySize(doc);
	ef_sops_tree_wipe(doc);
	cJSON_Delete(doc);
	return error;
}

int main(int argc, char **argv)
{
	ef_age_identities *ids = NULL;
	ef_buf keys = EF_BUF_INIT(1u << 20), text = EF_BUF_INIT(16u << 20);
	double t[MAX_RUNS], cpu[MAX_RUNS];
	size_t values = 0, n = argc > 3 ? strtoul(argv[3], NULL, 10) : 20;
	int json, rc = 3;

	if (argc < 3 || n == 0 || n > MAX_RUNS) {
		fprintf(stderr, "usage: ef_sops_time KEYS FILE [N <= %d]\n", MAX_RUNS);
		return 2;
	}
	json = strlen(argv[2]) > 5 && strcmp(argv[2] + strlen(argv[2]) - 5, ".json") == 0;
	if (ef_read_file(&keys, argv[1], keys.cap) < 0 ||
	    ef_age_identities_parse(&ids, keys.ptr, keys.len, argv[1]) < 0 ||
	    ef_read_file(&text, argv[2], text.cap) < 0) {
		printf("error %s\n", ef_error_last());
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		double t0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
		if (decrypt_once(&values, ids, &text, argv[2], json) < 0) {
			printf("error %s\n", ef_error_last());
			goto out;
		}
		t[i] = now_ms(CLOCK_MONOTONIC) - t0;
		cpu[i] = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
	}
	qsort(t, n, sizeof(t[0]), cmp_double);
	qsort(cpu, n, sizeof(cpu[0]), cmp_double);
	printf("values %zu runs %zu min_ms %.3f median_ms %.3f cpu_ms %.3f\n", values, n, t[0],
	       t[n / 2], cpu[n / 2]);
	rc = 0;
out:
	ef_age_identities_free(ids);
	ef_buf_dispose_secret(&keys);
	ef_buf_dispose(&text);
	return rc;
}
