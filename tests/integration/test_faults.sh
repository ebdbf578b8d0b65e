#!/usr/bin/env bash
# Fault tolerance, end to end: the daemon (`edgeflip run`) against a real
# HTTPS Git server, a real registry and a real Podman engine, all started
# here, while each of them fails in turn. For every fault: the running set
# keeps serving, the log says what happened, the daemon retries with
# exponential backoff and jitter up to max_backoff, and it recovers when the
# fault goes away. Then 200 deploy cycles under the ASan build: no leak, and
# the daemon's descriptors and memory stay flat. See docs/faults.md.
#
# Environment:
#   EF_BUILD_DIR        release build with -DEF_FAULT_INJECTION=ON (default build/)
#   EF_ASAN_BUILD_DIR   ASan+UBSan build for the cycles (default build-asan/;
#                       the cycles are skipped, and counted as a failure, without it)
#   EF_FAULT_CYCLES     deploy cycles (default 200)
#   EF_FAULT_CONTAINER_EVERY  every N-th cycle replaces a container (default 5;
#                       1 makes every cycle a blue/green flip, about 3 s each here)
#   EF_FAULTS_ONLY      space-separated scenario names to run (default: all)
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
source "$here/../lib/e2e.sh"

ASAN_DIR=${EF_ASAN_BUILD_DIR:-$top/build-asan}
CYCLES=${EF_FAULT_CYCLES:-200}
CONTAINER_EVERY=${EF_FAULT_CONTAINER_EVERY:-5}
MAX_BACKOFF_MS=8000
T_START=$SECONDS

work=$(mktemp -d /tmp/ef-faults.XXXXXX)
chmod 755 "$work"
state=$work/agent/state
log=$work/daemon.log
DAEMON_PID=
touch "$log"

# --- helpers -------------------------------------------------------------------

now_ms() { date +%s%3N; }
mark() { wc -l <"$log"; }
since() { tail -n +$(($1 + 1)) "$log"; }

# await MARK REGEX TIMEOUT_S: waits for a log line after MARK matching REGEX;
# prints the milliseconds waited (or -1) and fails on timeout.
await()
{
	local m=$1 re=$2 t0 end
	t0=$(now_ms)
	end=$((t0 + $3 * 1000))
	while :; do
		if since "$m" | grep -Eq -- "$re"; then
			echo $(($(now_ms) - t0))
			return 0
		fi
		if [ "$(now_ms)" -ge "$end" ] || { [ -n "$DAEMON_PID" ] && ! kill -0 "$DAEMON_PID" 2>/dev/null; }; then
			echo -1
			return 1
		fi
		sleep 0.05
	done
}

# await_count MARK REGEX N TIMEOUT_S: waits for N matching lines after MARK.
await_count()
{
	local m=$1 re=$2 n=$3 end=$((SECONDS + $4))
	while [ "$(since "$m" | grep -Ec -- "$re")" -lt "$n" ]; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
}

# daemon_start [BINARY]: `edgeflip run` in the background, stderr to $log.
daemon_start()
{
	local bin=${1:-$EF_BIN} m
	m=$(mark)
	"$bin" -c "$EF_AGENT_INI" run >>"$log" 2>&1 &
	DAEMON_PID=$!
	await "$m" ' info started version=' 30 >/dev/null
}

# daemon_stop: SIGTERM, then SIGKILL after 30 s; only our PID.
daemon_stop()
{
	local i
	[ -n "$DAEMON_PID" ] || return 0
	kill -TERM "$DAEMON_PID" 2>/dev/null
	for i in $(seq 1 300); do
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
}

# The proxy the agent started: its pid is in STATE_DIR/proxy/proxy.pid.
proxy_stop()
{
	local pid
	pid=$(cat "$state/proxy/proxy.pid" 2>/dev/null)
	if [ -n "$pid" ] && grep -q edgeflip "/proc/$pid/cmdline" 2>/dev/null; then
		kill "$pid" 2>/dev/null
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	fi
}

cleanup()
{
	[ -n "${EF_FAULTS_LOG:-}" ] && cp "$log" "$EF_FAULTS_LOG"
	daemon_stop
	proxy_stop
	ef_podman_stop
	ef_registry_stop
	ef_git_server_stop
	mountpoint -q "$state" && umount "$state"
	rm -rf "$work"
}
trap cleanup EXIT

