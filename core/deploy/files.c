/* Relative paths, `~/` paths, secrets and configs on the device (files.h). */
#include "edgeflip/files.h"
#include "edgeflip/buf.h"
#include "edgeflip/compose_read.h"
#include "edgeflip/error.h"
#include "edgeflip/secrets.h"
#include "edgeflip/sys/fs.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hex(char out[65], const unsigned char h[32])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < 32; i++) {
		out[2 * i] = digits[h[i] >> 4];
		out[2 * i + 1] = digits[h[i] & 15];
	}
	out[64] = '\0';
}

static void h_str(crypto_hash_sha256_state *st, const char *s)
{
	crypto_hash_sha256_update(st, (const unsigned char *)s, strlen(s) + 1);
}

static const char *base_name(const char *rel)
{
	const char *slash = strrchr(rel, '/');

	if (strcmp(rel, ".") == 0)
		return "env";
	return slash ? slash + 1 : rel;
}

static char *path_join(const char *a, const char *b)
{
	ef_buf buf = EF_BUF_INIT(8192);

	if (ef_buf_printf(&buf, "%s/%s", a, b) < 0) {
		ef_buf_dispose(&buf);
		return NULL;
	}
	return ef_buf_detach(&buf);
}

/* A tree of the commit, read into memory: the names and contents in order,
 * hashed as they are read. */
typedef struct {
	char **paths; /* relative to the tree's root; directories end in "/" */
	ef_buf *data; /* contents of files (empty for directories) */
	size_t n;
	crypto_hash_sha256_state hash;
} tree;

static void tree_dispose(tree *t)
{
	ef_strv_free(t->paths);
	for (size_t i = 0; i < t->n; i++)
		ef_buf_dispose_secret(&t->data[i]); /* may hold a decrypted secret */
	free(t->data);
}

static int tree_add(tree *t, const char *path, ef_buf *content)
{
	ef_buf *v;

	if (t->n >= EF_FILES_MAX_ENTRIES) {
		ef_error_set("more than %u files and directories", EF_FILES_MAX_ENTRIES);
		return EF_ETOOBIG;
	}
	if (!(v = realloc(t->data, (t->n + 1) * sizeof(*v))))
		return EF_ENOMEM;
	t->data = v;
	if (ef_strv_push(&t->paths, path) < 0)
		return EF_ENOMEM;
	h_str(&t->hash, path);
	if (content) {
		char len[32];
		snprintf(len, sizeof(len), "%zu", content->len);
		h_str(&t->hash, len);
		crypto_hash_sha256_update(&t->hash, (const unsigned char *)content->ptr,
		                          content->len);
		t->data[t->n] = *content;
		ef_buf_init(content, 0);
	} else {
		ef_buf_init(&t->data[t->n], 0);
	}
	t->n++;
	return 0;
}

/* Reads `rel` (a file or a directory, recursively) into `t`; `sub` is the
 * path inside the tree ("" for its root). */
static int tree_read(tree *t, const ef_compose_src *src, const char *rel, const char *sub)
{
	ef_compose_kind kind;
	int error;

	if ((error = src->stat(src->ctx, &kind, rel)) < 0)
		return error;
	if (kind == EF_COMPOSE_FILE) {
		ef_buf content = EF_BUF_INIT(EF_FILES_MAX_FILE);
		if ((error = src->read(src->ctx, &content, rel, EF_FILES_MAX_FILE)) == 0)
			error = tree_add(t, *sub ? sub : base_name(rel), &content);
		ef_buf_dispose(&content);
		return error;
	}
	if (kind == EF_COMPOSE_DIR) {
		char **names = NULL;
		if (*sub) {
			char *dir = path_join(sub, "");
			error = dir ? tree_add(t, dir, NULL) : EF_ENOMEM;
			free(dir);
			if (error < 0)
				return error;
		}
		if ((error = src->list(src->ctx, &names, strcmp(rel, ".") == 0 ? "" : rel)) < 0)
			return error;
		for (size_t i = 0; names && names[i] && error == 0; i++) {
			char *r = strcmp(rel, ".") == 0 ? ef_strdup(names[i])
			                                : path_join(rel, names[i]);
			char *s = *sub ? path_join(sub, names[i]) : ef_strdup(names[i]);
			error = r && s ? tree_read(t, src, r, s) : EF_ENOMEM;
			free(r);
			free(s);
		}
		ef_strv_free(names);
		return error;
	}
	return EF_ENOTFOUND;
}

