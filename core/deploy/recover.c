/* Crash recovery, and the undo shared with rollbacks.
 *
 * After a crash the journal says how far a deploy got. COMMIT landed: retire
 * the old containers. Anything earlier: put a working set back and let the
 * next pass try the commit again. "Working" is checked, not assumed: a
 * container the journal names may have been removed or may have died while
 * the agent was down (a crash loop of the agent, an OOM kill of the
 * container), so before traffic goes back to it the engine is asked
 * (inspect) and its routed port is probed. When it is gone, the staged
 * instance that already served traffic (the deploy had flipped) takes over
 * if it is alive; otherwise the caller is told to bring the running revision
 * up again. Every route change, stop and removal is logged with its reason. */
#include "deploy_internal.h"
#include "networks.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/fault.h"
#include "edgeflip/log.h"
#include "edgeflip/sys/clock.h"
#include "edgeflip/sys/net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long a container that was just started again gets to answer. */
#define PROBE_WINDOW_MS 3000

int ef_deploy_save(ef_deploy_ctx *c)
{
	return ef_state_save(c->st, c->cfg->state_dir);
}

int ef_deploy_switch(ef_deploy_ctx *c)
{
	ef_switch_opts opts;

	if (*c->sw)
		return 0;
	memset(&opts, 0, sizeof(opts));
	opts.state_dir = c->cfg->state_dir;
	opts.hook = c->cfg->switch_hook;
	opts.self_exe = c->self_exe;
	return ef_switch_open(c->sw, c->cfg->switch_backend, &opts);
}

static bool serves(const ef_state *st, const char *id)
{
	for (size_t i = 0; i < st->nservices; i++)
		if (st->services[i].container_id && strcmp(st->services[i].container_id, id) == 0)
			return true;
	return false;
}

int ef_deploy_remove(ef_deploy_ctx *c, const char *id, const char *service, const char *why)
{
	int error = EF_ERROR;

	if (serves(c->st, id)) {
		ef_warn("kept",
		        "container=%.12s service=%s what=\"not removed (%s): the running set "
		        "serves traffic from it\"",
		        id, service ? service : "?", why);
		ef_error_set("container %.12s serves traffic; not removed", id);
		return EF_EINVALID;
	}
	ef_names_leave(c->engine, id);
	/* An engine may refuse while the container is between two restarts of a
	 * crash loop: try again a few times. */
	for (int attempt = 0; attempt < 4; attempt++) {
		if (attempt)
			ef_clock_sleep(250u << attempt);
		error = c->engine->ops->remove(c->engine, id);
		if (error == 0 || error == EF_ENOTFOUND || error == EF_EUNREACHABLE)
			break;
	}
	if (error == 0)
		ef_info("removed", "container=%.12s service=%s why=\"%s\"", id,
		        service ? service : "?", why);
	else if (error == EF_ENOTFOUND)
		ef_info("removed", "container=%.12s service=%s why=\"%s\" what=already-gone", id,
		        service ? service : "?", why);
	else
		ef_warn("remove-failed",
		        "container=%.12s service=%s why=\"%s\" error=\"%s\" what=\"left as an "
		        "orphan for the next pass\"",
		        id, service ? service : "?", why, ef_error_last());
	return error;
}

int ef_deploy_apply_routes(ef_deploy_ctx *c, const ef_state_service *svcs, size_t n,
                           const char *why)
{
	ef_route *routes = NULL;
	size_t nroutes = 0;
	int error;

	if ((error = ef_deploy_routes(&routes, &nroutes, svcs, n)) < 0)
		return error;
	if (nroutes == 0 && !*c->sw) {
		ef_routes_free(routes, nroutes);
		return 0;
	}
	if ((error = ef_deploy_switch(c)) == 0)
		error = (*c->sw)->ops->apply(*c->sw, routes, nroutes);
	for (size_t i = 0; i < nroutes && error == 0; i++)
		ef_info("route", "service=%s public=%s:%u target=%s:%u why=\"%s\"",
		        routes[i].service, routes[i].listen_addr, routes[i].listen_port,
		        routes[i].target_addr, routes[i].target_port, why);
	if (error == 0 && nroutes == 0)
		ef_info("route", "routes=0 why=\"%s\"", why);
	ef_routes_free(routes, nroutes);
	return error;
}

/* A TCP connection to the routed port within the probe window. */
static bool answers(const char *addr, uint16_t port)
{
	uint64_t end = ef_clock_ms() + PROBE_WINDOW_MS;

	for (;;) {
		if (ef_net_tcp_probe(addr, port, 500) == 0)
			return true;
		if (ef_clock_ms() >= end)
			return false;
		ef_clock_sleep(100);
	}
}

