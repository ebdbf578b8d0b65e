/* What `edgeflip lint` says of secrets and image signatures (docs/secrets.md,
 * docs/verification.md): every SOPS file the environment directory uses —
 * the `.env` files read for ${VAR}, top-level secret files, services'
 * env_files — with its format, recipients and whether it is well-formed,
 * decrypted only when an age key is given; and with [trust] image_keys,
 * which images need a signature, an image referenced by tag only being a
 * finding. Offline: no registry is contacted. */
#include "lint_trust.h"

#include "edgeflip/agent.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/files.h"
#include "edgeflip/imagesig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEY_FILE (1u << 20)

int lint_trust_open(lint_trust *t, const char *age_key_file, const char *image_keys)
{
	ef_buf text = EF_BUF_INIT(MAX_KEY_FILE);
	int error = 0;

	memset(t, 0, sizeof(*t));
	t->age_key_file = age_key_file;
	t->image_keys = image_keys;
	if (age_key_file) {
		if ((error = ef_read_file(&text, age_key_file, text.cap)) < 0)
			ef_error_prefix("age key %s", age_key_file);
		else
			error = ef_age_identities_parse(&t->age, text.ptr, text.len, age_key_file);
		ef_buf_dispose_secret(&text);
		if (error < 0)
			return error;
	}
	if (image_keys) {
		if ((error = ef_read_file(&text, image_keys, text.cap)) < 0)
			ef_error_prefix("[trust] image_keys %s", image_keys);
		else
			error = ef_image_keys_parse(&t->keys, text.ptr, text.len, image_keys);
		ef_buf_dispose(&text);
	}
	return error;
}

void lint_trust_close(lint_trust *t)
{
	ef_age_identities_free(t->age);
	ef_image_keys_free(t->keys);
	memset(t, 0, sizeof(*t));
}

int lint_trust_dotenv_open(void *ctx, ef_buf *out, const char *text, size_t len, const char *file)
{
	const lint_trust *t = ctx;
	ef_sops_info info;
	int error;

	if (t->age)
		return ef_files_open_dotenv(t->age, out, text, len, file);
	if (!ef_sops_dotenv_is_encrypted(text, len))
		return 0;
	/* No key: the names, with empty values, so that ${VAR} is set. */
	if ((error = ef_sops_inspect_dotenv(&info, text, len, file)) == 0)
		for (size_t i = 0; error == 0 && info.keys && info.keys[i]; i++)
			if ((error = ef_buf_puts(out, info.keys[i])) == 0)
				error = ef_buf_put(out, "=", 2); /* "NAME=\0" */
	ef_sops_info_dispose(&info);
	return error < 0 ? error : 1;
}

/* One file: a report line, or a finding when it is malformed or (with a
 * key) does not decrypt. */
static int one_file(ef_findings *f, ef_buf *report, const lint_trust *t, const ef_compose_src *src,
                    const char *what, const char *who, const char *rel, bool env_file)
{
	ef_buf content;
	ef_sops_info info;
	const char *format = NULL;
	char shown[4400];
	int rc;

	snprintf(shown, sizeof(shown), "%s/%s", src->name, rel);
	if (src->read(src->ctx, &content, rel, EF_FILES_MAX_FILE) < 0) {
		ef_findings_add(f, shown, 0, 0, what, ef_error_last());
		return EF_EXIT_REJECTED;
	}
	rc = ef_files_inspect(&info, &format, t->age, shown, content.ptr ? content.ptr : "",
	                      content.len, env_file);
	ef_buf_printf(report, "%s: %s (%s): ", what, who, rel);
	if (rc == 0) {
		ef_buf_puts(report, "plain: not encrypted\n");
	} else if (rc < 0) {
		ef_buf_puts(report, "refused\n");
		ef_findings_add(f, shown, 0, 0, what, ef_error_last());
	} else {
		ef_buf_printf(report, "SOPS %s (sops %s), %zu encrypted value%s", format,
		              info.version ? info.version : "?", info.encrypted,
		              info.encrypted == 1 ? "" : "s");
		if (info.plain)
			ef_buf_printf(report, ", %zu in clear by its rules", info.plain);
		ef_buf_printf(report, ", age recipients:");
		for (size_t i = 0; info.recipients && info.recipients[i]; i++)
			ef_buf_printf(report, " %s", info.recipients[i]);
		ef_buf_printf(report, "; well-formed (MAC present); %s\n",
		              t->age ? "decrypts with the given key, MAC checked"
		                     : "not decrypted (no age key given)");
	}
	ef_sops_info_dispose(&info);
	ef_buf_dispose_secret(&content);
	return rc < 0 ? EF_EXIT_REJECTED : 0;
}

