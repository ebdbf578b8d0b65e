/* Fuzzes the engine's event stream parser (port/engine/docker_events.c): the
 * HTTP reply head, chunked decoding, line reassembly and each event's JSON.
 * The first byte sets the feeding step, so splits at every place are tried;
 * the second picks whole-stream (even) or single-line (odd) parsing. Seeds:
 * the recorded Podman stream (corpus/fuzz_engine_events). */
#include "../../port/engine/docker_events.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s;
	size_t len, step;

	if (size < 2)
		return 0;
	step = (size_t)data[0] + 1;
	s = (const char *)data + 2;
	len = size - 2;
	if (data[1] & 1) {
		ef_docker_event ev;
		(void)ef_docker_event_parse(&ev, s, len);
	} else {
		ef_docker_events p;
		int error = 0;
		ef_docker_events_init(&p, 4096);
		for (size_t off = 0; off < len && error == 0; off += step)
			error = ef_docker_events_feed(&p, s + off, len - off < step ? len - off : step);
		ef_docker_events_dispose(&p);
	}
	return 0;
}
