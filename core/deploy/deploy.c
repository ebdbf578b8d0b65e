/* The deploy state machine: PULL -> STAGE -> HEALTH -> FLIP -> SOAK -> COMMIT,
 * any failure -> ROLLBACK. Every phase change is journaled before it is acted
 * on, so that recovery after a crash can finish or undo the deploy.
 *
 * During a deploy the journal keeps the running set in `services` untouched
 * and lists the new containers in `staged`. Undo = flip routes back to
 * `services`, start their containers if they were stopped, remove `staged`.
 * COMMIT swaps in one journal write: `services` becomes the new set and
 * `staged` the old containers to retire. */
#include "deploy_internal.h"
#include "networks.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/fault.h"
#include "edgeflip/health.h"
#include "edgeflip/log.h"
#include "edgeflip/spec.h"
#include "edgeflip/sys/clock.h"
#include "edgeflip/sys/fs.h"
#include "edgeflip/sys/platform.h"
#include "edgeflip/sys/net.h"
#include "edgeflip/sys/switch.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

static const char *other_slot(const char *slot)
{
	return slot && strcmp(slot, "blue") == 0 ? "green" : "blue";
}

static bool publishes(const ef_service *s)
{
	for (size_t i = 0; i < s->nports; i++)
		if (s->ports[i].host_port)
			return true;
	return false;
}

static ef_strategy strategy_of(const ef_service *s)
{
	if (s->strategy != EF_STRATEGY_AUTO)
		return s->strategy;
	/* Exclusive resources cannot exist twice. */
	if (s->devices || (s->network_mode && strcmp(s->network_mode, "host") == 0))
		return EF_STRATEGY_RECREATE;
	return publishes(s) ? EF_STRATEGY_BLUEGREEN : EF_STRATEGY_HANDOVER;
}

static const char *strategy_name(ef_strategy s)
{
	static const char *const names[] = {"auto", "bluegreen", "handover", "recreate", "canary"};

	return names[s];
}

typedef struct {
	ef_deploy_ctx *c;
	const ef_manifest *m;
	const ef_plan *plan;
	const char *target;
	bool repair_only;    /* target is the running revision: no flip, no soak */
	bool health_started; /* a failure from here on is the new containers' */
	bool flipped;
	bool committed;      /* the COMMIT record is on disk */
	bool names_taken;    /* the new instances have the service names */
	uint64_t flipped_ms; /* when traffic moved to the new set */
	ef_health_target *health;
	size_t nhealth;
	ef_engine_port *ports; /* scratch for create requests */
	ef_files files;        /* relative binds, secrets, configs of the target */
	char files_root[4096];
	char secret_root[4096];
} deploy;

static int journal(deploy *d, ef_phase phase)
{
	int error;

	d->c->st->phase = phase;
	if (phase == EF_PHASE_COMMIT && ef_fault_errno("journal-commit", ENOSPC)) {
		ef_error_set("cannot write the journal: %s", strerror(ENOSPC));
		error = EF_ERROR;
	} else {
		error = ef_deploy_save(d->c);
	}
	if (error < 0)
		ef_error_prefix("cannot journal phase %s", ef_phase_name(phase));
	ef_fault_point("after-journal");
	return error;
}

static bool needs_new_container(const ef_action *act)
{
	return act->kind == EF_ACT_CREATE || act->kind == EF_ACT_REPLACE ||
	       (act->kind == EF_ACT_REPAIR && !act->old_id);
}

static int pull_all(deploy *d)
{
	ef_engine *e = d->c->engine;
	char native[64];

	if (ef_platform_native(native, sizeof(native)) < 0)
		return EF_ERROR;
	for (size_t i = 0; i < d->plan->count; i++) {
		const ef_action *act = &d->plan->actions[i];
		int error;
		if (needs_new_container(act) &&
		    (error = ef_spec_platform_check(act->service, act->spec->platform, native)) < 0)
			return error;
	}

	for (size_t i = 0; i < d->plan->count; i++) {
		const ef_action *act = &d->plan->actions[i];
		int error;

		if (!needs_new_container(act))
			continue;
		ef_info("pull", "service=%s image=%s", act->service, act->spec->image);
		ef_fault_point("during-pull");
		if ((error = e->ops->pull(e, act->spec->image)) < 0) {
			ef_error_prefix("service %s: cannot pull %s", act->service,
			                act->spec->image);
			return error;
		}
	}
	return 0;
}

static bool is_public_port(const ef_manifest *m, uint16_t port)
{
	for (size_t i = 0; i < m->nservices; i++)
		for (size_t j = 0; j < m->services[i].nports; j++)
			if (m->services[i].ports[j].host_port == port)
				return true;
	return false;
}

/* A free loopback port that no public port of the manifest uses: a public
 * port the switch has not bound yet is free to the kernel too. */
static int internal_port(uint16_t *out, const ef_manifest *m, const char *protocol)
{
	for (int attempt = 0; attempt < 16; attempt++) {
		int error = ef_net_free_port(out, strcmp(protocol, "udp") == 0);
		if (error < 0)
			return error;
		if (!is_public_port(m, *out))
			return 0;
	}
	ef_error_set("cannot find a free loopback port outside the public ports");
	return EF_ERROR;
}

/* Blue/green: the container publishes each port on a free loopback port; the
 * switch routes the public port there. Other strategies: ports as written. */