/* Writes `t` under `dir` (made here). */
static int tree_write(const tree *t, const char *dir)
{
	int error;

	if ((error = ef_fs_mkdir_p(dir, 0755)) < 0)
		return error;
	for (size_t i = 0; i < t->n; i++) {
		const char *p = t->paths[i];
		char *full = path_join(dir, p);

		if (!full)
			return EF_ENOMEM;
		if (p[strlen(p) - 1] == '/')
			error = ef_fs_mkdir_p(full, 0755);
		else if ((error = ef_fs_write_atomic(full, t->data[i].ptr, t->data[i].len)) == 0)
			error = ef_fs_set_mode(full, 0644, -1, -1);
		free(full);
		if (error < 0)
			return error;
	}
	return ef_fs_set_mode(dir, 0755, -1, -1);
}

/* DIR/<hash> (DIR: ROOT/files, or SECRET_ROOT): written once under a
 * temporary name, then renamed, so that a crash never leaves a half-written
 * revision under its final name. */
static int publish(char **out, const char *dir, const char *hash, const tree *t, const char *leaf)
{
	ef_buf final = EF_BUF_INIT(8192), tmp = EF_BUF_INIT(8192);
	int error;

	if ((error = ef_buf_printf(&final, "%s/%s", dir, hash)) < 0 ||
	    (error = ef_buf_printf(&tmp, "%s/.%s.tmp", dir, hash)) < 0)
		goto out;
	if (!ef_fs_exists(final.ptr)) {
		ef_fs_remove_tree(tmp.ptr);
		if ((error = tree_write(t, tmp.ptr)) < 0 ||
		    (error = ef_fs_rename(tmp.ptr, final.ptr)) < 0)
			goto out;
	}
	*out = leaf ? path_join(final.ptr, leaf) : ef_buf_detach(&final);
	error = *out ? 0 : EF_ENOMEM;
out:
	ef_buf_dispose(&final);
	ef_buf_dispose(&tmp);
	return error;
}

static int persistent_dir(char **out, const ef_files *f, const char *area, const char *rel)
{
	ef_buf b = EF_BUF_INIT(8192);
	int error;

	if ((error = ef_buf_printf(&b, "%s/%s/%s", f->root, area, rel)) == 0 &&
	    (error = ef_fs_mkdir_p(b.ptr, 0755)) == 0 && !(*out = ef_buf_detach(&b)))
		error = EF_ENOMEM;
	ef_buf_dispose(&b);
	return error;
}

int ef_files_bind(char **out, ef_files_kind *kind, const ef_files *f, const char *rel, bool home)
{
	ef_compose_kind what = EF_COMPOSE_ABSENT;
	ef_buf dir = EF_BUF_INIT(8192);
	unsigned char h[32];
	char hash[65];
	tree t;
	int error;

	*out = NULL;
	if (home) {
		*kind = EF_FILES_HOME;
		return persistent_dir(out, f, "home", rel);
	}
	if (f->src && strcmp(rel, ".") == 0)
		what = EF_COMPOSE_DIR; /* the environment directory itself */
	else if (f->src && (error = f->src->stat(f->src->ctx, &what, rel)) < 0 &&
	         error != EF_ENOTFOUND)
		return error;
	if (what == EF_COMPOSE_ABSENT) {
		*kind = EF_FILES_DATA;
		return persistent_dir(out, f, "data", strcmp(rel, ".") == 0 ? "env" : rel);
	}
	*kind = EF_FILES_CONFIG;
	memset(&t, 0, sizeof(t));
	crypto_hash_sha256_init(&t.hash);
	h_str(&t.hash, what == EF_COMPOSE_DIR ? "dir" : "file");
	if ((error = tree_read(&t, f->src, rel, what == EF_COMPOSE_DIR ? "" : base_name(rel))) <
	    0) {
		ef_error_prefix("%s: %s", f->src->name ? f->src->name : "environment", rel);
		goto out;
	}
	crypto_hash_sha256_final(&t.hash, h);
	hex(hash, h);
	if ((error = ef_buf_printf(&dir, "%s/files", f->root)) == 0)
		error = publish(out, dir.ptr, hash, &t,
		                what == EF_COMPOSE_DIR ? NULL : base_name(rel));
out:
	ef_buf_dispose(&dir);
	tree_dispose(&t);
	return error;
}

