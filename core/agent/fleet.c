/* Fleets without a server (docs/fleet.md): what a device tells the outside
 * world on its own, and the rollout gate.
 *
 * - Metrics: a Prometheus textfile for node_exporter's textfile collector,
 *   rewritten atomically when a value changed (the poll timestamps alone
 *   move it only every [metrics] refresh).
 * - Events: JSON webhooks signed with HMAC-SHA256, queued one file each in
 *   STATE_DIR/outbox before any attempt, delivered oldest first.
 * - Rollout: x-edgeflip.rollout decides whether this device takes a commit
 *   now; a commit held back is recorded in STATE_DIR/rollout.json. */
#include "agent_internal.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/fleet.h"
#include "edgeflip/log.h"
#include "edgeflip/rollout.h"
#include "edgeflip/sys/clock.h"
#include "edgeflip/sys/fs.h"
#include "edgeflip/sys/http.h"
#include "edgeflip/sys/platform.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENT_BYTES  (64u * 1024)
#define MAX_KEY_BYTES    4096
#define MAX_COMMIT_BYTES (1u << 20)
#define MAX_DELIVER      100 /* events sent per pass at most */

struct ef_fleet {
	/* Counters since the agent started (Prometheus takes resets in its stride). */
	uint64_t deploys_ok, deploys_rolled_back, rollbacks, poll_errors;
	int64_t last_success;
	bool rollout_waiting;
	int64_t rollout_turn; /* unix second of this device's turn; 0 none */
	/* The metrics text without the poll timestamps, as last written. */
	char *metrics_written;
	uint64_t metrics_written_ms;
	bool metrics_restored;
	/* rollout.json as last written ("" none; NULL not known yet). */
	char *rollout_written;
	/* The outbox: sequence numbers of the oldest and next event. */
	bool outbox_scanned;
	uint64_t next_seq;
	uint64_t dropped;
};

static struct ef_fleet *fleet(ef_agent *a)
{
	if (!a->fleet)
		a->fleet = calloc(1, sizeof(*a->fleet));
	return a->fleet;
}

void ef_fleet_free(struct ef_fleet *f)
{
	if (!f)
		return;
	free(f->metrics_written);
	free(f->rollout_written);
	free(f);
}

/* --- webhook events ---------------------------------------------------- */

