#include "edgeflip/log.h"
#include "edgeflip/error.h"

#include <git2.h>
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

/* libgit2's traces dump whole HTTP requests, with the token in the
 * Authorization header: blank out such header values before logging. */
static char *find_nocase(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return (char *)hay;
	return NULL;
}

static const char *redact_auth(char *out, size_t n, const char *msg)
{
	static const char name[] = "Authorization:"; /* also matches Proxy-Authorization: */
	char *p;

	if (!find_nocase(msg, name))
		return msg;
	snprintf(out, n, "%s", msg);
	for (p = out; (p = find_nocase(p, name)) != NULL;) {
		p += sizeof(name) - 1;
		for (char *v = p; *v && *v != '\r' && *v != '\n'; v++)
			*v = v == p ? ' ' : '*';
	}
	return out;
}

static void trace_to_log(git_trace_level_t level, const char *msg)
{
	ef_log_level l = level <= GIT_TRACE_INFO ? EF_LOG_DEBUG : EF_LOG_TRACE;
	char safe[2048];

	EF_LOG(l, "libgit2", "msg=\"%s\"", redact_auth(safe, sizeof(safe), msg));
}

void ef_log_hook_libgit2(void)
{
	if (ef_log_threshold >= EF_LOG_DEBUG)
		git_trace_set(ef_log_threshold >= EF_LOG_TRACE ? GIT_TRACE_TRACE : GIT_TRACE_DEBUG,
		              trace_to_log);
}
