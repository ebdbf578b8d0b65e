/* The INI configuration: defaults, every key, and exact error messages. */
#include "edgeflip/buf.h"
#include "edgeflip/config.h"
#include "edgeflip/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define SOURCE                                                                                     \
	"[source]\n"                                                                               \
	"url = https://git.example.com/gitops.git\n"                                               \
	"path = environments/prod\n"
#define TRUST "[trust]\ninsecure_skip_verify = true\n"
/* SOURCE takes lines 1-3 and TRUST lines 4-5: extra lines start at 6. */
#define BASE SOURCE TRUST

static const char *const known =
        "(known: agent, source, trust, secrets, engine, switch, deploy, metrics, notify, policy)";

typedef struct {
	const char *text;
	int code;
	const char *msg; /* "%s" stands for the list of known sections */
} cfg_case;

static const cfg_case bad_cases[] = {
        /* structure */
        {"[agnet]\ndevice_id = x\n" BASE, EF_EINVALID, "t.ini:1: unknown section [agnet] %s"},
        {BASE "[bogus]\n", EF_EINVALID, "t.ini:6: unknown section [bogus] %s"},
        {BASE "[Policy]\nallow_tags = true\n", EF_EINVALID, "t.ini:6: unknown section [Policy] %s"},
        {"foo = 1\n" BASE, EF_EINVALID,
         "t.ini:1: key 'foo' is outside any section; put it under one such as [agent]"},
        {BASE "[agent]\nfoo = 1\n", EF_EINVALID, "t.ini:7: [agent] unknown key 'foo'"},
        {BASE "[policy]\nallow_tag = true\n", EF_EINVALID,
         "t.ini:7: [policy] unknown key 'allow_tag'"},
        {BASE "[agent]\ninterval = 30s\ninterval = 40s\n", EF_EINVALID,
         "t.ini:8: [agent] interval is set twice; keep one"},
        {BASE "[agent]\ninterval = 30s\n[agent]\ninterval = 40s\n", EF_EINVALID,
         "t.ini:9: [agent] interval is set twice; keep one"},
        {BASE "[agent]\njust some words\n", EF_EINVALID,
         "t.ini:7: syntax error (expected [section], key = value, or a ; comment)"},
        {BASE
         "[agent]\nstate_dir = /var/lib/"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "xxxxxxxxxxxxxxxx\n",
         EF_EINVALID, "t.ini:7: line is longer than 198 characters; shorten it"},

        /* values */
        {BASE "[agent]\ndevice_id = ../gw\n", EF_EINVALID,
         "t.ini: [agent] device_id '../gw' cannot name a layer directory: 1 to 128 characters "
         "of letters, digits and . _ - : @ +, starting with a letter or digit (no '/', no '..')"},
        {BASE "[agent]\nlabels = site=north hw/x=1\n", EF_EINVALID,
         "t.ini: [agent] labels: label 'hw/x=1' cannot name a layer directory: write KEY=VALUE, "
         "each 1 to 128 characters of letters, digits and . _ - : @ +, starting with a letter or "
         "digit (no '/', no '..')"},
        {BASE "[agent]\ninterval = 90\n", EF_EINVALID,
         "t.ini:7: [agent] interval: '90' is not a duration (use a number and a unit: 250ms, 90s, "
         "5m, 1h, 2d)"},
        {BASE "[deploy]\nsoak = 5x\n", EF_EINVALID,
         "t.ini:7: [deploy] soak: '5x' is not a duration (use a number and a unit: 250ms, 90s, 5m, "
         "1h, 2d)"},
        {BASE "[deploy]\nsoak = -5s\n", EF_EINVALID,
         "t.ini:7: [deploy] soak: '-5s' is not a duration (use a number and a unit: 250ms, 90s, "
         "5m, "
         "1h, 2d)"},
        {BASE "[deploy]\nsoak = 1h30m\n", EF_EINVALID,
         "t.ini:7: [deploy] soak: '1h30m' is not a duration (use a number and a unit: 250ms, 90s, "
         "5m, 1h, 2d)"},
        {BASE "[engine]\ntimeout =\n", EF_EINVALID,
         "t.ini:7: [engine] timeout: '' is not a duration (use a number and a unit: 250ms, 90s, "
         "5m, "
         "1h, 2d)"},
        {BASE "[policy]\nallow_tags = maybe\n", EF_EINVALID,
         "t.ini:7: [policy] allow_tags: 'maybe' is not a boolean (use true or false)"},
        {BASE "[source]\nmax_fetch_size = 64X\n", EF_EINVALID,
         "t.ini:7: [source] max_fetch_size: '64X' is not a size (use a number and an optional K, M "
         "or G)"},
        {BASE "[deploy]\nhistory = -1\n", EF_EINVALID,
         "t.ini:7: [deploy] history: '-1' is not a count (use a whole number up to 100000)"},
        {BASE "[deploy]\nhistory = 100001\n", EF_EINVALID,
         "t.ini:7: [deploy] history: '100001' is not a count (use a whole number up to 100000)"},
        {BASE "[agent]\nstate_dir =\n", EF_EINVALID, "t.ini:7: [agent] state_dir: empty value"},

        /* whole-file checks */
        {"[source]\npath = env\n" TRUST, EF_EINVALID,
         "t.ini: [source] url is required but missing"},
        {"[source]\nurl = https://h/r.git\n" TRUST, EF_EINVALID,
         "t.ini: [source] path is required but missing"},
        {"", EF_EINVALID, "t.ini: [source] url is required but missing"},
        {"[source]\nurl = http://git.example.com/r.git\npath = env\n" TRUST, EF_EINVALID,
         "t.ini: [source] url: plain http:// is refused (anyone on the path can change what you "
         "deploy); use https:// or set allow_insecure_http = true"},
        {"[source]\nurl = git@example.com:r.git\npath = env\n" TRUST, EF_EINVALID,
         "t.ini: [source] url: 'git@example.com:r.git' is not an https:// URL"},
        {"[source]\nurl = https://h/r.git\npath = /env\n" TRUST, EF_EINVALID,
         "t.ini: [source] path: '/env' must be relative to the repository root and must not "
         "contain '..'"},
        {"[source]\nurl = https://h/r.git\npath = env/../../etc\n" TRUST, EF_EINVALID,
         "t.ini: [source] path: 'env/../../etc' must be relative to the repository root and must "
         "not contain '..'"},
        {BASE "[switch]\nbackend = iptables\n", EF_EINVALID,
         "t.ini: [switch] backend: unknown backend 'iptables' (use proxy, nftables or hook)"},
        {BASE "[switch]\nbackend = hook\n", EF_EINVALID,
         "t.ini: [switch] hook is required when backend = hook"},
        {BASE "[engine]\nendpoint = tcp://127.0.0.1:2375\n", EF_EINVALID,
         "t.ini: [engine] endpoint: 'tcp://127.0.0.1:2375' is not a unix:// socket path"},
        {BASE "[engine]\nwatch = inotify\n", EF_EINVALID,
         "t.ini: [engine] watch: unknown value 'inotify' (use pids, events or list)"},
        {BASE "[agent]\nlog_level = verbose\n", EF_EINVALID,
         "t.ini: [agent] log_level: unknown level 'verbose' (use error, warn, info, debug or "
         "trace)"},
        {BASE "[agent]\ninterval = 500ms\n", EF_EINVALID,
         "t.ini: [agent] interval: must be at least 1s"},
        {BASE "[source]\npreviews = refs/pull/*/*/head\n", EF_EINVALID,
         "t.ini: [source] previews: 'refs/pull/*/*/head' is not a ref pattern with one '*' "
         "standing for a whole path component; write e.g. refs/pull/*/head"},
        {BASE "[source]\npreviews = refs/pull/*/head\npreview_ports = 20999-20000\n", EF_EINVALID,
         "t.ini: [source] preview_ports: '20999-20000' is not a port range LOW-HIGH with 1 <= "
         "LOW <= HIGH <= 65535 (e.g. 20000-20999)"},
        {BASE "[source]\npreviews = refs/pull/*/head\nmax_previews = 0\n", EF_EINVALID,
         "t.ini: [source] max_previews: must be at least 1 when previews is set (remove "
         "previews to turn them off)"},
        {SOURCE, EF_EINVALID,
         "t.ini: [trust] no trusted keys: set allowed_signers and/or openpgp_keys (or, for tests "
         "only, insecure_skip_verify = true)"},
        {SOURCE "[trust]\ninsecure_skip_verify = false\n", EF_EINVALID,
         "t.ini: [trust] no trusted keys: set allowed_signers and/or openpgp_keys (or, for tests "
         "only, insecure_skip_verify = true)"},
};

