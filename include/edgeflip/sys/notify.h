/* Telling the service manager how the agent is doing: the systemd notify
 * protocol (sd_notify(3)) spoken directly, without libsystemd.
 *
 *   ef_notify("READY=1\nSTATUS=running revision=%s", rev);
 *   ef_notify("WATCHDOG=1");
 *
 * Under a manager that does not set NOTIFY_SOCKET (procd, runit, a shell)
 * every call is a silent no-op. */
#ifndef EDGEFLIP_SYS_NOTIFY_H
#define EDGEFLIP_SYS_NOTIFY_H

#include <stdint.h>

/* Longest message ef_notify sends (bytes, after formatting). */
#define EF_NOTIFY_MAX 4096

/* Sends one datagram to $NOTIFY_SOCKET: an absolute path, or an abstract
 * socket name written with a leading '@'. Returns 0 when sent or when
 * NOTIFY_SOCKET is unset; EF_EINVALID for an unusable address or a message
 * longer than EF_NOTIFY_MAX; EF_ERROR when the send fails. */
int ef_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The watchdog interval the manager asked for: WATCHDOG_USEC, when
 * WATCHDOG_PID is unset or names this process. *out = 0 and 0 returned when
 * the watchdog is not enabled; EF_EINVALID when a variable is malformed.
 * Send "WATCHDOG=1" at least every *out / 2 microseconds. */
int ef_notify_watchdog_usec(uint64_t *out);

#endif
