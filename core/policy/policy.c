/* The device-side policy ([policy] in the agent's configuration): what a
 * manifest may ask of this device. Every violation is reported, not just the
 * first. See docs/policy.md. */
#include "edgeflip/policy.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
	char **findings;
	int error; /* EF_ENOMEM once an allocation failed */
} report;

__attribute__((format(printf, 3, 4))) static void add(report *r, const ef_service *s,
                                                      const char *fmt, ...)
{
	ef_buf b = EF_BUF_INIT((size_t)1 << 16);
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ef_buf_printf(&b, "service %s: %s", s->name, msg) < 0 ||
	    ef_strv_push_owned(&r->findings, ef_buf_detach(&b)) < 0)
		r->error = EF_ENOMEM;
	ef_buf_dispose(&b);
}

static void check_image(report *r, const ef_policy *p, const ef_service *s)
{
	char *registry = NULL, *digest = NULL;

	if (ef_image_ref_split(s->image, &registry, NULL, NULL, &digest) < 0) {
		add(r, s, "%s", ef_error_last());
		return;
	}
	if (p->registries) {
		bool ok = false;
		for (size_t i = 0; p->registries[i] && !ok; i++)
			ok = strcasecmp(p->registries[i], registry) == 0;
		if (!ok)
			add(r, s,
			    "registry %s (image %s) is refused by the device policy; add it to "
			    "[policy] registries to allow it",
			    registry, s->image);
	}
	if (!digest && !p->allow_tags)
		add(r, s,
		    "image %s is not pinned by digest; pin it (name@sha256:...) or set [policy] "
		    "allow_tags = true",
		    s->image);
	free(registry);
	free(digest);
}

static void check_namespace(report *r, const ef_policy *p, const ef_service *s, const char *key,
                            const char *value)
{
	if (value && strcmp(value, "host") == 0 && !p->allow_host_namespaces)
		add(r, s,
		    "%s: host is refused by the device policy; set [policy] allow_host_namespaces "
		    "= true to allow it",
		    key);
}

/* "CAP_NET_ADMIN" and "net_admin" name the same capability. */
static const char *cap_base(const char *cap)
{
	return strncasecmp(cap, "CAP_", 4) == 0 ? cap + 4 : cap;
}

/* `ALL` in allowed_capabilities allows any capability, `cap_add: [ALL]` included;
 * `cap_add: [ALL]` needs exactly that. */
static void check_caps(report *r, const ef_policy *p, const ef_service *s)
{
	bool any = false;

	for (size_t k = 0; p->allowed_capabilities && p->allowed_capabilities[k]; k++)
		any = any || strcasecmp(cap_base(p->allowed_capabilities[k]), "ALL") == 0;
	for (size_t i = 0; s->cap_add && s->cap_add[i]; i++) {
		bool ok = any;
		for (size_t k = 0; p->allowed_capabilities && p->allowed_capabilities[k] && !ok;
		     k++)
			ok = strcasecmp(cap_base(p->allowed_capabilities[k]),
			                cap_base(s->cap_add[i])) == 0;
		if (ok)
			continue;
		if (strcasecmp(cap_base(s->cap_add[i]), "ALL") == 0)
			add(r, s,
			    "capability ALL (cap_add: every capability) is refused by the device "
			    "policy; add ALL to [policy] allowed_capabilities to allow it");
		else
			add(r, s,
			    "capability %s (cap_add) is refused by the device policy; add it to "
			    "[policy] allowed_capabilities to allow it",
			    s->cap_add[i]);
	}
}

/* "net.core.somaxconn" is allowed by "net.core.somaxconn" or "net.core.*". */
static void check_sysctls(report *r, const ef_policy *p, const ef_service *s)
{
	for (size_t i = 0; s->sysctls && s->sysctls[i]; i++) {
		size_t n = strcspn(s->sysctls[i], "=");
		bool ok = false;
		for (size_t k = 0; p->allowed_sysctls && p->allowed_sysctls[k] && !ok; k++) {
			const char *a = p->allowed_sysctls[k];
			size_t an = strlen(a);
			if (an >= 1 && a[an - 1] == '*')
				ok = n >= an - 1 && strncmp(s->sysctls[i], a, an - 1) == 0;
			else
				ok = an == n && strncmp(s->sysctls[i], a, n) == 0;
		}
		if (!ok)
			add(r, s,
			    "sysctl %.*s is refused by the device policy; add it (or a prefix such "
			    "as net.ipv4.*) to [policy] allowed_sysctls to allow it",
			    (int)n, s->sysctls[i]);
	}
}

