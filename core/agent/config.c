#include "edgeflip/config.h"
#include "edgeflip/buf.h"
#include "edgeflip/compose_read.h"
#include "edgeflip/error.h"
#include "edgeflip/log.h"
#include "edgeflip/previews.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>

typedef enum { T_STRING, T_BOOL, T_DURATION, T_SIZE, T_LIST, T_UINT } key_type;

typedef struct {
	const char *section;
	const char *key;
	key_type type;
	size_t offset;
	const char *def; /* NULL: no default */
	bool required;
} key_spec;

#define C(field) offsetof(ef_config, field)
#define P(field) (offsetof(ef_config, policy) + offsetof(ef_policy, field))

/* One table for every section, like RAUC's config_file.c. */
static const key_spec keys[] = {
        {"agent", "device_id", T_STRING, C(device_id), NULL, false},
        {"agent", "state_dir", T_STRING, C(state_dir), "/var/lib/edgeflip", false},
        {"agent", "interval", T_DURATION, C(interval_ms), "60s", false},
        {"agent", "max_backoff", T_DURATION, C(max_backoff_ms), "15m", false},
        {"agent", "log_level", T_STRING, C(log_level), "info", false},
        {"agent", "profiles", T_LIST, C(profiles), NULL, false},
        {"agent", "labels", T_LIST, C(labels), NULL, false},
        {"agent", "env_file", T_STRING, C(env_file), NULL, false},

        {"source", "url", T_STRING, C(url), NULL, true},
        {"source", "branch", T_STRING, C(branch), "main", false},
        {"source", "path", T_STRING, C(path_in_repo), NULL, true},
        {"source", "ca_file", T_STRING, C(ca_file), "/etc/ssl/certs/ca-certificates.crt", false},
        {"source", "token_file", T_STRING, C(token_file), NULL, false},
        {"source", "allow_insecure_http", T_BOOL, C(allow_insecure_http), "false", false},
        {"source", "timeout", T_DURATION, C(source_timeout_ms), "60s", false},
        {"source", "max_fetch_size", T_SIZE, C(max_fetch_bytes), "64M", false},
        {"source", "max_manifest_size", T_SIZE, C(max_manifest_bytes), "1M", false},
        {"source", "previews", T_STRING, C(previews), NULL, false},
        {"source", "preview_ports", T_STRING, C(preview_ports), "20000-20999", false},
        {"source", "max_previews", T_UINT, C(max_previews), "5", false},

        {"trust", "allowed_signers", T_STRING, C(allowed_signers), NULL, false},
        {"trust", "openpgp_keys", T_STRING, C(openpgp_keys), NULL, false},
        {"trust", "insecure_skip_verify", T_BOOL, C(insecure_skip_verify), "false", false},
        {"trust", "allow_rollback", T_BOOL, C(allow_rollback), "false", false},
        {"trust", "not_before", T_STRING, C(not_before), NULL, false},
        {"trust", "image_keys", T_STRING, C(image_keys), NULL, false},
        {"trust", "image_ca_file", T_STRING, C(image_ca_file), NULL, false},
        {"trust", "image_http_registries", T_LIST, C(image_http_registries), NULL, false},

        {"secrets", "age_key_file", T_STRING, C(age_key_file), NULL, false},
        {"secrets", "runtime_dir", T_STRING, C(runtime_dir), "/run/edgeflip", false},

        {"engine", "endpoint", T_STRING, C(engine_endpoint), "unix:///run/podman/podman.sock",
         false},
        {"engine", "timeout", T_DURATION, C(engine_timeout_ms), "30s", false},
        {"engine", "pull_timeout", T_DURATION, C(pull_timeout_ms), "10m", false},
        {"engine", "project", T_STRING, C(engine_project), "edgeflip", false},
        {"engine", "events", T_BOOL, C(engine_events), "true", false},
        {"engine", "watch", T_STRING, C(engine_watch), "pids", false},

        {"switch", "backend", T_STRING, C(switch_backend), "proxy", false},
        {"switch", "hook", T_STRING, C(switch_hook), NULL, false},
        {"switch", "public_address", T_STRING, C(public_address), "0.0.0.0", false},

        {"deploy", "soak", T_DURATION, C(soak_ms), "60s", false},
        {"deploy", "health_timeout", T_DURATION, C(health_timeout_ms), "120s", false},
        {"deploy", "stop_timeout", T_DURATION, C(stop_timeout_ms), "10s", false},
        {"deploy", "drain", T_DURATION, C(drain_ms), "2s", false},
        {"deploy", "history", T_UINT, C(history_size), "20", false},

        {"metrics", "textfile", T_STRING, C(metrics_textfile), NULL, false},
        {"metrics", "refresh", T_DURATION, C(metrics_refresh_ms), "1h", false},

        {"notify", "url", T_STRING, C(notify_url), NULL, false},
        {"notify", "hmac_key_file", T_STRING, C(notify_hmac_key_file), NULL, false},
        {"notify", "ca_file", T_STRING, C(notify_ca_file), NULL, false},
        {"notify", "queue", T_UINT, C(notify_queue), "1000", false},
        {"notify", "timeout", T_DURATION, C(notify_timeout_ms), "10s", false},

        {"policy", "registries", T_LIST, P(registries), NULL, false},
        {"policy", "allow_tags", T_BOOL, P(allow_tags), "false", false},
        {"policy", "allow_privileged", T_BOOL, P(allow_privileged), "false", false},
        {"policy", "allow_host_namespaces", T_BOOL, P(allow_host_namespaces), "false", false},
        {"policy", "allowed_capabilities", T_LIST, P(allowed_capabilities), NULL, false},
        {"policy", "allow_devices", T_BOOL, P(allow_devices), "false", false},
        {"policy", "bind_mounts", T_LIST, P(bind_mounts), NULL, false},
        {"policy", "allowed_sysctls", T_LIST, P(allowed_sysctls), NULL, false},
        {"policy", "allowed_security_opts", T_LIST, P(allowed_security_opts), NULL, false},
        {"policy", "network_drivers", T_LIST, P(network_drivers), NULL, false},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

typedef struct {
	ef_config *cfg;
	const char *file;
	FILE *f;
	int lineno; /* counted by the reader: Debian's inih passes no line numbers */
	bool policy_only;
	bool indented; /* the current line starts with a blank: a continuation */
	bool seen[NKEYS];
	int error;
	char msg[512];
} parse_ctx;

/* What a lint file (`edgeflip lint --policy FILE`) may hold: [policy], and
 * the keys lint uses of [trust] and [secrets]. */
static bool lint_key(const char *section, const char *key)
{
	return !strcmp(section, "policy") ||
	       (!strcmp(section, "trust") && !strcmp(key, "image_keys")) ||
	       (!strcmp(section, "secrets") && !strcmp(key, "age_key_file"));
}

static bool lint_section(const char *section)
{
	return !strcmp(section, "policy") || !strcmp(section, "trust") ||
	       !strcmp(section, "secrets");
}

typedef struct {
	const char *unit;
	uint64_t mult;
} unit_spec;

/* A whole number followed by one of `units`; false when malformed or too big. */
static bool parse_with_unit(uint64_t *out, const char *s, const unit_spec *units, size_t n)
{
	char *end;
	unsigned long long v;

	if (!s || !isdigit((unsigned char)s[0]))
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(end, units[i].unit) == 0) {
			if (v > UINT64_MAX / units[i].mult)
				return false;
			*out = v * units[i].mult;
			return true;
		}
	}
	return false;
}

