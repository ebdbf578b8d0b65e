/* The environment manifest: compose.json, a documented subset of the Compose
 * Specification plus `x-edgeflip` extensions. See docs/manifest.md. */
#ifndef EDGEFLIP_MANIFEST_H
#define EDGEFLIP_MANIFEST_H

#include "edgeflip/compose.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EF_MANIFEST_FILE "compose.json"

typedef struct {
	char *host_ip;      /* NULL: all addresses */
	uint16_t host_port; /* 0: not published */
	uint16_t container_port;
	char protocol[4]; /* "tcp" or "udp" */
} ef_port;

typedef enum { EF_MOUNT_BIND, EF_MOUNT_VOLUME, EF_MOUNT_TMPFS } ef_mount_type;

typedef struct {
	ef_mount_type type;
	char *source; /* host path (bind) or volume name; NULL for tmpfs */
	char *target;
	bool read_only;
} ef_mount;

typedef enum { EF_PROBE_NONE = 0, EF_PROBE_HTTP, EF_PROBE_TCP, EF_PROBE_EXEC } ef_probe_kind;

/* Health settings, from Compose `healthcheck` and `x-edgeflip.health`. */
typedef struct {
	ef_probe_kind kind;
	char **exec_argv;         /* EF_PROBE_EXEC: argv, or {"/bin/sh","-c",cmd} for CMD-SHELL */
	char *http_path;          /* EF_PROBE_HTTP, default "/" */
	int http_status;          /* expected; 0 = any 2xx/3xx */
	uint16_t port;            /* container port probed (HTTP/TCP); 0 = first published */
	uint64_t interval_ms;     /* Compose defaults: 30s */
	uint64_t timeout_ms;      /* 30s */
	uint64_t start_period_ms; /* 0 */
	unsigned retries;         /* 3 */
} ef_health;

typedef enum {
	EF_STRATEGY_AUTO = 0, /* bluegreen when the service publishes ports, else handover */
	EF_STRATEGY_BLUEGREEN,
	EF_STRATEGY_HANDOVER,
	EF_STRATEGY_RECREATE,
} ef_strategy;

typedef struct {
	char *name;
	char *image;    /* as written: repo[:tag][@sha256:...] */
	char **command; /* argv or NULL */
	char **entrypoint;
	char **environment; /* "KEY=VALUE", sorted by key */
	ef_port *ports;
	size_t nports;
	ef_mount *volumes;
	size_t nvolumes;
	char *restart; /* "no" | "always" | "on-failure[:N]" | "unless-stopped" */
	char **labels; /* "key=value", sorted */
	char *user;
	char *working_dir;
	int64_t mem_limit; /* bytes; 0 = none */
	bool privileged;
	char *network_mode; /* NULL | "bridge" | "host" | "none" */
	char *pid;          /* NULL | "host" */
	char *ipc;          /* NULL | "host" | "private" | "shareable" */
	char **cap_add;
	char **cap_drop;
	char **devices; /* "/dev/x[:/dev/y[:rwm]]" */
	bool read_only;
	ef_health health;
	ef_strategy strategy; /* x-edgeflip.strategy */
	char spec_hash[65];   /* sha256 hex over the canonical form of everything above */
} ef_service;

typedef struct {
	ef_service *services; /* sorted by name */
	size_t nservices;
} ef_manifest;

/* Parses `len` bytes of compose.json. `name` is used in messages
 * ("environments/prod/compose.json: $.services.web.ports[0]: ..."). Anything
 * outside the supported subset is EF_EINVALID with the JSON path. */
int ef_manifest_parse(ef_manifest **out, const char *json, size_t len, const char *name);
/* Parses a document tree made by the compose reader (compose.h): YAML or JSON,
 * merged and interpolated. Every problem is added to `findings` (when not
 * NULL; positions from `pos` when not NULL), not only the first; returns
 * EF_EINVALID when there was any. The tree is not modified. */
int ef_manifest_parse_doc(ef_manifest **out, const struct cJSON *doc, const char *name,
                          const ef_compose_pos *pos, ef_findings *findings);
const ef_service *ef_manifest_find(const ef_manifest *m, const char *service);
void ef_manifest_free(ef_manifest *m);

/* Splits an image reference. Out pointers are heap strings (free()); any may be NULL.
 * "reg:5000/a/b:tag@sha256:abc" -> registry "reg:5000", repo "a/b", tag, digest "sha256:abc".
 * Without a registry part, registry is "docker.io". */
int ef_image_ref_split(const char *ref, char **registry, char **repo, char **tag, char **digest);

#endif
