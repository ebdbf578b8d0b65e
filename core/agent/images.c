/* Image signatures before anything is created: with [trust] image_keys set,
 * every image of the manifest is resolved to the digest its registry serves
 * (a tag is resolved once, and the service then runs that digest) and must
 * carry a cosign signature by one of the keys (core/trust/cosign.c). Done
 * for every image whether or not the engine has it cached. */
#include "agent_internal.h"
#include "edgeflip/error.h"
#include "edgeflip/imagesig.h"
#include "edgeflip/log.h"
#include "edgeflip/manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEY_FILE (256 * 1024)

int ef_agent_check_images(ef_agent *a, ef_manifest *m, ef_buf *why, char ***signers)
{
	const ef_config *cfg = a->cfg;
	ef_image_keys *keys = NULL;
	ef_registry_opts o = {.ca_file = cfg->image_ca_file,
	                      .http_registries = (const char *const *)cfg->image_http_registries,
	                      .timeout_ms = cfg->engine_timeout_ms};
	ef_buf pem;
	int error;

	*signers = NULL;
	if (!cfg->image_keys)
		return 0;
	if ((error = ef_read_file(&pem, cfg->image_keys, MAX_KEY_FILE)) < 0 ||
	    (error = ef_image_keys_parse(&keys, pem.ptr, pem.len, cfg->image_keys)) < 0) {
		/* The device's own configuration is wrong: not the commit's fault. */
		ef_error_prefix("[trust] image_keys");
		ef_buf_dispose(&pem);
		return error == EF_ENOTFOUND ? EF_EINVALID : error;
	}
	ef_buf_dispose(&pem);
	for (size_t i = 0; i < m->nservices; i++) {
		ef_service *s = &m->services[i];
		char *registry = NULL, *repo = NULL, *tag = NULL, *digest = NULL;
		char resolved[72];
		ef_image_verdict v;

		if ((error = ef_image_ref_split(s->image, &registry, &repo, &tag, &digest)) < 0)
			goto next;
		if (!digest) {
			if ((error = ef_image_resolve(resolved, &o, registry, repo, tag)) < 0)
				goto next;
			digest = strdup(resolved);
			if (!digest) {
				error = EF_ENOMEM;
				goto next;
			}
		}
		error = ef_image_verify(&v, keys, &o, registry, repo, digest);
		if (error == EF_EREJECTED) {
			ef_error("image-refused", "service=%s image=%s reason=\"%s\"", s->name,
			         s->image, v.reason);
			ef_buf_printf(why, "%sservice %s: image %s@%s: %s", why->len ? "; " : "",
			              s->name, repo, digest, v.reason);
			goto next;
		}
		if (error < 0)
			goto next;
		ef_info("image-verified", "service=%s image=%s@%s key=%s method=%s", s->name, repo,
		        digest, v.key, v.method);
		if (!strchr(s->image, '@')) {
			/* Run what was verified, not whatever the tag names later. */
			size_t n = strlen(s->image) + 1 + strlen(digest) + 1;
			char *pinned = malloc(n);
			if (!pinned) {
				error = EF_ENOMEM;
				goto next;
			}
			snprintf(pinned, n, "%s@%s", s->image, digest);
			free(s->image);
			s->image = pinned;
		}
		{
			ef_buf entry = EF_BUF_INIT(8192);
			if ((error = ef_buf_printf(&entry, "%s %s", s->image, v.key)) == 0)
				error = ef_strv_push(signers, entry.ptr);
			ef_buf_dispose(&entry);
		}
	next:
		free(registry);
		free(repo);
		free(tag);
		free(digest);
		if (error < 0 && error != EF_EREJECTED)
			break;
	}
	ef_image_keys_free(keys);
	if (error < 0 && error != EF_EREJECTED) {
		ef_strv_free(*signers);
		*signers = NULL;
	}
	if (error < 0 && error != EF_EREJECTED)
		return error;
	return why->len ? EF_EREJECTED : 0;
}

const char *ef_agent_signer_of(char *const *signers, const char *image)
{
	size_t n = image ? strlen(image) : 0;

	for (size_t j = 0; n && signers && signers[j]; j++)
		if (strncmp(signers[j], image, n) == 0 && signers[j][n] == ' ')
			return signers[j] + n + 1;
	return NULL;
}

void ef_agent_note_signers(ef_agent *a, char *const *signers)
{
	for (size_t i = 0; i < a->st.nservices; i++) {
		ef_state_service *s = &a->st.services[i];
		const char *key = ef_agent_signer_of(signers, s->image);

		free(s->image_signer);
		s->image_signer = key ? ef_strdup(key) : NULL; /* NULL: not checked */
	}
}
