/* The docker-api engine backend's pure parts: building request bodies and
 * parsing Docker Engine API replies. No I/O, no globals: the unit tests and
 * the fuzz target call these directly. Every parser treats its input as
 * hostile: missing or wrong-typed fields are skipped, never trusted. */
#ifndef EDGEFLIP_PORT_DOCKER_JSON_H
#define EDGEFLIP_PORT_DOCKER_JSON_H

#include "edgeflip/buf.h"
#include "edgeflip/sys/engine.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The backend itself (docker_api.c), listed in ef_engine_backends[]. */
extern const struct ef_engine_ops ef_engine_docker_api;

/* A container id as the engine gives it: 1 to 64 lowercase hex digits. */
bool ef_docker_id_valid(const char *id);

/* "created", "running", ... (Docker and Podman spellings) to ef_cstate. */
ef_cstate ef_docker_state_parse(const char *status);

/* GET /containers/json: a JSON array. Items without a valid Id are skipped.
 * EF_EINVALID when the reply is not a JSON array. */
int ef_docker_parse_list(ef_container_list *out, const char *json, size_t len);

/* GET /containers/{id}/json. EF_EINVALID when the reply is not an object
 * with a valid Id. */
int ef_docker_parse_inspect(ef_container *out, const char *json, size_t len);

/* {"Id": "..."} from POST /containers/create and POST /containers/{id}/exec. */
int ef_docker_parse_id(char out_id[65], const char *json, size_t len);

/* GET /containers/{id}/json after a create that asked for device cgroup
 * rules: 0 when HostConfig.DeviceCgroupRules holds each of `want`, else
 * EF_EINVALID naming the first one missing. Podman 4.3's Docker API takes
 * the field and applies nothing (nor reports it): a rule the engine dropped
 * must not go unsaid. */
int ef_docker_check_cgroup_rules(const char *json, size_t len, char *const *want);
/* 0 when the inspect reply's HostConfig.DeviceRequests holds each of `want`
 * (same driver, all its capabilities); else EF_EINVALID naming the first
 * missing (Podman 4.3 takes the field and applies nothing). */
int ef_docker_check_device_requests(const char *json, size_t len,
                                    const ef_engine_device_request *want, size_t n);

/* GET /exec/{id}/json: ExitCode and Running. */
int ef_docker_parse_exec_inspect(int *exit_code, bool *running, const char *json, size_t len);

/* The "message" of an error reply ({"message": "..."}), or the start of the
 * body when it is not JSON, made printable and cut to `size` bytes. */
void ef_docker_error_message(char *out, size_t size, const char *body, size_t len);

/* The progress stream of POST /images/create: one JSON object per line.
 * Feed it chunks as they arrive; an object with "error" marks the pull failed. */
typedef struct {
	ef_buf line;          /* the incomplete last line */
	char *error;          /* the first "error" message, or NULL */
	unsigned objects;     /* objects parsed */
	unsigned layers_done; /* "Download complete" / "Pull complete" / "Already exists" */
	char status[64];      /* the last "status" */
	char id[72];          /* the last "id" */
	uint64_t current;     /* the last progressDetail */
	uint64_t total;
} ef_docker_pull;

/* `line_cap` bounds one line of the stream (EF_ETOOBIG beyond it). */
void ef_docker_pull_init(ef_docker_pull *p, size_t line_cap);
/* EF_EINVALID on a line that is not a JSON object, EF_ETOOBIG on a line longer
 * than the cap. An "error" object is not a failure here: see p->error. */
int ef_docker_pull_feed(ef_docker_pull *p, const char *data, size_t len);
/* Parses what is left after the last newline. */
int ef_docker_pull_finish(ef_docker_pull *p);
void ef_docker_pull_dispose(ef_docker_pull *p);

/* The body of POST /containers/create for `req` (a heap string, free()).
 * EF_EINVALID with a message naming the service when a field cannot be
 * expressed (a relative mount target, a port of protocol "sctp"). */
int ef_docker_create_body(char **out, const ef_create_req *req);

/* The body of POST /networks/create (labelled EF_LABEL_NETWORK). */
int ef_docker_network_body(char **out, const ef_network_req *req);
/* The body of POST /networks/{id}/connect. */
int ef_docker_connect_body(char **out, const char *container, char *const *aliases);
/* GET /networks: the names of the networks labelled EF_LABEL_NETWORK=project,
 * sorted; *out NULL when none. EF_EINVALID when the reply is not a JSON array. */
int ef_docker_parse_networks(char ***out, const char *json, size_t len, const char *project);

/* The body of POST /containers/{id}/exec. */
int ef_docker_exec_body(char **out, char *const argv[]);

/* Percent-encodes everything but unreserved characters (RFC 3986). */
int ef_docker_url_encode(ef_buf *out, const char *s);

#endif
