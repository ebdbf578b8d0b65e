# Shared by the boards' toolchain files (boards/*/toolchain.cmake), which set
# EF_TRIPLET, EF_DEB_ARCH, EF_QEMU and CMAKE_SYSTEM_PROCESSOR and include this.
set(CMAKE_SYSTEM_NAME Linux)

if(NOT EF_SYSROOT)
	if(DEFINED ENV{EF_SYSROOT})
		set(EF_SYSROOT "$ENV{EF_SYSROOT}")
	elseif(DEFINED ENV{XDG_CACHE_HOME})
		set(EF_SYSROOT "$ENV{XDG_CACHE_HOME}/edgeflip/sysroot-${EF_DEB_ARCH}")
	else()
		set(EF_SYSROOT "$ENV{HOME}/.cache/edgeflip/sysroot-${EF_DEB_ARCH}")
	endif()
endif()
if(NOT EXISTS "${EF_SYSROOT}/usr/include/${EF_TRIPLET}")
	message(FATAL_ERROR "No ${EF_DEB_ARCH} sysroot at ${EF_SYSROOT}: run "
		"boards/common/make-sysroot.sh ${EF_DEB_ARCH} ${EF_SYSROOT}")
endif()
# try_compile() projects read this file again: hand them the sysroot.
set(ENV{EF_SYSROOT} "${EF_SYSROOT}")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES EF_SYSROOT)

set(CMAKE_C_COMPILER ${EF_TRIPLET}-gcc)
set(CMAKE_SYSROOT "${EF_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH "${EF_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# Debian's multiarch library folder inside the sysroot.
set(CMAKE_LIBRARY_ARCHITECTURE ${EF_TRIPLET})

# The host's pkg-config, reading only the sysroot's .pc files.
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${EF_SYSROOT}")
set(ENV{PKG_CONFIG_LIBDIR}
	"${EF_SYSROOT}/usr/lib/${EF_TRIPLET}/pkgconfig:${EF_SYSROOT}/usr/lib/pkgconfig:${EF_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# binfmt_misc is not registered on the build machines: run target programs
# (ctest, try_run) through qemu-user explicitly.
set(CMAKE_CROSSCOMPILING_EMULATOR ${EF_QEMU} -L "${EF_SYSROOT}")
