#!/usr/bin/env bash
# The soak, outside CI: builds mha_soak under AddressSanitizer (LeakSanitizer at exit;
# oneDNN linked in, as in the ASan suite) in build/soak and runs it for MINUTES: random
# calls on every backend from several threads, a sample checked against the reference,
# the RSS printed every ten seconds. Fails on a failed call, a mismatch, an ASan or a
# leak report.
#   tools/soak.sh [MINUTES]      default 10
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
dir=build/soak

bash tools/setup.sh
mkdir -p build
echo "== $dir: configure and build"
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DMHA_SANITIZE=ON -DMHA_ONEDNN_BUILTIN=ON \
  -DMHA_BUILD_SOAK=ON -DMHA_BUILD_BENCH=OFF >"$dir.configure.log" 2>&1 ||
  { cat "$dir.configure.log"; exit 1; }
cmake --build "$dir" -j "$(nproc)" --target mha_soak
echo "== $dir: soak for $minutes min"
# A small quarantine, so that the RSS shows the library's memory rather than ASan's.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:quarantine_size_mb=16} \
  "$dir/bin/mha_soak" "$minutes"
