/* run (the daemon), once, kick. */
#include "cli.h"
#include "edgeflip/backoff.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/log.h"
#include "edgeflip/sys/clock.h"
#include "edgeflip/sys/engine_events.h"
#include "edgeflip/sys/fs.h"
#include "edgeflip/sys/notify.h"
#include "edgeflip/sys/procwatch.h"

#include "edgeflip/features.h"

#include <errno.h>
#include <limits.h>
#ifdef EF_HAVE_MALLOC_TRIM
#include <malloc.h>
#endif
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested, reload_requested, poll_requested;
/* A kick: besides polling now, look for requests in STATE_DIR (import,
 * retry), which a pass otherwise looks for only now and then. */
static volatile sig_atomic_t kicked;
static uint64_t watchdog_every_ms;

/* SIGTERM and SIGUSR2 interrupt what the agent is doing (a health wait, a
 * soak). SIGHUP and SIGUSR1 only cut the idle wait short: a kick or a reload
 * during a deploy must not abandon it. Every signal writes to the self-pipe
 * (ef_clock_wake) so the one poll() of the idle wait returns. */
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
		kicked = 1;
		break;
	}
	ef_clock_wake();
}

static void watchdog_ping(void)
{
	ef_notify("WATCHDOG=1");
}

/* The running set's main processes (docs/deploy.md "Drift", [engine] watch =
 * pids): a pidfd each, so the daemon sees an exit the moment it happens
 * without asking the engine anything between polls. Armed after a pass or a
 * drift check when the running set differs from what is armed (one inspect
 * per container), and after an exit. Where a process cannot be watched (a
 * kernel before 5.3, the engine in another PID or cgroup namespace) the
 * daemon follows the engine's event stream instead. */
typedef struct {
	const ef_agent *agent; /* whose running set is armed */
	ef_agent_proc *procs;
	int *fds; /* -1: not watched */
	size_t n;
	bool live;     /* every container of the set watched */
	bool unusable; /* pids cannot work here: events instead */
	bool said;
} pidwatch;

/* The engine's event stream (docs/engine.md "Events"): followed while the
 * daemon idles; reopened with backoff when the engine goes away. */
typedef struct {
	ef_engine_watch *w;
	ef_backoff retry;
	uint64_t retry_at; /* when to reopen; 0: open now */
	uint64_t drift_at; /* a drift check is due then; 0: none */
	bool said_down;
	pidwatch pw;
} events;

static bool watch_is(const ef_config *cfg, const char *mode)
{
	return strcmp(cfg->engine_watch, mode) == 0;
}

static void pids_clear(pidwatch *pw)
{
	for (size_t i = 0; i < pw->n; i++)
		ef_proc_watch_close(pw->fds[i]);
	free(pw->procs);
	free(pw->fds);
	pw->procs = NULL;
	pw->fds = NULL;
	pw->n = 0;
	pw->live = false;
}

/* Whether the armed set is the journal's running set now. */
static bool pids_current(const pidwatch *pw, const ef_agent *a, const ef_agent_proc *now, size_t n)
{
	if (pw->agent != a || pw->n != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(pw->procs[i].id, now[i].id) != 0 || pw->fds[i] < 0)
			return false;
	return true;
}

/* Container i runs by the engine's word with a pid that is not there: it
 * may have exited since the inspect, or this daemon lives in another PID
 * namespace than the engine (in a container of its own, under unshare).
 * Asking again tells which: the same pid still running is the latter. */
static bool pids_visible(pidwatch *pw, ef_agent *a, size_t i)
{
	ef_agent_proc again = pw->procs[i];

	if (ef_agent_running_pids(a, &again, 1) < 0 || again.pid != pw->procs[i].pid)
		return true;
	ef_error_set("container %.12s runs as pid %ld by the engine's word, and no such process "
	             "is visible here (the engine runs in another PID namespace)",
	             again.id, again.pid);
	return false;
}

