/* Reply parsing and request bodies of the docker-api engine backend, with
 * replies recorded from Podman 4.3 (tests/unit/data/engine/) and hostile ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../port/engine/docker_json.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DATA EF_TEST_DATA "/engine/"

#define WEB_ID "80d78c4b0229eea363f012e5f284c943b569b642060ded6fcab7c4fa07aa800a"
#define DB_ID  "1e69dbc5e65482482738c7c6b552d124c63c68fbcc9995c2a725d8766c4d2976"
#define IMAGE                                                                                      \
	"127.0.0.1:59971/"                                                                         \
	"test@sha256:9eb79239121ed69eae67b62e2fc9b5a4944ac8c8a34d2f8fd7f1b4d941a40b15"

static void load(ef_buf *b, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s%s", DATA, name);
	assert_int_equal(ef_read_file(b, path, 1 << 20), 0);
}

/* --- recorded replies ----------------------------------------------------- */

static void test_list_recorded(void **state)
{
	ef_container_list l;
	ef_buf b;

	load(&b, "list.json");
	assert_int_equal(ef_docker_parse_list(&l, b.ptr, b.len), 0);
	assert_int_equal(l.count, 2);
	assert_string_equal(l.items[0].id, DB_ID);
	assert_string_equal(l.items[0].name, "edgeflip-db-green");
	assert_string_equal(l.items[0].service, "db");
	assert_string_equal(l.items[0].slot, "green");
	assert_null(l.items[0].revision);
	assert_null(l.items[0].spec);
	assert_int_equal(l.items[0].state, EF_CSTATE_CREATED);
	assert_string_equal(l.items[0].image, IMAGE);

	assert_string_equal(l.items[1].id, WEB_ID);
	assert_string_equal(l.items[1].name, "edgeflip-web-blue");
	assert_string_equal(l.items[1].service, "web");
	assert_string_equal(l.items[1].slot, "blue");
	assert_string_equal(l.items[1].revision, "0123456789abcdef0123456789abcdef01234567");
	assert_string_equal(l.items[1].spec, "aa11");
	assert_int_equal(l.items[1].state, EF_CSTATE_RUNNING);
	ef_container_list_dispose(&l);
	assert_null(l.items);
	ef_buf_dispose(&b);
}

static void test_inspect_running(void **state)
{
	ef_container c;
	ef_buf b;

	load(&b, "inspect_running.json");
	assert_int_equal(ef_docker_parse_inspect(&c, b.ptr, b.len), 0);
	assert_string_equal(c.id, WEB_ID);
	assert_string_equal(c.name, "edgeflip-web-blue");
	assert_string_equal(c.image, IMAGE);
	assert_int_equal(c.state, EF_CSTATE_RUNNING);
	assert_int_equal(c.exit_code, 0);
	assert_int_equal(c.restart_count, 0);
	assert_null(c.health); /* Podman says "" without a healthcheck */
	assert_string_equal(c.ip_address, "10.88.0.3");
	assert_string_equal(c.service, "web");
	assert_string_equal(c.slot, "blue");
	assert_string_equal(c.revision, "0123456789abcdef0123456789abcdef01234567");
	assert_string_equal(c.spec, "aa11");
	assert_int_equal(c.nports, 1);
	assert_int_equal(c.ports[0].container_port, 8080);
	assert_int_equal(c.ports[0].host_port, 18081);
	assert_string_equal(c.ports[0].host_ip, "127.0.0.1");
	assert_string_equal(c.ports[0].protocol, "tcp");
	ef_container_dispose(&c);
	ef_buf_dispose(&b);
}

static void test_inspect_created_and_exited(void **state)
{
	ef_container c;
	ef_buf b;

	load(&b, "inspect_created.json");
	assert_int_equal(ef_docker_parse_inspect(&c, b.ptr, b.len), 0);
	assert_string_equal(c.id, DB_ID);
	assert_int_equal(c.state, EF_CSTATE_CREATED);
	assert_null(c.ip_address);
	assert_int_equal(c.nports, 0);
	assert_null(c.revision);
	ef_container_dispose(&c);
	ef_buf_dispose(&b);

	load(&b, "inspect_exited.json");
	assert_int_equal(ef_docker_parse_inspect(&c, b.ptr, b.len), 0);
	assert_int_equal(c.state, EF_CSTATE_EXITED);
	assert_int_equal(c.exit_code, 7);
	assert_string_equal(c.service, "job");
	ef_container_dispose(&c);
	ef_buf_dispose(&b);
}

