/* Errors: int return codes and a per-thread last-error message. */
#ifndef EDGEFLIP_ERROR_H
#define EDGEFLIP_ERROR_H

#include <stdarg.h>

/* Return codes. 0 is success; every failure is negative. */
enum {
	EF_OK = 0,
	EF_ERROR = -1,        /* generic failure; the message says what */
	EF_ENOTFOUND = -3,    /* a thing looked up does not exist */
	EF_EINVALID = -4,     /* outside input is malformed (config, manifest, reply) */
	EF_EREJECTED = -5,    /* refused by trust or policy */
	EF_EAGAIN = -6,       /* transient: retry later with backoff */
	EF_ETOOBIG = -7,      /* a cap was reached */
	EF_ETIMEOUT = -8,     /* a deadline passed */
	EF_EUNREACHABLE = -9, /* source or engine cannot be reached */
	EF_ENOMEM = -10,
};

/* Sets the calling thread's last error (printf format). Returns nothing. */
void ef_error_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ef_error_vset(const char *fmt, va_list ap);
/* Prefixes the current message: "<prefix>: <old message>". */
void ef_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The last message set on this thread, or "" when none. Borrowed. */
const char *ef_error_last(void);
void ef_error_clear(void);
/* A short name for a return code ("rejected", "timeout", ...). */
const char *ef_error_name(int code);

#endif
