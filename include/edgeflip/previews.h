/* Preview environments (core/agent/previews.c, docs/previews.md): every ref
 * of the repository that matches [source] previews ("refs/pull/STAR/head")
 * is deployed as its own project pr-N beside production, its published
 * ports remapped into [source] preview_ports. Their record is
 * STATE_DIR/previews.json (read back by the agent and by `status`). */
#ifndef EDGEFLIP_PREVIEWS_H
#define EDGEFLIP_PREVIEWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EF_PREVIEW_ID_MAX    64 /* the captured part of a ref, "17" */
#define EF_PREVIEWS_FILE_MAX (1u << 20)
#define EF_PREVIEWS_MAX      1000u /* entries, and ports per entry, in the file */

/* 0 when `pattern` is a ref pattern with exactly one '*' that is a whole
 * path component ("refs/pull/STAR/head", "refs/heads/preview/STAR"), else
 * EF_EINVALID saying what to write. */
int ef_preview_pattern_check(const char *pattern);
/* 1 when `ref` matches `pattern`, with the part the '*' stands for in `id`
 * (digits or [A-Za-z0-9._-], at most EF_PREVIEW_ID_MAX - 1 characters, not
 * starting with '.'); 0 when not. */
int ef_preview_match(char *id, size_t cap, const char *pattern, const char *ref);
/* The literal part of `pattern` before the '*' ("refs/pull/"): what the
 * ls-refs request asks for. A heap string. */
char *ef_preview_prefix(const char *pattern);
/* Orders preview ids: numbers by value first, then names. */
int ef_preview_id_cmp(const char *a, const char *b);
/* "LOW-HIGH", 1 <= LOW <= HIGH <= 65535. */
int ef_preview_ports_parse(uint16_t *lo, uint16_t *hi, const char *text);

typedef struct {
	char *service;
	uint16_t container_port;
	char protocol[4];
	uint16_t host_port;
} ef_preview_port;

typedef struct {
	char *name;        /* "pr-1" */
	char *ref;         /* "refs/pull/1/head" */
	char revision[65]; /* deployed commit, "" none yet */
	char refused[65];  /* the last commit refused on this ref, "" none */
	char *reason;      /* why it was refused, NULL */
	ef_preview_port *ports;
	size_t nports;
	char **volumes; /* named volumes it made (removed with it) */
} ef_preview;

typedef struct {
	ef_preview *items;
	size_t count;
} ef_previews;

/* Parses the text of previews.json (strict: EF_EINVALID naming the field). */
int ef_previews_parse(ef_previews *out, const char *json, size_t len);
/* Reads STATE_DIR/previews.json; an absent file is an empty list. */
int ef_previews_load(ef_previews *out, const char *state_dir);
/* The text previews.json holds (a heap string). */
int ef_previews_to_json(char **out, const ef_previews *p);
/* Writes STATE_DIR/previews.json atomically. */
int ef_previews_save(const ef_previews *p, const char *state_dir);
void ef_previews_dispose(ef_previews *p);
ef_preview *ef_previews_find(ef_previews *p, const char *name);
/* Removes entry `i`, keeping the order. */
void ef_previews_remove(ef_previews *p, size_t i);

/* The host port for (`name`, `service`, `container_port`, `proto`): the one
 * recorded for it, else the lowest port of [lo, hi] no preview records.
 * EF_ENOTFOUND when the range is full. */
int ef_preview_port_alloc(uint16_t *out, const ef_previews *all, const char *name,
                          const char *service, uint16_t container_port, const char *proto,
                          uint16_t lo, uint16_t hi);

#endif
