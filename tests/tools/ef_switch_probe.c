/* Drives a switch backend from the integration tests and benchmarks.
 *
 *   ef_switch_probe [--backend proxy|nftables|hook] --state-dir DIR
 *                   [--self-exe PATH] [--hook CMD] COMMAND
 *   apply ROUTES [--hold]   make ROUTES the route set; --hold then sleeps until killed
 *   current                 print the routes in force, one a line
 *   flip COUNT INTERVAL_MS ROUTES_A ROUTES_B
 *                           apply A, B, A, ... COUNT times; print apply() times
 *
 * ROUTES: comma-separated
 * PROTO:LISTEN_ADDR:PORT>TARGET_ADDR:PORT[+CANARY_ADDR:PORT@W][/SERVICE][?OPTS], IPv6 addresses in
 * brackets; "-" is the empty set. OPTS, '&'-separated: the proxy's per-port options idle=MS
 * connect=MS drain=MS max=N pp2. */
#include "edgeflip/error.h"
#include "edgeflip/log.h"
#include "edgeflip/sys/switch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static char *parse_endpoint(char *s, char **addr, uint16_t *port, const char *stop)
{
	char *end;
	long v;

	if (*s == '[') {
		end = strchr(s, ']');
		if (!end || end[1] != ':')
			return NULL;
		*end = '\0';
		*addr = strdup(s + 1);
		s = end + 2;
	} else {
		end = strchr(s, ':');
		if (!end)
			return NULL;
		*end = '\0';
		*addr = strdup(s);
		s = end + 1;
	}
	v = strtol(s, &end, 10);
	if (end == s || v < 0 || v > 65535 || (*end && !strchr(stop, *end)))
		return NULL;
	*port = (uint16_t)v;
	return end;
}

static int parse_opts(ef_route *x, char *q)
{
	char *save = NULL;

	for (char *o = strtok_r(q, "&", &save); o; o = strtok_r(NULL, "&", &save)) {
		unsigned long v = 0;
		char *eq = strchr(o, '='), *end = NULL;

		if (strcmp(o, "pp2") == 0) {
			x->proxy_protocol = true;
			continue;
		}
		if (strcmp(o, "http") == 0) {
			x->http = true;
			continue;
		}
		if (!eq)
			return -1;
		*eq = '\0';
		v = strtoul(eq + 1, &end, 10);
		if (end == eq + 1 || *end)
			return -1;
		if (strcmp(o, "idle") == 0)
			x->idle_timeout_ms = (uint32_t)v;
		else if (strcmp(o, "connect") == 0)
			x->connect_timeout_ms = (uint32_t)v;
		else if (strcmp(o, "drain") == 0)
			x->drain_timeout_ms = (uint32_t)v;
		else if (strcmp(o, "max") == 0)
			x->max_conns = (uint32_t)v;
		else
			return -1;
	}
	return 0;
}

static int parse_routes(ef_route **out, size_t *n, const char *spec)
{
	char *copy = strdup(spec), *save = NULL, *item;
	ef_route *r = NULL;
	size_t count = 0;

	*out = NULL;
	*n = 0;
	if (strcmp(spec, "-") == 0) {
		free(copy);
		return 0;
	}
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		ef_route *x;
		char *p = strchr(item, ':');

		r = realloc(r, (count + 1) * sizeof(*r));
		x = &r[count++];
		memset(x, 0, sizeof(*x));
		if (!p || p - item > 3)
			goto bad;
		memcpy(x->protocol, item, (size_t)(p - item));
		if (!(p = parse_endpoint(p + 1, &x->listen_addr, &x->listen_port, ">")) ||
		    *p != '>')
			goto bad;
		if (!(p = parse_endpoint(p + 1, &x->target_addr, &x->target_port, "/?+")))
			goto bad;
		if (*p == '+') {
			char *end;
			long w;

			if (!(p = parse_endpoint(p + 1, &x->canary_addr, &x->canary_port, "@")))
				goto bad;
			w = strtol(p + 1, &end, 10);
			if (end == p + 1 || w < 0 || w > 100)
				goto bad;
			x->canary_weight = (uint8_t)w;
			p = end;
		}
		if (*p == '/' || *p == '?') {
			char *q = strchr(p, '?');

			if (q)
				*q++ = '\0';
			if (*p == '/')
				x->service = strdup(p + 1);
			if (q && parse_opts(x, q) < 0)
				goto bad;
		}
	}
	free(copy);
	*out = r;
	*n = count;
	return 0;
