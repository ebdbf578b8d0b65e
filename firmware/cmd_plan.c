/* plan and verify: look, change nothing that runs. */
#include "cli.h"
#include "edgeflip/error.h"
#include "edgeflip/sys/fs.h"
#include "edgeflip/verify.h"

#include <stdio.h>
#include <string.h>

int cmd_plan(const cli *c)
{
	ef_config cfg;
	ef_agent *a = NULL;
	int rc, error, pass = -1;

	if ((rc = cli_load_config(&cfg, c)))
		return rc;
	if ((error = cli_take_pass_lock(&pass, &cfg, CLI_PASS_WAIT_MS)) == 0 &&
	    (error = ef_agent_new(&a, &cfg, c->self_exe)) == 0)
		error = ef_agent_plan(a, stdout);
	if (error < 0)
		fprintf(stderr, "edgeflip: %s\n", ef_error_last());
	ef_agent_free(a);
	ef_fs_unlock(pass);
	ef_config_dispose(&cfg);
	if (error == EF_EINVALID && pass < 0)
		return EF_EXIT_USAGE; /* state_dir refused */
	return error < 0 ? ef_agent_exit_code(error) : 0;
}

int cmd_verify(const cli *c)
{
	ef_config cfg;
	ef_agent *a = NULL;
	ef_verify_result vr;
	char commit[EF_OID_HEX] = "";
	int rc, error, pass = -1;

	if (c->argc > 1) {
		fprintf(stderr, "usage: edgeflip verify [REV]\n");
		return EF_EXIT_USAGE;
	}
	if ((rc = cli_load_config(&cfg, c)))
		return rc;
	memset(&vr, 0, sizeof(vr));
	if ((error = cli_take_pass_lock(&pass, &cfg, CLI_PASS_WAIT_MS)) == 0 &&
	    (error = ef_agent_new(&a, &cfg, c->self_exe)) == 0)
		error = ef_agent_verify(a, &vr, commit, c->argc ? c->argv[0] : NULL);
	if (commit[0] && (error == 0 || error == EF_EREJECTED || vr.reason[0])) {
		printf("commit:  %s\n", commit);
		printf("verdict: %s\n", error == 0 ? "good" : "bad");
		printf("format:  %s\n", vr.format[0] ? vr.format : "-");
		printf("signer:  %s\n", vr.signer[0] ? vr.signer : "-");
		printf("key:     %s\n", vr.key[0] ? vr.key : "-");
		printf("reason:  %s\n", vr.reason[0] ? vr.reason : ef_error_last());
		/* What the commit asks the device to trust besides its signature. */
		if (error == 0 && (error = ef_agent_verify_contents(a, stdout, commit)) < 0 &&
		    error != EF_EREJECTED)
			fprintf(stderr, "edgeflip: %s\n", ef_error_last());
	} else if (error < 0) {
		fprintf(stderr, "edgeflip: %s\n", ef_error_last());
	}
	ef_agent_free(a);
	ef_fs_unlock(pass);
	ef_config_dispose(&cfg);
	if (error == EF_EINVALID && pass < 0)
		return EF_EXIT_USAGE; /* state_dir refused */
	if (error == EF_EINVALID && commit[0])
		error = EF_EREJECTED;
	return ef_agent_exit_code(error);
}
