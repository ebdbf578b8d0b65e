#!/bin/bash
# Benchmark of the idle cost of the Git source: what one poll that finds the
# branch unchanged costs in CPU, disk writes, wire bytes and memory, against
# `git fetch` of the same repository in the same run. The fixture speaks Git
# protocol v2, so polls use ls-refs; the "v0 server" runs poll the same
# repository where the fixture only speaks v0 (EF_GIT_V0_URL), as libgit2's
# own listing did before.
#
#   EF_BUILD_DIR=build tests/bench/bench_poll.sh
#
# Prints "figure: value" lines. Loops are bounded (BENCH_POLLS, default 200;
# the memory run does 1000 polls).
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${EF_BUILD_DIR:-$root/build}
probe=$(readlink -f "$build/tests/tools/ef_source_probe" 2>/dev/null)
[ -x "$probe" ] || { echo "bench_poll: no probe under $build (set EF_BUILD_DIR)" >&2; exit 2; }
polls=${BENCH_POLLS:-200}
[ "$polls" -ge 2 ] && [ "$polls" -le 5000 ] || { echo "bench_poll: BENCH_POLLS must be 2..5000" >&2; exit 2; }
git_runs=10

# shellcheck source=../lib/git-server.sh
source "$root/tests/lib/git-server.sh"
tmp=$(mktemp -d)
trap 'ef_git_server_stop; rm -rf "$tmp"' EXIT

# One connection may carry all the polls of a run.
EF_GIT_KEEPALIVE_REQUESTS=100000 ef_git_server_start "$tmp/srv" >/dev/null || exit 1
url=$(ef_git_repo_create env)
work="$tmp/work"
ef_git init -q "$work"
mkdir -p "$work/environments/prod"
for i in $(seq 1 20); do echo "{\"n\": $i}" >"$work/environments/prod/file$i.json"; done
ef_git -C "$work" add . && ef_git -C "$work" commit -qm first && ef_git -C "$work" push -q "$url" HEAD:main

field() { sed -n "s/^$1=//p" <<<"$2" | head -n1; }

# Children's CPU time (user+sys) in microseconds: `times` must run in this
# shell (a command substitution would report its own, empty, children).
children_cpu_us() {
	times >"$tmp/times"
	tail -n1 "$tmp/times" | awk '{
		s = 0
		for (i = 1; i <= 2; i++) { split($i, p, "m"); sub("s", "", p[2]); s += p[1] * 60 + p[2] }
		printf "%d\n", s * 1000000 }'
}

# Wire bytes per poll, from nginx's access log: response + request bytes of
# the last N requests (HTTP level, without TLS framing).
log_bytes_per_request() {
	tail -n "$1" "$EF_GIT_ACCESS_LOG" | awk '{ s += $6 + $7 } END { printf "%.0f\n", s / NR }'
}

measure() { # LABEL [URL]: URL defaults to the v2 server; a v0 URL skips git fetch
	local label=$1 poll_url=${2:-$url} cache="$tmp/cache-$1" out g0 g1 clone="$tmp/clone-$1" lines0 conns
	"$probe" --url "$poll_url" --ca "$EF_GIT_CA" --cache "$cache" --fetch >/dev/null 2>&1 || return 1
	touch "$tmp/marker"
	sleep 0.05
	lines0=$(wc -l <"$EF_GIT_ACCESS_LOG")
	out=$("$probe" --url "$poll_url" --ca "$EF_GIT_CA" --cache "$cache" --polls "$polls" --rusage --mem-at 10,"$polls" 2>&1) || return 1
	conns=$(tail -n +"$((lines0 + 1))" "$EF_GIT_ACCESS_LOG" | awk '{print $1}' | sort -u | wc -l)
	echo "polls ($label): $polls on $conns TLS connection(s), $(field polls_v2 "$out") by protocol v2 ls-refs"
	echo "private memory (RssAnon) after 10 / $polls polls ($label): $(field rss_anon_kb_at_10 "$out") / $(field "rss_anon_kb_at_$polls" "$out") kB"
	echo "cpu per no-change poll ($label): $(field cpu_us_per_poll "$out") us"
	echo "wall time per no-change poll ($label): $(field wall_us_per_poll "$out") us"
	echo "wire bytes received per no-change poll, TLS level ($label): $(field wire_rx_bytes_per_poll "$out")"
	echo "wire bytes per no-change poll, HTTP request+response ($label): $(log_bytes_per_request $((polls - 1)))"
	echo "disk bytes written by no-change polls ($label): $(field disk_write_bytes_polls "$out") (/proc/self/io write_bytes over $((polls - 1)) polls)"
	echo "files changed under the cache by no-change polls ($label): $(find "$cache" -newer "$tmp/marker" | wc -l)"
	cpu_probe=$(field cpu_us_per_poll "$out")
	[ "$poll_url" = "$url" ] || return 0

	GIT_SSL_CAINFO="$EF_GIT_CA" GIT_CONFIG_GLOBAL=/dev/null git clone -q --bare "$url" "$clone" || return 1
	children_cpu_us >"$tmp/g0"
	for _ in $(seq 1 "$git_runs"); do
		GIT_SSL_CAINFO="$EF_GIT_CA" GIT_CONFIG_GLOBAL=/dev/null git -C "$clone" fetch -q origin || return 1
	done
	children_cpu_us >"$tmp/g1"
	g0=$(cat "$tmp/g0")
	g1=$(cat "$tmp/g1")
	echo "cpu per no-change git fetch ($label): $(((g1 - g0) / git_runs)) us (mean of $git_runs, git $(git --version | cut -d' ' -f3))"
	echo "git fetch / edgeflip poll cpu ratio ($label): $(awk -v g=$(((g1 - g0) / git_runs)) -v p="$cpu_probe" 'BEGIN { printf "%.0f", (p > 0 ? g / p : 0) }')"
}

echo "libgit2: $(pkg-config --modversion libgit2 2>/dev/null || echo unknown)"
measure "1 ref" || exit 1

# Private memory after 10 and after 1000 polls on one source (target: flat).
out=$("$probe" --url "$url" --ca "$EF_GIT_CA" --cache "$tmp/cache-1 ref" --polls 1000 --mem-at 10,1000) || exit 1
echo "private memory (RssAnon) after 10 polls: $(field rss_anon_kb_at_10 "$out") kB"
echo "private memory (RssAnon) after 1000 polls: $(field rss_anon_kb_at_1000 "$out") kB"

measure "1 ref, v0 server" "${EF_GIT_V0_URL}env.git" || exit 1

# 2000 more refs on the server: protocol v0 advertises every ref on every
# poll; ls-refs with a ref prefix sends the one branch.
sha=$(git -C "$work" rev-parse HEAD)
for i in $(seq -w 1 2000); do echo "create refs/heads/extra/b$i $sha"; done |
	git --git-dir="$EF_GIT_ROOT/env.git" update-ref --stdin
measure "2001 refs" || exit 1
measure "2001 refs, v0 server" "${EF_GIT_V0_URL}env.git" || exit 1

