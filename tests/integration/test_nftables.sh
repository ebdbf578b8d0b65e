#!/usr/bin/env bash
# Integration test of the nftables switch backend (port/switch/nftables.c) in
# network namespaces the test makes and deletes: "srv" runs two python3 HTTP
# servers and two UDP echo servers on loopback (blue and green) and the DNAT
# rules; "cli" is another host on a veth link. Needs root, nft and ip.
#
#   EF_BUILD_DIR=build tests/integration/test_nftables.sh
#
# Prints "N passed, M failed" and exits non-zero on any failure.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${EF_BUILD_DIR:-$root/build}
probe=$(readlink -f "$build/tests/tools/ef_switch_probe" 2>/dev/null)
if [ ! -x "$probe" ]; then
	echo "test_nftables: no ef_switch_probe under $build/tests/tools (set EF_BUILD_DIR)" >&2
	exit 2
fi
# shellcheck source=../lib/check.sh
source "$root/tests/lib/check.sh"

srv=ef-test-$$
cli=ef-test-$$-c
tmp=$(mktemp -d)
chmod 755 "$tmp"
pids=()
cleanup()
{
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns del "$srv" 2>/dev/null
	ip netns del "$cli" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# Background processes are started with `ip netns exec` itself (it execs the
# command), never through these functions, so that $! is the process to kill.
S() { ip netns exec "$srv" "$@"; }
C() { ip netns exec "$cli" "$@"; }
if ! ip netns add "$srv" || ! ip netns add "$cli"; then
	echo "test_nftables: cannot create network namespaces (needs root and iproute2)" >&2
	exit 1
fi
S ip link set lo up
C ip link set lo up
ip link add ef$$a netns "$srv" type veth peer name ef$$b netns "$cli"
S ip addr add 10.99.0.1/24 dev ef$$a
C ip addr add 10.99.0.2/24 dev ef$$b
S ip -6 addr add fd99::1/64 dev ef$$a nodad
C ip -6 addr add fd99::2/64 dev ef$$b nodad
S ip link set ef$$a up
C ip link set ef$$b up

state=$tmp/state
# open() puts the backend's target addresses on lo; the slots bind there.
S "$probe" --backend nftables --state-dir "$state" current >/dev/null
A4=169.254.77.1
A6=fd65:6466:6c70::1
mkdir -p "$tmp/blue" "$tmp/green"
echo blue >"$tmp/blue/who"
echo green >"$tmp/green/who"
head -c 6000000 /dev/zero | tr '\0' b >"$tmp/blue/big"
ip netns exec "$srv" sh -c "cd '$tmp/blue' && exec python3 -m http.server --bind $A4 41001" >/dev/null 2>&1 &
pids+=($!)
ip netns exec "$srv" sh -c "cd '$tmp/green' && exec python3 -m http.server --bind $A4 41002" >/dev/null 2>&1 &
pids+=($!)
ip netns exec "$srv" sh -c "cd '$tmp/blue' && exec python3 -m http.server --bind $A6 41001" >/dev/null 2>&1 &
pids+=($!)
ip netns exec "$srv" sh -c "cd '$tmp/green' && exec python3 -m http.server --bind $A6 41002" >/dev/null 2>&1 &
pids+=($!)
cat >"$tmp/udp_echo.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("169.254.77.1", int(sys.argv[1])))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(sys.argv[2].encode() + b" " + data, peer)
EOF
ip netns exec "$srv" python3 "$tmp/udp_echo.py" 41053 blue &
pids+=($!)
ip netns exec "$srv" python3 "$tmp/udp_echo.py" 41054 green &
pids+=($!)
ef_wait_until 10 S sh -c "curl -s -o /dev/null http://$A4:41001/who && curl -s -o /dev/null http://$A4:41002/who && curl -s -o /dev/null http://[$A6]:41002/who" ||
	{ echo "test_nftables: the HTTP servers did not start" >&2; exit 1; }

sw() { S "$probe" --backend nftables --state-dir "$state" "$@"; }
get() { S curl -s --max-time 3 "http://127.0.0.1:8080/$1"; }
to_blue="tcp:0.0.0.0:8080>$A4:41001/web,udp:0.0.0.0:53>$A4:41053/dns"
to_green="tcp:0.0.0.0:8080>$A4:41002/web,udp:0.0.0.0:53>$A4:41054/dns"
# route_localnet stays 0 for the whole test: nothing may need it.
S sysctl -qw net.ipv4.conf.all.route_localnet=0
S sysctl -qw net.ipv4.conf.default.route_localnet=0

# --- apply, list, flip ---
out=$(sw apply "$to_blue" 2>&1)
ef_expect_contains "apply() loads the rules" "$out" "applied in"
ef_expect_eq "a local client reaches blue through the public port" blue "$(get who)"
listing=$(S nft list table inet edgeflip)
ef_expect_contains "nft list shows the TCP map element" "$listing" "8080 : $A4 . 41001"
ef_expect_contains "nft list shows the UDP map element" "$listing" "53 : $A4 . 41053"
ef_expect_contains "the rules DNAT only traffic for this host" "$listing" \
	"fib daddr type local dnat ip to tcp dport map @tcp4_any"
sw apply "$to_green" >/dev/null
ef_expect_eq "after the flip the next request goes to green" green "$(get who)"
listing=$(S nft list table inet edgeflip)
ef_expect_contains "the map holds green" "$listing" "8080 : $A4 . 41002"
ef_check "and no longer blue" sh -c "! echo '$listing' | grep -q '41001'"
ef_expect_eq "apply() twice does not duplicate rules" 8 \
	"$(S nft list chain inet edgeflip prerouting | grep -c 'dnat ip6* to')"
ef_expect_eq "current() reads the routes back" \
	"tcp:0.0.0.0:8080>$A4:41002/web udp:0.0.0.0:53>$A4:41054/dns" \
	"$(sw current | tr '\n' ' ' | sed 's/ $//')"

# --- address-specific listeners ---
sw apply "tcp:10.99.0.1:9090>$A4:41001/api" >/dev/null
ef_expect_contains "an address-specific route goes into the address map" \
	"$(S nft list map inet edgeflip tcp4_addr)" "10.99.0.1 . 9090 : $A4 . 41001"
ef_expect_eq "and serves on that address" blue \
	"$(S curl -s --max-time 3 http://10.99.0.1:9090/who)"
sw apply "$to_blue" >/dev/null

# --- another host, route_localnet 0: flips work; the slots are not reachable directly ---
ef_expect_eq "route_localnet is 0 in the namespace" 0 \
	"$(S cat /proc/sys/net/ipv4/conf/all/route_localnet)"
C ip route add 169.254.77.1/32 via 10.99.0.1
C ip -6 route add fd65:6466:6c70::1/128 via fd99::1
ef_expect_eq "another host reaches blue with route_localnet=0" blue \
	"$(C curl -s --max-time 3 http://10.99.0.1:8080/who)"
C curl -s --max-time 2 -o /dev/null http://$A4:41002/who
ef_check "another host cannot reach a slot's address directly (guard chain)" [ $? -ne 0 ]
out=$(sw apply "tcp:0.0.0.0:8080>127.0.0.1:41001/web" 2>&1)
ef_expect_contains "a loopback target is refused by name" "$out" \
	"routes[0]: target 127.0.0.1 is a loopback address"
ef_expect_eq "and the rules in force stay" blue "$(C curl -s --max-time 3 http://10.99.0.1:8080/who)"

# --- IPv6: a public port on :: and on an IPv6 address, flipped ---
sw apply "tcp:[::]:8080>[$A6]:41001/web6,tcp:0.0.0.0:8080>$A4:41001/web" >/dev/null
ef_expect_eq "IPv6: another host reaches blue on [fd99::1]:8080" blue \
	"$(C curl -s --max-time 3 "http://[fd99::1]:8080/who")"
sw apply "tcp:[::]:8080>[$A6]:41002/web6,tcp:0.0.0.0:8080>$A4:41002/web" >/dev/null
ef_expect_eq "IPv6: after the flip it reaches green" green \
	"$(C curl -s --max-time 3 "http://[fd99::1]:8080/who")"
ef_expect_eq "IPv4 flipped in the same transaction" green \
	"$(C curl -s --max-time 3 http://10.99.0.1:8080/who)"
sw apply "tcp:[fd99::1]:9090>[$A6]:41001/api6" >/dev/null
ef_expect_contains "an IPv6 address-specific route goes into tcp6_addr" \
	"$(S nft list map inet edgeflip tcp6_addr)" "fd99::1 . 9090 : $A6 . 41001"
ef_expect_eq "and serves on that address" blue "$(C curl -s --max-time 3 "http://[fd99::1]:9090/who")"
C curl -s --max-time 2 -o /dev/null "http://[$A6]:41001/who"
ef_check "another host cannot reach the IPv6 slot address directly" [ $? -ne 0 ]
out=$(sw apply "tcp:[::]:8080>$A4:41001/mixed" 2>&1)
ef_expect_contains "IPv6 to IPv4 is refused by name" "$out" "cannot route between IPv4 and IPv6"
sw apply "$to_blue" >/dev/null

# --- 50 flips under a client loop (from the other host): zero failed requests ---
cat >"$tmp/load.sh" <<'EOF'
# load.sh URL STOPFILE: curl in a loop, at most 2000 requests and 60 s
ok=0 failed=0 blue=0 green=0 end=$((SECONDS + 60))
while [ $((ok + failed)) -lt 2000 ] && [ $SECONDS -lt $end ] && [ ! -e "$2" ]; do
	body=$(curl -s --max-time 3 "$1")
	case $body in
	blue) ok=$((ok + 1)) blue=$((blue + 1)) ;;
	green) ok=$((ok + 1)) green=$((green + 1)) ;;
	*) failed=$((failed + 1)) ;;
	esac