static void test_exec_inspect_recorded(void **state)
{
	int code = 0;
	bool running = true;
	ef_buf b;

	load(&b, "exec_inspect.json");
	assert_int_equal(ef_docker_parse_exec_inspect(&code, &running, b.ptr, b.len), 0);
	assert_int_equal(code, 3);
	assert_false(running);
	ef_buf_dispose(&b);
	assert_int_equal(ef_docker_parse_exec_inspect(&code, &running, "{\"Running\":true}", 16),
	                 EF_EINVALID);
	assert_string_equal(ef_error_last(), "exec inspect reply has no ExitCode");
}

static void test_error_message(void **state)
{
	char msg[128];
	ef_buf b;

	load(&b, "error_500.json");
	ef_docker_error_message(msg, sizeof(msg), b.ptr, b.len);
	assert_string_equal(
	        msg, "container create: creating container storage: the container "
	             "name \"dup\" is already in use by 4655b72b8a36704405aaa0b19010de4db16");
	ef_buf_dispose(&b);

	ef_docker_error_message(msg, sizeof(msg), "page not\r\nfound\n", 16);
	assert_string_equal(msg, "page not  found");
	ef_docker_error_message(msg, sizeof(msg), "{\"message\":7}", 13);
	assert_string_equal(msg, "{\"message\":7}");
	ef_docker_error_message(msg, sizeof(msg), NULL, 0);
	assert_string_equal(msg, "");
}

/* Feeds the stream in pieces of every size: the parser must not care. */
static void test_pull_stream_chunks(void **state)
{
	ef_buf b;

	load(&b, "pull_ok.jsonl");
	for (size_t step = 1; step <= b.len; step++) {
		ef_docker_pull p;
		ef_docker_pull_init(&p, 4096);
		for (size_t off = 0; off < b.len; off += step) {
			size_t n = b.len - off < step ? b.len - off : step;
			assert_int_equal(ef_docker_pull_feed(&p, b.ptr + off, n), 0);
		}
		assert_int_equal(ef_docker_pull_finish(&p), 0);
		assert_int_equal(p.objects, 4);
		assert_int_equal(p.layers_done, 3);
		assert_null(p.error);
		assert_string_equal(p.status, "Download complete");
		assert_string_equal(p.id, "a395fa3caff4");
		ef_docker_pull_dispose(&p);
	}
	ef_buf_dispose(&b);
}

static void test_pull_stream_error(void **state)
{
	ef_docker_pull p;
	ef_buf b;

	load(&b, "pull_error.jsonl");
	ef_docker_pull_init(&p, 4096);
	assert_int_equal(ef_docker_pull_feed(&p, b.ptr, b.len), 0);
	assert_int_equal(ef_docker_pull_finish(&p), 0);
	assert_non_null(p.error);
	assert_string_equal(p.error, "initializing source docker://127.0.0.1:59971/nope:1: reading "
	                             "manifest 1 in 127.0.0.1:59971/nope: manifest unknown: "
	                             "manifest unknown");
	ef_docker_pull_dispose(&p);
	ef_buf_dispose(&b);
}

static const struct {
	const char *stream;
	int feed, finish; /* expected results */
	const char *error;
	const char *message;
} pull_cases[] = {
        /* Docker: \r\n separators, final status lines. */
        {"{\"status\":\"Pulling from a/b\",\"id\":\"1\"}\r\n{\"status\":\"Digest: "
         "sha256:00\"}\r\n{\"status\":\"Status: Downloaded newer image\"}\r\n",
         0, 0, NULL, NULL},
        /* errorDetail only */
        {"{\"errorDetail\":{\"message\":\"denied\"}}\n", 0, 0, "denied", NULL},
        /* the first error wins, control characters are blanked */
        {"{\"error\":\"a\\u0007b\"}\n{\"error\":\"second\"}\n", 0, 0, "a b", NULL},
        /* no newline at the end: finish parses it */
        {"{\"error\":\"late\"}", 0, 0, "late", NULL},
        {"\n\n   \r\n", 0, 0, NULL, NULL},
        {"not json\n", EF_EINVALID, 0, NULL, "pull progress line 1 is not a JSON object"},
        {"[1,2]\n", EF_EINVALID, 0, NULL, "pull progress line 1 is not a JSON object"},
        {"{\"status\":1}\n{\"x\":", 0, EF_EINVALID, NULL,
         "pull progress line 2 is not a JSON object"},
        {"{\"status\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}\n",
         EF_ETOOBIG, 0, NULL, "a pull progress line exceeds the limit of 64 bytes"},
        {"{\"progressDetail\":{\"current\":-5,\"total\":1e300}}\n", 0, 0, NULL, NULL},
};

