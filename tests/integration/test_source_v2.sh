#!/bin/bash
# Integration test of the Git source's protocol v2 polls (ls-refs with a ref
# prefix) against the real HTTPS Git server of tests/lib/git-server.sh, which
# speaks v2 under EF_GIT_URL and only v0 under EF_GIT_V0_URL.
#
#   EF_BUILD_DIR=build tests/integration/test_source_v2.sh
#
# Prints "N passed, M failed" and exits non-zero on any failure.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${EF_BUILD_DIR:-$root/build}
probe=$(readlink -f "$build/tests/tools/ef_source_probe" 2>/dev/null)
if [ ! -x "$probe" ]; then
	echo "test_source_v2: no probe at $build/tests/tools/ef_source_probe (set EF_BUILD_DIR)" >&2
	exit 2
fi
# shellcheck source=../lib/git-server.sh
source "$root/tests/lib/git-server.sh"
export LSAN_OPTIONS="suppressions=$root/tests/lib/lsan-libgit2.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export ASAN_OPTIONS="fast_unwind_on_malloc=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

passed=0
failed=0
tmp=$(mktemp -d)
cleanup() {
	ef_git_server_stop
	rm -rf "$tmp"
}
trap cleanup EXIT

ok() {
	passed=$((passed + 1))
	echo "ok - $1"
}
not_ok() {
	failed=$((failed + 1))
	echo "not ok - $1"
	[ -n "${2:-}" ] && sed 's/^/    /' <<<"$2"
}
run_probe() {
	out=$("$probe" "$@" 2>&1)
	rc=$?
}
field() { sed -n "s/^$1=//p" <<<"$out" | head -n1; }
# check NAME CONDITION-RESULT [DETAIL]
check() {
	if [ "$2" -eq 0 ]; then ok "$1"; else not_ok "$1" "${3:-$out}"; fi
}
log_mark() { wc -l <"$EF_GIT_ACCESS_LOG"; }
log_since() { tail -n +"$(($1 + 1))" "$EF_GIT_ACCESS_LOG"; }

EF_GIT_KEEPALIVE_REQUESTS=100000 ef_git_server_start "$tmp/srv" || {
	echo "0 passed, 1 failed"
	exit 1
}
url=$(ef_git_repo_create env)
work="$tmp/work"
ef_git init -q "$work"
echo one >"$work/f" && ef_git -C "$work" add f && ef_git -C "$work" commit -qm one &&
	ef_git -C "$work" push -q "$url" HEAD:main
first=$(git -C "$work" rev-parse HEAD)
cache="$tmp/cache.git"
common=(--url "$url" --ca "$EF_GIT_CA" --cache "$cache")

# 1. Polls use ls-refs; the head is right; a poll request is small.
run_probe "${common[@]}" --polls 20 --fetch
[ "$rc" -eq 0 ] && [ "$(field head)" = "$first" ] && [ "$(field polls_v2)" = 20 ] && [ "$(field fetched)" = 1 ]
check "20 polls answered by ls-refs, the head is right, the fetch works" $?

# 2. 2000 more refs on the server (pull-request refs and branches), and two
# branches whose names start with the polled one: a poll stays under 1 KiB.
echo two >"$work/f" && ef_git -C "$work" commit -qam two && ef_git -C "$work" push -q "$url" HEAD:main2
second=$(git -C "$work" rev-parse HEAD)
{
	for i in $(seq 1 1000); do echo "create refs/pull/$i/head $second"; done
	for i in $(seq 1 998); do echo "create refs/heads/feature/b$i $second"; done
	echo "create refs/heads/main-old $second"
} | git --git-dir="$EF_GIT_ROOT/env.git" update-ref --stdin
refs=$(git --git-dir="$EF_GIT_ROOT/env.git" for-each-ref | wc -l)
[ "$refs" -eq 2001 ]
check "the server holds 2001 refs" $? "refs: $refs"
mark=$(log_mark)
run_probe "${common[@]}" --polls 20 --rusage
[ "$rc" -eq 0 ] && [ "$(field head)" = "$first" ] && [ "$(field polls_v2)" = 20 ]
check "with 2001 refs the head is still main's, not main2's or main-old's" $?
max=$(log_since "$mark" | awk '{ b = $6 + $7; if (b > m) m = b } END { print m + 0 }')
conns=$(log_since "$mark" | awk '{print $1}' | sort -u | wc -l)
[ "$max" -gt 0 ] && [ "$max" -le 1024 ]
check "each poll is at most 1 KiB on the wire, HTTP request+response (max ${max} B)" $? "$(log_since "$mark")"
rx=$(field wire_rx_bytes_per_poll)
awk -v r="$rx" 'BEGIN { exit !(r > 0 && r <= 1024) }'
check "each poll receives at most 1 KiB, TLS level (${rx} B)" $?
[ "$conns" -eq 1 ]
check "20 polls share one connection" $? "connections: $conns"

