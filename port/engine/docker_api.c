/* The docker-api backend: the Docker Engine API (v1.41) over a unix socket,
 * spoken by Docker, Podman (`podman system service`) and balena-engine.
 * One libcurl easy handle per engine, reused so the connection stays open.
 * Requests are rows of a table; errors are translated in one place (fail()). */
#include "docker_json.h"
#include "edgeflip/error.h"
#include "edgeflip/sys/clock.h"
#include "edgeflip/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#define API_PREFIX              "/v1.41"
#define DEFAULT_TIMEOUT_MS      30000u
#define DEFAULT_PULL_TIMEOUT_MS (15u * 60u * 1000u)
#define DEFAULT_MAX_REPLY       (4u << 20)
#define PULL_LINE_CAP           (64u << 10)
#define PULL_LOG_EVERY_MS       5000u
#define EXEC_POLL_MS            50u

struct docker_engine {
	ef_engine parent;
	CURL *curl;
	struct curl_slist *json_headers;
	char *endpoint;    /* "unix:///run/podman/podman.sock" */
	char *socket_path; /* "/run/podman/podman.sock" */
	ef_engine_opts opts;
	char curl_error[CURL_ERROR_SIZE];
};

enum request_kind {
	REQ_PING,
	REQ_IMAGE_INSPECT,
	REQ_PULL,
	REQ_CREATE,
	REQ_START,
	REQ_STOP,
	REQ_REMOVE,
	REQ_LIST,
	REQ_INSPECT,
	REQ_EXEC_CREATE,
	REQ_EXEC_START,
	REQ_EXEC_INSPECT,
	REQ_RENAME,
	REQ_NET_INSPECT,
	REQ_NET_CREATE,
	REQ_NET_REMOVE,
	REQ_NET_LIST,
	REQ_NET_CONNECT,
	REQ_NET_DISCONNECT,
	REQ_VOLUME_REMOVE,
};

/* Path = API_PREFIX + prefix + url-encoded argument + suffix + query. */
static const struct request_def {
	const char *method;
	const char *prefix;
	const char *suffix;
	const char *what; /* for messages: "<what> <subject>: ..." */
} requests[] = {
        [REQ_PING] = {"GET", "/_ping", "", "ping"},
        [REQ_IMAGE_INSPECT] = {"GET", "/images/", "/json", "look up image"},
        [REQ_PULL] = {"POST", "/images/create?fromImage=", "", "pull image"},
        [REQ_CREATE] = {"POST", "/containers/create?name=", "", "create container"},
        [REQ_START] = {"POST", "/containers/", "/start", "start container"},
        [REQ_STOP] = {"POST", "/containers/", "/stop", "stop container"},
        [REQ_REMOVE] = {"DELETE", "/containers/", "", "remove container"},
        [REQ_LIST] = {"GET", "/containers/json?all=true&filters=", "", "list containers"},
        [REQ_INSPECT] = {"GET", "/containers/", "/json", "inspect container"},
        [REQ_EXEC_CREATE] = {"POST", "/containers/", "/exec", "exec in container"},
        [REQ_EXEC_START] = {"POST", "/exec/", "/start", "start exec"},
        [REQ_EXEC_INSPECT] = {"GET", "/exec/", "/json", "inspect exec"},
        [REQ_RENAME] = {"POST", "/containers/", "/rename", "rename container"},
        [REQ_NET_INSPECT] = {"GET", "/networks/", "", "look up network"},
        [REQ_NET_CREATE] = {"POST", "/networks/create", "", "create network"},
        [REQ_NET_REMOVE] = {"DELETE", "/networks/", "", "remove network"},
        [REQ_NET_LIST] = {"GET", "/networks?filters=", "", "list networks"},
        [REQ_NET_CONNECT] = {"POST", "/networks/", "/connect", "connect to network"},
        [REQ_NET_DISCONNECT] = {"POST", "/networks/", "/disconnect", "disconnect from network"},
        [REQ_VOLUME_REMOVE] = {"DELETE", "/volumes/", "", "remove volume"},
};

