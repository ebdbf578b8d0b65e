#include "edgeflip/error.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[1024];

void ef_error_vset(const char *fmt, va_list ap)
{
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
}

void ef_error_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ef_error_vset(fmt, ap);
	va_end(ap);
}

void ef_error_prefix(const char *fmt, ...)
{
	char old[sizeof(last_error)];
	size_t n;
	va_list ap;

	memcpy(old, last_error, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	n = strlen(last_error);
	if (old[0] != '\0' && n + 3 < sizeof(last_error)) {
		/* memcpy, not snprintf: GCC -O0 with ASan flags the snprintf
		 * as a possible truncation (-Werror=format-truncation). */
		size_t len = strnlen(old, sizeof(last_error) - n - 3);
		memcpy(last_error + n, ": ", 2);
		memcpy(last_error + n + 2, old, len);
		last_error[n + 2 + len] = '\0';
	}
}

const char *ef_error_last(void)
{
	return last_error;
}

void ef_error_clear(void)
{
	last_error[0] = '\0';
}

const char *ef_error_name(int code)
{
	switch (code) {
	case EF_OK:
		return "ok";
	case EF_ENOTFOUND:
		return "not-found";
	case EF_EINVALID:
		return "invalid";
	case EF_EREJECTED:
		return "rejected";
	case EF_EAGAIN:
		return "again";
	case EF_ETOOBIG:
		return "too-big";
	case EF_ETIMEOUT:
		return "timeout";
	case EF_EUNREACHABLE:
		return "unreachable";
	case EF_ENOMEM:
		return "no-memory";
	default:
		return "error";
	}
}
