/* Files of the environment directory on the device (docs/manifest.md,
 * "Relative paths"): what a relative bind source, a `~/` bind source and a
 * file-backed secret or config become on the host.
 *
 * - tracked in the commit (a file or a directory under the environment
 *   directory): configuration. Copied out of the object database into
 *   ROOT/files/<sha256 of the content>/..., so that blue and green each see
 *   their own revision and unchanged content keeps the same path (and the
 *   same spec).
 * - not tracked: data. ROOT/data/<path>, a directory created on first use
 *   and kept across revisions and rollbacks (blue and green share it while
 *   both run).
 * - `~/x`: ROOT/home/x, persistent like data, never from the commit. */
#ifndef EDGEFLIP_FILES_H
#define EDGEFLIP_FILES_H

#include "edgeflip/compose.h"
#include "edgeflip/compose_read.h"
#include "edgeflip/manifest.h"
#include "edgeflip/secrets.h"

#include <stdbool.h>
#include <stddef.h>

#define EF_FILES_MAX_FILE    (16u << 20) /* one file copied out of the commit */
#define EF_FILES_MAX_ENTRIES 4096u       /* files and directories in one tree */

typedef struct {
	const ef_compose_src *src; /* the target commit's environment directory; NULL: none */
	const char *root;          /* e.g. STATE_DIR/environment */
	/* SOPS-encrypted secret files: decrypted with `age` into `secret_root`, a
	 * directory on a tmpfs, never under `root`. NULL: they are refused. */
	const ef_age_identities *age;
	const char *secret_root;
} ef_files;

typedef enum { EF_FILES_CONFIG, EF_FILES_DATA, EF_FILES_HOME } ef_files_kind;

/* The host path for bind source `rel` (normalised, relative to the
 * environment directory; `home`: written "~/rel"). Creates what is needed.
 * *kind says which it became. */
int ef_files_bind(char **out, ef_files_kind *kind, const ef_files *f, const char *rel, bool home);

/* A secret or config file: `content` (len bytes) written once to
 * ROOT/files/<sha256 of content, mode, owner>/<name> with `mode` and owner
 * (uid/gid < 0: root). */
int ef_files_put(char **out, const ef_files *f, const char *name, const void *content, size_t len,
                 unsigned mode, long uid, long gid);

/* Secret `name` whose file `file` (content, len bytes) is a SOPS document
 * (json, yaml, dotenv by its extension as sops reads it; any other name:
 * binary): *out is set to 0 and nothing is written when it is not one.
 * Otherwise it is decrypted with f->age (the MAC checked) and the plaintext
 * written to SECRET_ROOT/<sha256 of the encrypted file, mode, owner,
 * name>/<name> with `mode` and owner; *out is that path. json and yaml come
 * out as JSON (a YAML 1.2 document too), dotenv as KEY=VALUE lines, binary as
 * its bytes. EF_EREJECTED naming `file` when no identity opens it or it was
 * tampered with; EF_EINVALID when malformed or when there is no tmpfs for it.
 * Plaintext is wiped from memory before this returns. */
int ef_files_put_secret(char **out, const ef_files *f, const char *file, const char *name,
                        const void *content, size_t len, unsigned mode, long uid, long gid);

/* Whether secret file `file` (content, len bytes) opens, as
 * ef_files_put_secret() would decrypt it, without writing anything: 1 it is
 * a SOPS document and decrypts (MAC checked; the plaintext wiped), 0 it is
 * no SOPS document, negative as ef_files_put_secret() refuses it. */
int ef_files_check_secret(const ef_files *f, const char *file, const void *content, size_t len);

/* The variables of a service's env_file `ef` added to `env` (a name set
 * before is replaced, its value wiped). A SOPS document — dotenv, or json
 * or yaml by its extension — is decrypted with f->age, the MAC checked: its
 * values (top-level scalars of json/yaml) become variables as sops stored
 * them. Any other file is a dotenv file as Compose reads it (`format: raw`:
 * KEY=VALUE lines as written). Nothing is written anywhere; every buffer that
 * held plaintext is wiped. An absent file is skipped when not required.
 * 1: a SOPS document, decrypted; 0: plain text (or absent and not required).
 * EF_EREJECTED naming the file when no identity opens it or it was tampered
 * with; EF_EINVALID when it is absent or malformed. The caller wipes `env`'s
 * values before disposing of it. */
int ef_files_env(ef_env *env, const ef_files *f, const ef_env_file *ef);

/* The compose reader's dotenv_open (compose_read.h) for the environment
 * directory's .env: `age` is the device's ef_age_identities, or NULL. A SOPS
 * dotenv document is decrypted (MAC checked) into "KEY=VALUE\0" entries in
 * `out`: 1. 0: plain text. EF_EREJECTED naming `file` when there is no
 * identity, none opens it, or it was tampered with; EF_EINVALID when
 * malformed. */
int ef_files_open_dotenv(void *age, ef_buf *out, const char *text, size_t len, const char *file);

/* What a file of the environment directory is, without a key (edgeflip
 * lint): 1 and `info` (ef_sops_info_dispose) when it is a SOPS document,
 * *format its format as the agent reads it ("dotenv", "json", "yaml",
 * "binary"); 0 when it is not one (used as it is); an error naming `file`
 * when it is a malformed one (ef_sops_inspect_*). `env_file`: read as a
 * service's env_file is (json and yaml by extension, else dotenv), else as
 * a secret file (.env dotenv, .json, .yaml/.yml, any other name binary).
 * With `age` not NULL the document is also decrypted (MAC checked) and
 * the plaintext wiped. */
int ef_files_inspect(ef_sops_info *info, const char **format, const ef_age_identities *age,
                     const char *file, const char *content, size_t len, bool env_file);

#endif
