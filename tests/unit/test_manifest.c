/* compose.json parsing: the supported subset, exact error messages, the spec
 * hash, and image reference splitting. */
#include "edgeflip/buf.h"
#include "edgeflip/compose.h"
#include "edgeflip/compose_read.h"
#include "edgeflip/error.h"
#include "edgeflip/manifest.h"

#include <cjson/cJSON.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define F "env/compose.json"
/* One service "web" with the given members. */
#define WEB(members) "{\"services\": {\"web\": {" members "}}}"
#define IMG          "\"image\": \"nginx:1.25\""
#define WEB_OPEN     "{\"services\": {\"web\": {" IMG
#define DIGEST       "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static ef_manifest *parse_ok(const char *json)
{
	ef_manifest *m = NULL;
	int rc = ef_manifest_parse(&m, json, strlen(json), F);

	if (rc != 0)
		fail_msg("unexpected error %d: %s\n  for %s", rc, ef_error_last(), json);
	assert_non_null(m);
	return m;
}

/* ---------------------------------------------------------------------------
 * Refused inputs: exact messages. */

typedef struct {
	const char *json;
	int code;
	const char *msg;
} bad_case;

static const bad_case bad_cases[] = {
        /* document level */
        {"", EF_EINVALID,
         F ": not valid JSON (line 1, byte 0); write compose.yaml, or produce JSON with `docker "
           "compose config --format "
           "json`"},
        {"{\"services\": {}\n,}", EF_EINVALID,
         F ": not valid JSON (line 2, byte 17); write compose.yaml, or produce JSON with `docker "
           "compose config --format "
           "json`"},
        {"{\"services\": {}} x", EF_EINVALID,
         F ": not valid JSON (line 1, byte 17); write compose.yaml, or produce JSON with `docker "
           "compose config --format "
           "json`"},
        {"[]", EF_EINVALID,
         F ": $: expected a mapping of top-level keys (services, networks, volumes, ...)"},
        {"{}", EF_EINVALID, F ": $.services: missing; list the services to run"},
        {"{\"services\": []}", EF_EINVALID,
         F ": $.services: expected an object {name: service}, found an array"},
        {"{\"services\": {}, \"include\": []}", EF_EINVALID,
         F ": $.include: 'include' is not supported: put the services in compose.yaml or a "
           "compose.override.yaml"},
        {"{\"services\": {}, \"services\": {}}", EF_EINVALID,
         F ": $.services: key 'services' appears twice; keep one"},
        {"{\"services\": {}, \"name\": 5}", EF_EINVALID,
         F ": $.name: expected a string, found a number"},
        {"{\"services\": {}, \"x-edgeflip\": {\"rollout\": 1}}", EF_EINVALID,
         F ": $.x-edgeflip.rollout: expected a mapping (start, duration, start_percentage, "
           "paused)"},
        {"{\"services\": {}, \"x-edgeflip\": {\"waves\": 1}}", EF_EINVALID,
         F ": $.x-edgeflip.waves: unknown key under the top-level x-edgeflip (known: rollout); "
           "put deploy settings under each service's x-edgeflip"},
        {"{\"services\": {}, \"x-edgeflip\": {\"rollout\": {\"start\": \"now\", "
         "\"duration\": \"1h\"}}}",
         EF_EINVALID,
         F ": $.x-edgeflip.rollout: start: expected an RFC 3339 date and time such as "
           "2026-12-04T18:00:00Z"},
        {"{\"services\": {}, \"networks\": {\"backend\": {\"drivr\": \"x\"}}}", EF_EINVALID,
         F ": $.networks.backend.drivr: unknown key 'drivr': not a key of a Compose network; check "
           "the spelling (docs/manifest.md lists every key)"},
        {"{\"services\": {}, \"networks\": {\"default\": {\"external\": true, \"driver\": \"x\"}}}",
         EF_EINVALID,
         F ": $.networks.default.driver: an external entry is made outside the stack: only name "
           "may be given with it"},
        {"{\"services\": {}, \"volumes\": {\"data\": {\"driver_opts\": {\"type\": null}}}}",
         EF_EINVALID, F ": $.volumes.data.driver_opts.type: expected a value, found null"},

        /* service names and keys */
        {"{\"services\": {\"-web\": {" IMG "}}}", EF_EINVALID,
         F ": $.services.-web: '-web' is not a valid service name (1-63 letters, digits, '_', '.', "
           "'-', starting with a letter or digit)"},
        {"{\"services\": {\"we b\": {" IMG "}}}", EF_EINVALID,
         F ": $.services['we b']: 'we b' is not a valid service name (1-63 letters, digits, '_', "
           "'.', '-', starting with a letter or digit)"},
        {"{\"services\": {\"web\": \"nginx\"}}", EF_EINVALID,
         F ": $.services.web: expected an object, found a string"},
        {WEB("\"command\": [\"x\"]"), EF_EINVALID,
         F ": $.services.web.image: missing; every service needs an image"},
        {WEB(IMG ", \"foo\": 1"), EF_EINVALID,
         F ": $.services.web.foo: unknown key 'foo': not a key of a Compose service; check the "
           "spelling (docs/manifest.md lists every key)"},
        {WEB(IMG ", " IMG), EF_EINVALID,
         F ": $.services.web.image: key 'image' appears twice; keep one"},
        {WEB(IMG ", \"container_name\": \"a b\""), EF_EINVALID,
         F ": $.services.web.container_name: 'a b' is not a valid container name (letters, digits, "
           "'_', '.', '-', starting with a letter or digit)"},

        /* image */
        {WEB("\"image\": 5"), EF_EINVALID,
         F ": $.services.web.image: expected a string, found a number"},
        {WEB("\"image\": \"\""), EF_EINVALID, F ": $.services.web.image: must not be empty"},
        {WEB("\"image\": \"Nginx\""), EF_EINVALID,
         F ": $.services.web.image: 'Nginx' is not a valid image reference: the repository must be "
           "lowercase letters, digits and '/', '.', '_', '-' between them"},
        {WEB("\"image\": \"nginx@sha256:abc\""), EF_EINVALID,
         F ": $.services.web.image: 'nginx@sha256:abc' is not a valid image reference: the digest "
           "must be sha256: and 64 lowercase hex digits"},
        {WEB("\"image\": \"nginx:1 2\""), EF_EINVALID,
         F ": $.services.web.image: 'nginx:1 2' is not a valid image reference: the tag must be "
           "1-128 letters, digits, '_', '.' or '-'"},

        /* command, entrypoint */
        {WEB(IMG ", \"command\": \"echo 'hi\""), EF_EINVALID,
         F ": $.services.web.command: unterminated single quote"},
        {WEB(IMG ", \"command\": [\"a\", 1]"), EF_EINVALID,
         F ": $.services.web.command[1]: expected a string, found a number"},
        {WEB(IMG ", \"command\": {}"), EF_EINVALID,
         F ": $.services.web.command: expected an array of strings or a string, found an object"},

        /* environment, labels */
        {WEB(IMG ", \"environment\": {\"A\": [1]}"), EF_EINVALID,
         F ": $.services.web.environment.A: expected a string, number, boolean or null, found an "
           "array"},
        {WEB(IMG ", \"environment\": [\"=1\"]"), EF_EINVALID,
         F ": $.services.web.environment[0]: '=1' has no name before '='"},
        {WEB(IMG ", \"environment\": \"A=1\""), EF_EINVALID,
         F ": $.services.web.environment: expected an object or an array of \"KEY=VALUE\", found "
           "a string"},
        {WEB(IMG ", \"labels\": {\"io.edgeflip.slot\": \"blue\"}"), EF_EINVALID,
         F ": $.services.web.labels['io.edgeflip.slot']: labels starting with 'io.edgeflip.' are "
           "reserved for edgeflip's own bookkeeping; rename it"},

        /* ports */
        {WEB(IMG ", \"ports\": [\"8080:80\", {\"target\": 80, \"published\": \"x\"}]"), EF_EINVALID,
         F ": $.services.web.ports[1].published: expected a port number 1-65535"},
        {WEB(IMG ", \"ports\": [{\"target\": 80, \"published\": 70000}]"), EF_EINVALID,
         F ": $.services.web.ports[0].published: expected a port number 1-65535"},
        {WEB(IMG ", \"ports\": [{\"target\": 80, \"published\": \"8000-8010\"}]"), EF_EINVALID,
         F ": $.services.web.ports[0].published: port ranges are not supported ('8000-8010'); list "
           "each port on its own"},
        {WEB(IMG ", \"ports\": [{\"published\": 8080}]"), EF_EINVALID,
         F ": $.services.web.ports[0].target: missing; give the container port"},
        {WEB(IMG ", \"ports\": [{\"target\": 80, \"protocol\": \"sctp\"}]"), EF_EINVALID,
         F ": $.services.web.ports[0].protocol: protocol 'sctp' is not supported (use tcp or udp)"},
        {WEB(IMG ", \"ports\": [{\"target\": 80, \"label\": \"http\"}]"), EF_EINVALID,
         F ": $.services.web.ports[0].label: unsupported key 'label' (supported: target, "
           "published, host_ip, protocol, mode, name, app_protocol); remove it or see "
           "docs/manifest.md"},
        {WEB(IMG ", \"ports\": [{\"target\": 80, \"name\": 1}]"), EF_EINVALID,
         F ": $.services.web.ports[0].name: expected a string, found a number"},
        {WEB(IMG
             ", \"ports\": [{\"target\": 80, \"published\": 8080, \"host_ip\": \"localhost\"}]"),
         EF_EINVALID,
         F ": $.services.web.ports[0].host_ip: 'localhost' is not an IPv4 or IPv6 address"},
        {WEB(IMG ", \"ports\": [\"80:http\"]"), EF_EINVALID,
         F ": $.services.web.ports[0]: '80:http' is not a port mapping (use \"80\", \"8080:80\" or "
           "\"127.0.0.1:8080:80/udp\"; ports 1-65535)"},
        {WEB(IMG ", \"ports\": [\"1.2.3.4:5:6:7\"]"), EF_EINVALID,
         F ": $.services.web.ports[0]: '1.2.3.4:5:6:7' is not a port mapping (use \"80\", "
           "\"8080:80\" or \"127.0.0.1:8080:80/udp\")"},
        {WEB(IMG ", \"ports\": [\"127.0.0.1::80\"]"), EF_EINVALID,
         F ": $.services.web.ports[0]: '127.0.0.1::80' has no host port; edgeflip publishes fixed "
           "host ports only"},
        {WEB(IMG ", \"ports\": [\"8080-8082:80-81\"]"), EF_EINVALID,
         F ": $.services.web.ports[0]: '8080-8082:80-81': the host range and the container "
           "range differ in length; edgeflip publishes fixed host ports, one for each container "
           "port"},
        {WEB(IMG ", \"ports\": [\"8080-8081:80\"]"), EF_EINVALID,
         F ": $.services.web.ports[0]: '8080-8081:80': the host range and the container range "
           "differ in length; edgeflip publishes fixed host ports, one for each container port"},
        {WEB(IMG ", \"ports\": [\"81-80\"]"), EF_EINVALID,
         F ": $.services.web.ports[0]: '81-80' is not a port range mapping (use "
           "\"8000-8010:8000-8010\", ports 1-65535, the lower first)"},
        {WEB(IMG ", \"ports\": [\"1-100:1-100\"]"), EF_ETOOBIG,
         F ": $.services.web.ports[0]: '1-100:1-100': 100 ports; at most 64 are supported"},
        {WEB(IMG ", \"ports\": [\"80/sctp\"]"), EF_EINVALID,
         F ": $.services.web.ports[0]: protocol 'sctp' is not supported (use tcp or udp)"},
        {WEB(IMG ", \"ports\": [\"8080:80\", \"8080:81\"]"), EF_EINVALID,
         F ": $.services.web.ports[1]: host port 8080/tcp is already published by service web"},
        {"{\"services\": {\"b\": {" IMG ", \"ports\": [\"9000:1\"]}, \"a\": {" IMG
         ", \"ports\": [\"127.0.0.1:9000:2\"]}}}",
         EF_EINVALID,
         F ": $.services.b.ports[0]: host port 9000/tcp is already published by service a"},
        {WEB(IMG ", \"ports\": 80"), EF_EINVALID,
         F ": $.services.web.ports: expected an array, found a number"},

        /* volumes */
        {WEB(IMG ", \"volumes\": [\"~bob/data:/data\"]"), EF_EINVALID,
         F ": $.services.web.volumes[0]: the bind source '~bob/data': '~user' is not supported; "
           "write ~/path"},
        {WEB(IMG ", \"volumes\": [\"./a/../../data:/data\"]"), EF_EINVALID,
         F ": $.services.web.volumes[0]: the bind source './a/../../data' leaves the environment "
           "directory; keep the file inside it (or use an absolute path, checked by the device "
           "policy)"},
        {WEB(IMG ", \"volumes\": [\"/a:/b:q\"]"), EF_EINVALID,
         F ": $.services.web.volumes[0]: '/a:/b:q': option 'q' is not supported here (use ro, rw, "
           "z, Z; a propagation for a bind; nocopy for a volume)"},
        {WEB(IMG ", \"volumes\": [\"/a:b\"]"), EF_EINVALID,
         F ": $.services.web.volumes[0]: '/a:b': the target 'b' must be an absolute path"},
        {WEB(IMG ", \"volumes\": [\"data:/data\"]"), EF_EINVALID,
         F ": $.services.web.volumes[0]: volume 'data' is not declared; add it under the top-level "
           "volumes (or write ./data for a directory of the environment)"},
        {WEB(IMG ", \"volumes\": [{\"type\": \"npipe\", \"target\": \"/x\"}]"), EF_EINVALID,
         F ": $.services.web.volumes[0].type: expected \"bind\", \"volume\" or \"tmpfs\" (npipe, "
           "cluster and image mounts are not supported)"},
        {WEB(IMG
             ", \"volumes\": [{\"type\": \"volume\", \"source\": \"nope\", \"target\": \"/x\"}]"),
         EF_EINVALID,
         F ": $.services.web.volumes[0].source: volume 'nope' is not declared; add it under the "
           "top-level volumes (or write ./nope for a directory of the environment)"},
        {WEB(IMG ", \"volumes\": [{\"type\": \"bind\", \"source\": \"~bob\", \"target\": \"/x\"}]"),
         EF_EINVALID,
         F ": $.services.web.volumes[0].source: the bind source '~bob': '~user' is not supported; "
           "write ~/path"},
        {WEB(IMG ", \"volumes\": [{\"type\": \"tmpfs\", \"source\": \"/a\", \"target\": \"/x\"}]"),
         EF_EINVALID,
         F ": $.services.web.volumes[0].source: a tmpfs mount has no source; remove it"},
        {WEB(IMG ", \"volumes\": [{\"type\": \"bind\", \"source\": \"/a\", \"target\": \"/x\", "
                 "\"bind\": {\"propagation\": \"weird\"}}]"),
         EF_EINVALID,
         F ": $.services.web.volumes[0].bind.propagation: expected rprivate, private, rshared, "
           "shared, rslave or slave"},
        {WEB(IMG ", \"volumes\": [{\"type\": \"bind\", \"source\": \"/a\", \"target\": \"/x\", "
                 "\"read_only\": \"yes\"}]"),
         EF_EINVALID,
         F ": $.services.web.volumes[0].read_only: expected true or false, found a string"},

        /* healthcheck */
        {WEB(IMG ", \"healthcheck\": {\"interval\": \"90\"}"), EF_EINVALID,
         F ": $.services.web.healthcheck.interval: expected a duration such as \"30s\", \"1m30s\" "
           "or \"500ms\""},
        {WEB(IMG ", \"healthcheck\": {\"timeout\": \"5x\"}"), EF_EINVALID,
         F ": $.services.web.healthcheck.timeout: expected a duration such as \"30s\", \"1m30s\" "
           "or \"500ms\""},
        {WEB(IMG ", \"healthcheck\": {\"start_period\": 10}"), EF_EINVALID,
         F ": $.services.web.healthcheck.start_period: expected a duration such as \"30s\", "
           "\"1m30s\" or \"500ms\""},
        {WEB(IMG ", \"healthcheck\": {\"retries\": -1}"), EF_EINVALID,
         F ": $.services.web.healthcheck.retries: expected a whole number 0-1000"},
        {WEB(IMG ", \"healthcheck\": {\"test\": [\"CMD\"]}"), EF_EINVALID,
         F ": $.services.web.healthcheck.test: expected [\"CMD\", args...], [\"CMD-SHELL\", "
           "\"command\"], [\"NONE\"] or a string"},
        {WEB(IMG ", \"healthcheck\": {\"test\": [\"curl\", \"x\"]}"), EF_EINVALID,
         F ": $.services.web.healthcheck.test: expected [\"CMD\", args...], [\"CMD-SHELL\", "
           "\"command\"], [\"NONE\"] or a string"},
        {WEB(IMG ", \"healthcheck\": {\"start_interval\": \"1x\"}"), EF_EINVALID,
         F ": $.services.web.healthcheck.start_interval: expected a duration such as \"30s\", "
           "\"1m30s\" or \"500ms\""},

        /* other scalars */
        {WEB(IMG ", \"restart\": \"sometimes\""), EF_EINVALID,
         F ": $.services.web.restart: expected \"no\", \"always\", \"on-failure\", "
           "\"on-failure:N\" or \"unless-stopped\""},
        {WEB(IMG ", \"mem_limit\": \"lots\""), EF_EINVALID,
         F ": $.services.web.mem_limit: expected a number of bytes or a size such as \"512m\", "
           "\"1g\" or \"256k\""},
        {WEB(IMG ", \"mem_limit\": -1"), EF_EINVALID,
         F ": $.services.web.mem_limit: expected a number of bytes or a size such as \"512m\", "
           "\"1g\" or \"256k\""},
        {WEB(IMG ", \"privileged\": 1"), EF_EINVALID,
         F ": $.services.web.privileged: expected true or false, found a number"},
        {WEB(IMG ", \"network_mode\": \"mynet\""), EF_EINVALID,
         F ": $.services.web.network_mode: expected \"bridge\", \"default\", \"host\" or "
           "\"none\""},
        {WEB(IMG ", \"network_mode\": \"service:db\""), EF_EINVALID,
         F ": $.services.web.network_mode: sharing another container's network is refused: blue "
           "and green instances are separate containers; put both services on one network "
           "instead"},
        {WEB(IMG ", \"pid\": \"container:x\""), EF_EINVALID,
         F ": $.services.web.pid: expected \"host\" (or leave it out)"},
        {WEB(IMG ", \"ipc\": \"service:x\""), EF_EINVALID,
         F ": $.services.web.ipc: expected \"host\", \"private\" or \"shareable\""},
        {WEB(IMG ", \"cap_add\": [\"NET ADMIN\"]"), EF_EINVALID,
         F ": $.services.web.cap_add[0]: 'NET ADMIN' is not a capability name (such as "
           "NET_ADMIN, or ALL)"},
        {WEB(IMG ", \"devices\": [\"ttyUSB0\"]"), EF_EINVALID,
         F ": $.services.web.devices[0]: 'ttyUSB0' is not a device mapping (use \"/dev/x\", "
           "\"/dev/x:/dev/y\" or \"/dev/x:/dev/y:rwm\")"},
        {WEB(IMG ", \"devices\": [{\"source\": \"/dev/a\", \"permissions\": \"rwx\"}]"),
         EF_EINVALID, F ": $.services.web.devices[0].permissions: expected letters from \"rwm\""},
        {WEB(IMG ", \"working_dir\": \"app\""), EF_EINVALID,
         F ": $.services.web.working_dir: working_dir 'app' must be an absolute path"},
        {WEB(IMG ", \"networks\": {\"backend\": null}"), EF_EINVALID,
         F ": $.services.web.networks: network 'backend' is not declared; add it under the "
           "top-level networks"},
        {WEB(IMG ", \"networks\": {\"default\": {\"ipv4_address\": \"10.0.0.2\"}}"), EF_EINVALID,
         F ": $.services.web.networks: a fixed address on network 'default' needs a subnet: set "
           "ipam.config[].subnet on the top-level network"},

        /* x-edgeflip */
        {WEB(IMG ", \"x-edgeflip\": {\"strategy\": \"rolling\"}"), EF_EINVALID,
         F ": $.services.web.x-edgeflip.strategy: expected \"bluegreen\", \"canary\", "
           "\"handover\", \"recreate\" or \"auto\""},
        {WEB(IMG ", \"x-edgeflip\": {\"rollout\": 1}"), EF_EINVALID,
         F ": $.services.web.x-edgeflip.rollout: unsupported key 'rollout' (supported: strategy, "
           "health, "
           "canary, http, ports); remove it or see docs/manifest.md"},
        {WEB(IMG ", \"x-edgeflip\": {\"health\": {}}"), EF_EINVALID,
         F ": $.services.web.x-edgeflip.health: give exactly one probe: http or tcp"},
        {WEB(IMG ", \"x-edgeflip\": {\"health\": {\"http\": {}, \"tcp\": {}}}"), EF_EINVALID,
         F ": $.services.web.x-edgeflip.health: give exactly one probe: http or tcp"},
        {WEB(IMG
             ", \"x-edgeflip\": {\"health\": {\"http\": {\"path\": \"health\", \"port\": 80}}}"),
         EF_EINVALID,
         F ": $.services.web.x-edgeflip.health.http.path: expected a URL path starting with '/'"},
        {WEB(IMG ", \"x-edgeflip\": {\"health\": {\"http\": {\"status\": 999, \"port\": 80}}}"),
         EF_EINVALID,
         F ": $.services.web.x-edgeflip.health.http.status: expected an HTTP status code 100-599"},
        {WEB(IMG ", \"x-edgeflip\": {\"health\": {\"tcp\": {\"port\": 0}}}"), EF_EINVALID,
         F ": $.services.web.x-edgeflip.health.tcp.port: expected a port number 1-65535"},
        {WEB(IMG ", \"x-edgeflip\": {\"health\": {\"tcp\": {}}}"), EF_EINVALID,
         F ": $.services.web.x-edgeflip.health: no port to probe: set tcp.port or list the "
           "service's ports"},
};

