/* Crash recovery (core/deploy/recover.c) against a fake engine and switch:
 * traffic never goes back to a container that is gone, the staged instance
 * that already served takes over, a first deploy is adopted, and a serving
 * container is never removed. Liveness probes go to real loopback sockets. */
#include "edgeflip/deploy.h"
#include "edgeflip/error.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#define REV_OLD "1111111111111111111111111111111111111111"
#define REV_NEW "2222222222222222222222222222222222222222"

/* The fake engine: containers by id, each running or not, publishing one
 * loopback port. */
typedef struct {
	char id[65];
	bool exists, running;
	uint16_t port;
	/* Compose names (names_*): the alias "web" on edgeflip_default when
	 * `named`, the container's name, and container_name "web" when `fixed`. */
	bool named, fixed;
	char name[64];
} fake_container;

static fake_container containers[4];
static int removes;
/* Stops and removals of a running container that still held its DNS name. */
static int gone_named;
static char removed[8][65];

static fake_container *find(const char *id)
{
	for (size_t i = 0; i < 4; i++)
		if (containers[i].exists && strcmp(containers[i].id, id) == 0)
			return &containers[i];
	return NULL;
}

static int fake_inspect(ef_engine *e, ef_container *out, const char *id)
{
	fake_container *c = find(id);

	(void)e;
	memset(out, 0, sizeof(*out));
	if (!c)
		return EF_ENOTFOUND;
	snprintf(out->id, sizeof(out->id), "%s", c->id);
	out->state = c->running ? EF_CSTATE_RUNNING : EF_CSTATE_EXITED;
	out->ports = calloc(1, sizeof(*out->ports));
	out->ports[0].host_port = c->port;
	out->nports = 1;
	out->aliases = strdup("edgeflip_default=web");
	out->endpoints = calloc(2, sizeof(char *));
	out->endpoints[0] = strdup(c->named ? "edgeflip_default=web" : "edgeflip_default=");
	out->name = strdup(c->name);
	if (c->fixed)
		out->fixed_name = strdup("web");
	return 0;
}

static int fake_stop(ef_engine *e, const char *id, unsigned timeout_s)
{
	fake_container *c = find(id);

	(void)e;
	(void)timeout_s;
	if (!c)
		return EF_ENOTFOUND;
	if (c->running && c->named)
		gone_named++;
	c->running = false;
	return 0;
}

static int fake_rename(ef_engine *e, const char *id, const char *name)
{
	fake_container *c = find(id);

	(void)e;
	if (!c)
		return EF_ENOTFOUND;
	snprintf(c->name, sizeof(c->name), "%s", name);
	return 0;
}

static int fake_connect(ef_engine *e, const char *network, const char *id, char *const *aliases)
{
	fake_container *c = find(id);

	(void)e;
	(void)network;
	if (!c)
		return EF_ENOTFOUND;
	c->named = aliases && aliases[0];
	return 0;
}

static int fake_disconnect(ef_engine *e, const char *network, const char *id)
{
	fake_container *c = find(id);

	(void)e;
	(void)network;
	if (!c)
		return EF_ENOTFOUND;
	c->named = false;
	return 0;
}

static int fake_start(ef_engine *e, const char *id)
{
	fake_container *c = find(id);

	(void)e;
	if (!c)
		return EF_ENOTFOUND;
	c->running = true;
	return 0;
}

static int fake_remove(ef_engine *e, const char *id)
{
	fake_container *c = find(id);

	(void)e;
	if (removes < 8)
		snprintf(removed[removes++], sizeof(removed[0]), "%s", id);
	if (!c)
		return EF_ENOTFOUND;
	if (c->running && c->named)
		gone_named++;
	c->exists = false;
	return 0;
}

static const struct ef_engine_ops fake_engine_ops = {.name = "fake",
                                                     .inspect = fake_inspect,
                                                     .start = fake_start,
                                                     .stop = fake_stop,
                                                     .remove = fake_remove,
                                                     .rename = fake_rename,
                                                     .network_connect = fake_connect,
                                                     .network_disconnect = fake_disconnect};
static ef_engine fake_engine = {&fake_engine_ops};

/* The fake switch remembers the last route set. */
static uint16_t routed_port;
static size_t nrouted;

static ef_route routed_opts; /* the first route's proxy options */

static int fake_apply(ef_switch *s, const ef_route *r, size_t n)
{
	(void)s;
	nrouted = n;
	routed_port = n ? r[0].target_port : 0;
	memset(&routed_opts, 0, sizeof(routed_opts));
	if (n) {
		routed_opts.idle_timeout_ms = r[0].idle_timeout_ms;
		routed_opts.connect_timeout_ms = r[0].connect_timeout_ms;
		routed_opts.drain_timeout_ms = r[0].drain_timeout_ms;
		routed_opts.max_conns = r[0].max_conns;
		routed_opts.proxy_protocol = r[0].proxy_protocol;
	}
	return 0;
}

