#!/usr/bin/env bash
# End to end: the agent against a real HTTPS Git server, a real registry and a
# real Podman engine, all started here. Scenarios of the foundation: first
# deploy, one service changed, added and removed, drift repair, wrong CA,
# plain http, malformed manifest, server unreachable; and of trust: unsigned
# and force-pushed history refused, device policy refusals; compose.yaml with
# an override, .env and the device's env_file (issue 10).
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/e2e.sh"

ef_e2e_suite agent

web1=$(ef_image_build web v1 "web v1") || exit 1
web2=$(ef_image_build web v2 "web v2") || exit 1
api1=$(ef_image_build api v1 "api v1") || exit 1
api2=$(ef_image_build api v2 "api v2") || exit 1
port_web=$(ef_free_port)

id_of() { ef_running | awk -v s="$1" '$1 == s && $4 == "running" {print $3}' | head -1; }
count_running() { ef_running | awk '$4 == "running"' | wc -l; }
web_says() { curl -s --max-time 5 "http://127.0.0.1:$port_web/" 2>/dev/null; }

# --- first deploy on an empty gateway ---------------------------------------
ef_compose "$env/compose.json" "api=$api1" "web=$web1:$port_web"
ef_gitops_commit "first" || exit 1
c1=$(ef_gitops_head)

# --- anti-rollback floor of a fresh device: [trust] not_before -------------------
ef_ini_set "$EF_AGENT_INI" trust.not_before 2099-01-01
ef_agent once 2>"$log"
ef_expect_eq "a commit older than not_before (date) exits 3 on a fresh device" 3 $?
ef_expect_contains "the refusal names not_before" "$(cat "$log")" "committed before [trust] not_before 2099-01-01"
ef_expect_contains "status names the kind of quarantine" "$(ef_agent status)" "$(echo "$c1" | cut -c1-12) not-before:"
# a commit the branch does not contain
ef_ini_set "$EF_AGENT_INI" trust.not_before 0123456789abcdef0123456789abcdef01234567
ef_agent retry >/dev/null 2>&1
ef_agent once 2>"$log"
ef_expect_eq "a commit that does not descend from not_before (commit) exits 3" 3 $?
ef_expect_contains "the refusal says so" "$(cat "$log")" "does not descend from [trust] not_before"
ef_ini_set "$EF_AGENT_INI" trust.not_before "$c1"
out=$(ef_agent retry "$(echo "$c1" | cut -c1-12)" 2>&1)
ef_expect_contains "retry lifts the quarantine on purpose" "$out" "released 1 quarantined commit"
ef_ini_set "$EF_AGENT_INI" trust.not_before 2020-01-01

ef_agent once 2>"$log"
ef_expect_eq "first deploy exits 0" 0 $?
ef_expect_eq "first deploy runs two containers" 2 "$(count_running)"
ef_expect_eq "web answers on its public port" "web v1" "$(web_says)"
ef_expect_eq "status names the deployed commit" "$c1" "$(ef_status_field revision)"
ef_expect_eq "status names the signer" "release@example.com" "$(ef_status_field signer)"
api_id=$(id_of api)
web_id=$(id_of web)
[ -n "$api_id" ] && [ -n "$web_id" ] || { echo "first deploy failed; log:"; cat "$log"; exit 1; }

# --- verify: verdict, signer and key of the branch head ------------------------
out=$(ef_agent verify 2>&1)
ef_expect_eq "verify of a signed head exits 0" 0 $?
ef_expect_contains "verify prints the verdict" "$out" "verdict: good"
ef_expect_contains "verify prints the signer" "$out" "signer:  release@example.com"
ef_expect_contains "verify prints the key fingerprint" "$out" "key:     SHA256:"

