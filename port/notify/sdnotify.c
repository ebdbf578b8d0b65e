/* The systemd notify protocol without libsystemd: one AF_UNIX datagram per
 * message to $NOTIFY_SOCKET. See include/edgeflip/sys/notify.h. */
#include "edgeflip/sys/notify.h"
#include "edgeflip/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int notify_address(struct sockaddr_un *sa, socklen_t *len, const char *env)
{
	size_t n = strlen(env);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if ((env[0] != '/' && env[0] != '@') || n < 2 || n >= sizeof(sa->sun_path)) {
		ef_error_set("NOTIFY_SOCKET '%s' is not an absolute socket path or @abstract name",
		             env);
		return EF_EINVALID;
	}
	memcpy(sa->sun_path, env, n);
	if (env[0] == '@') {
		/* Abstract namespace: a leading NUL, and the length counts
		 * exactly the name (no terminating NUL). */
		sa->sun_path[0] = '\0';
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	return 0;
}

int ef_notify(const char *fmt, ...)
{
	const char *env = getenv("NOTIFY_SOCKET");
	char msg[EF_NOTIFY_MAX + 1];
	struct sockaddr_un sa;
	socklen_t salen;
	va_list ap;
	ssize_t sent;
	int fd, n, error;

	if (!env || !env[0])
		return 0;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n > EF_NOTIFY_MAX) {
		ef_error_set("notify message longer than %d bytes", EF_NOTIFY_MAX);
		return EF_EINVALID;
	}
	if ((error = notify_address(&sa, &salen, env)) < 0)
		return error;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ef_error_set("notify: cannot create a socket: %s", strerror(errno));
		return EF_ERROR;
	}
	do {
		sent = sendto(fd, msg, (size_t)n, MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
	} while (sent < 0 && errno == EINTR);
	error = 0;
	if (sent < 0) {
		ef_error_set("notify: cannot send to %s: %s", env, strerror(errno));
		error = EF_ERROR;
	} else if (sent != n) {
		ef_error_set("notify: short send to %s", env);
		error = EF_ERROR;
	}
	close(fd);
	return error;
}

static int parse_u64(uint64_t *out, const char *name, const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (s[0] < '0' || s[0] > '9')
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		goto bad;
	*out = (uint64_t)v;
	return 0;
bad:
	ef_error_set("%s='%s' is not a decimal number", name, s);
	return EF_EINVALID;
}

int ef_notify_watchdog_usec(uint64_t *out)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	uint64_t v, p;
	int error;

	*out = 0;
	if (!usec || !usec[0])
		return 0;
	if (pid && pid[0]) {
		if ((error = parse_u64(&p, "WATCHDOG_PID", pid)) < 0)
			return error;
		if (p != (uint64_t)getpid())
			return 0; /* meant for another process (we were exec'd by it) */
	}
	if ((error = parse_u64(&v, "WATCHDOG_USEC", usec)) < 0)
		return error;
	*out = v;
	return 0;
}
