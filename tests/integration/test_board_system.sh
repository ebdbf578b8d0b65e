#!/usr/bin/env bash
# test_board_system.sh [BOARD...] — the agent on a full-system QEMU board,
# with power cuts.
#
# For each board (default: qemu-aarch64; qemu-armv7 also works):
#   1. cross-build edgeflip (boards/common/make-sysroot.sh + the board's
#      toolchain file) and fetch Debian's kernel, busybox-static and socat for
#      the board (boards/common/fetch-board.sh)
#   2. build an initramfs (boards/common/make-initramfs.sh): busybox, the
#      agent and its libraries, the virtio and ext4 modules, an init that
#      brings up eth0 on QEMU's user network and mounts a virtio disk (an
#      ext4 image made here with mkfs.ext4) as state_dir, and a payload that
#      runs `edgeflip run`
#   3. boot it (boards/common/run-qemu.sh). In the guest the agent fetches over
#      HTTPS from the fixture's Git server on the host (10.0.2.2, named
#      "localhost" in the guest's /etc/hosts because the fixture's certificate
#      names localhost), verifies the SSH-signed commit, and deploys through
#      the host's Podman engine API: QEMU forwards guest connections to
#      10.0.2.100:2375 to the engine's unix socket (guestfwd + socat), and
#      socat in the guest serves that as /run/engine.sock
#   4. power cuts: push a commit, wait a random time within a deploy, SIGKILL
#      QEMU, boot again from the same disk image; the journal must parse (read
#      raw and through `edgeflip status --json` before the agent starts, with
#      nothing set aside as corrupt) and the agent must converge to the new
#      revision: exactly its two containers running on the engine, no orphans
#   5. idle RSS of the agent in the guest, a clean power-off, e2fsck of the
#      image and the journal read from it on the host
#
# The services publish no ports: published ports are on the host's loopback,
# out of the guest's reach, so health is an exec probe through the engine API
# and the strategy is handover (see docs/boards.md, "Full-system boots").
#
# Prints "N passed, M failed"; exits 1 when anything failed. It needs
# Debian's mirror (kernel and busybox for the board): without it, it fails.
#
# Environment:
#   EF_POWER_CUTS        power cuts per board (default 6)
#   EF_CONVERGE_TIMEOUT  seconds a boot may take to converge (default 150)
#   EF_SYSROOT_CACHE     sysroots and board packages (default ~/.cache/edgeflip)
#   EF_BOARD_BUILD       build folder root (default: under the work folder)
#   EF_BOARD_KEEP=1      keep the work folder (console logs, disk images)
# shellcheck disable=SC1091,SC2086
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
source "$here/../lib/e2e.sh"