# --- lint: the GitOps repository's own CI check --------------------------------
ef_agent lint "$env" >"$work/lint.out" 2>&1
ef_expect_eq "lint of a clean environment exits 0" 0 $?
mkdir -p "$work/lintbad"
printf '{"services": {"web": {"image": "%s/web:v1", "privileged": true}}}\n' "$EF_REGISTRY" \
	>"$work/lintbad/compose.json"
# Without --policy the device policy's findings are warnings (exit 0); with
# the devices' [policy] they are errors (exit 3), one line per finding.
ef_agent lint "$work/lintbad" >"$work/lint.out" 2>&1
ef_expect_eq "lint without --policy: policy findings do not fail it" 0 $?
ef_expect_eq "lint without --policy: two warnings" 2 "$(grep -c ': warning: ' "$work/lint.out")"
printf '[policy]\n' >"$work/device-policy.ini"
ef_agent lint "$work/lintbad" --policy "$work/device-policy.ini" >"$work/lint.out" 2>&1
ef_expect_eq "lint with --policy and findings exits 3" 3 $?
ef_expect_eq "lint prints one line per finding" 2 "$(grep -c 'compose.json:[0-9]*:[0-9]*: \$\.services\.web\.' "$work/lint.out")"
ef_expect_contains "lint names the tag finding" "$(cat "$work/lint.out")" "digest"
ef_expect_contains "lint names the privileged finding" "$(cat "$work/lint.out")" "privileged"

# --- a no-change pass changes nothing and writes nothing ---------------------
touch "$work/marker"
sleep 1.1
ef_agent once 2>"$log"
ef_expect_eq "no-change pass exits 0" 0 $?
ef_expect_eq "no-change pass writes nothing under state_dir" "" \
	"$(find "$work/agent/state" -newer "$work/marker" -not -name '*.log' | grep -v '/proxy/' | head -3)"
ef_expect_eq "no-change pass keeps api's container" "$api_id" "$(id_of api)"

# --- one service's image digest changed: only that container is replaced ----
ef_compose "$env/compose.json" "api=$api1" "web=$web2:$port_web"
ef_gitops_commit "web v2"
ef_agent once 2>"$log"
ef_expect_eq "update exits 0" 0 $?
ef_expect_eq "web now serves v2" "web v2" "$(web_says)"
ef_expect_eq "api untouched (same container)" "$api_id" "$(id_of api)"
[ "$(id_of web)" != "$web_id" ] && ef_pass "web replaced by a new container" || ef_fail "web replaced"
ef_expect_eq "old web retired" 2 "$(ef_running | wc -l)"

# --- service added and removed ------------------------------------------------
ef_compose "$env/compose.json" "web=$web2:$port_web" "worker=$api2"
ef_gitops_commit "api out, worker in"
ef_agent once 2>"$log"
ef_expect_eq "add/remove exits 0" 0 $?
ef_expect_eq "api removed" "" "$(ef_running | awk '$1 == "api"')"
[ -n "$(id_of worker)" ] && ef_pass "worker added" || ef_fail "worker added" "$(ef_running)"

# --- drift repair: removed and stopped by hand --------------------------------
worker_id=$(id_of worker)
$EF_PODMAN rm -f "$worker_id" >/dev/null
web_id=$(id_of web)
$EF_PODMAN stop -t 0 "$web_id" >/dev/null
ef_agent once 2>"$log"
ef_expect_eq "drift pass exits 0" 0 $?
[ -n "$(id_of worker)" ] && ef_pass "removed container put back" || ef_fail "removed container put back"
ef_expect_eq "stopped container started again (same id)" "$web_id" "$(id_of web)"
ef_expect_eq "web serves after repair" "web v2" "$(web_says)"
ef_expect_contains "log names the drift" "$(cat "$log")" "drift"

