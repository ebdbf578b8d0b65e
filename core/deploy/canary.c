/* Strategy canary: after green is healthy, the public ports of canary
 * services move to green in weighted steps instead of at once. During each
 * step's pause the switch's per-slot counters say how green answers real
 * traffic; when green's error rate over at least min_requests exceeds
 * max_error_rate, the weight goes to 0 at once and the deploy rolls back.
 * Every step is journaled (state.json deploy.canary) before it is applied,
 * inside phase FLIP: a crash mid-canary is recovered like a crash during
 * the flip, by routing everything to blue again (docs/deploy.md "Canary"). */
#include "deploy_internal.h"
#include "edgeflip/error.h"
#include "edgeflip/fault.h"
#include "edgeflip/log.h"
#include "edgeflip/sys/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLL_MS    200  /* counters read this often during a pause */
#define JOURNAL_MS 1000 /* green's counts journaled at most this often (for status) */

static const ef_service *service_of(const ef_manifest *m, const char *name)
{
	for (size_t i = 0; i < m->nservices; i++)
		if (strcmp(m->services[i].name, name) == 0)
			return &m->services[i];
	return NULL;
}

static const ef_route *find_listener(const ef_route *r, size_t n, const ef_route *like)
{
	for (size_t i = 0; i < n; i++)
		if (r[i].listen_port == like->listen_port &&
		    strcmp(r[i].protocol, like->protocol) == 0 &&
		    strcmp(r[i].listen_addr, like->listen_addr) == 0)
			return &r[i];
	return NULL;
}

/* Blue's routes, with green as the canary backend of every TCP port of a
 * canary service that green changes. *spec: the first canary service (its
 * steps and thresholds drive all canary ports). */
static int canary_routes(ef_route **out, size_t *n, const ef_service **spec, ef_deploy_ctx *c,
                         const ef_manifest *m, const ef_state_service *next, size_t nnext)
{
	ef_route *blue = NULL, *green = NULL;
	size_t nb = 0, ng = 0, ncanary = 0;
	int error;

	*spec = NULL;
	if ((error = ef_deploy_routes(&blue, &nb, c->st->services, c->st->nservices)) < 0 ||
	    (error = ef_deploy_routes(&green, &ng, next, nnext)) < 0)
		goto out;
	for (size_t i = 0; i < nb; i++) {
		const ef_service *s = service_of(m, blue[i].service);
		const ef_route *g = find_listener(green, ng, &blue[i]);

		if (!s)
			continue;
		blue[i].http = s->http;
		if (s->strategy != EF_STRATEGY_CANARY || !g || strcmp(blue[i].protocol, "tcp") ||
		    (g->target_port == blue[i].target_port &&
		     strcmp(g->target_addr, blue[i].target_addr) == 0))
			continue;
		if (!(blue[i].canary_addr = strdup(g->target_addr))) {
			error = EF_ENOMEM;
			goto out;
		}
		blue[i].canary_port = g->target_port;
		ncanary++;
		if (!*spec)
			*spec = s;
	}
	*out = blue;
	*n = nb;
	blue = NULL;
	if (!ncanary)
		*spec = NULL;
out:
	ef_routes_free(blue, nb);
	ef_routes_free(green, ng);
	return error;
}

/* Green's requests and errors over the canary ports. On an http port a
 * request is a response seen (or a connection that failed before one);
 * elsewhere it is a connection. Errors: refused or failed connects, resets
 * before any response byte, and on http ports 5xx status lines. */
static int green_counts(ef_deploy_ctx *c, const ef_route *r, size_t n, uint64_t *req, uint64_t *err)
{
	ef_port_counters *pc = NULL;
	size_t npc = 0;
	int error;

	*req = *err = 0;
	if (!(*c->sw)->ops->counters)
		return 0;
	if ((error = (*c->sw)->ops->counters(*c->sw, &pc, &npc)) < 0)
		return error;
	for (size_t i = 0; i < n; i++) {
		if (!r[i].canary_addr)
			continue;
		for (size_t j = 0; j < npc; j++) {
			const ef_slot_counters *g = &pc[j].slot[1];
			uint64_t failed = g->connect_failed + g->resets;

			if (pc[j].listen_port != r[i].listen_port)
				continue;
			*req += (r[i].http ? g->responses : g->connections) +
			        (r[i].http ? failed : 0);
			*err += failed + (r[i].http ? g->http_5xx : 0);
			break;
		}
	}
	free(pc);
	return 0;
}

static void set_weight(ef_route *r, size_t n, unsigned w)
{
	for (size_t i = 0; i < n; i++)
		if (r[i].canary_addr)
			r[i].canary_weight = (uint8_t)w;
}