boards=("$@")
[ ${#boards[@]} -eq 0 ] && boards=(qemu-aarch64)
cuts=${EF_POWER_CUTS:-6}
converge_timeout=${EF_CONVERGE_TIMEOUT:-150}
cache=${EF_SYSROOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edgeflip}
export EF_SYSROOT_CACHE=$cache

work=$(mktemp -d /tmp/ef-board.XXXXXX)
chmod 755 "$work"
build_root=${EF_BOARD_BUILD:-$work/build}
QEMU_PID=
cleanup()
{
	stop_qemu
	exec 7>&- 2>/dev/null
	ef_podman_stop
	ef_registry_stop
	ef_git_server_stop
	if [ "${EF_BOARD_KEEP:-0}" = 1 ]; then
		echo "# kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

stop_qemu()
{
	if [ -n "$QEMU_PID" ]; then
		kill -KILL "$QEMU_PID" 2>/dev/null
		wait "$QEMU_PID" 2>/dev/null
	fi
	QEMU_PID=
}

ef_git_server_start "$work/git" >/dev/null || { echo "cannot start the git server"; exit 1; }
ef_registry_start "$work/registry" || exit 1
ef_podman_start "$work/podman" || exit 1
ef_gitops_init "$work/ops" || exit 1
web1=$(ef_image_build web v1 "web v1") || exit 1
web2=$(ef_image_build web v2 "web v2") || exit 1
wrk1=$(ef_image_build worker v1 "worker v1") || exit 1
wrk2=$(ef_image_build worker v2 "worker v2") || exit 1
env=$EF_OPS_DIR/work/environments/production

# A revision: web and worker at v1 or v2, no public ports. web is healthy
# when its exec probe (wget inside the container, through the engine API)
# passes; worker when it runs.
compose_version()
{
	local w=$web1 k=$wrk1
	[ "$1" = 2 ] && w=$web2 k=$wrk2
	python3 - "$env/compose.json" "$w" "$k" <<'PY'
import json, sys
path, web, worker = sys.argv[1:4]
m = {"services": {
    "web": {"image": web, "healthcheck": {
        "test": ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/health"],
        "interval": "1s", "timeout": "5s", "retries": 5}},
    "worker": {"image": worker}}}
json.dump(m, open(path, "w"), indent=1)
PY
}

deploy_version()
{
	compose_version "$1" && ef_gitops_commit "version $1 ($2)" >/dev/null 2>&1
}

# The edgeflip containers on the engine (one API call): "IMAGE STATE" lines.
engine_set()
{
	curl -sf --max-time 10 --unix-socket "$EF_PODMAN_SOCK" \
		'http://d/v1.41/containers/json?all=1&filters=%7B%22label%22%3A%5B%22io.edgeflip.service%22%5D%7D' |
		python3 -c 'import json,sys; [print(c["Image"], c["State"]) for c in json.load(sys.stdin)]' | sort
}

# The images of the running edgeflip containers -> "1", "2" or "mix: ...".
running_version()
{
	local imgs
	imgs=$(engine_set | awk '$2 == "running" { print $1 }' | tr '\n' ' ')
	case "$imgs" in
	"$web1 $wrk1 ") echo 1 ;;
	"$web2 $wrk2 ") echo 2 ;;
	*) echo "mix: $imgs" ;;
	esac
}

# engine_is VERSION: exactly two edgeflip containers, both running, of VERSION.
engine_is()
{
	local want
	want=$(if [ "$1" = 1 ]; then printf '%s running\n%s running\n' "$web1" "$wrk1"; else
		printf '%s running\n%s running\n' "$web2" "$wrk2"; fi | sort)
	[ "$(engine_set)" = "$want" ]
}

# Reads what the guest prints on its console (lines "EFxxx ...").
cat >"$work/console.py" <<'PY'
import base64, json, sys
cmd, log = sys.argv[1], sys.argv[2]
lines = [l.rstrip("\r\n").replace("\r", "") for l in open(log, errors="replace")]
def last(tag):
    for l in reversed(lines):
        i = l.find(tag + " ")
        if i >= 0:
            return l[i + len(tag) + 1:]
    return None
if cmd == "converged":            # HEAD: the journal names HEAD, no deploy open
    s = last("EFSTATUS")
    if s is None:
        sys.exit(1)
    try:
        st = json.loads(s.split(" ", 1)[1])
    except Exception:
        sys.exit(1)
    head = sys.argv[3]
    phase = (st.get("deploy") or {}).get("phase", "idle")
    quarantined = any(q.get("revision") == head for q in st.get("quarantine", []))
    print("revision=%s phase=%s result=%s quarantined=%s" % (
        st.get("revision", "")[:12], phase, st.get("last_result"), quarantined))
    sys.exit(0 if st.get("revision") == head and phase == "idle" and not quarantined else 1)
elif cmd == "uptime":             # HEAD: guest uptime (s) when the journal first named HEAD idle
    head = sys.argv[3]
    for l in lines:
        i = l.find("EFSTATUS ")
        if i < 0:
            continue
        up, _, js = l[i + 9:].partition(" ")
        try:
            st = json.loads(js)
        except Exception:
            continue
        if st.get("revision") == head and (st.get("deploy") or {}).get("phase", "idle") == "idle":
            print(up); break
