/* The edgeflip executable: shared helpers of the sub-commands. */
#ifndef EDGEFLIP_CLI_H
#define EDGEFLIP_CLI_H

#include "edgeflip/agent.h"
#include "edgeflip/config.h"

typedef struct {
	const char *config_path;
	const char *self_exe;
	int argc; /* arguments after the sub-command */
	char **argv;
} cli;

/* Loads the config and applies its log level; prints the error and returns
 * EF_EXIT_USAGE on failure. */
int cli_load_config(ef_config *cfg, const cli *c);

/* Sends `sig` to the daemon named by STATE_DIR/edgeflip.pid. */
int cli_signal_daemon(const ef_config *cfg, int sig);
/* Takes STATE_DIR/agent.lock (held by the daemon for its whole life). */
int cli_take_lock(int *fd, const ef_config *cfg, unsigned wait_ms);

/* Reads STATE_DIR/state.json without touching it (a corrupt file is not
 * moved aside, as the agent would). A missing file is an empty state. */
int cli_read_state(ef_state *st, const ef_config *cfg);

int cmd_run(const cli *c);
int cmd_once(const cli *c);
int cmd_kick(const cli *c);
int cmd_status(const cli *c);
int cmd_plan(const cli *c);
int cmd_verify(const cli *c);
int cmd_rollback(const cli *c);
int cmd_import(const cli *c);
/* In the daemon, before a pass: an import handed over by `edgeflip import`
 * (STATE_DIR/import.request), applied and answered (cmd_import.c). */
void cli_serve_import(ef_agent *a, const ef_config *cfg);
int cmd_check_config(const cli *c);
int cmd_lint(const cli *c);
int cmd_config(const cli *c);
int cmd_pin(const cli *c);
int cmd_promote(const cli *c);

#endif