/* One request and its reply. */
struct call {
	enum request_kind kind;
	const char *arg;     /* url-encoded into the path; NULL for none */
	const char *query;   /* appended as is ("?t=10"); NULL for none */
	const char *body;    /* JSON for POST; NULL sends an empty body */
	const char *subject; /* named in messages; NULL for none */
	uint64_t timeout_ms;
	long status;
	ef_buf reply; /* capped at opts.max_reply_bytes */
	/* Streams: a pull feeds the progress parser, an exec's output is dropped. */
	ef_docker_pull *pull;
	bool discard;
	size_t discarded;
	int sink_error;
	uint64_t started_ms, logged_ms;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct call *c = userdata;
	size_t len = size * nmemb;
	int error;

	if (c->discard) {
		c->discarded += len;
		if (c->discarded > c->reply.cap) {
			c->sink_error = EF_ETOOBIG;
			return 0;
		}
		return len;
	}
	if (c->pull && c->status < 400) {
		if ((error = ef_docker_pull_feed(c->pull, data, len)) < 0) {
			c->sink_error = error;
			return 0;
		}
		return len;
	}
	if (ef_buf_put(&c->reply, data, len) < 0) {
		c->sink_error = EF_ETOOBIG;
		return 0;
	}
	return len;
}

/* The status line arrives before the body: a failed pull is a plain JSON error. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct call *c = userdata;
	size_t len = size * nmemb;
	const char *sp;

	if (len > 5 && memcmp(data, "HTTP/", 5) == 0 && (sp = memchr(data, ' ', len)) &&
	    sp + 4 <= data + len)
		c->status = strtol(sp + 1, NULL, 10);
	return len;
}

/* Logs a long pull's progress every PULL_LOG_EVERY_MS, stalled or not. */
static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	struct call *c = userdata;
	uint64_t now = now_ms();

	if (c->pull && now - c->logged_ms >= PULL_LOG_EVERY_MS) {
		c->logged_ms = now;
		ef_info("engine pull progress",
		        "image=%s elapsed_ms=%llu layers_done=%u status=\"%s\" layer=%s "
		        "current=%llu total=%llu",
		        c->subject, (unsigned long long)(now - c->started_ms), c->pull->layers_done,
		        c->pull->status, c->pull->id, (unsigned long long)c->pull->current,
		        (unsigned long long)c->pull->total);
	}
	return 0;
}

/* Every failure of a call becomes an ef error here, and nowhere else. */
static int fail(struct docker_engine *d, struct call *c, CURLcode rc)
{
	const struct request_def *def = &requests[c->kind];
	const char *sp = c->subject ? " " : "", *subject = c->subject ? c->subject : "";
	char msg[512];
	long os_errno = 0;

	if (c->sink_error == EF_ETOOBIG) {
		/* A full buffer or an over-long pull line (rc is CURLE_WRITE_ERROR). */
		ef_error_set("container engine: %s%s%s: the reply exceeds the limit of %zu bytes",
		             def->what, sp, subject,
		             c->pull ? (size_t)PULL_LINE_CAP : c->reply.cap);
		return EF_ETOOBIG;
	}
	if (c->sink_error < 0) {
		ef_error_prefix("container engine: %s%s%s", def->what, sp, subject);
		return c->sink_error;
	}
	switch (rc) {
	case CURLE_OK:
		break;
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(d->curl, CURLINFO_OS_ERRNO, &os_errno);
		if (os_errno == ENOENT)
			snprintf(msg, sizeof(msg), "no socket at %s", d->socket_path);
		else if (os_errno == ECONNREFUSED)
			snprintf(msg, sizeof(msg), "nothing listens on %s", d->socket_path);
		else if (os_errno == EACCES)
			snprintf(msg, sizeof(msg), "permission denied on %s", d->socket_path);
		else
			snprintf(msg, sizeof(msg), "cannot connect to %s: %s", d->socket_path,
			         os_errno ? strerror((int)os_errno) : d->curl_error);
		ef_error_set(
		        "container engine unreachable at %s: %s; is the engine running? "
		        "Start it (e.g. systemctl start podman.socket) or fix [engine] endpoint",
		        d->endpoint, msg);
		return EF_EUNREACHABLE;
	case CURLE_OPERATION_TIMEDOUT:
		ef_error_set("container engine: %s%s%s: %s within %llu ms", def->what, sp, subject,
		             c->pull ? "not finished" : "no reply",
		             (unsigned long long)c->timeout_ms);
		return EF_ETIMEOUT;
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
		ef_error_set("container engine at %s: %s%s%s: connection lost (%s)", d->endpoint,
		             def->what, sp, subject,
		             d->curl_error[0] ? d->curl_error : curl_easy_strerror(rc));
		return EF_EUNREACHABLE;
	default:
		ef_error_set("container engine at %s: %s%s%s: %s", d->endpoint, def->what, sp,
		             subject, d->curl_error[0] ? d->curl_error : curl_easy_strerror(rc));
		return EF_ERROR;
	}
	ef_docker_error_message(msg, sizeof(msg), c->reply.ptr, c->reply.len);
	ef_error_set("container engine: %s%s%s: HTTP %ld: %s", def->what, sp, subject, c->status,
	             msg[0] ? msg : "(no message)");
	return c->status == 404 ? EF_ENOTFOUND : EF_ERROR;
}

