/* What the daemon needs to watch the running set (docs/deploy.md "Drift"):
 * the containers' ids from the journal and their main processes. */
#include "agent_internal.h"
#include "edgeflip/error.h"
#include "edgeflip/sys/engine.h"

#include <stdio.h>

void ef_agent_events_live(ef_agent *a, bool live)
{
	a->events_live = live;
}

size_t ef_agent_running_ids(const ef_agent *a, ef_agent_proc *out, size_t max)
{
	for (size_t i = 0; i < a->st.nservices && i < max; i++) {
		snprintf(out[i].id, sizeof(out[i].id), "%s", a->st.services[i].container_id);
		out[i].pid = 0;
	}
	return a->st.nservices;
}

int ef_agent_running_pids(ef_agent *a, ef_agent_proc *procs, size_t n)
{
	int error;

	if ((error = ef_agent_open_engine(a)) < 0)
		return error;
	for (size_t i = 0; i < n; i++) {
		ef_container c;
		procs[i].pid = 0;
		error = a->engine->ops->inspect(a->engine, &c, procs[i].id);
		if (error == EF_ENOTFOUND)
			continue; /* gone: pid 0, the caller checks for drift */
		if (error < 0)
			return error;
		if (c.state == EF_CSTATE_RUNNING)
			procs[i].pid = c.pid;
		ef_container_dispose(&c);
	}
	return 0;
}