# --- malformed compose.json: refused, running set keeps running ---------------
before=$(ef_running)
printf '{"services": {"web": {"image": "%s", "privileged": "yes"' "$web1" >"$env/compose.json"
ef_gitops_commit "broken json"
ef_agent once 2>"$log"
ef_expect_eq "malformed manifest exits 3" 3 $?
ef_expect_contains "error names compose.json" "$(cat "$log")" "compose.json"
ef_expect_eq "running set untouched after malformed manifest" "$before" "$(ef_running)"
ef_expect_eq "web still serves" "web v2" "$(web_says)"

# --- unknown key: error names the JSON path -----------------------------------
printf '{"services": {"web": {"image": "%s", "build": "."}}}\n' "$web1" >"$env/compose.json"
ef_gitops_commit "unknown key"
ef_agent once 2>"$log"
ef_expect_eq "unsupported key exits 3" 3 $?
ef_expect_contains "error names the JSON path" "$(cat "$log")" "services.web.build"

# --- device policy: refused before anything reaches the engine ----------------
ef_compose "$env/compose.json" "web=$web2:$port_web" "worker=$api2"
python3 - "$env/compose.json" "$EF_REGISTRY" <<'PY'
import json, sys
p, reg = sys.argv[1], sys.argv[2]
m = json.load(open(p))
m["services"]["worker"]["privileged"] = True
m["services"]["tagged"] = {"image": reg + "/web:v1"}
m["services"]["elsewhere"] = {"image": "registry.example.net/x@sha256:" + "a" * 64}
json.dump(m, open(p, "w"), indent=1)
PY
ef_gitops_commit "policy violations"
events_before=$($EF_PODMAN ps -a -q | wc -l)
ef_agent once 2>"$log"
ef_expect_eq "policy violation exits 3" 3 $?
out=$(cat "$log")
ef_expect_contains "privileged refused" "$out" "privileged"
ef_expect_contains "tag refused" "$out" "tagged"
ef_expect_contains "unlisted registry refused" "$out" "registry.example.net"
ef_expect_eq "nothing created for the refused commit" "$events_before" "$($EF_PODMAN ps -a -q | wc -l)"
ef_expect_contains "status shows the refusal" "$(ef_agent status)" "privileged"

# --- a good commit after the refusals deploys again ---------------------------
ef_compose "$env/compose.json" "web=$web1:$port_web" "worker=$api2"
ef_gitops_commit "back to web v1"
ef_agent once 2>"$log"
ef_expect_eq "good commit after refusals exits 0" 0 $?
ef_expect_eq "web serves v1" "web v1" "$(web_says)"
good=$(ef_gitops_head)

# --- policy on every path: drift repair and rollback check the policy now ----
# (issue 12): a policy tightened after a deploy holds for what runs too.
ef_ini_set "$EF_AGENT_INI" policy.registries registry.example.net
$EF_PODMAN rm -f "$(id_of worker)" >/dev/null
ef_agent once 2>"$log"
ef_expect_eq "drift repair under a tightened policy exits 3" 3 $?
ef_expect_contains "the refused repair names the policy finding" "$(cat "$log")" "path=drift repair"
ef_expect_eq "the refused repair creates nothing" "" "$(id_of worker)"
ef_agent rollback 2>"$log"
ef_expect_eq "rollback under a tightened policy exits 3" 3 $?
ef_expect_contains "the refused rollback says why" "$(cat "$log")" "breaks the device policy now"
ef_expect_eq "web still serves v1 after the refused rollback" "web v1" "$(web_says)"
ef_ini_set "$EF_AGENT_INI" policy.registries "$EF_REGISTRY"
ef_agent once 2>"$log"
ef_expect_eq "the policy relaxed again: drift repaired" 0 $?
[ -n "$(id_of worker)" ] && ef_pass "worker back once the policy allows it" ||
	ef_fail "worker back once the policy allows it" "$(cat "$log")"