static void check_security_opts(report *r, const ef_policy *p, const ef_service *s)
{
	for (size_t i = 0; s->security_opt && s->security_opt[i]; i++) {
		const char *o = s->security_opt[i];
		bool ok = !strcmp(o, "no-new-privileges") || !strcmp(o, "no-new-privileges:true") ||
		          !strcmp(o, "no-new-privileges=true");
		for (size_t k = 0; p->allowed_security_opts && p->allowed_security_opts[k] && !ok;
		     k++)
			ok = strcmp(p->allowed_security_opts[k], o) == 0;
		if (!ok)
			add(r, s,
			    "security_opt %s is refused by the device policy; add it to [policy] "
			    "allowed_security_opts to allow it",
			    o);
	}
}

/* Next path component of *p ("" and "." skipped); returns its length, 0 at the end. */
static size_t next_component(const char **p, const char **start)
{
	for (;;) {
		size_t n;
		while (**p == '/')
			(*p)++;
		n = strcspn(*p, "/");
		*start = *p;
		*p += n;
		if (n == 1 && (*start)[0] == '.')
			continue;
		return n;
	}
}

static bool has_dotdot(const char *path)
{
	const char *p = path, *c;
	size_t n;

	while ((n = next_component(&p, &c)) > 0)
		if (n == 2 && c[0] == '.' && c[1] == '.')
			return true;
	return false;
}

/* Whether `path` is `prefix` or below it, comparing whole components:
 * "/data" covers "/data/x" but not "/database". */
static bool under_prefix(const char *path, const char *prefix)
{
	const char *p = path, *q = prefix, *pc, *qc;
	size_t pn, qn;

	if (prefix[0] != '/' || has_dotdot(prefix))
		return false;
	while ((qn = next_component(&q, &qc)) > 0) {
		pn = next_component(&p, &pc);
		if (pn != qn || memcmp(pc, qc, qn) != 0)
			return false;
	}
	return true;
}

/* An absolute host path a service reads: under a bind_mounts prefix, no "..". */
static void check_host_path(report *r, const ef_policy *p, const ef_service *s, const char *what,
                            const char *path)
{
	bool ok = false;

	if (has_dotdot(path)) {
		add(r, s, "%s %s contains '..' and is refused; write the path without '..'", what,
		    path);
		return;
	}
	for (size_t k = 0; p->bind_mounts && p->bind_mounts[k] && !ok; k++)
		ok = under_prefix(path, p->bind_mounts[k]);
	if (!ok)
		add(r, s,
		    "%s %s is refused by the device policy; add %s (or a parent directory) to "
		    "[policy] bind_mounts to allow it",
		    what, path, path);
}

/* Secrets and configs read from an absolute path on the device. */
static void check_file_refs(report *r, const ef_policy *p, const ef_manifest *man,
                            const ef_service *s)
{
	for (size_t i = 0; i < s->nsecrets; i++) {
		const ef_file_source *f = ef_manifest_secret(man, s->secrets[i].source);
		if (f && f->file && f->file[0] == '/')
			check_host_path(r, p, s, "secret file", f->file);
	}
	for (size_t i = 0; i < s->nconfigs; i++) {
		const ef_file_source *f = ef_manifest_config(man, s->configs[i].source);
		if (f && f->file && f->file[0] == '/')
			check_host_path(r, p, s, "config file", f->file);
	}
}

