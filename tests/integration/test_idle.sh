#!/usr/bin/env bash
# The idle daemon (issue 17): drift repaired from the engine's event stream
# ([engine] watch = events), not by the poll (interval 30 s; the repair must
# come well before the next poll), across a restart of the engine service; an
# idle daemon wakes up only for its deadlines (few context switches in 5 s);
# status shows its cost. Then watch = list (a listing each poll, no stream)
# and the default, watch = pids: a pidfd on each container's process, no
# request to the engine while idle, an exit repaired at once; and its fallback
# to the event stream when the engine's processes are not visible (the daemon
# in a PID namespace of its own).
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/e2e.sh"

ef_e2e_start idle
DAEMON_PID=
stop_daemon()
{
	[ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
}
trap 'stop_daemon; ef_e2e_stop' EXIT
ef_agent_config "$work/agent" agent.interval=30s engine.watch=events
api1=$(ef_image_build api v1 "api v1") || exit 1
env=$EF_OPS_DIR/work/environments/production
log=$work/daemon.log

api_running() { ef_running | awk '$1 == "api" && $4 == "running" {print $3}' | head -1; }
count() { grep -c "$1" "$log" 2>/dev/null || true; }
ctxt() { awk '/^voluntary_ctxt_switches/ {v=$2} /^nonvoluntary_ctxt_switches/ {n=$2} END {print v + n}' "/proc/$DAEMON_PID/status"; }

ef_compose "$env/compose.json" "api=$api1"
ef_gitops_commit "first" || exit 1
ef_agent once 2>"$work/once.log"
ef_expect_eq "first deploy exits 0" 0 $?
id0=$(api_running)
ef_check "api runs" test -n "$id0"

"$EF_BIN" -c "$EF_AGENT_INI" run 2>"$log" &
DAEMON_PID=$!
ef_check "daemon follows the engine's events" ef_wait_until 20 grep -q "engine-events" "$log"
sleep 2 # the first pass and the listing on connect are done

# --- idle: no periodic wake-ups ---------------------------------------------
c0=$(ctxt)
sleep 5
c1=$(ctxt)
echo "# idle daemon: $((c1 - c0)) context switches in 5 s"
# A 100 ms tick gives ~50; the daemon only wakes for its deadlines.
ef_check "idle daemon wakes < 20 times in 5 s (got $((c1 - c0)))" test $((c1 - c0)) -lt 20

# --- a container killed by hand comes back from the event, not the poll -----
# The last pass ran when the daemon started; the next is due 27-33 s later.
# A repair within 20 s of the kill can only come from the event path.
api_up() { [ -n "$(api_running)" ]; }
drift_logged() { [ "$(count ' drift ')" -gt "$1" ]; }
# The repair is a deploy: done when it logs "deployed" (after health and soak).
repaired() { [ "$(count ' deployed ')" -gt "$1" ]; }
t0=$SECONDS
d0=$(count ' drift ')
r0=$(count ' deployed ')
$EF_PODMAN kill "$id0" >/dev/null
ef_check "kill: drift seen from the event within 10 s" ef_wait_until 10 drift_logged "$d0"
ef_check "kill: repaired within 20 s (interval 30 s)" ef_wait_until 18 repaired "$r0"
ef_check "kill: the service runs" api_up
echo "# kill -> running again in $((SECONDS - t0)) s"
ef_expect_contains "kill: the log names the event" "$(cat "$log")" 'engine-event event="die api'

# --- removed by hand ----------------------------------------------------------
id1=$(api_running)
t0=$SECONDS
d0=$(count ' drift ')
r0=$(count ' deployed ')
$EF_PODMAN rm -f -t 0 "$id1" >/dev/null
ef_check "rm: drift seen from the event" ef_wait_until 15 drift_logged "$d0"
ef_check "rm: repaired" ef_wait_until 18 repaired "$r0"
ef_check "rm: the service runs" api_up
echo "# rm -> running again in $((SECONDS - t0)) s"

# --- the engine service restarts: the stream is followed again --------------
e0=$(count "engine-events endpoint")
kill "$EF_PODMAN_PID"
wait "$EF_PODMAN_PID" 2>/dev/null
ef_check "engine down: the daemon says the stream is lost" \
	ef_wait_until 10 grep -q "engine-events-lost" "$log"
$EF_PODMAN system service --time=0 "unix://$EF_PODMAN_SOCK" >>"$EF_PODMAN_DIR/podman.log" 2>&1 &
EF_PODMAN_PID=$!
ef__wait_for 100 curl -sf --unix-socket "$EF_PODMAN_SOCK" http://d/_ping
reconnected() { [ "$(count "engine-events endpoint")" -gt "$e0" ]; }
ef_check "engine back: the daemon follows its events again" ef_wait_until 20 reconnected
sleep 1
id2=$(api_running)
t0=$SECONDS
d0=$(count ' drift ')
r0=$(count ' deployed ')
$EF_PODMAN kill "$id2" >/dev/null
ef_check "after the engine restart: kill seen" ef_wait_until 15 drift_logged "$d0"
ef_check "after the engine restart: repaired" ef_wait_until 18 repaired "$r0"
ef_check "after the engine restart: the service runs" api_up
echo "# after restart: kill -> running again in $((SECONDS - t0)) s"

# --- status shows what the daemon costs ----------------------------------------
json=$(ef_agent status --json)
cost=$(printf '%s' "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin)["daemon"]; print(d["pid"], d["cpu_ms"] > 0, d["wakeups"] > 0)' 2>&1)
ef_expect_eq "status --json: the daemon's pid, cpu_ms and wakeups" "$DAEMON_PID True True" "$cost"
ef_expect_contains "status: a daemon line" "$(ef_agent status)" "wake-ups"
ef_check "no error in the daemon's log" sh -c "! grep ' error ' '$log'"

stop_daemon
ef_expect_contains "status: daemon not running after stop" "$(ef_agent status)" "not running"

# --- [engine] events = off: a full listing every poll, no stream ----------------
# The daemon talks to the engine through a socat that logs every request, so
# the test sees what it asks: listings, and never GET /events.
spy=$work/spy.sock
spy_log=$work/spy.log
socat -v "UNIX-LISTEN:$spy,fork" "UNIX-CONNECT:$EF_PODMAN_SOCK" 2>"$spy_log" &
SPY_PID=$!
stop_spy()
{
	local child
	[ -n "${SPY_PID:-}" ] || return 0
	for child in $(ps -o pid= --ppid "$SPY_PID"); do kill "$child" 2>/dev/null; done
	kill "$SPY_PID" 2>/dev/null && wait "$SPY_PID" 2>/dev/null
	SPY_PID=
}
trap 'stop_daemon; stop_spy; ef_e2e_stop' EXIT
ef__wait_for 50 test -S "$spy"
listings() { grep -c 'GET /v1.41/containers/json' "$spy_log" 2>/dev/null || true; }
more_listings() { [ "$(listings)" -gt "$1" ]; }

# First a positive control: with events on, the spy sees the stream opened.
ef_ini_set "$EF_AGENT_INI" engine.endpoint "unix://$spy"
"$EF_BIN" -c "$EF_AGENT_INI" run 2>"$work/daemon-on.log" &
DAEMON_PID=$!
ef_check "events on: the daemon follows the stream through the spy" \
	ef_wait_until 20 grep -q "engine-events endpoint" "$work/daemon-on.log"
# socat logs a transfer when it has passed it on; under load that can come
# seconds after the daemon logged the stream as open. In two local runs of
# many it never came (the daemon had sent the request; the listings that
# followed it through the spy were logged): the spy's fault, not what this
# control is for, so it says what it saw and gives the spy one more start.
seen_events() { grep -q 'GET /v1.41/events' "$spy_log"; }
if ! ef_wait_until 15 seen_events; then
	echo "# events on: the spy logged no GET /events within 15 s; what it saw:"
	grep -a 'GET ' "$spy_log" | head -5 | sed 's/^/#   /'
	echo "# spy processes: $(ps -o pid=,stat=,args= --ppid "$SPY_PID" | tr '\n' ';')"
	grep -a 'engine' "$work/daemon-on.log" | head -5 | sed 's/^/#   daemon: /'
	stop_daemon
	"$EF_BIN" -c "$EF_AGENT_INI" run 2>"$work/daemon-on2.log" &
	DAEMON_PID=$!
	ef_wait_until 15 seen_events && echo "# events on: seen after the daemon's second start"
fi
ef_check "events on: the spy sees GET /events" seen_events
stop_daemon

interval=8
: >"$spy_log"
ef_ini_set "$EF_AGENT_INI" engine.watch list
ef_ini_set "$EF_AGENT_INI" agent.interval "${interval}s"
log=$work/daemon-off.log
"$EF_BIN" -c "$EF_AGENT_INI" run 2>"$log" &
DAEMON_PID=$!
ef_check "events off: the daemon says so" ef_wait_until 10 grep -q "engine-events-off" "$log"
# The first wait is the interval plus a random phase up to an interval; wait
# for the first poll after it, then the next one is an interval +-10% away.
ef_check "events off: a start-up listing" ef_wait_until 20 more_listings 0
l0=$(listings)
ef_check "events off: the first poll lists containers" \
	ef_wait_until $((2 * interval + 5)) more_listings "$l0"
l0=$(listings)
ef_check "events off: the next poll lists again (every poll, not every 10th)" \
	ef_wait_until $((interval + 5)) more_listings "$l0"
id3=$(api_running)
t0=$SECONDS
d0=$(count ' drift ')
r0=$(count ' deployed ')
$EF_PODMAN kill "$id3" >/dev/null
# Within one interval (+10% jitter, +2 s for the poll and the listing).
ef_check "events off: kill seen by the next poll's listing" \
	ef_wait_until $((interval * 11 / 10 + 2)) drift_logged "$d0"
echo "# events off: kill -> drift found in $((SECONDS - t0)) s (interval ${interval} s)"
ef_check "events off: repaired" ef_wait_until 20 repaired "$r0"
ef_check "events off: the service runs" api_up
echo "# events off: kill -> running again in $((SECONDS - t0)) s"
ef_check "events off: no GET /events reached the engine" sh -c "! grep -q '/events' '$spy_log'"
ef_check "events off: no event followed" sh -c "! grep -qE 'engine-event event=|engine-events endpoint' '$log'"
ef_check "events off: listings seen by the spy ($(listings))" test "$(listings)" -ge 3
ef_check "events off: no error in the daemon's log" sh -c "! grep ' error ' '$log'"
stop_daemon

# --- [engine] watch = pids (the default): the processes, not the engine ------
# Interval 30 s: a repair within 10 s of a kill comes from the pidfd. The spy
# sees every request: none while idle, never GET /events.
requests() { grep -c 'HTTP/1.1' "$spy_log" 2>/dev/null || true; }
ef_ini_set "$EF_AGENT_INI" engine.watch ''
ef_ini_set "$EF_AGENT_INI" agent.interval 30s
: >"$spy_log"
log=$work/daemon-pids.log
"$EF_BIN" -c "$EF_AGENT_INI" run 2>"$log" &
DAEMON_PID=$!
ef_check "pids: the daemon watches the containers' processes" \
	ef_wait_until 20 grep -q "engine-watch mode=pids containers=1" "$log"
sleep 1
q0=$(requests)
c0=$(ctxt)
sleep 8
q1=$(requests)
c1=$(ctxt)
echo "# pids: idle 8 s: $((q1 - q0)) engine requests, $((c1 - c0)) context switches"
ef_expect_eq "pids: no request to the engine while idle (8 s)" 0 $((q1 - q0))
ef_check "pids: idle daemon wakes < 20 times in 8 s (got $((c1 - c0)))" test $((c1 - c0)) -lt 20
for how in kill rm again; do
	id=$(api_running)
	t0=$SECONDS
	d0=$(count ' drift ')
	r0=$(count ' deployed ')
	x0=$(count 'process-exit')
	case $how in
	rm) $EF_PODMAN rm -f -t 0 "$id" >/dev/null ;;
	*) $EF_PODMAN kill "$id" >/dev/null ;;
	esac
	exited() { [ "$(count 'process-exit')" -gt "$x0" ]; }
	ef_check "pids: $how: the exit seen at once (3 s)" ef_wait_until 3 exited
	ef_check "pids: $how: drift found" ef_wait_until 5 drift_logged "$d0"
	ef_check "pids: $how: repaired (interval 30 s)" ef_wait_until 18 repaired "$r0"
	ef_check "pids: $how: the service runs" api_up
	echo "# pids: $how -> running again in $((SECONDS - t0)) s"
	# The new container's process is watched before the next round.
	sleep 1
