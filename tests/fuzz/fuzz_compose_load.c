/* libFuzzer target: an environment directory read as the agent reads it
 * (ef_compose_load): the input is up to four files separated by lines
 * "#---#": compose.yaml, compose.override.yaml, common.yml (for
 * extends.file) and .env. Covers reading, interpolation, extends, merge and
 * the model together. */
#include "edgeflip/compose_read.h"
#include "edgeflip/error.h"
#include "edgeflip/manifest.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"compose.yaml", "compose.override.yaml", "common.yml", ".env"};
#define NFILES (sizeof(names) / sizeof(names[0]))

typedef struct {
	const char *text[NFILES];
	size_t len[NFILES];
	bool present[NFILES];
} mem_dir;

static int find(const mem_dir *d, const char *rel)
{
	for (size_t i = 0; i < NFILES; i++)
		if (d->present[i] && !strcmp(rel, names[i]))
			return (int)i;
	return -1;
}

static int mem_read(void *ctx, ef_buf *out, const char *rel, size_t cap)
{
	const mem_dir *d = ctx;
	int i = find(d, rel);

	ef_buf_init(out, cap);
	if (i < 0) {
		ef_error_set("%s: not found", rel);
		return EF_ENOTFOUND;
	}
	if (d->len[i] > cap)
		return EF_ETOOBIG;
	return ef_buf_put(out, d->text[i], d->len[i]) < 0 ? EF_ENOMEM : ef_buf_puts(out, "");
}

static int mem_stat(void *ctx, ef_compose_kind *out, const char *rel)
{
	*out = find(ctx, rel) >= 0 ? EF_COMPOSE_FILE : EF_COMPOSE_ABSENT;
	return 0;
}

static int mem_list(void *ctx, char ***out, const char *rel)
{
	const mem_dir *d = ctx;

	*out = NULL;
	if (*rel)
		return 0;
	for (size_t i = 0; i < NFILES; i++)
		if (d->present[i] && ef_strv_push(out, names[i]) < 0)
			return EF_ENOMEM;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char sep[] = "\n#---#\n";
	const char *text = (const char *)data, *end = text + size;
	mem_dir d;
	ef_compose_src src = {mem_read, mem_stat, mem_list, &d, "env"};
	ef_manifest *m = NULL;
	ef_findings f;
	size_t n = 0;

	memset(&d, 0, sizeof(d));
	while (n < NFILES) {
		const char *next = NULL;
		for (const char *p = text; p + sizeof(sep) - 1 <= end; p++)
			if (!memcmp(p, sep, sizeof(sep) - 1)) {
				next = p;
				break;
			}
		d.text[n] = text;
		d.len[n] = (size_t)((next ? next : end) - text);
		d.present[n] = true;
		n++;
		if (!next)
			break;
		text = next + sizeof(sep) - 1;
	}
	ef_findings_init(&f);
	ef_compose_load(&m, NULL, NULL, &src, NULL, &f);
	ef_manifest_free(m);
	ef_findings_dispose(&f);
	return 0;
}
