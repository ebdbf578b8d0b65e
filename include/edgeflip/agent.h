/* The agent: one reconcile pass (poll, fetch, verify, manifest, policy, plan,
 * deploy), recovery after a crash, rollback on demand. */
#ifndef EDGEFLIP_AGENT_H
#define EDGEFLIP_AGENT_H

#include "edgeflip/config.h"
#include "edgeflip/state.h"
#include "edgeflip/verify.h"

#include <stdbool.h>
#include <stdio.h>

#include <signal.h>

typedef struct ef_agent ef_agent;

/* Set (from a signal handler) to ask for a rollback: a deploy in progress
 * flips back at once, otherwise the next ef_agent_rollback call does it. */
extern volatile sig_atomic_t ef_agent_rollback_requested;

/* Exit codes of the CLI (documented in README and --help). */
enum {
	EF_EXIT_OK = 0,
	EF_EXIT_ERROR = 1,       /* anything else */
	EF_EXIT_USAGE = 2,       /* usage or configuration error */
	EF_EXIT_REJECTED = 3,    /* commit rejected by trust or policy */
	EF_EXIT_ROLLED_BACK = 4, /* deploy failed and was rolled back */
	EF_EXIT_UNREACHABLE = 5, /* source or engine unreachable */
};

/* `self_exe` is the path of this executable (to start the proxy). Loads the
 * journal; connects to nothing yet. */
int ef_agent_new(ef_agent **out, const ef_config *cfg, const char *self_exe);
void ef_agent_free(ef_agent *a);
/* Finishes or undoes a deploy that a crash interrupted, and removes orphans. */
int ef_agent_recover(ef_agent *a);
/* One reconcile pass. 0: nothing to do or deployed; EF_EREJECTED; EF_ERROR
 * (deploy failed, rolled back); EF_EUNREACHABLE/EF_ETIMEOUT (source or engine). */
int ef_agent_pass(ef_agent *a);
/* Applies the configured branch's tip in the `git bundle` `file` as a pass
 * applies a polled commit (same verification, descent, policy, deploy);
 * no network. EF_EREJECTED (exit 3) for a bundle without the branch or
 * lacking history, an unsigned, older or quarantined tip. docs/offline.md */
int ef_agent_import(ef_agent *a, const char *file);
/* Prints what the next pass would do, changing nothing. */
int ef_agent_plan(ef_agent *a, FILE *out);
/* Verifies `rev` (NULL: the branch head) from the cache after a fetch. */
int ef_agent_verify(ef_agent *a, ef_verify_result *out, char commit[EF_OID_HEX], const char *rev);
/* Reports, one line each on `out`, what `commit` asks the device to trust
 * besides its signature: every SOPS secret file and env_file (decryptable
 * with the device's age key or not — never a value) and, with [trust]
 * image_keys, every image's signature and signer. Writes nothing. 0 when all
 * is good; EF_EREJECTED when anything is refused. */
int ef_agent_verify_contents(ef_agent *a, FILE *out, const char *commit);
/* Goes back to the previous revision now and quarantines the current one. */
int ef_agent_rollback(ef_agent *a);
const ef_state *ef_agent_state(const ef_agent *a);

/* Drift. A no-change pass lists the engine's containers to find drift, unless
 * the daemon watches the running set's processes or follows the engine's
 * event stream: then an exit or an event triggers ef_agent_check_drift and a
 * pass lists only every EF_AGENT_LIST_EVERY passes, a slow safety net
 * (docs/deploy.md "Drift"). */
#define EF_AGENT_LIST_EVERY 10
void ef_agent_events_live(ef_agent *a, bool live);

/* Requests left in STATE_DIR by commands beside the daemon (`edgeflip retry`
 * writes STATE_DIR/retry, then kicks). A pass looks for them on its first
 * pass, after ef_agent_requests_due (the daemon calls it on a kick), and
 * every EF_AGENT_REQUESTS_EVERY passes for a request whose kick was lost;
 * other passes touch no file for them. Returns whether this pass looks
 * (the daemon serves `import` requests on the same rhythm). */
#define EF_AGENT_REQUESTS_EVERY 60
void ef_agent_requests_due(ef_agent *a);
bool ef_agent_requests_now(ef_agent *a);

/* A container of the running set and its main process. */
typedef struct {
	char id[65];
	long pid; /* 0: unknown or not running */
} ef_agent_proc;
/* The running set's container ids from the journal (no engine call): up to
 * `max` into `out`; returns how many there are (more than `max` when they did
 * not fit). */
size_t ef_agent_running_ids(const ef_agent *a, ef_agent_proc *out, size_t max);
/* Fills in each one's pid by inspecting it (one engine request each). */
int ef_agent_running_pids(ef_agent *a, ef_agent_proc *procs, size_t n);
/* Lists the containers and puts back what was stopped or removed by hand. */
int ef_agent_check_drift(ef_agent *a);
/* After a pass or rollback that returned `pass_error`: delivers queued
 * webhook events and rewrites the metrics textfile when a value changed
 * (docs/fleet.md). */
int ef_agent_report(ef_agent *a, int pass_error);
/* When the last pass left the branch head waiting for a rollout wave: the
 * unix second of this device's turn (ef_rollout_turn), so the daemon polls
 * then rather than up to an interval later. 0 when nothing waits for a
 * turn (no rollout, paused, clock unset). */
int64_t ef_agent_rollout_turn(const ef_agent *a);
/* Maps a return code of the functions above to an exit code. */
int ef_agent_exit_code(int error);

#endif
