/* core/deploy/spec.c: the Compose service to the engine-level container spec. */
#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/spec.h"
#include "edgeflip/sys/platform.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void assert_strv_eq(char *const *got, const char *const *want)
{
	size_t n = 0;

	for (; want[n]; n++) {
		assert_non_null(got);
		assert_non_null(got[n]);
		assert_string_equal(got[n], want[n]);
	}
	assert_int_equal(ef_strv_len(got), n);
}

static void test_full(void **state)
{
	char *cmd[] = {"httpd", "-f", NULL}, *env[] = {"A=1", NULL}, *labels[] = {"app=x", NULL},
	     *caps[] = {"NET_ADMIN", NULL},
	     *devs[] = {"/dev/ttyS0", "/dev/ttyUSB0:/dev/modem", "/dev/i2c-1:/dev/i2c:r", NULL};
	ef_port ports[] = {{"127.0.0.1", 8080, 80, "tcp"}, {NULL, 0, 9000, "udp"}};
	ef_mount vols[] = {{.type = EF_MOUNT_BIND,
	                    .source = "/srv/data",
	                    .target = "/data",
	                    .read_only = true},
	                   {.type = EF_MOUNT_VOLUME, .source = "cache", .target = "/cache"},
	                   {.type = EF_MOUNT_TMPFS, .target = "/tmp"}};
	ef_service svc = {.name = "web",
	                  .image = "reg/web@sha256:00",
	                  .command = cmd,
	                  .environment = env,
	                  .labels = labels,
	                  .ports = ports,
	                  .nports = 2,
	                  .volumes = vols,
	                  .nvolumes = 3,
	                  .restart = "on-failure:5",
	                  .user = "1000",
	                  .working_dir = "/www",
	                  .mem_limit = 1 << 26,
	                  .privileged = true,
	                  .cap_add = caps,
	                  .devices = devs,
	                  .read_only = true};
	ef_spec_opts o = {.aliases = true};
	ef_container_spec s;

	assert_int_equal(ef_spec_build(&s, &svc, &o), 0);
	assert_string_equal(s.image, "reg/web@sha256:00");
	assert_strv_eq(s.cmd, (const char *[]){"httpd", "-f", NULL});
	assert_null(s.entrypoint);
	assert_strv_eq(s.env, (const char *[]){"A=1", NULL});
	/* the service's labels, then the aliases the deploy moves at a flip */
	assert_strv_eq(s.labels,
	               (const char *[]){"app=x", "io.edgeflip.aliases=edgeflip_default=web", NULL});
	assert_string_equal(s.user, "1000");
	assert_string_equal(s.working_dir, "/www");
	assert_int_equal(s.restart, EF_RESTART_ON_FAILURE);
	assert_int_equal(s.restart_max, 5);
	assert_int_equal(s.memory, 1 << 26);
	assert_true(s.privileged);
	assert_true(s.read_only);
	assert_int_equal(s.init, -1);
	assert_int_equal(s.stop_grace_s, -1);
	assert_strv_eq(s.cap_add, (const char *[]){"NET_ADMIN", NULL});
	/* ports as written */
	assert_int_equal(s.nports, 2);
	assert_string_equal(s.ports[0].host_ip, "127.0.0.1");
	assert_int_equal(s.ports[0].host_port, 8080);
	assert_int_equal(s.ports[0].container_port, 80);
	assert_null(s.ports[1].host_ip);
	assert_string_equal(s.ports[1].protocol, "udp");
	/* mounts */
	assert_int_equal(s.nmounts, 3);
	assert_int_equal(s.mounts[0].type, EF_ENGINE_MOUNT_BIND);
	assert_string_equal(s.mounts[0].source, "/srv/data");
	assert_true(s.mounts[0].read_only);
	assert_int_equal(s.mounts[1].type, EF_ENGINE_MOUNT_VOLUME);
	assert_string_equal(s.mounts[1].source, "cache");
	assert_int_equal(s.mounts[2].type, EF_ENGINE_MOUNT_TMPFS);
	assert_null(s.mounts[2].source);
	assert_string_equal(s.mounts[2].target, "/tmp");
	/* devices */
	assert_int_equal(s.ndevices, 3);
	assert_string_equal(s.devices[0].container_path, "/dev/ttyS0");
	assert_string_equal(s.devices[0].perms, "rwm");
	assert_string_equal(s.devices[1].host_path, "/dev/ttyUSB0");
	assert_string_equal(s.devices[1].container_path, "/dev/modem");
	assert_string_equal(s.devices[2].perms, "r");
	/* the default network, with the service name as alias */
	assert_int_equal(s.nnetworks, 1);
	assert_string_equal(s.networks[0].network, "edgeflip_default");
	assert_strv_eq(s.networks[0].aliases, (const char *[]){"web", NULL});
	/* a rotating log by default */
	assert_string_equal(s.log_driver, "json-file");
	assert_strv_eq(s.log_opts, (const char *[]){"max-size=10m", "max-file=3", NULL});
	ef_spec_dispose(&s);
	ef_spec_dispose(&s); /* safe twice */
}

