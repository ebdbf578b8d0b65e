#include "edgeflip/log.h"
#include "edgeflip/error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

ef_log_level ef_log_threshold = EF_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

/* Length of the well-formed UTF-8 sequence at s (1-4), 0 when malformed or
 * when it encodes a C1 control (U+0080..U+009F: 8-bit CSI and friends). */
static size_t utf8_len(const unsigned char *s)
{
	size_t n, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1fu;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0fu;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07u;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3fu);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return n;
}

size_t ef_log_escape(char *out, size_t n, const char *in)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0;

	if (n == 0)
		return 0;
	while (*s) {
		size_t len = utf8_len(s);

		if (len == 1 && *s >= 0x20 && *s != 0x7f && *s != '\\') {
			if (o + 1 >= n)
				break;
			out[o++] = (char)*s++;
		} else if (len > 1) {
			if (o + len >= n)
				break;
			memcpy(out + o, s, len);
			o += len;
			s += len;
		} else if (*s == '\\') {
			if (o + 2 >= n)
				break;
			out[o++] = '\\';
			out[o++] = '\\';
			s++;
		} else {
			/* A control character, DEL, or a byte that is not
			 * UTF-8: shown, never obeyed. */
			if (o + 4 >= n)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[*s >> 4];
			out[o++] = hex[*s & 15];
			s++;
		}
	}
	out[o] = '\0';
	return o;
}

void ef_log_write(ef_log_level level, const char *event, const char *fields_fmt, ...)
{
	char line[4096], raw[2048];
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
		vsnprintf(raw, sizeof(raw), fields_fmt, ap);
		va_end(ap);
		/* Values come from commits, manifests and servers: whatever
		 * they hold, the line stays one line and a terminal shows it
		 * without obeying it. */
		ef_log_escape(line + n, sizeof(line) - n, raw);
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
