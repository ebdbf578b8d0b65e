/* The plan: desired (manifest) against running (journal + engine listing).
 * Table-driven: each case gives a manifest, what the journal says runs, and
 * what the engine lists, and expects one action line per service. */
#include "edgeflip/manifest.h"
#include "edgeflip/plan.h"
#include "edgeflip/state.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define IMG_A                                                                                      \
	"reg.example.com/"                                                                         \
	"web@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define IMG_B                                                                                      \
	"reg.example.com/"                                                                         \
	"web@sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define IMG_W                                                                                      \
	"reg.example.com/"                                                                         \
	"worker@sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

/* What the engine lists: service, id, spec ("=" the spec of `spec_from` in
 * the "before" manifest, "x" some other), state. */
typedef struct {
	const char *service;
	const char *id;
	const char *spec;
	ef_cstate state;
} listed;

typedef struct {
	const char *name;
	const char *before;  /* compose.json whose spec hashes the running containers carry */
	const char *after;   /* the desired compose.json */
	const char *journal; /* "service=id,service=id" the journal says run */
	listed running[4];
	const char *want; /* "kind service reason [old]" lines joined by ';' */
	size_t changes;
	const char *orphans; /* ids, comma-joined */
} plan_case;

static const plan_case cases[] = {
        {"empty gateway: every service is created",
         NULL,
         "{\"services\":{\"web\":{\"image\":\"" IMG_A "\"},\"worker\":{\"image\":\"" IMG_W "\"}}}",
         "",
         {{0}},
         "create web new service;create worker new service",
         2,
         ""},
        {"same spec, running: kept",
         "{\"services\":{\"web\":{\"image\":\"" IMG_A "\"}}}",
         "{\"services\":{\"web\":{\"image\":\"" IMG_A "\"}}}",
         "web=c1",
         {{"web", "c1", "=", EF_CSTATE_RUNNING}},
         "keep web unchanged c1",
         0,
         ""},
        {"image changed: replaced",
         "{\"services\":{\"web\":{\"image\":\"" IMG_A "\"}}}",
         "{\"services\":{\"web\":{\"image\":\"" IMG_B "\"}}}",
         "web=c1",
         {{"web", "c1", "=", EF_CSTATE_RUNNING}},
         "replace web image changed c1",
         1,
         ""},
        {"environment changed, same image: replaced",
         "{\"services\":{\"web\":{\"image\":\"" IMG_A "\"}}}",
         "{\"services\":{\"web\":{\"image\":\"" IMG_A "\",\"environment\":{\"A\":\"1\"}}}}",
         "web=c1",
         {{"web", "c1", "=", EF_CSTATE_RUNNING}},
         "replace web spec changed c1",
         1,
         ""},
        {"removed by hand: repaired",
         "{\"services\":{\"web\":{\"image\":\"" IMG_A "\"}}}",
         "{\"services\":{\"web\":{\"image\":\"" IMG_A "\"}}}",
         "web=c1",
         {{0}},
         "repair web container missing",
         1,
         ""},
        {"stopped by hand: repaired in place",
         "{\"services\":{\"web\":{\"image\":\"" IMG_A "\"}}}",
         "{\"services\":{\"web\":{\"image\":\"" IMG_A "\"}}}",
         "web=c1",
         {{"web", "c1", "=", EF_CSTATE_EXITED}},
         "repair web container not running c1",
         1,
         ""},
        {"service no longer declared: removed",
         "{\"services\":{\"web\":{\"image\":\"" IMG_A "\"},\"worker\":{\"image\":\"" IMG_W "\"}}}",
         "{\"services\":{\"web\":{\"image\":\"" IMG_A "\"}}}",
         "web=c1,worker=c2",
         {{"web", "c1", "=", EF_CSTATE_RUNNING}, {"worker", "c2", "=", EF_CSTATE_RUNNING}},
         "keep web unchanged c1;remove worker no longer declared c2",
         1,
         ""},
        {"a second container of a service is an orphan",
         "{\"services\":{\"web\":{\"image\":\"" IMG_A "\"}}}",
         "{\"services\":{\"web\":{\"image\":\"" IMG_A "\"}}}",
         "web=c1",
         {{"web", "c1", "=", EF_CSTATE_RUNNING}, {"web", "c9", "x", EF_CSTATE_RUNNING}},
         "keep web unchanged c1",
         0,
         "c9"},
        {"lost journal: the running labelled container is found",
         "{\"services\":{\"web\":{\"image\":\"" IMG_A "\"}}}",
         "{\"services\":{\"web\":{\"image\":\"" IMG_A "\"}}}",
         "",
         {{"web", "c3", "x", EF_CSTATE_EXITED}, {"web", "c1", "=", EF_CSTATE_RUNNING}},
         "keep web unchanged c1",
         0,
         "c3"},
};

