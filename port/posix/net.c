#include "edgeflip/sys/net.h"
#include "edgeflip/error.h"
#include "edgeflip/sys/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int ef_net_tcp_probe(const char *host, uint16_t port, uint64_t timeout_ms)
{
	struct addrinfo hints, *res = NULL;
	char service[8];
	int fd = -1, error = EF_ERROR, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(service, sizeof(service), "%u", port);
	if ((rc = getaddrinfo(host, service, &hints, &res)) != 0) {
		ef_error_set("bad address %s: %s", host, gai_strerror(rc));
		return EF_EINVALID;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ef_error_set("socket: %s", strerror(errno));
		goto out;
	}
	if (connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		if (errno != EINPROGRESS) {
			ef_error_set("%s", strerror(errno));
			goto out;
		}
		rc = poll(&p, 1, ef_clock_timeout(timeout_ms));
		if (rc == 0) {
			ef_error_set("timed out after %llums", (unsigned long long)timeout_ms);
			error = EF_ETIMEOUT;
			goto out;
		}
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
		if (rc < 0 || soerr) {
			ef_error_set("%s", strerror(soerr ? soerr : errno));
			goto out;
		}
	}
	error = 0;
out:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return error;
}

int ef_net_free_port(uint16_t *out, bool udp)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		ef_error_set("socket: %s", strerror(errno));
		return EF_ERROR;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		ef_error_set("cannot find a free loopback port: %s", strerror(errno));
		close(fd);
		return EF_ERROR;
	}
	close(fd);
	*out = ntohs(sa.sin_port);
	return 0;
}

/* Milliseconds left for poll() until `deadline_ms`: -1 without one, 0 when
 * it passed; at most a minute per wait, so the loop looks at the clock again. */
static int time_left(uint64_t deadline_ms)
{
	uint64_t now;

	if (!deadline_ms)
		return -1;
	now = ef_clock_ms();
	if (now >= deadline_ms)
		return 0;
	return deadline_ms - now > 60000 ? 60000 : (int)(deadline_ms - now);
}

/* Waits until `fd` is ready for `events`: 0, EF_ETIMEOUT or EF_ERROR. */
static int wait_fd(int fd, short events, uint64_t deadline_ms)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		int left = time_left(deadline_ms);
		int n;

		if (left == 0) {
			ef_error_set("no answer before the deadline");
			return EF_ETIMEOUT;
		}
		n = poll(&p, 1, left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR) {
			ef_error_set("poll: %s", strerror(errno));
			return EF_ERROR;
		}
	}
}

/* One address: the connection, -1 with *err (an errno value) set, or -2
 * when the deadline passed. */
static int connect_one(const struct addrinfo *ai, uint64_t deadline_ms, int *err)
{
	socklen_t len = sizeof(*err);
	int fd, one = 1;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		int rc;

		if (errno != EINPROGRESS) {
			*err = errno;
			goto fail;
		}
		if ((rc = wait_fd(fd, POLLOUT, deadline_ms)) < 0) {
			close(fd);
			*err = EIO;
			return rc == EF_ETIMEOUT ? -2 : -1;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &len) < 0 || *err != 0)
			goto fail;
	}
	/* Requests go out in several small writes: do not let Nagle delay them. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
fail:
	close(fd);
	return -1;
}

int ef_net_tcp_connect(int *fd, const char *host, const char *port, uint64_t deadline_ms)
{
	struct addrinfo hints, *res = NULL, *ai;
	int rc, err = 0;

	*fd = -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		ef_error_set("cannot resolve host %s: %s", host, gai_strerror(rc));
		return EF_EUNREACHABLE;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		*fd = connect_one(ai, deadline_ms, &err);
		if (*fd >= 0 || *fd == -2)
			break;
	}
	freeaddrinfo(res);
	if (*fd >= 0)
		return 0;
	if (*fd == -2) {
		*fd = -1;
		ef_error_set("no answer before the deadline");
		return EF_ETIMEOUT;
	}
	ef_error_set("cannot connect to %s port %s: %s", host, port, strerror(err));
	return EF_EUNREACHABLE;
}

/* EF_ETIMEOUT when `deadline_ms` has passed: data that keeps coming does
 * not carry an operation past its deadline. */
static int past(uint64_t deadline_ms)
{
	if (deadline_ms && ef_clock_ms() >= deadline_ms) {
		ef_error_set("no answer before the deadline");
		return EF_ETIMEOUT;
	}
	return 0;
}

/* Reads and writes try first and wait only when the socket is not ready:
 * the answer of a request is usually there by the second read of a TLS
 * record, and a socket is writable, so no poll() is spent on either. */
int64_t ef_net_read(int fd, void *buf, size_t len, uint64_t deadline_ms)
{
	for (;;) {
		ssize_t n;
		int rc;

		if ((rc = past(deadline_ms)) < 0)
			return rc;
		n = recv(fd, buf, len, MSG_DONTWAIT);
		if (n >= 0)
			return n;
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
			ef_error_set("%s", strerror(errno));
			return EF_ERROR;
		}
		if (errno != EINTR && (rc = wait_fd(fd, POLLIN, deadline_ms)) < 0)
			return rc;
	}
}

int ef_net_write_all(int fd, const void *buf, size_t len, uint64_t deadline_ms)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n;
		int rc;

		if ((rc = past(deadline_ms)) < 0)
			return rc;
		n = send(fd, (const char *)buf + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0) {
			done += (size_t)n;
			continue;
		}
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
			ef_error_set("%s", strerror(errno));
			return EF_ERROR;
		}
		if (errno != EINTR && (rc = wait_fd(fd, POLLOUT, deadline_ms)) < 0)
			return rc;
	}
	return 0;
}
