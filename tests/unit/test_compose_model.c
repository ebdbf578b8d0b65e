/* The Compose model of issue 10: every new key in its accepted forms and its
 * refusals, findings collected from a document tree with positions, profiles,
 * and the key tables against docs/manifest.md. */
#include "edgeflip/buf.h"
#include "edgeflip/compose.h"
#include "edgeflip/error.h"
#include "edgeflip/manifest.h"
#include "edgeflip/policy.h"

#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define F      "env/compose.json"
#define IMG    "\"image\": \"nginx:1.25\""
#define WEB(m) "{\"services\": {\"web\": {" IMG ", " m "}}}"

static ef_manifest *parse_ok(const char *json)
{
	ef_manifest *m = NULL;

	if (ef_manifest_parse(&m, json, strlen(json), F) != 0)
		fail_msg("unexpected error: %s\n  for %s", ef_error_last(), json);
	return m;
}

static const ef_service *web(const ef_manifest *m)
{
	const ef_service *s = ef_manifest_find(m, "web");

	assert_non_null(s);
	return s;
}

static void strv_is(char *const *v, const char *const *want)
{
	size_t i = 0;

	for (; want[i]; i++) {
		if (!v || !v[i])
			fail_msg("missing entry %zu ('%s')", i, want[i]);
		assert_string_equal(v[i], want[i]);
	}
	if (v && v[i])
		fail_msg("extra entry '%s'", v[i]);
}

/* ---------------------------------------------------------------------------
 * Accepted forms: each case parses and one check reads the model. */

static void test_depends_on(void **state)
{
	ef_manifest *m = parse_ok(
	        "{\"services\": {\"db\": {" IMG "}, \"cache\": {" IMG "}, \"web\": {" IMG
	        ", \"depends_on\": {\"db\": {\"condition\": \"service_healthy\", \"restart\": "
	        "true}, "
	        "\"cache\": {\"condition\": \"service_completed_successfully\", \"required\": "
	        "false}}}}}");
	const ef_service *s = web(m);

	(void)state;
	assert_int_equal(s->ndepends_on, 2);
	assert_string_equal(s->depends_on[0].service, "cache"); /* sorted */
	assert_int_equal(s->depends_on[0].condition, EF_DEP_COMPLETED);
	assert_false(s->depends_on[0].required);
	assert_string_equal(s->depends_on[1].service, "db");
	assert_int_equal(s->depends_on[1].condition, EF_DEP_HEALTHY);
	assert_true(s->depends_on[1].restart);
	assert_true(s->depends_on[1].required);
	ef_manifest_free(m);

	m = parse_ok("{\"services\": {\"db\": {" IMG "}, \"web\": {" IMG
	             ", \"depends_on\": [\"db\"]}}}");
	assert_int_equal(web(m)->depends_on[0].condition, EF_DEP_STARTED);
	assert_true(web(m)->depends_on[0].required);
	ef_manifest_free(m);
}

static void test_networks(void **state)
{
	ef_manifest *m = parse_ok(
	        "{\"services\": {\"web\": {" IMG ", \"networks\": {\"front\": {\"aliases\": "
	        "[\"www\", \"app\"]}, \"back\": null}}, \"db\": {" IMG ", \"networks\": "
	        "[\"back\"]}, \"solo\": {" IMG "}}, \"networks\": {\"front\": {\"driver\": "
	        "\"bridge\", \"internal\": false, \"attachable\": true, \"labels\": {\"a\": "
	        "\"b\"}, \"driver_opts\": {\"com.docker.network.bridge.name\": \"br-front\"}}, "
	        "\"back\": {\"internal\": true, \"name\": \"shop-back\", \"ipam\": {\"config\": "
	        "[{\"subnet\": \"172.28.0.0/16\", \"gateway\": \"172.28.0.1\"}]}}}}");
	const ef_service *s = web(m);
	const ef_network *n;
	static const char *const aliases[] = {"app", "www", NULL};

	(void)state;
	assert_int_equal(s->nnetworks, 2);
	assert_string_equal(s->networks[0].network, "back");
	assert_null(s->networks[0].aliases);
	assert_string_equal(s->networks[1].network, "front");
	strv_is(s->networks[1].aliases, aliases);
	/* a service without networks joins "default", which then exists */
	assert_string_equal(ef_manifest_find(m, "solo")->networks[0].network, "default");
	assert_non_null(ef_manifest_network(m, "default"));
	n = ef_manifest_network(m, "back");
	assert_non_null(n);
	assert_true(n->internal);
	assert_string_equal(n->name, "shop-back");
	assert_int_equal(n->nipam_config, 1);
	assert_string_equal(n->ipam_config[0].subnet, "172.28.0.0/16");
	assert_string_equal(n->ipam_config[0].gateway, "172.28.0.1");
	n = ef_manifest_network(m, "front");
	assert_true(n->attachable);
	assert_string_equal(n->driver_opts[0], "com.docker.network.bridge.name=br-front");
	ef_manifest_free(m);

	/* network_mode default: the engine's default network, bridge */
	m = parse_ok("{\"services\": {\"web\": {" IMG ", \"network_mode\": \"default\"}}}");
	assert_string_equal(web(m)->network_mode, "bridge");
	assert_int_equal(web(m)->nnetworks, 0);
	ef_manifest_free(m);

	/* the older external: {name: X}, as compose-go still reads it */
	m = parse_ok("{\"services\": {\"web\": {" IMG ", \"networks\": [\"lan\"], \"volumes\": "
	             "[\"data:/d\"]}}, \"networks\": {\"lan\": {\"external\": {\"name\": "
	             "\"site-lan\"}, \"name\": \"site-lan\"}}, \"volumes\": {\"data\": "
	             "{\"external\": {\"name\": \"mydata\"}}}}");
	n = ef_manifest_network(m, "lan");
	assert_true(n->external);
	assert_string_equal(n->name, "site-lan");
	assert_string_equal(web(m)->volumes[0].source, "mydata");
	ef_manifest_free(m);

	/* a fixed address: recreate */
	m = parse_ok(
	        "{\"services\": {\"web\": {" IMG ", \"networks\": {\"n\": {\"ipv4_address\": "
	        "\"10.1.0.5\"}}}}, \"networks\": {\"n\": {\"ipam\": {\"config\": [{\"subnet\": "
	        "\"10.1.0.0/24\"}]}}}}");
	assert_string_equal(web(m)->networks[0].ipv4_address, "10.1.0.5");
	assert_int_equal(web(m)->strategy, EF_STRATEGY_RECREATE);
	ef_manifest_free(m);
}