static const struct ef_switch_ops fake_switch_ops = {.name = "fake", .apply = fake_apply};
static ef_switch fake_switch = {&fake_switch_ops};

/* Two listening loopback sockets: what "answers" means for a probe. */
static int listeners[2];
static uint16_t live_port[2];

static uint16_t listen_any(int *fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	*fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(*fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(*fd, 16), 0);
	assert_int_equal(getsockname(*fd, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin_port);
}

static ef_config cfg;
static ef_state st;
static ef_switch *sw;
static volatile sig_atomic_t rollback_flag;
static char dir[] = "/tmp/ef-test-recover.XXXXXX";

static void record(ef_state_service *s, const char *id, uint16_t port, const char *slot)
{
	char line[100];

	memset(s, 0, sizeof(*s));
	s->name = strdup("web");
	s->container_id = strdup(id);
	s->spec_hash = strdup(id);
	s->image = strdup("img");
	s->slot = strdup(slot);
	s->public_ports = calloc(2, sizeof(char *));
	snprintf(line, sizeof(line), "tcp 0.0.0.0 8080 127.0.0.1 %u", port);
	s->public_ports[0] = strdup(line);
}

/* blue: in `services` (unless first), green: staged; phase as given. */
static ef_deploy_ctx setup(ef_phase phase, bool first, bool blue_exists, bool green_exists)
{
	ef_deploy_ctx c;

	memset(containers, 0, sizeof(containers));
	removes = 0;
	gone_named = 0;
	nrouted = 0;
	routed_port = 0;
	containers[0] = (fake_container){"b1ue", blue_exists,        true, live_port[0], true,
	                                 false,  "edgeflip-web-blue"};
	containers[1] = (fake_container){"9reen", green_exists,        true, live_port[1], false,
	                                 false,   "edgeflip-web-green"};
	ef_state_dispose(&st);
	ef_state_init(&st);
	st.version = EF_STATE_VERSION;
	if (!first) {
		snprintf(st.revision, sizeof(st.revision), "%s", REV_OLD);
		st.services = calloc(1, sizeof(*st.services));
		record(&st.services[0], "b1ue", live_port[0], "blue");
		st.nservices = 1;
	}
	st.phase = phase;
	snprintf(st.target, sizeof(st.target), "%s", REV_NEW);
	st.staged = calloc(1, sizeof(*st.staged));
	record(&st.staged[0], "9reen", live_port[1], first ? "blue" : "green");
	st.nstaged = 1;
	memset(&c, 0, sizeof(c));
	c.cfg = &cfg;
	c.engine = &fake_engine;
	sw = &fake_switch;
	c.sw = &sw;
	c.st = &st;
	c.rollback_requested = &rollback_flag;
	return c;
}

static bool was_removed(const char *id)
{
	for (int i = 0; i < removes; i++)
		if (strcmp(removed[i], id) == 0)
			return true;
	return false;
}

static void blue_alive_keeps_blue(void **unused)
{
	ef_deploy_ctx c = setup(EF_PHASE_SOAK, false, true, true);

	(void)unused;
	assert_int_equal(ef_deploy_recover(&c), 0);
	assert_int_equal(nrouted, 1);
	assert_int_equal(routed_port, live_port[0]);
	assert_string_equal(st.services[0].container_id, "b1ue");
	assert_true(was_removed("9reen"));
	assert_false(was_removed("b1ue"));
	assert_string_equal(st.revision, REV_OLD);
	assert_int_equal(st.phase, EF_PHASE_IDLE);
	assert_int_equal(st.nstaged, 0);
	assert_string_equal(st.history[0].result, "interrupted");
	assert_false(c.restore_needed);
}

/* A crash loop: one history entry per interrupted deploy, with a count. */
static void interrupted_twice_is_one_entry(void **unused)
{
	ef_deploy_ctx c = setup(EF_PHASE_SOAK, false, true, true);

	(void)unused;
	assert_int_equal(ef_deploy_recover(&c), 0);
	containers[1].exists = true;
	st.phase = EF_PHASE_SOAK;
	snprintf(st.target, sizeof(st.target), "%s", REV_NEW);
	st.staged = calloc(1, sizeof(*st.staged));
	record(&st.staged[0], "9reen", live_port[1], "green");
	st.nstaged = 1;
	assert_int_equal(ef_deploy_recover(&c), 0);
	assert_int_equal(st.nhistory, 1);
	assert_string_equal(st.history[0].result, "interrupted");
	assert_non_null(strstr(st.history[0].reason, "stopped 2 times"));
}

/* The bug of issue 16: blue was removed while the agent was down; traffic
 * must stay on green, which served during the soak. */
static void blue_gone_in_soak_adopts_green(void **unused)
{
	ef_deploy_ctx c = setup(EF_PHASE_SOAK, false, false, true);

	(void)unused;
	assert_int_equal(ef_deploy_recover(&c), 0);
	assert_int_equal(routed_port, live_port[1]);
	assert_int_equal(st.nservices, 1);
	assert_string_equal(st.services[0].container_id, "9reen");
	assert_false(was_removed("9reen"));
	assert_string_equal(st.revision, REV_NEW);
	assert_string_equal(st.previous, REV_OLD);
	assert_string_equal(st.history[0].result, "deployed");
	assert_false(c.restore_needed);
}

/* Before the flip green never passed its checks: not adopted; the running
 * revision must be brought up again. */
static void blue_gone_before_flip_restores(void **unused)
{
	ef_deploy_ctx c = setup(EF_PHASE_HEALTH, false, false, true);

	(void)unused;
	ef_deploy_recover(&c);
	assert_true(was_removed("9reen"));
	assert_true(c.restore_needed);
	assert_string_equal(st.revision, REV_OLD);
}

/* A stopped blue is started again, then keeps traffic. */
static void stopped_blue_is_started(void **unused)
{
	ef_deploy_ctx c = setup(EF_PHASE_SOAK, false, true, true);

	(void)unused;
	containers[0].running = false;
	assert_int_equal(ef_deploy_recover(&c), 0);
	assert_true(containers[0].running);
	assert_int_equal(routed_port, live_port[0]);
}

/* The first deploy killed in its soak: nothing older; what serves stays. */
static void first_deploy_in_soak_is_adopted(void **unused)
{
	ef_deploy_ctx c = setup(EF_PHASE_SOAK, true, false, true);

	(void)unused;
	assert_int_equal(ef_deploy_recover(&c), 0);
	assert_int_equal(st.nservices, 1);
	assert_string_equal(st.services[0].container_id, "9reen");
	assert_int_equal(removes, 0);
	assert_int_equal(routed_port, live_port[1]);
	assert_string_equal(st.revision, REV_NEW);
	assert_string_equal(st.previous, "");
	assert_string_equal(st.history[0].result, "deployed");
}

static void serving_container_is_never_removed(void **unused)
{
	ef_deploy_ctx c = setup(EF_PHASE_IDLE, false, true, true);

	(void)unused;
	assert_int_equal(ef_deploy_remove(&c, "b1ue", "web", "test"), EF_EINVALID);
	assert_int_equal(removes, 0);
	assert_true(containers[0].exists);
	assert_int_equal(ef_deploy_remove(&c, "9reen", "web", "test"), 0);
	assert_false(containers[1].exists);
}

/* A commit that landed: retire what staged lists, never what serves. */
static void commit_retires_old_only(void **unused)
{
	ef_deploy_ctx c = setup(EF_PHASE_COMMIT, false, true, true);

	(void)unused;
	/* After the commit write: green serves, blue is listed to retire. */
	ef_state_service tmp = st.services[0];
	st.services[0] = st.staged[0];
	st.staged[0] = tmp;
	assert_int_equal(ef_deploy_recover(&c), 0);
	assert_true(was_removed("b1ue"));
	assert_false(was_removed("9reen"));
	assert_int_equal(st.phase, EF_PHASE_IDLE);
}

/* Killed in soak after the flip moved the names (green has the alias and
 * container_name, blue neither): recovery routes back to blue, and blue gets
 * its alias and its container_name back. */
static void names_come_back_with_blue(void **unused)
{
	ef_deploy_ctx c = setup(EF_PHASE_SOAK, false, true, true);

	(void)unused;
	containers[0].named = false;
	containers[0].fixed = true;
	containers[1].named = true;
	containers[1].fixed = true;
	snprintf(containers[1].name, sizeof(containers[1].name), "web");
	assert_int_equal(ef_deploy_recover(&c), 0);
	assert_int_equal(routed_port, live_port[0]);
	assert_true(was_removed("9reen"));
	assert_true(containers[0].named);
	assert_string_equal(containers[0].name, "web");
}

/* A retired container gets its stop signal before it is removed; the one
 * that serves is never stopped. */
static void commit_stops_then_removes_old(void **unused)
{
	ef_deploy_ctx c = setup(EF_PHASE_COMMIT, false, true, true);

	(void)unused;
	ef_state_service tmp = st.services[0];
	st.services[0] = st.staged[0];
	st.staged[0] = tmp;
	containers[0].exists = true;
	assert_int_equal(ef_deploy_recover(&c), 0);
	assert_true(containers[1].running);
	assert_false(containers[0].exists);
}

/* A running container that holds its DNS name leaves the network before it
 * is stopped or removed (docs/deploy.md, "Stopping old instances"): green,
 * named after the flip, removed by recovery; blue, still named, retired at
 * commit. */
static void names_left_before_stop_or_remove(void **unused)
{
	ef_deploy_ctx c = setup(EF_PHASE_SOAK, false, true, true);

	(void)unused;
	containers[1].named = true;
	assert_int_equal(ef_deploy_recover(&c), 0);
	assert_true(was_removed("9reen"));
	assert_true(containers[0].named);
	assert_int_equal(gone_named, 0);

	c = setup(EF_PHASE_COMMIT, false, true, true);
	ef_state_service tmp = st.services[0];
	st.services[0] = st.staged[0];
	st.staged[0] = tmp;
	assert_true(containers[0].named && containers[0].running);
	assert_int_equal(ef_deploy_recover(&c), 0);
	assert_false(containers[0].exists);
	assert_int_equal(gone_named, 0);
}

/* The journal's route lines carry the proxy options of x-edgeflip.ports
 * (docs/state.md): written by ef_deploy_route_line, read back by every
 * route the switch gets (here: recovery's); the five-field lines of older
 * journals still read; a bad option is an error naming it. */
static void route_options_in_journal(void **unused)
{
	ef_route r = {.protocol = "tcp",
	              .listen_addr = "0.0.0.0",
	              .listen_port = 8080,
	              .target_addr = "127.0.0.1",
	              .target_port = 41001,
	              .service = "web",
	              .idle_timeout_ms = 3000,
	              .drain_timeout_ms = 86400000,
	              .max_conns = 7,
	              .proxy_protocol = true};
	char line[256], tiny[30];
	ef_route *back = NULL;
	size_t n = 0;
	ef_deploy_ctx c;

	(void)unused;
	assert_int_equal(ef_deploy_route_line(line, sizeof(line), &r), 0);
	assert_string_equal(line, "tcp 0.0.0.0 8080 127.0.0.1 41001 idle=3000 drain=86400000 max=7 "
	                          "pp=v2");
	assert_int_equal(ef_deploy_route_line(tiny, sizeof(tiny), &r), EF_EINVALID);

	c = setup(EF_PHASE_SOAK, false, true, true);
	free(st.services[0].public_ports[0]);
	snprintf(line, sizeof(line), "tcp 0.0.0.0 8080 127.0.0.1 %u idle=3000 connect=250 pp=v2",
	         live_port[0]);
	st.services[0].public_ports[0] = strdup(line);
	assert_int_equal(ef_deploy_recover(&c), 0);
	assert_int_equal(routed_port, live_port[0]);
	assert_int_equal(routed_opts.idle_timeout_ms, 3000);
	assert_int_equal(routed_opts.connect_timeout_ms, 250);
	assert_int_equal(routed_opts.drain_timeout_ms, 0);
	assert_true(routed_opts.proxy_protocol);

	assert_int_equal(ef_deploy_routes(&back, &n, st.services, 1), 0);
	assert_int_equal(n, 1);
	assert_int_equal(back[0].idle_timeout_ms, 3000);
	ef_routes_free(back, n);
	for (size_t i = 0; i < 5; i++) {
		static const char *const bad[] = {"idle=0", "idle=86400001", "max=x", "pp=v1",
		                                  "tls=1"};

		free(st.services[0].public_ports[0]);
		snprintf(line, sizeof(line), "tcp 0.0.0.0 8080 127.0.0.1 41001 %s", bad[i]);
		st.services[0].public_ports[0] = strdup(line);
		back = NULL;
		assert_int_equal(ef_deploy_routes(&back, &n, st.services, 1), EF_EINVALID);
		assert_non_null(strstr(ef_error_last(), bad[i]));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(blue_alive_keeps_blue),
	        cmocka_unit_test(route_options_in_journal),
	        cmocka_unit_test(interrupted_twice_is_one_entry),
	        cmocka_unit_test(blue_gone_in_soak_adopts_green),
	        cmocka_unit_test(blue_gone_before_flip_restores),
	        cmocka_unit_test(stopped_blue_is_started),
	        cmocka_unit_test(first_deploy_in_soak_is_adopted),
	        cmocka_unit_test(serving_container_is_never_removed),
	        cmocka_unit_test(commit_retires_old_only),
	        cmocka_unit_test(names_come_back_with_blue),
	        cmocka_unit_test(commit_stops_then_removes_old),
	        cmocka_unit_test(names_left_before_stop_or_remove),
	};
	int rc;

	assert_non_null(mkdtemp(dir));
	live_port[0] = listen_any(&listeners[0]);
	live_port[1] = listen_any(&listeners[1]);
	cfg.state_dir = dir;
	cfg.history_size = 20;
	ef_state_init(&st);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	ef_state_dispose(&st);
	close(listeners[0]);
	close(listeners[1]);
	{
		char path[200];
		snprintf(path, sizeof(path), "%s/state.json", dir);
		unlink(path);
		rmdir(dir);
	}
	return rc;
}
