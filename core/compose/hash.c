/* The spec hash: SHA-256 over a length-prefixed serialization of every parsed
 * field, in a fixed order. See docs/manifest.md. */
#include "edgeflip/manifest.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest_internal.h"

/* ---------------------------------------------------------------------------
 * The spec hash: SHA-256 over a length-prefixed serialization of every parsed
 * field, in a fixed order. See docs/manifest.md. */

static void h_bytes(crypto_hash_sha256_state *st, const char *tag, const char *s)
{
	char hdr[64];
	int n;

	if (!s)
		n = snprintf(hdr, sizeof(hdr), "%s=-\n", tag);
	else
		n = snprintf(hdr, sizeof(hdr), "%s=%zu:", tag, strlen(s));
	crypto_hash_sha256_update(st, (const unsigned char *)hdr, (unsigned long long)n);
	if (s) {
		crypto_hash_sha256_update(st, (const unsigned char *)s, strlen(s));
		crypto_hash_sha256_update(st, (const unsigned char *)"\n", 1);
	}
}

static void h_u64(crypto_hash_sha256_state *st, const char *tag, uint64_t v)
{
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);
	h_bytes(st, tag, tmp);
}

static void h_strv(crypto_hash_sha256_state *st, const char *tag, char *const *v)
{
	if (!v) {
		h_bytes(st, tag, NULL);
		return;
	}
	h_u64(st, tag, ef_strv_len(v));
	for (size_t i = 0; v[i]; i++)
		h_bytes(st, "-", v[i]);
}

void mf_spec_hash(ef_service *s)
{
	static const char hex[] = "0123456789abcdef";
	crypto_hash_sha256_state st;
	unsigned char d[crypto_hash_sha256_BYTES];
	const ef_health *h = &s->health;

	crypto_hash_sha256_init(&st);
	h_bytes(&st, "edgeflip-spec", "1");
	h_bytes(&st, "name", s->name);
	h_bytes(&st, "image", s->image);
	h_strv(&st, "command", s->command);
	h_strv(&st, "entrypoint", s->entrypoint);
	h_strv(&st, "environment", s->environment);
	h_u64(&st, "ports", s->nports);
	for (size_t i = 0; i < s->nports; i++) {
		h_bytes(&st, "host_ip", s->ports[i].host_ip);
		h_u64(&st, "host_port", s->ports[i].host_port);
		h_u64(&st, "container_port", s->ports[i].container_port);
		h_bytes(&st, "protocol", s->ports[i].protocol);
	}
	h_u64(&st, "volumes", s->nvolumes);
	for (size_t i = 0; i < s->nvolumes; i++) {
		h_u64(&st, "type", (uint64_t)s->volumes[i].type);
		h_bytes(&st, "source", s->volumes[i].source);
		h_bytes(&st, "target", s->volumes[i].target);
		h_u64(&st, "read_only", s->volumes[i].read_only);
	}
	h_bytes(&st, "restart", s->restart);
	h_strv(&st, "labels", s->labels);
	h_bytes(&st, "user", s->user);
	h_bytes(&st, "working_dir", s->working_dir);
	h_u64(&st, "mem_limit", (uint64_t)s->mem_limit);
	h_u64(&st, "privileged", s->privileged);
	h_bytes(&st, "network_mode", s->network_mode);
	h_bytes(&st, "pid", s->pid);
	h_bytes(&st, "ipc", s->ipc);
	h_strv(&st, "cap_add", s->cap_add);
	h_strv(&st, "cap_drop", s->cap_drop);
	h_strv(&st, "devices", s->devices);
	h_u64(&st, "read_only", s->read_only);
	h_u64(&st, "health.kind", (uint64_t)h->kind);
	h_strv(&st, "health.exec", h->exec_argv);
	h_bytes(&st, "health.http_path", h->http_path);
	h_u64(&st, "health.http_status", (uint64_t)h->http_status);
	h_u64(&st, "health.port", h->port);
	h_u64(&st, "health.interval", h->interval_ms);
	h_u64(&st, "health.timeout", h->timeout_ms);
	h_u64(&st, "health.start_period", h->start_period_ms);
	h_u64(&st, "health.retries", h->retries);
	h_u64(&st, "strategy", (uint64_t)s->strategy);
	crypto_hash_sha256_final(&st, d);
	for (size_t i = 0; i < sizeof(d); i++) {
		s->spec_hash[2 * i] = hex[d[i] >> 4];
		s->spec_hash[2 * i + 1] = hex[d[i] & 15];
	}
	s->spec_hash[64] = '\0';
}
