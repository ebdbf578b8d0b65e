#!/bin/bash
# Integration test of the docker-api engine backend against a real Podman
# engine and a real registry (tests/lib/engine.sh), driven through
# tests/tools/ef_engine_probe.
#
#   EF_BUILD_DIR=build tests/integration/test_engine.sh
#
# Needs root (rootful Podman). Prints "N passed, M failed"; exits non-zero on
# any failure.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${EF_BUILD_DIR:-$root/build}
probe=$(readlink -f "$build/tests/tools/ef_engine_probe" 2>/dev/null)
if [ ! -x "$probe" ]; then
	echo "test_engine: no probe at $build/tests/tools/ef_engine_probe (set EF_BUILD_DIR)" >&2
	exit 2
fi
# shellcheck source=../lib/engine.sh
source "$root/tests/lib/engine.sh"
# shellcheck source=../lib/check.sh
source "$root/tests/lib/check.sh"

work=$(mktemp -d)
helpers=()
cleanup()
{
	local pid
	for pid in "${helpers[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	ef_podman_stop
	ef_registry_stop
	rm -rf "$work"
}
trap cleanup EXIT

# run_probe ARGS...: sets $out (stdout and stderr) and $rc.
run_probe()
{
	out=$("$probe" --endpoint "unix://$EF_PODMAN_SOCK" "$@" 2>&1)
	rc=$?
}
# expect NAME EXIT [TEXT]: the last probe exited EXIT and printed TEXT.
expect()
{
	local name=$1 want_rc=$2 want_text=${3:-}
	if [ "$rc" -ne "$want_rc" ]; then
		ef_fail "$name" "exit $rc, wanted $want_rc: $(tail -c 800 <<<"$out")"
	elif [ -n "$want_text" ] && ! grep -qF -- "$want_text" <<<"$out"; then
		ef_fail "$name" "output lacks [$want_text]: $(tail -c 800 <<<"$out")"
	else
		ef_pass "$name"
	fi
}
field() { sed -n "s/^$1=//p" <<<"$out" | head -1; }

ef_registry_start "$work/registry" || { echo "cannot start the registry"; exit 1; }
ef_podman_start "$work/podman" || { echo "cannot start podman"; exit 1; }
t0=$(date +%s%N)
ref=$(ef_image_build web v1 "engine test v1") || { echo "cannot build the test image"; exit 1; }
echo "# image built and pushed in $((($(date +%s%N) - t0) / 1000000)) ms: $ref"
port=$(ef_free_port)

# --- ping and pull -------------------------------------------------------------
run_probe ping
expect "ping answers" 0 "ok=1"

run_probe -v pull "$ref"
expect "pull by digest" 0 "pulled=$ref"
expect "pull by digest goes through images/create" 0 "path=/v1.41/images/create?fromImage="
ef_check "the engine has the image afterwards" $EF_PODMAN image exists "$ref"

run_probe -v pull "$ref"
expect "pull of a present image is skipped" 0 "engine image present"
if grep -q "images/create" <<<"$out"; then
	ef_fail "no images/create for a present image" "$out"
else
	ef_pass "no images/create for a present image"
fi

run_probe pull "$EF_REGISTRY/web:v1"
expect "pull by tag" 0 "pulled=$EF_REGISTRY/web:v1"

# --- create with labels and a port binding, start --------------------------------
run_probe -v --slot green --revision 4f1c0ffee run edgeflip-web-green "$ref" "127.0.0.1:$port:8080"
expect "create and start" 0 "id="
id=$(field id)
expect "the connection is kept between requests" 0 "new_connection=0"
ef_expect_eq "the first request opened one connection" 1 \
	"$(grep -c 'new_connection=1' <<<"$out")"

# --- entrypoint: [] clears the image's entrypoint --------------------------------
# Compose's `entrypoint: []` (or '') runs the command without the image's
# entrypoint. Podman 4.3's Docker API keeps the image's for "Entrypoint": [],
# so the backend sends [""], which Docker and Podman both read as "clear".
ef__base_rootfs
cp "$EF_PODMAN_DIR/cache/base.tar" "$work/ep.tar"
$EF_PODMAN import --quiet --change 'ENTRYPOINT ["/bin/echo", "from-the-entrypoint"]' \
	"$work/ep.tar" localhost/edgeflip-ep:1 >/dev/null