static ef_manifest *parse(const char *json)
{
	ef_manifest *m = NULL;

	assert_int_equal(ef_manifest_parse(&m, json, strlen(json), "compose.json"), 0);
	return m;
}

static void run_case(const plan_case *pc)
{
	ef_manifest *after = parse(pc->after), *before = pc->before ? parse(pc->before) : NULL;
	ef_state st;
	ef_container_list l;
	ef_plan plan;
	char got[1024] = "", orphans[256] = "";
	char journal[256];

	ef_state_init(&st);
	snprintf(journal, sizeof(journal), "%s", pc->journal);
	for (char *save = NULL, *kv = strtok_r(journal, ",", &save); kv;
	     kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		st.services = realloc(st.services, (st.nservices + 1) * sizeof(*st.services));
		memset(&st.services[st.nservices], 0, sizeof(*st.services));
		*eq = '\0';
		st.services[st.nservices].name = strdup(kv);
		st.services[st.nservices].container_id = strdup(eq + 1);
		st.nservices++;
	}
	memset(&l, 0, sizeof(l));
	l.items = calloc(4, sizeof(*l.items));
	for (size_t i = 0; i < 4 && pc->running[i].service; i++) {
		const listed *r = &pc->running[i];
		ef_container *c = &l.items[l.count++];
		const ef_service *s = before ? ef_manifest_find(before, r->service) : NULL;

		snprintf(c->id, sizeof(c->id), "%s", r->id);
		c->service = strdup(r->service);
		c->spec = strdup(strcmp(r->spec, "=") == 0 && s ? s->spec_hash : "other");
		c->image = strdup(s ? s->image : "other");
		c->slot = strdup("blue");
		c->state = r->state;
	}

	assert_int_equal(ef_plan_make(&plan, after, &st, &l), 0);
	for (size_t i = 0; i < plan.count; i++) {
		const ef_action *a = &plan.actions[i];
		size_t n = strlen(got);
		snprintf(got + n, sizeof(got) - n, "%s%s %s %s%s%s", i ? ";" : "",
		         ef_action_name(a->kind), a->service, a->reason, a->old_id ? " " : "",
		         a->old_id ? a->old_id : "");
	}
	for (size_t i = 0; plan.orphans && plan.orphans[i]; i++) {
		size_t n = strlen(orphans);
		snprintf(orphans + n, sizeof(orphans) - n, "%s%s", i ? "," : "", plan.orphans[i]);
	}
	if (strcmp(got, pc->want) != 0 || plan.changes != pc->changes ||
	    strcmp(orphans, pc->orphans) != 0)
		print_error("case '%s':\n  want [%s] changes=%zu orphans=[%s]\n  got  [%s] "
		            "changes=%zu orphans=[%s]\n",
		            pc->name, pc->want, pc->changes, pc->orphans, got, plan.changes,
		            orphans);
	assert_string_equal(got, pc->want);
	assert_int_equal(plan.changes, pc->changes);
	assert_string_equal(orphans, pc->orphans);

	ef_plan_dispose(&plan);
	ef_container_list_dispose(&l);
	ef_state_dispose(&st);
	ef_manifest_free(after);
	ef_manifest_free(before);
}

static void test_plan_table(void **unused)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_plan_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
