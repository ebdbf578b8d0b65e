/* One reconcile pass:
 * poll -> (changed?) -> fetch -> verify -> anti-rollback -> manifest -> policy
 * -> plan -> deploy; and when nothing changed, a cheap drift check. */
#include "agent_internal.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/fault.h"
#include "edgeflip/log.h"
#include "edgeflip/policy.h"
#include "edgeflip/sys/clock.h"
#include "edgeflip/sys/fs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COMMIT_BYTES (1u << 20)

volatile sig_atomic_t ef_agent_rollback_requested;

int ef_agent_save(ef_agent *a)
{
	return ef_state_save(&a->st, a->cfg->state_dir);
}

int ef_agent_engine(ef_agent *a)
{
	ef_engine_opts opts;
	int error;

	if (a->engine)
		return 0;
	memset(&opts, 0, sizeof(opts));
	opts.timeout_ms = a->cfg->engine_timeout_ms;
	opts.pull_timeout_ms = a->cfg->pull_timeout_ms;
	opts.max_reply_bytes = 16u << 20;
	if ((error = ef_engine_open(&a->engine, "docker-api", a->cfg->engine_endpoint, &opts)) < 0)
		return error;
	if ((error = a->engine->ops->ping(a->engine)) < 0) {
		ef_engine_close(a->engine);
		a->engine = NULL;
	}
	return error;
}

int ef_agent_switch(ef_agent *a)
{
	ef_switch_opts opts;

	if (a->sw)
		return 0;
	memset(&opts, 0, sizeof(opts));
	opts.state_dir = a->cfg->state_dir;
	opts.hook = a->cfg->switch_hook;
	opts.self_exe = a->self_exe;
	return ef_switch_open(&a->sw, a->cfg->switch_backend, &opts);
}

static int open_source(ef_agent *a)
{
	ef_source_opts o;

	if (a->src)
		return 0;
	memset(&o, 0, sizeof(o));
	o.url = a->cfg->url;
	o.branch = a->cfg->branch;
	o.ca_file = a->cfg->ca_file;
	o.token_file = a->cfg->token_file;
	o.allow_insecure_http = a->cfg->allow_insecure_http;
	o.timeout_ms = a->cfg->source_timeout_ms;
	o.max_fetch_bytes = a->cfg->max_fetch_bytes;
	o.cache_dir = a->cache_dir;
	return ef_source_new(&a->src, &o);
}

static int open_trust(ef_agent *a)
{
	if (a->trust || a->cfg->insecure_skip_verify)
		return 0;
	return ef_trust_load(&a->trust, a->cfg->allowed_signers, a->cfg->openpgp_keys);
}

/* The journal was lost or corrupt: take the picture from the engine's labels. */
/* Does container `id` publish the loopback port a route of `service` targets? */
static bool serves_route(ef_agent *a, const char *id, const char *service, const ef_route *r,
                         size_t n)
{
	ef_container c;
	bool yes = false;

	memset(&c, 0, sizeof(c));
	if (a->engine->ops->inspect(a->engine, &c, id) < 0)
		return false;
	for (size_t i = 0; i < n && !yes; i++)
		for (size_t p = 0; p < c.nports && !yes; p++)
			yes = r[i].service && strcmp(r[i].service, service) == 0 &&
			      c.ports[p].host_port == r[i].target_port;
	ef_container_dispose(&c);
	return yes;
}

static void set_service(ef_state_service *v, const ef_container *c)
{
	ef_state_service_dispose(v);
	memset(v, 0, sizeof(*v));
	v->name = strdup(c->service);
	v->container_id = strdup(c->id);
	v->spec_hash = strdup(c->spec ? c->spec : "");
	v->image = strdup(c->image ? c->image : "");
	v->slot = strdup(c->slot ? c->slot : "blue");
}

/* The journal was lost or corrupt: take the picture from the engine's labels
 * and from the switch, which kept the routes in force. Where two containers
 * run for one service (a deploy was under way), the one traffic goes to wins;
 * the other becomes an orphan. */
