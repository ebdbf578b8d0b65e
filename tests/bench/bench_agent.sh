#!/usr/bin/env bash
# Benchmark of the whole agent against real servers started here (HTTPS Git
# server, registry, Podman engine, as in tests/integration/test_agent.sh):
# binary size, peak and private memory, disk writes, CPU and wire bytes of a
# no-change poll (beside `git fetch` / `git ls-remote` in the same run), and
# the deploy time of a one-service change.
#
#   tests/bench/bench_agent.sh
#
# It builds the binary it measures: MinSizeRel, without fault injection, in
# BENCH_SIZE_BUILD_DIR (default build-minsize/). Prints "figure: value" lines;
# never asserts a timing. Source-level polling figures (the libgit2 poll alone,
# through ef_source_probe) are in bench_poll.sh; this script measures the
# agent as shipped: `edgeflip once` and the `edgeflip run` daemon.
#
# Settings (bounded):
#   BENCH_ONCE_RUNS=10      runs of `edgeflip once` / git per CPU figure (2..100)
#   BENCH_DAEMON_POLLS=1000 no-change polls of the daemon (20..5000)
#   BENCH_EXTRA_REFS=2000   extra refs on the server for the wire figures (0..20000)
#   BENCH_DEPLOYS=12        one-service deploys by the daemon (2..100)
#   BENCH_SKIP_BUILD=1      measure BENCH_SIZE_BUILD_DIR/edgeflip as it is
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
size_build=${BENCH_SIZE_BUILD_DIR:-$root/build-minsize}
runs=${BENCH_ONCE_RUNS:-10}
daemon_polls=${BENCH_DAEMON_POLLS:-1000}
extra_refs=${BENCH_EXTRA_REFS:-2000}
deploys=${BENCH_DEPLOYS:-12}
[ "$runs" -ge 2 ] && [ "$runs" -le 100 ] || { echo "BENCH_ONCE_RUNS must be 2..100" >&2; exit 2; }
[ "$daemon_polls" -ge 20 ] && [ "$daemon_polls" -le 5000 ] ||
	{ echo "BENCH_DAEMON_POLLS must be 20..5000" >&2; exit 2; }
[ "$deploys" -ge 2 ] && [ "$deploys" -le 100 ] || { echo "BENCH_DEPLOYS must be 2..100" >&2; exit 2; }
[ "$extra_refs" -ge 0 ] && [ "$extra_refs" -le 20000 ] ||
	{ echo "BENCH_EXTRA_REFS must be 0..20000" >&2; exit 2; }
measure=$here/measure.py

# --- the binary ----------------------------------------------------------------
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
	cmake -S "$root" -B "$size_build" -DCMAKE_BUILD_TYPE=MinSizeRel -DEF_FAULT_INJECTION=OFF \
		-DEF_TESTS=OFF -DEF_WERROR=OFF >/dev/null &&
		cmake --build "$size_build" -j"$(nproc 2>/dev/null || echo 2)" --target edgeflip edgeflip-proxy >"$size_build/bench-build.log" 2>&1 ||
		{ tail -30 "$size_build/bench-build.log" 2>/dev/null; echo "bench_agent: cannot build $size_build" >&2; exit 1; }
fi
EF_BIN=$(readlink -f "$size_build/edgeflip")
[ -x "$EF_BIN" ] || { echo "bench_agent: no $size_build/edgeflip" >&2; exit 1; }
export EF_BIN

source "$root/tests/lib/check.sh"
source "$root/tests/lib/git-server.sh"
source "$root/tests/lib/engine.sh"
source "$root/tests/lib/agent.sh"

