#!/usr/bin/env bash
# Fleets without a server (docs/fleet.md), on a real HTTPS Git server, a real
# registry and real Podman engines started here:
# - the Prometheus textfile after a deploy and after a rollback passes
#   `promtool check metrics`; a no-change poll does not rewrite it;
# - webhook events: a receiver (tests/lib/webhook_receiver.py, HTTPS on
#   loopback) is down during a rollback and a refusal, the daemon is killed,
#   the receiver comes back, a restarted agent delivers the queued events in
#   order with valid HMACs and no secret in them;
# - a rollout wave: of two devices (two Podman engines) from one commit, the
#   one below the wave deploys, the one above waits (status says so) and
#   deploys when the wave has widened; paused: true halts.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/e2e.sh"

if ! command -v promtool >/dev/null; then
	apt-get install -y --no-install-recommends prometheus >/dev/null 2>&1 ||
		echo "note: promtool (Debian package prometheus) is not installable here"
fi

RECV_PID=
DAEMON_PID=
P2_PID=
P2_DIR=
fleet_stop()
{
	[ -n "$RECV_PID" ] && kill "$RECV_PID" 2>/dev/null
	[ -n "$DAEMON_PID" ] && kill -9 "$DAEMON_PID" 2>/dev/null
	ef_proxy_stop "$work/b/state"
	if [ -n "$P2_DIR" ]; then
		local save_pid=$EF_PODMAN_PID save_dir=$EF_PODMAN_DIR save_cmd=$EF_PODMAN
		EF_PODMAN_PID=$P2_PID EF_PODMAN_DIR=$P2_DIR EF_PODMAN=$P2_CMD
		ef_podman_stop
		EF_PODMAN_PID=$save_pid EF_PODMAN_DIR=$save_dir EF_PODMAN=$save_cmd
	fi
	ef_e2e_stop
}

ef_e2e_start fleet
trap fleet_stop EXIT

web1=$(ef_image_build web v1 "web v1") || exit 1
bad=$(ef_image_build web bad "web bad" fail) || exit 1
web3=$(ef_image_build web v3 "web v3") || exit 1
env=$EF_OPS_DIR/work/environments/production
log=$work/agent.log

