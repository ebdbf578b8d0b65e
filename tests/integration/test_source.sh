#!/bin/bash
# Integration test of the Git source against a real HTTPS Git server
# (tests/lib/git-server.sh), driven through tests/tools/ef_source_probe.
#
#   EF_BUILD_DIR=build tests/integration/test_source.sh
#
# Prints "N passed, M failed" and exits non-zero on any failure.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${EF_BUILD_DIR:-$root/build}
probe=$(readlink -f "$build/tests/tools/ef_source_probe" 2>/dev/null)
if [ ! -x "$probe" ]; then
	echo "test_source: no probe at $build/tests/tools/ef_source_probe (set EF_BUILD_DIR)" >&2
	exit 2
fi
# shellcheck source=../lib/git-server.sh
source "$root/tests/lib/git-server.sh"
# Under ASan: the one known leak of libgit2 1.5 (once per remote) is suppressed.
# Slow (DWARF) unwinding lets the suppression see libgit2's frames below PCRE2.
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
# check NAME EXPECTED_EXIT -- probe args...   (sets $out: stdout+stderr, $rc)
run_probe() {
	out=$("$probe" "$@" 2>&1)
	rc=$?
}
expect() {
	local name=$1 want_rc=$2 want_text=${3:-}
	if [ "$rc" -ne "$want_rc" ]; then
		not_ok "$name (exit $rc, wanted $want_rc)" "$out"
	elif [ -n "$want_text" ] && ! grep -qF -- "$want_text" <<<"$out"; then
		not_ok "$name (output lacks: $want_text)" "$out"
	else
		ok "$name"
	fi
}

# A short keep-alive so that the stale-connection case below is quick.
EF_GIT_KEEPALIVE_TIMEOUT=1s ef_git_server_start "$tmp/srv" || {
	echo "0 passed, 1 failed"
	exit 1
}
url=$(ef_git_repo_create env)
work="$tmp/work"
ef_git init -q "$work"
mkdir -p "$work/environments/prod"
echo '{"services": {}}' >"$work/environments/prod/compose.json"
ef_git -C "$work" add . && ef_git -C "$work" commit -qm first && ef_git -C "$work" push -q "$url" HEAD:main
first=$(git -C "$work" rev-parse HEAD)
cache="$tmp/cache.git"
common=(--url "$url" --ca "$EF_GIT_CA" --cache "$cache")

# 1. First fetch and a file read from the pushed commit.
run_probe "${common[@]}" --fetch --read environments/prod/compose.json
expect "first fetch reads the pushed file" 0 '{"services": {}}'
grep -qx "head=$first" <<<"$out" && grep -qx "changed=1" <<<"$out" &&
	ok "first poll reports the pushed commit as changed" ||
	not_ok "first poll reports the pushed commit as changed" "$out"
[ ! -e "$cache/FETCH_HEAD" ] && [ ! -e "$cache/logs" ] &&
	[ "$(git --git-dir="$cache" rev-parse refs/edgeflip/head)" = "$first" ] &&
	[ "$(git --git-dir="$cache" for-each-ref --format=x | wc -l)" -eq 1 ] &&
	ok "a fetch leaves one ref, no FETCH_HEAD and no reflog" ||
	not_ok "a fetch leaves one ref, no FETCH_HEAD and no reflog" "$(find "$cache" | sort)"

# 2. A no-change poll writes nothing under the cache.
touch "$tmp/marker"
sleep 0.05
run_probe "${common[@]}" --polls 5 --fetch
expect "no-change polls succeed" 0 "changed=0"
written=$(find "$cache" -newer "$tmp/marker")
[ -z "$written" ] && [ ! -e "$cache/FETCH_HEAD" ] && [ ! -e "$cache/logs" ] &&
	ok "a no-change poll writes nothing to disk" ||
	not_ok "a no-change poll writes nothing to disk" "$written"

# 3. A new commit is seen, fetched and descends from the first.
echo '{"services": {"web": {}}}' >"$work/environments/prod/compose.json"
ef_git -C "$work" commit -qam second && ef_git -C "$work" push -q "$url" HEAD:main
second=$(git -C "$work" rev-parse HEAD)
run_probe "${common[@]}" --fetch --read environments/prod/compose.json --descends-from "$first"
expect "a new commit is fetched" 0 '"web"'
grep -qx "head=$second" <<<"$out" && grep -qx "descends=1" <<<"$out" &&
	ok "the new commit descends from the first" || not_ok "the new commit descends from the first" "$out"
