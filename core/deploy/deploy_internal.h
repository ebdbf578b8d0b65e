/* Private to core/deploy/: shared by the state machine (deploy.c) and crash
 * recovery (recover.c). */
#ifndef EDGEFLIP_DEPLOY_INTERNAL_H
#define EDGEFLIP_DEPLOY_INTERNAL_H

#include "edgeflip/deploy.h"

/* Makes the routes of `svcs` the complete route set; logs each route with
 * `why` (`route service=… public=… target=… why=…`). */
int ef_deploy_apply_routes(ef_deploy_ctx *c, const ef_state_service *svcs, size_t n,
                           const char *why);
/* Puts a working set back after an interrupted or failed deploy: the running
 * set's containers are checked (inspect, started if stopped, a probe on the
 * routed port); a service whose container is gone keeps its staged instance
 * when `adopt` and that instance is alive, else restore_needed is set. Then
 * routes go to what is alive and the other staged containers are removed. */
int ef_deploy_undo(ef_deploy_ctx *c, bool adopt, const char *why);
/* Strategy canary (canary.c): before the full flip to `next`, moves the
 * weighted steps of the canary services' public ports to green, reading the
 * switch's counters during each pause. 0: go on with the full flip (also
 * when no port has a canary); EF_ERROR: aborted, traffic is all blue again,
 * the message is the quarantine reason ("canary: error rate ..."); EF_EAGAIN:
 * asked to stop (traffic all blue again). */
int ef_deploy_canary(ef_deploy_ctx *c, const ef_manifest *m, const ef_state_service *next,
                     size_t nnext, const char *target);
/* Retires the containers listed in `staged` after a commit landed. */
int ef_deploy_finish_commit(ef_deploy_ctx *c);

#endif
