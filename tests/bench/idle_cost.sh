#!/usr/bin/env bash
# What an idle gateway pays per hour (issue 17): one service deployed behind
# the proxy, `interval = 60s`, nothing changing. Three phases of IDLE_MINUTES
# each, in one run, against real servers started here (HTTPS Git, registry,
# Podman):
#   A. the daemon runs idle: its CPU (schedstat ns) and wake-ups (schedstat
#      timeslices; voluntary context switches), the proxy's, the engine's CPU
#      (utime+stime of `podman system service`, all threads), wire bytes
#      (nginx's access log: request + reply bytes)
#   B. the daemon stopped (the proxy keeps serving): the engine's own idle CPU,
#      so A - B is the engine work the agent causes
#   C. the cron-style reference users run instead, once a minute: `git fetch`
#      of the same repository plus an engine listing (curl to
#      /containers/json, what `docker compose ps` asks) — their CPU, the
#      engine's CPU beyond B, wire bytes.
#   D. 30 engine listings back to back: the engine CPU of one listing, the
#      request the agent now makes only every 10th poll (B's idle rate is
#      taken off). Podman's own idle CPU varies by more than A - B, so D is
#      the figure to trust for "engine work per poll".
# Prints "figure: value" lines and ratios; never asserts a timing.
#
#   IDLE_MINUTES=10   length of each phase (1..60)
#   IDLE_WATCH=pids   [engine] watch of the daemon: pids (the default: a
#                     pidfd per container, no engine request while idle),
#                     events (the event stream) or list (a listing each poll)
#   IDLE_EVENTS=off   the older knob: IDLE_WATCH=list
#   IDLE_PHASES=A     phase A only: the agent's and the proxy's figures
#                     (one third of the time); the default is ABCD
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
minutes=${IDLE_MINUTES:-10}
[ "$minutes" -ge 1 ] && [ "$minutes" -le 60 ] || { echo "IDLE_MINUTES must be 1..60" >&2; exit 2; }
phase_s=$((minutes * 60))
EF_BUILD_DIR=${EF_BUILD_DIR:-$root/build}
measure=$here/measure.py
source "$root/tests/lib/check.sh"
source "$root/tests/lib/git-server.sh"
source "$root/tests/lib/engine.sh"
source "$root/tests/lib/agent.sh"

ef_e2e_start idle-bench
DAEMON_PID=
trap '[ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null; ef_e2e_stop' EXIT
watch=${IDLE_WATCH:-pids}
phases=${IDLE_PHASES:-ABCD}
case $phases in A | ABCD) ;; *) echo "IDLE_PHASES must be A or ABCD" >&2; exit 2 ;; esac
[ "${IDLE_EVENTS:-}" = off ] && watch=list
ef_agent_config "$work/agent" agent.interval=60s engine.watch=$watch
web=$(ef_image_build web v1 "web v1") || exit 1
port=$(ef_free_port)
ef_compose "$EF_OPS_DIR/work/environments/production/compose.json" "web=$web:$port"
ef_gitops_commit "first" || exit 1
ef_agent once 2>"$work/once.log" || { echo "idle_cost: first deploy failed"; cat "$work/once.log"; exit 1; }
proxy_pid=$(cat "$work/agent/state/proxy/proxy.pid" 2>/dev/null)