static void test_pull_stream_table(void **state)
{
	for (size_t i = 0; i < sizeof(pull_cases) / sizeof(pull_cases[0]); i++) {
		ef_docker_pull p;
		int error;

		ef_docker_pull_init(&p, 64);
		ef_error_clear();
		error = ef_docker_pull_feed(&p, pull_cases[i].stream, strlen(pull_cases[i].stream));
		assert_int_equal(error, pull_cases[i].feed);
		if (error == 0)
			assert_int_equal(ef_docker_pull_finish(&p), pull_cases[i].finish);
		if (pull_cases[i].error)
			assert_string_equal(p.error, pull_cases[i].error);
		else
			assert_null(p.error);
		if (pull_cases[i].message)
			assert_string_equal(ef_error_last(), pull_cases[i].message);
		assert_int_equal(p.current, 0);
		assert_int_equal(p.total, 0);
		ef_docker_pull_dispose(&p);
	}
}

/* --- hostile replies ------------------------------------------------------- */

static const struct {
	const char *json;
	int result;
} inspect_cases[] = {
        {"", EF_EINVALID},
        {"null", EF_EINVALID},
        {"[]", EF_EINVALID},
        {"{}", EF_EINVALID},
        {"{\"Id\":5}", EF_EINVALID},
        {"{\"Id\":\"\"}", EF_EINVALID},
        {"{\"Id\":\"ABCDEF\"}", EF_EINVALID},
        {"{\"Id\":\"../../etc\"}", EF_EINVALID},
        {"{\"Id\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0\"}",
         EF_EINVALID},
        {"{\"Id\":\"abc\",\"State\":[],\"Config\":\"x\",\"NetworkSettings\":7,\"Name\":{}}", 0},
        {"{\"Id\":\"abc\",\"State\":{\"Status\":7,\"ExitCode\":1e300,\"Health\":[]},"
         "\"RestartCount\":-1}",
         0},
        {"{\"Id\":\"abc\",\"Config\":{\"Labels\":[\"io.edgeflip.service\"]}}", 0},
        {"{\"Id\":\"abc\",\"NetworkSettings\":{\"Ports\":[1,2]}}", 0},
        {"{\"Id\":\"abc\",\"NetworkSettings\":{\"Networks\":{\"a\":{\"IPAddress\":5}}}}", 0},
};

static void test_inspect_hostile(void **state)
{
	for (size_t i = 0; i < sizeof(inspect_cases) / sizeof(inspect_cases[0]); i++) {
		ef_container c;
		const char *j = inspect_cases[i].json;
		assert_int_equal(ef_docker_parse_inspect(&c, j, strlen(j)),
		                 inspect_cases[i].result);
		if (inspect_cases[i].result == 0) {
			assert_string_equal(c.id, "abc");
			assert_int_equal(c.state, EF_CSTATE_UNKNOWN);
			assert_int_equal(c.exit_code, 0);
			assert_int_equal(c.restart_count, 0);
			assert_null(c.name);
			assert_null(c.service);
			assert_null(c.ip_address);
			assert_null(c.health);
			assert_int_equal(c.nports, 0);
		} else {
			assert_string_equal(ef_error_last(),
			                    "container inspect reply has no valid Id");
		}
		ef_container_dispose(&c);
	}
}

