#!/bin/bash
# SOPS secrets reach containers (docs/secrets.md, "Secrets in containers"):
# the agent on a real Podman engine, with Compose `secrets:` whose files are
# SOPS documents written by the real sops (../shared/corpus/sops, with the age
# test keys their repositories publish). Checks: the container reads the
# plaintext at /run/secrets/NAME (and a long-syntax target); the plaintext is
# under the tmpfs runtime_dir and nowhere under state_dir or in the log; a
# flip between two secret versions, a rollback (blue keeps its own file) and
# a refused commit for a secret the device's key does not open and for a
# tampered one (exit 3, nothing reaches the engine, the running set serves);
# secret dirs no container mounts removed after commit, rollback and at
# recovery; SOPS env_files (dotenv, yaml) read back with `podman exec env`,
# `environment:` winning, a new value deploying a new green, the plaintext
# nowhere on disk, a tampered env_file refused; a SOPS dotenv `.env` as the
# source of ${VAR} (values in the container, nowhere on disk, a new .env
# deploying a new green, a tampered one and one on a device without a key
# refused).
#
#   EF_BUILD_DIR=build tests/integration/test_secrets.sh
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/tests/lib/e2e.sh"

corpus=${EF_CORPUS:-$root/../shared/corpus}/sops
[ -d "$corpus" ] || corpus=/work/shared/corpus/sops
[ -d "$corpus/real" ] || { echo "test_secrets: no SOPS corpus (set EF_CORPUS)" >&2; exit 2; }
[ "$(stat -f -c %T /dev/shm)" = tmpfs ] || { echo "test_secrets: /dev/shm is no tmpfs" >&2; exit 2; }

ef_e2e_start secrets
runtime=$(mktemp -d /dev/shm/ef-test-secrets.XXXXXX)
trap 'ef_e2e_stop; rm -rf "$runtime"' EXIT

ef_agent_config "$work/agent" "secrets.age_key_file=$corpus/keys/agent-keys.txt" \
	"secrets.runtime_dir=$runtime"
state=$work/agent/state
env=$EF_OPS_DIR/work/environments/production
port=$(ef_free_port)
log=$work/agent.log
web_says() { curl -s --max-time 5 "http://127.0.0.1:$port/" 2>/dev/null; }
# in_web PATH: the file as the serving container reads it
in_web() {
	local id
	id=$($EF_PODMAN ps -q --filter label=io.edgeflip.service=web --filter status=running | head -1)
	$EF_PODMAN exec "$id" /bin/busybox ${2:-cat} ${3:+"$3"} "$1" 2>&1
}
# not_elsewhere WHAT TEXT: TEXT is not under state_dir, in the log or in status
not_elsewhere() {
	ef_check "$1: no plaintext under state_dir" bash -c "! grep -rqaF '$2' '$state'"
	ef_check "$1: no plaintext in the log" bash -c "! grep -qaF '$2' '$log'"
	ef_check "$1: no plaintext in status" bash -c "! $EF_BIN -c $EF_AGENT_INI status --json | grep -qF '$2'"
}
# no_plaintext WHAT TEXT: TEXT is under the runtime dir and nowhere else
no_plaintext() {
	ef_check "$1: the plaintext is in the tmpfs runtime_dir" grep -rqF "$2" "$runtime"
	not_elsewhere "$1" "$2"
}
# not_leaked WHAT TEXT: TEXT nowhere on disk (env_file values), nor in status
not_leaked() {
	ef_check "$1: no plaintext under runtime_dir" bash -c "! grep -rqaF '$2' '$runtime'"
	not_elsewhere "$1" "$2"
}

web1=$(ef_image_build web v1 "web v1") || exit 1
web2=$(ef_image_build web v2 "web v2") || exit 1
web3=$(ef_image_build web v3 "web v3" fail) || exit 1

