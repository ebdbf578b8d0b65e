/* Request bodies and reply parsing for the Docker Engine API. Pure functions:
 * see docker_json.h. */
#include "docker_json.h"
#include "edgeflip/error.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- small helpers ------------------------------------------------------- */

static const cJSON *get(const cJSON *obj, const char *key)
{
	return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

/* The string value of obj[key], or NULL when absent or not a string. */
static const char *get_str(const cJSON *obj, const char *key)
{
	const cJSON *item = get(obj, key);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* A number in [lo, hi] (no UB on NaN or huge doubles). */
static bool get_num(const cJSON *obj, const char *key, long long lo, long long hi, long long *out)
{
	const cJSON *item = get(obj, key);
	double v;

	if (!cJSON_IsNumber(item))
		return false;
	v = item->valuedouble;
	if (!(v >= (double)lo && v <= (double)hi))
		return false;
	*out = (long long)v;
	return true;
}

/* A heap copy of s, NULL for NULL or "". *ok turns false when out of memory. */
static char *dup_nonempty(const char *s, bool *ok)
{
	char *copy;

	if (!s || !*s)
		return NULL;
	copy = strdup(s);
	if (!copy)
		*ok = false;
	return copy;
}

static cJSON *parse_json(const char *json, size_t len)
{
	if (!json)
		return NULL;
	return cJSON_ParseWithLength(json, len);
}

bool ef_docker_id_valid(const char *id)
{
	size_t n = 0;

	if (!id)
		return false;
	for (; id[n]; n++) {
		char c = id[n];
		if (n >= 64 || !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return n > 0;
}

ef_cstate ef_docker_state_parse(const char *status)
{
	static const struct {
		const char *name;
		ef_cstate state;
	} states[] = {
	        {"created", EF_CSTATE_CREATED},
	        {"configured", EF_CSTATE_CREATED},
	        {"initialized", EF_CSTATE_CREATED},
	        {"running", EF_CSTATE_RUNNING},
	        {"restarting", EF_CSTATE_RESTARTING},
	        {"paused", EF_CSTATE_PAUSED},
	        {"exited", EF_CSTATE_EXITED},
	        {"stopped", EF_CSTATE_EXITED},
	        {"dead", EF_CSTATE_DEAD},
	};

	for (size_t i = 0; status && i < sizeof(states) / sizeof(states[0]); i++)
		if (strcmp(status, states[i].name) == 0)
			return states[i].state;
	return EF_CSTATE_UNKNOWN;
}

/* The edgeflip labels out of a "Labels" object. */
static bool take_labels(ef_container *c, const cJSON *labels)
{
	bool ok = true;

	c->preview = dup_nonempty(get_str(labels, EF_LABEL_PREVIEW), &ok);
	c->service = dup_nonempty(
	        get_str(labels, c->preview ? EF_LABEL_PREVIEW_SERVICE : EF_LABEL_SERVICE), &ok);
	c->slot = dup_nonempty(get_str(labels, EF_LABEL_SLOT), &ok);
	c->revision = dup_nonempty(get_str(labels, EF_LABEL_REVISION), &ok);
	c->spec = dup_nonempty(get_str(labels, EF_LABEL_SPEC), &ok);
	c->previous = dup_nonempty(get_str(labels, EF_LABEL_PREVIOUS), &ok);
	c->aliases = dup_nonempty(get_str(labels, EF_LABEL_ALIASES), &ok);
	c->fixed_name = dup_nonempty(get_str(labels, EF_LABEL_NAME), &ok);
	return ok;
}

static const char *strip_slash(const char *name)
{
	return name && name[0] == '/' ? name + 1 : name;
}

/* "8080/tcp" -> 8080, "tcp". */
static bool parse_port_key(const char *key, uint16_t *port, char proto[4])
{
	char *end;
	long v;

	if (!key || key[0] < '0' || key[0] > '9')
		return false;
	v = strtol(key, &end, 10);
	if (v < 1 || v > 65535)
		return false;
	if (*end == '\0')
		end = (char *)"/tcp";
	if (strcmp(end, "/tcp") != 0 && strcmp(end, "/udp") != 0)
		return false;
	*port = (uint16_t)v;
	memcpy(proto, end + 1, 4);
	return true;
}

/* HostPort is a string in the API ("18080"); accept a number too. */
static bool parse_host_port(const cJSON *binding, uint16_t *out)
{
	const cJSON *item = get(binding, "HostPort");
	long long v;

	if (cJSON_IsString(item)) {
		char *end;
		const char *s = item->valuestring;
		if (!s[0] || s[0] < '0' || s[0] > '9')
			return false;
		v = strtoll(s, &end, 10);
		if (*end != '\0')
			return false;
	} else if (!get_num(binding, "HostPort", 1, 65535, &v)) {
		return false;
	}
	if (v < 1 || v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

/* NetworkSettings.Ports: {"8080/tcp": [{"HostIp": "...", "HostPort": "..."}] | null} */
static int take_ports(ef_container *c, const cJSON *ports)
{
	const cJSON *entry, *binding;
	size_t n = 0;

	if (!cJSON_IsObject(ports))
		return 0;
	cJSON_ArrayForEach(entry, ports)
	{
		if (cJSON_IsArray(entry))
			n += (size_t)cJSON_GetArraySize(entry);
	}
	if (n == 0)
		return 0;
	c->ports = calloc(n, sizeof(*c->ports));
	if (!c->ports)
		return EF_ENOMEM;
	cJSON_ArrayForEach(entry, ports)
	{
		uint16_t cport;
		char proto[4];

		if (!cJSON_IsArray(entry) || !parse_port_key(entry->string, &cport, proto))
			continue;
		cJSON_ArrayForEach(binding, entry)
		{
			ef_engine_port *p = &c->ports[c->nports];
			const char *ip = get_str(binding, "HostIp");
			bool ok = true;

			if (c->nports >= n || !parse_host_port(binding, &p->host_port))
				continue;
			p->container_port = cport;
			memcpy(p->protocol, proto, sizeof(p->protocol));
			p->host_ip = dup_nonempty(ip, &ok);
			if (!ok)
				return EF_ENOMEM;
			c->nports++;
		}
	}
	return 0;
}

/* --- list and inspect ---------------------------------------------------- */

int ef_docker_parse_list(ef_container_list *out, const char *json, size_t len)
{
	cJSON *root = parse_json(json, len);
	const cJSON *item;
	int error = EF_EINVALID, n;

	out->items = NULL;
	out->count = 0;
	if (!cJSON_IsArray(root)) {
		ef_error_set("container list reply is not a JSON array");
		goto out;
	}
	n = cJSON_GetArraySize(root);
	if (n > 0 && !(out->items = calloc((size_t)n, sizeof(*out->items)))) {
		error = EF_ENOMEM;
		goto out;
	}
	cJSON_ArrayForEach(item, root)
	{
		ef_container *c = &out->items[out->count];
		const char *id = get_str(item, "Id");
		const cJSON *names = get(item, "Names");
		bool ok = true;

		if (!ef_docker_id_valid(id))
			continue;
		out->count++;
		memcpy(c->id, id, strlen(id) + 1);
		if (cJSON_IsArray(names) && cJSON_IsString(cJSON_GetArrayItem(names, 0)))
			c->name = dup_nonempty(
			        strip_slash(cJSON_GetArrayItem(names, 0)->valuestring), &ok);
		c->image = dup_nonempty(get_str(item, "Image"), &ok);
		c->state = ef_docker_state_parse(get_str(item, "State"));
		if (!ok || !take_labels(c, get(item, "Labels"))) {
			error = EF_ENOMEM;
			goto out;
		}
	}
	error = 0;
out:
	if (error < 0) {
		if (error == EF_ENOMEM)
			ef_error_set("out of memory");
		ef_container_list_dispose(out);
	}
	cJSON_Delete(root);
	return error;
}

/* The container's address: NetworkSettings.IPAddress, else the first network's. */
static const char *find_ip(const cJSON *settings)
{
	const char *ip = get_str(settings, "IPAddress");
	const cJSON *nets = get(settings, "Networks"), *net;

	if (ip && *ip)
		return ip;
	if (!cJSON_IsObject(nets))
		return NULL;
	cJSON_ArrayForEach(net, nets)
	{
		ip = get_str(net, "IPAddress");
		if (ip && *ip)
			return ip;
	}
	return NULL;
}

/* NetworkSettings.Networks: {"net": {"Aliases": ["a", "b"]}} -> "net=a,b".
 * Podman adds the short container id as an alias; it is kept (harmless). */
static int take_endpoints(ef_container *c, const cJSON *nets)
{
	const cJSON *net, *alias;

	if (!cJSON_IsObject(nets))
		return 0;
	cJSON_ArrayForEach(net, nets)
	{
		ef_buf b = EF_BUF_INIT(16384);
		const char *sep = "=";
		int error;

		if (!net->string || !*net->string)
			continue;
		error = ef_buf_puts(&b, net->string);
		cJSON_ArrayForEach(alias, get(net, "Aliases"))
		{
			if (error == 0 && cJSON_IsString(alias) && alias->valuestring[0]) {
				error = ef_buf_printf(&b, "%s%s", sep, alias->valuestring);
				sep = ",";
			}
		}
		if (error == 0 && *sep == '=')
			error = ef_buf_puts(&b, "=");
		if (error == 0)
			error = ef_strv_push_owned(&c->endpoints, ef_buf_detach(&b));
		ef_buf_dispose(&b);
		if (error < 0)
			return error == EF_ETOOBIG ? 0 : error;
	}
	return 0;
}

/* Mounts: [{"Type": "bind", "Source": "/host/path", ...}] -> bind sources. */
static int take_mounts(ef_container *c, const cJSON *mounts)
{
	const cJSON *m;
	int error;

	cJSON_ArrayForEach(m, mounts)
	{
		const char *type = get_str(m, "Type"), *source = get_str(m, "Source");

		if (!type || strcmp(type, "bind") != 0 || !source || !*source)
			continue;
		if (ef_strv_len(c->mounts) >= 1024)
			break;
		if ((error = ef_strv_push(&c->mounts, source)) < 0)
			return error;
	}
	return 0;
}

int ef_docker_parse_inspect(ef_container *out, const char *json, size_t len)
{
	cJSON *root = parse_json(json, len);
	const cJSON *state, *config, *settings;
	const char *id, *image;
	bool ok = true;
	long long v;
	int error = EF_EINVALID;

	memset(out, 0, sizeof(*out));
	id = get_str(root, "Id");
	if (!cJSON_IsObject(root) || !ef_docker_id_valid(id)) {
		ef_error_set("container inspect reply has no valid Id");
		goto out;
	}
	memcpy(out->id, id, strlen(id) + 1);
	state = get(root, "State");
	config = get(root, "Config");
	settings = get(root, "NetworkSettings");

	out->name = dup_nonempty(strip_slash(get_str(root, "Name")), &ok);
	image = get_str(config, "Image");
	out->image = dup_nonempty(image ? image : get_str(root, "Image"), &ok);
	out->state = ef_docker_state_parse(get_str(state, "Status"));
	if (get_num(state, "ExitCode", -2147483647LL, 2147483647LL, &v))
		out->exit_code = (int)v;
	if (get_num(root, "RestartCount", 0, 2147483647LL, &v))
		out->restart_count = (unsigned)v;
	/* Linux caps PIDs at 2^22 (pid_max); anything else is not a PID. */
	if (get_num(state, "Pid", 0, 4194304LL, &v))
		out->pid = (long)v;
	out->health = dup_nonempty(get_str(get(state, "Health"), "Status"), &ok);
	out->ip_address = dup_nonempty(find_ip(settings), &ok);
	if (!ok || !take_labels(out, get(config, "Labels")) ||
	    take_ports(out, get(settings, "Ports")) < 0 ||
	    take_endpoints(out, get(settings, "Networks")) < 0 ||
	    take_mounts(out, get(root, "Mounts")) < 0) {
		ef_error_set("out of memory");
		error = EF_ENOMEM;
		goto out;
	}
	error = 0;
out:
	if (error < 0)
		ef_container_dispose(out);
	cJSON_Delete(root);
	return error;
}

int ef_docker_parse_id(char out_id[65], const char *json, size_t len)
{
	cJSON *root = parse_json(json, len);
	const char *id = get_str(root, "Id");
	int error = EF_EINVALID;

	out_id[0] = '\0';
	if (!ef_docker_id_valid(id)) {
		ef_error_set("engine reply has no valid Id");
		goto out;
	}
	memcpy(out_id, id, strlen(id) + 1);
	error = 0;
out:
	cJSON_Delete(root);
	return error;
}

int ef_docker_parse_exec_inspect(int *exit_code, bool *running, const char *json, size_t len)
{
	cJSON *root = parse_json(json, len);
	const cJSON *run = get(root, "Running");
	long long v;
	int error = EF_EINVALID;

	if (!cJSON_IsObject(root) || !get_num(root, "ExitCode", -2147483647LL, 2147483647LL, &v)) {
		ef_error_set("exec inspect reply has no ExitCode");
		goto out;
	}
	*exit_code = (int)v;
	*running = cJSON_IsTrue(run);
	error = 0;
out:
	cJSON_Delete(root);
	return error;
}

/* Copies s into out, replacing control characters, cut to size. */
static void copy_printable(char *out, size_t size, const char *s, size_t len)
{
	size_t n = 0;

	if (size == 0)
		return;
	for (size_t i = 0; i < len && s[i] && n + 1 < size; i++) {
		unsigned char c = (unsigned char)s[i];
		out[n++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

void ef_docker_error_message(char *out, size_t size, const char *body, size_t len)
{
	cJSON *root = parse_json(body, len);
	const char *msg = get_str(root, "message");

	if (msg)
		copy_printable(out, size, msg, strlen(msg));
	else if (body)
		copy_printable(out, size, body, len);
	else if (size)
		out[0] = '\0';
	cJSON_Delete(root);
}

/* --- pull progress -------------------------------------------------------- */

void ef_docker_pull_init(ef_docker_pull *p, size_t line_cap)
{
	memset(p, 0, sizeof(*p));
	ef_buf_init(&p->line, line_cap);
}

static int parse_progress_line(ef_docker_pull *p, const char *s, size_t len)
{
	const cJSON *detail;
	const char *status, *id, *err;
	cJSON *root;
	long long v;

	while (len > 0 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\r')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
		len--;
	if (len == 0)
		return 0;
	root = cJSON_ParseWithLength(s, len);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		ef_error_set("pull progress line %u is not a JSON object", p->objects + 1);
		return EF_EINVALID;
	}
	p->objects++;
	err = get_str(root, "error");
	if (!err)
		err = get_str(get(root, "errorDetail"), "message");
	if (err && !p->error) {
		char msg[512];
		copy_printable(msg, sizeof(msg), err, strlen(err));
		if (!(p->error = strdup(msg[0] ? msg : "unknown error"))) {
			cJSON_Delete(root);
			return EF_ENOMEM;
		}
	}
	status = get_str(root, "status");
	if (status) {
		copy_printable(p->status, sizeof(p->status), status, strlen(status));
		if (strcmp(status, "Download complete") == 0 ||
		    strcmp(status, "Pull complete") == 0 || strcmp(status, "Already exists") == 0)
			p->layers_done++;
	}
	id = get_str(root, "id");
	if (id)
		copy_printable(p->id, sizeof(p->id), id, strlen(id));
	detail = get(root, "progressDetail");
	if (get_num(detail, "current", 0, 1LL << 53, &v))
		p->current = (uint64_t)v;
	if (get_num(detail, "total", 0, 1LL << 53, &v))
		p->total = (uint64_t)v;
	cJSON_Delete(root);
	return 0;
}

int ef_docker_pull_feed(ef_docker_pull *p, const char *data, size_t len)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;
		int error;

		if (ef_buf_put(&p->line, data, n) < 0) {
			ef_error_set("a pull progress line exceeds the limit of %zu bytes",
			             p->line.cap);
			return EF_ETOOBIG;
		}
		if (!nl)
			break;
		error = parse_progress_line(p, p->line.ptr, p->line.len);
		ef_buf_clear(&p->line);
		if (error < 0)
			return error;
		data += n + 1;
		len -= n + 1;
	}
	return 0;
}

int ef_docker_pull_finish(ef_docker_pull *p)
{
	int error = 0;

	if (p->line.len > 0)
		error = parse_progress_line(p, p->line.ptr, p->line.len);
	ef_buf_clear(&p->line);
	return error;
}

void ef_docker_pull_dispose(ef_docker_pull *p)
{
	ef_buf_dispose(&p->line);
	free(p->error);
	p->error = NULL;
}

/* --- request bodies ------------------------------------------------------- */

/* A JSON array of the strings of v (none for NULL), or NULL out of memory. */
static cJSON *strv_array(char *const *v)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; arr && v && v[i]; i++) {
		cJSON *s = cJSON_CreateString(v[i]);
		if (!s || !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			cJSON_Delete(arr);
			return NULL;
		}
	}
	return arr;
}

/* Adds a JSON string array under key unless v is NULL. */
static bool add_strv(cJSON *obj, const char *key, char *const *v)
{
	cJSON *arr;

	if (!v)
		return true;
	if (!(arr = strv_array(v)) || !cJSON_AddItemToObject(obj, key, arr)) {
		cJSON_Delete(arr);
		return false;
	}
	return true;
}

static bool add_str_if(cJSON *obj, const char *key, const char *value)
{
	return !value || !*value || cJSON_AddStringToObject(obj, key, value) != NULL;
}

static bool add_num_if(cJSON *obj, const char *key, int64_t value)
{
	return value <= 0 || cJSON_AddNumberToObject(obj, key, (double)value) != NULL;
}

static bool set_label(cJSON *labels, const char *key, const char *value)
{
	cJSON_DeleteItemFromObjectCaseSensitive(labels, key);
	return cJSON_AddStringToObject(labels, key, value ? value : "") != NULL;
}

/* "key=value" items into an object (a later key wins); a missing "=" gives "". */
static bool add_kv_object(cJSON *obj, const char *key, char *const *items, bool always)
{
	cJSON *o;

	if (!items && !always)
		return true;
	if (!(o = cJSON_AddObjectToObject(obj, key)))
		return false;
	for (size_t i = 0; items && items[i]; i++) {
		const char *eq = strchr(items[i], '=');
		char *k = eq ? strndup(items[i], (size_t)(eq - items[i])) : strdup(items[i]);
		bool ok = k && set_label(o, k, eq ? eq + 1 : "");

		free(k);
		if (!ok)
			return false;
	}
	return true;
}

/* HostConfig.DeviceRequests: [{Driver, Count, DeviceIDs, Capabilities: [[...]],
 * Options}], the capabilities one set the device must have all of. */
static bool add_device_requests(cJSON *host, const ef_container_spec *spec)
{
	cJSON *arr;

	if (!spec->ndevice_requests)
		return true;
	if (!(arr = cJSON_AddArrayToObject(host, "DeviceRequests")))
		return false;
	for (size_t i = 0; i < spec->ndevice_requests; i++) {
		const ef_engine_device_request *d = &spec->device_requests[i];
		cJSON *o = cJSON_CreateObject(), *caps, *set;

		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			return false;
		}
		if (!cJSON_AddStringToObject(o, "Driver", d->driver ? d->driver : "") ||
		    !cJSON_AddNumberToObject(o, "Count", (double)d->count) ||
		    !add_strv(o, "DeviceIDs", d->device_ids) ||
		    !(caps = cJSON_AddArrayToObject(o, "Capabilities")) ||
		    !add_kv_object(o, "Options", d->options, true))
			return false;
		if (!(set = strv_array(d->capabilities)) || !cJSON_AddItemToArray(caps, set)) {
			cJSON_Delete(set);
			return false;
		}
	}
	return true;
}

static int add_labels(cJSON *body, const ef_create_req *req)
{
	cJSON *labels;

	if (!add_kv_object(body, "Labels", req->spec->labels, true))
		return EF_ENOMEM;
	labels = cJSON_GetObjectItemCaseSensitive(body, "Labels");
	if (req->preview && !set_label(labels, EF_LABEL_PREVIEW, req->preview))
		return EF_ENOMEM;
	if (!set_label(labels, req->preview ? EF_LABEL_PREVIEW_SERVICE : EF_LABEL_SERVICE,
	               req->service) ||
	    !set_label(labels, EF_LABEL_SLOT, req->slot) ||
	    !set_label(labels, EF_LABEL_REVISION, req->revision) ||
	    !set_label(labels, EF_LABEL_SPEC, req->spec_hash) ||
	    !set_label(labels, EF_LABEL_PREVIOUS, req->previous))
		return EF_ENOMEM;
	return 0;
}

static int add_ports(cJSON *body, cJSON *host, const ef_create_req *req)
{
	const ef_container_spec *spec = req->spec;
	cJSON *exposed, *bindings;

	if (spec->nports == 0)
		return 0;
	if (!(exposed = cJSON_AddObjectToObject(body, "ExposedPorts")) ||
	    !(bindings = cJSON_AddObjectToObject(host, "PortBindings")))
		return EF_ENOMEM;
	for (size_t i = 0; i < spec->nports; i++) {
		const ef_engine_port *p = &spec->ports[i];
		const char *proto = p->protocol[0] ? p->protocol : "tcp";
		char key[16], hostport[8];
		cJSON *list, *b;

		if ((strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0) ||
		    p->container_port == 0) {
			ef_error_set("service %s: port %u/%.4s cannot be published", req->service,
			             p->container_port, proto);
			return EF_EINVALID;
		}
		snprintf(key, sizeof(key), "%u/%s", p->container_port, proto);
		if (!get(exposed, key) && !cJSON_AddObjectToObject(exposed, key))
			return EF_ENOMEM;
		if (p->host_port == 0)
			continue;
		list = cJSON_GetObjectItemCaseSensitive(bindings, key);
		if (!list && !(list = cJSON_AddArrayToObject(bindings, key)))
			return EF_ENOMEM;
		snprintf(hostport, sizeof(hostport), "%u", p->host_port);
		if (!(b = cJSON_CreateObject()) || !cJSON_AddItemToArray(list, b)) {
			cJSON_Delete(b);
			return EF_ENOMEM;
		}
		if (!cJSON_AddStringToObject(b, "HostIp", p->host_ip ? p->host_ip : "") ||
		    !cJSON_AddStringToObject(b, "HostPort", hostport))
			return EF_ENOMEM;
	}
	return 0;
}

static int add_restart(cJSON *host, const ef_container_spec *spec)
{
	static const char *const names[] = {
	        [EF_RESTART_NO] = "no",
	        [EF_RESTART_ALWAYS] = "always",
	        [EF_RESTART_UNLESS_STOPPED] = "unless-stopped",
	        [EF_RESTART_ON_FAILURE] = "on-failure",
	};
	cJSON *policy;

	if (spec->restart == EF_RESTART_NO)
		return 0;
	if ((unsigned)spec->restart >= sizeof(names) / sizeof(names[0])) {
		ef_error_set("unknown restart policy %d", (int)spec->restart);
		return EF_EINVALID;
	}
	if (!(policy = cJSON_AddObjectToObject(host, "RestartPolicy")) ||
	    !cJSON_AddStringToObject(policy, "Name", names[spec->restart]) ||
	    !cJSON_AddNumberToObject(
	            policy, "MaximumRetryCount",
	            spec->restart == EF_RESTART_ON_FAILURE ? (double)spec->restart_max : 0))
		return EF_ENOMEM;
	return 0;
}

/* Every mount goes into HostConfig.Mounts as an object: paths are values,
 * never parsed by the engine, so "a:/b:rw,suid" stays one odd path. */
static int mount_json(cJSON **out, const char *service, const ef_engine_mount *m)
{
	static const char *const types[] = {
	        [EF_ENGINE_MOUNT_BIND] = "bind",
	        [EF_ENGINE_MOUNT_VOLUME] = "volume",
	        [EF_ENGINE_MOUNT_TMPFS] = "tmpfs",
	};
	cJSON *item = NULL, *opts;
	bool ok;

	if ((unsigned)m->type >= sizeof(types) / sizeof(types[0]) || !m->target ||
	    m->target[0] != '/') {
		ef_error_set("service %s: mount %s needs an absolute target path", service,
		             m->target ? m->target : "(none)");
		return EF_EINVALID;
	}
	if (m->type == EF_ENGINE_MOUNT_BIND && (!m->source || m->source[0] != '/')) {
		ef_error_set("service %s: bind mount to %s needs an absolute source path", service,
		             m->target);
		return EF_EINVALID;
	}
	if (!(item = cJSON_CreateObject()))
		goto oom;
	ok = cJSON_AddStringToObject(item, "Type", types[m->type]) &&
	     cJSON_AddStringToObject(item, "Target", m->target) &&
	     (m->type == EF_ENGINE_MOUNT_TMPFS || add_str_if(item, "Source", m->source)) &&
	     cJSON_AddBoolToObject(item, "ReadOnly", m->read_only);
	if (!ok)
		goto oom;
	if (m->type == EF_ENGINE_MOUNT_BIND && m->propagation && *m->propagation) {
		if (!(opts = cJSON_AddObjectToObject(item, "BindOptions")) ||
		    !cJSON_AddStringToObject(opts, "Propagation", m->propagation))
			goto oom;
	}
	if (m->type == EF_ENGINE_MOUNT_VOLUME && m->no_copy) {
		if (!(opts = cJSON_AddObjectToObject(item, "VolumeOptions")) ||
		    !cJSON_AddBoolToObject(opts, "NoCopy", true))
			goto oom;
	}
	if (m->type == EF_ENGINE_MOUNT_TMPFS && (m->tmpfs_size > 0 || m->tmpfs_mode)) {
		if (!(opts = cJSON_AddObjectToObject(item, "TmpfsOptions")) ||
		    !add_num_if(opts, "SizeBytes", m->tmpfs_size) ||
		    !add_num_if(opts, "Mode", (int64_t)m->tmpfs_mode))
			goto oom;
	}
	*out = item;
	return 0;
oom:
	cJSON_Delete(item);
	return EF_ENOMEM;
}

static int add_mounts(cJSON *host, const ef_create_req *req)
{
	const ef_container_spec *spec = req->spec;
	cJSON *mounts;

	if (spec->nmounts == 0)
		return 0;
	if (!(mounts = cJSON_AddArrayToObject(host, "Mounts")))
		return EF_ENOMEM;
	for (size_t i = 0; i < spec->nmounts; i++) {
		cJSON *item = NULL;
		int error = mount_json(&item, req->service, &spec->mounts[i]);

		if (error < 0)
			return error;
		if (!cJSON_AddItemToArray(mounts, item)) {
			cJSON_Delete(item);
			return EF_ENOMEM;
		}
	}
	return 0;
}

static int add_devices(cJSON *host, const ef_container_spec *spec)
{
	cJSON *devices;

	if (spec->ndevices == 0)
		return 0;
	if (!(devices = cJSON_AddArrayToObject(host, "Devices")))
		return EF_ENOMEM;
	for (size_t i = 0; i < spec->ndevices; i++) {
		const ef_engine_device *dev = &spec->devices[i];
		cJSON *d = cJSON_CreateObject();

		if (!d || !cJSON_AddItemToArray(devices, d)) {
			cJSON_Delete(d);
			return EF_ENOMEM;
		}
		if (!cJSON_AddStringToObject(d, "PathOnHost", dev->host_path) ||
		    !cJSON_AddStringToObject(d, "PathInContainer",
		                             dev->container_path ? dev->container_path
		                                                 : dev->host_path) ||
		    !cJSON_AddStringToObject(d, "CgroupPermissions",
		                             dev->perms[0] ? dev->perms : "rwm"))
			return EF_ENOMEM;
	}
	return 0;
}

static int add_ulimits(cJSON *host, const ef_container_spec *spec)
{
	cJSON *list;

	if (spec->nulimits == 0)
		return 0;
	if (!(list = cJSON_AddArrayToObject(host, "Ulimits")))
		return EF_ENOMEM;
	for (size_t i = 0; i < spec->nulimits; i++) {
		const ef_engine_ulimit *u = &spec->ulimits[i];
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(list, o)) {
			cJSON_Delete(o);
			return EF_ENOMEM;
		}
		if (!cJSON_AddStringToObject(o, "Name", u->name) ||
		    !cJSON_AddNumberToObject(o, "Soft", (double)u->soft) ||
		    !cJSON_AddNumberToObject(o, "Hard", (double)u->hard))
			return EF_ENOMEM;
	}
	return 0;
}

/* NetworkingConfig.EndpointsConfig: the networks joined at create, with their
 * aliases. Podman and Docker both attach every listed network at create. */
static int add_networks(cJSON *body, cJSON *host, const ef_container_spec *spec)
{
	cJSON *eps;

	if (spec->nnetworks == 0)
		return 0;
	if (!spec->network_mode &&
	    !cJSON_AddStringToObject(host, "NetworkMode", spec->networks[0].network))
		return EF_ENOMEM;
	if (!(eps = cJSON_AddObjectToObject(body, "NetworkingConfig")) ||
	    !(eps = cJSON_AddObjectToObject(eps, "EndpointsConfig")))
		return EF_ENOMEM;
	for (size_t i = 0; i < spec->nnetworks; i++) {
		const ef_engine_endpoint *n = &spec->networks[i];
		cJSON *ep;

		if (!n->network || !*n->network) {
			ef_error_set("network %zu has no name", i);
			return EF_EINVALID;
		}
		if (!(ep = cJSON_AddObjectToObject(eps, n->network)) ||
		    !add_strv(ep, "Aliases", n->aliases))
			return EF_ENOMEM;
		if (n->ipv4_address || n->ipv6_address) {
			cJSON *ipam = cJSON_AddObjectToObject(ep, "IPAMConfig");
			if (!ipam || !add_str_if(ipam, "IPv4Address", n->ipv4_address) ||
			    !add_str_if(ipam, "IPv6Address", n->ipv6_address))
				return EF_ENOMEM;
		}
	}
	return 0;
}

static int add_logging(cJSON *host, const ef_container_spec *spec)
{
	cJSON *log;

	if (!spec->log_driver || !*spec->log_driver)
		return 0;
	if (!(log = cJSON_AddObjectToObject(host, "LogConfig")) ||
	    !cJSON_AddStringToObject(log, "Type", spec->log_driver) ||
	    !add_kv_object(log, "Config", spec->log_opts, true))
		return EF_ENOMEM;
	return 0;
}

int ef_docker_create_body(char **out, const ef_create_req *req)
{
	const ef_container_spec *spec = req->spec;
	cJSON *body = cJSON_CreateObject(), *host;
	int error = EF_ENOMEM;

	*out = NULL;
	if (!body || !spec || !req->service || !spec->image) {
		if (body)
			ef_error_set("create request without a service name or image");
		error = body ? EF_EINVALID : EF_ENOMEM;
		goto out;
	}
	/* An entrypoint set and empty (Compose's entrypoint: [] or '') clears the
	 * image's: [""] says so to Docker and to Podman alike (Podman 4.3 reads
	 * [] as "keep the image's", checked in test_engine.sh). An empty command
	 * is the image's command on both, as Compose means it. */
	static char *const clear[] = {"", NULL};
	if (!cJSON_AddStringToObject(body, "Image", spec->image) ||
	    !add_strv(body, "Cmd", spec->cmd && spec->cmd[0] ? spec->cmd : NULL) ||
	    !add_strv(body, "Entrypoint",
	              spec->entrypoint && !spec->entrypoint[0] ? clear : spec->entrypoint) ||
	    !add_strv(body, "Env", spec->env) || !add_str_if(body, "User", spec->user) ||
	    !add_str_if(body, "WorkingDir", spec->working_dir) ||
	    !add_str_if(body, "Hostname", spec->hostname) ||
	    !add_str_if(body, "Domainname", spec->domainname) ||
	    !add_str_if(body, "StopSignal", spec->stop_signal) ||
	    (spec->stop_grace_s >= 0 &&
	     !cJSON_AddNumberToObject(body, "StopTimeout", spec->stop_grace_s)) ||
	    (spec->tty && !cJSON_AddBoolToObject(body, "Tty", true)) ||
	    (spec->stdin_open && !cJSON_AddBoolToObject(body, "OpenStdin", true)))
		goto out;
	if ((error = add_labels(body, req)) < 0)
		goto out;
	error = EF_ENOMEM;
	if (!(host = cJSON_AddObjectToObject(body, "HostConfig")))
		goto out;
	if ((error = add_ports(body, host, req)) < 0 || (error = add_restart(host, spec)) < 0 ||
	    (error = add_mounts(host, req)) < 0 || (error = add_devices(host, spec)) < 0 ||
	    (error = add_ulimits(host, spec)) < 0 || (error = add_logging(host, spec)) < 0)
		goto out;
	error = EF_ENOMEM;
	if (!add_num_if(host, "NanoCpus", spec->nano_cpus) ||
	    !add_num_if(host, "Memory", spec->memory) ||
	    !add_num_if(host, "MemoryReservation", spec->memory_reservation) ||
	    (spec->memory_swap &&
	     !cJSON_AddNumberToObject(host, "MemorySwap", (double)spec->memory_swap)) ||
	    (spec->pids_limit &&
	     !cJSON_AddNumberToObject(host, "PidsLimit", (double)spec->pids_limit)) ||
	    !add_str_if(host, "CpusetCpus", spec->cpuset) ||
	    !add_num_if(host, "CpuShares", spec->cpu_shares) ||
	    !add_num_if(host, "ShmSize", spec->shm_size) ||
	    !cJSON_AddBoolToObject(host, "Privileged", spec->privileged) ||
	    !cJSON_AddBoolToObject(host, "ReadonlyRootfs", spec->read_only) ||
	    (spec->init >= 0 && !cJSON_AddBoolToObject(host, "Init", spec->init > 0)) ||
	    !add_str_if(host, "NetworkMode", spec->network_mode) ||
	    !add_str_if(host, "PidMode", spec->pid) || !add_str_if(host, "IpcMode", spec->ipc) ||
	    !add_strv(host, "CapAdd", spec->cap_add) ||
	    !add_strv(host, "CapDrop", spec->cap_drop) ||
	    !add_strv(host, "DeviceCgroupRules", spec->device_cgroup_rules) ||
	    !add_device_requests(host, spec) ||
	    !add_kv_object(host, "Sysctls", spec->sysctls, false) ||
	    !add_strv(host, "ExtraHosts", spec->extra_hosts) || !add_strv(host, "Dns", spec->dns) ||
	    !add_strv(host, "DnsSearch", spec->dns_search) ||
	    !add_strv(host, "DnsOptions", spec->dns_opt) ||
	    !add_strv(host, "GroupAdd", spec->group_add) ||
	    !add_strv(host, "SecurityOpt", spec->security_opt))
		goto out;
	if ((error = add_networks(body, host, spec)) < 0)
		goto out;
	/* No Healthcheck: edgeflip probes the container itself. */
	error = EF_ENOMEM;
	if (!(*out = cJSON_PrintUnformatted(body)))
		goto out;
	error = 0;
out:
	if (error == EF_ENOMEM)
		ef_error_set("out of memory");
	/* Env may hold decrypted env_file values (docs/secrets.md). */
	for (cJSON *v = body ? cJSON_GetObjectItemCaseSensitive(body, "Env") : NULL,
	           *it = v ? v->child : NULL;
	     it; it = it->next)
		ef_str_wipe(it->valuestring);
	cJSON_Delete(body);
	return error;
}

static bool add_ipam(cJSON *body, const ef_network_req *req)
{
	cJSON *ipam, *config, *pool;

	if (!req->subnet && !req->gateway && !req->ip_range)
		return true;
	return (ipam = cJSON_AddObjectToObject(body, "IPAM")) &&
	       cJSON_AddStringToObject(ipam, "Driver", "default") &&
	       (config = cJSON_AddArrayToObject(ipam, "Config")) && (pool = cJSON_CreateObject()) &&
	       cJSON_AddItemToArray(config, pool) && add_str_if(pool, "Subnet", req->subnet) &&
	       add_str_if(pool, "Gateway", req->gateway) &&
	       add_str_if(pool, "IPRange", req->ip_range);
}

/* POST /networks/create */
int ef_docker_network_body(char **out, const ef_network_req *req)
{
	cJSON *body = cJSON_CreateObject(), *labels;
	int error = EF_ENOMEM;

	*out = NULL;
	if (!body)
		goto out;
	if (!req->name || !*req->name) {
		ef_error_set("network create request without a name");
		error = EF_EINVALID;
		goto out;
	}
	if (!cJSON_AddStringToObject(body, "Name", req->name) ||
	    !cJSON_AddStringToObject(body, "Driver", req->driver ? req->driver : "bridge") ||
	    !cJSON_AddBoolToObject(body, "CheckDuplicate", true) ||
	    !cJSON_AddBoolToObject(body, "Internal", req->internal) ||
	    (req->enable_ipv6 && !cJSON_AddBoolToObject(body, "EnableIPv6", true)) ||
	    !add_ipam(body, req) || !add_kv_object(body, "Labels", req->labels, true) ||
	    !add_kv_object(body, "Options", req->options, false))
		goto out;
	labels = cJSON_GetObjectItemCaseSensitive(body, "Labels");
	if (!set_label(labels, EF_LABEL_NETWORK, req->project ? req->project : "edgeflip") ||
	    !(*out = cJSON_PrintUnformatted(body)))
		goto out;
	error = 0;
out:
	if (error == EF_ENOMEM)
		ef_error_set("out of memory");
	cJSON_Delete(body);
	return error;
}

/* POST /networks/{id}/connect */
int ef_docker_connect_body(char **out, const char *container, char *const *aliases)
{
	cJSON *body = cJSON_CreateObject(), *ep;
	int error = EF_ENOMEM;

	*out = NULL;
	if (body && cJSON_AddStringToObject(body, "Container", container) &&
	    (ep = cJSON_AddObjectToObject(body, "EndpointConfig")) &&
	    add_strv(ep, "Aliases", aliases) && (*out = cJSON_PrintUnformatted(body)))
		error = 0;
	if (error < 0)
		ef_error_set("out of memory");
	cJSON_Delete(body);
	return error;
}

/* GET /networks: the names of those carrying EF_LABEL_NETWORK, sorted. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ef_docker_parse_networks(char ***out, const char *json, size_t len, const char *project)
{
	cJSON *root = parse_json(json, len);
	const cJSON *item;
	char **names = NULL;
	int error = EF_EINVALID;

	*out = NULL;
	if (!cJSON_IsArray(root)) {
		ef_error_set("network list reply is not a JSON array");
		goto out;
	}
	cJSON_ArrayForEach(item, root)
	{
		const char *name = get_str(item, "Name");
		const char *owner = get_str(get(item, "Labels"), EF_LABEL_NETWORK);

		if (!name || !*name || !owner || strcmp(owner, project) != 0)
			continue;
		if (ef_strv_push(&names, name) < 0) {
			error = EF_ENOMEM;
			goto out;
		}
	}
	if (names)
		qsort(names, ef_strv_len(names), sizeof(*names), cmp_str);
	*out = names;
	names = NULL;
	error = 0;
out:
	ef_strv_free(names);
	cJSON_Delete(root);
	return error;
}

int ef_docker_exec_body(char **out, char *const argv[])
{
	cJSON *body;
	int error = EF_ENOMEM;

	*out = NULL;
	if (!argv || !argv[0]) {
		ef_error_set("exec needs a command");
		return EF_EINVALID;
	}
	if (!(body = cJSON_CreateObject()))
		goto out;
	if (add_strv(body, "Cmd", argv) && cJSON_AddBoolToObject(body, "AttachStdout", true) &&
	    cJSON_AddBoolToObject(body, "AttachStderr", true) &&
	    (*out = cJSON_PrintUnformatted(body)) != NULL)
		error = 0;
out:
	if (error < 0)
		ef_error_set("out of memory");
	cJSON_Delete(body);
	return error;
}

int ef_docker_url_encode(ef_buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int error;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			error = ef_buf_put(out, s, 1);
		} else {
			char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
			error = ef_buf_put(out, esc, 3);
		}
		if (error < 0)
			return error;
	}
	return ef_buf_put(out, "", 0);
}