static void test_inspect_ports(void **state)
{
	const char *j =
	        "{\"Id\":\"ab\",\"NetworkSettings\":{\"IPAddress\":\"\",\"Networks\":{\"n1\":{"
	        "\"IPAddress\":\"\"},\"n2\":{\"IPAddress\":\"10.0.0.9\"}},\"Ports\":{"
	        "\"80/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"8000\"},{\"HostIp\":\"\","
	        "\"HostPort\":8001}],"
	        "\"81/tcp\":null,"
	        "\"53/udp\":[{\"HostIp\":\"::\",\"HostPort\":\"5353\"}],"
	        "\"82/sctp\":[{\"HostPort\":\"1\"}],"
	        "\"x/tcp\":[{\"HostPort\":\"2\"}],"
	        "\"83\":[{\"HostPort\":\"99999\"},{\"HostPort\":\"12a\"},{\"HostPort\":\"\"},{},7,"
	        "{\"HostPort\":\"3\"}]}}}";
	ef_container c;

	assert_int_equal(ef_docker_parse_inspect(&c, j, strlen(j)), 0);
	assert_string_equal(c.ip_address, "10.0.0.9");
	assert_int_equal(c.nports, 4);
	assert_int_equal(c.ports[0].container_port, 80);
	assert_int_equal(c.ports[0].host_port, 8000);
	assert_string_equal(c.ports[0].host_ip, "0.0.0.0");
	assert_int_equal(c.ports[1].host_port, 8001);
	assert_null(c.ports[1].host_ip);
	assert_int_equal(c.ports[2].container_port, 53);
	assert_string_equal(c.ports[2].protocol, "udp");
	assert_int_equal(c.ports[2].host_port, 5353);
	assert_int_equal(c.ports[3].container_port, 83);
	assert_string_equal(c.ports[3].protocol, "tcp");
	assert_int_equal(c.ports[3].host_port, 3);
	ef_container_dispose(&c);
}

static void test_list_hostile(void **state)
{
	static const struct {
		const char *json;
		int result;
		size_t count;
	} cases[] = {
	        {"{}", EF_EINVALID, 0},
	        {"", EF_EINVALID, 0},
	        {"[]", 0, 0},
	        {"[1,\"x\",null,{},{\"Id\":7},{\"Id\":\"XYZ\"}]", 0, 0},
	        {"[{\"Id\":\"aa\",\"Names\":\"x\",\"Labels\":7,\"State\":{}},{\"Id\":\"bb\","
	         "\"Names\":[3]}]",
	         0, 2},
	        {"[{\"Id\":\"aa\",\"Names\":[\"/\"],\"Labels\":{\"io.edgeflip.service\":\"\"}}]", 0,
	         1},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ef_container_list l;
		const char *j = cases[i].json;
		assert_int_equal(ef_docker_parse_list(&l, j, strlen(j)), cases[i].result);
		assert_int_equal(l.count, cases[i].count);
		for (size_t k = 0; k < l.count; k++) {
			assert_null(l.items[k].name);
			assert_null(l.items[k].service);
			assert_int_equal(l.items[k].state, EF_CSTATE_UNKNOWN);
		}
		ef_container_list_dispose(&l);
	}
	assert_int_equal(ef_docker_parse_list(&(ef_container_list){0}, "{}", 2), EF_EINVALID);
	assert_string_equal(ef_error_last(), "container list reply is not a JSON array");
}

static void test_parse_id(void **state)
{
	char id[65];

	assert_int_equal(ef_docker_parse_id(id, "{\"Id\":\"" WEB_ID "\",\"Warnings\":[]}",
	                                    strlen("{\"Id\":\"" WEB_ID "\",\"Warnings\":[]}")),
	                 0);
	assert_string_equal(id, WEB_ID);
	assert_int_equal(ef_docker_parse_id(id, "{\"Id\":null}", 11), EF_EINVALID);
	assert_string_equal(id, "");
	assert_string_equal(ef_error_last(), "engine reply has no valid Id");
}