static void test_bad_inputs(void **state)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const bad_case *t = &bad_cases[i];
		ef_manifest *m = (ef_manifest *)1;
		int rc;

		ef_error_clear();
		rc = ef_manifest_parse(&m, t->json, strlen(t->json), F);
		if (rc != t->code || strcmp(ef_error_last(), t->msg) != 0)
			fail_msg("case %zu: %s\n  got  %d: %s\n  want %d: %s", i, t->json, rc,
			         ef_error_last(), t->code, t->msg);
		assert_null(m);
	}
}

static void test_name_defaults(void **state)
{
	ef_manifest *m;

	assert_int_equal(ef_manifest_parse(&m, "{}", 2, NULL), EF_EINVALID);
	assert_string_equal(ef_error_last(), "compose.json: $.services: missing; list the services "
	                                     "to run");
	assert_int_equal(ef_manifest_parse(&m, NULL, 0, "x.json"), EF_EINVALID);
}

/* Reads only `len` bytes: the buffer need not be NUL-terminated. */
static void test_length_bounded(void **state)
{
	const char json[] = "{\"services\": {}}garbage";
	ef_manifest *m;

	assert_int_equal(ef_manifest_parse(&m, json, 16, F), 0);
	assert_int_equal(m->nservices, 0);
	ef_manifest_free(m);
}

