/* The engine-level container spec built from a Compose service (spec.h). */
#include "edgeflip/spec.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copies a vector; *ok turns false when out of memory. NULL stays NULL. */
static char **dupv(char *const *v, bool *ok)
{
	char **copy;

	if (!v)
		return NULL;
	/* set and empty stays set: "Entrypoint": [] clears the image's */
	if (!(copy = v[0] ? ef_strv_dup(v) : calloc(1, sizeof(*copy))))
		*ok = false;
	return copy;
}

static char *dups(const char *s, bool *ok)
{
	char *copy;

	if (!s)
		return NULL;
	if (!(copy = strdup(s)))
		*ok = false;
	return copy;
}

/* "no" | "always" | "unless-stopped" | "on-failure[:N]" */
static int parse_restart(ef_container_spec *spec, const ef_service *svc)
{
	const char *r = svc->restart;

	spec->restart = EF_RESTART_NO;
	spec->restart_max = 0;
	if (!r || !*r || strcmp(r, "no") == 0)
		return 0;
	if (strcmp(r, "always") == 0) {
		spec->restart = EF_RESTART_ALWAYS;
	} else if (strcmp(r, "unless-stopped") == 0) {
		spec->restart = EF_RESTART_UNLESS_STOPPED;
	} else if (strcmp(r, "on-failure") == 0) {
		spec->restart = EF_RESTART_ON_FAILURE;
	} else if (strncmp(r, "on-failure:", 11) == 0) {
		const char *n = r + 11;
		char *end;
		long retries = strtol(n, &end, 10);

		if (*n < '0' || *n > '9' || *end != '\0' || retries < 0 || retries > 1000000) {
			ef_error_set("service %s: restart '%s': the retry count must be a number",
			             svc->name, r);
			return EF_EINVALID;
		}
		spec->restart = EF_RESTART_ON_FAILURE;
		spec->restart_max = (unsigned)retries;
	} else {
		ef_error_set("service %s: unknown restart policy '%s'", svc->name, r);
		return EF_EINVALID;
	}
	return 0;
}

/* "/dev/x[:/dev/y[:rwm]]" */
static int parse_devices(ef_container_spec *spec, const ef_service *svc)
{
	size_t n = ef_strv_len(svc->devices);

	if (n == 0)
		return 0;
	if (!(spec->devices = calloc(n, sizeof(*spec->devices))))
		return EF_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		ef_engine_device *d = &spec->devices[spec->ndevices];
		const char *s = svc->devices[i], *c1 = strchr(s, ':'),
		           *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		const char *perm = c2 ? c2 + 1 : "rwm";

		if (s[0] != '/' || (c1 && c1[1] != '/') || strlen(perm) > 3 ||
		    strspn(perm, "rwm") != strlen(perm)) {
			ef_error_set("service %s: device '%s' must be /dev/x[:/dev/y[:rwm]]",
			             svc->name, s);
			return EF_EINVALID;
		}
		d->host_path = c1 ? strndup(s, (size_t)(c1 - s)) : strdup(s);
		d->container_path =
		        c1 ? (c2 ? strndup(c1 + 1, (size_t)(c2 - c1 - 1)) : strdup(c1 + 1))
		           : strdup(s);
		snprintf(d->perms, sizeof(d->perms), "%s", perm[0] ? perm : "rwm");
		spec->ndevices++;
		if (!d->host_path || !d->container_path)
			return EF_ENOMEM;
	}
	return 0;
}

/* Published ports, then `expose` (container ports only: metadata, never
 * published). */