static int rebuild_from_engine(ef_agent *a)
{
	ef_container_list l;
	ef_state *st = &a->st;
	ef_route *r = NULL;
	size_t n = 0;
	int error;

	memset(&l, 0, sizeof(l));
	if ((error = a->engine->ops->list(a->engine, &l)) < 0)
		return error;
	if (l.count && a->sw == NULL && ef_agent_switch(a) == 0 && a->sw->ops->current)
		a->sw->ops->current(a->sw, &r, &n);
	for (size_t i = 0; i < l.count && error == 0; i++) {
		ef_container *c = &l.items[i];
		ef_state_service *v;

		if (!c->service || c->state != EF_CSTATE_RUNNING)
			continue;
		if ((v = ef_state_find_service(st, c->service))) {
			if (!serves_route(a, v->container_id, c->service, r, n) &&
			    serves_route(a, c->id, c->service, r, n))
				set_service(v, c);
			continue;
		}
		v = realloc(st->services, (st->nservices + 1) * sizeof(*v));
		if (!v) {
			error = EF_ENOMEM;
			break;
		}
		st->services = v;
		v = &st->services[st->nservices++];
		memset(v, 0, sizeof(*v));
		set_service(v, c);
		if (c->revision && !st->revision[0])
			snprintf(st->revision, sizeof(st->revision), "%s", c->revision);
	}
	for (size_t i = 0; i < n && error == 0; i++) {
		ef_state_service *s = ef_state_find_service(st, r[i].service);
		char line[200];

		if (!s)
			continue;
		snprintf(line, sizeof(line), "%s %s %u %s %u", r[i].protocol, r[i].listen_addr,
		         r[i].listen_port, r[i].target_addr, r[i].target_port);
		error = ef_strv_push(&s->public_ports, line);
	}
	/* The revision is the one of the containers that serve. */
	for (size_t i = 0; i < st->nservices; i++)
		for (size_t j = 0; j < l.count; j++)
			if (strcmp(l.items[j].id, st->services[i].container_id) == 0 &&
			    l.items[j].revision)
				snprintf(st->revision, sizeof(st->revision), "%s",
				         l.items[j].revision);
	ef_routes_free(r, n);
	ef_container_list_dispose(&l);
	if (error == 0 && st->nservices) {
		ef_warn("journal-rebuilt", "services=%zu revision=%.12s", st->nservices,
		        st->revision);
		error = ef_agent_save(a);
	}
	return error;
}

int ef_agent_new(ef_agent **out, const ef_config *cfg, const char *self_exe)
{
	ef_agent *a = calloc(1, sizeof(*a));
	int error;

	if (!a)
		return EF_ENOMEM;
	a->cfg = cfg;
	a->self_exe = strdup(self_exe);
	ef_state_init(&a->st);
	snprintf(a->cache_dir, sizeof(a->cache_dir), "%s/cache.git", cfg->state_dir);
	if ((error = ef_fs_mkdir_p(cfg->state_dir, 0700)) < 0)
		goto fail;
	error = ef_state_load(&a->st, cfg->state_dir);
	if (error == EF_EINVALID) {
		/* Corrupt: set aside by ef_state_load; rebuilt on recover. */
		a->st.version = -1;
		error = 0;
	}
	if (error < 0)
		goto fail;
	*out = a;
	return 0;
fail:
	ef_agent_free(a);
	return error;
}

void ef_agent_free(ef_agent *a)
{
	if (!a)
		return;
	ef_source_free(a->src);
	if (a->engine)
		ef_engine_close(a->engine);
	if (a->sw)
		ef_switch_close(a->sw);
	ef_trust_free(a->trust);
	ef_fleet_free(a->fleet);
	ef_state_dispose(&a->st);
	free(a->self_exe);
	free(a);
}

const ef_state *ef_agent_state(const ef_agent *a)
{
	return &a->st;
}

int ef_agent_exit_code(int error)
{
	switch (error) {
	case 0:
		return EF_EXIT_OK;
	case EF_EREJECTED:
		return EF_EXIT_REJECTED;
	case EF_EUNREACHABLE:
	case EF_ETIMEOUT:
		return EF_EXIT_UNREACHABLE;
	case EF_EINVALID:
		return EF_EXIT_REJECTED;
	default:
		return error == EF_ERROR ? EF_EXIT_ROLLED_BACK : EF_EXIT_ERROR;
	}
}

