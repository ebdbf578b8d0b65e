/* The edgeflip executable: shared helpers of the sub-commands. */
#ifndef EDGEFLIP_CLI_H
#define EDGEFLIP_CLI_H

#include "edgeflip/agent.h"
#include "edgeflip/config.h"

#include <stdbool.h>

typedef struct {
	const char *config_path;
	const char *self_exe;
	int argc; /* arguments after the sub-command */
	char **argv;
} cli;

/* Loads the config and applies its log level; prints the error and returns
 * EF_EXIT_USAGE on failure. */
int cli_load_config(ef_config *cfg, const cli *c);

/* firmware/daemon.c: the daemon lock and the pass lock.
 * cli_take_lock checks state_dir (ef_fs_private_dir) and takes
 * STATE_DIR/agent.lock, writing our pid into it when `daemon`; EF_EAGAIN with
 * a message naming the running daemon when it is held. */
int cli_take_lock(int *fd, const ef_config *cfg, bool daemon);
void cli_release_lock(int fd);
/* How long plan and verify wait for a pass of the daemon (a deploy with
 * its health wait and soak can take minutes). */
#define CLI_PASS_WAIT_MS (15u * 60u * 1000u)
/* STATE_DIR/pass.lock, waiting up to wait_ms (saying so on stderr). */
int cli_take_pass_lock(int *fd, const ef_config *cfg, unsigned wait_ms);
/* The daemon's pass lock: taken again on *fd, kept open from the last pass
 * (-1: none yet), or opened anew when the file was replaced. Between passes
 * ef_fs_lock_drop(*fd) releases it; ef_fs_unlock(*fd) closes it. */
int cli_hold_pass_lock(int *fd, const ef_config *cfg);
/* The daemon's pid, read from a lock some process holds; EF_ENOTFOUND (with
 * the reason) when no daemon holds it. */
int cli_find_daemon(long *out_pid, const ef_config *cfg);
/* Sends `sig` to the daemon found by cli_find_daemon. */
int cli_signal_daemon(const ef_config *cfg, int sig);

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
int cmd_retry(const cli *c);
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
