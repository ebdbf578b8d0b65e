/* The plan: what a pass must do to turn what runs into what the manifest
 * declares. Pure: no I/O, so `edgeflip plan` and the unit tests use it as is. */
#ifndef EDGEFLIP_PLAN_H
#define EDGEFLIP_PLAN_H

#include "edgeflip/manifest.h"
#include "edgeflip/state.h"
#include "edgeflip/sys/engine.h"

typedef enum {
	EF_ACT_KEEP = 0, /* same spec, running: untouched */
	EF_ACT_CREATE,   /* new service */
	EF_ACT_REPLACE,  /* spec changed */
	EF_ACT_REPAIR,   /* same spec, but the container is gone or stopped (drift) */
	EF_ACT_REMOVE,   /* service no longer declared */
} ef_action_kind;

typedef struct {
	ef_action_kind kind;
	char *service;          /* name */
	const ef_service *spec; /* desired spec (borrowed from the manifest); NULL for REMOVE */
	char *old_id;           /* the active container, if any */
	char *old_slot;         /* its slot ("blue"/"green"), if any */
	char *reason;           /* "new service", "image changed", "container missing", ... */
} ef_action;

typedef struct {
	ef_action *actions; /* sorted by service name */
	size_t count;
	size_t changes; /* actions other than KEEP */
	char **orphans; /* ids of edgeflip containers no service claims */
} ef_plan;

/* `st` says which container is active for each service; `running` is the
 * engine's listing of edgeflip-labelled containers. */
int ef_plan_make(ef_plan *out, const ef_manifest *m, const ef_state *st,
                 const ef_container_list *running);
void ef_plan_dispose(ef_plan *p);
/* A service another depends on with condition service_completed_successfully:
 * it runs to completion, and an exited container of it is not drift. */
bool ef_plan_runs_once(const ef_manifest *m, const char *service);
const char *ef_action_name(ef_action_kind k);

#endif