static int stage_ports(deploy *d, ef_state_service *rec, const ef_service *s, ef_strategy st,
                       const char *public_address)
{
	free(d->ports);
	d->ports = NULL;
	if ((st != EF_STRATEGY_BLUEGREEN && st != EF_STRATEGY_CANARY) || !s->nports)
		return 0;
	d->ports = calloc(s->nports, sizeof(*d->ports));
	if (!d->ports)
		return EF_ENOMEM;
	for (size_t i = 0; i < s->nports; i++) {
		ef_engine_port *p = &d->ports[i];
		const char *listen = s->ports[i].host_ip ? s->ports[i].host_ip : public_address;
		const ef_port_opts *o;
		ef_route route;
		uint16_t internal;
		char line[256];
		int error;

		p->container_port = s->ports[i].container_port;
		memcpy(p->protocol, s->ports[i].protocol, sizeof(p->protocol));
		/* 127.0.0.1, or the nftables backend's own address (docs/switch.md). */
		p->host_ip = (char *)ef_switch_target_addr(d->c->cfg->switch_backend, listen);
		if (!s->ports[i].host_port) {
			p->host_port = 0;
			continue;
		}
		if ((error = internal_port(&internal, d->m, p->protocol)) < 0)
			return error;
		p->host_port = internal;
		route = (ef_route){.listen_addr = (char *)listen,
		                   .listen_port = s->ports[i].host_port,
		                   .target_addr = p->host_ip,
		                   .target_port = internal,
		                   .service = s->name};
		memcpy(route.protocol, s->ports[i].protocol, sizeof(route.protocol));
		if (strcmp(route.protocol, "tcp") == 0 &&
		    (o = ef_service_port_opts(s, route.listen_port))) {
			route.idle_timeout_ms = o->idle_timeout_ms;
			route.connect_timeout_ms = o->connect_timeout_ms;
			route.drain_timeout_ms = o->drain_timeout_ms;
			route.max_conns = o->max_conns;
			route.proxy_protocol = o->proxy_protocol;
		}
		if ((error = ef_deploy_route_line(line, sizeof(line), &route)) < 0 ||
		    (error = ef_strv_push(&rec->public_ports, line)) < 0)
			return error;
	}
	return 0;
}

/* Picks the container name for a new instance of `service`, normally the
 * slot opposite the serving one. A container left with that name by an
 * interrupted deploy is removed; if the name belongs to a container the
 * running set serves from (labels and journal disagree), the other slot is
 * taken instead. */
static int claim_name(ef_deploy_ctx *c, char *name, size_t size, const char *service,
                      const char **slot)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		ef_container k;
		bool serving = false;
		int error;

		snprintf(name, size, "edgeflip-%s-%s", service, *slot);
		memset(&k, 0, sizeof(k));
		error = c->engine->ops->inspect(c->engine, &k, name);
		if (error == EF_ENOTFOUND)
			return 0;
		if (error < 0)
			return error;
		for (size_t i = 0; i < c->st->nservices; i++)
			if (strcmp(c->st->services[i].container_id, k.id) == 0)
				serving = true;
		if (!serving) {
			error = ef_deploy_remove(
			        c, k.id, service,
			        "leftover of an interrupted deploy holds the name");
			ef_container_dispose(&k);
			return error == EF_ENOTFOUND ? 0 : error;
		}
		ef_warn("slot-taken",
		        "service=%s container=%.12s name=%s what=\"serves "
		        "traffic; the new instance takes the other slot\"",
		        service, k.id, name);
		ef_container_dispose(&k);
		*slot = other_slot(*slot);
	}
	ef_error_set("service %s: both slot names are taken by serving containers", service);
	return EF_ERROR;
}

static const char *network_prefix(const ef_deploy_ctx *c)
{
	return c->cfg->engine_project && *c->cfg->engine_project ? c->cfg->engine_project
	                                                         : "edgeflip";
}

/* Compose creates a missing bind source directory; mounts passed structured
 * are not created by the engine, so the deploy does it. An existing file or
 * directory is left as it is. */
static int make_bind_sources(const ef_container_spec *spec)
{
	for (size_t i = 0; i < spec->nmounts; i++) {
		const ef_engine_mount *m = &spec->mounts[i];
		int error;

		if (m->type != EF_ENGINE_MOUNT_BIND)
			continue;
		if ((error = ef_fs_mkdir_p(m->source, 0755)) < 0) {
			ef_error_prefix("bind mount source %s", m->source);
			return error;
		}
	}
	return 0;
}

