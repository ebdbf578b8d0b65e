/* Route sets and the routes file, shared by the agent's switch backends and
 * the proxy process (which links only this, proxy.c and proxy_conn.c). */
#define _GNU_SOURCE
#include "switch_int.h"
#include "edgeflip/error.h"
#include "edgeflip/proxy.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

void ef_routes_free(ef_route *r, size_t n)
{
	if (!r)
		return;
	for (size_t i = 0; i < n; i++) {
		free(r[i].listen_addr);
		free(r[i].target_addr);
		free(r[i].service);
		free(r[i].canary_addr);
	}
	free(r);
}

int ef_routes_dup(ef_route **out, const ef_route *routes, size_t n)
{
	ef_route *r;

	*out = NULL;
	if (n == 0)
		return 0;
	if (!(r = calloc(n, sizeof(*r))))
		goto oom;
	for (size_t i = 0; i < n; i++) {
		memcpy(r[i].protocol, routes[i].protocol, sizeof(r[i].protocol));
		r[i].protocol[sizeof(r[i].protocol) - 1] = '\0';
		r[i].listen_port = routes[i].listen_port;
		r[i].target_port = routes[i].target_port;
		r[i].idle_timeout_ms = routes[i].idle_timeout_ms;
		r[i].connect_timeout_ms = routes[i].connect_timeout_ms;
		r[i].drain_timeout_ms = routes[i].drain_timeout_ms;
		r[i].max_conns = routes[i].max_conns;
		r[i].proxy_protocol = routes[i].proxy_protocol;
		r[i].canary_port = routes[i].canary_port;
		r[i].canary_weight = routes[i].canary_weight;
		r[i].http = routes[i].http;
		r[i].canary_addr = ef_strdup(routes[i].canary_addr);
		r[i].listen_addr = ef_strdup(routes[i].listen_addr);
		r[i].target_addr = ef_strdup(routes[i].target_addr);
		r[i].service = ef_strdup(routes[i].service);
		if ((routes[i].listen_addr && !r[i].listen_addr) ||
		    (routes[i].target_addr && !r[i].target_addr) ||
		    (routes[i].service && !r[i].service) ||
		    (routes[i].canary_addr && !r[i].canary_addr)) {
			ef_routes_free(r, n);
			goto oom;
		}
	}
	*out = r;
	return 0;
oom:
	ef_error_set("out of memory");
	return EF_ENOMEM;
}

bool ef_switch_sockaddr(struct sockaddr_storage *out, socklen_t *len, const char *addr,
                        uint16_t port)
{
	memset(out, 0, sizeof(*out));
	if (!addr)
		return false;
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;

		if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1)
			return false;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)out;

		if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
			return false;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
	}
	return true;
}

static bool is_wildcard(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)a)->sin6_addr);
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
	              &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
}

/* Listeners of one protocol clash when they share the port and either the
 * address or a wildcard of the same family. */
static bool listeners_clash(const ef_route *a, const ef_route *b)
{
	struct sockaddr_storage sa, sb;
	socklen_t la, lb;

	if (strcmp(a->protocol, b->protocol) != 0 || a->listen_port != b->listen_port)
		return false;
	ef_switch_sockaddr(&sa, &la, a->listen_addr, a->listen_port);
	ef_switch_sockaddr(&sb, &lb, b->listen_addr, b->listen_port);
	if (sa.ss_family != sb.ss_family)
		return false;
	return same_addr(&sa, &sb) || is_wildcard(&sa) || is_wildcard(&sb);
}