# The engine's API service alone: the containers (children of conmon) stay.
podman_service_down()
{
	kill "$EF_PODMAN_PID" 2>/dev/null
	wait "$EF_PODMAN_PID" 2>/dev/null
}
podman_service_up()
{
	rm -f "$EF_PODMAN_SOCK"
	$EF_PODMAN system service --time=0 "unix://$EF_PODMAN_SOCK" >>"$EF_PODMAN_DIR/podman.log" 2>&1 &
	EF_PODMAN_PID=$!
	ef__wait_for 100 curl -sf --unix-socket "$EF_PODMAN_SOCK" http://d/_ping
}

# The registry, restarted on the same port and storage.
registry_down()
{
	kill "$EF_REGISTRY_PID" 2>/dev/null
	wait "$EF_REGISTRY_PID" 2>/dev/null
}
registry_up()
{
	docker-registry serve "$EF_REGISTRY_DIR/config.yml" >>"$EF_REGISTRY_DIR/registry.log" 2>&1 &
	EF_REGISTRY_PID=$!
	ef__wait_for 100 curl -sf "http://$EF_REGISTRY/v2/"
}

# nginx alone (fcgiwrap stays), restarted on the same port and certificate.
git_nginx_pid() { echo "${EF_GIT_PIDS##* }"; }
git_server_down()
{
	local pid
	pid=$(git_nginx_pid)
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}
git_server_up()
{
	local old pid
	old=$(git_nginx_pid)
	nginx -c "$EF_GIT_DIR/nginx/nginx.conf" -p "$EF_GIT_DIR/nginx/" </dev/null \
		>>"$EF_GIT_DIR/nginx/stdout.log" 2>&1 &
	pid=$!
	EF_GIT_PIDS="${EF_GIT_PIDS% "$old"} $pid"
	_ef_wait_port "$EF_GIT_PORT" "$pid"
}

# Pushes straight into the bare repository on disk (works while nginx is down).
push_to_disk()
{
	ef_git -C "$EF_OPS_DIR/work" push -q -f "$EF_GIT_ROOT/gitops.git" HEAD:main
}

# commit_local MSG [git options]: a signed commit that is not pushed.
commit_local()
{
	local msg=$1
	shift
	ef_git -C "$EF_OPS_DIR/work" add -A &&
		ef_git -C "$EF_OPS_DIR/work" -c gpg.format=ssh \
			-c user.signingkey="$EF_OPS_DIR/keys/release" commit -q -S --allow-empty -m "$msg" "$@"
}

# The "retry in_ms=N failures=K" lines after MARK, as "N K".
retries() { since "$1" | sed -nE 's/.* retry in_ms=([0-9]+) failures=([0-9]+).*/\1 \2/p'; }
GROW_RETRIES=12

# check_backoff NAME MARK: the retries after MARK follow include/edgeflip/backoff.h
# exactly: at least 3; failures count 1, 2, 3... (back to 1 after a success);
# every delay within [base, min(max_backoff, 3 x the previous delay)] (the
# previous is base at failures=1). And the delays grow: one above 1.5 x base.
# The delays are drawn at random, so growth is awaited over up to
# GROW_RETRIES retries: each draw stays at or under 1.5 x base with
# probability at most 1/4 (uniform over [base, 3 x previous]), so a working
# backoff shows no growth in 12 with probability under 1e-7, while a backoff
# that does not grow never shows it. (Checking only the first 3 retries failed
# about 1 run in 100.) Waiting is cheap: growth mostly comes at once.
check_backoff()
{
	local name=$1 m=$2 n d f prev="" hi seq="" fails="" ok=1 expect=1 grown=0 why=""
	local big=$((BASE_MS * 3 / 2))
	n=$(retries "$m" | wc -l)
	while [ "$n" -lt "$GROW_RETRIES" ] && ! retries "$m" | awk -v t="$big" '$1 > t {g = 1} END {exit !g}'; do
		await_count "$m" " retry in_ms=" $((n + 1)) 30 >/dev/null || break
		n=$(retries "$m" | wc -l)
	done
	n=0
	while read -r d f; do
		n=$((n + 1))
		seq="$seq$d "
		fails="$fails$f "
		# A success in between resets the count: start again at 1.
		[ "$f" -eq "$expect" ] || [ "$f" -eq 1 ] || { ok=0; why="failures $fails not counting up"; }
		[ "$f" -eq 1 ] && prev=$BASE_MS
		hi=$MAX_BACKOFF_MS
		[ -n "$prev" ] && [ $((prev * 3)) -lt "$hi" ] && hi=$((prev * 3))
		[ "$d" -ge "$BASE_MS" ] && [ "$d" -le "$hi" ] ||
			{ ok=0; why="retry $n: $d ms outside [$BASE_MS, $hi] (previous delay ${prev:-?} ms)"; }
		[ "$d" -gt "$big" ] && grown=1
		prev=$d
		expect=$((f + 1))
	done < <(retries "$m")
	echo "    backoff ($name): in_ms = $seq(failures $fails)"
	[ "$n" -ge 3 ] || { ok=0; why="only $n retries"; }
	[ "$grown" = 1 ] || { ok=0; why="no growth: no delay above $big ms in $n retries"; }
	[ $ok = 1 ] && ef_pass "$name: backoff grows within [base, min(max_backoff, 3 x previous)]" ||
		ef_fail "$name: backoff grows within [base, min(max_backoff, 3 x previous)]" "$why"
}

