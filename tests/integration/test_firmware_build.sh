#!/bin/bash
# test_firmware_build.sh — the firmware configuration (docs/firmware-build.md):
# edgeflip on libgit2 1.9 + mbedTLS 3.6 and minimal static libraries built
# from Debian trixie's sources by boards/common/build-firmware-deps.sh.
#
# Host (x86-64):
#   1. the libraries, into $EF_FIRMWARE_CACHE/host (reused between runs)
#   2. edgeflip against them with -DEF_WERROR=ON (dynamic C library, every
#      other library static); the feature checks chose the mbedTLS 3 / libgit2
#      1.9 code paths; no Debian libgit2/mbedTLS/curl is linked
#   3. the unit tests (ctest), each one check
#   4. tests/integration/test_source.sh against that build (HTTPS Git server):
#      its checks count here
#   5. a fetch through a TLS-1.3-only front (socat) with that build
#   6. the static all-in binary (-DEF_STATIC=ON): statically linked, `version`,
#      `check-config`, `verify` over HTTPS from the test Git server, stripped size
# Each arch in EF_FIRMWARE_ARCHES (aarch64, armv7; default: aarch64):
#   the libraries, the static binary with the board's cross compiler, its ELF
#   machine, and under qemu-user `version`, `check-config` and `verify` over
#   HTTPS, stripped size (aarch64: at most 2.7 MiB today; the target is 2.5).
#
# Prints "figure:" lines (sizes, times) and "N passed, M failed".
#
# Environment:
#   EF_FIRMWARE_CACHE   libraries and sources (default /var/cache/edgeflip-firmware-deps,
#                       or ~/.cache/edgeflip/firmware-deps when that is not writable);
#                       outside the clone, so CI runs on fresh clones reuse them
#   EF_FIRMWARE_ARCHES  cross targets (default "aarch64"; "aarch64 armv7" for both,
#                       "" for the host only). The first run builds the libraries:
#                       measured 11 min for host + aarch64 on 2 busy cores (5 min
#                       of CPU), about 40 s once they are cached.
#   EF_FIRMWARE_BUILD   build folder root (default: a temporary folder, removed)
#   EF_FIRMWARE_JOBS    parallel jobs (default: nproc)
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${EF_FIRMWARE_CACHE:-/var/cache/edgeflip-firmware-deps}
if [ -z "${EF_FIRMWARE_CACHE:-}" ] && ! { mkdir -p "$CACHE" && [ -w "$CACHE" ]; } 2>/dev/null; then
	CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/edgeflip/firmware-deps
fi
ARCHES=${EF_FIRMWARE_ARCHES-aarch64}
JOBS=${EF_FIRMWARE_JOBS:-$(nproc)}
export EF_FIRMWARE_JOBS=$JOBS
export EF_FIRMWARE_SOURCES=${EF_FIRMWARE_SOURCES:-$CACHE/sources}
# The target is 2.5 MiB (docs/targets). Since libyaml, the Compose reader,
# SOPS/age and cosign came in, the binary was 2,646,992 B (25 KB over), and
# 2,777,856 B (CI, 2026-12-05) after the Compose engine, canary, previews,
# fleet, bundle import and SOPS env_file. The budget here is 2.7 MiB until
# that is won back, so that growth beyond it still fails (docs/figures.md).
MAX_AARCH64=$((27 * 1024 * 1024 / 10)) # 2.7 MiB

if [ -n "${EF_FIRMWARE_BUILD:-}" ]; then
	BUILD_ROOT=$EF_FIRMWARE_BUILD
	mkdir -p "$BUILD_ROOT"
else
	BUILD_ROOT=$(mktemp -d /tmp/edgeflip-firmware.XXXXXX)
fi
chmod 755 "$BUILD_ROOT"
BUILD_ROOT=$(cd "$BUILD_ROOT" && pwd)

# shellcheck source=../lib/git-server.sh
source "$ROOT/tests/lib/git-server.sh"
# shellcheck source=../lib/agent.sh
source "$ROOT/tests/lib/agent.sh"

SOCAT_PID=""
cleanup() {
	[ -n "$SOCAT_PID" ] && kill "$SOCAT_PID" 2>/dev/null
	ef_git_server_stop
	[ -n "${EF_FIRMWARE_BUILD:-}" ] || rm -rf "$BUILD_ROOT"
}
trap cleanup EXIT