static int build_ports(ef_container_spec *spec, const ef_service *svc, const ef_spec_opts *o)
{
	size_t n = o && o->ports ? o->nports : svc->nports;

	if (n + svc->nexpose == 0)
		return 0;
	if (!(spec->ports = calloc(n + svc->nexpose, sizeof(*spec->ports))))
		return EF_ENOMEM;
	for (size_t i = 0; i < svc->nexpose; i++) {
		ef_engine_port *p = &spec->ports[n + i];

		p->container_port = svc->expose[i].container_port;
		memcpy(p->protocol, svc->expose[i].protocol, sizeof(p->protocol));
		p->protocol[sizeof(p->protocol) - 1] = '\0';
	}
	for (size_t i = 0; i < n; i++) {
		ef_engine_port *p = &spec->ports[i];

		if (o && o->ports) {
			*p = o->ports[i];
		} else {
			p->host_port = svc->ports[i].host_port;
			p->container_port = svc->ports[i].container_port;
			memcpy(p->protocol, svc->ports[i].protocol, sizeof(p->protocol));
			p->host_ip = svc->ports[i].host_ip;
		}
		p->protocol[sizeof(p->protocol) - 1] = '\0';
		spec->nports++;
		if (p->host_ip && !(p->host_ip = strdup(p->host_ip)))
			return EF_ENOMEM;
	}
	spec->nports += svc->nexpose;
	return 0;
}

/* A size with an optional unit: "64m", "1g", "4096". */
static bool parse_size(const char *s, int64_t *out)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	if (*s < '0' || *s > '9')
		return false;
	v = strtoull(s, &end, 10);
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	default:
		break;
	}
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end || v > (1ULL << (62 - shift)))
		return false;
	*out = (int64_t)(v << shift);
	return true;
}

/* `tmpfs: ["/run:size=64m,mode=1777"]`. */
static int tmpfs_mount(ef_engine_mount *e, const ef_service *svc, const char *item)
{
	const char *colon = strchr(item, ':');
	char *opts, *save = NULL, *o;
	int error = 0;

	e->type = EF_ENGINE_MOUNT_TMPFS;
	if (!(e->target = colon ? strndup(item, (size_t)(colon - item)) : strdup(item)))
		return EF_ENOMEM;
	if (e->target[0] != '/') {
		ef_error_set("service %s: tmpfs '%s': the path must be absolute", svc->name, item);
		return EF_EINVALID;
	}
	if (!colon)
		return 0;
	if (!(opts = strdup(colon + 1)))
		return EF_ENOMEM;
	for (o = strtok_r(opts, ",", &save); o && error == 0; o = strtok_r(NULL, ",", &save)) {
		char *end;
		unsigned long mode;

		if (strncmp(o, "size=", 5) == 0 && parse_size(o + 5, &e->tmpfs_size))
			continue;
		if (strncmp(o, "mode=", 5) == 0 && (mode = strtoul(o + 5, &end, 8)) <= 07777 &&
		    !*end && o[5]) {
			e->tmpfs_mode = (uint32_t)mode;
			continue;
		}
		if (strcmp(o, "ro") == 0) {
			e->read_only = true;
			continue;
		}
		if (strcmp(o, "rw") == 0)
			continue;
		ef_error_set("service %s: tmpfs '%s': option '%s' is not supported (size=N[kmg], "
		             "mode=OCTAL, ro, rw)",
		             svc->name, item, o);
		error = EF_EINVALID;
	}
	free(opts);
	return error;
}

/* "1000" -> 1000; NULL -> -1. */
static int parse_id(long *out, const ef_service *svc, const char *what, const char *s)
{
	char *end;

	*out = -1;
	if (!s || !*s)
		return 0;
	*out = strtol(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || *out < 0 || *out > 0x7fffffffL) {
		ef_error_set("service %s: %s '%s' must be a number (names are not looked up on "
		             "the device)",
		             svc->name, what, s);
		return EF_EINVALID;
	}
	return 0;
}

/* A secret or config: its content written to a file on the device (files.c)
 * and bound read-only at its target. */
