#!/usr/bin/env bash
# Runs every tests/bench/bench_*.sh and fleet_sim.sh and prints their figures ("figure: value"
# lines), one section per script. Not part of tests/run.sh: benchmarks assert
# nothing, take minutes, and their numbers depend on the machine.
#
#   tests/bench/run.sh                 # builds build/ as tests/run.sh does
#   EF_BUILD_DIR=/path/to/build tests/bench/run.sh
#   BENCH_ONLY="poll agent" tests/bench/run.sh   # a subset, by name
#   BENCH_ONLY=fleet tests/bench/run.sh          # the fleet simulation (fleet_sim.sh)
#
# Also writes all figures to $EF_BUILD_DIR/bench-figures.txt (each line
# prefixed with its script's name). docs/figures.md holds the table of the
# figures against docs/targets.md. Exits non-zero when a script failed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${EF_BUILD_DIR:-$root/build}
jobs=$(nproc 2>/dev/null || echo 2)

if [ -z "${EF_BUILD_DIR:-}" ]; then
	# The test tools (ef_source_probe, ef_verify_raw, ...) live in the test build.
	cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEF_WERROR=ON \
		-DEF_FAULT_INJECTION=ON >/dev/null &&
		cmake --build "$build" -j"$jobs" >"$build/bench-build.log" 2>&1 ||
		{ tail -30 "$build/bench-build.log" 2>/dev/null; echo "bench: build failed" >&2; exit 1; }
fi
export EF_BUILD_DIR=$build
out=$build/bench-figures.txt
: >"$out"

failed=()
for script in "$here"/bench_*.sh "$here"/fleet_sim.sh; do
	name=$(basename "$script" .sh)
	name=${name#bench_}
	name=${name%_sim} # fleet_sim.sh: "fleet"
	if [ -n "${BENCH_ONLY:-}" ]; then
		case " $BENCH_ONLY " in *" $name "*) ;; *) continue ;; esac
	fi
	printf '\n=== bench_%s ===\n' "$name"
	start=$SECONDS
	log=$build/bench-$name.log
	timeout 3600 bash "$script" >"$log" 2>&1
	rc=$?
	grep -E '^[^ ][^:]*: ' "$log" >"$log.figures"
	cat "$log.figures"
	sed "s/^/$name: /" "$log.figures" >>"$out"
	echo "(bench_$name: exit $rc, $((SECONDS - start)) s; full output: $log)"
	[ "$rc" -eq 0 ] || { failed+=("bench_$name"); tail -n 15 "$log" | sed 's/^/  | /'; }
done

echo
echo "figures: $out"
if [ ${#failed[@]} -gt 0 ]; then
	echo "failed: ${failed[*]}"
	exit 1
fi
