#!/usr/bin/env bash
# The crash matrix: for every fault-injection point of core/base/fault.c (and for
# every journal write of a deploy), the agent is killed there by SIGKILL in the
# middle of a blue/green deploy, restarted, and must converge to the old set
# or the new one — never a mix, never nothing — with no orphan containers, a
# journal that parses, and zero failed requests seen by a load loop that runs
# through the whole sequence. Every point is also hit twice in a row (the
# second kill lands in the recovery from the first, or in the redeploy), and
# the first deploy is killed in its soak (and again in that recovery).
# Before the matrix, the scenario of issue 16 (tests/integration/
# crash_scenario.sh): the daemon killed at staggered moments of several
# deploys under load. EF_CRASH_PARTS="scenario matrix" picks the parts,
# EF_CRASH_TWICE=0 leaves out the double hits.
# Needs a build with -DEF_FAULT_INJECTION=ON.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/e2e.sh"
repeats=${EF_CRASH_REPEATS:-1}

parts=${EF_CRASH_PARTS:-"scenario matrix"}

ef_e2e_start crash
trap 'scenario_stop; ef_e2e_stop' EXIT
scen_pid=
scenario_stop()
{
	[ -n "$scen_pid" ] && kill -9 "$scen_pid" 2>/dev/null && wait "$scen_pid" 2>/dev/null
	scen_pid=
	ef_proxy_stop "$work/scen/state"
}

# The scenario of issue 16: the daemon killed (SIGKILL) again and again around
# deploys, as a watchdog or the OOM killer would, under load. One web service
# behind the proxy, soak 4s, interval 1s; the first deploy is killed in its
# soak, then each of EF_CRASH_UPDATES updates is killed at staggered moments
# after its push and the daemon restarted at once each time.
. "$here/crash_scenario.sh"
case " $parts " in *" scenario "*) crash_scenario ;; esac
case " $parts " in *" matrix "*) ;; *) ef_summary; exit ;; esac

ef_agent_config "$work/agent" "deploy.soak=2s" "deploy.health_timeout=20s"

v1=$(ef_image_build web v1 "web v1") || exit 1
v2=$(ef_image_build web v2 "web v2") || exit 1
w1=$(ef_image_build worker v1 "worker v1") || exit 1
w2=$(ef_image_build worker v2 "worker v2") || exit 1
env=$EF_OPS_DIR/work/environments/production
port=$(ef_free_port)
url=http://127.0.0.1:$port/
log=$work/agent.log

# The points, from the one place that lists them.
points=$(sed -n '/ef_fault_points\[\] = {/,/NULL/p' "$here/../../core/base/fault.c" | grep -o '"[a-z-]*"' | tr -d '"')
[ -n "$points" ] || { echo "no fault points found in core/base/fault.c"; exit 1; }

# A revision is a (web, worker) pair of images: v1 or v2 of both.
deploy_version()
{
	if [ "$1" = 1 ]; then
		ef_compose "$env/compose.json" "web=$v1:$port" "worker=$w1"
	else
		ef_compose "$env/compose.json" "web=$v2:$port" "worker=$w2"
	fi
	# A fixed name, so that the crash points of the rename at the flip are
	# passed too.
	python3 - "$env/compose.json" <<'PY'
import json, sys
p = sys.argv[1]; m = json.load(open(p)); m["services"]["worker"]["container_name"] = "worker"
json.dump(m, open(p, "w"), indent=1)
PY
	ef_gitops_commit "version $1 ($2)"
}

# The images the running containers use -> "1", "2" or "mix".
running_version()
{
	local imgs
	imgs=$(for id in $($EF_PODMAN ps -q --filter label=io.edgeflip.service); do
		$EF_PODMAN container inspect --format '{{.ImageName}}' "$id"
	done | sort | tr '\n' ' ')
	case "$imgs" in
	"${v1%@*}@${v1#*@} ${w1%@*}@${w1#*@} ") echo 1 ;;
	"${v2%@*}@${v2#*@} ${w2%@*}@${w2#*@} ") echo 2 ;;
	*) echo "mix: $imgs" ;;
	esac
}

