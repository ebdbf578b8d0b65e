/* import FILE: the configured branch's tip from a `git bundle` (a USB stick
 * on an air-gapped device), applied as a pass applies a polled commit.
 *
 * One process acts on a state_dir at a time (STATE_DIR/agent.lock). Without
 * a daemon, import takes the lock and runs the import itself. With the
 * daemon running, it hands the file over: it writes STATE_DIR/import.request
 * ("ID\nPATH"), wakes the daemon (SIGUSR1), which imports before its next
 * pass and writes STATE_DIR/import.result ("ID EXIT_CODE message"), and
 * waits for that result (docs/offline.md). */
#include "cli.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/log.h"
#include "edgeflip/sys/clock.h"
#include "edgeflip/sys/fs.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void import_path(char *out, size_t n, const ef_config *cfg, const char *name)
{
	snprintf(out, n, "%s/import.%s", cfg->state_dir, name);
}

static int print_result(int error, const char *file, const ef_agent *a)
{
	if (error < 0)
		fprintf(stderr, "edgeflip: %s\n", ef_error_last());
	else
		printf("%s: %s runs\n", file, ef_agent_state(a)->revision);
	return ef_agent_exit_code(error);
}

void cli_serve_import(ef_agent *a, const ef_config *cfg)
{
	char req[4200], res[4200], line[1200];
	ef_buf b;
	char *nl;
	int error, n;

	import_path(req, sizeof(req), cfg, "request");
	if (access(req, F_OK) != 0 || ef_read_file(&b, req, PATH_MAX + 64) < 0)
		return;
	unlink(req);
	if (!b.ptr || !(nl = strchr(b.ptr, '\n'))) {
		ef_buf_dispose(&b);
		return;
	}
	*nl = '\0';
	nl[1 + strcspn(nl + 1, "\n")] = '\0';
	ef_info("import-requested", "file=%s", nl + 1);
	error = ef_agent_import(a, nl + 1);
	n = snprintf(line, sizeof(line), "%s %d %s\n", b.ptr, ef_agent_exit_code(error),
	             error < 0 ? ef_error_last() : ef_agent_state(a)->revision);
	import_path(res, sizeof(res), cfg, "result");
	if (ef_fs_write_atomic(res, line, n < (int)sizeof(line) ? (size_t)n : sizeof(line) - 1) < 0)
		ef_error("import-result-lost", "error=\"%s\"", ef_error_last());
	ef_buf_dispose(&b);
}

/* The daemon holds the lock: hand the file over and wait for its result. */
static int through_daemon(const ef_config *cfg, const char *file)
{
	char req[4200], res[4200], id[64], abs_path[PATH_MAX], text[PATH_MAX + 80];
	uint64_t deadline = ef_clock_ms() + cfg->health_timeout_ms + cfg->soak_ms +
	                    cfg->pull_timeout_ms + 120000;
	ef_buf b;
	int n, rc = EF_EXIT_ERROR;

	if (!realpath(file, abs_path)) {
		fprintf(stderr, "edgeflip: cannot read %s\n", file);
		return EF_EXIT_ERROR;
	}
	snprintf(id, sizeof(id), "%ld-%llu", (long)getpid(), (unsigned long long)ef_clock_ms());
	n = snprintf(text, sizeof(text), "%s\n%s\n", id, abs_path);
	import_path(req, sizeof(req), cfg, "request");
	import_path(res, sizeof(res), cfg, "result");
	if (ef_fs_write_atomic(req, text, (size_t)n) < 0 || cli_signal_daemon(cfg, SIGUSR1) < 0) {
		fprintf(stderr, "edgeflip: %s\n", ef_error_last());
		unlink(req);
		return EF_EXIT_ERROR;
	}
	printf("the daemon runs: handed %s over; waiting for its result\n", abs_path);
	fflush(stdout);
	while (ef_clock_ms() < deadline) {
		if (ef_read_file(&b, res, 4096) == 0) {
			size_t idlen = strlen(id);
			bool ours = b.ptr && b.len > idlen && strncmp(b.ptr, id, idlen) == 0 &&
			            b.ptr[idlen] == ' ';
			if (ours) {
				char *msg = NULL;
				rc = (int)strtol(b.ptr + idlen + 1, &msg, 10);
				while (msg && *msg == ' ')
					msg++;
				if (rc == 0)
					printf("%s: %s", file, msg ? msg : "\n");
				else
					fprintf(stderr, "edgeflip: %s", msg ? msg : "\n");
				ef_buf_dispose(&b);
				return rc;
			}
			ef_buf_dispose(&b);
		}
		ef_clock_sleep(200);
	}
	unlink(req);
	fprintf(stderr,
	        "edgeflip: the daemon gave no result for %s in time; see `edgeflip "
	        "status` and its log\n",
	        file);
	return rc;
}

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
		rc = through_daemon(&cfg, c->argv[0]);
		ef_config_dispose(&cfg);
		return rc;
	}
	if ((error = ef_agent_new(&a, &cfg, c->self_exe)) == 0 &&
	    (error = ef_agent_recover(a)) == 0)
		error = ef_agent_import(a, c->argv[0]);
	if (a)
		ef_agent_report(a, error);
	rc = print_result(error, c->argv[0], a);
	ef_agent_free(a);
	ef_fs_unlock(lock);
	ef_config_dispose(&cfg);
	return rc;
}
