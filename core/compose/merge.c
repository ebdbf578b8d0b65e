/* Merging an override file into the base, with the rules of the Compose
 * specification (merge.md) as compose-go's override package applies them:
 * mappings merge by key, sequences append, scalars are replaced; `command`,
 * `entrypoint` and `healthcheck.test` are replaced whole; `environment`,
 * `labels` and the like merge by variable name; `ports`, `volumes`,
 * `secrets`, `expose`... keep one entry per target (the later wins, in the
 * earlier's place). `!reset` removes a key, `!override` replaces it whole.
 * Nodes move from the override into the base, so their
 * positions stay right; nodes made here get the position of what they came
 * from. */
#include "edgeflip/compose_read.h"
#include "edgeflip/error.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	ef_compose_pos *pos;
	const char *file;
	ef_findings *findings;
	const char *seg[EF_COMPOSE_MAX_DEPTH + 4];
	int nseg;
	int error;
} mctx;

/* Does the path so far match "services.*.ports"? */
static bool at(const mctx *c, const char *pattern)
{
	const char *p = pattern;
	int i = 0;

	for (; *p && i < c->nseg; i++) {
		size_t n = strcspn(p, ".");
		if (!(n == 1 && *p == '*') && (strlen(c->seg[i]) != n || strncmp(c->seg[i], p, n)))
			return false;
		p += n;
		if (*p == '.')
			p++;
	}
	return !*p && i == c->nseg;
}

static const char *const replaced[] = {"services.*.command", "services.*.entrypoint",
                                       "services.*.healthcheck.test", "services.*.ulimits.*", NULL};
/* Mappings of names to values, or lists of "NAME=value". */
static const char *const keyed[] = {"services.*.environment",
                                    "services.*.labels",
                                    "services.*.annotations",
                                    "services.*.sysctls",
                                    "services.*.build.args",
                                    "services.*.build.labels",
                                    "services.*.deploy.labels",
                                    "networks.*.labels",
                                    "volumes.*.labels",
                                    "services.*.build.additional_contexts",
                                    NULL};
/* Lists, or a string for a list of one. */
static const char *const listy[] = {"services.*.dns",        "services.*.dns_opt",
                                    "services.*.dns_search", "services.*.env_file",
                                    "services.*.tmpfs",      NULL};
/* Lists where one entry per key stays (uncity.go). */
static const char *const unique[] = {"services.*.ports",      "services.*.volumes",
                                     "services.*.devices",    "services.*.expose",
                                     "services.*.secrets",    "services.*.configs",
                                     "services.*.cap_add",    "services.*.cap_drop",
                                     "services.*.profiles",   "services.*.links",
                                     "services.*.dns",        "services.*.dns_opt",
                                     "services.*.dns_search", "services.*.env_file",
                                     "services.*.tmpfs",      "services.*.networks.*.aliases",
                                     "services.*.build.tags", NULL};

static bool at_any(const mctx *c, const char *const *patterns)
{
	for (; *patterns; patterns++)
		if (at(c, *patterns))
			return true;
	return false;
}

static void path_of(const mctx *c, char *buf, size_t size)
{
	size_t n = (size_t)snprintf(buf, size, "$");
	for (int i = 0; i < c->nseg && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, ".%s", c->seg[i]);
}