/* Networks other than plain bridges reach the device's own links. */
static void check_networks(report *r, const ef_policy *p, const ef_manifest *man,
                           const ef_service *s)
{
	for (size_t i = 0; i < s->nnetworks; i++) {
		const ef_network *n = ef_manifest_network(man, s->networks[i].network);
		const char *kind;
		bool ok = false;

		if (!n)
			continue;
		kind = n->external ? "external" : n->driver ? n->driver : "bridge";
		if (!strcmp(kind, "bridge"))
			continue;
		for (size_t k = 0; p->network_drivers && p->network_drivers[k] && !ok; k++)
			ok = strcmp(p->network_drivers[k], kind) == 0;
		if (!ok)
			add(r, s,
			    "network %s (%s%s) is refused by the device policy; add %s to [policy] "
			    "network_drivers to allow it",
			    n->key, n->external ? "" : "driver ", kind, kind);
	}
}

static void check_mounts(report *r, const ef_policy *p, const ef_service *s)
{
	for (size_t i = 0; i < s->nvolumes; i++) {
		const ef_mount *m = &s->volumes[i];
		bool ok = false;

		if (m->type != EF_MOUNT_BIND || m->relative)
			continue; /* a relative source stays inside the environment's directory */
		if (!m->source || m->source[0] != '/') {
			add(r, s, "bind mount source %s is not an absolute path and is refused",
			    m->source ? m->source : "(none)");
			continue;
		}
		if (has_dotdot(m->source)) {
			add(r, s,
			    "bind mount source %s contains '..' and is refused; write the path "
			    "without '..'",
			    m->source);
			continue;
		}
		for (size_t k = 0; p->bind_mounts && p->bind_mounts[k] && !ok; k++)
			ok = under_prefix(m->source, p->bind_mounts[k]);
		if (!ok)
			add(r, s,
			    "bind mount of %s is refused by the device policy; add %s (or a parent "
			    "directory) to [policy] bind_mounts to allow it",
			    m->source, m->source);
	}
}

static void check_service(report *r, const ef_policy *p, const ef_manifest *m, const ef_service *s)
{
	check_image(r, p, s);
	if (s->privileged && !p->allow_privileged)
		add(r, s,
		    "privileged mode is refused by the device policy; set [policy] "
		    "allow_privileged = true to allow it");
	check_namespace(r, p, s, "network_mode", s->network_mode);
	check_namespace(r, p, s, "pid", s->pid);
	check_namespace(r, p, s, "ipc", s->ipc);
	check_caps(r, p, s);
	for (size_t i = 0; s->devices && s->devices[i] && !p->allow_devices; i++)
		add(r, s,
		    "device %s is refused by the device policy; set [policy] allow_devices = true "
		    "to allow it",
		    s->devices[i]);
	for (size_t i = 0; s->device_cgroup_rules && s->device_cgroup_rules[i] && !p->allow_devices;
	     i++)
		add(r, s,
		    "device cgroup rule \"%s\" is refused by the device policy; set [policy] "
		    "allow_devices = true to allow it",
		    s->device_cgroup_rules[i]);
	for (size_t i = 0; i < s->ndevice_requests && !p->allow_devices; i++)
		add(r, s,
		    "device request (GPUs: driver %s, capabilities %s%s) is refused by the device "
		    "policy; set [policy] allow_devices = true to allow it",
		    s->device_requests[i].driver ? s->device_requests[i].driver : "any",
		    s->device_requests[i].capabilities[0],
		    s->device_requests[i].capabilities[1] ? ", ..." : "");
	check_mounts(r, p, s);
	check_sysctls(r, p, s);
	check_security_opts(r, p, s);
	check_file_refs(r, p, m, s);
	check_networks(r, p, m, s);
}

int ef_policy_check(char ***out_findings, const ef_policy *p, const ef_manifest *m)
{
	report r = {NULL, 0};
	size_t n;

	*out_findings = NULL;
	for (size_t i = 0; m && i < m->nservices; i++)
		check_service(&r, p, m, &m->services[i]);
	if (r.error) {
		ef_strv_free(r.findings);
		ef_error_set("out of memory");
		return r.error;
	}
	n = ef_strv_len(r.findings);
	if (n == 0) {
		ef_error_clear();
		return 0;
	}
	if (n == 1)
		ef_error_set("refused by the device policy: %s", r.findings[0]);
	else
		ef_error_set("refused by the device policy (%zu findings): %s; ...", n,
		             r.findings[0]);
	*out_findings = r.findings;
	return EF_EREJECTED;
}
