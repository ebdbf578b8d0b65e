/* The agent's INI configuration (inih). See docs/configuration.md. */
#ifndef EDGEFLIP_CONFIG_H
#define EDGEFLIP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EF_DEFAULT_CONFIG "/etc/edgeflip/edgeflip.ini"

/* The device-side policy ([policy]); the repository cannot override it. */
typedef struct {
	char **registries; /* allowed registry hosts; NULL = any */
	bool allow_tags;   /* images by tag instead of digest */
	bool allow_privileged;
	bool allow_host_namespaces;  /* network_mode/pid/ipc: host */
	char **allowed_capabilities; /* cap_add entries allowed */
	bool allow_devices;
	char **bind_mounts;           /* host path prefixes a bind mount may use */
	char **allowed_sysctls;       /* sysctl names or "prefix.*" a service may set */
	char **allowed_security_opts; /* security_opt entries allowed besides
	                                 no-new-privileges */
	char **network_drivers;       /* top-level network drivers allowed; NULL = bridge only */
} ef_policy;

typedef struct {
	char *path; /* the file it came from */

	/* [agent] */
	char *device_id;
	char *env_file; /* device-local variables for ${VAR} in compose files, or NULL */
	char *state_dir;
	uint64_t interval_ms;
	uint64_t max_backoff_ms;
	char *log_level;
	char **profiles; /* active Compose profiles; NULL = none (docs/manifest.md) */
	char **labels;   /* "KEY=VALUE": per-device layers labels/KEY=VALUE/ (docs/manifest.md) */

	/* [source] */
	char *url;
	char *branch;
	char *path_in_repo; /* key: path */
	char *ca_file;
	char *token_file;
	bool allow_insecure_http;
	uint64_t source_timeout_ms;
	uint64_t max_fetch_bytes;
	uint64_t max_manifest_bytes;
	/* Preview environments (docs/previews.md): a ref pattern with one '*'
	 * ("refs/pull/STAR/head"), NULL: none; the host ports previews publish on. */
	char *previews;
	char *preview_ports; /* "LOW-HIGH" */
	unsigned max_previews;
	uint16_t preview_port_lo, preview_port_hi; /* parsed from preview_ports */

	/* [trust] */
	char *allowed_signers;
	char *openpgp_keys;
	bool insecure_skip_verify;
	bool allow_rollback; /* accept a target that does not descend from the deployed commit */
	/* Anti-rollback floor of a fresh device (empty journal): a commit id the
	 * first deployed commit must descend from, or a date YYYY-MM-DD its
	 * committer date must not precede. NULL: none. */
	char *not_before;
	char *image_keys;    /* PEM keys: every image must carry a cosign signature by one */
	char *image_ca_file; /* registries' CA; NULL: the system store */
	char **image_http_registries; /* registries reached over plain http (loopback tests) */

	/* [secrets] */
	char *age_key_file; /* age identities that open SOPS files of the repository */
	char *runtime_dir;  /* on a tmpfs: decrypted secrets live under runtime_dir/secrets */

	/* [engine] */
	char *engine_endpoint;
	uint64_t engine_timeout_ms;
	uint64_t pull_timeout_ms;
	char *engine_project; /* prefix of the networks edgeflip makes ("edgeflip_default") */
	bool engine_events;   /* older spelling: false is watch = list, true watch = events */
	/* How the daemon notices drift between polls (docs/deploy.md "Drift"):
	 * "pids" (default: a pidfd on each running container's process, the
	 * event stream where that cannot work), "events" (the engine's event
	 * stream), "list" (a full listing every poll). */
	char *engine_watch;

	/* [switch] */
	char *switch_backend;
	char *switch_hook;
	char *public_address; /* where public ports listen (proxy/nftables) */

	/* [deploy] */
	uint64_t soak_ms;
	uint64_t health_timeout_ms;
	uint64_t stop_timeout_ms;
	uint64_t drain_ms; /* connections to an instance traffic left may finish */
	unsigned history_size;

	/* [metrics] (docs/fleet.md) */
	char *metrics_textfile;      /* Prometheus textfile; NULL: none */
	uint64_t metrics_refresh_ms; /* rewrite at most this often when only the poll time moved */

	/* [notify] (docs/fleet.md) */
	char *notify_url;           /* https:// webhook receiver; NULL: none */
	char *notify_hmac_key_file; /* key of the X-Signature HMAC-SHA256 */
	char *notify_ca_file;       /* the receiver's CA; NULL: the system store */
	unsigned notify_queue;      /* events kept while the receiver is away */
	uint64_t notify_timeout_ms;

	/* [policy] */
	ef_policy policy;
} ef_config;

void ef_config_init(ef_config *cfg);
/* Loads and validates `path`. On error the message names file, line, section
 * and key, and the config is left disposed-safe. Returns 0, EF_ENOTFOUND or
 * EF_EINVALID. */
int ef_config_load(ef_config *cfg, const char *path);
/* Like ef_config_load(), from `len` bytes of INI text; `name` stands for the
 * file in messages. */
int ef_config_parse_string(ef_config *cfg, const char *text, size_t len, const char *name);
/* Parses a lint INI file (for `edgeflip lint --policy FILE`): [policy], and
 * of the rest only [trust] image_keys and [secrets] age_key_file; any other
 * section or key is an error. ef_config_load_policy keeps the policy alone. */
int ef_config_load_lint(ef_config *cfg, const char *path);
int ef_config_load_policy(ef_policy *policy, const char *path);
void ef_config_dispose(ef_config *cfg);
void ef_policy_dispose(ef_policy *policy);

/* "90s", "5m", "250ms", "1h", "2d" -> milliseconds. A unit is required. */
int ef_parse_duration(uint64_t *out_ms, const char *s);
/* "512", "64K", "16M", "1G" (also KiB/MiB/GiB) -> bytes. */
int ef_parse_size(uint64_t *out, const char *s);
/* "true/false/yes/no/on/off/1/0" */
int ef_parse_bool(bool *out, const char *s);

/* Parses [trust] not_before: a 40-hex commit id into out_commit (41 bytes;
 * *out_time = 0) or a date YYYY-MM-DD into *out_time (UTC midnight;
 * out_commit = ""). Either output may be NULL. EF_EINVALID otherwise. */
int ef_config_not_before(char *out_commit, int64_t *out_time, const char *value);

#endif