static int file_mount(ef_engine_mount *e, const ef_service *svc, const ef_spec_opts *o,
                      const ef_file_ref *ref, bool secret)
{
	const char *what = secret ? "secret" : "config";
	const ef_file_source *fs = NULL;
	ef_buf content = EF_BUF_INIT(EF_FILES_MAX_FILE);
	const char *name;
	unsigned mode;
	long uid, gid;
	int error;

	if (o && o->manifest)
		fs = secret ? ef_manifest_secret(o->manifest, ref->source)
		            : ef_manifest_config(o->manifest, ref->source);
	if (!fs) {
		ef_error_set("service %s: %s %s is not declared at the top level", svc->name, what,
		             ref->source);
		return EF_EINVALID;
	}
	if (!o->files) {
		ef_error_set("service %s: %s %s: no place for files on this device", svc->name,
		             what, ref->source);
		return EF_EINVALID;
	}
	if ((error = parse_id(&uid, svc, "uid", ref->uid)) < 0 ||
	    (error = parse_id(&gid, svc, "gid", ref->gid)) < 0)
		goto out;
	if (fs->content) {
		error = ef_buf_puts(&content, fs->content);
	} else if (fs->file && o->files->src) {
		error = o->files->src->read(o->files->src->ctx, &content, fs->file,
		                            EF_FILES_MAX_FILE);
		if (error < 0)
			ef_error_prefix("service %s: %s %s: file %s", svc->name, what, ref->source,
			                fs->file);
	} else {
		ef_error_set("service %s: %s %s: only `file:` in the environment directory%s is "
		             "supported on the device",
		             svc->name, what, ref->source, secret ? "" : " and `content:`");
		error = EF_EINVALID;
	}
	if (error < 0)
		goto out;
	name = strrchr(ref->target, '/') ? strrchr(ref->target, '/') + 1 : ref->target;
	name = *name ? name : ref->source;
	mode = ref->mode ? ref->mode : (secret ? 0400 : 0444);
	e->type = EF_ENGINE_MOUNT_BIND;
	e->read_only = true;
	/* A SOPS-encrypted secret file is decrypted into a tmpfs; any other
	 * content is copied under the state directory. */
	if (secret && fs->file &&
	    (error = ef_files_put_secret(&e->source, o->files, fs->file, name, content.ptr,
	                                 content.len, mode, uid, gid)) < 0) {
		ef_error_prefix("service %s: secret %s", svc->name, ref->source);
		goto out;
	}
	if ((!e->source && (error = ef_files_put(&e->source, o->files, name, content.ptr,
	                                         content.len, mode, uid, gid)) < 0) ||
	    !(e->target = strdup(ref->target)))
		error = error < 0 ? error : EF_ENOMEM;
out:
	ef_buf_dispose_secret(&content);
	return error;
}

