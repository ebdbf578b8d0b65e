/* The device-side policy: every finding, with exact wording. */
#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/manifest.h"
#include "edgeflip/policy.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define DIGEST       "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define PINNED       "\"image\": \"registry.example.com/app@" DIGEST "\""
#define WEB(members) "{\"services\": {\"web\": {" members "}}}"

typedef struct {
	const char *registries; /* comma list, NULL = any */
	bool allow_tags, allow_privileged, allow_host_namespaces, allow_devices;
	const char *caps, *binds;
} policy_spec;

typedef struct {
	const char *name;
	policy_spec policy;
	const char *json;
	const char *findings[8]; /* NULL-terminated; empty = allowed */
} policy_case;

static const policy_case cases[] = {
        {"pinned image, default policy", {0}, WEB(PINNED), {NULL}},
        {"empty manifest", {0}, "{\"services\": {}}", {NULL}},
        {"tag refused",
         {0},
         WEB("\"image\": \"registry.example.com/app:1.0\""),
         {"service web: image registry.example.com/app:1.0 is not pinned by digest; pin it "
          "(name@sha256:...) or set [policy] allow_tags = true"}},
        {"tag allowed", {.allow_tags = true}, WEB("\"image\": \"app:1.0\""), {NULL}},
        {"tag and digest count as pinned", {0}, WEB("\"image\": \"app:1.0@" DIGEST "\""), {NULL}},
        {"registry allowed",
         {.registries = "other.example.com, Registry.Example.Com"},
         WEB(PINNED),
         {NULL}},
        {"registry refused, and docker.io is the implicit registry",
         {.registries = "registry.example.com", .allow_tags = true},
         "{\"services\": {\"a\": {\"image\": \"nginx\"}, \"b\": {\"image\": "
         "\"registry.example.com:5000/app\"}, \"c\": {\"image\": \"registry.example.com/app\"}}}",
         {"service a: registry docker.io (image nginx) is refused by the device policy; add it to "
          "[policy] registries to allow it",
          "service b: registry registry.example.com:5000 (image registry.example.com:5000/app) is "
          "refused by the device policy; add it to [policy] registries to allow it"}},
        {"privileged",
         {0},
         WEB(PINNED ", \"privileged\": true"),
         {"service web: privileged mode is refused by the device policy; set [policy] "
          "allow_privileged = true to allow it"}},
        {"privileged allowed",
         {.allow_privileged = true},
         WEB(PINNED ", \"privileged\": true"),
         {NULL}},
        {"host namespaces",
         {0},
         WEB(PINNED ", \"network_mode\": \"host\", \"pid\": \"host\", \"ipc\": \"host\""),
         {"service web: network_mode: host is refused by the device policy; set [policy] "
          "allow_host_namespaces = true to allow it",
          "service web: pid: host is refused by the device policy; set [policy] "
          "allow_host_namespaces = true to allow it",
          "service web: ipc: host is refused by the device policy; set [policy] "
          "allow_host_namespaces = true to allow it"}},
        {"other namespaces are fine",
         {0},
         WEB(PINNED ", \"network_mode\": \"none\", \"ipc\": \"private\""),
         {NULL}},
        {"host namespaces allowed",
         {.allow_host_namespaces = true},
         WEB(PINNED ", \"network_mode\": \"host\", \"pid\": \"host\", \"ipc\": \"host\""),
         {NULL}},
        {"capabilities",
         {.caps = "NET_ADMIN CAP_SYS_TIME"},
         WEB(PINNED
             ", \"cap_add\": [\"net_admin\", \"CAP_NET_ADMIN\", \"SYS_TIME\", \"SYS_ADMIN\", "
             "\"ALL\"], \"cap_drop\": [\"ALL\"]"),
         {"service web: capability ALL (cap_add: every capability) is refused by the device "
          "policy; add ALL to [policy] allowed_capabilities to allow it",
          "service web: capability SYS_ADMIN (cap_add) is refused by the device policy; add it to "
          "[policy] allowed_capabilities to allow it"}},
        {"devices",
         {0},
         WEB(PINNED ", \"devices\": [\"/dev/ttyUSB0\", \"/dev/i2c-1:/dev/i2c-1:rw\"]"),
         {"service web: device /dev/ttyUSB0 is refused by the device policy; set [policy] "
          "allow_devices = true to allow it",
          "service web: device /dev/i2c-1:/dev/i2c-1:rw is refused by the device policy; set "
          "[policy] allow_devices = true to allow it"}},
        {"device cgroup rules",
         {0},
         WEB(PINNED ", \"device_cgroup_rules\": [\"c 188:* rw\", \"b 8:0 r\"]"),
         {"service web: device cgroup rule \"c 188:* rw\" is refused by the device policy; set "
          "[policy] allow_devices = true to allow it",
          "service web: device cgroup rule \"b 8:0 r\" is refused by the device policy; set "
          "[policy] allow_devices = true to allow it"}},
        {"device cgroup rules allowed",
         {.allow_devices = true},
         WEB(PINNED ", \"device_cgroup_rules\": [\"c 188:* rw\", \"a *:* m\"]"),
         {NULL}},
        {"devices allowed",
         {.allow_devices = true},
         WEB(PINNED ", \"devices\": [\"/dev/x\"]"),
         {NULL}},
        {"device requests (GPUs)",
         {0},
         WEB(PINNED ", \"gpus\": \"all\", \"deploy\": {\"resources\": {\"reservations\": "
                    "{\"devices\": [{\"driver\": \"nvidia\", \"capabilities\": [\"compute\", "
                    "\"video\"]}]}}}"),
         {"service web: device request (GPUs: driver any, capabilities gpu) is refused by the "
          "device policy; set [policy] allow_devices = true to allow it",
          "service web: device request (GPUs: driver nvidia, capabilities compute, ...) is "
          "refused by the device policy; set [policy] allow_devices = true to allow it"}},
        {"device requests allowed",
         {.allow_devices = true},
         WEB(PINNED ", \"gpus\": \"all\""),
         {NULL}},
        {"bind mounts: component prefixes",
         {.binds = "/data/, /srv/app"},
         WEB(PINNED ", \"volumes\": [\"/data:/a\", \"/data/x/y:/b\", \"/data//x/./y:/c\", "
                    "\"/database:/d\", \"/srv/app/logs:/e\", \"/srv/apple:/f\", \"/srv:/g\", "
                    "\"/data/../etc:/h\", {\"type\": \"tmpfs\", \"target\": \"/i\"}]"),
         {"service web: bind mount of /database is refused by the device policy; add /database "
          "(or a parent directory) to [policy] bind_mounts to allow it",
          "service web: bind mount of /srv/apple is refused by the device policy; add /srv/apple "
          "(or a parent directory) to [policy] bind_mounts to allow it",
          "service web: bind mount of /srv is refused by the device policy; add /srv (or a parent "
          "directory) to [policy] bind_mounts to allow it",
          "service web: bind mount source /data/../etc contains '..' and is refused; write the "
          "path without '..'"}},
        {"bind mounts: none allowed by default; named volumes need no permission",
         {0},
         "{\"volumes\": {\"v\": {}}, \"services\": {\"web\": {" PINNED
         ", \"volumes\": [\"/etc:/etc:ro\", \"v:/v\"]}}}",
         {"service web: bind mount of /etc is refused by the device policy; add /etc (or a parent "
          "directory) to [policy] bind_mounts to allow it"}},
        {"bind mounts: '/' allows everything, '..' in a prefix allows nothing",
         {.binds = "/ /data/../etc"},
         WEB(PINNED ", \"volumes\": [\"/etc:/etc\", \"/:/host\"]"),
         {NULL}},
        {"bind mounts: a relative or '..' prefix matches nothing",
         {.binds = "data /x/../etc"},
         WEB(PINNED ", \"volumes\": [\"/etc:/etc\"]"),
         {"service web: bind mount of /etc is refused by the device policy; add /etc (or a parent "
          "directory) to [policy] bind_mounts to allow it"}},
        {"every finding of every service, services in name order",
         {.registries = "registry.example.com"},
         "{\"services\": {\"zz\": {\"image\": \"busybox:1\", \"privileged\": true}, \"aa\": "
         "{" PINNED
         ", \"devices\": [\"/dev/mem\"], \"cap_add\": [\"SYS_RAWIO\"], \"pid\": \"host\"}}}",
         {"service aa: pid: host is refused by the device policy; set [policy] "
          "allow_host_namespaces = true to allow it",
          "service aa: capability SYS_RAWIO (cap_add) is refused by the device policy; add it to "
          "[policy] allowed_capabilities to allow it",
          "service aa: device /dev/mem is refused by the device policy; set [policy] allow_devices "
          "= "
          "true to allow it",
          "service zz: registry docker.io (image busybox:1) is refused by the device policy; add "
          "it "
          "to [policy] registries to allow it",
          "service zz: image busybox:1 is not pinned by digest; pin it (name@sha256:...) or set "
          "[policy] allow_tags = true",
          "service zz: privileged mode is refused by the device policy; set [policy] "
          "allow_privileged = true to allow it"}},
};