static int check_one(const ef_route *r, size_t i, const char *prefix)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (strcmp(r->protocol, "tcp") != 0 && strcmp(r->protocol, "udp") != 0) {
		ef_error_set("%sroutes[%zu].protocol: must be \"tcp\" or \"udp\"", prefix, i);
		return EF_EINVALID;
	}
	if (!ef_switch_sockaddr(&ss, &len, r->listen_addr, r->listen_port)) {
		ef_error_set("%sroutes[%zu].listen_addr: not an IPv4 or IPv6 address", prefix, i);
		return EF_EINVALID;
	}
	if (r->listen_port == 0) {
		ef_error_set("%sroutes[%zu].listen_port: must be an integer from 1 to 65535",
		             prefix, i);
		return EF_EINVALID;
	}
	if (!ef_switch_sockaddr(&ss, &len, r->target_addr, r->target_port) || is_wildcard(&ss)) {
		ef_error_set("%sroutes[%zu].target_addr: not a unicast IPv4 or IPv6 address",
		             prefix, i);
		return EF_EINVALID;
	}
	if (r->target_port == 0) {
		ef_error_set("%sroutes[%zu].target_port: must be an integer from 1 to 65535",
		             prefix, i);
		return EF_EINVALID;
	}
	if (r->proxy_protocol && strcmp(r->protocol, "tcp") != 0) {
		ef_error_set("%sroutes[%zu].proxy_protocol: only TCP routes can send a PROXY "
		             "protocol header; remove it from this UDP route",
		             prefix, i);
		return EF_EINVALID;
	}
	if (r->canary_addr) {
		if (strcmp(r->protocol, "tcp") != 0) {
			ef_error_set("%sroutes[%zu].canary_addr: only TCP routes can have a canary",
			             prefix, i);
			return EF_EINVALID;
		}
		if (!ef_switch_sockaddr(&ss, &len, r->canary_addr, r->canary_port) ||
		    is_wildcard(&ss)) {
			ef_error_set(
			        "%sroutes[%zu].canary_addr: not a unicast IPv4 or IPv6 address",
			        prefix, i);
			return EF_EINVALID;
		}
		if (r->canary_port == 0) {
			ef_error_set(
			        "%sroutes[%zu].canary_port: must be an integer from 1 to 65535",
			        prefix, i);
			return EF_EINVALID;
		}
	}
	if (r->canary_weight > 100) {
		ef_error_set("%sroutes[%zu].canary_weight: must be an integer from 0 to 100",
		             prefix, i);
		return EF_EINVALID;
	}
	return 0;
}

static int check_all(const ef_route *routes, size_t n, const char *prefix)
{
	int error;

	if (n > EF_ROUTES_MAX) {
		ef_error_set("%sroutes: more than %d routes", prefix, EF_ROUTES_MAX);
		return EF_ETOOBIG;
	}
	for (size_t i = 0; i < n; i++) {
		if ((error = check_one(&routes[i], i, prefix)) < 0)
			return error;
		for (size_t j = 0; j < i; j++) {
			if (listeners_clash(&routes[i], &routes[j])) {
				ef_error_set("%sroutes[%zu]: %s %s port %u is already routed by "
				             "routes[%zu]",
				             prefix, i, routes[i].protocol, routes[i].listen_addr,
				             routes[i].listen_port, j);
				return EF_EINVALID;
			}
		}
	}
	return 0;
}

int ef_routes_check(const ef_route *routes, size_t n)
{
	return check_all(routes, n, "");
}

/* ---- the routes file ---- */

#define FILE_PREFIX "routes file: "

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ef_error_set(FILE_PREFIX "%s", msg);
	return EF_EINVALID;
}

/* A JSON number that is an integer in [lo, hi]. */
static bool get_int(const cJSON *item, double lo, double hi, double *out)
{
	if (!cJSON_IsNumber(item))
		return false;
	if (!isfinite(item->valuedouble) || item->valuedouble != floor(item->valuedouble))
		return false;
	if (item->valuedouble < lo || item->valuedouble > hi)
		return false;
	*out = item->valuedouble;
	return true;
}

static int check_unique_keys(const cJSON *obj, const char *path)
{
	for (const cJSON *a = obj->child; a; a = a->next)
		for (const cJSON *b = obj->child; b != a; b = b->next)
			if (strcmp(a->string, b->string) == 0)
				return bad("%s%s%s: duplicate key", path, *path ? "." : "",
				           a->string);
	return 0;
}