static int build_mounts(ef_container_spec *spec, const ef_service *svc, const ef_spec_opts *o)
{
	size_t ntmpfs = ef_strv_len(svc->tmpfs), nfiles = svc->nsecrets + svc->nconfigs;

	if (svc->nvolumes + ntmpfs + nfiles == 0)
		return 0;
	if (!(spec->mounts = calloc(svc->nvolumes + ntmpfs + nfiles, sizeof(*spec->mounts))))
		return EF_ENOMEM;
	for (size_t i = 0; i < nfiles; i++) {
		bool secret = i < svc->nsecrets;
		int error = file_mount(&spec->mounts[spec->nmounts++], svc, o,
		                       secret ? &svc->secrets[i] : &svc->configs[i - svc->nsecrets],
		                       secret);
		if (error < 0)
			return error;
	}
	for (size_t i = 0; i < ntmpfs; i++) {
		int error = tmpfs_mount(&spec->mounts[spec->nmounts++], svc, svc->tmpfs[i]);
		if (error < 0)
			return error;
	}
	for (size_t i = 0; i < svc->nvolumes; i++) {
		const ef_mount *m = &svc->volumes[i];
		ef_engine_mount *e = &spec->mounts[spec->nmounts++];
		bool ok = true;

		switch (m->type) {
		case EF_MOUNT_BIND:
			e->type = EF_ENGINE_MOUNT_BIND;
			break;
		case EF_MOUNT_VOLUME:
			e->type = EF_ENGINE_MOUNT_VOLUME;
			break;
		case EF_MOUNT_TMPFS:
			e->type = EF_ENGINE_MOUNT_TMPFS;
			break;
		}
		if (!m->target || m->target[0] != '/') {
			ef_error_set("service %s: volumes[%zu]: the target must be an absolute "
			             "path",
			             svc->name, i);
			return EF_EINVALID;
		}
		if (e->type == EF_ENGINE_MOUNT_BIND && (m->relative || m->home) && o && o->files &&
		    m->source) {
			ef_files_kind kind;
			int error = ef_files_bind(&e->source, &kind, o->files, m->source, m->home);
			if (error < 0) {
				ef_error_prefix("service %s: volumes[%zu]: %s%s", svc->name, i,
				                m->home ? "~/" : "./", m->source);
				return error;
			}
		} else if (e->type == EF_ENGINE_MOUNT_BIND && (!m->source || m->source[0] != '/')) {
			ef_error_set("service %s: volumes[%zu]: bind mount to %s needs an "
			             "absolute source path",
			             svc->name, i, m->target);
			return EF_EINVALID;
		}
		if (m->subpath) {
			ef_error_set("service %s: volumes[%zu]: volume.subpath is not supported "
			             "by the engine API edgeflip speaks (v1.41); mount the whole "
			             "volume",
			             svc->name, i);
			return EF_EINVALID;
		}
		if (!e->source)
			e->source = e->type == EF_ENGINE_MOUNT_TMPFS ? NULL : dups(m->source, &ok);
		e->target = dups(m->target, &ok);
		e->read_only = m->read_only;
		e->propagation = dups(m->propagation, &ok);
		e->no_copy = m->nocopy;
		e->tmpfs_size = m->tmpfs_size;
		e->tmpfs_mode = m->tmpfs_mode;
		if (!ok)
			return EF_ENOMEM;
	}
	return 0;
}

char *ef_spec_network_name(const char *prefix, const char *name)
{
	ef_buf b = EF_BUF_INIT(4096);

	if (ef_buf_printf(&b, "%s_%s", prefix ? prefix : "edgeflip", name) < 0) {
		ef_buf_dispose(&b);
		return NULL;
	}
	return ef_buf_detach(&b);
}

char *ef_spec_network_of(const ef_manifest *m, const char *key, const char *prefix)
{
	const ef_network *n = m ? ef_manifest_network(m, key) : NULL;

	if (n && n->name)
		return ef_strdup(n->name);
	return ef_spec_network_name(prefix, key);
}

static int cmp_priority(const void *a, const void *b)
{
	const ef_service_net *x = *(const ef_service_net *const *)a,
	                     *y = *(const ef_service_net *const *)b;

	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	return strcmp(x->network, y->network);
}

/* Networks: the service joins its Compose networks ("default" when it names
 * none and has no network_mode: Compose's `<project>_default`) with its
 * service name and its extra aliases as DNS names there, so that services
 * reach each other by name. The first (highest priority) is the container's
 * network mode. The aliases are also written in EF_LABEL_ALIASES so that a
 * flip, a rollback and recovery after a crash can move them between blue and
 * green (deploy.c). */