elif cmd == "journal":            # the raw state.json as found at boot
    s = last("EFJOURNAL")
    if s is None:
        print("no journal line"); sys.exit(1)
    if s == "none":
        print("none"); sys.exit(0)
    try:
        st = json.loads(base64.b64decode(s))
        assert st["version"] == 1
    except Exception as e:
        print("does not parse: %s" % e); sys.exit(1)
    print("revision=%s phase=%s" % (st.get("revision", "")[:12],
                                    (st.get("deploy") or {}).get("phase", "idle")))
elif cmd == "prestatus":          # `edgeflip status --json` before the agent ran
    s = last("EFPRESTATUS")
    if s is None:
        print("no status line"); sys.exit(1)
    try:
        json.loads(s)
    except Exception:
        print(s); sys.exit(1)
elif cmd == "setaside":           # files set aside as corrupt that the last boot's log (argv[3]) did not list
    s = last("EFLS") or ""
    before = set()
    if len(sys.argv) > 3:
        for l in open(sys.argv[3], errors="replace"):
            if l.startswith("EFLS "):
                before |= set(l.split()[1:])
    bad = [f for f in s.split() if ".corrupt-" in f and f not in before]
    print(" ".join(bad)); sys.exit(1 if bad else 0)
elif cmd == "rss":
    s = last("EFRSS") or ""
    f = s.split()
    for k in ("RssAnon:", "VmRSS:", "RssFile:", "RssShmem:"):
        print(f[f.index(k) + 1] if k in f else "?", end=" ")
    print()
PY
console() { python3 "$work/console.py" "$@"; }

# The payload the guest's init runs: the engine socket, the journal as found,
# the agent, and a loop that prints the journal through `status --json` when
# state.json changes and answers "rss" and "stop" on the console.
cat >"$work/start" <<'EOF'
#!/bin/sh
ini=/etc/edgeflip/edgeflip.ini
state=/var/lib/edgeflip
socat UNIX-LISTEN:/run/engine.sock,fork,unlink-early TCP:10.0.2.100:2375 &
if [ -f $state/state.json ]; then
	echo "EFJOURNAL $(base64 $state/state.json | tr -d '\n')"
else
	echo "EFJOURNAL none"
fi
echo "EFLS $(ls $state | tr '\n' ' ')"
echo "EFPRESTATUS $(edgeflip -c $ini status --json 2>&1)"
edgeflip -c $ini run &
pid=$!
echo "EFAGENT pid=$pid $(cut -d' ' -f1 /proc/uptime)"
seen=
while kill -0 $pid 2>/dev/null; do
	if read -t 1 cmd; then
		case $cmd in
		stop) break ;;
		rss) echo "EFRSS $(grep -E '^(VmRSS|RssAnon|RssFile|RssShmem)' /proc/$pid/status | tr -s ' \t\n' '  ')" ;;
		esac
	fi
	now=$(stat -c '%i %s %Y' $state/state.json 2>/dev/null)
	if [ "$now" != "$seen" ]; then
		seen=$now
		echo "EFSTATUS $(cut -d' ' -f1 /proc/uptime) $(edgeflip -c $ini status --json 2>&1)"
	fi
done
kill -TERM $pid
wait $pid
echo "EFAGENT-EXIT $?"
EOF
chmod 755 "$work/start"

# boot BOARD N: starts QEMU in the background; console in $work/BOARD/console-N.log.
boot()
{
	local b=$1 n=$2
	console_log=$work/$b/console-$n.log
	: >"$console_log"
	"$top/boards/common/run-qemu.sh" "$b" "$work/$b/initramfs.gz" "$work/$b/disk.img" \
		--fwd "guestfwd=tcp:10.0.2.100:2375-cmd:socat - UNIX-CONNECT:$EF_PODMAN_SOCK" \
		<"$work/console.fifo" >"$console_log" 2>&1 &
	QEMU_PID=$!
	boot_t0=$(date +%s%N)
}