static int stage_one(deploy *d, const ef_action *act)
{
	ef_deploy_ctx *c = d->c;
	ef_engine *e = c->engine;
	const ef_service *s = act->spec;
	ef_strategy strat = strategy_of(s);
	ef_state_service rec, *v;
	ef_container_spec spec;
	ef_spec_opts sopts;
	ef_create_req req;
	char name[160], id[65];
	const char *slot = other_slot(act->old_slot);
	int error;

	memset(&rec, 0, sizeof(rec));
	memset(&spec, 0, sizeof(spec));
	/* A leftover of an interrupted deploy may hold the name; the container
	 * that serves never gives its name up. */
	if ((error = claim_name(c, name, sizeof(name), s->name, &slot)) < 0)
		return error;
	rec.name = strdup(s->name);
	rec.spec_hash = strdup(s->spec_hash);
	rec.image = strdup(s->image);
	rec.slot = strdup(slot);
	if ((error = stage_ports(d, &rec, s, strat, c->cfg->public_address)) < 0)
		goto out;

	memset(&sopts, 0, sizeof(sopts));
	sopts.network_prefix = network_prefix(d->c);
	sopts.manifest = d->m;
	sopts.files = &d->files;
	if (d->ports) {
		sopts.ports = d->ports;
		sopts.nports = s->nports;
	}
	/* While the old instance serves, the name stays with it: the new one
	 * gets its aliases at the flip. */
	sopts.aliases = !(act->old_id && strat != EF_STRATEGY_RECREATE);
	if ((error = ef_spec_build(&spec, s, &sopts)) < 0 || (error = make_bind_sources(&spec)) < 0)
		goto out;
	/* Without stop_grace_period, the agent's [deploy] stop_timeout. */
	if (spec.stop_grace_s < 0)
		spec.stop_grace_s = (int)((c->cfg->stop_timeout_ms + 999) / 1000);
	memset(&req, 0, sizeof(req));
	req.name = name;
	req.spec = &spec;
	req.service = s->name;
	req.slot = slot;
	req.revision = d->target;
	req.spec_hash = s->spec_hash;
	/* Once this container serves, the revision before its own. */
	req.previous = d->repair_only ? c->st->previous : c->st->revision;
	if ((error = e->ops->create(e, id, &req)) < 0) {
		ef_error_prefix("service %s: cannot create container", s->name);
		goto out;
	}
	rec.container_id = strdup(id);
	/* Journal the new container before it runs, so a crash cannot leave it
	 * unknown. */
	v = realloc(c->st->staged, (c->st->nstaged + 1) * sizeof(*v));
	if (!v) {
		error = EF_ENOMEM;
		goto out;
	}
	c->st->staged = v;
	c->st->staged[c->st->nstaged++] = rec;
	memset(&rec, 0, sizeof(rec)); /* now owned by the journal */
	if ((error = ef_deploy_save(c)) < 0)
		goto out;
	ef_fault_point("after-create");

	/* Recreate: the old container holds exclusive resources; stop it first
	 * (it stays, stopped, until commit, so that a failure can restart it). */
	if (strat == EF_STRATEGY_RECREATE && act->old_id) {
		ef_info("stopped",
		        "service=%s container=%.12s why=\"recreate: frees its "
		        "exclusive resources for the new one\"",
		        s->name, act->old_id);
		/* Stopped on its networks, not taken off them first: it may
		 * hold a fixed address (ipv4_address) that a disconnect would
		 * give up, and a rollback restarts it as it was. */
		if ((error = e->ops->stop(e, act->old_id, EF_STOP_CONFIGURED)) < 0)
			goto out;
	}
	if ((error = e->ops->start(e, id)) < 0) {
		ef_error_prefix("service %s: cannot start container", s->name);
		goto out;
	}
	ef_info("started", "service=%s container=%.12s slot=%s strategy=%s reason=\"%s\"", s->name,
	        id, slot, strategy_name(strat), act->reason);
out:
	ef_spec_dispose(&spec);
	ef_state_service_dispose(&rec);
	return error;
}

/* The order to stage in: a service after the services it depends on
 * (depends_on), otherwise by name. A cycle is refused naming it. */
static int visit(size_t *order, size_t *n, unsigned char *mark, const ef_plan *plan, size_t i,
                 const char *path)
{
	const ef_service *s = plan->actions[i].spec;
	char via[1024];
	int error;

	if (mark[i] == 2)
		return 0;
	if (mark[i] == 1) {
		ef_error_set("depends_on: a cycle: %s -> %s; break it", path,
		             plan->actions[i].service);
		return EF_EINVALID;
	}
	mark[i] = 1;
	snprintf(via, sizeof(via), "%s%s%s", path, *path ? " -> " : "", plan->actions[i].service);
	for (size_t j = 0; s && j < s->ndepends_on; j++)
		for (size_t k = 0; k < plan->count; k++)
			if (strcmp(plan->actions[k].service, s->depends_on[j].service) == 0 &&
			    (error = visit(order, n, mark, plan, k, via)) < 0)
				return error;
	mark[i] = 2;
	order[(*n)++] = i;
	return 0;
}

static int stage_order(size_t **out, const ef_plan *plan)
{
	size_t *order = calloc(plan->count + 1, sizeof(*order)), n = 0;
	unsigned char *mark = calloc(plan->count + 1, 1);
	int error = EF_ENOMEM;

	if (!order || !mark)
		goto out;
	for (size_t i = 0; i < plan->count; i++)
		if ((error = visit(order, &n, mark, plan, i, "")) < 0)
			goto out;
	*out = order;
	order = NULL;
	error = 0;
out:
	free(order);
	free(mark);
	return error;
}

static const ef_state_service *staged_of(const ef_state *st, const char *name)
{
	for (size_t i = 0; i < st->nstaged; i++)
		if (strcmp(st->staged[i].name, name) == 0)
			return &st->staged[i];
	return NULL;
}

/* service_completed_successfully: waits for the container to exit, 0. */
static int wait_completed(deploy *d, const char *service, const char *id)
{
	ef_engine *e = d->c->engine;
	uint64_t deadline = ef_clock_ms() + d->c->cfg->health_timeout_ms;
	int error;

	for (;;) {
		ef_container c;
		memset(&c, 0, sizeof(c));
		if ((error = e->ops->inspect(e, &c, id)) < 0)
			return error;
		if (c.state == EF_CSTATE_EXITED || c.state == EF_CSTATE_DEAD) {
			int code = c.exit_code;
			ef_container_dispose(&c);
			if (code == 0)
				return 0;
			ef_error_set(
			        "service %s exited with code %d (service_completed_successfully "
			        "wants 0)",
			        service, code);
			return EF_ERROR;
		}
		ef_container_dispose(&c);
		if (ef_clock_ms() >= deadline) {
			ef_error_set("service %s did not complete within %llu ms", service,
			             (unsigned long long)d->c->cfg->health_timeout_ms);
			return EF_ETIMEOUT;
		}
		if (ef_clock_sleep(200))
			return EF_EAGAIN; /* asked to stop */
	}
}

