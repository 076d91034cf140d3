#!/usr/bin/env bash
# The aarch64 cross build's dependencies (tools/setup.sh arm64 runs this after the
# native ones): Debian's cross compiler, qemu-user and the arm64 multiarch libraries.
# libdnnl-dev:arm64 conflicts with the native libdnnl-dev (dnnl_config.h differs), so
# it is unpacked into /opt/mha-arm64 instead of installed; the toolchain file
# (cmake/toolchains/aarch64-linux-gnu.cmake) looks there. Idempotent.
set -euo pipefail

packages=(
  g++-aarch64-linux-gnu
  qemu-user
  libhwy-dev:arm64
  libdnnl2:arm64
  libbenchmark-dev:arm64
  libgomp1:arm64
)
dnnl_prefix=/opt/mha-arm64

if [[ "${MHA_SKIP_APT:-0}" == 1 ]]; then
  exit 0
fi
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "setup: installing ${missing[*]}" >&2
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $sudo dpkg --add-architecture arm64
  fi
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

version=$(dpkg-query -W -f='${Version}' libdnnl2:arm64)
if [[ "$(cat "$dnnl_prefix/version" 2>/dev/null)" != "$version" ]]; then
  echo "setup: unpacking libdnnl-dev:arm64 $version into $dnnl_prefix" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  $sudo chown _apt "$tmp" 2>/dev/null || true  # apt downloads as _apt
  (cd "$tmp" && apt-get download -qq "libdnnl-dev:arm64=$version")
  $sudo rm -rf "$dnnl_prefix"
  $sudo dpkg-deb -x "$tmp"/libdnnl-dev_*_arm64.deb "$dnnl_prefix"
  # Its CMake targets name the library beside them; the library is libdnnl2:arm64's.
  for lib in /usr/lib/aarch64-linux-gnu/libdnnl.so.*; do
    $sudo ln -sf "$lib" "$dnnl_prefix/usr/lib/aarch64-linux-gnu/"
  done
  echo "$version" | $sudo tee "$dnnl_prefix/version" >/dev/null
fi
