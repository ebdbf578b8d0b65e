/* The environment manifest: compose.json, a documented subset of the Compose
 * Specification plus `x-edgeflip` extensions. See docs/manifest.md. */
#ifndef EDGEFLIP_MANIFEST_H
#define EDGEFLIP_MANIFEST_H

#include "edgeflip/compose.h"
#include "edgeflip/rollout.h"

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
	/* bind: an absolute host path, or (relative) a path inside the environment
	 * directory, normalised ("data/x", "." for the directory itself; never
	 * "..", never a leading "/"); volume: the engine's volume name (a declared
	 * volume's `name`, else its key), NULL for an anonymous volume; tmpfs: NULL */
	char *source;
	char *target;
	bool read_only;
	bool relative;         /* bind: source is relative to the environment directory */
	bool home;             /* bind: written "~/x": source is relative to the environment's
	                          persistent home directory on the device (never from the commit) */
	bool create_host_path; /* bind: create a missing source (Compose: true in the short form) */
	char *propagation;     /* bind: NULL | "rprivate" | "private" | "rshared" | "shared" |
	                          "rslave" | "slave" */
	char *selinux;         /* NULL | "z" | "Z" (bind, volume) */
	bool nocopy;           /* volume: do not copy the image's content into a new volume */
	char *subpath;         /* volume: NULL or a relative path inside the volume */
	int64_t tmpfs_size;    /* tmpfs: bytes, 0 = engine default */
	uint32_t tmpfs_mode;   /* tmpfs: permission bits, 0 = engine default */
} ef_mount;

typedef enum { EF_PROBE_NONE = 0, EF_PROBE_HTTP, EF_PROBE_TCP, EF_PROBE_EXEC } ef_probe_kind;

/* Health settings, from Compose `healthcheck` and `x-edgeflip.health`. */
typedef struct {
	ef_probe_kind kind;
	char **exec_argv;           /* EF_PROBE_EXEC: argv, or {"/bin/sh","-c",cmd} for CMD-SHELL */
	char *http_path;            /* EF_PROBE_HTTP, default "/" */
	int http_status;            /* expected; 0 = any 2xx/3xx */
	uint16_t port;              /* container port probed (HTTP/TCP); 0 = first published */
	uint64_t interval_ms;       /* Compose defaults: 30s */
	uint64_t timeout_ms;        /* 30s */
	uint64_t start_period_ms;   /* 0 */
	unsigned retries;           /* 3 */
	uint64_t start_interval_ms; /* 0 = engine default (5s) */
	bool disabled;              /* healthcheck.disable: true, or test ["NONE"] */
} ef_health;

typedef enum {
	EF_STRATEGY_AUTO = 0, /* bluegreen when the service publishes ports, else handover */
	EF_STRATEGY_BLUEGREEN,
	EF_STRATEGY_HANDOVER,
	EF_STRATEGY_RECREATE,
	EF_STRATEGY_CANARY, /* bluegreen, but traffic moves to green in weighted steps */
} ef_strategy;

/* x-edgeflip.canary (docs/manifest.md): the steps of a canary rollout and
 * the error rate at which it aborts. */
#define EF_CANARY_MAX_STEPS     20
#define EF_CANARY_DEFAULT_RATE  0.05
#define EF_CANARY_DEFAULT_MIN   20
#define EF_CANARY_DEFAULT_PAUSE 30000 /* ms; steps 10 and 50 when none are given */
typedef struct {
	uint8_t weight;    /* percent of new connections to green, 1..100, increasing */
	uint64_t pause_ms; /* how long this step lasts */
} ef_canary_step;

typedef struct {
	ef_canary_step *steps; /* NULL: strategy canary with the default steps */
	size_t nsteps;
	double max_error_rate; /* 0..1, default 0.05 */
	uint64_t min_requests; /* default 20: below, no verdict */
} ef_canary;

/* x-edgeflip.ports (docs/manifest.md): the traffic proxy's options for one
 * public TCP port of the service; 0 / false: the proxy's default. They go
 * into the routes the switch gets (ef_route). */
#define EF_PORT_TIMEOUT_MAX_MS 86400000u /* a day */
#define EF_PORT_CONNS_MAX      1000000u
typedef struct {
	uint16_t port; /* a TCP host port the service publishes */
	uint32_t idle_timeout_ms;
	uint32_t connect_timeout_ms;
	uint32_t drain_timeout_ms;
	uint32_t max_conns;
	bool proxy_protocol; /* PROXY protocol v2 towards the container */
} ef_port_opts;

/* deploy.resources.reservations.devices[] and gpus: devices (GPUs) the
 * engine finds by driver and capabilities (Docker's DeviceRequests). */
typedef struct {
	char *driver;        /* NULL: any driver that has the capabilities */
	int64_t count;       /* -1: all; 0 when device_ids are given */
	char **device_ids;   /* NULL unless given */
	char **capabilities; /* all of them, at least one ("gpu", "compute", ...) */
	char **options;      /* "key=value", sorted; driver specific */
} ef_device_request;

