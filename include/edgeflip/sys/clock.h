/* Clocks and waiting (port/posix/clock.c). */
#ifndef EDGEFLIP_SYS_CLOCK_H
#define EDGEFLIP_SYS_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

/* A timeout in milliseconds as the int poll() and the long libcurl take:
 * at most INT32_MAX (24.8 days). A plain cast of a longer duration from the
 * configuration wraps (negative: wait forever; past 2^32: almost no wait), and
 * long has 32 bits on armv7. */
static inline int32_t ef_clock_timeout(uint64_t ms)
{
	return ms > INT32_MAX ? INT32_MAX : (int32_t)ms;
}

/* Monotonic milliseconds: immune to clock jumps; use for every deadline. */
uint64_t ef_clock_ms(void);
/* Wall clock, unix seconds: only for records, key validity and file times. */
int64_t ef_clock_wall(void);
/* Sleeps up to `ms`; returns early (true) when ef_clock_interrupt() was called,
 * e.g. from a signal handler. */
bool ef_clock_sleep(uint64_t ms);
/* Async-signal-safe: ends ef_clock_sleep() early (and wakes the pipe). */
void ef_clock_interrupt(void);
/* Clears a pending interrupt. */
void ef_clock_clear_interrupt(void);

/* Calls `fn` every `every_ms` while any ef_clock_sleep() waits (the daemon
 * pings the systemd watchdog from it): the sleeper wakes for it as for one more
 * deadline, never in slices. NULL to unset. */
void ef_clock_set_tick(void (*fn)(void), uint64_t every_ms);
/* Runs the tick when due; returns when the next one is due (UINT64_MAX: none). */
uint64_t ef_clock_tick_due(uint64_t now);

/* The read end of the self-pipe that ef_clock_wake() writes to (created on the
 * first call, close-on-exec, non-blocking); -1 if it cannot be made. Poll it
 * beside other descriptors to wait for "a deadline, I/O or a signal" at once. */
int ef_clock_wake_fd(void);
/* Async-signal-safe: wakes whoever polls ef_clock_wake_fd(). */
void ef_clock_wake(void);
/* Empties the pipe after a wake-up. */
void ef_clock_drain(void);

#endif