static void test_volumes_and_mounts(void **state)
{
	ef_manifest *m = parse_ok(
	        "{\"services\": {\"web\": {" IMG
	        ", \"volumes\": [\"./config/app.conf:/etc/app.conf:ro\", "
	        "\"./data//x/../y/:/data\", \"~/cache:/cache\", \"/anon\", \"/anon\", "
	        "\"named:/n:nocopy,Z\", "
	        "\"/srv:/srv:rshared,z\", {\"type\": \"tmpfs\", \"target\": \"/t\", \"tmpfs\": "
	        "{\"size\": \"64m\", \"mode\": 1023}}, {\"type\": \"bind\", \"source\": \".\", "
	        "\"target\": \"/env\", \"bind\": {\"create_host_path\": true, \"propagation\": "
	        "\"rslave\"}, \"consistency\": \"cached\"}, {\"type\": \"volume\", \"target\": "
	        "\"/anon2\", \"volume\": {\"nocopy\": true, \"subpath\": \"a/b\"}}], \"tmpfs\": "
	        "[\"/run:size=1m\", \"/a\"]}}, \"volumes\": {\"named\": {\"name\": \"shop_named\", "
	        "\"driver\": \"local\", \"driver_opts\": {\"type\": \"none\", \"o\": \"bind\", "
	        "\"device\": \"/x\"}, \"labels\": [\"k=v\"]}}}");
	const ef_service *s = web(m);
	const ef_mount *v = s->volumes;
	static const char *const tmpfs[] = {"/a", "/run:size=1m", NULL};

	(void)state;
	assert_int_equal(s->nvolumes, 9); /* the repeated "/anon" is one mount */
	assert_int_equal(v[0].type, EF_MOUNT_BIND);
	assert_true(v[0].relative);
	assert_string_equal(v[0].source, "config/app.conf");
	assert_true(v[0].read_only);
	assert_true(v[0].create_host_path);
	assert_string_equal(v[1].source, "data/y");
	assert_true(v[2].home);
	assert_string_equal(v[2].source, "cache");
	assert_int_equal(v[3].type, EF_MOUNT_VOLUME);
	assert_null(v[3].source);
	assert_string_equal(v[3].target, "/anon");
	assert_string_equal(v[4].source, "shop_named");
	assert_true(v[4].nocopy);
	assert_string_equal(v[4].selinux, "Z"); /* as Compose reads "vol:/p:z" */
	assert_string_equal(v[5].propagation, "rshared");
	assert_string_equal(v[5].selinux, "z");
	assert_false(v[5].relative);
	assert_int_equal(v[6].type, EF_MOUNT_TMPFS);
	assert_int_equal(v[6].tmpfs_size, 64 << 20);
	assert_int_equal(v[6].tmpfs_mode, 01777);
	assert_string_equal(v[7].source, ".");
	assert_string_equal(v[7].propagation, "rslave");
	assert_null(v[8].source);
	assert_string_equal(v[8].subpath, "a/b");
	strv_is(s->tmpfs, tmpfs);
	assert_string_equal(ef_manifest_volume(m, "named")->driver, "local");
	ef_manifest_free(m);
}

static void test_secrets_configs(void **state)
{
	ef_manifest *m = parse_ok(
	        "{\"services\": {\"web\": {" IMG ", \"secrets\": [\"db_pw\", {\"source\": \"api\", "
	        "\"target\": \"api_key\", \"uid\": \"1000\", \"gid\": \"1000\", \"mode\": "
	        "\"0440\"}], \"configs\": [{\"source\": \"nginx\", \"target\": "
	        "\"/etc/nginx/nginx.conf\", \"mode\": 292}, \"motd\"]}}, \"secrets\": {\"db_pw\": "
	        "{\"file\": \"./secrets/../secrets/db.txt\"}, \"api\": {\"environment\": "
	        "\"API_KEY\"}}, \"configs\": {\"nginx\": {\"file\": \"nginx.conf\"}, \"motd\": "
	        "{\"content\": \"hello\"}}}");
	const ef_service *s = web(m);

	(void)state;
	assert_int_equal(s->nsecrets, 2);
	assert_string_equal(s->secrets[0].target, "/run/secrets/api_key");
	assert_int_equal(s->secrets[0].mode, 0440);
	assert_string_equal(s->secrets[0].uid, "1000");
	assert_string_equal(s->secrets[1].target, "/run/secrets/db_pw");
	assert_int_equal(s->secrets[1].mode, 0444);
	assert_string_equal(ef_manifest_secret(m, "db_pw")->file, "secrets/db.txt");
	assert_string_equal(ef_manifest_secret(m, "api")->environment, "API_KEY");
	assert_string_equal(s->configs[0].target, "/etc/nginx/nginx.conf");
	assert_string_equal(s->configs[1].target, "/motd");
	assert_string_equal(ef_manifest_config(m, "motd")->content, "hello");
	ef_manifest_free(m);
}

static void test_scalars(void **state)
{
	ef_manifest *m = parse_ok(WEB(
	        "\"expose\": [\"8000-8002\", 80, \"53/udp\", \"80\"], \"container_name\": "
	        "\"web-1\", "
	        "\"stop_signal\": \"SIGQUIT\", \"stop_grace_period\": \"1m30s\", \"init\": true, "
	        "\"extra_hosts\": [\"b.local=10.0.0.2\", \"a.local:10.0.0.1\", "
	        "\"v6=[::1]\", \"gw:host-gateway\"], \"dns\": \"1.1.1.1\", \"dns_search\": "
	        "[\"lan\"], \"dns_opt\": [\"ndots:1\"], \"hostname\": \"gw_1\", \"domainname\": "
	        "\"example.org\", \"sysctls\": {\"net.core.somaxconn\": 1024, "
	        "\"net.ipv4.ip_forward\": \"1\"}, \"ulimits\": {\"nproc\": 512, \"nofile\": "
	        "{\"soft\": 1024, \"hard\": 4096}}, \"shm_size\": \"64m\", \"group_add\": "
	        "[\"dialout\", 20], \"security_opt\": [\"no-new-privileges:true\"], \"logging\": "
	        "{\"driver\": \"json-file\", \"options\": {\"max-size\": \"10m\", \"max-file\": "
	        "3}}, \"cpus\": \"0.5\", \"mem_reservation\": \"128m\", \"memswap_limit\": -1, "
	        "\"pids_limit\": 100, \"cpu_shares\": 512, \"cpuset\": \"0-1\", \"platform\": "
	        "\"linux/arm/v7\", \"stdin_open\": true, \"tty\": true, \"env_file\": "
	        "[\"./a.env\", {\"path\": \"b.env\", \"required\": false}], \"cap_add\": "
	        "[\"cap_net_admin\", \"ALL\"], \"scale\": 1, \"pull_policy\": \"always\""));
	const ef_service *s = web(m);
	static const char *const hosts[] = {"a.local:10.0.0.1", "b.local:10.0.0.2",
	                                    "gw:host-gateway", "v6:::1", NULL};
	static const char *const sysctls[] = {"net.core.somaxconn=1024", "net.ipv4.ip_forward=1",
	                                      NULL};
	static const char *const logopts[] = {"max-file=3", "max-size=10m", NULL};
	static const char *const groups[] = {"20", "dialout", NULL};
	static const char *const caps[] = {"ALL", "NET_ADMIN", NULL};

	(void)state;
	assert_int_equal(s->nexpose, 5); /* 53/udp, 80, 8000, 8001, 8002 */
	assert_int_equal(s->expose[0].container_port, 53);
	assert_string_equal(s->expose[0].protocol, "udp");
	assert_int_equal(s->expose[4].container_port, 8002);
	assert_string_equal(s->container_name, "web-1");
	assert_string_equal(s->stop_signal, "SIGQUIT");
	assert_int_equal(s->stop_grace_period_ms, 90000);
	assert_true(s->init);
	strv_is(s->extra_hosts, hosts);
	assert_string_equal(s->dns[0], "1.1.1.1");
	assert_string_equal(s->dns_search[0], "lan");
	assert_string_equal(s->hostname, "gw_1");
	strv_is(s->sysctls, sysctls);
	assert_int_equal(s->nulimits, 2);
	assert_string_equal(s->ulimits[0].name, "nofile");
	assert_int_equal(s->ulimits[0].soft, 1024);
	assert_int_equal(s->ulimits[0].hard, 4096);
	assert_int_equal(s->ulimits[1].soft, 512);
	assert_int_equal(s->shm_size, 64 << 20);
	strv_is(s->group_add, groups);
	assert_string_equal(s->log_driver, "json-file");
	strv_is(s->log_opts, logopts);
	assert_int_equal(s->nano_cpus, 500000000);
	assert_int_equal(s->mem_reservation, 128 << 20);
	assert_int_equal(s->memswap_limit, -1);
	assert_int_equal(s->pids_limit, 100);
	assert_int_equal(s->cpu_shares, 512);
	assert_string_equal(s->cpuset, "0-1");
	assert_string_equal(s->platform, "linux/arm/v7");
	assert_true(s->stdin_open && s->tty);
	assert_int_equal(s->nenv_files, 2);
	assert_string_equal(s->env_files[0].path, "a.env");
	assert_false(s->env_files[1].required);
	strv_is(s->cap_add, caps);
	ef_manifest_free(m);
}