static void outbox_path(char *out, size_t n, const ef_agent *a, const char *name)
{
	snprintf(out, n, "%s/%s%s%s", a->cfg->state_dir, EF_OUTBOX_DIR, name ? "/" : "",
	         name ? name : "");
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

/* The queued sequence numbers, oldest first (free()). */
static int outbox_list(uint64_t **out, size_t *n, const ef_agent *a)
{
	char dir[4200];
	DIR *d;
	struct dirent *e;
	uint64_t *v = NULL;
	size_t cnt = 0, alloc = 0;

	*out = NULL;
	*n = 0;
	outbox_path(dir, sizeof(dir), a, NULL);
	if (!(d = opendir(dir)))
		return errno == ENOENT ? 0 : EF_ERROR;
	while ((e = readdir(d))) {
		unsigned long long seq;
		char tail[8];
		if (strlen(e->d_name) != 25 || sscanf(e->d_name, "%20llu%7s", &seq, tail) != 2 ||
		    strcmp(tail, ".json") != 0)
			continue;
		if (cnt == alloc) {
			uint64_t *nv = realloc(v, (alloc = alloc ? alloc * 2 : 64) * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				return EF_ENOMEM;
			}
			v = nv;
		}
		v[cnt++] = seq;
	}
	closedir(d);
	qsort(v, cnt, sizeof(*v), cmp_u64);
	*out = v;
	*n = cnt;
	return 0;
}

static void event_name(char *out, size_t n, uint64_t seq)
{
	snprintf(out, n, "%020" PRIu64 ".json", seq);
}

static void outbox_scan(ef_agent *a)
{
	struct ef_fleet *f = a->fleet;
	char path[4300];
	uint64_t *v;
	size_t n;
	ef_buf b;

	if (f->outbox_scanned)
		return;
	f->outbox_scanned = true;
	f->next_seq = 1;
	if (outbox_list(&v, &n, a) == 0 && n)
		f->next_seq = v[n - 1] + 1;
	free(v);
	outbox_path(path, sizeof(path), a, "dropped");
	if (ef_read_file(&b, path, 64) == 0)
		f->dropped = strtoull(b.ptr, NULL, 10);
	ef_buf_dispose(&b);
	/* Sequence numbers go on after delivered events too. */
	outbox_path(path, sizeof(path), a, "next");
	if (ef_read_file(&b, path, 64) == 0 && strtoull(b.ptr, NULL, 10) > f->next_seq)
		f->next_seq = strtoull(b.ptr, NULL, 10);
	ef_buf_dispose(&b);
	ef_error_clear();
}

static void rfc3339(char *out, size_t n, int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;

	gmtime_r(&tt, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void save_dropped(ef_agent *a)
{
	char path[4300], num[32];

	outbox_path(path, sizeof(path), a, "dropped");
	snprintf(num, sizeof(num), "%" PRIu64 "\n", a->fleet->dropped);
	if (ef_fs_write_atomic(path, num, strlen(num)) < 0)
		ef_warn("events-dropped", "file=%s error=\"%s\"", path, ef_error_last());
}

void ef_fleet_event(ef_agent *a, const char *reason, const char *severity, const char *revision,
                    const char *signer, const char *message)
{
	struct ef_fleet *f = fleet(a);
	char ts[32], name[40], path[4300], dir[4200];
	cJSON *j;
	char *body = NULL;
	uint64_t *v = NULL;
	size_t n = 0;

	if (!f || !a->cfg->notify_url)
		return;
	outbox_scan(a);
	rfc3339(ts, sizeof(ts), ef_clock_wall());
	/* Modelled on Flux's notification Event; nothing secret goes in. */
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "device_id", a->cfg->device_id ? a->cfg->device_id : "");
	cJSON_AddStringToObject(j, "revision", revision ? revision : "");
	cJSON_AddStringToObject(j, "signer", signer ? signer : "");
	cJSON_AddStringToObject(j, "reason", reason);
	cJSON_AddStringToObject(j, "severity", severity);
	cJSON_AddStringToObject(j, "message", message ? message : "");
	cJSON_AddStringToObject(j, "timestamp", ts);
	cJSON_AddStringToObject(j, "reporting_controller", "edgeflip");
	cJSON_AddNumberToObject(j, "sequence", (double)f->next_seq);
	cJSON_AddNumberToObject(j, "dropped_events", (double)f->dropped);
	body = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (!body)
		return;
	outbox_path(dir, sizeof(dir), a, NULL);
	event_name(name, sizeof(name), f->next_seq);
	outbox_path(path, sizeof(path), a, name);
	if (ef_fs_mkdir_p(dir, 0700) < 0 || ef_fs_write_atomic(path, body, strlen(body)) < 0) {
		ef_warn("event-lost", "reason=%s error=\"%s\"", reason, ef_error_last());
		free(body);
		return;
	}
	ef_info("event-queued", "reason=%s seq=%" PRIu64 " revision=%.12s", reason, f->next_seq,
	        revision ? revision : "");
	f->next_seq++;
	outbox_path(path, sizeof(path), a, "next");
	snprintf(name, sizeof(name), "%" PRIu64 "\n", f->next_seq);
	if (ef_fs_write_atomic(path, name, strlen(name)) < 0)
		ef_warn("event-sequence", "file=%s error=\"%s\"", path, ef_error_last());
	free(body);
	/* Bounded: the oldest go first, counted. */
	if (outbox_list(&v, &n, a) == 0 && n > a->cfg->notify_queue) {
		for (size_t i = 0; i < n - a->cfg->notify_queue; i++) {
			event_name(name, sizeof(name), v[i]);
			outbox_path(path, sizeof(path), a, name);
			if (unlink(path) == 0)
				f->dropped++;
		}
		ef_warn("events-dropped", "total=%" PRIu64 " queue=%u", f->dropped,
		        a->cfg->notify_queue);
		save_dropped(a);
	}
	free(v);
}

static void hmac_hex(char out[65], const unsigned char *key, size_t keylen, const char *body,
                     size_t len)
{
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];

	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(out, 65, mac, sizeof(mac));
	sodium_memzero(&st, sizeof(st));
}

/* Sends the queued events oldest first; stops at the first that does not go
 * through (order is kept). Returns the number still queued. */
static size_t deliver(ef_agent *a)
{
	struct ef_fleet *f = fleet(a);
	ef_buf key = EF_BUF_INIT(MAX_KEY_BYTES);
	uint64_t *v = NULL;
	size_t n = 0, i = 0;

	if (!f || !a->cfg->notify_url)
		return 0;
	outbox_scan(a);
	if (outbox_list(&v, &n, a) < 0 || n == 0)
		goto out;
	if (ef_read_file(&key, a->cfg->notify_hmac_key_file, MAX_KEY_BYTES) < 0) {
		ef_warn("notify-key", "file=%s error=\"%s\" what=\"events stay queued\"",
		        a->cfg->notify_hmac_key_file, ef_error_last());
		goto out;
	}
	/* A trailing newline of the key file is not part of the key. */
	while (key.len && (key.ptr[key.len - 1] == '\n' || key.ptr[key.len - 1] == '\r'))
		key.ptr[--key.len] = '\0';
	for (; i < n && i < MAX_DELIVER; i++) {
		char name[40], path[4300], mac[65], sig[100];
		const char *hdrs[] = {"Content-Type: application/json", sig,
		                      "User-Agent: edgeflip/" EF_VERSION, NULL};
		ef_http_req req;
		ef_http_reply r;
		ef_buf body;
		int error;

		event_name(name, sizeof(name), v[i]);
		outbox_path(path, sizeof(path), a, name);
		if (ef_read_file(&body, path, MAX_EVENT_BYTES) < 0) {
			ef_warn("event-unreadable", "file=%s error=\"%s\" what=\"removed\"", path,
			        ef_error_last());
			unlink(path);
			continue;
		}
		hmac_hex(mac, (const unsigned char *)key.ptr, key.len, body.ptr, body.len);
		snprintf(sig, sizeof(sig), "X-Signature: sha256=%s", mac);
		memset(&req, 0, sizeof(req));
		req.method = "POST";
		req.url = a->cfg->notify_url;
		req.headers = hdrs;
		req.ca_file = a->cfg->notify_ca_file;
		req.timeout_ms = a->cfg->notify_timeout_ms;
		req.max_body = 4096;
		req.body = body.ptr;
		req.body_len = body.len;
		ef_http_reply_init(&r, 4096);
		error = ef_http_request(&r, &req);
		ef_buf_dispose(&body);
		ef_http_reply_dispose(&r);
		if (error < 0 && error != EF_ETOOBIG) {
			ef_warn("notify-failed", "url=%s seq=%" PRIu64 " queued=%zu error=\"%s\"",
			        a->cfg->notify_url, v[i], n - i, ef_error_last());
			break;
		}
		if (error == 0 && (r.status == 408 || r.status == 429 || r.status >= 500)) {
			ef_warn("notify-failed",
			        "url=%s seq=%" PRIu64
			        " status=%ld queued=%zu what=\"retried later\"",
			        a->cfg->notify_url, v[i], r.status, n - i);
			break;
		}
		if (error == 0 && (r.status < 200 || r.status > 299)) {
			/* The receiver refuses this event for good: keeping it would
			 * block every later one. */
			ef_warn("notify-refused",
			        "url=%s seq=%" PRIu64 " status=%ld what=\"event dropped\"",
			        a->cfg->notify_url, v[i], r.status);
			f->dropped++;
			save_dropped(a);
		} else {
			ef_debug("notify-sent", "seq=%" PRIu64, v[i]);
		}
		unlink(path);
	}
out:
	ef_buf_dispose_secret(&key);
	free(v);
	return n - i;
}

/* --- metrics ----------------------------------------------------------- */

/* A label value in the exposition format: \, " and newline escaped. */
static void put_label(ef_buf *b, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '\\' || *s == '"')
			ef_buf_printf(b, "\\%c", *s);
		else if (*s == '\n')
			ef_buf_puts(b, "\\n");
		else
			ef_buf_put(b, s, 1);
	}
}