static void test_states(void **state)
{
	static const struct {
		const char *name;
		ef_cstate state;
	} cases[] = {
	        {"created", EF_CSTATE_CREATED},  {"configured", EF_CSTATE_CREATED},
	        {"running", EF_CSTATE_RUNNING},  {"restarting", EF_CSTATE_RESTARTING},
	        {"paused", EF_CSTATE_PAUSED},    {"exited", EF_CSTATE_EXITED},
	        {"stopped", EF_CSTATE_EXITED},   {"dead", EF_CSTATE_DEAD},
	        {"Running", EF_CSTATE_UNKNOWN},  {"", EF_CSTATE_UNKNOWN},
	        {"removing", EF_CSTATE_UNKNOWN}, {NULL, EF_CSTATE_UNKNOWN},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(ef_docker_state_parse(cases[i].name), cases[i].state);
}

static void test_url_encode(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	        {"abc-._~XYZ09", "abc-._~XYZ09"},
	        {"127.0.0.1:5000/a/b@sha256:ff", "127.0.0.1%3A5000%2Fa%2Fb%40sha256%3Aff"},
	        {"{\"label\":[\"x\"]}", "%7B%22label%22%3A%5B%22x%22%5D%7D"},
	        {"a b&c=d?e#f\xc3\xa9", "a%20b%26c%3Dd%3Fe%23f%C3%A9"},
	        {"", ""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ef_buf b = EF_BUF_INIT(1024);
		assert_int_equal(ef_docker_url_encode(&b, cases[i].in), 0);
		assert_string_equal(b.ptr, cases[i].out);
		ef_buf_dispose(&b);
	}
}

/* --- request bodies ------------------------------------------------------- */

static cJSON *path(cJSON *root, const char *a, const char *b, const char *c)
{
	cJSON *x = cJSON_GetObjectItemCaseSensitive(root, a);
	if (b)
		x = cJSON_GetObjectItemCaseSensitive(x, b);
	if (c)
		x = cJSON_GetObjectItemCaseSensitive(x, c);
	return x;
}

static void assert_strv(cJSON *arr, const char *const *want)
{
	size_t n = 0;

	assert_true(cJSON_IsArray(arr));
	for (; want[n]; n++)
		assert_string_equal(cJSON_GetArrayItem(arr, (int)n)->valuestring, want[n]);
	assert_int_equal(cJSON_GetArraySize(arr), n);
}

static void test_create_body_full(void **state)
{
	char *cmd[] = {"httpd", "-f", NULL}, *ep[] = {"/bin/busybox", NULL},
	     *env[] = {"A=1", "B=x=y", NULL},
	     *labels[] = {"app=demo", "io.edgeflip.slot=evil", "flag", NULL},
	     *caps[] = {"NET_ADMIN", NULL}, *drop[] = {"ALL", NULL},
	     *devs[] = {"/dev/ttyS0", "/dev/ttyUSB0:/dev/modem", "/dev/i2c-1:/dev/i2c:r", NULL};
	ef_port ports[] = {{"127.0.0.1", 8080, 80, "tcp"},
	                   {NULL, 0, 9000, "tcp"},
	                   {NULL, 5353, 53, "udp"},
	                   {"127.0.0.1", 8081, 80, "tcp"}};
	ef_mount vols[] = {
	        {.type = EF_MOUNT_BIND,
	         .source = "/srv/data",
	         .target = "/data",
	         .read_only = true},
	        {.type = EF_MOUNT_VOLUME,
	         .source = "cache",
	         .target = "/cache",
	         .read_only = false},
	        {.type = EF_MOUNT_TMPFS, .source = NULL, .target = "/tmp", .read_only = false},
	        {.type = EF_MOUNT_VOLUME, .source = NULL, .target = "/anon", .read_only = false}};
	ef_service svc = {.name = "web",
	                  .image = "reg/web@sha256:00",
	                  .command = cmd,
	                  .entrypoint = ep,
	                  .environment = env,
	                  .ports = ports,
	                  .nports = 4,
	                  .volumes = vols,
	                  .nvolumes = 4,
	                  .restart = "on-failure:5",
	                  .labels = labels,
	                  .user = "1000:1000",
	                  .working_dir = "/www",
	                  .mem_limit = 64 * 1024 * 1024,
	                  .privileged = true,
	                  .network_mode = "host",
	                  .pid = "host",
	                  .ipc = "private",
	                  .cap_add = caps,
	                  .cap_drop = drop,
	                  .devices = devs,
	                  .read_only = true,
	                  .health = {.kind = EF_PROBE_HTTP, .http_path = "/health"},
	                  .spec_hash = "feedbeef"};
	ef_create_req req = {.name = "edgeflip-web-blue",
	                     .service = &svc,
	                     .slot = "blue",
	                     .revision = "0123abcd",
	                     .previous = "4567cdef"};
	char *body;
	cJSON *j, *host, *b;

	assert_int_equal(ef_docker_create_body(&body, &req), 0);
	j = cJSON_Parse(body);
	assert_non_null(j);
	host = path(j, "HostConfig", NULL, NULL);
	assert_string_equal(path(j, "Image", NULL, NULL)->valuestring, "reg/web@sha256:00");
	assert_strv(path(j, "Cmd", NULL, NULL), (const char *[]){"httpd", "-f", NULL});
	assert_strv(path(j, "Entrypoint", NULL, NULL), (const char *[]){"/bin/busybox", NULL});
	assert_strv(path(j, "Env", NULL, NULL), (const char *[]){"A=1", "B=x=y", NULL});
	assert_string_equal(path(j, "User", NULL, NULL)->valuestring, "1000:1000");
	assert_string_equal(path(j, "WorkingDir", NULL, NULL)->valuestring, "/www");
	/* labels: the service's, then ours, which win */
	assert_string_equal(path(j, "Labels", "app", NULL)->valuestring, "demo");
	assert_string_equal(path(j, "Labels", "flag", NULL)->valuestring, "");
	assert_string_equal(path(j, "Labels", "io.edgeflip.service", NULL)->valuestring, "web");
	assert_string_equal(path(j, "Labels", "io.edgeflip.slot", NULL)->valuestring, "blue");
	assert_string_equal(path(j, "Labels", "io.edgeflip.revision", NULL)->valuestring,
	                    "0123abcd");
	assert_string_equal(path(j, "Labels", "io.edgeflip.spec", NULL)->valuestring, "feedbeef");
	assert_string_equal(path(j, "Labels", "io.edgeflip.previous", NULL)->valuestring,
	                    "4567cdef");
	assert_int_equal(cJSON_GetArraySize(path(j, "Labels", NULL, NULL)), 7);
	/* ports */
	assert_int_equal(cJSON_GetArraySize(path(j, "ExposedPorts", NULL, NULL)), 3);
	assert_non_null(path(j, "ExposedPorts", "9000/tcp", NULL));
	b = path(host, "PortBindings", "80/tcp", NULL);
	assert_int_equal(cJSON_GetArraySize(b), 2);
	assert_string_equal(path(cJSON_GetArrayItem(b, 0), "HostIp", NULL, NULL)->valuestring,
	                    "127.0.0.1");
	assert_string_equal(path(cJSON_GetArrayItem(b, 0), "HostPort", NULL, NULL)->valuestring,
	                    "8080");
	assert_string_equal(path(cJSON_GetArrayItem(b, 1), "HostPort", NULL, NULL)->valuestring,
	                    "8081");
	b = path(host, "PortBindings", "53/udp", NULL);
	assert_string_equal(path(cJSON_GetArrayItem(b, 0), "HostIp", NULL, NULL)->valuestring, "");
	assert_null(path(host, "PortBindings", "9000/tcp", NULL));
	/* the rest of HostConfig */
	assert_string_equal(path(host, "RestartPolicy", "Name", NULL)->valuestring, "on-failure");
	assert_int_equal(path(host, "RestartPolicy", "MaximumRetryCount", NULL)->valueint, 5);
	assert_strv(path(host, "Binds", NULL, NULL),
	            (const char *[]){"/srv/data:/data:ro", "cache:/cache", NULL});
	b = path(host, "Mounts", NULL, NULL);
	assert_int_equal(cJSON_GetArraySize(b), 2);
	assert_string_equal(path(cJSON_GetArrayItem(b, 0), "Type", NULL, NULL)->valuestring,
	                    "tmpfs");
	assert_string_equal(path(cJSON_GetArrayItem(b, 1), "Type", NULL, NULL)->valuestring,
	                    "volume");
	assert_string_equal(path(cJSON_GetArrayItem(b, 1), "Target", NULL, NULL)->valuestring,
	                    "/anon");
	b = path(host, "Devices", NULL, NULL);
	assert_int_equal(cJSON_GetArraySize(b), 3);
	assert_string_equal(
	        path(cJSON_GetArrayItem(b, 0), "PathInContainer", NULL, NULL)->valuestring,
	        "/dev/ttyS0");
	assert_string_equal(
	        path(cJSON_GetArrayItem(b, 0), "CgroupPermissions", NULL, NULL)->valuestring,
	        "rwm");
	assert_string_equal(
	        path(cJSON_GetArrayItem(b, 1), "PathInContainer", NULL, NULL)->valuestring,
	        "/dev/modem");
	assert_string_equal(
	        path(cJSON_GetArrayItem(b, 2), "CgroupPermissions", NULL, NULL)->valuestring, "r");
	assert_int_equal((int64_t)path(host, "Memory", NULL, NULL)->valuedouble, 64 * 1024 * 1024);
	assert_true(cJSON_IsTrue(path(host, "Privileged", NULL, NULL)));
	assert_true(cJSON_IsTrue(path(host, "ReadonlyRootfs", NULL, NULL)));
	assert_string_equal(path(host, "NetworkMode", NULL, NULL)->valuestring, "host");
	assert_string_equal(path(host, "PidMode", NULL, NULL)->valuestring, "host");
	assert_string_equal(path(host, "IpcMode", NULL, NULL)->valuestring, "private");
	assert_strv(path(host, "CapAdd", NULL, NULL), (const char *[]){"NET_ADMIN", NULL});
	assert_strv(path(host, "CapDrop", NULL, NULL), (const char *[]){"ALL", NULL});
	/* edgeflip probes health itself */
	assert_null(path(j, "Healthcheck", NULL, NULL));
	cJSON_Delete(j);
	free(body);
}

static void test_create_body_minimal_and_override(void **state)
{
	ef_port written[] = {{NULL, 80, 80, "tcp"}};
	ef_port green[] = {{"127.0.0.1", 20080, 80, ""}};
	ef_service svc = {
	        .name = "web", .image = "img", .ports = written, .nports = 1, .restart = "always"};
	ef_create_req req = {.name = "n", .service = &svc, .slot = "green", .revision = "r"};
	char *body;
	cJSON *j, *b;

	assert_int_equal(ef_docker_create_body(&body, &req), 0);
	j = cJSON_Parse(body);
	assert_null(path(j, "Cmd", NULL, NULL));
	assert_null(path(j, "Env", NULL, NULL));
	assert_null(path(j, "User", NULL, NULL));
	assert_null(path(j, "HostConfig", "Memory", NULL));
	assert_null(path(j, "HostConfig", "NetworkMode", NULL));
	assert_null(path(j, "HostConfig", "Binds", NULL));
	assert_string_equal(path(j, "HostConfig", "RestartPolicy", "Name")->valuestring, "always");
	b = cJSON_GetArrayItem(path(j, "HostConfig", "PortBindings", "80/tcp"), 0);
	assert_string_equal(path(b, "HostPort", NULL, NULL)->valuestring, "80");
	cJSON_Delete(j);
	free(body);

	/* blue/green: the request's ports replace the service's */
	req.ports = green;
	req.nports = 1;
	svc.restart = "no";
	assert_int_equal(ef_docker_create_body(&body, &req), 0);
	j = cJSON_Parse(body);
	b = cJSON_GetArrayItem(path(j, "HostConfig", "PortBindings", "80/tcp"), 0);
	assert_string_equal(path(b, "HostIp", NULL, NULL)->valuestring, "127.0.0.1");
	assert_string_equal(path(b, "HostPort", NULL, NULL)->valuestring, "20080");
	assert_int_equal(cJSON_GetArraySize(path(j, "HostConfig", "PortBindings", "80/tcp")), 1);
	assert_null(path(j, "HostConfig", "RestartPolicy", NULL));
	cJSON_Delete(j);
	free(body);
}

static void test_create_body_errors(void **state)
{
	static const struct {
		const char *restart;
		const char *device;
		ef_mount mount;
		const char *proto;
		const char *message;
	} cases[] = {
	        {"on-failure:x",
	         NULL,
	         {0},
	         NULL,
	         "service web: restart 'on-failure:x': the retry count must be a number"},
	        {"on-failure:",
	         NULL,
	         {0},
	         NULL,
	         "service web: restart 'on-failure:': the retry count must be a number"},
	        {"on-failure:-1",
	         NULL,
	         {0},
	         NULL,
	         "service web: restart 'on-failure:-1': the retry count must be a number"},
	        {"sometimes", NULL, {0}, NULL, "service web: unknown restart policy 'sometimes'"},
	        {NULL,
	         "ttyS0",
	         {0},
	         NULL,
	         "service web: device 'ttyS0' must be /dev/x[:/dev/y[:rwm]]"},
	        {NULL,
	         NULL,
	         {.type = EF_MOUNT_BIND, .source = NULL, .target = "/data", .read_only = false},
	         NULL,
	         "service web: bind mount to /data needs a source"},
	        {NULL,
	         NULL,
	         {.type = EF_MOUNT_VOLUME, .source = "v", .target = "data", .read_only = false},
	         NULL,
	         "service web: volume 0 needs an absolute target path"},
	        {NULL, NULL, {0}, "sct", "service web: port 80/sct cannot be published"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *devs[] = {(char *)cases[i].device, NULL};
		ef_mount m = cases[i].mount;
		ef_port p = {NULL, 80, 80, "tcp"};
		ef_service svc = {
		        .name = "web", .image = "img", .restart = (char *)cases[i].restart};
		ef_create_req req = {.name = "n", .service = &svc, .slot = "blue", .revision = "r"};
		char *body = (char *)"sentinel";

		if (cases[i].device)
			svc.devices = devs;
		if (m.target) {
			svc.volumes = &m;
			svc.nvolumes = 1;
		}
		if (cases[i].proto) {
			memcpy(p.protocol, cases[i].proto, 4);
			svc.ports = &p;
			svc.nports = 1;
		}
		assert_int_equal(ef_docker_create_body(&body, &req), EF_EINVALID);
		assert_null(body);
		assert_string_equal(ef_error_last(), cases[i].message);
	}
}

static void test_exec_body(void **state)
{
	char *argv[] = {"sh", "-c", "exit 3", NULL}, *body;
	char *empty[] = {NULL};

	assert_int_equal(ef_docker_exec_body(&body, argv), 0);
	assert_string_equal(body, "{\"Cmd\":[\"sh\",\"-c\",\"exit "
	                          "3\"],\"AttachStdout\":true,\"AttachStderr\":true}");
	free(body);
	assert_int_equal(ef_docker_exec_body(&body, empty), EF_EINVALID);
	assert_string_equal(ef_error_last(), "exec needs a command");
}

/* The backend table and the generic open. */
static void test_engine_open(void **state)
{
	ef_engine *e = (ef_engine *)1;

	assert_string_equal(ef_engine_backends[0]->name, "docker-api");
	assert_null(ef_engine_backends[1]);
	assert_int_equal(ef_engine_open(&e, "docker", "unix:///x", NULL), EF_EINVALID);
	assert_null(e);
	assert_string_equal(ef_error_last(),
	                    "unknown container engine backend 'docker' (built in: docker-api)");
	assert_int_equal(ef_engine_open(&e, "docker-api", "tcp://1.2.3.4:2375", NULL), EF_EINVALID);
	assert_string_equal(ef_error_last(),
	                    "engine endpoint 'tcp://1.2.3.4:2375' is not supported: use "
	                    "unix:///path/to/socket, e.g. unix:///run/podman/podman.sock");
	assert_int_equal(ef_engine_open(&e, "docker-api", "unix://relative.sock", NULL),
	                 EF_EINVALID);
	assert_int_equal(ef_engine_open(&e, "docker-api", "", NULL), EF_EINVALID);
	assert_int_equal(
	        ef_engine_open(&e, "docker-api", "unix:///nonexistent/edgeflip.sock", NULL), 0);
	assert_int_equal(e->ops->ping(e), EF_EUNREACHABLE);
	assert_string_equal(ef_error_last(),
	                    "container engine unreachable at unix:///nonexistent/edgeflip.sock: no "
	                    "socket at /nonexistent/edgeflip.sock; is the engine running? Start it "
	                    "(e.g. systemctl start podman.socket) or fix [engine] endpoint");
	ef_engine_close(e);
	ef_engine_close(NULL);
	ef_container_dispose(NULL);
	ef_container_list_dispose(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_list_recorded),
	        cmocka_unit_test(test_inspect_running),
	        cmocka_unit_test(test_inspect_created_and_exited),
	        cmocka_unit_test(test_exec_inspect_recorded),
	        cmocka_unit_test(test_error_message),
	        cmocka_unit_test(test_pull_stream_chunks),
	        cmocka_unit_test(test_pull_stream_error),
	        cmocka_unit_test(test_pull_stream_table),
	        cmocka_unit_test(test_inspect_hostile),
	        cmocka_unit_test(test_inspect_ports),
	        cmocka_unit_test(test_list_hostile),
	        cmocka_unit_test(test_parse_id),
	        cmocka_unit_test(test_states),
	        cmocka_unit_test(test_url_encode),
	        cmocka_unit_test(test_create_body_full),
	        cmocka_unit_test(test_create_body_minimal_and_override),
	        cmocka_unit_test(test_create_body_errors),
	        cmocka_unit_test(test_exec_body),
	        cmocka_unit_test(test_engine_open),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