static void test_deploy(void **state)
{
	ef_manifest *m = parse_ok(WEB(
	        "\"deploy\": {\"mode\": \"global\", \"replicas\": 1, \"resources\": {\"limits\": "
	        "{\"cpus\": \"1.5\", "
	        "\"memory\": \"256M\", \"pids\": 64}, \"reservations\": {\"cpus\": \"0.25\", "
	        "\"memory\": \"64M\"}}, \"restart_policy\": {\"condition\": \"on-failure\", "
	        "\"max_attempts\": 3, \"delay\": \"5s\"}, \"placement\": {\"constraints\": []}}"));
	const ef_service *s = web(m);

	(void)state;
	assert_int_equal(s->nano_cpus, 1500000000);
	assert_int_equal(s->mem_limit, 256 << 20);
	assert_int_equal(s->pids_limit, 64);
	assert_int_equal(s->mem_reservation, 64 << 20);
	assert_string_equal(s->restart, "on-failure:3");
	ef_manifest_free(m);

	/* device requests: reservations.devices, then gpus */
	m = parse_ok(
	        WEB("\"deploy\": {\"resources\": {\"reservations\": {\"devices\": [{\"driver\": "
	            "\"nvidia\", \"count\": 1, \"capabilities\": [\"compute\", \"video\"], "
	            "\"options\": {\"virtualization\": false}}, {\"capabilities\": [\"gpu\"], "
	            "\"device_ids\": [\"0\", \"3\"]}]}}}, \"gpus\": \"all\""));
	s = web(m);
	assert_int_equal(s->ndevice_requests, 3);
	assert_string_equal(s->device_requests[0].driver, "nvidia");
	assert_int_equal(s->device_requests[0].count, 1);
	strv_is(s->device_requests[0].capabilities,
	        (const char *const[]){"compute", "video", NULL});
	strv_is(s->device_requests[0].options, (const char *const[]){"virtualization=false", NULL});
	assert_null(s->device_requests[1].driver);
	assert_int_equal(s->device_requests[1].count, 0);
	strv_is(s->device_requests[1].device_ids, (const char *const[]){"0", "3", NULL});
	assert_int_equal(s->device_requests[2].count, -1); /* gpus: all */
	strv_is(s->device_requests[2].capabilities, (const char *const[]){"gpu", NULL});
	ef_manifest_free(m);

	/* the engine's words for the conditions, as docker compose maps them */
	static const char *const cond[][2] = {{"any", "always"},
	                                      {"always", "always"},
	                                      {"none", "no"},
	                                      {"no", "no"},
	                                      {"unless-stopped", "unless-stopped"}};
	for (size_t i = 0; i < sizeof(cond) / sizeof(cond[0]); i++) {
		char json[200];
		snprintf(json, sizeof(json),
		         WEB("\"deploy\": {\"restart_policy\": {\"condition\": \"%s\"}}"),
		         cond[i][0]);
		m = parse_ok(json);
		assert_string_equal(web(m)->restart, cond[i][1]);
		ef_manifest_free(m);
	}
}

static void test_healthcheck_new(void **state)
{
	ef_manifest *m = parse_ok(WEB("\"healthcheck\": {\"test\": \"true\", \"start_interval\": "
	                              "\"2s\", \"start_period\": \"1m\"}"));

	(void)state;
	assert_int_equal(web(m)->health.start_interval_ms, 2000);
	assert_false(web(m)->health.disabled);
	ef_manifest_free(m);
	m = parse_ok(WEB("\"healthcheck\": {\"disable\": true}"));
	assert_true(web(m)->health.disabled);
	assert_int_equal(web(m)->health.kind, EF_PROBE_NONE);
	ef_manifest_free(m);
}

/* Gateway stacks as users write them (written here in JSON, in the shape of the
 * usual compose files of these projects): all accepted. */
static void test_gateway_stacks(void **state)
{
	static const char *const stacks[] = {
	        /* Home Assistant */
	        "{\"services\": {\"homeassistant\": {\"container_name\": \"homeassistant\", "
	        "\"image\": \"ghcr.io/home-assistant/home-assistant:stable\", \"volumes\": "
	        "[\"./config:/config\", \"/etc/localtime:/etc/localtime:ro\", "
	        "\"/run/dbus:/run/dbus:ro\"], \"restart\": \"unless-stopped\", \"privileged\": "
	        "true, \"network_mode\": \"host\", \"environment\": {\"TZ\": "
	        "\"Europe/Amsterdam\"}}}}",
	        /* Mosquitto + Zigbee2MQTT */
	        "{\"version\": \"3.8\", \"services\": {\"mqtt\": {\"image\": "
	        "\"eclipse-mosquitto:2.0\", \"restart\": \"unless-stopped\", \"volumes\": "
	        "[\"./mosquitto-data:/mosquitto\"], \"ports\": [\"1883:1883\", \"9001:9001\"], "
	        "\"command\": \"mosquitto -c /mosquitto-no-auth.conf\"}, \"zigbee2mqtt\": "
	        "{\"container_name\": \"zigbee2mqtt\", \"restart\": \"unless-stopped\", "
	        "\"image\": \"koenkk/zigbee2mqtt\", \"volumes\": "
	        "[\"./zigbee2mqtt-data:/app/data\", "
	        "\"/run/udev:/run/udev:ro\"], \"ports\": [8080], \"environment\": "
	        "[\"TZ=Europe/Berlin\"], \"devices\": [\"/dev/ttyACM0:/dev/ttyACM0\"], "
	        "\"group_add\": [\"dialout\"], \"user\": \"1000:1000\", \"depends_on\": "
	        "[\"mqtt\"]}}}",
	        /* Node-RED */
	        "{\"services\": {\"node-red\": {\"image\": \"nodered/node-red:latest\", "
	        "\"environment\": [\"TZ=Europe/Amsterdam\"], \"ports\": [\"1880:1880\"], "
	        "\"networks\": [\"node-red-net\"], \"volumes\": [\"node-red-data:/data\"]}}, "
	        "\"volumes\": {\"node-red-data\": null}, \"networks\": {\"node-red-net\": "
	        "null}}",
	        /* InfluxDB, Telegraf, Grafana, with the links of older files */
	        "{\"services\": {\"influxdb\": {\"image\": \"influxdb:2.7\", \"env_file\": "
	        "\"configuration.env\", \"ports\": [\"8086:8086\"], \"volumes\": "
	        "[\"./:/imports\", \"influxdb_data:/var/lib/influxdb2\"]}, \"telegraf\": "
	        "{\"image\": \"telegraf:1.28\", \"volumes\": "
	        "[\"./telegraf/etc/telegraf.conf:/etc/telegraf/telegraf.conf:ro\"], "
	        "\"depends_on\": [\"influxdb\"], \"links\": [\"influxdb\"]}, \"grafana\": "
	        "{\"image\": \"grafana/grafana-oss\", \"user\": \"0\", \"ports\": "
	        "[\"3000:3000\"], \"links\": [\"influxdb:influxdb\"], \"volumes\": "
	        "[\"grafana_data:/var/lib/grafana\", "
	        "\"./grafana/provisioning/:/etc/grafana/provisioning/\"], \"logging\": "
	        "{\"driver\": \"json-file\", \"options\": {\"max-size\": \"10m\"}}}}, "
	        "\"volumes\": {\"influxdb_data\": {}, \"grafana_data\": {}}}",
	        /* Pi-hole */
	        "{\"services\": {\"pihole\": {\"container_name\": \"pihole\", \"image\": "
	        "\"pihole/pihole:latest\", \"ports\": [\"53:53/tcp\", \"53:53/udp\", "
	        "\"80:80/tcp\"], \"environment\": {\"TZ\": \"America/Chicago\", "
	        "\"FTLCONF_dns_listeningMode\": \"all\"}, \"volumes\": "
	        "[\"./etc-pihole:/etc/pihole\"], \"cap_add\": [\"NET_ADMIN\", \"SYS_TIME\", "
	        "\"SYS_NICE\"], \"restart\": \"unless-stopped\", \"dns\": [\"127.0.0.1\", "
	        "\"1.1.1.1\"], \"extra_hosts\": [\"host.docker.internal:host-gateway\"]}}}",
	        /* an EdgeX-style hardened service */
	        "{\"services\": {\"core-data\": {\"image\": \"edgexfoundry/core-data:3.1\", "
	        "\"container_name\": \"edgex-core-data\", \"hostname\": \"edgex-core-data\", "
	        "\"read_only\": true, \"security_opt\": [\"no-new-privileges:true\"], \"user\": "
	        "\"2002:2001\", \"networks\": {\"edgex-network\": {}}, \"environment\": "
	        "{\"EDGEX_SECURITY_SECRET_STORE\": \"false\"}, \"ports\": "
	        "[\"127.0.0.1:59880:59880/tcp\"], \"restart\": \"always\", \"tmpfs\": "
	        "[\"/tmp\"], \"ulimits\": {\"nofile\": {\"soft\": 65536, \"hard\": "
	        "65536}}}}, \"networks\": {\"edgex-network\": {\"driver\": \"bridge\"}}}",
	};
	ef_manifest *m;

	(void)state;
	for (size_t i = 0; i < sizeof(stacks) / sizeof(stacks[0]); i++)
		ef_manifest_free(parse_ok(stacks[i]));
	/* links: a dependency like depends_on, not twice */
	m = parse_ok(stacks[3]);
	assert_int_equal(ef_manifest_find(m, "telegraf")->ndepends_on, 1);
	assert_string_equal(ef_manifest_find(m, "grafana")->depends_on[0].service, "influxdb");
	assert_int_equal(ef_manifest_find(m, "grafana")->depends_on[0].condition, EF_DEP_STARTED);
	ef_manifest_free(m);
}

