# shellcheck shell=bash
# Fixtures for end-to-end tests of the agent: a GitOps repository on the
# HTTPS Git server (tests/lib/git-server.sh), commits signed by a real
# ssh-keygen key, an agent configuration, and the running engine
# (tests/lib/engine.sh). Source after those two.
#
#   ef_gitops_init DIR              # work tree DIR/work, signing key, allowed_signers
#   ef_gitops_commit MSG            # signed commit of DIR/work + push
#   ef_agent_config DIR [KEY=VALUE...] # writes DIR/edgeflip.ini (overrides: section.key=value)
#   ef_agent once                   # runs $EF_BUILD_DIR/edgeflip -c DIR/edgeflip.ini once

EF_AGENT_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
EF_BUILD_DIR=${EF_BUILD_DIR:-$EF_AGENT_LIB_DIR/../../build}
EF_BIN=${EF_BIN:-$EF_BUILD_DIR/edgeflip}

# ef_e2e_start NAME: a work folder with an HTTPS Git server, a registry, a
# Podman engine and a GitOps repository, all stopped again (by PID) on exit.
# Sets $work, under $EF_E2E_TMPDIR (default /tmp).
ef_e2e_start()
{
	work=$(mktemp -d "${EF_E2E_TMPDIR:-/tmp}/ef-$1.XXXXXX")
	chmod 755 "$work"
	EF_LOAD_PID=
	trap ef_e2e_stop EXIT
	ef_git_server_start "$work/git" >/dev/null || { echo "cannot start the git server"; exit 1; }
	ef_registry_start "$work/registry" || { echo "cannot start the registry"; exit 1; }
	ef_podman_start "$work/podman" || { echo "cannot start podman"; exit 1; }
	ef_gitops_init "$work/ops" || { echo "cannot make the gitops repo"; exit 1; }
}

ef_e2e_stop()
{
	[ -n "${EF_LOAD_PID:-}" ] && kill "$EF_LOAD_PID" 2>/dev/null
	ef_proxy_stop "$work/agent/state"
	ef_podman_stop
	ef_registry_stop
	ef_git_server_stop
	# EF_E2E_KEEP=DIR: the agent's and the proxy's logs are kept there.
	if [ -n "${EF_E2E_KEEP:-}" ]; then
		mkdir -p "$EF_E2E_KEEP" &&
			find "$work" -name '*.log' -not -path '*/podman/*' -exec cp --backup=numbered {} "$EF_E2E_KEEP/" \;
	fi
	rm -rf "$work"
}

ef_gitops_init()
{
	local dir=$1
	EF_OPS_DIR=$dir
	EF_OPS_URL=$(ef_git_repo_create gitops) || return 1
	EF_OPS_URL=${EF_OPS_URL/127.0.0.1/localhost}
	mkdir -p "$dir/work/environments/production" "$dir/keys"
	ssh-keygen -q -t ed25519 -N '' -C release@example.com -f "$dir/keys/release" || return 1
	printf 'release@example.com namespaces="git" %s\n' "$(cut -d' ' -f1,2 "$dir/keys/release.pub")" \
		>"$dir/keys/allowed_signers"
	ef_git -C "$dir/work" init -q -b main || return 1
	ef_git -C "$dir/work" remote add origin "$EF_OPS_URL"
	export EF_OPS_DIR EF_OPS_URL
}

# ef_gitops_commit MSG [git commit options]: signs with the release key.
ef_gitops_commit()
{
	local msg=$1
	shift
	ef_git -C "$EF_OPS_DIR/work" add -A &&
		ef_git -C "$EF_OPS_DIR/work" -c gpg.format=ssh \
			-c user.signingkey="$EF_OPS_DIR/keys/release" commit -q -S --allow-empty -m "$msg" "$@" &&
		ef_git -C "$EF_OPS_DIR/work" push -q -f origin HEAD:main
}

ef_gitops_head()
{
	ef_git -C "$EF_OPS_DIR/work" rev-parse HEAD
}