static int parse_route(ef_route *r, const cJSON *obj, size_t i)
{
	static const char *const keys[] = {
	        "protocol",        "listen_addr",        "listen_port",
	        "target_addr",     "target_port",        "service",
	        "idle_timeout_ms", "connect_timeout_ms", "drain_timeout_ms",
	        "max_conns",       "proxy_protocol",     "canary_addr",
	        "canary_port",     "canary_weight",      "http"};
	static const struct {
		const char *key;
		size_t off;
	} ms[] = {{"idle_timeout_ms", offsetof(ef_route, idle_timeout_ms)},
	          {"connect_timeout_ms", offsetof(ef_route, connect_timeout_ms)},
	          {"drain_timeout_ms", offsetof(ef_route, drain_timeout_ms)},
	          {"max_conns", offsetof(ef_route, max_conns)}};
	const cJSON *item;
	char path[32];
	double v;
	int error;

	snprintf(path, sizeof(path), "routes[%zu]", i);
	if (!cJSON_IsObject(obj))
		return bad("%s: must be an object", path);
	if ((error = check_unique_keys(obj, path)) < 0)
		return error;
	for (item = obj->child; item; item = item->next) {
		size_t k;

		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			if (strcmp(item->string, keys[k]) == 0)
				break;
		if (k == sizeof(keys) / sizeof(keys[0]))
			return bad("%s.%s: unknown key", path, item->string);
	}

	item = cJSON_GetObjectItemCaseSensitive(obj, "protocol");
	if (!item)
		return bad("%s.protocol: missing", path);
	if (!cJSON_IsString(item) ||
	    (strcmp(item->valuestring, "tcp") != 0 && strcmp(item->valuestring, "udp") != 0))
		return bad("%s.protocol: must be \"tcp\" or \"udp\"", path);
	snprintf(r->protocol, sizeof(r->protocol), "%s", item->valuestring);

	for (int side = 0; side < 2; side++) {
		const char *akey = side ? "target_addr" : "listen_addr";
		const char *pkey = side ? "target_port" : "listen_port";
		char **addr = side ? &r->target_addr : &r->listen_addr;
		uint16_t *port = side ? &r->target_port : &r->listen_port;

		item = cJSON_GetObjectItemCaseSensitive(obj, akey);
		if (!item)
			return bad("%s.%s: missing", path, akey);
		if (!cJSON_IsString(item))
			return bad("%s.%s: must be a string", path, akey);
		if (!(*addr = strdup(item->valuestring))) {
			ef_error_set("out of memory");
			return EF_ENOMEM;
		}
		item = cJSON_GetObjectItemCaseSensitive(obj, pkey);
		if (!item)
			return bad("%s.%s: missing", path, pkey);
		if (!get_int(item, 1, 65535, &v))
			return bad("%s.%s: must be an integer from 1 to 65535", path, pkey);
		*port = (uint16_t)v;
	}
	item = cJSON_GetObjectItemCaseSensitive(obj, "service");
	if (item) {
		if (!cJSON_IsString(item))
			return bad("%s.service: must be a string", path);
		if (!(r->service = strdup(item->valuestring))) {
			ef_error_set("out of memory");
			return EF_ENOMEM;
		}
	}
	for (size_t k = 0; k < sizeof(ms) / sizeof(ms[0]); k++) {
		item = cJSON_GetObjectItemCaseSensitive(obj, ms[k].key);
		if (!item)
			continue;
		/* Up to a day for the timeouts; a million connections. */
		if (!get_int(item, 1, k < 3 ? 86400000 : 1000000, &v))
			return bad("%s.%s: must be an integer from 1 to %d", path, ms[k].key,
			           k < 3 ? 86400000 : 1000000);
		*(uint32_t *)(void *)((char *)r + ms[k].off) = (uint32_t)v;
	}
	item = cJSON_GetObjectItemCaseSensitive(obj, "proxy_protocol");
	if (item) {
		if (!cJSON_IsBool(item))
			return bad("%s.proxy_protocol: must be true or false", path);
		r->proxy_protocol = cJSON_IsTrue(item);
	}
	item = cJSON_GetObjectItemCaseSensitive(obj, "http");
	if (item) {
		if (!cJSON_IsBool(item))
			return bad("%s.http: must be true or false", path);
		r->http = cJSON_IsTrue(item);
	}
	item = cJSON_GetObjectItemCaseSensitive(obj, "canary_addr");
	if (item) {
		if (!cJSON_IsString(item))
			return bad("%s.canary_addr: must be a string", path);
		if (!(r->canary_addr = strdup(item->valuestring))) {
			ef_error_set("out of memory");
			return EF_ENOMEM;
		}
		item = cJSON_GetObjectItemCaseSensitive(obj, "canary_port");
		if (!item || !get_int(item, 1, 65535, &v))
			return bad("%s.canary_port: must be an integer from 1 to 65535", path);
		r->canary_port = (uint16_t)v;
		item = cJSON_GetObjectItemCaseSensitive(obj, "canary_weight");
		if (!item || !get_int(item, 0, 100, &v))
			return bad("%s.canary_weight: must be an integer from 0 to 100", path);
		r->canary_weight = (uint8_t)v;
	} else if (cJSON_GetObjectItemCaseSensitive(obj, "canary_port") ||
	           cJSON_GetObjectItemCaseSensitive(obj, "canary_weight")) {
		return bad("%s.canary_addr: missing (canary_port and canary_weight need it)", path);
	}
	return 0;
}

