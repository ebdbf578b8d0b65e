# Cross build for 32-bit ARMv7 boards (hard float); tests run under qemu-user.
#
#   boards/common/make-sysroot.sh armhf SYSROOT
#   cmake -S . -B build-armv7 -DCMAKE_TOOLCHAIN_FILE=boards/qemu-armv7/toolchain.cmake \
#         -DEF_SYSROOT=SYSROOT
#
# EF_SYSROOT defaults to $EF_SYSROOT, then ~/.cache/edgeflip/sysroot-armhf
# (where tests/integration/test_cross.sh builds it).
set(EF_TRIPLET arm-linux-gnueabihf)
set(EF_DEB_ARCH armhf)
set(EF_QEMU qemu-arm-static)

set(CMAKE_SYSTEM_PROCESSOR armv7l)

include(${CMAKE_CURRENT_LIST_DIR}/../common/cross-toolchain.cmake)