want() { [ -z "${EF_FAULTS_ONLY:-}" ] || case " $EF_FAULTS_ONLY " in *" $1 "*) true ;; *) false ;; esac; }

id_of() { ef_running | awk -v s="$1" '$1 == s && $4 == "running" {print $3}' | head -1; }
running_ids() { ef_running | awk '$4 == "running" {print $1, $3}'; }
quarantined() { ef_agent status | grep -q "^  $1 "; }
not() { ! "$@"; }
quiet() { "$@" >/dev/null; }
web_says() { curl -s --max-time 3 "http://127.0.0.1:$port_web/" 2>/dev/null; }
# serving WANT: the public port answers WANT on every one of 5 tries.
serving() { local i; for i in 1 2 3 4 5; do [ "$(web_says)" = "$1" ] || return 1; done; }

# --- servers, images, first deploy ---------------------------------------------

ef_git_server_start "$work/git" >/dev/null || { echo "cannot start git server"; exit 1; }
ef_registry_start "$work/registry" || { echo "cannot start registry"; exit 1; }
ef_podman_start "$work/podman" || { echo "cannot start podman"; exit 1; }
ef_gitops_init "$work/ops" || { echo "cannot make the gitops repo"; exit 1; }
ef_agent_config "$work/agent" "agent.max_backoff=${MAX_BACKOFF_MS}ms" "source.timeout=5s" \
	"engine.timeout=5s" "deploy.soak=1s" "deploy.health_timeout=20s"
BASE_MS=1000 # min(interval, 5s): interval is 1s
# state_dir on its own small file system, so that it can really be filled.
mount -t tmpfs -o size=32m,mode=0700 tmpfs "$state" || { echo "cannot mount a tmpfs on $state"; exit 1; }
good_ini=$work/agent/good.ini
cp "$EF_AGENT_INI" "$good_ini"

web1=$(ef_image_build web v1 "web v1") || exit 1
web2=$(ef_image_build web v2 "web v2") || exit 1
web3=$(ef_image_build web v3 "web v3") || exit 1
wrk=$(ef_image_build worker v1 "worker v1") || exit 1
# The engine must fetch web v3 from the registry: forget the local copy.
$EF_PODMAN rmi -f localhost/web:v3 >/dev/null 2>&1
env_dir=$EF_OPS_DIR/work/environments/production
port_web=$(ef_free_port)
echo "# setup: $((SECONDS - T_START)) s"

# compose WEB_IMAGE [WORKER_ENV [WEB_ENV]]: web (public port, health) + worker;
# the ENV values go into a CYCLE environment variable.
compose()
{
	ef_compose "$env_dir/compose.json" "web=$1:$port_web" "worker=$wrk"
	if [ -n "${2:-}${3:-}" ]; then
		python3 - "$env_dir/compose.json" "${2:-}" "${3:-}" <<'PY'
import json, sys
p, worker, web = sys.argv[1:4]
m = json.load(open(p))
if worker:
    m["services"]["worker"]["environment"] = {"CYCLE": worker}
if web:
    m["services"]["web"]["environment"] = {"CYCLE": web}
json.dump(m, open(p, "w"), indent=1)
PY
	fi
}

compose "$web1"
ef_gitops_commit "web v1" || exit 1
daemon_start || { echo "the daemon did not start"; cat "$log"; exit 1; }
m=0
if ! await "$m" " deployed revision=$(ef_gitops_head | cut -c1-12)" 60 >/dev/null; then
	echo "first deploy failed; log:"
	cat "$log"
	exit 1
fi
ef_expect_eq "first deploy: web serves v1" "web v1" "$(web_says)"

