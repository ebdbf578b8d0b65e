/* Clocks and waiting (port/posix/clock.c). */
#ifndef EDGEFLIP_SYS_CLOCK_H
#define EDGEFLIP_SYS_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

/* Monotonic milliseconds: immune to clock jumps; use for every deadline. */
uint64_t ef_clock_ms(void);
/* Wall clock, unix seconds: only for records and key validity. */
int64_t ef_clock_wall(void);
/* Sleeps up to `ms`; returns early (true) when ef_clock_interrupt() was called,
 * e.g. from a signal handler. */
bool ef_clock_sleep(uint64_t ms);
/* Async-signal-safe: wakes a sleeper. */
void ef_clock_interrupt(void);
/* Clears a pending interrupt. */
void ef_clock_clear_interrupt(void);

/* Called about every 100 ms while any ef_clock_sleep() waits (the daemon
 * pings the watchdog from it). NULL to unset. */
void ef_clock_set_tick(void (*fn)(void));

#endif
