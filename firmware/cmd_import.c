/* import FILE: the configured branch's tip from a `git bundle` (a USB stick
 * on an air-gapped device), applied as a pass applies a polled commit. One
 * process acts on a state_dir at a time: with the daemon running, import
 * refuses and says how to go on (docs/offline.md). */
#include "cli.h"
#include "edgeflip/error.h"
#include "edgeflip/sys/fs.h"

#include <signal.h>
#include <stdio.h>

int cmd_import(const cli *c)
{
	ef_config cfg;
	ef_agent *a = NULL;
	int rc, error, lock = -1;

	if (c->argc != 1 || c->argv[0][0] == '-') {
		fprintf(stderr, "usage: edgeflip [-c FILE] import BUNDLE_FILE\n");
		return EF_EXIT_USAGE;
	}
	if ((rc = cli_load_config(&cfg, c)))
		return rc;
	signal(SIGPIPE, SIG_IGN);
	if (cli_take_lock(&lock, &cfg, 0) < 0) {
		fprintf(stderr,
		        "edgeflip: %s\nedgeflip: the daemon (or another command) is acting on %s: "
		        "stop it (`systemctl stop edgeflip` or `/etc/init.d/edgeflip stop`), run "
		        "the import, start it again (docs/offline.md)\n",
		        ef_error_last(), cfg.state_dir);
		ef_config_dispose(&cfg);
		return EF_EXIT_ERROR;
	}
	if ((error = ef_agent_new(&a, &cfg, c->self_exe)) == 0 &&
	    (error = ef_agent_recover(a)) == 0)
		error = ef_agent_import(a, c->argv[0]);
	if (error < 0)
		fprintf(stderr, "edgeflip: %s\n", ef_error_last());
	else
		printf("%s: %s runs\n", c->argv[0], ef_agent_state(a)->revision);
	rc = ef_agent_exit_code(error);
	ef_agent_free(a);
	ef_fs_unlock(lock);
	ef_config_dispose(&cfg);
	return rc;
}
