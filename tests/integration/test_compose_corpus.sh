#!/usr/bin/env bash
# Real Compose files written by others: `edgeflip lint` on every Compose file
# of docker/awesome-compose (CC0), read from the shared corpus directory at run
# time (never copied into the project). Goal of issue 10: at least 90% are
# accepted as they are.
#
# What the test changes, and says so: a service with `build:` gets an image
# instead (`localhost/corpus-SERVICE:built`; the `build:` block is removed from
# the text, the rest of the file is byte for byte the original). Lint runs with
# a permissive policy file: what is measured is the Compose model, not the
# device policy. The project's `.env`, if any, is copied beside the file.
#
# With the compose reader (YAML, .env interpolation) in the build, lint reads
# compose.yaml itself. Without it (a build of the model branch alone), the test
# converts each file to compose.json with python3-yaml first and says so.
#
#   EF_BUILD_DIR=build tests/integration/test_compose_corpus.sh
#   EF_CORPUS=/path/to/awesome-compose (default: ../shared/corpus/awesome-compose
#   beside the project, or /work/shared/corpus/awesome-compose)
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/../lib/check.sh"
build=${EF_BUILD_DIR:-$root/build}
edgeflip=$build/edgeflip
corpus=${EF_CORPUS:-}
if [ -z "$corpus" ]; then
	for c in "$root/../shared/corpus/awesome-compose" /work/shared/corpus/awesome-compose; do
		[ -d "$c" ] && corpus=$c && break
	done
fi
if [ ! -x "$edgeflip" ]; then
	echo "test_compose_corpus: no $edgeflip (set EF_BUILD_DIR)" >&2
	exit 1
fi
if [ -z "$corpus" ] || [ ! -d "$corpus" ]; then
	echo "test_compose_corpus: no corpus (set EF_CORPUS); skipped"
	ef_summary
	exit $?
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat >"$work/policy.ini" <<'EOF'
[policy]
allow_tags = true
allow_privileged = true
allow_host_namespaces = true
allowed_capabilities = ALL
allow_devices = true
bind_mounts = /
allowed_sysctls = *
allowed_security_opts = seccomp:unconfined, apparmor:unconfined, label:disable
network_drivers = host, macvlan, ipvlan, external
EOF

# Removes each service's `build:` (a scalar or an indented block) and gives
# the service an image when it has none. Line based, so the rest of the file
# stays as written. Prints the services changed.
strip_build()
{
	python3 - "$1" "$2" <<'PY'
import re, sys
src, dst = sys.argv[1], sys.argv[2]
lines = open(src, encoding="utf-8").read().split("\n")
out, changed, i = [], [], 0
def indent(l): return len(l) - len(l.lstrip(" "))
while i < len(lines):
    l = lines[i]
    m = re.match(r"^(\s+)build\s*:", l)
    if not m:
        out.append(l); i += 1; continue
    ind = len(m.group(1))
    # the service: the nearest line above with a smaller indentation
    svc = next((re.match(r"^\s*([^\s:#][^:]*):", x).group(1).strip().strip("'\"")
                for x in reversed(out) if x.strip() and not x.lstrip().startswith("#")
                and indent(x) < ind), "svc")
    # the service's own lines at this indentation: does it have an image?
    start = len(out) - 1
    while start >= 0 and (not out[start].strip() or indent(out[start]) >= ind):
        start -= 1
    j = i + 1
    while j < len(lines) and (not lines[j].strip() or indent(lines[j]) > ind):
        j += 1
    k = j
    while k < len(lines) and (not lines[k].strip() or indent(lines[k]) >= ind):
        k += 1
    siblings = out[start + 1:] + lines[j:k]
    has_image = any(re.match(r"^\s{%d}image\s*:" % ind, x) for x in siblings)
    if not has_image:
        out.append(" " * ind + "image: localhost/corpus-%s:built" % re.sub(r"[^a-z0-9._-]", "-", svc.lower()))
    changed.append(svc)
    i = j
open(dst, "w", encoding="utf-8").write("\n".join(out))
print(" ".join(changed))
PY
}

# Does this build's lint read compose.yaml (the compose reader)?
mkdir -p "$work/probe"
printf 'services:\n  a:\n    image: busybox\n' >"$work/probe/compose.yaml"
reader=yes
"$edgeflip" lint "$work/probe" --policy "$work/policy.ini" >/dev/null 2>&1 || reader=no
if [ $reader = no ]; then
	if ! python3 -c 'import yaml' 2>/dev/null; then
		echo "test_compose_corpus: lint reads no YAML in this build and python3-yaml is" \
			"missing; skipped"
		ef_summary
		exit $?
	fi
	echo "note: this build's lint reads compose.json only: the test converts each file" \
		"with python3-yaml (no .env interpolation)"
fi