static int build_networks(ef_container_spec *spec, const ef_service *svc, const ef_spec_opts *o)
{
	static const ef_service_net fallback = {.network = "default"};
	const char *prefix = o && o->network_prefix ? o->network_prefix : "edgeflip";
	const ef_manifest *m = o ? o->manifest : NULL;
	const ef_service_net **order = NULL;
	size_t n = svc->nnetworks ? svc->nnetworks : 1;
	ef_buf label = EF_BUF_INIT(65536);
	int error = EF_ENOMEM;

	if (svc->network_mode)
		return 0;
	if (!(order = calloc(n, sizeof(*order))) ||
	    !(spec->networks = calloc(n, sizeof(*spec->networks))))
		goto out;
	for (size_t i = 0; i < n; i++)
		order[i] = svc->nnetworks ? &svc->networks[i] : &fallback;
	qsort(order, n, sizeof(*order), cmp_priority);
	if (ef_buf_printf(&label, "%s=", EF_LABEL_ALIASES) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		ef_engine_endpoint *ep = &spec->networks[spec->nnetworks++];
		char **names = NULL;

		if (!(ep->network = ef_spec_network_of(m, order[i]->network, prefix)) ||
		    ef_strv_push(&names, svc->name) < 0) {
			ef_strv_free(names);
			goto out;
		}
		for (size_t j = 0; order[i]->aliases && order[i]->aliases[j]; j++)
			if (!ef_strv_contains(names, order[i]->aliases[j]) &&
			    ef_strv_push(&names, order[i]->aliases[j]) < 0) {
				ef_strv_free(names);
				goto out;
			}
		if (ef_buf_printf(&label, "%s%s=", i ? ";" : "", ep->network) < 0) {
			ef_strv_free(names);
			goto out;
		}
		for (size_t j = 0; names[j]; j++)
			if (ef_buf_printf(&label, "%s%s", j ? "," : "", names[j]) < 0) {
				ef_strv_free(names);
				goto out;
			}
		if (o && o->aliases)
			ep->aliases = names;
		else
			ef_strv_free(names);
		if ((order[i]->ipv4_address &&
		     !(ep->ipv4_address = strdup(order[i]->ipv4_address))) ||
		    (order[i]->ipv6_address &&
		     !(ep->ipv6_address = strdup(order[i]->ipv6_address))))
			goto out;
	}
	if (ef_strv_push(&spec->labels, label.ptr) < 0)
		goto out;
	error = 0;
out:
	free(order);
	ef_buf_dispose(&label);
	return error;
}

/* Whether `environment:` sets NAME ("NAME=..." or "NAME"). */
static bool env_has(char *const *env, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; env && env[i]; i++)
		if (strncmp(env[i], name, n) == 0 && (env[i][n] == '=' || env[i][n] == '\0'))
			return true;
	return false;
}

/* `environment:`, then the variables of each env_file (later files win) that
 * `environment:` does not set, as Compose merges them. The files are read
 * (SOPS documents decrypted) from the environment directory each time a
 * spec is built: the plaintext lives in the spec (wiped by
 * ef_spec_dispose) and in the engine's create request only. */
static int build_env(ef_container_spec *spec, const ef_service *svc, const ef_spec_opts *o)
{
	ef_env vars;
	int error = 0;

	if (svc->environment && !(spec->env = ef_strv_dup(svc->environment)))
		return EF_ENOMEM;
	if (svc->nenv_files == 0 || !o || !o->files)
		return 0;
	ef_env_init(&vars);
	for (size_t i = 0; i < svc->nenv_files && error == 0; i++)
		if ((error = ef_files_env(&vars, o->files, &svc->env_files[i])) < 0)
			ef_error_prefix("service %s: env_file %s", svc->name,
			                svc->env_files[i].path);
		else
			error = 0; /* SOPS or plain */
	for (size_t i = 0; i < vars.n && error == 0; i++) {
		ef_buf b = EF_BUF_INIT(EF_FILES_MAX_FILE);

		if (env_has(svc->environment, vars.names[i]))
			continue;
		if ((error = ef_buf_printf(&b, "%s=%s", vars.names[i], vars.values[i])) == 0)
			error = ef_strv_push(&spec->env, b.ptr); /* a copy: ours is wiped */
		ef_buf_dispose_secret(&b);
	}
	for (size_t i = 0; i < vars.n; i++)
		ef_str_wipe(vars.values[i]);
	ef_env_dispose(&vars);
	return error;
}

/* Logging: as written, else a rotating default so that a chatty container
 * cannot fill a gateway's flash. */
