#include "edgeflip/sys/net.h"
#include "edgeflip/error.h"
#include "edgeflip/sys/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
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
