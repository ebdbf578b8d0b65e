/* Private to core/agent/ (agent.c, images.c). Deploys do not see the agent:
 * they get an ef_deploy_ctx (edgeflip/deploy.h). */
#ifndef EDGEFLIP_AGENT_INTERNAL_H
#define EDGEFLIP_AGENT_INTERNAL_H

#include "edgeflip/agent.h"
#include "edgeflip/buf.h"
#include "edgeflip/compose_read.h"
#include "edgeflip/manifest.h"
#include "edgeflip/secrets.h"
#include "edgeflip/source.h"
#include "edgeflip/verify.h"
#include "edgeflip/sys/engine.h"
#include "edgeflip/sys/fs.h"
#include "edgeflip/sys/switch.h"

#include <stdbool.h>

struct ef_agent {
	const ef_config *cfg;
	char *self_exe;
	ef_source *src;
	ef_engine *engine;
	ef_switch *sw;
	ef_trust *trust;
	ef_age_identities *age; /* [secrets] age_key_file, read on first use */
	ef_state st;
	char cache_dir[4096];
	bool restoring; /* bringing the running revision up again (no nesting) */
	/* Drift: with the engine's event stream followed (ef_agent_events_live),
	 * a no-change pass lists containers only every EF_AGENT_LIST_EVERY passes. */
	bool events_live;
	unsigned passes_unlisted;
	/* The trust files as last read (recheck_trust_refusals): a pass whose
	 * stamps match reads neither them nor trust.hash, except every
	 * EF_AGENT_TRUST_REREAD passes, for file systems with coarse times. */
	ef_fs_stamp trust_stamp[2];
	bool trust_stamped;
	unsigned trust_unread;
#define EF_AGENT_TRUST_REREAD 60
	/* Requests in STATE_DIR (ef_agent_requests_now): looked for when
	 * due, or after EF_AGENT_REQUESTS_EVERY passes that did not look. */
	bool requests_due;
	bool requests_decided, requests_look; /* for this pass */
	unsigned requests_unlooked;
	struct ef_fleet *fleet; /* metrics, webhook events, rollout (fleet.c) */
	char *previews_prefix;  /* the literal part of [source] previews, NULL: none */
	bool previews_swept;    /* preview containers no record names were looked for */
};

/* Commits refused for their signature are examined again when the trust
 * files changed; the keys are then loaded again (requests.c). */
void ef_agent_recheck_trust(ef_agent *a);
/* Quarantines lifted by `edgeflip retry` beside the daemon (requests.c). */
void ef_agent_apply_retry_requests(ef_agent *a);
/* Opens the engine backend on first use and pings it. */
int ef_agent_open_engine(ef_agent *a);
/* Shared by the production pass and the previews (previews.c). */
int ef_agent_check_trust(ef_agent *a, ef_verify_result *vr, const char *commit);
int ef_agent_load_manifest(ef_agent *a, ef_manifest **out, const char *commit);
/* 1 with the reason in `why` when `head` lies below [trust] not_before. */
int ef_agent_below_floor(ef_agent *a, char *why, size_t n, const char *head);
/* The environment directory of `commit` as the compose reader's file source
 * (until ef_source_tree_free(*tree)); EF_EINVALID: the commit has none. */
int ef_agent_open_env(ef_agent *a, ef_source_tree **tree, ef_compose_src *src, const char *commit);
/* Preview environments (previews.c, docs/previews.md): deploys, updates and
 * removes the previews the last poll listed. Errors are logged and kept per
 * preview; production is never touched. */
void ef_agent_previews_pass(ef_agent *a);

/* Checks the image signatures of `m` when [trust] image_keys is set, and
 * pins tagged images to the digest verified (images.c). EF_EREJECTED with
 * the reasons in `why`; other errors are transient. */
int ef_agent_check_images(ef_agent *a, ef_manifest *m, ef_buf *why, char ***signers);
/* The key that signed `image` in `signers` (borrowed), or NULL. */
const char *ef_agent_signer_of(char *const *signers, const char *image);
/* After a deploy of `m` that landed: records in the journal, for each
 * service, the key that signed its image (`signers`: "IMAGE KEY" entries
 * from ef_agent_check_images), or none when it was not checked. */
void ef_agent_note_signers(ef_agent *a, char *const *signers);

/* Fleet hooks (fleet.c, docs/fleet.md): counters for the metrics file and
 * webhook events queued in STATE_DIR/outbox. */
void ef_fleet_free(struct ef_fleet *f);
void ef_fleet_event(ef_agent *a, const char *reason, const char *severity, const char *revision,
                    const char *signer, const char *message);
void ef_fleet_poll_failed(ef_agent *a);
/* After a deploy of `commit`: 0 deployed, else rolled back. */
void ef_fleet_deployed(ef_agent *a, const char *commit, const char *signer, int error);
void ef_fleet_rolled_back(ef_agent *a, const char *from, const char *to);
void ef_fleet_refused(ef_agent *a, const char *commit, const char *what, const char *reason);
void ef_fleet_drift_repaired(ef_agent *a, int error);
/* x-edgeflip.rollout of `m`: 0 deploy now; EF_EAGAIN the wave holds `commit`
 * back (recorded in STATE_DIR/rollout.json for status). */
int ef_fleet_rollout_gate(ef_agent *a, const ef_manifest *m, const char *commit);

#endif