int ef_parse_duration(uint64_t *out_ms, const char *s)
{
	static const unit_spec units[] = {
	        {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};

	if (parse_with_unit(out_ms, s, units, sizeof(units) / sizeof(units[0])))
		return 0;
	ef_error_set("'%s' is not a duration (use a number and a unit: 250ms, 90s, 5m, 1h, 2d)",
	             s ? s : "");
	return EF_EINVALID;
}

int ef_parse_size(uint64_t *out, const char *s)
{
	static const unit_spec units[] = {{"", 1},        {"B", 1},        {"K", 1024},
	                                  {"KiB", 1024},  {"M", 1 << 20},  {"MiB", 1 << 20},
	                                  {"G", 1 << 30}, {"GiB", 1 << 30}};

	if (parse_with_unit(out, s, units, sizeof(units) / sizeof(units[0])))
		return 0;
	ef_error_set("'%s' is not a size (use a number and an optional K, M or G)", s ? s : "");
	return EF_EINVALID;
}

int ef_parse_bool(bool *out, const char *s)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	ef_error_set("'%s' is not a boolean (use true or false)", s);
	return EF_EINVALID;
}

static int set_value(ef_config *cfg, const key_spec *k, const char *value)
{
	char *base = (char *)cfg;
	int error = 0;

	switch (k->type) {
	case T_STRING: {
		char **slot = (char **)(base + k->offset);
		if (value[0] == '\0') {
			ef_error_set("empty value");
			return EF_EINVALID;
		}
		free(*slot);
		*slot = strdup(value);
		break;
	}
	case T_BOOL:
		error = ef_parse_bool((bool *)(base + k->offset), value);
		break;
	case T_DURATION:
		error = ef_parse_duration((uint64_t *)(base + k->offset), value);
		break;
	case T_SIZE:
		error = ef_parse_size((uint64_t *)(base + k->offset), value);
		break;
	case T_UINT: {
		char *end;
		unsigned long v;
		errno = 0;
		v = strtoul(value, &end, 10);
		if (errno || *end || end == value || v > 100000 || value[0] == '-') {
			ef_error_set("'%s' is not a count (use a whole number up to 100000)",
			             value);
			return EF_EINVALID;
		}
		*(unsigned *)(base + k->offset) = (unsigned)v;
		break;
	}
	case T_LIST: {
		char ***slot = (char ***)(base + k->offset);
		ef_strv_free(*slot);
		*slot = NULL;
		error = ef_strv_split(slot, value);
		break;
	}
	}
	return error;
}

