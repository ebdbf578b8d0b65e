/* Following the engine's event stream (port/engine/docker_watch.c): one
 * kept-open connection on the engine's unix socket to GET /events, filtered
 * to containers, read without blocking whenever its descriptor is readable.
 * The daemon polls the descriptor beside its other deadlines and runs a drift
 * check when an edgeflip container stopped, died, was removed or went
 * unhealthy (docs/engine.md "Events"). */
#ifndef EDGEFLIP_SYS_ENGINE_EVENTS_H
#define EDGEFLIP_SYS_ENGINE_EVENTS_H

#include <stdint.h>

typedef struct ef_engine_watch ef_engine_watch;

/* Connects to `endpoint` ("unix:///run/podman/podman.sock") and sends the
 * request; the reply is read by ef_engine_watch_read. EF_EUNREACHABLE when
 * nothing listens, EF_EINVALID for an endpoint that is not unix://. */
int ef_engine_watch_open(ef_engine_watch **out, const char *endpoint);
/* The descriptor to poll for input. */
int ef_engine_watch_fd(const ef_engine_watch *w);
/* Reads what is there without blocking; *relevant gets the number of relevant
 * events that arrived (the message of the last one is logged by the caller via
 * ef_engine_watch_last). 0 while the stream is open; EF_EUNREACHABLE when the
 * engine closed it (it restarted): close it and open again later; EF_EINVALID
 * or EF_ETOOBIG when the stream is malformed. */
int ef_engine_watch_read(ef_engine_watch *w, unsigned *relevant);
/* "die web 80d78c4b0229" for the last relevant event, for logs. */
const char *ef_engine_watch_last(const ef_engine_watch *w);
/* Events read since open, relevant or not. */
unsigned ef_engine_watch_events(const ef_engine_watch *w);
void ef_engine_watch_close(ef_engine_watch *w);

#endif