static void metric(ef_buf *b, const char *name, const char *type, const char *help)
{
	ef_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Everything but the poll timestamps, which move on every poll. */
static int metrics_body(ef_buf *b, ef_agent *a, size_t queued)
{
	struct ef_fleet *f = a->fleet;
	const ef_state *st = &a->st;

	metric(b, "edgeflip_info", "gauge", "The agent's version and device id.");
	ef_buf_puts(b, "edgeflip_info{version=\"");
	put_label(b, EF_VERSION);
	ef_buf_puts(b, "\",device_id=\"");
	put_label(b, a->cfg->device_id);
	ef_buf_puts(b, "\"} 1\n");
	metric(b, "edgeflip_revision_info", "gauge",
	       "The commit that runs and who signed it (no series before the first deploy).");
	if (st->revision[0]) {
		ef_buf_printf(b, "edgeflip_revision_info{revision=\"%s\",signer=\"", st->revision);
		put_label(b, st->signer);
		ef_buf_puts(b, "\"} 1\n");
	}
	metric(b, "edgeflip_deploys_total", "counter",
	       "Deploys of a new commit since the agent started, by result.");
	ef_buf_printf(b, "edgeflip_deploys_total{result=\"success\"} %" PRIu64 "\n", f->deploys_ok);
	ef_buf_printf(b, "edgeflip_deploys_total{result=\"rolled_back\"} %" PRIu64 "\n",
	              f->deploys_rolled_back);
	metric(b, "edgeflip_rollbacks_total", "counter",
	       "Rollbacks since the agent started (failed deploys and edgeflip rollback).");
	ef_buf_printf(b, "edgeflip_rollbacks_total %" PRIu64 "\n", f->rollbacks);
	metric(b, "edgeflip_quarantined_commits", "gauge",
	       "Commits refused or rolled back, not tried again until a newer one arrives.");
	ef_buf_printf(b, "edgeflip_quarantined_commits %zu\n", st->nquarantine);
	metric(b, "edgeflip_poll_errors_total", "counter",
	       "Polls of the Git source that failed since the agent started.");
	ef_buf_printf(b, "edgeflip_poll_errors_total %" PRIu64 "\n", f->poll_errors);
	metric(b, "edgeflip_rollout_waiting", "gauge",
	       "1 while a rollout wave holds the branch head back from this device.");
	ef_buf_printf(b, "edgeflip_rollout_waiting %d\n", f->rollout_waiting ? 1 : 0);
	metric(b, "edgeflip_notify_queued_events", "gauge",
	       "Webhook events waiting for the receiver.");
	ef_buf_printf(b, "edgeflip_notify_queued_events %zu\n", queued);
	metric(b, "edgeflip_notify_dropped_events_total", "counter",
	       "Webhook events dropped (queue full or refused by the receiver).");
	return ef_buf_printf(b, "edgeflip_notify_dropped_events_total %" PRIu64 "\n", f->dropped);
}

static uint64_t counter(const char *text, const char *series)
{
	const char *p = text;
	size_t n = strlen(series);

	while ((p = strstr(p, series))) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtoull(p + n + 1, NULL, 10);
		p += n;
	}
	return 0;
}