# wait_converged HEAD VERSION TIMEOUT: the guest's journal names HEAD with no
# deploy open, and the engine runs exactly VERSION's containers. Sets
# converge_ms (since boot_t0 or since $2's reference time t_ref).
wait_converged()
{
	local head=$1 v=$2 end=$((SECONDS + $3))
	while [ $SECONDS -lt $end ]; do
		if ! kill -0 "$QEMU_PID" 2>/dev/null; then
			return 1
		fi
		if console converged "$console_log" "$head" >/dev/null && engine_is "$v"; then
			converge_ms=$((($(date +%s%N) - t_ref) / 1000000))
			return 0
		fi
		sleep 0.2
	done
	return 1
}

explain()
{
	echo "#   guest: $(console converged "$console_log" "$1")"
	echo "#   engine: $(engine_set | tr '\n' ';')"
	echo "#   console (last lines):"
	grep -v '^EFSTATUS' "$console_log" | tail -n 25 | sed 's/^/#   | /'
}

mkfifo "$work/console.fifo"
exec 7<>"$work/console.fifo"
version=0
next_version() { echo $((version == 1 ? 2 : 1)); }

run_board()
{
	local b=$1 conf=$top/boards/$1/system.conf build sysroot log n i v head delay window
	local hit_before=0 hit_mid=0 hit_after=0 old_head phase_at jrev prev_log
	local survived=0 total_ms=0 max_ms=0 fails_in_row=0 guest_total=0 up
	[ -f "$conf" ] || { ef_fail "$b: no $conf"; return; }
	# shellcheck disable=SC1090
	. "$conf"
	mkdir -p "$work/$b"
	log=$work/$b/build.log
	build=$build_root/$b
	sysroot=$cache/sysroot-$DEB_ARCH
	echo "# $b: $QEMU_SYSTEM $QEMU_MACHINE -m $QEMU_MEM, $cuts power cuts"

	# 1. The agent for the board, and the board's packages.
	if "$top/boards/common/make-sysroot.sh" "$DEB_ARCH" "$sysroot" >"$log" 2>&1 &&
		cmake -S "$top" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$top/boards/$b/toolchain.cmake" \
			-DEF_SYSROOT="$sysroot" -DEF_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >>"$log" 2>&1 &&
		cmake --build "$build" -j"$(nproc)" --target edgeflip >>"$log" 2>&1; then
		# The small proxy binary, where the tree has one.
		cmake --build "$build" -j"$(nproc)" --target edgeflip-proxy >>"$log" 2>&1 || true
		ef_pass "$b: edgeflip cross-built"
	else
		ef_fail "$b: edgeflip cross-built" "see below"
		tail -20 "$log"
		return
	fi

	# 2. The initramfs: configuration, trust, the fixture's CA, hosts, payload.
	printf '127.0.0.1 %s\n10.0.2.2 localhost\n' "$b" >"$work/$b/hosts"
	cat >"$work/$b/edgeflip.ini" <<EOF
[agent]
device_id = $b
state_dir = /var/lib/edgeflip
interval = 1s
max_backoff = 5s
[source]
url = $EF_OPS_URL
branch = main
path = environments/production
ca_file = /etc/edgeflip/ca.crt
timeout = 60s
[trust]
allowed_signers = /etc/edgeflip/allowed_signers
[engine]
endpoint = unix:///run/engine.sock
[deploy]
soak = 1s
health_timeout = 120s
stop_timeout = 1s
[policy]
registries = $EF_REGISTRY
EOF
	local proxy_opt=()
	[ -x "$build/edgeflip-proxy" ] && proxy_opt=(--proxy "$build/edgeflip-proxy")
	if "$top/boards/common/make-initramfs.sh" "$b" "$work/$b/initramfs.gz" \
		--edgeflip "$build/edgeflip" --sysroot "$sysroot" \
		"${proxy_opt[@]}" \
		--file "$work/$b/edgeflip.ini:/etc/edgeflip/edgeflip.ini" \
		--file "$EF_GIT_CA:/etc/edgeflip/ca.crt" \
		--file "$EF_OPS_DIR/keys/allowed_signers:/etc/edgeflip/allowed_signers" \
		--file "$work/$b/hosts:/etc/hosts" \
		--file "$work/start:/etc/edgeflip/start" >>"$log" 2>&1; then
		ef_pass "$b: initramfs ($(stat -c %s "$work/$b/initramfs.gz") bytes; $(tail -1 "$log" | sed 's/.*modules: //' | wc -w) modules)"
	else
		ef_fail "$b: initramfs (Debian's mirror unreachable?)" "see below"
		tail -20 "$log"
		return
	fi

	# 3. A fresh state disk and a fresh engine; first boot deploys.
	truncate -s 0 "$work/$b/disk.img"
	truncate -s 256M "$work/$b/disk.img"
	mkfs.ext4 -q -F -L edgeflip "$work/$b/disk.img" || { ef_fail "$b: mkfs.ext4"; return; }
	timeout 60 $EF_PODMAN rm -af -t 0 >/dev/null 2>&1
	v=$(next_version)
	deploy_version "$v" "first boot of $b"
	head=$(ef_gitops_head)
	n=0
	boot "$b" $n
	t_ref=$boot_t0
	if wait_converged "$head" "$v" "$converge_timeout"; then
		version=$v
		ef_pass "$b: first boot fetches over HTTPS, verifies and deploys version $v"
		echo "figure: $b: first boot to deployed (empty engine, images pulled): $converge_ms ms"
		echo "figure: $b: kernel to init ready: $(grep -o 'ready, [0-9.]* s' "$console_log" | grep -o '[0-9.]*') s"
	else
		ef_fail "$b: first boot deploys version $v"
		explain "$head"
		stop_qemu
		return
	fi
	ef_expect_eq "$b: the guest's journal parses at first boot (none yet)" none "$(console journal "$console_log")"

	# An update without a cut measures the deploy: it sets the cut window.
	v=$(next_version)
	t_ref=$(date +%s%N)
	deploy_version "$v" "update on $b"
	head=$(ef_gitops_head)
	if wait_converged "$head" "$v" "$converge_timeout"; then
		version=$v
		# Most cuts land inside a deploy; some before it starts or after it ends.
		window=$((converge_ms * 9 / 10))
		ef_pass "$b: update deployed in place (push to converged $converge_ms ms)"
		echo "figure: $b: push to converged (running board, handover, soak 1s): $converge_ms ms"
	else
		ef_fail "$b: update deployed"
		explain "$head"
		stop_qemu
		return
	fi

	# 4. Power cuts at random moments of a deploy.
	for i in $(seq 1 "$cuts"); do
		v=$(next_version)
		old_head=$(ef_gitops_head)
		deploy_version "$v" "power cut $i on $b"
		head=$(ef_gitops_head)
		delay=$(((RANDOM * 32768 + RANDOM) % window))
		sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
		kill -KILL "$QEMU_PID"
		wait "$QEMU_PID" 2>/dev/null
		QEMU_PID=
		# The agent's last log line before the cut: "TIME LEVEL EVENT ...".
		at=$(tr -d '\r' <"$console_log" | grep -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z [a-z]+ ' |
			tail -1 | awk '{ print $3 }')
		prev_log=$console_log
		n=$((n + 1))
		boot "$b" $n
		t_ref=$boot_t0
		local what="cut $i at +${delay} ms${at:+ (after \"$at\")}"
		if ! ef_wait_until 60 grep -q EFAGENT "$console_log"; then
			ef_fail "$b: $what: the board did not boot"
			explain "$head"
			break
		fi
		local j pre bad ok=1 why=
		j=$(console journal "$console_log") || { ok=0; why="raw journal: $j"; }
		pre=$(console prestatus "$console_log") || { ok=0; why="$why status --json: $pre"; }
		[ "$j" = none ] && { ok=0; why="the journal is gone"; }
		bad=$(console setaside "$console_log" "$prev_log") || { ok=0; why="$why set aside as corrupt: $bad"; }
		# Where the cut hit, from the journal found at boot.
		jrev=$(sed -n 's/.*revision=\([0-9a-f]*\).*/\1/p' <<<"$j")
		phase_at=$(sed -n 's/.*phase=\([a-z]*\).*/\1/p' <<<"$j")
		if [ "$phase_at" != idle ]; then
			hit_mid=$((hit_mid + 1))
		elif [ -n "$jrev" ] && [ "${head#"$jrev"}" != "$head" ]; then
			hit_after=$((hit_after + 1))
		elif [ -n "$jrev" ] && [ "${old_head#"$jrev"}" != "$old_head" ]; then
			hit_before=$((hit_before + 1))
		fi
		if [ $ok = 1 ] && wait_converged "$head" "$v" "$converge_timeout"; then
			version=$v
			survived=$((survived + 1))
			fails_in_row=0
			total_ms=$((total_ms + converge_ms))
			[ $converge_ms -gt $max_ms ] && max_ms=$converge_ms
			up=$(console uptime "$console_log" "$head")
			guest_total=$(python3 -c "print(round($guest_total + ${up:-0}, 2))")
			ef_pass "$b: $what: journal parses ($j), converged to version $v in $converge_ms ms (guest uptime ${up:-?} s)"
		else
			ef_fail "$b: $what" "${why:-did not converge to version $v in ${converge_timeout}s; engine: $(running_version)}"
			explain "$head"
			fails_in_row=$((fails_in_row + 1))
			[ $fails_in_row -ge 3 ] && { echo "# $b: three failures in a row, stopping the cuts"; break; }
			# Go on from whatever the engine runs now.
			case $(running_version) in 1 | 2) version=$(running_version) ;; esac
		fi
	done
	echo "figure: $b: power cuts survived: $survived of $cuts (journal at boot: $hit_mid inside a deploy, $hit_before before the journal recorded it, $hit_after after it ended)"
	[ $survived -gt 0 ] &&
		echo "figure: $b: boot to converged after a cut: mean $((total_ms / survived)) ms, max $max_ms ms (QEMU start to the host seeing it);" \
			"mean guest uptime at the converged journal $(python3 -c "print(round($guest_total / $survived, 1))") s"

	# 5. Idle memory, a clean power-off, the disk checked on the host.
	if [ -n "$QEMU_PID" ]; then
		sleep 10
		echo rss >&7
		ef_wait_until 15 grep -q EFRSS "$console_log"
		read -r rss_anon vm_rss rss_file rss_shmem < <(console rss "$console_log")
		if [ "${rss_anon:-?}" != "?" ]; then
			ef_pass "$b: idle RSS of the agent read in the guest"
			echo "figure: $b: agent idle in the guest: RssAnon $rss_anon kB, VmRSS $vm_rss kB (RssFile $rss_file kB, RssShmem $rss_shmem kB: the binary and libraries live in the initramfs, a tmpfs)"
		else
			ef_fail "$b: idle RSS of the agent read in the guest"
		fi
		echo stop >&7
		ef_wait_until 60 sh -c "! kill -0 $QEMU_PID 2>/dev/null"
		if grep -q 'ef-init: power off' "$console_log" && grep -q 'EFAGENT-EXIT 0' "$console_log"; then
			ef_pass "$b: SIGTERM stops the agent (exit 0), the board powers off cleanly"
		else
			ef_fail "$b: clean power-off" "$(tail -5 "$console_log" | tr '\r\n' '  ')"
		fi
		stop_qemu
		if e2fsck -fn "$work/$b/disk.img" >"$work/$b/fsck.log" 2>&1; then
			ef_pass "$b: e2fsck finds the state disk clean after $cuts power cuts"
		else
			ef_fail "$b: e2fsck of the state disk" "$(tail -5 "$work/$b/fsck.log" | tr '\n' ' ')"
		fi
		got=$(debugfs -R 'cat /state.json' "$work/$b/disk.img" 2>/dev/null |
			python3 -c 'import json,sys; print(json.load(sys.stdin)["revision"])' 2>&1)
		ef_expect_eq "$b: state.json read from the image on the host names the head" "$(ef_gitops_head)" "$got"
	fi
}

for b in "${boards[@]}"; do
	run_board "$b"
	stop_qemu
done
ef_summary
