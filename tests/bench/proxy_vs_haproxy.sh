#!/usr/bin/env bash
# edgeflip-proxy against HAProxy (Debian's, `mode tcp`, `nbthread 1`) and a
# direct connection, in one run, same backend (nginx, one worker), same client
# (wrk). The three are interleaved round by round so that a busy spell of the
# machine hits all of them; each figure is the median over the rounds.
#
#   EF_BUILD_DIR=build tests/bench/proxy_vs_haproxy.sh
#   BENCH_SECONDS=5 (per wrk run)  BENCH_ROUNDS=3  BENCH_CONNS=32  BENCH_IDLE=1000
#
# Loads: keep-alive requests (a small file), a new connection per request,
# a 1 MiB body per request (keep-alive, 4 connections). Figures: requests/s,
# MiB/s, the proxy's CPU per 10,000 requests (utime+stime of its process),
# its private memory (RssAnon) per 1,000 idle connections; each with the
# ratio to HAProxy. Installs haproxy, nginx-light and wrk with apt-get when
# missing (as root). Prints "figure: value" lines.
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

missing=()
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v wrk >/dev/null || missing+=(wrk)
if [ ${#missing[@]} -gt 0 ]; then
	echo "proxy_vs_haproxy: installing ${missing[*]}" >&2
	{ apt-get install -y "${missing[@]}" || { apt-get update && apt-get install -y "${missing[@]}"; }; } \
		>/dev/null 2>&1 || { echo "proxy_vs_haproxy: cannot install ${missing[*]}" >&2; exit 2; }
fi
PATH=$PATH:/usr/sbin
if [ ! -x "$proxy_exe" ] || [ ! -x "$probe" ]; then
	echo "proxy_vs_haproxy: no edgeflip-proxy / tests/tools/ef_switch_probe under $build" >&2
	exit 2
fi

tmp=$(mktemp -d)
chmod 755 "$tmp"
state=$tmp/state
pids=()
cleanup()
{
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

read -r backend eport hport < <(python3 -c '
import socket
s = [socket.socket() for _ in range(3)]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))')

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

# --- edgeflip-proxy ---
mkdir -p "$state/proxy"
"$proxy_exe" --state-dir "$state" 2>"$tmp/edgeflip-proxy.log" &
epid=$!
pids+=("$epid")
for _ in $(seq 50); do [ -S "$state/proxy/control.sock" ] && break; sleep 0.1; done
"$probe" --state-dir "$state" --self-exe "$proxy_exe" apply \
	"tcp:127.0.0.1:$eport>127.0.0.1:$backend/bench" >/dev/null || exit 1

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
	bind 127.0.0.1:$hport
	default_backend b
backend b
	server s1 127.0.0.1:$backend
EOF
haproxy -f "$tmp/haproxy.cfg" -db 2>"$tmp/haproxy.log" &
hpid=$!
pids+=("$hpid")
for _ in $(seq 50); do
	curl -s -o /dev/null "http://127.0.0.1:$hport/small" &&
		curl -s -o /dev/null "http://127.0.0.1:$eport/small" && break
	sleep 0.1
done
echo "haproxy-version: $(haproxy -v 2>/dev/null | awk 'NR == 1 {print $3}')"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)
med() { sort -g | awk '{v[NR] = $1} END {print NR ? v[int((NR + 1) / 2)] : 0}'; }
ratio() { python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print('%.2f' % (a / b if b else 0))" "$1" "$2"; }

# load_of LOAD TARGET: sets port, pid (none for direct), c (connections),
# path and hdr (wrk's extra arguments) for one wrk run.
load_of()
{
	pid="" c=$conns path=/small hdr=()
	case $2 in
	direct) port=$backend ;;
	edgeflip) port=$eport pid=$epid ;;
	haproxy) port=$hport pid=$hpid ;;
	esac
	case $1 in
	newconn) hdr=(-H "Connection: close") ;;
	1mib) path=/1m c=4 ;;
	esac
}

# run LOAD TARGET ROUND: one wrk run; appends "rps cpu_ms_per_10k" to $tmp/LOAD.TARGET
run()
{
	local load=$1 target=$2 port pid c path hdr t0 t1 rps n
	load_of "$load" "$target"
	[ -n "$pid" ] && t0=$(cpu_ticks "$pid")
	wrk -t2 -c"$c" -d"${secs}s" "${hdr[@]}" "http://127.0.0.1:$port$path" >"$tmp/wrk.out" 2>&1
	[ -n "$pid" ] && t1=$(cpu_ticks "$pid")
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk.out")
	n=$(awk '/requests in/ {print $1}' "$tmp/wrk.out")
	if [ -n "$pid" ] && [ "${n:-0}" -gt 0 ]; then
		echo "$rps $(python3 -c "print('%.1f' % (($t1 - $t0) * 1000.0 / $hz / $n * 10000))")" \
			>>"$tmp/$load.$target"
	else
		echo "${rps:-0} 0" >>"$tmp/$load.$target"
	fi
}