/* Sends one request. 0 when the engine answered below 400; the reply is in
 * c->reply (or fed to c->pull). c->reply must be disposed by the caller. */
static int call_engine(struct docker_engine *d, struct call *c)
{
	const struct request_def *def = &requests[c->kind];
	ef_buf url = EF_BUF_INIT(16384);
	CURLcode rc;
	CURL *h = d->curl;
	long connects = 0;
	int error;

	ef_buf_init(&c->reply, d->opts.max_reply_bytes);
	c->status = 0;
	c->sink_error = 0;
	c->discarded = 0;
	c->started_ms = c->logged_ms = now_ms();
	if (!c->timeout_ms)
		c->timeout_ms = d->opts.timeout_ms;
	if ((error = ef_buf_printf(&url, "http://localhost%s%s", API_PREFIX, def->prefix)) < 0 ||
	    (c->arg && (error = ef_docker_url_encode(&url, c->arg)) < 0) ||
	    (error = ef_buf_puts(&url, def->suffix)) < 0 ||
	    (c->query && (error = ef_buf_puts(&url, c->query)) < 0)) {
		ef_error_set("container engine: %s: request path too long", def->what);
		goto out;
	}

	/* Reset keeps the open connection; every option is set again below. */
	curl_easy_reset(h);
	d->curl_error[0] = '\0';
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, d->socket_path);
	curl_easy_setopt(h, CURLOPT_URL, url.ptr);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, d->curl_error);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)ef_clock_timeout(c->timeout_ms));
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)ef_clock_timeout(d->opts.timeout_ms));
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
	if (c->pull) {
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	}
	if (strcmp(def->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body ? c->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)(c->body ? strlen(c->body) : 0));
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, d->json_headers);
	} else if (strcmp(def->method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, def->method);
	}

	ef_trace("engine request", "method=%s path=%s", def->method,
	         url.ptr + strlen("http://localhost"));
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
	if (rc == CURLE_OK && c->status < 400 && !c->sink_error)
		error = 0;
	else
		error = fail(d, c, rc);
	ef_debug("engine reply", "method=%s path=%s status=%ld new_connection=%ld ms=%llu",
	         def->method, url.ptr + strlen("http://localhost"), c->status, connects,
	         (unsigned long long)(now_ms() - c->started_ms));
out:
	ef_buf_dispose(&url);
	return error;
}

static struct docker_engine *docker(ef_engine *e)
{
	return (struct docker_engine *)e;
}

/* --- operations ----------------------------------------------------------- */

static int docker_ping(ef_engine *e)
{
	struct call c = {.kind = REQ_PING};
	int error = call_engine(docker(e), &c);

	ef_buf_dispose(&c.reply);
	return error;
}

/* 0 when the engine has the image, EF_ENOTFOUND when not. */
static int image_present(struct docker_engine *d, const char *ref)
{
	struct call c = {.kind = REQ_IMAGE_INSPECT, .arg = ref, .subject = ref};
	int error = call_engine(d, &c);

	ef_buf_dispose(&c.reply);
	return error;
}

