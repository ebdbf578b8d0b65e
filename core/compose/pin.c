/* `image:` values found in a compose file by the reader's positions and
 * edited in place: only the bytes of each value change. Every edit is
 * checked by reading the result again. */
#include "edgeflip/pin.h"
#include "edgeflip/compose_read.h"
#include "edgeflip/error.h"
#include "edgeflip/manifest.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ef_pin_images_dispose(ef_pin_images *l)
{
	for (size_t i = 0; l && i < l->n; i++) {
		free(l->v[i].service);
		free(l->v[i].image);
	}
	if (l) {
		free(l->v);
		l->v = NULL;
		l->n = 0;
	}
}

/* Width of the line break at t[i] as libyaml counts breaks (\r\n, \r, \n,
 * NEL, LS, PS), 0 when there is none. */
static size_t break_at(const char *t, size_t len, size_t i)
{
	const unsigned char *u = (const unsigned char *)t;

	if (u[i] == '\r')
		return i + 1 < len && u[i + 1] == '\n' ? 2 : 1;
	if (u[i] == '\n')
		return 1;
	if (i + 1 < len && u[i] == 0xc2 && u[i + 1] == 0x85)
		return 2;
	if (i + 2 < len && u[i] == 0xe2 && u[i + 1] == 0x80 &&
	    (u[i + 2] == 0xa8 || u[i + 2] == 0xa9))
		return 3;
	return 0;
}

/* The byte offset of 1-based line:column (columns count characters). */
static int offset_of(size_t *out, const char *t, size_t len, unsigned line, unsigned col)
{
	size_t i = 0;

	if (len >= 3 && !memcmp(t, "\xef\xbb\xbf", 3))
		i = 3; /* the reader drops a byte order mark before counting */
	for (unsigned l = 1; l < line; i++) {
		size_t w;
		if (i >= len)
			return EF_ERROR;
		if ((w = break_at(t, len, i)) > 0) {
			i += w - 1;
			l++;
		}
	}
	for (unsigned c = 1; c < col; c++) {
		if (i >= len)
			return EF_ERROR;
		for (i++; i < len && ((unsigned char)t[i] & 0xc0) == 0x80; i++)
			;
	}
	*out = i;
	return i <= len ? 0 : EF_ERROR;
}

static void why(ef_pin_image *im, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void why(ef_pin_image *im, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(im->why_not, sizeof(im->why_not), fmt, ap);
	va_end(ap);
}

/* Finds the bytes of the value of `node` in `t`: the text between the
 * node's start (after its anchor or tag, inside its quotes) and its end. */
static void locate(ef_pin_image *im, const ef_compose_pos *pos, const cJSON *node, const char *t,
                   size_t len)
{
	unsigned el, ec;
	size_t s, e;
	char q = 0;

	if (ef_compose_pos_end(pos, node, &el, &ec) < 0) {
		why(im,
		    "the value comes from an alias or a merge key (written at line %u:%u); "
		    "pin it where it is written",
		    im->line, im->col);
		return;
	}
	if (offset_of(&s, t, len, im->line, im->col) < 0 || offset_of(&e, t, len, el, ec) < 0 ||
	    e < s) {
		why(im, "the value's place in the file could not be found");
		return;
	}
	/* Node properties before the scalar: &anchor, !tag. */
	while (s < e && (t[s] == '&' || t[s] == '!')) {
		while (s < e && t[s] != ' ' && t[s] != '\t' && !break_at(t, len, s))
			s++;
		while (s < e && (t[s] == ' ' || t[s] == '\t' || break_at(t, len, s)))
			s++;
	}
	if (s < e && (t[s] == '|' || t[s] == '>')) {
		why(im, "the value is a block scalar (| or >); write it on one line");
		return;
	}
	if (s < e && (t[s] == '"' || t[s] == '\'')) {
		q = t[s];
		if (e - s < 2 || t[e - 1] != q) {
			why(im, "the value's quotes could not be found");
			return;
		}
		s++, e--;
	}
	if (e - s != strlen(im->image) || memcmp(t + s, im->image, e - s) != 0) {
		why(im, "the value is written with escapes or over several lines; write it on "
		        "one line without escapes");
		return;
	}
	im->start = s;
	im->end = e;
}

static int scan_service(ef_pin_images *out, const ef_compose_pos *pos, const cJSON *svc,
                        const char *t, size_t len)
{
	const cJSON *img = cJSON_GetObjectItemCaseSensitive(svc, "image");
	ef_pin_image *v, *im;
	const char *f;
	char *digest = NULL;

	if (!cJSON_IsString(img))
		return 0;
	if (!(v = realloc(out->v, (out->n + 1) * sizeof(*v)))) {
		ef_error_set("out of memory");
		return EF_ENOMEM;
	}
	out->v = v;
	im = &v[out->n];
	memset(im, 0, sizeof(*im));
	im->service = strdup(svc->string);
	im->image = strdup(img->valuestring);
	if (!im->service || !im->image) {
		free(im->service);
		free(im->image);
		ef_error_set("out of memory");
		return EF_ENOMEM;
	}
	out->n++;
	if (ef_compose_pos_find(pos, img, &f, &im->line, &im->col) < 0) {
		why(im, "the value's place in the file is not known");
		return 0;
	}
	if (strchr(im->image, '$')) {
		why(im, "the value uses ${...} interpolation; pin the variable's value where it is "
		        "set");
		return 0;
	}
	if (ef_image_ref_split(im->image, NULL, NULL, NULL, &digest) < 0) {
		why(im, "not a valid image reference: %s", ef_error_last());
		return 0;
	}
	im->pinned = digest != NULL;
	free(digest);
	locate(im, pos, img, t, len);
	return 0;
}

int ef_pin_scan(ef_pin_images *out, const char *text, size_t len, const char *file)
{
	ef_compose_pos *pos = NULL;
	cJSON *doc = NULL;
	const cJSON *services, *svc;
	int error;

	out->v = NULL;
	out->n = 0;
	if ((error = ef_compose_pos_new(&pos)) < 0)
		return error;
	if ((error = ef_compose_yaml_read(&doc, text, len, file, pos, NULL)) < 0)
		goto out;
	services = cJSON_GetObjectItemCaseSensitive(doc, "services");
	if (!cJSON_IsObject(services))
		goto out;
	cJSON_ArrayForEach(svc, services)
	{
		if (cJSON_IsObject(svc) && (error = scan_service(out, pos, svc, text, len)) < 0)
			break;
	}
out:
	if (error < 0)
		ef_pin_images_dispose(out);
	cJSON_Delete(doc);
	ef_compose_pos_free(pos);
	return error;
}

/* Characters an image reference may hold: none needs quoting or escaping in
 * a plain or quoted YAML scalar or a JSON string. */
static bool safe_ref(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("._-:/@", *s)))
			return false;
	return true;
}