# --- engine API down -------------------------------------------------------------
scenario_engine()
{
	local before m ms c
	before=$(running_ids)
	m=$(mark)
	podman_service_down
	compose "$web2"
	ef_gitops_commit "web v2 while the engine is down"
	c=$(ef_gitops_head | cut -c1-12)
	sleep 14
	ef_check "engine down: containers keep running (same ids)" [ "$before" = "$(running_ids)" ]
	ef_check "engine down: web keeps serving v1" serving "web v1"
	ef_expect_contains "engine down: log names the engine" "$(since "$m")" "$EF_PODMAN_SOCK"
	check_backoff "engine down" "$m"
	ef_check "engine down: commit not quarantined" not quarantined "$c"
	m=$(mark)
	podman_service_up || ef_fail "engine restarted"
	ms=$(await "$m" " deployed revision=$c" 60)
	ef_check "engine back: the pending commit deploys (${ms} ms after the restart)" [ "$ms" -ge 0 ]
	ef_check "engine back: web serves v2" serving "web v2"
	echo "    recovery: engine restart -> deployed in $ms ms"
}

want engine && scenario_engine

# --- registry unreachable during a deploy ------------------------------------------
scenario_registry()
{
	local before m ms c
	before=$(running_ids)
	m=$(mark)
	registry_down
	compose "$web3"
	ef_gitops_commit "web v3 while the registry is down"
	c=$(ef_gitops_head | cut -c1-12)
	ms=$(await "$m" " rolled-back revision=$c" 120)
	ef_check "registry down: the deploy rolls back (${ms} ms after the push)" [ "$ms" -ge 0 ]
	ef_expect_contains "registry down: log says the pull failed" "$(since "$m")" "cannot pull"
	ef_check "registry down: running set untouched (same ids)" [ "$before" = "$(running_ids)" ]
	ef_check "registry down: web keeps serving v2" serving "web v2"
	# A registry out of reach is not the commit's fault: no quarantine,
	# tried again with backoff until the registry answers.
	ef_check "registry down: commit not quarantined" not quarantined "$c"
	ef_expect_contains "registry down: the rollback says transient" "$(since "$m")" "kind=transient"
	ef_expect_contains "registry down: status says retrying" "$(ef_agent status)" "last result:   retrying"
	sleep 4
	[ "$(since "$m" | grep -c " deploy revision=$c")" -ge 2 ] &&
		ef_pass "registry down: the commit is tried again" ||
		ef_fail "registry down: the commit is tried again" "$(since "$m" | grep -c " deploy revision=$c") attempts"
	m=$(mark)
	registry_up || ef_fail "registry restarted"
	ms=$(await "$m" " deployed revision=$c" 90)
	ef_check "registry back: the same commit deploys by itself (${ms} ms after the restart)" [ "$ms" -ge 0 ]
	ef_check "registry back: web serves v3" serving "web v3"
	echo "    recovery: registry restart -> deployed in $ms ms"
}

# --- Git server down ----------------------------------------------------------------
scenario_git()
{
	local m ms c
	m=$(mark)
	git_server_down
	sleep 12
	ef_expect_contains "git down: log says the poll failed" "$(since "$m")" "poll-failed url=$EF_OPS_URL"
	ef_expect_contains "git down: log says why" "$(since "$m")" "Connection refused"
	ef_check "git down: web keeps serving v3" serving "web v3"
	check_backoff "git down" "$m"
	compose "$web2"
	commit_local "web v2 pushed while nginx is down"
	push_to_disk
	c=$(ef_gitops_head | cut -c1-12)
	m=$(mark)
	git_server_up || ef_fail "git server restarted"
	ms=$(await "$m" " deployed revision=$c" 60)
	ef_check "git back: the waiting commit deploys (${ms} ms after the restart)" [ "$ms" -ge 0 ]
	ef_check "git back: web serves v2" serving "web v2"
	echo "    recovery: git server restart -> deployed in $ms ms"
}

