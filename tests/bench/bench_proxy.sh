#!/usr/bin/env bash
# Benchmark of the built-in traffic proxy against a direct connection, in the
# same run: requests per second and latency (wrk), bulk throughput (curl),
# failed requests while flipping 100 times under load, the time apply() takes,
# the proxy's private memory, and the proxy's CPU per request with HTTP
# status counting (canary analysis, docs/switch.md "Canary") off and on. Two nginx servers on loopback play blue and
# green. Needs wrk, nginx and curl (Debian: wrk nginx-light curl).
#
#   EF_BUILD_DIR=build tests/bench/bench_proxy.sh
#   BENCH_SECONDS=5 (per wrk run)  BENCH_CONNS=32
#
# Prints "figure: value" lines.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${EF_BUILD_DIR:-$root/build}
probe=$(readlink -f "$build/tests/tools/ef_switch_probe" 2>/dev/null)
runner=$(readlink -f "$build/tests/tools/ef_proxy_run" 2>/dev/null)
secs=${BENCH_SECONDS:-5}
conns=${BENCH_CONNS:-32}
for tool in wrk nginx curl python3; do
	command -v "$tool" >/dev/null || { echo "bench_proxy: needs $tool" >&2; exit 2; }
done
if [ ! -x "$probe" ] || [ ! -x "$runner" ]; then
	echo "bench_proxy: no ef_switch_probe / ef_proxy_run under $build/tests/tools" >&2
	exit 2
fi

tmp=$(mktemp -d)
chmod 755 "$tmp"
state=$tmp/state
nginx_pid=
cleanup()
{
	local p
	p=$(cat "$state/proxy/proxy.pid" 2>/dev/null)
	[ -n "$p" ] && kill "$p" 2>/dev/null
	[ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

read -r pub blue green < <(python3 -c '
import socket
s = [socket.socket() for _ in range(3)]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))')

mkdir -p "$tmp/blue" "$tmp/green" "$tmp/nginx"
echo blue >"$tmp/blue/who"
echo green >"$tmp/green/who"
head -c 268435456 /dev/zero >"$tmp/blue/bulk"
cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $tmp/nginx/body;
	proxy_temp_path $tmp/nginx/proxy;
	fastcgi_temp_path $tmp/nginx/fastcgi;
	uwsgi_temp_path $tmp/nginx/uwsgi;
	scgi_temp_path $tmp/nginx/scgi;
	keepalive_requests 1000000;
	server { listen 127.0.0.1:$blue; root $tmp/blue; }
	server { listen 127.0.0.1:$green; root $tmp/green; }
}
EOF
nginx -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx" &
nginx_pid=$!
for _ in $(seq 50); do
	curl -s -o /dev/null "http://127.0.0.1:$green/who" && break
	sleep 0.1
done

to_blue="tcp:127.0.0.1:$pub>127.0.0.1:$blue/web"
to_green="tcp:127.0.0.1:$pub>127.0.0.1:$green/web"
"$probe" --state-dir "$state" --self-exe "$runner" apply "$to_blue" >/dev/null || exit 1
proxy=$(cat "$state/proxy/proxy.pid")
rss() { awk '/^RssAnon:/ {print $2}' "/proc/$proxy/status"; }
echo "proxy-rss-anon-idle-kb: $(rss)"

