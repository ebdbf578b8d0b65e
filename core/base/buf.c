#include "edgeflip/buf.h"
#include "edgeflip/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ef_buf_init(ef_buf *b, size_t cap)
{
	b->ptr = NULL;
	b->len = 0;
	b->alloc = 0;
	b->cap = cap;
}

static int grow(ef_buf *b, size_t extra)
{
	size_t want, alloc;
	char *p;

	if (extra > b->cap || b->len > b->cap - extra) {
		ef_error_set("data exceeds the limit of %zu bytes", b->cap);
		return EF_ETOOBIG;
	}
	want = b->len + extra + 1;
	if (want <= b->alloc)
		return 0;
	alloc = b->alloc ? b->alloc : 64;
	while (alloc < want)
		alloc *= 2;
	p = realloc(b->ptr, alloc);
	if (!p) {
		ef_error_set("out of memory");
		return EF_ENOMEM;
	}
	b->ptr = p;
	b->alloc = alloc;
	return 0;
}

int ef_buf_put(ef_buf *b, const void *data, size_t len)
{
	int error = grow(b, len);

	if (error < 0)
		return error;
	if (len)
		memcpy(b->ptr + b->len, data, len);
	b->len += len;
	b->ptr[b->len] = '\0';
	return 0;
}

int ef_buf_puts(ef_buf *b, const char *s)
{
	return ef_buf_put(b, s, strlen(s));
}

int ef_buf_printf(ef_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, error;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return EF_ERROR;
	if ((error = grow(b, (size_t)n)) < 0)
		return error;
	va_start(ap, fmt);
	vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void ef_buf_clear(ef_buf *b)
{
	b->len = 0;
	if (b->ptr)
		b->ptr[0] = '\0';
}

char *ef_buf_detach(ef_buf *b)
{
	char *p = b->ptr;

	if (!p)
		p = calloc(1, 1);
	b->ptr = NULL;
	b->len = b->alloc = 0;
	return p;
}

void ef_wipe(void *p, size_t n)
{
	volatile char *v = p;

	for (size_t i = 0; p && i < n; i++)
		v[i] = 0;
}

void ef_str_wipe(char *s)
{
	if (s)
		ef_wipe(s, strlen(s));
}

void ef_buf_dispose_secret(ef_buf *b)
{
	ef_wipe(b->ptr, b->alloc);
	ef_buf_dispose(b);
}

void ef_buf_dispose(ef_buf *b)
{
	free(b->ptr);
	b->ptr = NULL;
	b->len = b->alloc = 0;
}

size_t ef_strv_len(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

int ef_strv_push_owned(char ***v, char *s)
{
	size_t n = ef_strv_len(*v);
	char **nv;

	if (!s)
		return EF_ENOMEM;
	nv = realloc(*v, (n + 2) * sizeof(*nv));
	if (!nv) {
		free(s);
		return EF_ENOMEM;
	}
	nv[n] = s;
	nv[n + 1] = NULL;
	*v = nv;
	return 0;
}

int ef_strv_push(char ***v, const char *s)
{
	return ef_strv_push_owned(v, ef_strdup(s));
}

char **ef_strv_dup(char *const *v)
{
	char **out = NULL;

	for (size_t i = 0; v && v[i]; i++) {
		if (ef_strv_push(&out, v[i]) < 0) {
			ef_strv_free(out);
			return NULL;
		}
	}
	return out;
}

bool ef_strv_contains(char *const *v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

void ef_strv_free_secret(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		ef_str_wipe(v[i]);
	ef_strv_free(v);
}

void ef_strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

int ef_strv_split(char ***out, const char *list)
{
	char **v = NULL;
	const char *p = list;

	while (p && *p) {
		size_t n;

		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		n = strcspn(p, ", \t");
		if (n) {
			char *item = strndup(p, n);
			if (ef_strv_push_owned(&v, item) < 0) {
				ef_strv_free(v);
				return EF_ENOMEM;
			}
		}
		p += n;
	}
	*out = v;
	return 0;
}

char *ef_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

int ef_read_file(ef_buf *out, const char *path, size_t cap)
{
	char chunk[4096];
	int fd, error = 0;
	ssize_t n;

	ef_buf_init(out, cap);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		ef_error_set("cannot open %s: %s", path, strerror(e));
		return e == ENOENT ? EF_ENOTFOUND : EF_ERROR;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ef_error_set("cannot read %s: %s", path, strerror(errno));
			error = EF_ERROR;
			break;
		}
		if ((error = ef_buf_put(out, chunk, (size_t)n)) < 0) {
			ef_error_set("%s is larger than the limit of %zu bytes", path, cap);
			break;
		}
	}
	close(fd);
	if (error == 0 && !out->ptr)
		error = ef_buf_put(out, "", 0);
	if (error < 0)
		ef_buf_dispose(out);
	return error;
}
