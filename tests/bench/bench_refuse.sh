#!/usr/bin/env bash
# What refused pushes cost the device (issue 12, item 1), against real
# servers started here (HTTPS Git server, registry, Podman engine):
#   - disk used by the source cache after N rejected pushes of an unsigned
#     commit carrying SIZE MiB of random data each, beside the cache before
#     them and the bytes pushed (ratio: growth / pushed);
#   - peak RSS of `edgeflip once` refusing one push of BIG MiB (larger than
#     [source] max_fetch_size = 64M, so the fetch is aborted), beside the peak
#     RSS of a no-change pass in the same run (ratio).
# Prints "figure: value" lines; asserts nothing. Not part of CI.
#
# Settings (bounded):
#   BENCH_REFUSE_PUSHES=10   rejected pushes (1..200)
#   BENCH_REFUSE_MIB=50      MiB per rejected push (1..200)
#   BENCH_REFUSE_BIG_MIB=200 MiB of the push past max_fetch_size (65..1024)
set -u
here=$(cd "$(dirname "$0")" && pwd)
pushes=${BENCH_REFUSE_PUSHES:-10}
mib=${BENCH_REFUSE_MIB:-50}
big=${BENCH_REFUSE_BIG_MIB:-200}
[ "$pushes" -ge 1 ] && [ "$pushes" -le 200 ] || { echo "BENCH_REFUSE_PUSHES must be 1..200" >&2; exit 2; }
[ "$mib" -ge 1 ] && [ "$mib" -le 200 ] || { echo "BENCH_REFUSE_MIB must be 1..200" >&2; exit 2; }
[ "$big" -ge 65 ] && [ "$big" -le 1024 ] || { echo "BENCH_REFUSE_BIG_MIB must be 65..1024" >&2; exit 2; }
source "$here/../lib/git-server.sh"
source "$here/../lib/engine.sh"
source "$here/../lib/agent.sh"
measure=$here/measure.py

ef_e2e_start bench-refuse
ef_agent_config "$work/agent"
web1=$(ef_image_build web v1 "web v1") || exit 1
env=$EF_OPS_DIR/work/environments/production
cache=$work/agent/state/cache.git
ef_compose "$env/compose.json" "web=$web1"
ef_gitops_commit "first" || exit 1
good=$(ef_gitops_head)
ef_agent once 2>"$work/first.log" || { echo "first deploy failed"; cat "$work/first.log"; exit 1; }
kib() { du -sk "$1" | cut -f1; }
before_kib=$(kib "$cache")

# --- N rejected pushes -----------------------------------------------------------
for i in $(seq "$pushes"); do
	ef_git -C "$EF_OPS_DIR/work" reset -q --hard "$good"
	head -c $((mib << 20)) /dev/urandom >"$EF_OPS_DIR/work/big.bin"
	ef_git -C "$EF_OPS_DIR/work" add -A
	ef_git -C "$EF_OPS_DIR/work" commit -q -m "unsigned $i"
	ef_git -C "$EF_OPS_DIR/work" push -q -f origin HEAD:main
	ef_agent once 2>"$work/refuse.log"
	rc=$?
	[ "$rc" -eq 3 ] || { echo "push $i: exit $rc, wanted 3"; tail -5 "$work/refuse.log"; }
	rm -f "$EF_OPS_DIR/work/big.bin"
done
after_kib=$(kib "$cache")
pushed_kib=$((pushes * mib * 1024))
echo "cache before the refused pushes: ${before_kib} KiB"
echo "cache after $pushes refused pushes of $mib MiB: ${after_kib} KiB"
echo "cache growth: $((after_kib - before_kib)) KiB for ${pushed_kib} KiB pushed (ratio $(
	awk -v g=$((after_kib - before_kib)) -v p=$pushed_kib 'BEGIN { printf "%.5f", g / p }'))"

# --- peak RSS: a no-change pass, then a push past max_fetch_size ----------------------
ef_git -C "$EF_OPS_DIR/work" reset -q --hard "$good"
ef_git -C "$EF_OPS_DIR/work" push -q -f origin HEAD:main
ef_agent once 2>/dev/null
python3 "$measure" mem "$work/m0.log" -- "$EF_BIN" -c "$EF_AGENT_INI" once >"$work/m0"
ref_rss=$(sed -n 's/^maxrss_kb=//p' "$work/m0")
head -c $((big << 20)) /dev/urandom >"$EF_OPS_DIR/work/big.bin"
ef_git -C "$EF_OPS_DIR/work" add -A
ef_git -C "$EF_OPS_DIR/work" commit -q -m "unsigned, $big MiB"
ef_git -C "$EF_OPS_DIR/work" push -q -f origin HEAD:main
before_kib=$(kib "$cache")
python3 "$measure" mem "$work/m1.log" -- "$EF_BIN" -c "$EF_AGENT_INI" once >"$work/m1"
big_rss=$(sed -n 's/^maxrss_kb=//p' "$work/m1")
echo "peak RSS, no-change pass: ${ref_rss} KiB"
echo "peak RSS, refusing a $big MiB push: ${big_rss} KiB (ratio $(
	awk -v a="$big_rss" -v b="$ref_rss" 'BEGIN { printf "%.2f", a / b }') to the no-change pass; exit $(sed -n 's/^rc=//p' "$work/m1"))"
echo "refusal: $(grep -o 'more than max_fetch_size[^;]*' "$work/m1.log" | head -1)"
echo "cache growth from the aborted $big MiB fetch: $(($(kib "$cache") - before_kib)) KiB"