static void test_bad_configs(void **state)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const cfg_case *t = &bad_cases[i];
		char want[1024];
		ef_config cfg;
		int rc;
		const char *pct = strstr(t->msg, "%s");

		if (pct)
			snprintf(want, sizeof(want), "%.*s%s%s", (int)(pct - t->msg), t->msg, known,
			         pct + 2);
		else
			snprintf(want, sizeof(want), "%s", t->msg);
		memset(&cfg, 0xa5, sizeof(cfg));
		rc = ef_config_parse_string(&cfg, t->text, strlen(t->text), "t.ini");
		if (rc != t->code || strcmp(ef_error_last(), want) != 0)
			fail_msg("case %zu:\n%s\n  got  %d: %s\n  want %d: %s", i, t->text, rc,
			         ef_error_last(), t->code, want);
		/* left disposed: all NULL, safe to dispose again */
		assert_null(cfg.url);
		assert_null(cfg.path);
		assert_null(cfg.policy.registries);
		ef_config_dispose(&cfg);
	}
}

/* [engine] watch, and the older [engine] events it replaces. */
static void test_engine_watch(void **state)
{
	static const struct {
		const char *text;
		const char *watch;
	} t[] = {
	        {BASE, "pids"},
	        {BASE "[engine]\nwatch = events\n", "events"},
	        {BASE "[engine]\nwatch = list\n", "list"},
	        {BASE "[engine]\nevents = off\n", "list"},
	        {BASE "[engine]\nevents = on\n", "events"},
	        /* watch, when given, is what counts */
	        {BASE "[engine]\nevents = off\nwatch = pids\n", "pids"},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ef_config cfg;
		if (ef_config_parse_string(&cfg, t[i].text, strlen(t[i].text), "t.ini") != 0)
			fail_msg("case %zu: %s", i, ef_error_last());
		assert_string_equal(cfg.engine_watch, t[i].watch);
		ef_config_dispose(&cfg);
	}
}

