/* lint DIR [--policy FILE]: the manifest rules and a policy, for the GitOps
 * repository's own CI. Without --policy the strictest policy applies (images
 * pinned by digest, nothing privileged, no host namespaces, no devices, no
 * added capabilities, no bind mounts). */
#include "cli.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/manifest.h"
#include "edgeflip/policy.h"

#include <stdio.h>
#include <string.h>

int cmd_lint(const cli *c)
{
	const char *dir = NULL, *policy_file = NULL;
	char path[4200];
	ef_policy policy;
	ef_manifest *m = NULL;
	char **findings = NULL;
	ef_buf b;
	int rc = 0;

	for (int i = 0; i < c->argc; i++) {
		if (!strcmp(c->argv[i], "--policy") && i + 1 < c->argc)
			policy_file = c->argv[++i];
		else if (!dir && c->argv[i][0] != '-')
			dir = c->argv[i];
		else
			dir = NULL, i = c->argc;
	}
	if (!dir) {
		fprintf(stderr, "usage: edgeflip lint DIR [--policy FILE]\n");
		return EF_EXIT_USAGE;
	}
	memset(&policy, 0, sizeof(policy));
	if (policy_file && ef_config_load_policy(&policy, policy_file) < 0) {
		fprintf(stderr, "edgeflip: %s\n", ef_error_last());
		return EF_EXIT_USAGE;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, EF_MANIFEST_FILE);
	if (ef_read_file(&b, path, 1u << 20) < 0) {
		printf("%s\n", ef_error_last());
		rc = EF_EXIT_REJECTED;
		goto out;
	}
	if (ef_manifest_parse(&m, b.ptr, b.len, path) < 0) {
		printf("%s\n", ef_error_last());
		rc = EF_EXIT_REJECTED;
		goto out;
	}
	if (ef_policy_check(&findings, &policy, m) < 0) {
		for (size_t i = 0; findings && findings[i]; i++)
			printf("%s: %s\n", path, findings[i]);
		rc = EF_EXIT_REJECTED;
	} else {
		printf("%s: ok (%zu services)\n", path, m->nservices);
	}
out:
	ef_strv_free(findings);
	ef_manifest_free(m);
	ef_buf_dispose(&b);
	ef_policy_dispose(&policy);
	return rc;
}