/* Writes `content` as file `name` of DIR/<hash> with its mode and owner. */
static int put_file(char **out, const char *dir, const char *hash, const char *name,
                    const void *content, size_t len, unsigned mode, long uid, long gid)
{
	ef_buf data = EF_BUF_INIT(len + 1);
	char *path = NULL;
	tree t;
	int error;

	*out = NULL;
	memset(&t, 0, sizeof(t));
	crypto_hash_sha256_init(&t.hash);
	if ((error = ef_buf_put(&data, content, len)) < 0 ||
	    (error = tree_add(&t, name, &data)) < 0 ||
	    (error = publish(&path, dir, hash, &t, name)) < 0)
		goto out;
	/* Mode and owner on every use: cheap, and repairs a tampered copy. */
	if ((error = ef_fs_set_mode(path, mode, uid, gid)) < 0)
		goto out;
	*out = path;
	path = NULL;
out:
	free(path);
	ef_buf_dispose_secret(&data);
	tree_dispose(&t);
	return error;
}

/* The content address of a put file: its mode, owner, name and `content`
 * (for a secret, the encrypted file: no hash of a plaintext is ever kept). */
static void put_hash(char out[65], const char *name, const void *content, size_t len, unsigned mode,
                     long uid, long gid)
{
	crypto_hash_sha256_state st;
	unsigned char h[32];
	char meta[96];

	crypto_hash_sha256_init(&st);
	snprintf(meta, sizeof(meta), "put %o %ld %ld", mode, uid, gid);
	h_str(&st, meta);
	h_str(&st, name);
	crypto_hash_sha256_update(&st, content, len);
	crypto_hash_sha256_final(&st, h);
	hex(out, h);
}

int ef_files_put(char **out, const ef_files *f, const char *name, const void *content, size_t len,
                 unsigned mode, long uid, long gid)
{
	ef_buf dir = EF_BUF_INIT(8192);
	char hash[65];
	int error;

	*out = NULL;
	put_hash(hash, name, content, len, mode, uid, gid);
	if ((error = ef_buf_printf(&dir, "%s/files", f->root)) == 0)
		error = put_file(out, dir.ptr, hash, name, content, len, mode, uid, gid);
	ef_buf_dispose(&dir);
	return error;
}

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);

	return n >= m && strcmp(s + n - m, tail) == 0;
}

static int no_identities(const char *file)
{
	ef_error_set("%s is a SOPS document but the device has no age identities: "
	             "set [secrets] age_key_file",
	             file);
	return EF_EREJECTED;
}

/* A json or yaml SOPS document (a binary one for any other name) parsed and
 * decrypted in place into *out (wipe with ef_sops_tree_wipe before freeing).
 * 1: done; 0: not a SOPS document (*out NULL). */
/* The tree of a json, yaml or (any other name) binary SOPS document, or
 * NULL when the file is not one. */
static cJSON *sops_tree(const char *file, const char *content, size_t len)
{
	bool yaml = ends_with(file, ".yaml") || ends_with(file, ".yml");
	cJSON *doc = NULL;

	if (yaml && len <= EF_COMPOSE_MAX_FILE) {
		if (ef_compose_yaml_read(&doc, content, len, file, NULL, NULL) < 0)
			doc = NULL;
	} else if (!yaml) {
		doc = cJSON_ParseWithLength(content, len);
	}
	if (doc && cJSON_IsObject(doc) && ef_sops_tree_is_encrypted(doc))
		return doc;
	cJSON_Delete(doc);
	return NULL;
}

static int open_tree(cJSON **out, const ef_files *f, const char *file, const char *content,
                     size_t len)
{
	cJSON *doc = NULL;
	int error = 0;

	*out = NULL;
	if (!(doc = sops_tree(file, content, len)))
		goto out; /* not a SOPS document: used as it is */
	if (!f->age) {
		error = no_identities(file);
		goto out;
	}
	if ((error = ef_sops_decrypt_tree(doc, f->age, file)) < 0)
		goto out;
	*out = doc;
	doc = NULL; /* now the caller's */
	error = 1;
out:
	ef_sops_tree_wipe(doc);
	cJSON_Delete(doc);
	return error;
}

/* A json, yaml or binary SOPS document decrypted into `plain` (JSON, or the
 * bytes of a binary file). 1: done; 0: not a SOPS document. */
static int decrypt_tree(ef_buf *plain, const ef_files *f, const char *file, const char *content,
                        size_t len)
{
	bool yaml = ends_with(file, ".yaml") || ends_with(file, ".yml");
	bool json = ends_with(file, ".json");
	cJSON *doc = NULL, *data;
	char *text = NULL;
	int error;

	if ((error = open_tree(&doc, f, file, content, len)) <= 0)
		goto out;
	if (!json && !yaml) {
		/* binary: sops keeps the bytes as the one value `data` */
		data = cJSON_GetObjectItemCaseSensitive(doc, "data");
		if (!cJSON_IsString(data)) {
			ef_error_set("%s: a SOPS binary file without a `data` string", file);
			error = EF_EINVALID;
			goto out;
		}
		error = ef_buf_put(plain, data->valuestring, strlen(data->valuestring));
	} else if (!(text = cJSON_Print(doc))) {
		error = EF_ENOMEM;
	} else {
		error = ef_buf_puts(plain, text);
		if (error == 0)
			error = ef_buf_puts(plain, "\n");
	}
	error = error < 0 ? error : 1;
out:
	ef_str_wipe(text);
	cJSON_free(text);
	ef_sops_tree_wipe(doc);
	cJSON_Delete(doc);
	return error;
}

