/* run (the daemon), once, kick. */
#include "cli.h"
#include "edgeflip/backoff.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/log.h"
#include "edgeflip/sys/clock.h"
#include "edgeflip/sys/fs.h"
#include "edgeflip/sys/notify.h"

#include "edgeflip/features.h"

#include <errno.h>
#ifdef EF_HAVE_MALLOC_TRIM
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested, reload_requested, poll_requested;
static uint64_t watchdog_every_ms, watchdog_last_ms;

/* SIGTERM and SIGUSR2 interrupt what the agent is doing (a health wait, a
 * soak). SIGHUP and SIGUSR1 only cut the idle wait short: a kick or a reload
 * during a deploy must not abandon it. */
static void on_signal(int sig)
{
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		stop_requested = 1;
		ef_clock_interrupt();
		break;
	case SIGHUP:
		reload_requested = 1;
		break;
	case SIGUSR2:
		ef_agent_rollback_requested = 1;
		ef_clock_interrupt();
		break;
	default: /* SIGUSR1: poll now */
		poll_requested = 1;
		break;
	}
}

static void watchdog_tick(void);

/* Waits until the next pass; a signal that came during the pass ends it at
 * once, one that comes during the wait ends nanosleep() (EINTR). Slices of
 * 100 ms bound the delay of a signal that lands just before nanosleep(). */
static void idle(uint64_t ms)
{
	uint64_t end = ef_clock_ms() + ms;

	while (!stop_requested && !reload_requested && !poll_requested &&
	       !ef_agent_rollback_requested) {
		uint64_t now = ef_clock_ms(), left;
		struct timespec ts;

		if (now >= end)
			break;
		left = end - now > 100 ? 100 : end - now;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000L;
		nanosleep(&ts, NULL);
		watchdog_tick();
	}
	poll_requested = 0;
}

static void watchdog_tick(void)
{
	uint64_t now;

	if (!watchdog_every_ms)
		return;
	now = ef_clock_ms();
	if (now - watchdog_last_ms >= watchdog_every_ms) {
		ef_notify("WATCHDOG=1");
		watchdog_last_ms = now;
	}
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void lock_path(char *out, size_t n, const ef_config *cfg, const char *name)
{
	snprintf(out, n, "%s/%s", cfg->state_dir, name);
}

/* One process at a time acts on a state_dir. */
int cli_take_lock(int *fd, const ef_config *cfg, unsigned wait_ms)
{
	char path[4200];

	if (ef_fs_mkdir_p(cfg->state_dir, 0700) < 0)
		return EF_ERROR;
	lock_path(path, sizeof(path), cfg, "agent.lock");
	return ef_fs_lock(fd, path, wait_ms);
}

/* After start-up and after a pass that did work, give freed heap back to
 * the system (glibc keeps it otherwise): the idle daemon's private memory is
 * a figure users compare. */
static void give_back_memory(void)
{
#ifdef EF_HAVE_MALLOC_TRIM
	malloc_trim(0);
#endif
}

static const char *result_word(int error)
{
	return error == 0 ? "ok" : ef_error_name(error);
}

int cmd_once(const cli *c)
{
	ef_config cfg;
	ef_agent *a = NULL;
	int rc, error, lock = -1;

	if ((rc = cli_load_config(&cfg, c)))
		return rc;
	signal(SIGPIPE, SIG_IGN);
	if ((error = cli_take_lock(&lock, &cfg, 0)) < 0) {
		fprintf(stderr, "edgeflip: %s\n", ef_error_last());
		ef_config_dispose(&cfg);
		return EF_EXIT_ERROR;
	}
	if ((error = ef_agent_new(&a, &cfg, c->self_exe)) == 0 &&
	    (error = ef_agent_recover(a)) == 0)
		error = ef_agent_pass(a);
	if (a)
		ef_agent_report(a, error);
	if (error < 0)
		fprintf(stderr, "edgeflip: %s\n", ef_error_last());
	rc = ef_agent_exit_code(error);
	ef_agent_free(a);
	ef_fs_unlock(lock);
	ef_config_dispose(&cfg);
	return rc;
}

static int write_pidfile(const ef_config *cfg)
{
	char path[4200], pid[32];
	int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());

	lock_path(path, sizeof(path), cfg, "edgeflip.pid");
	return ef_fs_write_atomic(path, pid, (size_t)n);
}