/* ---------------------------------------------------------------------------
 * Refusals: the first finding's message, exactly. */

static void test_refusals(void **state)
{
	static const struct {
		const char *json, *msg;
	} t[] = {
	        {WEB("\"build\": \".\""),
	         F ": $.services.web.build: a device does not build images: publish one to a "
	           "registry and set image: (pinned by digest)"},
	        {"{\"services\": {\"web\": {\"build\": {\"context\": \".\"}}}}",
	         F ": $.services.web.build: a device does not build images: publish one to a "
	           "registry and set image: (pinned by digest)"},
	        {WEB("\"runtime\": \"runc\""),
	         F ": $.services.web.runtime: 'runtime' is not supported: the device runs "
	           "containers with its engine's default runtime"},
	        {WEB("\"depends_on\": [\"db\"]"),
	         F ": $.services.web.depends_on: depends on 'db', which is not a service of this "
	           "file (or whose profiles are not active); add it or remove the dependency"},
	        {WEB("\"depends_on\": {\"web\": null}"),
	         F ": $.services.web.depends_on.web: a service cannot depend on itself"},
	        {WEB("\"depends_on\": {\"db\": {\"condition\": \"service_ready\"}}"),
	         F ": $.services.web.depends_on.db.condition: expected \"service_started\", "
	           "\"service_healthy\" or \"service_completed_successfully\""},
	        {WEB("\"networks\": {\"n\": {\"mac_address\": \"02:42:ac:11:00:02\"}}"),
	         F ": $.services.web.networks.n.mac_address: not supported: blue and green "
	           "instances run side by side and cannot share it; remove it"},
	        {WEB("\"networks\": [\"x\"], \"network_mode\": \"host\""),
	         F ": $.services.web.network_mode: network_mode 'host' cannot be combined with "
	           "networks; keep one"},
	        {WEB("\"expose\": [\"90-80\"]"),
	         F ": $.services.web.expose[0]: expected a container port such as 80, \"80/udp\" "
	           "or \"8000-8010\" (ports 1-65535, the range ascending)"},
	        {"{\"services\": {\"a\": {" IMG ", \"container_name\": \"x\"}, \"b\": {" IMG
	         ", \"container_name\": \"x\"}}}",
	         F ": $.services.b.container_name: 'x' is also the container_name of a"},
	        {WEB("\"secrets\": [\"nope\"]"),
	         F ": $.services.web.secrets: secret 'nope' is not declared; add it under the "
	           "top-level secrets"},
	        {"{\"services\": {}, \"secrets\": {\"s\": {\"external\": true}}}",
	         F ": $.secrets.s.external: 'external' is not supported: a device has no secret "
	           "store; put the file in the environment directory (encrypted with SOPS, "
	           "docs/secrets.md)"},
	        {"{\"services\": {}, \"secrets\": {\"s\": {\"file\": \"../x\"}}}",
	         F ": $.secrets.s.file: the file '../x' leaves the environment directory; keep the "
	           "file inside it (or use an absolute path, checked by the device policy)"},
	        {"{\"services\": {}, \"configs\": {\"c\": {\"file\": \"a\", \"content\": \"b\"}}}",
	         F ": $.configs.c: give exactly one of file, environment or content"},
	        {"{\"services\": {\"web\": {" IMG ", \"configs\": [{\"source\": \"c\", \"target\": "
	         "\"x\"}]}}, \"configs\": {\"c\": {\"content\": \"\"}}}",
	         F ": $.services.web.configs[0]: the target 'x' must be an absolute path without "
	           "'..'"},
	        {"{\"services\": {\"db\": {" IMG "}, \"web\": {" IMG
	         ", \"links\": [\"db:database\"]}}}",
	         F ": $.services.web.links[0]: 'db:database': a link alias is not supported; add "
	           "'database' to the aliases of service db under its networks"},
	        {WEB("\"tmpfs\": \"run\""),
	         F ": $.services.web.tmpfs: 'run' is not a tmpfs mount: expected an absolute path, "
	           "optionally \":size=64m,mode=1777\""},
	        {WEB("\"stop_signal\": \"SIGFOO\""),
	         F ": $.services.web.stop_signal: expected a signal name such as \"SIGTERM\" or "
	           "\"SIGQUIT\", or a number"},
	        {WEB("\"extra_hosts\": [\"db\"]"),
	         F ": $.services.web.extra_hosts[0]: 'db': expected \"host:address\" or "
	           "\"host=address\""},
	        {WEB("\"extra_hosts\": {\"db\": \"not-an-ip\"}"), F
	         ": $.services.web.extra_hosts.db: 'not-an-ip' is not an IPv4 or IPv6 address (or "
	         "\"host-gateway\")"},
	        {WEB("\"dns\": [\"dns.google\"]"),
	         F ": $.services.web.dns: 'dns.google' is not an IPv4 or IPv6 address"},
	        {WEB("\"hostname\": \"a b\""), F
	         ": $.services.web.hostname: 'a b' is not a host name (at most 64 letters, digits, "
	         "'-', '_', '.')"},
	        {WEB("\"hostname\": "
	             "\"a1234567890123456789012345678901234567890123456789012345678901234\""),
	         F ": $.services.web.hostname: "
	           "'a1234567890123456789012345678901234567890123456789012345678901234' "
	           "is not a host name (at most 64 letters, digits, '-', '_', '.')"},
	        {WEB("\"hostname\": \"a\\u0007b\""),
	         F ": $.services.web.hostname: control characters are not allowed here; write a "
	           "plain name"},
	        {WEB("\"sysctls\": [\"net.core.somaxconn\"]"),
	         F ": $.services.web.sysctls[0]: 'net.core.somaxconn' has no '=VALUE'"},
	        {WEB("\"ulimits\": {\"nofile\": {\"soft\": 10, \"hard\": 5}}"),
	         F ": $.services.web.ulimits.nofile: soft (10) is above hard (5)"},
	        {WEB("\"ulimits\": {\"files\": 5}"), F
	         ": $.services.web.ulimits.files: 'files' is not a resource limit (such as nofile "
	         "or nproc)"},
	        {WEB("\"logging\": {\"driver\": \"json-file\", \"options\": {\"max-size\": null}}"),
	         F ": $.services.web.logging.options.max-size: expected a value, found null"},
	        {WEB("\"cpus\": \"lots\""),
	         F ": $.services.web.cpus: expected a number of CPUs such as 0.5 or 2"},
	        {WEB("\"pids_limit\": 0"),
	         F ": $.services.web.pids_limit: expected a number of processes (1-4194304, or -1 "
	           "for unlimited)"},
	        {WEB("\"platform\": \"arm64\""),
	         F ": $.services.web.platform: 'arm64' is not a platform: expected "
	           "\"os/arch[/variant]\" such as \"linux/arm64\" or \"linux/arm/v7\""},
	        {WEB("\"device_cgroup_rules\": [\"c 188:* rw\", \"x 1:2 r\"]"),
	         F ": $.services.web.device_cgroup_rules[1]: expected a device cgroup rule \"TYPE "
	           "MAJOR:MINOR ACCESS\" such as \"c 188:* rw\" (TYPE a, b or c; MAJOR and MINOR a "
	           "number or *; ACCESS of r, w and m)"},
	        {WEB("\"device_cgroup_rules\": [\"c 188:* rwr\"]"),
	         F ": $.services.web.device_cgroup_rules[0]: expected a device cgroup rule \"TYPE "
	           "MAJOR:MINOR ACCESS\" such as \"c 188:* rw\" (TYPE a, b or c; MAJOR and MINOR a "
	           "number or *; ACCESS of r, w and m)"},
	        {WEB("\"device_cgroup_rules\": [\"c 188: rw\"]"),
	         F ": $.services.web.device_cgroup_rules[0]: expected a device cgroup rule \"TYPE "
	           "MAJOR:MINOR ACCESS\" such as \"c 188:* rw\" (TYPE a, b or c; MAJOR and MINOR a "
	           "number or *; ACCESS of r, w and m)"},
	        {WEB("\"deploy\": {\"mode\": \"global-job\"}"),
	         F ": $.services.web.deploy.mode: only \"replicated\" and \"global\" (one instance "
	           "on the device) are supported"},
	        {WEB("\"deploy\": {\"replicas\": 3}"),
	         F ": $.services.web.deploy.replicas: a device runs one instance of a service "
	           "(blue/green gives two during an update); use 1 or remove it"},
	        {WEB("\"deploy\": {\"resources\": {\"reservations\": {\"devices\": [{\"driver\": "
	             "\"nvidia\"}]}}}"),
	         F
	         ": $.services.web.deploy.resources.reservations.devices[0].capabilities: missing; "
	         "list what the device must offer, such as [gpu]"},
	        {WEB("\"gpus\": [{\"count\": 1, \"device_ids\": [\"0\"]}]"),
	         F ": $.services.web.gpus[0].count: count and device_ids exclude each other (as in "
	           "Compose); keep one"},
	        {WEB("\"gpus\": [{\"count\": 0}]"), F
	         ": $.services.web.gpus[0].count: expected a number of devices 1-1024 or \"all\""},
	        {WEB("\"gpus\": \"some\""),
	         F ": $.services.web.gpus: expected a list of device requests or \"all\", found a "
	           "string"},
	        {WEB("\"restart\": \"always\", \"deploy\": {\"restart_policy\": {\"condition\": "
	             "\"none\"}}"),
	         F ": $.services.web.deploy.restart_policy: restart_policy gives 'no' but the "
	           "service's restart is 'always'; keep one of them"},
	        {WEB("\"env_file\": \"/etc/app.env\""),
	         F ": $.services.web.env_file: env_file '/etc/app.env' must be a relative path "
	           "without control characters"},
	        {WEB("\"profiles\": [\"a b\"]"),
	         F ": $.services.web.profiles[0]: 'a b' is not a profile name"},
	        {WEB("\"volumes\": [\"/a:/x\", \"/b:/x\"]"),
	         F ": $.services.web.volumes[1]: target '/x' is mounted twice, differently (docker "
	           "compose would keep only the last); keep one"},
	        {WEB("\"volumes\": [\"/a:/y\", \"/a:/y\", \"/b:/x\", \"/b:/x:ro\"]"),
	         F ": $.services.web.volumes[3]: target '/x' is mounted twice, differently (docker "
	           "compose would keep only the last); keep one"},
	        {WEB("\"scale\": 2"),
	         F ": $.services.web.scale: a device runs one instance of a service (blue/green "
	           "gives two during an update); use 1 or remove it"},
	        {WEB("\"sysctl\": {}"),
	         F ": $.services.web.sysctl: unknown key 'sysctl': not a key of a Compose service; "
	           "check the spelling (docs/manifest.md lists every key)"},
	        {"{\"services\": {\"web\": {\"image\": \"nginx:1.25\", \"cpu_shares\": 1}}}",
	         F ": $.services.web.cpu_shares: expected a relative weight 2-262144 (1024 is the "
	           "default)"},
	        {"{\"services\": {\"web\": {\"image\": \"nginx:1.25\", \"cpuset\": \"a\"}}}",
	         F ": $.services.web.cpuset: 'a': expected CPUs such as \"0-3\" or \"0,2\""},
	        {"{\"services\": {\"web\": {\"image\": \"nginx:1.25\", \"group_add\": [true]}}}",
	         F ": $.services.web.group_add[0]: expected a group name or number"},
	        {"{\"services\": {\"web\": {\"image\": \"nginx:1.25\", \"security_opt\": [\"\"]}}}",
	         F ": $.services.web.security_opt[0]: expected an option such as "
	           "\"no-new-privileges:true\""},
	        {"{\"services\": {\"web\": {\"image\": \"nginx:1.25\", \"init\": \"yes\"}}}",
	         F ": $.services.web.init: expected true or false, found a string"},
	        {"{\"services\": {\"web\": {\"image\": \"nginx:1.25\", \"stop_grace_period\": "
	         "\"5\"}}}",
	         F ": $.services.web.stop_grace_period: expected a duration such as \"30s\", "
	           "\"1m30s\" or \"500ms\""},
	        {"{\"services\": {\"web\": {\"image\": \"nginx:1.25\", \"memswap_limit\": \"x\"}}}",
	         F ": $.services.web.memswap_limit: expected a number of bytes or a size such as "
	           "\"512m\", \"1g\" or \"256k\""},
	        {"{\"services\": {\"web\": {\"image\": \"nginx:1.25\", \"mem_reservation\": -5}}}",
	         F ": $.services.web.mem_reservation: expected a number of bytes or a size such as "
	           "\"512m\", \"1g\" or \"256k\""},
	        {"{\"services\": {\"web\": {\"image\": \"nginx:1.25\", \"domainname\": \"a b\"}}}",
	         F ": $.services.web.domainname: 'a b' is not a domain name (at most 64 letters, "
	           "digits, '-', '_', '.')"},
	        {"{\"services\": {\"web\": {\"image\": \"nginx:1.25\", \"dns_search\": [\"\"]}}}",
	         F ": $.services.web.dns_search[0]: '' is not a domain name"},
	        {"{\"services\": {\"web\": {\"image\": \"nginx:1.25\", \"env_file\": [{\"path\": "
	         "\"a\", \"required\": \"no\"}]}}}",
	         F ": $.services.web.env_file[0].required: expected true or false, found a string"},
	        {"{\"services\": {\"web\": {\"image\": \"nginx:1.25\", \"logging\": {\"driver\": "
	         "\"a b\"}}}}",
	         F ": $.services.web.logging.driver: 'a b' is not a logging driver name"},
	        {"{\"services\": {\"web\": {\"image\": \"nginx:1.25\", \"secrets\": [{\"source\": "
	         "\"s\", \"mode\": \"777\"}]}}, \"secrets\": {\"s\": {\"file\": \"x\"}}}",
	         F ": $.services.web.secrets[0].mode: expected permission bits such as 0440 (a "
	           "number, or an octal string \"0440\")"},
	        {"{\"services\": {\"web\": {\"image\": \"nginx:1.25\", \"tty\": 1}}}",
	         F ": $.services.web.tty: expected true or false, found a number"},
	        {"{\"services\": {\"web\": {\"image\": \"nginx:1.25\", \"shm_size\": \"1x\"}}}",
	         F ": $.services.web.shm_size: expected a number of bytes or a size such as "
	           "\"512m\", \"1g\" or \"256k\""},
	        {"{\"services\": {\"web\": {\"image\": \"nginx:1.25\", \"healthcheck\": "
	         "{\"disable\": \"yes\"}}}}",
	         F ": $.services.web.healthcheck.disable: expected true or false, found a string"},
	        {"{\"services\": {\"web\": {\"image\": \"nginx:1.25\", \"depends_on\": {\"db\": "
	         "{\"restart\": \"yes\"}}}}}",
	         F
	         ": $.services.web.depends_on.db.restart: expected true or false, found a string"},
	        {"{\"services\": {\"web\": {\"image\": \"nginx:1.25\", \"networks\": {\"n\": "
	         "{\"aliases\": [\"a b\"]}}}}, \"networks\": {\"n\": null}}",
	         F ": $.services.web.networks.n.aliases[0]: 'a b' is not a host name"},
	        {"{\"services\": {}, \"networks\": {\"n\": {\"ipam\": {\"config\": [{\"subnet\": "
	         "\"10.0.0.1\"}]}}}}",
	         F ": $.networks.n.ipam.config[0].subnet: '10.0.0.1' is not an address range such "
	           "as \"172.28.0.0/16\""},
	        {"{\"services\": {}, \"volumes\": {\"v\": {\"external\": {\"name\": \"a\"}, "
	         "\"name\": \"b\"}}}",
	         F ": $.volumes.v.external.name: external.name and name differ; keep name and "
	           "write external: true"},
	        {"{\"services\": {}, \"volumes\": {\"v\": {\"external\": {\"driver\": "
	         "\"x\"}}}}",
	         F ": $.volumes.v.external.driver: expected only name in the older form external: "
	           "{name: X}; write name: X and external: true"},
	        {"{\"services\": {}, \"volumes\": {\"v\": {\"external\": true, \"driver\": "
	         "\"x\"}}}",
	         F ": $.volumes.v.driver: an external entry is made outside the stack: only name "
	           "may be given with it"},
	        {"{\"services\": {}, \"configs\": {\"c\": {\"environment\": \"A B\"}}}",
	         F ": $.configs.c.environment: 'A B' is not a variable name"},
	        {WEB("\"environment\": {\"A\": \"\\u00ff\"}, \"labels\": {\"k\": \"v\"}"), NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ef_manifest *m = NULL;
		int rc = ef_manifest_parse(&m, t[i].json, strlen(t[i].json), F);
		if (!t[i].msg) {
			if (rc != 0)
				fail_msg("case %zu: %s", i, ef_error_last());
			ef_manifest_free(m);
			continue;
		}
		if (rc != EF_EINVALID || strcmp(ef_error_last(), t[i].msg) != 0)
			fail_msg("case %zu: %s\n  got  %d: %s\n  want %s", i, t[i].json, rc,
			         ef_error_last(), t[i].msg);
		assert_null(m);
	}
}

/* Raw bytes a JSON text cannot carry through cJSON unchanged. */
static void test_bad_bytes(void **state)
{
	static const char nul[] = "{\"services\": {\"web\": {\"image\": \"a\\u0000b\"}}}";
	static const char utf8[] = "{\"services\": {\"web\": {\"image\": \"nginx\", "
	                           "\"environment\": {\"A\": \"\xc3\x28\"}}}}";
	ef_manifest *m = NULL;

	(void)state;
	assert_int_equal(ef_manifest_parse(&m, nul, strlen(nul), F), EF_EINVALID);
	assert_string_equal(ef_error_last(), F ": byte 33: a NUL character (\\u0000) is not "
	                                       "allowed in a manifest; remove it");
	assert_int_equal(ef_manifest_parse(&m, utf8, strlen(utf8), F), EF_EINVALID);
	assert_string_equal(ef_error_last(),
	                    F ": $.services.web.environment.A: not valid UTF-8; write the value as "
	                      "UTF-8 text");
}

/* ---------------------------------------------------------------------------
 * ef_manifest_parse_doc: every finding, with positions. */

static void test_parse_doc_findings(void **state)
{
	const char *json = "{\"services\": {\"web\": {\"image\": \"nginx\", \"runtime\": \"x\", "
	                   "\"ports\": [\"99999\"], \"restart\": \"sometimes\"}, \"db\": "
	                   "{\"image\": \"Bad\"}, \"ok\": {\"image\": \"nginx\"}}, \"volumes\": "
	                   "{\"v\": {\"driver_opts\": 5}}}";
	cJSON *doc = cJSON_Parse(json);
	ef_compose_pos *pos = NULL;
	ef_findings f;
	ef_manifest *m = NULL;
	ef_buf out = EF_BUF_INIT(1 << 16);
	const cJSON *webn;

	(void)state;
	assert_non_null(doc);
	ef_findings_init(&f);
	assert_int_equal(ef_compose_pos_new(&pos), 0);
	/* positions as the YAML reader records them: a few nodes only */
	webn = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "services"), "web");
	assert_int_equal(ef_compose_pos_add(pos, cJSON_GetObjectItem(webn, "runtime"),
	                                    "env/compose.yaml", 5, 14),
	                 0);
	assert_int_equal(ef_compose_pos_add(pos, webn, "env/compose.yaml", 3, 5), 0);
	assert_int_equal(ef_manifest_parse_doc(&m, doc, "env/compose.yaml", pos, &f), EF_EINVALID);
	assert_null(m);
	assert_int_equal(ef_findings_format(&out, &f), 0);
	assert_string_equal(
	        out.ptr,
	        "env/compose.yaml: $.volumes.v.driver_opts: expected an object or an array of "
	        "\"KEY=VALUE\", found a number\n"
	        "env/compose.yaml:5:14: $.services.web.runtime: 'runtime' is not supported: the "
	        "device runs containers with its engine's default runtime\n"
	        /* the port has no position of its own: the nearest ancestor's */
	        "env/compose.yaml:3:5: $.services.web.ports[0]: '99999' is not a port mapping "
	        "(use \"80\", \"8080:80\" or \"127.0.0.1:8080:80/udp\"; ports 1-65535)\n"
	        "env/compose.yaml:3:5: $.services.web.restart: expected \"no\", \"always\", "
	        "\"on-failure\", \"on-failure:N\" or \"unless-stopped\"\n"
	        "env/compose.yaml: $.services.db.image: 'Bad' is not a valid image reference: the "
	        "repository must be lowercase letters, digits and '/', '.', '_', '-' between "
	        "them\n");
	/* ef_error_last() is the first finding */
	assert_string_equal(ef_error_last(),
	                    "env/compose.yaml: $.volumes.v.driver_opts: expected an object or an "
	                    "array of \"KEY=VALUE\", found a number");
	ef_buf_dispose(&out);
	ef_findings_dispose(&f);
	ef_compose_pos_free(pos);
	cJSON_Delete(doc);
}

