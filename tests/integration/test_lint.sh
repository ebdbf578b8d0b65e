#!/usr/bin/env bash
# `edgeflip lint` and `edgeflip config` on environment directories on disk:
# compose.yaml with an override and .env, every finding at file:line:column
# (text and --format json), the merged and interpolated document, profiles,
# --env-file and --device-id, and refusals (two base files, a symbolic link);
# secrets (SOPS files of the corpus: well-formed without a key, decrypted
# with one, tampered and malformed ones) and image signatures
# ([trust] image_keys in the lint file; a tag-only image is a finding).
# No servers: a few seconds.
#
#   EF_BUILD_DIR=build tests/integration/test_lint.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/../lib/check.sh"
edgeflip=${EF_BUILD_DIR:-$root/build}/edgeflip
[ -x "$edgeflip" ] || { echo "test_lint: no $edgeflip (set EF_BUILD_DIR)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
d=$work/env
mkdir -p "$d"
digest=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

cat >"$d/compose.yaml" <<EOF
x-common: &common
  restart: always
services:
  web:
    <<: *common
    image: registry.local/web@$digest
    ports: ["\${WEB_PORT:-8080}:80"]
    environment:
      SITE: \${SITE}
      DEVICE: \${EDGEFLIP_DEVICE_ID:-none}
  debug:
    image: registry.local/debug@$digest
    profiles: [debug]
EOF
cat >"$d/compose.override.yaml" <<'EOF'
services:
  web:
    environment:
      EXTRA: "yes"
EOF
printf 'SITE=lab\n' >"$d/.env"

out=$("$edgeflip" lint "$d" 2>&1)
ef_expect_eq "lint of a good directory exits 0" 0 $?
ef_expect_contains "lint says ok with the service count" "$out" "ok (1 services)"
out=$("$edgeflip" lint "$d" --profile debug 2>&1)
ef_expect_contains "--profile debug adds the debug service" "$out" "ok (2 services)"

out=$("$edgeflip" config "$d" --device-id gw-9 --profile debug)
ef_expect_eq "config exits 0" 0 $?
got=$(python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
w = d["services"]["web"]
print(w["restart"], w["ports"][0], w["environment"]["SITE"], w["environment"]["DEVICE"],
      w["environment"]["EXTRA"], sorted(d["services"]))' <<<"$out")
ef_expect_eq "config: merge key, defaults, .env, device id, override" \
	"always 8080:80 lab gw-9 yes ['debug', 'web']" "$got"
printf 'WEB_PORT=9090\nSITE="north ${WEB_PORT}"\n' >"$work/device.env"
got=$("$edgeflip" config "$d" --env-file "$work/device.env" | python3 -c '
import json, sys
w = json.load(sys.stdin)["services"]["web"]
print(w["ports"][0], w["environment"]["SITE"])')
ef_expect_eq "config: --env-file wins over .env" "9090:80 north 9090" "$got"

# Every finding, with file:line:column.
cat >"$d/compose.override.yaml" <<'EOF'
services:
  web:
    image: ${MISSING_IMAGE}
    privileged: yes
    environment:
      A: 1
      A: 2
EOF
out=$("$edgeflip" lint "$d" 2>&1)
ef_expect_eq "lint with findings exits 3" 3 $?
ef_expect_contains "duplicate key at its line and column" "$out" \
	"$d/compose.override.yaml:7:7: \$.services.web.environment.A: duplicate key \"A\" (first at line 6)"
printf 'services:\n  web:\n    image: ${MISSING_IMAGE}\n' >"$d/compose.override.yaml"
out=$("$edgeflip" lint "$d" --format json 2>&1)
ef_expect_eq "lint --format json with findings exits 3" 3 $?
got=$(python3 -c '
import json, sys
f = json.load(sys.stdin)["findings"][0]
print(f["file"].rsplit("/", 1)[1], f["line"], f["column"], f["path"], "MISSING_IMAGE" in f["message"])' <<<"$out")
ef_expect_eq "json finding: file, line, column, path, variable" \
	"compose.override.yaml 3 12 \$.services.web.image True" "$got"

# Refusals of the directory itself.
rm "$d/compose.override.yaml"
printf 'services: {}\n' >"$d/docker-compose.yml"
out=$("$edgeflip" lint "$d" 2>&1)
ef_expect_contains "two base files: both named" "$out" "both compose.yaml and docker-compose.yml are present"
rm "$d/docker-compose.yml"
ln -s "$work/device.env" "$d/compose.override.yml"
out=$("$edgeflip" lint "$d" 2>&1)
ef_expect_contains "a symbolic link is refused" "$out" "symbolic links are not followed"
rm "$d/compose.override.yml"
out=$("$edgeflip" lint "$work/nothing" 2>&1)
ef_expect_contains "no compose file: says what to write" "$out" "no compose file: write compose.yaml"

# --- secrets and image signatures ----------------------------------------------
corpus=${EF_CORPUS:-$root/../shared/corpus}/sops
[ -d "$corpus/real" ] || corpus=/work/shared/corpus/sops
s=$work/sec
mkdir -p "$s"
cp "$corpus/real/humphd-secret.enc.env" "$s/.env" # key A: secret, another_secret
cp "$corpus/real/flux-file.txt" "$s/api.bin"      # key B, binary
cp "$corpus/real/flux-env.env" "$s/app.env"       # key B, dotenv
cat >"$s/compose.yaml" <<EOF
services:
  web:
    image: registry.local/web@$digest
    environment: {PW: "\${secret}"}
    env_file: [app.env]
    secrets: [api]
secrets:
  api: {file: ./api.bin}
EOF
out=$("$edgeflip" lint "$s" 2>&1)
ef_expect_eq "lint without a key: SOPS files well-formed (exit 0)" 0 $?
ef_expect_contains "the encrypted .env: format, sops version, values, recipients" "$out" \
	".env: interpolation (.env): SOPS dotenv (sops 3.8.1), 2 encrypted values, age recipients: age1je6kjhzuhdjy3fqptpttxjh5k8q46vygzlgtpuq3030c947pc5tqz9dqvr"
ef_expect_contains "the .env: not decrypted without a key" "$out" "well-formed (MAC present); not decrypted (no age key given)"
ef_expect_contains "the secret file (binary)" "$out" \
	"secret: api (api.bin): SOPS binary (sops 3.9.0), 1 encrypted value, age recipients: age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29"
ef_expect_contains "the env_file (dotenv)" "$out" "env_file: web (app.env): SOPS dotenv (sops 3.9.0)"
ef_expect_contains "images: not checked without image_keys" "$out" "images: signatures not checked"
ef_check "no plaintext in lint's output" bash -c "! grep -qF 'this is a secret' <<<\"\$1\"" _ "$out"
out=$("$edgeflip" lint "$s" --age-key "$corpus/keys/agent-keys.txt" 2>&1)
ef_expect_eq "lint with the key: all decrypt (exit 0)" 0 $?
ef_expect_eq "three files decrypted, MAC checked" 3 "$(grep -c 'decrypts with the given key, MAC checked' <<<"$out")"
ef_check "no plaintext with the key either" bash -c "! grep -qF 'this is a secret' <<<\"\$1\"" _ "$out"
printf '[secrets]\nage_key_file = %s\n' "$corpus/keys/agent-keys.txt" >"$work/lint-key.ini"
out=$("$edgeflip" lint "$s" --policy "$work/lint-key.ini" 2>&1)
ef_expect_eq "[secrets] age_key_file in the lint file works as --age-key" 3 \
	"$(grep -c 'decrypts with the given key' <<<"$out")"
out=$("$edgeflip" lint "$s" --age-key "$corpus/keys/flux-age-global.txt" 2>&1)
ef_expect_eq "a key that opens none: exit 3" 3 $?
ef_expect_contains "the finding names the .env" "$out" "$s/.env"
# tampered: only the key catches it; malformed: caught without one
cp "$corpus/derived/bad-value.env" "$s/app.env"
"$edgeflip" lint "$s" >/dev/null 2>&1
ef_expect_eq "a tampered value passes the structural check (exit 0)" 0 $?
out=$("$edgeflip" lint "$s" --age-key "$corpus/keys/agent-keys.txt" 2>&1)
ef_expect_eq "with the key the tampered env_file is a finding (exit 3)" 3 $?
ef_expect_contains "naming the file and the value's key" "$out" "app.env: env_file: $s/app.env: secret:: the value fails authentication"
cp "$corpus/derived/malformed.env" "$s/app.env"
out=$("$edgeflip" lint "$s" 2>&1)
ef_expect_eq "a malformed env_file is a finding without a key (exit 3)" 3 $?
ef_expect_contains "saying what is wrong" "$out" "not a SOPS value"
cp "$corpus/real/flux-env.env" "$s/app.env"
out=$("$edgeflip" config "$s" 2>&1)
ef_expect_eq "config refuses an encrypted .env without a key (exit 3)" 3 $?
out=$("$edgeflip" config "$s" --age-key "$corpus/keys/agent-keys.txt")
ef_expect_eq "config decrypts it with --age-key" "this is a secret" \
	"$(python3 -c 'import json,sys; print(json.load(sys.stdin)["services"]["web"]["environment"]["PW"])' <<<"$out")"

# image signatures: [trust] image_keys in the lint file
openssl ecparam -name prime256v1 -genkey -noout -out "$work/k.key" 2>/dev/null
openssl ec -in "$work/k.key" -pubout -out "$work/k.pub" 2>/dev/null
printf '[policy]\nallow_tags = true\n[trust]\nimage_keys = %s\n' "$work/k.pub" >"$work/lint.ini"
out=$("$edgeflip" lint "$s" --policy "$work/lint.ini" 2>&1)
ef_expect_eq "image_keys, every image pinned: exit 0" 0 $?
ef_expect_contains "the image needs a signature" "$out" \
	"image: web (registry.local/web@$digest): needs a cosign signature by a key of $work/k.pub (1)"
sed -i 's|^secrets:|  tagged:\n    image: registry.local/tagged:1.0\nsecrets:|' "$s/compose.yaml"
out=$("$edgeflip" lint "$s" --policy "$work/lint.ini" 2>&1)
ef_expect_eq "a tag-only image under image_keys: exit 3" 3 $?
ef_expect_contains "the finding names the service" "$out" "services.tagged.image: the image is referenced by tag only"
printf '[policy]\nallow_tags = true\n' >"$work/lint-tags.ini"
"$edgeflip" lint "$s" --policy "$work/lint-tags.ini" >/dev/null 2>&1
ef_expect_eq "the same without image_keys: no finding (exit 0)" 0 $?
out=$("$edgeflip" lint "$s" --policy "$work/lint.ini" --format json 2>&1)
got=$(python3 -c '
import json, sys
d = json.load(sys.stdin)
print(len(d["report"]), d["findings"][0]["path"])' <<<"$out")
ef_expect_eq "json: the report lines and the finding" "5 services.tagged.image" "$got"
printf '[trust]\nallowed_signers = /x\n' >"$work/lint-bad.ini"
out=$("$edgeflip" lint "$s" --policy "$work/lint-bad.ini" 2>&1)
ef_expect_eq "other [trust] keys in the lint file are refused (exit 2)" 2 $?
ef_expect_contains "naming the key" "$out" "unknown key 'allowed_signers'"

ef_summary
