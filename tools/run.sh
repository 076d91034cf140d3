#!/usr/bin/env bash
# The main job: install what is needed, build mha, benchmark every backend, ISA level
# and peer on this CPU, and write reports/<cpu-model>/ (README.md, data/, plots).
#
#   tools/run.sh [--quick] [--with-torch] [--no-peers] [report.py options...]
#
# --quick       the small CI shapes and short timings (under 2 minutes)
# --with-torch  also install the PyTorch CPU wheel (large) and compare with it
# Python packages go to .venv/ in the repository; the build to build-report/.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

with_torch=0
report_args=()
for arg in "$@"; do
  case "$arg" in
    --with-torch) with_torch=1 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) report_args+=("$arg") ;;
  esac
done

step() { echo "run.sh: $*" >&2; }

step "system packages (tools/setup.sh)"
tools/setup.sh

step "Python peers into .venv/"
if [[ ! -x .venv/bin/python ]]; then python3 -m venv .venv; fi
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)
"${pip[@]}" numpy matplotlib onnx onnxruntime openvino
if [[ $with_torch == 1 ]]; then
  # The CPU-only wheel is much smaller; PyPI's default wheel also pulls CUDA libraries
  # (about 3 GB; it runs on the CPU all the same).
  "${pip[@]}" --retries 1 --timeout 15 torch --index-url https://download.pytorch.org/whl/cpu ||
    "${pip[@]}" torch
fi

step "building build-report/ (Release, shared libmha)"
cmake -S . -B build-report -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
  -DMHA_BUILD_TESTS=OFF >/dev/null
cmake --build build-report -j"$(nproc)" >/dev/null

step "benchmarking"
unset OPENBLAS_CORETYPE  # peers must run their best kernels
.venv/bin/python tools/report.py --build build-report "${report_args[@]}"