# ef_compose FILE SERVICE=IMAGE[:HOSTPORT] ...: a compose.json with busybox
# httpd services; HOSTPORT publishes container port 8080 and adds an HTTP
# health probe on /health.
ef_compose()
{
	local file=$1 first=1 spec name image port
	shift
	{
		printf '{\n  "services": {\n'
		for spec in "$@"; do
			name=${spec%%=*}
			image=${spec#*=}
			port=
			case $image in *@sha256:*:*) port=${image##*:}; image=${image%:*} ;; esac
			[ $first = 1 ] || printf ',\n'
			first=0
			printf '    "%s": {\n      "image": "%s"' "$name" "$image"
			if [ -n "$port" ]; then
				printf ',\n      "ports": ["%s:8080"]' "$port"
				printf ',\n      "x-edgeflip": {"health": {"http": {"path": "/health", "port": 8080}}}'
			fi
			printf '\n    }'
		done
		printf '\n  }\n}\n'
	} >"$file"
}

# ef_compose_patch FILE SERVICE CODE...: runs each Python CODE (in order; empty
# ones skipped) with `m` the compose document of FILE and `w` its SERVICE,
# then writes FILE back.
ef_compose_patch()
{
	python3 - "$@" <<'PY'
import json, sys
p, name = sys.argv[1], sys.argv[2]
m = json.load(open(p))
w = m["services"][name]
for code in sys.argv[3:]:
    exec(code)
json.dump(m, open(p, "w"), indent=1)
PY
}

# ef_agent_config DIR [section.key=value ...]
ef_agent_config()
{
	local dir=$1 kv
	shift
	mkdir -p "$dir/state"
	EF_AGENT_INI=$dir/edgeflip.ini
	{
		printf '[agent]\ndevice_id = test-gw\nstate_dir = %s/state\ninterval = 1s\nmax_backoff = 5s\n' "$dir"
		printf '[source]\nurl = %s\nbranch = main\npath = environments/production\nca_file = %s\ntimeout = 20s\n' \
			"$EF_OPS_URL" "$EF_GIT_CA"
		printf '[trust]\nallowed_signers = %s\n' "$EF_OPS_DIR/keys/allowed_signers"
		# Rootful Podman shares its DNS server and address database between
		# engines: a project name of its own keeps suites side by side apart.
		printf '[engine]\nendpoint = unix://%s\nproject = ef%s\n' "$EF_PODMAN_SOCK" \
			"$(basename "$dir" | cksum | cut -c1-8)$RANDOM"
		printf '[deploy]\nsoak = 2s\nhealth_timeout = 30s\nstop_timeout = 2s\n'
		printf '[policy]\nregistries = %s\n' "$EF_REGISTRY"
	} >"$EF_AGENT_INI"
	for kv in "$@"; do
		ef_ini_set "$EF_AGENT_INI" "${kv%%=*}" "${kv#*=}"
	done
	export EF_AGENT_INI
}

# ef_ini_set FILE section.key value: sets or adds a key.
ef_ini_set()
{
	python3 - "$@" <<'PY'
import sys, re
path, sk, value = sys.argv[1], sys.argv[2], sys.argv[3]
section, key = sk.split('.', 1)
lines = open(path).read().splitlines()
out, cur, done = [], None, False
for i, l in enumerate(lines):
    m = re.match(r'\[(.*)\]', l)
    if m:
        if cur == section and not done:
            out.append(f'{key} = {value}'); done = True
        cur = m.group(1)
    elif cur == section and re.match(rf'{re.escape(key)}\s*=', l):
        if value != '':
            out.append(f'{key} = {value}')
        done = True
        continue
    out.append(l)
if not done:
    if cur != section:
        out.append(f'[{section}]')
    out.append(f'{key} = {value}')
open(path, 'w').write('\n'.join(out) + '\n')
PY
}

ef_agent()
{
	"$EF_BIN" -c "$EF_AGENT_INI" "$@"
}

# Edgeflip containers: "service slot id state" lines, sorted (state: running,
# exited, created ...).
ef_running()
{
	local id
	for id in $($EF_PODMAN ps -a -q --filter label=io.edgeflip.service); do
		$EF_PODMAN container inspect --format \
			'{{index .Config.Labels "io.edgeflip.service"}} {{index .Config.Labels "io.edgeflip.slot"}} '"$id"' {{.State.Status}}' "$id"
	done | sort
}

# ef_status_field KEY: a top-level field of `edgeflip status --json`.
ef_status_field()
{
	ef_agent status --json | python3 -c 'import json,sys; v=json.load(sys.stdin).get(sys.argv[1]); print("" if v is None else v)' "$1"
}

# Stops the proxy process the agent started for STATE_DIR (by its pid file).
ef_proxy_stop()
{
	local pidfile=$1/proxy/proxy.pid pid
	[ -f "$pidfile" ] || return 0
	pid=$(cat "$pidfile" 2>/dev/null)
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	return 0
}

# ef_load_start URL NAME [LOAD.PY OPTIONS...]: a bounded load loop in the
# background (tests/lib/load.py).
ef_load_start()
{
	EF_LOAD_OUT=$EF_OPS_DIR/load-$2.json
	rm -f "$EF_LOAD_OUT" "$EF_LOAD_OUT.stop" "$EF_LOAD_OUT.errors"
	python3 "$EF_AGENT_LIB_DIR/load.py" "$1" "$EF_LOAD_OUT" --seconds 300 --max 200000 \
		--stop-file "$EF_LOAD_OUT.stop" "${@:3}" &
	EF_LOAD_PID=$!
	sleep 0.5
}

# ef_load_stop: stops the loop; prints "total failed" and leaves the JSON in $EF_LOAD_OUT.
ef_load_stop()
{
	local i
	touch "$EF_LOAD_OUT.stop"
	wait "$EF_LOAD_PID" 2>/dev/null
	# Called as $(ef_load_stop), `wait` runs in a subshell that is not the load
	# client's parent and returns at once: wait for its summary instead (it
	# notices the stop file within one request, at most 5 s).
	for i in $(seq 150); do
		[ -f "$EF_LOAD_OUT" ] && break
		sleep 0.1
	done
	EF_LOAD_PID=
	# The failures themselves, in the suite's log, when there were any.
	[ -s "$EF_LOAD_OUT.errors" ] && sed 's/^/# load error: /' "$EF_LOAD_OUT.errors" >&2
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["total"], d["failed"])' "$EF_LOAD_OUT"
}

# ef_load_bodies: the bodies the last load loop saw, in order of first appearance, "|"-joined.
ef_load_bodies()
{
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("|".join(d["bodies"]))' "$EF_LOAD_OUT"
}