/* Is the container of `s` alive: it exists, it runs (started here if it was
 * stopped and `start`), it publishes the ports its routes target, and
 * something answers there? If not, `why` says what is wrong. */
static bool alive(ef_deploy_ctx *c, const ef_state_service *s, bool start, char *why, size_t size)
{
	ef_container k;
	ef_route *r = NULL;
	size_t nr = 0;
	bool ok = false;

	memset(&k, 0, sizeof(k));
	if (!s->container_id || !s->container_id[0] ||
	    c->engine->ops->inspect(c->engine, &k, s->container_id) < 0) {
		snprintf(why, size, "container %.12s is gone",
		         s->container_id ? s->container_id : "");
		goto out;
	}
	if (k.state != EF_CSTATE_RUNNING && start) {
		ef_info("restart-old",
		        "service=%s container=%.12s why=\"recovery: it belongs to the "
		        "running set\"",
		        s->name, k.id);
		c->engine->ops->start(c->engine, k.id);
		ef_container_dispose(&k);
		if (c->engine->ops->inspect(c->engine, &k, s->container_id) < 0) {
			snprintf(why, size, "container %.12s is gone", s->container_id);
			goto out;
		}
	}
	if (k.state != EF_CSTATE_RUNNING) {
		snprintf(why, size, "container %.12s is not running", k.id);
		goto out;
	}
	if (ef_deploy_routes(&r, &nr, s, 1) < 0) {
		snprintf(why, size, "%s", ef_error_last());
		goto out;
	}
	for (size_t i = 0; i < nr; i++) {
		bool published = false;

		for (size_t p = 0; p < k.nports; p++)
			if (k.ports[p].host_port == r[i].target_port)
				published = true;
		if (!published) {
			snprintf(why, size, "container %.12s does not publish %s:%u", k.id,
			         r[i].target_addr, r[i].target_port);
			goto out;
		}
		if (strcmp(r[i].protocol, "tcp") == 0 &&
		    !answers(r[i].target_addr, r[i].target_port)) {
			snprintf(why, size, "nothing answers on %s:%u (container %.12s)",
			         r[i].target_addr, r[i].target_port, k.id);
			goto out;
		}
	}
	ok = true;
out:
	ef_routes_free(r, nr);
	ef_container_dispose(&k);
	return ok;
}

/* Moves staged[j] into the running set, in place of `into` (or appended). */
static int adopt(ef_state *st, size_t j, ef_state_service *into)
{
	if (!into) {
		ef_state_service *v = realloc(st->services, (st->nservices + 1) * sizeof(*v));
		if (!v)
			return EF_ENOMEM;
		st->services = v;
		into = &st->services[st->nservices++];
		memset(into, 0, sizeof(*into));
	}
	ef_state_service_dispose(into);
	*into = st->staged[j];
	memset(&st->staged[j], 0, sizeof(st->staged[j])); /* now owned by services */
	return 0;
}

/* Gives each container of the running set the DNS names of its label
 * (EF_LABEL_ALIASES); a no-op where it has them. */
static void names_back(ef_deploy_ctx *c)
{
	for (size_t i = 0; i < c->st->nservices; i++) {
		const ef_state_service *s = &c->st->services[i];

		int error;

		if (!s->container_id || !s->container_id[0])
			continue;
		/* Gone: the running revision is brought up again (restore_needed). */
		if ((error = ef_names_move(c->engine, s->container_id, true)) < 0 &&
		    error != EF_ENOTFOUND)
			ef_error("aliases-back-failed", "service=%s container=%.12s error=\"%s\"",
			         s->name, s->container_id, ef_error_last());
	}
}

/* Gives each container of the running set its Compose container_name back
 * (EF_LABEL_NAME) when it does not have it. */
static int fixed_names_back(ef_deploy_ctx *c)
{
	int error = 0, rc;

	for (size_t i = 0; i < c->st->nservices; i++) {
		const ef_state_service *s = &c->st->services[i];
		ef_container k;

		memset(&k, 0, sizeof(k));
		if (!s->container_id || !s->container_id[0] ||
		    c->engine->ops->inspect(c->engine, &k, s->container_id) < 0)
			continue;
		if (k.fixed_name && (!k.name || strcmp(k.name, k.fixed_name) != 0)) {
			if ((rc = c->engine->ops->rename(c->engine, k.id, k.fixed_name)) < 0) {
				ef_error("rename-back-failed",
				         "service=%s container=%.12s error=\"%s\"", s->name, k.id,
				         ef_error_last());
				error = rc;
			} else {
				ef_info("renamed", "service=%s container=%.12s name=%s why=\"%s\"",
				        s->name, k.id, k.fixed_name,
				        "container_name back to the running set");
			}
		}
		ef_container_dispose(&k);
	}
	return error;
}