[ ! -e "$cache/FETCH_HEAD" ] && [ ! -e "$cache/logs" ] &&
	ok "a second fetch leaves no FETCH_HEAD and no reflog" ||
	not_ok "a second fetch leaves no FETCH_HEAD and no reflog" "$(find "$cache" | sort)"

# 4. Rewritten history (force push of an unrelated commit) does not descend.
other="$tmp/other"
ef_git init -q "$other" && echo x >"$other/x" && ef_git -C "$other" add x &&
	ef_git -C "$other" commit -qm unrelated && ef_git -C "$other" push -qf "$url" HEAD:main
run_probe "${common[@]}" --fetch --descends-from "$second"
expect "a force-pushed unrelated commit does not descend" 0 "descends=0"
ef_git -C "$work" push -qf "$url" HEAD:main

# 5. Missing file and missing branch.
run_probe "${common[@]}" --fetch --read environments/prod/nothing.json
expect "a missing file is not-found" 7 "has no file environments/prod/nothing.json"
run_probe "${common[@]}" --branch nope
expect "a missing branch is not-found" 7 "has no branch 'nope'"

# 6. A server certificate from another CA is refused.
ef_git_make_ca "$tmp/other-ca" "another CA" >/dev/null
run_probe --url "$url" --ca "$tmp/other-ca/ca.crt" --cache "$tmp/c-wrongca"
expect "a certificate from another CA is rejected" 4 "server certificate is not trusted by ca_file=$tmp/other-ca/ca.crt"

# 7. http:// is refused unless allowed.
run_probe --url "http://localhost:$EF_GIT_PORT/env.git" --cache "$tmp/c-http"
expect "http:// is refused" 8 "uses plain http://: refused"
run_probe --url "https://user:secret@localhost:$EF_GIT_PORT/env.git" --cache "$tmp/c-http"
expect "credentials in the URL are refused" 8 "must not contain a user name or password"

# 8. A connection the server closed while idle is replaced transparently.
before=$(awk '{print $1}' "$EF_GIT_ACCESS_LOG" | sort -u | wc -l)
run_probe "${common[@]}" --polls 3 --interval-ms 1500
after=$(awk '{print $1}' "$EF_GIT_ACCESS_LOG" | sort -u | wc -l)
expect "polls survive the server closing idle connections" 0 "polls=3"
[ $((after - before)) -eq 3 ] && ok "each poll after an idle close used a new connection" ||
	not_ok "each poll after an idle close used a new connection" "connections: $((after - before))"
run_probe "${common[@]}" --polls 20
before=$(tail -n 20 "$EF_GIT_ACCESS_LOG" | awk '{print $1}' | sort -u | wc -l)
[ "$rc" -eq 0 ] && [ "$before" -eq 1 ] && ok "20 quick polls share one connection" ||
	not_ok "20 quick polls share one connection" "$(tail -n 20 "$EF_GIT_ACCESS_LOG")"

# 9. Token file against the protected location; the token never shows.
token=$(cat "$EF_GIT_TOKEN_FILE")
b64=$(printf 'x-access-token:%s' "$token" | base64 -w0)
auth_url="${EF_GIT_AUTH_URL}env.git"
run_probe --url "$auth_url" --ca "$EF_GIT_CA" --cache "$tmp/c-auth" --token-file "$EF_GIT_TOKEN_FILE" \
	--fetch --read environments/prod/compose.json --verbose
expect "the token file opens the protected location" 0 '"web"'
if grep -qF -e "$token" -e "$b64" <<<"$out"; then
	not_ok "the token never appears in output (verbose)" "$out"
else
	ok "the token never appears in output (verbose)"
fi
run_probe --url "$auth_url" --ca "$EF_GIT_CA" --cache "$tmp/c-auth"
expect "no token: rejected" 4 "server refused access"
printf 'wrong-token\n' >"$tmp/wrong-token"
chmod 600 "$tmp/wrong-token"
run_probe --url "$auth_url" --ca "$EF_GIT_CA" --cache "$tmp/c-auth" --token-file "$tmp/wrong-token"
expect "a wrong token: rejected, naming token_file" 4 "check token_file=$tmp/wrong-token"
grep -qF "wrong-token" <<<"${out//$tmp\/wrong-token/}" && not_ok "a wrong token is not echoed" "$out" ||
	ok "a wrong token is not echoed"
