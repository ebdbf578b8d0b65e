/* Randomness from the kernel (port/posix/random.c). */
#ifndef EDGEFLIP_SYS_RANDOM_H
#define EDGEFLIP_SYS_RANDOM_H

#include <stddef.h>

/* Fills `out` from the kernel's generator (getrandom(2) where the C library
 * has it, /dev/urandom otherwise). Waits for the pool to be initialised at
 * early boot. EF_ERROR when neither works. Not for keys; for spreading a
 * fleet's timers, which must differ between devices that booted together
 * with the same clock (no RTC) and the same pids. */
int ef_random_bytes(void *out, size_t n);

#endif