# --- a Git server that answers one byte per second; reload to it and back -----------
scenario_slow()
{
	local m ms t0 slow=$work/agent/slow.ini
	ef_git_slow_server_start "$work/slow" || { ef_fail "slow server started"; return; }
	cp "$good_ini" "$slow"
	ef_ini_set "$slow" source.url "$EF_SLOW_URL"
	ef_ini_set "$slow" source.ca_file "$EF_SLOW_CA"
	ef_ini_set "$slow" source.timeout 3s
	cp "$slow" "$EF_AGENT_INI"
	m=$(mark)
	kill -HUP "$DAEMON_PID"
	ms=$(await "$m" " reloaded config=" 10)
	ef_check "slow git: a good config is applied on SIGHUP" [ "$ms" -ge 0 ]
	ms=$(await "$m" "poll-failed url=$EF_SLOW_URL" 20)
	ef_check "slow git: the poll deadline fires (${ms} ms after SIGHUP, timeout 3 s)" \
		[ "$ms" -ge 2500 ] && [ "$ms" -le 6000 ]
	echo "    slow git: SIGHUP -> poll-failed in $ms ms (timeout = 3s)"
	ef_expect_contains "slow git: log names the deadline" "$(since "$m" | grep poll-failed | head -1)" "3000 ms"
	await_count "$m" " retry in_ms=" 3 40 >/dev/null
	ef_check "slow git: web keeps serving v2" serving "web v2"
	check_backoff "slow git" "$m"
	# Back to the good server; the signal may land during a hanging poll.
	cp "$good_ini" "$EF_AGENT_INI"
	m=$(mark)
	t0=$(now_ms)
	kill -HUP "$DAEMON_PID"
	ms=$(await "$m" " reloaded config=" 10)
	ef_check "slow git: SIGHUP back answered within the deadline (${ms} ms)" [ "$ms" -ge 0 ] && [ "$ms" -le 4500 ]
	ef_git_slow_server_stop
}

# --- SIGHUP with a bad config, with a good one; kick ---------------------------------
scenario_reload()
{
	local m ms c slow_ini=$work/agent/slow-interval.ini
	cp "$good_ini" "$EF_AGENT_INI"
	ef_ini_set "$EF_AGENT_INI" agent.intervall 5s
	m=$(mark)
	kill -HUP "$DAEMON_PID"
	ms=$(await "$m" " reload-refused " 10)
	ef_check "bad config: refused on SIGHUP" [ "$ms" -ge 0 ]
	ef_expect_contains "bad config: log names the file and the key" "$(since "$m" | grep reload-refused)" \
		"$EF_AGENT_INI:"
	ef_expect_contains "bad config: log names the key" "$(since "$m" | grep reload-refused)" "intervall"
	ef_expect_contains "bad config: log says the old one is kept" "$(since "$m" | grep reload-refused)" \
		"keeping the running configuration"
	compose "$web1"
	ef_gitops_commit "web v1 after a refused reload"
	c=$(ef_gitops_head | cut -c1-12)
	ms=$(await "$m" " deployed revision=$c" 60)
	ef_check "bad config: the daemon goes on with the old one (deployed in ${ms} ms)" [ "$ms" -ge 0 ]
	ef_check "bad config: web serves v1" serving "web v1"

	# A good config with a long interval: a push waits for it, a kick does not.
	cp "$good_ini" "$slow_ini"
	ef_ini_set "$slow_ini" agent.interval 60s
	cp "$slow_ini" "$EF_AGENT_INI"
	m=$(mark)
	kill -HUP "$DAEMON_PID"
	await "$m" " reloaded config=" 10 >/dev/null
	sleep 2
	compose "$web3"
	ef_gitops_commit "web v3, kicked"
	c=$(ef_gitops_head | cut -c1-12)
	sleep 3
	ef_expect_eq "good config: interval 60s applied (no poll 3 s after a push)" 0 \
		"$(since "$m" | grep -c "new-commit commit=$c")"
	m=$(mark)
	ef_agent kick >/dev/null
	ms=$(await "$m" "new-commit commit=$c" 10)
	ef_check "kick: the daemon polls at once (${ms} ms from kick to new-commit)" [ "$ms" -ge 0 ] && [ "$ms" -le 2000 ]
	echo "    kick -> new-commit in $ms ms"
	await "$m" " deployed revision=$c" 60 >/dev/null
	ef_check "kick: web serves v3" serving "web v3"
	cp "$good_ini" "$EF_AGENT_INI"
	m=$(mark)
	kill -HUP "$DAEMON_PID"
	await "$m" " reloaded config=" 10 >/dev/null
}

# --- deploy cycles under ASan: leaks, descriptors, memory -------------------------------
# proc_figures: "fds rss_kb rss_anon_kb" of the daemon.
proc_figures()
{
	local fds rss anon
	fds=$(ls "/proc/$DAEMON_PID/fd" 2>/dev/null | wc -l)
	rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$DAEMON_PID/status")
	anon=$(awk '/^RssAnon:/ {print $2}' "/proc/$DAEMON_PID/status")
	echo "$fds $rss $anon"
}

