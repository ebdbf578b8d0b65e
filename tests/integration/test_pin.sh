#!/bin/bash
# edgeflip pin / promote against a real docker-registry: an awesome-compose
# file retagged to the test registry is pinned in place (only the image
# values change), --check before and after, promote between two env dirs,
# and an unreachable registry is exit 5.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${EF_BUILD_DIR:-$root/build}
ef=$(readlink -f "$build/edgeflip")
[ -x "$ef" ] || { echo "test_pin: no $build/edgeflip" >&2; exit 2; }
source "$root/tests/lib/check.sh"
source "$root/tests/lib/engine.sh"

work=$(mktemp -d)
trap 'ef_registry_stop; rm -rf "$work"' EXIT
ef_registry_start "$work/registry" || exit 1
reg=$EF_REGISTRY


d_db=$(ef_registry_push_image mariadb 10.6.4-focal "db") || exit 1
d_wp=$(ef_registry_push_image wordpress latest "wp") || exit 1

mkdir -p "$work/staging" "$work/prod"
corpus=${EF_CORPUS_DIR:-/work/shared/corpus}/awesome-compose
sed -e "s#image: mariadb:#image: $reg/mariadb:#" -e "s#image: wordpress:#image: $reg/wordpress:#" \
	"$corpus/wordpress-mysql/compose.yaml" >"$work/staging/compose.yaml" || exit 1
cp "$work/staging/compose.yaml" "$work/prod/compose.yaml"
cp "$work/staging/compose.yaml" "$work/before.yaml"
chmod 640 "$work/staging/compose.yaml"

out=$("$ef" pin "$work/staging" --check 2>&1)
ef_expect_eq "pin --check on tags: exit 3" 3 "$?"
ef_expect_contains "--check names file:line:col" "$out" "staging/compose.yaml:4:12: service db"
ef_expect_contains "--check names the policy" "$out" "immutable SHA-based"

out=$("$ef" pin "$work/staging" --http-registry "$reg" 2>&1)
ef_expect_eq "pin: exit 0" 0 "$?"
diff "$work/before.yaml" "$work/staging/compose.yaml" >"$work/diff"
ef_expect_eq "only the two image lines changed" 4 "$(grep -c '^[<>]' "$work/diff")"
ef_expect_eq "db pinned to the digest pushed" 1 \
	"$(grep -c "^    image: $reg/mariadb:10.6.4-focal@$d_db\$" "$work/staging/compose.yaml")"
ef_expect_eq "wordpress pinned to the digest pushed" 1 \
	"$(grep -c "^    image: $reg/wordpress:latest@$d_wp\$" "$work/staging/compose.yaml")"
ef_expect_eq "byte-identical apart from the image values" "$(sed "s#@sha256:[0-9a-f]*##" \
	"$work/staging/compose.yaml" | md5sum)" "$(md5sum <"$work/before.yaml")"
ef_expect_eq "file mode kept" 640 "$(stat -c %a "$work/staging/compose.yaml")"

"$ef" pin "$work/staging" --check >/dev/null 2>&1
ef_expect_eq "pin --check after pinning: exit 0" 0 "$?"

out=$("$ef" promote "$work/prod" "$work/staging" 2>&1)
ef_expect_eq "promote from an unpinned env: exit 3" 3 "$?"
ef_expect_contains "promote names the unpinned image" "$out" "not pinned"

out=$("$ef" promote "$work/staging" "$work/prod" 2>&1)
ef_expect_eq "promote: exit 0" 0 "$?"
ef_expect_contains "promote prints what changed" "$out" "db: $reg/mariadb:10.6.4-focal -> $reg/mariadb:10.6.4-focal@$d_db"
ef_expect_eq "promote: prod now equals pinned staging" "$(md5sum <"$work/staging/compose.yaml")" \
	"$(md5sum <"$work/prod/compose.yaml")"

cp "$work/before.yaml" "$work/prod/compose.yaml"
sed -i "s#/wordpress:latest#/wordpress:nosuchtag#" "$work/prod/compose.yaml"
cp "$work/prod/compose.yaml" "$work/before.yaml"
out=$("$ef" pin "$work/prod" --http-registry "$reg" 2>&1)
ef_expect_eq "a tag the registry does not have: exit 3" 3 "$?"
ef_expect_contains "the missing tag is named" "$out" "wordpress:nosuchtag"
ef_expect_eq "nothing written for a missing tag" "$(md5sum <"$work/before.yaml")" \
	"$(md5sum <"$work/prod/compose.yaml")"
ef_registry_stop
out=$("$ef" pin "$work/prod" --http-registry "$reg" 2>&1)
ef_expect_eq "registry unreachable: exit 5" 5 "$?"
ef_expect_contains "the registry is named" "$out" "$reg"
ef_expect_eq "nothing written when unreachable" "$(md5sum <"$work/before.yaml")" \
	"$(md5sum <"$work/prod/compose.yaml")"

ef_summary
