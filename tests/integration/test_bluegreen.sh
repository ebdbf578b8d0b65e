#!/usr/bin/env bash
# Blue/green against the real engine, with a bounded load loop on the public
# port throughout: a good update flips with zero failed requests; a failing
# health endpoint, a crash-looping green, a failure during soak and an image
# that cannot be pulled are each rolled back with zero failed requests, blue
# serving and the commit quarantined; the next good commit deploys; the agent
# killed by SIGKILL in the middle of a flip loses no request; `edgeflip
# rollback` goes back on demand.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/e2e.sh"

ef_e2e_suite bg "deploy.soak=3s" "deploy.health_timeout=20s"

v1=$(ef_image_build web v1 "web v1") || exit 1
v2=$(ef_image_build web v2 "web v2") || exit 1
v3=$(ef_image_build web v3 "web v3") || exit 1
bad=$(ef_image_build web bad "web bad" fail) || exit 1
api=$(ef_image_build api v1 "api v1") || exit 1
port=$(ef_free_port)
url=http://127.0.0.1:$port/

web_says() { curl -s --max-time 5 "$url" 2>/dev/null; }
id_of() { ef_running | awk -v s="$1" '$1 == s && $4 == "running" {print $3}' | head -1; }
# compose WEB_IMAGE [python expression run on the web service dict `w`]
compose()
{
	ef_compose "$env/compose.json" "api=$api" "web=$1:$port"
	[ -z "${2:-}" ] || ef_compose_patch "$env/compose.json" web "$2"
}
quarantined() { ef_agent status --json | python3 -c 'import json,sys; print(" ".join(q["revision"] for q in json.load(sys.stdin)["quarantine"]))'; }

# check_rollback NAME: after a failed update under load.
check_rollback()
{
	local name=$1 rc=$2 commit=$3 counts
	counts=$(ef_load_stop)
	ef_expect_eq "$name: exit 4 (rolled back)" 4 "$rc"
	ef_expect_eq "$name: zero failed requests (of ${counts% *})" 0 "${counts#* }"
	ef_expect_eq "$name: blue (v2) still serving" "web v2" "$(web_says)"
	ef_expect_eq "$name: bodies seen" "${4:-web v2}" "$(ef_load_bodies)"
	ef_expect_contains "$name: commit quarantined" "$(quarantined)" "$commit"
	ef_expect_eq "$name: green removed" 2 "$(ef_running | wc -l)"
	ef_expect_eq "$name: api kept its container" "$api_id" "$(id_of api)"
}

# --- v1, then a good update to v2 under load --------------------------------------
compose "$v1"
ef_gitops_commit "v1"
ef_agent once 2>"$log" || { cat "$log"; exit 1; }
ef_expect_eq "v1 serves through the switch" "web v1" "$(web_says)"
api_id=$(id_of api)
blue_id=$(id_of web)

ef_load_start "$url" good
compose "$v2"
ef_gitops_commit "v2"
ef_agent once 2>"$log"
rc=$?
counts=$(ef_load_stop)
ef_expect_eq "good update exits 0" 0 $rc
ef_expect_eq "good update: zero failed requests (of ${counts% *})" 0 "${counts#* }"
ef_expect_eq "good update: responses went from v1 to v2" "web v1|web v2" "$(ef_load_bodies)"
ef_expect_eq "good update: api kept its container" "$api_id" "$(id_of api)"
[ "$(id_of web)" != "$blue_id" ] && ef_pass "good update: web has a new container" || ef_fail "web new container"
ef_expect_eq "good update: blue retired after soak" 2 "$(ef_running | wc -l)"
ef_expect_contains "good update: flipped while green was beside blue" "$(cat "$log")" "flipped"

# --- failing health endpoint ------------------------------------------------------
ef_load_start "$url" badhealth
compose "$bad"
ef_gitops_commit "bad health"
c=$(ef_gitops_head)
ef_agent once 2>"$log"
check_rollback "failing health" $? "$c"
ef_expect_contains "failing health: reason names the probe" "$(cat "$log")" "/health"

# --- crash-looping green ----------------------------------------------------------
ef_load_start "$url" crashloop
compose "$v3" 'w["command"] = ["sh", "-c", "exit 3"]; w["restart"] = "always"'
ef_gitops_commit "crash loop"
c=$(ef_gitops_head)
ef_agent once 2>"$log"
check_rollback "crash-looping green" $? "$c"