# --- the receiver and the device ---------------------------------------------
recv_port=$(ef_free_port)
port_web=$(ef_free_port)
while [ "$port_web" = "$recv_port" ]; do port_web=$(ef_free_port); done
events=$work/events.jsonl
secret="hmac-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s\n' "$secret" >"$work/hmac.key"
chmod 600 "$work/hmac.key"
# The port is fixed by the agent's configuration: a restart takes it again
# (other suites may run at the same time: a few tries).
recv_start()
{
	for _ in 1 2 3 4 5; do
		python3 "$here/../lib/webhook_receiver.py" "$recv_port" "$work/git/ssl/server.crt" \
			"$work/git/ssl/server.key" "$work/hmac.key" "$events" 2>>"$work/recv.log" &
		RECV_PID=$!
		for _ in $(seq 50); do
			kill -0 "$RECV_PID" 2>/dev/null || break
			curl -s --cacert "$EF_GIT_CA" -o /dev/null "https://localhost:$recv_port/" &&
				return 0
			sleep 0.1
		done
		kill "$RECV_PID" 2>/dev/null
		sleep 1
	done
	echo "the webhook receiver did not start"
	cat "$work/recv.log"
	return 1
}
recv_stop() { kill "$RECV_PID" 2>/dev/null; wait "$RECV_PID" 2>/dev/null; RECV_PID=; }
# "seq reason valid" per received event
received() { python3 -c '
import json, sys
for l in open(sys.argv[1]):
    d = json.loads(l); e = d["event"] or {}
    print(e.get("sequence"), e.get("reason"), d["valid"])' "$events" 2>/dev/null; }

prom=$work/metrics/edgeflip.prom
mkdir -p "$work/metrics"
ef_agent_config "$work/agent" agent.device_id=kitchen-gw "metrics.textfile=$prom" \
	"notify.url=https://localhost:$recv_port/hook" "notify.hmac_key_file=$work/hmac.key" \
	"notify.ca_file=$EF_GIT_CA" notify.timeout=3s
A_INI=$EF_AGENT_INI
recv_start || exit 1

metric() { awk -v m="$1" '$1 == m {print $2}' "$prom"; }
promcheck()
{
	local out
	if ! command -v promtool >/dev/null; then
		ef_fail "$1 (promtool missing)"
		return
	fi
	out=$(promtool check metrics <"$prom" 2>&1)
	ef_expect_eq "$1" "0 " "$? $out"
}

# --- first deploy: event DeploySucceeded, metrics -----------------------------
ef_compose "$env/compose.json" "web=$web1:$port_web"
ef_gitops_commit "first" || exit 1
c1=$(ef_gitops_head)
ef_agent once 2>"$log"
ef_expect_eq "first deploy exits 0" 0 $?
ef_expect_eq "receiver got DeploySucceeded with a valid HMAC" "1 DeploySucceeded True" "$(received)"
ef_expect_contains "the event names the device and the commit" "$(cat "$events")" \
	"\"device_id\": \"kitchen-gw\", \"revision\": \"$c1\", \"signer\": \"release@example.com\""
ef_expect_eq "no event left in the outbox" "" "$(ls "$work/agent/state/outbox" | grep json)"
promcheck "metrics after a deploy pass promtool check metrics"
ef_expect_eq "edgeflip_deploys_total{result=\"success\"} is 1" 1 \
	"$(metric 'edgeflip_deploys_total{result="success"}')"
ef_expect_contains "edgeflip_revision_info names commit and signer" "$(cat "$prom")" \
	"edgeflip_revision_info{revision=\"$c1\",signer=\"release@example.com\"} 1"
ef_expect_eq "edgeflip_rollout_waiting is 0" 0 "$(metric edgeflip_rollout_waiting)"
[ "$(metric edgeflip_last_poll_timestamp_seconds)" -gt 1700000000 ] 2>/dev/null &&
	ef_pass "last poll timestamp set" || ef_fail "last poll timestamp set" "$(cat "$prom")"
# What the agent itself costs (issue 17): CPU seconds and wake-ups of its process.
python3 - "$(metric edgeflip_cpu_seconds_total)" "$(metric edgeflip_wakeups_total)" <<'PY' &&
import sys
cpu, wake = float(sys.argv[1]), int(sys.argv[2])
assert 0 < cpu < 60 and wake > 0, (cpu, wake)
PY
	ef_pass "the agent's own CPU seconds and wake-ups are in the metrics" ||
	ef_fail "the agent's own CPU seconds and wake-ups are in the metrics" "$(grep -E 'cpu|wakeups' "$prom")"

# --- a no-change poll writes neither the metrics file nor the state ------------
touch "$work/marker"
sleep 1.1
ef_agent once 2>"$log"
ef_expect_eq "no-change pass exits 0" 0 $?
ef_expect_eq "no-change pass writes nothing (state, outbox, metrics)" "" \
	"$(find "$work/agent/state" "$work/metrics" -newer "$work/marker" -type f | grep -v '/proxy/' | head -3)"
# With refresh = 1s the poll timestamp is refreshed on the next quiet poll.
ef_ini_set "$A_INI" metrics.refresh 1s
ef_agent once 2>"$log"
[ "$prom" -nt "$work/marker" ] && ef_pass "[metrics] refresh rewrites the poll time" ||
	ef_fail "[metrics] refresh rewrites the poll time"
ef_ini_set "$A_INI" metrics.refresh 1h

# --- receiver down: a rollback and a refusal are queued; the daemon killed -----
recv_stop
"$EF_BIN" -c "$EF_AGENT_INI" run >"$work/daemon.log" 2>&1 &
DAEMON_PID=$!
sleep 1
ef_compose "$env/compose.json" "web=$bad:$port_web"
ef_gitops_commit "bad" || exit 1
c2=$(ef_gitops_head)
for _ in $(seq 120); do
	[ "$(ef_status_field last_result)" = "rolled-back" ] && break
	sleep 1
done
ef_expect_eq "the daemon rolled the bad commit back" "rolled-back" "$(ef_status_field last_result)"
sleep 1
kill -9 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
ef_proxy_stop "$work/agent/state" # the proxy outlives its agent by design
ef_expect_eq "two events queued while the receiver is down" 2 \
	"$(ls "$work/agent/state/outbox" | grep -c json)"
promcheck "metrics after a rollback pass promtool check metrics"
ef_expect_eq "edgeflip_rollbacks_total is 1" 1 "$(metric edgeflip_rollbacks_total)"
ef_expect_eq "edgeflip_deploys_total{result=\"rolled_back\"} is 1" 1 \
	"$(metric 'edgeflip_deploys_total{result="rolled_back"}')"
ef_expect_eq "edgeflip_quarantined_commits is 1" 1 "$(metric edgeflip_quarantined_commits)"
ef_expect_eq "edgeflip_notify_queued_events is 2" 2 "$(metric edgeflip_notify_queued_events)"

# An unsigned commit: refused (exit 3), a third event queued.
ef_compose "$env/compose.json" "web=$web1:$port_web"
ef_git -C "$EF_OPS_DIR/work" add -A &&
	ef_git -C "$EF_OPS_DIR/work" commit -q -m "unsigned" &&
	ef_git -C "$EF_OPS_DIR/work" push -q origin HEAD:main
ef_agent once 2>"$log"
rc=$?
ef_expect_eq "unsigned commit refused with exit 3" 3 $rc
[ $rc = 3 ] || { echo "--- log"; cat "$log"; echo "--- daemon log"; tail -20 "$work/daemon.log"; }
ef_expect_eq "three events queued" 3 "$(ls "$work/agent/state/outbox" | grep -c json)"

# --- receiver back; a restarted agent delivers in order -----------------------
recv_start || exit 1
ef_agent once 2>"$log"
ef_expect_eq "events delivered in order with valid HMACs" \
	"1 DeploySucceeded True|2 RolledBack True|3 Quarantined True|4 Refused True" \
	"$(received | paste -sd'|')"
ef_expect_eq "the outbox is empty" "" "$(ls "$work/agent/state/outbox" | grep json)"
ef_expect_contains "RolledBack names the failed commit" "$(grep RolledBack "$events")" "$c2"
if grep -q "$secret" "$events"; then ef_fail "no secret in any event"; else ef_pass "no secret in any event"; fi
ef_expect_eq "counters go on across restarts (rollbacks_total)" 1 "$(metric edgeflip_rollbacks_total)"
promcheck "metrics after the restart pass promtool check metrics"

# --- rollout wave: two devices on two engines ----------------------------------
# kitchen-gw: wariness 0.1158; gw-0001: wariness 0.9509 (docs/fleet.md).
save_pid=$EF_PODMAN_PID save_dir=$EF_PODMAN_DIR save_cmd=$EF_PODMAN save_sock=$EF_PODMAN_SOCK
ef_podman_start "$work/podman2" || exit 1
P2_PID=$EF_PODMAN_PID P2_DIR=$EF_PODMAN_DIR P2_CMD=$EF_PODMAN P2_SOCK=$EF_PODMAN_SOCK
EF_PODMAN_PID=$save_pid EF_PODMAN_DIR=$save_dir EF_PODMAN=$save_cmd EF_PODMAN_SOCK=$save_sock
export EF_PODMAN EF_PODMAN_SOCK EF_PODMAN_PID EF_PODMAN_DIR
ef_agent_config "$work/b" agent.device_id=gw-0001 "engine.endpoint=unix://$P2_SOCK" \
	"metrics.textfile=$work/b/metrics.prom" switch.public_address=127.0.0.2
B_INI=$EF_AGENT_INI
EF_AGENT_INI=$A_INI

start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
t0=$(date +%s)
python3 - "$env/compose.json" "$web3" "$start" <<'PY'
import json, sys
path, image, start = sys.argv[1:]
json.dump({"x-edgeflip": {"rollout": {"start": start, "duration": "30s", "start_percentage": 50}},
           "services": {"web": {"image": image}}}, open(path, "w"), indent=2)
PY
ef_gitops_commit "wave" || exit 1
c4=$(ef_gitops_head)
ef_agent once 2>"$log"
ef_expect_eq "device below the wave (kitchen-gw) deploys" "0 $c4" "$? $(ef_status_field revision)"
EF_AGENT_INI=$B_INI ef_agent once 2>"$work/b.log"
ef_expect_eq "device above the wave (gw-0001) exits 0" 0 $?
ef_expect_eq "gw-0001 keeps what runs (nothing yet)" "" "$(EF_AGENT_INI=$B_INI ef_status_field revision)"
rollout=$(EF_AGENT_INI=$B_INI ef_agent status --json | python3 -c '
import json, sys
r = json.load(sys.stdin)["rollout"]
print(r["state"], r["commit"], round(r["wariness"], 4), 0.5 <= r["share"] < 0.95)')
ef_expect_eq "status --json: rollout waiting, commit, wariness, share" \
	"waiting $c4 0.9509 True" "$rollout"
ef_expect_contains "status says it waits and at which share" \
	"$(EF_AGENT_INI=$B_INI ef_agent status)" "rollout:       waiting"
ef_expect_eq "gw-0001 metrics: edgeflip_rollout_waiting 1" 1 \
	"$(awk '$1 == "edgeflip_rollout_waiting" {print $2}' "$work/b/metrics.prom")"
touch "$work/marker"
sleep 1.1
EF_AGENT_INI=$B_INI ef_agent once 2>"$work/b.log"
ef_expect_eq "a waiting poll writes nothing" "" \
	"$(find "$work/b" -newer "$work/marker" -type f -not -name '*.log' | grep -v '/proxy/' | head -3)"
# The wave reaches 0.9509 at start + 0.9018 * 30 s = 27.1 s.
while [ $(($(date +%s) - t0)) -lt 29 ]; do sleep 1; done
EF_AGENT_INI=$B_INI ef_agent once 2>"$work/b.log"
ef_expect_eq "gw-0001 deploys once the wave has widened" "0 $c4" \
	"$? $(EF_AGENT_INI=$B_INI ef_status_field revision)"
ef_expect_eq "status --json: rollout null after the deploy" "None" \
	"$(EF_AGENT_INI=$B_INI ef_agent status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["rollout"])')"

# paused: true halts the next commit everywhere.
python3 - "$env/compose.json" "$web1" <<'PY'
import json, sys
path, image = sys.argv[1:]
json.dump({"x-edgeflip": {"rollout": {"paused": True}},
           "services": {"web": {"image": image}}}, open(path, "w"), indent=2)
PY
ef_gitops_commit "halt" || exit 1
ef_agent once 2>"$log"
ef_expect_eq "paused: kitchen-gw keeps $c4" "0 $c4" "$? $(ef_status_field revision)"
ef_expect_eq "paused: status says paused" "paused" \
	"$(ef_agent status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["rollout"]["state"])')"

ef_summary
