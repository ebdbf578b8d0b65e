/* The header of a `git bundle` file (see bundle.h): a strict, capped
 * line parser. Nothing of the pack is read here. */
#include "bundle.h"

#include "edgeflip/error.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ef_bundle_init(ef_bundle *b)
{
	memset(b, 0, sizeof(*b));
}

static void free_refs(ef_bundle_ref *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

void ef_bundle_dispose(ef_bundle *b)
{
	free_refs(b->prereqs, b->nprereqs);
	free_refs(b->refs, b->nrefs);
	ef_bundle_init(b);
}

const ef_bundle_ref *ef_bundle_find(const ef_bundle *b, const char *name)
{
	for (size_t i = 0; i < b->nrefs; i++)
		if (strcmp(b->refs[i].name, name) == 0)
			return &b->refs[i];
	return NULL;
}

static bool is_oid(const char *p, size_t n)
{
	if (n != EF_BUNDLE_OID_HEX - 1)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	return true;
}

/* A ref name as git check-ref-format would take it, roughly: printable,
 * no space, no "..", starts with "refs/" or is HEAD. */
static bool is_ref_name(const char *p, size_t n)
{
	if (!(n == 4 && memcmp(p, "HEAD", 4) == 0) && (n <= 5 || memcmp(p, "refs/", 5) != 0))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (ch <= ' ' || ch >= 0x7f || ch == '~' || ch == '^' || ch == ':' || ch == '\\' ||
		    (ch == '.' && i + 1 < n && p[i + 1] == '.'))
			return false;
	}
	return true;
}

static int push(ef_bundle_ref **v, size_t *n, const char *oid, const char *name, size_t nlen)
{
	ef_bundle_ref *nv;

	if (*n >= EF_BUNDLE_MAX_REFS)
		return EF_ETOOBIG;
	if (!(nv = realloc(*v, (*n + 1) * sizeof(*nv))))
		return EF_ENOMEM;
	*v = nv;
	memset(&nv[*n], 0, sizeof(nv[*n]));
	memcpy(nv[*n].oid, oid, EF_BUNDLE_OID_HEX - 1);
	if (name && !(nv[*n].name = strndup(name, nlen)))
		return EF_ENOMEM;
	(*n)++;
	return 0;
}

/* A capability line of a v3 bundle (without the "@"). */
static const char *capability(const char *p, size_t n)
{
	if (n == 18 && memcmp(p, "object-format=sha1", 18) == 0)
		return NULL;
	if (n >= 14 && memcmp(p, "object-format=", 14) == 0)
		return "only SHA-1 repositories are supported (object-format=sha1)";
	if (n >= 6 && memcmp(p, "filter", 6) == 0)
		return "a filtered (partial) bundle lacks objects; make it without --filter";
	return "unknown capability; make the bundle with `git bundle create --version=2` or "
	       "`--version=3`";
}

int ef_bundle_parse(ef_bundle *b, const char *data, size_t len, const char *file)
{
	const char *p = data, *end;
	size_t lineno = 1;
	int error = EF_EINVALID;
	bool refs_begun = false;

	ef_bundle_init(b);
	if (len > EF_BUNDLE_MAX_HEADER + 4)
		len = EF_BUNDLE_MAX_HEADER + 4;
	end = data + len;
	if (len >= 16 && memcmp(p, "# v2 git bundle\n", 16) == 0) {
		b->version = 2;
	} else if (len >= 16 && memcmp(p, "# v3 git bundle\n", 16) == 0) {
		b->version = 3;
	} else {
		ef_error_set("%s: not a git bundle (the first line is not '# v2 git bundle' or "
		             "'# v3 git bundle'); make it with `git bundle create FILE BRANCH`",
		             file);
		goto out;
	}
	p += 16;
	for (;;) {
		const char *nl, *sp;
		size_t n;
		const char *why = NULL;

		lineno++;
		if ((size_t)(p - data) > EF_BUNDLE_MAX_HEADER) {
			ef_error_set("%s: the bundle header is larger than %u bytes", file,
			             EF_BUNDLE_MAX_HEADER);
			error = EF_ETOOBIG;
			goto out;
		}
		n = (size_t)(end - p) < EF_BUNDLE_MAX_LINE ? (size_t)(end - p) : EF_BUNDLE_MAX_LINE;
		if (!(nl = memchr(p, '\n', n))) {
			ef_error_set("%s:%zu: the bundle header ends before its blank line (the "
			             "file is cut short, or a line is longer than %u bytes)",
			             file, lineno, EF_BUNDLE_MAX_LINE);
			error = EF_EINVALID;
			goto out;
		}
		n = (size_t)(nl - p);
		if (n == 0) { /* the blank line: the pack follows */
			p = nl + 1;
			break;
		}
		if (p[0] == '@') {
			if (b->version != 3 || b->nprereqs || refs_begun)
				why = "a capability line comes only in a v3 bundle, before the "
				      "refs";
			else
				why = capability(p + 1, n - 1);
		} else if (p[0] == '-') {
			sp = memchr(p, ' ', n);
			if (refs_begun)
				why = "a prerequisite after the refs";
			else if (!is_oid(p + 1, (size_t)((sp ? sp : nl) - p - 1)))
				why = "a prerequisite is '-' and a 40-digit commit id";
			else if ((error = push(&b->prereqs, &b->nprereqs, p + 1, NULL, 0)) < 0)
				goto too_many;
		} else {
			sp = memchr(p, ' ', n);
			refs_begun = true;
			if (!sp || !is_oid(p, (size_t)(sp - p)))
				why = "a ref line is a 40-digit id, a space and the ref name";
			else if (!is_ref_name(sp + 1, (size_t)(nl - sp - 1)))
				why = "not a valid ref name";
			else if ((error = push(&b->refs, &b->nrefs, p, sp + 1,
			                       (size_t)(nl - sp - 1))) < 0)
				goto too_many;
		}
		if (why) {
			ef_error_set("%s:%zu: %s", file, lineno, why);
			error = EF_EINVALID;
			goto out;
		}
		p = nl + 1;
	}
	error = EF_EINVALID;
	if (b->nrefs == 0) {
		ef_error_set("%s: the bundle carries no ref", file);
		goto out;
	}
	if ((size_t)(end - p) < 4 || memcmp(p, "PACK", 4) != 0) {
		ef_error_set("%s:%zu: no pack after the header (expected 'PACK')", file,
		             lineno + 1);
		goto out;
	}
	b->pack_offset = (size_t)(p - data);
	return 0;
too_many:
	if (error == EF_ETOOBIG)
		ef_error_set("%s:%zu: more than %u prerequisites or refs", file, lineno,
		             EF_BUNDLE_MAX_REFS);
	else
		ef_error_set("out of memory");
out:
	ef_bundle_dispose(b);
	return error;
}
