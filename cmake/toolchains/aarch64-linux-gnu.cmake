# Cross-builds mha for aarch64 Linux with Debian's g++-aarch64-linux-gnu against the
# arm64 multiarch packages (libhwy-dev:arm64, libdnnl2:arm64, libbenchmark-dev:arm64);
# tools/setup.sh arm64 installs them. Tests and tools run through qemu-aarch64.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# find_package then searches /usr/lib/aarch64-linux-gnu/cmake, never the x86 one.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# libdnnl-dev:arm64 cannot be installed beside libdnnl-dev (their dnnl_config.h differ:
# arm64 has no OpenCL runtime), so tools/setup_arm64.sh unpacks it into this prefix.
set(MHA_ARM64_DNNL_PREFIX /opt/mha-arm64/usr CACHE PATH "unpacked libdnnl-dev:arm64")
list(PREPEND CMAKE_PREFIX_PATH ${MHA_ARM64_DNNL_PREFIX})

# The arm64 libc (libc6:arm64) provides /lib/ld-linux-aarch64.so.1 and the multiarch
# library paths, so qemu needs no -L prefix.
find_program(MHA_QEMU_AARCH64 qemu-aarch64 REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${MHA_QEMU_AARCH64})