typedef enum {
	EF_DEP_STARTED = 0, /* service_started */
	EF_DEP_HEALTHY,     /* service_healthy */
	EF_DEP_COMPLETED,   /* service_completed_successfully */
} ef_dep_condition;

typedef struct {
	char *service; /* a service of the same manifest */
	ef_dep_condition condition;
	bool restart;  /* restart this service when the dependency is updated */
	bool required; /* default true; false: start even when the dependency is absent */
} ef_depends;

/* A service's attachment to a network of the manifest (ef_manifest.networks). */
typedef struct {
	char *network;      /* the key in the top-level `networks` (e.g. "default", "backend") */
	char **aliases;     /* extra DNS names on that network, sorted; NULL when none */
	int priority;       /* order of attachment (higher first); 0 = default */
	char *ipv4_address; /* a fixed address, or NULL; such a service is deployed with
	                       strategy recreate (blue and green cannot share it) */
	char *ipv6_address;
} ef_service_net;

/* A secret or config given to a service: the file `target` in the container. */
typedef struct {
	char *source; /* the key in the top-level `secrets` / `configs` */
	char *target; /* absolute path in the container (normalised: secrets default to
	                 /run/secrets/SOURCE, configs to /SOURCE) */
	char *uid;    /* NULL = engine default (root) */
	char *gid;
	uint32_t mode; /* permission bits; default 0444 */
} ef_file_ref;

typedef struct {
	char *name; /* "nofile", "nproc", ... */
	int64_t soft;
	int64_t hard;
} ef_ulimit;

typedef struct {
	char *path;    /* inside the environment directory, normalised as ef_mount.source */
	bool required; /* default true: a missing file is an error */
	char *format;  /* NULL or "raw" */
} ef_env_file;

typedef struct {
	char *name;
	char *image;    /* as written: repo[:tag][@sha256:...] */
	char **command; /* argv or NULL */
	char **entrypoint;
	char **environment; /* "KEY=VALUE", sorted by key. A variable written without a
	                       value (`KEY`, `KEY: null`) is left out: unset, as Compose does
	                       when its environment has no such variable. */
	ef_port *ports;
	size_t nports;
	ef_mount *volumes; /* `volumes` in the order written */
	size_t nvolumes;
	char *restart; /* "no" | "always" | "on-failure[:N]" | "unless-stopped"; also from
	                  deploy.restart_policy */
	char **labels; /* "key=value", sorted */
	char *user;
	char *working_dir;
	int64_t mem_limit; /* bytes; 0 = none (mem_limit or deploy.resources.limits.memory) */
	bool privileged;
	char *network_mode; /* NULL | "bridge" | "host" | "none" | "service:NAME" */
	char *pid;          /* NULL | "host" */
	char *ipc;          /* NULL | "host" | "private" | "shareable" */
	char **cap_add;     /* sorted, upper case without "CAP_"; "ALL" = every capability */
	char **cap_drop;    /* sorted, as cap_add */
	char **devices;     /* "/dev/x[:/dev/y[:rwm]]" */
	char **device_cgroup_rules;         /* "c 188:* rw", as written (type major:minor access) */
	ef_device_request *device_requests; /* GPUs: reservations.devices and gpus, as written */
	size_t ndevice_requests;
	bool read_only;
	ef_health health;
	ef_strategy strategy;    /* x-edgeflip.strategy */
	ef_canary canary;        /* x-edgeflip.canary (strategy canary) */
	bool http;               /* x-edgeflip.http: the public ports speak HTTP/1 */
	ef_port_opts *port_opts; /* x-edgeflip.ports, sorted by port; NULL when none */
	size_t nport_opts;

	/* Compose features (issue 10). Lists that are sets are sorted, so that the
	 * spec hash does not depend on the order written. */
	ef_depends *depends_on; /* sorted by service */
	size_t ndepends_on;
	ef_service_net *networks; /* sorted by network; {"default"} when neither networks
	                             nor network_mode is given */
	size_t nnetworks;
	ef_port *expose; /* container ports only (host_port 0), sorted */
	size_t nexpose;
	char *container_name; /* NULL: edgeflip names the container */
	ef_file_ref *secrets; /* sorted by target */
	size_t nsecrets;
	ef_file_ref *configs; /* sorted by target */
	size_t nconfigs;
	char **tmpfs;      /* "/path" or "/path:options", sorted */
	char *stop_signal; /* NULL = the image's; as written ("SIGTERM", "TERM", "15") */
	uint64_t stop_grace_period_ms; /* 0 = engine default (10s) */
	bool init;
	char **extra_hosts; /* "host:address", sorted */
	char **dns;         /* in the order written */
	char **dns_search;
	char **dns_opt;
	char *hostname;
	char *domainname;
	char **sysctls;     /* "name=value", sorted */
	ef_ulimit *ulimits; /* sorted by name */
	size_t nulimits;
	int64_t shm_size;        /* bytes; 0 = engine default */
	char **group_add;        /* sorted */
	char **security_opt;     /* sorted */
	char *log_driver;        /* NULL = the agent's default (docs/manifest.md) */
	char **log_opts;         /* "key=value", sorted */
	int64_t nano_cpus;       /* cpus or deploy.resources.limits.cpus, in 1e-9 CPUs; 0 = none */
	int64_t mem_reservation; /* bytes; 0 = none */
	int64_t memswap_limit;   /* bytes; 0 = none, -1 = unlimited */
	int64_t pids_limit;      /* 0 = none, -1 = unlimited */
	int64_t cpu_shares;      /* 0 = engine default */
	char *cpuset;            /* NULL or "0-3", "0,1" */
	char *platform;          /* NULL or "os/arch[/variant]", checked at deploy */
	char **profiles;         /* sorted; NULL: always active */
	ef_env_file *env_files;  /* in the order written (later files win) */
	size_t nenv_files;
	bool stdin_open;
	bool tty;

	char spec_hash[65]; /* sha256 hex over the canonical form of everything above and of
	                       the top-level networks, volumes, secrets and configs it uses */
} ef_service;

