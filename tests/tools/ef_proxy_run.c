/* Runs the traffic proxy process (`edgeflip proxy ...`) until the CLI wires
 * the sub-command: ef_proxy_run proxy --state-dir DIR [options]. */
#include "edgeflip/proxy.h"

int main(int argc, char **argv)
{
	return ef_proxy_main(argc, argv);
}