/* ---------------------------------------------------------------------------
 * Caps. */

/* head, then n items separated by commas (every '#' in `item` becomes the index), then tail. */
static char *many(const char *head, const char *item, size_t n, const char *tail)
{
	ef_buf b = EF_BUF_INIT(1 << 20);

	assert_int_equal(ef_buf_puts(&b, head), 0);
	for (size_t i = 0; i < n; i++) {
		if (i)
			assert_int_equal(ef_buf_puts(&b, ","), 0);
		for (const char *p = item; *p; p++) {
			if (*p == '#')
				assert_int_equal(ef_buf_printf(&b, "%zu", i), 0);
			else
				assert_int_equal(ef_buf_put(&b, p, 1), 0);
		}
	}
	assert_int_equal(ef_buf_puts(&b, tail), 0);
	return ef_buf_detach(&b);
}

static void test_caps(void **state)
{
	static const struct {
		const char *head, *item, *tail;
		size_t ok, msg_n;
		const char *msg;
	} caps[] = {
	        {"{\"services\": {", "\"s#\": {\"image\": \"nginx\", \"x-i\": #}", "}}", 64, 65,
	         F ": $.services: 65 services; at most 64 are supported"},
	        {WEB_OPEN ", \"environment\": {", "\"K#\": #", "}}}}", 256, 257,
	         F ": $.services.web.environment: 257 variables; at most 256 are supported"},
	        {WEB_OPEN ", \"environment\": [", "\"K#=#\"", "]}}}", 256, 257,
	         F ": $.services.web.environment: 257 variables; at most 256 are supported"},
	        {WEB_OPEN ", \"labels\": {", "\"k#\": #", "}}}}", 256, 257,
	         F ": $.services.web.labels: 257 labels; at most 256 are supported"},
	        {WEB_OPEN ", \"ports\": [", "\"1##\"", "]}}}", 64, 65,
	         F ": $.services.web.ports: 65 ports; at most 64 are supported"},
	        {WEB_OPEN ", \"command\": [", "\"a##\"", "]}}}", 256, 257,
	         F ": $.services.web.command: 257 entries; at most 256 are supported"},
	};

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		char *ok = many(caps[i].head, caps[i].item, caps[i].ok, caps[i].tail);
		char *bad = many(caps[i].head, caps[i].item, caps[i].msg_n, caps[i].tail);
		ef_manifest *m = NULL;
		int rc;

		m = parse_ok(ok);
		ef_manifest_free(m);
		rc = ef_manifest_parse(&m, bad, strlen(bad), F);
		if (rc != EF_ETOOBIG || strcmp(ef_error_last(), caps[i].msg) != 0)
			fail_msg("cap %zu: got %d: %s", i, rc, ef_error_last());
		free(ok);
		free(bad);
	}
}