/* Counters go on from the file the last run wrote (an agent run by cron with
 * `once` is a new process each time), and that file counts as written: the
 * first pass of a new process writes nothing when nothing changed. */
static void restore_metrics(ef_agent *a)
{
	struct ef_fleet *f = a->fleet;
	struct stat sb;
	ef_buf b;
	char *cut;

	f->metrics_restored = true;
	if (ef_read_file(&b, a->cfg->metrics_textfile, 1u << 20) < 0) {
		ef_error_clear();
		return;
	}
	f->deploys_ok = counter(b.ptr, "edgeflip_deploys_total{result=\"success\"}");
	f->deploys_rolled_back = counter(b.ptr, "edgeflip_deploys_total{result=\"rolled_back\"}");
	f->rollbacks = counter(b.ptr, "edgeflip_rollbacks_total");
	f->poll_errors = counter(b.ptr, "edgeflip_poll_errors_total");
	f->last_success = (int64_t)counter(b.ptr, "edgeflip_last_success_timestamp_seconds");
	if (!f->outbox_scanned)
		f->dropped = counter(b.ptr, "edgeflip_notify_dropped_events_total");
	if ((cut = strstr(b.ptr, "# HELP edgeflip_last_poll_timestamp_seconds")) &&
	    stat(a->cfg->metrics_textfile, &sb) == 0) {
		int64_t age = ef_clock_wall() - (int64_t)sb.st_mtime;
		uint64_t now = ef_clock_ms();
		*cut = '\0';
		f->metrics_written = strdup(b.ptr);
		age = age < 0 ? 0 : age;
		f->metrics_written_ms = (uint64_t)age * 1000 > now ? 0 : now - (uint64_t)age * 1000;
	}
	ef_buf_dispose(&b);
}

