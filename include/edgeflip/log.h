/* Logging: one sink (stderr), levels, key=value fields.
 *
 *   ef_info("deployed", "commit=%s services=%zu", hex, n);
 *
 * prints  `2026-11-27T09:00:00Z info deployed commit=ab12.. services=3`.
 * The macros evaluate their arguments only when the level is enabled. */
#ifndef EDGEFLIP_LOG_H
#define EDGEFLIP_LOG_H

#include <stddef.h>

typedef enum {
	EF_LOG_ERROR = 0,
	EF_LOG_WARN,
	EF_LOG_INFO,
	EF_LOG_DEBUG,
	EF_LOG_TRACE
} ef_log_level;

extern ef_log_level ef_log_threshold;

void ef_log_write(ef_log_level level, const char *event, const char *fields_fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Copies `in` to `out` (size n, always terminated, truncated at a whole
 * character) so that it is inert on a terminal and in a line-based log:
 * control characters, DEL, C1 controls and bytes that are not UTF-8 become
 * \xNN, a backslash becomes \\; valid UTF-8 text is kept. The sink applies it
 * to every line's fields; use it where outside text is printed otherwise
 * (status). Returns the length written. */
size_t ef_log_escape(char *out, size_t n, const char *in);
/* "error" | "warn" | "info" | "debug" | "trace"; returns 0 or EF_EINVALID. */
int ef_log_parse_level(ef_log_level *out, const char *name);
/* Routes libgit2's traces into the sink at debug/trace level. */
void ef_log_hook_libgit2(void);

#define EF_LOG(level, event, ...)                                                                  \
	do {                                                                                       \
		if ((level) <= ef_log_threshold)                                                   \
			ef_log_write((level), (event), __VA_ARGS__);                               \
	} while (0)
#define ef_error(event, ...) EF_LOG(EF_LOG_ERROR, event, __VA_ARGS__)
#define ef_warn(event, ...)  EF_LOG(EF_LOG_WARN, event, __VA_ARGS__)
#define ef_info(event, ...)  EF_LOG(EF_LOG_INFO, event, __VA_ARGS__)
#define ef_debug(event, ...) EF_LOG(EF_LOG_DEBUG, event, __VA_ARGS__)
#define ef_trace(event, ...) EF_LOG(EF_LOG_TRACE, event, __VA_ARGS__)

#endif