static int build_logging(ef_container_spec *spec, const ef_service *svc)
{
	bool ok = true;

	if (svc->log_driver) {
		spec->log_driver = dups(svc->log_driver, &ok);
		spec->log_opts = dupv(svc->log_opts, &ok);
		return ok ? 0 : EF_ENOMEM;
	}
	spec->log_driver = dups(EF_SPEC_LOG_DRIVER, &ok);
	if (!ok || ef_strv_push(&spec->log_opts, "max-size=" EF_SPEC_LOG_MAX_SIZE) < 0 ||
	    ef_strv_push(&spec->log_opts, "max-file=" EF_SPEC_LOG_MAX_FILE) < 0)
		return EF_ENOMEM;
	return 0;
}

int ef_spec_build(ef_container_spec *out, const ef_service *svc, const ef_spec_opts *opts)
{
	ef_container_spec *s = out;
	bool ok = true;
	int error;

	memset(s, 0, sizeof(*s));
	s->stop_grace_s = -1;
	s->init = -1;
	s->image = dups(svc->image, &ok);
	s->cmd = dupv(svc->command, &ok);
	s->entrypoint = dupv(svc->entrypoint, &ok);
	s->labels = dupv(svc->labels, &ok);
	s->user = dups(svc->user, &ok);
	s->working_dir = dups(svc->working_dir, &ok);
	s->network_mode = dups(svc->network_mode, &ok);
	s->pid = dups(svc->pid, &ok);
	s->ipc = dups(svc->ipc, &ok);
	s->cap_add = dupv(svc->cap_add, &ok);
	s->cap_drop = dupv(svc->cap_drop, &ok);
	s->device_cgroup_rules = dupv(svc->device_cgroup_rules, &ok);
	if (svc->ndevice_requests &&
	    !(s->device_requests = calloc(svc->ndevice_requests, sizeof(*s->device_requests))))
		ok = false;
	for (size_t i = 0; s->device_requests && i < svc->ndevice_requests; i++) {
		const ef_device_request *d = &svc->device_requests[i];
		ef_engine_device_request *o = &s->device_requests[i];
		s->ndevice_requests = i + 1;
		o->driver = dups(d->driver, &ok);
		o->count = d->count;
		o->device_ids = dupv(d->device_ids, &ok);
		o->capabilities = dupv(d->capabilities, &ok);
		o->options = dupv(d->options, &ok);
	}
	s->memory = svc->mem_limit;
	s->memory_reservation = svc->mem_reservation;
	s->memory_swap = svc->memswap_limit;
	s->nano_cpus = svc->nano_cpus;
	s->pids_limit = svc->pids_limit;
	s->cpu_shares = svc->cpu_shares;
	s->cpuset = dups(svc->cpuset, &ok);
	s->shm_size = svc->shm_size;
	s->privileged = svc->privileged;
	s->read_only = svc->read_only;
	s->hostname = dups(svc->hostname, &ok);
	s->domainname = dups(svc->domainname, &ok);
	s->tty = svc->tty;
	s->stdin_open = svc->stdin_open;
	s->stop_signal = dups(svc->stop_signal, &ok);
	if (svc->stop_grace_period_ms)
		s->stop_grace_s = (int)((svc->stop_grace_period_ms + 999) / 1000);
	if (svc->init)
		s->init = 1;
	s->extra_hosts = dupv(svc->extra_hosts, &ok);
	s->dns = dupv(svc->dns, &ok);
	s->dns_search = dupv(svc->dns_search, &ok);
	s->dns_opt = dupv(svc->dns_opt, &ok);
	s->sysctls = dupv(svc->sysctls, &ok);
	s->group_add = dupv(svc->group_add, &ok);
	s->security_opt = dupv(svc->security_opt, &ok);
	if (svc->nulimits && (s->ulimits = calloc(svc->nulimits, sizeof(*s->ulimits)))) {
		for (size_t i = 0; i < svc->nulimits; i++) {
			s->ulimits[i].name = dups(svc->ulimits[i].name, &ok);
			s->ulimits[i].soft = svc->ulimits[i].soft;
			s->ulimits[i].hard = svc->ulimits[i].hard;
			s->nulimits++;
		}
	} else if (svc->nulimits) {
		ok = false;
	}
	error = EF_ENOMEM;
	if (!ok)
		goto out;
	if (svc->container_name) {
		ef_buf b = EF_BUF_INIT(4096);
		error = ef_buf_printf(&b, "%s=%s", EF_LABEL_NAME, svc->container_name);
		if (error == 0)
			error = ef_strv_push(&s->labels, b.ptr);
		ef_buf_dispose(&b);
		if (error < 0)
			goto out;
	}
	if ((error = build_env(s, svc, opts)) < 0 || (error = parse_restart(s, svc)) < 0 ||
	    (error = parse_devices(s, svc)) < 0 || (error = build_ports(s, svc, opts)) < 0 ||
	    (error = build_mounts(s, svc, opts)) < 0 ||
	    (error = build_networks(s, svc, opts)) < 0 || (error = build_logging(s, svc)) < 0)
		goto out;
	error = 0;
out:
	if (error == EF_ENOMEM)
		ef_error_set("out of memory");
	if (error < 0)
		ef_spec_dispose(s);
	return error;
}

