/* x-edgeflip.ports of a service: the traffic proxy's options per public TCP
 * port (docs/manifest.md "x-edgeflip (per service)"), read strictly; errors
 * name the file, line and JSON path like every manifest finding. */
#include "manifest_internal.h"
#include "edgeflip/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The keys of one port's options; also the "x-edgeflip.ports" table of
 * ef_manifest_key_at(). */
const char *const mf_x_port_keys[] = {"idle_timeout",    "connect_timeout", "drain_timeout",
                                      "max_connections", "proxy_protocol",  NULL};

static int get_timeout(pctx *c, const cJSON *obj, const char *key, uint32_t *out)
{
	const cJSON *v = mf_member(obj, key);
	uint64_t ms = 0;
	size_t saved;
	int error;

	if (!v)
		return 0;
	saved = mf_push_key(c, key);
	if ((error = mf_get_duration(c, v, &ms)) == 0 && (ms < 1 || ms > EF_PORT_TIMEOUT_MAX_MS))
		error = mf_fail(c, EF_EINVALID, "expected a duration from 1ms to 24h");
	mf_pop(c, saved);
	if (error == 0)
		*out = (uint32_t)ms;
	return error;
}

static int parse_one(pctx *c, ef_port_opts *o, const cJSON *it)
{
	const cJSON *v;
	int64_t n;
	int error;

	if (!cJSON_IsObject(it))
		return mf_fail(c, EF_EINVALID,
		               "expected a mapping {idle_timeout, connect_timeout, drain_timeout, "
		               "max_connections, proxy_protocol}, found %s",
		               mf_type_name(it));
	if ((error = mf_check_keys(c, it, mf_x_port_keys, false)) < 0 ||
	    (error = get_timeout(c, it, "idle_timeout", &o->idle_timeout_ms)) < 0 ||
	    (error = get_timeout(c, it, "connect_timeout", &o->connect_timeout_ms)) < 0 ||
	    (error = get_timeout(c, it, "drain_timeout", &o->drain_timeout_ms)) < 0)
		return error;
	if ((v = mf_member(it, "max_connections"))) {
		if (!mf_whole_number(v, 1, EF_PORT_CONNS_MAX, &n))
			return mf_fail_at(c, "max_connections", "expected a whole number 1-%u",
			                  EF_PORT_CONNS_MAX);
		o->max_conns = (uint32_t)n;
	}
	if ((v = mf_member(it, "proxy_protocol"))) {
		if (cJSON_IsString(v) && strcmp(v->valuestring, "v2") == 0)
			o->proxy_protocol = true;
		else if (!cJSON_IsFalse(v))
			return mf_fail_at(c, "proxy_protocol",
			                  "expected v2 (send a PROXY protocol v2 header to the "
			                  "container) or false");
	}
	return 0;
}

static int by_port(const void *a, const void *b)
{
	const ef_port_opts *x = a, *y = b;

	return (int)x->port - (int)y->port;
}

int mf_parse_port_opts(pctx *c, ef_service *s, const cJSON *it)
{
	size_t n, i = 0;
	int error = 0;

	if (!cJSON_IsObject(it))
		return mf_fail(c, EF_EINVALID,
		               "expected a mapping of public ports to options (\"8080\": "
		               "{idle_timeout: 30s}), found %s",
		               mf_type_name(it));
	n = mf_count_members(it);
	if (n > MAX_PORTS)
		return mf_fail(c, EF_EINVALID, "at most %d ports, found %zu", MAX_PORTS, n);
	if (n == 0)
		return 0;
	if (!(s->port_opts = calloc(n, sizeof(*s->port_opts))))
		return mf_fail(c, EF_ENOMEM, "out of memory");
	for (const cJSON *m = it->child; m && error == 0; m = m->next, i++) {
		size_t saved = mf_push_key(c, m->string);
		uint64_t port = 0;

		if (m->string[0] == '0' || !mf_digits_number(m->string, 1, 65535, &port))
			error = mf_fail(c, EF_EINVALID,
			                "expected a public port number 1-65535 as the key, found "
			                "'%s'",
			                m->string);
		s->port_opts[i].port = (uint16_t)port;
		if (error == 0)
			error = parse_one(c, &s->port_opts[i], m);
		mf_pop(c, saved);
	}
	s->nport_opts = i;
	if (error < 0)
		return error;
	qsort(s->port_opts, s->nport_opts, sizeof(*s->port_opts), by_port);
	for (i = 1; i < s->nport_opts; i++)
		if (s->port_opts[i].port == s->port_opts[i - 1].port)
			return mf_fail(c, EF_EINVALID, "port %u is given twice",
			               s->port_opts[i].port);
	return 0;
}

/* After the whole service is read: every port of x-edgeflip.ports is one
 * the service publishes over TCP, through the switch. */
int mf_check_port_opts(pctx *c, const ef_service *s)
{
	/* the deploy's strategy_of(): these publish their ports themselves */
	bool direct = s->strategy == EF_STRATEGY_RECREATE || s->strategy == EF_STRATEGY_HANDOVER ||
	              (s->strategy == EF_STRATEGY_AUTO &&
	               (s->devices || (s->network_mode && !strcmp(s->network_mode, "host"))));
	int error = 0;

	for (size_t i = 0; i < s->nport_opts && error == 0; i++) {
		char key[8];
		bool tcp = false, other = false;
		size_t saved[3];

		for (size_t p = 0; p < s->nports; p++)
			if (s->ports[p].host_port == s->port_opts[i].port) {
				if (strcmp(s->ports[p].protocol, "tcp") == 0)
					tcp = true;
				else
					other = true;
			}
		if (tcp && !direct)
			continue;
		snprintf(key, sizeof(key), "%u", s->port_opts[i].port);
		saved[0] = mf_push_key(c, "x-edgeflip");
		saved[1] = mf_push_key(c, "ports");
		saved[2] = mf_push_key(c, key);
		if (tcp)
			error = mf_fail(
			        c, EF_EINVALID,
			        "the proxy options apply to ports the switch routes (strategy "
			        "bluegreen or canary); this service is deployed with %s, so "
			        "the container publishes port %s itself",
			        s->strategy == EF_STRATEGY_HANDOVER ? "handover" : "recreate", key);
		else
			error = mf_fail(
			        c, EF_EINVALID,
			        "the service publishes no TCP port %s%s; list it under ports "
			        "(\"%s:CONTAINER_PORT\")",
			        key, other ? " (only UDP: the options are TCP's)" : "", key);
		mf_pop(c, saved[2]);
		mf_pop(c, saved[1]);
		mf_pop(c, saved[0]);
	}
	return error;
}

const ef_port_opts *ef_service_port_opts(const ef_service *s, uint16_t port)
{
	for (size_t i = 0; s && i < s->nport_opts; i++)
		if (s->port_opts[i].port == port)
			return &s->port_opts[i];
	return NULL;
}
