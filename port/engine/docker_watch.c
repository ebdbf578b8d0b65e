/* Following GET /events on the engine's unix socket: see
 * include/edgeflip/sys/engine_events.h. A plain socket, not libcurl: the
 * stream stays open for months and the daemon polls its descriptor beside the
 * self-pipe, so one poll() waits for the next deadline, an event or a signal. */
#include "docker_events.h"
#include "edgeflip/error.h"
#include "edgeflip/sys/engine_events.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define LINE_CAP (64u << 10)

/* type=container: the label filter of Podman 4.3 (key only) drops every
 * event, so labels are checked here (Actor.Attributes) for every dialect. */
#define REQUEST                                                                                    \
	"GET /v1.41/events?filters=%7B%22type%22%3A%5B%22container%22%5D%7D HTTP/1.1\r\n"          \
	"Host: engine\r\n"                                                                         \
	"User-Agent: edgeflip\r\n"                                                                 \
	"Accept: application/json\r\n\r\n"

struct ef_engine_watch {
	int fd;
	ef_docker_events parser;
	unsigned seen_relevant;
	char last[128];
};

int ef_engine_watch_open(ef_engine_watch **out, const char *endpoint)
{
	struct sockaddr_un sa;
	ef_engine_watch *w;
	const char *path;
	static const char request[] = REQUEST;
	size_t sent = 0, len = sizeof(request) - 1;

	*out = NULL;
	if (!endpoint || strncmp(endpoint, "unix://", 7) != 0 || endpoint[7] != '/') {
		ef_error_set("engine endpoint '%s' is not supported for events: use "
		             "unix:///path/to/socket",
		             endpoint ? endpoint : "");
		return EF_EINVALID;
	}
	path = endpoint + 7;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		ef_error_set("engine socket path too long: %s", path);
		return EF_EINVALID;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (!(w = calloc(1, sizeof(*w))))
		return EF_ENOMEM;
	w->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (w->fd < 0 || connect(w->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ef_error_set("cannot connect to %s for events: %s", path, strerror(errno));
		if (w->fd >= 0)
			close(w->fd);
		free(w);
		return EF_EUNREACHABLE;
	}
	/* The request is small: a connected unix socket takes it whole. */
	while (sent < len) {
		ssize_t n = send(w->fd, &request[sent], len - sent, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ef_error_set("cannot ask %s for events: %s", path, strerror(errno));
			close(w->fd);
			free(w);
			return EF_EUNREACHABLE;
		}
		sent += (size_t)n;
	}
	fcntl(w->fd, F_SETFL, fcntl(w->fd, F_GETFL) | O_NONBLOCK);
	ef_docker_events_init(&w->parser, LINE_CAP);
	*out = w;
	return 0;
}

int ef_engine_watch_fd(const ef_engine_watch *w)
{
	return w ? w->fd : -1;
}

int ef_engine_watch_read(ef_engine_watch *w, unsigned *relevant)
{
	char buf[8192];
	int error;

	*relevant = 0;
	for (;;) {
		ssize_t n = recv(w->fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			ef_error_set("the engine closed its event stream (%s)",
			             n < 0 ? strerror(errno) : "end of stream");
			return EF_EUNREACHABLE;
		}
		if ((error = ef_docker_events_feed(&w->parser, buf, (size_t)n)) < 0)
			return error;
		if (w->parser.phase == EF_EV_DONE) {
			ef_error_set("the engine ended its event stream");
			return EF_EUNREACHABLE;
		}
	}
	*relevant = w->parser.relevant - w->seen_relevant;
	w->seen_relevant = w->parser.relevant;
	if (*relevant)
		snprintf(w->last, sizeof(w->last), "%s %s %.12s", w->parser.last.action,
		         w->parser.last.service, w->parser.last.id);
	return 0;
}

const char *ef_engine_watch_last(const ef_engine_watch *w)
{
	return w->last;
}

unsigned ef_engine_watch_events(const ef_engine_watch *w)
{
	return w->parser.events;
}

void ef_engine_watch_close(ef_engine_watch *w)
{
	if (!w)
		return;
	close(w->fd);
	ef_docker_events_dispose(&w->parser);
	free(w);
}
