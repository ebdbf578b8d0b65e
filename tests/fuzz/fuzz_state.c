/* Fuzzes the state journal parser: whatever a damaged disk hands back must
 * be refused cleanly or parsed into a state that serializes and parses back
 * to the same thing. */
#include "edgeflip/error.h"
#include "edgeflip/state.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ef_state st, back;
	char *json = NULL;

	if (ef_state_from_json(&st, (const char *)data, size) < 0) {
		ef_state_dispose(&st);
		return 0;
	}
	if (ef_state_to_json(&json, &st) < 0)
		abort();
	/* What we write we must read back the same (save refuses a journal
	 * past the size cap, so that case never reaches the disk). */
	if (strlen(json) <= EF_STATE_MAX_BYTES) {
		if (ef_state_from_json(&back, json, strlen(json)) < 0)
			abort();
		if (!ef_state_equal(&st, &back))
			abort();
		ef_state_dispose(&back);
	}
	/* The helpers on a parsed state. */
	(void)ef_state_is_quarantined(&st, st.revision);
	(void)ef_state_find_service(&st, "web");
	free(json);
	ef_state_dispose(&st);
	return 0;
}