static int write_metrics(ef_agent *a, size_t queued)
{
	struct ef_fleet *f = a->fleet;
	ef_buf body = EF_BUF_INIT(1u << 20), all = EF_BUF_INIT(1u << 20);
	uint64_t now_ms = ef_clock_ms();
	ef_proc_cost cost;
	bool same;
	int error;

	if (!f->metrics_restored)
		restore_metrics(a);
	if ((error = metrics_body(&body, a, queued)) < 0)
		goto out;
	same = f->metrics_written && strcmp(f->metrics_written, body.ptr) == 0;
	/* A poll that changed nothing writes nothing, unless `refresh` passed. */
	if (same && (a->cfg->metrics_refresh_ms == 0 ||
	             now_ms - f->metrics_written_ms < a->cfg->metrics_refresh_ms))
		goto out;
	ef_buf_puts(&all, body.ptr);
	metric(&all, "edgeflip_last_poll_timestamp_seconds", "gauge",
	       "When the agent last polled its Git source (as of this file's last write).");
	ef_buf_printf(&all, "edgeflip_last_poll_timestamp_seconds %lld\n",
	              (long long)a->st.last_poll);
	metric(&all, "edgeflip_last_success_timestamp_seconds", "gauge",
	       "When a pass last ended without error (as of this file's last write).");
	if ((error = ef_buf_printf(&all, "edgeflip_last_success_timestamp_seconds %lld\n",
	                           (long long)f->last_success)) < 0)
		goto out;
	/* What this process has cost (docs/fleet.md): not compared above, so
	 * that it alone never makes a no-change pass write. */
	if (ef_proc_cost_read(&cost, 0) == 0) {
		metric(&all, "edgeflip_cpu_seconds_total", "counter",
		       "CPU time of the agent's process since it started (as of this file's "
		       "last write).");
		ef_buf_printf(&all, "edgeflip_cpu_seconds_total %.6f\n", cost.cpu_ms / 1000.0);
		metric(&all, "edgeflip_wakeups_total", "counter",
		       "Context switches of the agent's process since it started: its wake-ups "
		       "(as of this file's last write).");
		if ((error = ef_buf_printf(&all, "edgeflip_wakeups_total %llu\n",
		                           cost.voluntary + cost.involuntary)) < 0)
			goto out;
	}
	if ((error = ef_fs_write_atomic(a->cfg->metrics_textfile, all.ptr, all.len)) < 0) {
		ef_warn("metrics-write-failed", "file=%s error=\"%s\"", a->cfg->metrics_textfile,
		        ef_error_last());
		goto out;
	}
	free(f->metrics_written);
	f->metrics_written = ef_buf_detach(&body);
	f->metrics_written_ms = now_ms;
out:
	ef_buf_dispose(&body);
	ef_buf_dispose(&all);
	return error;
}

/* --- hooks of the pass ------------------------------------------------- */

void ef_fleet_poll_failed(ef_agent *a)
{
	if (fleet(a))
		a->fleet->poll_errors++;
}