int ef_proxy_routes_parse(ef_route **out, size_t *n, uint64_t *generation, const char *data,
                          size_t len)
{
	int error = EF_EINVALID;
	const char *end = NULL;
	const cJSON *item, *list;
	ef_route *routes = NULL;
	size_t count = 0;
	cJSON *root;
	double v;

	*out = NULL;
	*n = 0;
	*generation = 0;
	if (len > EF_ROUTES_FILE_MAX) {
		ef_error_set(FILE_PREFIX "larger than %d bytes", EF_ROUTES_FILE_MAX);
		return EF_ETOOBIG;
	}
	if (memchr(data, '\0', len))
		return bad("contains a NUL byte");
	root = cJSON_ParseWithLengthOpts(data, len, &end, false);
	if (!root) {
		size_t at = end && end >= data && end <= data + len ? (size_t)(end - data) : 0;
		return bad("invalid JSON at byte %zu", at);
	}
	while (end && end < data + len && strchr(" \t\r\n", *end))
		end++;
	if (end && end < data + len) {
		error = bad("unexpected data after the JSON value at byte %zu",
		            (size_t)(end - data));
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		error = bad("the top level must be an object");
		goto out;
	}
	if ((error = check_unique_keys(root, "")) < 0)
		goto out;
	for (item = root->child; item; item = item->next) {
		if (strcmp(item->string, "generation") != 0 &&
		    strcmp(item->string, "routes") != 0) {
			error = bad("%s: unknown key", item->string);
			goto out;
		}
	}
	item = cJSON_GetObjectItemCaseSensitive(root, "generation");
	if (!item) {
		error = bad("generation: missing");
		goto out;
	}
	if (!get_int(item, 0, 9007199254740991.0, &v)) {
		error = bad("generation: must be an integer from 0 to 2^53-1");
		goto out;
	}
	*generation = (uint64_t)v;
	list = cJSON_GetObjectItemCaseSensitive(root, "routes");
	if (!list) {
		error = bad("routes: missing");
		goto out;
	}
	if (!cJSON_IsArray(list)) {
		error = bad("routes: must be an array");
		goto out;
	}
	count = (size_t)cJSON_GetArraySize(list);
	if (count > EF_ROUTES_MAX) {
		error = bad("routes: more than %d routes", EF_ROUTES_MAX);
		goto out;
	}
	if (count && !(routes = calloc(count, sizeof(*routes)))) {
		ef_error_set("out of memory");
		error = EF_ENOMEM;
		goto out;
	}
	{
		size_t i = 0;

		for (item = list->child; item; item = item->next, i++)
			if ((error = parse_route(&routes[i], item, i)) < 0)
				goto out;
	}
	if ((error = check_all(routes, count, FILE_PREFIX)) < 0)
		goto out;
	*out = routes;
	*n = count;
	routes = NULL;
	error = 0;
out:
	ef_routes_free(routes, count);
	cJSON_Delete(root);
	if (error < 0)
		*generation = 0;
	return error;
}

