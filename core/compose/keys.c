/* The keys of the Compose specification's top-level, network, volume, secret
 * and config objects and what edgeflip does with each (the service's are in
 * service.c). docs/manifest.md lists the same; a unit test checks both agree. */
#include "edgeflip/manifest.h"
#include "edgeflip/error.h"

#include <string.h>

#include "manifest_internal.h"

#define S(k)                                                                                       \
	{                                                                                          \
		k, EF_KEY_SUPPORTED, NULL, NULL                                                    \
	}
#define I(k, why)                                                                                  \
	{                                                                                          \
		k, EF_KEY_IGNORED, why, NULL                                                       \
	}
#define R(k, why)                                                                                  \
	{                                                                                          \
		k, EF_KEY_REFUSED, why, NULL                                                       \
	}

const mf_key mf_top_keys[] = {
        S("services"),
        S("networks"),
        S("volumes"),
        S("secrets"),
        S("configs"),
        S("name"),
        S("x-edgeflip"),
        I("version", "obsolete in the Compose specification"),
        R("include", "put the services in compose.yaml or a compose.override.yaml"),
        R("models", "AI models are not supported"),
        {NULL, 0, NULL, NULL},
};

const mf_key mf_network_keys[] = {
        S("driver"),
        S("driver_opts"),
        S("attachable"),
        S("enable_ipv6"),
        S("internal"),
        S("labels"),
        S("name"),
        S("external"),
        S("ipam"),
        I("enable_ipv4", "IPv4 is always enabled"),
        {NULL, 0, NULL, NULL},
};

const mf_key mf_volume_keys[] = {
        S("driver"), S("driver_opts"), S("labels"), S("name"), S("external"), {NULL, 0, NULL, NULL},
};

const mf_key mf_secret_keys[] = {
        S("file"),
        S("environment"),
        S("name"),
        I("labels", "a file mounted into a container has no labels"),
        R("external", "a device has no secret store; put the file in the environment directory "
                      "(encrypted with SOPS, docs/secrets.md)"),
        R("driver", "a device has no secret store; use file or environment"),
        R("driver_opts", "a device has no secret store; use file or environment"),
        R("template_driver", "templates are not supported"),
        {NULL, 0, NULL, NULL},
};

const mf_key mf_config_keys[] = {
        S("file"),
        S("environment"),
        S("content"),
        S("name"),
        I("labels", "a file mounted into a container has no labels"),
        R("external", "a device has no config store; put the file in the environment directory"),
        R("template_driver", "templates are not supported"),
        {NULL, 0, NULL, NULL},
};

#undef S
#undef I
#undef R

const mf_key *mf_key_find(const mf_key *table, const char *key)
{
	for (size_t i = 0; table[i].key; i++)
		if (strcmp(table[i].key, key) == 0)
			return &table[i];
	return NULL;
}

int mf_check_table(pctx *c, const cJSON *obj, const mf_key *table, const char *what)
{
	int error, first = 0;

	if (!cJSON_IsObject(obj))
		return mf_fail(c, EF_EINVALID, "expected an object, found %s", mf_type_name(obj));
	if ((error = mf_check_members(c, obj, MAX_MEMBERS, "keys")) < 0)
		return error;
	for (const cJSON *m = obj->child; m; m = m->next) {
		const mf_key *k;
		if (strncmp(m->string, "x-", 2) == 0 && strcmp(m->string, "x-edgeflip"))
			continue;
		k = mf_key_find(table, m->string);
		if (!k)
			error = mf_fail_at(c, m->string,
			                   "unknown key '%s': not a key of a Compose %s; check the "
			                   "spelling (docs/manifest.md lists every key)",
			                   m->string, what);
		else if (k->status == EF_KEY_REFUSED)
			error = mf_fail_at(c, m->string, "'%s' is not supported: %s", m->string,
			                   k->reason);
		else
			continue;
		if (!first)
			first = error;
	}
	return first;
}

static const mf_key *table_of(const char *object)
{
	static const struct {
		const char *name;
		const mf_key *table;
	} tables[] = {{"top", mf_top_keys},         {"service", mf_service_keys},
	              {"network", mf_network_keys}, {"volume", mf_volume_keys},
	              {"secret", mf_secret_keys},   {"config", mf_config_keys}};

	for (size_t i = 0; object && i < sizeof(tables) / sizeof(tables[0]); i++)
		if (strcmp(tables[i].name, object) == 0)
			return tables[i].table;
	return NULL;
}

/* x-edgeflip's own keys (service.c, port_opts.c): all supported. */
static const char *const *x_keys_of(const char *object)
{
	if (object && strcmp(object, "x-edgeflip") == 0)
		return mf_x_service_keys;
	if (object && strcmp(object, "x-edgeflip.ports") == 0)
		return mf_x_port_keys;
	return NULL;
}

int ef_manifest_key_status(ef_key_status *out, const char **reason, const char *object,
                           const char *key)
{
	const mf_key *t = table_of(object), *k;
	const char *const *x = x_keys_of(object);

	for (size_t i = 0; x && key && x[i]; i++)
		if (strcmp(x[i], key) == 0) {
			*out = EF_KEY_SUPPORTED;
			if (reason)
				*reason = NULL;
			return 0;
		}

	if (!t || !key || !(k = mf_key_find(t, key)))
		return EF_ENOTFOUND;
	*out = k->status;
	if (reason)
		*reason = k->reason;
	return 0;
}

const char *ef_manifest_key_at(const char *object, size_t i)
{
	const mf_key *t = table_of(object);
	const char *const *x = x_keys_of(object);

	for (size_t k = 0; x && x[k]; k++)
		if (k == i)
			return x[k];
	for (size_t k = 0; t && t[k].key; k++)
		if (k == i)
			return t[k].key;
	return NULL;
}
