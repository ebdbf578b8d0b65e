/* status [--json]: reads the journal; touches nothing, connects to nothing. */
#include "cli.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/log.h"
#include "edgeflip/state.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
			char *line = j ? cJSON_PrintUnformatted(j) : NULL;
			printf("%s\n", line ? line : out);
			free(line);
			cJSON_Delete(j);
		}
		free(out);
	} else {
		print_human(&st);
	}
	ef_state_dispose(&st);
	ef_config_dispose(&cfg);
	return rc;
}