/* depends_on conditions on services staged in this pass (others run as
 * they are: unchanged services were healthy when they were deployed). */
static int wait_dependencies(deploy *d, const ef_service *s)
{
	ef_deploy_ctx *c = d->c;
	int error = 0;

	for (size_t i = 0; i < s->ndepends_on && error == 0; i++) {
		const ef_depends *dep = &s->depends_on[i];
		const ef_state_service *rec = staged_of(c->st, dep->service);
		const ef_service *ds = ef_manifest_find(d->m, dep->service);
		ef_health_target t, *failed = NULL;

		if (!rec || !ds || dep->condition == EF_DEP_STARTED)
			continue;
		ef_info("wait-dependency", "service=%s on=%s condition=%s", s->name, dep->service,
		        dep->condition == EF_DEP_HEALTHY ? "service_healthy"
		                                         : "service_completed_successfully");
		if (dep->condition == EF_DEP_COMPLETED) {
			error = wait_completed(d, dep->service, rec->container_id);
		} else if ((error = ef_health_init(&t, c->engine, ds, rec->container_id)) == 0) {
			error = ef_health_wait(&t, 1, c->engine, c->cfg->health_timeout_ms,
			                       &failed);
		}
		if (error < 0 && error != EF_EAGAIN)
			ef_error_prefix("service %s depends on %s", s->name, dep->service);
	}
	return error;
}

static int stage_all(deploy *d)
{
	ef_engine *e = d->c->engine;
	size_t *order = NULL;
	int error;

	if ((error = stage_order(&order, d->plan)) < 0)
		return error;
	for (size_t k = 0; k < d->plan->count; k++) {
		const ef_action *act = &d->plan->actions[order[k]];

		if (act->kind == EF_ACT_REPAIR && act->old_id) {
			ef_info("repair", "service=%s container=%.12s reason=\"%s\"", act->service,
			        act->old_id, act->reason);
			if ((error = e->ops->start(e, act->old_id)) < 0)
				break;
			continue;
		}
		if (!needs_new_container(act))
			continue;
		if ((error = wait_dependencies(d, act->spec)) < 0 ||
		    (error = stage_one(d, act)) < 0)
			break;
	}
	free(order);
	return error;
}

static int wait_healthy(deploy *d)
{
	d->health_started = true;
	ef_deploy_ctx *c = d->c;
	ef_health_target *failed = NULL;
	int error;

	d->health = calloc(c->st->nstaged + 1, sizeof(*d->health));
	if (!d->health)
		return EF_ENOMEM;
	for (size_t i = 0; i < c->st->nstaged; i++) {
		const ef_service *s = ef_manifest_find(d->m, c->st->staged[i].name);
		/* One that runs to completion is healthy once it exited 0. */
		if (ef_plan_runs_once(d->m, s->name)) {
			if ((error = wait_completed(d, s->name, c->st->staged[i].container_id)) < 0)
				return error;
			continue;
		}
		if ((error = ef_health_init(&d->health[d->nhealth], c->engine, s,
		                            c->st->staged[i].container_id)) < 0)
			return error;
		d->nhealth++;
	}
	error = ef_health_wait(d->health, d->nhealth, c->engine, c->cfg->health_timeout_ms,
	                       &failed);
	return error;
}

/* The new set: kept services, then the staged ones, minus removed ones. */
static int new_service_set(deploy *d, ef_state_service **out, size_t *n)
{
	ef_state *st = d->c->st;
	ef_state_service *v = calloc(d->m->nservices + 1, sizeof(*v));
	size_t count = 0;
	int error = 0;

	if (!v)
		return EF_ENOMEM;
	for (size_t i = 0; i < d->m->nservices && error == 0; i++) {
		const char *name = d->m->services[i].name;
		const ef_state_service *src = NULL;

		for (size_t j = 0; j < st->nstaged; j++)
			if (strcmp(st->staged[j].name, name) == 0)
				src = &st->staged[j];
		if (!src)
			src = ef_state_find_service(st, name);
		if (!src) {
			/* Running, but the journal did not know it (rebuilt journal). */
			for (size_t j = 0; j < d->plan->count; j++) {
				const ef_action *act = &d->plan->actions[j];
				if (strcmp(act->service, name) == 0 && act->old_id) {
					v[count].name = strdup(name);
					v[count].container_id = strdup(act->old_id);
					v[count].spec_hash = strdup(act->spec->spec_hash);
					v[count].image = strdup(act->spec->image);
					v[count].slot =
					        strdup(act->old_slot ? act->old_slot : "blue");
					count++;
				}
			}
			continue;
		}
		error = ef_state_service_copy(&v[count++], src);
	}
	if (error < 0) {
		ef_state_clear_services(&v, &count);
		return error;
	}
	*out = v;
	*n = count;
	return 0;
}

/* Names follow the traffic. The new instances take the service names
 * before they take traffic: being moved between networks changes a
 * container's address, harmless only while no client uses it yet. */
static int take_names(deploy *d)
{
	ef_deploy_ctx *c = d->c;
	int error = 0;

	if (d->names_taken)
		return 0;
	for (size_t i = 0; i < c->st->nstaged && error == 0; i++)
		error = ef_names_move(c->engine, c->st->staged[i].container_id, true);
	for (size_t i = 0; i < d->nhealth && error == 0; i++)
		error = ef_health_readdress(&d->health[i], c->engine);
	d->names_taken = error == 0;
	return error;
}

/* canary hook: strategy canary's weighted steps (core/deploy/canary.c).
 * Green takes the names before its first connection, not at the flip. */