static int docker_pull(ef_engine *e, const char *ref)
{
	struct docker_engine *d = docker(e);
	ef_docker_pull progress;
	struct call c = {.kind = REQ_PULL,
	                 .arg = ref,
	                 .subject = ref,
	                 .timeout_ms = d->opts.pull_timeout_ms,
	                 .pull = &progress};
	uint64_t started = now_ms();
	int error;

	if (!ref || !*ref) {
		ef_error_set("pull: empty image reference");
		return EF_EINVALID;
	}
	error = image_present(d, ref);
	if (error != EF_ENOTFOUND) {
		if (error == 0)
			ef_debug("engine image present", "image=%s", ref);
		return error;
	}
	ef_info("engine pull", "image=%s", ref);
	ef_docker_pull_init(&progress, PULL_LINE_CAP);
	if ((error = call_engine(d, &c)) < 0)
		goto out;
	if ((error = ef_docker_pull_finish(&progress)) < 0) {
		ef_error_prefix("container engine: pull image %s", ref);
		goto out;
	}
	if (progress.error) {
		ef_error_set("cannot pull image %s: %s", ref, progress.error);
		error = EF_ERROR;
		goto out;
	}
	/* The engine must have it now; a stream that said nothing is no proof. */
	if ((error = image_present(d, ref)) == EF_ENOTFOUND) {
		ef_error_set("cannot pull image %s: the engine reported no error but does not have "
		             "the image afterwards",
		             ref);
		error = EF_ERROR;
	}
	if (error == 0)
		ef_info("engine pulled", "image=%s ms=%llu layers_done=%u", ref,
		        (unsigned long long)(now_ms() - started), progress.layers_done);
out:
	ef_docker_pull_dispose(&progress);
	ef_buf_dispose(&c.reply);
	return error;
}

static int docker_remove(ef_engine *e, const char *id);

/* After a create that asked for device cgroup rules: the engine applied them,
 * or the container is removed again and the create fails (EF_EINVALID, so
 * the commit is blamed, not the weather). */
/* What the engine may take and not apply (device cgroup rules, device
 * requests), read back from the container: a container never runs without
 * them; it is removed and the create fails, naming what is missing. */
static int check_applied(ef_engine *e, const char *id, const ef_container_spec *spec)
{
	struct call c = {.kind = REQ_INSPECT, .arg = id, .subject = id};
	int error;

	if ((error = call_engine(docker(e), &c)) == 0 &&
	    ((error = ef_docker_check_cgroup_rules(c.reply.ptr, c.reply.len,
	                                           spec->device_cgroup_rules)) < 0 ||
	     (error = ef_docker_check_device_requests(c.reply.ptr, c.reply.len,
	                                              spec->device_requests,
	                                              spec->ndevice_requests)) < 0)) {
		char msg[512];

		snprintf(msg, sizeof(msg), "%s", ef_error_last());
		docker_remove(e, id);
		ef_error_set("%s", msg);
	}
	ef_buf_dispose(&c.reply);
	return error;
}

static int docker_create(ef_engine *e, char out_id[65], const ef_create_req *req)
{
	struct call c = {.kind = REQ_CREATE, .arg = req->name, .subject = req->name};
	char *body = NULL;
	int error;

	out_id[0] = '\0';
	if (!req->name || !*req->name) {
		ef_error_set("create: the container needs a name");
		return EF_EINVALID;
	}
	if ((error = ef_docker_create_body(&body, req)) < 0)
		return error;
	c.body = body;
	if ((error = call_engine(docker(e), &c)) < 0)
		goto out;
	if ((error = ef_docker_parse_id(out_id, c.reply.ptr, c.reply.len)) < 0) {
		ef_error_prefix("container engine: create container %s", req->name);
		goto out;
	}
	if ((req->spec->device_cgroup_rules || req->spec->ndevice_requests) &&
	    (error = check_applied(e, out_id, req->spec)) < 0) {
		ef_error_prefix("container engine: create container %s", req->name);
		out_id[0] = '\0';
		goto out;
	}
	ef_info("engine created", "container=%s id=%.12s image=%s", req->name, out_id,
	        req->spec->image);
out:
	ef_str_wipe(body); /* its Env may hold secrets */
	free(body);
	ef_buf_dispose(&c.reply);
	return error;
}