bad:
	fprintf(stderr, "ef_switch_probe: bad route '%s'\n", spec);
	ef_routes_free(r, count);
	free(copy);
	return -1;
}

static int apply_spec(ef_switch *s, const char *spec, double *ms)
{
	ef_route *r;
	size_t n;
	double t0;
	int error;

	if (parse_routes(&r, &n, spec) < 0)
		return -1;
	t0 = now_ms();
	error = s->ops->apply(s, r, n);
	*ms = now_ms() - t0;
	ef_routes_free(r, n);
	if (error < 0)
		fprintf(stderr, "ef_switch_probe: apply: %s (%s)\n", ef_error_last(),
		        ef_error_name(error));
	return error;
}

static int usage(void)
{
	fprintf(stderr,
	        "usage: ef_switch_probe [--backend NAME] --state-dir DIR [--self-exe PATH] "
	        "[--hook CMD] apply ROUTES [--hold] | current | flip COUNT INTERVAL_MS A B\n");
	return 2;
}

int main(int argc, char **argv)
{
	ef_switch_opts opts = {0};
	const char *backend = "proxy";
	ef_switch *s = NULL;
	int i = 1, status = 1;

	ef_log_threshold = EF_LOG_WARN;
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--backend") == 0)
			backend = argv[i + 1];
		else if (strcmp(argv[i], "--state-dir") == 0)
			opts.state_dir = argv[i + 1];
		else if (strcmp(argv[i], "--self-exe") == 0)
			opts.self_exe = argv[i + 1];
		else if (strcmp(argv[i], "--hook") == 0)
			opts.hook = argv[i + 1];
		else
			return usage();
	}
	if (i >= argc)
		return usage();
	if (ef_switch_open(&s, backend, &opts) < 0) {
		fprintf(stderr, "ef_switch_probe: open: %s\n", ef_error_last());
		return 1;
	}
	if (strcmp(argv[i], "apply") == 0 && i + 1 < argc) {
		double ms;

		if (apply_spec(s, argv[i + 1], &ms) < 0)
			goto out;
		printf("applied in %.3f ms\n", ms);
		fflush(stdout);
		if (i + 2 < argc && strcmp(argv[i + 2], "--hold") == 0) {
			printf("holding pid=%ld\n", (long)getpid());
			fflush(stdout);
			for (;;)
				pause();
		}
		status = 0;
	} else if (strcmp(argv[i], "current") == 0) {
		ef_route *r = NULL;
		size_t n = 0;

		if (!s->ops->current || s->ops->current(s, &r, &n) < 0) {
			fprintf(stderr, "ef_switch_probe: current: %s\n", ef_error_last());
			goto out;
		}
		for (size_t k = 0; k < n; k++)
			printf("%s:%s:%u>%s:%u/%s\n", r[k].protocol, r[k].listen_addr,
			       r[k].listen_port, r[k].target_addr, r[k].target_port,
			       r[k].service ? r[k].service : "");
		ef_routes_free(r, n);
		status = 0;
	} else if (strcmp(argv[i], "flip") == 0 && i + 4 < argc) {
		int count = atoi(argv[i + 1]), interval = atoi(argv[i + 2]), failed = 0;
		double sum = 0, max = 0, ms;

		for (int k = 0; k < count; k++) {
			if (apply_spec(s, argv[i + 3 + (k % 2)], &ms) < 0)
				failed++;
			sum += ms;
			if (ms > max)
				max = ms;
			if (interval > 0)
				usleep((useconds_t)interval * 1000);
		}
		printf("flips: %d\nflip-failures: %d\napply-ms-avg: %.3f\napply-ms-max: %.3f\n",
		       count, failed, count ? sum / count : 0, max);
		status = failed ? 1 : 0;
	} else {
		status = usage();
	}
out:
	ef_switch_close(s);
	return status;
}
