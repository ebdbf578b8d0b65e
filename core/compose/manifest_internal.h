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

typedef struct {
	const char *file;
	char path[256];
	size_t len;
} pctx;

typedef struct {
	const char *key;  /* name used in services */
	const char *name; /* engine volume name */
} named_volume;

typedef struct {
	named_volume v[MAX_NAMED_VOLUMES];
	size_t n;
} volume_decls;

typedef struct {
	ef_service *s;
	const volume_decls *decls;
	bool have_x_health;
	ef_probe_kind x_kind;
	char *x_path;
	int x_status;
	uint16_t x_port;
} svc_ctx;

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
int mf_parse_mem(int64_t *out, const char *s);
bool mf_is_alnum(char ch);
bool mf_is_lower_alnum(char ch);
int mf_get_string_list(pctx *c, const cJSON *it, size_t max, char ***out);
int mf_get_argv(pctx *c, const cJSON *it, char ***out);
int mf_get_kv(pctx *c, const cJSON *it, size_t max, bool labels, char ***out);
int mf_get_ports(pctx *c, const cJSON *it, ef_service *s);
int mf_check_abs_path(pctx *c, const char *path, const char *what);
int mf_get_volumes(pctx *c, const cJSON *it, const volume_decls *decls, ef_service *s);
int mf_parse_service(pctx *c, ef_service *s, const char *name, const cJSON *obj,
                     const volume_decls *decls);
void mf_spec_hash(ef_service *s);

static inline const cJSON *mf_member(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

#endif