static void test_good_variants(void **state)
{
	static const struct {
		const char *text;
		uint64_t interval_ms;
	} t[] = {
	        {BASE, 60000},
	        {BASE "[agent]\ninterval = 90s ; a comment\n", 90000},
	        {BASE "; a comment line\n# another\n\n[agent]\n  interval=5m\n", 300000},
	        {BASE "[agent]\ninterval = 1h\n", 3600000},
	        {BASE "[agent]\ninterval = 2d\n", 172800000},
	        {BASE "[agent]\ninterval = 1000ms\n", 1000},
	        /* plain http:// with the explicit opt-in */
	        {"[source]\nurl = http://git.example.com/r.git\nallow_insecure_http = true\npath = "
	         "env\n" TRUST,
	         60000},
	        /* a line of exactly 198 characters fits */
	        {BASE
	         "[agent]\nstate_dir = /var/lib/"
	         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	         "xxxxxxxxxxxxxxxxx\n",
	         60000},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ef_config cfg;
		if (ef_config_parse_string(&cfg, t[i].text, strlen(t[i].text), "t.ini") != 0)
			fail_msg("case %zu: %s", i, ef_error_last());
		assert_int_equal(cfg.interval_ms, t[i].interval_ms);
		ef_config_dispose(&cfg);
	}
}

/* A size limit the device cannot hold in a size_t is refused, not wrapped:
 * on armv7 "5G" would become 1 GiB and "4G" nothing at all. 64-bit hosts
 * take it as written. */
