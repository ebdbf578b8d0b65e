#!/usr/bin/env bash
# Installs what is needed, builds, and runs every suite:
#   the layering check (tests/lib/check-layering.sh), unit tests (cmocka via
#   ctest), the same under ASan+UBSan, the integration suites against real servers (HTTPS Git, registry, Podman), a fuzz smoke
#   run, and the cross-built unit tests under qemu-user.
# Ends with "N passed, M failed" over all suites; exits non-zero on failure.
#
# Environment:
#   EF_SKIP_INSTALL=1   do not run scripts/install-deps.sh
#   EF_SUITES="layering unit asan integration fuzz cross"   which stages to run
#   EF_FUZZ_SECONDS=10  per fuzz target
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
suites=${EF_SUITES:-"layering unit asan integration fuzz cross"}
jobs=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0
failures=()
log_dir=$top/build/test-logs

stage() { printf '\n=== %s ===\n' "$*"; }
record()
{
	# record NAME RC [PASSED FAILED]: adds a suite's counts; a suite that
	# failed without counting a failure still counts as one failure.
	local name=$1 rc=$2 p=${3:-0} f=${4:-0}
	[ -n "${3:-}" ] || { [ "$rc" -eq 0 ] && p=1; }
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$rc" -eq 0 ] || failures+=("$name")
}

# "N passed, M failed" / ctest's "X tests failed out of Y" -> counts.
counts_of()
{
	local out=$1 line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
	if [ -n "$line" ]; then
		echo "$line" | sed -E 's/^([0-9]+) passed, ([0-9]+) failed.*/\1 \2/'
		return
	fi
	line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$out" | tail -1)
	if [ -n "$line" ]; then
		local f t
		f=$(echo "$line" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/')
		t=$(echo "$line" | sed -E 's/.* out of ([0-9]+).*/\1/')
		echo "$((t - f)) $f"
	fi
}

run_suite()
{
	# run_suite NAME COMMAND...
	local name=$1 out rc
	shift
	out=$log_dir/$(echo "$name" | tr ' /' '__').log
	local t0=$SECONDS
	echo "--- $name"
	"$@" >"$out" 2>&1
	rc=$?
	report_suite "$name" "$rc" "$out" $((SECONDS - t0))
}

report_suite()
{
	# report_suite NAME RC LOG SECONDS: prints the outcome and counts it.
	local name=$1 rc=$2 out=$3 c
	echo "    ($4 s)"
	c=$(counts_of "$out")
	tail -n 40 "$out" | grep -E '^(FAIL|ok - |[0-9]+ passed|.*tests passed|.*\*\*\*Failed|.*Failed)' | tail -n 25
	if [ "$rc" -ne 0 ]; then
		echo "    $name failed (exit $rc); log: $out"
		tail -n 30 "$out" | sed 's/^/    | /'
	fi
	# shellcheck disable=SC2086
	record "$name" "$rc" $c
}

if [ "${EF_SKIP_INSTALL:-0}" != 1 ]; then
	stage "install"
	case " $suites " in
	*" cross "*) scripts/install-deps.sh --boards || exit 1 ;;
	*) scripts/install-deps.sh || exit 1 ;;
	esac
fi

stage "build (release, -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEF_WERROR=ON -DEF_FAULT_INJECTION=ON >/dev/null &&
	cmake --build build -j"$jobs" >build.log 2>&1 || { tail -50 build.log; echo "0 passed, 1 failed"; exit 1; }
mkdir -p "$log_dir"
export EF_BUILD_DIR=$top/build

case " $suites " in *" layering "*)
	stage "layering (includes and file sizes, docs/architecture.md)"
	run_suite "layering" bash tests/lib/check-layering.sh
	;;
esac

case " $suites " in *" unit "*)
	stage "unit"
	run_suite "unit" ctest --test-dir build -j"$jobs" --output-on-failure --timeout 300
	;;
esac

