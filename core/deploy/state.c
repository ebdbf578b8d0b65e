/* The state journal: STATE_DIR/state.json. See docs/state.md.
 *
 * The file is outside input as far as loading goes: a bad disk or a power
 * cut during a firmware update may leave anything in it. Parsing is strict
 * (types, known keys, no duplicates, caps) and every complaint names the
 * JSON path. A file that fails is moved aside and the caller rebuilds from
 * the engine's labels. */
#include "edgeflip/state.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/log.h"
#include "edgeflip/sys/fs.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Timestamps must survive a trip through a JSON number (a double). */
#define MAX_TIME ((double)(1LL << 53))

static const char *const phase_names[] = {
        [EF_PHASE_IDLE] = "idle",     [EF_PHASE_PULL] = "pull",         [EF_PHASE_STAGE] = "stage",
        [EF_PHASE_HEALTH] = "health", [EF_PHASE_FLIP] = "flip",         [EF_PHASE_SOAK] = "soak",
        [EF_PHASE_COMMIT] = "commit", [EF_PHASE_ROLLBACK] = "rollback",
};
#define NPHASES (sizeof(phase_names) / sizeof(phase_names[0]))

const char *ef_phase_name(ef_phase p)
{
	if ((unsigned)p >= NPHASES)
		return "unknown";
	return phase_names[p];
}

/* ---- ownership ---------------------------------------------------------- */

void ef_state_init(ef_state *st)
{
	memset(st, 0, sizeof(*st));
	st->version = EF_STATE_VERSION;
}

void ef_state_service_dispose(ef_state_service *s)
{
	if (!s)
		return;
	free(s->name);
	free(s->container_id);
	free(s->spec_hash);
	free(s->image);
	free(s->slot);
	ef_strv_free(s->public_ports);
	free(s->endpoint);
	free(s->image_signer);
	memset(s, 0, sizeof(*s));
}

static int dup_opt(char **out, const char *s)
{
	*out = NULL;
	if (!s)
		return 0;
	*out = ef_strdup(s);
	return *out ? 0 : EF_ENOMEM;
}

int ef_state_service_copy(ef_state_service *dst, const ef_state_service *src)
{
	memset(dst, 0, sizeof(*dst));
	if (dup_opt(&dst->name, src->name) < 0 ||
	    dup_opt(&dst->container_id, src->container_id) < 0 ||
	    dup_opt(&dst->spec_hash, src->spec_hash) < 0 || dup_opt(&dst->image, src->image) < 0 ||
	    dup_opt(&dst->slot, src->slot) < 0 || dup_opt(&dst->endpoint, src->endpoint) < 0 ||
	    dup_opt(&dst->image_signer, src->image_signer) < 0)
		goto fail;
	if (src->public_ports) {
		dst->public_ports = ef_strv_dup(src->public_ports);
		if (!dst->public_ports)
			goto fail;
	}
	return 0;
fail:
	ef_state_service_dispose(dst);
	ef_error_set("out of memory");
	return EF_ENOMEM;
}

void ef_state_clear_services(ef_state_service **v, size_t *n)
{
	for (size_t i = 0; *v && i < *n; i++)
		ef_state_service_dispose(&(*v)[i]);
	free(*v);
	*v = NULL;
	*n = 0;
}

static void event_dispose(ef_state_event *e)
{
	free(e->result);
	free(e->reason);
	memset(e, 0, sizeof(*e));
}

static void clear_events(ef_state_event **v, size_t *n)
{
	for (size_t i = 0; *v && i < *n; i++)
		event_dispose(&(*v)[i]);
	free(*v);
	*v = NULL;
	*n = 0;
}

void ef_state_dispose(ef_state *st)
{
	if (!st)
		return;
	free(st->signer);
	ef_state_clear_services(&st->services, &st->nservices);
	free(st->target_signer);
	ef_state_clear_services(&st->staged, &st->nstaged);
	free(st->last_result);
	free(st->last_error);
	event_dispose(&st->last_rollback);
	clear_events(&st->history, &st->nhistory);
	clear_events(&st->quarantine, &st->nquarantine);
	ef_strv_free(st->refusals);
	ef_state_init(st);
}

ef_state_service *ef_state_find_service(ef_state *st, const char *name)
{
	for (size_t i = 0; i < st->nservices; i++)
		if (st->services[i].name && strcmp(st->services[i].name, name) == 0)
			return &st->services[i];
	return NULL;
}