work=$(mktemp -d /tmp/ef-bench-agent.XXXXXX)
chmod 755 "$work"
dpid=
cleanup()
{
	local p
	[ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	# The traffic proxy outlives the agent by design: stop ours by its pid.
	if p=$(cat "$work/agent/state/proxy/proxy.pid" 2>/dev/null) && [ -n "$p" ]; then
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "--state-dir $work/" && kill "$p" 2>/dev/null
	fi
	ef_podman_stop
	ef_registry_stop
	ef_git_server_stop
	rm -rf "$work"
}
trap cleanup EXIT

kib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }
field() { sed -n "s/^$1=//p" "$2" | head -n1; }
# /proc/PID/status field in kB
proc_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }
# Private memory by mapping: the N largest "Anonymous" totals from smaps.
anon_by_mapping()
{
	awk '/^[0-9a-f]+-[0-9a-f]+ / { name = ($6 == "" ? "[anon]" : $6); sub(".*/", "", name) }
	     /^Anonymous:/ { a[name] += $2 }
	     END { for (n in a) if (a[n] > 0) printf "%d %s\n", a[n], n }' "/proc/$1/smaps" 2>/dev/null |
		sort -rn | head -n "$2" | awk '{ printf "%s%s %s kB", (NR > 1 ? ", " : ""), $2, $1 }'
}
# Anonymous memory of the mappings of shared libraries (relocated data, GOT,
# .bss): private memory that linking dynamically costs before any work.
anon_in_libs()
{
	awk '/^[0-9a-f]+-[0-9a-f]+ / { lib = ($6 ~ /\.so/) }
	     /^Anonymous:/ { if (lib) s += $2 } END { print s + 0 }' "/proc/$1/smaps" 2>/dev/null
}
# CPU of a running process: "ticks_utime+stime ns_exec" (stat in clock ticks;
# schedstat's run time of every thread in ns, which is exact).
proc_cpu()
{
	local ticks ns=0 t
	ticks=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat")
	for t in /proc/"$1"/task/*/schedstat; do
		ns=$((ns + $(cut -d' ' -f1 "$t")))
	done
	echo "$ticks $ns"
}
proc_write_bytes() { awk '$1 == "write_bytes:" { print $2 }' "/proc/$1/io"; }
hz=$(getconf CLK_TCK)

echo "edgeflip: $EF_BIN ($("$EF_BIN" version 2>&1))"
echo "libgit2: $(pkg-config --modversion libgit2 2>/dev/null || echo unknown); git $(git --version | cut -d' ' -f3)"

# --- binary size -----------------------------------------------------------------
cp "$EF_BIN" "$work/edgeflip.stripped"
strip "$work/edgeflip.stripped"
sz=$(stat -c %s "$work/edgeflip.stripped")
echo "stripped binary, MinSizeRel, dynamically linked: $sz bytes ($(kib "$sz") KiB; target 300 KiB; $(ratio "$sz" 307200) of target)"
echo "stripped binary sections: $(size -A "$work/edgeflip.stripped" |
	awk '$1 ~ /^\.(text|rodata|eh_frame|data\.rel\.ro|data|bss|dynsym|dynstr|rela\.dyn|rela\.plt|plt)$/ { printf "%s%s %s", (n++ ? ", " : ""), $1, $2 }')"
echo "stripped binary, size(1): $(size "$work/edgeflip.stripped" | awk 'NR == 2 { printf "text %s data %s bss %s", $1, $2, $3 }')"
if [ -f "$size_build/libedgeflip_core.a" ]; then
	echo "largest objects (text+data, unstripped -Os): $(size "$size_build/libedgeflip_core.a" "$size_build"/CMakeFiles/edgeflip.dir/firmware/*.o 2>/dev/null |
		awk 'NR > 1 && $1 ~ /^[0-9]+$/ { f = $6; sub(".*/", "", f); sub(/\.c\.o.*/, "", f); print $1 + $2, f }' |
		sort -rn | head -8 | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1 }')"
fi
echo "shared libraries linked directly (NEEDED): $(readelf -d "$EF_BIN" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')"
nlibs=$(ldd "$EF_BIN" | grep -c '=> /')
libbytes=$(ldd "$EF_BIN" | awk '$3 ~ /^\// { print $3 }' | xargs -r stat -L -c %s | awk '{ s += $1 } END { print s + 0 }')
echo "shared libraries loaded in all (ldd): $nlibs, $(kib "$libbytes") KiB on disk"
echo "libraries pulled in by libcurl alone: $(ldd "$(ldd "$EF_BIN" | awk '$1 ~ /^libcurl/ { print $3 }')" | grep -c '=> /')"

# --- process start: the floor under every `edgeflip once` -----------------------------
python3 "$measure" mem "$work/m.log" -- "$EF_BIN" version >"$work/m"
python3 "$measure" cpu "$work/m.log" -- "$EF_BIN" version >"$work/c"
echo "edgeflip version (start-up only): cpu $(field cpu_us "$work/c") us, max RSS $(field maxrss_kb "$work/m") kB, RssAnon $(field rss_anon_peak_kb "$work/m") kB"

