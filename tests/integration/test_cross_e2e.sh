#!/bin/bash
# test_cross_e2e.sh [BOARD...] — the end-to-end suites with the cross-built
# agent and traffic proxy running under qemu-user; the HTTPS Git server, the
# registry, Podman and the load loop stay on the host.
#
# For each board (default: qemu-aarch64 qemu-armv7):
#   1. make (or reuse) the board's sysroot: boards/common/make-sysroot.sh
#   2. configure like test_cross.sh, plus -DEF_FAULT_INJECTION=ON (the
#      blue/green suite kills the agent at EDGEFLIP_FAULT points), and build
#      edgeflip and edgeflip-proxy only
#   3. tests/lib/qemu-wrap.sh: EF_BIN runs the agent under qemu-user, and the
#      agent's own proxy start-up finds an edgeflip-proxy beside it that runs
#      the cross-built proxy under qemu-user too
#   4. run each suite (default: test_agent test_bluegreen) with that EF_BIN;
#      its "N passed, M failed" adds to the total, and one more check per
#      suite asserts that the agent started the emulated proxy
# Prints "N passed, M failed" summed over boards and suites; exits 1 when
# anything failed.
#
# On armv7 the suites' work folder is put on tmpfs (EF_E2E_TMPDIR): under
# qemu-user the 64-bit host kernel hands out 64-bit directory cookies, which
# the 32-bit readdir() inside Debian's armhf libgit2 rejects with EOVERFLOW
# ("Value too large for defined data type") on ext4. A real 32-bit kernel, or
# a 64-bit kernel running 32-bit programs, hands out 32-bit cookies; tmpfs
# hands out small ones everywhere.
#
# Environment:
#   EF_SYSROOT_CACHE       where sysroots live (default ~/.cache/edgeflip)
#   EF_CROSS_BUILD         build folder root (default ROOT/build/cross, kept so
#                          later runs build incrementally; give test_cross.sh
#                          the same folder to share the build trees)
#   EF_CROSS_JOBS          parallel jobs (default: nproc)
#   EF_CROSS_E2E_SUITES    suites to run (default "test_agent test_bluegreen")
#   EF_CROSS_E2E_TMPFS     tmpfs folder for the armv7 work folders (default /dev/shm)
#   EF_CROSS_E2E_TIMEOUT   per suite, seconds (default 900)
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BOARDS=("$@")
[ ${#BOARDS[@]} -eq 0 ] && BOARDS=(qemu-aarch64 qemu-armv7)
CACHE=${EF_SYSROOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edgeflip}
JOBS=${EF_CROSS_JOBS:-$(nproc)}
BUILD_ROOT=${EF_CROSS_BUILD:-$ROOT/build/cross}
SUITES=${EF_CROSS_E2E_SUITES:-test_agent test_bluegreen}
TMPFS=${EF_CROSS_E2E_TMPFS:-/dev/shm}
TIMEOUT=${EF_CROSS_E2E_TIMEOUT:-900}
mkdir -p "$BUILD_ROOT"

# shellcheck source=../lib/check.sh
source "$ROOT/tests/lib/check.sh"

# How often qemu-wrap.sh's edgeflip-proxy script in DIR has run.
proxy_starts() {
	if [ -f "$1/edgeflip-proxy.starts" ]; then wc -l <"$1/edgeflip-proxy.starts"; else echo 0; fi
}

T_START=$SECONDS
declare -A TIMES
for board in "${BOARDS[@]}"; do
	case "$board" in
	qemu-aarch64)
		arch=arm64 qemu=qemu-aarch64-static machine="ARM aarch64" tmp=/tmp
		;;
	qemu-armv7)
		arch=armhf qemu=qemu-arm-static machine="ARM, EABI5" tmp=$TMPFS
		;;
	*)
		ef_fail "$board: unknown board (known: qemu-aarch64 qemu-armv7)"
		continue
		;;
	esac
	sysroot=$CACHE/sysroot-$arch
	build=$BUILD_ROOT/$board
	log=$BUILD_ROOT/$board-e2e.log
	echo "# $board: sysroot $sysroot, build $build"

	if ! "$ROOT/boards/common/make-sysroot.sh" "$arch" "$sysroot" >"$log" 2>&1; then
		ef_fail "$board: sysroot (see below)"
		tail -20 "$log"
		continue
	fi
	t0=$SECONDS
	if cmake -S "$ROOT" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$ROOT/boards/$board/toolchain.cmake" \
		-DEF_SYSROOT="$sysroot" -DEF_WERROR=ON -DEF_TESTS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DEF_FAULT_INJECTION=ON >>"$log" 2>&1 &&
		cmake --build "$build" -j"$JOBS" --target edgeflip edgeflip-proxy >>"$log" 2>&1; then
		ef_pass "$board: cross build of edgeflip and edgeflip-proxy ($((SECONDS - t0)) s)"
	else
		ef_fail "$board: cross build"
		grep -E 'error|warning|undefined reference' "$log" | head -30
		continue
	fi
	for f in edgeflip edgeflip-proxy; do
		if ! file -b "$build/$f" | grep -q "$machine"; then
			ef_fail "$board: $f is not for $machine: $(file -b "$build/$f")"
			continue 2
		fi
	done

	run=$build/qemu-run
	if ! bin=$("$ROOT/tests/lib/qemu-wrap.sh" "$qemu" "$sysroot" "$build" "$run" 2>&1); then
		ef_fail "$board: qemu-wrap.sh: $bin"
		continue
	fi
	out=$("$bin" version 2>&1)
	if [[ $out == edgeflip\ * ]]; then
		ef_pass "$board: '$out' through $bin"
	else
		ef_fail "$board: '$bin version' printed: $out"
		continue
	fi
	if [ "$tmp" != /tmp ] && [ "$(stat -f -c %T "$tmp" 2>/dev/null)" != tmpfs ]; then
		ef_fail "$board: $tmp is not a tmpfs (set EF_CROSS_E2E_TMPFS)"
		continue
	fi

	for suite in $SUITES; do
		slog=$BUILD_ROOT/$board-$suite.log
		starts_before=$(proxy_starts "$run")
		t0=$SECONDS
		EF_BIN=$bin EF_E2E_TMPDIR=$tmp timeout "$TIMEOUT" bash "$ROOT/tests/integration/$suite.sh" \
			>"$slog" 2>&1
		rc=$?
		TIMES[$board/$suite]=$((SECONDS - t0))
		if ! grep -qE '^[0-9]+ passed, [0-9]+ failed' "$slog"; then
			ef_add_suite "$board: $suite under qemu-user" "$slog" "$rc"
			continue
		fi
		ef_add_suite "$board: $suite under qemu-user ($((SECONDS - t0)) s)" "$slog" "$rc"
		starts=$(($(proxy_starts "$run") - starts_before))
		if [ "$starts" -ge 1 ]; then
			ef_pass "$board: $suite: the agent started the emulated edgeflip-proxy ($starts times)"
		else
			ef_fail "$board: $suite: the agent never started the emulated edgeflip-proxy"
		fi
	done
done

echo "# suite times under qemu-user:"
for key in "${!TIMES[@]}"; do
	echo "#   $key: ${TIMES[$key]} s"
done | sort
echo "# total: $((SECONDS - T_START)) s"
ef_summary
