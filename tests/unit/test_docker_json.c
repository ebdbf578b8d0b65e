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
	assert_int_equal(c.pid, 8622); /* State.Pid: what the daemon watches */
	assert_null(c.health);         /* Podman says "" without a healthcheck */
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
	assert_int_equal(c.pid, 0);
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

static void test_inspect_mounts(void **state)
{
	static const char j[] =
	        "{\"Id\":\"abc\",\"Mounts\":[{\"Type\":\"bind\",\"Source\":"
	        "\"/run/edgeflip/secrets/h1/api\",\"Destination\":\"/run/secrets/api\"},"
	        "{\"Type\":\"volume\",\"Source\":\"/var/lib/v\"},{\"Type\":\"bind\"}]}";
	ef_container c;

	(void)state;
	assert_int_equal(ef_docker_parse_inspect(&c, j, strlen(j)), 0);
	assert_int_equal(ef_strv_len(c.mounts), 1); /* bind sources only */
	assert_string_equal(c.mounts[0], "/run/edgeflip/secrets/h1/api");
	ef_container_dispose(&c);
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
        /* Not a PID: negative, beyond pid_max, fractional, a string. */
        {"{\"Id\":\"abc\",\"State\":{\"Pid\":-5}}", 0},
        {"{\"Id\":\"abc\",\"State\":{\"Pid\":4194305}}", 0},
        {"{\"Id\":\"abc\",\"State\":{\"Pid\":1e300}}", 0},
        {"{\"Id\":\"abc\",\"State\":{\"Pid\":\"77\"}}", 0},
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
			assert_int_equal(c.pid, 0);
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
	     *cgrules[] = {"c 188:* rw", "b 8:0 r", NULL},
	     *sysctls[] = {"net.core.somaxconn=1024", NULL}, *hosts[] = {"gw.local:10.0.0.1", NULL},
	     *dns[] = {"10.0.0.53", NULL}, *search[] = {"lan", NULL}, *dopt[] = {"ndots:2", NULL},
	     *groups[] = {"dialout", NULL}, *secopt[] = {"no-new-privileges:true", NULL},
	     *logopt[] = {"max-size=10m", "max-file=3", NULL}, *alias_db[] = {"db", "mysql", NULL};
	ef_engine_port ports[] = {{"127.0.0.1", 8080, 80, "tcp"},
	                          {NULL, 0, 9000, "tcp"},
	                          {NULL, 5353, 53, "udp"},
	                          {"127.0.0.1", 8081, 80, "tcp"}};
	ef_engine_mount mounts[] = {
	        {.type = EF_ENGINE_MOUNT_BIND,
	         .source = "/srv/data:/etc:rw",
	         .target = "/data",
	         .read_only = true,
	         .propagation = "rslave"},
	        {.type = EF_ENGINE_MOUNT_VOLUME, .source = "cache", .target = "/cache"},
	        {.type = EF_ENGINE_MOUNT_TMPFS,
	         .target = "/tmp",
	         .tmpfs_size = 1 << 20,
	         .tmpfs_mode = 01777},
	        {.type = EF_ENGINE_MOUNT_VOLUME, .target = "/anon", .no_copy = true}};
	ef_engine_device devs[] = {{"/dev/ttyS0", "/dev/ttyS0", "rwm"},
	                           {"/dev/ttyUSB0", "/dev/modem", ""},
	                           {"/dev/i2c-1", "/dev/i2c", "r"}};
	ef_engine_ulimit ulimits[] = {{"nofile", 1024, 2048}};
	ef_engine_endpoint nets[] = {{"edgeflip_backend", alias_db, "172.30.0.9", NULL},
	                             {"edgeflip_front", NULL, NULL, NULL}};
	ef_container_spec spec = {.image = "reg/web@sha256:00",
	                          .cmd = cmd,
	                          .entrypoint = ep,
	                          .env = env,
	                          .labels = labels,
	                          .user = "1000:1000",
	                          .working_dir = "/www",
	                          .hostname = "web1",
	                          .domainname = "lan",
	                          .tty = true,
	                          .stdin_open = true,
	                          .stop_signal = "SIGINT",
	                          .stop_grace_s = 20,
	                          .ports = ports,
	                          .nports = 4,
	                          .mounts = mounts,
	                          .nmounts = 4,
	                          .networks = nets,
	                          .nnetworks = 2,
	                          .pid = "host",
	                          .ipc = "private",
	                          .restart = EF_RESTART_ON_FAILURE,
	                          .restart_max = 5,
	                          .nano_cpus = 1500000000,
	                          .memory = 64 * 1024 * 1024,
	                          .memory_reservation = 32 * 1024 * 1024,
	                          .memory_swap = -1,
	                          .pids_limit = 100,
	                          .cpuset = "0-1",
	                          .cpu_shares = 512,
	                          .shm_size = 1 << 26,
	                          .ulimits = ulimits,
	                          .nulimits = 1,
	                          .sysctls = sysctls,
	                          .extra_hosts = hosts,
	                          .dns = dns,
	                          .dns_search = search,
	                          .dns_opt = dopt,
	                          .group_add = groups,
	                          .security_opt = secopt,
	                          .cap_add = caps,
	                          .cap_drop = drop,
	                          .devices = devs,
	                          .ndevices = 3,
	                          .device_cgroup_rules = cgrules,
	                          .privileged = true,
	                          .read_only = true,
	                          .init = 1,
	                          .log_driver = "json-file",
	                          .log_opts = logopt};
	ef_create_req req = {.name = "edgeflip-web-blue",
	                     .spec = &spec,
	                     .service = "web",
	                     .slot = "blue",
	                     .revision = "0123abcd",
	                     .spec_hash = "feedbeef",
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
	assert_string_equal(path(j, "Hostname", NULL, NULL)->valuestring, "web1");
	assert_string_equal(path(j, "Domainname", NULL, NULL)->valuestring, "lan");
	assert_string_equal(path(j, "StopSignal", NULL, NULL)->valuestring, "SIGINT");
	assert_int_equal(path(j, "StopTimeout", NULL, NULL)->valueint, 20);
	assert_true(cJSON_IsTrue(path(j, "Tty", NULL, NULL)));
	assert_true(cJSON_IsTrue(path(j, "OpenStdin", NULL, NULL)));
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
	/* mounts: structured, never a Binds string; an odd path stays one path */
	assert_null(path(host, "Binds", NULL, NULL));
	b = path(host, "Mounts", NULL, NULL);
	assert_int_equal(cJSON_GetArraySize(b), 4);
	assert_string_equal(path(cJSON_GetArrayItem(b, 0), "Type", NULL, NULL)->valuestring,
	                    "bind");
	assert_string_equal(path(cJSON_GetArrayItem(b, 0), "Source", NULL, NULL)->valuestring,
	                    "/srv/data:/etc:rw");
	assert_string_equal(path(cJSON_GetArrayItem(b, 0), "Target", NULL, NULL)->valuestring,
	                    "/data");
	assert_true(cJSON_IsTrue(path(cJSON_GetArrayItem(b, 0), "ReadOnly", NULL, NULL)));
	assert_string_equal(
	        path(cJSON_GetArrayItem(b, 0), "BindOptions", "Propagation", NULL)->valuestring,
	        "rslave");
	assert_string_equal(path(cJSON_GetArrayItem(b, 1), "Type", NULL, NULL)->valuestring,
	                    "volume");
	assert_string_equal(path(cJSON_GetArrayItem(b, 1), "Source", NULL, NULL)->valuestring,
	                    "cache");
	assert_true(cJSON_IsFalse(path(cJSON_GetArrayItem(b, 1), "ReadOnly", NULL, NULL)));
	assert_null(path(cJSON_GetArrayItem(b, 1), "VolumeOptions", NULL, NULL));
	assert_string_equal(path(cJSON_GetArrayItem(b, 2), "Type", NULL, NULL)->valuestring,
	                    "tmpfs");
	assert_null(path(cJSON_GetArrayItem(b, 2), "Source", NULL, NULL));
	assert_int_equal(
	        path(cJSON_GetArrayItem(b, 2), "TmpfsOptions", "SizeBytes", NULL)->valueint,
	        1 << 20);
	assert_int_equal(path(cJSON_GetArrayItem(b, 2), "TmpfsOptions", "Mode", NULL)->valueint,
	                 01777);
	assert_null(path(cJSON_GetArrayItem(b, 3), "Source", NULL, NULL));
	assert_true(cJSON_IsTrue(path(cJSON_GetArrayItem(b, 3), "VolumeOptions", "NoCopy", NULL)));
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
	        path(cJSON_GetArrayItem(b, 1), "CgroupPermissions", NULL, NULL)->valuestring,
	        "rwm");
	assert_string_equal(
	        path(cJSON_GetArrayItem(b, 2), "CgroupPermissions", NULL, NULL)->valuestring, "r");
	/* resources */
	assert_int_equal((int64_t)path(host, "NanoCpus", NULL, NULL)->valuedouble, 1500000000);
	assert_int_equal((int64_t)path(host, "Memory", NULL, NULL)->valuedouble, 64 * 1024 * 1024);
	assert_int_equal((int64_t)path(host, "MemoryReservation", NULL, NULL)->valuedouble,
	                 32 * 1024 * 1024);
	assert_int_equal(path(host, "PidsLimit", NULL, NULL)->valueint, 100);
	assert_int_equal(path(host, "MemorySwap", NULL, NULL)->valueint, -1);
	assert_string_equal(path(host, "CpusetCpus", NULL, NULL)->valuestring, "0-1");
	assert_int_equal(path(host, "CpuShares", NULL, NULL)->valueint, 512);
	assert_int_equal((int64_t)path(host, "ShmSize", NULL, NULL)->valuedouble, 1 << 26);
	b = cJSON_GetArrayItem(path(host, "Ulimits", NULL, NULL), 0);
	assert_string_equal(path(b, "Name", NULL, NULL)->valuestring, "nofile");
	assert_int_equal(path(b, "Soft", NULL, NULL)->valueint, 1024);
	assert_int_equal(path(b, "Hard", NULL, NULL)->valueint, 2048);
	assert_string_equal(path(host, "Sysctls", "net.core.somaxconn", NULL)->valuestring, "1024");
	assert_strv(path(host, "ExtraHosts", NULL, NULL),
	            (const char *[]){"gw.local:10.0.0.1", NULL});
	assert_strv(path(host, "Dns", NULL, NULL), (const char *[]){"10.0.0.53", NULL});
	assert_strv(path(host, "DnsSearch", NULL, NULL), (const char *[]){"lan", NULL});
	assert_strv(path(host, "DnsOptions", NULL, NULL), (const char *[]){"ndots:2", NULL});
	assert_strv(path(host, "GroupAdd", NULL, NULL), (const char *[]){"dialout", NULL});
	assert_strv(path(host, "SecurityOpt", NULL, NULL),
	            (const char *[]){"no-new-privileges:true", NULL});
	assert_true(cJSON_IsTrue(path(host, "Init", NULL, NULL)));
	assert_string_equal(path(host, "LogConfig", "Type", NULL)->valuestring, "json-file");
	assert_string_equal(path(host, "LogConfig", "Config", "max-size")->valuestring, "10m");
	assert_string_equal(path(host, "LogConfig", "Config", "max-file")->valuestring, "3");
	assert_true(cJSON_IsTrue(path(host, "Privileged", NULL, NULL)));
	assert_true(cJSON_IsTrue(path(host, "ReadonlyRootfs", NULL, NULL)));
	assert_string_equal(path(host, "PidMode", NULL, NULL)->valuestring, "host");
	assert_string_equal(path(host, "IpcMode", NULL, NULL)->valuestring, "private");
	assert_strv(path(host, "CapAdd", NULL, NULL), (const char *[]){"NET_ADMIN", NULL});
	assert_strv(path(host, "DeviceCgroupRules", NULL, NULL),
	            (const char *[]){"c 188:* rw", "b 8:0 r", NULL});
	assert_strv(path(host, "CapDrop", NULL, NULL), (const char *[]){"ALL", NULL});
	/* networks: the first is the network mode, each with its aliases */
	assert_string_equal(path(host, "NetworkMode", NULL, NULL)->valuestring, "edgeflip_backend");
	b = path(j, "NetworkingConfig", "EndpointsConfig", NULL);
	assert_int_equal(cJSON_GetArraySize(b), 2);
	assert_strv(path(b, "edgeflip_backend", "Aliases", NULL),
	            (const char *[]){"db", "mysql", NULL});
	assert_non_null(path(b, "edgeflip_front", NULL, NULL));
	assert_null(path(b, "edgeflip_front", "Aliases", NULL));
	assert_string_equal(path(b, "edgeflip_backend", "IPAMConfig", "IPv4Address")->valuestring,
	                    "172.30.0.9");
	assert_null(path(b, "edgeflip_backend", "IPAMConfig", "IPv6Address"));
	assert_null(path(b, "edgeflip_front", "IPAMConfig", NULL));
	/* edgeflip probes health itself */
	assert_null(path(j, "Healthcheck", NULL, NULL));
	cJSON_Delete(j);
	free(body);
}

