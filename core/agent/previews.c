/* Preview environments (docs/previews.md): each ref of the last poll's
 * listing that matches [source] previews and whose commit has the
 * environment directory runs as its own project pr-N beside production.
 *
 * A preview goes through the same checks as the branch (signature, descent
 * from the preview's last deployed commit, not_before, manifest, policy,
 * image signatures), then is recreated: its old containers go and the new
 * ones start with every published port moved to a port of [source]
 * preview_ports (kept for the life of the preview). No switch, no blue/green:
 * a preview is a test environment. Its containers carry EF_LABEL_PREVIEW and
 * not EF_LABEL_SERVICE, so production's listing, plans and orphan sweeps
 * never see them; its networks and volumes carry its project name
 * "<[engine] project>-pr-N". A refusal is recorded on the preview alone. */
#include "agent_internal.h"
#include "edgeflip/buf.h"
#include "edgeflip/deploy.h"
#include "edgeflip/error.h"
#include "edgeflip/files.h"
#include "edgeflip/log.h"
#include "edgeflip/manifest.h"
#include "edgeflip/policy.h"
#include "edgeflip/previews.h"
#include "edgeflip/source.h"
#include "edgeflip/spec.h"
#include "edgeflip/sys/engine.h"
#include "edgeflip/sys/fs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	char id[EF_PREVIEW_ID_MAX];
	char name[EF_PREVIEW_ID_MAX + 4]; /* "pr-" id */
	const char *ref;                  /* borrowed from the source's listing */
	char oid[EF_OID_HEX];
} wanted;

static void project_of(char *out, size_t n, const ef_agent *a, const char *name)
{
	snprintf(out, n, "%s-%s",
	         a->cfg->engine_project && *a->cfg->engine_project ? a->cfg->engine_project
	                                                           : "edgeflip",
	         name);
}

static void local_ref_of(char *out, size_t n, const char *name)
{
	snprintf(out, n, "refs/edgeflip/previews/%s", name);
}

static int cmp_wanted(const void *x, const void *y)
{
	return ef_preview_id_cmp(((const wanted *)x)->id, ((const wanted *)y)->id);
}

/* The refs of the listing that match the pattern, lowest id first. */
static int list_wanted(ef_agent *a, wanted **out, size_t *n)
{
	char *const *refs = ef_source_preview_refs(a->src);
	size_t count = 0;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; refs && refs[i]; i++)
		count++;
	if (count == 0)
		return 0;
	if (!(*out = calloc(count, sizeof(**out))))
		return EF_ENOMEM;
	for (size_t i = 0; refs && refs[i]; i++) {
		const char *sp = strchr(refs[i], ' ');
		wanted *w = &(*out)[*n];

		if (!sp || (size_t)(sp - refs[i]) >= sizeof(w->oid) ||
		    ef_preview_match(w->id, sizeof(w->id), a->cfg->previews, sp + 1) != 1)
			continue;
		memcpy(w->oid, refs[i], (size_t)(sp - refs[i]));
		w->oid[sp - refs[i]] = '\0';
		w->ref = sp + 1;
		snprintf(w->name, sizeof(w->name), "pr-%s", w->id);
		(*n)++;
	}
	qsort(*out, *n, sizeof(**out), cmp_wanted);
	return 0;
}

/* Removes every container of preview `name`. */
static int remove_containers(ef_agent *a, const char *name)
{
	ef_container_list l;
	int error;

	memset(&l, 0, sizeof(l));
	if ((error = a->engine->ops->list_previews(a->engine, &l)) < 0)
		return error;
	for (size_t i = 0; i < l.count; i++) {
		const ef_container *c = &l.items[i];
		int e;

		if (!c->preview || strcmp(c->preview, name) != 0)
			continue;
		e = a->engine->ops->remove(a->engine, c->id);
		if (e < 0 && e != EF_ENOTFOUND) {
			ef_warn("preview-remove-failed", "preview=%s container=%.12s error=\"%s\"",
			        name, c->id, ef_error_last());
			error = e;
		} else {
			ef_info("preview-container-removed",
			        "preview=%s container=%.12s service=%s", name, c->id,
			        c->service ? c->service : "");
		}
	}
	ef_container_list_dispose(&l);
	return error;
}

