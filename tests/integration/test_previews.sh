#!/usr/bin/env bash
# Preview environments (issue 18, docs/previews.md) against the real HTTPS
# Git server, registry and Podman: refs/pull/N/head pushed beside main become
# projects pr-N on ports of [source] preview_ports; a deleted ref takes its
# preview with it; a refused preview commit (policy, unsigned) touches
# neither production nor the other previews; max_previews is honoured.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/e2e.sh"

ef_e2e_start previews
lo=$(ef_free_port)
hi=$((lo + 9))
ef_agent_config "$work/agent" "source.previews=refs/pull/*/head" "source.preview_ports=$lo-$hi"
project=$(sed -n 's/^project = //p' "$EF_AGENT_INI")

web1=$(ef_image_build web v1 "web v1") || exit 1
pr1a=$(ef_image_build web pr1a "pr1 a") || exit 1
pr1b=$(ef_image_build web pr1b "pr1 b") || exit 1
pr2=$(ef_image_build web pr2 "pr2") || exit 1
pr3=$(ef_image_build web pr3 "pr3") || exit 1
env=$EF_OPS_DIR/work/environments/production
port_web=$(ef_free_port)
log=$work/agent.log
w=$EF_OPS_DIR/work

in_range() { [ "${1:-0}" -ge "$lo" ] && [ "${1:-0}" -le "$hi" ]; }
says() { curl -s --max-time 3 "http://127.0.0.1:$1/" 2>/dev/null; }
# preview_field NAME KEY: a field of preview NAME in `status --json` ("" when absent).
preview_field()
{
	ef_agent status --json | python3 -c '
import json, sys
for p in json.load(sys.stdin)["previews"]:
    if p["name"] == sys.argv[1]:
        v = p.get(sys.argv[2])
        if sys.argv[2] == "port":
            v = p["ports"][0]["host_port"] if p["ports"] else ""
        print("" if v is None else v)' "$1" "$2"
}
npreviews() { ef_agent status --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["previews"]))'; }
preview_volumes() { $EF_PODMAN volume ls --format '{{.Name}}' | grep -c "^$project-$1_" ; }
preview_containers() { $EF_PODMAN ps -a -q --filter "label=io.edgeflip.preview=$1" | wc -l; }
preview_networks() { $EF_PODMAN network ls --format '{{.Name}}' | grep -c "^$project-$1_" ; }
# push_pr N IMAGE [unsigned|privileged]: a commit on top of main's (or the
# ref's, when it exists) environment, pushed to refs/pull/N/head.
push_pr()
{
	local n=$1 image=$2 how=${3:-}
	ef_git -C "$w" checkout -q -B "pr$n" "${4:-main}" || return 1
	ef_compose "$env/compose.json" "web=$image:$port_web"
	[ "$how" = privileged ] && ef_compose_patch "$env/compose.json" web 'w["privileged"] = True'
	[ "$how" = volume ] && ef_compose_patch "$env/compose.json" web 'm["volumes"] = {"data": {}}' \
		'w["volumes"] = ["data:/data", "./cache:/cache"]'
	if [ "$how" = unsigned ]; then
		ef_git -C "$w" add -A && ef_git -C "$w" commit -q --allow-empty -m "pr$n unsigned" || return 1
	else
		ef_git -C "$w" add -A && ef_git -C "$w" -c gpg.format=ssh \
			-c user.signingkey="$EF_OPS_DIR/keys/release" commit -q -S --allow-empty -m "pr$n" || return 1
	fi
	ef_git -C "$w" push -q -f origin "HEAD:refs/pull/$n/head" || return 1
	ef_git -C "$w" rev-parse HEAD
	ef_git -C "$w" checkout -q main
}

# --- production first ---------------------------------------------------------
ef_compose "$env/compose.json" "web=$web1:$port_web"
ef_gitops_commit "production" || exit 1
ef_agent once 2>"$log"
ef_expect_eq "production deploys with previews configured" 0 $?
ef_expect_eq "production serves" "web v1" "$(says "$port_web")"
prod_id=$(ef_running | awk '$1 == "web" && $4 == "running" {print $3}')
ef_expect_eq "no preview yet" 0 "$(npreviews)"