done
ef_expect_contains "pids: the log names the container that exited" "$(cat "$log")" \
	"process-exit container=${id:0:12}"
ef_check "pids: no GET /events reached the engine" sh -c "! grep -q '/events' '$spy_log'"
ef_check "pids: no error in the daemon's log" sh -c "! grep ' error ' '$log'"

# --- a key added to allowed_signers while the daemon runs ------------------------
# The daemon reads its trust files only when stat tells they changed: a key
# appended by hand between two polls must still lift the refusal it caused.
ssh-keygen -q -t ed25519 -N '' -C ops@example.com -f "$work/ops-key"
ef_git -C "$EF_OPS_DIR/work" -c gpg.format=ssh -c user.signingkey="$work/ops-key" \
	commit -q -S --allow-empty -m "signed by a key not yet trusted"
ef_git -C "$EF_OPS_DIR/work" push -q origin HEAD:main
ops_commit=$(ef_gitops_head)
rejected() { grep -q "rejected commit=${ops_commit:0:12}" "$log"; }
"$EF_BIN" -c "$EF_AGENT_INI" kick >/dev/null
ef_check "trust: the commit by an untrusted key is refused" ef_wait_until 15 rejected
printf 'ops@example.com namespaces="git" %s\n' "$(cut -d' ' -f1,2 "$work/ops-key.pub")" \
	>>"$EF_OPS_DIR/keys/allowed_signers"