case " $suites " in *" asan "*)
	stage "unit under ASan+UBSan"
	if cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DEF_WERROR=ON -DEF_SANITIZE=ON \
		-DEF_FAULT_INJECTION=ON >/dev/null && cmake --build build-asan -j"$jobs" >"$log_dir/asan-build.log" 2>&1; then
		ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			run_suite "unit-asan" ctest --test-dir build-asan -j"$jobs" --output-on-failure --timeout 600
	else
		tail -30 "$log_dir/asan-build.log"
		record "asan-build" 1
	fi
	;;
esac

case " $suites " in *" integration "*)
	stage "integration (real HTTPS Git server, registry, Podman)"
	for t in tests/integration/test_*.sh; do
		case $t in */test_cross.sh | */test_cross_e2e.sh | */test_board_system.sh | */test_firmware_build.sh) continue ;; esac
		run_suite "$(basename "$t" .sh)" timeout 1500 bash "$t"
	done
	# The proxy's io_uring path, where the build has it and the kernel allows it.
	if grep -q "define EF_HAVE_URING 1" "$EF_BUILD_DIR/generated/edgeflip/features.h" 2>/dev/null &&
		[ "$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo 0)" = 0 ]; then
		run_suite "test_proxy_uring" env EDGEFLIP_PROXY_IO=io_uring timeout 1500 \
			bash tests/integration/test_proxy.sh
	else
		echo "test_proxy_uring: skipped (no liburing in the build, or io_uring disabled)"
	fi
	;;
esac

case " $suites " in *" fuzz "*)
	stage "fuzz smoke (${EF_FUZZ_SECONDS:-10}s per target)"
	if CC=clang-14 cmake -S . -B build-fuzz -DEF_FUZZ=ON -DEF_TESTS=OFF >/dev/null &&
		cmake --build build-fuzz -j"$jobs" >"$log_dir/fuzz-build.log" 2>&1; then
		# The targets run $jobs at a time (each is one process on one
		# core), then are reported in order.
		fuzz_names=()
		t0=$SECONDS
		for f in build-fuzz/tests/fuzz/fuzz_*; do
			[ -x "$f" ] || continue
			name=$(basename "$f")
			corpus=tests/fuzz/corpus/${name#fuzz_}
			[ -d "$corpus" ] || corpus=tests/fuzz/corpus/$name
			mkdir -p "build-fuzz/corpus/$name"
			while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
			(
				"$f" -max_total_time="${EF_FUZZ_SECONDS:-10}" -timeout=10 -rss_limit_mb=1024 \
					"build-fuzz/corpus/$name" $([ -d "$corpus" ] && echo "$corpus") \
					>"$log_dir/$name.log" 2>&1
				echo $? >"$log_dir/$name.rc"
			) &
			fuzz_names+=("$name")
		done
		wait
		echo "    (${#fuzz_names[@]} targets in $((SECONDS - t0)) s, $jobs at a time)"
		for name in "${fuzz_names[@]}"; do
			echo "--- $name"
			report_suite "$name" "$(cat "$log_dir/$name.rc" 2>/dev/null || echo 1)" \
				"$log_dir/$name.log" "${EF_FUZZ_SECONDS:-10}"
		done
	else
		tail -30 "$log_dir/fuzz-build.log"
		record "fuzz-build" 1
	fi
	;;
esac

case " $suites " in *" cross "*)
	if [ -f tests/integration/test_cross.sh ]; then
		stage "cross builds under qemu-user"
		# One cross build folder for the unit and the end-to-end suites.
		export EF_CROSS_BUILD=$top/build/cross
		run_suite "test_cross" timeout 2400 bash tests/integration/test_cross.sh
		run_suite "test_cross_e2e" timeout 1800 bash tests/integration/test_cross_e2e.sh
		run_suite "test_firmware_build" timeout 1800 bash tests/integration/test_firmware_build.sh
	fi
	if [ -f tests/integration/test_board_system.sh ]; then
		stage "full-system board under qemu-system (power cuts)"
		run_suite "test_board_system" timeout 1800 bash tests/integration/test_board_system.sh
	fi
	;;
esac

echo
if [ ${#failures[@]} -gt 0 ]; then
	echo "failed suites: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#failures[@]} -eq 0 ]