PROBE_NO_ENTRYPOINT=1 run_probe --cmd 'echo from-the-command; sleep 30' \
	run edgeflip-noentry localhost/edgeflip-ep:1 -
expect "a container with entrypoint: [] is created" 0 "id="
ef_wait_until 10 sh -c "$EF_PODMAN logs edgeflip-noentry 2>&1 | grep -q from-the-command"
ef_expect_eq "entrypoint: [] runs the command alone, not the image's entrypoint" \
	"from-the-command" "$($EF_PODMAN logs edgeflip-noentry 2>&1 | head -1)"
$EF_PODMAN rm -f -t 0 edgeflip-noentry >/dev/null 2>&1

# --- device requests (GPUs): applied, or the create fails and leaves nothing -----
# Podman 4.3's Docker API takes HostConfig.DeviceRequests and applies nothing
# (no device, no error): a container must not run without the GPU it asked for.
PROBE_GPU=nvidia run_probe run edgeflip-gpu "$ref" -
if [ "$rc" -eq 0 ]; then
	ef_check "a device request the engine took is reported back" \
		sh -c "$EF_PODMAN inspect edgeflip-gpu | grep -q nvidia"
	$EF_PODMAN rm -f edgeflip-gpu >/dev/null 2>&1
else
	ef_expect_contains "an ignored device request fails the create, naming it" "$out" \
		'did not apply the device request (driver nvidia, capabilities gpu)'
	ef_expect_eq "the container the engine made without it is removed" "" \
		"$($EF_PODMAN ps -a --filter name=edgeflip-gpu --format '{{.Names}}')"
fi

# --- device cgroup rules: applied, or the create fails and leaves nothing -------
# Podman 4.3's Docker API takes HostConfig.DeviceCgroupRules and applies
# nothing; Docker applies them and reports them. Either way nothing is dropped
# without a word.
PROBE_CGROUP_RULE='c 188:* rw' run_probe run edgeflip-cgrules "$ref" -
if [ "$rc" -eq 0 ]; then
	ef_check "a device cgroup rule the engine took is in force" \
		$EF_PODMAN exec "$(field id)" grep -q '^c 188:\* rw' /sys/fs/cgroup/devices/devices.list
	$EF_PODMAN rm -f edgeflip-cgrules >/dev/null 2>&1
else
	ef_expect_contains "an ignored device cgroup rule fails the create, naming it" "$out" \
		'did not apply device cgroup rule "c 188:* rw"'
	ef_expect_eq "the container the engine made without it is removed" "" \
		"$($EF_PODMAN ps -a --filter name=edgeflip-cgrules --format '{{.Names}}')"
fi

label() { $EF_PODMAN inspect --format "{{index .Config.Labels \"$1\"}}" "$id" 2>/dev/null; }
ef_expect_eq "label io.edgeflip.service" "edgeflip-web-green" "$(label io.edgeflip.service)"
ef_expect_eq "label io.edgeflip.slot" "green" "$(label io.edgeflip.slot)"
ef_expect_eq "label io.edgeflip.revision" "4f1c0ffee" "$(label io.edgeflip.revision)"
ef_expect_eq "label io.edgeflip.spec" "probe" "$(label io.edgeflip.spec)"
ef_expect_eq "the service's own label" "probe" "$(label io.edgeflip.test)"

body=$(ef_wait_until 10 curl -sf "http://127.0.0.1:$port/")
ef_expect_eq "published port answers on 127.0.0.1:$port" "engine test v1" "$body"
ef_expect_eq "health endpoint passes" "ok" "$(curl -sf "http://127.0.0.1:$port/health")"

# --- list and inspect ----------------------------------------------------------
$EF_PODMAN create --name unlabelled "$ref" >/dev/null
run_probe list
expect "list finds the labelled container" 0 "container=$id name=edgeflip-web-green service=edgeflip-web-green slot=green revision=4f1c0ffee spec=probe state=running image=$ref"
ef_expect_eq "list leaves out unlabelled containers" 1 "$(field count)"