# crash_case NAME FAULT[+FAULT...]: one killed run per FAULT (EDGEFLIP_FAULT,
# SIGKILL there: the second one lands in the recovery from the first or in the
# redeploy after it), then a clean run, which must converge: one version,
# two containers, a journal that parses. Sets $got to the version.
crash_case()
{
	local name=$1 f rc t0 t1 n k=0
	got=
	for f in ${2//+/ }; do
		k=$((k + 1))
		if [ "$f" = corrupt ]; then
			printf '{"version": 1, "revision": "trunc' >"$work/agent/state/state.json"
			continue
		fi
		EDGEFLIP_FAULT=$f ef_agent once 2>"$log.$k"
		rc=$?
		runs=$((runs + 1))
		{ echo "== $name: killed run $k ($f)"; cat "$log.$k"; } >>"$work/all.log"
		# A second hit may find nothing left to redo (a crash after the
		# commit write: recovery finishes it without passing the point).
		if [ $rc -eq 0 ] && [ $k -gt 1 ]; then
			echo "# $name: run $k not killed: the point was not passed again"
			continue
		fi
		if [ $rc -ne 137 ]; then
			ef_fail "$name: agent was killed at $f (run $k)" "exit $rc"
			tail -5 "$log.$k"
			return 1
		fi
	done
	t0=$(date +%s%N)
	ef_agent once 2>"$work/recover.log"
	rc=$?
	t1=$(date +%s%N)
	{ echo "== $name: restarted pass"; cat "$work/recover.log"; } >>"$work/all.log"
	recover_ms_total=$((recover_ms_total + (t1 - t0) / 1000000))
	recoveries=$((recoveries + 1))
	got=$(running_version)
	n=$(ef_running | wc -l)
	if [ $rc -eq 0 ] && { [ "$got" = 1 ] || [ "$got" = 2 ]; } && [ "$n" = 2 ] &&
		ef_agent status --json >/dev/null; then
		converged=$((converged + 1))
		ef_pass "$name: converged to version $got, $n containers, journal parses"
		return 0
	fi
	ef_fail "$name" "exit $rc, version $got, containers $n"
	tail -20 "$work/recover.log"
	return 1
}

runs=0
recoveries=0
converged=0
recover_ms_total=0

# The first deploy killed in its soak (nothing ran before: no revision in
# the journal yet), once, and again in the recovery from that; then from an
# empty device again for the rest of the matrix.
deploy_version 1 initial
crash_case "first deploy: crash in soak" during-soak
h=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(1 for e in d["history"] if e["revision"] == sys.argv[2] and e["result"] == "deployed"))' "$work/agent/state/state.json" "$(ef_gitops_head)")
ef_expect_eq "first deploy adopted after the crash is in the history as deployed" 1 "$h"
ef_proxy_stop "$work/agent/state"
for id in $($EF_PODMAN ps -a -q --filter label=io.edgeflip.service); do
	$EF_PODMAN rm -f -t 0 "$id" >/dev/null
done
sleep 0.5
rm -rf "$work/agent/state" && mkdir -p "$work/agent/state"
crash_case "first deploy: crash in soak, then in the recovery" during-soak+during-undo
current=${got:-1}
[ "$current" = 1 ] || { echo "the first deploy did not converge"; ef_summary; exit 1; }
ef_load_start "$url" matrix

# Every point once; every point twice in a row; and a crash in the undo of
# the recovery from a crash in soak.
cases=()
for p in ${EF_CRASH_POINTS:-$points}; do
	[ "$p" = during-undo ] && continue
	if [ "$p" = after-journal ]; then
		for n in 1 2 3 4 5 6; do cases+=("$p:$n"); done
	else
		cases+=("$p")
	fi
done
twice=()
if [ "${EF_CRASH_TWICE:-1}" = 1 ]; then
	# Every named point; of the journal writes, the soak's (all of them
	# with EF_CRASH_TWICE_JOURNAL=all, about a minute more).
	for c in "${cases[@]}"; do
		case $c in after-journal:*)
			[ "${EF_CRASH_TWICE_JOURNAL:-5}" = all ] || [ "$c" = "after-journal:${EF_CRASH_TWICE_JOURNAL:-5}" ] || continue ;;
		esac
		twice+=("$c+$c")
	done
	twice+=("during-soak+during-undo")
fi

for r in $(seq 1 "$repeats"); do
	for fault in "${cases[@]}" "${twice[@]}"; do
		next=$((3 - current))
		echo "# $(date +%T) crash at $fault"
		deploy_version "$next" "crash at $fault"
		crash_case "crash at $fault (run $r)" "$fault" && current=$got
	done
done