static void test_create_body_minimal(void **state)
{
	ef_engine_port written[] = {{NULL, 80, 80, "tcp"}};
	ef_container_spec spec = {.image = "img",
	                          .ports = written,
	                          .nports = 1,
	                          .restart = EF_RESTART_ALWAYS,
	                          .stop_grace_s = -1,
	                          .init = -1};
	ef_create_req req = {
	        .name = "n", .spec = &spec, .service = "web", .slot = "green", .revision = "r"};
	char *body;
	cJSON *j, *b;

	assert_int_equal(ef_docker_create_body(&body, &req), 0);
	j = cJSON_Parse(body);
	assert_null(path(j, "Cmd", NULL, NULL));
	assert_null(path(j, "Env", NULL, NULL));
	assert_null(path(j, "User", NULL, NULL));
	assert_null(path(j, "StopSignal", NULL, NULL));
	assert_null(path(j, "StopTimeout", NULL, NULL));
	assert_null(path(j, "Tty", NULL, NULL));
	assert_null(path(j, "NetworkingConfig", NULL, NULL));
	assert_null(path(j, "HostConfig", "Memory", NULL));
	assert_null(path(j, "HostConfig", "NanoCpus", NULL));
	assert_null(path(j, "HostConfig", "Init", NULL));
	assert_null(path(j, "HostConfig", "LogConfig", NULL));
	assert_null(path(j, "HostConfig", "Sysctls", NULL));
	assert_null(path(j, "HostConfig", "NetworkMode", NULL));
	assert_null(path(j, "HostConfig", "Mounts", NULL));
	assert_null(path(j, "HostConfig", "Binds", NULL));
	assert_string_equal(path(j, "HostConfig", "RestartPolicy", "Name")->valuestring, "always");
	b = cJSON_GetArrayItem(path(j, "HostConfig", "PortBindings", "80/tcp"), 0);
	assert_string_equal(path(b, "HostPort", NULL, NULL)->valuestring, "80");
	assert_string_equal(path(j, "Labels", "io.edgeflip.spec", NULL)->valuestring, "");
	cJSON_Delete(j);
	free(body);

	/* an explicit network mode wins over the first network; init false is said */
	spec.network_mode = "host";
	spec.init = 0;
	spec.restart = EF_RESTART_NO;
	spec.networks = (ef_engine_endpoint[]){{"edgeflip_default", NULL, NULL, NULL}};
	spec.nnetworks = 1;
	assert_int_equal(ef_docker_create_body(&body, &req), 0);
	j = cJSON_Parse(body);
	assert_string_equal(path(j, "HostConfig", "NetworkMode", NULL)->valuestring, "host");
	assert_true(cJSON_IsFalse(path(j, "HostConfig", "Init", NULL)));
	assert_null(path(j, "HostConfig", "RestartPolicy", NULL));
	assert_null(path(j, "Entrypoint", NULL, NULL));
	cJSON_Delete(j);
	free(body);

	/* entrypoint set and empty: [""], which Docker and Podman both read as
	 * "clear the image's" (Podman keeps the image's for []); an empty
	 * command is left to the image */
	spec.entrypoint = (char *[]){NULL};
	spec.cmd = (char *[]){NULL};
	assert_int_equal(ef_docker_create_body(&body, &req), 0);
	j = cJSON_Parse(body);
	assert_strv(path(j, "Entrypoint", NULL, NULL), (const char *[]){"", NULL});
	assert_null(path(j, "Cmd", NULL, NULL));
	cJSON_Delete(j);
	free(body);
}