static int canary(deploy *d)
{
	ef_state_service *next = NULL;
	size_t nnext = 0;
	int error;

	if (d->repair_only)
		return 0;
	if ((error = take_names(d)) < 0 || (error = new_service_set(d, &next, &nnext)) < 0)
		return error;
	error = ef_deploy_canary(d->c, d->m, next, nnext, d->target);
	ef_state_clear_services(&next, &nnext);
	return error;
}

static int flip(deploy *d)
{
	ef_deploy_ctx *c = d->c;
	ef_state_service *next = NULL;
	size_t nnext = 0;
	uint64_t t0;
	int error;

	if ((error = new_service_set(d, &next, &nnext)) < 0)
		return error;
	if ((error = take_names(d)) < 0) {
		ef_state_clear_services(&next, &nnext);
		return error;
	}
	ef_fault_point("before-flip");
	t0 = ef_clock_ms();
	error = ef_deploy_apply_routes(c, next, nnext, "flip");
	ef_state_clear_services(&next, &nnext);
	if (error < 0)
		return error;
	d->flipped = true;
	d->flipped_ms = ef_clock_ms();
	ef_fault_point("after-flip");
	ef_info("flipped", "revision=%.12s ms=%llu", d->target,
	        (unsigned long long)(ef_clock_ms() - t0));
	/* The old instances give the names up once the connections they still
	 * serve had the drain time (until then a name resolves to both). */
	/* An old instance stopped at the handover below keeps its names until
	 * then: it leaves its networks with them and is stopped (one DNS change
	 * for clients that look the name up, ef_names_stop). */
	for (size_t i = 0; i < d->plan->count; i++) {
		const ef_action *act = &d->plan->actions[i];
		if (act->kind != EF_ACT_REPLACE || !act->old_id ||
		    strategy_of(act->spec) == EF_STRATEGY_RECREATE ||
		    strategy_of(act->spec) == EF_STRATEGY_HANDOVER)
			continue;
		if (ef_clock_ms() - d->flipped_ms < c->cfg->drain_ms)
			ef_clock_sleep(c->cfg->drain_ms - (ef_clock_ms() - d->flipped_ms));
		if (ef_names_move(c->engine, act->old_id, false) < 0)
			ef_warn("aliases-off-failed", "service=%s error=\"%s\"", act->service,
			        ef_error_last());
	}
	/* container_name: the old instance goes back to its edgeflip name, the
	 * new one takes the fixed name. */
	for (size_t i = 0; i < c->st->nstaged; i++) {
		const ef_state_service *rec = &c->st->staged[i];
		const ef_service *s = ef_manifest_find(d->m, rec->name);
		const ef_action *act = NULL;
		char temp[160];

		if (!s || !s->container_name)
			continue;
		for (size_t j = 0; j < d->plan->count; j++)
			if (strcmp(d->plan->actions[j].service, rec->name) == 0)
				act = &d->plan->actions[j];
		if (act && act->old_id) {
			snprintf(temp, sizeof(temp), "edgeflip-%s-%s", rec->name,
			         act->old_slot ? act->old_slot : other_slot(rec->slot));
			if ((error = ef_names_rename_if(c->engine, act->old_id, s->container_name,
			                                temp)) < 0)
				return error;
		}
		ef_fault_point("during-rename");
		if ((error = c->engine->ops->rename(c->engine, rec->container_id,
		                                    s->container_name)) < 0) {
			ef_error_prefix("service %s: cannot take container_name %s", rec->name,
			                s->container_name);
			return error;
		}
	}
	/* Handover: the old instance stops once the new one is healthy. */
	for (size_t i = 0; i < d->plan->count; i++) {
		const ef_action *act = &d->plan->actions[i];
		if (act->kind == EF_ACT_REPLACE && act->old_id &&
		    strategy_of(act->spec) == EF_STRATEGY_HANDOVER) {
			if (ef_clock_ms() - d->flipped_ms < c->cfg->drain_ms)
				ef_clock_sleep(c->cfg->drain_ms - (ef_clock_ms() - d->flipped_ms));
			ef_info("stopped",
			        "service=%s container=%.12s why=\"handover: the new "
			        "instance is healthy\"",
			        act->service, act->old_id);
			ef_names_stop(c->engine, act->old_id);
		}
	}
	return 0;
}

/* Containers of the old set that the new set no longer uses. */
/* Journals `id` (of service `name`) as a container to retire. The journal
 * holds one entry per service name; a second container of the same service
 * is left to the orphan sweep of the next start. */
static int push_retired(ef_state *st, const char *name, const char *id, const char *slot)
{
	ef_state_service *v;

	for (size_t i = 0; i < st->nstaged; i++)
		if (strcmp(st->staged[i].name, name) == 0 ||
		    strcmp(st->staged[i].container_id, id) == 0)
			return 0;
	v = realloc(st->staged, (st->nstaged + 1) * sizeof(*v));
	if (!v)
		return EF_ENOMEM;
	st->staged = v;
	v = &st->staged[st->nstaged++];
	memset(v, 0, sizeof(*v));
	v->name = strdup(name);
	v->container_id = strdup(id);
	v->slot = ef_strdup(slot);
	return v->name && v->container_id ? 0 : EF_ENOMEM;
}

/* Makes `staged` the containers of the old set that the new set `next` no
 * longer uses, and those of REMOVE actions the journal did not know. */
