/* Pinning and promotion for the GitOps repository's CI (`edgeflip pin`,
 * `edgeflip promote`): the `image:` values of the services of one compose
 * file, found with the compose reader's positions, and edited in place
 * byte for byte: nothing but the bytes of each edited value changes
 * (comments, quoting, indentation, anchors stay). See docs/ci.md. */
#ifndef EDGEFLIP_PIN_H
#define EDGEFLIP_PIN_H

#include "edgeflip/buf.h"

#include <stdbool.h>
#include <stddef.h>

/* One service's `image:` in one file. */
typedef struct {
	char *service;
	char *image;   /* the value as written (not interpolated) */
	unsigned line; /* where the value starts (1-based) */
	unsigned col;
	size_t start; /* bytes [start, end) of the value's text, quotes excluded */
	size_t end;
	bool pinned;       /* the reference carries a digest (@sha256:...) */
	char why_not[200]; /* why the value cannot be edited in place; "" when it can */
} ef_pin_image;

typedef struct {
	ef_pin_image *v;
	size_t n;
} ef_pin_images;

void ef_pin_images_dispose(ef_pin_images *l);

/* Reads one compose file (YAML or JSON) and lists the `image:` of each of
 * its services, in file order. A value that comes from an alias or a merge
 * key, uses `${...}` interpolation, or whose text is not the value itself
 * (escapes, a block scalar, a multi-line plain scalar) is listed with
 * `why_not` set. EF_EINVALID (last error names file:line:col) on a file the
 * reader refuses. */
int ef_pin_scan(ef_pin_images *out, const char *text, size_t len, const char *file);

/* `text` with the value of each image whose `values[i]` is not NULL
 * replaced by `values[i]`, into `out`. The result is read again and checked
 * to be the same document but for those values; EF_EINVALID otherwise (or
 * when a value to set is not editable or not a plain image reference). */
int ef_pin_edit(ef_buf *out, const char *text, size_t len, const char *file,
                const ef_pin_images *imgs, char *const *values);

#endif