# A journal damaged while a deploy was open: rebuilt from labels and routes.
# Killed in soak, traffic is on the new containers: they serve, the revision
# is the target and `previous` the one before (labels), the old set goes.
# Killed in health, traffic is on the old set: it stays, the candidate goes,
# and the next pass deploys again.
journal_lost_case()
{
	local fault=$1 want=$2 before head h
	before=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["revision"])' "$work/agent/state/state.json")
	next=$((3 - current))
	deploy_version "$next" "journal lost at $fault"
	head=$(ef_gitops_head)
	echo "# $(date +%T) journal damaged after a crash at $fault"
	if ! crash_case "journal damaged after a crash at $fault" "$fault+corrupt"; then
		return
	fi
	current=$got
	h=$(python3 - "$work/agent/state/state.json" "$before" "$head" "$want" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
before, head, want = sys.argv[2:]
out = []
# target: the new set served and is kept; old: the old set is kept and the
# next pass deploys the target again. Either way the target runs now and the
# revision before it is `previous`.
if d["revision"] != head:
    out.append("revision %s, want the target (%s)" % (d["revision"][:12], want))
if d["previous"] != before:
    out.append("previous %s, want %s" % (d["previous"][:12], before[:12]))
if not any(e["result"] == "journal-rebuilt" for e in d["history"]):
    out.append("no journal-rebuilt entry in the history")
print("; ".join(out) if out else "ok")
PY
)
	ef_expect_eq "journal damaged after a crash at $fault: revision, previous, history say what was rebuilt" ok "$h"
	ls "$work/agent/state"/state.json.corrupt-* >/dev/null 2>&1 &&
		ef_pass "journal damaged after a crash at $fault: damaged file kept aside" ||
		ef_fail "journal damaged after a crash at $fault: damaged file kept aside"
}
if [ "${EF_CRASH_JOURNAL:-1}" = 1 ]; then
	journal_lost_case during-soak target
	journal_lost_case during-health old
fi

# The serving (blue) containers removed while the agent was down (issue 16).
# blue_gone_case FAULT: killed at FAULT, the containers of the running set
# removed behind the agent's back, then restarted. In soak, traffic is on
# green already: green must be adopted (under load, no failed request).
# Before the flip, green never passed its checks: the running revision must
# be brought up again (restore), then the target deployed.
blue_gone_case()
{
	local fault=$1 id serving
	next=$((3 - current))
	deploy_version "$next" "blue removed during a crash at $fault"
	echo "# $(date +%T) blue removed while the agent was down ($fault)"
	EDGEFLIP_FAULT=$fault ef_agent once 2>"$log"
	[ $? = 137 ] || { ef_fail "blue gone at $fault: agent killed there"; return; }
	serving=$(python3 -c 'import json,sys; print(" ".join(s["container_id"] for s in json.load(open(sys.argv[1]))["services"]))' "$work/agent/state/state.json")
	for id in $serving; do $EF_PODMAN rm -f -t 0 "$id" >/dev/null; done
	ef_agent once 2>"$work/recover.log"
	rc=$?
	{ echo "== blue gone at $fault: restarted pass"; cat "$work/recover.log"; } >>"$work/all.log"
	got=$(running_version)
	if [ $rc = 0 ] && [ "$got" = "$next" ] && [ "$(ef_running | wc -l)" = 2 ]; then
		ef_pass "blue gone at $fault: converged to version $got, 2 containers"
		current=$got
	else
		ef_fail "blue gone at $fault" "exit $rc, version $got"
		tail -20 "$work/recover.log"
	fi
	ef_expect_contains "blue gone at $fault: recovery says what it did" "$(cat "$work/recover.log")" "$2"
	ef_check "blue gone at $fault: no route to a removed container" \
		bash -c "! grep -q 'traffic-on-blue' '$work/recover.log'"
}
if [ "${EF_CRASH_BLUE_GONE:-1}" = 1 ]; then
	blue_gone_case during-soak "adopted service="
fi

counts=$(ef_load_stop)
if [ -f "$EF_LOAD_OUT.errors" ]; then
	sed 's/^/# failed request: /' "$EF_LOAD_OUT.errors"
	cp "$work/all.log" "${EF_CRASH_LOG:-/tmp/ef-crash-agent.log}"
	echo "# agent logs of every case: ${EF_CRASH_LOG:-/tmp/ef-crash-agent.log}"
fi
ef_expect_eq "zero failed requests through the whole matrix (of ${counts% *})" 0 "${counts#* }"
# Without load: between the removal and the restore nothing can serve.
if [ "${EF_CRASH_BLUE_GONE:-1}" = 1 ]; then
	blue_gone_case during-health "restore revision="
fi
echo "figure: killed runs: $runs, cases: $recoveries, converged: $converged"
echo "figure: mean time from restart to converged (recovery and the redeploy, soak 2s): $((recover_ms_total / (recoveries > 0 ? recoveries : 1))) ms"
echo "figure: requests during the matrix: ${counts% *}, failed: ${counts#* }"
ef_summary
