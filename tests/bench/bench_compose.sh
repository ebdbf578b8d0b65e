#!/usr/bin/env bash
# What reading compose files costs: `edgeflip lint DIR` (YAML reader,
# interpolation, the model, the policy) on the largest file of the
# awesome-compose corpus and on a generated 1 MiB compose.yaml (anchors,
# merge keys, ${VAR} with a .env), against references measured in the same
# run: the same 1 MiB document as compose.json (the same reader, JSON syntax)
# and `edgeflip version` (start-up alone). Median of RUNS runs; peak RSS from
# /usr/bin/time (measure.py mem). Prints `figure: value` lines.
#
#   EF_BUILD_DIR=./build [RUNS=5] tests/bench/bench_compose.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${EF_BUILD_DIR:-$root/build}
edgeflip=$build/edgeflip
runs=${RUNS:-5}
[ -x "$edgeflip" ] || { echo "missing $edgeflip (build first, or set EF_BUILD_DIR)"; exit 1; }
corpus=
for c in "$root/../shared/corpus/awesome-compose" "$root/../../shared/corpus/awesome-compose" \
	/work/shared/corpus/awesome-compose; do
	[ -d "$c" ] && corpus=$c && break
done

work=$(mktemp -d /tmp/ef-bench-compose.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/big" "$work/json" "$work/none"

if [ -n "$corpus" ]; then
	largest=$(find "$corpus" \( -name 'compose.y*ml' -o -name 'docker-compose.y*ml' \) \
		-printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2-)
	cp "$largest" "$work/corpus/compose.yaml"
	[ -f "$(dirname "$largest")/.env" ] && cp "$(dirname "$largest")/.env" "$work/corpus/"
	echo "largest corpus file: ${largest#"$corpus"/} ($(stat -c %s "$largest") bytes)"
fi

# 1 MiB within the model's limits (64 services, 256 environment entries and
# labels each): services sharing defaults through an anchor and a merge key,
# ${VAR} from a .env.
python3 - "$work/big/compose.yaml" "$work/big/.env" "$work/json/compose.json" <<'PY'
import json, sys
yaml_path, env_path, json_path = sys.argv[1:4]
out = ["x-defaults: &defaults", "  restart: always", "  stop_grace_period: 10s", "services:"]
doc = {"services": {}}
for i in range(64):
    name = f"svc{i:02d}"
    env = {f"SETTING_{k:03d}": f"value-{i:02d}-{k:03d}-abcdefghijklmnopqrstuvwxyz" for k in range(195)}
    labels = {f"com.example.label{k:03d}": f"label value {k} of {name}" for k in range(100)}
    out += [f"  {name}:", "    <<: *defaults",
            f"    image: registry.local/app{i}:${{TAG}}",
            f"    ports: [\"{10000 + i}:80\"]",
            "    healthcheck: {test: [CMD, /bin/true], interval: 10s, retries: 3}",
            "    environment:"]
    out += [f"      {k}: {v}" for k, v in env.items()]
    out += ["    labels:"] + [f"      {k}: \"{v}\"" for k, v in labels.items()]
    doc["services"][name] = {
        "restart": "always", "stop_grace_period": "10s", "image": f"registry.local/app{i}:1.0",
        "ports": [f"{10000 + i}:80"],
        "healthcheck": {"test": ["CMD", "/bin/true"], "interval": "10s", "retries": 3},
        "environment": env, "labels": labels}
text = "\n".join(out) + "\n"
open(yaml_path, "w").write(text)
open(env_path, "w").write("TAG=1.0\n")
open(json_path, "w").write(json.dumps(doc, indent=1))
print(f"generated: 64 services, {len(text)} bytes of YAML")
PY
cat >"$work/policy.ini" <<'P'
[policy]
allow_tags = true
allow_privileged = true
allow_host_namespaces = true
allowed_capabilities = ALL
allow_devices = true
bind_mounts = /
P

# Median of the runs: cpu_us, wall_us, maxrss_kb of one command.
measure() {
	local label=$1
	shift
	for _ in $(seq "$runs"); do
		python3 "$here/measure.py" mem "$work/log" -- "$@"
	done | python3 -c '
import sys, statistics
rows = {}
for line in sys.stdin:
    k, _, v = line.strip().partition("=")
    if v.lstrip("-").isdigit():
        rows.setdefault(k, []).append(int(v))
rc = max(rows.get("rc", [0]), key=abs)
print("%s %d %d %d %d" % (sys.argv[1], statistics.median(rows["cpu_us"]),
      statistics.median(rows["wall_us"]), statistics.median(rows["maxrss_kb"]), rc))' "$label"
}

{
	measure version "$edgeflip" version
	[ -n "$corpus" ] && measure corpus "$edgeflip" lint "$work/corpus" --policy "$work/policy.ini"
	measure yaml1m "$edgeflip" lint "$work/big" --policy "$work/policy.ini"
	measure json1m "$edgeflip" lint "$work/json" --policy "$work/policy.ini"
} >"$work/results"
"$edgeflip" lint "$work/big" --policy "$work/policy.ini" | tail -1 | sed 's/^/lint of the 1 MiB file: /'

python3 - "$work/results" <<'PY'
import sys
r = {}
for line in open(sys.argv[1]):
    k, cpu, wall, rss, rc = line.split()
    r[k] = (int(cpu), int(wall), int(rss), int(rc))
base = r["version"]
def show(label, key):
    cpu, wall, rss, rc = r[key]
    print(f"{label}: {cpu / 1000:.1f} ms CPU, {wall / 1000:.1f} ms wall, max RSS {rss / 1024:.1f} MB"
          f" (exit {rc}; x{cpu / base[0]:.1f} the CPU of `edgeflip version`,"
          f" +{(rss - base[2]) / 1024:.1f} MB RSS over it)")
show("edgeflip version (reference)", "version")
if "corpus" in r:
    show("lint, largest corpus file", "corpus")
show("lint, generated 1 MiB compose.yaml", "yaml1m")
show("lint, the same document as compose.json", "json1m")
y, j = r["yaml1m"], r["json1m"]
print(f"1 MiB YAML vs the same as JSON: x{y[0] / j[0]:.2f} CPU, x{y[2] / j[2]:.2f} max RSS")
PY
