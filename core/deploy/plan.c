#include "edgeflip/plan.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"

#include <stdlib.h>
#include <string.h>

const char *ef_action_name(ef_action_kind k)
{
	static const char *const names[] = {"keep", "create", "replace", "repair", "remove"};

	return names[k];
}

static const ef_container *find_by_id(const ef_container_list *l, const char *id)
{
	for (size_t i = 0; id && i < l->count; i++)
		if (strcmp(l->items[i].id, id) == 0)
			return &l->items[i];
	return NULL;
}

/* The container that serves `name` now: the one the journal names, or when
 * the journal does not know it (lost journal), a running one labelled for
 * the service. */
static const ef_container *active_for(const ef_state *st, const ef_container_list *l,
                                      const char *name)
{
	const ef_container *best = NULL;

	for (size_t i = 0; i < st->nservices; i++)
		if (strcmp(st->services[i].name, name) == 0)
			return find_by_id(l, st->services[i].container_id);
	for (size_t i = 0; i < l->count; i++) {
		const ef_container *c = &l->items[i];
		if (!c->service || strcmp(c->service, name) != 0)
			continue;
		if (!best || (c->state == EF_CSTATE_RUNNING && best->state != EF_CSTATE_RUNNING))
			best = c;
	}
	return best;
}

static bool journal_knows(const ef_state *st, const char *name)
{
	for (size_t i = 0; i < st->nservices; i++)
		if (strcmp(st->services[i].name, name) == 0)
			return true;
	return false;
}

static int push(ef_plan *p, ef_action_kind kind, const char *service, const ef_service *spec,
                const ef_container *old, const char *reason)
{
	ef_action *v = realloc(p->actions, (p->count + 1) * sizeof(*v));
	ef_action *a;

	if (!v)
		return EF_ENOMEM;
	p->actions = v;
	a = &p->actions[p->count++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->service = strdup(service);
	a->spec = spec;
	a->old_id = old ? strdup(old->id) : NULL;
	a->old_slot = old ? ef_strdup(old->slot) : NULL;
	a->reason = strdup(reason);
	if (kind != EF_ACT_KEEP)
		p->changes++;
	return 0;
}

static const char *why_changed(const ef_service *want, const ef_container *have)
{
	if (have->image && strcmp(have->image, want->image) != 0)
		return "image changed";
	return "spec changed";
}

bool ef_plan_runs_once(const ef_manifest *m, const char *service)
{
	for (size_t i = 0; i < m->nservices; i++)
		for (size_t j = 0; j < m->services[i].ndepends_on; j++)
			if (m->services[i].depends_on[j].condition == EF_DEP_COMPLETED &&
			    strcmp(m->services[i].depends_on[j].service, service) == 0)
				return true;
	return false;
}

static int cmp_action(const void *a, const void *b)
{
	return strcmp(((const ef_action *)a)->service, ((const ef_action *)b)->service);
}

int ef_plan_make(ef_plan *out, const ef_manifest *m, const ef_state *st,
                 const ef_container_list *running)
{
	const ef_container **claimed = NULL;
	size_t nclaimed = 0;
	int error = 0;

	memset(out, 0, sizeof(*out));
	claimed = calloc(m->nservices + st->nservices + 1, sizeof(*claimed));
	if (!claimed)
		return EF_ENOMEM;

	for (size_t i = 0; i < m->nservices && error == 0; i++) {
		const ef_service *want = &m->services[i];
		const ef_container *have = active_for(st, running, want->name);

		if (have)
			claimed[nclaimed++] = have;
		if (!have && journal_knows(st, want->name))
			error = push(out, EF_ACT_REPAIR, want->name, want, NULL,
			             "container missing");
		else if (!have)
			error = push(out, EF_ACT_CREATE, want->name, want, NULL, "new service");
		else if (!have->spec || strcmp(have->spec, want->spec_hash) != 0)
			error = push(out, EF_ACT_REPLACE, want->name, want, have,
			             why_changed(want, have));
		else if (have->state != EF_CSTATE_RUNNING &&
		         !(have->state == EF_CSTATE_EXITED && ef_plan_runs_once(m, want->name)))
			error = push(out, EF_ACT_REPAIR, want->name, want, have,
			             "container not running");
		else
			error = push(out, EF_ACT_KEEP, want->name, want, have, "unchanged");
	}
	/* Services that run but are no longer declared. */
	for (size_t i = 0; i < st->nservices && error == 0; i++) {
		const char *name = st->services[i].name;
		const ef_container *have;

		if (ef_manifest_find(m, name))
			continue;
		have = find_by_id(running, st->services[i].container_id);
		if (have)
			claimed[nclaimed++] = have;
		error = push(out, EF_ACT_REMOVE, name, NULL, have, "no longer declared");
	}
	/* Containers labelled for an undeclared service the journal does not know
	 * (lost journal) are removed as well; any other unclaimed one is an orphan. */
	for (size_t i = 0; i < running->count && error == 0; i++) {
		const ef_container *c = &running->items[i];
		bool is_claimed = false;

		for (size_t j = 0; j < nclaimed; j++)
			if (claimed[j] == c)
				is_claimed = true;
		if (!is_claimed)
			error = ef_strv_push(&out->orphans, c->id);
	}
	free(claimed);
	if (error < 0) {
		ef_plan_dispose(out);
		return error;
	}
	if (out->count > 1)
		qsort(out->actions, out->count, sizeof(*out->actions), cmp_action);
	return 0;
}

void ef_plan_dispose(ef_plan *p)
{
	for (size_t i = 0; i < p->count; i++) {
		free(p->actions[i].service);
		free(p->actions[i].old_id);
		free(p->actions[i].old_slot);
		free(p->actions[i].reason);
	}
	free(p->actions);
	ef_strv_free(p->orphans);
	memset(p, 0, sizeof(*p));
}