# --- servers and a deployed gateway ------------------------------------------------
EF_GIT_KEEPALIVE_REQUESTS=100000 ef_git_server_start "$work/git" >/dev/null || { echo "cannot start git server"; exit 1; }
ef_registry_start "$work/registry" || { echo "cannot start registry"; exit 1; }
ef_podman_start "$work/podman" || { echo "cannot start podman"; exit 1; }
ef_gitops_init "$work/ops" || { echo "cannot make the gitops repo"; exit 1; }
ef_agent_config "$work/agent" "deploy.soak=0s"
state=$work/agent/state
web1=$(ef_image_build web v1 "web v1") || exit 1
web2=$(ef_image_build web v2 "web v2") || exit 1
api1=$(ef_image_build api v1 "api v1") || exit 1
env=$EF_OPS_DIR/work/environments/production
port_web=$(ef_free_port)
ef_compose "$env/compose.json" "api=$api1" "web=$web1:$port_web"
ef_gitops_commit "first" || exit 1

python3 "$measure" mem "$work/once.log" -- "$EF_BIN" -c "$EF_AGENT_INI" once >"$work/m"
[ "$(field rc "$work/m")" = 0 ] || { echo "first deploy failed:"; cat "$work/once.log"; exit 1; }
echo "edgeflip once, first deploy (2 services): max RSS $(field maxrss_kb "$work/m") kB, RssAnon peak $(field rss_anon_peak_kb "$work/m") kB, cpu $(field cpu_us "$work/m") us, wall $(($(field wall_us "$work/m") / 1000)) ms"

# --- edgeflip once, no change ---------------------------------------------------------
python3 "$measure" mem "$work/once.log" -- "$EF_BIN" -c "$EF_AGENT_INI" once >"$work/m"
echo "edgeflip once, no change: max RSS $(field maxrss_kb "$work/m") kB ($(field maxrss_source "$work/m")), RssAnon peak $(field rss_anon_peak_kb "$work/m") kB"
touch "$work/marker"
sleep 1.1
total=0 wb=0
for _ in $(seq 1 "$runs"); do
	python3 "$measure" cpu "$work/once.log" -- "$EF_BIN" -c "$EF_AGENT_INI" once >"$work/c"
	[ "$(field rc "$work/c")" = 0 ] || { echo "no-change once failed:"; cat "$work/once.log"; exit 1; }
	total=$((total + $(field cpu_us "$work/c")))
	wb=$((wb + $(field write_bytes "$work/c")))
done
once_cpu=$((total / runs))
echo "edgeflip once, no change: cpu $once_cpu us (mean of $runs; new process, new TLS connection)"
echo "edgeflip once, no change: disk bytes written $((wb / runs)) (/proc/PID/io write_bytes, mean of $runs; goal 0)"
changed=$(find "$state" -newer "$work/marker" | grep -v '/proxy/' | sed "s|$state/||" | head -5 | tr '\n' ' ')
echo "edgeflip once, no change: files changed under state_dir: $(find "$state" -newer "$work/marker" | grep -vc '/proxy/') ${changed:+($changed)}(goal 0; the proxy's own folder not counted)"
echo "edgeflip once, no change: files changed under state_dir/proxy: $(find "$state/proxy" -newer "$work/marker" 2>/dev/null | wc -l)"

# --- references in the same run: git fetch and git ls-remote --------------------------
GIT_SSL_CAINFO="$EF_GIT_CA" GIT_CONFIG_GLOBAL=/dev/null git clone -q --bare "$EF_OPS_URL" "$work/clone.git" || exit 1
git_ref()
{
	# git_ref LABEL git-args...: mean CPU of RUNS no-change runs, and wire bytes.
	local label=$1 total=0 wb=0 l0 l1
	shift
	l0=$(wc -l <"$EF_GIT_ACCESS_LOG")
	for _ in $(seq 1 "$runs"); do
		python3 "$measure" cpu "$work/git.log" -- env GIT_SSL_CAINFO="$EF_GIT_CA" GIT_CONFIG_GLOBAL=/dev/null \
			git -C "$work/clone.git" "$@" >"$work/c"
		total=$((total + $(field cpu_us "$work/c")))
		wb=$((wb + $(field write_bytes "$work/c")))
	done
	l1=$(wc -l <"$EF_GIT_ACCESS_LOG")
	eval "cpu_$label=$((total / runs))"
	echo "git $label, no change: cpu $((total / runs)) us (mean of $runs), disk bytes written $((wb / runs)), wire bytes $(tail -n $((l1 - l0)) "$EF_GIT_ACCESS_LOG" |
		awk -v n="$runs" '{ s += $6 + $7 } END { printf "%.0f", s / n }') per run ($(((l1 - l0) / runs)) HTTP requests)"
}
git_ref fetch fetch -q origin main
git_ref ls_remote ls-remote -q origin refs/heads/main
# shellcheck disable=SC2154 # set by git_ref through eval
cpu_fetch_1ref=$cpu_fetch
# shellcheck disable=SC2154
echo "git fetch / edgeflip once cpu ratio: $(ratio "$cpu_fetch" "$once_cpu") (target for a closed connection: >= 3)"
# shellcheck disable=SC2154
echo "git ls-remote / edgeflip once cpu ratio: $(ratio "$cpu_ls_remote" "$once_cpu")"

