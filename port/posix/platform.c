/* The device's platform, as OCI image indexes name it. */
#include "edgeflip/sys/platform.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/sys/fs.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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

int ef_proc_cost_read(ef_proc_cost *out, long pid)
{
	char dir[64], path[96], *p;
	ef_buf b;
	unsigned long long ns = 0, utime = 0, stime = 0, start = 0;
	double up = 0;
	long tck = sysconf(_SC_CLK_TCK);
	bool have_ns = false;
	FILE *f;

	memset(out, 0, sizeof(*out));
	if (pid > 0)
		snprintf(dir, sizeof(dir), "/proc/%ld", pid);
	else
		snprintf(dir, sizeof(dir), "/proc/self");
	snprintf(path, sizeof(path), "%s/stat", dir);
	if (ef_read_file(&b, path, 4096) < 0)
		return EF_ENOTFOUND;
	/* Fields after the ")" that ends the command name: state is field 3. */
	p = strrchr(b.ptr, ')');
	if (!p || sscanf(p + 2,
	                 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
	                 "%*d %*d %llu",
	                 &utime, &stime, &start) != 3) {
		ef_buf_dispose(&b);
		ef_error_set("%s: unexpected format", path);
		return EF_EINVALID;
	}
	ef_buf_dispose(&b);
	snprintf(path, sizeof(path), "%s/schedstat", dir);
	if ((f = fopen(path, "r"))) {
		have_ns = fscanf(f, "%llu", &ns) == 1;
		fclose(f);
	}
	if (tck <= 0)
		tck = 100;
	out->cpu_ms = have_ns ? (double)ns / 1e6 : (double)(utime + stime) * 1000.0 / (double)tck;
	if ((f = fopen("/proc/uptime", "r"))) {
		if (fscanf(f, "%lf", &up) == 1)
			out->uptime_s = up - (double)start / (double)tck;
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/status", dir);
	if (ef_read_file(&b, path, 1 << 16) == 0) {
		if ((p = strstr(b.ptr, "\nvoluntary_ctxt_switches:")))
			out->voluntary = strtoull(p + 26, NULL, 10);
		if ((p = strstr(b.ptr, "\nnonvoluntary_ctxt_switches:")))
			out->involuntary = strtoull(p + 29, NULL, 10);
		ef_buf_dispose(&b);
	}
	return 0;
}
