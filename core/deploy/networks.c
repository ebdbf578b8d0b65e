/* Networks and the DNS names of containers: blue/green moves a service's
 * names with its traffic (docs/deploy.md, "Networks and names"). */
#include "networks.h"
#include "edgeflip/deploy.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/fault.h"
#include "edgeflip/log.h"
#include "edgeflip/spec.h"

#include <stdlib.h>
#include <string.h>

/* Does `c` have exactly the wanted aliases on `net` ("net=a,b" items)? */
static bool has_aliases(const ef_container *c, const ef_engine_endpoint *ep, bool on, bool *joined)
{
	size_t nlen = strlen(ep->network);
	char **have = NULL;
	bool ok = true;

	*joined = false;
	for (size_t i = 0; c->endpoints && c->endpoints[i]; i++) {
		const char *item = c->endpoints[i];
		if (strncmp(item, ep->network, nlen) != 0 || item[nlen] != '=')
			continue;
		*joined = true;
		if (ef_strv_split(&have, item + nlen + 1) < 0)
			return false;
	}
	for (size_t i = 0; ep->aliases && ep->aliases[i]; i++)
		if (ef_strv_contains(have, ep->aliases[i]) != on)
			ok = false;
	ef_strv_free(have);
	return *joined && ok;
}

/* Gives container `id` its DNS aliases (EF_LABEL_ALIASES) on each of its
 * networks (`on`), or keeps it on them without the aliases (`!on`), by
 * disconnecting and connecting it again. A network where it already has what
 * is wanted is left alone, so that this is safe to repeat (recovery). */
int ef_names_move(ef_engine *e, const char *id, bool on)
{
	ef_engine_endpoint *eps = NULL;
	size_t neps = 0;
	ef_container c;
	int error;

	memset(&c, 0, sizeof(c));
	if ((error = e->ops->inspect(e, &c, id)) < 0 ||
	    (error = ef_spec_aliases_parse(&eps, &neps, c.aliases)) < 0)
		goto out;
	/* A container that ran to completion (a one-shot) needs no name. */
	if (c.state == EF_CSTATE_EXITED || c.state == EF_CSTATE_DEAD)
		goto out_ok;
	for (size_t i = 0; i < neps; i++) {
		bool joined;

		if (has_aliases(&c, &eps[i], on, &joined))
			continue;
		if (joined && (error = e->ops->network_disconnect(e, eps[i].network, id)) < 0 &&
		    error != EF_ENOTFOUND)
			goto out;
		ef_fault_point("during-aliases");
		if ((error = e->ops->network_connect(e, eps[i].network, id,
		                                     on ? eps[i].aliases : NULL)) < 0)
			goto out;
		ef_info(on ? "aliases-on" : "aliases-off", "container=%.12s network=%s", id,
		        eps[i].network);
	}
out_ok:
	error = 0;
out:
	if (error < 0)
		ef_error_prefix("container %.12s: cannot move its network aliases", id);
	ef_spec_endpoints_free(eps, neps);
	ef_container_dispose(&c);
	return error;
}

/* Takes container `id` off each network where it holds DNS names; the
 * networks it left are appended to `*left`. A container of edgeflip's
 * without names, gone, or not running is left alone. */
static void leave_names(ef_engine *e, const char *id, char ***left)
{
	ef_engine_endpoint *eps = NULL;
	size_t neps = 0;
	ef_container c;

	memset(&c, 0, sizeof(c));
	if (e->ops->inspect(e, &c, id) < 0 || c.state != EF_CSTATE_RUNNING ||
	    ef_spec_aliases_parse(&eps, &neps, c.aliases) < 0)
		goto out;
	for (size_t i = 0; i < neps; i++) {
		bool joined;

		/* No name of its own there (or not joined): nothing to take. */
		if (has_aliases(&c, &eps[i], false, &joined) || !joined)
			continue;
		if (e->ops->network_disconnect(e, eps[i].network, id) < 0) {
			ef_warn("names-leave-failed", "container=%.12s network=%s error=\"%s\"", id,
			        eps[i].network, ef_error_last());
			continue;
		}
		ef_info("names-left", "container=%.12s network=%s", id, eps[i].network);
		if (left && ef_strv_push(left, eps[i].network) < 0)
			ef_warn("names-rejoin-failed",
			        "container=%.12s network=%s error=\"out of memory\"", id,
			        eps[i].network);
	}
out:
	ef_spec_endpoints_free(eps, neps);
	ef_container_dispose(&c);
}

