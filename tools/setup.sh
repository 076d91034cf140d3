#!/usr/bin/env bash
# Installs the build and test dependencies from Debian 12's packages.
# Idempotent; works as root or through sudo. Set MHA_SKIP_APT=1 to skip.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libhwy-dev          # Highway 1.0.3
  libdnnl-dev         # oneDNN 2.6.3
  ocl-icd-opencl-dev  # dnnl-config.cmake requires OpenCL (a Recommends only)
  catch2              # Catch2 v2
  libbenchmark-dev    # Google Benchmark 1.7
  python3             # the report smoke test (tools/test_report.sh)
  python3-venv        # .venv/ for the main job's Python peers
  clang-14            # the fuzz target (libFuzzer) and the ThreadSanitizer build
  libclang-rt-14-dev  # clang's sanitizer and libFuzzer runtimes
  libomp-14-dev       # LLVM's OpenMP and its Archer tool for ThreadSanitizer
)

if [[ "${MHA_SKIP_APT:-0}" == 1 ]]; then
  exit 0
fi

# tools/setup.sh arm64: these, then the aarch64 cross build's (tools/setup_arm64.sh).
if [[ ${1:-} == arm64 ]]; then
  bash "$0"
  exec bash "$(dirname "$0")/setup_arm64.sh"
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
