#!/usr/bin/env bash
# Strategy canary against the real engine and the built-in proxy, with the
# bounded load loop (a new connection per request) on the public port: a good
# green gets the weight of each step (±5 points) of the responses, then all
# of them, with zero failed requests; a green that answers 500 to every other
# request on an http port is aborted at the first step, traffic all blue
# again, zero connection failures, the commit quarantined with the observed
# rate; a SIGKILL of the agent mid-canary is recovered without a stranded
# weight. Figures: time from the first 5xx to all-blue.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/e2e.sh"

ef_e2e_suite canary "deploy.soak=2s" "deploy.health_timeout=20s"

v1=$(ef_image_build web v1 "web v1") || exit 1
v2=$(ef_image_build web v2 "web v2") || exit 1
v3=$(ef_image_build web v3 "web v3") || exit 1
port=$(ef_free_port)
url=http://127.0.0.1:$port/
routes=$work/agent/state/proxy/routes.json
web_says() { curl -s --max-time 5 "$url" 2>/dev/null; }
quarantine() { ef_agent status --json | python3 -c 'import json,sys; print(" ".join(q["revision"] + " " + q["reason"] for q in json.load(sys.stdin)["quarantine"]))'; }
# compose WEB_IMAGE [python run on the web service dict `w`]: strategy canary, http.
canary='w["x-edgeflip"].update({"strategy": "canary", "http": True, "canary": {
    "steps": [{"weight": 10, "pause": "4s"}, {"weight": 50, "pause": "4s"}],
    "max_error_rate": 0.05, "min_requests": 20}})'
compose()
{
	ef_compose "$env/compose.json" "web=$1:$port"
	ef_compose_patch "$env/compose.json" web "$canary" "${2:-}"
}
# load_start NAME LOG: the load loop, its phases from the agent's log.
load_start()
{
	rm -f "$2"
	ef_load_start "$url" "$1" --phase-log "$2" \
		--phase-re 'canary-step .*weight=([0-9]+)|(flipped)|(canary-traffic-on-blue)|(rolled-back)'
}
# share PHASE BODY: percent of the phase's answers that were BODY, and of how many.
share()
{
	python3 - "$EF_LOAD_OUT" "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = d["phases"].get(sys.argv[2], {})
n = sum(p.values())
print("%d %d" % (round(100.0 * p.get(sys.argv[3], 0) / n) if n else -1, n))
PY
}
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$EF_LOAD_OUT" "$1"; }
within() { [ "$1" -ge $(($2 - 5)) ] && [ "$1" -le $(($2 + 5)) ]; }

# --- v1: the first deploy has no blue, so no canary ------------------------------
compose "$v1"
ef_gitops_commit "v1"
ef_agent once 2>"$work/v1.log" || { cat "$work/v1.log"; exit 1; }
ef_expect_eq "v1 serves through the proxy" "web v1" "$(web_says)"

# --- a good green: each step's share, then all, zero failures --------------------
log=$work/good.log
load_start good "$log"
compose "$v2"
ef_gitops_commit "v2"
ef_agent once 2>"$log"
rc=$?
counts=$(ef_load_stop)
ef_expect_eq "good canary exits 0" 0 $rc
ef_expect_eq "good canary: zero failed requests (of ${counts% *})" 0 "${counts#* }"
for w in 10 50; do
	set -- $(share "$w" "web v2")
	within "$1" "$w" && ef_pass "good canary: step weight $w%: $1% of $2 responses from green" ||
		ef_fail "good canary: step weight $w%" "$1% of $2 responses from green"
	echo "figure: canary step weight $w%: $1% of $2 responses (new connections) from green"
done
set -- $(share flipped "web v2")
ef_expect_eq "good canary: after the last step all responses from green (of $2)" 100 "$1"
ef_expect_contains "good canary: steps logged" "$(grep -c 'canary-step-passed' "$log")" 2
ef_expect_eq "v2 serves" "web v2" "$(web_says)"
ef_expect_eq "good canary: no canary left in the routes" "" "$(grep canary "$routes")"

