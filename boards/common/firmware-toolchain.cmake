# Cross build of edgeflip against a firmware prefix made by
# boards/common/build-firmware-deps.sh (libgit2 1.9 on mbedTLS 3.6, curl,
# inih, cJSON, libsodium, zlib; static archives only):
#
#   boards/common/build-firmware-deps.sh --arch aarch64 PREFIX
#   cmake -S . -B build-fw-aarch64 -DCMAKE_TOOLCHAIN_FILE=boards/common/firmware-toolchain.cmake \
#         -DEF_BOARD=qemu-aarch64 -DEF_FIRMWARE_PREFIX=PREFIX -DEF_STATIC=ON -DEF_TESTS=OFF
#
# It is the board's toolchain file (boards/EF_BOARD/toolchain.cmake: compiler,
# sysroot, qemu-user) with the libraries, headers and pkg-config files taken
# from the prefix. The sysroot still gives the C library. Build with
# -DEF_TESTS=OFF: pkg-config reads only the prefix, which has no cmocka (the
# unit tests run against the prefix natively). For a native build no
# toolchain file is needed:
# PKG_CONFIG_PATH=PREFIX/lib/pkgconfig and -DCMAKE_PREFIX_PATH=PREFIX.

# try_compile() projects read this file again without the cache: hand the
# settings down through the environment.
if(NOT EF_BOARD AND DEFINED ENV{EF_BOARD})
	set(EF_BOARD "$ENV{EF_BOARD}")
endif()
if(NOT EF_FIRMWARE_PREFIX AND DEFINED ENV{EF_FIRMWARE_PREFIX})
	set(EF_FIRMWARE_PREFIX "$ENV{EF_FIRMWARE_PREFIX}")
endif()
if(NOT EF_BOARD OR NOT EXISTS "${CMAKE_CURRENT_LIST_DIR}/../${EF_BOARD}/toolchain.cmake")
	message(FATAL_ERROR "Set EF_BOARD to a board with a toolchain file (qemu-aarch64, qemu-armv7)")
endif()
if(NOT EF_FIRMWARE_PREFIX OR NOT EXISTS "${EF_FIRMWARE_PREFIX}/lib/pkgconfig/libgit2.pc")
	message(FATAL_ERROR "No firmware prefix at '${EF_FIRMWARE_PREFIX}': run "
		"boards/common/build-firmware-deps.sh --arch ARCH PREFIX")
endif()
set(ENV{EF_BOARD} "${EF_BOARD}")
set(ENV{EF_FIRMWARE_PREFIX} "${EF_FIRMWARE_PREFIX}")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES EF_BOARD EF_FIRMWARE_PREFIX)

include("${CMAKE_CURRENT_LIST_DIR}/../${EF_BOARD}/toolchain.cmake")

# find_path()/find_library(): the prefix before the sysroot (whose Debian
# libgit2 1.5 and mbedTLS 2.28 must not be picked up).
list(PREPEND CMAKE_FIND_ROOT_PATH "${EF_FIRMWARE_PREFIX}")
list(PREPEND CMAKE_PREFIX_PATH "/")
# pkg-config: only the prefix's .pc files (absolute paths, no sysroot to add).
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")
set(ENV{PKG_CONFIG_LIBDIR} "${EF_FIRMWARE_PREFIX}/lib/pkgconfig")
