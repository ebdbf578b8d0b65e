#!/bin/bash
# Captures the Docker-API event stream of a real Podman.
# Run as root: bash tests/unit/data/engine/capture_events.sh OUTDIR; then
# cat OUTDIR/events_podman.head OUTDIR/events_podman.body > events_podman.http
out=$(cd "${1:?usage: capture_events.sh OUTDIR}" && pwd)
set -u
cd "$(dirname "$0")/../../../.."
source tests/lib/engine.sh
dir=$(mktemp -d)
trap 'kill $CURLPID $CURL2 2>/dev/null; ef_podman_stop; ef_registry_stop; rm -rf "$dir"' EXIT
ef_registry_start "$dir/registry" || exit 1
ef_podman_start "$dir/podman" || exit 1
ref=$(ef_image_build web v1 "hello") || exit 1
S=$EF_PODMAN_SOCK
F='{"type":["container"]}'
FE=$(python3 -c 'import urllib.parse,sys;print(urllib.parse.quote(sys.argv[1]))' "$F")
curl -sN --raw --unix-socket $S -D "$out/events_podman.head" "http://d/v1.41/events?filters=$FE" >"$out/events_podman.body" &
CURLPID=$!
curl -sN --unix-socket $S "http://d/v1.41/events" >"$out/events_podman.jsonl" &
CURL2=$!
sleep 1
curl -s -XPOST --unix-socket $S "http://d/v1.41/images/create?fromImage=$(python3 -c "import urllib.parse,sys;print(urllib.parse.quote(sys.argv[1]))" "$ref")" >/dev/null
body='{"Image":"'$ref'","Labels":{"io.edgeflip.service":"web","io.edgeflip.slot":"blue"},"Healthcheck":{"Test":["CMD","/bin/true"],"Interval":3600000000000}}'
id=$(curl -s --unix-socket $S -H 'Content-Type: application/json' -d "$body" "http://d/v1.41/containers/create?name=edgeflip-web-blue" | python3 -c 'import json,sys;print(json.load(sys.stdin)["Id"])')
echo id=$id
curl -s -XPOST --unix-socket $S http://d/v1.41/containers/$id/start
sleep 1
$EF_PODMAN healthcheck run $id; echo hc=$?
sleep 0.5
curl -s -XPOST --unix-socket $S "http://d/v1.41/containers/$id/kill?signal=KILL"
sleep 0.5
curl -s -XPOST --unix-socket $S http://d/v1.41/containers/$id/start
sleep 0.5
curl -s -XPOST --unix-socket $S "http://d/v1.41/containers/$id/stop?t=1"
sleep 0.5
curl -s -XDELETE --unix-socket $S "http://d/v1.41/containers/$id?force=true"
# an unlabelled container: must not appear in the filtered stream
id2=$(curl -s --unix-socket $S -H 'Content-Type: application/json' -d '{"Image":"'$ref'"}' "http://d/v1.41/containers/create?name=other" | python3 -c 'import json,sys;print(json.load(sys.stdin)["Id"])')
curl -s -XPOST --unix-socket $S http://d/v1.41/containers/$id2/start
curl -s -XDELETE --unix-socket $S "http://d/v1.41/containers/$id2?force=true"
sleep 1
echo done
