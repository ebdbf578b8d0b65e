/* Preview environments: the ref pattern, the port range and allocator, and
 * the record STATE_DIR/previews.json (include/edgeflip/previews.h). The
 * deploy of previews is in previews.c. */
#include "edgeflip/previews.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/sys/fs.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ef_preview_pattern_check(const char *pattern)
{
	const char *star = pattern ? strchr(pattern, '*') : NULL;

	if (!pattern || strncmp(pattern, "refs/", 5) != 0 || !star || strchr(star + 1, '*') ||
	    star[-1] != '/' || (star[1] != '\0' && star[1] != '/') ||
	    strspn(pattern, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	                    "._-/*") != strlen(pattern) ||
	    strstr(pattern, "//") || strstr(pattern, "..") || strlen(pattern) > 200) {
		ef_error_set("'%s' is not a ref pattern with one '*' standing for a whole path "
		             "component; write e.g. refs/pull/*/head",
		             pattern ? pattern : "");
		return EF_EINVALID;
	}
	return 0;
}

/* digits or [A-Za-z0-9._-], not starting with '.', shorter than the cap */
static bool valid_id(const char *p, size_t n)
{
	if (n == 0 || n >= EF_PREVIEW_ID_MAX || p[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

int ef_preview_match(char *id, size_t cap, const char *pattern, const char *ref)
{
	const char *star = strchr(pattern, '*');
	size_t pre, post, rlen = strlen(ref), n;

	if (!star || cap == 0)
		return 0;
	pre = (size_t)(star - pattern);
	post = strlen(star + 1);
	if (rlen <= pre + post || strncmp(ref, pattern, pre) != 0 ||
	    strcmp(ref + rlen - post, star + 1) != 0)
		return 0;
	n = rlen - pre - post;
	if (n >= cap || !valid_id(ref + pre, n))
		return 0;
	memcpy(id, ref + pre, n);
	id[n] = '\0';
	return 1;
}

char *ef_preview_prefix(const char *pattern)
{
	const char *star = strchr(pattern, '*');

	return star ? strndup(pattern, (size_t)(star - pattern)) : NULL;
}

static bool all_digits(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

int ef_preview_id_cmp(const char *a, const char *b)
{
	bool da = all_digits(a), db = all_digits(b);

	if (da != db)
		return da ? -1 : 1;
	if (da) {
		/* Numbers by value: leading zeros aside, the longer is larger. */
		while (*a == '0' && a[1])
			a++;
		while (*b == '0' && b[1])
			b++;
		if (strlen(a) != strlen(b))
			return strlen(a) < strlen(b) ? -1 : 1;
	}
	return strcmp(a, b);
}

int ef_preview_ports_parse(uint16_t *lo, uint16_t *hi, const char *text)
{
	unsigned long a, b;
	char *end;

	errno = 0;
	if (!text || text[0] < '0' || text[0] > '9')
		goto bad;
	a = strtoul(text, &end, 10);
	if (errno || *end != '-' || end[1] < '0' || end[1] > '9')
		goto bad;
	b = strtoul(end + 1, &end, 10);
	if (errno || *end || a < 1 || b > 65535 || a > b)
		goto bad;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return 0;
bad:
	ef_error_set("'%s' is not a port range LOW-HIGH with 1 <= LOW <= HIGH <= 65535 (e.g. "
	             "20000-20999)",
	             text ? text : "");
	return EF_EINVALID;
}

static void preview_dispose(ef_preview *p)
{
	free(p->name);
	free(p->ref);
	free(p->reason);
	for (size_t i = 0; i < p->nports; i++)
		free(p->ports[i].service);
	free(p->ports);
	ef_strv_free(p->volumes);
	memset(p, 0, sizeof(*p));
}

void ef_previews_dispose(ef_previews *p)
{
	for (size_t i = 0; p && i < p->count; i++)
		preview_dispose(&p->items[i]);
	if (p) {
		free(p->items);
		p->items = NULL;
		p->count = 0;
	}
}

ef_preview *ef_previews_find(ef_previews *p, const char *name)
{
	for (size_t i = 0; i < p->count; i++)
		if (strcmp(p->items[i].name, name) == 0)
			return &p->items[i];
	return NULL;
}

void ef_previews_remove(ef_previews *p, size_t i)
{
	if (i >= p->count)
		return;
	preview_dispose(&p->items[i]);
	memmove(&p->items[i], &p->items[i + 1], (p->count - i - 1) * sizeof(p->items[0]));
	p->count--;
}

static bool port_taken(const ef_previews *all, uint16_t port)
{
	for (size_t i = 0; i < all->count; i++)
		for (size_t j = 0; j < all->items[i].nports; j++)
			if (all->items[i].ports[j].host_port == port)
				return true;
	return false;
}

int ef_preview_port_alloc(uint16_t *out, const ef_previews *all, const char *name,
                          const char *service, uint16_t container_port, const char *proto,
                          uint16_t lo, uint16_t hi)
{
	for (size_t i = 0; i < all->count; i++) {
		const ef_preview *p = &all->items[i];
		if (strcmp(p->name, name) != 0)
			continue;
		for (size_t j = 0; j < p->nports; j++)
			if (strcmp(p->ports[j].service, service) == 0 &&
			    p->ports[j].container_port == container_port &&
			    strcmp(p->ports[j].protocol, proto) == 0) {
				*out = p->ports[j].host_port;
				return 0;
			}
	}
	for (uint32_t port = lo; port <= hi; port++)
		if (!port_taken(all, (uint16_t)port)) {
			*out = (uint16_t)port;
			return 0;
		}
	ef_error_set("no free port left in [source] preview_ports %u-%u for %s service %s port %u",
	             lo, hi, name, service, container_port);
	return EF_ENOTFOUND;
}

/* ---- previews.json ---- */

static bool is_hex_id(const char *s, bool empty_ok)
{
	size_t n = strlen(s);

	return (empty_ok && n == 0) || ((n == 40 || n == 64) && strspn(s, "0123456789abcdef") == n);
}

static const char *str_field(const cJSON *o, const char *key, bool required, int *error,
                             const char *where)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v && !required)
		return NULL;
	if (!cJSON_IsString(v) || !v->valuestring || strlen(v->valuestring) > 4096) {
		ef_error_set("previews.json: %s.%s must be a string", where, key);
		*error = EF_EINVALID;
		return NULL;
	}
	return v->valuestring;
}

static int parse_ports(ef_preview *p, const cJSON *arr, const char *where)
{
	const cJSON *it;
	int n = cJSON_GetArraySize(arr), error = 0;

	if (!cJSON_IsArray(arr) || n < 0 || (unsigned)n > EF_PREVIEWS_MAX) {
		ef_error_set("previews.json: %s.ports must be an array of at most %u", where,
		             EF_PREVIEWS_MAX);
		return EF_EINVALID;
	}
	if (n && !(p->ports = calloc((size_t)n, sizeof(*p->ports))))
		return EF_ENOMEM;
	cJSON_ArrayForEach(it, arr)
	{
		ef_preview_port *q = &p->ports[p->nports];
		const cJSON *cp = cJSON_GetObjectItemCaseSensitive(it, "container_port");
		const cJSON *hp = cJSON_GetObjectItemCaseSensitive(it, "host_port");
		const char *svc = str_field(it, "service", true, &error, where);
		const char *proto = str_field(it, "protocol", true, &error, where);

		if (error < 0)
			return error;
		if (!cJSON_IsNumber(cp) || !cJSON_IsNumber(hp) || cp->valuedouble < 1 ||
		    cp->valuedouble > 65535 || hp->valuedouble < 1 || hp->valuedouble > 65535 ||
		    (strcmp(proto, "tcp") && strcmp(proto, "udp"))) {
			ef_error_set("previews.json: %s.ports[%zu]: container_port and host_port "
			             "must be ports, protocol tcp or udp",
			             where, p->nports);
			return EF_EINVALID;
		}
		if (!(q->service = strdup(svc)))
			return EF_ENOMEM;
		q->container_port = (uint16_t)cp->valuedouble;
		q->host_port = (uint16_t)hp->valuedouble;
		snprintf(q->protocol, sizeof(q->protocol), "%s", proto);
		p->nports++;
	}
	return 0;
}

static int parse_one(ef_preview *p, const cJSON *o, size_t idx)
{
	char where[32];
	const char *name, *ref, *rev, *refused, *reason;
	const cJSON *vols;
	int error = 0;

	snprintf(where, sizeof(where), "previews[%zu]", idx);
	if (!cJSON_IsObject(o)) {
		ef_error_set("previews.json: %s must be an object", where);
		return EF_EINVALID;
	}
	name = str_field(o, "name", true, &error, where);
	ref = str_field(o, "ref", true, &error, where);
	rev = str_field(o, "revision", true, &error, where);
	refused = str_field(o, "refused", false, &error, where);
	reason = str_field(o, "reason", false, &error, where);
	if (error < 0)
		return error;
	if (strncmp(name, "pr-", 3) != 0 || !valid_id(name + 3, strlen(name + 3)) ||
	    !is_hex_id(rev, true) || (refused && !is_hex_id(refused, true))) {
		ef_error_set("previews.json: %s: name must be pr-ID, revision and refused commit "
		             "ids",
		             where);
		return EF_EINVALID;
	}
	if (!(p->name = strdup(name)) || !(p->ref = strdup(ref)) ||
	    (reason && !(p->reason = strdup(reason))))
		return EF_ENOMEM;
	snprintf(p->revision, sizeof(p->revision), "%s", rev);
	snprintf(p->refused, sizeof(p->refused), "%s", refused ? refused : "");
	if ((error = parse_ports(p, cJSON_GetObjectItemCaseSensitive(o, "ports"), where)) < 0)
		return error;
	vols = cJSON_GetObjectItemCaseSensitive(o, "volumes");
	if (vols && !cJSON_IsArray(vols)) {
		ef_error_set("previews.json: %s.volumes must be an array", where);
		return EF_EINVALID;
	}
	if (vols && cJSON_GetArraySize(vols) > (int)EF_PREVIEWS_MAX) {
		ef_error_set("previews.json: %s.volumes: more than %u", where, EF_PREVIEWS_MAX);
		return EF_EINVALID;
	}
	for (const cJSON *v = vols ? vols->child : NULL; v; v = v->next) {
		if (!cJSON_IsString(v) || !v->valuestring || !v->valuestring[0] ||
		    strlen(v->valuestring) > 512) {
			ef_error_set("previews.json: %s.volumes: names must be strings", where);
			return EF_EINVALID;
		}
		if ((error = ef_strv_push(&p->volumes, v->valuestring)) < 0)
			return error;
	}
	return 0;
}

int ef_previews_parse(ef_previews *out, const char *json, size_t len)
{
	cJSON *root = NULL;
	const cJSON *arr, *it;
	int n, error = EF_EINVALID;

	memset(out, 0, sizeof(*out));
	if (len > EF_PREVIEWS_FILE_MAX) {
		ef_error_set("previews.json: larger than %u bytes", EF_PREVIEWS_FILE_MAX);
		return EF_EINVALID;
	}
	root = cJSON_ParseWithLength(json, len);
	arr = cJSON_GetObjectItemCaseSensitive(root, "previews");
	n = cJSON_GetArraySize(arr);
	if (!root || !cJSON_IsArray(arr) || n < 0 || (unsigned)n > EF_PREVIEWS_MAX) {
		ef_error_set(
		        "previews.json: not an object with an array \"previews\" of at most %u",
		        EF_PREVIEWS_MAX);
		goto out;
	}
	error = 0;
	if (n && !(out->items = calloc((size_t)n, sizeof(*out->items)))) {
		error = EF_ENOMEM;
		goto out;
	}
	cJSON_ArrayForEach(it, arr)
	{
		error = parse_one(&out->items[out->count], it, out->count);
		out->count++;
		if (error < 0)
			break;
		if (ef_previews_find(out, out->items[out->count - 1].name) !=
		    &out->items[out->count - 1]) {
			ef_error_set("previews.json: %s listed twice",
			             out->items[out->count - 1].name);
			error = EF_EINVALID;
			break;
		}
	}
out:
	cJSON_Delete(root);
	if (error < 0)
		ef_previews_dispose(out);
	return error;
}

int ef_previews_load(ef_previews *out, const char *state_dir)
{
	char path[4200];
	ef_buf b;
	int error;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "%s/previews.json", state_dir);
	error = ef_read_file(&b, path, EF_PREVIEWS_FILE_MAX);
	if (error == EF_ENOTFOUND)
		return 0;
	if (error < 0)
		return error;
	error = ef_previews_parse(out, b.ptr ? b.ptr : "", b.len);
	if (error < 0)
		ef_error_prefix("%s", path);
	ef_buf_dispose(&b);
	return error;
}

int ef_previews_save(const ef_previews *p, const char *state_dir)
{
	char path[4200], *text = NULL;
	int error;

	if ((error = ef_previews_to_json(&text, p)) < 0)
		return error;
	snprintf(path, sizeof(path), "%s/previews.json", state_dir);
	error = ef_fs_write_atomic(path, text, strlen(text));
	free(text);
	return error;
}

int ef_previews_to_json(char **out, const ef_previews *p)
{
	char *text = NULL;
	cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "previews");
	int error = EF_ENOMEM;

	if (!root || !arr)
		goto out;
	for (size_t i = 0; i < p->count; i++) {
		const ef_preview *v = &p->items[i];
		cJSON *o = cJSON_CreateObject(), *ports, *vols;

		if (!o || !cJSON_AddItemToArray(arr, o) ||
		    !cJSON_AddStringToObject(o, "name", v->name) ||
		    !cJSON_AddStringToObject(o, "ref", v->ref) ||
		    !cJSON_AddStringToObject(o, "revision", v->revision) ||
		    !cJSON_AddStringToObject(o, "refused", v->refused) ||
		    (v->reason && !cJSON_AddStringToObject(o, "reason", v->reason)) ||
		    !(ports = cJSON_AddArrayToObject(o, "ports")) ||
		    !(vols = cJSON_AddArrayToObject(o, "volumes")))
			goto out;
		for (size_t j = 0; j < v->nports; j++) {
			cJSON *q = cJSON_CreateObject();
			if (!q || !cJSON_AddItemToArray(ports, q) ||
			    !cJSON_AddStringToObject(q, "service", v->ports[j].service) ||
			    !cJSON_AddNumberToObject(q, "container_port",
			                             v->ports[j].container_port) ||
			    !cJSON_AddStringToObject(q, "protocol", v->ports[j].protocol) ||
			    !cJSON_AddNumberToObject(q, "host_port", v->ports[j].host_port))
				goto out;
		}
		for (size_t j = 0; v->volumes && v->volumes[j]; j++)
			if (!cJSON_AddItemToArray(vols, cJSON_CreateString(v->volumes[j])))
				goto out;
	}
	if (!(text = cJSON_Print(root)))
		goto out;
	*out = text;
	error = 0;
out:
	cJSON_Delete(root);
	return error;
}