# --- failure during soak ----------------------------------------------------------
ef_load_start "$url" soak
compose "$v3" 'w["command"] = ["sh", "-c", "(sleep 2; rm /www/health) & exec httpd -f -p 8080 -h /www"]; w["healthcheck"] = {"interval": "1s", "retries": 2}'
ef_ini_set "$EF_AGENT_INI" deploy.soak 12s
ef_gitops_commit "fails during soak"
c=$(ef_gitops_head)
ef_agent once 2>"$log"
check_rollback "failure during soak" $? "$c" "web v2|web v3"
echo "figure: rollback decision to traffic on blue (failure during soak): $(grep -o 'traffic-on-blue ms=[0-9]*' "$log" | head -1 | cut -d= -f2) ms"
ef_expect_contains "failure during soak: logged as such" "$(cat "$log")" "during soak"
ef_expect_contains "failure during soak: rolled back after the flip" "$(cat "$log")" "flipped"
ef_ini_set "$EF_AGENT_INI" deploy.soak 3s

# --- image that cannot be pulled ----------------------------------------------------
ef_load_start "$url" nopull
compose "$EF_REGISTRY/web@sha256:$(printf '%064d' 0)"
ef_gitops_commit "unpullable"
c=$(ef_gitops_head)
ef_agent once 2>"$log"
check_rollback "unpullable image" $? "$c"
ef_expect_contains "unpullable image: reason names the image" "$(cat "$log")" "cannot pull"

# --- a quarantined commit is not retried; the next good commit deploys ------------
ef_agent once 2>"$log"
ef_expect_eq "quarantined head: pass exits 0 without retrying" 0 $?
ef_expect_eq "quarantined head: no deploy attempted" "" "$(grep ' deploy ' "$log")"
ef_load_start "$url" next
compose "$v3"
ef_gitops_commit "v3"
ef_agent once 2>"$log"
rc=$?
counts=$(ef_load_stop)
ef_expect_eq "next good commit deploys" 0 $rc
ef_expect_eq "next good commit: zero failed requests" 0 "${counts#* }"
ef_expect_eq "next good commit: v3 serves" "web v3" "$(web_says)"
v3_commit=$(ef_gitops_head)

# --- SIGKILL of the agent in the middle of a flip, traffic flowing -----------------
for point in before-flip after-flip during-soak; do
	ef_load_start "$url" "kill-$point"
	if [ "$(web_says)" = "web v3" ]; then next=$v2; want="web v2"; else next=$v3; want="web v3"; fi
	compose "$next"
	ef_gitops_commit "kill at $point"
	EDGEFLIP_FAULT=$point ef_agent once 2>"$log"
	rc=$?
	ef_expect_eq "kill at $point: agent died by SIGKILL" 137 $rc
	sleep 1
	ef_agent once 2>"$log"
	rc=$?
	counts=$(ef_load_stop)
	ef_expect_eq "kill at $point: restarted agent converges (exit 0)" 0 $rc
	ef_expect_contains "kill at $point: recovery logged" "$(cat "$log")" "recover"
	ef_expect_eq "kill at $point: zero failed requests (of ${counts% *})" 0 "${counts#* }"
	ef_expect_eq "kill at $point: new version serves" "$want" "$(web_says)"
	ef_expect_eq "kill at $point: exactly one set runs" 2 "$(ef_running | wc -l)"
done

# --- edgeflip rollback, on demand -------------------------------------------------------
before=$(web_says)
head=$(ef_gitops_head)
ef_load_start "$url" rollback
ef_agent rollback >"$log" 2>&1
rc=$?
counts=$(ef_load_stop)
ef_expect_eq "rollback exits 0" 0 $rc
ef_expect_eq "rollback: zero failed requests" 0 "${counts#* }"
[ "$(web_says)" != "$before" ] && ef_pass "rollback: the previous version serves" || ef_fail "rollback: previous version" "$(web_says)"
ef_expect_contains "rollback: the commit left is quarantined" "$(quarantined)" "$head"
ef_expect_contains "rollback: status shows the last rollback" "$(ef_agent status)" "rolled back by the operator"
ef_agent once 2>"$log"
ef_expect_eq "rollback: the next pass does not redeploy the branch head" "" "$(grep ' deploy ' "$log")"

ef_summary