run_probe inspect "$id"
expect "inspect: running" 0 "state=running"
expect "inspect: published port" 0 "port=8080/tcp->127.0.0.1:$port"
expect "inspect: name" 0 "name=edgeflip-web-green"
ip=$(field ip)
case $ip in
10.*) ef_pass "inspect: container address on the bridge ($ip)" ;;
*) ef_fail "inspect: container address on the bridge" "ip=[$ip]" ;;
esac
ef_expect_eq "the host reaches the container address" "engine test v1" \
	"$(curl -sf -m 5 "http://$ip:8080/")"

run_probe inspect edgeflip-web-green
expect "inspect by name" 0 "id=$id"

# --- exec -------------------------------------------------------------------------
run_probe exec "$id" sh -c 'echo out; echo err >&2; exit 3'
expect "exec returns the exit code" 0 "exit_code=3"
run_probe exec "$id" cat /www/health
expect "exec of a passing command" 0 "exit_code=0"
run_probe exec "$id" /no/such/program
if [ "$rc" -ne 0 ] || [ "$(field exit_code)" != 0 ]; then
	ef_pass "exec of a missing program fails ($(field exit_code)$(field error))"
else
	ef_fail "exec of a missing program fails" "$out"
fi
run_probe --timeout 1000 exec "$id" sleep 30
expect "exec past its timeout" 8 "message=container engine: exec sleep in container $id: still running after 1000 ms"
run_probe exec "$id" rm /www/health
expect "exec can break the health endpoint" 0 "exit_code=0"
ef_expect_eq "health endpoint now fails" "404" \
	"$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health")"

# --- stop and remove -----------------------------------------------------------
run_probe stop "$id" 1
expect "stop" 0 "ok=1"
run_probe inspect "$id"
expect "stopped container is exited" 0 "state=exited"
run_probe stop "$id" 1
expect "stop of a stopped container is fine" 0 "ok=1"
run_probe rm "$id"
expect "remove" 0 "ok=1"
run_probe rm "$id"
expect "remove of a removed container: not found" 3 "message=container engine: remove container $id: HTTP 404: no container with name or ID \"$id\" found: no such container"
run_probe inspect "$id"
expect "inspect of a removed container: not found" 3 "error=not-found"
run_probe stop "$id" 1
expect "stop of a removed container: not found" 3 "error=not-found"
run_probe exec "$id" true
expect "exec in a removed container: not found" 3 "error=not-found"

# --- errors ----------------------------------------------------------------------
run_probe run edgeflip-dup "$ref" "127.0.0.1:$(ef_free_port):8080"
run_probe run edgeflip-dup "$ref" "127.0.0.1:$(ef_free_port):8080"
expect "a second container with the same name is refused" 1 "message=container engine: create container edgeflip-dup: HTTP 500: container create: creating container storage: the container name \"edgeflip-dup\" is already in use"

run_probe pull "$EF_REGISTRY/nope:1"
expect "an image the registry lacks" 1 "message=cannot pull image $EF_REGISTRY/nope:1: initializing source docker://$EF_REGISTRY/nope:1: reading manifest 1 in $EF_REGISTRY/nope: manifest unknown"
run_probe pull "${ref%@*}@sha256:0000000000000000000000000000000000000000000000000000000000000000"
expect "a digest the registry lacks" 1 "message=cannot pull image ${ref%@*}@sha256:0000"
run_probe pull "127.0.0.1:1/web:v1"
expect "an unreachable registry" 1 "connect: connection refused"
run_probe pull "Not A Reference"
expect "a malformed reference" 1 "message=container engine: look up image Not A Reference: HTTP 500: normalizing image: normalizing name for compat API: invalid reference format"

run_probe --max-reply 100 list
expect "a reply over the cap" 7 "message=container engine: list containers: the reply exceeds the limit of 100 bytes"

out=$("$probe" --endpoint "unix://$work/none.sock" ping 2>&1)
rc=$?
expect "no socket: unreachable" 9 "message=container engine unreachable at unix://$work/none.sock: no socket at $work/none.sock; is the engine running? Start it (e.g. systemctl start podman.socket) or fix [engine] endpoint"

# A socket file nobody listens on (the engine died without cleaning up).
socat -u "UNIX-LISTEN:$work/stale.sock,unlink-close=0" - >/dev/null 2>&1 &
spid=$!
ef__wait_for 30 test -S "$work/stale.sock"
kill "$spid" 2>/dev/null
wait "$spid" 2>/dev/null
out=$("$probe" --endpoint "unix://$work/stale.sock" ping 2>&1)
rc=$?
expect "stale socket: unreachable" 9 "message=container engine unreachable at unix://$work/stale.sock: nothing listens on $work/stale.sock"

