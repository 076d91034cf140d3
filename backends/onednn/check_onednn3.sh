#!/usr/bin/env bash
# Compiles the oneDNN backend's sources against another oneDNN's headers (3.x: the
# DNNL_VERSION_MAJOR >= 3 branches of dnnl_compat.h and onednn_backend.cc), without
# building that oneDNN: its CMake configure alone generates dnnl_config.h and
# dnnl_version.h, which takes seconds; a full build takes far longer on 2 cores.
#
#   backends/onednn/check_onednn3.sh <oneDNN git repository> <tag>...
#   backends/onednn/check_onednn3.sh --src <unpacked oneDNN source tree>
#
# e.g. with a clone of https://github.com/oneapi-src/oneDNN:
#   backends/onednn/check_onednn3.sh ~/src/oneDNN v3.0.1 v3.7.1
# Nothing of oneDNN is written into this repository; the work directory is removed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

check() {  # check <label> <oneDNN source tree>
  local label=$1 src=$2 build="$work/build-$1"
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DDNNL_CPU_RUNTIME=OMP \
    -DONEDNN_BUILD_GRAPH=OFF -DONEDNN_BUILD_TESTS=OFF -DONEDNN_BUILD_EXAMPLES=OFF \
    -DDNNL_BUILD_TESTS=OFF -DDNNL_BUILD_EXAMPLES=OFF >"$work/$label.configure.log" 2>&1 ||
    { cat "$work/$label.configure.log"; return 1; }
  local version
  version=$(grep -E '#define DNNL_VERSION_(MAJOR|MINOR|PATCH)' \
    "$build/include/oneapi/dnnl/dnnl_version.h" | awk '{print $3}' | paste -sd.)
  local failed=0
  for source in "$here"/*.cc; do
    g++ -std=c++17 -fopenmp -fsyntax-only -Wall -Wextra -Wpedantic -Wno-unused-parameter \
      -Werror -I"$src/include" -I"$build/include" -I"$root/include" -I"$root/src" -I"$here" \
      "$source" || failed=1
  done
  if [ "$failed" = 0 ]; then
    echo "$label (oneDNN $version): every source compiles"
  else
    echo "$label (oneDNN $version): FAILED"
  fi
  return "$failed"
}

status=0
if [ "${1:-}" = "--src" ]; then
  check "$(basename "$2")" "$(cd "$2" && pwd)" || status=1
else
  repo=$1
  shift
  for ref in "$@"; do
    mkdir -p "$work/src-$ref"
    git -C "$repo" archive "$ref" | tar -x -C "$work/src-$ref"
    check "$ref" "$work/src-$ref" || status=1
  done
fi
exit "$status"