static void test_size_fits_address_space(void **state)
{
	static const char text[] = BASE "[source]\nmax_manifest_size = 4G\n";
	ef_config cfg;
	int rc = ef_config_parse_string(&cfg, text, strlen(text), "t.ini");

	if (SIZE_MAX > UINT32_MAX) {
		assert_int_equal(rc, 0);
		assert_true(cfg.max_manifest_bytes == (uint64_t)4 << 30);
	} else {
		char want[160];

		snprintf(want, sizeof(want),
		         "t.ini: [source] max_manifest_size: 4294967296 bytes is more than this "
		         "device can address (at most %zu)",
		         (size_t)SIZE_MAX);
		assert_int_equal(rc, EF_EINVALID);
		assert_string_equal(ef_error_last(), want);
	}
	ef_config_dispose(&cfg);
}

static void test_defaults(void **state)
{
	ef_config cfg;
	const ef_policy *p = &cfg.policy;

	assert_int_equal(ef_config_load(&cfg, EF_TEST_DATA "/config/minimal.ini"), 0);
	assert_string_equal(cfg.path, EF_TEST_DATA "/config/minimal.ini");
	assert_non_null(cfg.device_id); /* /etc/machine-id, or "unknown" */
	assert_true(cfg.device_id[0] != '\0');
	assert_string_equal(cfg.state_dir, "/var/lib/edgeflip");
	assert_int_equal(cfg.interval_ms, 60000);
	assert_int_equal(cfg.max_backoff_ms, 15 * 60000);
	assert_string_equal(cfg.log_level, "info");
	assert_string_equal(cfg.url, "https://git.example.com/platform/gitops.git");
	assert_string_equal(cfg.branch, "main");
	assert_string_equal(cfg.path_in_repo, "environments/production");
	assert_string_equal(cfg.ca_file, "/etc/ssl/certs/ca-certificates.crt");
	assert_null(cfg.token_file);
	assert_false(cfg.allow_insecure_http);
	assert_int_equal(cfg.source_timeout_ms, 60000);
	assert_int_equal(cfg.max_fetch_bytes, 64 << 20);
	assert_int_equal(cfg.max_manifest_bytes, 1 << 20);
	assert_string_equal(cfg.allowed_signers, "/etc/edgeflip/allowed_signers");
	assert_null(cfg.openpgp_keys);
	assert_false(cfg.insecure_skip_verify);
	assert_false(cfg.allow_rollback);
	assert_string_equal(cfg.engine_endpoint, "unix:///run/podman/podman.sock");
	assert_int_equal(cfg.engine_timeout_ms, 30000);
	assert_int_equal(cfg.pull_timeout_ms, 600000);
	assert_true(cfg.engine_events);
	assert_string_equal(cfg.engine_watch, "pids");
	assert_string_equal(cfg.switch_backend, "proxy");
	assert_null(cfg.switch_hook);
	assert_string_equal(cfg.public_address, "0.0.0.0");
	assert_int_equal(cfg.soak_ms, 60000);
	assert_int_equal(cfg.health_timeout_ms, 120000);
	assert_int_equal(cfg.stop_timeout_ms, 10000);
	assert_int_equal(cfg.history_size, 20);
	assert_null(p->registries);
	assert_false(p->allow_tags);
	assert_false(p->allow_privileged);
	assert_false(p->allow_host_namespaces);
	assert_null(p->allowed_capabilities);
	assert_false(p->allow_devices);
	assert_null(p->bind_mounts);
	ef_config_dispose(&cfg);
}

