#!/usr/bin/env bash
# check-layering.sh — the layering of docs/architecture.md, checked on the
# #include lines of core/, port/ and include/edgeflip/, and the size of files.
#
#   bash tests/lib/check-layering.sh [ROOT]
#
# Rules (docs/architecture.md, "Who includes whom"):
#   - core parts are ranked: base < source, trust, secrets, compose < policy
#     < deploy < agent. A file of a part includes its own headers, base,
#     the port interfaces (include/edgeflip/sys/*.h) and the public headers
#     of parts ranked below it; never a sibling's, a higher part's or a
#     port's, never another folder's private header ("../x/y.h").
#   - a port (port/*) includes base, include/edgeflip/sys/*.h, its own
#     public header (port/switch: proxy.h) and headers of its own folder.
#   - include/edgeflip/sys/*.h (what backends see) include base and sys only.
#   - core/ includes no <curl/...>, <sys/socket.h>, <sys/un.h>, <netdb.h>,
#     <getopt.h> and calls no getopt(): sockets, HTTP and command lines
#     belong to port/ and firmware/.
#   - no .c file of core/ or port/ is longer than MAX_LINES.
# Known crossings and long files are listed in ALLOW below, each with the
# issue that removes it; anything else fails. An entry that no longer matches
# is reported (remove it) but does not fail.
#
# After checking ROOT (default: this checkout) the script checks itself: it
# copies the tree, adds one crossing of each kind and expects each to fail.
# Prints "N passed, M failed"; exits 1 when anything failed.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=${1:-$(cd "$HERE/../.." && pwd)}
MAX_LINES=1200

# shellcheck source=tests/lib/check.sh
. "$HERE/check.sh"

# Known violations: "FILE WHAT" (WHAT: the included name as written, or
# "lines" for the size rule). Each line says who removes it.
ALLOW=(
)

# The part that owns a public header (include/edgeflip/NAME.h). config.h
# counts as base: it declares the settings every part reads (ef_config,
# ef_policy) and nothing else; its loader is the agent's (core/agent/config.c)
# and only the agent and firmware/ call it.
owner_of_header() {
	case $1 in
	buf | error | log | fault | features | config | date) OWNER=base ;;
	source) OWNER=source ;;
	verify | imagesig) OWNER=trust ;;
	secrets) OWNER=secrets ;;
	manifest | compose | compose_read | pin | rollout) OWNER=compose ;;
	policy) OWNER=policy ;;
	plan | state | health | deploy | spec | files) OWNER=deploy ;;
	agent | backoff | fleet | previews) OWNER=agent ;;
	proxy) OWNER=port/switch ;;
	*) OWNER=unknown ;;
	esac
}

rank_of() {
	case $1 in
	base) RANK=0 ;;
	source | trust | secrets | compose) RANK=1 ;;
	policy) RANK=2 ;;
	deploy) RANK=3 ;;
	agent) RANK=4 ;;
	*) RANK=99 ;;
	esac
}

allowed() { # allowed FILE WHAT
	local a
	for a in "${ALLOW[@]}"; do
		[ "$a" = "$1 $2" ] && return 0
	done
	return 1
}

# why_refused FILE PART INCLUDED QUOTED(1|0): sets WHY to why it is refused,
# or to nothing. (Variables, not output: a subshell per #include line made
# this check take minutes.)
why_refused() {
	local part=$2 inc=$3 quoted=$4 name owner rank
	WHY=
	if [ "$quoted" = 0 ]; then
		case $part in
		port/* | sys) return ;;
		esac
		case $inc in
		curl/* | sys/socket.h | sys/un.h | netdb.h | getopt.h)
			WHY="core/ uses no <$inc>: sockets, HTTP and option parsing live in port/ or firmware/ behind include/edgeflip/sys/*.h"
			;;
		esac
		return
	fi
	case $inc in
	edgeflip/sys/*.h) return ;; # the port interfaces: everyone may see them
	edgeflip/*.h)
		name=${inc#edgeflip/}
		name=${name%.h}
		owner_of_header "$name"
		owner=$OWNER
		[ "$owner" = base ] && return
		[ "$owner" = "$part" ] && return
		case $part in
		sys)
			WHY="a port interface may include only base headers and include/edgeflip/sys/*.h, not $inc (part $owner)"
			;;
		port/*)
			WHY="a port sees only base headers and include/edgeflip/sys/*.h, not $inc (part $owner): hand it what it needs through the interface"
			;;
		*)
			if [ "$owner" = unknown ]; then
				WHY="$inc belongs to no part: add it to owner_of_header in tests/lib/check-layering.sh and docs/architecture.md"
			else
				rank_of "$owner"
				rank=$RANK
				rank_of "$part"
				[ "$rank" -lt "$RANK" ] ||
					WHY="part $part may not include $inc of part $owner (same rank or above: data flows one way, see docs/architecture.md)"
			fi
			;;
		esac
		;;
	*/*)
		WHY="a private header of another folder ($inc): move what is shared into a public header of the part below"
		;;
	esac
}

