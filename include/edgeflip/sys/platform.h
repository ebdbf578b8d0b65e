/* The device's platform in OCI terms (port/posix/platform.c). */
#ifndef EDGEFLIP_SYS_PLATFORM_H
#define EDGEFLIP_SYS_PLATFORM_H

#include <stddef.h>

/* "linux/amd64", "linux/arm64", "linux/arm/v7", ... from uname(2). */
int ef_platform_native(char *out, size_t size);

/* The OCI platform of a kernel machine name ("aarch64" -> "arm64", "armv7l" ->
 * "arm/v7"); `os` is prefixed. Unknown machines are passed through. */
void ef_platform_from_uname(char *out, size_t size, const char *os, const char *machine);

#endif