# --- a green answering 500 to every other request: abort at the first step --------
# v3 with / served by a CGI that alternates 500 and 200 (/health stays a file).
read -r -d '' bad_green <<'PY'
import base64
cgi = b'''#!/bin/sh
n=$(cat /tmp/n 2>/dev/null || echo 0); echo $((n + 1)) >/tmp/n
if [ $((n % 2)) = 0 ]; then printf 'Status: 500 Internal Server Error\r\nContent-Type: text/plain\r\n\r\ngreen bad\n'
else printf 'Content-Type: text/plain\r\n\r\ngreen ok\n'; fi
'''
w["environment"] = {"CGI": base64.b64encode(cgi).decode()}
w["command"] = ["sh", "-c", "rm /www/index.html; mkdir -p /www/cgi-bin; "
                "echo \"$$CGI\" | busybox base64 -d >/www/cgi-bin/index.cgi; "
                "busybox chmod +x /www/cgi-bin/index.cgi; exec httpd -f -p 8080 -h /www"]
PY
log=$work/bad.log
load_start bad "$log"
compose "$v3" "$bad_green"
ef_gitops_commit "v3 answers 500 to half"
c=$(ef_gitops_head)
t0=$(date +%s.%N)
ef_agent once 2>"$log"
rc=$?
t1=$(date +%s.%N)
sleep 1
counts=$(ef_load_stop)
ef_expect_eq "bad canary: exit 4 (rolled back)" 4 $rc
ef_expect_contains "bad canary: aborted at the first step" "$(grep canary-aborted "$log")" "step=1 weight=10"
ef_expect_eq "bad canary: zero connection failures (of ${counts% *})" 0 "$(field failed_conn)"
st=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["last_seen"].get("status 500", 0) > 0 and 1 or 0)' "$EF_LOAD_OUT")
ef_expect_eq "bad canary: the load saw green's 500s (the test is real)" 1 "$st"
for ph in canary-traffic-on-blue rolled-back; do
	set -- $(share "$ph" "web v2")
	[ "$2" -gt 0 ] && ef_expect_eq "bad canary: after $ph all $2 responses from blue" 100 "$1"
done
ef_expect_eq "bad canary: blue (v2) serves" "web v2" "$(web_says)"
ef_expect_contains "bad canary: quarantined with the observed rate" "$(quarantine)" "$c canary: error rate"
ef_expect_eq "bad canary: no canary left in the routes" "" "$(grep canary "$routes")"
ef_expect_eq "bad canary: green removed" 1 "$(ef_running | wc -l)"
python3 - "$EF_LOAD_OUT" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
first = d["first_seen"]["status 500"]
last = max(d["last_seen"].get(k, 0) for k in ("status 500", "green ok"))
print("figure: canary abort: first 5xx seen by the client to the last answer from green: %d ms"
      % round((last - first) * 1000))
PY
echo "figure: canary abort: decision to traffic on blue: $(grep -o 'canary-traffic-on-blue revision=[0-9a-f]* ms=[0-9]*' "$log" | grep -o 'ms=[0-9]*' | cut -d= -f2) ms; $(grep -o 'requests=[0-9]* errors=[0-9]*' "$log" | head -1) at the decision"

# --- SIGKILL of the agent mid-canary ------------------------------------------------
log=$work/kill.log
load_start kill "$log"
compose "$v1"
ef_gitops_commit "v1 again, killed mid-canary"
EDGEFLIP_FAULT=during-canary ef_agent once 2>"$log"
rc=$?
ef_expect_eq "kill mid-canary: agent died by SIGKILL" 137 $rc
ef_expect_contains "kill mid-canary: the proxy holds the stranded weight while the agent is down" \
	"$(cat "$routes")" '"canary_weight":	10'
ef_expect_contains "kill mid-canary: status shows the canary" "$(ef_agent status)" "canary:        step 1/2 weight=10%"
ef_expect_contains "kill mid-canary: status --json field canary" "$(ef_agent status --json)" '"canary":{"step":1,"steps":2,"weight":10'
sleep 1
ef_agent once 2>>"$log"
rc=$?
counts=$(ef_load_stop)
ef_expect_eq "kill mid-canary: the restarted agent converges (exit 0)" 0 $rc
ef_expect_contains "kill mid-canary: recovery flipped back to blue" "$(cat "$log")" "recover phase=flip"
ef_expect_eq "kill mid-canary: zero failed requests (of ${counts% *})" 0 "${counts#* }"
ef_expect_eq "kill mid-canary: no canary left in the routes" "" "$(grep canary "$routes")"
ef_expect_eq "kill mid-canary: status shows no canary" "null" "$(ef_agent status --json | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["canary"]))')"
ef_expect_eq "kill mid-canary: one set runs" 1 "$(ef_running | wc -l)"

ef_summary