static int stage_retirement(deploy *d, const ef_state_service *next, size_t nnext)
{
	ef_state *st = d->c->st;
	ef_state_service *old = st->services;
	int error = 0;

	ef_state_clear_services(&st->staged, &st->nstaged);
	for (size_t i = 0; i < st->nservices && error == 0; i++) {
		bool used = false;
		for (size_t j = 0; j < nnext; j++)
			if (strcmp(next[j].container_id, old[i].container_id) == 0)
				used = true;
		if (!used)
			error = push_retired(st, old[i].name, old[i].container_id, old[i].slot);
	}
	for (size_t i = 0; i < d->plan->count && error == 0; i++) {
		const ef_action *act = &d->plan->actions[i];
		if (act->kind == EF_ACT_REMOVE && act->old_id)
			error = push_retired(st, act->service, act->old_id, act->old_slot);
	}
	return error;
}

static int commit(deploy *d, const char *signer)
{
	ef_deploy_ctx *c = d->c;
	ef_state *st = c->st;
	ef_state_service *next = NULL;
	size_t nnext = 0;
	char *before = NULL;
	int error;

	if ((error = new_service_set(d, &next, &nnext)) < 0)
		return error;
	/* What memory goes back to when the COMMIT record does not reach the
	 * disk: memory and disk must agree, or the rollback would undo the
	 * wrong set (green taken for the running one, blue removed). */
	if ((error = ef_state_to_json(&before, st)) < 0)
		goto out;
	/* One journal write switches the running set and lists what to retire. */
	if ((error = stage_retirement(d, next, nnext)) < 0)
		goto restore;
	ef_state_clear_services(&st->services, &st->nservices);
	st->services = next;
	st->nservices = nnext;
	next = NULL;
	nnext = 0;
	if (!d->repair_only) {
		if (st->revision[0])
			snprintf(st->previous, sizeof(st->previous), "%s", st->revision);
		snprintf(st->revision, sizeof(st->revision), "%s", d->target);
		free(st->signer);
		st->signer = strdup(signer ? signer : "");
		st->deployed_at = ef_clock_wall();
		ef_state_add_history(st, d->target, "deployed", "healthy through soak",
		                     c->cfg->history_size);
	}
	if ((error = journal(d, EF_PHASE_COMMIT)) < 0)
		goto restore;
	d->committed = true;
	/* With a soak shorter than the drain time, connections still on the old
	 * instances get the rest of it before they are retired. */
	if (d->flipped && ef_clock_ms() - d->flipped_ms < c->cfg->drain_ms)
		ef_clock_sleep(c->cfg->drain_ms - (ef_clock_ms() - d->flipped_ms));
	error = ef_deploy_finish_commit(c);
	goto out;
restore : {
	ef_state disk;
	char why[600];

	snprintf(why, sizeof(why), "%s", ef_error_last());
	ef_state_init(&disk);
	if (ef_state_from_json(&disk, before, strlen(before)) == 0) {
		ef_state_dispose(st);
		*st = disk;
	} else {
		ef_state_dispose(&disk);
	}
	ef_error_set("%s", why);
}
out:
	free(before);
	ef_state_clear_services(&next, &nnext);
	return error;
}

/* A failure the commit did not cause: the registry or the engine out of
 * reach or too slow, the disk full. The deploy is rolled back but the commit
 * is tried again with the usual backoff (docs/deploy.md, "Transient
 * failures"). Engines report registry faults as text, hence the words. */
static bool contains_nocase(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return true;
	return false;
}

static bool is_transient(int error, const char *msg)
{
	static const char *const words[] = {
	        "connection refused",
	        "dial tcp",
	        "i/o timeout",
	        "no route to host",
	        "network is unreachable",
	        "TLS handshake timeout",
	        "no space left",
	        "Service Unavailable",
	        "Bad Gateway",
	        "Gateway Timeout",
	        "temporary failure",
	        "connection reset",
	};

	if (error == EF_EUNREACHABLE || error == EF_ETIMEOUT)
		return true;
	for (size_t i = 0; msg && i < sizeof(words) / sizeof(words[0]); i++)
		if (contains_nocase(msg, words[i]))
			return true;
	return false;
}

/* What a failed deploy says about its commit: NULL when nothing (a transient
 * fault), else the kind of quarantine ("health" once the new containers ran,
 * "deploy" for what the engine refused of the commit). */
static const char *blame(const deploy *d, int error, const char *msg)
{
	if (d->health_started)
		return "health";
	return is_transient(error, msg) ? NULL : "deploy";
}

/* Asked to stop (SIGTERM): back to the running set without blaming the
 * commit, which the next start tries again. */
static void abandon(deploy *d, const char *event)
{
	ef_deploy_ctx *c = d->c;

	ef_warn(event, "revision=%.12s phase=%s", d->target, ef_phase_name(c->st->phase));
	ef_deploy_undo(c, false, "deploy abandoned: the agent was asked to stop");
	c->st->phase = EF_PHASE_IDLE;
	c->st->target[0] = '\0';
	ef_deploy_save(c);
}

/* `kind` NULL: roll back without quarantine; EF_EUNREACHABLE is returned and
 * the commit is tried again on the next pass. */