"$EF_BIN" -c "$EF_AGENT_INI" kick >/dev/null
now_ops() { [ "$(ef_status_field revision)" = "$ops_commit" ]; }
ef_check "trust: the key added while running lifts the refusal" ef_wait_until 15 now_ops
ef_expect_contains "trust: the daemon says why it looked again" "$(cat "$log")" "trust-changed requeued=1"

# --- `edgeflip retry` beside the running daemon: handed over in STATE_DIR/retry -----
# A commit by a key nobody trusts is refused; the retry makes the daemon look
# at it again (and refuse it again: the key is still not trusted).
ssh-keygen -q -t ed25519 -N '' -C stranger@example.com -f "$work/stranger-key"
ef_git -C "$EF_OPS_DIR/work" -c gpg.format=ssh -c user.signingkey="$work/stranger-key" \
	commit -q -S --allow-empty -m "signed by a stranger"
ef_git -C "$EF_OPS_DIR/work" push -q origin HEAD:main
stranger=$(ef_gitops_head)
refusals() { grep -c "rejected commit=${stranger:0:12}" "$log" 2>/dev/null || true; }
"$EF_BIN" -c "$EF_AGENT_INI" kick >/dev/null
refused_once() { [ "$(refusals)" -ge 1 ]; }
ef_check "retry: the stranger's commit is refused" ef_wait_until 15 refused_once
out=$("$EF_BIN" -c "$EF_AGENT_INI" retry "${stranger:0:12}" 2>&1)
ef_expect_contains "retry: handed to the daemon" "$out" "asked the daemon (pid $DAEMON_PID)"
refused_twice() { [ "$(refusals)" -ge 2 ]; }
ef_check "retry: the daemon examines the commit again" ef_wait_until 15 refused_twice
ef_expect_contains "retry: the daemon says what it released" "$(cat "$log")" "retry-requested released=1"
ef_check "retry: the request file is gone" test ! -e "$work/agent/state/retry"
ef_expect_eq "retry: the trusted commit keeps running" "$ops_commit" "$(ef_status_field revision)"