static bool is_revision(const char *s)
{
	size_t n = strlen(s);

	if (n != 0 && n != 40 && n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* ---- history and quarantine --------------------------------------------- */

static int event_set(ef_state_event *e, const char *revision, const char *result,
                     const char *reason)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->revision, sizeof(e->revision), "%s", revision);
	if (dup_opt(&e->result, result) < 0 || dup_opt(&e->reason, reason) < 0) {
		event_dispose(e);
		ef_error_set("out of memory");
		return EF_ENOMEM;
	}
	e->at = (int64_t)time(NULL);
	return 0;
}

/* Puts `e` first in v[0..*n), dropping the oldest entries past `cap`. */
static int events_prepend(ef_state_event **v, size_t *n, ef_state_event *e, size_t cap)
{
	ef_state_event *nv;

	while (*n >= cap && *n > 0)
		event_dispose(&(*v)[--*n]);
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv) {
		event_dispose(e);
		ef_error_set("out of memory");
		return EF_ENOMEM;
	}
	memmove(nv + 1, nv, *n * sizeof(*nv));
	nv[0] = *e; /* now owned by the vector */
	memset(e, 0, sizeof(*e));
	*v = nv;
	(*n)++;
	return 0;
}

int ef_state_add_history(ef_state *st, const char *revision, const char *result, const char *reason,
                         unsigned cap)
{
	ef_state_event e;
	int error;

	if (!revision || !is_revision(revision) || !result) {
		ef_error_set("history entry: bad revision '%s' or no result",
		             revision ? revision : "(null)");
		return EF_EINVALID;
	}
	if (cap > EF_STATE_MAX_HISTORY)
		cap = EF_STATE_MAX_HISTORY;
	if (cap == 0) {
		clear_events(&st->history, &st->nhistory);
		return 0;
	}
	if ((error = event_set(&e, revision, result, reason)) < 0)
		return error;
	return events_prepend(&st->history, &st->nhistory, &e, cap);
}

int ef_state_quarantine_kind(ef_state *st, const char *revision, const char *kind)
{
	for (size_t i = 0; i < st->nquarantine; i++) {
		ef_state_event *q = &st->quarantine[i];
		char *k;

		if (strcmp(q->revision, revision) != 0)
			continue;
		if (dup_opt(&k, kind) < 0) {
			ef_error_set("out of memory");
			return EF_ENOMEM;
		}
		free(q->result);
		q->result = k;
		return 0;
	}
	return EF_ENOTFOUND;
}

int ef_state_unquarantine(ef_state *st, const char *revision, const char *kind)
{
	size_t kept = 0, removed = 0;

	for (size_t i = 0; i < st->nquarantine; i++) {
		ef_state_event *q = &st->quarantine[i];
		bool match = (!revision || strncmp(q->revision, revision, strlen(revision)) == 0) &&
		             (!kind || (q->result && strcmp(q->result, kind) == 0));

		if (match) {
			free(q->result);
			free(q->reason);
			removed++;
			continue;
		}
		st->quarantine[kept++] = *q;
	}
	st->nquarantine = kept;
	return (int)removed;
}

bool ef_state_is_quarantined(const ef_state *st, const char *revision)
{
	if (!revision || !revision[0])
		return false;
	for (size_t i = 0; i < st->nquarantine; i++)
		if (strcmp(st->quarantine[i].revision, revision) == 0)
			return true;
	return false;
}

int ef_state_quarantine(ef_state *st, const char *revision, const char *reason)
{
	ef_state_event e;
	int error;

	if (!revision || !revision[0] || !is_revision(revision)) {
		ef_error_set("cannot quarantine '%s': not a commit id",
		             revision ? revision : "(null)");
		return EF_EINVALID;
	}
	/* Once only: a second failure of the same commit refreshes the entry. */
	for (size_t i = 0; i < st->nquarantine; i++) {
		ef_state_event *q = &st->quarantine[i];
		char *r;

		if (strcmp(q->revision, revision) != 0)
			continue;
		if (dup_opt(&r, reason) < 0) {
			ef_error_set("out of memory");
			return EF_ENOMEM;
		}
		free(q->reason);
		q->reason = r;
		q->at = (int64_t)time(NULL);
		return 0;
	}
	if ((error = event_set(&e, revision, "failed", reason)) < 0)
		return error;
	return events_prepend(&st->quarantine, &st->nquarantine, &e, EF_STATE_MAX_QUARANTINE);
}

/* ---- serialization ------------------------------------------------------ */

/* The writer keeps to the reader's limits (EF_STATE_MAX_*): a journal this
 * code wrote is one it reads back. A longer string is cut at a character
 * boundary, a longer list keeps its first entries and says how many more. */
