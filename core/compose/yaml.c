/* YAML (and JSON, which is YAML) into a cJSON tree, as Compose reads it:
 * YAML 1.2 core schema for plain scalars (`yes`, `on`, `22:22` stay
 * strings; `0o17` is octal), anchors and aliases, merge keys `<<`, one
 * document per file, duplicate keys refused, and bounds on nesting, nodes
 * (aliases count as what they expand to) and input size. Every node's
 * file:line:column goes into an ef_compose_pos. */
#include "edgeflip/compose_read.h"
#include "edgeflip/error.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct {
	char *name;
	cJSON *node;  /* in the tree being built, or in `kept` */
	size_t count; /* nodes of the subtree */
} anchor;

typedef struct {
	yaml_parser_t p;
	const char *text;
	const char *file;
	ef_compose_pos *pos;
	ef_findings *findings;
	size_t nodes;
	anchor *anchors;
	size_t nanchors;
	cJSON *kept; /* detached nodes that anchors may still name */
	ef_buf path;
	int error; /* first error; findings beyond it are not looked for */
} reader;

static int vfail(reader *r, unsigned line, unsigned col, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (r->findings)
		ef_findings_add(r->findings, r->file, line, col, r->path.ptr ? r->path.ptr : "$",
		                msg);
	if (!r->error)
		ef_error_set("%s:%u:%u: %s", r->file, line, col, msg);
	if (!r->error)
		r->error = EF_EINVALID;
	return EF_EINVALID;
}

