#!/usr/bin/env bash
# tools/test.sh arm64: cross-builds mha for aarch64 with Debian's g++-aarch64-linux-gnu
# (cmake/toolchains/aarch64-linux-gnu.cmake) into build/arm64 and runs the whole suite
# under qemu-aarch64 (-cpu max: NEON, SVE and SVE2) once per SVE vector length, so
# that every Arm target Highway compiles runs its per-target tests at each length.
#   MHA_ARM64_SVE_BITS   the vector lengths in bits (default "128 256 512")
# Timings under emulation say nothing about Arm hardware.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

bash tools/setup.sh arm64

dir=build/arm64
mkdir -p build
echo "== $dir: configure and build (aarch64 cross)"
cmake -S . -B "$dir" -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake \
  -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON >"$dir.configure.log" 2>&1 ||
  { cat "$dir.configure.log"; exit 1; }
cmake --build "$dir" -j "$jobs"
failed=()
for bits in ${MHA_ARM64_SVE_BITS:-128 256 512}; do
  echo "== $dir: test under qemu-aarch64, SVE vectors of $bits bits"
  (cd "$dir" && QEMU_CPU="max,sve-default-vector-length=$((bits / 8))" \
    ctest -j "$jobs" --output-on-failure) || failed+=("$bits")
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "== $dir: tests failed with SVE vectors of ${failed[*]} bits" >&2
  exit 1
fi