/* ---------------------------------------------------------------------------
 * Accepted inputs. */

/* The shape `docker compose config --format json` writes. */
static void test_compose_config_output(void **state)
{
	ef_buf b;
	ef_manifest *m;
	const ef_service *web, *worker;

	assert_int_equal(ef_read_file(&b, EF_TEST_DATA "/manifest/compose-config.json", 1 << 20),
	                 0);
	m = parse_ok(b.ptr);
	assert_int_equal(m->nservices, 2);
	assert_string_equal(m->services[0].name, "web");
	assert_string_equal(m->services[1].name, "worker");
	web = ef_manifest_find(m, "web");
	worker = ef_manifest_find(m, "worker");
	assert_ptr_equal(web, &m->services[0]);
	assert_ptr_equal(worker, &m->services[1]);
	assert_null(ef_manifest_find(m, "db"));

	assert_null(web->command);
	assert_null(web->entrypoint);
	assert_string_equal(web->environment[0], "API_URL=http://api:8080");
	assert_string_equal(web->environment[1], "WORKERS=4");
	assert_null(web->environment[2]);
	assert_string_equal(web->labels[0], "com.example.team=shop");
	assert_int_equal(web->nports, 1);
	assert_null(web->ports[0].host_ip);
	assert_int_equal(web->ports[0].host_port, 8080);
	assert_int_equal(web->ports[0].container_port, 80);
	assert_string_equal(web->ports[0].protocol, "tcp");
	assert_string_equal(web->restart, "unless-stopped");
	assert_int_equal(web->nvolumes, 2);
	assert_int_equal(web->volumes[0].type, EF_MOUNT_BIND);
	assert_string_equal(web->volumes[0].source, "/srv/shop/static");
	assert_string_equal(web->volumes[0].target, "/usr/share/nginx/html");
	assert_true(web->volumes[0].read_only);
	assert_int_equal(web->volumes[1].type, EF_MOUNT_VOLUME);
	assert_string_equal(web->volumes[1].source, "shop_cache"); /* the declared name */
	assert_false(web->volumes[1].read_only);
	/* x-edgeflip.health wins over the Compose healthcheck; the timings stay */
	assert_int_equal(web->health.kind, EF_PROBE_HTTP);
	assert_null(web->health.exec_argv);
	assert_string_equal(web->health.http_path, "/health");
	assert_int_equal(web->health.http_status, 200);
	assert_int_equal(web->health.port, 0);
	assert_int_equal(web->health.interval_ms, 90000);
	assert_int_equal(web->health.timeout_ms, 5000);
	assert_int_equal(web->health.start_period_ms, 10000);
	assert_int_equal(web->health.retries, 3);
	assert_int_equal(web->strategy, EF_STRATEGY_BLUEGREEN);
	assert_int_equal(strlen(web->spec_hash), 64);

	assert_string_equal(worker->command[0], "worker");
	assert_string_equal(worker->command[2], "orders");
	assert_null(worker->command[3]);
	assert_int_equal(worker->mem_limit, 268435456);
	assert_true(worker->read_only);
	assert_string_equal(worker->user, "1000:1000");
	assert_string_equal(worker->working_dir, "/app");
	assert_int_equal(worker->health.kind, EF_PROBE_NONE);
	assert_int_equal(worker->health.interval_ms, 30000);
	assert_int_equal(worker->health.timeout_ms, 30000);
	assert_int_equal(worker->health.start_period_ms, 0);
	assert_int_equal(worker->health.retries, 3);
	assert_int_equal(worker->strategy, EF_STRATEGY_AUTO);
	assert_string_not_equal(web->spec_hash, worker->spec_hash);
	ef_manifest_free(m);
	ef_buf_dispose(&b);
}

static void test_short_ports(void **state)
{
	static const struct {
		const char *spec;
		const char *ip;
		uint16_t host, container;
		const char *proto;
	} t[] = {
	        {"\"80\"", NULL, 0, 80, "tcp"},
	        {"80", NULL, 0, 80, "tcp"},
	        {"\"8080:80\"", NULL, 8080, 80, "tcp"},
	        {"\"53:53/udp\"", NULL, 53, 53, "udp"},
	        {"\"127.0.0.1:8080:80/udp\"", "127.0.0.1", 8080, 80, "udp"},
	        {"\"[::1]:8443:443\"", "::1", 8443, 443, "tcp"},
	        {"{\"target\": 80, \"published\": 8080, \"host_ip\": \"10.0.0.1\", \"mode\": "
	         "\"host\"}",
	         "10.0.0.1", 8080, 80, "tcp"},
	        {"{\"target\": \"81\", \"published\": \"\", \"protocol\": \"udp\"}", NULL, 0, 81,
	         "udp"},
	        /* the protocol in any case; name and app_protocol only describe */
	        {"\"53:53/UDP\"", NULL, 53, 53, "udp"},
	        {"{\"target\": 80, \"published\": \"8080\", \"protocol\": \"TCP\", \"name\": "
	         "\"web\", \"app_protocol\": \"http\"}",
	         NULL, 8080, 80, "tcp"},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char json[512];
		ef_manifest *m;
		const ef_port *p;

		snprintf(json, sizeof(json), WEB(IMG ", \"ports\": [%s]"), t[i].spec);
		m = parse_ok(json);
		p = &m->services[0].ports[0];
		if (t[i].ip)
			assert_string_equal(p->host_ip, t[i].ip);
		else
			assert_null(p->host_ip);
		assert_int_equal(p->host_port, t[i].host);
		assert_int_equal(p->container_port, t[i].container);
		assert_string_equal(p->protocol, t[i].proto);
		ef_manifest_free(m);
	}

	/* ranges: one mapping per port, as Compose publishes them */
	ef_manifest *r =
	        parse_ok(WEB(IMG ", \"ports\": [\"127.0.0.1:50000-50002:60000-60002/udp\", "
	                         "\"7000-7001\", \"[::1]:8000-8001:80-81\"]"));
	const ef_service *rs = &r->services[0];
	assert_int_equal(rs->nports, 7);
	assert_string_equal(rs->ports[2].host_ip, "127.0.0.1");
	assert_int_equal(rs->ports[2].host_port, 50002);
	assert_int_equal(rs->ports[2].container_port, 60002);
	assert_string_equal(rs->ports[2].protocol, "udp");
	assert_int_equal(rs->ports[4].host_port, 0);
	assert_int_equal(rs->ports[4].container_port, 7001);
	assert_string_equal(rs->ports[6].host_ip, "::1");
	assert_int_equal(rs->ports[6].host_port, 8001);
	assert_int_equal(rs->ports[6].container_port, 81);
	ef_manifest_free(r);

	/* the same binding written twice is one binding; the rest stay in order */
	ef_manifest *m = parse_ok(WEB(IMG ", \"ports\": [\"1883:1883\", \"1883:1883\", "
	                                  "\"127.0.0.1:9001:9001\", \"9001:9001/udp\", "
	                                  "\"127.0.0.1:9001:9001\", \"80\", \"80\"]"));
	const ef_service *s = &m->services[0];
	assert_int_equal(s->nports, 4);
	assert_int_equal(s->ports[0].host_port, 1883);
	assert_string_equal(s->ports[1].host_ip, "127.0.0.1");
	assert_string_equal(s->ports[2].protocol, "udp");
	assert_int_equal(s->ports[3].container_port, 80);
	ef_manifest_free(m);
}