void ef_spec_dispose(ef_container_spec *s)
{
	if (!s)
		return;
	free(s->image);
	ef_strv_free(s->cmd);
	ef_strv_free(s->entrypoint);
	ef_strv_free_secret(s->env); /* may hold decrypted env_file values */
	ef_strv_free(s->labels);
	free(s->user);
	free(s->working_dir);
	free(s->hostname);
	free(s->domainname);
	free(s->stop_signal);
	free(s->cpuset);
	for (size_t i = 0; i < s->nports; i++)
		free(s->ports[i].host_ip);
	free(s->ports);
	for (size_t i = 0; i < s->nmounts; i++) {
		free(s->mounts[i].source);
		free(s->mounts[i].target);
		free(s->mounts[i].propagation);
	}
	free(s->mounts);
	for (size_t i = 0; i < s->nnetworks; i++) {
		free(s->networks[i].network);
		ef_strv_free(s->networks[i].aliases);
		free(s->networks[i].ipv4_address);
		free(s->networks[i].ipv6_address);
	}
	free(s->networks);
	free(s->network_mode);
	free(s->pid);
	free(s->ipc);
	for (size_t i = 0; i < s->nulimits; i++)
		free(s->ulimits[i].name);
	free(s->ulimits);
	ef_strv_free(s->sysctls);
	ef_strv_free(s->extra_hosts);
	ef_strv_free(s->dns);
	ef_strv_free(s->dns_search);
	ef_strv_free(s->dns_opt);
	ef_strv_free(s->group_add);
	ef_strv_free(s->security_opt);
	ef_strv_free(s->cap_add);
	ef_strv_free(s->cap_drop);
	for (size_t i = 0; i < s->ndevices; i++) {
		free(s->devices[i].host_path);
		free(s->devices[i].container_path);
	}
	free(s->devices);
	ef_strv_free(s->device_cgroup_rules);
	for (size_t i = 0; i < s->ndevice_requests; i++) {
		free(s->device_requests[i].driver);
		ef_strv_free(s->device_requests[i].device_ids);
		ef_strv_free(s->device_requests[i].capabilities);
		ef_strv_free(s->device_requests[i].options);
	}
	free(s->device_requests);
	free(s->log_driver);
	ef_strv_free(s->log_opts);
	memset(s, 0, sizeof(*s));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ef_spec_networks(char ***out, const ef_manifest *m, const char *prefix)
{
	char **names = NULL;
	int error = 0;

	*out = NULL;
	for (size_t i = 0; i < m->nservices && error == 0; i++) {
		const ef_service *svc = &m->services[i];
		size_t n = svc->nnetworks ? svc->nnetworks : 1;

		if (svc->network_mode)
			continue;
		for (size_t j = 0; j < n && error == 0; j++) {
			char *name = ef_spec_network_of(
			        m, svc->nnetworks ? svc->networks[j].network : "default", prefix);
			if (!name)
				error = EF_ENOMEM;
			else if (!ef_strv_contains(names, name))
				error = ef_strv_push_owned(&names, name);
			else
				free(name);
		}
	}
	if (error < 0) {
		ef_strv_free(names);
		return error;
	}
	if (names)
		qsort(names, ef_strv_len(names), sizeof(*names), cmp_str);
	*out = names;
	return 0;
}

void ef_spec_endpoints_free(ef_engine_endpoint *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].network);
		ef_strv_free(v[i].aliases);
	}
	free(v);
}

