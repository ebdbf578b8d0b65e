/* Internal to core/compose: the parse context (file name, JSON path) and the
 * value readers shared by the manifest's parts. Not a public header. */
#ifndef EF_COMPOSE_MANIFEST_INTERNAL_H
#define EF_COMPOSE_MANIFEST_INTERNAL_H

#include "edgeflip/manifest.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Caps on counts (the caller caps the input size). */
#define MAX_SERVICES       64
#define MAX_ENV            256
#define MAX_LABELS         256
#define MAX_PORTS          64
#define MAX_VOLUMES        64
#define MAX_ARGS           256
#define MAX_LIST           64 /* cap_add, cap_drop, devices */
#define MAX_NAMED_VOLUMES  64
#define MAX_MEMBERS        512 /* any other object */
#define MAX_SERVICE_NAME   63
#define MAX_IMAGE_REF      1024
#define DEFAULT_PROBE_MS   30000
#define DEFAULT_RETRIES    3
#define RESERVED_LABEL_PFX "io.edgeflip."

#define MAX_DEPTH 64

/* Parse context: the file name, the JSON path of the value being read and the
 * document nodes along it (for positions), and the findings so far. */
typedef struct {
	const char *file;
	char path[512];
	size_t len;
	const cJSON *nodes[MAX_DEPTH];
	size_t saved[MAX_DEPTH];
	size_t depth;
	const ef_compose_pos *pos;
	ef_findings *findings;
	size_t nerrors;
	int first_code;
	bool oom;
	char first[1400]; /* the first message, for ef_error_last() */
} pctx;

typedef struct {
	ef_service *s;
	const ef_manifest *m; /* the top-level networks, volumes, secrets, configs */
	bool have_x_health;
	bool have_networks;
	bool have_network_mode;
	bool have_deploy_restart;
	char **links; /* `links`, merged into depends_on at the end */
	ef_probe_kind x_kind;
	char *x_path;
	int x_status;
	uint16_t x_port;
} svc_ctx;

typedef int (*field_fn)(pctx *c, svc_ctx *sc, const cJSON *it);

/* A key of a Compose object and what edgeflip does with it. */
typedef struct {
	const char *key;
	ef_key_status status;
	const char *reason; /* ignored or refused: why, and what to do */
	field_fn fn;        /* services: the reader of a supported key */
} mf_key;

extern const mf_key mf_service_keys[];
extern const mf_key mf_top_keys[];
extern const mf_key mf_network_keys[];
extern const mf_key mf_volume_keys[];
extern const mf_key mf_secret_keys[];
extern const mf_key mf_config_keys[];
const mf_key *mf_key_find(const mf_key *table, const char *key);
/* Reports every unknown or refused key of `obj` (x-* skipped); 0 or the first error. */
int mf_check_table(pctx *c, const cJSON *obj, const mf_key *table, const char *what);

void mf_ctx_init(pctx *c, const char *file, const cJSON *root, const ef_compose_pos *pos,
                 ef_findings *findings);
size_t mf_push_key(pctx *c, const char *key);
size_t mf_push_index(pctx *c, size_t i);
void mf_pop(pctx *c, size_t saved);
__attribute__((format(printf, 3, 4))) int mf_fail(pctx *c, int code, const char *fmt, ...);
__attribute__((format(printf, 3, 4))) int mf_fail_at(pctx *c, const char *key, const char *fmt,
                                                     ...);
