/* Fuzzes the parsers of container engine replies (port/engine/docker_json.c)
 * and the aliases label the deploy reads back from a container.
 * The first byte picks the parser; for the pull stream the second byte sets
 * the chunk size, so line reassembly across chunks is fuzzed too. */
#include "../../port/engine/docker_json.h"
#include "edgeflip/spec.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *json;
	size_t len;

	if (size < 2)
		return 0;
	json = (const char *)data + 2;
	len = size - 2;
	switch (data[0] % 9) {
	case 0: {
		ef_container_list l;
		if (ef_docker_parse_list(&l, json, len) == 0)
			ef_container_list_dispose(&l);
		break;
	}
	case 1: {
		ef_container c;
		if (ef_docker_parse_inspect(&c, json, len) == 0)
			ef_container_dispose(&c);
		break;
	}
	case 2: {
		ef_docker_pull p;
		size_t step = (size_t)data[1] + 1;
		int error = 0;
		ef_docker_pull_init(&p, 4096);
		for (size_t off = 0; off < len && error == 0; off += step)
			error = ef_docker_pull_feed(&p, json + off,
			                            len - off < step ? len - off : step);
		if (error == 0)
			ef_docker_pull_finish(&p);
		ef_docker_pull_dispose(&p);
		break;
	}
	case 3: {
		char msg[256];
		ef_docker_error_message(msg, (size_t)data[1] % sizeof(msg), json, len);
		break;
	}
	case 4: {
		int code;
		bool running;
		ef_docker_parse_exec_inspect(&code, &running, json, len);
		break;
	}
	case 5: {
		char **names;
		if (ef_docker_parse_networks(&names, json, len, "edgeflip") == 0)
			ef_strv_free(names);
		break;
	}
	case 6: {
		/* The aliases label of a container (engine.h), as the deploy reads it. */
		char *label = strndup(json, len);
		ef_engine_endpoint *eps;
		size_t n;
		if (label && ef_spec_aliases_parse(&eps, &n, label) == 0)
			ef_spec_endpoints_free(eps, n);
		free(label);
		break;
	}
	case 7: {
		/* An inspect reply checked for the device cgroup rules and the
		 * device requests asked for. */
		char *const want[] = {"c 188:* rw", "b 8:0 r", NULL};
		char *caps[] = {"gpu", "compute", NULL};
		const ef_engine_device_request reqs[] = {{"nvidia", 1, NULL, caps, NULL},
		                                         {NULL, -1, NULL, caps, NULL}};
		ef_docker_check_cgroup_rules(json, len, want);
		ef_docker_check_device_requests(json, len, reqs, 2);
		break;
	}
	default: {
		char id[65];
		ef_docker_parse_id(id, json, len);
		break;
	}
	}
	return 0;
}
