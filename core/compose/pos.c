/* Positions of document nodes (file:line:column) and the findings list. */
#include "edgeflip/compose.h"
#include "edgeflip/error.h"

#include <cjson/cJSON.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	const void *node;
	unsigned file; /* index into files */
	unsigned line;
	unsigned col;
	unsigned tag;      /* EF_COMPOSE_TAG_* */
	unsigned end_line; /* 0: no end recorded */
	unsigned end_col;
} pos_entry;

struct ef_compose_pos {
	pos_entry *slots; /* open addressing, power-of-two size */
	size_t nslots;
	size_t used;
	char **files;
	size_t nfiles;
};

static int oom(void)
{
	ef_error_set("out of memory");
	return EF_ENOMEM;
}

static size_t slot_of(const void *node, size_t nslots)
{
	uint64_t h = (uint64_t)(uintptr_t)node;

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (size_t)h & (nslots - 1);
}

int ef_compose_pos_new(ef_compose_pos **out)
{
	ef_compose_pos *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return oom();
	*out = p;
	return 0;
}

void ef_compose_pos_free(ef_compose_pos *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nfiles; i++)
		free(p->files[i]);
	free(p->files);
	free(p->slots);
	free(p);
}

static int grow(ef_compose_pos *p)
{
	size_t n = p->nslots ? p->nslots * 2 : 256;
	pos_entry *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return oom();
	for (size_t i = 0; i < p->nslots; i++) {
		size_t j;
		if (!p->slots[i].node)
			continue;
		for (j = slot_of(p->slots[i].node, n); slots[j].node; j = (j + 1) & (n - 1))
			;
		slots[j] = p->slots[i];
	}
	free(p->slots);
	p->slots = slots;
	p->nslots = n;
	return 0;
}

static int intern(ef_compose_pos *p, unsigned *out, const char *file)
{
	char **files;

	for (size_t i = 0; i < p->nfiles; i++) {
		if (!strcmp(p->files[i], file)) {
			*out = (unsigned)i;
			return 0;
		}
	}
	if (!(files = realloc(p->files, (p->nfiles + 1) * sizeof(*files))))
		return oom();
	p->files = files;
	if (!(files[p->nfiles] = strdup(file)))
		return oom();
	*out = (unsigned)p->nfiles++;
	return 0;
}

int ef_compose_pos_add(ef_compose_pos *p, const void *node, const char *file, unsigned line,
                       unsigned col)
{
	unsigned fi;
	size_t j;
	int error;

	if (!node)
		return 0;
	if ((error = intern(p, &fi, file ? file : "")) < 0)
		return error;
	if ((p->used + 1) * 4 > p->nslots * 3 && (error = grow(p)) < 0)
		return error;
	for (j = slot_of(node, p->nslots); p->slots[j].node && p->slots[j].node != node;
	     j = (j + 1) & (p->nslots - 1))
		;
	if (!p->slots[j].node)
		p->used++;
	p->slots[j] = (pos_entry){node, fi, line, col, 0, 0, 0};
	return 0;
}

static pos_entry *entry_of(const ef_compose_pos *p, const void *node)
{
	if (!p || !p->nslots || !node)
		return NULL;
	for (size_t j = slot_of(node, p->nslots); p->slots[j].node; j = (j + 1) & (p->nslots - 1))
		if (p->slots[j].node == node)
			return &p->slots[j];
	return NULL;
}

int ef_compose_pos_set_tag(ef_compose_pos *p, const void *node, unsigned tag)
{
	pos_entry *e = entry_of(p, node);

	if (!e)
		return EF_ENOTFOUND;
	e->tag = tag;
	return 0;
}

unsigned ef_compose_pos_tag(const ef_compose_pos *p, const void *node)
{
	const pos_entry *e = entry_of(p, node);

	return e ? e->tag : 0;
}

int ef_compose_pos_set_end(ef_compose_pos *p, const void *node, unsigned line, unsigned col)
{
	pos_entry *e = entry_of(p, node);

	if (!e)
		return EF_ENOTFOUND;
	e->end_line = line;
	e->end_col = col;
	return 0;
}

int ef_compose_pos_end(const ef_compose_pos *p, const void *node, unsigned *line, unsigned *col)
{
	const pos_entry *e = entry_of(p, node);

	if (!e || !e->end_line)
		return EF_ENOTFOUND;
	*line = e->end_line;
	*col = e->end_col;
	return 0;
}