/* Arms a pidfd on each container of the running set unless that is armed
 * already. Leaves pw->live false (a pass then lists, as without a watch)
 * when a container does not run or the engine cannot be asked. */
static void pids_sync(pidwatch *pw, ef_agent *a, const ef_config *cfg)
{
	ef_agent_proc *now;
	size_t n;
	int error = 0;

	if (!a || !watch_is(cfg, "pids") || pw->unusable)
		return;
	n = ef_agent_running_ids(a, NULL, 0);
	if (!(now = calloc(n ? n : 1, sizeof(*now))))
		return;
	ef_agent_running_ids(a, now, n);
	if (pids_current(pw, a, now, n)) {
		free(now);
		ef_agent_events_live(a, pw->live);
		return;
	}
	pids_clear(pw);
	pw->agent = a;
	pw->procs = now;
	pw->n = n;
	if (!(pw->fds = malloc((n ? n : 1) * sizeof(int)))) {
		pids_clear(pw);
		return;
	}
	for (size_t i = 0; i < n; i++)
		pw->fds[i] = -1;
	if (n && (error = ef_agent_running_pids(a, pw->procs, n)) < 0) {
		ef_warn("watch-failed", "error=\"%s\" what=\"the next poll lists containers\"",
		        ef_error_last());
		ef_agent_events_live(a, false);
		return;
	}
	pw->live = true;
	for (size_t i = 0; i < n; i++) {
		error = ef_proc_watch_open(&pw->fds[i], pw->procs[i].pid, pw->procs[i].id);
		if (error == EF_ENOTFOUND && pw->procs[i].pid > 0 && !pids_visible(pw, a, i))
			error = EF_EUNREACHABLE;
		if (error == EF_EUNREACHABLE) {
			ef_warn("engine-watch",
			        "mode=events error=\"%s\" what=\"cannot watch the containers' "
			        "processes from here: following the engine's event stream "
			        "instead\"",
			        ef_error_last());
			pw->unusable = true;
			pids_clear(pw);
			ef_agent_events_live(a, false);
			return;
		}
		if (error < 0)
			pw->live = false; /* not running: the next poll lists and repairs */
	}
	ef_agent_events_live(a, pw->live);
	if (!pw->said) {
		ef_info("engine-watch",
		        "mode=pids containers=%zu what=\"an exit triggers a drift "
		        "check; a pass lists containers every %u polls\"",
		        n, EF_AGENT_LIST_EVERY);
		pw->said = true;
	}
	ef_debug("watch-armed", "containers=%zu live=%s", n, pw->live ? "yes" : "no");
}

static void events_drop(events *ev, ef_agent *a, const char *why)
{
	uint64_t in = ef_backoff_next(&ev->retry);

	ef_engine_watch_close(ev->w);
	ev->w = NULL;
	ev->retry_at = ef_clock_ms() + in;
	if (a)
		ef_agent_events_live(a, false);
	if (!ev->said_down)
		ef_warn("engine-events-lost",
		        "error=\"%s\" what=\"drift found by listing each poll until the "
		        "stream is back; retrying in %llu ms\"",
		        why, (unsigned long long)in);
	ev->said_down = true;
}

/* watch = events, or pids where processes cannot be watched; never with
 * watch = list (the agent lists each poll). */
static bool events_wanted(const events *ev, const ef_agent *a, const ef_config *cfg)
{
	return a && !ev->w &&
	       (watch_is(cfg, "events") || (watch_is(cfg, "pids") && ev->pw.unusable));
}

static void events_open(events *ev, ef_agent *a, const ef_config *cfg)
{
	if (!events_wanted(ev, a, cfg) || ef_clock_ms() < ev->retry_at)
		return;
	if (ef_engine_watch_open(&ev->w, cfg->engine_endpoint) < 0) {
		ev->w = NULL;
		events_drop(ev, a, ef_error_last());
		return;
	}
	ef_backoff_reset(&ev->retry);
	ev->said_down = false;
	ef_agent_events_live(a, true);
	/* Events may have been missed while the stream was down: one listing. */
	ev->drift_at = ef_clock_ms() + 1;
	ef_info("engine-events", "endpoint=%s", cfg->engine_endpoint);
}