# --- the COMMIT record does not reach the disk: memory follows the disk --------
# (issue 12): the deploy rolls back to blue as for any transient fault, and
# the commit is tried again; never "green active" in memory only.
ef_compose "$env/compose.json" "web=$web2:$port_web" "worker=$api2"
ef_gitops_commit "web v2, journal write fails at COMMIT"
c_fail=$(ef_gitops_head)
EDGEFLIP_FAULT_ERRNO=journal-commit:1 ef_agent once 2>"$log"
rc=$?
[ "$rc" -ne 0 ] && ef_pass "a failed COMMIT write fails the pass (exit $rc)" ||
	ef_fail "a failed COMMIT write fails the pass" "exit 0"
ef_expect_contains "the rollback is transient, not a quarantine" "$(cat "$log")" "kind=transient"
ef_expect_eq "blue keeps serving v1" "web v1" "$(web_says)"
ef_expect_eq "green removed: two containers, as before" 2 "$(ef_running | wc -l)"
ef_expect_eq "the journal names the running revision" "$good" "$(ef_status_field revision)"
ef_agent once 2>"$log"
ef_expect_eq "the same commit deploys on the next pass" 0 $?
ef_expect_eq "web serves v2 after the retry" "web v2" "$(web_says)"
ef_expect_eq "status names the retried commit" "$c_fail" "$(ef_status_field revision)"
ef_compose "$env/compose.json" "web=$web1:$port_web" "worker=$api2"
ef_gitops_commit "back to web v1 again"
ef_agent once 2>"$log"
ef_expect_eq "web v1 again" "web v1" "$(web_says)"
good=$(ef_gitops_head)

# --- unsigned commit refused ---------------------------------------------------
ef_compose "$env/compose.json" "web=$web2:$port_web" "worker=$api2"
ef_git -C "$EF_OPS_DIR/work" add -A
ef_git -C "$EF_OPS_DIR/work" commit -q -m "unsigned"
ef_git -C "$EF_OPS_DIR/work" push -q origin HEAD:main
ef_agent once 2>"$log"
ef_expect_eq "unsigned commit exits 3" 3 $?
ef_expect_contains "unsigned commit: reason logged" "$(cat "$log")" "unsigned"
ef_expect_eq "web still serves v1 after unsigned commit" "web v1" "$(web_says)"

# --- force-push to an older signed commit refused (anti-rollback) -------------
ef_git -C "$EF_OPS_DIR/work" push -q -f origin "$c1:main"
ef_agent once 2>"$log"
ef_expect_eq "replayed older commit exits 3" 3 $?
ef_expect_contains "anti-rollback reason" "$(cat "$log")" "does not descend"
ef_expect_eq "web still serves v1 after replay" "web v1" "$(web_says)"
ef_expect_eq "status still shows the good commit" "$good" "$(ef_status_field revision)"
ef_git -C "$EF_OPS_DIR/work" reset -q --hard "$good"
ef_git -C "$EF_OPS_DIR/work" push -q -f origin HEAD:main

# --- a refused push costs no disk: what it brought is removed ------------------
cache=$work/agent/state/cache.git
du_before=$(du -sb "$cache" | cut -f1)
head -c $((8 << 20)) /dev/urandom >"$EF_OPS_DIR/work/big.bin"
ef_git -C "$EF_OPS_DIR/work" add -A
ef_git -C "$EF_OPS_DIR/work" commit -q -m "unsigned, 8 MiB"
ef_git -C "$EF_OPS_DIR/work" push -q origin HEAD:main
ef_agent once 2>"$log"
ef_expect_eq "unsigned 8 MiB commit exits 3" 3 $?
ef_expect_contains "the refused push's objects are discarded" "$(cat "$log")" "source.discarded"
du_after=$(du -sb "$cache" | cut -f1)
[ $((du_after - du_before)) -lt 65536 ] && ef_pass "the cache is back to its size (+$((du_after - du_before)) bytes)" ||
	ef_fail "the cache is back to its size" "before $du_before after $du_after bytes"
