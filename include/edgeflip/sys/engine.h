/* Container engine backends (port/engine/). One backend today: docker-api,
 * the Docker Engine API over a unix socket (Docker, Podman, balena-engine). */
#ifndef EDGEFLIP_SYS_ENGINE_H
#define EDGEFLIP_SYS_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Labels every edgeflip container carries. */
#define EF_LABEL_SERVICE  "io.edgeflip.service"
#define EF_LABEL_SLOT     "io.edgeflip.slot"     /* "blue" | "green" */
#define EF_LABEL_REVISION "io.edgeflip.revision" /* commit id */
#define EF_LABEL_SPEC     "io.edgeflip.spec"     /* ef_service.spec_hash */
/* The revision that served when this container was made: once it serves, the
 * previous good revision. Lets a rebuilt journal tell a candidate from the
 * container it was to replace, and keep `previous`. */
#define EF_LABEL_PREVIOUS "io.edgeflip.previous" /* commit id or "" */
#define EF_LABEL_NETWORK  "io.edgeflip.network"  /* on networks edgeflip made: the project */
/* The DNS names the container has when active: "net=alias,alias;net2=alias"
 * (blue/green moves them at the flip; recovery puts them back from here). */
#define EF_LABEL_ALIASES "io.edgeflip.aliases"
/* Compose `container_name`: the name the active instance takes at the flip. */
#define EF_LABEL_NAME "io.edgeflip.name"
/* Preview environments (docs/previews.md): a preview's containers carry
 * EF_LABEL_PREVIEW (its name, "pr-1") and their service under
 * EF_LABEL_PREVIEW_SERVICE instead of EF_LABEL_SERVICE, so that the
 * production listing (ops->list) never sees them. */
#define EF_LABEL_PREVIEW         "io.edgeflip.preview"
#define EF_LABEL_PREVIEW_SERVICE "io.edgeflip.preview.service"

typedef struct ef_engine ef_engine;

#define EF_STOP_CONFIGURED 0xffffffffu

/* ---------------------------------------------------------------------------
 * The engine-level container spec: what to run, in the engine's terms. The
 * deploy builds it from the Compose model (core/deploy/spec.c); a backend
 * turns it into its own request (port/engine/docker_json.c). A backend never
 * sees the Compose model. Vectors are NULL-terminated; NULL or 0 means "not
 * set: the engine's default". */

typedef struct {
	char *host_ip;      /* NULL: all addresses */
	uint16_t host_port; /* 0: not published (exposed only) */
	uint16_t container_port;
	char protocol[4]; /* "tcp" or "udp" */
} ef_engine_port;

typedef enum {
	EF_ENGINE_MOUNT_BIND = 0,
	EF_ENGINE_MOUNT_VOLUME,
	EF_ENGINE_MOUNT_TMPFS,
} ef_engine_mount_type;

/* One mount, passed structured (HostConfig.Mounts): no option can be
 * smuggled in through a path. */
typedef struct {
	ef_engine_mount_type type;
	char *source; /* bind: absolute host path; volume: name, NULL = anonymous */
	char *target; /* absolute path in the container */
	bool read_only;
	char *propagation;   /* bind: NULL or "rprivate", "rshared", ... */
	bool no_copy;        /* volume: do not copy the image's content in */
	int64_t tmpfs_size;  /* tmpfs: bytes, 0 = engine default */
	uint32_t tmpfs_mode; /* tmpfs: permission bits, 0 = engine default */
} ef_engine_mount;

/* A user-defined network the container joins, and the names it has there. */
typedef struct {
	char *network; /* engine-level network name */
	char **aliases;
	char *ipv4_address; /* a fixed address on this network, or NULL */
	char *ipv6_address;
} ef_engine_endpoint;

typedef struct {
	char *name; /* "nofile" */
	int64_t soft;
	int64_t hard;
} ef_engine_ulimit;

typedef struct {
	char *host_path;
	char *container_path;
	char perms[4]; /* "rwm" or a subset */
} ef_engine_device;

/* HostConfig.DeviceRequests[]: devices found by driver and capabilities. */
typedef struct {
	char *driver;        /* NULL: any */
	int64_t count;       /* -1: all */
	char **device_ids;   /* NULL unless given */
	char **capabilities; /* one set: the device must have all of them */
	char **options;      /* "key=value" */
} ef_engine_device_request;

