/* libgit2's traces, routed into the log sink with secrets masked. Kept apart
 * from log.c so that programs which log but never use libgit2 (the proxy)
 * do not link it. */
#include "edgeflip/log.h"

#include <git2.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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