static void test_volumes_forms(void **state)
{
	ef_manifest *m = parse_ok(
	        "{\"volumes\": {\"data\": null, \"logs\": {\"name\": \"app_logs\", \"external\": "
	        "true}},"
	        " \"services\": {\"web\": {" IMG ", \"volumes\": [\"data:/data\", "
	        "\"/etc/app:/etc/app:ro\", \"logs:/logs:rw\", {\"type\": \"tmpfs\", \"target\": "
	        "\"/tmp\"}]}}}");
	const ef_service *s = &m->services[0];

	assert_int_equal(s->nvolumes, 4);
	assert_int_equal(s->volumes[0].type, EF_MOUNT_VOLUME);
	assert_string_equal(s->volumes[0].source, "data");
	assert_string_equal(s->volumes[0].target, "/data");
	assert_int_equal(s->volumes[1].type, EF_MOUNT_BIND);
	assert_string_equal(s->volumes[1].source, "/etc/app");
	assert_true(s->volumes[1].read_only);
	assert_string_equal(s->volumes[2].source, "app_logs");
	assert_false(s->volumes[2].read_only);
	assert_int_equal(s->volumes[3].type, EF_MOUNT_TMPFS);
	assert_null(s->volumes[3].source);
	assert_string_equal(s->volumes[3].target, "/tmp");
	ef_manifest_free(m);
}

static void test_command_split(void **state)
{
	ef_manifest *m;
	static const struct {
		const char *json;
		const char *argv[6];
	} t[] = {
	        {"\"sleep 30\"", {"sleep", "30"}},
	        {"\"  a\\tb  \"", {"a", "b"}},
	        {"\"sh -c 'echo \\\"hi there\\\"'\"", {"sh", "-c", "echo \"hi there\""}},
	        {"\"echo \\\"a \\\\\\\" b\\\" c\\\\ d ''\"", {"echo", "a \" b", "c d", ""}},
	        {"[\"sh\", \"-c\", \"a b\"]", {"sh", "-c", "a b"}},
	        /* set and empty, as Compose passes it: not the same as unset */
	        {"[]", {NULL}},
	        {"\"\"", {NULL}},
	        {"\"  \"", {NULL}},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char json[256];
		char **argv;
		size_t n = 0;

		snprintf(json, sizeof(json), WEB(IMG ", \"command\": %s"), t[i].json);
		m = parse_ok(json);
		argv = m->services[0].command;
		assert_non_null(argv);
		for (; t[i].argv[n]; n++) {
			assert_non_null(argv[n]);
			assert_string_equal(argv[n], t[i].argv[n]);
		}
		assert_null(argv[n]);
		ef_manifest_free(m);
	}
	m = parse_ok(WEB(IMG));
	assert_null(m->services[0].command);
	assert_null(m->services[0].entrypoint);
	ef_manifest_free(m);
}

static void test_environment_forms(void **state)
{
	ef_manifest *a = parse_ok(WEB(IMG ", \"environment\": {\"Z\": \"last\", \"N\": 42, \"F\": "
	                                  "0.5, \"T\": true, \"E\": null, \"B\": \"x=y\"}"));
	ef_manifest *b = parse_ok(WEB(IMG ", \"environment\": [\"T=true\", \"Z=first\", \"E\", "
	                                  "\"N=42\", \"B=x=y\", \"E=1\", \"F=0.5\", \"Z=last\", "
	                                  "\"E\"]"));
	/* "E" has no value: left out (unset), as Compose does; in the list form a
	 * name given again replaces the earlier entry (Z), an unset one too (E) */
	static const char *const want[] = {"B=x=y", "F=0.5", "N=42", "T=true", "Z=last", NULL};

	for (size_t i = 0; i < 6; i++) {
		if (!want[i]) {
			assert_null(a->services[0].environment[i]);
			assert_null(b->services[0].environment[i]);
			break;
		}
		assert_string_equal(a->services[0].environment[i], want[i]);
		assert_string_equal(b->services[0].environment[i], want[i]);
	}
	assert_string_equal(a->services[0].spec_hash, b->services[0].spec_hash);
	ef_manifest_free(a);
	ef_manifest_free(b);
}

static void test_healthcheck_forms(void **state)
{
	static const struct {
		const char *hc;
		ef_probe_kind kind;
		const char *argv[4];
		uint64_t interval, timeout, start;
		unsigned retries;
	} t[] = {
	        {"{\"test\": [\"CMD\", \"curl\", \"-f\", \"http://localhost\"]}",
	         EF_PROBE_EXEC,
	         {"curl", "-f", "http://localhost"},
	         30000,
	         30000,
	         0,
	         3},
	        {"{\"test\": [\"CMD-SHELL\", \"pgrep x || exit 1\"], \"interval\": \"1h\", "
	         "\"timeout\": \"1.5s\", \"start_period\": \"2m3s\", \"retries\": 0}",
	         EF_PROBE_EXEC,
	         {"/bin/sh", "-c", "pgrep x || exit 1"},
	         3600000,
	         1500,
	         123000,
	         0},
	        /* several strings after CMD-SHELL: one command, as Podman runs it */
	        {"{\"test\": [\"CMD-SHELL\", \"pg_isready\", \"-U\", \"postgres\"]}",
	         EF_PROBE_EXEC,
	         {"/bin/sh", "-c", "pg_isready -U postgres"},
	         30000,
	         30000,
	         0,
	         3},
	        {"{\"test\": \"true\", \"interval\": \"0\", \"timeout\": \"0s\"}",
	         EF_PROBE_EXEC,
	         {"/bin/sh", "-c", "true"},
	         30000,
	         30000,
	         0,
	         3},
	        {"{\"test\": [\"NONE\"]}", EF_PROBE_NONE, {NULL}, 30000, 30000, 0, 3},
	        {"{\"test\": [\"CMD\", \"x\"], \"disable\": true}",
	         EF_PROBE_NONE,
	         {NULL},
	         30000,
	         30000,
	         0,
	         3},
	        /* below a millisecond rounds up: 0 would mean the default */
	        {"{\"interval\": \"500ms\", \"timeout\": \"250us\"}",
	         EF_PROBE_NONE,
	         {NULL},
	         500,
	         1,
	         0,
	         3},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char json[512];
		ef_manifest *m;
		const ef_health *h;
		size_t n = 0;

		snprintf(json, sizeof(json), WEB(IMG ", \"healthcheck\": %s"), t[i].hc);
		m = parse_ok(json);
		h = &m->services[0].health;
		assert_int_equal(h->kind, t[i].kind);
		for (; t[i].argv[n]; n++)
			assert_string_equal(h->exec_argv[n], t[i].argv[n]);
		if (n)
			assert_null(h->exec_argv[n]);
		else
			assert_null(h->exec_argv);
		assert_int_equal(h->interval_ms, t[i].interval);
		assert_int_equal(h->timeout_ms, t[i].timeout);
		assert_int_equal(h->start_period_ms, t[i].start);
		assert_int_equal(h->retries, t[i].retries);
		ef_manifest_free(m);
	}
}

