/* Git protocol v2 ls-refs request and reply (see core/pkt.h). */
#include "pkt.h"

#include "edgeflip/error.h"

#include <stdlib.h>
#include <string.h>

static int put_pkt(ef_buf *out, const char *fmt_prefix, const char *value)
{
	size_t n = 4 + strlen(fmt_prefix) + strlen(value) + 1;

	if (n > EF_PKT_LINE_MAX) {
		ef_error_set("pkt-line too long (%zu bytes)", n);
		return EF_EINVALID;
	}
	return ef_buf_printf(out, "%04zx%s%s\n", n, fmt_prefix, value);
}

int ef_pkt_ls_refs_request(ef_buf *out, const char *ref_name, const char *also_prefix)
{
	int error;

	if ((error = put_pkt(out, "command=", "ls-refs")) < 0 ||
	    (error = ef_buf_puts(out, "0001")) < 0 ||
	    (error = put_pkt(out, "ref-prefix ", ref_name)) < 0)
		return error;
	if (also_prefix && (error = put_pkt(out, "ref-prefix ", also_prefix)) < 0)
		return error;
	return ef_buf_puts(out, "0000");
}

static int hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The length field of the pkt-line at p (4 bytes available), or -1. */
static long pkt_len(const char *p)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		int d = hex_digit((unsigned char)p[i]);

		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* Copies an ERR message for the error text, with anything unprintable shown
 * as '?', at most 200 bytes. */
static void printable(char *out, size_t cap, const char *p, size_t n)
{
	size_t i;

	if (n > cap - 1)
		n = cap - 1;
	for (i = 0; i < n; i++)
		out[i] = (unsigned char)p[i] >= 0x20 && (unsigned char)p[i] < 0x7f ? p[i] : '?';
	out[i] = '\0';
}

/* One ls-refs line (LF removed) at `off` in the reply. */
static int parse_line(char out_oid[65], bool *found, const char *p, size_t n, size_t off,
                      const char *ref_name, const char *prefix, char ***others)
{
	size_t hex = 0, name_len;
	const char *name;

	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] == 0x7f) {
			ef_error_set("ls-refs reply: control character at offset %zu", off + 4 + i);
			return EF_EINVALID;
		}
	}
	if (n >= 4 && memcmp(p, "ERR ", 4) == 0) {
		char msg[201];

		printable(msg, sizeof(msg), p + 4, n - 4);
		ef_error_set("ls-refs reply: the server sent an error: %s", msg);
		return EF_EINVALID;
	}
	while (hex < n && ((p[hex] >= '0' && p[hex] <= '9') || (p[hex] >= 'a' && p[hex] <= 'f')))
		hex++;
	if ((hex != 40 && hex != 64) || hex == n || p[hex] != ' ') {
		ef_error_set("ls-refs reply: bad object id at offset %zu", off + 4);
		return EF_EINVALID;
	}
	name = p + hex + 1;
	name_len = 0;
	while (hex + 1 + name_len < n && name[name_len] != ' ')
		name_len++;
	if (name_len == 0) {
		ef_error_set("ls-refs reply: empty ref name at offset %zu", off + 4 + hex + 1);
		return EF_EINVALID;
	}
	if (name_len != strlen(ref_name) || memcmp(name, ref_name, name_len) != 0) {
		size_t plen = prefix ? strlen(prefix) : 0;
		char *item;

		if (!others || !plen || name_len < plen || memcmp(name, prefix, plen) != 0)
			return 0;
		/* "<oid> <name>" */
		if (!(item = strndup(p, hex + 1 + name_len)) ||
		    ef_strv_push_owned(others, item) < 0)
			return EF_ENOMEM;
		return 0;
	}
	if (*found) {
		ef_error_set("ls-refs reply: %s listed twice", ref_name);
		return EF_EINVALID;
	}
	memcpy(out_oid, p, hex);
	out_oid[hex] = '\0';
	*found = true;
	return 0;
}

int ef_pkt_ls_refs_parse(char out_oid[65], bool *found, const char *data, size_t len,
                         const char *ref_name, const char *prefix, char ***others)
{
	size_t off = 0;
	int error;

	*found = false;
	out_oid[0] = '\0';
	if (others)
		*others = NULL;
	if (len == 0) {
		ef_error_set("ls-refs reply: empty (the server does not speak protocol v2)");
		return EF_EINVALID;
	}
	if (len > EF_PKT_LS_REFS_MAX) {
		ef_error_set("ls-refs reply: larger than %u bytes", EF_PKT_LS_REFS_MAX);
		return EF_EINVALID;
	}
	for (;;) {
		long n;

		if (len - off < 4) {
			ef_error_set("ls-refs reply: no flush packet at the end");
			goto fail;
		}
		n = pkt_len(data + off);
		if (n < 0) {
			ef_error_set("ls-refs reply: bad pkt-line length at offset %zu", off);
			goto fail;
		}
		if (n == 0)
			break;
		if (n < 4) {
			ef_error_set("ls-refs reply: unexpected special packet %04lx at offset %zu",
			             n, off);
			goto fail;
		}
		if (n == 4) {
			ef_error_set("ls-refs reply: empty pkt-line at offset %zu", off);
			goto fail;
		}
		if ((size_t)n > EF_PKT_LINE_MAX) {
			ef_error_set("ls-refs reply: pkt-line longer than %u bytes at offset %zu",
			             EF_PKT_LINE_MAX, off);
			goto fail;
		}
		if ((size_t)n > len - off) {
			ef_error_set("ls-refs reply: pkt-line at offset %zu runs past the end",
			             off);
			goto fail;
		}
		/* The trailing LF is optional in pkt-lines. */
		error = parse_line(out_oid, found, data + off + 4,
		                   (size_t)n - 4 - (data[off + (size_t)n - 1] == '\n'), off,
		                   ref_name, prefix, others);
		if (error < 0)
			goto fail;
		off += (size_t)n;
	}
	if (off + 4 != len) {
		ef_error_set("ls-refs reply: data after the flush packet at offset %zu", off + 4);
		goto fail;
	}
	return 0;
fail:
	*found = false;
	out_oid[0] = '\0';
	if (others) {
		ef_strv_free(*others);
		*others = NULL;
	}
	return EF_EINVALID;
}