static void make_policy(ef_policy *p, const policy_spec *s)
{
	memset(p, 0, sizeof(*p));
	if (s->registries)
		assert_int_equal(ef_strv_split(&p->registries, s->registries), 0);
	if (s->caps)
		assert_int_equal(ef_strv_split(&p->allowed_capabilities, s->caps), 0);
	if (s->binds)
		assert_int_equal(ef_strv_split(&p->bind_mounts, s->binds), 0);
	p->allow_tags = s->allow_tags;
	p->allow_privileged = s->allow_privileged;
	p->allow_host_namespaces = s->allow_host_namespaces;
	p->allow_devices = s->allow_devices;
}

static void test_policy_cases(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const policy_case *t = &cases[i];
		ef_manifest *m = NULL;
		ef_policy p;
		char **findings = (char **)1;
		size_t want = 0;
		int rc;

		while (t->findings[want])
			want++;
		if (ef_manifest_parse(&m, t->json, strlen(t->json), "compose.json") != 0)
			fail_msg("%s: manifest: %s", t->name, ef_error_last());
		make_policy(&p, &t->policy);
		rc = ef_policy_check(&findings, &p, m);
		if (rc != (want ? EF_EREJECTED : 0))
			fail_msg("%s: rc %d (%s)", t->name, rc, ef_error_last());
		if (ef_strv_len(findings) != want) {
			for (size_t k = 0; findings && findings[k]; k++)
				print_error("  got: %s\n", findings[k]);
			fail_msg("%s: %zu findings, want %zu", t->name, ef_strv_len(findings),
			         want);
		}
		for (size_t k = 0; k < want; k++)
			if (strcmp(findings[k], t->findings[k]) != 0)
				fail_msg("%s: finding %zu\n  got  %s\n  want %s", t->name, k,
				         findings[k], t->findings[k]);
		if (!want)
			assert_null(findings);
		ef_strv_free(findings);
		ef_policy_dispose(&p);
		ef_manifest_free(m);
	}
}

