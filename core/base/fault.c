#include "edgeflip/fault.h"

#ifdef EF_FAULT_INJECTION
#include "edgeflip/log.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Every crash point, in the order a deploy passes them. */
const char *const ef_fault_points[] = {
        "after-fetch",   "after-verify", "after-journal",
        "during-pull",   "after-create", "during-health",
        "before-flip",   "after-flip",   "during-aliases",
        "during-rename", "during-soak",  "during-retire",
        "during-undo",   NULL,
};

static unsigned hits;

void ef_fault_point(const char *name)
{
	const char *want = getenv("EDGEFLIP_FAULT");
	size_t n;
	unsigned nth = 1;

	if (!want)
		return;
	n = strcspn(want, ":");
	if (strlen(name) != n || strncmp(want, name, n) != 0)
		return;
	if (want[n] == ':')
		nth = (unsigned)strtoul(want + n + 1, NULL, 10);
	if (++hits < nth)
		return;
	ef_warn("fault-injected", "point=%s action=SIGKILL", name);
	kill(getpid(), SIGKILL);
}

bool ef_fault_errno(const char *name, int err)
{
	static unsigned passes;
	const char *want = getenv("EDGEFLIP_FAULT_ERRNO");
	size_t n;

	if (!want)
		return false;
	n = strcspn(want, ":");
	if (strlen(name) != n || strncmp(want, name, n) != 0)
		return false;
	/* "<point>:<n>": only the n-th pass fails (a disk full for a moment). */
	if (want[n] == ':' && ++passes != (unsigned)strtoul(want + n + 1, NULL, 10))
		return false;
	errno = err;
	return true;
}
#endif
