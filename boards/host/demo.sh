#!/usr/bin/env bash
# The edgeflip demo, on this machine, in a few minutes:
#   installs packages, builds, starts a local HTTPS Git server, a registry and
#   a Podman engine, creates a GitOps repository with environments/production,
#   runs the agent as a daemon, pushes a signed update and shows it applied
#   blue/green with traffic flowing, then a broken update rolled back by
#   itself. Cleans up what it started.
# Run as root on Debian 12:  boards/host/demo.sh
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
note() { printf '    %s\n' "$*"; }

say "Installing packages (Debian) and building edgeflip"
scripts/install-deps.sh || exit 1
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
	cmake --build build -j"$(nproc)" >/dev/null || { echo "build failed"; exit 1; }
note "binary: build/edgeflip ($(stat -c %s build/edgeflip) bytes, not stripped)"

source tests/lib/check.sh
source tests/lib/git-server.sh
source tests/lib/engine.sh
source tests/lib/agent.sh
EF_BIN=$top/build/edgeflip

work=$(mktemp -d /tmp/edgeflip-demo.XXXXXX)
chmod 755 "$work"
agent_pid=
load_pid=
cleanup()
{
	say "Cleaning up"
	[ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null
	[ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
	for p in "$work"/agent/state/proxy/*.pid; do
		[ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null
	done
	ef_podman_stop
	ef_registry_stop
	ef_git_server_stop
	rm -rf "$work"
	note "done"
}
trap cleanup EXIT

say "Starting a local HTTPS Git server, a registry and a Podman engine"
ef_git_server_start "$work/git" >/dev/null || exit 1
ef_registry_start "$work/registry" || exit 1
ef_podman_start "$work/podman" || exit 1
note "git:      $EF_GIT_URL (CA $EF_GIT_CA)"
note "registry: $EF_REGISTRY"
note "engine:   unix://$EF_PODMAN_SOCK"

say "Building three versions of a tiny web image and pushing them"
v1=$(ef_image_build hello v1 "hello from v1") || exit 1
v2=$(ef_image_build hello v2 "hello from v2") || exit 1
bad=$(ef_image_build hello broken "hello from a broken build" fail) || exit 1
note "$v1"
note "$v2"
note "$bad  (its /health answers 404)"

say "Creating the GitOps repository: environments/production/compose.json, signed with an SSH key"
ef_gitops_init "$work/ops" || exit 1
port=$(ef_free_port)
env=$EF_OPS_DIR/work/environments/production
ef_compose "$env/compose.json" "hello=$v1:$port"
ef_gitops_commit "production: hello v1" || exit 1
sed 's/^/    | /' "$env/compose.json"
note "trusted signers: $(cat "$EF_OPS_DIR/keys/allowed_signers" | cut -c1-60)..."

ef_agent_config "$work/agent" "agent.interval=2s" "deploy.soak=5s"
say "The agent's configuration ($EF_AGENT_INI)"
sed 's/^/    | /' "$EF_AGENT_INI"

say "Starting the agent (edgeflip run) — its log: $work/agent.log"
"$EF_BIN" -c "$EF_AGENT_INI" run >"$work/agent.log" 2>&1 &
agent_pid=$!
ok=0
for _ in $(seq 1 120); do
	"$EF_BIN" -c "$EF_AGENT_INI" status --json | grep -q "\"revision\":\"$(ef_gitops_head)\"" && { ok=1; break; }
	sleep 0.5
done
[ $ok = 1 ] || { tail -30 "$work/agent.log"; echo "v1 did not come up"; exit 1; }
note "curl http://127.0.0.1:$port/  ->  $(curl -s "http://127.0.0.1:$port/")"
"$EF_BIN" -c "$EF_AGENT_INI" status | sed 's/^/    | /'

say "Promoting v2: a signed commit; the agent stages green beside blue, health-checks, flips"
( end=$((SECONDS + 60)); n=0; f=0
  while [ $SECONDS -lt $end ] && [ $n -lt 3000 ]; do
	n=$((n + 1)); curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/" || f=$((f + 1))
	[ -f "$work/stop-load" ] && break
	sleep 0.02
  done; echo "$n $f" >"$work/load.result" ) &
load_pid=$!
ef_compose "$env/compose.json" "hello=$v2:$port"
ef_gitops_commit "production: hello v2" || exit 1
"$EF_BIN" -c "$EF_AGENT_INI" kick >/dev/null
ok=0
for _ in $(seq 1 120); do
	"$EF_BIN" -c "$EF_AGENT_INI" status --json | grep -q "\"revision\":\"$(ef_gitops_head)\"" && { ok=1; break; }
	sleep 0.5
done
[ $ok = 1 ] || { tail -30 "$work/agent.log"; echo "v2 was not deployed"; exit 1; }
note "curl http://127.0.0.1:$port/  ->  $(curl -s "http://127.0.0.1:$port/")"
grep -E ' (deploy|pull|started|healthy|flipped|soak|removed|deployed) ' "$work/agent.log" | tail -12 | sed 's/^/    | /'

say "Promoting a broken build: green never gets healthy, the agent flips back by itself"
ef_compose "$env/compose.json" "hello=$bad:$port"
ef_gitops_commit "production: hello broken" || exit 1
"$EF_BIN" -c "$EF_AGENT_INI" kick >/dev/null
ok=0
for _ in $(seq 1 200); do
	grep -q ' rolled-back ' "$work/agent.log" && { ok=1; break; }
	sleep 0.5
done
[ $ok = 1 ] || { tail -30 "$work/agent.log"; echo "no rollback seen"; exit 1; }
touch "$work/stop-load"
wait "$load_pid"
load_pid=
note "curl http://127.0.0.1:$port/  ->  $(curl -s "http://127.0.0.1:$port/")"
grep -E ' (rollback|traffic-on-blue|rolled-back) ' "$work/agent.log" | tail -3 | sed 's/^/    | /'
read -r n f <"$work/load.result"
note "requests sent during both updates: $n, failed: $f"
"$EF_BIN" -c "$EF_AGENT_INI" status | sed 's/^/    | /'

say "Done: v2 kept serving; the broken commit is quarantined until a newer one arrives."
