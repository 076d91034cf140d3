#!/usr/bin/env bash
# Installs the mha build tree given as $1 into a scratch prefix, then builds and runs
# an outside consumer against it twice: through find_package(mha) and pkg-config.
set -euo pipefail
build_dir=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
here=$(cd "$(dirname "$0")" && pwd)

cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
cmake -S "$here" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/consumer" >/dev/null
libdir=$(dirname "$(find "$work/prefix" -name 'libmha.*' | head -n 1)")
LD_LIBRARY_PATH="$libdir" "$work/consumer/consumer"

export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc -std=c99 -Wall -Wextra -pedantic -Werror "$here/consumer.c" -o "$work/consumer_pc" \
  $(pkg-config --cflags mha) $(pkg-config --libs --static mha) -lm
LD_LIBRARY_PATH="$libdir" "$work/consumer_pc"