# An engine that accepts but never answers.
socat "UNIX-LISTEN:$work/mute.sock,fork" SYSTEM:'sleep 10' >/dev/null 2>&1 &
helpers+=($!)
ef__wait_for 30 test -S "$work/mute.sock"
t0=$(date +%s%N)
out=$("$probe" --endpoint "unix://$work/mute.sock" --timeout 500 ping 2>&1)
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
expect "a mute engine times out" 8 "message=container engine: ping: no reply within 500 ms"
if [ "$ms" -lt 2000 ]; then
	ef_pass "the timeout is kept (${ms} ms)"
else
	ef_fail "the timeout is kept" "${ms} ms"
fi

# An engine that answers garbage.
cat >"$work/garbage.sh" <<'EOF'
while IFS= read -r line && [ "$line" != $'\r' ]; do :; done
printf 'HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\n{"Id":[}'
EOF
socat "UNIX-LISTEN:$work/garbage.sock,fork" "SYSTEM:bash $work/garbage.sh" >/dev/null 2>&1 &
helpers+=($!)
ef__wait_for 30 test -S "$work/garbage.sock"
out=$("$probe" --endpoint "unix://$work/garbage.sock" inspect abc 2>&1)
rc=$?
expect "a garbage reply is refused" 4 "message=container engine: inspect container abc: container inspect reply has no valid Id"

# A slow pull from a fake engine: progress is logged every few seconds, and
# the pull deadline holds.
cat >"$work/slowpull.sh" <<'EOF'
read -r method path _
while IFS= read -r line && [ "$line" != $'\r' ]; do :; done
reply() { printf 'HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' "$1" "${#2}" "$2"; }
case "$method $path" in
"GET /v1.41/images/"*)
	if [ -f "$MARK" ]; then reply "200 OK" '{"Id":"sha256:aa"}'; else reply "404 Not Found" '{"message":"no such image"}'; fi ;;
"POST /v1.41/images/create?fromImage=fake%2Fslow%3A1")
	printf 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n'
	for i in 1 2 3 4 5 6 7; do
		printf '{"status":"Downloading","progressDetail":{"current":%d,"total":7},"id":"abc"}\n' "$i"
		sleep 1
	done
	printf '{"status":"Download complete","progressDetail":{},"id":"abc"}\n'
	touch "$MARK" ;;
*) reply "500 Internal Server Error" '{"message":"unexpected request"}' ;;
esac
EOF
MARK="$work/slow.pulled" socat "UNIX-LISTEN:$work/slow.sock,fork" "SYSTEM:bash $work/slowpull.sh" \
	>/dev/null 2>&1 &
helpers+=($!)
ef__wait_for 30 test -S "$work/slow.sock"
out=$("$probe" --endpoint "unix://$work/slow.sock" --pull-timeout 3000 pull fake/slow:1 2>&1)
rc=$?
expect "a pull past its deadline" 8 "message=container engine: pull image fake/slow:1: not finished within 3000 ms"
out=$("$probe" --endpoint "unix://$work/slow.sock" --pull-timeout 20000 pull fake/slow:1 2>&1)
rc=$?
expect "a slow pull completes" 0 "pulled=fake/slow:1"
expect "a slow pull logs its progress" 0 "info engine pull progress image=fake/slow:1 elapsed_ms=5"
expect "progress names the layer and bytes" 0 'layers_done=0 status="Downloading" layer=abc current=5 total=7'
ef_expect_eq "progress is logged at most every 5 s" 1 "$(grep -c 'engine pull progress' <<<"$out")"
expect "a slow pull reports its layers" 0 "engine pulled image=fake/slow:1"

# The engine goes away while we hold a kept-alive connection: the next
# request says unreachable, it does not hang.
sock=$EF_PODMAN_SOCK
kill "$EF_PODMAN_PID"
wait "$EF_PODMAN_PID" 2>/dev/null
out=$("$probe" --endpoint "unix://$sock" --timeout 2000 ping 2>&1)
rc=$?
expect "engine stopped: unreachable" 9 "message=container engine unreachable at unix://$sock"

ef_summary