/* start, stop and remove: no reply body worth reading. */
static int simple_call(ef_engine *e, enum request_kind kind, const char *id, const char *query,
                       uint64_t timeout_ms)
{
	struct call c = {
	        .kind = kind, .arg = id, .subject = id, .query = query, .timeout_ms = timeout_ms};
	int error;

	if (!id || !*id) {
		ef_error_set("container engine: %s: no container id", requests[kind].what);
		return EF_EINVALID;
	}
	error = call_engine(docker(e), &c);
	ef_buf_dispose(&c.reply);
	return error;
}

static int docker_start(ef_engine *e, const char *id)
{
	/* 304: already running. */
	return simple_call(e, REQ_START, id, NULL, 0);
}

static int docker_stop(ef_engine *e, const char *id, unsigned timeout_s)
{
	char query[32];

	/* 304: already stopped. The request waits for the engine's grace period. */
	if (timeout_s == EF_STOP_CONFIGURED)
		return simple_call(e, REQ_STOP, id, NULL,
		                   docker(e)->opts.pull_timeout_ms + docker(e)->opts.timeout_ms);
	snprintf(query, sizeof(query), "?t=%u", timeout_s);
	return simple_call(e, REQ_STOP, id, query,
	                   (uint64_t)timeout_s * 1000u + docker(e)->opts.timeout_ms);
}

static int docker_remove(ef_engine *e, const char *id)
{
	return simple_call(e, REQ_REMOVE, id, "?force=true&v=false", 0);
}

static int list_labelled(ef_engine *e, ef_container_list *out, const char *filter)
{
	struct call c = {.kind = REQ_LIST, .arg = filter};
	int error;

	out->items = NULL;
	out->count = 0;
	if ((error = call_engine(docker(e), &c)) == 0 &&
	    (error = ef_docker_parse_list(out, c.reply.ptr, c.reply.len)) < 0)
		ef_error_prefix("container engine: list containers");
	ef_buf_dispose(&c.reply);
	return error;
}

static int docker_list(ef_engine *e, ef_container_list *out)
{
	return list_labelled(e, out, "{\"label\":[\"" EF_LABEL_SERVICE "\"]}");
}

static int docker_list_previews(ef_engine *e, ef_container_list *out)
{
	return list_labelled(e, out, "{\"label\":[\"" EF_LABEL_PREVIEW "\"]}");
}

static int docker_volume_remove(ef_engine *e, const char *name)
{
	struct call c = {.kind = REQ_VOLUME_REMOVE, .arg = name, .subject = name};
	int error = call_engine(docker(e), &c);

	if (error == 0)
		ef_info("engine volume removed", "volume=%s", name);
	ef_buf_dispose(&c.reply);
	return error;
}

static int docker_inspect(ef_engine *e, ef_container *out, const char *id)
{
	struct call c = {.kind = REQ_INSPECT, .arg = id, .subject = id};
	int error;

	memset(out, 0, sizeof(*out));
	if (!id || !*id) {
		ef_error_set("container engine: inspect container: no container id");
		return EF_EINVALID;
	}
	if ((error = call_engine(docker(e), &c)) == 0 &&
	    (error = ef_docker_parse_inspect(out, c.reply.ptr, c.reply.len)) < 0)
		ef_error_prefix("container engine: inspect container %s", id);
	ef_buf_dispose(&c.reply);
	return error;
}