static void test_create_body_errors(void **state)
{
	static const struct {
		ef_engine_mount mount;
		const char *proto;
		const char *message;
	} cases[] = {
	        {{.type = EF_ENGINE_MOUNT_BIND, .target = "/data"},
	         NULL,
	         "service web: bind mount to /data needs an absolute source path"},
	        {{.type = EF_ENGINE_MOUNT_BIND, .source = "./data", .target = "/data"},
	         NULL,
	         "service web: bind mount to /data needs an absolute source path"},
	        {{.type = EF_ENGINE_MOUNT_VOLUME, .source = "v", .target = "data"},
	         NULL,
	         "service web: mount data needs an absolute target path"},
	        {{.type = EF_ENGINE_MOUNT_TMPFS},
	         NULL,
	         "service web: mount (none) needs an absolute target path"},
	        {{.type = (ef_engine_mount_type)7, .target = "/x"},
	         NULL,
	         "service web: mount /x needs an absolute target path"},
	        {{0}, "sct", "service web: port 80/sct cannot be published"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ef_engine_mount m = cases[i].mount;
		ef_engine_port p = {NULL, 80, 80, "tcp"};
		ef_container_spec spec = {.image = "img", .stop_grace_s = -1, .init = -1};
		ef_create_req req = {.name = "n",
		                     .spec = &spec,
		                     .service = "web",
		                     .slot = "blue",
		                     .revision = "r"};
		char *body = (char *)"sentinel";

		if (m.target || m.type) {
			spec.mounts = &m;
			spec.nmounts = 1;
		}
		if (cases[i].proto) {
			memcpy(p.protocol, cases[i].proto, 4);
			spec.ports = &p;
			spec.nports = 1;
		}
		assert_int_equal(ef_docker_create_body(&body, &req), EF_EINVALID);
		assert_null(body);
		assert_string_equal(ef_error_last(), cases[i].message);
	}
}

static void test_inspect_networks(void **state)
{
	static const char reply[] =
	        "{\"Id\":\"abc123\",\"Name\":\"/db\",\"Config\":{\"Labels\":{"
	        "\"io.edgeflip.service\":\"db\",\"io.edgeflip.aliases\":\"n1=db;n2=db,x\","
	        "\"io.edgeflip.name\":\"db\"}},\"State\":{\"Status\":\"running\"},"
	        "\"NetworkSettings\":{\"Networks\":{"
	        "\"n1\":{\"IPAddress\":\"10.89.0.2\",\"Aliases\":[\"db\",\"abc123\"]},"
	        "\"n2\":{\"IPAddress\":\"10.89.1.2\",\"Aliases\":null},"
	        "\"\":{},\"n3\":{\"Aliases\":[5,\"\",\"y\"]}}}}";
	ef_container c;

	assert_int_equal(ef_docker_parse_inspect(&c, reply, sizeof(reply) - 1), 0);
	assert_string_equal(c.aliases, "n1=db;n2=db,x");
	assert_string_equal(c.fixed_name, "db");
	assert_string_equal(c.ip_address, "10.89.0.2");
	assert_int_equal(ef_strv_len(c.endpoints), 3);
	assert_string_equal(c.endpoints[0], "n1=db,abc123");
	assert_string_equal(c.endpoints[1], "n2=");
	assert_string_equal(c.endpoints[2], "n3=y");
	ef_container_dispose(&c);
}

static void test_network_bodies(void **state)
{
	char *labels[] = {"com.example=1", "io.edgeflip.network=evil", NULL};
	char *opts[] = {"com.docker.network.bridge.name=br-iot", NULL};
	char *aliases[] = {"db", NULL};
	ef_network_req req = {
	        .name = "edgeflip_backend", .project = "site", .labels = labels, .options = opts};
	char *body, **names;
	cJSON *j;
	static const char list[] =
	        "[{\"Name\":\"podman\",\"Labels\":{}},"
	        "{\"Name\":\"edgeflip_b\",\"Labels\":{\"io.edgeflip.network\":\"p\"}},"
	        "{\"Name\":\"other_c\",\"Labels\":{\"io.edgeflip.network\":\"q\"}},"
	        "{\"Name\":\"edgeflip_a\",\"Labels\":{\"io.edgeflip.network\":\"p\"}},"
	        "{\"Labels\":{\"io.edgeflip.network\":\"x\"}}, 5, null]";

	assert_int_equal(ef_docker_network_body(&body, &req), 0);
	j = cJSON_Parse(body);
	assert_string_equal(path(j, "Name", NULL, NULL)->valuestring, "edgeflip_backend");
	assert_string_equal(path(j, "Driver", NULL, NULL)->valuestring, "bridge");
	assert_true(cJSON_IsFalse(path(j, "Internal", NULL, NULL)));
	assert_string_equal(path(j, "Labels", "com.example", NULL)->valuestring, "1");
	assert_string_equal(path(j, "Labels", "io.edgeflip.network", NULL)->valuestring, "site");
	assert_string_equal(path(j, "Options", "com.docker.network.bridge.name", NULL)->valuestring,
	                    "br-iot");
	assert_null(path(j, "IPAM", NULL, NULL));
	assert_null(path(j, "EnableIPv6", NULL, NULL));
	cJSON_Delete(j);
	free(body);
	req.subnet = "172.30.0.0/24";
	req.gateway = "172.30.0.1";
	req.internal = true;
	req.enable_ipv6 = true;
	req.driver = "macvlan";
	assert_int_equal(ef_docker_network_body(&body, &req), 0);
	j = cJSON_Parse(body);
	assert_string_equal(path(j, "Driver", NULL, NULL)->valuestring, "macvlan");
	assert_true(cJSON_IsTrue(path(j, "Internal", NULL, NULL)));
	assert_true(cJSON_IsTrue(path(j, "EnableIPv6", NULL, NULL)));
	assert_string_equal(
	        path(cJSON_GetArrayItem(path(j, "IPAM", "Config", NULL), 0), "Subnet", NULL, NULL)
	                ->valuestring,
	        "172.30.0.0/24");
	assert_string_equal(
	        path(cJSON_GetArrayItem(path(j, "IPAM", "Config", NULL), 0), "Gateway", NULL, NULL)
	                ->valuestring,
	        "172.30.0.1");
	assert_null(path(cJSON_GetArrayItem(path(j, "IPAM", "Config", NULL), 0), "IPRange", NULL,
	                 NULL));
	cJSON_Delete(j);
	free(body);
	req.name = "";
	assert_int_equal(ef_docker_network_body(&body, &req), EF_EINVALID);
	assert_null(body);

	assert_int_equal(ef_docker_connect_body(&body, "abc", aliases), 0);
	assert_string_equal(body,
	                    "{\"Container\":\"abc\",\"EndpointConfig\":{\"Aliases\":[\"db\"]}}");
	free(body);

	assert_int_equal(ef_docker_parse_networks(&names, list, sizeof(list) - 1, "p"), 0);
	assert_int_equal(ef_strv_len(names), 2);
	assert_string_equal(names[0], "edgeflip_a");
	assert_string_equal(names[1], "edgeflip_b");
	ef_strv_free(names);
	assert_int_equal(ef_docker_parse_networks(&names, "[]", 2, "p"), 0);
	assert_null(names);
	assert_int_equal(ef_docker_parse_networks(&names, "{}", 2, "p"), EF_EINVALID);
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

/* Docker reports the rules it applied; Podman 4.3 takes them and reports
 * nothing (its inspect has no DeviceCgroupRules): that create must fail. */
static void test_cgroup_rules_applied(void **state)
{
	char *const want[] = {"c 188:* rw", "b 8:0 r", NULL};
	static const char docker[] = "{\"Id\": \"x\", \"HostConfig\": {\"DeviceCgroupRules\": "
	                             "[\"b 8:0 r\", \"c 188:* rw\"]}}";
	static const char partial[] = "{\"HostConfig\": {\"DeviceCgroupRules\": [\"c 188:* rw\"]}}";
	static const char podman[] = "{\"Id\": \"x\", \"HostConfig\": {\"CgroupManager\": "
	                             "\"cgroupfs\"}}";

	(void)state;
	assert_int_equal(ef_docker_check_cgroup_rules(docker, strlen(docker), want), 0);
	assert_int_equal(ef_docker_check_cgroup_rules(partial, strlen(partial), want), EF_EINVALID);
	assert_non_null(strstr(ef_error_last(), "\"b 8:0 r\""));
	assert_int_equal(ef_docker_check_cgroup_rules(podman, strlen(podman), want), EF_EINVALID);
	assert_non_null(strstr(ef_error_last(), "did not apply device cgroup rule \"c 188:* rw\""));
	assert_int_equal(ef_docker_check_cgroup_rules("[", 1, want), EF_EINVALID);
}

/* Device requests (GPUs) in the create body, and read back: Docker reports
 * them, Podman 4.3 takes them and reports nothing (that create must fail). */
static void test_device_requests(void **state)
{
	char *caps[] = {"compute", "video", NULL}, *gpu[] = {"gpu", NULL}, *ids[] = {"0", NULL};
	char *opts[] = {"a=1", NULL};
	ef_engine_device_request reqs[] = {{"nvidia", 1, NULL, caps, opts},
	                                   {NULL, 0, ids, gpu, NULL}};
	ef_container_spec spec = {.image = "img",
	                          .stop_grace_s = -1,
	                          .init = -1,
	                          .device_requests = reqs,
	                          .ndevice_requests = 2};
	ef_create_req req = {
	        .name = "n", .spec = &spec, .service = "web", .slot = "green", .revision = "r"};
	static const char docker[] =
	        "{\"HostConfig\": {\"DeviceRequests\": [{\"Driver\": \"\", \"Count\": 0, "
	        "\"DeviceIDs\": [\"0\"], \"Capabilities\": [[\"gpu\"]]}, {\"Driver\": \"nvidia\", "
	        "\"Count\": 1, \"Capabilities\": [[\"video\", \"compute\", \"utility\"]]}]}}";
	static const char fewer[] = "{\"HostConfig\": {\"DeviceRequests\": [{\"Driver\": "
	                            "\"nvidia\", \"Capabilities\": [[\"compute\"]]}]}}";
	static const char podman[] = "{\"HostConfig\": {\"DeviceRequests\": null}}";
	char *body;
	cJSON *j, *d;

	(void)state;
	assert_int_equal(ef_docker_create_body(&body, &req), 0);
	j = cJSON_Parse(body);
	d = cJSON_GetArrayItem(path(j, "HostConfig", "DeviceRequests", NULL), 0);
	assert_string_equal(path(d, "Driver", NULL, NULL)->valuestring, "nvidia");
	assert_int_equal(path(d, "Count", NULL, NULL)->valueint, 1);
	assert_strv(cJSON_GetArrayItem(path(d, "Capabilities", NULL, NULL), 0),
	            (const char *[]){"compute", "video", NULL});
	assert_string_equal(path(d, "Options", "a", NULL)->valuestring, "1");
	assert_null(path(d, "DeviceIDs", NULL, NULL));
	d = cJSON_GetArrayItem(path(j, "HostConfig", "DeviceRequests", NULL), 1);
	assert_string_equal(path(d, "Driver", NULL, NULL)->valuestring, "");
	assert_strv(path(d, "DeviceIDs", NULL, NULL), (const char *[]){"0", NULL});
	cJSON_Delete(j);
	free(body);

	assert_int_equal(ef_docker_check_device_requests(docker, strlen(docker), reqs, 2), 0);
	assert_int_equal(ef_docker_check_device_requests(fewer, strlen(fewer), reqs, 2),
	                 EF_EINVALID);
	assert_non_null(strstr(ef_error_last(), "driver nvidia, capabilities compute, ..."));
	assert_int_equal(ef_docker_check_device_requests(podman, strlen(podman), reqs, 2),
	                 EF_EINVALID);
	assert_non_null(strstr(ef_error_last(), "did not apply the device request"));
	assert_int_equal(ef_docker_check_device_requests("[", 1, reqs, 1), EF_EINVALID);
	assert_int_equal(ef_docker_check_device_requests(podman, strlen(podman), reqs, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_device_requests),
	        cmocka_unit_test(test_list_recorded),
	        cmocka_unit_test(test_inspect_running),
	        cmocka_unit_test(test_inspect_created_and_exited),
	        cmocka_unit_test(test_inspect_mounts),
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
	        cmocka_unit_test(test_create_body_minimal),
	        cmocka_unit_test(test_network_bodies),
	        cmocka_unit_test(test_inspect_networks),
	        cmocka_unit_test(test_create_body_errors),
	        cmocka_unit_test(test_exec_body),
	        cmocka_unit_test(test_cgroup_rules_applied),
	        cmocka_unit_test(test_engine_open),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