static void test_profiles(void **state)
{
	const char *json =
	        "{\"services\": {\"web\": {\"image\": \"nginx\", \"depends_on\": "
	        "{\"debug\": {\"required\": false}}}, \"debug\": {\"image\": \"busybox\", "
	        "\"profiles\": [\"dev\"]}, \"tool\": {\"image\": \"busybox\", "
	        "\"profiles\": [\"ops\", \"dev\"], \"ports\": [\"80:80\"]}, \"web2\": "
	        "{\"image\": \"nginx\", \"ports\": [\"80:80\"], \"profiles\": [\"prod\"]}, "
	        "\"grid\": {\"image\": \"selenium\", \"scale\": 2, \"profiles\": [\"grid\"]}}}";
	cJSON *doc = cJSON_Parse(json);
	char *grid[] = {"grid", NULL};
	char *dev[] = {"dev", NULL};
	ef_manifest *m = NULL;

	(void)state;
	/* none active: only web; its optional dependency on debug is dropped */
	assert_int_equal(ef_manifest_parse_doc(&m, doc, F, NULL, NULL), 0);
	assert_int_equal(m->nservices, 1);
	assert_int_equal(m->services[0].ndepends_on, 0);
	ef_manifest_free(m);
	/* dev: web, debug, tool (the port clash with web2 does not count: inactive) */
	assert_int_equal(ef_manifest_parse_doc_profiles(&m, doc, F, NULL, NULL, dev), 0);
	assert_int_equal(m->nservices, 3);
	assert_int_equal(ef_manifest_find(m, "web")->ndepends_on, 1);
	ef_manifest_free(m);
	/* what the device refuses in a service is found where its profile is
	 * active, not elsewhere (zabbix's selenium services: scale: 2) */
	assert_int_equal(ef_manifest_parse_doc_profiles(&m, doc, F, NULL, NULL, grid), EF_EINVALID);
	assert_non_null(
	        strstr(ef_error_last(), "$.services.grid.scale: a device runs one instance"));
	cJSON_Delete(doc);
}

