/* status [--json]: reads the journal; touches nothing, connects to nothing. */
#include "cli.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/fleet.h"
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

static void print_human(const ef_state *st)
{
	char t[32];

	when(t, sizeof(t), st->deployed_at);
	printf("revision:      %s\n", st->revision[0] ? st->revision : "(none deployed)");
	printf("signer:        %s\n",
	       st->signer && st->signer[0] ? st->signer : "(unverified or none)");
	printf("deployed at:   %s\n", t);
	printf("phase:         %s%s%.12s\n", ef_phase_name(st->phase),
	       st->target[0] ? " target=" : "", st->target);
	if (st->previous[0])
		printf("previous:      %s\n", st->previous);
	printf("last result:   %s\n", st->last_result ? st->last_result : "-");
	if (st->last_error)
		printf("last error:    %s\n", st->last_error);
	if (st->last_rollback.revision[0]) {
		when(t, sizeof(t), st->last_rollback.at);
		printf("last rollback: %.12s at %s: %s\n", st->last_rollback.revision, t,
		       st->last_rollback.reason ? st->last_rollback.reason : "");
	}
	printf("services:      %zu\n", st->nservices);
	for (size_t i = 0; i < st->nservices; i++) {
		const ef_state_service *s = &st->services[i];
		printf("  %-20s slot=%-5s container=%.12s image=%s\n", s->name,
		       s->slot ? s->slot : "-", s->container_id ? s->container_id : "-",
		       s->image ? s->image : "-");
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
		printf("  staged: %s container=%.12s slot=%s\n", st->staged[i].name,
		       st->staged[i].container_id ? st->staged[i].container_id : "-",
		       st->staged[i].slot ? st->staged[i].slot : "-");
	if (st->nquarantine) {
		printf("quarantined:   %zu\n", st->nquarantine);
		for (size_t i = 0; i < st->nquarantine; i++)
			printf("  %.12s %s\n", st->quarantine[i].revision,
			       st->quarantine[i].reason ? st->quarantine[i].reason : "");
	}
	for (size_t i = 0; st->refusals && st->refusals[i]; i++)
		printf("refused:       %s\n", st->refusals[i]);
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
			/* Where a rollout wave stands, if one holds the head back. */
			if (j && ef_fleet_rollout_status(&rollout, cfg.state_dir, st.revision,
			                                 (int64_t)time(NULL)) == 0)
				cJSON_AddItemToObject(j, "rollout", cJSON_Parse(rollout));
			else if (j)
				cJSON_AddNullToObject(j, "rollout");
			free(rollout);
			line = j ? cJSON_PrintUnformatted(j) : NULL;
			printf("%s\n", line ? line : out);
			free(line);
			cJSON_Delete(j);
		}
		free(out);
	} else {
		print_human(&st);
		print_rollout(&cfg, &st);
	}
	ef_state_dispose(&st);
	ef_config_dispose(&cfg);
	return rc;
}