# --- the daemon ---------------------------------------------------------------------------
# A poll is one ls-refs POST (protocol v2) or one info/refs GET (v0); the
# daemon phase fetches nothing, so every POST there is a poll.
polls_seen() { grep -cE 'info/refs|POST [^ ]*/git-upload-pack' "$EF_GIT_ACCESS_LOG"; }
wait_polls()
{
	# wait_polls N TIMEOUT_S: until N polls more than now reached the server.
	local want=$(($(polls_seen) + $1)) end=$((SECONDS + $2))
	while [ "$(polls_seen)" -lt "$want" ] && [ $SECONDS -lt $end ]; do sleep 0.05; done
	[ "$(polls_seen)" -ge "$want" ]
}
# kick_polls N: SIGUSR1 ("poll now") until N more polls were served; a kick
# landing during a pass is dropped, and the 1 s interval polls anyway.
kick_polls()
{
	local want=$(($(polls_seen) + $1)) seen end=$((SECONDS + $1 / 5 + 60)) n
	while [ $SECONDS -lt $end ]; do
		seen=$(polls_seen)
		[ "$seen" -ge "$want" ] && return 0
		kill -USR1 "$dpid" 2>/dev/null || return 1
		for n in $(seq 1 200); do
			[ "$(polls_seen)" -gt "$seen" ] && break
			sleep 0.005
		done
		sleep 0.02 # let the pass end (the engine listing) before the next kick
	done
	return 1
}
log_requests_since() { tail -n +"$(($1 + 1))" "$EF_GIT_ACCESS_LOG"; }

"$EF_BIN" -c "$EF_AGENT_INI" run 2>"$work/daemon.log" &
dpid=$!
wait_polls 1 30 || { echo "the daemon did not poll:"; cat "$work/daemon.log"; exit 1; }
start_polls=$(polls_seen)
l0=$(wc -l <"$EF_GIT_ACCESS_LOG")
read -r t0 ns0 <<<"$(proc_cpu "$dpid")"
w0=$(proc_write_bytes "$dpid")
s0=$(date +%s%N)
wait_polls 10 40
read -r t1 ns1 <<<"$(proc_cpu "$dpid")"
s1=$(date +%s%N)
n=$(($(polls_seen) - start_polls))
anon10=$(proc_kb "$dpid" RssAnon)
echo "daemon: private memory (RssAnon) after $((n + 1)) polls: $anon10 kB (target <= 2048 kB)"
echo "daemon: where that private memory is: $(anon_by_mapping "$dpid" 8); in shared libraries' mappings $(anon_in_libs "$dpid") kB"
echo "daemon: cpu per no-change poll, interval 1s: $(((ns1 - ns0) / n / 1000)) us (schedstat over $n polls; includes the 100 ms sleep slices between polls)"
echo "daemon: cpu while idle: $(awk -v c=$((ns1 - ns0)) -v w=$((s1 - s0)) 'BEGIN { printf "%.2f", c / w * 1000 }') ms per second"
echo "daemon: TLS connections for these polls: $(log_requests_since "$l0" | awk '{ print $1 }' | sort -u | wc -l)"