static void events_say_off(const ef_config *cfg)
{
	if (watch_is(cfg, "list"))
		ef_info("engine-events-off",
		        "what=\"[engine] watch = list: drift found by a full listing each poll\"");
}

static void events_read(events *ev, ef_agent *a)
{
	unsigned relevant = 0;

	if (ef_engine_watch_read(ev->w, &relevant) < 0) {
		events_drop(ev, a, ef_error_last());
		return;
	}
	if (relevant) {
		ef_info("engine-event", "event=\"%s\" count=%u what=\"checking for drift\"",
		        ef_engine_watch_last(ev->w), relevant);
		/* A burst (kill, die, stop, remove) makes one check. */
		if (!ev->drift_at)
			ev->drift_at = ef_clock_ms() + 200;
	}
}

static uint64_t earlier(uint64_t a, uint64_t b)
{
	return a && a < b ? a : b;
}

/* A watched process exited: close its descriptor (it stays readable) and
 * ask for one drift check, which finds what happened and repairs it. */
static void pids_exited(events *ev, ef_agent *a, size_t i)
{
	pidwatch *pw = &ev->pw;

	ef_info("process-exit", "container=%.12s pid=%ld what=\"checking for drift\"",
	        pw->procs[i].id, pw->procs[i].pid);
	ef_proc_watch_close(pw->fds[i]);
	pw->fds[i] = -1;
	pw->live = false;
	ef_agent_events_live(a, false);
	/* A burst (every container of a stopped engine) makes one check. */
	if (!ev->drift_at)
		ev->drift_at = ef_clock_ms() + 200;
}

/* Waits until the next pass: one poll() on the self-pipe, the event stream
 * and the watched processes, with the exact time to the next deadline (the
 * pass, the watchdog ping, a drift check an exit or event asked for,
 * reopening the event stream). No slices: an idle daemon wakes only for
 * these. */
static void idle(uint64_t ms, events *ev, ef_agent *a, const ef_config *cfg)
{
	uint64_t end = ef_clock_ms() + ms;
	int wake = ef_clock_wake_fd();
	struct pollfd *p = NULL;

	pids_sync(&ev->pw, a, cfg);
	while (!stop_requested && !reload_requested && !poll_requested &&
	       !ef_agent_rollback_requested) {
		uint64_t now = ef_clock_ms(), until = end;
		size_t np = 0, first_pid;
		struct pollfd *grown;
		int n;

		if (now >= end)
			break;
		if (!(grown = realloc(p, (2 + ev->pw.n) * sizeof(*p))))
			break;
		p = grown;
		p[np++] = (struct pollfd){wake, POLLIN, 0};
		if (ev->w)
			p[np++] = (struct pollfd){ef_engine_watch_fd(ev->w), POLLIN, 0};
		first_pid = np;
		for (size_t i = 0; i < ev->pw.n; i++)
			p[np++] = (struct pollfd){ev->pw.fds[i], POLLIN, 0}; /* -1: ignored */
		if (events_wanted(ev, a, cfg))
			until = earlier(ev->retry_at > now ? ev->retry_at : now, until);
		until = earlier(ev->drift_at, until);
		until = earlier(ef_clock_tick_due(now), until);
		n = poll(p, (nfds_t)np,
		         until > now ? (int)(until - now > 0x7fffffff ? 0x7fffffff : until - now)
		                     : 0);
		if (n > 0 && (p[0].revents & POLLIN))
			ef_clock_drain();
		if (n > 0 && ev->w && p[1].revents)
			events_read(ev, a);
		for (size_t i = 0; n > 0 && i < ev->pw.n; i++)
			if (ev->pw.fds[i] >= 0 && p[first_pid + i].revents)
				pids_exited(ev, a, i);
		events_open(ev, a, cfg);
		if (ev->drift_at && ef_clock_ms() >= ev->drift_at && a) {
			ev->drift_at = 0;
			if (ef_agent_check_drift(a) < 0)
				ef_warn("drift-check-failed",
				        "error=\"%s\" what=\"next poll "
				        "retries\"",
				        ef_error_last());
			/* The repair made new containers, or a restart policy
			 * new processes: watch those. */
			pids_sync(&ev->pw, a, cfg);
		}
	}
	free(p);
	poll_requested = 0;
}

