# shellcheck shell=bash
# Test fixtures for the container engine: a real Podman engine serving the
# Docker Engine API on a unix socket, a real registry on loopback, and tiny
# test images built from busybox-static. Source this file; it changes nothing
# until a function is called.
#
#   source tests/lib/engine.sh
#   dir=$(mktemp -d); trap 'ef_podman_stop; ef_registry_stop; rm -rf "$dir"' EXIT
#   ef_registry_start "$dir/registry"     # first: podman must know it is insecure
#   ef_podman_start "$dir/podman"
#   ref=$(ef_image_build web v1 "hello v1")   # -> 127.0.0.1:PORT/web@sha256:...
#
# All state lives in the directories the caller gives. The stop functions stop
# only what the start functions started (by PID, and the containers of this
# storage), and unmount what Podman mounted under the directory.
#
# Facts found on Debian 12 (Podman 4.3.1, netavark 1.4, iptables-nft 1.8.9):
# - runc, not crun (crun refuses this machine's hybrid cgroups), and explicit
#   ulimits (the defaults exceed the hard limits here): see containers.conf below.
# - Rootful bridge networking works: netavark puts the container on the bridge
#   podman0 (10.88.0.0/16) and publishes ports with iptables-nft DNAT rules,
#   including 127.0.0.1:HOSTPORT. It needs the `iptables` package. The host
#   can also reach the container's own address (NetworkSettings.IPAddress,
#   e.g. 10.88.0.3) directly on the container port.
# - The bridge and netavark's IP allocation database
#   (/run/containers/networks/ipam.db) are shared by every rootful Podman on
#   the machine; separate --root storages do not clash.
# - User-defined networks (POST /networks/create) get a bridge podmanN and a
#   subnet 10.89.N.0/24 with aardvark-dns answering for container names and
#   aliases. Their definitions live in network_config_dir (set per engine
#   below); the bridges themselves are torn down with the last container.
# - Podman bind-mounts ROOT/overlay onto itself; it must be unmounted before
#   the directory can be removed.
# - Each exec session leaves a conmon process waiting exit_command_delay
#   (default 300 s); containers.conf shortens it and ef_podman_stop ends the
#   rest.

EF_ENGINE_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Prints a TCP port on 127.0.0.1 that nothing listens on right now, below
# the kernel's ephemeral range: the agent's loopback slot ports and every
# client connection take ports from that range, so a public port picked in
# it can be held by a connection (test_proxy's flood just before) or by
# another agent on the machine when the proxy binds it (CI saw "cannot
# listen on tcp 0.0.0.0:53580: Address already in use" in test_secrets).
ef_free_port()
{
	local port i low
	read -r low _ 2>/dev/null </proc/sys/net/ipv4/ip_local_port_range || low=32768
	[ "$low" -gt 12000 ] 2>/dev/null || low=32768
	for i in $(seq 1 50); do
		port=$((10000 + (RANDOM * 32768 + RANDOM) % (low - 10000)))
		if ! ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
			echo "$port"
			return 0
		fi
	done
	echo "ef_free_port: no free port found" >&2
	return 1
}

