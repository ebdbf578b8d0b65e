/* Fault injection for test builds (-DEF_FAULT_INJECTION=ON).
 *
 * EDGEFLIP_FAULT=<point>[:<n>] kills the agent (SIGKILL, as a power cut would)
 * the n-th time (default 1st) it passes the named point. The list of points
 * is in core/base/fault.c (ef_fault_points) and in docs/crash-safety.md.
 * EDGEFLIP_FAULT_ERRNO=<point>[:<n>] makes ef_fault_errno() report a failure
 * there (fs-write: every atomic write fails with ENOSPC; journal-commit: the
 * journal's COMMIT record), every time or only the n-th time.
 * In release builds both compile to nothing. */
#ifndef EDGEFLIP_FAULT_H
#define EDGEFLIP_FAULT_H

#include <stdbool.h>

#ifdef EF_FAULT_INJECTION
void ef_fault_point(const char *name);
bool ef_fault_errno(const char *name, int err);
extern const char *const ef_fault_points[];
#else
#define ef_fault_point(name)      ((void)0)
#define ef_fault_errno(name, err) false
#endif

#endif