# compose_web IMAGE: the service `web` up to its own keys
compose_web() {
	cat <<EOF
services:
  web:
    image: $1
    ports: ["$port:8080"]
    x-edgeflip: {health: {http: {path: /health, port: 8080}}}
EOF
}
# compose.yaml: IMAGE, secret `api` from FILE (+ a long-syntax target)
write_compose() {
	{ compose_web "$1"; cat <<EOF
    secrets:
      - api
      - source: api
        target: /etc/app/key
secrets:
  api:
    file: ./$2
EOF
	} >"$env/compose.yaml"
}

# --- v1: a binary SOPS file (sops 3.9, age) -----------------------------------
cp "$corpus/real/flux-file.txt" "$env/api.bin"
write_compose "$web1" api.bin
ef_gitops_commit "v1 with a SOPS secret" || exit 1
ef_agent once 2>"$log"
ef_expect_eq "a commit with a SOPS secret deploys (exit 0)" 0 $?
ef_expect_eq "it serves" "web v1" "$(web_says)"
ef_expect_eq "the container reads the plaintext at /run/secrets/api" "value" "$(in_web /run/secrets/api)"
ef_expect_eq "and at the long syntax's target" "value" "$(in_web /etc/app/key)"
ef_expect_eq "mode 0444, the Compose default" "444" "$(in_web /etc/app/key stat -c%a)"
src1=$(find "$runtime/secrets" -type f -name api | head -1)
ef_check "the decrypted file is under runtime_dir/secrets" test -n "$src1"

# --- v2: a json SOPS file; blue/green flip between two secret versions -----------
rm "$env/api.bin"
cp "$corpus/real/humphd-secret.enc.json" "$env/api.json"
write_compose "$web2" api.json
ef_gitops_commit "v2: another secret version" || exit 1
ef_agent once 2>"$log"
ef_expect_eq "v2 with the new secret deploys (exit 0)" 0 $?
ef_expect_eq "v2 serves" "web v2" "$(web_says)"
ef_expect_contains "green reads the new secret (JSON, decrypted)" "$(in_web /run/secrets/api)" \
	'"secret":	"this is a secret"'
ef_expect_contains "the flip happened" "$(cat "$log")" "flipped"
ef_check "v1's decrypted file is removed once no container mounts it" test ! -e "$src1"
v2_dirs=$(ls "$runtime/secrets")
ef_check "v2's are kept" test -n "$v2_dirs"
no_plaintext "v2" "gotta match go"

# --- v3: new secret and a broken image: rolled back, blue keeps its own file ----
cp "$corpus/real/humphd-secret.enc.yaml" "$env/api.yaml"
write_compose "$web3" api.yaml
ef_gitops_commit "v3: broken image with a third secret" || exit 1
ef_agent once 2>"$log"
ef_expect_eq "v3 rolls back (exit 4)" 4 $?
ef_expect_eq "v2 still serves" "web v2" "$(web_says)"
ef_expect_contains "blue still reads its own secret" "$(in_web /run/secrets/api)" \
	'"0word":	"gotta match go"'
ef_expect_eq "after the rollback only blue's secret dirs are left" "$v2_dirs" "$(ls "$runtime/secrets")"

# --- refused: a secret the device's key does not open ---------------------------
cp "$corpus/real/flux-global-secret.yaml" "$env/api.yaml" # encrypted to another key only
write_compose "$web1" api.yaml
ef_gitops_commit "v4: secret for another device" || exit 1
before=$(ef_running)
ef_agent once 2>"$log"
ef_expect_eq "a secret the key does not open is refused (exit 3)" 3 $?
ef_expect_contains "the error names the file" "$(cat "$log")" "api.yaml"
ef_expect_eq "nothing reached the engine" "$before" "$(ef_running)"
ef_expect_eq "the running set serves" "web v2" "$(web_says)"
ef_check "no plaintext of it anywhere" bash -c "! grep -rqaF 'global-value' '$state' '$runtime' '$log'"

# --- refused: tampered (a value dropped: only the MAC catches it) ---------------
cp "$corpus/derived/dropped-value.json" "$env/api.json"
write_compose "$web1" api.json
ef_gitops_commit "v5: tampered secret" || exit 1
ef_agent once 2>"$log"
ef_expect_eq "a tampered secret is refused (exit 3)" 3 $?
ef_expect_contains "the error names the file" "$(cat "$log")" "api.json"
ef_expect_eq "the running set still serves" "web v2" "$(web_says)"
no_plaintext "after the refusals" "gotta match go"