int ef_compose_pos_find(const ef_compose_pos *p, const void *node, const char **file,
                        unsigned *line, unsigned *col)
{
	if (!p || !p->nslots || !node)
		return EF_ENOTFOUND;
	for (size_t j = slot_of(node, p->nslots); p->slots[j].node; j = (j + 1) & (p->nslots - 1)) {
		if (p->slots[j].node == node) {
			*file = p->files[p->slots[j].file];
			*line = p->slots[j].line;
			*col = p->slots[j].col;
			return 0;
		}
	}
	return EF_ENOTFOUND;
}

/* A copy of n that keeps the positions and tags of the original; NULL when
 * out of memory or (with *too_deep set) n nests deeper than max_depth. */
cJSON *ef_compose_pos_copy(ef_compose_pos *p, const cJSON *n, int max_depth, bool *too_deep)
{
	cJSON *c;
	const char *file;
	unsigned line, col;

	if (max_depth < 0) {
		*too_deep = true;
		return NULL;
	}
	if (cJSON_IsArray(n) || cJSON_IsObject(n)) {
		c = cJSON_IsArray(n) ? cJSON_CreateArray() : cJSON_CreateObject();
		for (const cJSON *e = c ? n->child : NULL; e; e = e->next) {
			cJSON *ec = ef_compose_pos_copy(p, e, max_depth - 1, too_deep);
			if (!ec || !(cJSON_IsObject(n) ? cJSON_AddItemToObject(c, e->string, ec)
			                               : cJSON_AddItemToArray(c, ec))) {
				cJSON_Delete(ec);
				cJSON_Delete(c);
				return NULL;
			}
		}
	} else {
		c = cJSON_Duplicate(n, false);
	}
	if (c && p && ef_compose_pos_find(p, n, &file, &line, &col) == 0 &&
	    (ef_compose_pos_add(p, c, file, line, col) < 0 ||
	     ef_compose_pos_set_tag(p, c, ef_compose_pos_tag(p, n)) < 0)) {
		cJSON_Delete(c);
		return NULL;
	}
	return c;
}

/* ---------------------------------------------------------------------------
 * Findings */

void ef_findings_init(ef_findings *f)
{
	memset(f, 0, sizeof(*f));
}

void ef_findings_dispose(ef_findings *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].file);
		free(f->v[i].path);
		free(f->v[i].message);
	}
	free(f->v);
	ef_findings_init(f);
}

/* A copy with control characters shown as '?': text from outside never
 * reaches a terminal or a log raw. */
static char *inert(const char *s)
{
	char *d = strdup(s ? s : "");

	for (char *q = d; q && *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			*q = '?';
	return d;
}

int ef_findings_add(ef_findings *f, const char *file, unsigned line, unsigned col, const char *path,
                    const char *message)
{
	ef_finding *v = realloc(f->v, (f->n + 1) * sizeof(*v));
	ef_finding *e;

	if (!v)
		return oom();
	f->v = v;
	e = &v[f->n];
	e->file = inert(file);
	e->path = inert(path);
	e->message = inert(message);
	e->line = line;
	e->col = col;
	if (!e->file || !e->path || !e->message) {
		free(e->file);
		free(e->path);
		free(e->message);
		return oom();
	}
	f->n++;
	return 0;
}

void ef_findings_at(ef_findings *f, const ef_compose_pos *pos, const void *node, const char *file,
                    const char *path, const char *msg, bool set_error)
{
	unsigned line = 0, col = 0;

	if (pos)
		ef_compose_pos_find(pos, node, &file, &line, &col);
	if (f)
		ef_findings_add(f, file, line, col, path, msg);
	if (!set_error)
		return;
	if (line)
		ef_error_set("%s:%u:%u: %s: %s", file, line, col, path, msg);
	else
		ef_error_set("%s: %s: %s", file, path, msg);
}

int ef_findings_format(ef_buf *out, const ef_findings *f)
{
	int error = 0;

	for (size_t i = 0; i < f->n && error == 0; i++) {
		const ef_finding *e = &f->v[i];
		if (e->line)
			error = ef_buf_printf(out, "%s:%u:%u: %s: %s\n", e->file, e->line, e->col,
			                      e->path, e->message);
		else
			error = ef_buf_printf(out, "%s: %s: %s\n", e->file, e->path, e->message);
	}
	return error;
}