static void install_signals(void)
{
	struct sigaction sa;

	ef_clock_wake_fd(); /* before any handler can write to it */
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
	int rc, error, lock = -1, pass = -1;

	if ((rc = cli_load_config(&cfg, c)))
		return rc;
	signal(SIGPIPE, SIG_IGN);
	if ((error = cli_take_lock(&lock, &cfg, false)) < 0 ||
	    (error = cli_take_pass_lock(&pass, &cfg, 0)) < 0) {
		fprintf(stderr, "edgeflip: %s\n", ef_error_last());
		cli_release_lock(lock);
		ef_config_dispose(&cfg);
		return error == EF_EINVALID ? EF_EXIT_USAGE : EF_EXIT_ERROR;
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
	ef_fs_unlock(pass);
	cli_release_lock(lock);
	ef_config_dispose(&cfg);
	return rc;
}

/* STATE_DIR/edgeflip.pid, for init scripts (start-stop-daemon --pidfile
 * --exec). edgeflip itself never reads it: kick and rollback find the daemon
 * through its lock (firmware/daemon.c). */
static void pidfile(const ef_config *cfg, bool write)
{
	char path[4200], pid[32];
	int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());

	snprintf(path, sizeof(path), "%s/edgeflip.pid", cfg->state_dir);
	if (write)
		ef_fs_write_atomic(path, pid, (size_t)n);
	else
		unlink(path);
}

/* The wait after a good pass. The first one is the interval plus a phase
 * drawn over a whole interval: devices started together (a fleet after a
 * power cut) then poll at phases spread evenly, where ±10% alone would keep
 * them within seconds of each other for dozens of intervals
 * (tests/bench/fleet_sim.sh measures it). Later ones are the interval ±10%.
 * A device waiting for its turn in a rollout wave wakes at that second
 * instead of up to an interval later. */
static uint64_t next_poll_ms(ef_backoff *b, const ef_config *cfg, const ef_agent *a, bool *splayed)
{
	uint64_t wait_ms;
	int64_t turn = a ? ef_agent_rollout_turn(a) : 0, now;

	if (!*splayed) {
		wait_ms = ef_backoff_splay(b, cfg->interval_ms);
		*splayed = true;
	} else {
		wait_ms = ef_backoff_jitter(b, cfg->interval_ms);
	}
	if (turn > 0 && (now = ef_clock_wall()) < turn &&
	    (uint64_t)(turn - now) * 1000u < wait_ms) {
		/* Just past the second the share passes the wariness. */
		wait_ms = (uint64_t)(turn - now) * 1000u + 100u;
		ef_debug("next-poll", "in_ms=%llu why=rollout-turn turn=%lld",
		         (unsigned long long)wait_ms, (long long)turn);
		return wait_ms;
	}
	ef_debug("next-poll", "in_ms=%llu", (unsigned long long)wait_ms);
	return wait_ms;
}