static void test_every_key(void **state)
{
	ef_config cfg;
	const ef_policy *p = &cfg.policy;

	assert_int_equal(ef_config_load(&cfg, EF_TEST_DATA "/config/full.ini"), 0);
	assert_string_equal(cfg.device_id, "gw-0042");
	assert_string_equal(cfg.state_dir, "/var/lib/edgeflip-test");
	assert_int_equal(cfg.interval_ms, 90000);
	assert_int_equal(cfg.max_backoff_ms, 3600000);
	assert_string_equal(cfg.log_level, "debug");
	assert_int_equal(ef_strv_len(cfg.labels), 2);
	assert_string_equal(cfg.labels[1], "hw=pi4");
	assert_string_equal(cfg.branch, "release");
	assert_string_equal(cfg.ca_file, "/etc/edgeflip/ca.pem");
	assert_string_equal(cfg.token_file, "/etc/edgeflip/token");
	assert_false(cfg.allow_insecure_http);
	assert_int_equal(cfg.source_timeout_ms, 120000);
	assert_int_equal(cfg.max_fetch_bytes, 16 << 20);
	assert_int_equal(cfg.max_manifest_bytes, 512 << 10);
	assert_string_equal(cfg.openpgp_keys, "/etc/edgeflip/trusted.asc");
	assert_false(cfg.insecure_skip_verify);
	assert_true(cfg.allow_rollback);
	assert_string_equal(cfg.engine_endpoint, "unix:///var/run/docker.sock");
	assert_int_equal(cfg.engine_timeout_ms, 45000);
	assert_int_equal(cfg.pull_timeout_ms, 86400000);
	assert_false(cfg.engine_events);
	assert_string_equal(cfg.engine_watch, "list"); /* events = off, the older key */
	assert_string_equal(cfg.switch_backend, "hook");
	assert_string_equal(cfg.switch_hook, "/usr/libexec/edgeflip/switch-hook");
	assert_string_equal(cfg.public_address, "192.0.2.10");
	assert_int_equal(cfg.soak_ms, 250);
	assert_int_equal(cfg.health_timeout_ms, 300000);
	assert_int_equal(cfg.stop_timeout_ms, 3000);
	assert_int_equal(cfg.history_size, 5);
	assert_string_equal(p->registries[0], "registry.example.com");
	assert_string_equal(p->registries[1], "registry.local:5000");
	assert_null(p->registries[2]);
	assert_true(p->allow_tags);
	assert_true(p->allow_privileged);
	assert_true(p->allow_host_namespaces);
	assert_string_equal(p->allowed_capabilities[0], "NET_ADMIN");
	assert_string_equal(p->allowed_capabilities[1], "SYS_TIME");
	assert_null(p->allowed_capabilities[2]);
	assert_true(p->allow_devices);
	assert_string_equal(p->bind_mounts[0], "/data");
	assert_string_equal(p->bind_mounts[1], "/srv/app");
	ef_config_dispose(&cfg);
}

static void test_files(void **state)
{
	ef_config cfg;
	ef_policy p;

	assert_int_equal(ef_config_load(&cfg, EF_TEST_DATA "/config/no-such.ini"), EF_ENOTFOUND);
	assert_string_equal(ef_error_last(), "cannot open configuration " EF_TEST_DATA
	                                     "/config/no-such.ini: No such file or directory");
	assert_null(cfg.path);

	assert_int_equal(ef_config_load_policy(&p, EF_TEST_DATA "/config/policy.ini"), 0);
	assert_string_equal(p.registries[0], "registry.example.com");
	assert_string_equal(p.allowed_capabilities[0], "NET_ADMIN");
	assert_string_equal(p.bind_mounts[0], "/data");
	assert_false(p.allow_tags);
	ef_policy_dispose(&p);

	/* A policy file holds [policy] only. */
	assert_int_equal(ef_config_load_policy(&p, EF_TEST_DATA "/config/minimal.ini"),
	                 EF_EINVALID);
	assert_string_equal(
	        ef_error_last(), EF_TEST_DATA
	        "/config/minimal.ini:1: unknown section [source] (known: "
	        "agent, source, trust, secrets, engine, switch, deploy, metrics, notify, policy)");
	assert_null(p.registries);
}

