#!/usr/bin/env bash
# What SOPS secrets and image signatures cost (docs/secrets.md,
# docs/verification.md): the time to decrypt a SOPS document of 100 values
# (age unwrap, every value, the MAC; json and dotenv, written by
# tests/bench/make_sops.py as sops writes them) with ef_sops_time, and to
# verify one image signature (cosign tag scheme and Sigstore bundle, written
# by tests/lib/cosign_sign.py) against a real docker-registry on loopback
# with ef_imagesig_probe (EF_PROBE_REPEAT: registry requests, digest checks
# and ECDSA in one process, no start-up). Here, and with ARMV7_BUILD (a
# cross build of the tools for qemu-armv7, e.g. build-armv7) under
# qemu-arm-static -L ARMV7_SYSROOT, as tests/integration/test_cross.sh runs
# the armv7 unit tests. Medians of RUNS: CPU time of the process (what the
# work costs, steady on a shared machine) and wall time. Prints
# `figure: value` lines.
#
#   EF_BUILD_DIR=./build [ARMV7_BUILD=./build-armv7
#   ARMV7_SYSROOT=~/.cache/edgeflip/sysroot-armhf] [RUNS=20] tests/bench/bench_secrets.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${EF_BUILD_DIR:-$root/build}
runs=${RUNS:-20}
armv7=${ARMV7_BUILD:-}
sysroot=${ARMV7_SYSROOT:-$HOME/.cache/edgeflip/sysroot-armhf}
for t in ef_sops_time ef_imagesig_probe; do
	[ -x "$build/tests/tools/$t" ] || { echo "missing $build/tests/tools/$t (build first)"; exit 1; }
done
corpus=
for c in "$root/../shared/corpus/sops" /work/shared/corpus/sops; do
	[ -d "$c/keys" ] && corpus=$c && break
done
[ -n "$corpus" ] || { echo "no SOPS corpus (../shared/corpus/sops)"; exit 1; }
source "$root/tests/lib/engine.sh"

work=$(mktemp -d /tmp/ef-bench-secrets.XXXXXX)
trap 'ef_registry_stop; rm -rf "$work"' EXIT

# run TARGET TOOL ARGS...: TOOL of the host build, or of the armv7 one under qemu
run() {
	local target=$1 tool=$2
	shift 2
	if [ "$target" = host ]; then
		"$build/tests/tools/$tool" "$@"
	else
		qemu-arm-static -L "$sysroot" "$armv7/tests/tools/$tool" "$@"
	fi
}
targets=(host)
[ -n "$armv7" ] && targets+=(armv7)

# --- SOPS: 100 values, encrypted to the sops-age test key ----------------------
for f in json dotenv; do
	python3 "$here/make_sops.py" "$corpus/keys/humphd-key.txt" 100 $f >"$work/s100.${f#dot}" ||
		{ echo "make_sops.py failed (python3-cryptography?)"; exit 1; }
done
for t in "${targets[@]}"; do
	for f in json env; do
		out=$(run "$t" ef_sops_time "$corpus/keys/agent-keys.txt" "$work/s100.$f" "$runs")
		grep -q '^values 100 ' <<<"$out" || { echo "decrypt s100.$f ($t): $out"; exit 1; }
		echo "sops_decrypt_100_values_${f}_${t}: cpu $(awk '{print $10}' <<<"$out") ms," \
			"wall $(awk '{print $8}' <<<"$out") ms (min $(awk '{print $6}' <<<"$out"))"
	done
done

# --- image signatures: one image, both layouts, on a real registry --------------
ef_registry_start "$work/registry" >/dev/null || exit 1
openssl ecparam -name prime256v1 -genkey -noout -out "$work/k.key" 2>/dev/null
openssl ec -in "$work/k.key" -pubout -out "$work/k.pub" 2>/dev/null
d_tag=$(ef_registry_push_image app tagged "tag scheme") || exit 1
d_bun=$(ef_registry_push_image app bundled "bundle") || exit 1
python3 "$root/tests/lib/cosign_sign.py" tag "$EF_REGISTRY" app "$d_tag" "$work/k.key" || exit 1
python3 "$root/tests/lib/cosign_sign.py" bundle "$EF_REGISTRY" app "$d_bun" "$work/k.key" || exit 1
for t in "${targets[@]}"; do
	for m in tag bundle; do
		d=$d_tag
		[ $m = bundle ] && d=$d_bun
		out=$(EF_PROBE_REPEAT=$runs run "$t" ef_imagesig_probe "$work/k.pub" "$EF_REGISTRY" \
			"$EF_REGISTRY" app "$d" 2>&1)
		grep -q '^ok ' <<<"$out" || { echo "verify $m ($t): $out"; exit 1; }
		echo "image_verify_${m}_${t}: $(sed -n 's/^median_ms \([^ ]*\) min_ms \([^ ]*\) cpu_ms \([^ ]*\).*/cpu \3 ms, wall \1 ms (min \2)/p' <<<"$out")"
	done
done
