/* The Docker Engine API event stream, parsed incrementally: see docker_events.h. */
#include "docker_events.h"
#include "docker_json.h"
#include "edgeflip/error.h"
#include "edgeflip/sys/engine.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str_of(const cJSON *obj, const char *key)
{
	const cJSON *item = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

static void copy(char *out, size_t size, const char *s)
{
	snprintf(out, size, "%s", s ? s : "");
}

/* What makes running containers differ from the journal: a container that
 * stopped, died, was killed or removed, or went unhealthy. Starts, creates,
 * execs and healthy reports are not. Docker spells health "health_status:
 * unhealthy"; Podman sends a bare "health_status" (its Attributes may carry
 * health_status=unhealthy). */
static bool relevant_action(const char *action, const cJSON *attrs)
{
	static const char *const drift[] = {"die",     "stop",   "kill",  "oom",
	                                    "destroy", "remove", "pause", NULL};
	const char *h;

	for (size_t i = 0; drift[i]; i++)
		if (strcmp(action, drift[i]) == 0)
			return true;
	if (strncmp(action, "health_status", 13) != 0)
		return false;
	if (strstr(action, "unhealthy"))
		return true;
	h = str_of(attrs, "health_status");
	return h && strcmp(h, "unhealthy") == 0;
}

int ef_docker_event_parse(ef_docker_event *out, const char *line, size_t len)
{
	cJSON *root = NULL;
	const cJSON *actor, *attrs;
	const char *type, *action, *id, *service;

	memset(out, 0, sizeof(*out));
	if (line)
		root = cJSON_ParseWithLength(line, len);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		ef_error_set("engine event is not a JSON object");
		return EF_EINVALID;
	}
	actor = cJSON_GetObjectItemCaseSensitive(root, "Actor");
	attrs = cJSON_IsObject(actor) ? cJSON_GetObjectItemCaseSensitive(actor, "Attributes")
	                              : NULL;
	type = str_of(root, "Type");
	/* Before API 1.22 only "status" and "id" existed; Podman sends both. */
	if (!(action = str_of(root, "Action")))
		action = str_of(root, "status");
	if (!(id = str_of(actor, "ID")))
		id = str_of(root, "id");
	service = str_of(attrs, EF_LABEL_SERVICE);
	out->container = type ? strcmp(type, "container") == 0 : id != NULL;
	copy(out->action, sizeof(out->action), action);
	copy(out->service, sizeof(out->service), service);
	if (id && ef_docker_id_valid(id))
		copy(out->id, sizeof(out->id), id);
	out->relevant =
	        out->container && service && service[0] && action && relevant_action(action, attrs);
	cJSON_Delete(root);
	return 0;
}

void ef_docker_events_init(ef_docker_events *p, size_t line_cap)
{
	memset(p, 0, sizeof(*p));
	p->line_cap = line_cap;
	ef_buf_init(&p->head, line_cap);
	ef_buf_init(&p->line, line_cap);
}

void ef_docker_events_dispose(ef_docker_events *p)
{
	ef_buf_dispose(&p->head);
	ef_buf_dispose(&p->line);
}

static void take_line(ef_docker_events *p, const char *s, size_t n)
{
	ef_docker_event ev;

	while (n && (s[n - 1] == '\r' || s[n - 1] == ' '))
		n--;
	if (n == 0)
		return;
	p->events++;
	if (ef_docker_event_parse(&ev, s, n) < 0) {
		p->invalid++;
		return;
	}
	if (ev.relevant) {
		p->relevant++;
		p->last = ev;
	}
}

/* Body bytes: split into lines. */
static int body(ef_docker_events *p, const char *data, size_t len)
{
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;

		if (p->line.len + n > p->line_cap) {
			ef_error_set("engine event longer than %zu bytes", p->line_cap);
			return EF_ETOOBIG;
		}
		if (!nl)
			return ef_buf_put(&p->line, data, n);
		if (p->line.len) {
			int error = ef_buf_put(&p->line, data, n);
			if (error < 0)
				return error;
			take_line(p, p->line.ptr, p->line.len);
			ef_buf_clear(&p->line);
		} else {
			take_line(p, data, n);
		}
		data += n + 1;
		len -= n + 1;
	}
	return 0;
}