# shellcheck source=../lib/check.sh
source "$ROOT/tests/lib/check.sh"

# deps ARCH: builds (or reuses) the libraries for ARCH; prints the time.
deps() {
	local arch=$1 t0 log=$BUILD_ROOT/deps-$1.log
	t0=$(date +%s)
	if "$ROOT/boards/common/build-firmware-deps.sh" --arch "$arch" "$CACHE/$arch" >"$log" 2>&1; then
		ef_pass "$arch: libraries in $CACHE/$arch ($(($(date +%s) - t0)) s$(grep -q 'cached:' "$log" && echo ', cached'))"
		echo "figure: $arch: firmware libraries: $(($(date +%s) - t0)) s$(grep -q 'cached:' "$log" && echo ' (cached)')"
		return 0
	fi
	ef_fail "$arch: libraries (log: $log)"
	tail -30 "$log"
	return 1
}

# A Git server, a signed GitOps repository and an agent configuration for
# `edgeflip verify` (no engine needed).
server_up=0
server() {
	[ $server_up = 1 ] && return 0
	local dir=$BUILD_ROOT/srv
	mkdir -p "$dir"
	ef_git_server_start "$dir/git" >/dev/null || return 1
	ef_gitops_init "$dir/ops" || return 1
	mkdir -p "$EF_OPS_DIR/work/environments/production"
	echo '{"services": {}}' >"$EF_OPS_DIR/work/environments/production/compose.json"
	ef_gitops_commit first || return 1
	HEAD_COMMIT=$(ef_gitops_head)
	EF_PODMAN_SOCK=$dir/no-engine.sock EF_REGISTRY=127.0.0.1:5000 ef_agent_config "$dir/agent"
	server_up=1
}