/* NAME=VALUE into `env`, a value set before wiped first. */
static int env_set(ef_env *env, const char *name, const char *value)
{
	ef_str_wipe((char *)ef_env_get(env, name)); /* replaced: ours to wipe */
	return ef_env_set(env, name, value);
}

/* The top-level values of a decrypted json/yaml document as variables
 * (strings as they are, numbers and booleans as JSON writes them); nested
 * objects and arrays have no dotenv form and are skipped, as
 * `sops exec-env` does. */
static int env_from_tree(ef_env *env, const cJSON *doc)
{
	int error = 0;

	for (const cJSON *it = doc->child; it && error == 0; it = it->next) {
		char *text = NULL;

		if (cJSON_IsObject(it) || cJSON_IsArray(it) || !it->string)
			continue;
		if (cJSON_IsString(it))
			error = env_set(env, it->string, it->valuestring);
		else if (!(text = cJSON_PrintUnformatted(it)))
			error = EF_ENOMEM;
		else
			error = env_set(env, it->string, cJSON_IsNull(it) ? "" : text);
		ef_str_wipe(text);
		cJSON_free(text);
	}
	return error;
}

/* `KEY=VALUE` lines taken as written (env_file `format: raw`). */
static int env_raw(ef_env *env, const char *text, size_t len, const char *file)
{
	const char *p = text, *end = text + len;
	unsigned line = 0;
	int error = 0;

	while (p < end && error == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *e = nl ? nl : end, *eq;
		char *key = NULL, *val = NULL;

		line++;
		if (e > p && e[-1] == '\r')
			e--;
		if (e > p && *p != '#') {
			if (!(eq = memchr(p, '=', (size_t)(e - p))) || eq == p) {
				ef_error_set("%s:%u: expected KEY=VALUE", file, line);
				return EF_EINVALID;
			}
			key = strndup(p, (size_t)(eq - p));
			val = strndup(eq + 1, (size_t)(e - eq - 1));
			error = key && val ? env_set(env, key, val) : EF_ENOMEM;
			free(key);
			ef_str_wipe(val);
			free(val);
		}
		p = nl ? nl + 1 : end;
	}
	return error;
}

int ef_files_env(ef_env *env, const ef_files *f, const ef_env_file *ef)
{
	ef_buf content = EF_BUF_INIT(EF_FILES_MAX_FILE), plain = EF_BUF_INIT(EF_FILES_MAX_FILE);
	ef_compose_kind kind = EF_COMPOSE_ABSENT;
	const char *file = ef->path;
	cJSON *doc = NULL;
	int error;

	if (!f->src) {
		ef_error_set("env_file %s: no environment directory to read it from", file);
		return EF_EINVALID;
	}
	if ((error = f->src->stat(f->src->ctx, &kind, file)) < 0 && error != EF_ENOTFOUND)
		return error;
	if (kind != EF_COMPOSE_FILE) {
		if (kind == EF_COMPOSE_ABSENT && !ef->required)
			return 0;
		ef_error_set("env_file %s is not a file of the environment directory: add it, or "
		             "write `{path: %s, required: false}`",
		             file, file);
		return EF_EINVALID;
	}
	if ((error = f->src->read(f->src->ctx, &content, file, EF_FILES_MAX_FILE)) < 0)
		goto out;
	if (ends_with(file, ".json") || ends_with(file, ".yaml") || ends_with(file, ".yml")) {
		if ((error = open_tree(&doc, f, file, content.ptr ? content.ptr : "",
		                       content.len)) != 0) {
			if (error > 0 && (error = env_from_tree(env, doc)) == 0)
				error = 1;
			goto out;
		}
	} else if (ef_sops_dotenv_is_encrypted(content.ptr ? content.ptr : "", content.len)) {
		if (!f->age) {
			error = no_identities(file);
			goto out;
		}
		if ((error = ef_sops_decrypt_dotenv(&plain, f->age, content.ptr, content.len,
		                                    file)) < 0)
			goto out;
		/* "KEY=VALUE\0" entries, values as sops stored them */
		for (size_t i = 0; i < plain.len && error == 0;) {
			char *entry = plain.ptr + i, *eq = strchr(entry, '=');
			size_t n = strlen(entry);

			if (eq) {
				*eq = '\0';
				error = env_set(env, entry, eq + 1);
				*eq = '=';
			}
			i += n + 1;
		}
		error = error < 0 ? error : 1;
		goto out;
	}
	/* Plain text: a dotenv file as Compose reads it. */
	if (ef->format && strcmp(ef->format, "raw") == 0)
		error = env_raw(env, content.ptr ? content.ptr : "", content.len, file);
	else
		error = ef_dotenv_parse(env, content.ptr ? content.ptr : "", content.len, file,
		                        NULL, NULL);
out:
	ef_sops_tree_wipe(doc);
	cJSON_Delete(doc);
	ef_buf_dispose_secret(&plain);
	ef_buf_dispose_secret(&content);
	return error;
}

