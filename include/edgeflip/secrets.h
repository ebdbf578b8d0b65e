/* Secrets kept in Git, encrypted: SOPS documents whose data key is wrapped
 * for age X25519 recipients. Decrypted offline on the device with the age
 * identities of `[secrets] age_key_file`. See docs/secrets.md.
 *
 * Plaintext only ever lives in memory handed back to the caller; every
 * intermediate buffer (file keys, data keys, wrapped keys) is wiped before it
 * is freed. Errors name the file and the value's path, never a plaintext. */
#ifndef EDGEFLIP_SECRETS_H
#define EDGEFLIP_SECRETS_H

#include "edgeflip/buf.h"

#include <stdbool.h>
#include <stddef.h>

struct cJSON;

/* ---------------------------------------------------------------------------
 * age (age-encryption.org/v1), X25519 recipients only. */

typedef struct ef_age_identities ef_age_identities;

/* Parses an age identity file: `AGE-SECRET-KEY-1…` lines, `#` comments and
 * blank lines (what `age-keygen` writes; a sops keys.txt may hold several).
 * Errors name `name` and the line. */
int ef_age_identities_parse(ef_age_identities **out, const char *text, size_t len,
                            const char *name);
/* The number of identities, and the recipient ("age1…") of the i-th. */
size_t ef_age_identities_count(const ef_age_identities *ids);
int ef_age_recipient(char out[128], const ef_age_identities *ids, size_t i);
void ef_age_identities_free(ef_age_identities *ids);

/* Decrypts an age file, binary or ASCII-armored, into `out` (capped by
 * out->cap). EF_EREJECTED when no identity opens it or anything fails
 * authentication; EF_EINVALID when it is malformed. */
int ef_age_decrypt(ef_buf *out, const ef_age_identities *ids, const char *in, size_t len);

/* Checks an age file's structure without a key: the armor, the header and
 * its stanzas; *x25519 counts the X25519 stanzas. EF_EINVALID when
 * malformed. Nothing is decrypted. */
int ef_age_inspect(size_t *x25519, const char *in, size_t len);

/* ---------------------------------------------------------------------------
 * SOPS (github.com/getsops/sops), age key groups, AES256_GCM values. */

typedef enum {
	EF_SOPS_NONE = 0, /* not a SOPS document */
	EF_SOPS_TREE,     /* json or yaml: a tree with a top-level `sops` object */
	EF_SOPS_DOTENV,   /* KEY=VALUE lines with `sops_…` metadata */
} ef_sops_kind;

/* Whether a document tree carries SOPS metadata (a top-level `sops` object
 * with `mac` and `lastmodified`). */
bool ef_sops_tree_is_encrypted(const struct cJSON *doc);
/* Whether dotenv text carries SOPS metadata (a `sops_mac=` line). */
bool ef_sops_dotenv_is_encrypted(const char *text, size_t len);

/* Decrypts a json/yaml document tree in place: every encrypted value
 * becomes its plaintext (string, number or boolean by its recorded type),
 * the MAC over all values is checked, and the `sops` object is removed.
 * On error the tree is left wiped of plaintext (values cleared). Binary
 * files are such a tree with one key, `data`. */
int ef_sops_decrypt_tree(struct cJSON *doc, const ef_age_identities *ids, const char *name);

/* Wipes every string and number of a (decrypted) tree in place, before it
 * is freed. */
void ef_sops_tree_wipe(struct cJSON *doc);

/* Decrypts a dotenv document into "KEY=VALUE\n" lines (out, capped), the
 * MAC checked; `sops_…` lines dropped. */
int ef_sops_decrypt_dotenv(ef_buf *out, const ef_age_identities *ids, const char *text, size_t len,
                           const char *name);

/* What can be told of a SOPS document without its key (edgeflip lint). */
typedef struct {
	size_t encrypted;   /* values the rules encrypt, each a well-formed ENC[…] */
	size_t plain;       /* values the rules leave in clear */
	size_t age_stanzas; /* X25519 stanzas in the age-wrapped data keys */
	char **recipients;  /* sops.age[].recipient as recorded (strv), or NULL */
	char **keys;        /* the top-level keys (dotenv: the variable names), or NULL */
	char *version;      /* the sops version that wrote it, or NULL */
} ef_sops_info;

/* Checks a json/yaml document tree (not modified) or dotenv text without a
 * key: the metadata (age entries whose age files are well-formed, mac and
 * lastmodified present, the MAC a well-formed encrypted value), every value
 * the rules say is encrypted a well-formed ENC[…] (base64, 32-byte IV,
 * 16-byte tag, a known type). Nothing is decrypted, so a tampered value or
 * a MAC that does not match is not caught: that takes the key. Errors as
 * the decryption's. `out` is filled on success; ef_sops_info_dispose()
 * in any case. */
int ef_sops_inspect_tree(ef_sops_info *out, struct cJSON *doc, const char *name);
int ef_sops_inspect_dotenv(ef_sops_info *out, const char *text, size_t len, const char *name);
void ef_sops_info_dispose(ef_sops_info *info);

#endif
