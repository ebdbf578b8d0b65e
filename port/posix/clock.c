#include "edgeflip/sys/clock.h"

#include <errno.h>
#include <signal.h>
#include <time.h>

static volatile sig_atomic_t interrupted;
static void (*tick)(void);

void ef_clock_set_tick(void (*fn)(void))
{
	tick = fn;
}

uint64_t ef_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int64_t ef_clock_wall(void)
{
	return (int64_t)time(NULL);
}

bool ef_clock_sleep(uint64_t ms)
{
	uint64_t end = ef_clock_ms() + ms;

	/* Sleep in short slices so a signal that lands between the check and
	 * nanosleep() delays the wake-up by at most one slice. */
	while (!interrupted) {
		uint64_t now = ef_clock_ms(), left;
		struct timespec ts;

		if (now >= end)
			return false;
		left = end - now;
		if (left > 100)
			left = 100;
		ts.tv_sec = (time_t)(left / 1000);
		ts.tv_nsec = (long)(left % 1000) * 1000000L;
		nanosleep(&ts, NULL);
		if (tick)
			tick();
	}
	return true;
}

void ef_clock_interrupt(void)
{
	interrupted = 1;
}

void ef_clock_clear_interrupt(void)
{
	interrupted = 0;
}
