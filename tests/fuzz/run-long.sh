#!/usr/bin/env bash
# The longer fuzz run (not part of tests/run.sh, which runs 10 s per target):
#   tests/fuzz/run-long.sh [SECONDS_PER_TARGET=600] [TARGET...]
# Builds build-fuzz/ with clang-14 (-fsanitize=fuzzer,address,undefined), runs
# every target (or the ones named) on its seed corpus plus a growing corpus in
# build-fuzz/corpus/TARGET, and stops at the first crash with its reproducer.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
seconds=${1:-600}
shift || true
CC=clang-14 cmake -S . -B build-fuzz -DEF_FUZZ=ON -DEF_TESTS=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=($(cd build-fuzz/tests/fuzz && ls fuzz_* | grep -v '\.'))
for name in "${targets[@]}"; do
	seeds=tests/fuzz/corpus/${name#fuzz_}
	[ -d "$seeds" ] || seeds=tests/fuzz/corpus/$name
	mkdir -p "build-fuzz/corpus/$name" build-fuzz/artifacts
	echo "== $name: ${seconds}s"
	"build-fuzz/tests/fuzz/$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix=build-fuzz/artifacts/ "build-fuzz/corpus/$name" \
		$([ -d "$seeds" ] && echo "$seeds") 2>&1 | grep -E '^(#[0-9]+ +DONE|Done|==[0-9]+==|SUMMARY)' || true
done
