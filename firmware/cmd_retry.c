/* retry [REV]: lifts the quarantine of REV (a commit id or a prefix of one;
 * default: every quarantined commit) on purpose, so that the next pass
 * deploys it again. Beside a running daemon the request goes through
 * STATE_DIR/retry and a kick; without one the journal is changed here, under
 * both locks. */
#include "cli.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/state.h"
#include "edgeflip/sys/fs.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static bool is_hex_prefix(const char *s)
{
	size_t n = strlen(s);

	if (n < 4 || n > EF_OID_HEX - 1)
		return false;
	return strspn(s, "0123456789abcdef") == n;
}

static int ask_daemon(const ef_config *cfg, const char *rev)
{
	char path[4200];
	ef_buf b;
	int pass = -1, error;

	if ((error = cli_take_pass_lock(&pass, cfg, CLI_PASS_WAIT_MS)) < 0)
		return error;
	snprintf(path, sizeof(path), "%s/retry", cfg->state_dir);
	if (ef_read_file(&b, path, 64u << 10) < 0)
		ef_buf_init(&b, 64u << 10);
	if ((error = ef_buf_printf(&b, "%s\n", rev)) == 0)
		error = ef_fs_write_atomic(path, b.ptr, b.len);
	ef_buf_dispose(&b);
	ef_fs_unlock(pass);
	if (error == 0)
		error = cli_signal_daemon(cfg, SIGUSR1);
	return error;
}

int cmd_retry(const cli *c)
{
	ef_config cfg;
	ef_state st;
	const char *rev = c->argc ? c->argv[0] : NULL;
	int rc, error, lock = -1, pass = -1, n = 0;
	long pid;

	if (c->argc > 1 || (rev && !is_hex_prefix(rev))) {
		fprintf(stderr, "usage: edgeflip retry [REV]  (REV: a commit id or a prefix of at "
		                "least 4 hex digits)\n");
		return EF_EXIT_USAGE;
	}
	if ((rc = cli_load_config(&cfg, c)))
		return rc;
	ef_state_init(&st);
	if (cli_find_daemon(&pid, &cfg) == 0) {
		if ((error = ask_daemon(&cfg, rev ? rev : "*")) == 0)
			printf("asked the daemon (pid %ld) to retry %s\n", pid,
			       rev ? rev : "every quarantined commit");
		goto out;
	}
	if ((error = cli_take_lock(&lock, &cfg, false)) < 0 ||
	    (error = cli_take_pass_lock(&pass, &cfg, 0)) < 0)
		goto out;
	if ((error = ef_state_load(&st, cfg.state_dir)) < 0)
		goto out;
	n = ef_state_unquarantine(&st, rev, NULL);
	if (n > 0 && (error = ef_state_save(&st, cfg.state_dir)) < 0)
		goto out;
	if (n == 0 && rev) {
		ef_error_set("%s is not quarantined (see `edgeflip status`)", rev);
		error = EF_ENOTFOUND;
		goto out;
	}
	printf("released %d quarantined commit%s; the next pass deploys the branch head again\n", n,
	       n == 1 ? "" : "s");
out:
	if (error < 0)
		fprintf(stderr, "edgeflip: %s\n", ef_error_last());
	ef_state_dispose(&st);
	ef_fs_unlock(pass);
	cli_release_lock(lock);
	ef_config_dispose(&cfg);
	if (error == EF_EINVALID)
		return EF_EXIT_USAGE;
	return error < 0 ? EF_EXIT_ERROR : 0;
}
