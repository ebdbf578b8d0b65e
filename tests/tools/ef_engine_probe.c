/* Drives the container engine backend from the command line for the
 * integration tests. Prints key=value lines; on failure prints
 * "error=<name>" and "message=<text>" and exits with the negated error code
 * (3 not-found, 8 timeout, 9 unreachable, 1 other). */
#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/log.h"
#include "edgeflip/sys/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
        "usage: ef_engine_probe --endpoint unix:///PATH [--timeout MS] [--pull-timeout MS]\n"
        "                       [--max-reply BYTES] [--slot S] [--revision R] [-v]\n"
        "   ping | pull REF | run NAME REF [IP:]HOSTPORT:CPORT | list | inspect ID |\n"
        "   stop ID [SECS] | rm ID | exec ID CMD... | rename ID NAME |\n"
        "   net-create NAME | net-rm NAME | net-ls | connect NET ID [ALIAS...] |\n"
        "   disconnect NET ID\n"
        "   (run takes --net NET[:ALIAS,...], --mount TYPE:SRC:DST, --cmd 'sh -c ...')\n";

static const char *const state_names[] = {"unknown", "created", "running", "restarting",
                                          "paused",  "exited",  "dead"};

static const char *opt(const char *s)
{
	return s ? s : "";
}

static void print_container(const ef_container *c, bool full)
{
	printf("id=%s\nname=%s\nimage=%s\nstate=%s\nservice=%s\nslot=%s\nrevision=%s\nspec=%s\n",
	       c->id, opt(c->name), opt(c->image), state_names[c->state], opt(c->service),
	       opt(c->slot), opt(c->revision), opt(c->spec));
	if (!full)
		return;
	printf("exit_code=%d\nrestart_count=%u\nhealth=%s\nip=%s\n", c->exit_code, c->restart_count,
	       opt(c->health), opt(c->ip_address));
	for (size_t i = 0; i < c->nports; i++)
		printf("port=%u/%s->%s:%u\n", c->ports[i].container_port, c->ports[i].protocol,
		       c->ports[i].host_ip ? c->ports[i].host_ip : "*", c->ports[i].host_port);
}

/* "[IP:]HOSTPORT:CPORT" */
static int parse_binding(ef_engine_port *p, char *spec)
{
	char *last = strrchr(spec, ':'), *prev;

	if (!last)
		return -1;
	*last = '\0';
	p->container_port = (uint16_t)atoi(last + 1);
	prev = strrchr(spec, ':');
	if (prev) {
		*prev = '\0';
		p->host_ip = spec;
		p->host_port = (uint16_t)atoi(prev + 1);
	} else {
		p->host_ip = "127.0.0.1";
		p->host_port = (uint16_t)atoi(spec);
	}
	memcpy(p->protocol, "tcp", 4);
	return p->container_port && p->host_port ? 0 : -1;
}