static bool known_section(const char *section)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0)
			return true;
	return false;
}

static char *read_line(char *str, int num, void *stream)
{
	parse_ctx *ctx = stream;
	char *r = fgets(str, num, ctx->f);
	size_t n;

	if (!r)
		return NULL;
	ctx->lineno++;
	/* inih reads at most num - 1 bytes of a line and would parse the rest of a
	 * longer one as a line of its own: refuse it instead. */
	n = strlen(r);
	if (n == (size_t)num - 1 && r[n - 1] != '\n') {
		int ch = fgetc(ctx->f);
		if (ch != EOF) {
			snprintf(ctx->msg, sizeof(ctx->msg),
			         "%s:%d: line is longer than %d characters; shorten it", ctx->file,
			         ctx->lineno, num - 2);
			ctx->error = EF_EINVALID;
			return NULL;
		}
	}
	/* inih passes an indented line as a continuation of the key above
	 * (INI_ALLOW_MULTILINE): a list may go on over several lines. */
	ctx->indented = (r[0] == ' ' || r[0] == '\t') && r[strspn(r, " \t")] != '\n' &&
	                r[strspn(r, " \t")] != '\0' && r[strspn(r, " \t")] != ';' &&
	                r[strspn(r, " \t")] != '#';
	/* inih does not report a section header without keys: check it here. */
	r += strspn(r, " \t");
	if (*r == '[' && !ctx->error) {
		size_t len = strcspn(r + 1, "]");
		char section[64];
		if (r[1 + len] == ']' && len < sizeof(section)) {
			memcpy(section, r + 1, len);
			section[len] = '\0';
			if (!known_section(section) ||
			    (ctx->policy_only && !lint_section(section))) {
				snprintf(
				        ctx->msg, sizeof(ctx->msg),
				        "%s:%d: unknown section [%s] (known: agent, source, trust, "
				        "secrets, engine, switch, deploy, metrics, notify, policy)",
				        ctx->file, ctx->lineno, section);
				ctx->error = EF_EINVALID;
				return NULL;
			}
		}
	}
	return str;
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
	parse_ctx *ctx = user;
	int lineno = ctx->lineno;

	if (ctx->error)
		return 1;
	if (!name) /* a section header alone */
		goto check_section;
	for (size_t i = 0; i < NKEYS; i++) {
		const key_spec *k = &keys[i];
		if (strcmp(k->section, section) || strcmp(k->key, name))
			continue;
		if (ctx->policy_only && !lint_key(section, name))
			break;
		if (ctx->seen[i] && ctx->indented && k->type == T_LIST) {
			char ***slot = (char ***)((char *)ctx->cfg + k->offset);
			char **more = NULL;
			int err = ef_strv_split(&more, value);
			for (size_t m = 0; err == 0 && more && more[m]; m++)
				err = ef_strv_push(slot, more[m]);
			ef_strv_free(more);
			if (err < 0) {
				snprintf(ctx->msg, sizeof(ctx->msg), "%s:%d: [%s] %s: %s",
				         ctx->file, lineno, section, name, ef_error_last());
				ctx->error = EF_EINVALID;
			}
			return 1;
		}
		if (ctx->seen[i]) {
			snprintf(ctx->msg, sizeof(ctx->msg),
			         "%s:%d: [%s] %s is set twice; keep one", ctx->file, lineno,
			         section, name);
			ctx->error = EF_EINVALID;
			return 1;
		}
		ctx->seen[i] = true;
		if (set_value(ctx->cfg, k, value) < 0) {
			snprintf(ctx->msg, sizeof(ctx->msg), "%s:%d: [%s] %s: %s", ctx->file,
			         lineno, section, name, ef_error_last());
			ctx->error = EF_EINVALID;
		}
		return 1;
	}
check_section:
	if (section[0] == '\0') {
		snprintf(ctx->msg, sizeof(ctx->msg),
		         "%s:%d: key '%s' is outside any section; put it under one such as "
		         "[agent]",
		         ctx->file, lineno, name ? name : "");
	} else if (!known_section(section) || (ctx->policy_only && !lint_section(section))) {
		snprintf(ctx->msg, sizeof(ctx->msg),
		         "%s:%d: unknown section [%s] (known: agent, source, trust, secrets, "
		         "engine, switch, deploy, metrics, notify, policy)",
		         ctx->file, lineno, section);
	} else if (name) {
		snprintf(ctx->msg, sizeof(ctx->msg), "%s:%d: [%s] unknown key '%s'", ctx->file,
		         lineno, section, name);
	} else {
		return 1;
	}
	ctx->error = EF_EINVALID;
	return 1;
}

