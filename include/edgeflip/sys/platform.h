/* The device's platform in OCI terms (port/posix/platform.c). */
#ifndef EDGEFLIP_SYS_PLATFORM_H
#define EDGEFLIP_SYS_PLATFORM_H

#include <stddef.h>

/* "linux/amd64", "linux/arm64", "linux/arm/v7", ... from uname(2). */
int ef_platform_native(char *out, size_t size);

/* The OCI platform of a kernel machine name ("aarch64" -> "arm64", "armv7l" ->
 * "arm/v7"); `os` is prefixed. Unknown machines are passed through. */
void ef_platform_from_uname(char *out, size_t size, const char *os, const char *machine);

/* What a process has cost since it started, read from /proc (nothing is
 * written for it: a no-change poll writes 0 bytes). CPU from schedstat
 * (nanoseconds on a CPU) or stat (utime + stime, clock ticks); wake-ups are
 * its context switches (voluntary: it slept and was woken; involuntary:
 * preempted). */
typedef struct {
	double cpu_ms;
	unsigned long long voluntary, involuntary;
	double uptime_s;
} ef_proc_cost;

/* `pid` 0: this process. EF_ENOTFOUND when there is no such process. */
int ef_proc_cost_read(ef_proc_cost *out, long pid);

#endif
