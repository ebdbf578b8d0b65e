# shellcheck shell=bash
# The set-up every end-to-end suite of the agent shares, in one line:
#
#   here=$(cd "$(dirname "$0")" && pwd)
#   source "$here/../lib/e2e.sh"
#   ef_e2e_suite NAME [KEY=VALUE...]
#
# Sourcing it sources check.sh (ef_check, ef_summary), git-server.sh,
# engine.sh and agent.sh; it starts nothing. ef_e2e_suite NAME starts the
# fixtures (ef_e2e_start NAME: HTTPS Git server, registry, Podman, GitOps
# repository, stopped on exit), writes the agent's configuration in
# $work/agent (ef_agent_config, KEY=VALUE overrides such as deploy.soak=2s)
# and sets:
#   env  the production environment folder of the GitOps work tree
#   log  $work/agent.log, where the suite sends the agent's stderr
# A suite that needs something before the fixtures, or another agent folder,
# calls ef_e2e_start and ef_agent_config itself.

EF_E2E_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/check.sh
source "$EF_E2E_LIB_DIR/check.sh"
# shellcheck source=tests/lib/git-server.sh
source "$EF_E2E_LIB_DIR/git-server.sh"
# shellcheck source=tests/lib/engine.sh
source "$EF_E2E_LIB_DIR/engine.sh"
# shellcheck source=tests/lib/agent.sh
source "$EF_E2E_LIB_DIR/agent.sh"

ef_e2e_suite()
{
	local name=$1
	shift
	ef_e2e_start "$name"
	ef_agent_config "$work/agent" "$@"
	env=$EF_OPS_DIR/work/environments/production
	log=$work/agent.log
}
