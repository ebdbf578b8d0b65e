/* The event stream of the Docker Engine API (GET /events), parsed as it
 * arrives: the HTTP/1.1 reply head, then a chunked (or plain) body of
 * newline-delimited JSON objects, one per event. Docker, balena-engine (the
 * same code) and Podman's compat API all speak it; Podman adds a lower-case
 * "status" beside "Action" and puts labels into Actor.Attributes like Docker.
 * Pure: no I/O, no globals (unit tests and tests/fuzz/fuzz_engine_events.c). */
#ifndef EDGEFLIP_PORT_DOCKER_EVENTS_H
#define EDGEFLIP_PORT_DOCKER_EVENTS_H

#include "edgeflip/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One event about a container. */
typedef struct {
	char action[40];  /* "die", "stop", "health_status: unhealthy", ... */
	char service[64]; /* the io.edgeflip.service label; "" when absent */
	char id[65];      /* the container id; "" when absent or invalid */
	bool container;   /* Type is "container" */
	bool relevant;    /* an edgeflip container stopped, died, went away or
	                   * turned unhealthy: worth a drift check */
} ef_docker_event;

/* Parses one line of the stream. EF_EINVALID when it is not a JSON object. */
int ef_docker_event_parse(ef_docker_event *out, const char *line, size_t len);

enum ef_docker_events_phase {
	EF_EV_HEAD = 0, /* status line and headers */
	EF_EV_SIZE,     /* a chunk-size line */
	EF_EV_DATA,     /* inside a chunk */
	EF_EV_DATA_END, /* the CRLF after a chunk */
	EF_EV_PLAIN,    /* a body without chunked encoding: up to EOF */
	EF_EV_DONE,     /* the last chunk came: the stream ended */
};

typedef struct {
	enum ef_docker_events_phase phase;
	ef_buf head;     /* the reply head so far, then the chunk-size line */
	ef_buf line;     /* the incomplete last event line */
	size_t line_cap; /* bound on one line and on the head */
	uint64_t chunk_left;
	int status;           /* HTTP status, 0 until the head is complete */
	unsigned events;      /* lines parsed */
	unsigned relevant;    /* of which relevant */
	unsigned invalid;     /* lines that were not JSON objects (skipped) */
	ef_docker_event last; /* the last relevant event */
} ef_docker_events;

void ef_docker_events_init(ef_docker_events *p, size_t line_cap);
void ef_docker_events_dispose(ef_docker_events *p);
/* Feeds bytes as they arrive. EF_EINVALID for a malformed head or chunk size
 * (message says which), EF_EUNREACHABLE for a reply status other than 200
 * (the engine refused the request), EF_ETOOBIG for a head or line beyond the
 * cap. A line that is not JSON is counted in `invalid` and skipped. */
int ef_docker_events_feed(ef_docker_events *p, const char *data, size_t len);

#endif