done
echo "requests=$((ok + failed)) failed=$failed blue=$blue green=$green"
EOF
ip netns exec "$cli" bash "$tmp/load.sh" http://10.99.0.1:8080/who "$tmp/stop" >"$tmp/load.out" 2>&1 &
load=$!
sleep 0.3
flips=$(sw flip 50 40 "$to_green" "$to_blue" 2>&1)
touch "$tmp/stop"
wait "$load"
echo "  load: $(cat "$tmp/load.out")"
echo "  $(echo "$flips" | tr '\n' ' ')"
ef_expect_contains "50 flips all applied" "$flips" "flip-failures: 0"
ef_expect_contains "zero failed requests during 50 flips" "$(cat "$tmp/load.out")" "failed=0 "
ef_check "responses came from both slots" \
	grep -qE 'blue=[1-9][0-9]* green=[1-9]' "$tmp/load.out"

# --- conntrack: an established connection stays on the old target ---
sw apply "$to_blue" >/dev/null
ip netns exec "$cli" curl -s --max-time 30 --limit-rate 2M -o "$tmp/drained" http://10.99.0.1:8080/big &
dl=$!
sleep 1
sw apply "$to_green" >/dev/null
ef_expect_eq "during the download, new connections go to green" green \
	"$(C curl -s --max-time 3 http://10.99.0.1:8080/who)"