static void remove_orphans(ef_agent *a, char *const *orphans)
{
	for (size_t i = 0; orphans && orphans[i]; i++) {
		int error = a->engine->ops->remove(a->engine, orphans[i]);
		if (error == 0)
			ef_info("orphan-removed", "container=%.12s", orphans[i]);
	}
}

int ef_agent_recover(ef_agent *a)
{
	ef_container_list l;
	int error;

	if ((error = ef_agent_engine(a)) < 0)
		return error;
	if (a->st.version == -1 || (a->st.nservices == 0 && !a->st.revision[0])) {
		a->st.version = EF_STATE_VERSION;
		if ((error = rebuild_from_engine(a)) < 0)
			return error;
	}
	if ((error = ef_deploy_recover(a)) < 0)
		return error;
	/* Orphans: edgeflip containers the journal does not know. */
	memset(&l, 0, sizeof(l));
	if ((error = a->engine->ops->list(a->engine, &l)) < 0)
		return error;
	for (size_t i = 0; i < l.count; i++) {
		bool known = false;
		for (size_t j = 0; j < a->st.nservices; j++)
			if (strcmp(a->st.services[j].container_id, l.items[i].id) == 0)
				known = true;
		if (!known && a->engine->ops->remove(a->engine, l.items[i].id) == 0)
			ef_info("orphan-removed", "container=%.12s service=%s", l.items[i].id,
			        l.items[i].service ? l.items[i].service : "?");
	}
	ef_container_list_dispose(&l);
	return 0;
}

/* Records a refusal so that the same commit is not examined again on every
 * poll (it stays refused until a newer commit arrives). */
static int reject(ef_agent *a, const char *commit, const char *what, const char *reason)
{
	ef_state *st = &a->st;
	char line[900];

	snprintf(line, sizeof(line), "%s: %s", what, reason);
	ef_error("rejected", "commit=%.12s what=%s reason=\"%s\"", commit, what, reason);
	ef_state_quarantine(st, commit, line);
	ef_state_add_history(st, commit, "rejected", line, a->cfg->history_size);
	ef_strv_free(st->refusals);
	st->refusals = NULL;
	ef_strv_push(&st->refusals, line);
	free(st->last_result);
	st->last_result = strdup("rejected");
	free(st->last_error);
	st->last_error = strdup(line);
	ef_agent_save(a);
	ef_fleet_refused(a, commit, what, reason);
	ef_error_set("commit %.12s rejected: %s", commit, line);
	return EF_EREJECTED;
}

static int load_manifest(ef_agent *a, ef_manifest **out, const char *commit)
{
	char path[4096], name[4200];
	ef_buf b;
	int error;

	snprintf(path, sizeof(path), "%s/%s", a->cfg->path_in_repo, EF_MANIFEST_FILE);
	error = ef_source_read_file(a->src, &b, commit, path, a->cfg->max_manifest_bytes);
	if (error < 0) {
		if (error == EF_ENOTFOUND)
			ef_error_set("%s not found in commit %.12s (check [source] path)", path,
			             commit);
		return error == EF_ENOTFOUND ? EF_EINVALID : error;
	}
	snprintf(name, sizeof(name), "%s@%.12s", path, commit);
	error = ef_manifest_parse(out, b.ptr, b.len, name);
	ef_buf_dispose(&b);
	return error;
}

/* Is what runs what the journal says? Cheap: one engine listing. */
static bool in_sync(const ef_state *st, const ef_container_list *l)
{
	size_t matched = 0;

	for (size_t i = 0; i < st->nservices; i++) {
		const ef_state_service *s = &st->services[i];
		bool ok = false;
		for (size_t j = 0; j < l->count; j++) {
			const ef_container *c = &l->items[j];
			if (strcmp(c->id, s->container_id) == 0 && c->state == EF_CSTATE_RUNNING &&
			    c->spec && strcmp(c->spec, s->spec_hash) == 0)
				ok = true;
		}
		if (!ok)
			return false;
		matched++;
	}
	return matched == l->count;
}