static int fail(mctx *c, const cJSON *n, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int fail(mctx *c, const cJSON *n, const char *fmt, ...)
{
	char path[1024], msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	path_of(c, path, sizeof(path));
	ef_findings_at(c->findings, c->pos, n, c->file, path, msg, !c->error);
	c->error = EF_EINVALID;
	return EF_EINVALID;
}

static int oom(mctx *c)
{
	ef_error_set("out of memory");
	c->error = EF_ENOMEM;
	return EF_ENOMEM;
}

static void same_pos(mctx *c, const cJSON *made, const cJSON *from)
{
	const char *file;
	unsigned line, col;

	if (c->pos && ef_compose_pos_find(c->pos, from, &file, &line, &col) == 0)
		ef_compose_pos_add(c->pos, made, file, line, col);
}

static const char *kind(const cJSON *n)
{
	return cJSON_IsObject(n)  ? "a mapping"
	       : cJSON_IsArray(n) ? "a list"
	       : cJSON_IsNull(n)  ? "null"
	                          : "a value";
}

/* A value as Go's %v prints it. */
static int scalar_text(char *buf, size_t size, const cJSON *v)
{
	if (cJSON_IsString(v))
		return snprintf(buf, size, "%s", v->valuestring);
	if (cJSON_IsBool(v))
		return snprintf(buf, size, "%s", cJSON_IsTrue(v) ? "true" : "false");
	if (cJSON_IsNumber(v))
		return snprintf(buf, size, "%.17g", v->valuedouble);
	return snprintf(buf, size, "%s", "");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp((*(cJSON *const *)a)->valuestring, (*(cJSON *const *)b)->valuestring);
}

static cJSON *add_string(mctx *c, cJSON *arr, const char *k, const cJSON *v, const cJSON *from)
{
	char buf[4096];
	cJSON *s;

	if (v && !cJSON_IsNull(v)) {
		char val[4000];
		scalar_text(val, sizeof(val), v);
		snprintf(buf, sizeof(buf), "%s=%s", k, val);
	} else {
		snprintf(buf, sizeof(buf), "%s", k);
	}
	if (!(s = cJSON_CreateString(buf)))
		return NULL;
	cJSON_AddItemToArray(arr, s);
	same_pos(c, s, v ? v : from);
	return s;
}

/* convertIntoSequence: a mapping becomes sorted "k=v" strings, a string a
 * list of one. Consumes `n` (returns it when already a list). */
static cJSON *to_seq(mctx *c, cJSON *n)
{
	cJSON *arr;

	if (cJSON_IsArray(n))
		return n;
	if (!(arr = cJSON_CreateArray()))
		goto out;
	same_pos(c, arr, n);
	if (cJSON_IsObject(n)) {
		size_t count = 0, i = 0;
		cJSON **v;
		for (cJSON *e = n->child; e; e = e->next) {
			if (cJSON_IsArray(e)) {
				for (cJSON *x = e->child; x; x = x->next)
					if (!add_string(c, arr, e->string, x, n))
						goto fail;
			} else if (!add_string(c, arr, e->string, e, n)) {
				goto fail;
			}
		}
		count = (size_t)cJSON_GetArraySize(arr);
		if (count > 1 && (v = malloc(count * sizeof(*v)))) {
			while (arr->child)
				v[i++] = cJSON_DetachItemViaPointer(arr, arr->child);
			qsort(v, count, sizeof(*v), cmp_str);
			for (i = 0; i < count; i++)
				cJSON_AddItemToArray(arr, v[i]);
			free(v);
		}
	} else if (!cJSON_IsNull(n)) {
		cJSON_AddItemToArray(arr, n);
		return arr;
	}
out:
	cJSON_Delete(n);
	if (!arr)
		oom(c);
	return arr;
fail:
	cJSON_Delete(arr);
	arr = NULL;
	goto out;
}

/* convertIntoMapping: a list of names becomes {name: default}. Consumes `n`. */
static cJSON *to_map(mctx *c, cJSON *n, bool depends_on)
{
	cJSON *obj;

	if (!cJSON_IsArray(n))
		return n;
	if (!(obj = cJSON_CreateObject())) {
		cJSON_Delete(n);
		oom(c);
		return NULL;
	}
	same_pos(c, obj, n);
	for (cJSON *e = n->child; e; e = e->next) {
		cJSON *v;
		if (!cJSON_IsString(e))
			continue; /* the model reports it */
		if (depends_on) {
			v = cJSON_CreateObject();
			if (v) {
				cJSON_AddStringToObject(v, "condition", "service_started");
				cJSON_AddBoolToObject(v, "required", 1);
			}
		} else {
			v = cJSON_CreateNull();
		}
		if (!v) {
			cJSON_Delete(obj);
			cJSON_Delete(n);
			oom(c);
			return NULL;
		}
		same_pos(c, v, e);
		for (cJSON *x = v->child; x; x = x->next)
			same_pos(c, x, e);
		cJSON_AddItemToObject(obj, e->valuestring, v);
	}
	cJSON_Delete(n);
	return obj;
}

/* ---------------------------------------------------------------------------
 * One entry per key */

static void target_of_short(char *buf, size_t size, const char *s, int field)
{
	char tmp[4096];
	char *part, *save = NULL;
	int i = 0;

	snprintf(tmp, sizeof(tmp), "%s", s);
	snprintf(buf, size, "%s", s);
	for (part = strtok_r(tmp, ":", &save); part; part = strtok_r(NULL, ":", &save), i++)
		if (i == field)
			snprintf(buf, size, "%s", part);
}

static void key_of(const mctx *c, char *buf, size_t size, const cJSON *e)
{
	const char *last = c->nseg ? c->seg[c->nseg - 1] : "";
	const cJSON *t;

	buf[0] = '\0';
	if (!strcmp(last, "ports") && cJSON_IsObject(e)) {
		char tgt[64] = "", pub[128] = "", host[128] = "0.0.0.0", proto[32] = "tcp";
		if ((t = cJSON_GetObjectItemCaseSensitive(e, "target")))
			scalar_text(tgt, sizeof(tgt), t);
		if ((t = cJSON_GetObjectItemCaseSensitive(e, "published")))
			scalar_text(pub, sizeof(pub), t);
		if ((t = cJSON_GetObjectItemCaseSensitive(e, "host_ip")))
			scalar_text(host, sizeof(host), t);
		if ((t = cJSON_GetObjectItemCaseSensitive(e, "protocol")))
			scalar_text(proto, sizeof(proto), t);
		snprintf(buf, size, "%s:%s:%s/%s", host, pub, tgt, proto);
	} else if ((!strcmp(last, "volumes") || !strcmp(last, "devices")) && cJSON_IsObject(e)) {
		if ((t = cJSON_GetObjectItemCaseSensitive(e, "target")))
			scalar_text(buf, size, t);
	} else if ((!strcmp(last, "volumes") || !strcmp(last, "devices")) && cJSON_IsString(e)) {
		target_of_short(buf, size, e->valuestring, 1);
	} else if ((!strcmp(last, "secrets") || !strcmp(last, "configs")) && cJSON_IsObject(e)) {
		if ((t = cJSON_GetObjectItemCaseSensitive(e, "target")))
			scalar_text(buf, size, t);
		else if ((t = cJSON_GetObjectItemCaseSensitive(e, "source")))
			snprintf(buf, size, "%s/%s", !strcmp(last, "secrets") ? "/run/secrets" : "",
			         cJSON_IsString(t) ? t->valuestring : "");
	} else if ((!strcmp(last, "secrets") || !strcmp(last, "configs")) && cJSON_IsString(e)) {
		snprintf(buf, size, "%s/%s", !strcmp(last, "secrets") ? "/run/secrets" : "",
		         e->valuestring);
	} else if (!strcmp(last, "env_file") && cJSON_IsObject(e)) {
		if ((t = cJSON_GetObjectItemCaseSensitive(e, "path")))
			scalar_text(buf, size, t);
	} else if (cJSON_IsString(e) && strcmp(last, "ports") && strcmp(last, "expose") &&
	           strcmp(last, "volumes") && strcmp(last, "devices")) {
		snprintf(buf, size, "%s", e->valuestring);
		buf[strcspn(buf, "=")] = '\0'; /* NAME=value: the name */
	} else {
		scalar_text(buf, size, e);
	}
}

static int enforce_unique(mctx *c, cJSON *arr)
{
	for (cJSON *e = arr->child; e; e = e->next) {
		char ke[4096];
		cJSON *l, *next;
		key_of(c, ke, sizeof(ke), e);
		if (!ke[0])
			continue;
		for (l = e->next; l; l = next) {
			char kl[4096];
			next = l->next;
			key_of(c, kl, sizeof(kl), l);
			if (strcmp(ke, kl) != 0)
				continue;
			/* The later entry, in the earlier's place. */
			cJSON_DetachItemViaPointer(arr, l);
			cJSON_ReplaceItemViaPointer(arr, e, l);
			e = l;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * The merge */

static int merge_map(mctx *c, cJSON *base, cJSON *over);

static int append(mctx *c, cJSON *b, cJSON *o, bool no_repeat)
{
	while (o->child) {
		cJSON *e = cJSON_DetachItemViaPointer(o, o->child);
		bool seen = false;
		for (cJSON *x = b->child; no_repeat && x && !seen; x = x->next)
			seen = cJSON_Compare(x, e, true);
		if (seen)
			cJSON_Delete(e);
		else
			cJSON_AddItemToArray(b, e);
	}
	cJSON_Delete(o);
	return 0;
}

/* {context: s}; consumes s. */
static cJSON *as_context(mctx *c, cJSON *s, const cJSON *from)
{
	cJSON *m = cJSON_CreateObject();

	if (!m) {
		cJSON_Delete(s);
		return NULL;
	}
	same_pos(c, m, from);
	cJSON_AddItemToObject(m, "context", s);
	return m;
}

/* Merges `o` (owned) over `b` (in the tree). `*res` is what takes b's place:
 * b itself, o, or a node made here; o is freed when it is not *res. */
static int merge_value(mctx *c, cJSON **res, cJSON *b, cJSON *o)
{
	bool keyed_here = at_any(c, keyed), listy_here = at_any(c, listy);
	int error = 0;

	*res = b;
	if (at_any(c, replaced)) {
		*res = o;
		return 0;
	}
	if (keyed_here && cJSON_IsObject(b) && cJSON_IsObject(o)) {
		/* Both mappings: by name, the override's value. */
		return merge_map(c, b, o);
	}
	if (keyed_here || listy_here || at(c, "services.*.extra_hosts")) {
		cJSON *sb = NULL, *so = NULL;
		/* b is in the tree: work on a detached copy of it. */
		cJSON *bd = cJSON_Duplicate(b, true);
		if (!bd)
			goto oom;
		/* positions: a duplicate loses them; the entries keep their text */
		for (cJSON *x = b->child, *y = bd->child; x && y; x = x->next, y = y->next)
			same_pos(c, y, x);
		same_pos(c, bd, b);
		if (!(sb = to_seq(c, bd)) || !(so = to_seq(c, o))) {
			cJSON_Delete(sb);
			return c->error;
		}
		append(c, sb, so, at(c, "services.*.extra_hosts"));
		if (keyed_here || at_any(c, unique))
			enforce_unique(c, sb);
		*res = sb;
		return 0;
	}
	if (at(c, "services.*.depends_on") || at(c, "services.*.networks")) {
		bool dep = at(c, "services.*.depends_on");
		cJSON *mb = cJSON_Duplicate(b, true), *mo;
		if (!mb)
			goto oom;
		same_pos(c, mb, b);
		for (cJSON *x = b->child, *y = mb->child; x && y; x = x->next, y = y->next)
			same_pos(c, y, x);
		if (!(mb = to_map(c, mb, dep)) || !(mo = to_map(c, o, dep))) {
			cJSON_Delete(mb);
			return c->error;
		}
		if (!cJSON_IsObject(mb) || !cJSON_IsObject(mo)) {
			cJSON_Delete(mb);
			*res = mo;
			return 0;
		}
		error = merge_map(c, mb, mo);
		*res = mb;
		return error;
	}
	if (at(c, "services.*.logging") && cJSON_IsObject(b) && cJSON_IsObject(o)) {
		cJSON *db = cJSON_GetObjectItemCaseSensitive(b, "driver");
		cJSON *dov = cJSON_GetObjectItemCaseSensitive(o, "driver");
		if (db && dov && !cJSON_Compare(db, dov, true)) {
			*res = o;
			return 0;
		}
	}
	if (at(c, "services.*.build") && (cJSON_IsString(b) || cJSON_IsString(o))) {
		/* build: DIR is build: {context: DIR} */
		cJSON *mb = b;
		if (cJSON_IsString(o) && !(o = as_context(c, o, o)))
			return oom(c);
		if (cJSON_IsString(b)) {
			cJSON *d = cJSON_Duplicate(b, false);
			if (d)
				same_pos(c, d, b);
			if (!d || !(mb = as_context(c, d, b))) {
				cJSON_Delete(o);
				return oom(c);
			}
		}
		if (!cJSON_IsObject(mb) || !cJSON_IsObject(o)) {
			if (mb != b)
				cJSON_Delete(mb);
			*res = o;
			return 0;
		}
		*res = mb;
		return merge_map(c, mb, o);
	}
	if (cJSON_IsNull(o)) {
		cJSON_Delete(o);
		return 0;
	}
	if (cJSON_IsObject(b)) {
		if (!cJSON_IsObject(o)) {
			error = fail(c, o,
			             "the override has %s where the base has a mapping; write a "
			             "mapping to merge, or change the base",
			             kind(o));
			cJSON_Delete(o);
			return error;
		}
		return merge_map(c, b, o);
	}
	if (cJSON_IsArray(b)) {
		if (!cJSON_IsArray(o)) {
			error = fail(c, o,
			             "the override has %s where the base has a list; write a "
			             "list (its entries are added to the base's)",
			             kind(o));
			cJSON_Delete(o);
			return error;
		}
		append(c, b, o, false);
		if (at_any(c, unique))
			enforce_unique(c, b);
		return 0;
	}
	*res = o;
	return 0;
oom:
	cJSON_Delete(o);
	return oom(c);
}

static unsigned tag_of(const mctx *c, const cJSON *n)
{
	return c->pos ? ef_compose_pos_tag(c->pos, n) : 0;
}

/* What an override adds where the base has nothing: without its `!reset`
 * entries (nothing to reset). */
static void strip_resets(mctx *c, cJSON *n)
{
	cJSON *e, *next;

	if (!cJSON_IsObject(n) && !cJSON_IsArray(n))
		return;
	for (e = n->child; e; e = next) {
		next = e->next;
		if (tag_of(c, e) == EF_COMPOSE_TAG_RESET)
			cJSON_Delete(cJSON_DetachItemViaPointer(n, e));
		else
			strip_resets(c, e);
	}
}

static int merge_map(mctx *c, cJSON *base, cJSON *over)
{
	int error = 0;

	if (c->nseg >= EF_COMPOSE_MAX_DEPTH + 2) {
		cJSON_Delete(over);
		return fail(c, base, "nesting too deep to merge");
	}
	while (over->child && error != EF_ENOMEM) {
		cJSON *o = cJSON_DetachItemViaPointer(over, over->child);
		cJSON *b = cJSON_GetObjectItemCaseSensitive(base, o->string);
		cJSON *res = NULL;
		unsigned tag = tag_of(c, o);

		if (tag == EF_COMPOSE_TAG_RESET) {
			/* !reset: the key goes, whatever the base had */
			if (b)
				cJSON_Delete(cJSON_DetachItemViaPointer(base, b));
			cJSON_Delete(o);
			continue;
		}
		if (!b) {
			strip_resets(c, o);
			cJSON_AddItemToObject(base, o->string, o);
			continue;
		}
		c->seg[c->nseg++] = b->string;
		if (tag == EF_COMPOSE_TAG_OVERRIDE) {
			/* !override: replaced whole, not merged */
			strip_resets(c, o);
			res = o;
		} else {
			error = merge_value(c, &res, b, o);
		}
		if (error == 0 && res && res != b) {
			if (res->string != b->string) {
				if (!(res->type & cJSON_StringIsConst))
					cJSON_free(res->string);
				res->type &= ~cJSON_StringIsConst;
				res->string = strdup(b->string);
			}
			c->nseg--;
			cJSON_ReplaceItemViaPointer(base, b, res);
			continue;
		}
		c->nseg--;
	}
	cJSON_Delete(over);
	return error == EF_ENOMEM ? error : 0;
}

int ef_compose_merge(cJSON *base, cJSON *over, ef_compose_pos *pos, const char *file,
                     ef_findings *findings)
{
	mctx c;
	int error;

	memset(&c, 0, sizeof(c));
	c.pos = pos;
	c.file = file;
	c.findings = findings;
	if (!over)
		return 0;
	if (!cJSON_IsObject(base) || !cJSON_IsObject(over)) {
		error = fail(&c, over, "a compose file is a mapping (services:, ...)");
		cJSON_Delete(over);
		return error;
	}
	error = merge_map(&c, base, over);
	return error < 0 ? error : c.error;
}