/* Everything preview `p` made: containers, networks, volumes, its files, its
 * ref in the cache. Its entry stays (the caller drops it) so that a
 * failure is tried again on the next pass. */
static int remove_preview(ef_agent *a, const ef_preview *p, const char *why)
{
	char project[300], path[4400];
	char **nets = NULL;
	int error;

	project_of(project, sizeof(project), a, p->name);
	ef_info("preview-removing", "preview=%s ref=%s why=\"%s\"", p->name, p->ref, why);
	if ((error = remove_containers(a, p->name)) < 0)
		return error;
	if ((error = a->engine->ops->network_list(a->engine, &nets, project)) < 0)
		return error;
	for (size_t i = 0; nets && nets[i]; i++) {
		int e = a->engine->ops->network_remove(a->engine, nets[i]);
		if (e < 0 && e != EF_ENOTFOUND)
			error = e;
	}
	ef_strv_free(nets);
	for (size_t i = 0; p->volumes && p->volumes[i]; i++) {
		int e = a->engine->ops->volume_remove(a->engine, p->volumes[i]);
		if (e < 0 && e != EF_ENOTFOUND)
			error = e;
	}
	snprintf(path, sizeof(path), "%s/previews/%s", a->cfg->state_dir, p->name);
	ef_fs_remove_tree(path);
	snprintf(path, sizeof(path), "%s/previews/%s",
	         a->cfg->runtime_dir ? a->cfg->runtime_dir : "/run/edgeflip", p->name);
	ef_fs_remove_tree(path);
	local_ref_of(path, sizeof(path), p->name);
	ef_source_drop_ref(a->src, path);
	if (error == 0)
		ef_info("preview-removed", "preview=%s", p->name);
	return error;
}

static void refuse(ef_preview *p, const char *oid, const char *what, const char *reason)
{
	ef_error("preview-rejected", "preview=%s ref=%s commit=%.12s what=%s reason=\"%s\"",
	         p->name, p->ref, oid, what, reason);
	snprintf(p->refused, sizeof(p->refused), "%s", oid);
	free(p->reason);
	p->reason = NULL;
	p->reason = malloc(strlen(what) + strlen(reason) + 3);
	if (p->reason)
		sprintf(p->reason, "%s: %s", what, reason);
}

/* The checks production makes, on the preview's own line of history.
 * 0: deploy `m`; EF_EREJECTED: refused (recorded); other: transient. */
static int check_preview(ef_agent *a, ef_preview *p, const char *oid, ef_manifest **m)
{
	char why[400];
	char **findings = NULL;
	ef_verify_result vr;
	int error;

	*m = NULL;
	error = ef_agent_check_trust(a, &vr, oid);
	if (error == EF_EREJECTED || error == EF_EINVALID) {
		refuse(p, oid, "signature", vr.reason[0] ? vr.reason : ef_error_last());
		return EF_EREJECTED;
	}
	if (error < 0)
		return error;
	if (p->revision[0] && !a->cfg->allow_rollback) {
		bool ok = false;
		if ((error = ef_source_descends(a->src, &ok, oid, p->revision)) < 0)
			return error;
		if (!ok) {
			snprintf(why, sizeof(why),
			         "%.12s does not descend from %.12s, the commit this preview runs "
			         "(force-push or replayed history); delete and push the ref again "
			         "to start a new preview",
			         oid, p->revision);
			refuse(p, oid, "anti-rollback", why);
			return EF_EREJECTED;
		}
	}
	if (a->cfg->not_before) {
		if ((error = ef_agent_below_floor(a, why, sizeof(why), oid)) < 0)
			return error;
		if (error > 0) {
			refuse(p, oid, "not-before", why);
			return EF_EREJECTED;
		}
	}
	if ((error = ef_agent_load_manifest(a, m, oid)) < 0) {
		if (error != EF_EINVALID)
			return error;
		refuse(p, oid, "manifest", ef_error_last());
		return EF_EREJECTED;
	}
	if (ef_policy_check(&findings, &a->cfg->policy, *m) < 0) {
		ef_buf all = EF_BUF_INIT(8192);
		for (size_t i = 0; findings && findings[i]; i++)
			ef_buf_printf(&all, "%s%s", i ? "; " : "", findings[i]);
		refuse(p, oid, "policy", all.ptr ? all.ptr : "refused");
		ef_buf_dispose(&all);
		ef_strv_free(findings);
		goto refused;
	}
	{
		ef_buf bad = EF_BUF_INIT(8192);
		char **signers = NULL;

		error = ef_agent_check_images(a, *m, &bad, &signers);
		ef_strv_free(signers); /* previews keep no journal of signers */
		if (error == EF_EREJECTED)
			refuse(p, oid, "image-signature", bad.ptr ? bad.ptr : "refused");
		ef_buf_dispose(&bad);
		if (error == EF_EREJECTED)
			goto refused;
		if (error < 0) {
			ef_manifest_free(*m);
			*m = NULL;
			return error;
		}
	}
	return 0;
refused:
	ef_manifest_free(*m);
	*m = NULL;
	return EF_EREJECTED;
}

