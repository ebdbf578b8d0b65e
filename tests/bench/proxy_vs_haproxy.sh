#!/usr/bin/env bash
# edgeflip-proxy against HAProxy (Debian's, `mode tcp`, `nbthread 1`) and a
# direct connection, in one run, same backend (nginx, one worker), same client
# (wrk). The targets are interleaved round by round so that a busy spell of
# the machine hits all of them; each figure is the median over the rounds.
#
#   EF_BUILD_DIR=build tests/bench/proxy_vs_haproxy.sh
#   BENCH_SECONDS=5 (per wrk run)  BENCH_ROUNDS=3  BENCH_CONNS=32  BENCH_IDLE=1000
#   BENCH_IO=epoll  BENCH_CAP=25 (percent of one core, 0: none)  BENCH_CAP_ROUNDS=2
#
# Targets: direct (wrk to nginx), edgeflip (edgeflip-proxy run with
# EDGEFLIP_PROXY_IO=$BENCH_IO: epoll, its default, or io_uring), haproxy, and
# uring: a second edgeflip-proxy (its own state directory and port, the same
# route to the same nginx) run with EDGEFLIP_PROXY_IO=io_uring. The uring
# target takes part only when its log says `proxy-io mode=io_uring` (built
# with liburing, a kernel that allows it) and the first instance's does not
# (a line says it is skipped and why). "TARGET-proxy-io:" lines give the
# mode each instance's log names.
#
# Loads: keep-alive requests (a small file), a new connection per request,
# a 1 MiB body per request (keep-alive, 4 connections). Figures: requests/s,
# MiB/s, the proxy's CPU per 10,000 requests (utime+stime of its process),
# its private memory (RssAnon) per 1,000 idle connections; each with the
# ratio to HAProxy, for throughput and CPU also as a paired ratio
# ("...-paired": the median over the rounds of the round's own ratio; the
# rounds are interleaved, so a busy spell hits both figures of a round and
# the paired ratio is the steadier one). With the uring target, the same for
# each of its figures, and uring-vs-edgeflip (io_uring against epoll).
# "...-paired-range": the lowest and highest of the rounds' own ratios.
# For every target also the whole machine's CPU per request (all processes
# and the kernel's softirq work: client, proxy, backend; /proc/stat) with its
# paired ratio, and the TCP segments sent per request (/proc/net/snmp): what
# the whole path costs, and a check that both proxies put the same packets
# on the wire. Then system calls and context switches per request (perf
# stat, where it can count) and idle memory, for each proxy.
#
# CPU-capped rounds (BENCH_CAP_ROUNDS of them, interleaved the same way,
# medians; BENCH_CAP=0 skips them): the three loads again against each proxy
# (edgeflip, uring when present, haproxy), the proxy's process alone in a
# cgroup allowed BENCH_CAP percent of one core (cgroup v2: cpu.max
# "BENCH_CAP*1000 100000" in /sys/fs/cgroup/efbench.PID; on a host whose cpu
# controller is on cgroup v1, the same quota in cpu.cfs_quota_us and
# cpu.cfs_period_us). Throughput for the same CPU budget: the fair figure on
# a small machine where wrk, nginx and the proxy share the cores.
# "LOAD-capped-TARGET-..." lines: requests/s (MiB/s), the ratios to HAProxy
# (of medians and paired) and the CPU the proxy got (percent of one core: a
# check that the cap held). When no cgroup cpu controller can be used, a line
# says the capped rounds are skipped and why.
#
# Installs haproxy, nginx-light and wrk with apt-get when missing. Runs as
# root (apt-get, cgroups). Every step is bounded in time. Prints
# "figure: value" lines.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${EF_BUILD_DIR:-$root/build}
proxy_exe=$(readlink -f "$build/edgeflip-proxy" 2>/dev/null)
probe=$(readlink -f "$build/tests/tools/ef_switch_probe" 2>/dev/null)
secs=${BENCH_SECONDS:-5}
rounds=${BENCH_ROUNDS:-3}
conns=${BENCH_CONNS:-32}
nidle=${BENCH_IDLE:-1000}
io=${BENCH_IO:-epoll}
cap=${BENCH_CAP:-25}
cap_rounds=${BENCH_CAP_ROUNDS:-2}