typedef enum {
	EF_RESTART_NO = 0,
	EF_RESTART_ALWAYS,
	EF_RESTART_UNLESS_STOPPED,
	EF_RESTART_ON_FAILURE,
} ef_restart_kind;

typedef struct {
	char *image; /* the reference to run (pulled before create) */
	char **cmd;
	char **entrypoint;
	char **env;    /* "KEY=VALUE" */
	char **labels; /* "key=value"; the backend adds the EF_LABEL_* ones last */
	char *user;
	char *working_dir;
	char *hostname;
	char *domainname;
	bool tty;
	bool stdin_open;
	char *stop_signal; /* NULL: the image's (SIGTERM) */
	int stop_grace_s;  /* seconds to wait after stop_signal; < 0: engine default */
	ef_engine_port *ports;
	size_t nports;
	ef_engine_mount *mounts;
	size_t nmounts;
	ef_engine_endpoint *networks; /* user-defined networks joined */
	size_t nnetworks;
	char *network_mode; /* NULL, "bridge", "host", "none", or a network name */
	char *pid;
	char *ipc;
	ef_restart_kind restart;
	unsigned restart_max; /* EF_RESTART_ON_FAILURE: 0 = unlimited */
	/* resources (0: no limit) */
	int64_t nano_cpus; /* 1e9 = one CPU */
	int64_t memory;    /* bytes */
	int64_t memory_reservation;
	int64_t memory_swap; /* -1: unlimited */
	int64_t pids_limit;  /* -1: unlimited */
	char *cpuset;        /* "0-3" */
	int64_t cpu_shares;
	int64_t shm_size;
	ef_engine_ulimit *ulimits;
	size_t nulimits;
	char **sysctls;     /* "key=value" */
	char **extra_hosts; /* "host:address" */
	char **dns;
	char **dns_search;
	char **dns_opt;
	char **group_add;
	char **security_opt;
	char **cap_add;
	char **cap_drop;
	ef_engine_device *devices;
	size_t ndevices;
	char **device_cgroup_rules; /* "c 188:* rw" */
	ef_engine_device_request *device_requests;
	size_t ndevice_requests;
	bool privileged;
	bool read_only;
	int init;         /* < 0: engine default; 0: no; 1: an init process as PID 1 */
	char *log_driver; /* NULL: engine default */
	char **log_opts;  /* "key=value" */
} ef_container_spec;

typedef enum {
	EF_CSTATE_UNKNOWN = 0,
	EF_CSTATE_CREATED,
	EF_CSTATE_RUNNING,
	EF_CSTATE_RESTARTING,
	EF_CSTATE_PAUSED,
	EF_CSTATE_EXITED,
	EF_CSTATE_DEAD,
} ef_cstate;

/* What the engine knows of one container. */
typedef struct {
	char id[65];
	char *name;
	char *image;
	char *service; /* labels; NULL when absent */
	char *slot;
	char *revision;
	char *spec;
	char *previous;   /* EF_LABEL_PREVIOUS; NULL when absent or empty */
	char *aliases;    /* EF_LABEL_ALIASES */
	char *fixed_name; /* EF_LABEL_NAME */
	char *preview;    /* EF_LABEL_PREVIEW; service then from EF_LABEL_PREVIEW_SERVICE */
	ef_cstate state;
	int exit_code;
	unsigned restart_count;
	char *health; /* engine's own healthcheck status, NULL if none */
	long pid;     /* main process in the engine's PID namespace (inspect only; 0: none) */
	/* published ports (inspect only): host_port per container port */
	ef_engine_port *ports;
	size_t nports;
	char *ip_address; /* container IP on the default network (inspect only) */
	/* networks joined now, "net=alias,alias" each (inspect only) */
	char **endpoints;
	/* host paths bound into the container (inspect only) */
	char **mounts;
} ef_container;

typedef struct {
	ef_container *items;
	size_t count;
} ef_container_list;

void ef_container_dispose(ef_container *c);
void ef_container_list_dispose(ef_container_list *l);

