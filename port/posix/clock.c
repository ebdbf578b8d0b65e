#include "edgeflip/sys/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted;
static void (*tick)(void);
static uint64_t tick_every_ms, tick_last_ms;
/* The self-pipe: a signal handler writes one byte, a sleeper polls the read
 * end. A signal that lands between a sleeper's check of its flags and its
 * poll() leaves the byte there, so the poll returns at once: no slices. */
static int wake_pipe[2] = {-1, -1};

void ef_clock_set_tick(void (*fn)(void), uint64_t every_ms)
{
	tick = fn;
	tick_every_ms = fn ? every_ms : 0;
	tick_last_ms = ef_clock_ms();
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

int ef_clock_wake_fd(void)
{
	if (wake_pipe[0] >= 0)
		return wake_pipe[0];
	if (pipe(wake_pipe) < 0) {
		wake_pipe[0] = wake_pipe[1] = -1;
		return -1;
	}
	for (int i = 0; i < 2; i++) {
		fcntl(wake_pipe[i], F_SETFD, FD_CLOEXEC);
		fcntl(wake_pipe[i], F_SETFL, fcntl(wake_pipe[i], F_GETFL) | O_NONBLOCK);
	}
	return wake_pipe[0];
}

void ef_clock_wake(void)
{
	int saved = errno;
	char c = 0;

	if (wake_pipe[1] >= 0 && write(wake_pipe[1], &c, 1) < 0) {
		/* Full: a wake-up is pending already. */
	}
	errno = saved;
}

void ef_clock_drain(void)
{
	char junk[64];

	if (wake_pipe[0] >= 0)
		while (read(wake_pipe[0], junk, sizeof(junk)) > 0)
			;
}

uint64_t ef_clock_tick_due(uint64_t now)
{
	if (!tick || !tick_every_ms)
		return UINT64_MAX;
	if (now - tick_last_ms >= tick_every_ms) {
		tick_last_ms = now;
		tick();
	}
	return tick_last_ms + tick_every_ms;
}

bool ef_clock_sleep(uint64_t ms)
{
	uint64_t end = ef_clock_ms() + ms;
	int fd = ef_clock_wake_fd();

	/* One poll() per deadline: the end, the next tick, or a wake-up. */
	while (!interrupted) {
		uint64_t now = ef_clock_ms(), until;
		struct pollfd p = {fd, POLLIN, 0};

		if (now >= end)
			return false;
		until = ef_clock_tick_due(now);
		if (until > end)
			until = end;
		if (until <= now)
			continue;
		if (poll(&p, fd >= 0 ? 1 : 0,
		         (int)(until - now > 0x7fffffff ? 0x7fffffff : until - now)) > 0)
			ef_clock_drain();
	}
	return true;
}

void ef_clock_interrupt(void)
{
	interrupted = 1;
	ef_clock_wake();
}

void ef_clock_clear_interrupt(void)
{
	interrupted = 0;
}