# Waits until the command succeeds, up to $1 tenths of a second.
ef__wait_for()
{
	local tenths=$1 i
	shift
	for ((i = 0; i < tenths; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# --- registry ---------------------------------------------------------------

# ef_registry_start DIR: docker-registry on a free 127.0.0.1 port.
# Exports EF_REGISTRY (127.0.0.1:PORT), EF_REGISTRY_PID, EF_REGISTRY_DIR and
# CONTAINERS_REGISTRIES_CONF (a registries.conf marking it insecure).
ef_registry_start()
{
	local dir=$1 port attempt
	[ -n "$dir" ] || { echo "usage: ef_registry_start DIR" >&2; return 2; }
	mkdir -p "$dir/data"
	dir=$(cd "$dir" && pwd)
	for attempt in 1 2 3 4 5; do
		port=$(ef_free_port) || return 1
		cat >"$dir/config.yml" <<EOF
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $dir/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port}
EOF
		docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
		EF_REGISTRY_PID=$!
		if ef__wait_for 50 curl -sf "http://127.0.0.1:$port/v2/"; then
			break
		fi
		kill "$EF_REGISTRY_PID" 2>/dev/null
		wait "$EF_REGISTRY_PID" 2>/dev/null
		EF_REGISTRY_PID=
	done
	if [ -z "$EF_REGISTRY_PID" ]; then
		echo "ef_registry_start: docker-registry did not start; see $dir/registry.log" >&2
		return 1
	fi
	cat >"$dir/registries.conf" <<EOF
unqualified-search-registries = []
[[registry]]
location = "127.0.0.1:$port"
insecure = true
EOF
	export EF_REGISTRY="127.0.0.1:$port" EF_REGISTRY_PID EF_REGISTRY_DIR="$dir"
	export CONTAINERS_REGISTRIES_CONF="$dir/registries.conf"
}

# ef_registry_push_image REPO TAG TEXT: a one-layer OCI image pushed to
# $EF_REGISTRY over plain HTTP (no engine needed); prints its digest.
ef_registry_push_image()
{
	python3 - "$EF_REGISTRY" "$1" "$2" "$3" <<'PY'
import hashlib, json, sys, urllib.request
reg, repo, tag, text = sys.argv[1:5]
def http(m, u, b=None, t=None):
    r = urllib.request.Request(u, data=b, method=m)
    if t: r.add_header("Content-Type", t)
    with urllib.request.urlopen(r) as x: return dict(x.headers)
def blob(d):
    dg = "sha256:" + hashlib.sha256(d).hexdigest()
    loc = http("POST", f"http://{reg}/v2/{repo}/blobs/uploads/")["Location"]
    loc = loc if loc.startswith("http") else f"http://{reg}{loc}"
    http("PUT", f"{loc}{'&' if '?' in loc else '?'}digest={dg}", d, "application/octet-stream")
    return {"digest": dg, "size": len(d)}
layer = blob(text.encode())
cfg = blob(json.dumps({"architecture": "amd64", "os": "linux",
    "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}}).encode())
m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": dict(mediaType="application/vnd.oci.image.config.v1+json", **cfg),
    "layers": [dict(mediaType="application/vnd.oci.image.layer.v1.tar", **layer)]}).encode()
http("PUT", f"http://{reg}/v2/{repo}/manifests/{tag}", m, "application/vnd.oci.image.manifest.v1+json")
print("sha256:" + hashlib.sha256(m).hexdigest())
PY
}

ef_registry_stop()
{
	if [ -n "${EF_REGISTRY_PID:-}" ]; then
		kill "$EF_REGISTRY_PID" 2>/dev/null
		wait "$EF_REGISTRY_PID" 2>/dev/null
	fi
	EF_REGISTRY_PID=
	unset EF_REGISTRY
}

# --- podman -----------------------------------------------------------------

# ef_podman_start DIR: a Podman engine on DIR/podman.sock with its own storage.
# Start the registry first so the engine knows it is insecure.
# Exports EF_PODMAN_SOCK, EF_PODMAN (a command prefix: `$EF_PODMAN ps -a`),
# EF_PODMAN_PID, EF_PODMAN_DIR, CONTAINERS_CONF.
ef_podman_start()
{
	local dir=$1
	[ -n "$dir" ] || { echo "usage: ef_podman_start DIR" >&2; return 2; }
	mkdir -p "$dir/root" "$dir/runroot" "$dir/tmp" "$dir/cache" "$dir/networks"
	dir=$(cd "$dir" && pwd)
	# User-defined networks are kept in network_config_dir, by default
	# /etc/containers/networks for every rootful Podman on the machine: give
	# this engine its own, so that suites running side by side do not see
	# (or remove) each other's networks.
	cat >"$dir/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[network]
network_config_dir = "$dir/networks"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
exit_command_delay = 5
EOF
	if [ -z "${CONTAINERS_REGISTRIES_CONF:-}" ]; then
		printf 'unqualified-search-registries = []\n' >"$dir/registries.conf"
		export CONTAINERS_REGISTRIES_CONF="$dir/registries.conf"
	fi
	export CONTAINERS_CONF="$dir/containers.conf"
	EF_PODMAN="env CONTAINERS_CONF=$CONTAINERS_CONF CONTAINERS_REGISTRIES_CONF=$CONTAINERS_REGISTRIES_CONF"
	EF_PODMAN="$EF_PODMAN podman --root $dir/root --runroot $dir/runroot --tmpdir $dir/tmp"
	EF_PODMAN_SOCK="$dir/podman.sock"
	EF_PODMAN_DIR=$dir
	rm -f "$EF_PODMAN_SOCK"
	$EF_PODMAN system service --time=0 "unix://$EF_PODMAN_SOCK" >"$dir/podman.log" 2>&1 &
	EF_PODMAN_PID=$!
	export EF_PODMAN EF_PODMAN_SOCK EF_PODMAN_PID EF_PODMAN_DIR
	if ! ef__wait_for 100 curl -sf --unix-socket "$EF_PODMAN_SOCK" http://d/_ping; then
		echo "ef_podman_start: podman did not answer on $EF_PODMAN_SOCK; see $dir/podman.log" >&2
		ef_podman_stop
		return 1
	fi
}

ef_podman_stop()
{
	local dir=${EF_PODMAN_DIR:-} pid m
	[ -n "$dir" ] || return 0
	# Containers first: this tears down their firewall rules and IP leases.
	if [ -n "${EF_PODMAN_PID:-}" ] && kill -0 "$EF_PODMAN_PID" 2>/dev/null; then
		timeout 60 $EF_PODMAN rm -af -t 0 >/dev/null 2>&1
		kill "$EF_PODMAN_PID" 2>/dev/null
		wait "$EF_PODMAN_PID" 2>/dev/null
	else
		timeout 60 $EF_PODMAN rm -af -t 0 >/dev/null 2>&1
	fi
	# conmon processes of this storage that outlived their container (exec
	# sessions): they name our directory on their command line.
	for pid in $(ls /proc | grep -E '^[0-9]+$'); do
		if tr "\0" " " 2>/dev/null <"/proc/$pid/cmdline" | grep -q "^/usr/bin/conmon .*$dir/root/"; then
			kill "$pid" 2>/dev/null
		fi
	done
	# Mounts under our directory, deepest first.
	for m in $(awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	EF_PODMAN_PID=
	EF_PODMAN_DIR=
}

# --- images -----------------------------------------------------------------

# The busybox root filesystem, made once per engine directory.
ef__base_rootfs()
{
	local cache=$EF_PODMAN_DIR/cache tool
	if [ ! -f "$cache/base.tar" ]; then
		rm -rf "$cache/base"
		mkdir -p "$cache/base/bin" "$cache/base/tmp" "$cache/base/etc"
		cp /bin/busybox "$cache/base/bin/busybox"
		for tool in sh ash httpd wget sleep cat echo ls rm touch true false kill ps nc \
			    grep env id printf test mkdir; do
			ln -s busybox "$cache/base/bin/$tool"
		done
		echo 'root:x:0:0:root:/:/bin/sh' >"$cache/base/etc/passwd"
		echo 'root:x:0:' >"$cache/base/etc/group"
		tar -C "$cache/base" --owner=0 --group=0 -cf "$cache/base.tar.tmp" . &&
			mv "$cache/base.tar.tmp" "$cache/base.tar"
	fi
}

# ef_image_build NAME TAG [VERSION_TEXT] [HEALTH]: builds a tiny image, pushes it
# to $EF_REGISTRY/NAME:TAG and prints the pinned reference
# $EF_REGISTRY/NAME@sha256:... The image serves /www on port 8080 with busybox
# httpd: /www/index.html holds VERSION_TEXT (default "NAME TAG"), /www/health
# answers 200 "ok" when HEALTH is "pass" (the default) and 404 when "fail".
# A running container's health can be broken with `$EF_PODMAN exec C rm /www/health`.
# Its PID 1 is a shell that exits on SIGTERM, as a well-behaved service does:
# busybox httpd as PID 1 ignores SIGTERM, and every stop of it waited the whole
# stop timeout (a third of test_crash's time). Tests of stop_signal and
# stop_grace_period give a command of their own that ignores SIGTERM.
ef_image_build()
{
	local name=$1 tag=$2 text=${3:-"$1 $2"} health=${4:-pass} work digest
	[ -n "$name" ] && [ -n "$tag" ] || { echo "usage: ef_image_build NAME TAG [TEXT] [pass|fail]" >&2; return 2; }
	[ -n "${EF_PODMAN_DIR:-}" ] || { echo "ef_image_build: call ef_podman_start first" >&2; return 1; }
	[ -n "${EF_REGISTRY:-}" ] || { echo "ef_image_build: call ef_registry_start first" >&2; return 1; }
	ef__base_rootfs || return 1
	work=$(mktemp -d "$EF_PODMAN_DIR/cache/img.XXXXXX")
	mkdir -p "$work/www"
	printf '%s\n' "$text" >"$work/www/index.html"
	[ "$health" = pass ] && printf 'ok\n' >"$work/www/health"
	cp "$EF_PODMAN_DIR/cache/base.tar" "$work/image.tar"
	tar -C "$work" --owner=0 --group=0 -rf "$work/image.tar" ./www
	if ! $EF_PODMAN import --quiet \
		--change 'CMD ["/bin/sh", "-c", "trap \"exit 0\" TERM; httpd -f -p 8080 -h /www & wait"]' \
		--change 'EXPOSE 8080' \
		"$work/image.tar" "localhost/$name:$tag" >/dev/null ||
		! $EF_PODMAN push --quiet --digestfile "$work/digest" "localhost/$name:$tag" \
			"$EF_REGISTRY/$name:$tag" >/dev/null; then
		echo "ef_image_build: cannot build or push $name:$tag" >&2
		rm -rf "$work"
		return 1
	fi
	digest=$(cat "$work/digest")
	rm -rf "$work"
	echo "$EF_REGISTRY/$name@$digest"
}
