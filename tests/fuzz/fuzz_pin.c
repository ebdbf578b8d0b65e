/* libFuzzer target: `edgeflip pin`'s scan and in-place edit of a compose
 * file. Every image the scan calls editable must be edited and read back as
 * the same document with the new value (ef_pin_edit checks that). */
#include "edgeflip/error.h"
#include "edgeflip/pin.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define D "@sha256:00000000000000000000000000000000000000000000000000000000000000aa"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ef_pin_images imgs;
	ef_buf out;
	char **values;
	int rc;

	if (ef_pin_scan(&imgs, (const char *)data, size, "fuzz.yaml") < 0)
		return 0;
	values = calloc(imgs.n + 1, sizeof(*values));
	for (size_t i = 0; values && i < imgs.n; i++) {
		if (imgs.v[i].pinned || imgs.v[i].why_not[0])
			continue;
		if ((values[i] = malloc(strlen(imgs.v[i].image) + sizeof(D))))
			sprintf(values[i], "%s%s", imgs.v[i].image, D);
	}
	if (values) {
		rc = ef_pin_edit(&out, (const char *)data, size, "fuzz.yaml", &imgs, values);
		if (rc == 0)
			ef_buf_dispose(&out);
		else if (rc == EF_EINVALID && !strstr(ef_error_last(), "not an image reference"))
			abort(); /* an editable value that could not be edited */
		for (size_t i = 0; i < imgs.n; i++)
			free(values[i]);
		free(values);
	}
	ef_pin_images_dispose(&imgs);
	return 0;
}