void ef_config_init(ef_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
}

static int apply_defaults(ef_config *cfg, bool policy_only)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (!keys[i].def || (policy_only && strcmp(keys[i].section, "policy")))
			continue;
		if (set_value(cfg, &keys[i], keys[i].def) < 0)
			return EF_ERROR;
	}
	return 0;
}

static void read_machine_id(ef_config *cfg)
{
	ef_buf b;

	if (ef_read_file(&b, "/etc/machine-id", 256) == 0) {
		b.ptr[strcspn(b.ptr, "\r\n")] = '\0';
		if (b.ptr[0])
			cfg->device_id = ef_buf_detach(&b);
	}
	ef_buf_dispose(&b);
	if (!cfg->device_id)
		cfg->device_id = strdup("unknown");
	ef_error_clear();
}

static size_t key_index(const char *section, const char *key)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (!strcmp(keys[i].section, section) && !strcmp(keys[i].key, key))
			return i;
	return NKEYS;
}

/* [engine] events, the older key: given alone, `off` means watch = list and
 * `on` watch = events, as they did before watch existed. */
static int watch_from_events(ef_config *cfg, const parse_ctx *ctx)
{
	char *w;

	if (ctx->seen[key_index("engine", "watch")] || !ctx->seen[key_index("engine", "events")])
		return 0;
	if (!(w = strdup(cfg->engine_events ? "events" : "list")))
		return EF_ENOMEM;
	free(cfg->engine_watch);
	cfg->engine_watch = w;
	return 0;
}