static void test_value_parsers(void **state)
{
	static const struct {
		const char *s;
		int rc;
		uint64_t ms;
	} durations[] = {{"0s", 0, 0},
	                 {"250ms", 0, 250},
	                 {"90s", 0, 90000},
	                 {"5m", 0, 300000},
	                 {"1h", 0, 3600000},
	                 {"2d", 0, 172800000},
	                 {"90", EF_EINVALID, 0},
	                 {"5x", EF_EINVALID, 0},
	                 {"s", EF_EINVALID, 0},
	                 {" 5s", EF_EINVALID, 0},
	                 {"5 s", EF_EINVALID, 0},
	                 {"1.5s", EF_EINVALID, 0},
	                 {"", EF_EINVALID, 0},
	                 {"99999999999999999999s", EF_EINVALID, 0},
	                 {"999999999999999999d", EF_EINVALID, 0}};
	static const struct {
		const char *s;
		int rc;
		uint64_t n;
	} sizes[] = {{"512", 0, 512},         {"1B", 0, 1},
	             {"64K", 0, 65536},       {"64KiB", 0, 65536},
	             {"16M", 0, 16 << 20},    {"1G", 0, 1 << 30},
	             {"2GiB", 0, 2ULL << 30}, {"1k", EF_EINVALID, 0},
	             {"1T", EF_EINVALID, 0},  {"-1", EF_EINVALID, 0},
	             {"M", EF_EINVALID, 0},   {"99999999999999999999G", EF_EINVALID, 0}};
	static const struct {
		const char *s;
		int rc;
		bool v;
	} bools[] = {{"true", 0, true},    {"YES", 0, true},         {"on", 0, true},
	             {"1", 0, true},       {"false", 0, false},      {"No", 0, false},
	             {"OFF", 0, false},    {"0", 0, false},          {"y", EF_EINVALID, 0},
	             {"", EF_EINVALID, 0}, {"truee", EF_EINVALID, 0}};

	for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		uint64_t ms = 12345;
		int rc = ef_parse_duration(&ms, durations[i].s);
		if (rc != durations[i].rc || (rc == 0 && ms != durations[i].ms))
			fail_msg("duration '%s': rc %d ms %llu", durations[i].s, rc,
			         (unsigned long long)ms);
		if (rc)
			assert_int_equal(ms, 12345);
	}
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t n = 0;
		int rc = ef_parse_size(&n, sizes[i].s);
		if (rc != sizes[i].rc || (rc == 0 && n != sizes[i].n))
			fail_msg("size '%s': rc %d n %llu", sizes[i].s, rc, (unsigned long long)n);
	}
	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		bool v = !bools[i].v;
		int rc = ef_parse_bool(&v, bools[i].s);
		if (rc != bools[i].rc || (rc == 0 && v != bools[i].v))
			fail_msg("bool '%s': rc %d", bools[i].s, rc);
	}
}

/* [trust] not_before: a full commit id or a date, nothing else. */
static void test_not_before(void **unused)
{
	char commit[41];
	int64_t t = -1;
	static const char *const bad[] = {
	        "",
	        "2026-1-01",
	        "2026-13-01",
	        "2026-12-32",
	        "1969-12-31",
	        "2026/12/01",
	        "2026-12-01x",
	        "0123456789abcdef0123456789abcdef0123456",
	        "HEAD",
	        "0123456789ABCDEF0123456789ABCDEF01234567",
	};

	assert_int_equal(ef_config_not_before(commit, &t, "2026-12-01"), 0);
	assert_string_equal(commit, "");
	assert_int_equal(t, 1796083200); /* 2026-12-01T00:00:00Z */
	assert_int_equal(
	        ef_config_not_before(commit, &t, "0123456789abcdef0123456789abcdef01234567"), 0);
	assert_string_equal(commit, "0123456789abcdef0123456789abcdef01234567");
	assert_int_equal(t, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ef_config_not_before(NULL, NULL, bad[i]), EF_EINVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_bad_configs),
	        cmocka_unit_test(test_good_variants),
	        cmocka_unit_test(test_engine_watch),
	        cmocka_unit_test(test_defaults),
	        cmocka_unit_test(test_every_key),
	        cmocka_unit_test(test_files),
	        cmocka_unit_test(test_value_parsers),
	        cmocka_unit_test(test_not_before),
	        cmocka_unit_test(test_size_fits_address_space),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
