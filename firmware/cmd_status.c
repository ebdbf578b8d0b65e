/* status [--json]: reads the journal and, when the daemon runs, its cost from
 * /proc; touches nothing, connects to nothing. */
#include "cli.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/log.h"
#include "edgeflip/fleet.h"
#include "edgeflip/previews.h"
#include "edgeflip/state.h"
#include "edgeflip/sys/platform.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

static void when(char *out, size_t n, int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (!t) {
		snprintf(out, n, "-");
		return;
	}
	gmtime_r(&tt, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The journal holds text from commits, manifests and the engine: printed
 * inert (ef_log_escape), never as raw control characters. Four buffers: a
 * printf takes up to four such values. */
static const char *inert(const char *s)
{
	static char bufs[4][2048];
	static unsigned next;
	char *b = bufs[next++ % 4];

	ef_log_escape(b, sizeof(bufs[0]), s ? s : "");
	return b;
}

static void print_human(const ef_state *st)
{
	char t[32];

	when(t, sizeof(t), st->deployed_at);
	printf("revision:      %s\n", st->revision[0] ? st->revision : "(none deployed)");
	printf("signer:        %s\n",
	       st->signer && st->signer[0] ? inert(st->signer) : "(unverified or none)");
	printf("deployed at:   %s\n", t);
	printf("phase:         %s%s%.12s\n", ef_phase_name(st->phase),
	       st->target[0] ? " target=" : "", st->target);
	if (st->canary.active)
		printf("canary:        step %u/%u weight=%u%% green requests=%llu errors=%llu\n",
		       st->canary.step, st->canary.steps, st->canary.weight,
		       (unsigned long long)st->canary.requests,
		       (unsigned long long)st->canary.errors);
	if (st->previous[0])
		printf("previous:      %s\n", st->previous);
	printf("last result:   %s\n", st->last_result ? inert(st->last_result) : "-");
	if (st->last_error)
		printf("last error:    %s\n", inert(st->last_error));
	if (st->last_rollback.revision[0]) {
		when(t, sizeof(t), st->last_rollback.at);
		printf("last rollback: %.12s at %s: %s\n", st->last_rollback.revision, t,
		       inert(st->last_rollback.reason));
	}
	printf("services:      %zu\n", st->nservices);
	for (size_t i = 0; i < st->nservices; i++) {
		const ef_state_service *s = &st->services[i];
		printf("  %-20s slot=%-5s container=%.12s image=%s\n", inert(s->name),
		       s->slot ? inert(s->slot) : "-",
		       s->container_id ? inert(s->container_id) : "-",
		       s->image ? inert(s->image) : "-");
		if (s->image_signer)
			printf("  %-20s image signed by %s\n", "", inert(s->image_signer));
		for (size_t j = 0; s->public_ports && s->public_ports[j]; j++) {
			char proto[4], la[64], ta[64];
			unsigned lp, tp;
			if (sscanf(s->public_ports[j], "%3s %63s %u %63s %u", proto, la, &lp, ta,
			           &tp) == 5)
				printf("  %-20s route %s %s:%u -> %s:%u\n", "", proto, la, lp, ta,
				       tp);
		}
	}
	for (size_t i = 0; i < st->nstaged; i++)
		printf("  staged: %s container=%.12s slot=%s\n", inert(st->staged[i].name),
		       st->staged[i].container_id ? inert(st->staged[i].container_id) : "-",
		       st->staged[i].slot ? inert(st->staged[i].slot) : "-");
	if (st->nquarantine) {
		printf("quarantined:   %zu\n", st->nquarantine);
		for (size_t i = 0; i < st->nquarantine; i++)
			printf("  %.12s %s: %s\n", st->quarantine[i].revision,
			       st->quarantine[i].result ? inert(st->quarantine[i].result)
			                                : "failed",
			       inert(st->quarantine[i].reason));
	}
	for (size_t i = 0; st->refusals && st->refusals[i]; i++)
		printf("refused:       %s\n", inert(st->refusals[i]));
}

/* The previews of STATE_DIR/previews.json (docs/previews.md): JSON for
 * --json (an array, [] when none), else printed. */
static cJSON *previews_status(const ef_config *cfg, bool print)
{
	ef_previews pv;
	cJSON *arr = print ? NULL : cJSON_CreateArray();

	if (ef_previews_load(&pv, cfg->state_dir) < 0) {
		if (print)
			printf("previews:      (%s)\n", ef_error_last());
		return arr;
	}
	if (print && (pv.count || cfg->previews))
		printf("previews:      %zu%s%s\n", pv.count, cfg->previews ? " of " : "",
		       cfg->previews ? inert(cfg->previews) : "");
	for (size_t i = 0; i < pv.count; i++) {
		const ef_preview *p = &pv.items[i];
		cJSON *o, *ports;

		if (print) {
			printf("  %-10s %s revision=%.12s%s%s\n", inert(p->name), inert(p->ref),
			       p->revision[0] ? p->revision : "(none)",
			       p->reason ? " refused: " : "", p->reason ? inert(p->reason) : "");
			for (size_t j = 0; j < p->nports; j++)
				printf("  %-10s port %s %u/%s -> host %u\n", "",
				       inert(p->ports[j].service), p->ports[j].container_port,
				       p->ports[j].protocol, p->ports[j].host_port);
			continue;
		}
		o = cJSON_CreateObject();
		cJSON_AddItemToArray(arr, o);
		cJSON_AddStringToObject(o, "name", p->name);
		cJSON_AddStringToObject(o, "ref", p->ref);
		if (p->revision[0])
			cJSON_AddStringToObject(o, "revision", p->revision);
		else
			cJSON_AddNullToObject(o, "revision");
		if (p->refused[0]) {
			cJSON_AddStringToObject(o, "refused", p->refused);
			cJSON_AddStringToObject(o, "reason", p->reason ? p->reason : "");
		}
		ports = cJSON_AddArrayToObject(o, "ports");
		for (size_t j = 0; j < p->nports; j++) {
			cJSON *q = cJSON_CreateObject();
			cJSON_AddItemToArray(ports, q);
			cJSON_AddStringToObject(q, "service", p->ports[j].service);
			cJSON_AddNumberToObject(q, "container_port", p->ports[j].container_port);
			cJSON_AddStringToObject(q, "protocol", p->ports[j].protocol);
			cJSON_AddNumberToObject(q, "host_port", p->ports[j].host_port);
		}
	}
	ef_previews_dispose(&pv);
	return arr;
}

/* A commit the rollout wave holds back, and where the wave stands now. */
static void print_rollout(const ef_config *cfg, const ef_state *st)
{
	char *text = NULL;
	cJSON *j;

	if (ef_fleet_rollout_status(&text, cfg->state_dir, st->revision, (int64_t)time(NULL)) < 0) {
		printf("rollout:       (%s)\n", ef_error_last());
		return;
	}
	j = text ? cJSON_Parse(text) : NULL;
	if (cJSON_IsObject(j)) {
		const cJSON *c = cJSON_GetObjectItem(j, "commit"),
		            *s = cJSON_GetObjectItem(j, "state"),
		            *r = cJSON_GetObjectItem(j, "reason"),
		            *w = cJSON_GetObjectItem(j, "wariness"),
		            *sh = cJSON_GetObjectItem(j, "share");
		printf("rollout:       %s commit=%.12s wariness=%.4f share=%.1f%%: %s\n",
		       cJSON_IsString(s) ? s->valuestring : "?",
		       cJSON_IsString(c) ? c->valuestring : "?",
		       cJSON_IsNumber(w) ? w->valuedouble : 0.0,
		       cJSON_IsNumber(sh) ? sh->valuedouble * 100.0 : 0.0,
		       cJSON_IsString(r) ? r->valuestring : "");
	}
	cJSON_Delete(j);
	free(text);
}

int cli_read_state(ef_state *st, const ef_config *cfg)
{
	char path[4200];
	ef_buf b;
	int error;

	ef_state_init(st);
	snprintf(path, sizeof(path), "%s/%s", cfg->state_dir, EF_STATE_FILE);
	error = ef_read_file(&b, path, EF_STATE_MAX_BYTES);
	if (error == EF_ENOTFOUND)
		return 0; /* nothing deployed yet */
	if (error < 0)
		return error;
	error = ef_state_from_json(st, b.ptr, b.len);
	ef_buf_dispose(&b);
	if (error < 0)
		ef_error_prefix("%s", path);
	return error;
}

/* What the running daemon has cost since it started (ef_proc_cost_read):
 * docs/cli.md "status". */
typedef struct {
	long pid;
	ef_proc_cost c;
} daemon_cost;

static bool read_daemon_cost(daemon_cost *d, const ef_config *cfg)
{
	char path[4200];
	ef_buf b;

	memset(d, 0, sizeof(*d));
	snprintf(path, sizeof(path), "%s/edgeflip.pid", cfg->state_dir);
	if (ef_read_file(&b, path, 64) < 0)
		return false;
	d->pid = strtol(b.ptr, NULL, 10);
	ef_buf_dispose(&b);
	if (d->pid <= 1 || kill((pid_t)d->pid, 0) < 0)
		return false;
	return ef_proc_cost_read(&d->c, d->pid) == 0;
}

static void print_daemon_cost(const daemon_cost *d)
{
	double h = d->c.uptime_s > 0 ? d->c.uptime_s / 3600.0 : 0;

	printf("daemon:        pid %ld, up %.0f s, cpu %.1f ms, wake-ups %llu (%llu voluntary)\n",
	       d->pid, d->c.uptime_s, d->c.cpu_ms, d->c.voluntary + d->c.involuntary,
	       d->c.voluntary);
	if (h > 0)
		printf("               per hour: cpu %.1f ms, wake-ups %.0f\n", d->c.cpu_ms / h,
		       (double)(d->c.voluntary + d->c.involuntary) / h);
}

/* "images": [{service, image, digest, signer}] of what runs; signer is the
 * key whose signature was verified ([trust] image_keys), null when none. */
static void add_images(cJSON *j, const ef_state *st)
{
	cJSON *arr = cJSON_AddArrayToObject(j, "images");

	for (size_t i = 0; arr && i < st->nservices; i++) {
		const ef_state_service *s = &st->services[i];
		const char *at = s->image ? strchr(s->image, '@') : NULL;
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			return;
		}
		cJSON_AddStringToObject(o, "service", s->name ? s->name : "");
		cJSON_AddStringToObject(o, "image", s->image ? s->image : "");
		if (at)
			cJSON_AddStringToObject(o, "digest", at + 1);
		else
			cJSON_AddNullToObject(o, "digest");
		if (s->image_signer)
			cJSON_AddStringToObject(o, "signer", s->image_signer);
		else
			cJSON_AddNullToObject(o, "signer");
	}
}

int cmd_status(const cli *c)
{
	ef_config cfg;
	ef_state st;
	bool json = c->argc > 0 && strcmp(c->argv[0], "--json") == 0;
	int rc, error;

	if (c->argc > 1 || (c->argc == 1 && !json)) {
		fprintf(stderr, "usage: edgeflip status [--json]\n");
		return EF_EXIT_USAGE;
	}
	if ((rc = cli_load_config(&cfg, c)))
		return rc;
	error = cli_read_state(&st, &cfg);
	if (error < 0) {
		fprintf(stderr, "edgeflip: %s\n", ef_error_last());
		rc = EF_EXIT_ERROR;
	} else if (json) {
		char *out = NULL;
		if (ef_state_to_json(&out, &st) == 0) {
			/* One line for tools; the journal itself stays readable. */
			cJSON *j = cJSON_Parse(out);
			char *rollout = NULL, *line;
			daemon_cost d;
			if (j && st.canary.active) {
				/* The canary in progress (also in deploy.canary). */
				cJSON *k = cJSON_AddObjectToObject(j, "canary");
				cJSON_AddNumberToObject(k, "step", st.canary.step);
				cJSON_AddNumberToObject(k, "steps", st.canary.steps);
				cJSON_AddNumberToObject(k, "weight", st.canary.weight);
				cJSON_AddNumberToObject(k, "green_requests",
				                        (double)st.canary.requests);
				cJSON_AddNumberToObject(k, "green_errors",
				                        (double)st.canary.errors);
			} else if (j) {
				cJSON_AddNullToObject(j, "canary");
			}
			if (j)
				add_images(j, &st);
			if (j && read_daemon_cost(&d, &cfg)) {
				cJSON *o = cJSON_AddObjectToObject(j, "daemon");
				cJSON_AddNumberToObject(o, "pid", (double)d.pid);
				cJSON_AddNumberToObject(o, "uptime_s",
				                        (double)(long long)d.c.uptime_s);
				cJSON_AddNumberToObject(o, "cpu_ms",
				                        (double)(long long)(d.c.cpu_ms * 1000) /
				                                1000.0);
				cJSON_AddNumberToObject(o, "wakeups",
				                        (double)(d.c.voluntary + d.c.involuntary));
				cJSON_AddNumberToObject(o, "voluntary_switches",
				                        (double)d.c.voluntary);
				cJSON_AddNumberToObject(o, "involuntary_switches",
				                        (double)d.c.involuntary);
			}
			/* Where a rollout wave stands, if one holds the head back. */
			if (j && ef_fleet_rollout_status(&rollout, cfg.state_dir, st.revision,
			                                 (int64_t)time(NULL)) == 0)
				cJSON_AddItemToObject(j, "rollout", cJSON_Parse(rollout));
			else if (j)
				cJSON_AddNullToObject(j, "rollout");
			free(rollout);
			if (j)
				cJSON_AddItemToObject(j, "previews", previews_status(&cfg, false));
			line = j ? cJSON_PrintUnformatted(j) : NULL;
			printf("%s\n", line ? line : out);
			free(line);
			cJSON_Delete(j);
		}
		free(out);
	} else {
		daemon_cost d;
		print_human(&st);
		if (read_daemon_cost(&d, &cfg))
			print_daemon_cost(&d);
		else
			printf("daemon:        not running\n");
		print_rollout(&cfg, &st);
		previews_status(&cfg, true);
	}
	ef_state_dispose(&st);
	ef_config_dispose(&cfg);
	return rc;
}