__attribute__((format(printf, 1, 2))) char *mf_str_printf(const char *fmt, ...);
const char *mf_type_name(const cJSON *it);
size_t mf_count_members(const cJSON *obj);
int mf_check_members(pctx *c, const cJSON *obj, size_t max, const char *what);
int mf_check_keys(pctx *c, const cJSON *obj, const char *const *allowed, bool x_ok);
bool mf_has_ctl(const char *s);
int mf_get_string(pctx *c, const cJSON *it, char **out);
int mf_get_nonempty_string(pctx *c, const cJSON *it, char **out);
int mf_get_bool(pctx *c, const cJSON *it, bool *out);
bool mf_whole_number(const cJSON *it, double min, double max, int64_t *out);
bool mf_digits_number(const char *s, uint64_t min, uint64_t max, uint64_t *out);
int mf_get_port(pctx *c, const cJSON *it, uint16_t *out);
int mf_get_duration(pctx *c, const cJSON *it, uint64_t *out_ms);
/* x-edgeflip.canary of a service (canary.c). */
int mf_parse_canary(pctx *c, ef_canary *out, const cJSON *it);
/* x-edgeflip of a service: its keys, and those of one port under x-edgeflip.ports. */
extern const char *const mf_x_service_keys[];
extern const char *const mf_x_port_keys[];
/* x-edgeflip.ports (port_opts.c); the check runs once the service is read. */
int mf_parse_port_opts(pctx *c, ef_service *s, const cJSON *it);
int mf_check_port_opts(pctx *c, const ef_service *s);
int mf_parse_mem(int64_t *out, const char *s);
bool mf_is_alnum(char ch);
bool mf_is_lower_alnum(char ch);
int mf_get_string_list(pctx *c, const cJSON *it, size_t max, char ***out);
int mf_get_argv(pctx *c, const cJSON *it, char ***out);
#define KV_ENV    0
#define KV_LABELS 1
#define KV_OPTS   2
int mf_get_kv(pctx *c, const cJSON *it, size_t max, int mode, char ***out);
bool mf_has_ctl_n(const char *s, size_t n);
int mf_get_ports(pctx *c, const cJSON *it, ef_service *s);
int mf_check_abs_path(pctx *c, const char *path, const char *what);
int mf_get_volumes(pctx *c, const cJSON *it, const ef_manifest *man, ef_service *s);
int mf_parse_service(pctx *c, ef_service *s, const char *name, const cJSON *obj,
                     const ef_manifest *man);
int mf_parse_top(pctx *c, const cJSON *root, ef_manifest *m);
void mf_service_dispose(ef_service *s);
void mf_top_dispose(ef_manifest *m);
int mf_add_default_network(pctx *c, ef_manifest *m);

/* options.c */
void mf_sort_strv(char **v);
bool mf_valid_name(const char *s, const char *extra, size_t max);
int mf_get_name(pctx *c, const cJSON *it, char **out);
int mf_get_string_or_list(pctx *c, const cJSON *it, size_t max, char ***out);
int mf_f_gpus(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_get_size(pctx *c, const cJSON *it, int64_t *out);
int mf_rel_path(pctx *c, const char *raw, const char *what, char **out);
bool mf_is_relative_source(const char *s);

void mf_spec_hash(ef_service *s, const ef_manifest *m);
/* A value that must not be hashed in clear (a variable of a SOPS .env), and
 * what is hashed where it occurs: "sops:VAR:<sha256 of the encrypted file>". */
typedef struct {
	char *value;
	char *tag;
} mf_sealed;
void mf_spec_hash_sealed(ef_service *s, const ef_manifest *m, const mf_sealed *sealed,
                         size_t nsealed);

int mf_f_depends_on(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_links(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_merge_links(pctx *c, svc_ctx *sc);
int mf_f_networks(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_expose(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_container_name(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_secrets(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_configs(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_tmpfs(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_stop_signal(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_stop_grace_period(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_init(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_stdin_open(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_tty(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_extra_hosts(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_dns(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_dns_search(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_dns_opt(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_hostname(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_domainname(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_sysctls(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_ulimits(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_shm_size(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_group_add(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_security_opt(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_logging(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_cpus(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_mem_reservation(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_memswap_limit(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_pids_limit(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_cpu_shares(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_cpuset(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_platform(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_profiles(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_env_file(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_deploy(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_scale(pctx *c, svc_ctx *sc, const cJSON *it);
int mf_f_build(pctx *c, svc_ctx *sc, const cJSON *it);

static inline const cJSON *mf_member(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* extends.c: resolves every service's `extends` in doc (one file, after
 * interpolation). io->read gives another file of the same directory as the
 * loader reads files (interpolated, its own extends resolved), borrowed:
 * the bases are copied from it. */
typedef struct {
	int (*read)(void *ctx, const cJSON **out, const char *file);
	void *ctx;
} mf_extends_io;
int mf_apply_extends(cJSON *doc, const char *file, ef_compose_pos *pos, ef_findings *findings,
                     const mf_extends_io *io);

#endif
