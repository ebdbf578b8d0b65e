/* The journal's route lines (docs/state.md, a service's `public_ports`) and
 * the routes the switch gets from them, with the proxy options of
 * x-edgeflip.ports. */
#include "edgeflip/deploy.h"
#include "edgeflip/error.h"
#include "edgeflip/manifest.h"
#include "edgeflip/sys/switch.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Route strings in the journal: "tcp 0.0.0.0 8080 127.0.0.1 41001", then
 * the proxy options of x-edgeflip.ports when set (docs/state.md):
 * "idle=MS connect=MS drain=MS max=N pp=v2". Older agents read the first
 * five fields and ignore the rest. */
static const struct {
	const char *tag;
	size_t off;
} route_opts[] = {{"idle", offsetof(ef_route, idle_timeout_ms)},
                  {"connect", offsetof(ef_route, connect_timeout_ms)},
                  {"drain", offsetof(ef_route, drain_timeout_ms)},
                  {"max", offsetof(ef_route, max_conns)}};

static uint32_t *route_opt(ef_route *r, size_t k)
{
	return (uint32_t *)(void *)((char *)r + route_opts[k].off);
}

int ef_deploy_route_line(char *buf, size_t size, const ef_route *r)
{
	size_t len;
	int n = snprintf(buf, size, "%s %s %u %s %u", r->protocol, r->listen_addr, r->listen_port,
	                 r->target_addr, r->target_port);

	for (size_t k = 0; k < sizeof(route_opts) / sizeof(route_opts[0]) && n > 0; k++) {
		uint32_t v = *route_opt((ef_route *)r, k);

		len = (size_t)n;
		if (v && len < size)
			n += snprintf(buf + len, size - len, " %s=%u", route_opts[k].tag, v);
	}
	len = (size_t)n;
	if (n > 0 && r->proxy_protocol && len < size)
		n += snprintf(buf + len, size - len, " pp=v2");
	if (n < 0 || (size_t)n >= size) {
		ef_error_set("route for %s port %u: longer than %zu bytes",
		             r->service ? r->service : "?", r->listen_port, size);
		return EF_EINVALID;
	}
	return 0;
}

static int route_option(ef_route *r, const char *tok)
{
	const char *eq = strchr(tok, '=');
	size_t taglen = eq ? (size_t)(eq - tok) : 0;

	if (strcmp(tok, "pp=v2") == 0) {
		r->proxy_protocol = true;
		return 0;
	}
	for (size_t k = 0; eq && k < sizeof(route_opts) / sizeof(route_opts[0]); k++) {
		char *end;
		unsigned long v;

		if (strlen(route_opts[k].tag) != taglen || strncmp(tok, route_opts[k].tag, taglen))
			continue;
		errno = 0;
		v = strtoul(eq + 1, &end, 10);
		if (eq[1] < '1' || eq[1] > '9' || *end || errno ||
		    v > (k < 3 ? EF_PORT_TIMEOUT_MAX_MS : EF_PORT_CONNS_MAX))
			return EF_EINVALID;
		*route_opt(r, k) = (uint32_t)v;
		return 0;
	}
	return EF_EINVALID;
}

static int route_parse(ef_route *r, const char *s, const char *service)
{
	char proto[4], laddr[64], taddr[64], tok[32];
	unsigned long lport, tport;
	int used = 0, more;

	memset(r, 0, sizeof(*r));
	/* %lu and a range check: %hu would take "70000" as port 4464 (and %u
	 * "4294975296" as 8000 on 64-bit hosts; %lu saturates at ULONG_MAX). */
	if (sscanf(s, "%3s %63s %lu %63s %lu%n", proto, laddr, &lport, taddr, &tport, &used) != 5 ||
	    lport < 1 || lport > 65535 || tport < 1 || tport > 65535) {
		ef_error_set("journal: bad route '%s' for service %s (want PROTO ADDRESS PORT "
		             "ADDRESS PORT [OPTION...], ports 1-65535)",
		             s, service);
		return EF_EINVALID;
	}
	for (s += used; sscanf(s, " %31s%n", tok, &more) == 1; s += more)
		if (strlen(tok) >= sizeof(tok) - 1 || route_option(r, tok) < 0) {
			ef_error_set(
			        "journal: bad route option '%s' for service %s (known: idle=MS "
			        "connect=MS drain=MS max=N pp=v2)",
			        tok, service);
			return EF_EINVALID;
		}
	snprintf(r->protocol, sizeof(r->protocol), "%s", proto);
	r->listen_addr = strdup(laddr);
	r->listen_port = (uint16_t)lport; /* 1-65535, checked above */
	r->target_addr = strdup(taddr);
	r->target_port = (uint16_t)tport;
	r->service = strdup(service);
	return 0;
}

int ef_deploy_routes(ef_route **out, size_t *n, const ef_state_service *svcs, size_t nsvcs)
{
	ef_route *routes = NULL;
	size_t count = 0;
	int error = 0;

	for (size_t i = 0; i < nsvcs && error == 0; i++) {
		for (size_t j = 0; svcs[i].public_ports && svcs[i].public_ports[j]; j++) {
			ef_route *v = realloc(routes, (count + 1) * sizeof(*v));
			if (!v) {
				error = EF_ENOMEM;
				break;
			}
			routes = v;
			error = route_parse(&routes[count], svcs[i].public_ports[j], svcs[i].name);
			if (error == 0)
				count++;
		}
	}
	if (error < 0) {
		ef_routes_free(routes, count);
		return error;
	}
	*out = routes;
	*n = count;
	return 0;
}