static void test_x_edgeflip(void **state)
{
	ef_manifest *m = parse_ok(
	        "{\"x-edgeflip\": {}, \"x-common\": {\"anything\": [1]}, \"version\": \"3.8\","
	        " \"services\": {"
	        "\"a\": {" IMG
	        ", \"ports\": [\"8080:80\"], \"x-edgeflip\": {\"health\": {\"http\": "
	        "{}}}},"
	        "\"b\": {" IMG
	        ", \"x-edgeflip\": {\"strategy\": \"handover\", \"health\": {\"tcp\": "
	        "{\"port\": 5432}}}, \"x-note\": \"ignored\"},"
	        "\"c\": {" IMG ", \"x-edgeflip\": {\"strategy\": \"recreate\"}}}}");

	assert_int_equal(m->services[0].health.kind, EF_PROBE_HTTP);
	assert_string_equal(m->services[0].health.http_path, "/");
	assert_int_equal(m->services[0].health.http_status, 0);
	assert_int_equal(m->services[0].health.port, 0);
	assert_int_equal(m->services[0].strategy, EF_STRATEGY_AUTO);
	assert_int_equal(m->services[1].health.kind, EF_PROBE_TCP);
	assert_null(m->services[1].health.http_path);
	assert_int_equal(m->services[1].health.port, 5432);
	assert_int_equal(m->services[1].strategy, EF_STRATEGY_HANDOVER);
	assert_int_equal(m->services[2].strategy, EF_STRATEGY_RECREATE);
	assert_int_equal(m->services[2].health.kind, EF_PROBE_NONE);
	ef_manifest_free(m);
}

/* x-edgeflip.ports: the proxy options per public TCP port, strictly read,
 * errors at the file, line and JSON path. */
#define PORTS(opts)                                                                                \
	WEB(IMG ", \"ports\": [\"8080:80\", \"9090:90\", \"5353:53/udp\"], \"x-edgeflip\": "       \
	        "{\"ports\": " opts "}")

static void test_x_edgeflip_ports(void **state)
{
	static const struct {
		const char *json, *msg;
	} bad[] = {
	        {PORTS("[8080]"),
	         "$.services.web.x-edgeflip.ports: expected a mapping of public "
	         "ports to options (\"8080\": {idle_timeout: 30s}), found an array"},
	        {PORTS("{\"http\": {}}"), "$.services.web.x-edgeflip.ports.http: expected a public "
	                                  "port number 1-65535 as the key, found 'http'"},
	        {PORTS("{\"08080\": {}}"), "found '08080'"},
	        {PORTS("{\"8080\": {}, \"9090\": {}, \"8080\": {}}"),
	         "$.services.web.x-edgeflip.ports: port 8080 is given twice"},
	        {PORTS("{\"8080\": 30}"), "$.services.web.x-edgeflip.ports.8080: expected a "
	                                  "mapping {idle_timeout, connect_timeout, drain_timeout, "
	                                  "max_connections, proxy_protocol}, found a number"},
	        {PORTS("{\"8080\": {\"idle\": \"30s\"}}"),
	         "x-edgeflip.ports.8080.idle: unsupported "
	         "key 'idle'"},
	        {PORTS("{\"8080\": {\"idle_timeout\": 30}}"),
	         "$.services.web.x-edgeflip.ports.8080.idle_timeout: expected a duration such "
	         "as \"30s\""},
	        {PORTS("{\"8080\": {\"idle_timeout\": \"0s\"}}"),
	         "idle_timeout: expected a duration from 1ms to 24h"},
	        {PORTS("{\"8080\": {\"drain_timeout\": \"25h\"}}"),
	         "drain_timeout: expected a duration from 1ms to 24h"},
	        {PORTS("{\"8080\": {\"max_connections\": 0}}"),
	         "max_connections: expected a whole number 1-1000000"},
	        {PORTS("{\"8080\": {\"proxy_protocol\": \"v1\"}}"),
	         "proxy_protocol: expected v2 (send a PROXY protocol v2 header to the container) "
	         "or false"},
	        {PORTS("{\"8081\": {\"idle_timeout\": \"5s\"}}"),
	         "$.services.web.x-edgeflip.ports.8081: the service publishes no TCP port 8081; "
	         "list it under ports (\"8081:CONTAINER_PORT\")"},
	        {PORTS("{\"5353\": {\"idle_timeout\": \"5s\"}}"),
	         "the service publishes no TCP port 5353 (only UDP: the options are TCP's)"},
	        {WEB(IMG ", \"ports\": [\"8080:80\"], \"x-edgeflip\": {\"strategy\": \"recreate\", "
	                 "\"ports\": {\"8080\": {\"max_connections\": 5}}}"),
	         "the proxy options apply to ports the switch routes (strategy bluegreen or "
	         "canary); this service is deployed with recreate, so the container publishes "
	         "port 8080 itself"},
	};
	const char *yaml = "services:\n"
	                   "  web:\n"
	                   "    image: nginx:1.25\n"
	                   "    ports: [\"8080:80\"]\n"
	                   "    x-edgeflip:\n"
	                   "      ports:\n"
	                   "        8080: {idle_timeout: 90s}\n"
	                   "        8443:\n"
	                   "          idle_timeout: 1x\n";
	ef_manifest *m;
	ef_compose_pos *pos = NULL;
	cJSON *doc = NULL;
	const ef_port_opts *o;
	char hash[65];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = NULL;
		if (ef_manifest_parse(&m, bad[i].json, strlen(bad[i].json), F) != EF_EINVALID ||
		    !strstr(ef_error_last(), bad[i].msg) || strncmp(ef_error_last(), F ": ", 18)) {
			print_error("case %zu: '%s'\n", i, ef_error_last());
			fail();
		}
		ef_manifest_free(m);
	}

	m = parse_ok(
	        PORTS("{\"9090\": {\"proxy_protocol\": false, \"max_connections\": 100}, "
	              "\"8080\": {\"idle_timeout\": \"1m30s\", \"connect_timeout\": \"500ms\", "
	              "\"drain_timeout\": \"10s\", \"max_connections\": 1000, "
	              "\"proxy_protocol\": \"v2\"}}"));
	assert_int_equal(m->services[0].nport_opts, 2);
	assert_int_equal(m->services[0].port_opts[0].port, 8080); /* sorted */
	o = ef_service_port_opts(&m->services[0], 8080);
	assert_non_null(o);
	assert_int_equal(o->idle_timeout_ms, 90000);
	assert_int_equal(o->connect_timeout_ms, 500);
	assert_int_equal(o->drain_timeout_ms, 10000);
	assert_int_equal(o->max_conns, 1000);
	assert_true(o->proxy_protocol);
	o = ef_service_port_opts(&m->services[0], 9090);
	assert_int_equal(o->idle_timeout_ms, 0); /* the proxy's default */
	assert_int_equal(o->max_conns, 100);
	assert_false(o->proxy_protocol);
	assert_null(ef_service_port_opts(&m->services[0], 5353));
	memcpy(hash, m->services[0].spec_hash, sizeof(hash));
	ef_manifest_free(m);
	/* the options are part of the service: changing one changes its hash */
	m = parse_ok(
	        PORTS("{\"9090\": {\"proxy_protocol\": false, \"max_connections\": 100}, "
	              "\"8080\": {\"idle_timeout\": \"1m31s\", \"connect_timeout\": \"500ms\", "
	              "\"drain_timeout\": \"10s\", \"max_connections\": 1000, "
	              "\"proxy_protocol\": \"v2\"}}"));
	assert_string_not_equal(hash, m->services[0].spec_hash);
	ef_manifest_free(m);
	/* ...and an empty mapping is no options: the hash of the service without */
	m = parse_ok(PORTS("{}"));
	memcpy(hash, m->services[0].spec_hash, sizeof(hash));
	ef_manifest_free(m);
	m = parse_ok(WEB(IMG ", \"ports\": [\"8080:80\", \"9090:90\", \"5353:53/udp\"]"));
	assert_string_equal(hash, m->services[0].spec_hash);
	ef_manifest_free(m);

	/* YAML: integer keys are port numbers too; errors have file:line:col */
	assert_int_equal(ef_compose_pos_new(&pos), 0);
	assert_int_equal(
	        ef_compose_yaml_read(&doc, yaml, strlen(yaml), "env/compose.yaml", pos, NULL), 0);
	m = NULL;
	assert_int_equal(ef_manifest_parse_doc(&m, doc, "env/compose.yaml", pos, NULL),
	                 EF_EINVALID);
	assert_string_equal(ef_error_last(),
	                    "env/compose.yaml:9:25: $.services.web.x-edgeflip.ports.8443."
	                    "idle_timeout: expected a duration such as \"30s\", \"1m30s\" or "
	                    "\"500ms\"");
	ef_manifest_free(m);
	cJSON_Delete(doc);
	ef_compose_pos_free(pos);
}

