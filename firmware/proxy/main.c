/* edgeflip-proxy: the traffic proxy as its own small executable. It links
 * only what forwarding needs (no libgit2, mbedTLS or libcurl), so the process
 * that must outlive the agent also costs little memory. `edgeflip proxy`
 * runs the same code where this executable is not installed. */
#include "edgeflip/proxy.h"

int main(int argc, char **argv)
{
	return ef_proxy_main(argc, argv);
}