static int docker_exec(ef_engine *e, int *exit_code, const char *id, char *const argv[],
                       uint64_t timeout_ms)
{
	struct docker_engine *d = docker(e);
	struct call c = {.kind = REQ_EXEC_CREATE, .arg = id, .subject = id};
	uint64_t deadline;
	char *body = NULL, exec_id[65];
	bool running = true;
	int error;

	*exit_code = -1;
	if (!timeout_ms)
		timeout_ms = d->opts.timeout_ms;
	deadline = now_ms() + timeout_ms;
	if ((error = ef_docker_exec_body(&body, argv)) < 0)
		return error;
	c.body = body;
	if ((error = call_engine(d, &c)) < 0)
		goto out;
	if ((error = ef_docker_parse_id(exec_id, c.reply.ptr, c.reply.len)) < 0) {
		ef_error_prefix("container engine: exec in container %s", id);
		goto out;
	}
	ef_buf_dispose(&c.reply);

	/* Attached start: the reply is the command's output, until it exits. */
	c = (struct call){.kind = REQ_EXEC_START,
	                  .arg = exec_id,
	                  .subject = id,
	                  .body = "{\"Detach\":false,\"Tty\":false}",
	                  .discard = true,
	                  .timeout_ms = timeout_ms};
	if ((error = call_engine(d, &c)) < 0) {
		if (error == EF_ETIMEOUT)
			ef_error_set("container engine: exec %s in container %s: still running "
			             "after %llu ms",
			             argv[0], id, (unsigned long long)timeout_ms);
		goto out;
	}
	ef_buf_dispose(&c.reply);

	/* The exit code can lag the end of the stream by a moment. */
	for (;;) {
		c = (struct call){.kind = REQ_EXEC_INSPECT, .arg = exec_id, .subject = id};
		if ((error = call_engine(d, &c)) < 0)
			goto out;
		if ((error = ef_docker_parse_exec_inspect(exit_code, &running, c.reply.ptr,
		                                          c.reply.len)) < 0) {
			ef_error_prefix("container engine: exec in container %s", id);
			goto out;
		}
		ef_buf_dispose(&c.reply);
		if (!running)
			break;
		if (now_ms() + EXEC_POLL_MS > deadline) {
			ef_error_set("container engine: exec %s in container %s: still running "
			             "after %llu ms",
			             argv[0], id, (unsigned long long)timeout_ms);
			error = EF_ETIMEOUT;
			goto out;
		}
		sleep_ms(EXEC_POLL_MS);
	}
	ef_debug("engine exec", "container=%s cmd=%s exit_code=%d", id, argv[0], *exit_code);
out:
	free(body);
	ef_buf_dispose(&c.reply);
	return error;
}

static int docker_rename(ef_engine *e, const char *id, const char *name)
{
	ef_buf query = EF_BUF_INIT(1024);
	int error;

	if (!name || !*name) {
		ef_error_set("container engine: rename container %s: no new name", id ? id : "");
		return EF_EINVALID;
	}
	if ((error = ef_buf_puts(&query, "?name=")) < 0 ||
	    (error = ef_docker_url_encode(&query, name)) < 0) {
		ef_buf_dispose(&query);
		return error;
	}
	error = simple_call(e, REQ_RENAME, id, query.ptr, 0);
	if (error == 0)
		ef_info("engine renamed", "container=%.12s name=%s", id, name);
	ef_buf_dispose(&query);
	return error;
}

static int docker_network_ensure(ef_engine *e, const ef_network_req *req)
{
	struct call c = {.kind = REQ_NET_INSPECT, .arg = req->name, .subject = req->name};
	char *body = NULL;
	int error;

	if (!req->name || !*req->name) {
		ef_error_set("container engine: create network: no name");
		return EF_EINVALID;
	}
	error = call_engine(docker(e), &c);
	ef_buf_dispose(&c.reply);
	if (error == EF_ENOTFOUND && req->external) {
		ef_error_set("network %s is declared external but the engine has no such network: "
		             "create it on the device first (e.g. podman network create %s)",
		             req->name, req->name);
		return EF_ENOTFOUND;
	}
	if (error != EF_ENOTFOUND)
		return error;
	if ((error = ef_docker_network_body(&body, req)) < 0)
		return error;
	c = (struct call){.kind = REQ_NET_CREATE, .subject = req->name, .body = body};
	if ((error = call_engine(docker(e), &c)) == 0)
		ef_info("engine network created", "network=%s", req->name);
	free(body);
	ef_buf_dispose(&c.reply);
	return error;
}

static int docker_network_remove(ef_engine *e, const char *name)
{
	struct call c = {.kind = REQ_NET_REMOVE, .arg = name, .subject = name};
	int error = call_engine(docker(e), &c);

	if (error == 0)
		ef_info("engine network removed", "network=%s", name);
	ef_buf_dispose(&c.reply);
	return error;
}

static int docker_network_list(ef_engine *e, char ***out, const char *project)
{
	struct call c = {.kind = REQ_NET_LIST, .arg = "{\"label\":[\"" EF_LABEL_NETWORK "\"]}"};
	int error;

	*out = NULL;
	if ((error = call_engine(docker(e), &c)) == 0 &&
	    (error = ef_docker_parse_networks(out, c.reply.ptr, c.reply.len, project)) < 0)
		ef_error_prefix("container engine: list networks");
	ef_buf_dispose(&c.reply);
	return error;
}

