/* Growable byte buffers with a cap, and NULL-terminated string vectors. */
#ifndef EDGEFLIP_BUF_H
#define EDGEFLIP_BUF_H

#include <stdbool.h>
#include <stddef.h>

/* A buffer that grows from outside input stops at `cap` bytes (EF_ETOOBIG).
 * `ptr` is always NUL-terminated when non-NULL; `len` excludes the NUL. */
typedef struct {
	char *ptr;
	size_t len;
	size_t alloc;
	size_t cap;
} ef_buf;

#define EF_BUF_INIT(cap_)                                                                          \
	{                                                                                          \
		NULL, 0, 0, (cap_)                                                                 \
	}

void ef_buf_init(ef_buf *b, size_t cap);
int ef_buf_put(ef_buf *b, const void *data, size_t len);
int ef_buf_puts(ef_buf *b, const char *s);
int ef_buf_printf(ef_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ef_buf_clear(ef_buf *b);
/* Hands the string over to the caller (free()), leaving the buffer empty. */
char *ef_buf_detach(ef_buf *b);
/* Zeroes the contents before freeing (for secrets). */
void ef_buf_dispose_secret(ef_buf *b);
void ef_buf_dispose(ef_buf *b);

/* String vectors: NULL-terminated arrays of heap strings. NULL is the empty vector. */
size_t ef_strv_len(char *const *v);
int ef_strv_push(char ***v, const char *s);
int ef_strv_push_owned(char ***v, char *s);
char **ef_strv_dup(char *const *v);
bool ef_strv_contains(char *const *v, const char *s);
void ef_strv_free(char **v);
/* Zeroes `n` bytes at `p` (or the string `s`) in a way the compiler keeps:
 * for buffers that held a secret. NULL-safe. */
void ef_wipe(void *p, size_t n);
void ef_str_wipe(char *s);
/* ef_strv_free() that zeroes every string first (an environment holding
 * decrypted values). */
void ef_strv_free_secret(char **v);
/* Splits on commas and/or whitespace, dropping empty items. */
int ef_strv_split(char ***out, const char *list);

char *ef_strdup(const char *s);
/* Reads a whole file into *out with a cap; EF_ENOTFOUND when missing. */
int ef_read_file(ef_buf *out, const char *path, size_t cap);

#endif