static void test_opts(void **state)
{
	ef_port written[] = {{NULL, 80, 8080, "tcp"}};
	ef_engine_port green[] = {{"127.0.0.1", 20080, 8080, "tcp"}};
	ef_service svc = {.name = "web", .image = "img", .ports = written, .nports = 1};
	ef_spec_opts o = {.ports = green, .nports = 1, .network_prefix = "site", .aliases = false};
	ef_container_spec s;

	assert_int_equal(ef_spec_build(&s, &svc, &o), 0);
	assert_int_equal(s.ports[0].host_port, 20080);
	assert_string_equal(s.ports[0].host_ip, "127.0.0.1");
	assert_int_equal(s.restart, EF_RESTART_NO);
	/* green before its flip: on the network, without the name */
	assert_string_equal(s.networks[0].network, "site_default");
	assert_null(s.networks[0].aliases);
	assert_strv_eq(s.labels, (const char *[]){"io.edgeflip.aliases=site_default=web", NULL});
	ef_spec_dispose(&s);

	/* a network mode: no user-defined network */
	svc.network_mode = "host";
	assert_int_equal(ef_spec_build(&s, &svc, NULL), 0);
	assert_int_equal(s.nnetworks, 0);
	assert_null(s.labels);
	assert_int_equal(s.ports[0].host_port, 80);
	ef_spec_dispose(&s);
}