void ef_names_leave(ef_engine *e, const char *id)
{
	leave_names(e, id, NULL);
}

int ef_names_stop(ef_engine *e, const char *id)
{
	char **left = NULL;
	int error;

	leave_names(e, id, &left);
	error = e->ops->stop(e, id, EF_STOP_CONFIGURED);
	/* Stopped, it joins again without names: only its configuration
	 * changes, and a restart (a rollback) finds its networks. */
	for (size_t i = 0; left && left[i]; i++)
		if (e->ops->network_connect(e, left[i], id, NULL) < 0)
			ef_warn("names-rejoin-failed", "container=%.12s network=%s error=\"%s\"",
			        id, left[i], ef_error_last());
	ef_strv_free(left);
	return error;
}

/* Renames container `id` to `to` when it is called `from` now. */
int ef_names_rename_if(ef_engine *e, const char *id, const char *from, const char *to)
{
	ef_container c;
	int error;

	memset(&c, 0, sizeof(c));
	if ((error = e->ops->inspect(e, &c, id)) == 0 && c.name && strcmp(c.name, from) == 0)
		error = e->ops->rename(e, id, to);
	if (error == EF_ENOTFOUND)
		error = 0;
	ef_container_dispose(&c);
	return error;
}

/* Creates the networks the manifest's services join (Compose keys; "default"
 * for a service that names none), as the top-level `networks` describe them. */
int ef_networks_ensure(ef_engine *e, const ef_manifest *m, const char *project)
{
	char **keys = NULL;
	int error = 0;

	for (size_t i = 0; i < m->nservices && error == 0; i++) {
		const ef_service *s = &m->services[i];
		if (s->network_mode)
			continue;
		if (s->nnetworks == 0 && !ef_strv_contains(keys, "default"))
			error = ef_strv_push(&keys, "default");
		for (size_t j = 0; j < s->nnetworks && error == 0; j++)
			if (!ef_strv_contains(keys, s->networks[j].network))
				error = ef_strv_push(&keys, s->networks[j].network);
	}
	for (size_t i = 0; keys && keys[i] && error == 0; i++) {
		const ef_network *n = ef_manifest_network(m, keys[i]);
		char *name = ef_spec_network_of(m, keys[i], project);
		ef_network_req req = {.name = name, .project = project};

		if (!name) {
			error = EF_ENOMEM;
			break;
		}
		if (n) {
			req.external = n->external;
			req.driver = n->driver;
			req.internal = n->internal;
			req.enable_ipv6 = n->enable_ipv6;
			req.labels = n->labels;
			req.options = n->driver_opts;
			if (n->nipam_config) {
				req.subnet = n->ipam_config[0].subnet;
				req.gateway = n->ipam_config[0].gateway;
				req.ip_range = n->ipam_config[0].ip_range;
			}
		}
		if ((error = e->ops->network_ensure(e, &req)) < 0)
			ef_error_prefix("network %s", keys[i]);
		free(name);
	}
	ef_strv_free(keys);
	return error;
}

/* Removes the networks edgeflip made that the manifest no longer uses. One
 * still in use (a container left behind) stays until a later pass. */
void ef_networks_prune(ef_engine *e, const ef_manifest *m, const char *project)
{
	char **want = NULL, **have = NULL;

	if (ef_spec_networks(&want, m, project) < 0 || e->ops->network_list(e, &have, project) < 0)
		goto out;
	for (size_t i = 0; have && have[i]; i++) {
		if (ef_strv_contains(want, have[i]))
			continue;
		if (e->ops->network_remove(e, have[i]) < 0)
			ef_warn("network-remove-failed", "network=%s error=\"%s\"", have[i],
			        ef_error_last());
	}
out:
	ef_strv_free(want);
	ef_strv_free(have);
}

int ef_deploy_networks(ef_engine *e, const ef_manifest *m, const char *project)
{
	return ef_networks_ensure(e, m, project);
}