static int converge(ef_agent *a, const ef_manifest *m, const char *target, const char *signer)
{
	ef_container_list l;
	ef_plan plan;
	int error;

	memset(&l, 0, sizeof(l));
	if ((error = a->engine->ops->list(a->engine, &l)) < 0)
		return error;
	error = ef_plan_make(&plan, m, &a->st, &l);
	ef_container_list_dispose(&l);
	if (error < 0)
		return error;
	remove_orphans(a, plan.orphans);
	if (plan.changes == 0 && strcmp(target, a->st.revision) == 0) {
		ef_plan_dispose(&plan);
		return 0;
	}
	error = ef_deploy_run(a, m, &plan, target, signer);
	ef_plan_dispose(&plan);
	return error;
}

/* Nothing new on the branch: put back what was removed or stopped by hand. */
static int check_drift(ef_agent *a)
{
	ef_container_list l;
	ef_manifest *m = NULL;
	bool ok;
	int error;

	if (!a->st.revision[0])
		return 0;
	memset(&l, 0, sizeof(l));
	if ((error = a->engine->ops->list(a->engine, &l)) < 0)
		return error;
	ok = in_sync(&a->st, &l);
	ef_container_list_dispose(&l);
	if (ok)
		return 0;
	ef_warn("drift", "revision=%.12s what=\"running containers differ from the journal\"",
	        a->st.revision);
	if ((error = load_manifest(a, &m, a->st.revision)) < 0)
		return error;
	error = converge(a, m, a->st.revision, a->st.signer);
	ef_fleet_drift_repaired(a, error);
	ef_manifest_free(m);
	return error;
}

static int check_trust(ef_agent *a, ef_verify_result *vr, const char *commit)
{
	ef_buf raw;
	int error;

	memset(vr, 0, sizeof(*vr));
	if (a->cfg->insecure_skip_verify) {
		ef_warn("insecure-skip-verify",
		        "commit=%.12s what=\"signature NOT verified: [trust] insecure_skip_verify "
		        "= true\"",
		        commit);
		return 0;
	}
	if ((error = open_trust(a)) < 0)
		return error;
	if ((error = ef_source_read_commit(a->src, &raw, commit, MAX_COMMIT_BYTES)) < 0)
		return error;
	error = ef_verify_commit(vr, a->trust, raw.ptr, raw.len, ef_clock_wall());
	ef_buf_dispose(&raw);
	return error;
}

