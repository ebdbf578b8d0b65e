#!/usr/bin/env bash
# End to end: per-device layers (issue 14 item 1). One signed commit of one
# environment directory, two devices with their own [agent] device_id and
# labels, each deploying on a real Podman engine (one after the other: one
# engine, so the second device's start-up sweeps the first one's
# containers): each gets its own environment values, overrides and public
# port, exactly as `edgeflip config DIR --device ID --label K=V` prints for
# the repository's CI. A broken layer file is named in the refusal and
# refuses only the device that reads it.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/e2e.sh"

ef_e2e_start layers
web1=$(ef_image_build web v1 "web v1") || exit 1
env=$EF_OPS_DIR/work/environments/production
port_a=$(ef_free_port)
port_b=$(ef_free_port)
log=$work/agent.log

# device A: id gw-a, labels site=north hw=pi4; device B: id gw-b, site=south
# and a device-local env_file.
ef_agent_config "$work/a" "agent.device_id=gw-a" "agent.labels=site=north hw=pi4"
ini_a=$EF_AGENT_INI
printf 'GREETING=b-local\n' >"$work/b.env"
ef_agent_config "$work/b" "agent.device_id=gw-b" "agent.labels=site=south" "agent.env_file=$work/b.env"
ini_b=$EF_AGENT_INI

mkdir -p "$env/labels/site=north" "$env/labels/site=south" "$env/labels/hw=pi4" \
	"$env/devices/gw-a" "$env/devices/gw-b"
cat >"$env/compose.yaml" <<EOF
services:
  web:
    image: $web1
    ports: ["\${PORT:-1}:8080"]
    environment:
      GREETING: \${GREETING}
      SITE: \${SITE:-none}
      DEVICE: \${EDGEFLIP_DEVICE_ID:-none}
    x-edgeflip:
      health: {http: {path: /health, port: 8080}}
EOF
printf 'GREETING=hello\nSITE=base\n' >"$env/.env"
printf 'SITE=north\nPORT=%s\n' "$port_a" >"$env/labels/site=north/.env"
printf 'SITE=south\nPORT=%s\n' "$port_b" >"$env/labels/site=south/.env"
printf 'services:\n  web:\n    environment:\n      HW: pi4\n' >"$env/labels/hw=pi4/compose.override.yaml"
# The device's .env comes after the labels' and wins over them.
printf 'GREETING=hi-from-a\n' >"$env/devices/gw-a/.env"
printf '{"services": {"web": {"environment": {"ONLY_B": "yes"}}}}\n' \
	>"$env/devices/gw-b/compose.override.json"
ef_gitops_commit "layers" || exit 1
c1=$(ef_gitops_head)

# env_of: the web container's environment, one NAME=VALUE a line, sorted.
env_of()
{
	local id
	id=$($EF_PODMAN ps -q --filter label=io.edgeflip.service=web | head -1)
	$EF_PODMAN container inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$id" |
		grep -E '^(GREETING|SITE|DEVICE|HW|ONLY_B)=' | sort | tr '\n' ' '
}
says() { curl -s --max-time 5 "http://127.0.0.1:$1/" 2>/dev/null; }
# config_env ARGS...: what `edgeflip config` prints for web's environment.
config_env()
{
	"$EF_BIN" config "$env" "$@" | python3 -c '
import json, sys
e = json.load(sys.stdin)["services"]["web"]["environment"]
print(" ".join(f"{k}={v}" for k, v in sorted(e.items())) + " ")'
}

# --- device A ---------------------------------------------------------------
EF_AGENT_INI=$ini_a ef_agent once 2>"$log"
ef_expect_eq "device A deploys" 0 $?
want_a="DEVICE=gw-a GREETING=hi-from-a HW=pi4 SITE=north "
ef_expect_eq "device A: its id, label and device values" "$want_a" "$(env_of)"
ef_expect_eq "device A: serves on its label's port" "web v1" "$(says "$port_a")"
ef_expect_eq "edgeflip config for A prints the same" "$want_a" \
	"$(config_env --device gw-a --label site=north --label hw=pi4)"
ef_expect_eq "labels apply whatever their order on the command line" "$want_a" \
	"$(config_env --label hw=pi4 --device gw-a --label site=north)"
ef_proxy_stop "$work/a/state"
# One engine for both: A's containers go, or B (no journal yet) would adopt
# them as a device that lost its journal does (docs/state.md).
$EF_PODMAN rm -f $($EF_PODMAN ps -a -q --filter label=io.edgeflip.service) >/dev/null

# --- device B, same commit ----------------------------------------------------
EF_AGENT_INI=$ini_b ef_agent once 2>"$log"
ef_expect_eq "device B deploys" 0 $?
want_b="DEVICE=gw-b GREETING=b-local ONLY_B=yes SITE=south "
ef_expect_eq "device B: its values, its override, its env_file last" "$want_b" "$(env_of)"
ef_expect_eq "device B: serves on its label's port" "web v1" "$(says "$port_b")"
ef_expect_eq "device B: status names the same commit" "$c1" \
	"$(EF_AGENT_INI=$ini_b ef_status_field revision)"
ef_expect_eq "edgeflip config for B prints the same (with its env_file)" "$want_b" \
	"$(config_env --device gw-b --label site=south --env-file "$work/b.env")"

# --- a broken layer file: named, and only the device that reads it refuses ---
printf 'services:\n  web:\n    environment:\n      HW: pi4\n    privileged: maybe\n' \
	>"$env/labels/hw=pi4/compose.override.yaml"
ef_gitops_commit "broken label layer" || exit 1
before=$(ef_running)
EF_AGENT_INI=$ini_b ef_agent once 2>"$log"
ef_expect_eq "device B (no hw label) takes the commit" 0 $?
EF_AGENT_INI=$ini_a ef_agent once 2>"$log"
ef_expect_eq "device A refuses the commit (exit 3)" 3 $?
ef_expect_contains "the refusal names the layer's file and line" "$(cat "$log")" \
	"labels/hw=pi4/compose.override.yaml:5:"
"$EF_BIN" lint "$env" --layers >"$work/lint.out" 2>&1
ef_expect_eq "lint --layers finds it (exit 3)" 3 $?
ef_expect_contains "lint --layers names the layer's file" "$(cat "$work/lint.out")" \
	"labels/hw=pi4/compose.override.yaml:5:"
ef_proxy_stop "$work/a/state"
ef_proxy_stop "$work/b/state"

# --- ids and labels that would leave the repository are refused -----------------
ef_agent_config "$work/c" "agent.device_id=../gw-a"
ef_agent check-config >"$log" 2>&1
ef_expect_eq "device_id with .. refused (exit 2)" 2 $?
ef_expect_contains "the message names the key" "$(cat "$log")" "[agent] device_id"
ef_agent_config "$work/c" "agent.labels=site=north/../../x"
ef_agent check-config >"$log" 2>&1
ef_expect_eq "label with / refused (exit 2)" 2 $?
"$EF_BIN" config "$env" --label 'site=..' >"$log" 2>&1
ef_expect_eq "config --label site=.. refused (exit 3)" 3 $?

ef_summary