static void test_errors(void **state)
{
	static const struct {
		const char *restart;
		const char *device;
		ef_mount mount;
		const char *message;
	} cases[] = {
	        {"on-failure:x",
	         NULL,
	         {0},
	         "service web: restart 'on-failure:x': the retry count must be a number"},
	        {"on-failure:",
	         NULL,
	         {0},
	         "service web: restart 'on-failure:': the retry count must be a number"},
	        {"on-failure:-1",
	         NULL,
	         {0},
	         "service web: restart 'on-failure:-1': the retry count must be a number"},
	        {"sometimes", NULL, {0}, "service web: unknown restart policy 'sometimes'"},
	        {NULL, "ttyS0", {0}, "service web: device 'ttyS0' must be /dev/x[:/dev/y[:rwm]]"},
	        {NULL,
	         "/dev/a:b",
	         {0},
	         "service web: device '/dev/a:b' must be /dev/x[:/dev/y[:rwm]]"},
	        {NULL,
	         "/dev/a:/dev/b:rwx",
	         {0},
	         "service web: device '/dev/a:/dev/b:rwx' must be /dev/x[:/dev/y[:rwm]]"},
	        {NULL,
	         NULL,
	         {.type = EF_MOUNT_BIND, .target = "/data"},
	         "service web: volumes[0]: bind mount to /data needs an absolute source path"},
	        {NULL,
	         NULL,
	         {.type = EF_MOUNT_BIND, .source = "data", .target = "/data", .relative = true},
	         "service web: volumes[0]: bind mount to /data needs an absolute source path"},
	        {NULL,
	         NULL,
	         {.type = EF_MOUNT_VOLUME, .source = "v", .target = "data"},
	         "service web: volumes[0]: the target must be an absolute path"},
	        {NULL,
	         NULL,
	         {.type = EF_MOUNT_VOLUME, .source = "v", .target = "/v", .subpath = "a"},
	         "service web: volumes[0]: volume.subpath is not supported by the engine API "
	         "edgeflip speaks (v1.41); mount the whole volume"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *devs[] = {(char *)cases[i].device, NULL};
		ef_mount m = cases[i].mount;
		ef_service svc = {
		        .name = "web", .image = "img", .restart = (char *)cases[i].restart};
		ef_container_spec s;

		if (cases[i].device)
			svc.devices = devs;
		if (m.target) {
			svc.volumes = &m;
			svc.nvolumes = 1;
		}
		assert_int_equal(ef_spec_build(&s, &svc, NULL), EF_EINVALID);
		assert_string_equal(ef_error_last(), cases[i].message);
		assert_null(s.image); /* disposed */
	}
}

static void test_compose_features(void **state)
{
	char *back_alias[] = {"database", "mysql", NULL},
	     *tmpfs[] = {"/run:size=64m,mode=1777", "/tmp", NULL}, *hosts[] = {"gw:10.0.0.1", NULL},
	     *sysctls[] = {"net.core.somaxconn=1024", NULL}, *logopts[] = {"max-size=1m", NULL};
	ef_service_net nets[] = {
	        {.network = "back", .aliases = back_alias, .ipv4_address = "172.30.0.9"},
	        {.network = "front", .priority = 10},
	        {.network = "ext"}};
	ef_network defs[] = {{.key = "ext", .name = "site-lan", .external = true}};
	ef_port expose[] = {{NULL, 0, 3306, "tcp"}};
	ef_ulimit ul[] = {{.name = "nofile", .soft = 1024, .hard = 2048}};
	ef_mount vols[] = {
	        {.type = EF_MOUNT_BIND,
	         .source = "/srv",
	         .target = "/srv",
	         .propagation = "rslave"},
	        {.type = EF_MOUNT_VOLUME, .source = "db", .target = "/db", .nocopy = true}};
	ef_service svc = {.name = "db",
	                  .image = "img",
	                  .networks = nets,
	                  .nnetworks = 3,
	                  .expose = expose,
	                  .nexpose = 1,
	                  .volumes = vols,
	                  .nvolumes = 2,
	                  .tmpfs = tmpfs,
	                  .stop_signal = "SIGINT",
	                  .stop_grace_period_ms = 1500,
	                  .init = true,
	                  .extra_hosts = hosts,
	                  .hostname = "db1",
	                  .sysctls = sysctls,
	                  .ulimits = ul,
	                  .nulimits = 1,
	                  .shm_size = 1 << 26,
	                  .log_driver = "local",
	                  .log_opts = logopts,
	                  .nano_cpus = 500000000,
	                  .mem_reservation = 1 << 20,
	                  .memswap_limit = -1,
	                  .pids_limit = 64,
	                  .cpu_shares = 256,
	                  .cpuset = "0-1",
	                  .tty = true};
	ef_manifest m = {.services = &svc, .nservices = 1, .networks = defs, .nnetworks = 1};
	ef_spec_opts o = {.aliases = true, .manifest = &m, .network_prefix = "p"};
	ef_container_spec s;
	char **names;

	assert_int_equal(ef_spec_build(&s, &svc, &o), 0);
	/* the highest priority first; a declared name; the service name first */
	assert_int_equal(s.nnetworks, 3);
	assert_string_equal(s.networks[0].network, "p_front");
	assert_strv_eq(s.networks[0].aliases, (const char *[]){"db", NULL});
	assert_string_equal(s.networks[1].network, "p_back");
	assert_strv_eq(s.networks[1].aliases, (const char *[]){"db", "database", "mysql", NULL});
	assert_string_equal(s.networks[1].ipv4_address, "172.30.0.9");
	assert_null(s.networks[0].ipv4_address);
	assert_string_equal(s.networks[2].network, "site-lan");
	assert_strv_eq(s.labels, (const char *[]){"io.edgeflip.aliases=p_front=db;p_back=db,"
	                                          "database,mysql;site-lan=db",
	                                          NULL});
	/* expose: a container port, never published */
	assert_int_equal(s.nports, 1);
	assert_int_equal(s.ports[0].container_port, 3306);
	assert_int_equal(s.ports[0].host_port, 0);
	/* tmpfs entries, then volumes */
	assert_int_equal(s.nmounts, 4);
	assert_int_equal(s.mounts[0].type, EF_ENGINE_MOUNT_TMPFS);
	assert_string_equal(s.mounts[0].target, "/run");
	assert_int_equal(s.mounts[0].tmpfs_size, 64 << 20);
	assert_int_equal(s.mounts[0].tmpfs_mode, 01777);
	assert_string_equal(s.mounts[1].target, "/tmp");
	assert_int_equal(s.mounts[1].tmpfs_size, 0);
	assert_string_equal(s.mounts[2].propagation, "rslave");
	assert_true(s.mounts[3].no_copy);
	assert_string_equal(s.stop_signal, "SIGINT");
	assert_int_equal(s.stop_grace_s, 2); /* rounded up */
	assert_int_equal(s.init, 1);
	assert_strv_eq(s.extra_hosts, (const char *[]){"gw:10.0.0.1", NULL});
	assert_string_equal(s.hostname, "db1");
	assert_strv_eq(s.sysctls, (const char *[]){"net.core.somaxconn=1024", NULL});
	assert_int_equal(s.nulimits, 1);
	assert_string_equal(s.ulimits[0].name, "nofile");
	assert_int_equal(s.ulimits[0].hard, 2048);
	assert_int_equal(s.shm_size, 1 << 26);
	assert_string_equal(s.log_driver, "local");
	assert_strv_eq(s.log_opts, (const char *[]){"max-size=1m", NULL});
	assert_int_equal(s.nano_cpus, 500000000);
	assert_int_equal(s.memory_reservation, 1 << 20);
	assert_int_equal(s.memory_swap, -1);
	assert_int_equal(s.pids_limit, 64);
	assert_int_equal(s.cpu_shares, 256);
	assert_string_equal(s.cpuset, "0-1");
	assert_true(s.tty);
	ef_spec_dispose(&s);

	assert_int_equal(ef_spec_networks(&names, &m, "p"), 0);
	assert_strv_eq(names, (const char *[]){"p_back", "p_front", "site-lan", NULL});
	ef_strv_free(names);

	/* tmpfs options edgeflip cannot pass */
	svc.tmpfs = (char *[]){"/run:exec", NULL};
	assert_int_equal(ef_spec_build(&s, &svc, &o), EF_EINVALID);
	assert_string_equal(ef_error_last(), "service db: tmpfs '/run:exec': option 'exec' is not "
	                                     "supported (size=N[kmg], mode=OCTAL, ro, rw)");
	svc.tmpfs = (char *[]){"run", NULL};
	assert_int_equal(ef_spec_build(&s, &svc, &o), EF_EINVALID);
	assert_string_equal(ef_error_last(), "service db: tmpfs 'run': the path must be absolute");
}

static void test_aliases_label(void **state)
{
	ef_engine_endpoint *eps;
	size_t n;

	assert_int_equal(ef_spec_aliases_parse(&eps, &n, "a_default=web,www;a_back=;a_x=db"), 0);
	assert_int_equal(n, 3);
	assert_string_equal(eps[0].network, "a_default");
	assert_strv_eq(eps[0].aliases, (const char *[]){"web", "www", NULL});
	assert_string_equal(eps[1].network, "a_back");
	assert_null(eps[1].aliases);
	assert_strv_eq(eps[2].aliases, (const char *[]){"db", NULL});
	ef_spec_endpoints_free(eps, n);
	assert_int_equal(ef_spec_aliases_parse(&eps, &n, ""), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ef_spec_aliases_parse(&eps, &n, NULL), 0);
	assert_int_equal(ef_spec_aliases_parse(&eps, &n, "net"), EF_EINVALID);
	assert_string_equal(ef_error_last(),
	                    "label io.edgeflip.aliases: 'net' is not net=alias,...");
	assert_int_equal(ef_spec_aliases_parse(&eps, &n, "a=b;=c"), EF_EINVALID);
}

static void test_network_set(void **state)
{
	ef_service svcs[] = {{.name = "a", .image = "i"},
	                     {.name = "b", .image = "i", .network_mode = "host"},
	                     {.name = "c", .image = "i"}};
	ef_manifest m = {.services = svcs, .nservices = 3};
	char **names;

	assert_int_equal(ef_spec_networks(&names, &m, "edgeflip"), 0);
	assert_strv_eq(names, (const char *[]){"edgeflip_default", NULL});
	ef_strv_free(names);
	m.nservices = 2;
	m.services = &svcs[1];
	m.nservices = 1;
	assert_int_equal(ef_spec_networks(&names, &m, "edgeflip"), 0);
	assert_null(names);
}

static void test_platform(void **state)
{
	static const struct {
		const char *want, *native;
		int rc;
	} cases[] = {
	        {NULL, "linux/amd64", 0},
	        {"linux/amd64", "linux/amd64", 0},
	        {"linux/x86_64", "linux/amd64", 0},
	        {"linux/arm64", "linux/arm64", 0},
	        {"linux/arm64/v8", "linux/arm64", 0},
	        {"linux/aarch64", "linux/arm64", 0},
	        {"linux/arm/v7", "linux/arm/v7", 0},
	        {"linux/arm", "linux/arm/v7", 0},
	        {"linux/armhf", "linux/arm/v7", 0},
	        {"linux/arm/v6", "linux/arm/v7", EF_EREJECTED},
	        {"linux/arm64", "linux/amd64", EF_EREJECTED},
	        {"windows/amd64", "linux/amd64", EF_EREJECTED},
	        {"linux", "linux/amd64", EF_EREJECTED},
	};
	char buf[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(ef_spec_platform_check("web", cases[i].want, cases[i].native),
		                 cases[i].rc);
	assert_int_equal(ef_spec_platform_check("web", "linux/arm64", "linux/amd64"), EF_EREJECTED);
	assert_string_equal(ef_error_last(),
	                    "service web: platform linux/arm64 does not run on this device "
	                    "(linux/amd64); remove `platform` or publish an image for linux/amd64");
	ef_platform_from_uname(buf, sizeof(buf), "linux", "aarch64");
	assert_string_equal(buf, "linux/arm64");
	ef_platform_from_uname(buf, sizeof(buf), "linux", "armv7l");
	assert_string_equal(buf, "linux/arm/v7");
	ef_platform_from_uname(buf, sizeof(buf), "linux", "x86_64");
	assert_string_equal(buf, "linux/amd64");
	ef_platform_from_uname(buf, sizeof(buf), "linux", "weird9");
	assert_string_equal(buf, "linux/weird9");
	assert_int_equal(ef_platform_native(buf, sizeof(buf)), 0);
	assert_int_equal(ef_spec_platform_check("web", buf, buf), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_full),          cmocka_unit_test(test_opts),
	        cmocka_unit_test(test_errors),        cmocka_unit_test(test_compose_features),
	        cmocka_unit_test(test_aliases_label), cmocka_unit_test(test_network_set),
	        cmocka_unit_test(test_platform),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