wait "$dl"
ef_check "the download started on blue completes from blue" cmp -s "$tmp/drained" "$tmp/blue/big"

# --- UDP: conntrack keeps an existing flow on its target; new flows follow the map ---
sw apply "$to_blue" >/dev/null
cat >"$tmp/udp.py" <<'EOF'
import socket, subprocess, sys
clients = {}
for line in sys.stdin:
    cmd, name = line.split(None, 1)
    name = name.strip()
    if cmd == "run":
        subprocess.run(name, shell=True, stdout=subprocess.DEVNULL, check=True)
    elif cmd == "new":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2)
        s.connect(("10.99.0.1", 53))
        clients[name] = s
    elif cmd == "ask":
        try:
            clients[name].send(b"ping")
            print(name, clients[name].recv(2048).decode().split()[0], flush=True)
        except Exception:
            print(name, "error", flush=True)
EOF
udp_out=$( {
	echo "new a"; echo "ask a"
	echo "run ip netns exec '$srv' '$probe' --backend nftables --state-dir '$state' apply '$to_green'"
	echo "ask a"; echo "new b"; echo "ask b"
} | C python3 "$tmp/udp.py" | tr '\n' ' ')
ef_expect_eq "UDP: the flow stays on blue after the flip, a new flow goes to green" \
	"a blue a blue b green " "$udp_out"

# --- canary: numgen sends W of 100 new connections to the canary target ---
sw apply "tcp:0.0.0.0:8080>$A4:41001+$A4:41002@30/web" >/dev/null
ef_expect_contains "canary: the rule sends 30 of 100 to green" "$(S nft list chain inet edgeflip output)" \
	"tcp dport 8080 numgen random mod 100 < 30 dnat ip to $A4:41002"
green=$(C python3 - <<'PY'
import http.client
n = 0
for _ in range(1000):
    c = http.client.HTTPConnection("10.99.0.1", 8080, timeout=3)
    c.request("GET", "/who")
    n += c.getresponse().read().strip() == b"green"
    c.close()
print(n)
PY
)
echo "figure: nftables canary weight 30%: $green of 1000 connections to green"
ef_check "canary: 30% of 1000 connections to green ±5 points ($green)" \
	test "${green:-0}" -ge 250 -a "${green:-0}" -le 350
sw apply "tcp:0.0.0.0:8080>$A4:41001/web" >/dev/null
ef_check "canary: gone with the next apply()" sh -c "! ip netns exec '$srv' nft list table inet edgeflip | grep -q numgen"

# --- the empty set removes every mapping ---
sw apply - >/dev/null
S curl -s --max-time 2 -o /dev/null http://127.0.0.1:8080/who
ef_check "after apply() of no routes the public port is not mapped" [ $? -ne 0 ]
ef_expect_eq "current() is empty" "" "$(sw current)"

# --- the table is gone (reboot): current() says nothing is in force ---
sw apply "$to_blue" >/dev/null
S nft delete table inet edgeflip
ef_expect_eq "current() is empty when the kernel has no table" "" "$(sw current)"

ef_summary
