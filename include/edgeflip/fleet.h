/* Fleets without a server (docs/fleet.md): the Prometheus textfile, webhook
 * events queued in the state directory, and the rollout gate's record that
 * `status` reads. The agent's hooks are in core/agent/agent_internal.h. */
#ifndef EDGEFLIP_FLEET_H
#define EDGEFLIP_FLEET_H

#include <stdint.h>

#define EF_ROLLOUT_FILE "rollout.json" /* in state_dir: the commit a wave holds back */
#define EF_OUTBOX_DIR   "outbox"       /* in state_dir: webhook events not yet delivered */

/* The `rollout` member of `status --json`, as JSON text (free()): null when
 * no commit waits, else {commit, state, reason, wariness, share, start,
 * duration_seconds, start_percentage, paused} with the share at `now`. */
int ef_fleet_rollout_status(char **out, const char *state_dir, const char *revision, int64_t now);

#endif