static long staged_index(const ef_state *st, const char *name)
{
	for (size_t j = 0; j < st->nstaged; j++)
		if (st->staged[j].name && strcmp(st->staged[j].name, name) == 0)
			return (long)j;
	return -1;
}

int ef_deploy_undo(ef_deploy_ctx *c, bool may_adopt, const char *why)
{
	ef_state *st = c->st;
	uint64_t t0 = ef_clock_ms();
	char reason[300], greason[300], old_id[65];
	size_t adopted = 0;
	bool drain = false;
	int error = 0, rc;

	/* The running set: each container alive, or taken over by its staged
	 * instance, or left for the caller to bring up again. */
	for (size_t i = 0; i < st->nservices && error == 0; i++) {
		ef_state_service *b = &st->services[i];
		long j = staged_index(st, b->name);

		if (alive(c, b, true, reason, sizeof(reason)))
			continue;
		if (j >= 0 && may_adopt &&
		    alive(c, &st->staged[j], false, greason, sizeof(greason))) {
			ef_warn("adopted",
			        "service=%s container=%.12s replaces=%.12s why=\"%s; the new "
			        "instance is alive and already served traffic\"",
			        b->name, st->staged[j].container_id, b->container_id, reason);
			snprintf(old_id, sizeof(old_id), "%s",
			         b->container_id ? b->container_id : "");
			if ((error = adopt(st, (size_t)j, b)) < 0)
				break;
			adopted++;
			if (old_id[0])
				ef_deploy_remove(
				        c, old_id, b->name,
				        "dead container of the running set, replaced at recovery");
			continue;
		}
		ef_error("no-live-container",
		         "service=%s container=%.12s why=\"%s\" what=\"the "
		         "running revision is brought up again\"",
		         b->name, b->container_id ? b->container_id : "", reason);
		c->restore_needed = true;
	}
	/* New services of the deploy (the first deploy): nothing older to go
	 * back to; keep what already serves. */
	for (size_t j = 0; j < st->nstaged && error == 0 && may_adopt; j++) {
		if (!st->staged[j].name || ef_state_find_service(st, st->staged[j].name))
			continue;
		if (!alive(c, &st->staged[j], false, greason, sizeof(greason)))
			continue;
		ef_warn("adopted",
		        "service=%s container=%.12s why=\"new service, alive and already "
		        "served traffic; nothing older to go back to\"",
		        st->staged[j].name, st->staged[j].container_id);
		if ((error = adopt(st, j, NULL)) < 0)
			break;
		adopted++;
	}
	if (error < 0)
		return error;
	/* Names moved at a flip: the running set (blue, or what was adopted)
	 * gets its DNS aliases back before it takes traffic again. */
	names_back(c);

	if (st->nstaged || *c->sw) {
		if ((rc = ef_deploy_apply_routes(c, st->services, st->nservices, why)) < 0) {
			ef_error("flip-back-failed", "error=\"%s\"", ef_error_last());
			error = rc;
		} else if (c->restore_needed) {
			ef_warn("traffic-incomplete", "what=\"a service has no live container; "
			                              "the running revision is brought up again\"");
		} else {
			/* From the decision to undo to traffic on the running set. */
			ef_info(adopted ? "traffic-on-adopted" : "traffic-on-blue", "ms=%llu",
			        (unsigned long long)(ef_clock_ms() - t0));
		}
	}
	ef_fault_point("during-undo");
	/* Connections already on a staged instance may finish first. */
	for (size_t j = 0; j < st->nstaged; j++)
		if (st->staged[j].container_id && st->staged[j].public_ports)
			drain = true;
	if (drain && c->cfg->drain_ms)
		ef_clock_sleep(c->cfg->drain_ms);
	for (size_t j = 0; j < st->nstaged; j++) {
		if (!st->staged[j].container_id)
			continue; /* adopted */
		rc = ef_deploy_remove(c, st->staged[j].container_id, st->staged[j].name, why);
		if (rc < 0 && rc != EF_ENOTFOUND)
			error = rc;
	}
	ef_state_clear_services(&st->staged, &st->nstaged);
	/* container_name back to the running set once the staged instance that
	 * may have taken it is gone. */
	if ((rc = fixed_names_back(c)) < 0 && error == 0)
		error = rc;
	return error;
}