int cmd_run(const cli *c)
{
	ef_config cfg;
	ef_agent *a = NULL;
	ef_backoff backoff;
	events ev;
	uint64_t wd_usec = 0;
	int rc, error, lock = -1, pass = -1;
	bool ready = false, trimmed = false, splayed = false;

	if ((rc = cli_load_config(&cfg, c)))
		return rc;
	install_signals();
	/* A second daemon on the same state_dir exits 1 here, naming the
	 * first; a state_dir anyone else can change exits 2. */
	if ((error = cli_take_lock(&lock, &cfg, true)) < 0) {
		fprintf(stderr, "edgeflip: %s\n", ef_error_last());
		ef_config_dispose(&cfg);
		return error == EF_EINVALID ? EF_EXIT_USAGE : EF_EXIT_ERROR;
	}
	pidfile(&cfg, true);
	if (ef_notify_watchdog_usec(&wd_usec) == 0 && wd_usec)
		watchdog_every_ms = wd_usec / 2000;
	/* The watchdog ping is one more deadline, at half of WATCHDOG_USEC. */
	if (watchdog_every_ms)
		ef_clock_set_tick(watchdog_ping, watchdog_every_ms);
	memset(&ev, 0, sizeof(ev));
	ef_backoff_init(&ev.retry, 1000, cfg.interval_ms > 60000 ? 60000 : cfg.interval_ms);
	ef_backoff_init(&backoff, cfg.interval_ms < 5000 ? cfg.interval_ms : 5000,
	                cfg.max_backoff_ms);
	ef_info("started", "version=%s device=%s url=%s branch=%s path=%s", EF_VERSION,
	        cfg.device_id, cfg.url, cfg.branch, cfg.path_in_repo);
	events_say_off(&cfg);

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
				ef_engine_watch_close(ev.w);
				ev.w = NULL; /* the endpoint may have changed */
				ev.retry_at = 0;
				pids_clear(&ev.pw);
				ev.pw.unusable = false;
				ev.pw.agent = NULL;
				ef_agent_free(a);
				a = NULL;
				ef_fs_unlock(pass); /* state_dir may have changed */
				pass = -1;
				ef_config_dispose(&cfg);
				cfg = next;
				/* interval and max_backoff may have changed. */
				ef_backoff_init(&backoff,
				                cfg.interval_ms < 5000 ? cfg.interval_ms : 5000,
				                cfg.max_backoff_ms);
				ef_info("reloaded", "config=%s", c->config_path);
				events_say_off(&cfg);
			}
			ef_notify("READY=1");
		}
		/* plan, verify and retry wait for the pass to finish. */
		if ((error = cli_hold_pass_lock(&pass, &cfg)) < 0) {
			ef_error("lock-failed", "error=\"%s\"", ef_error_last());
			goto wait;
		}
		/* A SIGTERM that came after the loop test was cleared from the
		 * clock above: honour it before any work starts. */
		if (stop_requested)
			break;
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
			/* Cleared before the files are looked for: a request
			 * written after the look comes with a kick of its own. */
			if (kicked) {
				kicked = 0;
				ef_agent_requests_due(a);
			}
			if (ef_agent_requests_now(a))
				cli_serve_import(a, &cfg);
			error = ef_agent_pass(a);
			ef_agent_report(a, error);
			if (!trimmed || error != 0 ||
			    strcmp(before, ef_agent_state(a)->revision) != 0) {
				give_back_memory();
				trimmed = true;
			}
		}
	wait:
		ef_fs_lock_drop(pass);
		ef_clock_clear_interrupt();
		if (stop_requested)
			break;
		if (error == 0 || error == EF_EREJECTED) {
			ef_backoff_reset(&backoff);
			wait_ms = next_poll_ms(&backoff, &cfg, a, &splayed);
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
		idle(wait_ms, &ev, a, &cfg);
	}
	ef_engine_watch_close(ev.w);
	pids_clear(&ev.pw);
	ef_notify("STOPPING=1");
	ef_info("stopping", "signal=TERM");
	ef_agent_free(a);
	ef_fs_unlock(pass);
	pidfile(&cfg, false);
	cli_release_lock(lock);
	ef_config_dispose(&cfg);
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
