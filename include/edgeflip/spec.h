/* From the Compose model to the engine-level container spec (sys/engine.h):
 * what the deploy hands a backend. The engine never sees the manifest. See
 * docs/deploy.md ("What the engine is given"). */
#ifndef EDGEFLIP_SPEC_H
#define EDGEFLIP_SPEC_H

#include "edgeflip/files.h"
#include "edgeflip/manifest.h"
#include "edgeflip/sys/engine.h"

/* The rotating log default when a service sets no `logging` (docs/deploy.md). */
#define EF_SPEC_LOG_DRIVER   "json-file"
#define EF_SPEC_LOG_MAX_SIZE "10m"
#define EF_SPEC_LOG_MAX_FILE "3"

/* What the deploy decides beyond the service as written. */
typedef struct {
	/* Port bindings to use instead of the service's (blue/green binds green to
	 * loopback ports the switch routes to). NULL: the service's. */
	const ef_engine_port *ports;
	size_t nports;
	/* Engine-level name of Compose network N: its `name`, else prefix + "_" +
	 * N ("edgeflip_backend"). NULL: "edgeflip". */
	const char *network_prefix;
	/* The manifest the service belongs to (top-level networks, secrets,
	 * configs); may be NULL. */
	const ef_manifest *manifest;
	/* Where relative and ~/ bind sources, secrets and configs land; NULL:
	 * they are refused. */
	const ef_files *files;
	/* false: join the networks without the service-name aliases (a green
	 * container before its flip, so that names resolve to the active slot). */
	bool aliases;
} ef_spec_opts;

/* Builds `out` (owned; ef_spec_dispose) from `svc`. EF_EINVALID naming the
 * service and key when a value cannot be expressed to the engine. */
int ef_spec_build(ef_container_spec *out, const ef_service *svc, const ef_spec_opts *opts);
void ef_spec_dispose(ef_container_spec *spec);

/* The engine-level name of Compose network `name` (a heap string). */
char *ef_spec_network_name(const char *prefix, const char *name);

/* The networks the manifest's services join (engine-level names, sorted,
 * NULL-terminated; ef_strv_free). */
int ef_spec_networks(char ***out, const ef_manifest *m, const char *prefix);
/* The engine-level name of the manifest's network `key` (a heap string). */
char *ef_spec_network_of(const ef_manifest *m, const char *key, const char *prefix);

/* Parses an EF_LABEL_ALIASES value ("net=a,b;net2=c") into endpoints
 * (ef_spec_endpoints_free). EF_EINVALID when malformed. */
int ef_spec_aliases_parse(ef_engine_endpoint **out, size_t *n, const char *label);
void ef_spec_endpoints_free(ef_engine_endpoint *v, size_t n);

/* Compose `platform` ("os/arch[/variant]") against the device's ("linux/arm/v7"
 * from ef_platform_native): 0 when an image for `want` runs here, else
 * EF_EREJECTED naming both. Architecture aliases (x86_64, aarch64) are
 * accepted; a variant is compared only when both name one. */
int ef_spec_platform_check(const char *service, const char *want, const char *native);

#endif