int ef_agent_pass(ef_agent *a)
{
	ef_state *st = &a->st;
	char head[EF_OID_HEX];
	ef_verify_result vr;
	ef_manifest *m = NULL;
	char **findings = NULL;
	int error;

	if ((error = open_source(a)) < 0)
		return error;
	/* In memory only: a no-change poll writes nothing (docs/state.md). */
	st->last_poll = ef_clock_wall();
	if ((error = ef_source_poll(a->src, head)) < 0) {
		ef_warn("poll-failed", "url=%s error=\"%s\"", a->cfg->url, ef_error_last());
		ef_fleet_poll_failed(a);
		return error;
	}
	if ((error = ef_agent_engine(a)) < 0) {
		ef_warn("engine-unreachable", "endpoint=%s error=\"%s\"", a->cfg->engine_endpoint,
		        ef_error_last());
		return error;
	}
	if (a->cfg->insecure_skip_verify)
		ef_warn("insecure-skip-verify",
		        "what=\"commit signatures are NOT verified ([trust] insecure_skip_verify = "
		        "true)\"");
	if (strcmp(head, st->revision) == 0 || ef_state_is_quarantined(st, head)) {
		if (strcmp(head, st->revision) != 0)
			ef_debug("quarantined", "commit=%.12s", head);
		return check_drift(a);
	}

	ef_info("new-commit", "commit=%.12s branch=%s", head, a->cfg->branch);
	if ((error = ef_source_fetch(a->src, head)) < 0) {
		ef_warn("fetch-failed", "commit=%.12s error=\"%s\"", head, ef_error_last());
		return error;
	}
	ef_fault_point("after-fetch");

	error = check_trust(a, &vr, head);
	if (error == EF_EREJECTED || error == EF_EINVALID)
		return reject(a, head, "signature", vr.reason[0] ? vr.reason : ef_error_last());
	if (error < 0)
		return error;
	if (vr.signer[0])
		ef_info("verified", "commit=%.12s format=%s signer=\"%s\" key=%s", head, vr.format,
		        vr.signer, vr.key);
	ef_fault_point("after-verify");

	if (st->revision[0] && !a->cfg->allow_rollback) {
		bool ok = false;
		if ((error = ef_source_descends(a->src, &ok, head, st->revision)) < 0)
			return error;
		if (!ok) {
			char why[300];
			snprintf(
			        why, sizeof(why),
			        "%.12s does not descend from the deployed commit %.12s (force-push "
			        "or replayed history); run `edgeflip rollback` or set [trust] "
			        "allow_rollback to accept it",
			        head, st->revision);
			return reject(a, head, "anti-rollback", why);
		}
	}

	if ((error = load_manifest(a, &m, head)) < 0) {
		if (error == EF_EINVALID)
			return reject(a, head, "manifest", ef_error_last());
		return error;
	}
	if (ef_policy_check(&findings, &a->cfg->policy, m) < 0) {
		ef_buf all = EF_BUF_INIT(8192);
		for (size_t i = 0; findings && findings[i]; i++) {
			ef_error("policy", "commit=%.12s finding=\"%s\"", head, findings[i]);
			ef_buf_printf(&all, "%s%s", i ? "; " : "", findings[i]);
		}
		error = reject(a, head, "policy", all.ptr ? all.ptr : "refused");
		/* Keep every finding for `status`. */
		ef_strv_free(st->refusals);
		st->refusals = findings;
		findings = NULL;
		ef_agent_save(a);
		ef_buf_dispose(&all);
		ef_manifest_free(m);
		return error;
	}
	ef_strv_free(st->refusals);
	st->refusals = NULL;
	{
		ef_buf why = EF_BUF_INIT(8192);
		error = ef_agent_check_images(a, m, &why);
		if (error == EF_EREJECTED)
			error = reject(a, head, "image-signature", why.ptr);
		ef_buf_dispose(&why);
		if (error < 0) {
			if (error != EF_EREJECTED)
				ef_warn("image-check-failed", "commit=%.12s error=\"%s\"", head,
				        ef_error_last());
			ef_manifest_free(m);
			return error;
		}
	}

	/* A rollout wave may hold the commit back: keep what runs. */
	if (ef_fleet_rollout_gate(a, m, head) == EF_EAGAIN) {
		ef_manifest_free(m);
		return check_drift(a);
	}
	error = converge(a, m, head, vr.signer[0] ? vr.signer : "");
	if (error != 0 || strcmp(st->revision, head) == 0)
		ef_fleet_deployed(a, head, vr.signer, error);
	free(st->last_result);
	free(st->last_error);
	st->last_result = strdup(error == 0 ? "deployed" : "rolled-back");
	st->last_error = error == 0 ? NULL : strdup(ef_error_last());
	ef_agent_save(a);
	ef_manifest_free(m);
	return error;
}

int ef_agent_plan(ef_agent *a, FILE *out)
{
	char head[EF_OID_HEX];
	ef_container_list l;
	ef_manifest *m = NULL;
	ef_plan plan;
	int error;

	if ((error = open_source(a)) < 0 || (error = ef_source_poll(a->src, head)) < 0 ||
	    (error = ef_source_fetch(a->src, head)) < 0 || (error = load_manifest(a, &m, head)) < 0)
		return error;
	if ((error = ef_agent_engine(a)) < 0)
		goto out;
	memset(&l, 0, sizeof(l));
	if ((error = a->engine->ops->list(a->engine, &l)) < 0)
		goto out;
	error = ef_plan_make(&plan, m, &a->st, &l);
	ef_container_list_dispose(&l);
	if (error < 0)
		goto out;
	fprintf(out, "commit %s%s\n", head,
	        ef_state_is_quarantined(&a->st, head) ? " (quarantined: the next pass skips it)"
	                                              : "");
	for (size_t i = 0; i < plan.count; i++) {
		const ef_action *act = &plan.actions[i];
		fprintf(out, "  %-8s %-20s %s%s%.12s\n", ef_action_name(act->kind), act->service,
		        act->reason, act->old_id ? " container=" : "",
		        act->old_id ? act->old_id : "");
	}
	for (size_t i = 0; plan.orphans && plan.orphans[i]; i++)
		fprintf(out, "  %-8s %-20s container=%.12s\n", "orphan", "-", plan.orphans[i]);
	fprintf(out, "%zu change(s)\n", plan.changes);
	ef_plan_dispose(&plan);
out:
	ef_manifest_free(m);
	return error;
}

