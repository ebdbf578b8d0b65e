/* rollback: go back to the previous revision now. With the daemon running,
 * it is asked (SIGUSR2) and this command waits for the journal to show it. */
#include "cli.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/state.h"
#include "edgeflip/sys/clock.h"
#include "edgeflip/sys/fs.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static int64_t last_rollback_at(const ef_config *cfg)
{
	ef_state st;
	int64_t at = 0;

	if (cli_read_state(&st, cfg) == 0)
		at = st.last_rollback.at;
	ef_state_dispose(&st);
	return at;
}

int cmd_rollback(const cli *c)
{
	ef_config cfg;
	ef_agent *a = NULL;
	int rc, error, lock = -1, pass = -1;
	long pid;

	if ((rc = cli_load_config(&cfg, c)))
		return rc;
	signal(SIGPIPE, SIG_IGN);
	/* A daemon found through its lock is asked; a stale pid is never
	 * signalled, and without a daemon we roll back here, holding both
	 * locks so that no pass interleaves. */
	if (cli_find_daemon(&pid, &cfg) == 0) {
		int64_t before = last_rollback_at(&cfg);
		uint64_t deadline = ef_clock_ms() + cfg.soak_ms + cfg.health_timeout_ms + 120000;

		if (cli_signal_daemon(&cfg, SIGUSR2) < 0) {
			fprintf(stderr, "edgeflip: %s\n", ef_error_last());
			ef_config_dispose(&cfg);
			return EF_EXIT_ERROR;
		}
		printf("asked the daemon to roll back; waiting\n");
		while (ef_clock_ms() < deadline && last_rollback_at(&cfg) == before)
			ef_clock_sleep(200);
		rc = last_rollback_at(&cfg) != before ? 0 : EF_EXIT_ERROR;
		printf(rc ? "the daemon did not report a rollback in time; see `edgeflip "
		            "status`\n"
		          : "rolled back\n");
		ef_config_dispose(&cfg);
		return rc;
	}
	if ((error = cli_take_lock(&lock, &cfg, false)) < 0 ||
	    (error = cli_take_pass_lock(&pass, &cfg, 0)) < 0) {
		fprintf(stderr, "edgeflip: %s\n", ef_error_last());
		cli_release_lock(lock);
		ef_config_dispose(&cfg);
		return error == EF_EINVALID ? EF_EXIT_USAGE : EF_EXIT_ERROR;
	}
	if ((error = ef_agent_new(&a, &cfg, c->self_exe)) == 0 &&
	    (error = ef_agent_recover(a)) == 0)
		error = ef_agent_rollback(a);
	if (a)
		ef_agent_report(a, error);
	if (error < 0)
		fprintf(stderr, "edgeflip: %s\n", ef_error_last());
	else
		printf("rolled back to %s\n", ef_agent_state(a)->revision);
	ef_agent_free(a);
	ef_fs_unlock(pass);
	cli_release_lock(lock);
	ef_config_dispose(&cfg);
	return error == 0 ? 0 : ef_agent_exit_code(error);
}
