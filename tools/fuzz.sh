#!/usr/bin/env bash
# Builds the libFuzzer target over the C API (tests/fuzz/: clang 14, AddressSanitizer,
# UndefinedBehaviorSanitizer, oneDNN linked in) in build/fuzz and runs it for SECONDS
# from the seed corpus tests/fuzz/corpus/. New inputs are kept in build/fuzz/corpus/,
# findings (crashes, sanitizer reports, mismatches) in build/fuzz/findings/; the script
# fails when there is one.
#   tools/fuzz.sh [SECONDS]      default 120; MHA_FUZZ_SEED (default 1) for libFuzzer's -seed,
#                                so that a CI run repeats the same search
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-120}
dir=build/fuzz

bash tools/setup.sh
mkdir -p "$dir"
echo "== $dir: configure and build"
cmake -S . -B "$dir" -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_BUILD_TYPE=Debug -DMHA_SANITIZE=ON -DMHA_ONEDNN_BUILTIN=ON -DMHA_BUILD_BENCH=OFF \
  -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link \
  >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; exit 1; }
cmake --build "$dir" -j "$(nproc)" --target mha_fuzz

echo "== $dir: fuzzing for $seconds s"
mkdir -p "$dir/corpus" "$dir/findings"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
"$dir/bin/mha_fuzz" -max_total_time="$seconds" -seed="${MHA_FUZZ_SEED:-1}" -timeout=20 -rss_limit_mb=4096 \
  -max_len=1024 -print_final_stats=1 -artifact_prefix="$dir/findings/" \
  "$dir/corpus" tests/fuzz/corpus
