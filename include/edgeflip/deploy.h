/* Deploys and crash recovery (core/deploy/): the state machine that turns a
 * plan into running containers behind the switch, and the recovery that
 * finishes or undoes a deploy a crash interrupted. See docs/deploy.md. */
#ifndef EDGEFLIP_DEPLOY_H
#define EDGEFLIP_DEPLOY_H

#include "edgeflip/compose.h"
#include "edgeflip/config.h"
#include "edgeflip/manifest.h"
#include "edgeflip/plan.h"
#include "edgeflip/secrets.h"
#include "edgeflip/state.h"
#include "edgeflip/sys/engine.h"
#include "edgeflip/sys/switch.h"

#include <signal.h>
#include <stdbool.h>

/* What a deploy works with. Everything is borrowed from the caller (the
 * agent), which owns it; the switch is opened on first use into *sw. */
typedef struct {
	const ef_config *cfg;
	ef_engine *engine;
	ef_switch **sw;
	const char *self_exe; /* this executable, to start the proxy switch */
	ef_state *st;         /* the journal, saved to cfg->state_dir */
	/* The target commit's environment directory, where relative binds,
	 * secrets and configs are copied from (files.h); NULL: none. */
	const ef_compose_src *env;
	/* The device's age identities for SOPS-encrypted secrets; NULL: none. */
	const ef_age_identities *age;
	/* Set from a signal handler: roll back the deploy in progress now. */
	volatile sig_atomic_t *rollback_requested;
	/* Out: a service of the running set was left without a live container
	 * (its container is gone and nothing could take over); the caller
	 * should bring the running revision up again (converge to st->revision). */
	bool restore_needed;
} ef_deploy_ctx;

/* Copies the files the manifest's services use out of `env` (relative binds,
 * secrets, configs: files.h; `env` NULL: none) under cfg->state_dir (SOPS
 * secrets decrypted with `age` under cfg->runtime_dir) and folds
 * what they became into each service's spec_hash, so that a changed config
 * file replaces the container. */
int ef_deploy_prepare(const ef_config *cfg, ef_manifest *m, const ef_compose_src *env,
                      const ef_age_identities *age);
/* Removes the per-version directories of decrypted secrets under
 * RUNTIME_DIR/secrets that no container of the engine mounts (after a
 * commit, a rollback, recovery). Best effort: when the engine cannot tell
 * what its containers mount, nothing is removed. */
void ef_deploy_prune_secrets(ef_deploy_ctx *c);
/* Runs `plan` towards `target`. `m` must outlive the call. 0: deployed;
 * EF_ERROR: rolled back (quarantined); EF_EAGAIN: abandoned on request. */
int ef_deploy_run(ef_deploy_ctx *c, const ef_manifest *m, const ef_plan *plan, const char *target,
                  const char *signer);
/* Finishes (commit) or undoes (any earlier phase) a deploy that a crash
 * interrupted, from the journal. Never routes to a container that is not
 * alive: see docs/deploy.md "Crash safety". */
int ef_deploy_recover(ef_deploy_ctx *c);
/* A route as the journal keeps it (docs/state.md, `public_ports`): "tcp
 * 0.0.0.0 8080 127.0.0.1 41001" and the proxy options set ("idle=30000",
 * "connect=", "drain=", "max=", "pp=v2"). EF_EINVALID when it does not fit. */
int ef_deploy_route_line(char *buf, size_t size, const ef_route *r);
/* Routes for the services the journal says are active. */
int ef_deploy_routes(ef_route **out, size_t *n, const ef_state_service *svcs, size_t nsvcs);
/* Creates the networks `m`'s services join, named and labelled for
 * `project` (the previews' own networks; docs/previews.md). */
int ef_deploy_networks(ef_engine *e, const ef_manifest *m, const char *project);
/* Opens the switch on first use. */
int ef_deploy_switch(ef_deploy_ctx *c);
/* Saves the journal. */
int ef_deploy_save(ef_deploy_ctx *c);
/* Force-removes container `id` of `service` and logs it with `why`
 * (`removed container=… service=… why=…`). Refuses (EF_EINVALID, logged) a
 * container the journal's running set serves traffic from. */
int ef_deploy_remove(ef_deploy_ctx *c, const char *id, const char *service, const char *why);

#endif
