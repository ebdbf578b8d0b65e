# Cross build for 64-bit ARM (aarch64) boards; tests run under qemu-user.
#
#   boards/common/make-sysroot.sh arm64 SYSROOT
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=boards/qemu-aarch64/toolchain.cmake \
#         -DEF_SYSROOT=SYSROOT
#
# EF_SYSROOT defaults to $EF_SYSROOT, then ~/.cache/edgeflip/sysroot-arm64
# (where tests/integration/test_cross.sh builds it).
set(EF_TRIPLET aarch64-linux-gnu)
set(EF_DEB_ARCH arm64)
set(EF_QEMU qemu-aarch64-static)

set(CMAKE_SYSTEM_PROCESSOR aarch64)

include(${CMAKE_CURRENT_LIST_DIR}/../common/cross-toolchain.cmake)