/* The service's ports, published ones moved into the preview range. The
 * mapping is recorded in p->ports as it is made (the allocator sees it). */
static int preview_ports(ef_agent *a, ef_previews *all, ef_preview *p, const ef_service *s,
                         ef_engine_port **out, bool *used)
{
	ef_engine_port *v = s->nports ? calloc(s->nports, sizeof(*v)) : NULL;
	int error = 0;

	*out = v;
	if (s->nports && !v)
		return EF_ENOMEM;
	for (size_t i = 0; i < s->nports && error == 0; i++) {
		const ef_port *sp = &s->ports[i];
		uint16_t host = 0;
		bool known = false;

		v[i].host_ip = sp->host_ip ? strdup(sp->host_ip) : NULL;
		v[i].container_port = sp->container_port;
		memcpy(v[i].protocol, sp->protocol, sizeof(v[i].protocol));
		if (!sp->host_port)
			continue;
		if ((error = ef_preview_port_alloc(&host, all, p->name, s->name, sp->container_port,
		                                   sp->protocol, a->cfg->preview_port_lo,
		                                   a->cfg->preview_port_hi)) < 0)
			break;
		v[i].host_port = host;
		for (size_t j = 0; j < p->nports; j++)
			if (p->ports[j].host_port == host) {
				used[j] = true;
				known = true;
			}
		if (!known) {
			ef_preview_port *q = realloc(p->ports, (p->nports + 1) * sizeof(*q));
			if (!q)
				return EF_ENOMEM;
			p->ports = q;
			q = &p->ports[p->nports];
			memset(q, 0, sizeof(*q));
			if (!(q->service = strdup(s->name)))
				return EF_ENOMEM;
			q->container_port = sp->container_port;
			q->host_port = host;
			memcpy(q->protocol, sp->protocol, sizeof(q->protocol));
			used[p->nports++] = true;
		}
	}
	return error;
}

static void free_ports(ef_engine_port *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].host_ip);
	free(v);
}

/* Named volumes carry the project; anonymous ones get a name so that they
 * go with the preview. */
static int preview_volumes(ef_preview *p, ef_container_spec *spec, const char *project,
                           const char *service)
{
	for (size_t i = 0; i < spec->nmounts; i++) {
		ef_engine_mount *mt = &spec->mounts[i];
		ef_buf b = EF_BUF_INIT(4096);
		int error;

		if (mt->type != EF_ENGINE_MOUNT_VOLUME)
			continue;
		if (mt->source)
			error = ef_buf_printf(&b, "%s_%s", project, mt->source);
		else
			error = ef_buf_printf(&b, "%s_%s_%zu", project, service, i);
		if (error < 0) {
			ef_buf_dispose(&b);
			return error;
		}
		free(mt->source);
		mt->source = ef_buf_detach(&b);
		if (!ef_strv_contains(p->volumes, mt->source) &&
		    (error = ef_strv_push(&p->volumes, mt->source)) < 0)
			return error;
	}
	return 0;
}