# 3. A force-push of an unrelated commit is seen and fetched on the same connection.
other="$tmp/other"
ef_git init -q "$other" && echo x >"$other/x" && ef_git -C "$other" add x &&
	ef_git -C "$other" commit -qm unrelated && ef_git -C "$other" push -qf "$url" HEAD:main
forced=$(git -C "$other" rev-parse HEAD)
mark=$(log_mark)
run_probe "${common[@]}" --polls 2 --fetch --descends-from "$first"
[ "$rc" -eq 0 ] && [ "$(field head)" = "$forced" ] && [ "$(field changed)" = 1 ] &&
	[ "$(field descends)" = 0 ] && [ "$(field polls_v2)" = 2 ]
check "a force-push is seen by ls-refs, fetched, and does not descend" $?
conns=$(log_since "$mark" | awk '{print $1}' | sort -u | wc -l)
[ "$conns" -eq 1 ]
check "the polls and the fetch share one connection" $? "$(log_since "$mark")"

# 4. A server that speaks only v0: one ls-refs try, then the libgit2 listing.
mark=$(log_mark)
run_probe --url "${EF_GIT_V0_URL}env.git" --ca "$EF_GIT_CA" --cache "$tmp/c-v0" --polls 5
[ "$rc" -eq 0 ] && [ "$(field head)" = "$forced" ] && [ "$(field polls_v2)" = 0 ]
check "a v0-only server: polls fall back to the v0 listing, the head is right" $?
grep -q 'source.protocol.*version=0' <<<"$out"
check "the fallback is logged" $?
posts=$(log_since "$mark" | grep -c 'POST .*/git-upload-pack')
gets=$(log_since "$mark" | grep -c 'GET .*/info/refs')
[ "$posts" -eq 1 ] && [ "$gets" -eq 5 ]
check "ls-refs is tried once per source, not on every poll (POST $posts, GET $gets)" $? "$(log_since "$mark")"

# 5. A passing fault on ls-refs (502) is not a refusal: that poll uses the
# listing, and the next poll tries ls-refs again.
mark=$(log_mark)
run_probe --url "${EF_GIT_POST502_URL}env.git" --ca "$EF_GIT_CA" --cache "$tmp/c-502" --polls 3
[ "$rc" -eq 0 ] && [ "$(field head)" = "$forced" ] && [ "$(field polls_v2)" = 0 ] &&
	! grep -q 'source.protocol' <<<"$out"
check "a 502 on ls-refs: the listing answers, v0 is not made permanent" $?
posts=$(log_since "$mark" | grep -c 'POST .*/git-upload-pack 502')
[ "$posts" -eq 3 ]
check "ls-refs is tried on each poll after a passing fault (POST $posts)" $? "$(log_since "$mark")"

# 6. The token goes with ls-refs requests too.
run_probe --url "${EF_GIT_AUTH_URL}env.git" --ca "$EF_GIT_CA" --cache "$tmp/c-auth" \
	--token-file "$EF_GIT_TOKEN_FILE" --polls 3
[ "$rc" -eq 0 ] && [ "$(field head)" = "$forced" ] && [ "$(field polls_v2)" = 3 ]
check "ls-refs polls carry the token" $?
mark=$(log_mark)
run_probe --url "${EF_GIT_AUTH_URL}env.git" --ca "$EF_GIT_CA" --cache "$tmp/c-auth"
[ "$rc" -eq 4 ] && grep -qF "server refused access" <<<"$out" &&
	[ "$(log_since "$mark" | grep -c 'info/refs')" -eq 0 ]
check "ls-refs without the token: rejected, no fallback to the listing" $? "$out
$(log_since "$mark")"

# 7. A missing branch is not found through ls-refs (and through the listing).
run_probe "${common[@]}" --branch nope
[ "$rc" -eq 7 ] && grep -qF "has no branch 'nope'" <<<"$out" && ! grep -q 'source.protocol' <<<"$out"
check "a missing branch is not-found, and does not switch to v0" $?

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