scenario_cycles()
{
	local i c m t0 ms first="" warm="" last="" total=0 slowest=0 ok=1 text containers=0
	local cyc_ini=$work/agent/cycles.ini
	if [ ! -x "$ASAN_DIR/edgeflip" ]; then
		ef_fail "cycles: an ASan build at $ASAN_DIR (set EF_ASAN_BUILD_DIR)"
		return
	fi
	daemon_stop
	cp "$good_ini" "$cyc_ini"
	ef_ini_set "$cyc_ini" agent.interval 60s
	ef_ini_set "$cyc_ini" deploy.soak 0s
	# busybox httpd ignores SIGTERM: retire the old container at once.
	ef_ini_set "$cyc_ini" deploy.stop_timeout 0s
	ef_ini_set "$cyc_ini" deploy.drain 0s
	cp "$cyc_ini" "$EF_AGENT_INI"
	ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0:${EF_CYCLES_ASAN_OPTIONS:-quarantine_size_mb=4} \
		LSAN_OPTIONS=suppressions=$top/tests/lib/lsan-libgit2.supp \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 daemon_start "$ASAN_DIR/edgeflip"
	ef_check "cycles: the ASan daemon starts" kill -0 "$DAEMON_PID"
	t0=$SECONDS
	for ((i = 1; i <= CYCLES; i++)); do
		# Two revisions alternate. Most cycles change a file beside
		# compose.json: a full pass and deploy (fetch, verify, journal,
		# flip, commit) that keeps the containers. Every
		# EF_FAULT_CONTAINER_EVERY-th cycle changes web's environment:
		# a new container, health check, flip, and the old one retired.
		if [ $((i % CONTAINER_EVERY)) -eq 0 ]; then
			compose "$web1" "" "$((i / CONTAINER_EVERY % 2))"
			containers=$((containers + 1))
		else
			echo "revision $((i % 2))" >"$env_dir/NOTES"
		fi
		ef_gitops_commit "cycle $i" || { ok=0; break; }
		c=$(ef_gitops_head | cut -c1-12)
		m=$(mark)
		ef_agent kick >/dev/null
		ms=$(await "$m" " deployed revision=$c" 60) || { ok=0; echo "    cycle $i did not deploy"; break; }
		total=$((total + ms))
		[ "$ms" -gt "$slowest" ] && slowest=$ms
		case $i in
		1) first=$(proc_figures) ;;
		20) warm=$(proc_figures) ;;
		esac
		[ $((i % 50)) -eq 0 ] && echo "    cycle $i: fds rss_kb rss_anon_kb = $(proc_figures) ($((SECONDS - t0)) s)"
	done
	last=$(proc_figures)
	set -- ${warm:-$first} $last
	if [ "$4" -gt $(($1 + 2)) ]; then
		echo "    descriptors at the last cycle:"
		ls -l "/proc/$DAEMON_PID/fd" | awk '{print "      " $(NF-2), $(NF-1), $NF}' | sort -k3 | uniq -c -f2 | head -20
	fi
	ef_check "cycles: $CYCLES deploys, each one deployed" [ $ok = 1 ]
	echo "    cycles: $((i - 1)) in $((SECONDS - t0)) s, $containers of them with a new container; kick -> deployed: mean $((total / (i > 1 ? i - 1 : 1))) ms, slowest $slowest ms"
	echo "    cycle 1:    fds rss_kb rss_anon_kb = $first"
	echo "    cycle 20:   fds rss_kb rss_anon_kb = $warm"
	echo "    cycle $CYCLES:  fds rss_kb rss_anon_kb = $last"
	# libgit2 keeps up to 16 pack files open (one more per fetch until then).
	set -- ${warm:-$first}
	local fd20=$1 anon20=$3
	set -- $last
	ef_check "cycles: descriptors flat ($fd20 at cycle 20, $1 at the last)" [ "$1" -le $((fd20 + 2)) ]
	ef_check "cycles: memory flat (RssAnon $anon20 kB at cycle 20, $3 kB at the last)" \
		[ "$3" -le $((anon20 + ${EF_CYCLES_RSS_SLACK_KB:-8192})) ]
	ef_check "cycles: web serves" serving "web v1"
	m=$(mark)
	daemon_stop
	text=$(since "$m")
	ef_expect_eq "cycles: no leak reported by LeakSanitizer" "" "$(echo "$text" | grep -E 'LeakSanitizer|SUMMARY: AddressSanitizer' | head -3)"
	ef_expect_eq "cycles: no ASan or UBSan error" "" "$(grep -E 'ERROR: AddressSanitizer|runtime error:' "$log" | head -3)"
	ef_expect_contains "cycles: the daemon stopped cleanly" "$text" " stopping "
}