# --- env_file: SOPS dotenv and yaml become the container's environment ----------
# compose.yaml: IMAGE; env_file app.env then vars.yaml; environment: wins
write_compose_env() {
	{ compose_web "$1"; cat <<EOF
    environment: {another_secret: from-environment}
    env_file: [app.env, vars.yaml]
EOF
	} >"$env/compose.yaml"
}
web_id() { $EF_PODMAN ps -q --filter label=io.edgeflip.service=web --filter status=running | head -1; }
# env_of VAR: VAR in the serving container's environment (podman exec ... env;
# this busybox has no printenv applet)
env_of() { $EF_PODMAN exec "$(web_id)" /bin/busybox env | sed -n "s/^$1=//p"; }
rm -f "$env"/api.*
cp "$corpus/real/humphd-secret.enc.env" "$env/app.env"   # key A: secret, another_secret
cp "$corpus/real/humphd-secret.enc.yaml" "$env/vars.yaml" # key A: string, int, ...
write_compose_env "$web1"
ef_gitops_commit "v6: env_file from SOPS dotenv and yaml" || exit 1
ef_agent once 2>"$log"
ef_expect_eq "a commit with SOPS env_files deploys (exit 0)" 0 $?
ef_expect_eq "v6 serves" "web v1" "$(web_says)"
ef_expect_eq "the container's environment has the dotenv secret" "this is a secret" \
	"$(env_of secret)"
ef_expect_eq "and the yaml's values" "string 7" "$(env_of string) $(env_of int)"
ef_expect_eq "environment: wins over env_file" "from-environment" "$(env_of another_secret)"
ef_check "the container has an environment" test -n "$(env_of PATH)"
ef_check "no ENC[ value reached the container" bash -c "! $EF_PODMAN exec $(web_id) /bin/busybox env | grep -qF 'ENC['"
not_leaked "env_file v6" "this is a secret"
ef_expect_eq "no secret dir is left once no container mounts one" "" "$(ls "$runtime/secrets")"
out=$(ef_agent verify 2>/dev/null)
ef_expect_eq "verify: a signed commit whose env_files decrypt (exit 0)" 0 $?
ef_expect_contains "verify reports the SOPS dotenv env_file" "$out" \
	"env_file: web (app.env): good: SOPS, decrypts"
ef_expect_contains "and the yaml one" "$out" "env_file: web (vars.yaml): good: SOPS"
ef_check "verify prints no value" bash -c "! grep -qF 'this is a secret' <<<\"\$1\"" _ "$out"
v6_id=$(web_id)

# --- a new value in the same file deploys a new green (same image) --------------
cp "$corpus/real/flux-env.env" "$env/app.env" # key B: key=value
ef_gitops_commit "v7: a new env_file value" || exit 1
ef_agent once 2>"$log"
ef_expect_eq "v7 with the new env_file deploys (exit 0)" 0 $?
ef_check "a new container took over (the spec hash changed)" test "$v6_id" != "$(web_id)"
ef_expect_eq "green reads the new value" "value" "$(env_of key)"
ef_expect_eq "and the unchanged yaml's values" "string" "$(env_of string)"
not_leaked "env_file v7" "this is a secret"

# --- refused: a tampered env_file; the running set is untouched ----------------
cp "$corpus/derived/bad-value.env" "$env/app.env"
ef_gitops_commit "v8: tampered env_file" || exit 1
before=$(ef_running)
ef_agent once 2>"$log"
ef_expect_eq "a tampered env_file is refused (exit 3)" 3 $?
ef_expect_contains "the error names the file" "$(cat "$log")" "app.env"
ef_expect_eq "nothing reached the engine" "$before" "$(ef_running)"
ef_expect_eq "the running set serves" "web v1" "$(web_says)"
ef_expect_eq "with its own environment" "value" "$(env_of key)"
out=$(ef_agent verify 2>/dev/null)
ef_expect_eq "verify: the tampered env_file fails it (exit 3)" 3 $?
ef_expect_contains "verify names the file" "$out" "env_file: web (app.env): "
ef_check "and does not call it good" bash -c "! grep -qF 'env_file: web (app.env): good' <<<\"\$1\"" _ "$out"
not_leaked "after the refusal" "this is a secret"

