#!/usr/bin/env bash
# Fleet simulation (issue 14): N real `edgeflip run` daemons, each with its
# own state_dir, configuration and device_id, started at the same moment
# against one nginx + git http-backend HTTPS server (tests/lib/git-server.sh)
# and one signed GitOps repository. Their container engine is the ENGINE
# STAND-IN tests/bench/engine_standin.py (one process, one socket per
# agent): it answers the Engine API calls a deploy makes and runs nothing.
# It is used here and only here; every test of behaviour uses real Podman.
# The switch is the hook backend with /bin/true (no proxy per agent).
#
# Phases:
#   1. all agents start at once and deploy the first commit;
#   2. no-change polls: server CPU (nginx + fcgiwrap + git http-backend,
#      utime+stime of the processes and their reaped children, /proc) per
#      1,000 polls, HTTP bytes per poll per device (nginx's access log), and
#      the spread of polls over one interval after the start (histogram);
#   3. a commit with x-edgeflip.rollout {start: now, duration, start_percentage}:
#      each device's deploy (first container start with the new commit's
#      environment, seen by the stand-in) against its planned time from the
#      wariness formula of docs/fleet.md; adoption curve plotted with
#      gnuplot to $EF_FLEET_OUT/adoption.png.
# Prints "figure: value" lines; asserts nothing about timings.
#
#   EF_FLEET_AGENTS=200     number of agents (1..1000)
#   EF_FLEET_INTERVAL=30    [agent] interval, seconds (5..300)
#   EF_FLEET_DURATION=180   rollout duration, seconds (30..1800)
#   EF_FLEET_PCT=10         rollout start_percentage
#   EF_FLEET_LIMIT=900      hard bound of the whole run, seconds
#   EF_FLEET_OUT=$EF_BUILD_DIR/fleet   where the plot and data files go
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export EF_BUILD_DIR=${EF_BUILD_DIR:-$root/build}
agents=${EF_FLEET_AGENTS:-200}
interval=${EF_FLEET_INTERVAL:-30}
duration=${EF_FLEET_DURATION:-180}
pct=${EF_FLEET_PCT:-10}
limit=${EF_FLEET_LIMIT:-900}
out=${EF_FLEET_OUT:-$EF_BUILD_DIR/fleet}
[ "$agents" -ge 1 ] && [ "$agents" -le 1000 ] || { echo "fleet_sim: EF_FLEET_AGENTS must be 1..1000" >&2; exit 2; }
[ "$interval" -ge 5 ] && [ "$interval" -le 300 ] || { echo "fleet_sim: EF_FLEET_INTERVAL must be 5..300" >&2; exit 2; }
[ "$duration" -ge 30 ] && [ "$duration" -le 1800 ] || { echo "fleet_sim: EF_FLEET_DURATION must be 30..1800" >&2; exit 2; }
[ "$pct" -ge 0 ] && [ "$pct" -le 100 ] || { echo "fleet_sim: EF_FLEET_PCT must be 0..100" >&2; exit 2; }
bin=$EF_BUILD_DIR/edgeflip
[ -x "$bin" ] || { echo "fleet_sim: no $bin (set EF_BUILD_DIR)" >&2; exit 2; }
if ! command -v gnuplot >/dev/null; then
	echo "fleet_sim: installing gnuplot-nox" >&2
	{ apt-get install -y gnuplot-nox || { apt-get update && apt-get install -y gnuplot-nox; }; } \
		>/dev/null 2>&1 || echo "fleet_sim: cannot install gnuplot-nox; no plot" >&2
fi
ulimit -n 4096 2>/dev/null