# static_checks LABEL BINARY [RUNNER...]: version, check-config, verify.
static_checks() {
	local label=$1 bin=$2 out t0 ms rc
	shift 2
	out=$("$@" "$bin" version 2>&1)
	if [[ $out == edgeflip\ * ]]; then ef_pass "$label: '$out'"; else ef_fail "$label: version printed: $out"; fi
	out=$("$@" "$bin" -c "$EF_AGENT_INI" check-config 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && [[ $out == *": ok" ]]; then
		ef_pass "$label: check-config"
	else
		ef_fail "$label: check-config: $out"
	fi
	t0=$(date +%s%N)
	out=$("$@" "$bin" -c "$EF_AGENT_INI" verify 2>&1)
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	if [ $rc -eq 0 ] && grep -q "^commit: *$HEAD_COMMIT" <<<"$out" && grep -q '^verdict: *good' <<<"$out"; then
		ef_pass "$label: verify fetched $HEAD_COMMIT over HTTPS and found it good ($ms ms)"
		echo "figure: $label: edgeflip verify (fetch over HTTPS + signature check): $ms ms"
	else
		ef_fail "$label: verify over HTTPS: $out"
	fi
}

size_of() {
	# size_of STRIP BINARY: stripped size in bytes.
	"$1" -o "$2.stripped" "$2" && stat -c %s "$2.stripped"
}

# ---------------------------------------------------------------- host
server || ef_fail "test Git server"
if deps host; then
	P=$CACHE/host
	B=$BUILD_ROOT/host
	t0=$(date +%s)
	# -DEF_URING=OFF as the firmware packages pin it (pkg-config would also
	# find the build host's own liburing here).
	if PKG_CONFIG_PATH=$P/lib/pkgconfig cmake -S "$ROOT" -B "$B" -DCMAKE_PREFIX_PATH="$P" \
		-DEF_WERROR=ON -DEF_URING=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$B.log" 2>&1 &&
		cmake --build "$B" -j"$JOBS" >>"$B.log" 2>&1; then
		ef_pass "host: edgeflip and the unit tests against the firmware libraries, -DEF_WERROR=ON ($(($(date +%s) - t0)) s)"
		feat=$B/generated/edgeflip/features.h
		for f in EF_HAVE_PSA_CRYPTO EF_HAVE_MBEDTLS3 EF_HAVE_GIT_SHALLOW EF_HAVE_GIT_SYS_ERRORS_H \
			EF_HAVE_GIT_SERVER_TIMEOUT; do
			ef_check "host: feature check found $f" grep -q "^#define $f 1" "$feat"
		done
		libs=$(ldd "$B/edgeflip" 2>&1)
		if grep -qE 'libgit2|libmbed|libcurl|libsodium|libcjson|libinih|libz\.|liburing' <<<"$libs"; then
			ef_fail "host: edgeflip links a system library: $libs"
		else
			ef_pass "host: edgeflip links only the C library dynamically"
		fi

		# Unit tests.
		ctest --test-dir "$B" -R '^unit/' -j"$JOBS" --timeout 300 --output-on-failure >"$B/ctest.log" 2>&1
		n=0
		while read -r line; do
			name=$(sed -E 's/.*Test +#[0-9]+: ([^ ]+) .*/\1/' <<<"$line")
			n=$((n + 1))
			if [[ $line == *" Passed "* ]]; then ef_pass "host: $name"; else ef_fail "host: $name"; fi
		done < <(grep -E 'Test +#[0-9]+: ' "$B/ctest.log")
		[ "$n" -gt 0 ] || { ef_fail "host: no unit tests ran" && tail -20 "$B/ctest.log"; }
		grep -B2 -A25 -E '\*\*\*(Failed|Timeout|Exception)' "$B/ctest.log" | head -60

		# The Git source against a real HTTPS server.
		# Without our server's PIDs: test_source.sh stops what it inherits.
		env -u EF_GIT_PIDS EF_BUILD_DIR="$B" bash "$ROOT/tests/integration/test_source.sh" \
			>"$B/test_source.log" 2>&1
		rc=$?
		ef_add_suite "host: test_source.sh" "$B/test_source.log" "$rc" ||
			grep -E '^not ok' -A5 "$B/test_source.log" | head -40

		# TLS 1.3: a front that accepts nothing older (socat + OpenSSL)
		# before the test server. Debian's mbedTLS 2.28 cannot pass it.
		if [ $server_up = 1 ] && command -v socat >/dev/null; then
			port=$(_ef_free_port)
			cat "$EF_GIT_DIR/ssl/server.crt" "$EF_GIT_DIR/ssl/server.key" >"$BUILD_ROOT/front.pem"
			socat "OPENSSL-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork,cert=$BUILD_ROOT/front.pem,verify=0,openssl-min-proto-version=TLS1.3" \
				"OPENSSL:127.0.0.1:$EF_GIT_PORT,verify=0" 2>"$BUILD_ROOT/socat.log" &
			SOCAT_PID=$!
			_ef_wait_port "$port" "$SOCAT_PID"
			tls12=$(echo | timeout 10 openssl s_client -connect "127.0.0.1:$port" -tls1_2 2>&1)
			if grep -q 'alert protocol version' <<<"$tls12"; then
				ef_pass "host: the TLS front refuses TLS 1.2"
			else
				ef_fail "host: the TLS front accepted TLS 1.2"
			fi
			out=$("$B/tests/tools/ef_source_probe" --url "https://localhost:$port/gitops.git" \
				--ca "$EF_GIT_CA" --cache "$BUILD_ROOT/tls13-cache" --fetch \
				--read environments/production/compose.json 2>&1)
			if grep -qx "head=$HEAD_COMMIT" <<<"$out" && grep -q '"services"' <<<"$out"; then
				ef_pass "host: fetch over TLS 1.3 (mbedTLS 3.6)"
			else
				ef_fail "host: fetch over TLS 1.3: $out"
			fi
			kill "$SOCAT_PID" 2>/dev/null
			wait "$SOCAT_PID" 2>/dev/null
			SOCAT_PID=""
		else
			ef_fail "host: TLS 1.3 check (no server or no socat)"
		fi
	else
		ef_fail "host: build against the firmware libraries (log: $B.log)"
		grep -E 'error|undefined reference|CMake Error' "$B.log" | head -30
	fi

	# The static all-in binary.
	S=$BUILD_ROOT/host-static
	t0=$(date +%s)
	if PKG_CONFIG_PATH=$P/lib/pkgconfig cmake -S "$ROOT" -B "$S" -DCMAKE_PREFIX_PATH="$P" \
		-DEF_WERROR=ON -DEF_URING=OFF -DEF_STATIC=ON -DEF_TESTS=OFF -DCMAKE_BUILD_TYPE=MinSizeRel >"$S.log" 2>&1 &&
		cmake --build "$S" -j"$JOBS" --target edgeflip >>"$S.log" 2>&1; then
		ef_pass "host: static edgeflip, -DEF_STATIC=ON -DEF_WERROR=ON ($(($(date +%s) - t0)) s)"
		if file -b "$S/edgeflip" | grep -q 'statically linked'; then
			ef_pass "host: edgeflip is statically linked"
		else
			ef_fail "host: edgeflip is not static: $(file -b "$S/edgeflip")"
		fi
		[ $server_up = 1 ] && static_checks "host static" "$S/edgeflip"
		size=$(size_of strip "$S/edgeflip")
		echo "figure: x86-64 static edgeflip: $size bytes stripped ($(stat -c %s "$S/edgeflip") unstripped)"
	else
		ef_fail "host: static build (log: $S.log)"
		grep -E 'error|undefined reference|CMake Error' "$S.log" | head -30
	fi
fi

# ---------------------------------------------------------------- cross
for arch in $ARCHES; do
	case $arch in
	aarch64) board=qemu-aarch64 triplet=aarch64-linux-gnu qemu=qemu-aarch64-static machine="ARM aarch64" ;;
	armv7) board=qemu-armv7 triplet=arm-linux-gnueabihf qemu=qemu-arm-static machine="ARM, EABI5" ;;
	*)
		ef_fail "$arch: unknown arch (known: aarch64 armv7)"
		continue
		;;
	esac
	deps "$arch" || continue
	S=$BUILD_ROOT/$arch-static
	t0=$(date +%s)
	if cmake -S "$ROOT" -B "$S" -DCMAKE_TOOLCHAIN_FILE="$ROOT/boards/common/firmware-toolchain.cmake" \
		-DEF_BOARD="$board" -DEF_FIRMWARE_PREFIX="$CACHE/$arch" -DEF_WERROR=ON -DEF_STATIC=ON \
		-DEF_TESTS=OFF -DCMAKE_BUILD_TYPE=MinSizeRel >"$S.log" 2>&1 &&
		cmake --build "$S" -j"$JOBS" --target edgeflip >>"$S.log" 2>&1; then
		ef_pass "$arch: static edgeflip with $triplet-gcc ($(($(date +%s) - t0)) s)"
	else
		ef_fail "$arch: static build (log: $S.log)"
		grep -E 'error|undefined reference|CMake Error' "$S.log" | head -30
		continue
	fi
	desc=$(file -b "$S/edgeflip")
	if [[ $desc == *"$machine"* && $desc == *"statically linked"* ]]; then
		ef_pass "$arch: edgeflip is a static ELF for $machine"
	else
		ef_fail "$arch: edgeflip: $desc"
	fi
	feat=$S/generated/edgeflip/features.h
	# Not the sysroot's Debian 12 mbedTLS 2.28 / libgit2 1.5.
	if grep -q '^#define EF_HAVE_MBEDTLS3 1' "$feat" &&
		grep -q '^#define EF_HAVE_PSA_CRYPTO 1' "$feat" &&
		grep -q '^#define EF_HAVE_GIT_SHALLOW 1' "$feat"; then
		ef_pass "$arch: feature checks found mbedTLS 3, PSA crypto and libgit2's shallow fetch"
	else
		ef_fail "$arch: feature checks: $(grep define "$feat" | tr '\n' ' ')"
	fi
	# No -L: a static binary needs nothing from a sysroot.
	[ $server_up = 1 ] && static_checks "$arch static (qemu-user)" "$S/edgeflip" "$qemu"
	size=$(size_of "$triplet-strip" "$S/edgeflip")
	echo "figure: $arch static edgeflip: $size bytes stripped ($(stat -c %s "$S/edgeflip") unstripped)"
	if [ "$arch" = aarch64 ]; then
		if [ "$size" -le "$MAX_AARCH64" ]; then
			ef_pass "$arch: stripped size $size bytes <= $MAX_AARCH64"
		else
			ef_fail "$arch: stripped size $size bytes > $MAX_AARCH64"
		fi
	fi
done

ef_summary