l0=$(wc -l <"$EF_GIT_ACCESS_LOG")
read -r t0 ns0 <<<"$(proc_cpu "$dpid")"
p0=$(polls_seen)
kick_polls $((daemon_polls - (p0 - start_polls) - 1)) || echo "daemon: kicked polls did not all arrive"
read -r t1 ns1 <<<"$(proc_cpu "$dpid")"
n=$(($(polls_seen) - p0))
total_polls=$(($(polls_seen) - start_polls + 1))
anon1000=$(proc_kb "$dpid" RssAnon)
w1=$(proc_write_bytes "$dpid")
echo "daemon: private memory (RssAnon) after $total_polls polls: $anon1000 kB (after 10: $anon10 kB; growth $((anon1000 - anon10)) kB; target: flat)"
echo "daemon: peak RSS (VmHWM) after $total_polls polls: $(proc_kb "$dpid" VmHWM) kB; RSS $(proc_kb "$dpid" VmRSS) kB"
daemon_cpu=$(((ns1 - ns0) / n / 1000))
echo "daemon: cpu per no-change poll, kept-alive connection: $daemon_cpu us (schedstat over $n kicked polls; /proc/PID/stat utime+stime: $(((t1 - t0) * 1000000 / hz / n)) us at 1/$hz s resolution; target <= 2000 us)"
echo "git fetch / daemon poll cpu ratio: $(ratio "$cpu_fetch_1ref" "$daemon_cpu") (target >= 30)"
echo "daemon: disk bytes written over $total_polls no-change polls: $((w1 - w0)) (/proc/PID/io write_bytes; goal 0)"
echo "daemon: TLS connections for $n polls: $(log_requests_since "$l0" | awk '{ print $1 }' | sort -u | wc -l)"
wire1=$(log_requests_since "$l0" | awk -v n="$n" '{ s += $6 + $7 } END { printf "%.0f", s / n }')
echo "wire bytes per no-change poll, 1 ref: $wire1 (HTTP request + response as nginx counts them; target <= 1024)"
echo "wire bytes per no-change git fetch, 1 ref: see above"

# --- the traffic proxy ----------------------------------------------------------------
ppid_=$(cat "$state/proxy/proxy.pid" 2>/dev/null)
if [ -n "$ppid_" ] && [ -r "/proc/$ppid_/status" ]; then
	echo "proxy: private memory (RssAnon), idle: $(proc_kb "$ppid_" RssAnon) kB (target <= 1024 kB); RSS $(proc_kb "$ppid_" VmRSS) kB"
	echo "proxy: where that private memory is: $(anon_by_mapping "$ppid_" 6); in shared libraries' mappings $(anon_in_libs "$ppid_") kB"
	urls=$(for _ in $(seq 1 200); do printf 'http://127.0.0.1:%s/ ' "$port_web"; done)
	# shellcheck disable=SC2086
	curl -s --max-time 60 $urls >/dev/null
	echo "proxy: private memory (RssAnon) after 200 requests: $(proc_kb "$ppid_" RssAnon) kB"
else
	echo "proxy: no proxy process found under $state/proxy"
fi

# Free heap pages that glibc keeps: what the daemon's private memory would be
# if it handed them back (malloc_trim). Diagnostic only, when gdb is here.
if command -v gdb >/dev/null; then
	gdb -q -batch -p "$dpid" -ex 'call (int) malloc_trim(0)' >/dev/null 2>&1 &&
		echo "daemon: private memory (RssAnon) after malloc_trim(0) through gdb: $(proc_kb "$dpid" RssAnon) kB (was $anon1000 kB)"
fi

# --- the daemon with a real CA bundle (the system's, plus the test CA) -----------------------
kill "$dpid" 2>/dev/null
wait "$dpid" 2>/dev/null
cat /etc/ssl/certs/ca-certificates.crt "$EF_GIT_CA" >"$work/bundle.pem" 2>/dev/null || cp "$EF_GIT_CA" "$work/bundle.pem"
ef_ini_set "$EF_AGENT_INI" source.ca_file "$work/bundle.pem"
"$EF_BIN" -c "$EF_AGENT_INI" run 2>>"$work/daemon.log" &
dpid=$!
wait_polls 1 30
kick_polls 10
echo "daemon: private memory (RssAnon) after 10 polls, ca_file = system bundle + test CA ($(grep -c 'BEGIN CERT' "$work/bundle.pem") certificates, $(stat -c %s "$work/bundle.pem") bytes): $(proc_kb "$dpid" RssAnon) kB"