int ef_spec_aliases_parse(ef_engine_endpoint **out, size_t *n, const char *label)
{
	ef_engine_endpoint *v = NULL;
	size_t count = 0;
	char *copy = ef_strdup(label ? label : ""), *save = NULL, *item;
	int error = EF_ENOMEM;

	*out = NULL;
	*n = 0;
	if (!copy)
		goto out;
	for (item = strtok_r(copy, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(item, '=');
		ef_engine_endpoint *nv;

		if (!eq || eq == item) {
			ef_error_set("label %s: '%s' is not net=alias,...", EF_LABEL_ALIASES, item);
			error = EF_EINVALID;
			goto out;
		}
		*eq = '\0';
		if (!(nv = realloc(v, (count + 1) * sizeof(*v))))
			goto out;
		v = nv;
		memset(&v[count], 0, sizeof(v[count]));
		count++;
		if (!(v[count - 1].network = strdup(item)) ||
		    (eq[1] && ef_strv_split(&v[count - 1].aliases, eq + 1) < 0))
			goto out;
	}
	*out = v;
	*n = count;
	v = NULL;
	error = 0;
out:
	if (error == EF_ENOMEM)
		ef_error_set("out of memory");
	ef_spec_endpoints_free(v, count);
	free(copy);
	return error;
}

/* "linux/x86_64" -> os "linux", arch "amd64", variant "". */
static void split_platform(const char *p, char os[32], char arch[32], char variant[32])
{
	static const struct {
		const char *alias, *arch, *variant;
	} aliases[] = {{"x86_64", "amd64", ""}, {"x86-64", "amd64", ""}, {"aarch64", "arm64", ""},
	               {"armhf", "arm", "v7"},  {"armel", "arm", "v6"},  {"i386", "386", ""}};
	const char *s1 = strchr(p, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;

	snprintf(os, 32, "%.*s", (int)(s1 ? (size_t)(s1 - p) : strlen(p)), p);
	snprintf(arch, 32, "%.*s", s1 ? (int)(s2 ? (size_t)(s2 - s1 - 1) : strlen(s1 + 1)) : 0,
	         s1 ? s1 + 1 : "");
	snprintf(variant, 32, "%s", s2 ? s2 + 1 : "");
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		if (strcmp(arch, aliases[i].alias) == 0) {
			snprintf(arch, 32, "%s", aliases[i].arch);
			if (!variant[0])
				snprintf(variant, 32, "%s", aliases[i].variant);
		}
	}
	if (strcmp(arch, "arm64") == 0 && strcmp(variant, "v8") == 0)
		variant[0] = '\0';
}

int ef_spec_platform_check(const char *service, const char *want, const char *native)
{
	char wos[32], warch[32], wvar[32], nos[32], narch[32], nvar[32];

	if (!want || !*want)
		return 0;
	split_platform(want, wos, warch, wvar);
	split_platform(native, nos, narch, nvar);
	if (strcmp(wos, nos) == 0 && strcmp(warch, narch) == 0 &&
	    (!wvar[0] || !nvar[0] || strcmp(wvar, nvar) == 0))
		return 0;
	ef_error_set("service %s: platform %s does not run on this device (%s); remove `platform` "
	             "or publish an image for %s",
	             service, want, native, native);
	return EF_EREJECTED;
}