for round in $(seq "$rounds"); do
	for load in keepalive newconn 1mib; do
		for target in direct edgeflip haproxy; do
			run "$load" "$target" "$round"
		done
	done
done

for load in keepalive newconn 1mib; do
	for target in direct edgeflip haproxy; do
		r=$(awk '{print $1}' "$tmp/$load.$target" | med)
		c=$(awk '{print $2}' "$tmp/$load.$target" | med)
		eval "rps_${load}_$target=$r cpu_${load}_$target=$c"
	done
	unit=requests-per-s
	[ "$load" = 1mib ] && unit=MiB-per-s # one 1 MiB body per request
	eval "d=\$rps_${load}_direct e=\$rps_${load}_edgeflip h=\$rps_${load}_haproxy"
	eval "ec=\$cpu_${load}_edgeflip hc=\$cpu_${load}_haproxy"
	echo "$load-direct-$unit: $d"
	echo "$load-haproxy-$unit: $h"
	echo "$load-edgeflip-$unit: $e"
	echo "$load-edgeflip-vs-haproxy-throughput: $(ratio "$e" "$h")"
	echo "$load-haproxy-cpu-ms-per-10k-requests: $hc"
	echo "$load-edgeflip-cpu-ms-per-10k-requests: $ec"
	echo "$load-edgeflip-vs-haproxy-cpu: $(ratio "$ec" "$hc")"
done

# --- syscalls and context switches per request (perf, when it can count) ---
# A separate run per load and proxy, after the timed rounds: counting every
# syscall costs the proxy CPU, so these runs give no throughput figure. The
# counts are what the CPU figure cannot hide behind the machine's noise.
count_run()
{
	local port pid c path hdr n
	load_of "$1" "$2"
	perf stat -x, -e raw_syscalls:sys_enter,context-switches -p "$pid" -o "$tmp/perf.out" \
		-- sleep "$secs" >/dev/null 2>&1 &
	local perf_pid=$!
	sleep 0.2
	wrk -t2 -c"$c" -d"$((secs - 1))s" "${hdr[@]}" "http://127.0.0.1:$port$path" >"$tmp/wrk.out" 2>&1
	wait "$perf_pid"
	n=$(awk '/requests in/ {print $1}' "$tmp/wrk.out")
	awk -F, -v n="${n:-0}" '
		$3 == "raw_syscalls:sys_enter" {s = $1}
		$3 == "context-switches" {x = $1}
		END { if (n > 0 && s != "") printf "%.2f %.3f\n", s / n, x / n }' "$tmp/perf.out"
}
if command -v perf >/dev/null && perf stat -e raw_syscalls:sys_enter true >/dev/null 2>&1; then
	for load in keepalive newconn 1mib; do
		for target in edgeflip haproxy; do
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
socks = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(int(sys.argv[2]))]
print("held", flush=True)
time.sleep(float(sys.argv[3]))
EOF
idle_cost()
{
	local port=$1 pid=$2 before after holder
	sleep 1.5 # past edgeflip-proxy's trim after the last connection
	before=$(rss_kb "$pid")
	python3 "$tmp/idle.py" "$port" "$nidle" 3 >"$tmp/held" &
	holder=$!
	for _ in $(seq 100); do grep -q held "$tmp/held" 2>/dev/null && break; sleep 0.1; done
	sleep 1
	after=$(rss_kb "$pid")
	wait "$holder"
	echo $(((after - before) * 1000 / nidle))
}
e_idle=$(idle_cost "$eport" "$epid")
h_idle=$(idle_cost "$hport" "$hpid")
echo "haproxy-private-kb-per-1000-idle-connections: $h_idle"
echo "edgeflip-private-kb-per-1000-idle-connections: $e_idle"
echo "edgeflip-vs-haproxy-idle-memory: $(ratio "$e_idle" "$h_idle")"
echo "edgeflip-rss-anon-kb: $(rss_kb "$epid")"
echo "haproxy-rss-anon-kb: $(rss_kb "$hpid")"