# --- deploy time of a one-service change -----------------------------------------------
deploy_time()
{
	# deploy_time SOAK IMAGE NOTE: push a change of web only, time push -> "deployed".
	local soak=$1 image=$2 note=$3 t0 tnew='' tdep='' d0 n0 end
	ef_ini_set "$EF_AGENT_INI" deploy.soak "$soak"
	kill -HUP "$dpid"
	sleep 1.5
	d0=$(grep -c ' deployed ' "$work/daemon.log")
	n0=$(grep -c ' new-commit ' "$work/daemon.log")
	ef_compose "$env/compose.json" "api=$api1" "web=$image:$port_web"
	ef_gitops_commit "web $image soak $soak" || return 1
	t0=$(date +%s%N)
	end=$((SECONDS + 120))
	while [ $SECONDS -lt $end ]; do
		[ -z "$tnew" ] && [ "$(grep -c ' new-commit ' "$work/daemon.log")" -gt "$n0" ] && tnew=$(date +%s%N)
		if [ "$(grep -c ' deployed ' "$work/daemon.log")" -gt "$d0" ]; then
			tdep=$(date +%s%N)
			break
		fi
		grep -q ' rolled-back ' <(tail -n 5 "$work/daemon.log") && break
		sleep 0.01
	done
	if [ -z "$tdep" ]; then
		echo "deploy time, one service, soak $soak: failed (see the daemon log below)"
		tail -n 15 "$work/daemon.log"
		return 1
	fi
	echo "deploy time, one service changed, soak $soak, $note: $(((tdep - t0) / 1000000)) ms from push to \"deployed\" ($(((tnew - t0) / 1000000)) ms of it waiting for the next poll, interval 1s)"
}
deploy_time 0s "$web2" "image pulled from the registry"
deploy_time 0s "$web1" "image already present"
deploy_time 1s "$web2" "image already present"

# Config reloads: each builds a new agent, with a new git remote.
ef_ini_set "$EF_AGENT_INI" deploy.soak 0s
a0=$(proc_kb "$dpid" RssAnon)
for _ in 1 2 3; do
	kill -HUP "$dpid"
	sleep 0.3
	wait_polls 1 10
done
a1=$(proc_kb "$dpid" RssAnon)
echo "daemon: private memory growth per config reload (SIGHUP): $(((a1 - a0) / 3)) kB (mean of 3; $a0 -> $a1 kB)"

# One-service deploys by the daemon: does private memory settle?
deploy_once()
{
	local image=$1 d0 end
	d0=$(grep -c ' deployed ' "$work/daemon.log")
	ef_compose "$env/compose.json" "api=$api1" "web=$image:$port_web"
	ef_gitops_commit "deploy $image $RANDOM" || return 1
	kill -USR1 "$dpid"
	end=$((SECONDS + 60))
	while [ "$(grep -c ' deployed ' "$work/daemon.log")" -le "$d0" ] && [ $SECONDS -lt $end ]; do sleep 0.05; done
}
deploy_once "$web2"
a0=$(proc_kb "$dpid" RssAnon)
for i in $(seq 2 "$deploys"); do
	[ $((i % 2)) = 1 ] && image=$web2 || image=$web1
	deploy_once "$image"
done
echo "daemon: private memory (RssAnon) after 1 more deploy: $a0 kB; after $((deploys - 1)) more: $(proc_kb "$dpid" RssAnon) kB; peak RSS (VmHWM) $(proc_kb "$dpid" VmHWM) kB ($(grep -c ' deployed ' "$work/daemon.log") deploys in all)"

python3 "$measure" mem "$work/once.log" -- "$EF_BIN" -c "$EF_AGENT_INI" status >"$work/m"
echo "edgeflip status: max RSS $(field maxrss_kb "$work/m") kB, RssAnon peak $(field rss_anon_peak_kb "$work/m") kB, cpu $(field cpu_us "$work/m") us"

# --- a one-service deploy through edgeflip once: peak memory --------------------------------
kill "$dpid" 2>/dev/null
wait "$dpid" 2>/dev/null
dpid=
ef_compose "$env/compose.json" "api=$api1" "web=$web2:$port_web"
ef_gitops_commit "web v2 again" || exit 1
python3 "$measure" mem "$work/once.log" -- "$EF_BIN" -c "$EF_AGENT_INI" once >"$work/m"
echo "edgeflip once, one-service deploy: max RSS $(field maxrss_kb "$work/m") kB, RssAnon peak $(field rss_anon_peak_kb "$work/m") kB, cpu $(field cpu_us "$work/m") us, wall $(($(field wall_us "$work/m") / 1000)) ms (rc $(field rc "$work/m"))"