total=0
accepted=0
refused=()
while IFS= read -r file; do
	rel=${file#"$corpus"/}
	dir=$work/envs/$(printf '%s' "$rel" | tr '/' '_')
	mkdir -p "$dir"
	name=$(basename "$file")
	# the project directory as it is (secret files, configs, .env), with
	# only this compose file in it
	cp -r "$(dirname "$file")/." "$dir/"
	find "$dir" -maxdepth 1 -name '*compose*.y*ml' -type f -delete
	# The corpus holds the compose files only: a secret or config file
	# they name (`file: db/password.txt`, in the real repository) is made
	# here, with a placeholder content, and said.
	while IFS= read -r f; do
		[ -e "$dir/$f" ] && continue
		mkdir -p "$(dirname "$dir/$f")"
		echo placeholder >"$dir/$f"
		echo "note: $rel: made the file $f it names (not in the corpus copy)"
	done < <(sed -nE 's/^[[:space:]]+file:[[:space:]]*\.?\/?([^[:space:]]+)[[:space:]]*$/\1/p' "$file")
	changed=$(strip_build "$file" "$dir/$name")
	[ -n "$changed" ] && echo "note: $rel: build: replaced by an image for: $changed"
	if [ $reader = no ]; then
		python3 -c 'import json, sys, yaml
json.dump(yaml.safe_load(open(sys.argv[1])), open(sys.argv[2], "w"), default=str)' \
			"$dir/$name" "$dir/compose.json"
		rm "$dir/$name"
	fi
	total=$((total + 1))
	if out=$("$edgeflip" lint "$dir" --policy "$work/policy.ini" 2>&1); then
		accepted=$((accepted + 1))
	else
		refused+=("$rel: $(printf '%s' "$out" | head -3 | tr '\n' ' ')")
	fi
done < <(find "$corpus" -name '*compose*.y*ml' -type f | sort)

echo "accepted $accepted of $total Compose files"
for r in "${refused[@]}"; do
	echo "refused: ${r//$work\/envs\//}"
done
ef_check "the corpus has its files" [ "$total" -ge 30 ]
ef_check "at least 90% accepted ($accepted of $total)" [ $((accepted * 100)) -ge $((total * 90)) ]
# every refusal names a file and a JSON path, and says what is wrong
for r in "${refused[@]}"; do
	case $r in
	*'$.'*) ef_pass "refusal names a path: ${r%%:*}" ;;
	*) ef_fail "refusal names a path: ${r%%:*}" "$r" ;;
	esac
done
# As a user runs it: `edgeflip lint DIR` on the corpus directory as written
# (read in place, nothing copied or changed), no --policy. Files with build:
# are refused (a device does not build); of the image-only ones at least 90%
# must be accepted. The strictest device policy's findings (tags, host
# network, docker.sock) are warnings naming the [policy] key, and --policy
# with that policy makes them errors again.
if [ $reader = yes ]; then
	plain=0
	plain_ok=0
	while IFS= read -r file; do
		d=$(dirname "$file")
		grep -qE '^[[:space:]]+build:' "$file" && continue
		plain=$((plain + 1))
		if out=$("$edgeflip" lint "$d" 2>&1); then
			plain_ok=$((plain_ok + 1))
		else
			echo "refused as written: ${d#"$corpus"/}: $(printf '%s' "$out" | head -2 | tr '\n' ' ')"
		fi
	done < <(find "$corpus" -name '*compose*.y*ml' -type f | sort)
	echo "as written, no --policy: $plain_ok of $plain image-only Compose files accepted"
	ef_check "the corpus has image-only files" [ "$plain" -ge 10 ]
	ef_check "as written: at least 90% of image-only files accepted ($plain_ok of $plain)" \
		[ $((plain_ok * 100)) -ge $((plain * 90)) ]
	if [ -f "$corpus/plex/compose.yaml" ]; then
		rc=0
		out=$("$edgeflip" lint "$corpus/plex" 2>&1) || rc=$?
		ef_expect_eq "as written: plex passes with policy warnings" 0 "$rc"
		ef_expect_contains "the tag warning names its line and the [policy] key" "$out" \
			'compose.yaml:3:12: $.services.plex.image: warning:'
		ef_expect_contains "the host-network warning names the [policy] key" "$out" \
			'[policy] allow_host_namespaces = true'
		ef_expect_contains "the summary says how to make them errors" "$out" \
			'pass --policy FILE'
		printf '[policy]\n' >"$work/strict.ini"
		rc=0
		out=$("$edgeflip" lint "$corpus/plex" --policy "$work/strict.ini" 2>&1) || rc=$?
		ef_expect_eq "with --policy the same findings are errors (exit 3)" 3 "$rc"
		ef_check "with --policy: no warnings" eval '! grep -q "warning:" <<<"$out"'
		out=$("$edgeflip" lint "$corpus/plex" --format json 2>&1)
		ef_expect_contains "json: a policy finding is a warning" "$out" '"severity":	"warning"'
		ef_expect_contains "json: no policy file" "$out" '"policy":	null'
	fi
fi
ef_summary