/* A secret file decrypted into `plain` by its format. 1: done; 0: not a
 * SOPS document. */
static int decrypt_file(ef_buf *plain, const ef_files *f, const char *file, const char *content,
                        size_t len)
{
	if (!ends_with(file, ".env"))
		return decrypt_tree(plain, f, file, content, len);
	return ef_files_open_dotenv((void *)f->age, plain, content, len, file);
}

int ef_files_open_dotenv(void *age, ef_buf *out, const char *text, size_t len, const char *file)
{
	int error;

	if (!ef_sops_dotenv_is_encrypted(text, len))
		return 0;
	error = age ? ef_sops_decrypt_dotenv(out, age, text, len, file) : no_identities(file);
	return error < 0 ? error : 1;
}

int ef_files_inspect(ef_sops_info *info, const char **format, const ef_age_identities *age,
                     const char *file, const char *content, size_t len, bool env_file)
{
	bool json = ends_with(file, ".json"),
	     yaml = ends_with(file, ".yaml") || ends_with(file, ".yml");
	const ef_files f = {.age = age};
	ef_buf plain = EF_BUF_INIT(EF_FILES_MAX_FILE);
	cJSON *doc = NULL;
	int error = 0;

	memset(info, 0, sizeof(*info));
	*format = NULL;
	if ((env_file && !json && !yaml) || ends_with(file, ".env")) {
		if (!ef_sops_dotenv_is_encrypted(content, len))
			return 0;
		*format = "dotenv";
		if ((error = ef_sops_inspect_dotenv(info, content, len, file)) == 0 && age)
			error = ef_files_open_dotenv((void *)age, &plain, content, len, file);
		goto out;
	}
	if (!(doc = sops_tree(file, content, len)))
		goto out; /* not a SOPS document */
	*format = json ? "json" : yaml ? "yaml" : "binary";
	if ((error = ef_sops_inspect_tree(info, doc, file)) == 0 && age)
		error = decrypt_tree(&plain, &f, file, content, len);
out:
	cJSON_Delete(doc);
	ef_buf_dispose_secret(&plain);
	return error < 0 ? error : *format != NULL;
}

int ef_files_check_secret(const ef_files *f, const char *file, const void *content, size_t len)
{
	ef_buf plain = EF_BUF_INIT(EF_FILES_MAX_FILE);
	int error = decrypt_file(&plain, f, file, content, len);

	ef_buf_dispose_secret(&plain);
	return error;
}

int ef_files_put_secret(char **out, const ef_files *f, const char *file, const char *name,
                        const void *content, size_t len, unsigned mode, long uid, long gid)
{
	ef_buf plain = EF_BUF_INIT(EF_FILES_MAX_FILE);
	char hash[65];
	int error, in_memory;

	*out = NULL;
	if ((error = decrypt_file(&plain, f, file, content, len)) <= 0)
		goto out;
	if (!f->secret_root || (error = ef_fs_mkdir_p(f->secret_root, 0700)) < 0 ||
	    (in_memory = ef_fs_in_memory(f->secret_root)) <= 0) {
		ef_error_set(
		        "%s: decrypted secrets go to a tmpfs, and %s is not one: set [secrets] "
		        "runtime_dir to a directory on a tmpfs (e.g. under /run)",
		        file, f->secret_root ? f->secret_root : "(none)");
		error = EF_EINVALID;
		goto out;
	}
	put_hash(hash, name, content, len, mode, uid, gid);
	error = put_file(out, f->secret_root, hash, name, plain.ptr, plain.len, mode, uid, gid);
out:
	ef_buf_dispose_secret(&plain);
	return error;
}