static cJSON *clipped_string(const char *s)
{
	size_t n = strlen(s);
	char *copy;
	cJSON *item;

	if (n <= EF_STATE_MAX_STRING)
		return cJSON_CreateString(s);
	n = EF_STATE_MAX_STRING;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--; /* not inside a UTF-8 sequence */
	if (!(copy = strndup(s, n)))
		return NULL;
	item = cJSON_CreateString(copy);
	free(copy);
	return item;
}

/* NULL is written as null, so that "not set" and "" survive a round trip. */
static bool add_str(cJSON *obj, const char *key, const char *s)
{
	cJSON *item;

	if (!s)
		return cJSON_AddNullToObject(obj, key) != NULL;
	if (!(item = clipped_string(s)))
		return false;
	if (!cJSON_AddItemToObject(obj, key, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}

static bool add_num(cJSON *obj, const char *key, int64_t v)
{
	return cJSON_AddNumberToObject(obj, key, (double)v) != NULL;
}

static bool add_strv(cJSON *obj, const char *key, char *const *v, size_t max)
{
	cJSON *arr = cJSON_AddArrayToObject(obj, key);
	size_t total = 0;

	if (!arr)
		return false;
	while (v && v[total])
		total++;
	for (size_t i = 0; i < total; i++) {
		char more[64];
		cJSON *s;

		if (total > max && i == max - 1) {
			snprintf(more, sizeof(more), "... and %zu more (not kept)", total - i);
			s = cJSON_CreateString(more);
			if (!s || !cJSON_AddItemToArray(arr, s)) {
				cJSON_Delete(s);
				return false;
			}
			break;
		}
		s = clipped_string(v[i]);
		if (!s || !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			return false;
		}
	}
	return true;
}

static bool add_services(cJSON *obj, const char *key, const ef_state_service *v, size_t n)
{
	cJSON *arr = cJSON_AddArrayToObject(obj, key);

	if (!arr)
		return false;
	for (size_t i = 0; i < n; i++) {
		const ef_state_service *s = &v[i];
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			return false;
		}
		if (!add_str(o, "name", s->name) || !add_str(o, "container_id", s->container_id) ||
		    !add_str(o, "spec_hash", s->spec_hash) || !add_str(o, "image", s->image) ||
		    !add_str(o, "slot", s->slot) ||
		    !add_strv(o, "public_ports", s->public_ports, EF_STATE_MAX_PORTS) ||
		    !add_str(o, "endpoint", s->endpoint) ||
		    (s->image_signer && !add_str(o, "image_signer", s->image_signer)))
			return false;
	}
	return true;
}

static bool fill_event(cJSON *o, const ef_state_event *e)
{
	return add_str(o, "revision", e->revision) && add_str(o, "result", e->result) &&
	       add_str(o, "reason", e->reason) && add_num(o, "at", e->at);
}

static bool add_events(cJSON *obj, const char *key, const ef_state_event *v, size_t n)
{
	cJSON *arr = cJSON_AddArrayToObject(obj, key);

	if (!arr)
		return false;
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			return false;
		}
		if (!fill_event(o, &v[i]))
			return false;
	}
	return true;
}

static bool deploy_unfinished(const ef_state *st)
{
	return st->phase != EF_PHASE_IDLE || st->target[0] || st->target_signer || st->nstaged;
}

static bool has_rollback(const ef_state *st)
{
	const ef_state_event *e = &st->last_rollback;

	return e->revision[0] || e->result || e->reason || e->at;
}

