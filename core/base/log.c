#include "edgeflip/log.h"
#include "edgeflip/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

ef_log_level ef_log_threshold = EF_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

void ef_log_write(ef_log_level level, const char *event, const char *fields_fmt, ...)
{
	char line[2048];
	char stamp[32];
	struct timespec ts;
	struct tm tm;
	size_t n;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = (size_t)snprintf(line, sizeof(line), "%s %s %s", stamp, level_names[level], event);
	if (n < sizeof(line) && fields_fmt && fields_fmt[0] != '\0') {
		line[n++] = ' ';
		va_start(ap, fields_fmt);
		vsnprintf(line + n, sizeof(line) - n, fields_fmt, ap);
		va_end(ap);
	}
	/* One write per line keeps lines whole when the proxy child logs too. */
	fprintf(stderr, "%s\n", line);
}

int ef_log_parse_level(ef_log_level *out, const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (ef_log_level)i;
			return 0;
		}
	}
	ef_error_set("unknown log level '%s' (use error, warn, info, debug or trace)", name);
	return EF_EINVALID;
}