static bool deps_started(const ef_service *s, const ef_manifest *m, const bool *started)
{
	for (size_t d = 0; d < s->ndepends_on; d++)
		for (size_t k = 0; k < m->nservices; k++)
			if (strcmp(m->services[k].name, s->depends_on[d].service) == 0 &&
			    !started[k])
				return false;
	return true;
}

/* Recreates preview `p` at `oid` from `m`. */
static int run_preview(ef_agent *a, ef_previews *all, ef_preview *p, ef_manifest *m,
                       const char *oid)
{
	char project[300], root[4400], secret_root[4400];
	ef_source_tree *tree = NULL;
	ef_compose_src env;
	ef_files files;
	bool *used = NULL, *started = NULL;
	char(*ids)[65] = NULL;
	int error;

	project_of(project, sizeof(project), a, p->name);
	snprintf(root, sizeof(root), "%s/previews/%s", a->cfg->state_dir, p->name);
	snprintf(secret_root, sizeof(secret_root), "%s/previews/%s",
	         a->cfg->runtime_dir ? a->cfg->runtime_dir : "/run/edgeflip", p->name);
	/* Its own networks and names: no fixed network or container names. */
	for (size_t i = 0; i < m->nnetworks; i++)
		if (!m->networks[i].external) {
			free(m->networks[i].name);
			m->networks[i].name = NULL;
		}
	if ((error = ef_agent_open_env(a, &tree, &env, oid)) < 0)
		return error;
	memset(&files, 0, sizeof(files));
	files.src = &env;
	files.root = root;
	files.age = a->age;
	files.secret_root = secret_root;
	used = calloc(p->nports + 64 * (m->nservices + 1), sizeof(*used));
	started = calloc(m->nservices + 1, sizeof(*started));
	ids = calloc(m->nservices + 1, sizeof(*ids));
	error = EF_ENOMEM;
	if (!used || !started || !ids)
		goto out;
	if ((error = remove_containers(a, p->name)) < 0)
		goto out;
	if ((error = ef_deploy_networks(a->engine, m, project)) < 0)
		goto out;
	for (size_t i = 0; i < m->nservices && error == 0; i++) {
		ef_service *s = &m->services[i];
		ef_engine_port *ports = NULL;
		ef_container_spec spec;
		ef_spec_opts o;
		ef_create_req req;
		char cname[400];

		memset(&spec, 0, sizeof(spec));
		memset(&o, 0, sizeof(o));
		free(s->container_name);
		s->container_name = NULL;
		if (s->nports > 64) {
			ef_error_set("service %s: more than 64 ports in a preview", s->name);
			error = EF_EINVALID;
			break;
		}
		if ((error = preview_ports(a, all, p, s, &ports, used)) < 0) {
			free_ports(ports, s->nports);
			break;
		}
		o.ports = ports;
		o.nports = s->nports;
		o.network_prefix = project;
		o.manifest = m;
		o.files = &files;
		o.aliases = true;
		if ((error = ef_spec_build(&spec, s, &o)) == 0 &&
		    (error = preview_volumes(p, &spec, project, s->name)) == 0) {
			if (spec.stop_grace_s < 0)
				spec.stop_grace_s = (int)((a->cfg->stop_timeout_ms + 999) / 1000);
			snprintf(cname, sizeof(cname), "%s-%s", project, s->name);
			memset(&req, 0, sizeof(req));
			req.name = cname;
			req.spec = &spec;
			req.service = s->name;
			req.slot = "blue";
			req.revision = oid;
			req.spec_hash = s->spec_hash;
			req.previous = p->revision;
			req.preview = p->name;
			if ((error = a->engine->ops->pull(a->engine, spec.image)) == 0)
				error = a->engine->ops->create(a->engine, ids[i], &req);
		}
		ef_spec_dispose(&spec);
		free_ports(ports, s->nports);
		if (error < 0)
			ef_error_prefix("preview %s service %s", p->name, s->name);
	}
	/* Started in depends_on order (one round per level). */
	for (size_t round = 0; round <= m->nservices && error == 0; round++)
		for (size_t i = 0; i < m->nservices && error == 0; i++)
			if (!started[i] && deps_started(&m->services[i], m, started)) {
				if ((error = a->engine->ops->start(a->engine, ids[i])) < 0)
					ef_error_prefix("preview %s service %s", p->name,
					                m->services[i].name);
				started[i] = true;
			}
out:
	/* The mapping keeps only what the manifest publishes now. */
	if (error == 0 && used) {
		size_t k = 0;
		for (size_t j = 0; j < p->nports; j++) {
			if (used[j])
				p->ports[k++] = p->ports[j];
			else
				free(p->ports[j].service);
		}
		p->nports = k;
	}
	free(used);
	free(started);
	free(ids);
	ef_source_tree_free(tree);
	return error;
}