static int docker_network_connect(ef_engine *e, const char *network, const char *id,
                                  char *const *aliases)
{
	struct call c = {.kind = REQ_NET_CONNECT, .arg = network, .subject = network};
	char *body = NULL;
	int error;

	if ((error = ef_docker_connect_body(&body, id, aliases)) < 0)
		return error;
	c.body = body;
	if ((error = call_engine(docker(e), &c)) == 0)
		ef_debug("engine connected", "network=%s container=%.12s", network, id);
	free(body);
	ef_buf_dispose(&c.reply);
	return error;
}

static int docker_network_disconnect(ef_engine *e, const char *network, const char *id)
{
	struct call c = {.kind = REQ_NET_DISCONNECT, .arg = network, .subject = network};
	char *body = NULL;
	int error;

	/* Force: a stopped container is detached as well. */
	if ((error = ef_docker_connect_body(&body, id, NULL)) < 0)
		return error;
	c.body = body;
	error = call_engine(docker(e), &c);
	free(body);
	ef_buf_dispose(&c.reply);
	return error;
}

static void docker_close(ef_engine *e)
{
	struct docker_engine *d = docker(e);

	if (!d)
		return;
	if (d->curl)
		curl_easy_cleanup(d->curl);
	curl_slist_free_all(d->json_headers);
	free(d->endpoint);
	free(d->socket_path);
	free(d);
	curl_global_cleanup();
}

static int docker_open(ef_engine **out, const char *endpoint, const ef_engine_opts *opts)
{
	struct docker_engine *d;
	const char *path;
	struct curl_slist *h;

	*out = NULL;
	if (!endpoint || strncmp(endpoint, "unix://", 7) != 0 || endpoint[7] != '/') {
		ef_error_set("engine endpoint '%s' is not supported: use unix:///path/to/socket, "
		             "e.g. unix:///run/podman/podman.sock",
		             endpoint ? endpoint : "");
		return EF_EINVALID;
	}
	path = endpoint + 7;
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		ef_error_set("engine endpoint '%s': the socket path is longer than %zu bytes",
		             endpoint, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		return EF_EINVALID;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		ef_error_set("cannot initialise libcurl");
		return EF_ERROR;
	}
	if (!(d = calloc(1, sizeof(*d)))) {
		curl_global_cleanup();
		ef_error_set("out of memory");
		return EF_ENOMEM;
	}
	d->parent.ops = &ef_engine_docker_api;
	d->opts.timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
	d->opts.pull_timeout_ms =
	        opts && opts->pull_timeout_ms ? opts->pull_timeout_ms : DEFAULT_PULL_TIMEOUT_MS;
	d->opts.max_reply_bytes =
	        opts && opts->max_reply_bytes ? opts->max_reply_bytes : DEFAULT_MAX_REPLY;
	d->endpoint = strdup(endpoint);
	d->socket_path = strdup(path);
	d->curl = curl_easy_init();
	/* No "Expect: 100-continue" round trip for larger bodies. */
	if ((h = curl_slist_append(NULL, "Content-Type: application/json")) != NULL) {
		d->json_headers = h;
		h = curl_slist_append(h, "Expect:");
	}
	if (!d->endpoint || !d->socket_path || !d->curl || !h) {
		docker_close(&d->parent);
		ef_error_set("out of memory");
		return EF_ENOMEM;
	}
	*out = &d->parent;
	return 0;
}

const struct ef_engine_ops ef_engine_docker_api = {
        .name = "docker-api",
        .open = docker_open,
        .ping = docker_ping,
        .pull = docker_pull,
        .create = docker_create,
        .start = docker_start,
        .stop = docker_stop,
        .remove = docker_remove,
        .list = docker_list,
        .list_previews = docker_list_previews,
        .volume_remove = docker_volume_remove,
        .inspect = docker_inspect,
        .exec = docker_exec,
        .rename = docker_rename,
        .network_ensure = docker_network_ensure,
        .network_remove = docker_network_remove,
        .network_list = docker_network_list,
        .network_connect = docker_network_connect,
        .network_disconnect = docker_network_disconnect,
        .close = docker_close,
};
