/* One reconcile pass:
 * poll -> (changed?) -> fetch -> verify -> anti-rollback -> manifest -> policy
 * -> plan -> deploy; and when nothing changed, a cheap drift check. */
#include "agent_internal.h"
#include "edgeflip/buf.h"
#include "edgeflip/deploy.h"
#include "edgeflip/error.h"
#include "edgeflip/fault.h"
#include "edgeflip/files.h"
#include "edgeflip/log.h"
#include "edgeflip/manifest.h"
#include "edgeflip/plan.h"
#include "edgeflip/policy.h"
#include "edgeflip/previews.h"
#include "edgeflip/compose_read.h"
#include "edgeflip/source.h"
#include "edgeflip/sys/clock.h"
#include "edgeflip/sys/engine.h"
#include "edgeflip/sys/fs.h"
#include "edgeflip/sys/switch.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_COMMIT_BYTES (1u << 20)

volatile sig_atomic_t ef_agent_rollback_requested;

static int save_journal(ef_agent *a)
{
	return ef_state_save(&a->st, a->cfg->state_dir);
}

/* What deploys and recovery work with, lent by the agent. */
static ef_deploy_ctx deploy_ctx(ef_agent *a)
{
	ef_deploy_ctx c;

	memset(&c, 0, sizeof(c));
	c.cfg = a->cfg;
	c.engine = a->engine;
	c.sw = &a->sw;
	c.self_exe = a->self_exe;
	c.st = &a->st;
	c.rollback_requested = &ef_agent_rollback_requested;
	return c;
}

int ef_agent_open_engine(ef_agent *a)
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
	o.previews_prefix = a->previews_prefix;
	return ef_source_new(&a->src, &o);
}

static int open_trust(ef_agent *a)
{
	if (a->trust || a->cfg->insecure_skip_verify)
		return 0;
	return ef_trust_load(&a->trust, a->cfg->allowed_signers, a->cfg->openpgp_keys);
}

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

static bool names_as_previous(const ef_container *newer, const ef_container *older)
{
	return newer->previous && older->revision && strcmp(newer->previous, older->revision) == 0;
}

/* Of the running containers labelled for `service`, the one that serves:
 * the one the switch routes to; else the one that another names as the
 * revision it was to replace (the candidate of an interrupted deploy never
 * served); else the first. */
static const ef_container *serving_of(ef_agent *a, const ef_container_list *l, const char *service,
                                      const ef_route *r, size_t n)
{
	const ef_container *best = NULL;

	for (size_t i = 0; i < l->count; i++) {
		const ef_container *c = &l->items[i];
		if (!c->service || strcmp(c->service, service) != 0 ||
		    c->state != EF_CSTATE_RUNNING)
			continue;
		if (serves_route(a, c->id, service, r, n))
			return c;
		if (!best || names_as_previous(best, c))
			best = c;
	}
	return best;
}

static int add_service(ef_state *st, const ef_container *c)
{
	ef_state_service *v = realloc(st->services, (st->nservices + 1) * sizeof(*v));

	if (!v)
		return EF_ENOMEM;
	st->services = v;
	v = &st->services[st->nservices++];
	memset(v, 0, sizeof(*v));
	v->name = strdup(c->service);
	v->container_id = strdup(c->id);
	v->spec_hash = strdup(c->spec ? c->spec : "");
	v->image = strdup(c->image ? c->image : "");
	v->slot = strdup(c->slot && strcmp(c->slot, "green") == 0 ? "green" : "blue");
	return v->name && v->container_id && v->spec_hash && v->image && v->slot ? 0 : EF_ENOMEM;
}

static bool is_commit_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return (n == 40 || n == 64) && strspn(s, "0123456789abcdef") == n;
}

/* The journal was lost or damaged: the picture from the engine's labels and
 * the switch, which kept the routes in force. Per service, the container
 * that serves (serving_of) is kept; a second one (the candidate of an
 * interrupted deploy) is left to the orphan sweep. The revision and the
 * previous one come from the serving containers' labels; what labels cannot
 * tell (history, quarantine, the last rollback) is said in the history. */