void ef_fleet_deployed(ef_agent *a, const char *commit, const char *signer, int error)
{
	struct ef_fleet *f = fleet(a);
	char msg[1200];

	if (!f)
		return;
	if (error == 0) {
		f->deploys_ok++;
		snprintf(msg, sizeof(msg), "deployed %.12s", commit);
		ef_fleet_event(a, "DeploySucceeded", "info", commit, signer, msg);
		return;
	}
	f->deploys_rolled_back++;
	f->rollbacks++;
	snprintf(msg, sizeof(msg), "deploy of %.12s failed and was rolled back to %.12s: %s",
	         commit, a->st.revision[0] ? a->st.revision : "(nothing)", ef_error_last());
	ef_fleet_event(a, "RolledBack", "error", commit, signer, msg);
	if (ef_state_is_quarantined(&a->st, commit)) {
		snprintf(msg, sizeof(msg),
		         "%.12s is quarantined: not tried again until a newer commit arrives",
		         commit);
		ef_fleet_event(a, "Quarantined", "error", commit, signer, msg);
	}
}

void ef_fleet_rolled_back(ef_agent *a, const char *from, const char *to)
{
	char msg[200];

	if (!fleet(a))
		return;
	a->fleet->rollbacks++;
	snprintf(msg, sizeof(msg), "rolled back by the operator from %.12s to %.12s", from, to);
	ef_fleet_event(a, "RolledBack", "warning", to, a->st.signer, msg);
}

void ef_fleet_refused(ef_agent *a, const char *commit, const char *what, const char *reason)
{
	char msg[1200];

	snprintf(msg, sizeof(msg), "%.12s refused (%s): %s; quarantined until a newer commit",
	         commit, what, reason);
	ef_fleet_event(a, "Refused", "error", commit, "", msg);
}

void ef_fleet_drift_repaired(ef_agent *a, int error)
{
	char msg[1200];

	if (error == 0)
		snprintf(msg, sizeof(msg), "running containers differed from %.12s; put back",
		         a->st.revision);
	else
		snprintf(msg, sizeof(msg),
		         "running containers differ from %.12s; repair failed: %s", a->st.revision,
		         ef_error_last());
	ef_fleet_event(a, error == 0 ? "DriftRepaired" : "DriftRepairFailed",
	               error == 0 ? "info" : "error", a->st.revision, a->st.signer, msg);
}

int ef_agent_report(ef_agent *a, int pass_error)
{
	struct ef_fleet *f = fleet(a);
	char msg[1024];
	size_t queued;
	int error = 0;

	if (!f)
		return EF_ENOMEM;
	/* The caller still reports the pass's own error. */
	snprintf(msg, sizeof(msg), "%s", ef_error_last());
	if (pass_error == 0)
		f->last_success = ef_clock_wall();
	queued = deliver(a);
	if (a->cfg->metrics_textfile)
		error = write_metrics(a, queued);
	ef_error_set("%s", msg);
	return error;
}

/* --- rollout gate ------------------------------------------------------ */

/* The committer date of `commit` (0 when it cannot be read). */
static int64_t commit_time(ef_agent *a, const char *commit)
{
	ef_buf raw;
	int64_t t = 0;

	if (ef_source_read_commit(a->src, &raw, commit, MAX_COMMIT_BYTES) < 0) {
		ef_error_clear();
		return 0;
	}
	for (const char *p = raw.ptr; p && *p && *p != '\n';) {
		const char *eol = strchr(p, '\n');
		if (!eol)
			break;
		if (!strncmp(p, "committer ", 10)) {
			const char *gt = memchr(p, '>', (size_t)(eol - p));
			if (gt)
				t = strtoll(gt + 1, NULL, 10);
		}
		p = eol + 1;
	}
	ef_buf_dispose(&raw);
	return t;
}

static void record_rollout(ef_agent *a, const char *text)
{
	struct ef_fleet *f = a->fleet;
	char path[4200];

	snprintf(path, sizeof(path), "%s/%s", a->cfg->state_dir, EF_ROLLOUT_FILE);
	if (!f->rollout_written) {
		ef_buf b;
		f->rollout_written = strdup(ef_read_file(&b, path, 65536) == 0 ? b.ptr : "");
		ef_buf_dispose(&b);
		ef_error_clear();
	}
	if (!f->rollout_written || strcmp(f->rollout_written, text) == 0)
		return; /* nothing new: no write */
	if (text[0] ? ef_fs_write_atomic(path, text, strlen(text)) < 0
	            : (unlink(path) < 0 && errno != ENOENT)) {
		ef_warn("rollout-record", "file=%s error=\"%s\"", path, ef_error_last());
		return;
	}
	free(f->rollout_written);
	f->rollout_written = strdup(text);
}

