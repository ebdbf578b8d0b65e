/* Timing helpers of the benchmark tools (ef_sops_time, ef_imagesig_probe). */
#ifndef EF_TOOLS_TIMING_H
#define EF_TOOLS_TIMING_H

#include <time.h>

/* Wall (CLOCK_MONOTONIC) or CPU time of the process (CLOCK_PROCESS_CPUTIME_ID:
 * what the work costs, whatever else runs on the machine), in ms. */
static inline double now_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* qsort() order of doubles, for medians. */
static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

#endif