typedef struct {
	char *subnet;
	char *ip_range;
	char *gateway;
} ef_ipam_pool;

/* A top-level network. "default" exists when a service uses it. */
typedef struct {
	char *key;          /* the name services use */
	char *name;         /* the engine's name: `name`, else NULL (the deploy chooses one) */
	char *driver;       /* NULL = "bridge" */
	char **driver_opts; /* "key=value", sorted */
	char **labels;      /* "key=value", sorted */
	bool external;
	bool internal;
	bool attachable;
	bool enable_ipv6;
	char *ipam_driver;
	ef_ipam_pool *ipam_config;
	size_t nipam_config;
} ef_network;

/* A top-level named volume. */
typedef struct {
	char *key;  /* the name services use */
	char *name; /* the engine's name: `name`, else the key */
	char *driver;
	char **driver_opts;
	char **labels;
	bool external;
} ef_volume;

/* A top-level secret or config: where its content comes from. */
typedef struct {
	char *key;
	char *name; /* `name`, else the key */
	char *file; /* a path inside the environment directory (normalised), an absolute path on the
	              device (checked by the device policy as a bind source), or NULL */
	char *environment; /* a variable of the interpolation environment, or NULL */
	char *content;     /* configs only: inline content, or NULL */
} ef_file_source;

typedef struct {
	ef_service *services; /* sorted by name; only the active ones (profiles) */
	size_t nservices;
	ef_network *networks; /* sorted by key */
	size_t nnetworks;
	ef_volume *volumes; /* sorted by key */
	size_t nvolumes;
	ef_file_source *secrets; /* sorted by key */
	size_t nsecrets;
	ef_file_source *configs; /* sorted by key */
	size_t nconfigs;
	char *name;         /* the project name (`name`), or NULL */
	ef_rollout rollout; /* top-level x-edgeflip.rollout (docs/fleet.md) */
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
/* As ef_manifest_parse_doc(), with the active Compose profiles (NULL-terminated,
 * or NULL for none): a service that lists `profiles` is left out of the model
 * unless one of them is active ([agent] profiles). */
int ef_manifest_parse_doc_profiles(ef_manifest **out, const struct cJSON *doc, const char *name,
                                   const ef_compose_pos *pos, ef_findings *findings,
                                   char *const *profiles);
/* The x-edgeflip.ports options of `s` for public TCP port `port`, or NULL. */
const ef_port_opts *ef_service_port_opts(const ef_service *s, uint16_t port);
const ef_service *ef_manifest_find(const ef_manifest *m, const char *service);
const ef_network *ef_manifest_network(const ef_manifest *m, const char *key);
const ef_volume *ef_manifest_volume(const ef_manifest *m, const char *key);
const ef_file_source *ef_manifest_secret(const ef_manifest *m, const char *key);
const ef_file_source *ef_manifest_config(const ef_manifest *m, const char *key);
void ef_manifest_free(ef_manifest *m);

/* What edgeflip does with a key of a Compose object (docs/manifest.md lists the
 * same). `object`: "top", "service", "network", "volume", "secret", "config",
 * and x-edgeflip's own: "x-edgeflip" (a service's), "x-edgeflip.ports" (one
 * port's options), whose keys are all supported. */
typedef enum { EF_KEY_SUPPORTED = 0, EF_KEY_IGNORED, EF_KEY_REFUSED } ef_key_status;

/* 0 and the status (and for ignored or refused keys the reason, borrowed), or
 * EF_ENOTFOUND for a key the specification does not have. */
int ef_manifest_key_status(ef_key_status *out, const char **reason, const char *object,
                           const char *key);
/* The i-th key of `object`'s table, NULL past the end. */
const char *ef_manifest_key_at(const char *object, size_t i);

/* Splits an image reference. Out pointers are heap strings (free()); any may be NULL.
 * "reg:5000/a/b:tag@sha256:abc" -> registry "reg:5000", repo "a/b", tag, digest "sha256:abc".
 * Without a registry part, registry is "docker.io". */
int ef_image_ref_split(const char *ref, char **registry, char **repo, char **tag, char **digest);

#endif
