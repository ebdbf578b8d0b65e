/* Private to core/agent/ (agent.c, images.c). Deploys do not see the agent:
 * they get an ef_deploy_ctx (edgeflip/deploy.h). */
#ifndef EDGEFLIP_AGENT_INTERNAL_H
#define EDGEFLIP_AGENT_INTERNAL_H

#include "edgeflip/agent.h"
#include "edgeflip/buf.h"
#include "edgeflip/manifest.h"
#include "edgeflip/secrets.h"
#include "edgeflip/source.h"
#include "edgeflip/sys/engine.h"
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
};

/* Checks the image signatures of `m` when [trust] image_keys is set, and
 * pins tagged images to the digest verified (images.c). EF_EREJECTED with
 * the reasons in `why`; other errors are transient. */
int ef_agent_check_images(ef_agent *a, ef_manifest *m, ef_buf *why);

#endif
