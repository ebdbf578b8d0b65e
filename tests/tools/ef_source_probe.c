/* Drives the Git source for the integration tests and the benchmark.
 *
 *   ef_source_probe --url U --cache DIR [--ca F] [--branch B] [--token-file F]
 *                   [--polls N] [--interval-ms N] [--fetch] [--read PATH]
 *                   [--timeout-ms N] [--max-bytes N] [--insecure-http]
 *                   [--rusage] [--mem-at N[,N...]] [--descends-from COMMIT]
 *
 * Prints key=value lines on stdout (head=, changed=, polls=, polls_v2=, fetches=,
 * bytes_received=, ...); with --read, a line "file=PATH bytes=N" followed by
 * the file's contents. --descends-from prints descends=1 when the fetched head
 * equals or descends from COMMIT. Errors go to stderr as "error=NAME msg=...".
 * Exit codes: 0 ok, 1 other error, 2 usage, 3 unreachable, 4 rejected,
 * 5 timeout, 6 too big, 7 not found, 8 invalid. */
#include "edgeflip/error.h"
#include "edgeflip/log.h"
#include "edgeflip/source.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static int exit_code(int error)
{
	switch (error) {
	case 0:
		return 0;
	case EF_EUNREACHABLE:
		return 3;
	case EF_EREJECTED:
		return 4;
	case EF_ETIMEOUT:
		return 5;
	case EF_ETOOBIG:
		return 6;
	case EF_ENOTFOUND:
		return 7;
	case EF_EINVALID:
		return 8;
	default:
		return 1;
	}
}

static int fail(int error)
{
	fprintf(stderr, "error=%s msg=%s\n", ef_error_name(error), ef_error_last());
	return exit_code(error);
}