# A push past max_fetch_size is refused once, not fetched again on every poll.
ef_ini_set "$EF_AGENT_INI" source.max_fetch_size 2M
head -c $((4 << 20)) /dev/urandom >"$EF_OPS_DIR/work/big.bin"
ef_git -C "$EF_OPS_DIR/work" add -A
ef_git -C "$EF_OPS_DIR/work" commit -q -m "unsigned, 4 MiB more"
ef_git -C "$EF_OPS_DIR/work" push -q origin HEAD:main
ef_agent once 2>"$log"
ef_expect_eq "a push past max_fetch_size exits 3" 3 $?
ef_expect_contains "status: quarantined for its size" "$(ef_agent status)" "$(ef_gitops_head | cut -c1-12) size:"
ef_agent once 2>"$log"
ef_expect_eq "the oversized push is not fetched again" "" "$(grep -E 'new-commit|source.fetch' "$log")"
ef_ini_set "$EF_AGENT_INI" source.max_fetch_size 64M
ef_git -C "$EF_OPS_DIR/work" reset -q --hard "$good"
ef_git -C "$EF_OPS_DIR/work" push -q -f origin HEAD:main

# --- a commit signed with OpenPGP (GnuPG) by a trusted key deploys -------------
export GNUPGHOME=$work/gnupg
mkdir -p "$GNUPGHOME" && chmod 700 "$GNUPGHOME"
gpg --batch -q --passphrase '' --quick-gen-key "Release <pgp@example.com>" ed25519 sign 1y 2>/dev/null
fpr=$(gpg --batch --with-colons --list-keys pgp@example.com | awk -F: '/^fpr/ {print $10; exit}')
gpg --batch --armor --export "$fpr" >"$work/trusted.asc"
ef_ini_set "$EF_AGENT_INI" trust.openpgp_keys "$work/trusted.asc"
ef_compose "$env/compose.json" "web=$web2:$port_web" "worker=$api2"
ef_git -C "$EF_OPS_DIR/work" add -A
ef_git -C "$EF_OPS_DIR/work" -c gpg.format=openpgp -c user.signingkey="$fpr" commit -q -S -m "pgp signed"
ef_git -C "$EF_OPS_DIR/work" push -q origin HEAD:main
ef_agent once 2>"$log"
ef_expect_eq "OpenPGP-signed commit deploys (exit 0)" 0 $?
ef_expect_eq "OpenPGP signer is the key's fingerprint" "$fpr" "$(ef_status_field signer)"
ef_expect_eq "web serves v2 after the OpenPGP-signed commit" "web v2" "$(web_says)"
good=$(ef_gitops_head)

# --- a trust refusal is examined again when the trust files change ---------------
ssh-keygen -q -t ed25519 -N '' -C ops@example.com -f "$work/ops-key"
ef_git -C "$EF_OPS_DIR/work" -c gpg.format=ssh -c user.signingkey="$work/ops-key" \
	commit -q -S --allow-empty -m "signed by a key not yet trusted"
ef_git -C "$EF_OPS_DIR/work" push -q origin HEAD:main
ops_commit=$(ef_gitops_head)
ef_agent once 2>"$log"
ef_expect_eq "a commit by an untrusted key exits 3" 3 $?
ef_expect_contains "status: quarantined for its signature" "$(ef_agent status)" "$(echo "$ops_commit" | cut -c1-12) signature:"
printf 'ops@example.com namespaces="git" %s\n' "$(cut -d' ' -f1,2 "$work/ops-key.pub")" \
	>>"$EF_OPS_DIR/keys/allowed_signers"
ef_agent once 2>"$log"
ef_expect_eq "after the key is added, the same commit deploys (exit 0)" 0 $?
ef_expect_contains "the agent says why it looked again" "$(cat "$log")" "trust-changed requeued="
ef_expect_eq "status names the re-examined commit" "$ops_commit" "$(ef_status_field revision)"
good=$ops_commit

