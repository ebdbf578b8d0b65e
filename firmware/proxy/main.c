/* edgeflip-proxy: the traffic proxy as its own small executable. It links
 * only what forwarding needs (no libgit2, mbedTLS or libcurl), so the process
 * that must outlive the agent also costs little memory. `edgeflip proxy`
 * runs the same code where this executable is not installed. */
#include "edgeflip/proxy.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("edgeflip-proxy %s\n", EF_VERSION);
		return 0;
	}
	return ef_proxy_main(argc, argv);
}
