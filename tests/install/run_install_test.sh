#!/usr/bin/env bash
# Installs the mha build tree given as $1 into a scratch prefix, then builds outside
# consumers against it: a C and a C++ program through find_package(mha), the C one again
# through pkg-config, and a backend module from the installed ABI and kit headers. Runs
# the C++ one on the default backends, on the installed oneDNN module when the build has
# one, and on the outside module.
set -euo pipefail
build_dir=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
here=$(cd "$(dirname "$0")" && pwd)

cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
cmake -S "$here" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/consumer" >/dev/null
libdir=$(dirname "$(find "$work/prefix" -name 'libmha.*' | head -n 1)")
export LD_LIBRARY_PATH="$libdir"
"$work/consumer/consumer"
"$work/consumer/consumer_cxx"
if grep -q '^MHA_BUILD_ONEDNN:BOOL=ON' "$build_dir/CMakeCache.txt" &&
  ! grep -q '^MHA_ONEDNN_BUILTIN:BOOL=ON' "$build_dir/CMakeCache.txt"; then
  test -f "$libdir/libmha_backend_onednn.so" || { echo "the oneDNN module is not installed"; exit 1; }
  MHA_BACKEND=onednn "$work/consumer/consumer_cxx"
fi
MHA_PLUGIN_PATH="$work/consumer" MHA_BACKEND=outside "$work/consumer/consumer_cxx" |
  grep -q "outside (scalar) matches"

export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc -std=c99 -Wall -Wextra -pedantic -Werror "$here/consumer.c" -o "$work/consumer_pc" \
  $(pkg-config --cflags mha) $(pkg-config --libs --static mha) -lm
"$work/consumer_pc"
