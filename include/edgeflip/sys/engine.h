/* Container engine backends (port/engine/). One backend today: docker-api,
 * the Docker Engine API over a unix socket (Docker, Podman, balena-engine). */
#ifndef EDGEFLIP_SYS_ENGINE_H
#define EDGEFLIP_SYS_ENGINE_H

#include "edgeflip/manifest.h"

#include <stdbool.h>
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

typedef struct ef_engine ef_engine;

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
	char *previous; /* EF_LABEL_PREVIOUS; NULL when absent or empty */
	ef_cstate state;
	int exit_code;
	unsigned restart_count;
	char *health; /* engine's own healthcheck status, NULL if none */
	/* published ports (inspect only): host_port per container port */
	ef_port *ports;
	size_t nports;
	char *ip_address; /* container IP on the default network (inspect only) */
} ef_container;

typedef struct {
	ef_container *items;
	size_t count;
} ef_container_list;

void ef_container_dispose(ef_container *c);
void ef_container_list_dispose(ef_container_list *l);

/* What to create: the service as written, plus what the deploy decides. */
typedef struct {
	const char *name; /* container name, e.g. "edgeflip-web-green" */
	const ef_service *service;
	const char *slot;
	const char *revision;
	const char *previous; /* the revision serving now ("" or NULL: none) */
	/* Port bindings to use instead of service->ports (blue/green binds green to
	 * internal loopback ports). NULL: service->ports as written. */
	const ef_port *ports;
	size_t nports;
} ef_create_req;

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
	int (*stop)(ef_engine *e, const char *id, unsigned timeout_s);
	/* Force-removes; EF_ENOTFOUND is not an error for callers that clean up. */
	int (*remove)(ef_engine *e, const char *id);
	/* All containers (running or not) carrying EF_LABEL_SERVICE. */
	int (*list)(ef_engine *e, ef_container_list *out);
	int (*inspect)(ef_engine *e, ef_container *out, const char *id);
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