printf 'x-access-token:%s\n' "$token" >"$tmp/user-token"
run_probe --url "$auth_url" --ca "$EF_GIT_CA" --cache "$tmp/c-auth" --token-file "$tmp/user-token"
expect "a user:token file works too" 0 "changed=0"
head -c 5000 /dev/zero | tr '\0' a >"$tmp/big-token"
run_probe --url "$auth_url" --ca "$EF_GIT_CA" --cache "$tmp/c-auth" --token-file "$tmp/big-token"
expect "a token file over 4 KiB is refused" 6 "is larger than 4096 bytes"

# 9b. A redirect to another origin is not followed: the token stays home.
if ef_git_redirect_server_start "$tmp/redirect"; then
	run_probe --url "${EF_REDIRECT_URL}env.git" --ca "$EF_GIT_CA" --cache "$tmp/c-redir" \
		--token-file "$EF_GIT_TOKEN_FILE" --fetch --read environments/prod/compose.json
	expect "a redirecting server is refused, naming the fix" 4 "does not follow redirects"
	if grep -qF -e "$token" -e "$b64" "$EF_REDIRECT_AUTH_LOG"; then
		not_ok "the token never reaches the redirect's target" "$(cat "$EF_REDIRECT_AUTH_LOG")"
	else
		ok "the token never reaches the redirect's target"
	fi
else
	not_ok "the redirecting server starts"
fi

# 10. Size cap: a commit larger than max_fetch_bytes is refused.
head -c 400000 /dev/urandom >"$work/blob.bin"
ef_git -C "$work" add blob.bin && ef_git -C "$work" commit -qm big && ef_git -C "$work" push -q "$url" HEAD:main
run_probe "${common[@]}" --fetch --max-bytes 100000
expect "a fetch over max_fetch_bytes is too-big" 6 "more than max_fetch_size=100000 bytes"
[ ! -e "$cache/FETCH_HEAD" ] && [ "$(git --git-dir="$cache" rev-parse refs/edgeflip/head)" = "$second" ] &&
	ok "an aborted fetch leaves the local ref alone" ||
	not_ok "an aborted fetch leaves the local ref alone" "$(git --git-dir="$cache" rev-parse refs/edgeflip/head)"
run_probe "${common[@]}" --fetch
expect "the same fetch within the cap succeeds" 0 "fetched=1"
[ "$(git --git-dir="$cache" cat-file -s HEAD:blob.bin 2>&1)" = 400000 ] &&
	ok "the large file is in the cache" || not_ok "the large file is in the cache"

# 11. A cache that is not a repository is moved aside and recreated.
mkdir -p "$tmp/c-bad" && echo junk >"$tmp/c-bad/HEAD"
run_probe --url "$url" --ca "$EF_GIT_CA" --cache "$tmp/c-bad" --fetch
expect "a broken cache is recreated" 0 "fetched=1"
ls -d "$tmp"/c-bad.corrupt-* >/dev/null 2>&1 && ok "the broken cache was moved aside" ||
	not_ok "the broken cache was moved aside" "$(ls "$tmp")"

# 12. Servers that answer one byte per second hit the deadline.
for mode in tls raw; do
	ef_git_slow_server_start "$tmp/slow-$mode" "$mode" || { not_ok "slow server ($mode) starts"; continue; }
	t0=$(date +%s%N)
	run_probe --url "$EF_SLOW_URL" --ca "$EF_SLOW_CA" --cache "$tmp/c-slow" --timeout-ms 2000
	ms=$((($(date +%s%N) - t0) / 1000000))
	expect "a one-byte-per-second server ($mode) times out" 5 "within the deadline of 2000 ms"
	[ "$ms" -lt 3500 ] && ok "the timeout ($mode) came within the deadline (${ms} ms)" ||
		not_ok "the timeout ($mode) came within the deadline (${ms} ms)"
	ef_git_slow_server_stop
done

# 13. Server stopped: unreachable.
ef_git_server_stop
run_probe "${common[@]}"
expect "a stopped server is unreachable" 3 "the server is unreachable"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