int ef_agent_verify(ef_agent *a, ef_verify_result *out, char commit[EF_OID_HEX], const char *rev)
{
	char head[EF_OID_HEX];
	ef_buf raw;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = open_source(a)) < 0)
		return error;
	if ((error = ef_source_poll(a->src, head)) < 0 ||
	    (error = ef_source_fetch(a->src, head)) < 0)
		return error;
	if ((error = ef_source_resolve(a->src, commit, rev ? rev : head)) < 0)
		return error;
	if (a->cfg->insecure_skip_verify && !a->cfg->allowed_signers && !a->cfg->openpgp_keys) {
		ef_error_set("no trusted keys configured ([trust] allowed_signers / openpgp_keys)");
		return EF_EINVALID;
	}
	if ((error = ef_trust_load(&a->trust, a->cfg->allowed_signers, a->cfg->openpgp_keys)) < 0)
		return error;
	if ((error = ef_source_read_commit(a->src, &raw, commit, MAX_COMMIT_BYTES)) < 0)
		return error;
	error = ef_verify_commit(out, a->trust, raw.ptr, raw.len, ef_clock_wall());
	ef_buf_dispose(&raw);
	return error;
}

int ef_agent_rollback(ef_agent *a)
{
	ef_state *st = &a->st;
	char from[EF_OID_HEX], to[EF_OID_HEX];
	ef_verify_result vr;
	ef_manifest *m = NULL;
	int error;

	if (!st->previous[0]) {
		ef_error_set("no previous revision to go back to (see `edgeflip status`)");
		return EF_ENOTFOUND;
	}
	snprintf(from, sizeof(from), "%s", st->revision);
	snprintf(to, sizeof(to), "%s", st->previous);
	if ((error = open_source(a)) < 0 || (error = ef_agent_engine(a)) < 0)
		return error;
	/* Objects of the previous revision are in the cache: no network needed.
	 * Verify again: the cache is on a disk an attacker may have touched. */
	error = check_trust(a, &vr, to);
	if (error < 0) {
		ef_error_prefix("previous revision %.12s fails verification", to);
		return EF_EREJECTED;
	}
	if ((error = load_manifest(a, &m, to)) < 0)
		return error;
	{
		/* Images are checked again: a tag may name other content now. */
		ef_buf why = EF_BUF_INIT(8192);
		error = ef_agent_check_images(a, m, &why);
		if (error == EF_EREJECTED)
			ef_error_set("previous revision %.12s: %s", to, why.ptr);
		ef_buf_dispose(&why);
		if (error < 0) {
			ef_manifest_free(m);
			return error;
		}
	}
	ef_info("rollback-requested", "from=%.12s to=%.12s", from, to);
	/* The revision we leave stays off until a newer commit arrives. */
	ef_state_quarantine(st, from, "rolled back by the operator");
	error = converge(a, m, to, vr.signer[0] ? vr.signer : st->signer);
	if (error == 0) {
		snprintf(st->last_rollback.revision, sizeof(st->last_rollback.revision), "%s",
		         from);
		free(st->last_rollback.result);
		free(st->last_rollback.reason);
		st->last_rollback.result = strdup("rolled-back");
		st->last_rollback.reason = strdup("rolled back by the operator");
		st->last_rollback.at = ef_clock_wall();
		ef_state_add_history(st, from, "rolled-back", "rolled back by the operator",
		                     a->cfg->history_size);
		error = ef_agent_save(a);
		ef_fleet_rolled_back(a, from, to);
	}
	ef_manifest_free(m);
	return error;
}