static int validate(ef_config *cfg, parse_ctx *ctx)
{
	ef_log_level level;

	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].required && !ctx->seen[i]) {
			ef_error_set("%s: [%s] %s is required but missing", ctx->file,
			             keys[i].section, keys[i].key);
			return EF_EINVALID;
		}
	}
	if (strncmp(cfg->url, "https://", 8) != 0) {
		if (strncmp(cfg->url, "http://", 7) == 0) {
			if (!cfg->allow_insecure_http) {
				ef_error_set(
				        "%s: [source] url: plain http:// is refused (anyone on "
				        "the path can change what you deploy); use https:// or "
				        "set allow_insecure_http = true",
				        ctx->file);
				return EF_EINVALID;
			}
		} else {
			ef_error_set("%s: [source] url: '%s' is not an https:// URL", ctx->file,
			             cfg->url);
			return EF_EINVALID;
		}
	}
	if (cfg->path_in_repo[0] == '/' || strstr(cfg->path_in_repo, "..")) {
		ef_error_set("%s: [source] path: '%s' must be relative to the repository root and "
		             "must not contain '..'",
		             ctx->file, cfg->path_in_repo);
		return EF_EINVALID;
	}
	if (cfg->previews && ef_preview_pattern_check(cfg->previews) < 0) {
		ef_error_prefix("%s: [source] previews", ctx->file);
		return EF_EINVALID;
	}
	if (ef_preview_ports_parse(&cfg->preview_port_lo, &cfg->preview_port_hi,
	                           cfg->preview_ports) < 0) {
		ef_error_prefix("%s: [source] preview_ports", ctx->file);
		return EF_EINVALID;
	}
	if (cfg->previews && cfg->max_previews == 0) {
		ef_error_set("%s: [source] max_previews: must be at least 1 when previews is set "
		             "(remove previews to turn them off)",
		             ctx->file);
		return EF_EINVALID;
	}
	if (strcmp(cfg->switch_backend, "proxy") && strcmp(cfg->switch_backend, "nftables") &&
	    strcmp(cfg->switch_backend, "hook")) {
		ef_error_set("%s: [switch] backend: unknown backend '%s' (use proxy, nftables or "
		             "hook)",
		             ctx->file, cfg->switch_backend);
		return EF_EINVALID;
	}
	if (!strcmp(cfg->switch_backend, "hook") && !cfg->switch_hook) {
		ef_error_set("%s: [switch] hook is required when backend = hook", ctx->file);
		return EF_EINVALID;
	}
	if (watch_from_events(cfg, ctx) < 0)
		return EF_ENOMEM;
	if (strcmp(cfg->engine_watch, "pids") && strcmp(cfg->engine_watch, "events") &&
	    strcmp(cfg->engine_watch, "list")) {
		ef_error_set("%s: [engine] watch: unknown value '%s' (use pids, events or list)",
		             ctx->file, cfg->engine_watch);
		return EF_EINVALID;
	}
	if (strncmp(cfg->engine_endpoint, "unix://", 7) != 0) {
		ef_error_set("%s: [engine] endpoint: '%s' is not a unix:// socket path", ctx->file,
		             cfg->engine_endpoint);
		return EF_EINVALID;
	}
	if (ef_log_parse_level(&level, cfg->log_level) < 0) {
		ef_error_set(
		        "%s: [agent] log_level: unknown level '%s' (use error, warn, info, debug "
		        "or trace)",
		        ctx->file, cfg->log_level);
		return EF_EINVALID;
	}
	if (cfg->interval_ms < 1000) {
		ef_error_set("%s: [agent] interval: must be at least 1s", ctx->file);
		return EF_EINVALID;
	}
	/* The manifest is read into memory: on a 32-bit device (size_t of 32
	 * bits) a limit of 4G or more would wrap to a small one. */
	if ((uint64_t)(size_t)cfg->max_manifest_bytes != cfg->max_manifest_bytes) {
		ef_error_set("%s: [source] max_manifest_size: %llu bytes is more than this device "
		             "can address (at most %zu)",
		             ctx->file, (unsigned long long)cfg->max_manifest_bytes, SIZE_MAX);
		return EF_EINVALID;
	}
	if (cfg->not_before && ef_config_not_before(NULL, NULL, cfg->not_before) < 0) {
		ef_error_set("%s: [trust] not_before: '%s' is neither a full commit id (40 hex "
		             "digits) nor a date YYYY-MM-DD",
		             ctx->file, cfg->not_before);
		return EF_EINVALID;
	}
	/* The id and labels name layer directories of the repository. */
	if (cfg->device_id &&
	    ef_compose_layer_name_check(cfg->device_id, false, "[agent] device_id") < 0) {
		ef_error_prefix("%s", ctx->file);
		return EF_EINVALID;
	}
	for (size_t i = 0; cfg->labels && cfg->labels[i]; i++)
		if (ef_compose_layer_name_check(cfg->labels[i], true, "[agent] labels: label") <
		    0) {
			ef_error_prefix("%s", ctx->file);
			return EF_EINVALID;
		}
	if (cfg->metrics_textfile &&
	    (strlen(cfg->metrics_textfile) < 6 ||
	     strcmp(cfg->metrics_textfile + strlen(cfg->metrics_textfile) - 5, ".prom") != 0 ||
	     cfg->metrics_textfile[0] != '/')) {
		ef_error_set(
		        "%s: [metrics] textfile: '%s' must be an absolute path ending in .prom "
		        "(node_exporter's textfile collector reads only *.prom files)",
		        ctx->file, cfg->metrics_textfile);
		return EF_EINVALID;
	}
	if (cfg->notify_url && strncmp(cfg->notify_url, "https://", 8) != 0) {
		ef_error_set("%s: [notify] url: '%s' is not an https:// URL (events carry the "
		             "device's state; send them over TLS)",
		             ctx->file, cfg->notify_url);
		return EF_EINVALID;
	}
	if (cfg->notify_url && !cfg->notify_hmac_key_file) {
		ef_error_set("%s: [notify] hmac_key_file is required with url (the receiver checks "
		             "X-Signature with that key)",
		             ctx->file);
		return EF_EINVALID;
	}
	if (cfg->notify_url && cfg->notify_queue == 0) {
		ef_error_set("%s: [notify] queue: must be at least 1", ctx->file);
		return EF_EINVALID;
	}
	if (!cfg->insecure_skip_verify && !cfg->allowed_signers && !cfg->openpgp_keys) {
		ef_error_set("%s: [trust] no trusted keys: set allowed_signers and/or openpgp_keys "
		             "(or, for tests only, insecure_skip_verify = true)",
		             ctx->file);
		return EF_EINVALID;
	}
	return 0;
}

