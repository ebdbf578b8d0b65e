/* Networks and DNS names of containers (networks.c): what the deploy does
 * with the engine's networks. Private to core/deploy. */
#ifndef EDGEFLIP_DEPLOY_NETWORKS_H
#define EDGEFLIP_DEPLOY_NETWORKS_H

#include "edgeflip/manifest.h"
#include "edgeflip/sys/engine.h"

#include <stdbool.h>

/* Gives container `id` its DNS names (EF_LABEL_ALIASES) on each of its
 * networks (`on`), or keeps it on them without the names (`!on`), by
 * disconnecting and connecting it again. A network where it already has what
 * is wanted is left alone (safe to repeat); an exited container is left. */
int ef_names_move(ef_engine *e, const char *id, bool on);
/* Before a running container is stopped or removed, it leaves the
 * networks where it holds DNS names, so that a name answers with the new
 * instance at once rather than with one that is shutting down until it has
 * exited (docs/deploy.md, "Stopping old instances"). ef_names_leave is for
 * a removal; ef_names_stop stops it (its configured signal and grace
 * period) and joins the networks again without the names while stopped,
 * so that a restart (a rollback) finds them. */
void ef_names_leave(ef_engine *e, const char *id);
int ef_names_stop(ef_engine *e, const char *id);
/* Renames container `id` to `to` when it is called `from` now. */
int ef_names_rename_if(ef_engine *e, const char *id, const char *from, const char *to);
/* Creates the networks the manifest's services join, as declared. */
int ef_networks_ensure(ef_engine *e, const ef_manifest *m, const char *project);
/* Removes the project's networks the manifest no longer uses (one still in
 * use stays for a later pass). */
void ef_networks_prune(ef_engine *e, const ef_manifest *m, const char *project);

#endif