static void test_misc_fields(void **state)
{
	static const struct {
		const char *mem;
		int64_t bytes;
	} mem[] = {{"0", 0},
	           {"1024", 1024},
	           {"\"1024\"", 1024},
	           {"\"256k\"", 262144},
	           {"\"512m\"", 536870912},
	           {"\"512M\"", 536870912},
	           {"\"1g\"", 1073741824},
	           {"\"1gb\"", 1073741824},
	           {"\"64MiB\"", 67108864},
	           {"\"1.5g\"", 1610612736},
	           {"\"100b\"", 100}};
	ef_manifest *m;
	const ef_service *s;

	for (size_t i = 0; i < sizeof(mem) / sizeof(mem[0]); i++) {
		char json[256];
		snprintf(json, sizeof(json), WEB(IMG ", \"mem_limit\": %s"), mem[i].mem);
		m = parse_ok(json);
		assert_int_equal(m->services[0].mem_limit, mem[i].bytes);
		ef_manifest_free(m);
	}
	m = parse_ok(WEB(IMG
	                 ", \"privileged\": true, \"network_mode\": \"host\", \"pid\": "
	                 "\"host\", \"ipc\": \"shareable\", \"cap_add\": [\"NET_ADMIN\", "
	                 "\"SYS_TIME\"], \"cap_drop\": [\"ALL\"], \"devices\": [\"/dev/ttyUSB0\", "
	                 "\"/dev/a:/dev/b:rw\", {\"source\": \"/dev/i2c-1\", \"target\": "
	                 "\"/dev/i2c-1\", \"permissions\": \"rwm\"}, {\"source\": \"/dev/gpio\"}], "
	                 "\"restart\": \"on-failure:5\", \"labels\": [\"b=2\", \"a=1\"], "
	                 "\"entrypoint\": [\"/init\"]"));
	s = &m->services[0];
	assert_true(s->privileged);
	assert_string_equal(s->network_mode, "host");
	assert_string_equal(s->pid, "host");
	assert_string_equal(s->ipc, "shareable");
	assert_string_equal(s->cap_add[1], "SYS_TIME");
	assert_string_equal(s->cap_drop[0], "ALL");
	assert_string_equal(s->devices[0], "/dev/ttyUSB0");
	assert_string_equal(s->devices[1], "/dev/a:/dev/b:rw");
	assert_string_equal(s->devices[2], "/dev/i2c-1:/dev/i2c-1:rwm");
	assert_string_equal(s->devices[3], "/dev/gpio:/dev/gpio");
	assert_null(s->devices[4]);
	assert_string_equal(s->restart, "on-failure:5");
	assert_string_equal(s->labels[0], "a=1");
	assert_string_equal(s->labels[1], "b=2");
	assert_string_equal(s->entrypoint[0], "/init");
	ef_manifest_free(m);
}

static void test_sorted_services(void **state)
{
	ef_manifest *m = parse_ok("{\"services\": {\"zeta\": {" IMG "}, \"Alpha\": {" IMG
	                          "}, \"mid.1\": {" IMG "}, \"a_b-c\": {" IMG "}}}");

	assert_int_equal(m->nservices, 4);
	assert_string_equal(m->services[0].name, "Alpha");
	assert_string_equal(m->services[1].name, "a_b-c");
	assert_string_equal(m->services[2].name, "mid.1");
	assert_string_equal(m->services[3].name, "zeta");
	for (size_t i = 0; i < m->nservices; i++)
		assert_ptr_equal(ef_manifest_find(m, m->services[i].name), &m->services[i]);
	assert_null(ef_manifest_find(m, "zz"));
	assert_null(ef_manifest_find(NULL, "zeta"));
	ef_manifest_free(m);
	ef_manifest_free(NULL);
}

/* ---------------------------------------------------------------------------
 * The spec hash. */

static char *hash_of(const char *json, const char *service)
{
	ef_manifest *m = parse_ok(json);
	const ef_service *s = ef_manifest_find(m, service);
	char *h;

	assert_non_null(s);
	h = strdup(s->spec_hash);
	ef_manifest_free(m);
	return h;
}

/* One service built from parts; NULL parts take the base value. */
typedef struct {
	const char *name, *image, *env, *ports, *labels, *command, *volumes, *hc, *extra;
} svc_parts;

static char *svc_json(const svc_parts *p)
{
	char buf[2048];

	snprintf(buf, sizeof(buf),
	         "{\"services\": {\"%s\": {\"image\": \"%s\", \"environment\": %s, \"ports\": %s, "
	         "\"labels\": %s, \"command\": %s, \"volumes\": %s, \"healthcheck\": %s%s}}}",
	         p->name ? p->name : "web", p->image ? p->image : "nginx@" DIGEST,
	         p->env ? p->env : "{\"A\": \"1\", \"B\": \"2\"}",
	         p->ports ? p->ports : "[\"8080:80\"]", p->labels ? p->labels : "{\"x\": \"y\"}",
	         p->command ? p->command : "[\"a\", \"b\"]",
	         p->volumes ? p->volumes : "[\"/data:/data\"]",
	         p->hc ? p->hc : "{\"test\": [\"CMD\", \"true\"]}", p->extra ? p->extra : "");
	return strdup(buf);
}

static char *hash_of_parts(const svc_parts *p)
{
	char *json = svc_json(p);
	char *h = hash_of(json, p->name ? p->name : "web");

	free(json);
	return h;
}