static int rebuild_from_engine(ef_agent *a)
{
	ef_container_list l;
	ef_state *st = &a->st;
	ef_route *r = NULL;
	size_t n = 0;
	int error = 0;

	memset(&l, 0, sizeof(l));
	if ((error = a->engine->ops->list(a->engine, &l)) < 0)
		return error;
	if (l.count && a->sw == NULL) {
		ef_deploy_ctx c = deploy_ctx(a);
		if (ef_deploy_switch(&c) == 0 && a->sw->ops->current)
			a->sw->ops->current(a->sw, &r, &n);
	}
	for (size_t i = 0; i < l.count && error == 0; i++) {
		const ef_container *c = &l.items[i];

		if (!c->service || ef_state_find_service(st, c->service))
			continue;
		if ((c = serving_of(a, &l, c->service, r, n)) == NULL)
			continue;
		if ((error = add_service(st, c)) < 0)
			break;
		if (c->revision && is_commit_id(c->revision) && !st->revision[0])
			snprintf(st->revision, sizeof(st->revision), "%s", c->revision);
		if (c->previous && is_commit_id(c->previous) && !st->previous[0] &&
		    strcmp(c->previous, st->revision) != 0)
			snprintf(st->previous, sizeof(st->previous), "%s", c->previous);
		ef_info("rebuilt-service",
		        "service=%s container=%.12s slot=%s revision=%.12s "
		        "previous=%.12s",
		        c->service, c->id, c->slot ? c->slot : "", c->revision ? c->revision : "",
		        c->previous ? c->previous : "");
	}
	for (size_t i = 0; i < n && error == 0; i++) {
		ef_state_service *s = ef_state_find_service(st, r[i].service);
		char line[256];

		if (!s || !serves_route(a, s->container_id, r[i].service, &r[i], 1))
			continue;
		if ((error = ef_deploy_route_line(line, sizeof(line), &r[i])) == 0)
			error = ef_strv_push(&s->public_ports, line);
	}
	ef_routes_free(r, n);
	ef_container_list_dispose(&l);
	if (error == 0 && st->nservices) {
		ef_warn("journal-rebuilt",
		        "services=%zu revision=%.12s previous=%.12s "
		        "what=\"history, quarantine and the last rollback could not be recovered\"",
		        st->nservices, st->revision, st->previous);
		if (st->revision[0])
			ef_state_add_history(
			        st, st->revision, "journal-rebuilt",
			        "the journal was lost or damaged: what runs, the "
			        "revision and the previous one were rebuilt from "
			        "container labels and routes; older history, the "
			        "quarantine and the last rollback could not be recovered",
			        a->cfg->history_size);
		error = save_journal(a);
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
	a->requests_due = true; /* the first pass looks for requests left over */
	a->self_exe = strdup(self_exe);
	ef_state_init(&a->st);
	snprintf(a->cache_dir, sizeof(a->cache_dir), "%s/cache.git", cfg->state_dir);
	if (cfg->previews && !(a->previews_prefix = ef_preview_prefix(cfg->previews))) {
		error = EF_ENOMEM;
		goto fail;
	}
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
	ef_age_identities_free(a->age);
	ef_fleet_free(a->fleet);
	ef_state_dispose(&a->st);
	free(a->self_exe);
	free(a->previews_prefix);
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

static void remove_orphans(ef_agent *a, char *const *orphans, const char *why)
{
	ef_deploy_ctx c = deploy_ctx(a);

	for (size_t i = 0; orphans && orphans[i]; i++)
		ef_deploy_remove(&c, orphans[i], NULL, why);
}

static int converge(ef_agent *a, const ef_manifest *m, const char *target, const char *signer);
static int open_source(ef_agent *a);

/* The device policy as it is now, on every path that creates containers
 * (drift repair, restore, rollback), not only fresh deploys: a policy
 * tightened since `revision` was deployed holds for it too. EF_EREJECTED with
 * the findings in the error; nothing is created then. */
static int policy_allows(ef_agent *a, const ef_manifest *m, const char *revision, const char *path)
{
	char **findings = NULL;
	ef_buf all = EF_BUF_INIT(8192);

	if (ef_policy_check(&findings, &a->cfg->policy, m) == 0)
		return 0;
	for (size_t i = 0; findings && findings[i]; i++) {
		ef_error("policy", "revision=%.12s path=%s finding=\"%s\"", revision, path,
		         findings[i]);
		ef_buf_printf(&all, "%s%s", i ? "; " : "", findings[i]);
	}
	ef_error_set("%s of %.12s refused: the revision breaks the device policy now (%s); "
	             "nothing was created; deploy a commit the policy allows or relax [policy]",
	             path, revision, all.ptr ? all.ptr : "refused");
	ef_buf_dispose(&all);
	ef_strv_free(findings);
	return EF_EREJECTED;
}

/* A service of the running set was left without a live container: bring the
 * running revision up again, from the cache (no network needed). */
static int restore_running(ef_agent *a)
{
	ef_manifest *m = NULL;
	int error;

	if (a->restoring || !a->st.revision[0])
		return 0;
	ef_warn("restore", "revision=%.12s what=\"bringing the running revision up again\"",
	        a->st.revision);
	if ((error = open_source(a)) < 0 ||
	    (error = ef_agent_load_manifest(a, &m, a->st.revision)) < 0) {
		ef_error("restore-failed", "revision=%.12s error=\"%s\"", a->st.revision,
		         ef_error_last());
		return error;
	}
	if ((error = policy_allows(a, m, a->st.revision, "restore")) == 0) {
		a->restoring = true;
		error = converge(a, m, a->st.revision, a->st.signer);
		a->restoring = false;
	}
	ef_manifest_free(m);
	return error;
}

int ef_agent_recover(ef_agent *a)
{
	ef_container_list l;
	ef_deploy_ctx c;
	int error;

	if ((error = ef_agent_open_engine(a)) < 0)
		return error;
	/* Rebuilt only when the journal was lost or damaged: a journal with an
	 * open deploy and nothing running yet is the first deploy, not a loss. */
	if (a->st.version == -1 || (a->st.phase == EF_PHASE_IDLE && a->st.nservices == 0 &&
	                            !a->st.revision[0] && a->st.nhistory == 0)) {
		a->st.version = EF_STATE_VERSION;
		if ((error = rebuild_from_engine(a)) < 0)
			return error;
	}
	c = deploy_ctx(a);
	if ((error = ef_deploy_recover(&c)) < 0)
		ef_warn("recover-incomplete", "error=\"%s\"", ef_error_last());
	/* Orphans: edgeflip containers the journal does not know. */
	memset(&l, 0, sizeof(l));
	if ((error = a->engine->ops->list(a->engine, &l)) < 0)
		return error;
	for (size_t i = 0; i < l.count; i++) {
		bool known = false;
		for (size_t j = 0; j < a->st.nservices; j++)
			if (strcmp(a->st.services[j].container_id, l.items[i].id) == 0)
				known = true;
		if (!known)
			ef_deploy_remove(&c, l.items[i].id, l.items[i].service,
			                 "orphan: no journal entry claims it");
	}
	ef_container_list_dispose(&l);
	ef_deploy_prune_secrets(&c);
	if (c.restore_needed)
		restore_running(a);
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
	/* What the refused push brought goes again (docs/source.md, "Refused
	 * pushes cost nothing"); a failure here costs disk, not safety. */
	if (a->src && ef_source_discard(a->src, commit) < 0)
		ef_warn("discard-failed", "commit=%.12s error=\"%s\"", commit, ef_error_last());
	ef_state_quarantine(st, commit, line);
	ef_state_quarantine_kind(st, commit, what);
	ef_state_add_history(st, commit, "rejected", line, a->cfg->history_size);
	ef_strv_free(st->refusals);
	st->refusals = NULL;
	ef_strv_push(&st->refusals, line);
	free(st->last_result);
	st->last_result = strdup("rejected");
	free(st->last_error);
	st->last_error = strdup(line);
	save_journal(a);
	ef_fleet_refused(a, commit, what, reason);
	ef_error_set("commit %.12s rejected: %s", commit, line);
	return EF_EREJECTED;
}

/* The commit's tree as the compose reader's file source. */
static int tree_read(void *ctx, ef_buf *out, const char *rel, size_t cap)
{
	return ef_source_tree_read(ctx, out, rel, cap);
}

static int tree_stat(void *ctx, ef_compose_kind *out, const char *rel)
{
	ef_source_kind k;
	int error = ef_source_tree_stat(ctx, &k, rel);

	*out = k == EF_TREE_DIR    ? EF_COMPOSE_DIR
	       : k == EF_TREE_FILE ? EF_COMPOSE_FILE
	                           : EF_COMPOSE_ABSENT;
	return error;
}

static int tree_list(void *ctx, char ***out, const char *rel)
{
	return ef_source_tree_list(ctx, out, rel);
}

/* The device's age identities ([secrets] age_key_file), read once; none
 * configured is not an error (SOPS secrets are then refused). */
static int open_age(ef_agent *a)
{
	ef_buf text = EF_BUF_INIT(1u << 20);
	int error;

	if (a->age || !a->cfg->age_key_file)
		return 0;
	if ((error = ef_read_file(&text, a->cfg->age_key_file, text.cap)) < 0)
		ef_error_prefix("[secrets] age_key_file %s", a->cfg->age_key_file);
	else
		error = ef_age_identities_parse(&a->age, text.ptr, text.len, a->cfg->age_key_file);
	ef_buf_dispose_secret(&text);
	return error;
}

/* The environment directory of `commit` as the compose reader's file source
 * (`src`, valid until ef_source_tree_free(*tree)). EF_EINVALID: the commit
 * has no such directory. */
int ef_agent_open_env(ef_agent *a, ef_source_tree **tree, ef_compose_src *src, const char *commit)
{
	int error;

	*tree = NULL;
	memset(src, 0, sizeof(*src));
	error = ef_source_tree_open(tree, a->src, commit, a->cfg->path_in_repo);
	if (error < 0)
		return error == EF_ENOTFOUND ? EF_EINVALID : error;
	src->read = tree_read;
	src->stat = tree_stat;
	src->list = tree_list;
	src->ctx = *tree;
	src->name = ef_source_tree_name(*tree);
	return 0;
}

/* The environment directory of `commit` read as Compose reads a project
 * directory (compose.yaml, compose.json, overrides, .env, the device's
 * env_file), from the object database; the files its services use copied
 * out (ef_deploy_prepare). EF_EINVALID: the commit is at fault. */
/* The compose reader's options from the device's configuration. */
static ef_compose_opts compose_opts(const ef_agent *a)
{
	ef_compose_opts opts = {0};

	opts.env_file = a->cfg->env_file;
	opts.device_id = a->cfg->device_id;
	opts.labels = a->cfg->labels;
	opts.profiles = a->cfg->profiles;
	opts.max_file = (size_t)a->cfg->max_manifest_bytes; /* fits: config.c checks it */
	/* a SOPS .env: decrypted with the device's age identities (open_age) */
	opts.dotenv_open = ef_files_open_dotenv;
	opts.dotenv_ctx = a->age;
	return opts;
}

int ef_agent_load_manifest(ef_agent *a, ef_manifest **out, const char *commit)
{
	ef_compose_opts opts;
	ef_compose_src src;
	ef_source_tree *tree = NULL;
	int error;

	*out = NULL;
	if ((error = open_age(a)) < 0)
		return error;
	opts = compose_opts(a);
	if ((error = ef_agent_open_env(a, &tree, &src, commit)) < 0)
		return error;
	error = ef_compose_load(out, NULL, NULL, &src, &opts, NULL);
	if (error == 0 && (error = ef_deploy_prepare(a->cfg, *out, &src, a->age)) < 0) {
		ef_manifest_free(*out);
		*out = NULL;
		/* A secret that does not open: the commit is at fault. */
		if (error == EF_EREJECTED)
			error = EF_EINVALID;
	}
	ef_source_tree_free(tree);
	return error == EF_ENOTFOUND ? EF_EINVALID : error;
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
	ef_deploy_ctx c;
	ef_plan plan;
	ef_source_tree *tree = NULL;
	ef_compose_src env;
	int error;

	memset(&l, 0, sizeof(l));
	if ((error = a->engine->ops->list(a->engine, &l)) < 0)
		return error;
	error = ef_plan_make(&plan, m, &a->st, &l);
	ef_container_list_dispose(&l);
	if (error < 0)
		return error;
	remove_orphans(a, plan.orphans, "orphan: no service of the manifest claims it");
	if (plan.changes == 0 && strcmp(target, a->st.revision) == 0) {
		ef_plan_dispose(&plan);
		return 0;
	}
	c = deploy_ctx(a);
	/* The files of the target's environment directory (relative binds,
	 * secrets, configs) are copied out of its tree while it stages. */
	if (a->src && ef_agent_open_env(a, &tree, &env, target) == 0)
		c.env = &env;
	c.age = a->age;
	error = ef_deploy_run(&c, m, &plan, target, signer);
	ef_source_tree_free(tree);
	ef_plan_dispose(&plan);
	if (c.restore_needed)
		restore_running(a);
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
	if ((error = ef_agent_load_manifest(a, &m, a->st.revision)) < 0)
		return error;
	if ((error = policy_allows(a, m, a->st.revision, "drift repair")) == 0)
		error = converge(a, m, a->st.revision, a->st.signer);
	ef_fleet_drift_repaired(a, error);
	ef_manifest_free(m);
	return error;
}

int ef_agent_check_drift(ef_agent *a)
{
	int error;

	if ((error = ef_agent_open_engine(a)) < 0)
		return error;
	return check_drift(a);
}

int ef_agent_check_trust(ef_agent *a, ef_verify_result *vr, const char *commit)
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

/* The anti-rollback floor of a fresh device ([trust] not_before, baked into
 * the image): 1 with the reason in `why` when `head` lies below it, 0 when
 * not, < 0 on an error. */
int ef_agent_below_floor(ef_agent *a, char *why, size_t n, const char *head)
{
	char floor_commit[EF_OID_HEX];
	int64_t floor_time = 0, t = 0;
	bool ok = false;
	int error;

	if (ef_config_not_before(floor_commit, &floor_time, a->cfg->not_before) < 0) {
		ef_error_set("[trust] not_before: '%s' is invalid", a->cfg->not_before);
		return EF_EINVALID;
	}
	if (floor_commit[0]) {
		error = ef_source_descends(a->src, &ok, head, floor_commit);
		if (error < 0 && error != EF_ENOTFOUND)
			return error;
		if (ok)
			return 0;
		snprintf(why, n,
		         "%.12s does not descend from [trust] not_before %.12s (the oldest commit "
		         "this image accepts); push a newer commit",
		         head, floor_commit);
		return 1;
	}
	if ((error = ef_source_commit_time(a->src, &t, head)) < 0)
		return error;
	if (t >= floor_time)
		return 0;
	snprintf(why, n,
	         "%.12s was committed before [trust] not_before %s (the oldest date this "
	         "image accepts); push a newer commit",
	         head, a->cfg->not_before);
	return 1;
}

static int apply_commit(ef_agent *a, const char *head);

int ef_agent_pass(ef_agent *a)
{
	ef_state *st = &a->st;
	char head[EF_OID_HEX];
	int error;

	if (ef_agent_requests_now(a))
		ef_agent_apply_retry_requests(a);
	a->requests_decided = false;
	ef_agent_recheck_trust(a);
	if ((error = open_source(a)) < 0)
		return error;
	/* In memory only: a no-change poll writes nothing (docs/state.md). */
	st->last_poll = ef_clock_wall();
	if ((error = ef_source_poll(a->src, head)) < 0) {
		ef_warn("poll-failed", "url=%s error=\"%s\"", a->cfg->url, ef_error_last());
		ef_fleet_poll_failed(a);
		return error;
	}
	if ((error = ef_agent_open_engine(a)) < 0) {
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
		/* Events report drift as it happens; the listing stays as a slow
		 * safety net for an event missed. */
		ef_agent_previews_pass(a);
		if (a->events_live && ++a->passes_unlisted < EF_AGENT_LIST_EVERY)
			return 0;
		a->passes_unlisted = 0;
		return check_drift(a);
	}
	ef_info("new-commit", "commit=%.12s branch=%s", head, a->cfg->branch);
	error = apply_commit(a, head);
	/* A preview never holds production back, nor the other way round. */
	ef_agent_previews_pass(a);
	return error;
}

/* A commit of the branch that is not deployed yet (polled, or imported from
 * a bundle): fetch (a no-op when its objects are in the cache), verify,
 * descent, manifest, policy, images, deploy. */
static int apply_commit(ef_agent *a, const char *head)
{
	ef_state *st = &a->st;
	ef_verify_result vr;
	ef_manifest *m = NULL;
	char **findings = NULL, **signers = NULL;
	int error;

	if ((error = ef_source_fetch(a->src, head)) < 0) {
		/* Past max_fetch_size: the push itself is the problem, and fetching
		 * it again on every poll would cost max_fetch_size each time. */
		if (error == EF_ETOOBIG)
			return reject(a, head, "size", ef_error_last());
		ef_warn("fetch-failed", "commit=%.12s error=\"%s\"", head, ef_error_last());
		return error;
	}
	ef_fault_point("after-fetch");

	error = ef_agent_check_trust(a, &vr, head);
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

	if (!st->revision[0] && a->cfg->not_before) {
		char why[300];

		if ((error = ef_agent_below_floor(a, why, sizeof(why), head)) < 0)
			return error;
		if (error > 0)
			return reject(a, head, "not-before", why);
	}

	if ((error = ef_agent_load_manifest(a, &m, head)) < 0) {
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
		save_journal(a);
		ef_buf_dispose(&all);
		ef_manifest_free(m);
		return error;
	}
	ef_strv_free(st->refusals);
	st->refusals = NULL;
	{
		ef_buf why = EF_BUF_INIT(8192);
		error = ef_agent_check_images(a, m, &why, &signers);
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
		ef_strv_free(signers);
		ef_manifest_free(m);
		return check_drift(a);
	}
	error = converge(a, m, head, vr.signer[0] ? vr.signer : "");
	if (error == 0)
		ef_agent_note_signers(a, signers);
	ef_strv_free(signers);
	if (error != 0 || strcmp(st->revision, head) == 0)
		ef_fleet_deployed(a, head, vr.signer, error);
	free(st->last_result);
	free(st->last_error);
	/* "retrying": rolled back for a transient fault, not quarantined. */
	st->last_result = strdup(error == 0                 ? "deployed"
	                         : error == EF_EUNREACHABLE ? "retrying"
	                                                    : "rolled-back");
	st->last_error = error == 0 ? NULL : strdup(ef_error_last());
	save_journal(a);
	ef_manifest_free(m);
	return error;
}

int ef_agent_import(ef_agent *a, const char *file)
{
	char head[EF_OID_HEX];
	int error;

	if ((error = open_source(a)) < 0)
		return error;
	if ((error = ef_source_import(a->src, head, file)) < 0) {
		ef_error("import-refused", "file=%s reason=\"%s\"", file, ef_error_last());
		return error;
	}
	if ((error = ef_agent_open_engine(a)) < 0)
		return error;
	if (strcmp(head, a->st.revision) == 0) {
		ef_info("import-current", "commit=%.12s what=\"already deployed\"", head);
		return check_drift(a);
	}
	if (ef_state_is_quarantined(&a->st, head)) {
		ef_error_set("commit %.12s of %s is quarantined (refused or rolled back before); "
		             "a newer commit is needed (see `edgeflip status`)",
		             head, file);
		return EF_EREJECTED;
	}
	ef_info("new-commit", "commit=%.12s branch=%s bundle=%s", head, a->cfg->branch, file);
	return apply_commit(a, head);
}

int ef_agent_plan(ef_agent *a, FILE *out)
{
	char head[EF_OID_HEX];
	ef_container_list l;
	ef_manifest *m = NULL;
	ef_plan plan;
	int error;

	if ((error = open_source(a)) < 0 || (error = ef_source_poll(a->src, head)) < 0 ||
	    (error = ef_source_fetch(a->src, head)) < 0 ||
	    (error = ef_agent_load_manifest(a, &m, head)) < 0)
		return error;
	if ((error = ef_agent_open_engine(a)) < 0)
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

/* verify: the secret files and env_files of `m` (see ef_agent_verify_contents). */
static bool verify_secrets(ef_agent *a, FILE *out, const ef_manifest *m, const ef_compose_src *src)
{
	ef_files files = {.src = src, .age = a->age};
	bool good = true;

	for (size_t i = 0; i < m->nsecrets; i++) {
		const ef_file_source *fs = &m->secrets[i];
		ef_buf content = EF_BUF_INIT(EF_FILES_MAX_FILE);
		int r;

		if (!fs->file || fs->file[0] == '/')
			continue; /* not from the commit */
		r = src->read(src->ctx, &content, fs->file, EF_FILES_MAX_FILE);
		if (r == 0)
			r = ef_files_check_secret(&files, fs->file, content.ptr ? content.ptr : "",
			                          content.len);
		ef_buf_dispose(&content);
		fprintf(out, "secret:  %s (%s): %s\n", fs->key, fs->file,
		        r > 0    ? "good: SOPS, decrypts with this device's age key, MAC checked"
		        : r == 0 ? "plain: not encrypted"
		                 : ef_error_last());
		good &= r >= 0;
	}
	for (size_t i = 0; i < m->nservices; i++) {
		const ef_service *s = &m->services[i];

		for (size_t j = 0; j < s->nenv_files; j++) {
			ef_env env;
			int r;

			ef_env_init(&env);
			r = ef_files_env(&env, &files, &s->env_files[j]);
			for (size_t k = 0; k < env.n; k++)
				ef_str_wipe(env.values[k]);
			ef_env_dispose(&env);
			fprintf(out, "env_file: %s (%s): %s\n", s->name, s->env_files[j].path,
			        r > 0    ? "good: SOPS, decrypts with this device's age key, MAC "
			                   "checked"
			        : r == 0 ? "plain: not encrypted"
			                 : ef_error_last());
			good &= r >= 0;
		}
	}
	return good;
}

int ef_agent_verify_contents(ef_agent *a, FILE *out, const char *commit)
{
	ef_compose_opts opts;
	ef_compose_src src;
	ef_source_tree *tree = NULL;
	ef_manifest *m = NULL;
	ef_buf why = EF_BUF_INIT(8192);
	char **signers = NULL;
	bool good;
	int error;

	if ((error = open_age(a)) < 0)
		goto out;
	opts = compose_opts(a);
	if ((error = ef_agent_open_env(a, &tree, &src, commit)) < 0 ||
	    (error = ef_compose_load(&m, NULL, NULL, &src, &opts, NULL)) < 0)
		goto out;
	good = verify_secrets(a, out, m, &src);
	if (!a->cfg->image_keys) {
		fprintf(out, "images:  not checked ([trust] image_keys is not set)\n");
	} else {
		error = ef_agent_check_images(a, m, &why, &signers);
		if (error < 0 && error != EF_EREJECTED)
			goto out;
		for (size_t i = 0; i < m->nservices; i++) {
			const char *key = ef_agent_signer_of(signers, m->services[i].image);
			fprintf(out, "image:   %s (%s): %s%s\n", m->services[i].name,
			        m->services[i].image, key ? "good: signed by " : "bad",
			        key ? key : "");
		}
		if (why.len)
			fprintf(out, "images refused: %s\n", why.ptr);
		good &= why.len == 0;
	}
	error = good ? 0 : EF_EREJECTED;
out:
	ef_strv_free(signers);
	ef_buf_dispose(&why);
	ef_manifest_free(m);
	ef_source_tree_free(tree);
	return error;
}

int ef_agent_rollback(ef_agent *a)
{
	ef_state *st = &a->st;
	char from[EF_OID_HEX], to[EF_OID_HEX];
	char **signers = NULL;
	ef_verify_result vr;
	ef_manifest *m = NULL;
	int error;

	if (!st->previous[0]) {
		ef_error_set("no previous revision to go back to (see `edgeflip status`)");
		return EF_ENOTFOUND;
	}
	snprintf(from, sizeof(from), "%s", st->revision);
	snprintf(to, sizeof(to), "%s", st->previous);
	if ((error = open_source(a)) < 0 || (error = ef_agent_open_engine(a)) < 0)
		return error;
	/* Objects of the previous revision are in the cache: no network needed.
	 * Verify again: the cache is on a disk an attacker may have touched. */
	error = ef_agent_check_trust(a, &vr, to);
	if (error < 0) {
		ef_error_prefix("previous revision %.12s fails verification", to);
		return EF_EREJECTED;
	}
	if ((error = ef_agent_load_manifest(a, &m, to)) < 0)
		return error;
	if ((error = policy_allows(a, m, to, "rollback")) < 0) {
		ef_manifest_free(m);
		return error;
	}
	{
		/* Images are checked again: a tag may name other content now. */
		ef_buf why = EF_BUF_INIT(8192);
		error = ef_agent_check_images(a, m, &why, &signers);
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
	ef_state_quarantine_kind(st, from, "operator");
	error = converge(a, m, to, vr.signer[0] ? vr.signer : st->signer);
	if (error == 0)
		ef_agent_note_signers(a, signers);
	ef_strv_free(signers);
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
		error = save_journal(a);
		ef_fleet_rolled_back(a, from, to);
	}
	ef_manifest_free(m);
	return error;
}
