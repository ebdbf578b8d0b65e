#include "cli.h"
#include "edgeflip/error.h"
#include "edgeflip/log.h"
#include "edgeflip/proxy.h"
#include "edgeflip/source.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
        "usage: edgeflip [-c FILE] [-v] COMMAND [ARGS]\n"
        "\n"
        "A GitOps agent for edge gateways: follows one environment directory of a Git\n"
        "repository over HTTPS, deploys only signed commits, flips traffic blue/green\n"
        "and flips back by itself when health checks fail.\n"
        "\n"
        "commands:\n"
        "  run             daemon: poll, reconcile, repeat\n"
        "  once            one reconcile pass, then exit\n"
        "  status [--json] what runs, which commit, signer, last result, quarantine\n"
        "  plan            what the next pass would do, changing nothing\n"
        "  verify [REV]    verify a commit (default: the branch head)\n"
        "  rollback        go back to the previous revision now\n"
        "  retry [REV]     lift the quarantine of REV (default: all), deploy it again\n"
        "  check-config    validate the configuration\n"
        "  kick            ask the running daemon to poll now\n"
        "  lint DIR [--policy FILE] [--format json] [--profile NAME]...\n"
        "           [--device ID] [--label K=V]... [--layers]\n"
        "                  validate an environment directory (for the GitOps repo's CI):\n"
        "                  every finding with file:line:column (--layers: the base and\n"
        "                  each labels/K=V/ and devices/ID/ layer on it)\n"
        "  config DIR [--env-file FILE] [--device ID] [--label K=V]... [--profile NAME]...\n"
        "                  print the merged, interpolated compose document as JSON,\n"
        "                  with the layers of that device id and those labels\n"
        "  import FILE     apply the branch tip of a `git bundle` (USB stick, air gap)\n"
        "                  exactly like a fetched commit\n"
        "  pin DIR [--check] [--ca-file F] [--http-registry HOST:PORT]...\n"
        "                  pin every image tag to its digest in place (--check: list\n"
        "                  unpinned images, exit 3)\n"
        "  promote SRC_DIR DST_DIR\n"
        "                  set DST's services to SRC's pinned images, in place\n"
        "  version         print the version\n"
        "\n"
        "options:\n"
        "  -c FILE         configuration (default " EF_DEFAULT_CONFIG ")\n"
        "  -v              debug logging (twice: trace)\n"
        "  -h, --help      this text\n"
        "\n"
        "exit status:\n"
        "  0  success, or nothing to do\n"
        "  1  other error\n"
        "  2  usage or configuration error\n"
        "  3  commit rejected by trust or policy (or invalid manifest; lint: findings)\n"
        "  4  deploy failed and was rolled back\n"
        "  5  source or engine unreachable\n";

int cli_load_config(ef_config *cfg, const cli *c)
{
	ef_log_level level;

	if (ef_config_load(cfg, c->config_path) < 0) {
		fprintf(stderr, "edgeflip: %s\n", ef_error_last());
		return EF_EXIT_USAGE;
	}
	if (ef_log_threshold == EF_LOG_INFO && ef_log_parse_level(&level, cfg->log_level) == 0)
		ef_log_threshold = level;
	return 0;
}

int cmd_check_config(const cli *c)
{
	ef_config cfg;
	int rc = cli_load_config(&cfg, c);

	if (rc)
		return rc;
	printf("%s: ok\n", c->config_path);
	if (cfg.insecure_skip_verify)
		printf("warning: [trust] insecure_skip_verify = true: commit signatures are NOT "
		       "verified\n");
	ef_config_dispose(&cfg);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(const cli *c);
} commands[] = {
        {"run", cmd_run},     {"once", cmd_once},       {"status", cmd_status},
        {"plan", cmd_plan},   {"verify", cmd_verify},   {"rollback", cmd_rollback},
        {"retry", cmd_retry}, {"import", cmd_import},   {"check-config", cmd_check_config},
        {"kick", cmd_kick},   {"lint", cmd_lint},       {"config", cmd_config},
        {"pin", cmd_pin},     {"promote", cmd_promote},
};

int main(int argc, char **argv)
{
	static char self[PATH_MAX];
	cli c = {.config_path = EF_DEFAULT_CONFIG};
	int i = 1;
	ssize_t n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0)
		self[n] = '\0';
	c.self_exe = n > 0 ? self : argv[0];
	if (getenv("EDGEFLIP_CONFIG"))
		c.config_path = getenv("EDGEFLIP_CONFIG");

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			c.config_path = argv[++i];
		} else if (!strcmp(argv[i], "-v")) {
			ef_log_threshold =
			        ef_log_threshold < EF_LOG_DEBUG ? EF_LOG_DEBUG : EF_LOG_TRACE;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("edgeflip %s\n", EF_VERSION);
			return 0;
		} else {
			fprintf(stderr, "edgeflip: unknown option '%s'\n\n%s", argv[i], usage);
			return EF_EXIT_USAGE;
		}
	}
	if (i >= argc) {
		fputs(usage, stderr);
		return EF_EXIT_USAGE;
	}
	if (!strcmp(argv[i], "version")) {
		printf("edgeflip %s\n", EF_VERSION);
		return 0;
	}
	if (!strcmp(argv[i], "help")) {
		fputs(usage, stdout);
		return 0;
	}
	/* Hidden: the traffic proxy process that the proxy switch starts. */
	if (!strcmp(argv[i], "proxy"))
		return ef_proxy_main(argc - i, argv + i);
	c.argc = argc - i - 1;
	c.argv = argv + i + 1;
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
		int rc;

		if (strcmp(argv[i], commands[k].name) != 0)
			continue;
		/* Everything edgeflip creates (journal, cache, locks, sockets)
		 * is for this user only: 0700 folders, 0600 files. */
		umask(077);
		if (ef_source_global_init() < 0) {
			fprintf(stderr, "edgeflip: %s\n", ef_error_last());
			return EF_EXIT_ERROR;
		}
		rc = commands[k].fn(&c);
		ef_source_global_shutdown();
		return rc;
	}
	fprintf(stderr, "edgeflip: unknown command '%s'\n\n%s", argv[i], usage);
	return EF_EXIT_USAGE;
}