# --- .env: a SOPS dotenv document as the source of ${VAR} ---------------------
# compose.yaml: IMAGE; PW from the .env's `secret` (v9) or `key` (v10)
write_compose_interp() {
	{ compose_web "$1"; cat <<'EOF'
    environment: {PW: "${secret:-}${key:-}", N: "${another_secret:-none}"}
EOF
	} >"$env/compose.yaml"
}
rm -f "$env/app.env" "$env/vars.yaml"
cp "$corpus/real/humphd-secret.enc.env" "$env/.env" # key A: secret, another_secret
write_compose_interp "$web1"
ef_gitops_commit "v9: .env from SOPS dotenv" || exit 1
ef_agent once 2>"$log"
ef_expect_eq "a commit whose .env is a SOPS dotenv deploys (exit 0)" 0 $?
ef_expect_eq "v9 serves" "web v1" "$(web_says)"
ef_expect_eq "\${secret} interpolated from the decrypted .env" "this is a secret" "$(env_of PW)"
ef_expect_eq "and \${another_secret}" "7" "$(env_of N)"
not_leaked ".env v9" "this is a secret"
ef_check ".env v9: no ENC[ text interpolated" bash -c "! $EF_PODMAN exec $(web_id) /bin/busybox env | grep -qF 'ENC['"
v9_id=$(web_id)
cp "$corpus/real/flux-env.env" "$env/.env" # key B: key=value; compose.yaml unchanged
ef_gitops_commit "v10: a new .env, same compose file" || exit 1
ef_agent once 2>"$log"
ef_expect_eq "v10 with a new encrypted .env deploys (exit 0)" 0 $?
ef_check "a new container took over (the spec hash changed)" test "$v9_id" != "$(web_id)"
ef_expect_eq "green has the new value" "value" "$(env_of PW)"
not_leaked ".env v10" "this is a secret"
cp "$corpus/derived/bad-value.env" "$env/.env"
ef_gitops_commit "v11: tampered .env" || exit 1
before=$(ef_running)
ef_agent once 2>"$log"
ef_expect_eq "a tampered .env is refused (exit 3)" 3 $?
ef_expect_contains "the error names the file" "$(cat "$log")" "/.env: $: secret:: the value fails"
ef_expect_eq "nothing reached the engine" "$before" "$(ef_running)"
ef_expect_eq "the running set keeps its value" "value" "$(env_of PW)"
# a device without [secrets] age_key_file: refused, naming the file and the key
cp "$corpus/real/humphd-secret.enc.env" "$env/.env"
ef_gitops_commit "v12: .env on a device without a key" || exit 1
grep -v '^age_key_file' "$EF_AGENT_INI" >"$work/nokey.ini"
"$EF_BIN" -c "$work/nokey.ini" once 2>"$log"
ef_expect_eq "without age_key_file a SOPS .env is refused (exit 3)" 3 $?
ef_expect_contains "the error names the .env" "$(cat "$log")" "/.env is a SOPS document"
ef_expect_contains "and the setting" "$(cat "$log")" "age_key_file"
ef_expect_eq "nothing reached the engine" "$before" "$(ef_running)"
not_leaked "after the .env refusals" "this is a secret"

# --- recovery removes a secret dir no container mounts --------------------------
mkdir -p "$runtime/secrets/0stale" && echo stale >"$runtime/secrets/0stale/s"
before=$(ef_running)
ef_agent once 2>"$log"
ef_check "a pass with nothing new removes a stale secret dir" test ! -e "$runtime/secrets/0stale"
ef_expect_eq "and leaves the running set alone" "$before" "$(ef_running)"

ef_summary