int ef_fleet_rollout_gate(ef_agent *a, const ef_manifest *m, const char *commit)
{
	struct ef_fleet *f = fleet(a);
	const ef_rollout *r = &m->rollout;
	int64_t now = ef_clock_wall();
	double w = ef_rollout_wariness(a->cfg->device_id ? a->cfg->device_id : "");
	ef_rollout_verdict v;
	char why[300];
	cJSON *j;
	char *text;

	if (!f)
		return EF_ENOMEM;
	v = ef_rollout_decide(r, w, now, r->set ? commit_time(a, commit) : 0, why, sizeof(why));
	f->rollout_waiting = v != EF_ROLLOUT_GO;
	f->rollout_turn = v == EF_ROLLOUT_WAIT ? ef_rollout_turn(r, w) : 0;
	if (v == EF_ROLLOUT_GO) {
		if (r->set)
			ef_info("rollout-go", "commit=%.12s %s", commit, why);
		record_rollout(a, "");
		return 0;
	}
	ef_info("rollout-wait", "commit=%.12s state=%s reason=\"%s\"", commit,
	        ef_rollout_verdict_name(v), why);
	/* What status needs to say where the wave stands at any later time. */
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "commit", commit);
	cJSON_AddStringToObject(j, "state", ef_rollout_verdict_name(v));
	cJSON_AddStringToObject(
	        j, "reason", v == EF_ROLLOUT_WAIT ? "the wave has not reached this device" : why);
	cJSON_AddNumberToObject(j, "wariness", w);
	cJSON_AddNumberToObject(j, "start", (double)r->start);
	cJSON_AddNumberToObject(j, "duration_seconds", (double)r->duration_ms / 1000.0);
	cJSON_AddNumberToObject(j, "start_percentage", r->start_pct);
	cJSON_AddBoolToObject(j, "paused", r->paused);
	text = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (text)
		record_rollout(a, text);
	free(text);
	return EF_EAGAIN;
}

int64_t ef_agent_rollout_turn(const ef_agent *a)
{
	return a->fleet && a->fleet->rollout_waiting ? a->fleet->rollout_turn : 0;
}

int ef_fleet_rollout_status(char **out, const char *state_dir, const char *revision, int64_t now)
{
	char path[4200];
	ef_buf b;
	cJSON *j = NULL, *it;
	ef_rollout r;
	int error;

	*out = NULL;
	snprintf(path, sizeof(path), "%s/%s", state_dir, EF_ROLLOUT_FILE);
	error = ef_read_file(&b, path, 65536);
	if (error == EF_ENOTFOUND) {
		ef_error_clear();
		*out = strdup("null");
		return *out ? 0 : EF_ENOMEM;
	}
	if (error < 0)
		return error;
	j = cJSON_Parse(b.ptr);
	ef_buf_dispose(&b);
	if (!cJSON_IsObject(j) || !cJSON_IsString(it = cJSON_GetObjectItem(j, "commit"))) {
		cJSON_Delete(j);
		ef_error_set("%s: not a rollout record; remove it (the next poll writes it again)",
		             path);
		return EF_EINVALID;
	}
	if (revision && strcmp(it->valuestring, revision) == 0) {
		/* Deployed since (e.g. by `edgeflip run --once` elsewhere). */
		cJSON_Delete(j);
		*out = strdup("null");
		return *out ? 0 : EF_ENOMEM;
	}
	memset(&r, 0, sizeof(r));
	r.set = true;
	if ((it = cJSON_GetObjectItem(j, "start")) && cJSON_IsNumber(it))
		r.start = (int64_t)it->valuedouble;
	if ((it = cJSON_GetObjectItem(j, "duration_seconds")) && cJSON_IsNumber(it))
		r.duration_ms = (uint64_t)(it->valuedouble * 1000.0);
	if ((it = cJSON_GetObjectItem(j, "start_percentage")) && cJSON_IsNumber(it))
		r.start_pct = it->valuedouble;
	cJSON_AddNumberToObject(j, "share", ef_rollout_share(&r, now));
	*out = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	return *out ? 0 : EF_ENOMEM;
}