int ef_deploy_finish_commit(ef_deploy_ctx *c)
{
	ef_state *st = c->st;

	for (size_t i = 0; i < st->nstaged; i++) {
		const char *id = st->staged[i].container_id;
		int error;

		if (id && !serves(st, id)) {
			/* Off its names first, then its stop_signal, then
			 * SIGKILL after its stop_grace_period. */
			ef_names_leave(c->engine, id);
			error = c->engine->ops->stop(c->engine, id, EF_STOP_CONFIGURED);
			if (error < 0 && error != EF_ENOTFOUND)
				ef_warn("stop-failed", "container=%.12s service=%s error=\"%s\"",
				        id, st->staged[i].name, ef_error_last());
		}
		ef_deploy_remove(c, id, st->staged[i].name,
		                 "retired: replaced by the committed revision");
		ef_fault_point("during-retire");
	}
	ef_state_clear_services(&st->staged, &st->nstaged);
	st->phase = EF_PHASE_IDLE;
	st->target[0] = '\0';
	free(st->target_signer);
	st->target_signer = NULL;
	return ef_deploy_save(c);
}

/* Every staged container of the interrupted deploy now serves: the target is
 * what runs. Recorded as deployed, with how it came to be. */
static void record_adopted(ef_state *st, unsigned history)
{
	if (st->revision[0] && strcmp(st->revision, st->target) != 0)
		snprintf(st->previous, sizeof(st->previous), "%s", st->revision);
	snprintf(st->revision, sizeof(st->revision), "%s", st->target);
	free(st->signer);
	st->signer = st->target_signer ? strdup(st->target_signer) : strdup("");
	st->deployed_at = ef_clock_wall();
	ef_state_add_history(st, st->target, "deployed",
	                     "adopted at recovery: the new set served traffic and was alive, "
	                     "the old one was gone",
	                     history);
}

/* One history entry per interrupted deploy, however often a crash loop
 * interrupts it: the count goes up, deployed entries are not pushed out. */
static void record_interrupted(ef_state *st, bool partly_adopted, unsigned history)
{
	unsigned times = 0;
	char reason[200];

	if (st->nhistory && strcmp(st->history[0].revision, st->target) == 0 &&
	    st->history[0].result && strcmp(st->history[0].result, "interrupted") == 0 &&
	    st->history[0].reason &&
	    sscanf(st->history[0].reason, "the agent stopped %u", &times) == 1) {
		free(st->history[0].result);
		free(st->history[0].reason);
		memmove(&st->history[0], &st->history[1],
		        (st->nhistory - 1) * sizeof(*st->history));
		st->nhistory--;
	}
	times++;
	snprintf(reason, sizeof(reason), "the agent stopped %u time%s during this deploy; %s",
	         times, times == 1 ? "" : "s",
	         partly_adopted ? "part of it was adopted, the next pass finishes it"
	                        : "undone, the next pass tries it again");
	ef_state_add_history(st, st->target, "interrupted", reason, history);
}

int ef_deploy_recover(ef_deploy_ctx *c)
{
	ef_state *st = c->st;
	ef_phase phase = st->phase;
	size_t nstaged = st->nstaged, adopted = 0;
	char why[200];
	int error;

	if (phase == EF_PHASE_IDLE)
		return 0;
	ef_warn("recover", "phase=%s target=%.12s services=%zu staged=%zu", ef_phase_name(phase),
	        st->target, st->nservices, st->nstaged);
	if (phase == EF_PHASE_COMMIT)
		return ef_deploy_finish_commit(c);
	snprintf(why, sizeof(why), "recovery: the agent stopped during %s of %.12s",
	         ef_phase_name(phase), st->target);
	/* Staged instances served traffic only once the deploy flipped; before,
	 * they never passed their health checks. */
	{
		char **ids = NULL;
		for (size_t j = 0; j < nstaged; j++)
			ef_strv_push(&ids, st->staged[j].container_id);
		error = ef_deploy_undo(c, phase == EF_PHASE_FLIP || phase == EF_PHASE_SOAK, why);
		for (size_t j = 0; ids && ids[j]; j++)
			if (serves(st, ids[j]))
				adopted++;
		ef_strv_free(ids);
	}
	if (st->target[0] && nstaged && adopted == nstaged && strcmp(st->target, st->revision))
		record_adopted(st, c->cfg->history_size);
	else if (st->target[0] && strcmp(st->target, st->revision) != 0)
		record_interrupted(st, adopted > 0, c->cfg->history_size);
	st->canary = (ef_state_canary){0}; /* canary hook: undo routed all to blue */
	st->phase = EF_PHASE_IDLE;
	st->target[0] = '\0';
	free(st->target_signer);
	st->target_signer = NULL;
	if (ef_deploy_save(c) < 0 && error == 0)
		error = EF_ERROR;
	return error;
}
