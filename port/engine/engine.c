/* The table of built-in container engine backends, and what all of them share. */
#include "edgeflip/sys/engine.h"
#include "edgeflip/error.h"
#include "docker_json.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

const struct ef_engine_ops *const ef_engine_backends[] = {
        &ef_engine_docker_api,
        NULL,
};

int ef_engine_open(ef_engine **out, const char *backend, const char *endpoint,
                   const ef_engine_opts *opts)
{
	const struct ef_engine_ops *ops = NULL;
	int error;

	*out = NULL;
	for (size_t i = 0; ef_engine_backends[i]; i++) {
		if (backend && strcmp(ef_engine_backends[i]->name, backend) == 0) {
			ops = ef_engine_backends[i];
			break;
		}
	}
	if (!ops) {
		ef_error_set("unknown container engine backend '%s' (built in: docker-api)",
		             backend ? backend : "");
		return EF_EINVALID;
	}
	assert(ops->open && ops->ping && ops->pull && ops->create && ops->start && ops->stop &&
	       ops->remove && ops->list && ops->inspect && ops->close);
	if (!endpoint || !*endpoint) {
		ef_error_set("no container engine endpoint: set [engine] endpoint, e.g. "
		             "unix:///run/podman/podman.sock");
		return EF_EINVALID;
	}
	if ((error = ops->open(out, endpoint, opts)) < 0)
		return error;
	(*out)->ops = ops;
	return 0;
}

void ef_engine_close(ef_engine *e)
{
	if (e)
		e->ops->close(e);
}

void ef_container_dispose(ef_container *c)
{
	if (!c)
		return;
	free(c->name);
	free(c->image);
	free(c->service);
	free(c->slot);
	free(c->revision);
	free(c->previous);
	free(c->spec);
	free(c->aliases);
	free(c->fixed_name);
	free(c->preview);
	free(c->health);
	ef_strv_free(c->endpoints);
	ef_strv_free(c->mounts);
	for (size_t i = 0; i < c->nports; i++)
		free(c->ports[i].host_ip);
	free(c->ports);
	free(c->ip_address);
	memset(c, 0, sizeof(*c));
}

void ef_container_list_dispose(ef_container_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->count; i++)
		ef_container_dispose(&l->items[i]);
	free(l->items);
	l->items = NULL;
	l->count = 0;
}