# --- two pull-request refs -> two previews beside production ------------------
c1=$(push_pr 1 "$pr1a") || exit 1
c2=$(push_pr 2 "$pr2" volume) || exit 1
ef_git -C "$w" checkout -q main
ef_agent once 2>"$log"
ef_expect_eq "the pass with two new previews exits 0" 0 $?
cp "$log" "$log.first"
ef_expect_eq "two previews recorded" 2 "$(npreviews)"
ef_expect_eq "pr-1 runs the ref's commit" "$c1" "$(preview_field pr-1 revision)"
ef_expect_eq "pr-2 runs the ref's commit" "$c2" "$(preview_field pr-2 revision)"
p1=$(preview_field pr-1 port)
p2=$(preview_field pr-2 port)
ef_check "pr-1's port is in preview_ports" in_range "$p1"
ef_check "pr-2's port is in preview_ports" in_range "$p2"
ef_check "pr-2's port is not pr-1's" test "$p1" != "$p2"
ef_wait_until 10 test "$(says "$p1")" = "pr1 a"
ef_expect_eq "pr-1 is served on its mapped port" "pr1 a" "$(says "$p1")"
ef_wait_until 10 test "$(says "$p2")" = "pr2"
ef_expect_eq "pr-2 is served on its mapped port" "pr2" "$(says "$p2")"
ef_expect_eq "production still serves beside them" "web v1" "$(says "$port_web")"
ef_expect_eq "production's container was not touched" "$prod_id" \
	"$(ef_running | awk '$1 == "web" && $4 == "running" {print $3}')"
ef_expect_eq "production's listing does not see previews" 1 "$(ef_running | wc -l)"
ef_check "pr-1's container carries its name" $EF_PODMAN container exists "$project-pr-1-web"
ef_expect_eq "pr-1 has its own network" 1 "$(preview_networks pr-1)"
ef_expect_eq "pr-2 has its own named volume" 1 "$(preview_volumes pr-2)"
ef_check "pr-2's relative bind lives under STATE_DIR/previews/pr-2" test -d "$work/agent/state/previews/pr-2/data/cache"
# A pass with nothing new: one ls-refs request lists the branch and both refs.
before=$(wc -l <"$work/git/nginx/access.log")
ef_agent once 2>"$log"
requests=$(tail -n +"$((before + 1))" "$work/git/nginx/access.log")
ef_expect_eq "a no-change pass makes one request for branch and previews" 1 "$(printf '%s\n' "$requests" | grep -c .)"
ef_expect_contains "that request is the ls-refs POST" "$requests" "POST /gitops.git/git-upload-pack"
ef_expect_eq "a no-change pass keeps both previews" "pr1 a|pr2" "$(says "$p1")|$(says "$p2")"
ef_expect_contains "the preview deploys are logged" "$(cat "$log.first")" "preview-deployed preview=pr-2"
out=$(ef_agent status)
ef_expect_contains "status lists pr-1 with its ref" "$out" "pr-1       refs/pull/1/head"
ef_expect_contains "status lists the port mapping" "$out" "port web 8080/tcp -> host $p1"

# --- production moves on: its orphan sweep leaves previews alone -------------
ef_compose "$env/compose.json" "web=$pr3:$port_web"
ef_gitops_commit "production 2" || exit 1
ef_agent once 2>"$log"
ef_expect_eq "a production deploy beside previews exits 0" 0 $?
ef_expect_eq "production serves its new commit" "pr3" "$(says "$port_web")"
ef_expect_eq "pr-1 survives production's deploy" "pr1 a" "$(says "$p1")"
ef_expect_eq "pr-2 survives production's deploy" "pr2" "$(says "$p2")"

# --- a ref deleted -> its preview and all it made go --------------------------
ef_git -C "$w" push -q origin ":refs/pull/2/head"
ef_agent once 2>"$log"
ef_expect_eq "one preview left" 1 "$(npreviews)"
ef_expect_eq "pr-2's containers are gone" 0 "$(preview_containers pr-2)"
ef_expect_eq "pr-2's networks are gone" 0 "$(preview_networks pr-2)"
ef_expect_eq "pr-2's volume is gone" 0 "$(preview_volumes pr-2)"
ef_expect_eq "pr-2's files are gone" no "$([ -e "$work/agent/state/previews/pr-2" ] && echo yes || echo no)"
ef_expect_eq "pr-2's port answers no more" "" "$(says "$p2")"
ef_expect_eq "pr-1 still serves" "pr1 a" "$(says "$p1")"
c3=$(push_pr 3 "$pr2") || exit 1
ef_agent once 2>"$log"
ef_expect_eq "the freed port goes to the next preview" "$p2" "$(preview_field pr-3 port)"
ef_wait_until 10 test "$(says "$p2")" = "pr2"
ef_expect_eq "pr-3 is served on it" "pr2" "$(says "$p2")"