static void test_spec_hash(void **state)
{
	/* Same meaning, different spelling: same hash. */
	static const char *const same[] = {
	        /* key order, labels as a list */
	        "{\"services\": {\"web\": {\"healthcheck\": {\"test\": [\"CMD\", \"true\"]}, "
	        "\"volumes\": [\"/data:/data\"], \"command\": [\"a\", \"b\"], \"labels\": "
	        "[\"x=y\"], "
	        "\"ports\": [\"8080:80\"], \"environment\": {\"B\": \"2\", \"A\": \"1\"}, "
	        "\"image\": "
	        "\"nginx@" DIGEST "\"}}}",
	        /* env as a list in another order, long port and volume syntax, defaults spelled
	           out, another service beside it, ignored extensions */
	        "{\"name\": \"x\", \"x-a\": 1, \"services\": {\"other\": {\"image\": \"busybox\"}, "
	        "\"web\": {\"x-b\": 2, \"image\": \"nginx@" DIGEST "\", \"environment\": [\"B=2\", "
	        "\"A=1\"], \"ports\": [{\"target\": 80, \"published\": \"8080\", \"protocol\": "
	        "\"tcp\", \"mode\": \"ingress\"}], \"labels\": {\"x\": \"y\"}, \"command\": \"a "
	        "b\", "
	        "\"volumes\": [{\"type\": \"bind\", \"source\": \"/data\", \"target\": \"/data\", "
	        "\"read_only\": false, \"bind\": {\"create_host_path\": true}}], \"healthcheck\": "
	        "{\"test\": [\"CMD\", \"true\"], "
	        "\"interval\": \"30s\", \"timeout\": \"30s\", \"retries\": 3, \"start_period\": "
	        "\"0s\"}, \"networks\": {\"default\": null}, \"entrypoint\": null}}}",
	};
	/* Any semantic change: a different hash. */
	static const svc_parts changed[] = {
	        {.image = "nginx:1.25"},
	        {.image = "nginx:1.25@" DIGEST},
	        {.name = "web2"},
	        {.env = "{\"A\": \"1\", \"B\": \"3\"}"},
	        {.env = "{\"A\": \"1\"}"},
	        {.env = "{\"A\": \"1\", \"B\": \"2\", \"C\": \"\"}"},
	        {.ports = "[\"8081:80\"]"},
	        {.ports = "[\"8080:81\"]"},
	        {.ports = "[\"8080:80/udp\"]"},
	        {.ports = "[\"127.0.0.1:8080:80\"]"},
	        {.ports = "[\"80\"]"},
	        {.volumes = "[\"/data:/data:ro\"]"},
	        {.volumes = "[\"/data:/srv\"]"},
	        {.volumes = "[{\"type\": \"tmpfs\", \"target\": \"/data\"}]"},
	        {.command = "[\"a b\"]"},
	        {.command = "[\"b\", \"a\"]"},
	        {.command = "[\"ab\"]"},
	        {.labels = "{\"x\": \"z\"}"},
	        {.hc = "{\"test\": [\"CMD\", \"true\"], \"retries\": 4}"},
	        {.hc = "{\"test\": [\"CMD\", \"true\"], \"interval\": \"31s\"}"},
	        {.hc = "{\"test\": [\"CMD-SHELL\", \"true\"]}"},
	        {.hc = "{\"test\": [\"NONE\"]}"},
	        {.extra = ", \"mem_limit\": \"1g\""},
	        {.extra = ", \"read_only\": true"},
	        {.extra = ", \"privileged\": true"},
	        {.extra = ", \"user\": \"1000\""},
	        {.extra = ", \"working_dir\": \"/app\""},
	        {.extra = ", \"restart\": \"always\""},
	        {.extra = ", \"cap_add\": [\"NET_ADMIN\"]"},
	        {.extra = ", \"cap_drop\": [\"ALL\"]"},
	        {.extra = ", \"devices\": [\"/dev/null\"]"},
	        {.extra = ", \"network_mode\": \"host\""},
	        {.extra = ", \"pid\": \"host\""},
	        {.extra = ", \"ipc\": \"host\""},
	        {.extra = ", \"entrypoint\": [\"a\"]"},
	        {.extra = ", \"x-edgeflip\": {\"strategy\": \"recreate\"}"},
	        {.extra = ", \"x-edgeflip\": {\"health\": {\"tcp\": {}}}"},
	        {.extra = ", \"x-edgeflip\": {\"health\": {\"http\": {}}}"},
	        {.extra = ", \"x-edgeflip\": {\"health\": {\"http\": {\"path\": \"/h\"}}}"},
	};
	svc_parts base_parts = {0};
	char *base = hash_of_parts(&base_parts);
	char *seen[sizeof(changed) / sizeof(changed[0])];

	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		char *h = hash_of(same[i], "web");
		if (strcmp(h, base) != 0)
			fail_msg("same[%zu] hashes differently", i);
		free(h);
	}
	for (size_t i = 0; i < sizeof(changed) / sizeof(changed[0]); i++) {
		seen[i] = hash_of_parts(&changed[i]);
		if (strcmp(seen[i], base) == 0)
			fail_msg("changed[%zu] hashes like the base", i);
		for (size_t k = 0; k < i; k++)
			if (strcmp(seen[i], seen[k]) == 0)
				fail_msg("changed[%zu] and [%zu] hash alike", i, k);
	}
	for (size_t i = 0; i < sizeof(changed) / sizeof(changed[0]); i++)
		free(seen[i]);
	/* Pinned value: the serialization is a contract (docs/manifest.md); changing it
	 * redeploys every service on every device. */
	assert_string_equal(base,
	                    "475fb189f5e98d552ee002b66ed3e842dc398ddc407534345957417f7c11046f");
	free(base);
}

/* ---------------------------------------------------------------------------
 * Image references. */

static void test_image_ref_split(void **state)
{
	static const struct {
		const char *ref;
		const char *registry, *repo, *tag, *digest;
	} good[] = {
	        {"nginx", "docker.io", "nginx", NULL, NULL},
	        {"nginx:1.25", "docker.io", "nginx", "1.25", NULL},
	        {"library/nginx:latest", "docker.io", "library/nginx", "latest", NULL},
	        {"nginx@" DIGEST, "docker.io", "nginx", NULL, DIGEST},
	        {"reg:5000/a/b:tag@" DIGEST, "reg:5000", "a/b", "tag", DIGEST},
	        {"registry.example.com/team/app", "registry.example.com", "team/app", NULL, NULL},
	        {"localhost/app:dev", "localhost", "app", "dev", NULL},
	        {"localhost:5000/app", "localhost:5000", "app", NULL, NULL},
	        {"127.0.0.1:5000/x/y/z:1_2-3.4", "127.0.0.1:5000", "x/y/z", "1_2-3.4", NULL},
	        {"[::1]:5000/app", "[::1]:5000", "app", NULL, NULL},
	        {"Registry/app", "Registry", "app", NULL, NULL},
	        {"team/app:v1", "docker.io", "team/app", "v1", NULL},
	        {"a.b-c/d__e/f_g", "a.b-c", "d__e/f_g", NULL, NULL},
	};
	static const struct {
		const char *ref, *msg;
	} bad[] = {
	        {"", "the image reference is empty"},
	        {"nginx:",
	         "'nginx:' is not a valid image reference: the tag must be 1-128 letters, "
	         "digits, '_', '.' or '-'"},
	        {"nginx@sha256:" DIGEST,
	         "'nginx@sha256:" DIGEST "' is not a valid image reference: "
	         "the digest must be sha256: and 64 lowercase hex digits"},
	        {"nginx@md5:0123456789abcdef0123456789abcdef",
	         "'nginx@md5:0123456789abcdef0123456789abcdef' is not a valid image reference: the "
	         "digest must be sha256: and 64 lowercase hex digits"},
	        {"/nginx",
	         "'/nginx' is not a valid image reference: the repository must be lowercase "
	         "letters, digits and '/', '.', '_', '-' between them"},
	        {"a//b", "'a//b' is not a valid image reference: the repository must be lowercase "
	                 "letters, digits and '/', '.', '_', '-' between them"},
	        {"reg:99999/a",
	         "'reg:99999/a' is not a valid image reference: the registry must be "
	         "host[:port]"},
	        {"-reg.io/a", "'-reg.io/a' is not a valid image reference: the registry must be "
	                      "host[:port]"},
	        {"a.b_c/f", "'a.b_c/f' is not a valid image reference: the registry must be "
	                    "host[:port]"},
	        {"app-", "'app-' is not a valid image reference: the repository must be lowercase "
	                 "letters, digits and '/', '.', '_', '-' between them"},
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char *reg, *repo, *tag, *dig;
		if (ef_image_ref_split(good[i].ref, &reg, &repo, &tag, &dig) != 0)
			fail_msg("%s: %s", good[i].ref, ef_error_last());
		assert_string_equal(reg, good[i].registry);
		assert_string_equal(repo, good[i].repo);
		if (good[i].tag)
			assert_string_equal(tag, good[i].tag);
		else
			assert_null(tag);
		if (good[i].digest)
			assert_string_equal(dig, good[i].digest);
		else
			assert_null(dig);
		free(reg);
		free(repo);
		free(tag);
		free(dig);
		/* every out pointer may be NULL */
		assert_int_equal(ef_image_ref_split(good[i].ref, NULL, NULL, NULL, NULL), 0);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *reg = (char *)1, *repo = (char *)1, *tag = (char *)1, *dig = (char *)1;
		assert_int_equal(ef_image_ref_split(bad[i].ref, &reg, &repo, &tag, &dig),
		                 EF_EINVALID);
		assert_string_equal(ef_error_last(), bad[i].msg);
		assert_null(reg);
		assert_null(repo);
		assert_null(tag);
		assert_null(dig);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_bad_inputs),
	        cmocka_unit_test(test_name_defaults),
	        cmocka_unit_test(test_length_bounded),
	        cmocka_unit_test(test_caps),
	        cmocka_unit_test(test_compose_config_output),
	        cmocka_unit_test(test_short_ports),
	        cmocka_unit_test(test_volumes_forms),
	        cmocka_unit_test(test_command_split),
	        cmocka_unit_test(test_environment_forms),
	        cmocka_unit_test(test_healthcheck_forms),
	        cmocka_unit_test(test_x_edgeflip),
	        cmocka_unit_test(test_x_edgeflip_ports),
	        cmocka_unit_test(test_misc_fields),
	        cmocka_unit_test(test_sorted_services),
	        cmocka_unit_test(test_spec_hash),
	        cmocka_unit_test(test_image_ref_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
