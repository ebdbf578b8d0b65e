/* The device's platform, as OCI image indexes name it. */
#include "edgeflip/sys/platform.h"
#include "edgeflip/error.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

void ef_platform_from_uname(char *out, size_t size, const char *os, const char *machine)
{
	static const struct {
		const char *machine;
		const char *oci;
	} table[] = {
	        {"x86_64", "amd64"},    {"amd64", "amd64"},     {"aarch64", "arm64"},
	        {"arm64", "arm64"},     {"armv8l", "arm/v7"},   {"armv7l", "arm/v7"},
	        {"armv7", "arm/v7"},    {"armv6l", "arm/v6"},   {"armv5tel", "arm/v5"},
	        {"i386", "386"},        {"i486", "386"},        {"i586", "386"},
	        {"i686", "386"},        {"ppc64le", "ppc64le"}, {"s390x", "s390x"},
	        {"riscv64", "riscv64"}, {"mips64", "mips64"},   {"mips", "mips"},
	};
	const char *oci = machine;
	char lower[16];
	size_t n;

	for (n = 0; machine[n] && n + 1 < sizeof(lower); n++)
		lower[n] = (char)tolower((unsigned char)machine[n]);
	lower[n] = '\0';
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(lower, table[i].machine) == 0)
			oci = table[i].oci;
	snprintf(out, size, "%s/%s", os, oci);
}

int ef_platform_native(char *out, size_t size)
{
	struct utsname u;
	char os[32];
	size_t n;

	if (uname(&u) < 0) {
		ef_error_set("uname: %s", strerror(errno));
		return EF_ERROR;
	}
	for (n = 0; u.sysname[n] && n + 1 < sizeof(os); n++)
		os[n] = (char)tolower((unsigned char)u.sysname[n]);
	os[n] = '\0';
	ef_platform_from_uname(out, size, os, u.machine);
	return 0;
}