# --- STATE_DIR/pass.lock removed under the daemon --------------------------------
# The daemon keeps the lock file open between passes; once the name leads to
# another file, `plan` and `retry` would lock that one while a pass runs. The
# next pass must notice and lock the file the commands open.
rm -f "$work/agent/state/pass.lock"
"$EF_BIN" -c "$EF_AGENT_INI" kick >/dev/null
ef_check "pass lock: removed under the daemon, the next pass locks the new file" \
	ef_wait_until 15 grep -q "pass-lock-reopened" "$log"
ef_check "pass lock: the file is there again" test -e "$work/agent/state/pass.lock"
stop_daemon

# In a PID namespace of its own the daemon sees none of the engine's
# processes: it says so and follows the event stream instead; a kill is
# still repaired long before the next poll.
log=$work/daemon-ns.log
unshare --pid --fork --mount-proc "$EF_BIN" -c "$EF_AGENT_INI" run 2>"$log" &
NS_PID=$!
# unshare waits for its child and lets SIGTERM pass it by: stop the daemon
# itself (the child), then unshare ends.
ef__wait_for 50 pgrep -P "$NS_PID" >/dev/null
DAEMON_PID=$(pgrep -P "$NS_PID" | head -1)
ef_check "pids, other PID namespace: falls back to the event stream" \
	ef_wait_until 20 grep -q "engine-watch mode=events" "$log"
ef_check "pids, other PID namespace: follows the events" \
	ef_wait_until 10 grep -q "engine-events endpoint" "$log"
sleep 1
d0=$(count ' drift ')
r0=$(count ' deployed ')
$EF_PODMAN kill "$(api_running)" >/dev/null
ef_check "pids, other PID namespace: kill seen from the event" ef_wait_until 10 drift_logged "$d0"
ef_check "pids, other PID namespace: repaired" ef_wait_until 18 repaired "$r0"
[ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
wait "$NS_PID" 2>/dev/null
stop_spy
ef_summary