/* Serializes `st`, writing `last_poll` in place of st->last_poll. */
static int build_json(char **out, const ef_state *st, int64_t last_poll)
{
	cJSON *root = cJSON_CreateObject(), *o;
	bool ok = root != NULL;

	*out = NULL;
	if (st->nservices > EF_STATE_MAX_SERVICES || st->nstaged > EF_STATE_MAX_SERVICES) {
		cJSON_Delete(root);
		ef_error_set("the state lists more than %d services; not written",
		             EF_STATE_MAX_SERVICES);
		return EF_ETOOBIG;
	}
	ok = ok && add_num(root, "version", EF_STATE_VERSION);
	ok = ok && add_str(root, "revision", st->revision);
	ok = ok && add_str(root, "signer", st->signer);
	ok = ok && add_num(root, "deployed_at", st->deployed_at);
	ok = ok && add_services(root, "services", st->services, st->nservices);
	if (ok && deploy_unfinished(st)) {
		ok = (o = cJSON_AddObjectToObject(root, "deploy")) != NULL;
		ok = ok && add_str(o, "phase", ef_phase_name(st->phase));
		ok = ok && add_str(o, "target", st->target);
		ok = ok && add_str(o, "signer", st->target_signer);
		ok = ok && add_services(o, "staged", st->staged, st->nstaged);
		if (ok && st->canary.active) {
			cJSON *k = cJSON_AddObjectToObject(o, "canary");

			ok = k && add_num(k, "step", st->canary.step) &&
			     add_num(k, "steps", st->canary.steps) &&
			     add_num(k, "weight", st->canary.weight) &&
			     add_num(k, "requests", (int64_t)st->canary.requests) &&
			     add_num(k, "errors", (int64_t)st->canary.errors);
		}
	}
	ok = ok && add_str(root, "previous", st->previous);
	ok = ok && add_num(root, "last_poll", last_poll);
	ok = ok && add_str(root, "last_result", st->last_result);
	ok = ok && add_str(root, "last_error", st->last_error);
	if (ok && has_rollback(st)) {
		ok = (o = cJSON_AddObjectToObject(root, "last_rollback")) != NULL;
		ok = ok && fill_event(o, &st->last_rollback);
	}
	ok = ok && add_events(root, "history", st->history, st->nhistory);
	ok = ok && add_events(root, "quarantine", st->quarantine, st->nquarantine);
	ok = ok && add_strv(root, "refusals", st->refusals, EF_STATE_MAX_REFUSALS);
	if (ok)
		ok = (*out = cJSON_Print(root)) != NULL;
	cJSON_Delete(root);
	if (!ok) {
		ef_error_set("out of memory while serializing the state");
		return EF_ENOMEM;
	}
	return 0;
}

int ef_state_to_json(char **out, const ef_state *st)
{
	return build_json(out, st, st->last_poll);
}

bool ef_state_equal(const ef_state *a, const ef_state *b)
{
	char *ja = NULL, *jb = NULL;
	bool eq = false;

	if (build_json(&ja, a, a->last_poll) == 0 && build_json(&jb, b, b->last_poll) == 0)
		eq = strcmp(ja, jb) == 0;
	cJSON_free(ja);
	cJSON_free(jb);
	return eq;
}

/* ---- parsing ------------------------------------------------------------ */

/* JSON paths stay short: the deepest is $.deploy.staged[255].public_ports[63]. */
#define PATH_MAX_LEN 96