int ef_deploy_canary(ef_deploy_ctx *c, const ef_manifest *m, const ef_state_service *next,
                     size_t nnext, const char *target)
{
	static const ef_canary_step defaults[] = {{10, EF_CANARY_DEFAULT_PAUSE},
	                                          {50, EF_CANARY_DEFAULT_PAUSE}};
	ef_state *st = c->st;
	const ef_service *spec = NULL;
	const ef_canary_step *steps;
	ef_route *routes = NULL;
	size_t nroutes = 0, nsteps;
	uint64_t req = 0, errs = 0;
	int error;

	if ((error = canary_routes(&routes, &nroutes, &spec, c, m, next, nnext)) < 0 || !spec)
		goto out;
	if ((error = ef_deploy_switch(c)) < 0)
		goto out;
	steps = spec->canary.nsteps ? spec->canary.steps : defaults;
	nsteps = spec->canary.nsteps ? spec->canary.nsteps : 2;
	if (!(*c->sw)->ops->counters)
		ef_warn("canary-blind",
		        "service=%s backend=%s why=\"this switch backend does not "
		        "count errors: steps only, no analysis from traffic\"",
		        spec->name, (*c->sw)->ops->name);
	for (size_t i = 0; i < nsteps; i++) {
		uint64_t end, journaled_at;
		unsigned w = steps[i].weight;

		if (w >= 100)
			break; /* 100% is the full flip that follows */
		set_weight(routes, nroutes, w);
		st->canary = (ef_state_canary){.active = true,
		                               .step = (unsigned)i + 1,
		                               .steps = (unsigned)nsteps,
		                               .weight = w,
		                               .requests = req,
		                               .errors = errs};
		if ((error = ef_deploy_save(c)) < 0)
			goto abort;
		if ((error = (*c->sw)->ops->apply(*c->sw, routes, nroutes)) < 0)
			goto abort;
		ef_info("canary-step",
		        "revision=%.12s service=%s step=%zu/%zu weight=%u pause_ms=%llu", target,
		        spec->name, i + 1, nsteps, w, (unsigned long long)steps[i].pause_ms);
		ef_fault_point("during-canary");
		journaled_at = ef_clock_ms();
		end = journaled_at + steps[i].pause_ms;
		while (ef_clock_ms() < end) {
			uint64_t left = end - ef_clock_ms();

			if (ef_clock_sleep(left < POLL_MS ? left : POLL_MS) ||
			    (c->rollback_requested && *c->rollback_requested)) {
				ef_error_set("canary of %.12s stopped on request", target);
				error = EF_EAGAIN;
				goto abort;
			}
			if ((error = green_counts(c, routes, nroutes, &req, &errs)) < 0)
				goto abort;
			if (req >= spec->canary.min_requests &&
			    (double)errs > spec->canary.max_error_rate * (double)req) {
				ef_error("canary-aborted",
				         "revision=%.12s service=%s step=%zu weight=%u "
				         "requests=%llu "
				         "errors=%llu max_error_rate=%g",
				         target, spec->name, i + 1, w, (unsigned long long)req,
				         (unsigned long long)errs, spec->canary.max_error_rate);
				ef_error_set("canary: error rate %.3f > %g over %llu requests "
				             "(service %s, step %zu, weight %u%%)",
				             (double)errs / (double)req,
				             spec->canary.max_error_rate, (unsigned long long)req,
				             spec->name, i + 1, w);
				error = EF_ERROR;
				goto abort;
			}
			if (ef_clock_ms() - journaled_at >= JOURNAL_MS &&
			    (req != st->canary.requests || errs != st->canary.errors)) {
				st->canary.requests = req;
				st->canary.errors = errs;
				journaled_at = ef_clock_ms();
				ef_deploy_save(c);
			}
		}
		ef_info("canary-step-passed",
		        "revision=%.12s step=%zu weight=%u requests=%llu "
		        "errors=%llu",
		        target, i + 1, w, (unsigned long long)req, (unsigned long long)errs);
	}
	st->canary = (ef_state_canary){0};
	error = 0;
	goto out;
abort : {
	/* Weight 0 first: the caller's rollback routes to blue too. */
	uint64_t t0 = ef_clock_ms();
	char msg[600];

	snprintf(msg, sizeof(msg), "%s", ef_error_last());
	set_weight(routes, nroutes, 0);
	for (size_t i = 0; i < nroutes; i++) {
		free(routes[i].canary_addr);
		routes[i].canary_addr = NULL;
	}
	if (*c->sw && (*c->sw)->ops->apply(*c->sw, routes, nroutes) < 0)
		ef_error("canary-flip-back-failed", "error=\"%s\"", ef_error_last());
	else
		ef_info("canary-traffic-on-blue", "revision=%.12s ms=%llu", target,
		        (unsigned long long)(ef_clock_ms() - t0));
	st->canary = (ef_state_canary){0};
	ef_error_set("%s", msg);
	if (error != EF_EAGAIN)
		error = EF_ERROR;
}
out:
	ef_routes_free(routes, nroutes);
	return error;
}