for v in "BENCH_SECONDS=$secs" "BENCH_ROUNDS=$rounds" "BENCH_CONNS=$conns" \
	"BENCH_IDLE=$nidle" "BENCH_CAP=$cap" "BENCH_CAP_ROUNDS=$cap_rounds"; do
	[[ ${v#*=} =~ ^[0-9]+$ ]] || { echo "proxy_vs_haproxy: $v: not a whole number" >&2; exit 2; }
done
[ "$secs" -ge 2 ] || { echo "proxy_vs_haproxy: BENCH_SECONDS must be at least 2" >&2; exit 2; }

missing=()
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v wrk >/dev/null || missing+=(wrk)
if [ ${#missing[@]} -gt 0 ]; then
	echo "proxy_vs_haproxy: installing ${missing[*]}" >&2
	{ timeout 900 apt-get install -y "${missing[@]}" ||
		{ timeout 900 apt-get update && timeout 900 apt-get install -y "${missing[@]}"; }; } \
		>/dev/null 2>&1 || { echo "proxy_vs_haproxy: cannot install ${missing[*]}" >&2; exit 2; }
fi
PATH=$PATH:/usr/sbin
if [ ! -x "$proxy_exe" ] || [ ! -x "$probe" ]; then
	echo "proxy_vs_haproxy: no edgeflip-proxy / tests/tools/ef_switch_probe under $build" >&2
	exit 2
fi

tmp=$(mktemp -d)
chmod 755 "$tmp"
pids=()    # every process this script started and has not reaped
cg=""      # the capping cgroup, once made
cg_cpu_on="" # the subtree_control file this script enabled the cpu controller in
# alive PID: running (a zombie not yet reaped counts as gone)
alive()
{
	local s
	s=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${s#Z}" = "$s" ]
}
cleanup()
{
	local p left
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for _ in $(seq 50); do
		left=0
		for p in "${pids[@]}"; do alive "$p" && left=1; done
		[ "$left" = 0 ] && break
		sleep 0.1
	done
	for p in "${pids[@]}"; do alive "$p" && kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [ -n "$cg" ]; then
		for _ in $(seq 30); do rmdir "$cg" 2>/dev/null && break; sleep 0.1; done
		[ -d "$cg" ] && echo "proxy_vs_haproxy: cannot remove $cg" >&2
	fi
	[ -n "$cg_cpu_on" ] && { echo -cpu >"$cg_cpu_on"; } 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

declare -A port_of pid_of
read -r backend eport pport hport < <(python3 -c '
import socket
s = [socket.socket() for _ in range(4)]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))')
port_of=([direct]=$backend [edgeflip]=$eport [uring]=$pport [haproxy]=$hport)
pid_of[direct]=""

# --- the backend: nginx, one worker ---
mkdir -p "$tmp/www" "$tmp/nginx"
echo ok >"$tmp/www/small"
head -c 1048576 /dev/zero >"$tmp/www/1m"
cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 4096; }
worker_rlimit_nofile 8192;
http {
	access_log off;
	client_body_temp_path $tmp/nginx/body;
	proxy_temp_path $tmp/nginx/proxy;
	fastcgi_temp_path $tmp/nginx/fastcgi;
	uwsgi_temp_path $tmp/nginx/uwsgi;
	scgi_temp_path $tmp/nginx/scgi;
	keepalive_requests 1000000;
	sendfile on;
	server { listen 127.0.0.1:$backend backlog=4096; root $tmp/www; }
}
EOF
nginx -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx" &
pids+=($!)

# --- edgeflip-proxy: two instances, the second always io_uring ---
# start_edgeflip TARGET MODE STATE_DIR: an edgeflip-proxy with
# EDGEFLIP_PROXY_IO=MODE, its log in $tmp/TARGET.log, one route from
# port_of[TARGET] to nginx.
start_edgeflip()
{
	local target=$1 mode=$2 dir=$3
	mkdir -p "$dir/proxy"
	EDGEFLIP_PROXY_IO=$mode "$proxy_exe" --state-dir "$dir" 2>"$tmp/$target.log" &
	pid_of[$target]=$!
	pids+=("$!")
	for _ in $(seq 50); do [ -S "$dir/proxy/control.sock" ] && break; sleep 0.1; done
	if [ ! -S "$dir/proxy/control.sock" ]; then
		# (never let the probe start a detached proxy of its own)
		echo "proxy_vs_haproxy: $target: edgeflip-proxy made no control socket in 5 s" >&2
		cat "$tmp/$target.log" >&2
		exit 1
	fi
	EDGEFLIP_PROXY_IO=$mode timeout 30 "$probe" --state-dir "$dir" --self-exe "$proxy_exe" \
		apply "tcp:127.0.0.1:${port_of[$target]}>127.0.0.1:$backend/bench" >/dev/null || exit 1
}
start_edgeflip edgeflip "$io" "$tmp/state"
start_edgeflip uring io_uring "$tmp/state.uring"

# --- HAProxy: the same job, tcp mode, one thread ---
cat >"$tmp/haproxy.cfg" <<EOF
global
	nbthread 1
	maxconn 8000 # 2 descriptors each: within the 20000 hard limit here
defaults
	mode tcp
	timeout connect 5s
	timeout client 30s
	timeout server 30s
frontend f
	bind 127.0.0.1:${port_of[haproxy]}
	default_backend b
backend b
	server s1 127.0.0.1:$backend
EOF
haproxy -f "$tmp/haproxy.cfg" -db 2>"$tmp/haproxy.log" &
pid_of[haproxy]=$!
pids+=("$!")
for _ in $(seq 50); do
	ok=1
	for t in haproxy edgeflip uring; do
		curl -s -m 2 -o /dev/null "http://127.0.0.1:${port_of[$t]}/small" || { ok=0; break; }
	done
	[ "$ok" = 1 ] && break
	sleep 0.1
done
echo "haproxy-version: $(haproxy -v 2>/dev/null | awk 'NR == 1 {print $3}')"

# io_mode TARGET: the I/O mode the instance's log names
io_mode()
{
	if grep -q 'proxy-io mode=io_uring' "$tmp/$1.log"; then
		echo io_uring
	elif grep -q 'proxy-io mode=epoll' "$tmp/$1.log"; then
		echo epoll
	else
		echo "mode unknown"
	fi
}
e_mode=$(io_mode edgeflip)
u_mode=$(io_mode uring)
echo "edgeflip-proxy-io: $e_mode (EDGEFLIP_PROXY_IO=$io)"
echo "uring-proxy-io: $u_mode (EDGEFLIP_PROXY_IO=io_uring)"
if [ "$u_mode" = io_uring ] && [ "$e_mode" != io_uring ]; then
	proxies=(edgeflip uring haproxy)
else
	proxies=(edgeflip haproxy)
	echo "uring-target: skipped (its instance: $u_mode; the edgeflip instance: $e_mode)"
	kill "${pid_of[uring]}" 2>/dev/null
	wait "${pid_of[uring]}" 2>/dev/null
	kept=()
	for p in "${pids[@]}"; do [ "$p" = "${pid_of[uring]}" ] || kept+=("$p"); done
	pids=("${kept[@]}")
fi
targets=(direct "${proxies[@]}")
edgeflips=(edgeflip)
[ "${#proxies[@]}" = 3 ] && edgeflips=(edgeflip uring)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)
med() { sort -g | awk '{v[NR] = $1} END {print NR ? v[int((NR + 1) / 2)] : 0}'; }
ratio() { python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print('%.2f' % (a / b if b else 0))" "$1" "$2"; }
# round_ratios FILE_A FILE_B COLUMN: A / B of each round, line by line (one
# line per round in both)
round_ratios()
{
	paste -d' ' <(awk -v k="$3" '{print $k}' "$1") <(awk -v k="$3" '{print $k}' "$2") |
		awk '{printf "%.6f\n", ($2 > 0 ? $1 / $2 : 0)}'
}
# paired FILE_A FILE_B COLUMN: the median of the rounds' ratios
paired() { round_ratios "$@" | med | awk '{printf "%.2f\n", $1}'; }
# paired_range FILE_A FILE_B COLUMN: the lowest and the highest of the
# rounds' ratios, "min-max": how far one round is from the median
paired_range() { round_ratios "$@" | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.2f-%.2f\n", lo, hi}'; }

# load_of LOAD TARGET: sets port, pid (none for direct), c (connections),
# path and hdr (wrk's extra arguments) for one wrk run.
load_of()
{
	pid=${pid_of[$2]} port=${port_of[$2]} c=$conns path=/small hdr=()
	case $1 in
	newconn) hdr=(-H "Connection: close") ;;
	1mib) path=/1m c=4 ;;
	esac
}

# machine_ticks: the busy time of all CPUs (user, nice, system, irq, softirq)
machine_ticks() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
# tcp_out_segs: TCP segments sent by this network namespace (both ends of
# every loopback hop)
tcp_out_segs()
{
	awk '$1 == "Tcp:" {if (!k) {for (i = 2; i <= NF; i++) if ($i == "OutSegs") k = i}
		else print $k}' /proc/net/snmp
}
# run LOAD TARGET FILE: one wrk run; appends "rps cpu_ms_per_10k cpu_percent
# machine_us_per_request segments_per_request" to FILE (cpu_percent: the
# proxy's CPU over the run, percent of one core; machine: every process and
# the kernel's softirq work, client and backend included: what the whole
# path costs)
run()
{
	local load=$1 target=$2 out=$3 port pid c path hdr t0=0 t1=0 m0 m1 s0 s1 rps n
	load_of "$load" "$target"
	[ -n "$pid" ] && t0=$(cpu_ticks "$pid")
	m0=$(machine_ticks) s0=$(tcp_out_segs)
	timeout -k 5 $((secs + 30)) wrk -t2 -c"$c" -d"${secs}s" "${hdr[@]}" \
		"http://127.0.0.1:$port$path" >"$tmp/wrk.out" 2>&1
	m1=$(machine_ticks) s1=$(tcp_out_segs)
	[ -n "$pid" ] && t1=$(cpu_ticks "$pid")
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk.out")
	n=$(awk '/requests in/ {print $1}' "$tmp/wrk.out")
	if [ "${n:-0}" -gt 0 ]; then
		echo "${rps:-0} $(python3 -c "print('%.1f %.1f %.2f %.2f' % (
			($t1 - $t0) * 1000.0 / $hz / $n * 10000, ($t1 - $t0) * 100.0 / $hz / $secs,
			($m1 - $m0) * 1e6 / $hz / $n, ($s1 - $s0) / $n))")" >>"$out"
	else
		echo "${rps:-0} 0 0 0 0" >>"$out"
	fi
}

for _ in $(seq "$rounds"); do
	for load in keepalive newconn 1mib; do
		for target in "${targets[@]}"; do
			run "$load" "$target" "$tmp/$load.$target"
		done
	done
done

unit_of() { if [ "$1" = 1mib ]; then echo MiB-per-s; else echo requests-per-s; fi; } # 1 MiB a request
declare -A rps cpu
# tput_lines NAME UNIT FILES: each edgeflip target's median throughput
# (rps[]) and its ratios to HAProxy's, of medians and paired (FILES.TARGET).
tput_lines()
{
	local e
	for e in "${edgeflips[@]}"; do
		echo "$1-$e-$2: ${rps[$e]}"
		echo "$1-$e-vs-haproxy-throughput: $(ratio "${rps[$e]}" "${rps[haproxy]}")"
		echo "$1-$e-vs-haproxy-throughput-paired: $(paired "$3.$e" "$3.haproxy" 1)"
		echo "$1-$e-vs-haproxy-throughput-paired-range: $(paired_range "$3.$e" "$3.haproxy" 1)"
	done
}
# medians FILES CPU_COLUMN TARGET...: rps[] and cpu[] of each TARGET, the
# medians over the rounds in FILES.TARGET.
medians()
{
	local f=$1 col=$2 t
	shift 2
	for t in "$@"; do
		rps[$t]=$(awk '{print $1}' "$f.$t" | med)
		cpu[$t]=$(awk -v c="$col" '{print $c}' "$f.$t" | med)
	done
}
for load in keepalive newconn 1mib; do
	unit=$(unit_of "$load")
	medians "$tmp/$load" 2 "${targets[@]}"
	echo "$load-direct-$unit: ${rps[direct]}"
	echo "$load-haproxy-$unit: ${rps[haproxy]}"
	tput_lines "$load" "$unit" "$tmp/$load"
	echo "$load-haproxy-cpu-ms-per-10k-requests: ${cpu[haproxy]}"
	for e in "${edgeflips[@]}"; do
		echo "$load-$e-cpu-ms-per-10k-requests: ${cpu[$e]}"
		echo "$load-$e-vs-haproxy-cpu: $(ratio "${cpu[$e]}" "${cpu[haproxy]}")"
		echo "$load-$e-vs-haproxy-cpu-paired: $(paired "$tmp/$load.$e" "$tmp/$load.haproxy" 2)"
		echo "$load-$e-vs-haproxy-cpu-paired-range: $(paired_range "$tmp/$load.$e" "$tmp/$load.haproxy" 2)"
	done
	# The whole machine's CPU and the TCP segments per request: the work
	# of the path (client, proxy, backend and the kernel between them)
	for t in "${targets[@]}"; do
		echo "$load-$t-machine-cpu-us-per-request: $(awk '{print $4}' "$tmp/$load.$t" | med)"
		echo "$load-$t-tcp-segments-per-request: $(awk '{print $5}' "$tmp/$load.$t" | med)"
	done
	for e in "${edgeflips[@]}"; do
		echo "$load-$e-vs-haproxy-machine-cpu-paired: $(paired "$tmp/$load.$e" "$tmp/$load.haproxy" 4)"
	done
	if [ "${#edgeflips[@]}" = 2 ]; then
		echo "$load-uring-vs-edgeflip-throughput-paired:" \
			"$(paired "$tmp/$load.uring" "$tmp/$load.edgeflip" 1)"
		echo "$load-uring-vs-edgeflip-cpu-paired: $(paired "$tmp/$load.uring" "$tmp/$load.edgeflip" 2)"
	fi
done

# --- CPU-capped rounds: the proxy's process alone in a cgroup with a quota ---
# cap_setup: makes $cg (cgroup v2, else the cgroup v1 cpu controller) with
# the quota; sets cg_mnt and cg_kind. Prints why not and fails when it cannot.
cap_setup()
{
	local err quota=$((cap * 1000))
	if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
		cg_kind=v2 cg_mnt=/sys/fs/cgroup
		if ! grep -qw cpu "$cg_mnt/cgroup.controllers" 2>/dev/null; then
			echo "capped-rounds: skipped (cgroup v2 without the cpu controller)"
			return 1
		fi
		if ! grep -qw cpu "$cg_mnt/cgroup.subtree_control"; then
			if ! err=$({ echo +cpu >"$cg_mnt/cgroup.subtree_control"; } 2>&1); then
				echo "capped-rounds: skipped (cannot enable the cpu controller in" \
					"$cg_mnt/cgroup.subtree_control: ${err##*: })"
				return 1
			fi
			cg_cpu_on=$cg_mnt/cgroup.subtree_control
		fi
		if ! err=$(mkdir "$cg_mnt/efbench.$$" 2>&1); then
			echo "capped-rounds: skipped (cannot make $cg_mnt/efbench.$$: ${err##*: })"
			return 1
		fi
		cg=$cg_mnt/efbench.$$
		if ! err=$({ echo "$quota 100000" >"$cg/cpu.max"; } 2>&1); then
			echo "capped-rounds: skipped (cannot write \"$quota 100000\" to $cg/cpu.max: ${err##*: })"
			return 1
		fi
		echo "cpu-cap: $cap% of one core (cgroup v2, $cg/cpu.max \"$quota 100000\")"
	elif [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
		cg_kind=v1 cg_mnt=/sys/fs/cgroup/cpu
		if ! err=$(mkdir "$cg_mnt/efbench.$$" 2>&1); then
			echo "capped-rounds: skipped (no cgroup v2 here, and cannot make" \
				"$cg_mnt/efbench.$$: ${err##*: })"
			return 1
		fi
		cg=$cg_mnt/efbench.$$
		if ! err=$({ echo 100000 >"$cg/cpu.cfs_period_us" &&
			echo "$quota" >"$cg/cpu.cfs_quota_us"; } 2>&1); then
			echo "capped-rounds: skipped (no cgroup v2 here, and cannot set cpu.cfs_quota_us" \
				"$quota in $cg: ${err##*: })"
			return 1
		fi
		echo "cpu-cap: $cap% of one core (no cgroup v2 cpu controller here: cgroup v1," \
			"$cg cpu.cfs_quota_us $quota, cpu.cfs_period_us 100000)"
	else
		echo "capped-rounds: skipped (neither cgroup v2 nor a cgroup v1 cpu controller is mounted)"
		return 1
	fi
}
# cg_of PID: the path of its cgroup under $cg_mnt
cg_of()
{
	if [ "$cg_kind" = v2 ]; then
		awk -F: '$1 == "0" {print $3}' "/proc/$1/cgroup"
	else
		awk -F: '$2 ~ /(^|,)cpu(,|$)/ {print $3}' "/proc/$1/cgroup"
	fi
}
# cap_run LOAD TARGET: run, the proxy's process in $cg for the run only
cap_run()
{
	local pid=${pid_of[$2]} home err
	home=$cg_mnt$(cg_of "$pid")
	[ -f "$home/cgroup.procs" ] || home=$cg_mnt
	if ! err=$({ echo "$pid" >"$cg/cgroup.procs"; } 2>&1); then
		echo "capped-rounds: stopped (cannot move $2's process into $cg: ${err##*: })"
		return 1
	fi
	run "$1" "$2" "$tmp/cap.$1.$2"
	echo "$pid" >"$home/cgroup.procs" || echo "$pid" >"$cg_mnt/cgroup.procs"
}

cap_done=0
if [ "$cap" = 0 ]; then
	echo "capped-rounds: skipped (BENCH_CAP=0)"
elif [ "$cap_rounds" = 0 ]; then
	echo "capped-rounds: skipped (BENCH_CAP_ROUNDS=0)"
elif cap_setup; then
	cap_done=1
	for _ in $(seq "$cap_rounds"); do
		for load in keepalive newconn 1mib; do
			for target in "${proxies[@]}"; do
				cap_run "$load" "$target" || { cap_done=0; break 3; }
			done
		done
	done
fi
if [ "$cap_done" = 1 ]; then
	for load in keepalive newconn 1mib; do
		unit=$(unit_of "$load")
		medians "$tmp/cap.$load" 3 "${proxies[@]}"
		echo "$load-capped-haproxy-$unit: ${rps[haproxy]}"
		tput_lines "$load-capped" "$unit" "$tmp/cap.$load"
		if [ "${#edgeflips[@]}" = 2 ]; then
			echo "$load-capped-uring-vs-edgeflip-throughput-paired:" \
				"$(paired "$tmp/cap.$load.uring" "$tmp/cap.$load.edgeflip" 1)"
		fi
		for target in "${proxies[@]}"; do
			echo "$load-capped-$target-cpu-percent-of-one-core: ${cpu[$target]}"
		done
	done
fi

# --- syscalls and context switches per request (perf, when it can count) ---
# A separate run per load and proxy, after the timed rounds: counting every
# syscall costs the proxy CPU, so these runs give no throughput figure. The
# counts are what the CPU figure cannot hide behind the machine's noise.
count_run()
{
	local port pid c path hdr n perf_pid
	load_of "$1" "$2"
	timeout -k 5 $((secs + 30)) perf stat -x, -e raw_syscalls:sys_enter,context-switches \
		-p "$pid" -o "$tmp/perf.out" -- sleep "$secs" >/dev/null 2>&1 &
	perf_pid=$!
	sleep 0.2
	timeout -k 5 $((secs + 30)) wrk -t2 -c"$c" -d"$((secs - 1))s" "${hdr[@]}" \
		"http://127.0.0.1:$port$path" >"$tmp/wrk.out" 2>&1
	wait "$perf_pid"
	n=$(awk '/requests in/ {print $1}' "$tmp/wrk.out")
	awk -F, -v n="${n:-0}" '
		$3 == "raw_syscalls:sys_enter" {s = $1}
		$3 == "context-switches" {x = $1}
		END { if (n > 0 && s != "") printf "%.2f %.3f\n", s / n, x / n }' "$tmp/perf.out"
}
if command -v perf >/dev/null &&
	timeout 30 perf stat -e raw_syscalls:sys_enter true >/dev/null 2>&1; then
	for load in keepalive newconn 1mib; do
		for target in "${proxies[@]}"; do
			read -r sc cs < <(count_run "$load" "$target")
			echo "$load-$target-syscalls-per-request: ${sc:-?}"
			echo "$load-$target-context-switches-per-request: ${cs:-?}"
		done
	done
else
	echo "syscalls-per-request: not counted (perf cannot count raw_syscalls:sys_enter here)"
fi

# --- private memory per 1,000 idle connections ---
cat >"$tmp/idle.py" <<'EOF'
import socket, sys, time
socks = [socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
         for _ in range(int(sys.argv[2]))]
print("held", flush=True)
time.sleep(float(sys.argv[3]))
EOF
idle_cost()
{
	local port=$1 pid=$2 before after holder
	sleep 1.5 # past edgeflip-proxy's trim after the last connection
	before=$(rss_kb "$pid")
	timeout -k 2 60 python3 "$tmp/idle.py" "$port" "$nidle" 3 >"$tmp/held" &
	holder=$!
	for _ in $(seq 100); do grep -q held "$tmp/held" 2>/dev/null && break; sleep 0.1; done
	sleep 1
	after=$(rss_kb "$pid")
	wait "$holder"
	echo $(((after - before) * 1000 / nidle))
}
declare -A idle
for target in "${proxies[@]}"; do
	idle[$target]=$(idle_cost "${port_of[$target]}" "${pid_of[$target]}")
done
echo "haproxy-private-kb-per-1000-idle-connections: ${idle[haproxy]}"
for e in "${edgeflips[@]}"; do
	echo "$e-private-kb-per-1000-idle-connections: ${idle[$e]}"
	echo "$e-vs-haproxy-idle-memory: $(ratio "${idle[$e]}" "${idle[haproxy]}")"
done
for e in "${edgeflips[@]}"; do
	echo "$e-rss-anon-kb: $(rss_kb "${pid_of[$e]}")"
done
echo "haproxy-rss-anon-kb: $(rss_kb "${pid_of[haproxy]}")"
