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

typedef struct {
	crypto_hash_sha256_state sha;
	const mf_sealed *sealed; /* values hashed as their tags */
	size_t nsealed;
} hstate;

/* ---------------------------------------------------------------------------
 * The spec hash: SHA-256 over a length-prefixed serialization of every parsed
 * field, in a fixed order. See docs/manifest.md. */

/* Raw bytes of a field: a tag, the length, the bytes. */
static void h_raw(hstate *st, const char *tag, const char *s, size_t len)
{
	char hdr[64];
	int n;

	if (!s)
		n = snprintf(hdr, sizeof(hdr), "%s=-\n", tag);
	else
		n = snprintf(hdr, sizeof(hdr), "%s=%zu:", tag, len);
	crypto_hash_sha256_update(&st->sha, (const unsigned char *)hdr, (unsigned long long)n);
	if (s) {
		crypto_hash_sha256_update(&st->sha, (const unsigned char *)s, len);
		crypto_hash_sha256_update(&st->sha, (const unsigned char *)"\n", 1);
	}
}

/* The sealed value (the longest) that starts at `p`, or NULL. */
static const mf_sealed *sealed_at(const hstate *st, const char *p)
{
	const mf_sealed *best = NULL;

	for (size_t i = 0; i < st->nsealed; i++) {
		size_t n = strlen(st->sealed[i].value);
		if (n && strncmp(p, st->sealed[i].value, n) == 0 &&
		    (!best || n > strlen(best->value)))
			best = &st->sealed[i];
	}
	return best;
}

/* A string field. Where a sealed value (a variable of a SOPS .env) occurs,
 * its tag (the variable and the SHA-256 of the encrypted file) is hashed
 * instead: no hash of a plaintext is kept. */
static void h_bytes(hstate *st, const char *tag, const char *s)
{
	ef_buf b = EF_BUF_INIT((size_t)-1);
	bool sealed = false;

	for (const char *p = s; p && *p && st->nsealed;) {
		const mf_sealed *v = sealed_at(st, p);
		if (v) {
			sealed = true;
			ef_buf_puts(&b, v->tag);
			p += strlen(v->value);
		} else {
			ef_buf_put(&b, p++, 1);
		}
	}
	if (sealed)
		h_raw(st, tag, b.ptr ? b.ptr : "", b.len);
	else
		h_raw(st, tag, s, s ? strlen(s) : 0);
	ef_buf_dispose_secret(&b);
}

static void h_u64(hstate *st, const char *tag, uint64_t v)
{
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);
	h_raw(st, tag, tmp, strlen(tmp));
}

static void h_strv(hstate *st, const char *tag, char *const *v)
{
	if (!v) {
		h_bytes(st, tag, NULL);
		return;
	}
	h_u64(st, tag, ef_strv_len(v));
	for (size_t i = 0; v[i]; i++)
		h_bytes(st, "-", v[i]);
}

static void h_kv_top(hstate *st, const char *tag, char *const *v)
{
	h_strv(st, tag, v);
}

/* A named volume as the engine knows it: its declaration is part of the spec. */
static void hash_volume(hstate *st, const ef_manifest *m, const char *name)
{
	for (size_t i = 0; m && name && i < m->nvolumes; i++) {
		const ef_volume *v = &m->volumes[i];
		if (!v->name || strcmp(v->name, name))
			continue;
		h_bytes(st, "volume.driver", v->driver);
		h_kv_top(st, "volume.driver_opts", v->driver_opts);
		h_kv_top(st, "volume.labels", v->labels);
		h_u64(st, "volume.external", v->external);
		return;
	}
	h_bytes(st, "volume.anonymous", name);
}

static void hash_network(hstate *st, const ef_manifest *m, const char *key)
{
	const ef_network *n = ef_manifest_network(m, key);

	if (!n) {
		h_bytes(st, "network", NULL);
		return;
	}
	h_bytes(st, "network.name", n->name);
	h_bytes(st, "network.driver", n->driver);
	h_kv_top(st, "network.driver_opts", n->driver_opts);
	h_kv_top(st, "network.labels", n->labels);
	h_u64(st, "network.external", n->external);
	h_u64(st, "network.internal", n->internal);
	h_u64(st, "network.attachable", n->attachable);
	h_u64(st, "network.enable_ipv6", n->enable_ipv6);
	h_bytes(st, "network.ipam_driver", n->ipam_driver);
	h_u64(st, "network.ipam", n->nipam_config);
	for (size_t i = 0; i < n->nipam_config; i++) {
		h_bytes(st, "subnet", n->ipam_config[i].subnet);
		h_bytes(st, "ip_range", n->ipam_config[i].ip_range);
		h_bytes(st, "gateway", n->ipam_config[i].gateway);
	}
}