/* The `.env` of the directory and of the layers `opts` makes active. */
static int dotenv_files(ef_findings *f, ef_buf *report, const lint_trust *t,
                        const ef_compose_src *src, const ef_compose_opts *opts)
{
	char rel[400];
	int rc = 0;

	for (size_t i = 0; i < 2 + ef_strv_len(opts->labels); i++) {
		ef_compose_kind k;
		if (i == 0)
			snprintf(rel, sizeof(rel), ".env");
		else if (i == 1 && !opts->device_id)
			continue;
		else if (i == 1)
			snprintf(rel, sizeof(rel), "devices/%s/.env", opts->device_id);
		else
			snprintf(rel, sizeof(rel), "labels/%s/.env", opts->labels[i - 2]);
		if (src->stat(src->ctx, &k, rel) < 0 || k != EF_COMPOSE_FILE)
			continue;
		rc |= one_file(f, report, t, src, ".env", "interpolation", rel, true);
	}
	return rc;
}

static int images(ef_findings *f, ef_buf *report, const lint_trust *t, const char *dir,
                  const ef_manifest *m)
{
	int rc = 0;

	if (!t->keys) {
		ef_buf_puts(report,
		            "images: signatures not checked (no [trust] image_keys given)\n");
		return 0;
	}
	for (size_t i = 0; i < m->nservices; i++) {
		const ef_service *s = &m->services[i];
		char *reg = NULL, *repo = NULL, *tag = NULL, *digest = NULL, path[300];

		if (!s->image || ef_image_ref_split(s->image, &reg, &repo, &tag, &digest) < 0) {
			ef_buf_printf(report, "image: %s: no image\n", s->name);
			continue;
		}
		ef_buf_printf(report,
		              "image: %s (%s): needs a cosign signature by a key of %s (%zu)%s\n",
		              s->name, s->image, t->image_keys, ef_image_keys_count(t->keys),
		              digest ? "" : "; referenced by tag only");
		if (!digest) {
			snprintf(path, sizeof(path), "services.%s.image", s->name);
			ef_findings_add(
			        f, dir, 0, 0, path,
			        "the image is referenced by tag only, and [trust] image_keys "
			        "is set: a signature is for a digest, and the tag may move "
			        "between review and deploy; pin it (`edgeflip pin`, or "
			        "image: REPO@sha256:...)");
			rc = EF_EXIT_REJECTED;
		}
		free(reg), free(repo), free(tag), free(digest);
	}
	return rc;
}

int lint_trust_report(ef_findings *f, ef_buf *report, const lint_trust *t, const char *dir,
                      const ef_manifest *m, const ef_compose_opts *opts)
{
	ef_compose_src src;
	int rc;

	ef_compose_src_dir(&src, dir);
	rc = dotenv_files(f, report, t, &src, opts);
	for (size_t i = 0; i < m->nsecrets; i++)
		if (m->secrets[i].file && m->secrets[i].file[0] != '/')
			rc |= one_file(f, report, t, &src, "secret", m->secrets[i].key,
			               m->secrets[i].file, false);
	for (size_t i = 0; i < m->nservices; i++)
		for (size_t j = 0; j < m->services[i].nenv_files; j++) {
			const ef_env_file *e = &m->services[i].env_files[j];
			ef_compose_kind k;
			if (!e->required &&
			    (src.stat(src.ctx, &k, e->path) < 0 || k != EF_COMPOSE_FILE))
				continue;
			rc |= one_file(f, report, t, &src, "env_file", m->services[i].name, e->path,
			               true);
		}
	rc |= images(f, report, t, dir, m);
	return rc ? EF_EXIT_REJECTED : 0;
}