/* What to create: the spec, and the labels that tie it to the deploy. */
typedef struct {
	const char *name; /* container name, e.g. "edgeflip-web-green" */
	const ef_container_spec *spec;
	const char *service;   /* EF_LABEL_SERVICE */
	const char *slot;      /* EF_LABEL_SLOT */
	const char *revision;  /* EF_LABEL_REVISION */
	const char *spec_hash; /* EF_LABEL_SPEC */
	const char *previous;  /* EF_LABEL_PREVIOUS: the revision serving now ("" or NULL: none) */
	const char *preview;   /* EF_LABEL_PREVIEW ("pr-1"), NULL: production */
} ef_create_req;

/* A user-defined network (Compose `networks:`), created by the backend. */
typedef struct {
	const char *name;    /* engine-level name, e.g. "edgeflip_backend" */
	const char *project; /* EF_LABEL_NETWORK's value: whose network it is */
	bool external;       /* made by someone else: must exist, never created */
	const char *driver;  /* NULL: "bridge" */
	bool internal;       /* no route out */
	bool enable_ipv6;
	const char *subnet; /* NULL: the engine picks one */
	const char *gateway;
	const char *ip_range;
	char *const *labels;  /* "key=value"; the backend adds EF_LABEL_NETWORK */
	char *const *options; /* driver options, "key=value" */
} ef_network_req;

typedef struct {
	uint64_t timeout_ms;      /* per request */
	uint64_t pull_timeout_ms; /* a whole pull */
	size_t max_reply_bytes;   /* cap on any reply body */
} ef_engine_opts;

struct ef_engine_ops {
	const char *name;
	int (*open)(ef_engine **out, const char *endpoint, const ef_engine_opts *opts);
	/* EF_EUNREACHABLE when the socket does not answer. */
	int (*ping)(ef_engine *e);
	/* Pulls unless present. Logs progress on long pulls. */
	int (*pull)(ef_engine *e, const char *image_ref);
	int (*create)(ef_engine *e, char out_id[65], const ef_create_req *req);
	int (*start)(ef_engine *e, const char *id);
	/* Sends the container's stop signal, then SIGKILL after timeout_s
	 * (EF_STOP_CONFIGURED: after the grace period it was created with). */
	int (*stop)(ef_engine *e, const char *id, unsigned timeout_s);
	/* Force-removes; EF_ENOTFOUND is not an error for callers that clean up. */
	int (*remove)(ef_engine *e, const char *id);
	/* All containers (running or not) carrying EF_LABEL_SERVICE. */
	int (*list)(ef_engine *e, ef_container_list *out);
	/* All containers carrying EF_LABEL_PREVIEW (preview environments). */
	int (*list_previews)(ef_engine *e, ef_container_list *out);
	/* Removes a named volume; EF_ENOTFOUND when absent. */
	int (*volume_remove)(ef_engine *e, const char *name);
	int (*inspect)(ef_engine *e, ef_container *out, const char *id);
	/* Gives the container a new name (container_name after a flip). */
	int (*rename)(ef_engine *e, const char *id, const char *name);
	/* Creates the network unless one of that name exists. */
	int (*network_ensure)(ef_engine *e, const ef_network_req *req);
	/* Removes a network; EF_ENOTFOUND when absent, EF_ERROR while containers
	 * are still attached. */
	int (*network_remove)(ef_engine *e, const char *name);
	/* Names of the networks labelled EF_LABEL_NETWORK=project, sorted
	 * (ef_strv_free). */
	int (*network_list)(ef_engine *e, char ***out, const char *project);
	/* Attaches a container to a network with these aliases (DNS names). */
	int (*network_connect)(ef_engine *e, const char *network, const char *id,
	                       char *const *aliases);
	/* Detaches; EF_ENOTFOUND when it was not attached. */
	int (*network_disconnect)(ef_engine *e, const char *network, const char *id);
	/* Optional (may be NULL): runs argv in the container, *exit_code set. */
	int (*exec)(ef_engine *e, int *exit_code, const char *id, char *const argv[],
	            uint64_t timeout_ms);
	void (*close)(ef_engine *e);
};

/* A backend embeds this first. */
struct ef_engine {
	const struct ef_engine_ops *ops;
};

/* The built-in backends, NULL-terminated (curl vtls style). */
extern const struct ef_engine_ops *const ef_engine_backends[];
/* Opens the backend named `backend` ("docker-api"). */
int ef_engine_open(ef_engine **out, const char *backend, const char *endpoint,
                   const ef_engine_opts *opts);
void ef_engine_close(ef_engine *e);

#endif