static void hash_refs(hstate *st, const char *tag, const ef_file_ref *r, size_t n,
                      const ef_file_source *srcs, size_t nsrcs)
{
	h_u64(st, tag, n);
	for (size_t i = 0; i < n; i++) {
		h_bytes(st, "source", r[i].source);
		h_bytes(st, "target", r[i].target);
		h_bytes(st, "uid", r[i].uid);
		h_bytes(st, "gid", r[i].gid);
		h_u64(st, "mode", r[i].mode);
		for (size_t k = 0; k < nsrcs; k++) {
			if (!srcs[k].key || !r[i].source || strcmp(srcs[k].key, r[i].source))
				continue;
			/* where the content comes from; the content itself is hashed by
			 * the deploy, which reads it */
			h_bytes(st, "from.name", srcs[k].name);
			h_bytes(st, "from.file", srcs[k].file);
			h_bytes(st, "from.environment", srcs[k].environment);
			h_bytes(st, "from.content", srcs[k].content);
		}
	}
}

static void h_port_list(hstate *st, const char *tag, const ef_port *p, size_t n)
{
	h_u64(st, tag, n);
	for (size_t i = 0; i < n; i++) {
		h_u64(st, "port", p[i].container_port);
		h_bytes(st, "protocol", p[i].protocol);
	}
}

static void hash_compose(hstate *st, const ef_service *s, const ef_manifest *m)
{
	h_u64(st, "depends_on", s->ndepends_on);
	for (size_t i = 0; i < s->ndepends_on; i++) {
		h_bytes(st, "service", s->depends_on[i].service);
		h_u64(st, "condition", (uint64_t)s->depends_on[i].condition);
		h_u64(st, "restart", s->depends_on[i].restart);
		h_u64(st, "required", s->depends_on[i].required);
	}
	h_u64(st, "networks", s->nnetworks);
	for (size_t i = 0; i < s->nnetworks; i++) {
		h_bytes(st, "network", s->networks[i].network);
		h_strv(st, "aliases", s->networks[i].aliases);
		h_u64(st, "priority", (uint64_t)(int64_t)s->networks[i].priority);
		h_bytes(st, "ipv4_address", s->networks[i].ipv4_address);
		h_bytes(st, "ipv6_address", s->networks[i].ipv6_address);
		hash_network(st, m, s->networks[i].network);
	}
	h_port_list(st, "expose", s->expose, s->nexpose);
	h_bytes(st, "container_name", s->container_name);
	hash_refs(st, "secrets", s->secrets, s->nsecrets, m ? m->secrets : NULL,
	          m ? m->nsecrets : 0);
	hash_refs(st, "configs", s->configs, s->nconfigs, m ? m->configs : NULL,
	          m ? m->nconfigs : 0);
	h_strv(st, "tmpfs", s->tmpfs);
	h_bytes(st, "stop_signal", s->stop_signal);
	h_u64(st, "stop_grace_period", s->stop_grace_period_ms);
	h_u64(st, "init", s->init);
	h_strv(st, "extra_hosts", s->extra_hosts);
	h_strv(st, "dns", s->dns);
	h_strv(st, "dns_search", s->dns_search);
	h_strv(st, "dns_opt", s->dns_opt);
	h_bytes(st, "hostname", s->hostname);
	h_bytes(st, "domainname", s->domainname);
	h_strv(st, "sysctls", s->sysctls);
	h_u64(st, "ulimits", s->nulimits);
	for (size_t i = 0; i < s->nulimits; i++) {
		h_bytes(st, "name", s->ulimits[i].name);
		h_u64(st, "soft", (uint64_t)s->ulimits[i].soft);
		h_u64(st, "hard", (uint64_t)s->ulimits[i].hard);
	}
	h_u64(st, "shm_size", (uint64_t)s->shm_size);
	h_strv(st, "group_add", s->group_add);
	h_strv(st, "security_opt", s->security_opt);
	h_bytes(st, "log_driver", s->log_driver);
	h_strv(st, "log_opts", s->log_opts);
	h_u64(st, "nano_cpus", (uint64_t)s->nano_cpus);
	h_u64(st, "mem_reservation", (uint64_t)s->mem_reservation);
	h_u64(st, "memswap_limit", (uint64_t)s->memswap_limit);
	h_u64(st, "pids_limit", (uint64_t)s->pids_limit);
	h_u64(st, "cpu_shares", (uint64_t)s->cpu_shares);
	h_bytes(st, "cpuset", s->cpuset);
	h_bytes(st, "platform", s->platform);
	/* profiles only select services: not part of the running spec */
	h_u64(st, "env_files", s->nenv_files);
	for (size_t i = 0; i < s->nenv_files; i++) {
		h_bytes(st, "path", s->env_files[i].path);
		h_u64(st, "required", s->env_files[i].required);
		h_bytes(st, "format", s->env_files[i].format);
	}
	h_u64(st, "stdin_open", s->stdin_open);
	h_u64(st, "tty", s->tty);
}