# --- many refs on the server ---------------------------------------------------------------
if [ "$extra_refs" -gt 0 ]; then
	sha=$(ef_gitops_head)
	for i in $(seq -w 1 "$extra_refs"); do echo "create refs/pull/$i/head $sha"; done |
		git --git-dir="$EF_GIT_ROOT/gitops.git" update-ref --stdin
	"$EF_BIN" -c "$EF_AGENT_INI" run 2>>"$work/daemon.log" &
	dpid=$!
	wait_polls 2 30
	l0=$(wc -l <"$EF_GIT_ACCESS_LOG")
	read -r t0 ns0 <<<"$(proc_cpu "$dpid")"
	p0=$(polls_seen)
	kick_polls 50
	read -r t1 ns1 <<<"$(proc_cpu "$dpid")"
	n=$(($(polls_seen) - p0))
	echo "wire bytes per no-change poll, $((extra_refs + 1)) refs: $(log_requests_since "$l0" | awk -v n="$n" '{ s += $6 + $7 } END { printf "%.0f", s / n }') (protocol v2 ls-refs with a ref prefix; target <= 1024)"
	echo "daemon: cpu per no-change poll, $((extra_refs + 1)) refs, kept-alive: $(((ns1 - ns0) / n / 1000)) us (over $n polls)"
	echo "daemon: private memory (RssAnon) with $((extra_refs + 1)) refs: $(proc_kb "$dpid" RssAnon) kB"
	kill "$dpid" 2>/dev/null
	wait "$dpid" 2>/dev/null
	dpid=
	total=0
	for _ in $(seq 1 "$runs"); do
		python3 "$measure" cpu "$work/once.log" -- "$EF_BIN" -c "$EF_AGENT_INI" once >"$work/c"
		total=$((total + $(field cpu_us "$work/c")))
	done
	once_cpu_refs=$((total / runs))
	echo "edgeflip once, no change, $((extra_refs + 1)) refs: cpu $once_cpu_refs us (mean of $runs)"
	GIT_SSL_CAINFO="$EF_GIT_CA" GIT_CONFIG_GLOBAL=/dev/null git -C "$work/clone.git" fetch -q origin main
	git_ref fetch fetch -q origin main
	echo "git fetch / edgeflip once cpu ratio, $((extra_refs + 1)) refs: $(ratio "$cpu_fetch" "$once_cpu_refs")"
	git --git-dir="$EF_GIT_ROOT/gitops.git" for-each-ref --format='delete %(refname)' refs/pull/ |
		git --git-dir="$EF_GIT_ROOT/gitops.git" update-ref --stdin
fi

# --- a server that closes the connection after each request --------------------------------
saved_log=$EF_GIT_ACCESS_LOG saved_root=$EF_GIT_ROOT
EF_GIT_KEEPALIVE_TIMEOUT=0 ef_git_server_start "$work/git-close" >/dev/null || { echo "cannot start the second git server"; exit 1; }
rm -rf "$EF_GIT_ROOT" && ln -s "$saved_root" "$EF_GIT_ROOT"
ef_ini_set "$EF_AGENT_INI" source.url "${EF_GIT_URL}gitops.git"
ef_ini_set "$EF_AGENT_INI" source.ca_file "$EF_GIT_CA"
"$EF_BIN" -c "$EF_AGENT_INI" run 2>>"$work/daemon.log" &
dpid=$!
if wait_polls 2 30; then
	read -r t0 ns0 <<<"$(proc_cpu "$dpid")"
	p0=$(polls_seen)
	kick_polls 30
	read -r t1 ns1 <<<"$(proc_cpu "$dpid")"
	n=$(($(polls_seen) - p0))
	closed_cpu=$(((ns1 - ns0) / n / 1000))
	echo "daemon: cpu per no-change poll, server closes the connection: $closed_cpu us (over $n polls, a TLS handshake each)"
	echo "git fetch / daemon poll cpu ratio, server closes the connection: $(ratio "$cpu_fetch_1ref" "$closed_cpu") (target >= 3)"
else
	echo "daemon: no polls against the closing server"
	tail -n 5 "$work/daemon.log"
fi
: "$saved_log"
