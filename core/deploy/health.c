#include "edgeflip/health.h"
#include "edgeflip/error.h"
#include "edgeflip/fault.h"
#include "edgeflip/log.h"
#include "edgeflip/sys/clock.h"
#include "edgeflip/sys/http.h"
#include "edgeflip/sys/net.h"

#include <stdio.h>
#include <string.h>

static uint16_t probe_port(const ef_service *spec)
{
	if (spec->health.port)
		return spec->health.port;
	return spec->nports ? spec->ports[0].container_port : 0;
}

/* Where HTTP/TCP probes connect: the published host port of the probed
 * container port, else the container's IP on its first network. */
static int find_address(ef_health_target *t, const ef_container *c)
{
	const ef_service *spec = t->spec;
	uint16_t cport = probe_port(spec);

	snprintf(t->host, sizeof(t->host), "127.0.0.1");
	if (spec->health.kind != EF_PROBE_HTTP && spec->health.kind != EF_PROBE_TCP)
		return 0;
	for (size_t i = 0; i < c->nports; i++) {
		const char *ip = c->ports[i].host_ip;

		if (c->ports[i].container_port == cport && c->ports[i].host_port) {
			t->port = c->ports[i].host_port;
			/* Published on one address (e.g. the nftables switch's). */
			if (ip && *ip && strcmp(ip, "0.0.0.0") != 0 && strcmp(ip, "::") != 0)
				snprintf(t->host, sizeof(t->host), "%s", ip);
			return 0;
		}
	}
	if (c->ip_address && c->ip_address[0]) {
		snprintf(t->host, sizeof(t->host), "%s", c->ip_address);
		t->port = cport;
		return 0;
	}
	ef_error_set("service %s: cannot reach container port %u for health probes "
	             "(not published and no container IP)",
	             spec->name, cport);
	return EF_ERROR;
}

int ef_health_init(ef_health_target *t, ef_engine *e, const ef_service *spec, const char *id)
{
	ef_container c;
	int error;

	memset(t, 0, sizeof(*t));
	t->spec = spec;
	snprintf(t->container_id, sizeof(t->container_id), "%s", id);
	t->started_ms = ef_clock_ms();
	memset(&c, 0, sizeof(c));
	if ((error = e->ops->inspect(e, &c, id)) < 0)
		return error;
	t->restart_count = c.restart_count;
	error = find_address(t, &c);
	ef_container_dispose(&c);
	return error;
}

int ef_health_readdress(ef_health_target *t, ef_engine *e)
{
	ef_container c;
	int error;

	memset(&c, 0, sizeof(c));
	if ((error = e->ops->inspect(e, &c, t->container_id)) == 0)
		error = find_address(t, &c);
	ef_container_dispose(&c);
	return error;
}

/* GET through the HTTP client port (include/edgeflip/sys/http.h): plain
 * http:// to the container's address, no redirects, the body dropped. */
static int probe_http(ef_health_target *t)
{
	const ef_health *h = &t->spec->health;
	ef_http_req req = {0};
	ef_http_reply rep;
	char url[512];
	int error = EF_ERROR;

	snprintf(url, sizeof(url), strchr(t->host, ':') ? "http://[%s]:%u%s" : "http://%s:%u%s",
	         t->host, t->port, h->http_path ? h->http_path : "/");
	req.method = "GET";
	req.url = url;
	req.allow_http = true;
	req.timeout_ms = h->timeout_ms ? h->timeout_ms : 30000;
	req.discard_body = true;
	ef_http_reply_init(&rep, 0);
	if (ef_http_request(&rep, &req) < 0) {
		snprintf(t->why, sizeof(t->why), "GET %.250s", ef_error_last());
		goto out;
	}
	if (h->http_status ? rep.status != h->http_status
	                   : (rep.status < 200 || rep.status >= 400)) {
		snprintf(t->why, sizeof(t->why), "GET %.200s: status %ld", url, rep.status);
		goto out;
	}
	error = 0;
out:
	ef_http_reply_dispose(&rep);
	return error;
}

static int probe_tcp(ef_health_target *t)
{
	uint64_t timeout = t->spec->health.timeout_ms ? t->spec->health.timeout_ms : 30000;

	if (ef_net_tcp_probe(t->host, t->port, timeout) < 0) {
		snprintf(t->why, sizeof(t->why), "TCP connect to %s:%u: %s", t->host, t->port,
		         ef_error_last());
		return EF_ERROR;
	}
	return 0;
}

static int probe_exec(ef_health_target *t, ef_engine *e)
{
	int code = -1;
	uint64_t timeout = t->spec->health.timeout_ms ? t->spec->health.timeout_ms : 30000;

	if (!e->ops->exec) {
		snprintf(t->why, sizeof(t->why), "engine backend %s cannot exec probes",
		         e->ops->name);
		return EF_ERROR;
	}
	if (e->ops->exec(e, &code, t->container_id, t->spec->health.exec_argv, timeout) < 0) {
		snprintf(t->why, sizeof(t->why), "exec probe: %s", ef_error_last());
		return EF_ERROR;
	}
	if (code != 0) {
		snprintf(t->why, sizeof(t->why), "exec probe exited with %d", code);
		return EF_ERROR;
	}
	return 0;
}

