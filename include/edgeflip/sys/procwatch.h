/* Watching a container's main process without asking the engine
 * (docs/engine.md "Watching processes"): a pidfd (Linux 5.3) becomes
 * readable when the process exits, so the daemon notices a container that
 * died or was stopped or removed the moment it happens, with no request to
 * the engine and no timer. */
#ifndef EDGEFLIP_SYS_PROCWATCH_H
#define EDGEFLIP_SYS_PROCWATCH_H

/* Opens a descriptor on process `pid` (as the engine's inspect reports it),
 * after checking that it is the process of container `id`: its cgroup path
 * names the full id, as Docker, Podman and balena-engine name their
 * containers' cgroups. EF_ENOTFOUND when no such process runs now;
 * EF_EUNREACHABLE when this process cannot watch it: a kernel without
 * pidfd_open, or a process that is not the container's (the engine lives
 * in another PID namespace, or a cgroup namespace hides the path). */
int ef_proc_watch_open(int *fd, long pid, const char *id);
/* True when the process behind `fd` has exited (the descriptor is readable). */
int ef_proc_watch_exited(int fd);
void ef_proc_watch_close(int fd);

/* Pure, for tests: whether /proc/PID/cgroup's text names container `id`
 * (the full id, not followed by another hex digit). */
int ef_proc_cgroup_names(const char *cgroup_text, const char *id);

#endif