int cmd_run(const cli *c)
{
	ef_config cfg;
	ef_agent *a = NULL;
	ef_backoff backoff;
	uint64_t wd_usec = 0;
	int rc, error, lock = -1;
	bool ready = false, trimmed = false;

	if ((rc = cli_load_config(&cfg, c)))
		return rc;
	install_signals();
	if ((error = cli_take_lock(&lock, &cfg, 0)) < 0) {
		fprintf(stderr, "edgeflip: %s\n", ef_error_last());
		ef_config_dispose(&cfg);
		return EF_EXIT_ERROR;
	}
	write_pidfile(&cfg);
	if (ef_notify_watchdog_usec(&wd_usec) == 0 && wd_usec)
		watchdog_every_ms = wd_usec / 2000;
	ef_clock_set_tick(watchdog_tick);
	ef_backoff_init(&backoff, cfg.interval_ms < 5000 ? cfg.interval_ms : 5000,
	                cfg.max_backoff_ms);
	ef_info("started", "version=%s device=%s url=%s branch=%s path=%s", EF_VERSION,
	        cfg.device_id, cfg.url, cfg.branch, cfg.path_in_repo);

	while (!stop_requested) {
		uint64_t wait_ms;

		/* A SIGUSR2 that ended the idle wait must not also cut the
		 * rollback's health wait short. */
		ef_clock_clear_interrupt();

		if (reload_requested) {
			ef_config next;
			reload_requested = 0;
			ef_notify("RELOADING=1");
			if (ef_config_load(&next, c->config_path) < 0) {
				ef_error("reload-refused",
				         "config=%s error=\"%s\" what=\"keeping "
				         "the running configuration\"",
				         c->config_path, ef_error_last());
			} else {
				ef_agent_free(a);
				a = NULL;
				ef_config_dispose(&cfg);
				cfg = next;
				/* interval and max_backoff may have changed. */
				ef_backoff_init(&backoff,
				                cfg.interval_ms < 5000 ? cfg.interval_ms : 5000,
				                cfg.max_backoff_ms);
				ef_info("reloaded", "config=%s", c->config_path);
			}
			ef_notify("READY=1");
		}
		if (!a) {
			if ((error = ef_agent_new(&a, &cfg, c->self_exe)) < 0) {
				ef_error("agent-failed", "error=\"%s\"", ef_error_last());
				a = NULL;
				goto wait;
			}
			if ((error = ef_agent_recover(a)) < 0) {
				ef_warn("recover-failed", "error=\"%s\" what=\"will retry\"",
				        ef_error_last());
				ef_agent_free(a);
				a = NULL;
				goto wait;
			}
		}
		if (!ready) {
			ef_notify("READY=1");
			ready = true;
		}
		if (ef_agent_rollback_requested) {
			ef_agent_rollback_requested = 0;
			if ((error = ef_agent_rollback(a)) < 0)
				ef_error("rollback-failed", "error=\"%s\"", ef_error_last());
		}
		{
			char before[EF_OID_HEX];
			snprintf(before, sizeof(before), "%s", ef_agent_state(a)->revision);
			error = ef_agent_pass(a);
			ef_agent_report(a, error);
			if (!trimmed || error != 0 ||
			    strcmp(before, ef_agent_state(a)->revision) != 0) {
				give_back_memory();
				trimmed = true;
			}
		}
	wait:
		ef_clock_clear_interrupt();
		if (stop_requested)
			break;
		if (error == 0 || error == EF_EREJECTED) {
			ef_backoff_reset(&backoff);
			/* ±10% jitter so a fleet does not poll in lockstep. */
			wait_ms = cfg.interval_ms - cfg.interval_ms / 10 +
			          (uint64_t)rand() % (cfg.interval_ms / 5 + 1);
		} else {
			wait_ms = ef_backoff_next(&backoff);
			/* Some failures (an engine listing, a journal write) are
			 * not logged where they happen: say here what failed. */
			ef_warn("retry", "in_ms=%llu failures=%u error=\"%s\"",
			        (unsigned long long)wait_ms, backoff.failures, ef_error_last());
		}
		ef_notify("STATUS=%s; revision %.12s; next poll in %llus", result_word(error),
		          a ? ef_agent_state(a)->revision : "",
		          (unsigned long long)(wait_ms / 1000));
		watchdog_tick();
		idle(wait_ms);
	}
	ef_notify("STOPPING=1");
	ef_info("stopping", "signal=TERM");
	ef_agent_free(a);
	ef_fs_unlock(lock);
	ef_config_dispose(&cfg);
	return 0;
}

int cli_signal_daemon(const ef_config *cfg, int sig)
{
	char path[4200];
	ef_buf b;
	long pid;

	lock_path(path, sizeof(path), cfg, "edgeflip.pid");
	if (ef_read_file(&b, path, 64) < 0) {
		ef_error_set("no running daemon (%s missing)", path);
		return EF_ENOTFOUND;
	}
	pid = strtol(b.ptr, NULL, 10);
	ef_buf_dispose(&b);
	if (pid <= 1 || kill((pid_t)pid, sig) < 0) {
		ef_error_set("no running daemon (pid %ld from %s: %s)", pid, path,
		             pid <= 1 ? "invalid" : strerror(errno));
		return EF_ENOTFOUND;
	}
	return 0;
}

int cmd_kick(const cli *c)
{
	ef_config cfg;
	int rc;

	if ((rc = cli_load_config(&cfg, c)))
		return rc;
	rc = cli_signal_daemon(&cfg, SIGUSR1) < 0 ? EF_EXIT_ERROR : 0;
	if (rc)
		fprintf(stderr, "edgeflip: %s\n", ef_error_last());
	else
		printf("asked the daemon to poll now\n");
	ef_config_dispose(&cfg);
	return rc;
}
