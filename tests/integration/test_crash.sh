#!/usr/bin/env bash
# The crash matrix: for every fault-injection point of core/base/fault.c (and for
# every journal write of a deploy), the agent is killed there by SIGKILL in the
# middle of a blue/green deploy, restarted, and must converge to the old set
# or the new one — never a mix, never nothing — with no orphan containers, a
# journal that parses, and zero failed requests seen by a load loop that runs
# through the whole sequence. Needs a build with -DEF_FAULT_INJECTION=ON.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/check.sh"
source "$here/../lib/git-server.sh"
source "$here/../lib/engine.sh"
source "$here/../lib/agent.sh"
repeats=${EF_CRASH_REPEATS:-1}

ef_e2e_start crash
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

deploy_version 1 initial
ef_agent once 2>"$log" || { cat "$log"; exit 1; }
current=1
ef_load_start "$url" matrix

runs=0
converged=0
recover_ms_total=0
cases=()
for p in ${EF_CRASH_POINTS:-$points}; do
	if [ "$p" = after-journal ]; then
		for n in 1 2 3 4 5 6; do cases+=("$p:$n"); done
	else
		cases+=("$p")
	fi
done

for r in $(seq 1 "$repeats"); do
	for fault in "${cases[@]}"; do
		next=$((3 - current))
		echo "# $(date +%T) crash at $fault"
		deploy_version "$next" "crash at $fault"
		EDGEFLIP_FAULT=$fault ef_agent once 2>"$log"
		rc=$?
		runs=$((runs + 1))
		if [ $rc -ne 137 ]; then
			ef_fail "crash at $fault: agent was killed there" "exit $rc"
			continue
		fi
		t0=$(date +%s%N)
		ef_agent once 2>"$work/recover.log"
		rc=$?
		{ echo "== $fault: killed pass"; cat "$log"; echo "== $fault: restarted pass"; cat "$work/recover.log"; } >>"$work/all.log"
		t1=$(date +%s%N)
		recover_ms_total=$((recover_ms_total + (t1 - t0) / 1000000))
		got=$(running_version)
		phase=$(ef_status_field phase 2>/dev/null)
		n=$(ef_running | wc -l)
		if [ $rc -eq 0 ] && { [ "$got" = 1 ] || [ "$got" = 2 ]; } && [ "$n" = 2 ] &&
			ef_agent status --json >/dev/null; then
			converged=$((converged + 1))
			ef_pass "crash at $fault (run $r): converged to version $got, $n containers, journal parses"
			current=$got
		else
			ef_fail "crash at $fault (run $r)" "exit $rc, version $got, containers $n"
			cat "$work/recover.log" | tail -20
		fi
	done
done

counts=$(ef_load_stop)
if [ -f "$EF_LOAD_OUT.errors" ]; then
	sed 's/^/# failed request: /' "$EF_LOAD_OUT.errors"
	cp "$work/all.log" "${EF_CRASH_LOG:-/tmp/ef-crash-agent.log}"
	echo "# agent logs of every case: ${EF_CRASH_LOG:-/tmp/ef-crash-agent.log}"
fi
ef_expect_eq "zero failed requests through the whole matrix (of ${counts% *})" 0 "${counts#* }"
echo "figure: crash points x repeats run: $runs"
echo "figure: converged: $converged"
echo "figure: mean time from restart to converged (recovery and the redeploy, soak 2s): $((recover_ms_total / (runs > 0 ? runs : 1))) ms"
echo "figure: requests during the matrix: ${counts% *}, failed: ${counts#* }"
ef_summary