/* Brings preview `w` to its ref's commit; 1 when the record changed. */
static int update_preview(ef_agent *a, ef_previews *all, const wanted *w, bool gone)
{
	ef_preview *p = ef_previews_find(all, w->name);
	char local[300];
	ef_source_tree *tree = NULL;
	ef_manifest *m = NULL;
	int error;

	if (p && ((strcmp(p->revision, w->oid) == 0 && !gone) || strcmp(p->refused, w->oid) == 0))
		return 0;
	if (p && gone)
		ef_warn("preview-drift",
		        "preview=%s commit=%.12s what=\"its containers are gone: "
		        "deploying it again\"",
		        p->name, w->oid);
	if (!p) {
		ef_preview *v = realloc(all->items, (all->count + 1) * sizeof(*v));
		if (!v)
			return EF_ENOMEM;
		all->items = v;
		p = &all->items[all->count];
		memset(p, 0, sizeof(*p));
		if (!(p->name = strdup(w->name)) || !(p->ref = strdup(w->ref))) {
			free(p->name);
			return EF_ENOMEM;
		}
		all->count++;
	}
	ef_info("preview-commit", "preview=%s ref=%s commit=%.12s", p->name, w->ref, w->oid);
	local_ref_of(local, sizeof(local), p->name);
	if ((error = ef_source_fetch_ref(a->src, w->ref, local, w->oid)) == EF_ETOOBIG) {
		/* Fetched again on every pass it would cost max_fetch_size each time. */
		refuse(p, w->oid, "size", ef_error_last());
		return 1;
	}
	if (error < 0) {
		ef_warn("preview-fetch-failed", "preview=%s commit=%.12s error=\"%s\"", p->name,
		        w->oid, ef_error_last());
		return error;
	}
	/* Only commits with the environment directory are previews. */
	if (ef_source_tree_open(&tree, a->src, w->oid, a->cfg->path_in_repo) == EF_ENOTFOUND) {
		refuse(p, w->oid, "no-environment",
		       "the commit has no [source] path directory: not a preview");
		return 1;
	}
	ef_source_tree_free(tree);
	error = check_preview(a, p, w->oid, &m);
	if (error == EF_EREJECTED)
		return 1;
	if (error < 0)
		return error;
	error = run_preview(a, all, p, m, w->oid);
	if (error == 0) {
		snprintf(p->revision, sizeof(p->revision), "%s", w->oid);
		p->refused[0] = '\0';
		free(p->reason);
		p->reason = NULL;
		ef_info("preview-deployed", "preview=%s ref=%s commit=%.12s", p->name, w->ref,
		        w->oid);
		for (size_t i = 0; i < p->nports; i++)
			ef_info("preview-port",
			        "preview=%s service=%s container_port=%u host_port=%u", p->name,
			        p->ports[i].service, p->ports[i].container_port,
			        p->ports[i].host_port);
		error = 1;
	} else {
		ef_error("preview-failed", "preview=%s commit=%.12s error=\"%s\"", p->name, w->oid,
		         ef_error_last());
		/* An engine or registry away is tried again on the next pass;
		 * anything else waits for a newer commit on the ref. The
		 * revision stays: it is the floor of the descent check. */
		if (error != EF_EUNREACHABLE && error != EF_ETIMEOUT) {
			refuse(p, w->oid, "deploy", ef_error_last());
			error = 1;
		}
		remove_containers(a, p->name);
	}
	ef_manifest_free(m);
	return error;
}

