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
/* Renames container `id` to `to` when it is called `from` now. */
int ef_names_rename_if(ef_engine *e, const char *id, const char *from, const char *to);
/* Creates the networks the manifest's services join, as declared. */
int ef_networks_ensure(ef_engine *e, const ef_manifest *m, const char *project);
/* Removes the project's networks the manifest no longer uses (one still in
 * use stays for a later pass). */
void ef_networks_prune(ef_engine *e, const ef_manifest *m, const char *project);

#endif