/* The last-error message summarizes; callers log the findings themselves. */
static void test_error_summary(void **state)
{
	const char *json = WEB("\"image\": \"app:1\", \"privileged\": true");
	ef_manifest *m;
	ef_policy p;
	char **f;

	memset(&p, 0, sizeof(p));
	assert_int_equal(ef_manifest_parse(&m, json, strlen(json), "compose.json"), 0);
	assert_int_equal(ef_policy_check(&f, &p, m), EF_EREJECTED);
	assert_string_equal(ef_error_last(),
	                    "refused by the device policy (2 findings): service web: image app:1 "
	                    "is not pinned by digest; pin it (name@sha256:...) or set [policy] "
	                    "allow_tags = true; ...");
	ef_strv_free(f);
	p.allow_tags = true;
	assert_int_equal(ef_policy_check(&f, &p, m), EF_EREJECTED);
	assert_string_equal(
	        ef_error_last(),
	        "refused by the device policy: service web: privileged mode is refused "
	        "by the device policy; set [policy] allow_privileged = true to allow it");
	ef_strv_free(f);
	p.allow_privileged = true;
	assert_int_equal(ef_policy_check(&f, &p, m), 0);
	assert_null(f);
	ef_manifest_free(m);
}

/* A policy loaded from an INI file, as `edgeflip lint --policy FILE` does. */
static void test_policy_from_file(void **state)
{
	const char *json = WEB(PINNED ", \"volumes\": [\"/data/x:/x\", \"/etc:/etc\"], "
	                              "\"cap_add\": [\"NET_ADMIN\"]");
	ef_manifest *m;
	ef_policy p;
	char **f;

	assert_int_equal(ef_config_load_policy(&p, EF_TEST_DATA "/config/policy.ini"), 0);
	assert_int_equal(ef_manifest_parse(&m, json, strlen(json), "compose.json"), 0);
	assert_int_equal(ef_policy_check(&f, &p, m), EF_EREJECTED);
	assert_int_equal(ef_strv_len(f), 1);
	assert_string_equal(f[0],
	                    "service web: bind mount of /etc is refused by the device policy; "
	                    "add /etc (or a parent directory) to [policy] bind_mounts to "
	                    "allow it");
	ef_strv_free(f);
	ef_policy_dispose(&p);
	ef_manifest_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_policy_cases),
	        cmocka_unit_test(test_error_summary),
	        cmocka_unit_test(test_policy_from_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
