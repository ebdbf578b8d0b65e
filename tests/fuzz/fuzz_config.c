/* libFuzzer target: the INI configuration (ef_config_parse_string). */
#include "edgeflip/config.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ef_config cfg;

	if (ef_config_parse_string(&cfg, (const char *)data, size, "fuzz.ini") == 0)
		ef_config_dispose(&cfg);
	return 0;
}