int ef_config_not_before(char *out_commit, int64_t *out_time, const char *value)
{
	struct tm tm;
	int y, mo, d;
	size_t n = strlen(value);

	if (n == 40 && strspn(value, "0123456789abcdef") == 40) {
		if (out_commit)
			memcpy(out_commit, value, 41);
		if (out_time)
			*out_time = 0;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	if (n != 10 || value[4] != '-' || value[7] != '-' || strspn(value, "0123456789") != 4 ||
	    strspn(value + 5, "0123456789") != 2 || strspn(value + 8, "0123456789") != 2 ||
	    sscanf(value, "%4d-%2d-%2d", &y, &mo, &d) != 3 || y < 1970 || mo < 1 || mo > 12 ||
	    d < 1 || d > 31)
		return EF_EINVALID;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	if (out_commit)
		out_commit[0] = '\0';
	if (out_time)
		*out_time = (int64_t)timegm(&tm);
	return 0;
}

static int parse_stream(ef_config *cfg, FILE *f, const char *path, bool policy_only)
{
	parse_ctx ctx;
	int rc;

	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = cfg;
	ctx.file = path;
	ctx.policy_only = policy_only;
	if (apply_defaults(cfg, policy_only) < 0)
		return EF_ERROR;
	ctx.f = f;
	rc = ini_parse_stream(read_line, &ctx, on_entry, &ctx);
	if (ctx.error) {
		ef_error_set("%s", ctx.msg);
		return ctx.error;
	}
	if (rc != 0) {
		ef_error_set("%s:%d: syntax error (expected [section], key = value, or a ; "
		             "comment)",
		             path, rc);
		return EF_EINVALID;
	}
	return policy_only ? 0 : validate(cfg, &ctx);
}

static int parse_file(ef_config *cfg, const char *path, bool policy_only)
{
	FILE *f = fopen(path, "r");
	int error;

	if (!f) {
		ef_error_set("cannot open configuration %s: %s", path, strerror(errno));
		return errno == ENOENT ? EF_ENOTFOUND : EF_EINVALID;
	}
	error = parse_stream(cfg, f, path, policy_only);
	fclose(f);
	return error;
}

static int finish_load(ef_config *cfg, int error)
{
	if (error < 0) {
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", ef_error_last());
		ef_config_dispose(cfg);
		ef_error_set("%s", msg);
		return error;
	}
	if (!cfg->device_id)
		read_machine_id(cfg);
	return 0;
}

int ef_config_load(ef_config *cfg, const char *path)
{
	ef_config_init(cfg);
	cfg->path = strdup(path);
	return finish_load(cfg, parse_file(cfg, path, false));
}

int ef_config_parse_string(ef_config *cfg, const char *text, size_t len, const char *name)
{
	static const char empty[] = "\n";
	FILE *f;
	int error;

	ef_config_init(cfg);
	cfg->path = strdup(name);
	/* fmemopen may refuse a size of 0 */
	f = len ? fmemopen((void *)text, len, "r") : fmemopen((void *)empty, 1, "r");
	if (!f) {
		ef_error_set("%s: cannot read the configuration: %s", name, strerror(errno));
		error = EF_ERROR;
	} else {
		error = parse_stream(cfg, f, name, false);
		fclose(f);
	}
	return finish_load(cfg, error);
}

int ef_config_load_lint(ef_config *cfg, const char *path)
{
	int error;

	ef_config_init(cfg);
	if ((error = parse_file(cfg, path, true)) < 0) { /* nothing half-loaded */
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", ef_error_last());
		ef_config_dispose(cfg);
		ef_error_set("%s", msg);
	}
	return error;
}

int ef_config_load_policy(ef_policy *policy, const char *path)
{
	ef_config tmp;
	int error = ef_config_load_lint(&tmp, path);

	memset(policy, 0, sizeof(*policy));
	if (error == 0) {
		*policy = tmp.policy; /* now the caller's */
		memset(&tmp.policy, 0, sizeof(tmp.policy));
		ef_config_dispose(&tmp);
	}
	return error;
}

void ef_policy_dispose(ef_policy *policy)
{
	ef_strv_free(policy->registries);
	ef_strv_free(policy->allowed_capabilities);
	ef_strv_free(policy->bind_mounts);
	ef_strv_free(policy->allowed_sysctls);
	ef_strv_free(policy->allowed_security_opts);
	ef_strv_free(policy->network_drivers);
	memset(policy, 0, sizeof(*policy));
}

void ef_config_dispose(ef_config *cfg)
{
	char *base = (char *)cfg;

	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].type == T_STRING) {
			free(*(char **)(base + keys[i].offset));
			*(char **)(base + keys[i].offset) = NULL;
		} else if (keys[i].type == T_LIST) {
			ef_strv_free(*(char ***)(base + keys[i].offset));
			*(char ***)(base + keys[i].offset) = NULL;
		}
	}
	ef_policy_dispose(&cfg->policy);
	ef_strv_free(cfg->profiles);
	ef_strv_free(cfg->labels);
	free(cfg->device_id);
	free(cfg->env_file);
	free(cfg->path);
	memset(cfg, 0, sizeof(*cfg));
}