# --- committer dates far in the future and in the past --------------------------------
scenario_clock()
{
	local m c
	m=$(mark)
	compose "$web1"
	GIT_COMMITTER_DATE="2099-01-01T00:00:00+0000" ef_gitops_commit "from the future" --date="2099-01-01T00:00:00+0000"
	c=$(ef_gitops_head | cut -c1-12)
	ef_expect_contains "clock: the commit is dated 2099" "$(ef_git -C "$EF_OPS_DIR/work" log -1 --format=%cI)" "2099-"
	ef_check "clock: a commit dated 2099 deploys" quiet await "$m" " deployed revision=$c" 60
	compose "$web2"
	GIT_COMMITTER_DATE="2001-01-01T00:00:00+0000" ef_gitops_commit "from the past" --date="2001-01-01T00:00:00+0000"
	c=$(ef_gitops_head | cut -c1-12)
	ef_check "clock: a later commit dated 2001 deploys" quiet await "$m" " deployed revision=$c" 60
	ef_check "clock: web serves v2" serving "web v2"
}

# --- a kick and a reload while a deploy soaks -----------------------------------------
scenario_during()
{
	local m ms c n img text soak_ini=$work/agent/soak.ini
	cp "$good_ini" "$soak_ini"
	ef_ini_set "$soak_ini" deploy.soak 6s
	cp "$soak_ini" "$EF_AGENT_INI"
	m=$(mark)
	kill -HUP "$DAEMON_PID"
	await "$m" " reloaded config=" 10 >/dev/null
	img=$web1 text="web v1"
	[ "$(web_says)" = "web v1" ] && img=$web2 text="web v2"
	compose "$img"
	ef_gitops_commit "$text, signalled during the soak"
	c=$(ef_gitops_head | cut -c1-12)
	ms=$(await "$m" " soak revision=$c" 60)
	ef_check "during a deploy: the soak starts" [ "$ms" -ge 0 ]
	ef_agent kick >/dev/null
	sleep 1
	kill -HUP "$DAEMON_PID"
	ms=$(await "$m" " deployed revision=$c" 30)
	ef_check "during a deploy: a kick and a SIGHUP do not abandon it" [ "$ms" -ge 0 ]
	ef_expect_eq "during a deploy: deployed by its first attempt" 1 "$(since "$m" | grep -c " deploy revision=$c")"
	ef_expect_eq "during a deploy: nothing abandoned" "" "$(since "$m" | grep -E 'abandoned|rollback')"
	n=$(since "$m" | grep -n " deployed revision=$c" | head -1 | cut -d: -f1)
	ef_check "during a deploy: the reload is applied after it" quiet await $((m + ${n:-0})) " reloaded config=" 10
	ef_check "during a deploy: web serves the new version" serving "$text"
	cp "$good_ini" "$EF_AGENT_INI"
	m=$(mark)
	kill -HUP "$DAEMON_PID"
	await "$m" " reloaded config=" 10 >/dev/null
}

# --- state_dir full ---------------------------------------------------------------------
fill_disk()
{
	dd if=/dev/zero of="$state/filler" bs=1M >/dev/null 2>&1
	dd if=/dev/zero of="$state/filler2" bs=4k >/dev/null 2>&1
	: >"$state/filler3" 2>/dev/null
	echo x >>"$state/filler3" 2>/dev/null && return 1
	return 0
}
free_disk() { rm -f "$state/filler" "$state/filler2" "$state/filler3"; }