static int bad(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(const char *path, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ef_error_set("%s: %s", path, msg);
	return EF_EINVALID;
}

/* Looks up each member of `obj` in `keys`, refusing unknown and repeated
 * keys. `found[i]` gets the member for keys[i] or NULL. */
static int members(const cJSON **found, const cJSON *obj, const char *const *keys, size_t nkeys,
                   const char *path)
{
	const cJSON *m;

	if (!cJSON_IsObject(obj))
		return bad(path, "expected an object");
	for (size_t i = 0; i < nkeys; i++)
		found[i] = NULL;
	cJSON_ArrayForEach(m, obj)
	{
		size_t i;

		for (i = 0; i < nkeys; i++)
			if (strcmp(m->string, keys[i]) == 0)
				break;
		if (i == nkeys)
			return bad(path, "unknown key \"%.64s\"", m->string);
		if (found[i])
			return bad(path, "duplicate key \"%s\"", keys[i]);
		found[i] = m;
	}
	return 0;
}

/* out = path.key or path[i]; a path that would not fit is cut short (it
 * cannot happen within the caps, and a message is all it is used for). */
static void sub(char *out, const char *path, const char *key)
{
	if (snprintf(out, PATH_MAX_LEN, "%s.%s", path, key) >= PATH_MAX_LEN)
		out[PATH_MAX_LEN - 1] = '\0';
}

static void idx(char *out, const char *path, size_t i)
{
	if (snprintf(out, PATH_MAX_LEN, "%s[%zu]", path, i) >= PATH_MAX_LEN)
		out[PATH_MAX_LEN - 1] = '\0';
}

/* A string member (absent or null: NULL). */
static int get_string(char **out, const cJSON *item, const char *path)
{
	size_t n;

	*out = NULL;
	if (!item || cJSON_IsNull(item))
		return 0;
	if (!cJSON_IsString(item) || !item->valuestring)
		return bad(path, "expected a string or null");
	n = strlen(item->valuestring);
	if (n > EF_STATE_MAX_STRING)
		return bad(path, "longer than %d bytes", EF_STATE_MAX_STRING);
	*out = ef_strdup(item->valuestring);
	if (!*out) {
		ef_error_set("out of memory");
		return EF_ENOMEM;
	}
	return 0;
}

static int get_revision(char out[EF_OID_HEX], const cJSON *item, const char *path)
{
	out[0] = '\0';
	if (!item)
		return 0;
	if (!cJSON_IsString(item) || !item->valuestring)
		return bad(path, "expected a string");
	if (!is_revision(item->valuestring))
		return bad(path, "expected a commit id (40 or 64 lowercase hex digits) or \"\"");
	snprintf(out, EF_OID_HEX, "%s", item->valuestring);
	return 0;
}

static int get_time(int64_t *out, const cJSON *item, const char *path)
{
	double v;

	*out = 0;
	if (!item)
		return 0;
	if (!cJSON_IsNumber(item))
		return bad(path, "expected a number");
	v = item->valuedouble;
	if (!isfinite(v) || v < 0 || v > MAX_TIME || v != floor(v))
		return bad(path, "expected a whole number of seconds from 0 to 2^53");
	*out = (int64_t)v;
	return 0;
}

static int get_array(const cJSON *item, size_t max, const char *path)
{
	int n;

	if (!cJSON_IsArray(item))
		return bad(path, "expected an array");
	n = cJSON_GetArraySize(item);
	if (n < 0 || (size_t)n > max)
		return bad(path, "more than %zu entries", max);
	return n;
}

static int get_strv(char ***out, const cJSON *item, size_t max, const char *path)
{
	char p[PATH_MAX_LEN];
	const cJSON *e;
	size_t i = 0;
	int n;

	*out = NULL;
	if (!item)
		return 0;
	if ((n = get_array(item, max, path)) < 0)
		return n;
	cJSON_ArrayForEach(e, item)
	{
		char *s;
		int error;

		idx(p, path, i++);
		if (!cJSON_IsString(e))
			return bad(p, "expected a string");
		if ((error = get_string(&s, e, p)) < 0)
			return error;
		if (ef_strv_push_owned(out, s) < 0) {
			ef_error_set("out of memory");
			return EF_ENOMEM;
		}
	}
	return 0;
}

static const char *const service_keys[] = {
        "name", "container_id", "spec_hash", "image",
        "slot", "public_ports", "endpoint",  "image_signer",
};
enum { SV_NAME, SV_CONTAINER, SV_SPEC, SV_IMAGE, SV_SLOT, SV_PORTS, SV_ENDPOINT, SV_SIGNER, SV_N };

static int parse_service(ef_state_service *s, const cJSON *obj, const char *path)
{
	const cJSON *m[SV_N];
	char p[PATH_MAX_LEN];
	int error;

	if ((error = members(m, obj, service_keys, SV_N, path)) < 0)
		return error;
	if (!m[SV_NAME])
		return bad(path, "missing key \"name\"");
	sub(p, path, "name");
	if (!cJSON_IsString(m[SV_NAME]))
		return bad(p, "expected a string");
	if ((error = get_string(&s->name, m[SV_NAME], p)) < 0)
		return error;
	if (!s->name[0])
		return bad(p, "must not be empty");
	sub(p, path, "container_id");
	if ((error = get_string(&s->container_id, m[SV_CONTAINER], p)) < 0)
		return error;
	sub(p, path, "spec_hash");
	if ((error = get_string(&s->spec_hash, m[SV_SPEC], p)) < 0)
		return error;
	sub(p, path, "image");
	if ((error = get_string(&s->image, m[SV_IMAGE], p)) < 0)
		return error;
	sub(p, path, "slot");
	if ((error = get_string(&s->slot, m[SV_SLOT], p)) < 0)
		return error;
	if (s->slot && s->slot[0] && strcmp(s->slot, "blue") != 0 && strcmp(s->slot, "green") != 0)
		return bad(p, "expected \"blue\" or \"green\"");
	sub(p, path, "public_ports");
	if ((error = get_strv(&s->public_ports, m[SV_PORTS], EF_STATE_MAX_PORTS, p)) < 0)
		return error;
	sub(p, path, "endpoint");
	if ((error = get_string(&s->endpoint, m[SV_ENDPOINT], p)) < 0)
		return error;
	sub(p, path, "image_signer"); /* optional: journals before it lack it */
	return get_string(&s->image_signer, m[SV_SIGNER], p);
}

static int parse_services(ef_state_service **out, size_t *nout, const cJSON *item, const char *path)
{
	char p[PATH_MAX_LEN];
	const cJSON *e;
	int n, error;

	if (!item)
		return 0;
	if ((n = get_array(item, EF_STATE_MAX_SERVICES, path)) <= 0)
		return n;
	*out = calloc((size_t)n, sizeof(**out));
	if (!*out) {
		ef_error_set("out of memory");
		return EF_ENOMEM;
	}
	cJSON_ArrayForEach(e, item)
	{
		ef_state_service *s = &(*out)[*nout];

		idx(p, path, *nout);
		(*nout)++; /* counted before parsing so that dispose frees it */
		if ((error = parse_service(s, e, p)) < 0)
			return error;
		for (size_t j = 0; j + 1 < *nout; j++)
			if (strcmp((*out)[j].name, s->name) == 0)
				return bad(p, "service \"%s\" appears twice", s->name);
	}
	return 0;
}

static const char *const event_keys[] = {"revision", "result", "reason", "at"};
enum { EV_REVISION, EV_RESULT, EV_REASON, EV_AT, EV_N };

static int parse_event(ef_state_event *ev, const cJSON *obj, const char *path)
{
	const cJSON *m[EV_N];
	char p[PATH_MAX_LEN];
	int error;

	if ((error = members(m, obj, event_keys, EV_N, path)) < 0)
		return error;
	sub(p, path, "revision");
	if ((error = get_revision(ev->revision, m[EV_REVISION], p)) < 0)
		return error;
	sub(p, path, "result");
	if ((error = get_string(&ev->result, m[EV_RESULT], p)) < 0)
		return error;
	sub(p, path, "reason");
	if ((error = get_string(&ev->reason, m[EV_REASON], p)) < 0)
		return error;
	sub(p, path, "at");
	return get_time(&ev->at, m[EV_AT], p);
}

static int parse_events(ef_state_event **out, size_t *nout, const cJSON *item, size_t max,
                        const char *path)
{
	char p[PATH_MAX_LEN];
	const cJSON *e;
	int n, error;

	if (!item)
		return 0;
	if ((n = get_array(item, max, path)) <= 0)
		return n;
	*out = calloc((size_t)n, sizeof(**out));
	if (!*out) {
		ef_error_set("out of memory");
		return EF_ENOMEM;
	}
	cJSON_ArrayForEach(e, item)
	{
		idx(p, path, *nout);
		(*nout)++;
		if ((error = parse_event(&(*out)[*nout - 1], e, p)) < 0)
			return error;
	}
	return 0;
}

static const char *const deploy_keys[] = {"phase", "target", "signer", "staged", "canary"};
enum { DP_PHASE, DP_TARGET, DP_SIGNER, DP_STAGED, DP_CANARY, DP_N };

static const char *const canary_keys[] = {"step", "steps", "weight", "requests", "errors"};
enum { CN_STEP, CN_STEPS, CN_WEIGHT, CN_REQUESTS, CN_ERRORS, CN_N };

static int parse_canary(ef_state_canary *k, const cJSON *obj)
{
	static const double max[CN_N] = {100, 100, 100, 9007199254740991.0, 9007199254740991.0};
	const cJSON *m[CN_N];
	double v[CN_N];
	int error;

	if (!obj)
		return 0;
	if ((error = members(m, obj, canary_keys, CN_N, "$.deploy.canary")) < 0)
		return error;
	for (size_t i = 0; i < CN_N; i++) {
		if (!m[i] || !cJSON_IsNumber(m[i]) || !isfinite(m[i]->valuedouble) ||
		    m[i]->valuedouble < 0 || m[i]->valuedouble > max[i] ||
		    m[i]->valuedouble != floor(m[i]->valuedouble))
			return bad("$.deploy.canary", "%s: expected a whole number from 0 to %.0f",
			           canary_keys[i], max[i]);
		v[i] = m[i]->valuedouble;
	}
	k->active = true;
	k->step = (unsigned)v[CN_STEP];
	k->steps = (unsigned)v[CN_STEPS];
	k->weight = (unsigned)v[CN_WEIGHT];
	k->requests = (uint64_t)v[CN_REQUESTS];
	k->errors = (uint64_t)v[CN_ERRORS];
	return 0;
}

static int parse_deploy(ef_state *st, const cJSON *obj)
{
	const cJSON *m[DP_N];
	int error;

	if (!obj)
		return 0;
	if ((error = members(m, obj, deploy_keys, DP_N, "$.deploy")) < 0)
		return error;
	if (m[DP_PHASE]) {
		size_t i;

		if (!cJSON_IsString(m[DP_PHASE]) || !m[DP_PHASE]->valuestring)
			return bad("$.deploy.phase", "expected a string");
		for (i = 0; i < NPHASES; i++)
			if (strcmp(m[DP_PHASE]->valuestring, phase_names[i]) == 0)
				break;
		if (i == NPHASES)
			return bad("$.deploy.phase", "unknown phase \"%.32s\"",
			           m[DP_PHASE]->valuestring);
		st->phase = (ef_phase)i;
	}
	if ((error = get_revision(st->target, m[DP_TARGET], "$.deploy.target")) < 0)
		return error;
	if ((error = get_string(&st->target_signer, m[DP_SIGNER], "$.deploy.signer")) < 0)
		return error;
	if ((error = parse_canary(&st->canary, m[DP_CANARY])) < 0)
		return error;
	return parse_services(&st->staged, &st->nstaged, m[DP_STAGED], "$.deploy.staged");
}

static const char *const top_keys[] = {
        "version",       "revision", "signer",     "deployed_at", "services",
        "deploy",        "previous", "last_poll",  "last_result", "last_error",
        "last_rollback", "history",  "quarantine", "refusals",
};
enum {
	TK_VERSION,
	TK_REVISION,
	TK_SIGNER,
	TK_DEPLOYED_AT,
	TK_SERVICES,
	TK_DEPLOY,
	TK_PREVIOUS,
	TK_LAST_POLL,
	TK_LAST_RESULT,
	TK_LAST_ERROR,
	TK_LAST_ROLLBACK,
	TK_HISTORY,
	TK_QUARANTINE,
	TK_REFUSALS,
	TK_N
};

static int parse_root(ef_state *st, const cJSON *root)
{
	const cJSON *m[TK_N];
	double v;
	int error;

	if ((error = members(m, root, top_keys, TK_N, "$")) < 0)
		return error;
	if (!m[TK_VERSION])
		return bad("$", "missing key \"version\"");
	if (!cJSON_IsNumber(m[TK_VERSION]))
		return bad("$.version", "expected a number");
	v = m[TK_VERSION]->valuedouble;
	if (v != EF_STATE_VERSION)
		return bad("$.version", "unsupported version %.6g (this edgeflip reads version %d)",
		           v, EF_STATE_VERSION);
	if ((error = get_revision(st->revision, m[TK_REVISION], "$.revision")) < 0 ||
	    (error = get_string(&st->signer, m[TK_SIGNER], "$.signer")) < 0 ||
	    (error = get_time(&st->deployed_at, m[TK_DEPLOYED_AT], "$.deployed_at")) < 0 ||
	    (error = parse_services(&st->services, &st->nservices, m[TK_SERVICES], "$.services")) <
	            0 ||
	    (error = parse_deploy(st, m[TK_DEPLOY])) < 0 ||
	    (error = get_revision(st->previous, m[TK_PREVIOUS], "$.previous")) < 0 ||
	    (error = get_time(&st->last_poll, m[TK_LAST_POLL], "$.last_poll")) < 0 ||
	    (error = get_string(&st->last_result, m[TK_LAST_RESULT], "$.last_result")) < 0 ||
	    (error = get_string(&st->last_error, m[TK_LAST_ERROR], "$.last_error")) < 0)
		return error;
	if (m[TK_LAST_ROLLBACK] &&
	    (error = parse_event(&st->last_rollback, m[TK_LAST_ROLLBACK], "$.last_rollback")) < 0)
		return error;
	if ((error = parse_events(&st->history, &st->nhistory, m[TK_HISTORY], EF_STATE_MAX_HISTORY,
	                          "$.history")) < 0 ||
	    (error = parse_events(&st->quarantine, &st->nquarantine, m[TK_QUARANTINE],
	                          EF_STATE_MAX_QUARANTINE, "$.quarantine")) < 0 ||
	    (error = get_strv(&st->refusals, m[TK_REFUSALS], EF_STATE_MAX_REFUSALS, "$.refusals")) <
	            0)
		return error;
	for (size_t i = 0; i < st->nquarantine; i++)
		if (!st->quarantine[i].revision[0])
			return bad("$.quarantine", "entry %zu has no revision", i);
	return 0;
}

int ef_state_from_json(ef_state *st, const char *json, size_t len)
{
	const char *end = NULL, *nul;
	cJSON *root;
	int error;

	ef_state_init(st);
	if (len > EF_STATE_MAX_BYTES)
		return bad("$", "larger than %d bytes", EF_STATE_MAX_BYTES);
	if (len == 0)
		return bad("$", "empty file");
	/* JSON text has no NUL bytes; a power cut on some file systems leaves
	 * blocks of them. */
	if ((nul = memchr(json, '\0', len)) != NULL)
		return bad("$", "NUL byte at offset %zu (a torn write?)", (size_t)(nul - json));
	root = cJSON_ParseWithLengthOpts(json, len, &end, false);
	if (!root) {
		size_t at = end && end >= json && end <= json + len ? (size_t)(end - json) : 0;
		return bad("$", "not valid JSON (truncated or damaged near byte %zu)", at);
	}
	/* Only white space may follow the value. */
	for (; end && end < json + len; end++) {
		if (*end != ' ' && *end != '\n' && *end != '\r' && *end != '\t') {
			cJSON_Delete(root);
			return bad("$", "unexpected data after the JSON value at byte %zu",
			           (size_t)(end - json));
		}
	}
	error = parse_root(st, root);
	cJSON_Delete(root);
	if (error < 0)
		ef_state_dispose(st);
	return error;
}

/* ---- files -------------------------------------------------------------- */

static int state_path(char *out, size_t n, const char *state_dir)
{
	if ((size_t)snprintf(out, n, "%s/%s", state_dir, EF_STATE_FILE) >= n) {
		ef_error_set("state directory path too long: %s", state_dir);
		return EF_EINVALID;
	}
	return 0;
}

int ef_state_load(ef_state *st, const char *state_dir)
{
	char path[PATH_MAX], kept[PATH_MAX + 32], why[1024];
	ef_buf data;
	int error;

	ef_state_init(st);
	if ((error = state_path(path, sizeof(path), state_dir)) < 0)
		return error;
	error = ef_read_file(&data, path, EF_STATE_MAX_BYTES);
	if (error == EF_ENOTFOUND) {
		ef_error_clear();
		return 0;
	}
	if (error == EF_ETOOBIG) {
		snprintf(why, sizeof(why), "$: larger than %d bytes", EF_STATE_MAX_BYTES);
	} else if (error < 0) {
		return error; /* cannot read: leave the file for a person to look at */
	} else {
		error = ef_state_from_json(st, data.ptr, data.len);
		ef_buf_dispose(&data);
		if (error == 0)
			return 0;
		if (error != EF_EINVALID)
			return error;
		snprintf(why, sizeof(why), "%s", ef_error_last());
	}
	ef_state_init(st);
	if (ef_fs_set_aside(kept, sizeof(kept), path) < 0) {
		ef_warn("state-corrupt", "file=%s error=\"%s\" set_aside_error=\"%s\"", path, why,
		        ef_error_last());
		ef_error_set("%s: %s; could not move it aside; rebuilding from the engine's labels",
		             path, why);
		return EF_EINVALID;
	}
	ef_warn("state-corrupt", "file=%s kept=%s error=\"%s\" action=rebuild-from-labels", path,
	        kept, why);
	ef_error_set("%s: %s; kept as %s; rebuilding from the engine's labels", path, why, kept);
	return EF_EINVALID;
}

/* True when the journal on disk already says what `st` says, last_poll
 * aside. A file that cannot be read or parsed is never "the same". */
static bool unchanged_on_disk(const char *path, const char *want)
{
	ef_state old;
	ef_buf data;
	char *have = NULL;
	bool same = false;

	if (ef_read_file(&data, path, EF_STATE_MAX_BYTES) < 0)
		return false;
	if (ef_state_from_json(&old, data.ptr, data.len) == 0 && build_json(&have, &old, 0) == 0)
		same = strcmp(have, want) == 0;
	cJSON_free(have);
	ef_state_dispose(&old);
	ef_buf_dispose(&data);
	return same;
}

int ef_state_save(const ef_state *st, const char *state_dir)
{
	char path[PATH_MAX];
	char *cmp = NULL, *text = NULL;
	int error;

	if ((error = state_path(path, sizeof(path), state_dir)) < 0)
		return error;
	/* Compare without last_poll: a poll that changed nothing else must not
	 * write (no flash wear, no fsync per poll). */
	if ((error = build_json(&cmp, st, 0)) < 0)
		return error;
	if (unchanged_on_disk(path, cmp)) {
		ef_trace("state-unchanged", "file=%s", path);
		goto out;
	}
	if ((error = build_json(&text, st, st->last_poll)) < 0)
		goto out;
	if (strlen(text) > EF_STATE_MAX_BYTES) {
		ef_error_set("%s: the state is larger than %d bytes; not written", path,
		             EF_STATE_MAX_BYTES);
		error = EF_ETOOBIG;
		goto out;
	}
	if ((error = ef_fs_mkdir_p(state_dir, 0700)) < 0)
		goto out;
	if ((error = ef_fs_write_atomic(path, text, strlen(text))) < 0)
		goto out;
	ef_debug("state-saved", "file=%s revision=%s phase=%s", path,
	         st->revision[0] ? st->revision : "-", ef_phase_name(st->phase));
out:
	cJSON_free(cmp);
	cJSON_free(text);
	return error;
}
