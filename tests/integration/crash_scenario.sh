# shellcheck shell=bash
# Part of test_crash.sh (sourced; uses its fixtures): the scenario of issue 16.
#
# The daemon (`edgeflip run`) is killed with SIGKILL again and again around
# deploys and restarted at once, as a watchdog or an OOM killer in a loop
# would, while a load client opens a new connection per request on the public
# port. One web service behind the proxy switch, soak 4s, interval 1s.
#   - the first deploy (v1) is killed during its soak, before any revision ran;
#   - then EF_CRASH_UPDATES updates (default 3), each killed at the moments
#     EF_CRASH_KILLS (seconds after its push; default "0.7 2.6 5.7").
# Each update must converge before the next push. Asserts zero failed
# requests, one container at the end, the journal's revision, previous and
# history, and that every container that went away was logged with a reason.

crash_scenario()
{
	local updates=${EF_CRASH_UPDATES:-3} kills=${EF_CRASH_KILLS:-"0.7 2.6 5.7"}
	local sdir=$work/scen sport slog simgs=() heads=() k t0 t1 starts=0 n counts h missing

	local env=$EF_OPS_DIR/work/environments/production
	sport=$(ef_free_port)
	slog=$work/scen.log
	ef_agent_config "$sdir" "deploy.soak=4s" "deploy.health_timeout=20s" "agent.interval=1s"
	scen_ini=$EF_AGENT_INI
	for k in $(seq 1 $((updates + 1))); do
		simgs+=("$(ef_image_build web "s$k" "web s$k")") || return 1
	done

	scen_start()
	{
		starts=$((starts + 1))
		echo "=== daemon start $starts $(date +%T.%N)" >>"$slog"
		"$EF_BIN" -c "$scen_ini" run 2>>"$slog" &
		scen_pid=$!
	}
	scen_kill()
	{
		echo "=== SIGKILL $(date +%T.%N) ($1)" >>"$slog"
		kill -9 "$scen_pid" 2>/dev/null
		wait "$scen_pid" 2>/dev/null
		scen_pid=
	}
	# scen_converged HEAD: the journal says HEAD runs and no deploy is open,
	# and one container runs.
	scen_converged()
	{
		python3 - "$sdir/state/state.json" "$1" <<'PY' && [ "$(ef_running | grep -c ' running$')" = 1 ]
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception:
    sys.exit(1)
ok = d.get("revision") == sys.argv[2] and d.get("deploy", {}).get("phase", "idle") == "idle"
sys.exit(0 if ok else 1)
PY
	}

	echo "# $(date +%T) scenario: first deploy killed in its soak, then $updates updates killed at $kills s"
	t0=$(date +%s%N)
	ef_compose "$env/compose.json" "web=${simgs[0]}:$sport"
	ef_gitops_commit "scenario s1"
	heads+=("$(ef_gitops_head)")
	scen_start
	# Traffic starts with the first flip; load from then on.
	if ! ef_wait_until 60 grep -q 'flipped' "$slog"; then
		ef_fail "scenario: the first deploy flips" "$(tail -20 "$slog")"
		return 1
	fi
	ef_load_start "http://127.0.0.1:$sport/" scenario
	ef_wait_until 30 grep -q ' soak ' "$slog"
	sleep 1
	scen_kill "first deploy, in its soak"
	scen_start
	if ef_wait_until 90 scen_converged "${heads[0]}"; then
		ef_pass "scenario: first deploy killed in its soak converged to s1"
	else
		ef_fail "scenario: first deploy killed in its soak converged to s1" "$(tail -30 "$slog")"
	fi

	for k in $(seq 2 $((updates + 1))); do
		ef_compose "$env/compose.json" "web=${simgs[$((k - 1))]}:$sport"
		ef_gitops_commit "scenario s$k"
		heads+=("$(ef_gitops_head)")
		t1=0
		for at in $kills; do
			sleep "$(python3 -c "print(max(0.0, $at - $t1))")"
			t1=$at
			scen_kill "update s$k, $at s after the push"
			scen_start
		done
		if ef_wait_until 90 scen_converged "${heads[$((k - 1))]}"; then
			ef_pass "scenario: update s$k killed ${kills// /, } s after its push converged"
		else
			ef_fail "scenario: update s$k killed ${kills// /, } s after its push converged" \
				"$(tail -30 "$slog")"
		fi
	done
	sleep 1
	counts=$(ef_load_stop)
	[ -f "$EF_LOAD_OUT.errors" ] && sed 's/^/# failed request: /' "$EF_LOAD_OUT.errors"
	[ -n "$scen_pid" ] && kill "$scen_pid" 2>/dev/null && wait "$scen_pid" 2>/dev/null
	scen_pid=

	ef_expect_eq "scenario: zero failed requests through $((starts - 1)) kills (of ${counts% *})" 0 "${counts#* }"
	n=$(ef_running | grep -c '^web ')
	ef_expect_eq "scenario: exactly one container for the service at the end" 1 "$n"
	ef_expect_eq "scenario: the public port serves the last update" "web s$((updates + 1))" \
		"$(curl -s --max-time 5 "http://127.0.0.1:$sport/")"
	h=$(python3 - "$sdir/state/state.json" "${heads[@]}" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
heads = sys.argv[2:]
out = []
if d.get("revision") != heads[-1]:
    out.append("revision %s, want %s" % (d.get("revision"), heads[-1]))
if d.get("previous") != heads[-2]:
    out.append("previous %s, want %s" % (d.get("previous"), heads[-2]))
deployed = [e["revision"] for e in d.get("history", []) if e.get("result") == "deployed"]
for i, c in enumerate(heads):
    if c not in deployed:
        out.append("history lacks 'deployed' for s%d %s" % (i + 1, c[:12]))
print("; ".join(out) if out else "complete")
PY
)
	ef_expect_eq "scenario: journal revision, previous and history" complete "$h"
	# Every container that went away was removed by the agent, with a reason.
	missing=
	for id in $(grep -o 'started service=web container=[0-9a-f]*' "$slog" | sed 's/.*container=//' | sort -u); do
		ef_running | grep -q " $id" && continue
		grep -q "removed container=$id.* why=" "$slog" || missing="$missing $id"
	done
	ef_expect_eq "scenario: every container removal logged with its reason" "" "$missing"
	grep -o 'traffic-on-[a-z]*\|route-[a-z]* [^ ]*\|adopt[a-z-]*' "$slog" | sort | uniq -c | sed 's/^/# /'
	echo "figure: scenario: kills $((starts - 1)), requests ${counts% *}, failed ${counts#* }," \
		"time $(( ($(date +%s%N) - t0) / 1000000 )) ms"
	cp "$slog" "${EF_CRASH_SCENARIO_LOG:-/tmp/ef-crash-scenario.log}"
	echo "# scenario log: ${EF_CRASH_SCENARIO_LOG:-/tmp/ef-crash-scenario.log}"

	# The matrix below starts from an empty engine and its own agent.
	scenario_stop
	for id in $($EF_PODMAN ps -a -q --filter label=io.edgeflip.service); do
		$EF_PODMAN rm -f -t 0 "$id" >/dev/null
	done
}