# check_tree ROOT: prints one "file:line: message" per violation; sets
# VIOLATIONS, CHECKED and USED (allowlist entries that matched).
check_tree() {
	local root=$1 f rel part line num inc quoted why n cur=
	local -a files
	VIOLATIONS=0
	USED=()
	mapfile -t files < <(find "$root/core" "$root/port" "$root/include/edgeflip" -name '*.[ch]' | sort)
	CHECKED=${#files[@]}
	# One grep and one wc for the whole tree: a process per file made this
	# check (run on eleven trees) take minutes.
	while IFS= read -r line; do
		f=${line%%:*}
		line=${line#*:}
		num=${line%%:*}
		line=${line#*:}
		if [ "$f" != "$cur" ]; then
			cur=$f
			rel=${f#"$root"/}
			case $rel in
			core/*) part=${rel#core/} part=${part%%/*} ;;
			port/*) part=port/${rel#port/} part=${part%/*} ;;
			include/edgeflip/sys/*) part=sys ;;
			include/edgeflip/*)
				part=${rel#include/edgeflip/}
				owner_of_header "${part%.h}"
				part=$OWNER
				;;
			esac
		fi
		if [[ $line =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]+)\" ]]; then
			inc=${BASH_REMATCH[1]}
			quoted=1
		elif [[ $line =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\<([^\>]+)\> ]]; then
			inc=${BASH_REMATCH[1]}
			quoted=0
		elif [[ $rel == core/* && $line =~ (^|[^a-z_])getopt(_long)?[[:space:]]*\( ]]; then
			inc=getopt.h
			quoted=0
		else
			continue
		fi
		why_refused "$rel" "$part" "$inc" "$quoted"
		why=$WHY
		[ -n "$why" ] || continue
		if allowed "$rel" "$inc"; then
			USED+=("$rel $inc")
			continue
		fi
		echo "$rel:$num: #include ${inc}: $why"
		VIOLATIONS=$((VIOLATIONS + 1))
	done < <(grep -nHE '#[[:space:]]*include|getopt' "${files[@]}")
	while read -r n f; do
		rel=${f#"$root"/}
		case $rel in
		core/*.c | port/*.c) ;;
		*) continue ;;
		esac
		[ "$n" -gt "$MAX_LINES" ] || continue
		if allowed "$rel" lines; then
			USED+=("$rel lines")
		else
			echo "$rel: $n lines, more than $MAX_LINES: split it by what it owns (docs/architecture.md)"
			VIOLATIONS=$((VIOLATIONS + 1))
		fi
	done < <(wc -l "${files[@]}")
}

echo "# layering of $ROOT"
check_tree "$ROOT" >"${TMPDIR:-/tmp}/layering.$$" 2>&1
out=$(cat "${TMPDIR:-/tmp}/layering.$$")
rm -f "${TMPDIR:-/tmp}/layering.$$"
if [ "$VIOLATIONS" -eq 0 ]; then
	ef_pass "no include crosses the layering, no file over $MAX_LINES lines ($CHECKED files, ${#ALLOW[@]} known exceptions)"
else
	ef_fail "$VIOLATIONS new crossing(s) of the layering" "$(printf '\n%s' "$out")"
fi
for a in "${ALLOW[@]}"; do
	used=0
	for u in "${USED[@]}"; do [ "$u" = "$a" ] && used=1; done
	[ $used = 1 ] || echo "note: known exception '$a' no longer occurs: remove it from ALLOW in tests/lib/check-layering.sh"
done

# The check must fail when the layering breaks: one crossing of each kind
# in a copy of the tree.
echo "# the check itself"
if [ "${1:-}" = "" ]; then
	copy=$(mktemp -d /tmp/edgeflip-layering.XXXXXX)
	trap 'rm -rf "$copy"' EXIT
	mutate() { # mutate NAME FILE LINE-TO-APPEND
		rm -rf "${copy:?}"/*
		cp -r "$ROOT/core" "$ROOT/port" "$ROOT/include" "$copy/"
		printf '%s\n' "$3" >>"$copy/$2"
		check_tree "$copy" >/dev/null
		if [ "$VIOLATIONS" -ge 1 ]; then
			ef_pass "refused: $1"
		else
			ef_fail "not refused: $1"
		fi
	}
	mutate "compose includes the agent's header" core/compose/pos.c '#include "edgeflip/agent.h"'
	mutate "policy includes deploy's plan.h" core/policy/policy.c '#include "edgeflip/plan.h"'
	mutate "trust includes a sibling part (compose)" core/trust/verify.c '#include "edgeflip/manifest.h"'
	mutate "deploy includes <curl/curl.h>" core/deploy/plan.c '#include <curl/curl.h>'
	mutate "deploy includes <curl/easy.h>" core/deploy/health.c '#include <curl/easy.h>'
	mutate "agent calls getopt()" core/agent/backoff.c 'static int f(int c, char **v) { return getopt(c, v, "x"); }'
	mutate "a port includes the policy" port/posix/clock.c '#include "edgeflip/policy.h"'
	mutate "a port interface includes deploy's state.h" include/edgeflip/sys/clock.h '#include "edgeflip/state.h"'
	mutate "core reaches into a port's private header" core/deploy/plan.c '#include "../../port/switch/switch_int.h"'
	mutate "a core file over $MAX_LINES lines" core/base/buf.c "$(printf '/* x */\n%.0s' $(seq $((MAX_LINES + 1))))"
fi
ef_summary