scenario_disk()
{
	local before m ms c rev cur
	cur=$(web_says)
	before=$(running_ids)
	rev=$(ef_status_field revision)
	# (a) the fetch meets the full disk.
	ef_check "disk: state_dir filled" fill_disk
	m=$(mark)
	compose "$web3"
	ef_gitops_commit "web v3 on a full disk"
	c=$(ef_gitops_head | cut -c1-12)
	sleep 10
	ef_expect_contains "disk full (fetch): log names the cause" "$(since "$m")" "No space left on device"
	ef_check "disk full (fetch): running set untouched" [ "$before" = "$(running_ids)" ]
	ef_check "disk full (fetch): web keeps serving" serving "$cur"
	ef_check "disk full (fetch): commit not quarantined" not quarantined "$c"
	check_backoff "disk full (fetch)" "$m"
	m=$(mark)
	free_disk
	ms=$(await "$m" " deployed revision=$c" 60)
	ef_check "disk freed: the commit deploys (${ms} ms after rm)" [ "$ms" -ge 0 ]
	echo "    recovery: disk freed -> deployed in $ms ms"

	# (b) the objects are already in the cache: the journal write meets it.
	before=$(running_ids)
	rev=$(ef_status_field revision)
	compose "$web1"
	commit_local "web v1 on a full disk, objects cached"
	ef_git -C "$EF_OPS_DIR/work" push -q -f "$state/cache.git" HEAD:refs/edgeflip/head
	ef_check "disk: state_dir filled again" fill_disk
	m=$(mark)
	ef_git -C "$EF_OPS_DIR/work" push -q -f origin HEAD:main
	c=$(ef_gitops_head | cut -c1-12)
	sleep 10
	ef_expect_contains "disk full (journal): the deploy starts" "$(since "$m")" " deploy revision=$c"
	ef_expect_contains "disk full (journal): log says the journal write failed" \
		"$(since "$m" | sed -n "/ deploy revision=$c/,\$p" | grep " retry ")" "state.json: No space left on device"
	ef_check "disk full (journal): running set untouched" [ "$before" = "$(running_ids)" ]
	ef_check "disk full (journal): web keeps serving" serving "web v3"
	ef_check "disk full (journal): commit not quarantined" not quarantined "$c"
	ef_expect_eq "disk full (journal): journal still names the running revision" "$rev" "$(ef_status_field revision)"
	ef_expect_eq "disk full (journal): no container created" 2 "$(ef_running | wc -l)"
	check_backoff "disk full (journal)" "$m"
	m=$(mark)
	free_disk
	ms=$(await "$m" " deployed revision=$c" 60)
	ef_check "disk freed: the waiting commit deploys (${ms} ms after rm)" [ "$ms" -ge 0 ]
	ef_check "disk freed: web serves v1" serving "web v1"
}

# --- garbage in the journal -------------------------------------------------------------
scenario_journal()
{
	local before m ms c cur
	cur=$(web_says)
	before=$(running_ids)
	daemon_stop
	printf '{"version": 1, "services": [{"name": "web", "contai\x00\xff garbage' >"$state/state.json"
	m=$(mark)
	daemon_start
	ms=$(await "$m" " journal-rebuilt " 30)
	ef_check "corrupt journal: rebuilt from the engine's labels" [ "$ms" -ge 0 ]
	ef_expect_contains "corrupt journal: log says where it was kept" "$(since "$m" | grep state-corrupt)" \
		"kept=$state/state.json.corrupt-"
	ef_check "corrupt journal: the bad file is kept" quiet ls "$state"/state.json.corrupt-*
	sleep 3
	ef_check "corrupt journal: the running containers are kept (same ids)" [ "$before" = "$(running_ids)" ]
	ef_check "corrupt journal: web keeps serving" serving "$cur"
	m=$(mark)
	compose "$web2"
	ef_gitops_commit "web v2 after the journal was rebuilt"
	c=$(ef_gitops_head | cut -c1-12)
	ms=$(await "$m" " deployed revision=$c" 60)
	ef_check "corrupt journal: the next commit deploys" [ "$ms" -ge 0 ]
	ef_check "corrupt journal: web serves v2" serving "web v2"
}

# --- a garbled cache repository ---------------------------------------------------------
scenario_cache()
{
	local m ms c f
	daemon_stop
	for f in "$state"/cache.git/objects/pack/*.pack "$state"/cache.git/objects/pack/*.idx; do
		[ -f "$f" ] && truncate -s 20 "$f"
	done
	find "$state/cache.git/objects" -type f -path '*/objects/??/*' -exec sh -c 'printf garbage >"$1"' _ {} \;
	printf 'garbage\n' >"$state/cache.git/HEAD"
	m=$(mark)
	compose "$web3"
	ef_gitops_commit "web v3 after the cache was garbled"
	c=$(ef_gitops_head | cut -c1-12)
	daemon_start
	ms=$(await "$m" " deployed revision=$c" 60)
	ef_check "corrupt cache: the next commit deploys (${ms} ms after the start)" [ "$ms" -ge 0 ]
	ef_expect_contains "corrupt cache: log says the cache was removed and fetched again" "$(since "$m")" "source.cache_unusable dir=$state/cache.git"
	ef_check "corrupt cache: web serves v3" serving "web v3"
}

want registry && scenario_registry
want git && scenario_git
want slow && scenario_slow
want reload && scenario_reload
want clock && scenario_clock
want during && scenario_during
want disk && scenario_disk
want journal && scenario_journal
want cache && scenario_cache
want cycles && scenario_cycles

echo "# total: $((SECONDS - T_START)) s"
ef_summary
