#!/bin/bash
# test_cross.sh [BOARD...] — cross-build edgeflip and the unit tests for the
# QEMU ARM boards and run the unit tests under qemu-user.
#
# For each board (default: qemu-aarch64 qemu-armv7):
#   1. build (or reuse) the board's sysroot: boards/common/make-sysroot.sh
#   2. configure with boards/BOARD/toolchain.cmake and -DEF_WERROR=ON
#   3. build edgeflip and the unit tests
#   4. check the executable is an ELF file for the board's machine
#   5. run `edgeflip version` under qemu-user
#   6. run every unit test under qemu-user through ctest (the toolchain file's
#      CMAKE_CROSSCOMPILING_EMULATOR); each test counts as one check
#   7. report the stripped size of edgeflip
# Prints "N passed, M failed"; exits 1 when anything failed.
#
# Environment:
#   EF_SYSROOT_CACHE  where sysroots live (default ~/.cache/edgeflip); they are
#                     reused between runs: the first run downloads ~70 packages
#                     per board (about 10 s each here)
#   EF_CROSS_BUILD    build folder root (default: a temporary folder, removed)
#   EF_CROSS_JOBS     parallel jobs (default: nproc)
#   EF_CROSS_TIMEOUT  per unit test timeout in seconds under qemu (default 300)
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BOARDS=("$@")
[ ${#BOARDS[@]} -eq 0 ] && BOARDS=(qemu-aarch64 qemu-armv7)
CACHE=${EF_SYSROOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edgeflip}
JOBS=${EF_CROSS_JOBS:-$(nproc)}
TIMEOUT=${EF_CROSS_TIMEOUT:-300}
if [ -n "${EF_CROSS_BUILD:-}" ]; then
	BUILD_ROOT=$EF_CROSS_BUILD
	mkdir -p "$BUILD_ROOT"
else
	BUILD_ROOT=$(mktemp -d /tmp/edgeflip-cross.XXXXXX)
	trap 'rm -rf "$BUILD_ROOT"' EXIT
fi

# shellcheck source=../lib/check.sh
source "$ROOT/tests/lib/check.sh"

# Sizes for the summary table at the end.
declare -A SIZE UNSTRIPPED
for board in "${BOARDS[@]}"; do
	case "$board" in
	qemu-aarch64)
		arch=arm64 triplet=aarch64-linux-gnu qemu=qemu-aarch64-static machine="ARM aarch64"
		;;
	qemu-armv7)
		arch=armhf triplet=arm-linux-gnueabihf qemu=qemu-arm-static machine="ARM, EABI5"
		;;
	*)
		ef_fail "$board: unknown board (known: qemu-aarch64 qemu-armv7)"
		continue
		;;
	esac
	sysroot=$CACHE/sysroot-$arch
	build=$BUILD_ROOT/$board
	log=$BUILD_ROOT/$board.log
	echo "# $board: sysroot $sysroot, build $build"

	t0=$(date +%s)
	if "$ROOT/boards/common/make-sysroot.sh" "$arch" "$sysroot" >"$log" 2>&1; then
		ef_pass "$board: sysroot ($(($(date +%s) - t0)) s)"
	else
		ef_fail "$board: sysroot (see below)"
		tail -20 "$log"
		continue
	fi

	if cmake -S "$ROOT" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$ROOT/boards/$board/toolchain.cmake" \
		-DEF_SYSROOT="$sysroot" -DEF_WERROR=ON -DEF_TESTS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCMAKE_EXPORT_COMPILE_COMMANDS=ON >>"$log" 2>&1; then
		ef_pass "$board: configure"
	else
		ef_fail "$board: configure"
		tail -30 "$log"
		continue
	fi
	# 32-bit narrowing (long, size_t: 32 bits on armv7) is an error in core/
	# and port/: the build below fails on any implicit one.
	for f in core/base/buf.c port/posix/net.c; do
		cmd=$(grep -F '"command"' "$build/compile_commands.json" | grep -F -- "-c $ROOT/$f")
		missing=""
		for flag in -Werror -Wconversion -Wsign-conversion; do
			grep -q -- " $flag " <<<"$cmd " || missing="$missing $flag"
		done
		if [ -n "$cmd" ] && [ -z "$missing" ]; then
			ef_pass "$board: $f compiles with -Werror -Wconversion -Wsign-conversion"
		else
			ef_fail "$board: $f compiles with -Werror -Wconversion -Wsign-conversion" \
				"missing:${missing:- the file}"
		fi
	done

	t0=$(date +%s)
	if cmake --build "$build" -j"$JOBS" >>"$log" 2>&1; then
		ef_pass "$board: build with -DEF_WERROR=ON ($(($(date +%s) - t0)) s)"
	else
		ef_fail "$board: build with -DEF_WERROR=ON"
		grep -E 'error|warning|undefined reference' "$log" | head -30
		continue
	fi

	exe=$build/edgeflip
	if file -b "$exe" | grep -q "$machine"; then
		ef_pass "$board: edgeflip is an ELF for $machine"
	else
		ef_fail "$board: edgeflip is not for $machine: $(file -b "$exe")"
	fi

	out=$("$qemu" -L "$sysroot" "$exe" version 2>&1)
	if [[ $out == edgeflip\ * ]]; then
		ef_pass "$board: '$out' under $qemu"
	else
		ef_fail "$board: 'edgeflip version' under $qemu printed: $out"
	fi

	# The unit tests, under qemu-user via CMAKE_CROSSCOMPILING_EMULATOR.
	t0=$(date +%s)
	ctest --test-dir "$build" -R '^unit/' -j"$JOBS" --timeout "$TIMEOUT" \
		--output-on-failure >"$build/ctest.log" 2>&1
	ctest_rc=$?
	n=0
	while read -r line; do
		name=$(sed -E 's/.*Test +#[0-9]+: ([^ ]+) .*/\1/' <<<"$line")
		n=$((n + 1))
		if [[ $line == *" Passed "* ]]; then
			ef_pass "$board: $name under qemu"
		else
			ef_fail "$board: $name under qemu: ${line##* \*\*\*}"
		fi
	done < <(grep -E 'Test +#[0-9]+: ' "$build/ctest.log")
	if [ "$n" -eq 0 ]; then
		ef_fail "$board: no unit tests ran"
		tail -20 "$build/ctest.log"
	elif [ "$ctest_rc" -ne 0 ]; then
		sed -n '/tests failed/,$p' "$build/ctest.log" | head -20
		grep -B2 -A25 -E '\*\*\*(Failed|Timeout|Exception)' "$build/ctest.log" | head -80
	fi
	echo "# $board: $n unit tests in $(($(date +%s) - t0)) s under qemu"

	"$triplet-strip" -o "$build/edgeflip.stripped" "$exe"
	SIZE[$board]=$(stat -c %s "$build/edgeflip.stripped")
	UNSTRIPPED[$board]=$(stat -c %s "$exe")
done

echo "# stripped size of edgeflip (dynamically linked, Debian $(
	# shellcheck disable=SC1091
	. /etc/os-release
	echo "$VERSION_CODENAME"
) libraries):"
for board in "${BOARDS[@]}"; do
	[ -n "${SIZE[$board]:-}" ] &&
		echo "#   $board: ${SIZE[$board]} bytes stripped (${UNSTRIPPED[$board]} with debug info)"
done
ef_summary