/* A container that exited or restarts is unhealthy whatever its probe says. */
static int check_running(ef_health_target *t, ef_engine *e)
{
	ef_container c;
	int error;

	memset(&c, 0, sizeof(c));
	if ((error = e->ops->inspect(e, &c, t->container_id)) < 0) {
		snprintf(t->why, sizeof(t->why), "container %.12s: %s", t->container_id,
		         ef_error_last());
		return error;
	}
	error = EF_ERROR;
	t->stopped = c.state == EF_CSTATE_EXITED || c.state == EF_CSTATE_DEAD ||
	             c.state == EF_CSTATE_RESTARTING || c.restart_count != t->restart_count;
	if (c.state == EF_CSTATE_EXITED || c.state == EF_CSTATE_DEAD)
		snprintf(t->why, sizeof(t->why), "container exited with code %d", c.exit_code);
	else if (t->stopped)
		snprintf(t->why, sizeof(t->why), "container keeps restarting (%u restarts)",
		         c.restart_count);
	else if (c.state != EF_CSTATE_RUNNING)
		snprintf(t->why, sizeof(t->why), "container is not running");
	else
		error = 0;
	ef_container_dispose(&c);
	return error;
}

int ef_health_probe(ef_health_target *t, ef_engine *e)
{
	int error = check_running(t, e);

	if (error == 0) {
		switch (t->spec->health.kind) {
		case EF_PROBE_HTTP:
			error = probe_http(t);
			break;
		case EF_PROBE_TCP:
			error = probe_tcp(t);
			break;
		case EF_PROBE_EXEC:
			error = probe_exec(t, e);
			break;
		case EF_PROBE_NONE:
			/* Running, and still running a moment later. */
			if (ef_clock_ms() - t->started_ms < 2000) {
				snprintf(t->why, sizeof(t->why), "container just started");
				error = EF_EAGAIN;
			}
			break;
		}
	}
	t->healthy = error == 0;
	if (t->healthy) {
		t->ever_healthy = true;
		t->failures = 0;
		t->why[0] = '\0';
	}
	return error;
}

/* Counts a failure unless still in start_period; true when it is fatal. */
static bool failed_for_good(ef_health_target *t, int error)
{
	uint64_t age = ef_clock_ms() - t->started_ms;

	if (error == EF_EAGAIN)
		return false;
	if (t->stopped)
		return true;
	if (age < t->spec->health.start_period_ms)
		return false;
	return ++t->failures >= (t->spec->health.retries ? t->spec->health.retries : 3);
}

int ef_health_wait(ef_health_target *ts, size_t n, ef_engine *e, uint64_t deadline_ms,
                   ef_health_target **failed)
{
	uint64_t deadline = ef_clock_ms() + deadline_ms;
	size_t ok;

	*failed = NULL;
	for (;;) {
		ok = 0;
		for (size_t i = 0; i < n; i++) {
			ef_health_target *t = &ts[i];
			int error;

			if (t->ever_healthy) {
				ok++;
				continue;
			}
			if (ef_clock_ms() < t->next_ms)
				continue;
			t->next_ms = ef_clock_ms() + 1000;
			error = ef_health_probe(t, e);
			ef_fault_point("during-health");
			if (error == 0) {
				ef_info("healthy", "service=%s container=%.12s", t->spec->name,
				        t->container_id);
				ok++;
			} else if (failed_for_good(t, error)) {
				*failed = t;
				ef_error_set("service %s is unhealthy: %s", t->spec->name, t->why);
				return EF_ERROR;
			} else {
				ef_debug("not-healthy-yet", "service=%s why=\"%s\"", t->spec->name,
				         t->why);
			}
		}
		if (ok == n)
			return 0;
		if (ef_clock_ms() >= deadline) {
			for (size_t i = 0; i < n; i++)
				if (!ts[i].ever_healthy)
					*failed = &ts[i];
			ef_error_set("service %s did not become healthy within %llus: %s",
			             (*failed)->spec->name,
			             (unsigned long long)(deadline_ms / 1000), (*failed)->why);
			return EF_ETIMEOUT;
		}
		if (ef_clock_sleep(200))
			return EF_EAGAIN; /* asked to stop */
	}
}

int ef_health_watch(ef_health_target *ts, size_t n, ef_engine *e, uint64_t duration_ms,
                    ef_health_target **failed)
{
	uint64_t end = ef_clock_ms() + duration_ms;

	*failed = NULL;
	for (size_t i = 0; i < n; i++)
		ts[i].failures = 0;
	while (ef_clock_ms() < end) {
		for (size_t i = 0; i < n; i++) {
			ef_health_target *t = &ts[i];
			uint64_t interval = t->spec->health.interval_ms;
			int error;

			if (ef_clock_ms() < t->next_ms)
				continue;
			/* Probe at the service's interval, but at least every 5 s during
			 * soak so a short soak window still sees failures. */
			if (!interval || interval > 5000)
				interval = 5000;
			t->next_ms = ef_clock_ms() + interval;
			error = ef_health_probe(t, e);
			ef_fault_point("during-soak");
			if (error != 0 && error != EF_EAGAIN) {
				if (t->stopped ||
				    ++t->failures >= (t->spec->health.retries
				                              ? t->spec->health.retries
				                              : 3)) {
					*failed = t;
					ef_error_set("service %s became unhealthy during soak: %s",
					             t->spec->name, t->why);
					return EF_ERROR;
				}
			}
		}
		if (ef_clock_sleep(100))
			return EF_EAGAIN;
	}
	return 0;
}
