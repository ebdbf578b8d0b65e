#include "edgeflip/error.h"

#include <stdio.h>

int main(int argc, char **argv)
{
	printf("edgeflip %s\n", EF_VERSION);
	return 0;
}
