/* Canary routes in the proxy: which slot a new connection goes to, and the
 * status line of an HTTP/1 response read from the first bytes the backend
 * sends (docs/switch.md "Canary"). Pure functions: the unit tests and
 * fuzz_http_status call them directly. */
#include "edgeflip/proxy.h"
#include "edgeflip/error.h"

#include <stdlib.h>
#include <string.h>

unsigned ef_proxy_pick_slot(uint32_t *acc, unsigned weight)
{
	if (weight > 100)
		weight = 100;
	*acc += weight;
	if (*acc >= 100) {
		*acc -= 100;
		return 1;
	}
	return 0;
}

/* "HTTP/" DIGIT "." DIGIT SP DIGIT DIGIT DIGIT: byte i must fit class i. */
static bool fits(size_t i, char ch)
{
	static const char lit[] = "HTTP/";

	if (i < 5)
		return ch == lit[i];
	if (i == 5)
		return ch == '1';
	if (i == 6)
		return ch == '.';
	if (i == 7)
		return ch >= '0' && ch <= '9';
	if (i == 8)
		return ch == ' ';
	if (i == 9)
		return ch >= '1' && ch <= '5';
	return ch >= '0' && ch <= '9';
}

int ef_http_status_scan(ef_http_scan *s, const char *data, size_t len)
{
	for (size_t i = 0; i < len && s->len < EF_HTTP_SCAN_LEN; i++) {
		if (!fits(s->len, data[i]))
			return -1;
		s->b[s->len++] = data[i];
	}
	if (s->len < EF_HTTP_SCAN_LEN)
		return 0;
	return (s->b[9] - '0') * 100 + (s->b[10] - '0') * 10 + (s->b[11] - '0');
}

static bool read_u64(uint64_t *out, const char **s)
{
	uint64_t v = 0;
	const char *p = *s;

	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*out = v;
	*s = p;
	return true;
}

static bool read_slot(ef_slot_counters *k, const char **s, char which)
{
	uint64_t *f[] = {&k->connections, &k->connect_failed, &k->resets, &k->responses,
	                 &k->http_5xx};
	const char *p = *s;

	if (p[0] != ' ' || p[1] != which || p[2] != '=')
		return false;
	p += 3;
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (i && *p++ != ',')
			return false;
		if (!read_u64(f[i], &p))
			return false;
	}
	*s = p;
	return true;
}

int ef_proxy_counters_parse(ef_port_counters **out, size_t *n, const char *line)
{
	ef_port_counters *ports = NULL, *k;
	const char *p = line;
	size_t count = 0;
	uint64_t v;
	int error = EF_EINVALID;

	*out = NULL;
	*n = 0;
	if (strncmp(p, "ok ", 3) != 0)
		goto bad;
	p += 3;
	if (!read_u64(&v, &p))
		goto bad;
	while (*p) {
		const char *colon;

		if (count == EF_ROUTES_MAX || strncmp(p, " tcp:", 5) != 0)
			goto bad;
		if (!(k = realloc(ports, (count + 1) * sizeof(*ports)))) {
			ef_error_set("out of memory");
			error = EF_ENOMEM;
			goto out;
		}
		ports = k;
		k = &ports[count++];
		memset(k, 0, sizeof(*k));
		memcpy(k->protocol, "tcp", 4);
		p += 5;
		/* ADDR:PORT; the address may hold colons (IPv6 in brackets). */
		if (!(colon = strchr(p, ' ')))
			goto bad;
		while (colon > p && colon[-1] != ':')
			colon--;
		if (colon == p)
			goto bad;
		p = colon;
		if (!read_u64(&v, &p) || v < 1 || v > 65535)
			goto bad;
		k->listen_port = (uint16_t)v;
		if (strncmp(p, " w=", 3) != 0)
			goto bad;
		p += 3;
		if (!read_u64(&v, &p) || v > 100)
			goto bad;
		k->weight = (uint8_t)v;
		if (!read_slot(&k->slot[0], &p, '0') || !read_slot(&k->slot[1], &p, '1'))
			goto bad;
	}
	*out = ports;
	*n = count;
	ports = NULL;
	error = 0;
	goto out;
bad:
	ef_error_set("unexpected counters answer from the traffic proxy at byte %zu: '%.80s'",
	             (size_t)(p - line), line);
out:
	free(ports);
	return error;
}