/* ---------------------------------------------------------------------------
 * The spec hash covers the new fields and not their order. */

static char *hash_of(const char *json)
{
	ef_manifest *m = parse_ok(json);
	char *h = strdup(web(m)->spec_hash);

	ef_manifest_free(m);
	return h;
}

static void test_hash_new_fields(void **state)
{
	static const char *const changed[] = {
	        "\"expose\": [81]",
	        "\"container_name\": \"w\"",
	        "\"stop_signal\": \"SIGINT\"",
	        "\"stop_grace_period\": \"5s\"",
	        "\"init\": true",
	        "\"extra_hosts\": [\"a:1.2.3.4\"]",
	        "\"dns\": [\"1.1.1.1\"]",
	        "\"hostname\": \"h\"",
	        "\"sysctls\": [\"a.b=1\"]",
	        "\"ulimits\": {\"nofile\": 10}",
	        "\"shm_size\": 1024",
	        "\"group_add\": [\"g\"]",
	        "\"security_opt\": [\"no-new-privileges\"]",
	        "\"logging\": {\"driver\": \"local\"}",
	        "\"cpus\": 1",
	        "\"mem_reservation\": 1024",
	        "\"pids_limit\": 10",
	        "\"cpu_shares\": 100",
	        "\"cpuset\": \"0\"",
	        "\"platform\": \"linux/arm64\"",
	        "\"tty\": true",
	        "\"stdin_open\": true",
	        "\"env_file\": \"a.env\"",
	        "\"tmpfs\": \"/t\"",
	        "\"volumes\": [\"./x:/x\"]",
	        "\"volumes\": [\"~/x:/x\"]",
	        "\"volumes\": [\"/x\"]",
	        "\"healthcheck\": {\"start_interval\": \"1s\"}",
	        "\"networks\": {\"default\": {\"aliases\": [\"a\"]}}",
	        "\"device_cgroup_rules\": [\"c 188:* rw\"]",
	};
	char *base = hash_of(WEB("\"user\": \"1\""));

	(void)state;
	for (size_t i = 0; i < sizeof(changed) / sizeof(changed[0]); i++) {
		char json[512];
		char *h;
		snprintf(json, sizeof(json), WEB("\"user\": \"1\", %s"), changed[i]);
		h = hash_of(json);
		if (strcmp(h, base) == 0)
			fail_msg("'%s' does not change the hash", changed[i]);
		free(h);
	}
	free(base);
	/* sets in another order, the same */
	base = hash_of(WEB("\"cap_add\": [\"A\", \"B\"], \"sysctls\": {\"a\": 1, \"b\": 2}, "
	                   "\"extra_hosts\": [\"x:1.1.1.1\", \"y:2.2.2.2\"]"));
	{
		char *h = hash_of(WEB("\"cap_add\": [\"b\", \"CAP_A\"], \"sysctls\": [\"b=2\", "
		                      "\"a=1\"], \"extra_hosts\": {\"y\": \"2.2.2.2\", \"x\": "
		                      "\"1.1.1.1\"}"));
		assert_string_equal(h, base);
		free(h);
	}
	free(base);
}

