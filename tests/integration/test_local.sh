#!/usr/bin/env bash
# Local misuse, without any server: one daemon per state_dir found through
# its lock (never a stale pid), commands that wait for a pass instead of
# interleaving with it, a state_dir nobody else can change, files only this
# user can read, and SIGTERM at any instant of start-up.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/check.sh"
EF_BUILD_DIR=${EF_BUILD_DIR:-$here/../../build}
bin=$EF_BUILD_DIR/edgeflip

work=$(mktemp -d /tmp/ef-local.XXXXXX)
pids=()
cleanup()
{
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# A configuration whose source and engine do not answer: the daemon starts,
# holds its lock and retries, which is all these checks need.
ini=$work/edgeflip.ini
state=$work/state
touch "$work/allowed_signers"
cat >"$ini" <<EOF_INI
[agent]
device_id = local-test
state_dir = $state
interval = 1s
max_backoff = 2s
[source]
url = https://127.0.0.1:9/none.git
path = env
ca_file = /etc/ssl/certs/ca-certificates.crt
timeout = 2s
[trust]
allowed_signers = $work/allowed_signers
[engine]
endpoint = unix://$work/no-engine.sock
EOF_INI

start_daemon()
{
	"$bin" -c "$ini" run 2>>"$work/daemon.log" &
	daemon=$!
	pids+=("$daemon")
	ef_wait_until 5 grep -q "^$daemon$" "$state/agent.lock" 2>/dev/null
}

# --- one daemon --------------------------------------------------------------
start_daemon
ef_check "the daemon writes its pid into the lock it holds" grep -qx "$daemon" "$state/agent.lock"
out=$("$bin" -c "$ini" run 2>&1)
ef_expect_eq "a second run exits 1" 1 $?
ef_expect_contains "a second run names the running daemon" "$out" "daemon (pid $daemon) already runs"
out=$("$bin" -c "$ini" once 2>&1)
ef_expect_eq "once beside the daemon exits 1" 1 $?
ef_expect_contains "once beside the daemon says why" "$out" "already runs on $state"
out=$("$bin" -c "$ini" kick 2>&1)
ef_expect_eq "kick reaches the daemon through its lock" 0 $?
sleep 0.3
ef_check "the daemon is still running after the kick" kill -0 "$daemon"

# --- plan and verify wait for a pass ----------------------------------------
flock "$state/pass.lock" sleep 2 &
holder=$!
pids+=("$holder")
sleep 0.2
t0=$(date +%s%N)
out=$("$bin" -c "$ini" plan 2>&1)
t1=$(date +%s%N)
ef_expect_contains "plan says it waits for the pass under way" "$out" "waiting for the pass"
[ $(((t1 - t0) / 1000000)) -ge 1500 ] && ef_pass "plan waited until the pass lock was free" ||
	ef_fail "plan waited until the pass lock was free" "took $(((t1 - t0) / 1000000)) ms"
wait "$holder" 2>/dev/null

# --- a stale pid is never signalled ------------------------------------------
kill -9 "$daemon"
wait "$daemon" 2>/dev/null
sleep 1000 &
victim=$!
pids+=("$victim")
# What a crashed daemon leaves behind, pointing at an unrelated live process
# (a recycled pid): the lock file and the old pidfile.
echo "$victim" >"$state/agent.lock"
echo "$victim" >"$state/edgeflip.pid"
out=$("$bin" -c "$ini" kick 2>&1)
ef_expect_eq "kick with nobody holding the lock exits 1" 1 $?
ef_expect_contains "kick says no daemon runs" "$out" "no edgeflip daemon runs on $state"
"$bin" -c "$ini" rollback >/dev/null 2>&1
sleep 0.3
ef_check "neither kick nor rollback signalled the stale pid" kill -0 "$victim"

# --- SIGTERM at any instant of start-up ends the daemon promptly -------------
slow=0
for delay in 0 0.01 0.02 0.05 0.1 0.2 0.3 0.5; do
	"$bin" -c "$ini" run 2>/dev/null &
	p=$!
	sleep "$delay"
	kill -TERM "$p" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$p" 2>/dev/null && { slow=$((slow + 1)); kill -9 "$p"; }
	wait "$p" 2>/dev/null
done
ef_expect_eq "SIGTERM during start-up ends the daemon within 5 s (8 instants)" 0 "$slow"
start_daemon
ef_check "a new daemon starts after the killed one (the lock is free)" kill -0 "$daemon"
kill -TERM "$daemon"
wait "$daemon" 2>/dev/null
ef_expect_eq "a stopped daemon leaves no pid in its lock" "" "$(cat "$state/agent.lock")"

# --- the state_dir and its files are this user's only --------------------------
rm -rf "$state"
"$bin" -c "$ini" plan >/dev/null 2>&1
ef_expect_eq "state_dir is created 0700" 700 "$(stat -c %a "$state")"
ef_check "the source cache was made by plan" test -d "$state/cache.git"
ef_expect_eq "nothing under state_dir is open to group or others" "" \
	"$(find "$state" -perm /077 | head -3)"

mkdir -p "$work/real"
chmod 700 "$work/real"
rm -rf "$state"
ln -s "$work/real" "$state"
out=$(timeout 10 "$bin" -c "$ini" run 2>&1)
ef_expect_eq "run on a symlinked state_dir exits 2" 2 $?
ef_expect_contains "the refusal names the path and the symlink" "$out" "state_dir $state is a symbolic link"
ef_expect_eq "nothing was written through the symlink" "" "$(ls -A "$work/real")"
rm -f "$state"
mkdir -m 0777 "$state"
chmod 0777 "$state"
out=$(timeout 10 "$bin" -c "$ini" once 2>&1)
ef_expect_eq "once on a world-writable state_dir exits 2" 2 $?
ef_expect_contains "the refusal says what to do" "$out" "run chmod 700 $state"
chmod 0700 "$state"
if [ "$(id -u)" = 0 ]; then
	chown nobody "$state"
	out=$(timeout 10 "$bin" -c "$ini" run 2>&1)
	ef_expect_eq "run on a state_dir owned by another user exits 2" 2 $?
	ef_expect_contains "the refusal names the owner" "$out" "is owned by uid $(id -u nobody)"
	chown 0 "$state"
fi
out=$("$bin" -c "$ini" plan 2>&1)
ef_check "a state_dir fixed as told is accepted again" test -d "$state/cache.git"

ef_summary