static int rollback(deploy *d, const char *why, const char *kind)
{
	ef_deploy_ctx *c = d->c;
	ef_state *st = c->st;
	uint64_t t0 = ef_clock_ms();
	char reason[600];

	snprintf(reason, sizeof(reason), "%s", why);
	ef_error("rollback", "revision=%.12s kind=%s reason=\"%s\"", d->target,
	         kind ? kind : "transient", reason);
	journal(d, EF_PHASE_ROLLBACK);
	ef_deploy_undo(c, false, "rollback: the deploy failed");
	ef_info("rolled-back", "revision=%.12s ms=%llu", d->target,
	        (unsigned long long)(ef_clock_ms() - t0));
	if (!d->repair_only && !kind) {
		ef_state_add_history(st, d->target, "retrying", reason, c->cfg->history_size);
		ef_warn("deploy-retry",
		        "revision=%.12s what=\"not quarantined: a transient fault; "
		        "tried again with backoff\"",
		        d->target);
	} else if (!d->repair_only) {
		ef_state_quarantine(st, d->target, reason);
		ef_state_quarantine_kind(st, d->target, kind);
		ef_state_add_history(st, d->target, "rolled-back", reason, c->cfg->history_size);
		snprintf(st->last_rollback.revision, sizeof(st->last_rollback.revision), "%s",
		         d->target);
		free(st->last_rollback.result);
		free(st->last_rollback.reason);
		st->last_rollback.result = strdup("rolled-back");
		st->last_rollback.reason = strdup(reason);
		st->last_rollback.at = ef_clock_wall();
	}
	st->phase = EF_PHASE_IDLE;
	st->target[0] = '\0';
	ef_deploy_save(c);
	ef_error_set("%s", reason);
	return kind ? EF_ERROR : EF_EUNREACHABLE;
}

/* Where the files of `env` go: STATE_DIR/env, decrypted secrets under
 * RUNTIME_DIR/secrets (a tmpfs). */
static void files_init(ef_files *f, char root[4096], char secret_root[4096], const ef_config *cfg,
                       const ef_compose_src *env, const ef_age_identities *age)
{
	snprintf(root, 4096, "%s/env", cfg->state_dir);
	snprintf(secret_root, 4096, "%s/secrets",
	         cfg->runtime_dir ? cfg->runtime_dir : "/run/edgeflip");
	f->src = env;
	f->root = root;
	f->age = age;
	f->secret_root = secret_root;
}

/* Folds env_file `path` (absent: its name only) into `st`. */
static int hash_env_file(crypto_hash_sha256_state *st, const ef_compose_src *env, const char *path)
{
	ef_buf content = EF_BUF_INIT(EF_FILES_MAX_FILE);
	ef_compose_kind kind = EF_COMPOSE_ABSENT;
	int error = 0;

	crypto_hash_sha256_update(st, (const unsigned char *)path, strlen(path) + 1);
	if (env && (error = env->stat(env->ctx, &kind, path)) == 0 && kind == EF_COMPOSE_FILE &&
	    (error = env->read(env->ctx, &content, path, EF_FILES_MAX_FILE)) == 0)
		crypto_hash_sha256_update(
		        st, (const unsigned char *)(content.ptr ? content.ptr : ""), content.len);
	ef_buf_dispose(&content);
	return error == EF_ENOTFOUND ? 0 : error;
}

int ef_deploy_prepare(const ef_config *cfg, ef_manifest *m, const ef_compose_src *env,
                      const ef_age_identities *age)
{
	char root[4096], secret_root[4096];
	ef_files files;
	int error = 0;

	files_init(&files, root, secret_root, cfg, env, age);
	for (size_t i = 0; i < m->nservices && error == 0; i++) {
		ef_service *s = &m->services[i];
		ef_spec_opts o = {.manifest = m, .files = &files};
		ef_container_spec spec;
		crypto_hash_sha256_state st;
		unsigned char h[32];
		bool files_used = s->nsecrets || s->nconfigs || s->nenv_files;

		for (size_t j = 0; j < s->nvolumes; j++)
			files_used |= s->volumes[j].relative || s->volumes[j].home;
		if (!files_used)
			continue;
		if ((error = ef_spec_build(&spec, s, &o)) < 0)
			break;
		/* The copies out of the commit are content-addressed: their paths
		 * stand for their content in the spec hash. */
		crypto_hash_sha256_init(&st);
		crypto_hash_sha256_update(&st, (const unsigned char *)s->spec_hash,
		                          strlen(s->spec_hash));
		for (size_t j = 0; j < spec.nmounts; j++)
			if (spec.mounts[j].source)
				crypto_hash_sha256_update(
				        &st, (const unsigned char *)spec.mounts[j].source,
				        strlen(spec.mounts[j].source) + 1);
		/* env_file contents as they are in the commit: for a SOPS
		 * document, its ciphertext (a new value is a new file, hence a new
		 * green), never a hash of a plaintext. */
		for (size_t j = 0; j < s->nenv_files && error == 0; j++)
			error = hash_env_file(&st, env, s->env_files[j].path);
		crypto_hash_sha256_final(&st, h);
		for (int k = 0; k < 32; k++)
			snprintf(&s->spec_hash[2 * k], 3, "%02x", h[k]);
		ef_spec_dispose(&spec);
	}
	return error;
}

/* Adds to `keep` the top-level directory under `root` ("ROOT/") that each
 * bind source of container `id` lies in. */
static int secrets_in_use(char ***keep, ef_engine *e, const char *id, const char *root)
{
	ef_container ct;
	size_t n = strlen(root);
	int error;

	if ((error = e->ops->inspect(e, &ct, id)) < 0)
		return error == EF_ENOTFOUND ? 0 : error; /* gone since the listing */
	for (size_t i = 0; ct.mounts && ct.mounts[i] && error == 0; i++) {
		const char *m = ct.mounts[i], *rest = m + n;
		char dir[256];

		if (strncmp(m, root, n) != 0)
			continue;
		snprintf(dir, sizeof(dir), "%.*s", (int)strcspn(rest, "/"), rest);
		if (!ef_strv_contains(*keep, dir))
			error = ef_strv_push(keep, dir);
	}
	ef_container_dispose(&ct);
	return error;
}