void mf_spec_hash(ef_service *s, const ef_manifest *m)
{
	mf_spec_hash_sealed(s, m, NULL, 0);
}

void mf_spec_hash_sealed(ef_service *s, const ef_manifest *m, const mf_sealed *sealed,
                         size_t nsealed)
{
	static const char hex[] = "0123456789abcdef";
	hstate st = {.sealed = sealed, .nsealed = nsealed};
	unsigned char d[crypto_hash_sha256_BYTES];
	const ef_health *h = &s->health;

	crypto_hash_sha256_init(&st.sha);
	h_bytes(&st, "edgeflip-spec", "2");
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
		h_u64(&st, "relative", s->volumes[i].relative);
		h_u64(&st, "home", s->volumes[i].home);
		h_u64(&st, "create_host_path", s->volumes[i].create_host_path);
		h_bytes(&st, "propagation", s->volumes[i].propagation);
		h_bytes(&st, "selinux", s->volumes[i].selinux);
		h_u64(&st, "nocopy", s->volumes[i].nocopy);
		h_bytes(&st, "subpath", s->volumes[i].subpath);
		h_u64(&st, "tmpfs_size", (uint64_t)s->volumes[i].tmpfs_size);
		h_u64(&st, "tmpfs_mode", s->volumes[i].tmpfs_mode);
		if (s->volumes[i].type == EF_MOUNT_VOLUME)
			hash_volume(&st, m, s->volumes[i].source);
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
	h_u64(&st, "health.start_interval", h->start_interval_ms);
	h_u64(&st, "health.disabled", h->disabled);
	h_u64(&st, "strategy", (uint64_t)s->strategy);
	hash_compose(&st, s, m);
	/* Only when present: the hash of a service without them is what it was
	 * before they were supported. */
	if (s->device_cgroup_rules)
		h_strv(&st, "device_cgroup_rules", s->device_cgroup_rules);
	for (size_t i = 0; i < s->ndevice_requests; i++) {
		const ef_device_request *dr = &s->device_requests[i];
		h_bytes(&st, "device_request.driver", dr->driver);
		h_u64(&st, "device_request.count", (uint64_t)dr->count);
		h_strv(&st, "device_request.device_ids", dr->device_ids);
		h_strv(&st, "device_request.capabilities", dr->capabilities);
		h_strv(&st, "device_request.options", dr->options);
	}
	/* Only when present, so that the hash of every service without them is
	 * what it was before they existed (no restart on an upgrade). They
	 * live in the journal's routes, which only a deploy of the service
	 * writes: a change to them is a change to the service. */
	if (s->nport_opts) {
		h_u64(&st, "x-edgeflip.ports", s->nport_opts);
		for (size_t i = 0; i < s->nport_opts; i++) {
			const ef_port_opts *o = &s->port_opts[i];

			h_u64(&st, "port", o->port);
			h_u64(&st, "idle_timeout", o->idle_timeout_ms);
			h_u64(&st, "connect_timeout", o->connect_timeout_ms);
			h_u64(&st, "drain_timeout", o->drain_timeout_ms);
			h_u64(&st, "max_connections", o->max_conns);
			h_u64(&st, "proxy_protocol", o->proxy_protocol);
		}
	}
	crypto_hash_sha256_final(&st.sha, d);
	for (size_t i = 0; i < sizeof(d); i++) {
		s->spec_hash[2 * i] = hex[d[i] >> 4];
		s->spec_hash[2 * i + 1] = hex[d[i] & 15];
	}
	s->spec_hash[64] = '\0';
}