static bool is_wanted(const wanted *w, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(w[i].name, name) == 0)
			return true;
	return false;
}

static bool has_containers(const ef_container_list *l, const char *name)
{
	for (size_t i = 0; i < l->count; i++)
		if (l->items[i].preview && strcmp(l->items[i].preview, name) == 0)
			return true;
	return false;
}

void ef_agent_previews_pass(ef_agent *a)
{
	ef_container_list running;
	ef_previews all;
	wanted *w = NULL;
	size_t n = 0;
	bool changed = false;

	memset(&running, 0, sizeof(running));
	if (!a->cfg->previews || !a->src || !a->engine)
		return;
	if (!a->engine->ops->list_previews || !a->engine->ops->volume_remove) {
		ef_warn("previews-unsupported", "what=\"the engine backend cannot run previews\"");
		return;
	}
	if (ef_previews_load(&all, a->cfg->state_dir) < 0) {
		/* A damaged record: start over; what it named is found by label. */
		ef_warn("previews-state-damaged", "error=\"%s\" what=\"starting a new record\"",
		        ef_error_last());
		memset(&all, 0, sizeof(all));
		a->previews_swept = false;
		changed = true;
	}
	if (list_wanted(a, &w, &n) < 0)
		goto out;
	for (size_t i = a->cfg->max_previews; i < n; i++)
		ef_info("preview-skipped", "preview=%s ref=%s what=\"max_previews = %u reached\"",
		        w[i].name, w[i].ref, a->cfg->max_previews);
	if (n > a->cfg->max_previews)
		n = a->cfg->max_previews;
	/* Gone first: their ports are free for the new ones. */
	for (size_t i = all.count; i-- > 0;) {
		if (is_wanted(w, n, all.items[i].name))
			continue;
		if (remove_preview(a, &all.items[i], "its ref is gone or beyond max_previews") ==
		    0) {
			ef_previews_remove(&all, i);
			changed = true;
		}
	}
	/* The previews' containers: one listing per pass while previews run
	 * (drift: a preview whose containers were all removed by hand is
	 * deployed again). Containers of previews no record names (a record
	 * lost in a crash) are looked for once per process. */
	if ((all.count || !a->previews_swept) &&
	    a->engine->ops->list_previews(a->engine, &running) < 0) {
		ef_warn("previews-list-failed", "error=\"%s\"", ef_error_last());
		goto out;
	}
	if (!a->previews_swept) {
		for (size_t i = 0; i < running.count; i++)
			if (running.items[i].preview &&
			    !ef_previews_find(&all, running.items[i].preview) &&
			    !is_wanted(w, n, running.items[i].preview))
				remove_containers(a, running.items[i].preview);
		a->previews_swept = true;
	}
	for (size_t i = 0; i < n; i++) {
		const ef_preview *p = ef_previews_find(&all, w[i].name);
		int r = update_preview(a, &all, &w[i],
		                       p && p->revision[0] && !has_containers(&running, p->name));
		if (r > 0)
			changed = true;
		if (r > 0 && ef_previews_save(&all, a->cfg->state_dir) < 0)
			ef_warn("previews-save-failed", "error=\"%s\"", ef_error_last());
	}
	if (changed && ef_previews_save(&all, a->cfg->state_dir) < 0)
		ef_warn("previews-save-failed", "error=\"%s\"", ef_error_last());
out:
	ef_container_list_dispose(&running);
	free(w);
	ef_previews_dispose(&all);
}