int main(int argc, char **argv)
{
	ef_engine_opts opts = {0};
	const char *endpoint = NULL, *slot = "blue",
	           *revision = "0000000000000000000000000000000000000000";
	ef_engine *e = NULL;
	ef_engine_endpoint net = {0};
	ef_engine_mount mount = {0};
	char *shcmd[] = {"/bin/sh", "-c", NULL, NULL};
	char *aliases = NULL;
	int i = 1, error = EF_EINVALID;
	const char *cmd;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-v") == 0)
			ef_log_threshold = EF_LOG_DEBUG;
		else if (i + 1 >= argc)
			break;
		else if (strcmp(argv[i], "--endpoint") == 0)
			endpoint = argv[++i];
		else if (strcmp(argv[i], "--timeout") == 0)
			opts.timeout_ms = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--pull-timeout") == 0)
			opts.pull_timeout_ms = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--max-reply") == 0)
			opts.max_reply_bytes = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--slot") == 0)
			slot = argv[++i];
		else if (strcmp(argv[i], "--revision") == 0)
			revision = argv[++i];
		else if (strcmp(argv[i], "--cmd") == 0)
			shcmd[2] = argv[++i];
		else if (strcmp(argv[i], "--net") == 0) {
			net.network = argv[++i];
			if ((aliases = strchr(net.network, ':'))) {
				*aliases++ = '\0';
				ef_strv_split(&net.aliases, aliases);
			}
		} else if (strcmp(argv[i], "--mount") == 0) {
			char *t = argv[++i], *src = strchr(t, ':'),
			     *dst = src ? strchr(src + 1, ':') : NULL;
			if (!dst)
				break;
			*src++ = '\0';
			*dst++ = '\0';
			mount.type = strcmp(t, "bind") == 0    ? EF_ENGINE_MOUNT_BIND
			             : strcmp(t, "tmpfs") == 0 ? EF_ENGINE_MOUNT_TMPFS
			                                       : EF_ENGINE_MOUNT_VOLUME;
			mount.source = *src ? src : NULL;
			mount.target = dst;
		} else
			break;
	}
	if (i >= argc || !endpoint) {
		fputs(usage, stderr);
		return 2;
	}
	cmd = argv[i++];
	if ((error = ef_engine_open(&e, "docker-api", endpoint, &opts)) < 0)
		goto out;

	if (strcmp(cmd, "ping") == 0 && i == argc) {
		if ((error = e->ops->ping(e)) == 0)
			printf("ok=1\n");
	} else if (strcmp(cmd, "pull") == 0 && i + 1 == argc) {
		if ((error = e->ops->pull(e, argv[i])) == 0)
			printf("pulled=%s\n", argv[i]);
	} else if (strcmp(cmd, "run") == 0 && i + 3 == argc) {
		ef_container_spec spec = {.stop_grace_s = -1, .init = -1};
		ef_engine_port port = {0};
		char *labels[] = {"io.edgeflip.test=probe", NULL};
		ef_create_req req = {0};
		char id[65];

		if (strcmp(argv[i + 2], "-") != 0 && parse_binding(&port, argv[i + 2]) < 0) {
			fputs(usage, stderr);
			error = 2;
			goto done;
		}
		spec.image = argv[i + 1];
		if (port.container_port) {
			spec.ports = &port;
			spec.nports = 1;
		}
		spec.labels = labels;
		if (net.network) {
			spec.networks = &net;
			spec.nnetworks = 1;
		}
		if (mount.target) {
			spec.mounts = &mount;
			spec.nmounts = 1;
		}
		if (shcmd[2])
			spec.cmd = shcmd;
		if (getenv("PROBE_STOP_SIGNAL"))
			spec.stop_signal = getenv("PROBE_STOP_SIGNAL");
		if (getenv("PROBE_CGROUP_RULE")) {
			static char *rules[2];
			rules[0] = getenv("PROBE_CGROUP_RULE");
			spec.device_cgroup_rules = rules;
		}
		if (getenv("PROBE_STOP_GRACE"))
			spec.stop_grace_s = atoi(getenv("PROBE_STOP_GRACE"));
		if (getenv("PROBE_GPU")) { /* gpus: [{driver: PROBE_GPU}] */
			static char *gpu[] = {"gpu", NULL};
			static ef_engine_device_request r = {NULL, -1, NULL, gpu, NULL};
			r.driver = getenv("PROBE_GPU");
			spec.device_requests = &r;
			spec.ndevice_requests = 1;
		}
		if (getenv("PROBE_NO_ENTRYPOINT")) { /* entrypoint: [] */
			static char *none[1];
			spec.entrypoint = none;
		}
		req.name = argv[i];
		req.spec = &spec;
		req.service = argv[i];
		req.spec_hash = "probe";
		req.slot = slot;
		req.revision = revision;
		if ((error = e->ops->pull(e, spec.image)) < 0 ||
		    (error = e->ops->create(e, id, &req)) < 0 || (error = e->ops->start(e, id)) < 0)
			goto out;
		printf("id=%s\n", id);
	} else if (strcmp(cmd, "list") == 0 && i == argc) {
		ef_container_list list;
		if ((error = e->ops->list(e, &list)) == 0) {
			printf("count=%zu\n", list.count);
			for (size_t k = 0; k < list.count; k++) {
				ef_container *c = &list.items[k];
				printf("container=%s name=%s service=%s slot=%s revision=%s "
				       "spec=%s state=%s image=%s\n",
				       c->id, opt(c->name), opt(c->service), opt(c->slot),
				       opt(c->revision), opt(c->spec), state_names[c->state],
				       opt(c->image));
			}
			ef_container_list_dispose(&list);
		}
	} else if (strcmp(cmd, "inspect") == 0 && i + 1 == argc) {
		ef_container c;
		if ((error = e->ops->inspect(e, &c, argv[i])) == 0) {
			print_container(&c, true);
			ef_container_dispose(&c);
		}
	} else if (strcmp(cmd, "stop") == 0 && (i + 1 == argc || i + 2 == argc)) {
		unsigned secs = i + 2 == argc ? (strcmp(argv[i + 1], "-") == 0
		                                         ? EF_STOP_CONFIGURED
		                                         : (unsigned)atoi(argv[i + 1]))
		                              : 10;
		if ((error = e->ops->stop(e, argv[i], secs)) == 0)
			printf("ok=1\n");
	} else if (strcmp(cmd, "rm") == 0 && i + 1 == argc) {
		if ((error = e->ops->remove(e, argv[i])) == 0)
			printf("ok=1\n");
	} else if (strcmp(cmd, "exec") == 0 && i + 2 <= argc) {
		int code;
		if ((error = e->ops->exec(e, &code, argv[i], &argv[i + 1], opts.timeout_ms)) == 0)
			printf("exit_code=%d\n", code);
	} else if (strcmp(cmd, "rename") == 0 && i + 2 == argc) {
		if ((error = e->ops->rename(e, argv[i], argv[i + 1])) == 0)
			printf("ok=1\n");
	} else if (strcmp(cmd, "net-create") == 0 && i + 1 == argc) {
		ef_network_req nreq = {.name = argv[i]};
		if ((error = e->ops->network_ensure(e, &nreq)) == 0)
			printf("ok=1\n");
	} else if (strcmp(cmd, "net-rm") == 0 && i + 1 == argc) {
		if ((error = e->ops->network_remove(e, argv[i])) == 0)
			printf("ok=1\n");
	} else if (strcmp(cmd, "net-ls") == 0 && i == argc) {
		char **names = NULL;
		if ((error = e->ops->network_list(e, &names, "edgeflip")) == 0) {
			for (size_t k = 0; names && names[k]; k++)
				printf("network=%s\n", names[k]);
			ef_strv_free(names);
		}
	} else if (strcmp(cmd, "connect") == 0 && i + 2 <= argc) {
		if ((error = e->ops->network_connect(e, argv[i], argv[i + 1],
		                                     i + 2 < argc ? &argv[i + 2] : NULL)) == 0)
			printf("ok=1\n");
	} else if (strcmp(cmd, "disconnect") == 0 && i + 2 == argc) {
		if ((error = e->ops->network_disconnect(e, argv[i], argv[i + 1])) == 0)
			printf("ok=1\n");
	} else {
		fputs(usage, stderr);
		error = 2;
		goto done;
	}
out:
	if (error < 0) {
		printf("error=%s\nmessage=%s\n", ef_error_name(error), ef_error_last());
		fprintf(stderr, "ef_engine_probe: %s\n", ef_error_last());
	}
done:
	ef_strv_free(net.aliases);
	ef_engine_close(e);
	if (error == 2)
		return 2;
	return error < 0 ? (error == EF_ERROR ? 1 : -error) : 0;
}
