/* edgeflip lint: secrets and image signatures (firmware/lint_trust.c). */
#ifndef EDGEFLIP_LINT_TRUST_H
#define EDGEFLIP_LINT_TRUST_H

#include "edgeflip/compose_read.h"
#include "edgeflip/imagesig.h"
#include "edgeflip/manifest.h"
#include "edgeflip/secrets.h"

typedef struct {
	const char *age_key_file; /* an age identity file: SOPS files are decrypted too */
	const char *image_keys;   /* [trust] image_keys: images need a signature */
	ef_age_identities *age;
	ef_image_keys *keys;
} lint_trust;

/* Reads the key files (either may be NULL); an error names the file. */
int lint_trust_open(lint_trust *t, const char *age_key_file, const char *image_keys);
void lint_trust_close(lint_trust *t);

/* The compose reader's dotenv_open for lint (ctx: the lint_trust): with an
 * age key a SOPS .env is decrypted; without one it is checked and its
 * variables are set empty, so that the compose files still interpolate. */
int lint_trust_dotenv_open(void *ctx, ef_buf *out, const char *text, size_t len, const char *file);

/* One report line for each SOPS file `dir` uses with `opts` (.env files,
 * secret files, env_files) and each image of `m`; malformed files, files
 * that do not decrypt with a given key and images referenced by tag only
 * under image_keys are findings. 0 or EF_EXIT_REJECTED. */
int lint_trust_report(ef_findings *f, ef_buf *report, const lint_trust *t, const char *dir,
                      const ef_manifest *m, const ef_compose_opts *opts);

#endif