/* Case-insensitive search for a header line "name: value-containing-word". */
static bool has_header(const char *head, const char *name, const char *word)
{
	size_t nl = strlen(name);

	for (const char *s = head; s && *s; s = strchr(s, '\n') ? strchr(s, '\n') + 1 : NULL) {
		if (strncasecmp(s, name, nl) == 0 && s[nl] == ':') {
			const char *end = strchr(s, '\n');
			size_t wl = strlen(word);
			for (const char *v = s + nl + 1; v && *v && (!end || v < end); v++)
				if (strncasecmp(v, word, wl) == 0)
					return true;
		}
	}
	return false;
}

static int end_of_head(ef_docker_events *p)
{
	int status = 0;
	char proto[16];

	if (sscanf(p->head.ptr, "%15s %3d", proto, &status) != 2 ||
	    strncmp(proto, "HTTP/1.", 7) != 0 || status < 100 || status > 599) {
		ef_error_set("engine event stream: not an HTTP/1.x reply");
		return EF_EINVALID;
	}
	p->status = status;
	if (status != 200) {
		ef_error_set("engine refused the event stream: HTTP %d", status);
		return EF_EUNREACHABLE;
	}
	p->phase =
	        has_header(p->head.ptr, "Transfer-Encoding", "chunked") ? EF_EV_SIZE : EF_EV_PLAIN;
	ef_buf_clear(&p->head);
	return 0;
}

int ef_docker_events_feed(ef_docker_events *p, const char *data, size_t len)
{
	int error;

	while (len) {
		switch (p->phase) {
		case EF_EV_HEAD:
		case EF_EV_SIZE: {
			const char *nl = memchr(data, '\n', len);
			size_t n = nl ? (size_t)(nl - data) + 1 : len;
			if (p->head.len + n > p->line_cap) {
				ef_error_set("engine event stream: %s longer than %zu bytes",
				             p->phase == EF_EV_HEAD ? "reply head"
				                                    : "chunk size line",
				             p->line_cap);
				return EF_ETOOBIG;
			}
			if ((error = ef_buf_put(&p->head, data, n)) < 0)
				return error;
			data += n;
			len -= n;
			if (!nl)
				break;
			if (p->phase == EF_EV_HEAD) {
				/* The head ends with an empty line. */
				if (p->head.len >= 2 &&
				    (strcmp(p->head.ptr + p->head.len - 2, "\n\n") == 0 ||
				     (p->head.len >= 4 &&
				      strcmp(p->head.ptr + p->head.len - 4, "\r\n\r\n") == 0)) &&
				    (error = end_of_head(p)) < 0)
					return error;
			} else {
				char *end;
				unsigned long long size = strtoull(p->head.ptr, &end, 16);
				if (end == p->head.ptr ||
				    (*end != '\r' && *end != '\n' && *end != ';') ||
				    size > (1ull << 32)) {
					ef_error_set("engine event stream: bad chunk size line");
					return EF_EINVALID;
				}
				ef_buf_clear(&p->head);
				p->chunk_left = size;
				p->phase = size ? EF_EV_DATA : EF_EV_DONE;
			}
			break;
		}
		case EF_EV_DATA: {
			size_t n = len < p->chunk_left ? len : (size_t)p->chunk_left;
			if ((error = body(p, data, n)) < 0)
				return error;
			data += n;
			len -= n;
			p->chunk_left -= n;
			if (!p->chunk_left)
				p->phase = EF_EV_DATA_END;
			break;
		}
		case EF_EV_DATA_END:
			if (*data == '\n')
				p->phase = EF_EV_SIZE;
			else if (*data != '\r') {
				ef_error_set("engine event stream: no CRLF after a chunk");
				return EF_EINVALID;
			}
			data++;
			len--;
			break;
		case EF_EV_PLAIN:
			return body(p, data, len);
		case EF_EV_DONE:
			return 0; /* trailers: ignored */
		}
	}
	return 0;
}
