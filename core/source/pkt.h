/* Git protocol v2 `ls-refs` over pkt-lines: the request the Git source sends
 * on a no-change poll, and a strict parser of the server's reply. Private to
 * core/source/source.c (and its tests). See docs/source.md.
 *
 * pkt-line framing (git Documentation/gitprotocol-common.txt): four hex
 * digits give the length of the line including themselves, at most 65520;
 * "0000" is a flush packet, "0001" a delimiter, "0002" a response end. An
 * ls-refs reply (gitprotocol-v2.txt) is zero or more lines
 * "<oid> SP <refname> *(SP <attribute>) LF" and one flush packet. */
#ifndef EDGEFLIP_PKT_H
#define EDGEFLIP_PKT_H

#include "edgeflip/buf.h"

#include <stdbool.h>
#include <stddef.h>

/* Largest ls-refs reply accepted. A reply lists only the refs that start
 * with refs/heads/<branch>, so a real one is a few hundred bytes. */
#define EF_PKT_LS_REFS_MAX 65536u
/* Largest pkt-line (LARGE_PACKET_MAX in git). */
#define EF_PKT_LINE_MAX 65520u

/* Appends the request body "command=ls-refs", delimiter,
 * "ref-prefix <ref_name>", "ref-prefix <also_prefix>" (when not NULL: the
 * preview refs, listed in the same request), flush to `out`. */
int ef_pkt_ls_refs_request(ef_buf *out, const char *ref_name, const char *also_prefix);

/* Parses a whole ls-refs reply and looks for the line naming exactly
 * `ref_name`. On success *found tells whether it was listed and out_oid holds
 * its id (40 or 64 lower-case hex digits, NUL-terminated). EF_EINVALID with a
 * message for anything malformed: bad lengths, special packets other than the
 * final flush, a missing flush, data after it, bad ids or names, control
 * characters, `ref_name` listed twice, an ERR packet, or more than
 * EF_PKT_LS_REFS_MAX bytes. With `others` not NULL, the other refs that start
 * with `prefix` are collected there as "<oid> <name>" (ef_strv_free; NULL
 * when none or on failure). */
int ef_pkt_ls_refs_parse(char out_oid[65], bool *found, const char *data, size_t len,
                         const char *ref_name, const char *prefix, char ***others);

#endif