/* ---------------------------------------------------------------------------
 * Policy on the new fields. */

static void test_policy_new(void **state)
{
	ef_manifest *m = parse_ok(
	        "{\"services\": {\"web\": {" IMG ", \"cap_add\": [\"ALL\"], \"sysctls\": "
	        "[\"net.ipv4.ip_forward=1\", \"kernel.shmmax=1\"], \"security_opt\": "
	        "[\"no-new-privileges\", \"seccomp:unconfined\"], \"volumes\": [\"./cfg:/cfg\", "
	        "\"/etc:/host-etc\"], \"networks\": [\"lan\"], \"secrets\": [\"s\"]}}, "
	        "\"networks\": {\"lan\": {\"driver\": \"macvlan\"}}, \"secrets\": {\"s\": "
	        "{\"file\": \"/etc/shadow\"}}}");
	ef_policy strict = {0}, loose = {0};
	char *all[] = {"ALL", NULL}, *sysctls[] = {"net.ipv4.*", "kernel.shmmax", NULL};
	char *secopts[] = {"seccomp:unconfined", NULL}, *drivers[] = {"macvlan", NULL};
	char *binds[] = {"/etc", NULL};
	char **findings = NULL;
	static const char *const want[] = {
	        "service web: capability ALL (cap_add: every capability) is refused by the device "
	        "policy; add ALL to [policy] allowed_capabilities to allow it",
	        "service web: bind mount of /etc is refused by the device policy; add /etc (or a "
	        "parent directory) to [policy] bind_mounts to allow it",
	        "service web: sysctl kernel.shmmax is refused by the device policy; add it (or a "
	        "prefix such as net.ipv4.*) to [policy] allowed_sysctls to allow it",
	        "service web: sysctl net.ipv4.ip_forward is refused by the device policy; add it "
	        "(or "
	        "a prefix such as net.ipv4.*) to [policy] allowed_sysctls to allow it",
	        "service web: security_opt seccomp:unconfined is refused by the device policy; add "
	        "it to [policy] allowed_security_opts to allow it",
	        "service web: secret file /etc/shadow is refused by the device policy; add "
	        "/etc/shadow (or a parent directory) to [policy] bind_mounts to allow it",
	        "service web: network lan (driver macvlan) is refused by the device policy; add "
	        "macvlan to [policy] network_drivers to allow it",
	        NULL};

	(void)state;
	strict.allow_tags = true;
	assert_int_equal(ef_policy_check(&findings, &strict, m), EF_EREJECTED);
	strv_is(findings, want);
	ef_strv_free(findings);
	loose.allow_tags = true;
	loose.allowed_capabilities = all;
	loose.allowed_sysctls = sysctls;
	loose.allowed_security_opts = secopts;
	loose.network_drivers = drivers;
	loose.bind_mounts = binds;
	findings = NULL;
	if (ef_policy_check(&findings, &loose, m) != 0)
		fail_msg("refused: %s", findings ? findings[0] : "?");
	ef_manifest_free(m);
}