void ef_deploy_prune_secrets(ef_deploy_ctx *c)
{
	char root[4096], prefix[4100], dir[4400], why[1024];
	char **names = NULL, **keep = NULL;
	ef_container_list l;
	int error;

	/* A sweep after a failed deploy: the deploy's error stays the last one
	 * (the command prints it), not what the sweep met. */
	snprintf(why, sizeof(why), "%s", ef_error_last());
	memset(&l, 0, sizeof(l));
	snprintf(root, sizeof(root), "%s/secrets",
	         c->cfg->runtime_dir ? c->cfg->runtime_dir : "/run/edgeflip");
	snprintf(prefix, sizeof(prefix), "%s/", root);
	if ((error = ef_fs_list(&names, root)) < 0 || !names) {
		error = 0; /* none yet */
		goto out;
	}
	if ((error = c->engine->ops->list(c->engine, &l)) < 0)
		goto out;
	for (size_t i = 0; i < l.count && error == 0; i++)
		error = secrets_in_use(&keep, c->engine, l.items[i].id, prefix);
	if (error < 0)
		goto out; /* in doubt: keep everything */
	for (size_t i = 0; names[i]; i++) {
		if (ef_strv_contains(keep, names[i]))
			continue;
		snprintf(dir, sizeof(dir), "%s%s", prefix, names[i]);
		if (ef_fs_remove_tree(dir) == 0)
			ef_info("secrets-removed", "dir=%s why=\"no container mounts it\"", dir);
	}
out:
	if (error < 0)
		ef_warn("secrets-kept", "dir=%s why=\"%s\"", root, ef_error_last());
	ef_container_list_dispose(&l);
	ef_strv_free(names);
	ef_strv_free(keep);
	ef_error_set("%s", why);
}

int ef_deploy_run(ef_deploy_ctx *c, const ef_manifest *m, const ef_plan *plan, const char *target,
                  const char *signer)
{
	ef_state *st = c->st;
	deploy d;
	ef_health_target *failed = NULL;
	int error;

	memset(&d, 0, sizeof(d));
	d.c = c;
	d.m = m;
	d.plan = plan;
	d.target = target;
	d.repair_only = strcmp(target, st->revision) == 0;
	files_init(&d.files, d.files_root, d.secret_root, c->cfg, c->env, c->age);

	snprintf(st->target, sizeof(st->target), "%s", target);
	free(st->target_signer);
	st->target_signer = ef_strdup(signer);
	ef_info("deploy", "revision=%.12s changes=%zu repair=%s", target, plan->changes,
	        d.repair_only ? "yes" : "no");

	if ((error = journal(&d, EF_PHASE_PULL)) < 0) {
		st->phase = EF_PHASE_IDLE;
		goto out;
	}
	if ((error = pull_all(&d)) < 0 || (error = journal(&d, EF_PHASE_STAGE)) < 0 ||
	    (error = ef_networks_ensure(c->engine, m, network_prefix(c))) < 0 ||
	    (error = stage_all(&d)) < 0 || (error = journal(&d, EF_PHASE_HEALTH)) < 0 ||
	    (error = wait_healthy(&d)) < 0) {
		if (error == EF_EAGAIN && *c->rollback_requested) {
			*c->rollback_requested = 0;
			error = rollback(&d, "rolled back by the operator", "operator");
			goto out;
		}
		if (error == EF_EAGAIN) {
			abandon(&d, "deploy-abandoned");
			goto out;
		}
		error = rollback(&d, ef_error_last(), blame(&d, error, ef_error_last()));
		goto out;
	}
	d.health_started = false; /* healthy: what fails next is not the containers */
	if ((error = journal(&d, EF_PHASE_FLIP)) == 0) {
		/* The canary's error rate is the new containers' health. */
		d.health_started = true;
		if ((error = canary(&d)) == EF_EAGAIN) {
			abandon(&d, "canary-abandoned"); /* traffic is on blue */
			goto out;
		}
		d.health_started = error < 0;
		if (error == 0)
			error = flip(&d);
	}
	if (error < 0) {
		error = rollback(&d, ef_error_last(), blame(&d, error, ef_error_last()));
		goto out;
	}
	if (!d.repair_only && d.nhealth && c->cfg->soak_ms) {
		if ((error = journal(&d, EF_PHASE_SOAK)) < 0) {
			error = rollback(&d, ef_error_last(), blame(&d, error, ef_error_last()));
			goto out;
		}
		ef_info("soak", "revision=%.12s seconds=%llu", target,
		        (unsigned long long)(c->cfg->soak_ms / 1000));
		error = ef_health_watch(d.health, d.nhealth, c->engine, c->cfg->soak_ms, &failed);
		if (error == EF_EAGAIN && *c->rollback_requested) {
			*c->rollback_requested = 0;
			error = rollback(&d, "rolled back by the operator during soak", "operator");
			goto out;
		}
		if (error == EF_EAGAIN) {
			/* During soak: flip back; the next start tries it again. */
			abandon(&d, "soak-abandoned");
			goto out;
		}
		if (error < 0) {
			error = rollback(&d, ef_error_last(), "health");
			goto out;
		}
	}
	error = commit(&d, signer);
	if (error < 0 && !d.committed) {
		/* Memory says again what the disk says: blue runs. */
		error = rollback(&d, ef_error_last(), blame(&d, error, ef_error_last()));
		goto out;
	}
	if (error == 0)
		ef_networks_prune(c->engine, m, network_prefix(c));
	if (error == 0)
		ef_info("deployed", "revision=%.12s signer=\"%s\" services=%zu", target,
		        signer ? signer : "", st->nservices);
out:
	/* Committed, rolled back or abandoned: what blue or green no longer
	 * mounts goes. */
	ef_deploy_prune_secrets(c);
	free(d.health);
	free(d.ports);
	return error;
}
