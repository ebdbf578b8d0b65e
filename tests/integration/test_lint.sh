#!/usr/bin/env bash
# `edgeflip lint` and `edgeflip config` on environment directories on disk:
# compose.yaml with an override and .env, every finding at file:line:column
# (text and --format json), the merged and interpolated document, profiles,
# --env-file and --device-id, and refusals (two base files, a symbolic link).
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

ef_summary