/* A policy list may go on over indented lines: no length limit for a list. */
static void test_policy_file_lists(void **state)
{
	char path[] = "/tmp/ef-policy-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;
	ef_policy p;
	size_t n = 0;

	(void)state;
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs("[policy]\nallowed_sysctls = net.ipv4.ip_forward,\n", f);
	for (int i = 0; i < 40; i++) /* 40 lines of 5 names: far beyond one line's 200 */
		fprintf(f,
		        "    net.core.a%d, net.core.b%d, net.core.c%d, net.core.d%d, "
		        "net.core.e%d\n",
		        i, i, i, i, i);
	fputs("  ; a comment line is not a continuation\nallowed_capabilities = ALL\n", f);
	fclose(f);
	assert_int_equal(ef_config_load_policy(&p, path), 0);
	while (p.allowed_sysctls[n])
		n++;
	assert_int_equal(n, 1 + 40 * 5);
	assert_string_equal(p.allowed_sysctls[200], "net.core.e39");
	assert_string_equal(p.allowed_capabilities[0], "ALL");
	ef_policy_dispose(&p);

	/* an indented line under a key that is not a list is still the key set twice */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("[policy]\nallow_tags = true\n  false\n", f);
	fclose(f);
	assert_int_equal(ef_config_load_policy(&p, path), EF_EINVALID);
	assert_non_null(strstr(ef_error_last(), ":3: [policy] allow_tags is set twice; keep one"));
	unlink(path);
}

/* ---------------------------------------------------------------------------
 * docs/manifest.md and the parser's key tables agree. */

static const struct {
	const char *heading, *object;
} doc_sections[] = {
        {"## Top-level keys", "top"},   {"## Service keys", "service"},
        {"## Network keys", "network"}, {"## Volume keys", "volume"},
        {"## Secret keys", "secret"},   {"## Config keys", "config"},
};

/* A row of the x-edgeflip table: "strategy", "health.http.path",
 * "ports.PORT.idle_timeout". Its first part is a key of "x-edgeflip", the
 * option after "ports.PORT." one of "x-edgeflip.ports". */
static const char *const x_objects[2] = {"x-edgeflip", "x-edgeflip.ports"};

static void doc_x_key(const char *row, unsigned seen[2])
{
	char part[64];
	const char *opt = NULL;

	snprintf(part, sizeof(part), "%.*s", (int)strcspn(row, "."), row);
	if (!strcmp(part, "ports")) {
		if (strncmp(row, "ports.PORT.", 11) != 0)
			fail_msg("docs/manifest.md: x-edgeflip row '%s': write ports.PORT.OPTION",
			         row);
		opt = row + 11;
	}
	for (size_t t = 0; t < 2; t++) {
		const char *want = t ? opt : part;
		size_t i = 0;

		if (!want)
			continue;
		while (ef_manifest_key_at(x_objects[t], i) &&
		       strcmp(ef_manifest_key_at(x_objects[t], i), want))
			i++;
		if (!ef_manifest_key_at(x_objects[t], i))
			fail_msg("docs/manifest.md lists %s key '%s'; the parser does not",
			         x_objects[t], want);
		seen[t] |= 1u << i;
	}
}

static void test_doc_tables(void **state)
{
	ef_buf doc = EF_BUF_INIT(1 << 20);
	char *line, *save = NULL;
	const char *object = NULL;
	size_t rows[6] = {0};
	int section = -1;
	bool in_x = false;
	unsigned x_seen[2] = {0}; /* bit i: key i of "x-edgeflip" / "x-edgeflip.ports" */

	(void)state;
	assert_int_equal(ef_read_file(&doc, EF_SOURCE_DIR "/docs/manifest.md", 1 << 20), 0);
	assert_int_equal(ef_buf_put(&doc, "", 1), 0);
	for (line = strtok_r(doc.ptr, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char key[64], status[16];
		ef_key_status want = EF_KEY_SUPPORTED, got = EF_KEY_SUPPORTED;
		const char *reason;

		if (line[0] == '#') { /* any heading ends a table section */
			section = -1;
			object = NULL;
			in_x = !strcmp(line, "### x-edgeflip (per service)");
			for (size_t i = 0; i < 6; i++)
				if (!strcmp(line, doc_sections[i].heading)) {
					section = (int)i;
					object = doc_sections[i].object;
				}
			continue;
		}
		if (in_x && sscanf(line, "| `%63[^`]` |", key) == 1) {
			doc_x_key(key, x_seen);
			continue;
		}
		if (!object || sscanf(line, "| `%63[^`]` | %15[a-z] |", key, status) != 2)
			continue;
		if (!strcmp(status, "supported"))
			want = EF_KEY_SUPPORTED;
		else if (!strcmp(status, "ignored"))
			want = EF_KEY_IGNORED;
		else if (!strcmp(status, "refused"))
			want = EF_KEY_REFUSED;
		else
			fail_msg("docs/manifest.md: %s key %s: status '%s'", object, key, status);
		if (ef_manifest_key_status(&got, &reason, object, key) != 0)
			fail_msg("docs/manifest.md lists %s key '%s'; the parser does not", object,
			         key);
		if (got != want)
			fail_msg("docs/manifest.md: %s key '%s' is %s; the parser says %d", object,
			         key, status, (int)got);
		if (want != EF_KEY_SUPPORTED && (!reason || !strstr(line, reason)))
			fail_msg("docs/manifest.md: %s key '%s': the reason differs from the "
			         "parser's ('%s')",
			         object, key, reason ? reason : "");
		rows[section]++;
	}
	/* every key of x-edgeflip and of one port's options is in its table */
	for (size_t t = 0; t < 2; t++)
		for (size_t i = 0; ef_manifest_key_at(x_objects[t], i); i++)
			if (!(x_seen[t] & (1u << i)))
				fail_msg("docs/manifest.md \"x-edgeflip (per service)\" lacks %s "
				         "key '%s'",
				         x_objects[t], ef_manifest_key_at(x_objects[t], i));
	/* and every key of the parser is in the document */
	for (size_t i = 0; i < 6; i++) {
		size_t n = 0;
		while (ef_manifest_key_at(doc_sections[i].object, n))
			n++;
		if (n != rows[i])
			fail_msg("%s: the parser has %zu keys, docs/manifest.md lists %zu",
			         doc_sections[i].object, n, rows[i]);
	}
	ef_buf_dispose(&doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_depends_on),
	        cmocka_unit_test(test_networks),
	        cmocka_unit_test(test_volumes_and_mounts),
	        cmocka_unit_test(test_secrets_configs),
	        cmocka_unit_test(test_scalars),
	        cmocka_unit_test(test_deploy),
	        cmocka_unit_test(test_healthcheck_new),
	        cmocka_unit_test(test_gateway_stacks),
	        cmocka_unit_test(test_refusals),
	        cmocka_unit_test(test_bad_bytes),
	        cmocka_unit_test(test_parse_doc_findings),
	        cmocka_unit_test(test_profiles),
	        cmocka_unit_test(test_hash_new_fields),
	        cmocka_unit_test(test_policy_new),
	        cmocka_unit_test(test_policy_file_lists),
	        cmocka_unit_test(test_doc_tables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