# shellcheck source=../lib/git-server.sh
source "$root/tests/lib/git-server.sh"
# shellcheck source=../lib/agent.sh
source "$root/tests/lib/agent.sh"
tmp=$(mktemp -d /tmp/ef-fleet.XXXXXX)
chmod 755 "$tmp"
mkdir -p "$out"
rm -f "$out"/adoption*
AGENT_PIDS=() STANDIN_PID=
cleanup() {
	local p
	for p in "${AGENT_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${AGENT_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	[ -n "$STANDIN_PID" ] && kill "$STANDIN_PID" 2>/dev/null && wait "$STANDIN_PID" 2>/dev/null
	ef_git_server_stop
	[ -n "${EF_FLEET_KEEP:-}" ] && echo "fleet_sim: kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
deadline=$((SECONDS + limit))
left() { echo $((deadline - SECONDS)); }
now() { date +%s.%N | cut -c1-14; }

# --- server and repository ---------------------------------------------------
EF_GIT_WORKER_CONNECTIONS=$((agents * 2 + 64)) EF_GIT_FCGI_CHILDREN=4 \
	ef_git_server_start "$tmp/git" >/dev/null || exit 1
ef_gitops_init "$tmp/ops" || exit 1
env_dir=$EF_OPS_DIR/work/environments/production
write_compose() { # REV [ROLLOUT_JSON]
	python3 - "$env_dir/compose.json" "$1" "${2:-}" <<'PY'
import json, sys
path, rev, rollout = sys.argv[1], sys.argv[2], sys.argv[3]
m = {"services": {"app": {"image": "localhost/fleet-app@sha256:" + "ab" * 32,
                          "environment": {"FLEET_REV": rev}}}}
if rollout:
    m["x-edgeflip"] = {"rollout": json.loads(rollout)}
json.dump(m, open(path, "w"), indent=1)
PY
}
write_compose first
ef_gitops_commit first >/dev/null || { echo "fleet_sim: cannot push"; exit 1; }

# --- engine stand-in ------------------------------------------------------------
mkdir -p "$tmp/engine"
python3 "$here/engine_standin.py" --dir "$tmp/engine" --count "$agents" \
	--log "$tmp/engine.log" --seconds "$limit" >"$tmp/standin.out" 2>&1 &
STANDIN_PID=$!
ef_wait() { # SECONDS CMD...: true once CMD succeeds
	local end=$((SECONDS + $1))
	shift
	while [ $SECONDS -lt $end ]; do "$@" && return 0; sleep 0.5; done
	return 1
}
ef_wait 30 test -S "$tmp/engine/engine-$(printf %04d $((agents - 1))).sock" ||
	{ echo "fleet_sim: the engine stand-in did not start"; cat "$tmp/standin.out"; exit 1; }

# --- agents ------------------------------------------------------------------------
ids=()
for i in $(seq 0 $((agents - 1))); do
	id=$(printf 'gw-%04d' "$((i + 1))")
	ids+=("$id")
	d=$tmp/a/$id
	mkdir -p "$d/state"
	chmod 700 "$d/state"
	cat >"$d/edgeflip.ini" <<EOF
[agent]
device_id = $id
state_dir = $d/state
interval = ${interval}s
max_backoff = 60s
[source]
url = $EF_OPS_URL
branch = main
path = environments/production
ca_file = $EF_GIT_CA
timeout = 60s
[trust]
allowed_signers = $EF_OPS_DIR/keys/allowed_signers
[engine]
endpoint = unix://$tmp/engine/engine-$(printf %04d "$i").sock
project = fleet
[switch]
backend = hook
hook = /bin/true
[deploy]
soak = 1s
health_timeout = 30s
stop_timeout = 1s
drain = 0s
EOF
done

echo "fleet_sim: $agents agents (edgeflip run), interval ${interval}s, engine stand-in pid $STANDIN_PID, git server $EF_GIT_URL"
# Forking 200 processes takes seconds on a loaded machine: each waits on a
# FIFO first and execs edgeflip (same pid) when it is opened and closed, so
# all start within a fraction of a second.
mkfifo "$tmp/go"
mkdir "$tmp/ready"
for id in "${ids[@]}"; do
	sh -c ': >"$4/$$"; read -r _ <"$1"; exec "$2" -c "$3" run' fleet-agent "$tmp/go" "$bin" \
		"$tmp/a/$id/edgeflip.ini" "$tmp/ready" 2>"$tmp/a/$id/daemon.log" &
	AGENT_PIDS+=($!)
done
all_ready() { [ "$(find "$tmp/ready" -type f | wc -l)" -ge "$agents" ]; }
ef_wait 120 all_ready || { echo "fleet_sim: the agents' shells did not start"; exit 1; }
sleep 1 # from its ready file to the open() of the FIFO
t_start=$(now)
exec 3>"$tmp/go"
sleep 0.2
exec 3>&-
exe_count() {
	local p n=0
	for p in "${AGENT_PIDS[@]}"; do
		[ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$(readlink -f "$bin")" ] && n=$((n + 1))
	done
	echo "$n"
}
t_started=$(now)
n_exec=$(exe_count)
echo "figure: agents started: $agents released at once; $n_exec running edgeflip $(python3 -c "print(round($t_started - $t_start, 2))") s later"

deployed() { # MARK: number of engines that started a container with MARK
	python3 - "$tmp/engine.log" "$1" <<'PY'
import json, sys
seen = set()
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["op"] == "start" and any(sys.argv[2] in v for v in e["env"]):
        seen.add(e["engine"])
print(len(seen))
PY
}
all_first() { [ "$(deployed FLEET_REV=first)" -ge "$agents" ]; }
ef_wait $((interval * 3 < $(left) ? interval * 3 : $(left))) all_first
t_first=$(now)
n_first=$(deployed FLEET_REV=first)
echo "figure: first deploy done on $n_first of $agents agents within $(python3 -c "print(round($t_first - $t_start, 1))") s of the start"
alive=0
for p in "${AGENT_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
[ "$alive" -eq "$agents" ] || echo "fleet_sim: only $alive agents still run"

# --- no-change polls: spread, server CPU, bytes ---------------------------------
# Server CPU: utime+stime of nginx, fcgiwrap and their children, plus what
# reaped children (git http-backend, git upload-pack) left in cutime+cstime.
server_ticks() {
	local pid p
	for pid in $EF_GIT_PIDS; do
		for p in $pid $(pgrep -P "$pid"); do cat "/proc/$p/stat" 2>/dev/null; done
	done | awk '{ sub(/.*\) /, ""); s += $12 + $13 + $14 + $15 } END { print s + 0 }'
}
agent_ticks() {
	local p
	for p in "${AGENT_PIDS[@]}"; do cat "/proc/$p/stat" 2>/dev/null; done |
		awk '{ sub(/.*\) /, ""); s += $12 + $13 } END { print s + 0 }'
}
hz=$(getconf CLK_TCK)
# The quiet window lasts two intervals. It starts two intervals after the
# last first deploy: a daemon's first wait is one interval plus a random
# phase of up to one more, so from then on every agent polls in its steady
# phase.
w0=$(python3 -c "print($t_first + 2 * $interval)")
sleep "$(python3 -c "print(max(0, $w0 - $(now)))")"
c0=$(server_ticks)
a0=$(agent_ticks)
sleep $((interval * 2))
w1=$(now)
c1=$(server_ticks)
a1=$(agent_ticks)
polls=0 requests=0 bytes=0
eval "$(python3 "$here/fleet_sim.py" bytes "$EF_GIT_ACCESS_LOG" "$w0" "$w1")"
echo "no-change window: $(python3 -c "print(round($w1 - $w0, 1))") s, $polls polls, $requests requests"
if [ "$polls" -gt 0 ]; then
	echo "figure: git server cpu per 1000 no-change polls: $(python3 -c "print(round(($c1 - $c0) * 1000 / $hz / $polls, 2))") s (nginx + fcgiwrap + git http-backend, $((c1 - c0)) ticks of 1/$hz s over $polls polls)"
	echo "figure: bytes per no-change poll per device: $((bytes / polls)) (HTTP request + reply, nginx access log; $(python3 -c "print(round($requests / $polls, 2))") requests per poll)"
	echo "figure: agent cpu per no-change poll (mean over the agents): $(python3 -c "print(round(($a1 - $a0) * 1e6 / $hz / $polls))") us (utime+stime of the daemons, clock ticks)"
	echo "figure: polls per device per interval: $(python3 -c "print(round($polls / $agents / (($w1 - $w0) / $interval), 2))")"
fi
# Spread: the two intervals of the quiet window (the first starts one
# interval after the simultaneous start, or after the first deploys).
for k in 1 2; do
	from=$(python3 -c "print($w0 + ($k - 1) * $interval)")
	echo "spread of polls, interval $k of the quiet window (from t0 + $(python3 -c "print(round($from - $t_start, 1))") s):"
	python3 "$here/fleet_sim.py" spread "$EF_GIT_ACCESS_LOG" "$from" "$interval" "$agents" 10 >"$tmp/spread"
	sed 's/^/  /' "$tmp/spread"
	pick() { awk -v k="$1: " 'index($0, k) == 1 { print substr($0, length(k) + 1) }' "$tmp/spread"; }
	echo "figure: poll spread, interval $k of the quiet window after a simultaneous start of $agents agents: max deviation of a 10% bucket from uniform $(pick 'max deviation from uniform') (random phases: $(pick 'random-phase reference (median / 95th percentile of max deviation)')); max gap of the cumulative share from uniform $(pick 'max gap of the cumulative share from uniform') (random phases: $(pick 'random-phase reference for the cumulative gap (median / 95th percentile)')) (goal +-10%)"
done

# --- rollout ----------------------------------------------------------------------------
if [ "$(left)" -lt $((duration + interval * 3)) ]; then
	echo "fleet_sim: not enough time left for the rollout ($(left) s)"
	exit 1
fi
start_epoch=$(date +%s)
start_rfc=$(date -u -d "@$start_epoch" +%Y-%m-%dT%H:%M:%SZ)
write_compose "rollout-$start_epoch" \
	"{\"start\": \"$start_rfc\", \"duration\": \"${duration}s\", \"start_percentage\": $pct}"
ef_gitops_commit "rollout" >/dev/null || { echo "fleet_sim: cannot push the rollout"; exit 1; }
echo "rollout: start $start_rfc, duration ${duration}s, start_percentage $pct"
mark="FLEET_REV=rollout-$start_epoch"
all_rolled() { [ "$(deployed "$mark")" -ge "$agents" ]; }
wait_s=$((duration + interval * 2 + 30))
[ "$wait_s" -gt "$(left)" ] && wait_s=$(left)
ef_wait "$wait_s" all_rolled
python3 "$here/fleet_sim.py" adoption "$tmp/engine.log" "$mark" "$start_epoch" "$duration" \
	"$pct" "$interval" "$out" "${ids[@]}" >"$tmp/adoption.txt"
sed 's/^/  /' "$tmp/adoption.txt"
val() { sed -n "s/^$1=//p" "$tmp/adoption.txt"; }
echo "figure: rollout devices deployed: $(val deployed) (duration ${duration}s, start_percentage $pct)"
echo "figure: rollout max lag behind the planned time: $(val lag_max) s (goal <= interval $interval s)"
echo "figure: rollout earliest deploy relative to planned time: $(val lag_min) s (negative = before its turn)"
echo "figure: rollout median lag: $(val lag_median) s"
echo "figure: rollout devices later than one interval: $(val late_beyond_interval)"
echo "figure: rollout max lag, the $(val wave_devices) devices whose turn came >= 1 interval after start: $(val wave_lag_max) s (median $(val wave_lag_median) s)"
echo "figure: rollout max lag, the $(val first_devices) devices due within the first interval (they see the commit at their next poll): $(val first_lag_max) s"
[ "$(val unknown_engine_calls)" = 0 ] || echo "fleet_sim: the agents made engine calls the stand-in does not know: see $tmp/engine.log"
if command -v gnuplot >/dev/null && gnuplot "$out/adoption.gp" 2>"$tmp/gnuplot.err"; then
	echo "figure: adoption plot: $out/adoption.png"
else
	echo "fleet_sim: no plot: $(cat "$tmp/gnuplot.err" 2>/dev/null)"
fi
# Agents' errors, for the reader: warnings and errors over the whole run.
errs=$(cat "$tmp"/a/*/daemon.log | grep -cE ' (warn|error) ')
echo "agent warnings+errors in logs: $errs"
[ "$errs" -eq 0 ] || cat "$tmp"/a/*/daemon.log | grep -E ' (warn|error) ' | awk '{ $1 = ""; print }' |
	sed 's/commit=[0-9a-f]*//' | sort | uniq -c | sort -rn | head -5