static uint64_t cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static uint64_t wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A "Key:   value" field of a /proc file, or -1. */
static long long proc_field(const char *file, const char *key)
{
	char line[256];
	size_t n = strlen(key);
	long long v = -1;
	FILE *f = fopen(file, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, n) == 0 && line[n] == ':') {
			v = strtoll(line + n + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

static bool in_list(const char *list, unsigned long n)
{
	char *end;

	for (const char *p = list; p && *p;) {
		unsigned long v = strtoul(p, &end, 10);
		if (end == p)
			break;
		if (v == n)
			return true;
		p = *end == ',' ? end + 1 : end;
	}
	return false;
}

static void usage(void)
{
	fprintf(stderr, "usage: ef_source_probe --url U --cache DIR [--ca F] [--branch B] "
	                "[--token-file F] [--polls N] [--interval-ms N] [--fetch] [--read PATH] "
	                "[--timeout-ms N] [--max-bytes N] [--insecure-http] [--rusage] "
	                "[--mem-at N,...] [--descends-from COMMIT] [--verbose]\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"url", required_argument, NULL, 'u'},
	        {"ca", required_argument, NULL, 'c'},
	        {"cache", required_argument, NULL, 'd'},
	        {"branch", required_argument, NULL, 'b'},
	        {"token-file", required_argument, NULL, 't'},
	        {"polls", required_argument, NULL, 'n'},
	        {"interval-ms", required_argument, NULL, 'i'},
	        {"fetch", no_argument, NULL, 'f'},
	        {"read", required_argument, NULL, 'r'},
	        {"timeout-ms", required_argument, NULL, 'T'},
	        {"max-bytes", required_argument, NULL, 'm'},
	        {"insecure-http", no_argument, NULL, 'H'},
	        {"rusage", no_argument, NULL, 'R'},
	        {"mem-at", required_argument, NULL, 'M'},
	        {"verbose", no_argument, NULL, 'v'},
	        {"descends-from", required_argument, NULL, 'D'},
	        {NULL, 0, NULL, 0},
	};
	ef_source_opts o = {.branch = "main", .timeout_ms = 30000, .max_fetch_bytes = 64u << 20};
	unsigned long polls = 1, interval_ms = 0;
	const char *read_path = NULL, *mem_at = NULL, *ancestor = NULL;
	bool fetch = false, rusage = false;
	char head[EF_OID_HEX] = "", local[EF_OID_HEX] = "";
	ef_source *s = NULL;
	ef_source_stats st;
	uint64_t cpu0 = 0, wall0 = 0, rx0 = 0;
	long long wb0 = 0;
	int c, error;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'u':
			o.url = optarg;
			break;
		case 'c':
			o.ca_file = optarg;
			break;
		case 'd':
			o.cache_dir = optarg;
			break;
		case 'b':
			o.branch = optarg;
			break;
		case 't':
			o.token_file = optarg;
			break;
		case 'n':
			polls = strtoul(optarg, NULL, 10);
			break;
		case 'i':
			interval_ms = strtoul(optarg, NULL, 10);
			break;
		case 'f':
			fetch = true;
			break;
		case 'r':
			read_path = optarg;
			break;
		case 'T':
			o.timeout_ms = strtoull(optarg, NULL, 10);
			break;
		case 'm':
			o.max_fetch_bytes = strtoull(optarg, NULL, 10);
			break;
		case 'H':
			o.allow_insecure_http = true;
			break;
		case 'R':
			rusage = true;
			break;
		case 'M':
			mem_at = optarg;
			break;
		case 'v':
			ef_log_threshold = EF_LOG_TRACE;
			break;
		case 'D':
			ancestor = optarg;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (!o.url || !o.cache_dir || polls == 0) {
		usage();
		return 2;
	}
	if ((error = ef_source_global_init()) < 0)
		return fail(error);
	ef_log_hook_libgit2();
	if ((error = ef_source_new(&s, &o)) < 0)
		goto out_fail;
	if (ef_source_resolve(s, local, "HEAD") < 0)
		local[0] = '\0';

	for (unsigned long i = 1; i <= polls; i++) {
		if (i == 2) { /* the first poll pays for the TLS handshake */
			ef_source_get_stats(s, &st);
			cpu0 = cpu_us();
			wall0 = wall_us();
			rx0 = st.bytes_received;
			wb0 = proc_field("/proc/self/io", "write_bytes");
		}
		if ((error = ef_source_poll(s, head)) < 0)
			goto out_fail;
		if (mem_at && in_list(mem_at, i))
			printf("rss_anon_kb_at_%lu=%lld\n", i,
			       proc_field("/proc/self/status", "RssAnon"));
		if (interval_ms && i < polls)
			usleep((useconds_t)interval_ms * 1000u);
	}
	if (rusage && polls > 1) {
		ef_source_get_stats(s, &st);
		printf("cpu_us_per_poll=%.1f\n", (double)(cpu_us() - cpu0) / (double)(polls - 1));
		printf("wall_us_per_poll=%.1f\n",
		       (double)(wall_us() - wall0) / (double)(polls - 1));
		printf("wire_rx_bytes_per_poll=%.1f\n",
		       (double)(st.bytes_received - rx0) / (double)(polls - 1));
		printf("disk_write_bytes_polls=%lld\n",
		       proc_field("/proc/self/io", "write_bytes") - wb0);
	}
	printf("head=%s\n", head);
	printf("changed=%d\n", strcmp(head, local) != 0);
	if (fetch) {
		if ((error = ef_source_fetch(s, head)) < 0)
			goto out_fail;
		printf("fetched=1\n");
	}
	if (ancestor) {
		bool yes;

		if ((error = ef_source_descends(s, &yes, head, ancestor)) < 0)
			goto out_fail;
		printf("descends=%d\n", yes);
	}
	if (read_path) {
		ef_buf b;

		if ((error = ef_source_read_file(s, &b, head, read_path, 1u << 20)) < 0)
			goto out_fail;
		ef_source_get_stats(s, &st);
		printf("polls=%llu\npolls_v2=%llu\nfetches=%llu\nbytes_received=%llu\n",
		       (unsigned long long)st.polls, (unsigned long long)st.polls_v2,
		       (unsigned long long)st.fetches, (unsigned long long)st.bytes_received);
		printf("file=%s bytes=%zu\n", read_path, b.len);
		fwrite(b.ptr, 1, b.len, stdout);
		ef_buf_dispose(&b);
	} else {
		ef_source_get_stats(s, &st);
		printf("polls=%llu\npolls_v2=%llu\nfetches=%llu\nbytes_received=%llu\n",
		       (unsigned long long)st.polls, (unsigned long long)st.polls_v2,
		       (unsigned long long)st.fetches, (unsigned long long)st.bytes_received);
	}
	ef_source_free(s);
	ef_source_global_shutdown();
	return 0;

out_fail:
	c = fail(error);
	ef_source_free(s);
	ef_source_global_shutdown();
	return c;
}