# --- refused preview commits touch nothing else -------------------------------
prod_id=$(ef_running | awk '$1 == "web" && $4 == "running" {print $3}')
bad=$(push_pr 1 "$pr1b" privileged pr1) || exit 1
unsigned=$(push_pr 3 "$pr1b" unsigned pr3) || exit 1
ef_agent once 2>"$log"
ef_expect_contains "the policy refusal is logged for pr-1" "$(cat "$log")" "preview-rejected preview=pr-1"
ef_expect_eq "pr-1 keeps its revision" "$c1" "$(preview_field pr-1 revision)"
ef_expect_eq "pr-1 records the refused commit" "$bad" "$(preview_field pr-1 refused)"
ef_expect_contains "pr-1's reason names the policy" "$(preview_field pr-1 reason)" "privileged"
ef_expect_eq "pr-1 still serves its last good commit" "pr1 a" "$(says "$p1")"
ef_expect_eq "the unsigned pr-3 commit is refused" "$unsigned" "$(preview_field pr-3 refused)"
ef_expect_contains "pr-3's reason is the signature" "$(preview_field pr-3 reason)" "signature"
ef_expect_eq "pr-3 still serves" "pr2" "$(says "$p2")"
ef_expect_eq "production untouched by preview refusals" "$prod_id" \
	"$(ef_running | awk '$1 == "web" && $4 == "running" {print $3}')"
ef_expect_eq "production quarantines nothing" "" "$(ef_agent status --json | python3 -c 'import json,sys; print(json.load(sys.stdin).get("quarantine") or "")')"
ef_expect_eq "production's last result stays deployed" "deployed" "$(ef_status_field last_result)"

# --- a good update keeps the port ---------------------------------------------
c1b=$(push_pr 1 "$pr1b" "" pr1) || exit 1
ef_agent once 2>"$log"
ef_expect_eq "pr-1 moves to the new commit" "$c1b" "$(preview_field pr-1 revision)"
ef_expect_eq "pr-1 keeps its port across updates" "$p1" "$(preview_field pr-1 port)"
ef_wait_until 10 test "$(says "$p1")" = "pr1 b"
ef_expect_eq "pr-1 serves the update" "pr1 b" "$(says "$p1")"
ef_expect_eq "one pr-1 container after the recreate" 1 "$(preview_containers pr-1)"

# --- drift: a preview removed by hand comes back -------------------------------
$EF_PODMAN rm -f "$project-pr-1-web" >/dev/null
ef_agent once 2>"$log"
ef_expect_contains "the missing preview is noticed" "$(cat "$log")" "preview-drift preview=pr-1"
ef_wait_until 10 test "$(says "$p1")" = "pr1 b"
ef_expect_eq "pr-1 serves again on the same port" "pr1 b" "$(says "$p1")"

# --- max_previews ---------------------------------------------------------------
ef_ini_set "$EF_AGENT_INI" source.max_previews 1
ef_agent once 2>"$log"
ef_expect_eq "max_previews = 1 keeps one preview" 1 "$(npreviews)"
ef_expect_eq "the lowest N is kept" "$c1b" "$(preview_field pr-1 revision)"
ef_expect_eq "pr-3's containers are removed" 0 "$(preview_containers pr-3)"
ef_expect_contains "the skipped ref is logged" "$(cat "$log")" "preview-skipped preview=pr-3"
ef_expect_eq "production serves throughout" "pr3" "$(says "$port_web")"

# --- all refs gone: nothing of previews is left -------------------------------
ef_git -C "$w" push -q origin ":refs/pull/1/head" ":refs/pull/3/head"
ef_agent once 2>"$log"
ef_expect_eq "no previews left" 0 "$(npreviews)"
ef_expect_eq "no preview containers left" 0 "$($EF_PODMAN ps -a -q --filter label=io.edgeflip.preview | wc -l)"
ef_expect_eq "no preview networks left" 0 "$($EF_PODMAN network ls --format '{{.Name}}' | grep -c "^$project-pr-")"

ef_summary