# wrk FILE -> "rps avg_ms p99_ms errors"
wrk_figures()
{
	awk '
	function ms(v) {
		if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
		if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
		if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
		return v + 0
	}
	$1 == "Latency" && avg == "" { avg = ms($2) }
	$1 == "99%" { p99 = ms($2) }
	/^Requests\/sec:/ { rps = $2 }
	/Socket errors:/ { gsub(",", ""); err += $4 + $6 + $8 + $10 }
	/Non-2xx or 3xx responses:/ { err += $5 }
	END { printf "%s %s %s %d\n", rps, avg, p99 == "" ? "-" : p99, err }' "$1"
}
ratio() { python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print('%.2f' % (a / b if b else 0))" "$1" "$2"; }

# Keep-alive requests: the cost per request.
wrk -t2 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$blue/who" >"$tmp/direct.txt"
wrk -t2 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$pub/who" >"$tmp/proxy.txt"
read -r d_rps d_avg d_p99 d_err < <(wrk_figures "$tmp/direct.txt")
read -r p_rps p_avg p_p99 p_err < <(wrk_figures "$tmp/proxy.txt")
echo "direct-keepalive-requests-per-s: $d_rps"
echo "proxy-keepalive-requests-per-s: $p_rps"
echo "proxy-keepalive-rps-ratio: $(ratio "$p_rps" "$d_rps")"
echo "direct-keepalive-latency-avg-ms: $d_avg"
echo "proxy-keepalive-latency-avg-ms: $p_avg"
echo "proxy-keepalive-latency-avg-ratio: $(ratio "$p_avg" "$d_avg")"
echo "proxy-keepalive-latency-p99-ratio: $(ratio "$p_p99" "$d_p99")"

# A new connection per request: the cost of accept + connect.
wrk -t2 -c"$conns" -d"${secs}s" --latency -H "Connection: close" "http://127.0.0.1:$blue/who" >"$tmp/direct-close.txt"
wrk -t2 -c"$conns" -d"${secs}s" --latency -H "Connection: close" "http://127.0.0.1:$pub/who" >"$tmp/proxy-close.txt"
read -r dc_rps dc_avg dc_p99 dc_err < <(wrk_figures "$tmp/direct-close.txt")
read -r pc_rps pc_avg pc_p99 pc_err < <(wrk_figures "$tmp/proxy-close.txt")
echo "direct-newconn-requests-per-s: $dc_rps"
echo "proxy-newconn-requests-per-s: $pc_rps"
echo "proxy-newconn-rps-ratio: $(ratio "$pc_rps" "$dc_rps")"
echo "proxy-newconn-latency-avg-ratio: $(ratio "$pc_avg" "$dc_avg")"

# Bulk: one 256 MiB download.
d_bps=$(curl -s -o /dev/null -w '%{speed_download}' "http://127.0.0.1:$blue/bulk")
p_bps=$(curl -s -o /dev/null -w '%{speed_download}' "http://127.0.0.1:$pub/bulk")
echo "direct-bulk-MiB-per-s: $(python3 -c "print('%.0f' % ($d_bps / 1048576))")"
echo "proxy-bulk-MiB-per-s: $(python3 -c "print('%.0f' % ($p_bps / 1048576))")"
echo "proxy-bulk-throughput-ratio: $(ratio "$p_bps" "$d_bps")"

# 100 flips under load, a new connection per request so that every request
# is routed anew; wrk runs a little longer than the flips.
flip_secs=$((secs > 8 ? secs : 8))
wrk -t2 -c"$conns" -d"${flip_secs}s" -H "Connection: close" "http://127.0.0.1:$pub/who" >"$tmp/flips-wrk.txt" &
load=$!
sleep 0.5
"$probe" --state-dir "$state" --self-exe "$runner" flip 100 30 "$to_green" "$to_blue" >"$tmp/flips.txt" 2>&1
wait "$load"
read -r f_rps f_avg f_p99 f_err < <(wrk_figures "$tmp/flips-wrk.txt")
f_total=$(awk '/requests in/ {print $1}' "$tmp/flips-wrk.txt")
echo "flips-under-load: $(awk '/^flips:/ {print $2}' "$tmp/flips.txt")"
echo "flip-failures: $(awk '/^flip-failures:/ {print $2}' "$tmp/flips.txt")"
echo "requests-during-flips: $f_total"
echo "failed-requests-during-flips: $f_err"
echo "flip-apply-ms-avg: $(awk '/^apply-ms-avg:/ {print $2}' "$tmp/flips.txt")"
echo "flip-apply-ms-max: $(awk '/^apply-ms-max:/ {print $2}' "$tmp/flips.txt")"

# HTTP status counting (an http route) off vs on, and on with a 50% canary:
# the proxy's CPU (utime + stime) per request, keep-alive and a new
# connection per request, and bulk throughput (a response's first read
# goes through user space, the rest is spliced).
ticks() { awk '{print $14 + $15}' "/proc/$proxy/stat"; }
hz=$(getconf CLK_TCK)
cpu_per_request() # ROUTES LABEL [wrk args...]
{
	local t0 t1 n
	"$probe" --state-dir "$state" --self-exe "$runner" apply "$1" >/dev/null || return 1
	t0=$(ticks)
	wrk -t2 -c"$conns" -d"${secs}s" "${@:3}" "http://127.0.0.1:$pub/who" >"$tmp/cpu.txt"
	t1=$(ticks)
	n=$(awk '/requests in/ {print $1}' "$tmp/cpu.txt")
	echo "proxy-cpu-us-per-request-$2: $(python3 -c "import sys; print('%.2f' % ((int(sys.argv[1]) - int(sys.argv[2])) * 1e6 / int(sys.argv[4]) / int(sys.argv[3])))" "$t1" "$t0" "$n" "$hz") ($n requests, $(wrk_figures "$tmp/cpu.txt" | cut -d' ' -f1) per s)"
}
cpu_per_request "$to_blue" keepalive-counting-off
cpu_per_request "$to_blue?http" keepalive-counting-on
cpu_per_request "tcp:127.0.0.1:$pub>127.0.0.1:$blue+127.0.0.1:$green@50/web?http" keepalive-canary50-counting-on
cpu_per_request "$to_blue" newconn-counting-off -H "Connection: close"
cpu_per_request "$to_blue?http" newconn-counting-on -H "Connection: close"
"$probe" --state-dir "$state" --self-exe "$runner" apply "$to_blue?http" >/dev/null
h_bps=$(curl -s -o /dev/null -w '%{speed_download}' "http://127.0.0.1:$pub/bulk")
echo "proxy-bulk-MiB-per-s-counting-on: $(python3 -c "print('%.0f' % ($h_bps / 1048576))")"
"$probe" --state-dir "$state" --self-exe "$runner" apply "$to_blue" >/dev/null

sleep 1
echo "proxy-rss-anon-after-load-kb: $(rss)"
echo "proxy-cpu-ticks-total: $(awk '{print $14 + $15}' "/proc/$proxy/stat")"