static int compare(ef_buf *out, const char *text, size_t len, const char *file,
                   const ef_pin_images *imgs, char *const *values)
{
	cJSON *before = NULL, *after = NULL, *services;
	char *pb = NULL, *pa = NULL;
	int error;

	if ((error = ef_compose_yaml_read(&before, text, len, file, NULL, NULL)) < 0 ||
	    (error = ef_compose_yaml_read(&after, out->ptr ? out->ptr : "", out->len, file, NULL,
	                                  NULL)) < 0)
		goto out;
	services = cJSON_GetObjectItemCaseSensitive(before, "services");
	for (size_t i = 0; i < imgs->n; i++) {
		cJSON *svc = cJSON_GetObjectItemCaseSensitive(services, imgs->v[i].service);
		if (values[i] && !cJSON_ReplaceItemInObjectCaseSensitive(
		                         svc, "image", cJSON_CreateString(values[i]))) {
			error = EF_ENOMEM;
			goto out;
		}
	}
	/* As printed: cJSON_Compare() never finds .inf or .nan equal to itself. */
	error = EF_EINVALID;
	if (!before && !after)
		error = 0;
	else if (before && after && (pb = cJSON_PrintUnformatted(before)) &&
	         (pa = cJSON_PrintUnformatted(after)))
		error = strcmp(pb, pa) ? EF_EINVALID : 0;
out:
	if (error < 0)
		ef_error_set("%s: the edited file does not read back as the same document with the "
		             "new images; nothing was written (please report this file)",
		             file);
	cJSON_free(pb);
	cJSON_free(pa);
	cJSON_Delete(before);
	cJSON_Delete(after);
	return error;
}

int ef_pin_edit(ef_buf *out, const char *text, size_t len, const char *file,
                const ef_pin_images *imgs, char *const *values)
{
	size_t at = 0;
	int error = EF_EINVALID;

	ef_buf_init(out, len + 4096 + imgs->n * 256);
	for (size_t i = 0; i < imgs->n; i++) {
		const ef_pin_image *im = &imgs->v[i];
		if (!values[i])
			continue;
		if (im->why_not[0] || im->end <= im->start) {
			ef_error_set("%s:%u:%u: service %s: cannot edit the image in place: %s",
			             file, im->line, im->col, im->service,
			             im->why_not[0] ? im->why_not : "no place known");
			goto out;
		}
		if (!safe_ref(values[i]) ||
		    ef_image_ref_split(values[i], NULL, NULL, NULL, NULL) < 0) {
			ef_error_set("%s:%u:%u: service %s: \"%.200s\" is not an image reference",
			             file, im->line, im->col, im->service, values[i]);
			goto out;
		}
	}
	for (;;) {
		const ef_pin_image *next = NULL;
		size_t k = 0;
		/* The next value to replace in file order. */
		for (size_t i = 0; i < imgs->n; i++) {
			if (!values[i] || imgs->v[i].start < at)
				continue;
			if (!next || imgs->v[i].start < next->start)
				next = &imgs->v[i], k = i;
		}
		if (!next)
			break;
		if ((error = ef_buf_put(out, text + at, next->start - at)) < 0 ||
		    (error = ef_buf_puts(out, values[k])) < 0)
			goto out;
		error = EF_EINVALID;
		at = next->end;
	}
	if ((error = ef_buf_put(out, text + at, len - at)) < 0)
		goto out;
	error = compare(out, text, len, file, imgs, values);
out:
	if (error < 0)
		ef_buf_dispose(out);
	return error;
}