static int fail(reader *r, const yaml_mark_t *m, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int fail(reader *r, const yaml_mark_t *m, const char *fmt, ...)
{
	va_list ap;
	int error;

	va_start(ap, fmt);
	error = vfail(r, m ? (unsigned)m->line + 1 : 0, m ? (unsigned)m->column + 1 : 0, fmt, ap);
	va_end(ap);
	return error;
}

static void vfail_plain(reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void vfail_plain(reader *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(r, 0, 0, fmt, ap);
	va_end(ap);
}

/* Soft: a finding, but reading goes on (lint reports them all). */
static void note(reader *r, const yaml_mark_t *m, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void note(reader *r, const yaml_mark_t *m, const char *fmt, ...)
{
	va_list ap;
	int saved = r->error;

	va_start(ap, fmt);
	vfail(r, (unsigned)m->line + 1, (unsigned)m->column + 1, fmt, ap);
	va_end(ap);
	r->error = saved ? saved : EF_EINVALID;
}

static int oom(reader *r)
{
	ef_error_set("out of memory reading %s", r->file);
	r->error = EF_ENOMEM;
	return EF_ENOMEM;
}

static int syntax_error(reader *r)
{
	yaml_mark_t m = r->p.problem_mark;
	const char *problem = r->p.problem ? r->p.problem : "syntax error";

	if (r->p.error == YAML_READER_ERROR) {
		/* The reader reports an offset, not a mark. */
		size_t off = r->p.problem_offset;
		m.line = m.column = 0;
		for (size_t i = 0; i < off && r->text[i]; i++) {
			if (r->text[i] == '\n')
				m.line++, m.column = 0;
			else if (((unsigned char)r->text[i] & 0xc0) != 0x80)
				m.column++;
		}
		if (r->p.problem_value != -1)
			return fail(r, &m, "%s (byte 0x%02x); the file must be UTF-8 text", problem,
			            (unsigned)r->p.problem_value & 0xff);
		return fail(r, &m, "%s; the file must be UTF-8 text", problem);
	}
	if (r->p.context)
		return fail(r, &m, "%s %s (line %u)", problem, r->p.context,
		            (unsigned)r->p.context_mark.line + 1);
	return fail(r, &m, "%s", problem);
}

static int next(reader *r, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&r->p, ev))
		return syntax_error(r);
	return 0;
}

static int count_node(reader *r, const yaml_mark_t *m, size_t n)
{
	if (r->nodes + n > EF_COMPOSE_MAX_NODES)
		return fail(
		        r, m,
		        "more than %u nodes (counting what aliases expand to); the limit "
		        "EF_COMPOSE_MAX_NODES guards against alias bombs: split the file or use "
		        "fewer aliases",
		        (unsigned)EF_COMPOSE_MAX_NODES);
	r->nodes += n;
	return 0;
}

static int record(reader *r, const cJSON *n, const yaml_mark_t *m)
{
	if (r->pos && ef_compose_pos_add(r->pos, n, r->file, (unsigned)m->line + 1,
	                                 (unsigned)m->column + 1) < 0)
		return oom(r);
	return 0;
}

/* ---------------------------------------------------------------------------
 * Scalars: the YAML 1.2 core schema. */

static bool is_null(const char *s)
{
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

static int is_bool(const char *s)
{
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return 1;
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return 0;
	return -1;
}

/* [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+: 1, or 0 when not an integer, or
 * -1 when one beyond what a double holds exactly (2^53). */
static int parse_int(const char *s, double *out)
{
	const char *d = s;
	int base = 10;
	bool neg = false;
	uint64_t v = 0;

	if (s[0] == '0' && s[1] == 'o')
		base = 8, d = s + 2;
	else if (s[0] == '0' && s[1] == 'x')
		base = 16, d = s + 2;
	else if (*d == '-' || *d == '+')
		neg = *d == '-', d++;
	if (!*d)
		return false;
	for (; *d; d++) {
		int digit;
		if (*d >= '0' && *d <= '9')
			digit = *d - '0';
		else if (base == 16 && *d >= 'a' && *d <= 'f')
			digit = *d - 'a' + 10;
		else if (base == 16 && *d >= 'A' && *d <= 'F')
			digit = *d - 'A' + 10;
		else
			return false;
		if (digit >= base)
			return false;
		if (v <= ((uint64_t)1 << 53))
			v = v * (uint64_t)base + (uint64_t)digit;
	}
	if (v > ((uint64_t)1 << 53))
		return -1;
	*out = neg ? -(double)v : (double)v;
	return 1;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? | [-+]?\.inf | \.nan */
static bool parse_float(const char *s, double *out)
{
	const char *d = s;
	bool digits = false;
	int sign = 1;

	if (*d == '-' || *d == '+')
		sign = *d == '-' ? -1 : 1, d++;
	if (!strcmp(d, ".inf") || !strcmp(d, ".Inf") || !strcmp(d, ".INF")) {
		*out = sign * HUGE_VAL;
		return true;
	}
	if (d == s && (!strcmp(d, ".nan") || !strcmp(d, ".NaN") || !strcmp(d, ".NAN"))) {
		*out = NAN;
		return true;
	}
	while (*d >= '0' && *d <= '9')
		d++, digits = true;
	if (*d == '.') {
		d++;
		while (*d >= '0' && *d <= '9')
			d++, digits = true;
	}
	if (!digits)
		return false;
	if (*d == 'e' || *d == 'E') {
		d++;
		if (*d == '-' || *d == '+')
			d++;
		if (!(*d >= '0' && *d <= '9'))
			return false;
		while (*d >= '0' && *d <= '9')
			d++;
	}
	if (*d)
		return false;
	errno = 0;
	*out = strtod(s, NULL);
	return true;
}

/* Compose's own tags: `!reset` (drop what the base has) and `!override`
 * (replace it rather than merge), for merge.c. */
static unsigned compose_tag(const char *tag)
{
	if (tag && !strcmp(tag, "!reset"))
		return EF_COMPOSE_TAG_RESET;
	if (tag && !strcmp(tag, "!override"))
		return EF_COMPOSE_TAG_OVERRIDE;
	return 0;
}

static int scalar(reader *r, cJSON **out, const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;
	const char *tag = compose_tag((const char *)ev->data.scalar.tag)
	                          ? NULL
	                          : (const char *)ev->data.scalar.tag;
	bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	double num;
	int b;

	*out = NULL;
	if (strlen(s) != ev->data.scalar.length)
		return fail(r, &ev->start_mark,
		            "a NUL character in a value is not supported; remove it");
	if (tag && strcmp(tag, "!") != 0) {
		if (!strcmp(tag, YAML_STR_TAG))
			*out = cJSON_CreateString(s);
		else if (!strcmp(tag, YAML_NULL_TAG) && is_null(s))
			*out = cJSON_CreateNull();
		else if (!strcmp(tag, YAML_BOOL_TAG) && (b = is_bool(s)) >= 0)
			*out = cJSON_CreateBool(b);
		else if (!strcmp(tag, YAML_INT_TAG) && parse_int(s, &num) > 0)
			*out = cJSON_CreateNumber(num);
		else if (!strcmp(tag, YAML_FLOAT_TAG) &&
		         (parse_int(s, &num) > 0 || parse_float(s, &num)))
			*out = cJSON_CreateNumber(num);
		else if (!strncmp(tag, "tag:yaml.org,2002:", 18) &&
		         (!strcmp(tag + 18, "null") || !strcmp(tag + 18, "bool") ||
		          !strcmp(tag + 18, "int") || !strcmp(tag + 18, "float")))
			return fail(r, &ev->start_mark, "\"%.60s\" is not a valid !!%s", s,
			            tag + 18);
		else
			return fail(
			        r, &ev->start_mark,
			        "the tag %.80s is not supported; remove it (only the YAML core "
			        "tags !!str, !!int, !!float, !!bool, !!null and Compose's !reset "
			        "and !override are read)",
			        tag);
	} else if (!plain || tag) {
		*out = cJSON_CreateString(s);
	} else if (is_null(s)) {
		*out = cJSON_CreateNull();
	} else if ((b = is_bool(s)) >= 0) {
		*out = cJSON_CreateBool(b);
	} else if ((b = parse_int(s, &num)) > 0 || (b == 0 && parse_float(s, &num))) {
		*out = cJSON_CreateNumber(num);
	} else {
		*out = cJSON_CreateString(s);
	}
	if (!*out)
		return oom(r);
	return 0;
}

/* ---------------------------------------------------------------------------
 * Anchors and aliases */

static int add_anchor(reader *r, const char *name, cJSON *node, size_t count)
{
	anchor *a = realloc(r->anchors, (r->nanchors + 1) * sizeof(*a));

	if (!a)
		return oom(r);
	r->anchors = a;
	if (!(a[r->nanchors].name = strdup(name)))
		return oom(r);
	a[r->nanchors].node = node;
	a[r->nanchors].count = count;
	r->nanchors++;
	return 0;
}

/* A copy of `n` that keeps the positions of the original. */
static cJSON *copy(reader *r, const cJSON *n, int depth, const yaml_mark_t *m)
{
	bool too_deep = false;
	cJSON *c = ef_compose_pos_copy(r->pos, n, EF_COMPOSE_MAX_DEPTH - depth, &too_deep);

	if (!c && too_deep)
		fail(r, m, "nesting deeper than %d levels (EF_COMPOSE_MAX_DEPTH) through an alias",
		     EF_COMPOSE_MAX_DEPTH);
	else if (!c)
		oom(r);
	return c;
}

static int alias(reader *r, cJSON **out, const yaml_event_t *ev, int depth)
{
	const char *name = (const char *)ev->data.alias.anchor;
	int error;

	*out = NULL;
	for (size_t i = r->nanchors; i-- > 0;) {
		if (strcmp(r->anchors[i].name, name) != 0)
			continue;
		if ((error = count_node(r, &ev->start_mark, r->anchors[i].count)) < 0)
			return error;
		if (!(*out = copy(r, r->anchors[i].node, depth, &ev->start_mark)))
			return r->error ? r->error : oom(r);
		return 0;
	}
	return fail(r, &ev->start_mark,
	            "the alias *%.80s names no anchor defined before it (&%.80s)", name, name);
}

/* ---------------------------------------------------------------------------
 * Nodes */

static int node(reader *r, cJSON **out, yaml_event_t *ev, int depth);

static void keep(reader *r, cJSON *n)
{
	if (!r->kept)
		r->kept = cJSON_CreateArray();
	if (r->kept)
		cJSON_AddItemToArray(r->kept, n);
	else
		cJSON_Delete(n);
}

/* Merge keys: keys of the merged mappings that the mapping lacks, earlier
 * mappings first. */
static int apply_merges(reader *r, cJSON *obj, cJSON *merges, int depth, const yaml_mark_t *m)
{
	for (cJSON *src = merges->child; src; src = src->next) {
		for (cJSON *e = src->child; e; e = e->next) {
			cJSON *c;
			if (cJSON_GetObjectItemCaseSensitive(obj, e->string))
				continue;
			if (!(c = copy(r, e, depth + 1, m)))
				return r->error ? r->error : oom(r);
			cJSON_AddItemToObject(obj, e->string, c);
		}
	}
	return 0;
}

static int mapping(reader *r, cJSON *obj, int depth, const yaml_mark_t *start)
{
	cJSON *merges = cJSON_CreateArray();
	yaml_event_t ev;
	int error = 0;

	if (!merges)
		return oom(r);
	for (;;) {
		cJSON *val = NULL, *prev;
		char *key = NULL;
		yaml_mark_t km;
		bool is_merge;
		size_t plen = r->path.len;

		if ((error = next(r, &ev)) < 0)
			break;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		km = ev.start_mark;
		if (ev.type != YAML_SCALAR_EVENT) {
			error = fail(r, &km,
			             "a key must be a plain string; a mapping, list or alias as a "
			             "key is not supported");
			yaml_event_delete(&ev);
			break;
		}
		if (strlen((char *)ev.data.scalar.value) != ev.data.scalar.length) {
			error = fail(r, &km, "a NUL character in a key is not supported");
			yaml_event_delete(&ev);
			break;
		}
		is_merge = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev.data.scalar.tag &&
		           !strcmp((char *)ev.data.scalar.value, "<<");
		key = strdup((char *)ev.data.scalar.value);
		yaml_event_delete(&ev);
		if (!key) {
			error = oom(r);
			break;
		}
		ef_buf_printf(&r->path, ".%s", key);
		if ((error = next(r, &ev)) == 0) {
			error = node(r, &val, &ev, depth + 1);
			yaml_event_delete(&ev);
		}
		if (error < 0) {
			free(key);
			break;
		}
		if (is_merge) {
			bool ok = cJSON_IsObject(val);
			if (cJSON_IsArray(val)) {
				ok = true;
				for (cJSON *e = val->child; e; e = e->next)
					ok = ok && cJSON_IsObject(e);
			}
			if (!ok) {
				error = fail(r, &km,
				             "the merge key << needs a mapping or a list of "
				             "mappings (an alias such as <<: *defaults)");
				cJSON_Delete(val);
				free(key);
				break;
			}
			/* Kept whole: anchors inside may still be named. */
			if (cJSON_IsObject(val)) {
				cJSON *wrap = cJSON_CreateArray();
				if (!wrap) {
					cJSON_Delete(val);
					free(key);
					error = oom(r);
					break;
				}
				cJSON_AddItemToArray(wrap, val);
				val = wrap;
			}
			while (val->child)
				cJSON_AddItemToArray(merges,
				                     cJSON_DetachItemViaPointer(val, val->child));
			cJSON_Delete(val);
		} else if ((prev = cJSON_GetObjectItemCaseSensitive(obj, key))) {
			const char *f;
			unsigned l = 0, c;
			if (!r->pos || ef_compose_pos_find(r->pos, prev, &f, &l, &c) < 0)
				l = 0;
			note(r, &km,
			     "duplicate key \"%.80s\" (first at line %u); a key may appear once in "
			     "a mapping: remove one",
			     key, l);
			keep(r, val); /* anchors inside may be named later */
		} else {
			cJSON_AddItemToObject(obj, key, val);
		}
		free(key);
		r->path.len = plen;
		if (r->path.ptr)
			r->path.ptr[plen] = '\0';
	}
	if (error == 0)
		error = apply_merges(r, obj, merges, depth, start);
	keep(r, merges);
	return error;
}

static int sequence(reader *r, cJSON *arr, int depth)
{
	yaml_event_t ev;
	int error = 0;

	for (size_t i = 0;; i++) {
		cJSON *val = NULL;
		size_t plen = r->path.len;

		if ((error = next(r, &ev)) < 0)
			return error;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		ef_buf_printf(&r->path, "[%zu]", i);
		error = node(r, &val, &ev, depth + 1);
		yaml_event_delete(&ev);
		if (error < 0)
			return error;
		cJSON_AddItemToArray(arr, val);
		r->path.len = plen;
		if (r->path.ptr)
			r->path.ptr[plen] = '\0';
	}
}

static int node(reader *r, cJSON **out, yaml_event_t *ev, int depth)
{
	const char *anchor_name = NULL;
	size_t before = r->nodes;
	int error;

	*out = NULL;
	if (ev->type == YAML_ALIAS_EVENT)
		return alias(r, out, ev, depth);
	if ((error = count_node(r, &ev->start_mark, 1)) < 0)
		return error;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		anchor_name = (const char *)ev->data.scalar.anchor;
		error = scalar(r, out, ev);
		break;
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT: {
		bool map = ev->type == YAML_MAPPING_START_EVENT;
		const char *tag = map ? (const char *)ev->data.mapping_start.tag
		                      : (const char *)ev->data.sequence_start.tag;
		anchor_name = map ? (const char *)ev->data.mapping_start.anchor
		                  : (const char *)ev->data.sequence_start.anchor;
		if (depth >= EF_COMPOSE_MAX_DEPTH)
			return fail(r, &ev->start_mark,
			            "nesting deeper than %d levels (EF_COMPOSE_MAX_DEPTH)",
			            EF_COMPOSE_MAX_DEPTH);
		if (tag && strcmp(tag, map ? YAML_MAP_TAG : YAML_SEQ_TAG) != 0 &&
		    strcmp(tag, "!") != 0 && !compose_tag(tag))
			return fail(r, &ev->start_mark, "the tag %.80s is not supported; remove it",
			            tag);
		if (!(*out = map ? cJSON_CreateObject() : cJSON_CreateArray()))
			return oom(r);
		if ((error = record(r, *out, &ev->start_mark)) < 0)
			break;
		error = map ? mapping(r, *out, depth, &ev->start_mark) : sequence(r, *out, depth);
		break;
	}
	default:
		return fail(r, &ev->start_mark, "unexpected YAML event %d", (int)ev->type);
	}
	if (error == 0 && ev->type == YAML_SCALAR_EVENT)
		error = record(r, *out, &ev->start_mark);
	if (error == 0 && ev->type == YAML_SCALAR_EVENT && r->pos)
		ef_compose_pos_set_end(r->pos, *out, (unsigned)ev->end_mark.line + 1,
		                       (unsigned)ev->end_mark.column + 1);
	if (error == 0 && r->pos) {
		const char *t = ev->type == YAML_SCALAR_EVENT ? (const char *)ev->data.scalar.tag
		                : ev->type == YAML_MAPPING_START_EVENT
		                        ? (const char *)ev->data.mapping_start.tag
		                        : (const char *)ev->data.sequence_start.tag;
		if (compose_tag(t))
			ef_compose_pos_set_tag(r->pos, *out, compose_tag(t));
	}
	if (error == 0 && anchor_name)
		error = add_anchor(r, anchor_name, *out, r->nodes - before);
	if (error < 0) {
		cJSON_Delete(*out);
		*out = NULL;
	}
	return error;
}

static int document(reader *r, cJSON **out)
{
	yaml_event_t ev;
	int error;

	if ((error = next(r, &ev)) < 0) /* stream start */
		return error;
	yaml_event_delete(&ev);
	if ((error = next(r, &ev)) < 0)
		return error;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		return 0; /* empty file */
	}
	yaml_event_delete(&ev); /* document start */
	if ((error = next(r, &ev)) < 0)
		return error;
	error = node(r, out, &ev, 0);
	yaml_event_delete(&ev);
	if (error < 0)
		return error;
	if ((error = next(r, &ev)) < 0) /* document end */
		return error;
	yaml_event_delete(&ev);
	if ((error = next(r, &ev)) < 0)
		return error;
	if (ev.type != YAML_STREAM_END_EVENT)
		error = fail(r, &ev.start_mark,
		             "a second YAML document (after ---); a compose file holds one "
		             "document: remove the others or move them to their own file");
	yaml_event_delete(&ev);
	return error;
}

int ef_compose_yaml_read(cJSON **out, const char *text, size_t len, const char *file,
                         ef_compose_pos *pos, ef_findings *findings)
{
	reader r;
	int error;

	*out = NULL;
	memset(&r, 0, sizeof(r));
	r.text = text;
	r.file = file;
	r.pos = pos;
	if (!pos && ef_compose_pos_new(&r.pos) < 0)
		return EF_ENOMEM;
	r.findings = findings;
	ef_buf_init(&r.path, 4096);
	ef_buf_puts(&r.path, "$");
	if (len > EF_COMPOSE_MAX_FILE) {
		vfail_plain(&r, "larger than the limit of %u bytes (EF_COMPOSE_MAX_FILE); split it",
		            (unsigned)EF_COMPOSE_MAX_FILE);
		ef_buf_dispose(&r.path);
		if (r.pos != pos)
			ef_compose_pos_free(r.pos);
		return EF_ETOOBIG;
	}
	if (!yaml_parser_initialize(&r.p)) {
		ef_buf_dispose(&r.path);
		return oom(&r);
	}
	yaml_parser_set_encoding(&r.p, YAML_UTF8_ENCODING);
	yaml_parser_set_input_string(&r.p, (const unsigned char *)text, len);
	error = document(&r, out);
	if (error == 0 && r.error)
		error = r.error;
	if (error < 0) {
		cJSON_Delete(*out);
		*out = NULL;
	}
	yaml_parser_delete(&r.p);
	for (size_t i = 0; i < r.nanchors; i++)
		free(r.anchors[i].name);
	free(r.anchors);
	cJSON_Delete(r.kept);
	ef_buf_dispose(&r.path);
	if (r.pos != pos)
		ef_compose_pos_free(r.pos);
	return error;
}
