/* Calendar arithmetic shared by the readers of dates from outside
 * (allowed_signers validity, rollout start times). */
#ifndef EDGEFLIP_DATE_H
#define EDGEFLIP_DATE_H

#include <stdint.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * algorithm): no time zone, no libc, any year. */
int64_t ef_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