# --- compose.yaml with an override, .env and the device's env_file -------------
# The same services as Compose users write them: YAML, an anchor with a merge
# key, ${VAR} from the directory's .env and from the device's env_file, and
# the device id in the override's environment. Read from the commit's tree.
rm -f "$env/compose.json"
cat >"$env/compose.yaml" <<'EOF'
x-health: &health
  x-edgeflip: {health: {http: {path: /health, port: 8080}}}
services:
  web:
    <<: *health
    image: ${WEB_IMAGE}
    ports: ["${WEB_PORT}:8080"]
  worker:
    image: ${WORKER_IMAGE}
EOF
cat >"$env/compose.override.yaml" <<'EOF'
services:
  web:
    environment:
      SITE: ${EDGEFLIP_DEVICE_ID}
EOF
printf 'WEB_PORT=%s\nWORKER_IMAGE=%s\n' "$port_web" "$api2" >"$env/.env"
printf '# this gateway\nWEB_IMAGE=%s\n' "$web2" >"$work/device.env"
ef_ini_set "$EF_AGENT_INI" agent.env_file "$work/device.env"
ef_gitops_commit "compose.yaml" || exit 1
ef_agent once 2>"$log"
ef_expect_eq "compose.yaml with override, .env and env_file deploys (exit 0)" 0 $?
ef_expect_eq "status shows the compose.yaml commit" "$(ef_gitops_head)" "$(ef_status_field revision)"
ef_expect_eq "web serves v2 from the YAML file" "web v2" "$(web_says)"
site=$($EF_PODMAN container inspect --format '{{range .Config.Env}}{{println .}}{{end}}' \
	"$(id_of web)" | grep '^SITE=')
ef_expect_eq "the override's environment reached the container" "SITE=test-gw" "$site"
# An unset variable: the commit is refused, naming the file, line and variable.
printf 'WEB_PORT=%s\n' "$port_web" >"$env/.env"
ef_gitops_commit "unset variable" || exit 1
ef_agent once 2>"$log"
ef_expect_eq "unset variable refused (exit 3)" 3 $?
ef_expect_contains "refusal names file:line:column and the variable" "$(ef_agent status --json)" \
	'compose.yaml:9:12: $.services.worker.image: variable WORKER_IMAGE is not set'
ef_expect_eq "web still serves v2 after the refusal" "web v2" "$(web_says)"

# --- server unreachable: running set untouched, non-zero exit -----------------
before=$(ef_running)
ef_git_server_stop
ef_agent once 2>"$log"
ef_expect_eq "unreachable server exits 5" 5 $?
ef_expect_eq "running set untouched while offline" "$before" "$(ef_running)"
ef_expect_eq "web serves while offline" "web v2" "$(web_says)"

# --- wrong CA refused ---------------------------------------------------------
ef_git_server_start "$work/git2" >/dev/null
other=$(ef_git_repo_create gitops)
ef_git_make_ca "$work/otherca" >/dev/null 2>&1 || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=other -keyout "$work/otherca.key" -out "$work/otherca.pem" -days 2 2>/dev/null
otherca=$(ls "$work"/otherca*.pem "$work"/otherca/*.pem 2>/dev/null | head -1)
ef_agent_config "$work/agent" "source.url=${other/127.0.0.1/localhost}" "source.ca_file=$otherca"
ef_agent once 2>"$log"
rc=$?
[ $rc -ne 0 ] && ef_pass "wrong CA refused (exit $rc)" || ef_fail "wrong CA refused"
ef_expect_contains "wrong CA: message names the certificate" "$(cat "$log")" "certificate"

# --- plain http refused -------------------------------------------------------
ef_agent_config "$work/agent" "source.url=http://localhost:1/gitops.git"
ef_agent check-config >"$log" 2>&1
ef_expect_eq "plain http refused by check-config (exit 2)" 2 $?
ef_expect_contains "plain http: says how to allow it" "$(cat "$log")" "allow_insecure_http"

ef_summary
