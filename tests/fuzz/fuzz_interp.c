/* libFuzzer target: `${VAR}` interpolation and .env files. The input's first
 * line is a template; the rest is a .env file whose variables it uses. */
#include "edgeflip/compose_read.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	size_t tlen = nl ? (size_t)(nl - (const char *)data) : size;
	char *tmpl = malloc(tlen + 1), *out = NULL, **unset = NULL;
	ef_buf err = EF_BUF_INIT(4096);
	ef_env env;
	int rc;

	if (!tmpl)
		return 0;
	memcpy(tmpl, data, tlen);
	tmpl[tlen] = '\0';
	ef_env_init(&env);
	if (nl)
		ef_dotenv_parse(&env, nl + 1, size - tlen - 1, "fuzz.env", NULL, NULL);
	rc = ef_compose_interp_string(&out, tmpl, &env, &err, &unset);
	if ((rc == 0) != (out != NULL))
		abort();
	if (rc == 0 && !strchr(tmpl, '$') && strcmp(out, tmpl) != 0)
		abort(); /* no $: unchanged */
	free(out);
	ef_strv_free(unset);
	ef_buf_dispose(&err);
	ef_env_dispose(&env);
	free(tmpl);
	return 0;
}