# CPU ns and timeslices of every thread of PID (schedstat), voluntary and
# involuntary switches, and utime+stime in ms (stat: counts exited threads too).
sched() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ns += $1; n += $3} END {printf "%d %d", ns, n}'; }
vol() { awk '/^voluntary_ctxt/ {v=$2} /^nonvoluntary_ctxt/ {n=$2} END {printf "%d %d", v, n}' "/proc/$1/status"; }
stat_ms() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%d", ($12 + $13) * 1000 / hz }' "/proc/$1/stat"; }
wire() { awk '{ b += $6 + $7 } END { printf "%d", b }' "$EF_GIT_ACCESS_LOG" 2>/dev/null; }
reqs() { wc -l <"$EF_GIT_ACCESS_LOG" 2>/dev/null || echo 0; }
per_h() { python3 -c "import sys; print(round(float(sys.argv[1]) * 3600 / float(sys.argv[2]), 1))" "$1" "$phase_s"; }
ratio() { python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print(round(a / b, 1) if b > 0 else 'inf')" "$1" "$2"; }

echo "idle_cost: $minutes min per phase; interval 60 s; [engine] watch = $watch; engine pid $EF_PODMAN_PID; proxy pid ${proxy_pid:-none}"

# --- A: the daemon idles ---------------------------------------------------------------
"$EF_BIN" -c "$EF_AGENT_INI" run 2>"$work/daemon.log" &
DAEMON_PID=$!
ef_wait_until 30 grep -qE "engine-events|engine-watch" "$work/daemon.log" || echo "idle_cost: the daemon says nothing of how it watches the engine"
# The start-up pass, the listing on connect and the first poll are not idle
# cost: the first wait is the interval plus a random phase of up to another
# interval, past nginx's 75 s keep-alive, so that poll may make a new TLS
# connection (~18 ms); later polls, 54-66 s apart, keep the connection.
sleep 5
r_start=$(reqs)
first_poll() { [ "$(reqs)" -gt "$r_start" ]; }
ef_wait_until 130 first_poll || echo "idle_cost: no poll within 130 s of the start"
sleep 2
read -r a_ns0 a_sl0 < <(sched "$DAEMON_PID"); read -r a_v0 a_i0 < <(vol "$DAEMON_PID")
[ -n "$proxy_pid" ] && { read -r p_ns0 p_sl0 < <(sched "$proxy_pid"); read -r p_v0 p_i0 < <(vol "$proxy_pid"); }
e0=$(stat_ms "$EF_PODMAN_PID"); w0=$(wire); r0=$(reqs)
read -r _ es0 < <(sched "$EF_PODMAN_PID")
sleep "$phase_s"
read -r _ es1 < <(sched "$EF_PODMAN_PID")
engine_a_sl=$((es1 - es0))
read -r a_ns1 a_sl1 < <(sched "$DAEMON_PID"); read -r a_v1 a_i1 < <(vol "$DAEMON_PID")
[ -n "$proxy_pid" ] && { read -r p_ns1 p_sl1 < <(sched "$proxy_pid"); read -r p_v1 p_i1 < <(vol "$proxy_pid"); }
e1=$(stat_ms "$EF_PODMAN_PID"); w1=$(wire); r1=$(reqs)
polls=$(((r1 - r0) > 0 ? (r1 - r0) : 0))
agent_cpu_ms=$(python3 -c "print(($a_ns1 - $a_ns0) / 1e6)")
agent_wake=$((a_v1 - a_v0 + a_i1 - a_i0))
engine_a_ms=$((e1 - e0))
wire_a=$((w1 - w0))
"$EF_BIN" -c "$EF_AGENT_INI" status | sed -n '/^daemon:/,$p' | sed 's/^/  status: /'
kill "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null; DAEMON_PID=
# The agent's and the proxy's figures are complete here: said at once.
echo "agent cpu ms/h: $(per_h "$agent_cpu_ms") (goal <= 100)"
echo "agent wake-ups/h: $(per_h "$agent_wake") (context switches; schedstat timeslices: $(per_h $((a_sl1 - a_sl0)))) (goal <= 200)"
echo "agent polls in phase A: $polls requests to the git server"
if [ -n "$proxy_pid" ]; then
	echo "proxy cpu ms/h: $(per_h "$(python3 -c "print(($p_ns1 - $p_ns0) / 1e6)")")"
	echo "proxy wake-ups/h: $(per_h $((p_v1 - p_v0 + p_i1 - p_i0))) (goal <= 10, helper D's part)"
fi
[ "$phases" = A ] && exit 0

# --- B: the daemon stopped ---------------------------------------------------------------
sleep 2
e0=$(stat_ms "$EF_PODMAN_PID")
read -r _ es0 < <(sched "$EF_PODMAN_PID")
sleep "$phase_s"
read -r _ es1 < <(sched "$EF_PODMAN_PID")
e1=$(stat_ms "$EF_PODMAN_PID")
engine_b_ms=$((e1 - e0))
engine_b_sl=$((es1 - es0))

# --- C: cron-style reference, once a minute ------------------------------------------------
clone=$work/cron.git
ef_git clone -q --bare "$EF_OPS_URL" "$clone" || { echo "idle_cost: cannot clone"; exit 1; }
e0=$(stat_ms "$EF_PODMAN_PID"); w0=$(wire)
cron_cpu_us=0; runs=0
end=$((SECONDS + phase_s))
filters='%7B%22label%22%3A%5B%22io.edgeflip.service%22%5D%7D'
while [ $SECONDS -lt "$end" ]; do
	python3 "$measure" cpu "$work/cron.log" -- sh -c "GIT_SSL_CAINFO='$EF_GIT_CA' GIT_CONFIG_GLOBAL=/dev/null git -C '$clone' fetch -q origin main &&
		curl -sf --unix-socket '$EF_PODMAN_SOCK' 'http://d/v1.41/containers/json?all=true&filters=$filters' >/dev/null" >"$work/c"
	cron_cpu_us=$((cron_cpu_us + $(sed -n 's/^cpu_us=//p' "$work/c")))
	runs=$((runs + 1))
	left=$((end - SECONDS)); [ "$left" -gt 60 ] && left=60
	[ "$left" -gt 0 ] && sleep "$left"
done
e1=$(stat_ms "$EF_PODMAN_PID"); w1=$(wire)
engine_c_ms=$((e1 - e0))
wire_c=$((w1 - w0))

# --- D: what one engine listing costs the engine ---------------------------------------------
# The idle engine's own CPU (B) varies by more than the agent causes in a
# phase, so the cost of the one request the agent still makes now and then
# is also measured directly: 30 listings back to back, minus B's rate.
n_list=30
t0=$(date +%s%N); e0=$(stat_ms "$EF_PODMAN_PID")
for _ in $(seq "$n_list"); do
	curl -sf --unix-socket "$EF_PODMAN_SOCK" "http://d/v1.41/containers/json?all=true&filters=$filters" >/dev/null
done
e1=$(stat_ms "$EF_PODMAN_PID"); t1=$(date +%s%N)
list_ms=$(python3 -c "print(round(($e1 - $e0 - $engine_b_ms * ($t1 - $t0) / 1e9 / $phase_s) / $n_list, 2))")

# --- figures, per hour -------------------------------------------------------------------
engine_agent_ms=$((engine_a_ms - engine_b_ms))
engine_cron_ms=$((engine_c_ms - engine_b_ms))
echo "engine cpu ms/h, own idle (agent stopped): $(per_h "$engine_b_ms")"
echo "engine cpu ms/h caused by the agent: $(per_h "$engine_agent_ms") (stat ticks: +-10 ms per phase)"
echo "engine wake-ups/h (schedstat timeslices, all threads): agent running $(per_h "$engine_a_sl"), agent stopped $(per_h "$engine_b_sl") (Podman's file events logger polls its file while a stream is open)"
[ "$polls" -gt 0 ] && echo "engine cpu ms per poll caused by the agent, A - B: $(python3 -c "print(round($engine_agent_ms / $polls, 2))") (within the engine's own variation)"
echo "engine cpu ms per listing (direct, $n_list listings): $list_ms"
if [ "${IDLE_EVENTS:-on}" = off ]; then
	echo "engine cpu ms per poll, a listing every poll: $list_ms (goal <= 1)"
else
	echo "engine cpu ms per poll, from the listing every 10th poll: $(python3 -c "print(round($list_ms / 10, 2))") (goal <= 1; plus what the open stream costs the engine: A - B, and the wake-ups above)"
fi
echo "wire bytes/h, agent: $(per_h "$wire_a")"
echo "cron reference: $runs runs of git fetch + engine listing"
echo "cron cpu ms/h: $(per_h "$(python3 -c "print($cron_cpu_us / 1000)")")"
echo "engine cpu ms/h caused by cron: $(per_h "$engine_cron_ms")"
echo "wire bytes/h, cron: $(per_h "$wire_c")"
echo "cron / agent cpu ratio: $(ratio "$(python3 -c "print($cron_cpu_us / 1000)")" "$agent_cpu_ms")"
echo "cron / agent engine-cpu ratio: $(ratio "$engine_cron_ms" "$engine_agent_ms")"
echo "cron / agent wire ratio: $(ratio "$wire_c" "$wire_a")"
