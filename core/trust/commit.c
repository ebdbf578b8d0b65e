/* Raw commit object parser. The rules and the reasons they are stricter than
 * libgit2 and git are in docs/verification.md ("The commit parser"). */
#include "commit.h"

#include "edgeflip/buf.h"
#include "edgeflip/error.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* One header: its name and where its lines (with continuations) start and end. */
typedef struct {
	const char *name;
	size_t name_len;
	const char *value; /* after "name " up to the end of the first line */
	size_t value_len;
	size_t start; /* offset of the first byte of the header */
	size_t end;   /* offset just past the last continuation line's newline */
} header;

static bool is_hex_id(const char *p, size_t n)
{
	if (n != 40 && n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	return true;
}

static bool name_is(const header *h, const char *name)
{
	size_t n = strlen(name);

	return h->name_len == n && memcmp(h->name, name, n) == 0;
}

/* "Name <email> 1700000000 +0100": the time and zone after the last '>'. */
static int parse_ident_time(int64_t *t, int *tz, const char *v, size_t n)
{
	size_t i = n, j;
	int64_t secs = 0;
	int zone;

	while (i > 0 && v[i - 1] != '>')
		i--;
	if (i == 0 || i >= n || v[i] != ' ')
		return -1;
	i++;
	for (j = i; j < n && v[j] >= '0' && v[j] <= '9'; j++) {
		if (j - i >= 18)
			return -1;
		secs = secs * 10 + (v[j] - '0');
	}
	if (j == i || j >= n || v[j] != ' ')
		return -1;
	j++;
	if (n - j != 5 || (v[j] != '+' && v[j] != '-'))
		return -1;
	for (size_t k = j + 1; k < n; k++)
		if (v[k] < '0' || v[k] > '9')
			return -1;
	zone = ((v[j + 1] - '0') * 10 + (v[j + 2] - '0')) * 60 + (v[j + 3] - '0') * 10 +
	       (v[j + 4] - '0');
	*t = secs;
	*tz = v[j] == '-' ? -zone : zone;
	return 0;
}

static int fail(const char *msg, size_t offset)
{
	ef_error_set("%s (offset %zu)", msg, offset);
	return EF_EINVALID;
}

int ef_commit_parse(ef_commit_info *out, const char *raw, size_t len)
{
	header h, sig = {0};
	size_t pos = 0, index = 0;
	bool have_author = false, have_committer = false, parents_done = false, body = false;
	const void *nul;
	int error;

	memset(out, 0, sizeof(*out));
	if (len > EF_COMMIT_MAX_BYTES) {
		ef_error_set("commit object is larger than the limit of %u bytes",
		             EF_COMMIT_MAX_BYTES);
		return EF_ETOOBIG;
	}
	if ((nul = memchr(raw, '\0', len)) != NULL) {
		ef_error_set("NUL byte in commit object at offset %zu",
		             (size_t)((const char *)nul - raw));
		return EF_EINVALID;
	}

	while (pos < len) {
		const char *line = raw + pos;
		const char *nl = memchr(line, '\n', len - pos);
		const char *sp;

		if (!nl)
			return fail("commit headers do not end with a blank line", pos);
		if (nl == line) { /* the blank line: the message follows */
			body = true;
			break;
		}
		if (line[0] == ' ')
			return fail("continuation line without a header", pos);

		/* One header: the first line and every following line that starts with a space. */
		h.start = pos;
		sp = memchr(line, ' ', (size_t)(nl - line));
		h.name = line;
		h.name_len = sp ? (size_t)(sp - line) : (size_t)(nl - line);
		h.value = sp ? sp + 1 : nl;
		h.value_len = (size_t)(nl - h.value);
		pos = (size_t)(nl - raw) + 1;
		while (pos < len && raw[pos] == ' ') {
			nl = memchr(raw + pos, '\n', len - pos);
			if (!nl)
				return fail("commit headers do not end with a blank line", pos);
			pos = (size_t)(nl - raw) + 1;
		}
		h.end = pos;

		if (index == 0) {
			if (!name_is(&h, "tree"))
				return fail("commit object does not start with a tree header", 0);
			if (!is_hex_id(h.value, h.value_len) || h.end - h.start != h.value_len + 6)
				return fail("malformed tree header", h.start);
			memcpy(out->tree, h.value, h.value_len);
			out->tree[h.value_len] = '\0';
		} else if (name_is(&h, "tree")) {
			return fail("more than one tree header", h.start);
		} else if (name_is(&h, "parent")) {
			char id[65];

			if (parents_done)
				return fail("parent header after other headers", h.start);
			if (h.value_len != strlen(out->tree) || !is_hex_id(h.value, h.value_len) ||
			    h.end - h.start != h.value_len + 8)
				return fail("malformed parent header", h.start);
			memcpy(id, h.value, h.value_len);
			id[h.value_len] = '\0';
			if ((error = ef_strv_push(&out->parents, id)) < 0) {
				ef_error_set("out of memory");
				return error;
			}
		} else {
			parents_done = true;
		}

		if (name_is(&h, "author")) {
			if (have_author)
				return fail("more than one author header", h.start);
			have_author = true;
		} else if (name_is(&h, "committer")) {
			if (have_committer)
				return fail("more than one committer header", h.start);
			if (h.end - h.start != h.value_len + 11 ||
			    parse_ident_time(&out->committer_time, &out->committer_tz_minutes,
			                     h.value, h.value_len) < 0)
				return fail("malformed committer header", h.start);
			have_committer = true;
		} else if (name_is(&h, "gpgsig") || name_is(&h, "gpgsig-sha256")) {
			if (sig.name) {
				ef_error_set(
				        "duplicate signature header: '%.*s' at offset %zu after "
				        "'%.*s' at offset %zu",
				        (int)h.name_len, h.name, h.start, (int)sig.name_len,
				        sig.name, sig.start);
				return EF_EINVALID;
			}
			sig = h;
		} else if (h.name_len >= 6 && memcmp(h.name, "gpgsig", 6) == 0) {
			/* git leaves any "gpgsig*" header out of the payload; be explicit. */
			ef_error_set("unknown signature header '%.*s' (offset %zu)",
			             (int)(h.name_len > 64 ? 64 : h.name_len), h.name, h.start);
			return EF_EINVALID;
		}
		index++;
	}
	if (!body)
		return fail("commit headers do not end with a blank line", pos);
	if (!have_author)
		return fail("commit has no author header", 0);
	if (!have_committer)
		return fail("commit has no committer header", 0);
	if (!sig.name)
		return 0;
	/* git reads `gpgsig` in SHA-1 repositories and `gpgsig-sha256` in SHA-256
	 * ones, and ignores the other; the tree id tells which this object is. */
	if (name_is(&sig, strlen(out->tree) == 40 ? "gpgsig-sha256" : "gpgsig")) {
		ef_error_set("signature header '%.*s' does not fit a %s commit (offset %zu)",
		             (int)sig.name_len, sig.name,
		             strlen(out->tree) == 40 ? "SHA-1" : "SHA-256", sig.start);
		return EF_EINVALID;
	}

	/* The signature: the first line's value, then each continuation line
	 * without its leading space. Newlines are kept. */
	{
		size_t cap = sig.end - sig.start, n = 0, p = (size_t)(sig.value - raw);

		out->signature = malloc(cap + 1);
		out->payload = malloc(len - cap + 1);
		if (!out->signature || !out->payload) {
			ef_error_set("out of memory");
			return EF_ENOMEM;
		}
		while (p < sig.end) {
			const char *e = memchr(raw + p, '\n', sig.end - p);
			size_t l = (size_t)(e - (raw + p)) + 1;

			memcpy(out->signature + n, raw + p, l);
			n += l;
			p += l;
			if (p < sig.end)
				p++; /* the continuation space */
		}
		out->signature[n] = '\0';
		out->signature_len = n;
		out->signature_header = name_is(&sig, "gpgsig") ? "gpgsig" : "gpgsig-sha256";

		memcpy(out->payload, raw, sig.start);
		memcpy(out->payload + sig.start, raw + sig.end, len - sig.end);
		out->payload_len = len - cap;
		out->payload[out->payload_len] = '\0';
	}
	return 0;
}

void ef_commit_info_dispose(ef_commit_info *c)
{
	if (!c)
		return;
	free(c->payload);
	free(c->signature);
	ef_strv_free(c->parents);
	memset(c, 0, sizeof(*c));
}