int ef_proxy_routes_format(ef_buf *out, const ef_route *routes, size_t n, uint64_t generation)
{
	cJSON *root = cJSON_CreateObject(), *list = NULL;
	int error = EF_ENOMEM;
	char *text = NULL;

	if (!root || !cJSON_AddNumberToObject(root, "generation", (double)generation) ||
	    !(list = cJSON_AddArrayToObject(root, "routes")))
		goto out;
	for (size_t i = 0; i < n; i++) {
		cJSON *r = cJSON_CreateObject();

		if (!r)
			goto out;
		cJSON_AddItemToArray(list, r);
		if (!cJSON_AddStringToObject(r, "protocol", routes[i].protocol) ||
		    !cJSON_AddStringToObject(r, "listen_addr",
		                             routes[i].listen_addr ? routes[i].listen_addr : "") ||
		    !cJSON_AddNumberToObject(r, "listen_port", routes[i].listen_port) ||
		    !cJSON_AddStringToObject(r, "target_addr",
		                             routes[i].target_addr ? routes[i].target_addr : "") ||
		    !cJSON_AddNumberToObject(r, "target_port", routes[i].target_port))
			goto out;
		if (routes[i].service && !cJSON_AddStringToObject(r, "service", routes[i].service))
			goto out;
		if ((routes[i].idle_timeout_ms &&
		     !cJSON_AddNumberToObject(r, "idle_timeout_ms", routes[i].idle_timeout_ms)) ||
		    (routes[i].connect_timeout_ms &&
		     !cJSON_AddNumberToObject(r, "connect_timeout_ms",
		                              routes[i].connect_timeout_ms)) ||
		    (routes[i].drain_timeout_ms &&
		     !cJSON_AddNumberToObject(r, "drain_timeout_ms", routes[i].drain_timeout_ms)) ||
		    (routes[i].max_conns &&
		     !cJSON_AddNumberToObject(r, "max_conns", routes[i].max_conns)) ||
		    (routes[i].proxy_protocol && !cJSON_AddTrueToObject(r, "proxy_protocol")) ||
		    (routes[i].http && !cJSON_AddTrueToObject(r, "http")))
			goto out;
		if (routes[i].canary_addr &&
		    (!cJSON_AddStringToObject(r, "canary_addr", routes[i].canary_addr) ||
		     !cJSON_AddNumberToObject(r, "canary_port", routes[i].canary_port) ||
		     !cJSON_AddNumberToObject(r, "canary_weight", routes[i].canary_weight)))
			goto out;
	}
	if (!(text = cJSON_Print(root)))
		goto out;
	if ((error = ef_buf_puts(out, text)) < 0 || (error = ef_buf_puts(out, "\n")) < 0)
		goto out;
	error = 0;
out:
	if (error == EF_ENOMEM)
		ef_error_set("out of memory");
	free(text);
	cJSON_Delete(root);
	return error;
}

int ef_routes_load(ef_route **out, size_t *n, uint64_t *generation, const char *path)
{
	ef_buf data;
	int error;

	*out = NULL;
	*n = 0;
	*generation = 0;
	if ((error = ef_read_file(&data, path, EF_ROUTES_FILE_MAX)) < 0)
		return error;
	error = ef_proxy_routes_parse(out, n, generation, data.ptr, data.len);
	if (error < 0)
		ef_error_prefix("%s", path);
	ef_buf_dispose(&data);
	return error;
}

/* ---- descriptions ---- */

static int put_endpoint(ef_buf *out, const char *addr, uint16_t port)
{
	if (addr && strchr(addr, ':'))
		return ef_buf_printf(out, "[%s]:%u", addr, port);
	return ef_buf_printf(out, "%s:%u", addr ? addr : "", port);
}

int ef_route_describe(ef_buf *out, const ef_route *r)
{
	int error;

	if ((error = ef_buf_printf(out, "%s:", r->protocol)) < 0 ||
	    (error = put_endpoint(out, r->listen_addr, r->listen_port)) < 0 ||
	    (error = ef_buf_puts(out, ">")) < 0 ||
	    (error = put_endpoint(out, r->target_addr, r->target_port)) < 0)
		return error;
	/* A canary: "+ADDR:PORT@WEIGHT" (the hook backend's argument too). */
	if (r->canary_addr && ((error = ef_buf_puts(out, "+")) < 0 ||
	                       (error = put_endpoint(out, r->canary_addr, r->canary_port)) < 0 ||
	                       (error = ef_buf_printf(out, "@%u", r->canary_weight)) < 0))
		return error;
	return 0;
}

int ef_routes_describe(ef_buf *out, const ef_route *routes, size_t n)
{
	int error;

	if ((error = ef_buf_put(out, "", 0)) < 0)
		return error;
	for (size_t i = 0; i < n; i++) {
		if (i && (error = ef_buf_puts(out, ",")) < 0)
			return error;
		if ((error = ef_route_describe(out, &routes[i])) < 0)
			return error;
	}
	return 0;
}

/* ---- the proxy's files ---- */

int ef_proxy_path(char *out, size_t n, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, n, "%s/proxy/%s", dir, name) >= n) {
		ef_error_set("path too long: %s/proxy/%s", dir, name);
		return EF_EINVALID;
	}
	return 0;
}

int ef_proxy_control_addr(struct sockaddr_un *sun, const char *dir)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if ((size_t)snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/proxy/control.sock", dir) >=
	    sizeof(sun->sun_path)) {
		ef_error_set("state directory path too long for a unix socket (%zu bytes max): %s",
		             sizeof(sun->sun_path) - sizeof("/proxy/control.sock"), dir);
		return EF_EINVALID;
	}
	return 0;
}
