/* The environment manifest: the Compose Specification (from compose.yaml or
 * compose.json, read by the compose reader) into the normalised model of
 * manifest.h. See docs/manifest.md.
 *
 * Every problem is a finding with the file, the line and column when known,
 * and the JSON path; parsing goes on with the next key and service after a bad
 * value so that lint reports them all. Keys the specification has and
 * edgeflip does not use are listed in docs/manifest.md with the reason;
 * nothing else is dropped. */
#include "edgeflip/manifest.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest_internal.h"

/* Moves the context to $.services.NAME[.key[index]] for a cross-check. */
static size_t at_service(pctx *c, const char *name, const char *key, long index)
{
	size_t saved = mf_push_key(c, "services");

	mf_push_key(c, name);
	if (key)
		mf_push_key(c, key);
	if (index >= 0)
		mf_push_index(c, (size_t)index);
	return saved;
}

static bool ports_clash(const ef_port *a, const ef_port *b)
{
	if (!a->host_port || a->host_port != b->host_port || strcmp(a->protocol, b->protocol))
		return false;
	return !a->host_ip || !b->host_ip || strcmp(a->host_ip, b->host_ip) == 0;
}

static int check_port_clashes(pctx *c, const ef_manifest *m)
{
	int first = 0;

	for (size_t i = 0; i < m->nservices; i++) {
		const ef_service *s = &m->services[i];
		for (size_t k = 0; k < s->nports; k++) {
			bool found = false;
			for (size_t j = 0; j <= i && !found; j++) {
				const ef_service *o = &m->services[j];
				size_t lim = j == i ? k : o->nports;
				for (size_t l = 0; l < lim && !found; l++) {
					size_t saved;
					if (!ports_clash(&s->ports[k], &o->ports[l]))
						continue;
					found = true;
					saved = at_service(c, s->name, "ports", (long)k);
					first = mf_fail(c, EF_EINVALID,
					                "host port %u/%s is already published by "
					                "service %s",
					                s->ports[k].host_port, s->ports[k].protocol,
					                o->name);
					mf_pop(c, saved);
				}
			}
		}
	}
	return first;
}

/* References between services and to the top level. */
static int check_references(pctx *c, const ef_manifest *m)
{
	int first = 0;

	for (size_t i = 0; i < m->nservices; i++) {
		const ef_service *s = &m->services[i];
		size_t saved;

		for (size_t k = 0; k < s->ndepends_on; k++) {
			if (ef_manifest_find(m, s->depends_on[k].service))
				continue;
			saved = at_service(c, s->name, "depends_on", -1);
			first = mf_fail(c, EF_EINVALID,
			                "depends on '%s', which is not a service of this file%s",
			                s->depends_on[k].service,
			                " (or whose profiles are not active); add it or remove the "
			                "dependency");
			mf_pop(c, saved);
		}
		for (size_t k = 0; k < s->nnetworks; k++) {
			const ef_network *n = ef_manifest_network(m, s->networks[k].network);
			if (n && (s->networks[k].ipv4_address || s->networks[k].ipv6_address) &&
			    !n->nipam_config && !n->external) {
				saved = at_service(c, s->name, "networks", -1);
				first = mf_fail(
				        c, EF_EINVALID,
				        "a fixed address on network '%s' needs a subnet: set "
				        "ipam.config[].subnet on the top-level network",
				        n->key);
				mf_pop(c, saved);
			}
			if (n)
				continue;
			saved = at_service(c, s->name, "networks", -1);
			first = mf_fail(c, EF_EINVALID,
			                "network '%s' is not declared; add it under the top-level "
			                "networks",
			                s->networks[k].network);
			mf_pop(c, saved);
		}
		for (int t = 0; t < 2; t++) {
			const ef_file_ref *refs = t ? s->configs : s->secrets;
			size_t n = t ? s->nconfigs : s->nsecrets;
			for (size_t k = 0; k < n; k++) {
				if (t ? ef_manifest_config(m, refs[k].source) != NULL
				      : ef_manifest_secret(m, refs[k].source) != NULL)
					continue;
				saved = at_service(c, s->name, t ? "configs" : "secrets", -1);
				first = mf_fail(
				        c, EF_EINVALID,
				        "%s '%s' is not declared; add it under the top-level "
				        "%s",
				        t ? "config" : "secret", refs[k].source,
				        t ? "configs" : "secrets");
				mf_pop(c, saved);
			}
		}
		for (size_t j = 0; j < i && s->container_name; j++) {
			if (!m->services[j].container_name ||
			    strcmp(m->services[j].container_name, s->container_name))
				continue;
			saved = at_service(c, s->name, "container_name", -1);
			first = mf_fail(c, EF_EINVALID, "'%s' is also the container_name of %s",
			                s->container_name, m->services[j].name);
			mf_pop(c, saved);
		}
	}
	return first;
}

/* Strings and keys must be valid UTF-8 (a YAML or JSON file is text). */
static bool valid_utf8(const unsigned char *s)
{
	while (*s) {
		size_t n;
		uint32_t cp;
		if (*s < 0x80) {
			s++;
			continue;
		}
		if ((*s & 0xe0) == 0xc0) {
			n = 1;
			cp = *s & 0x1f;
		} else if ((*s & 0xf0) == 0xe0) {
			n = 2;
			cp = *s & 0x0f;
		} else if ((*s & 0xf8) == 0xf0) {
			n = 3;
			cp = *s & 0x07;
		} else
			return false;
		for (size_t i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		s += n + 1;
	}
	return true;
}

static void check_text(pctx *c, const cJSON *node, unsigned depth)
{
	size_t i = 0;

	if (depth > MAX_DEPTH) {
		mf_fail(c, EF_EINVALID, "nested deeper than %d levels", MAX_DEPTH);
		return;
	}
	if (cJSON_IsString(node) && node->valuestring &&
	    !valid_utf8((const unsigned char *)node->valuestring))
		mf_fail(c, EF_EINVALID, "not valid UTF-8; write the value as UTF-8 text");
	for (const cJSON *e = node->child; e; e = e->next, i++) {
		size_t saved;
		if (cJSON_IsObject(node) && !valid_utf8((const unsigned char *)e->string)) {
			mf_fail(c, EF_EINVALID, "a key is not valid UTF-8; write it as UTF-8 text");
			continue;
		}
		saved = cJSON_IsObject(node) ? mf_push_key(c, e->string) : mf_push_index(c, i);
		check_text(c, e, depth + 1);
		mf_pop(c, saved);
	}
}

void mf_service_dispose(ef_service *s)
{
	free(s->name);
	free(s->image);
	ef_strv_free(s->command);
	ef_strv_free(s->entrypoint);
	ef_strv_free(s->environment);
	for (size_t i = 0; i < s->nports; i++)
		free(s->ports[i].host_ip);
	free(s->ports);
	for (size_t i = 0; i < s->nvolumes; i++) {
		free(s->volumes[i].source);
		free(s->volumes[i].target);
		free(s->volumes[i].propagation);
		free(s->volumes[i].selinux);
		free(s->volumes[i].subpath);
	}
	free(s->volumes);
	free(s->restart);
	ef_strv_free(s->labels);
	free(s->user);
	free(s->canary.steps);
	free(s->port_opts);
	free(s->working_dir);
	free(s->network_mode);
	free(s->pid);
	free(s->ipc);
	ef_strv_free(s->cap_add);
	ef_strv_free(s->cap_drop);
	ef_strv_free(s->devices);
	ef_strv_free(s->device_cgroup_rules);
	for (size_t i = 0; i < s->ndevice_requests; i++) {
		free(s->device_requests[i].driver);
		ef_strv_free(s->device_requests[i].device_ids);
		ef_strv_free(s->device_requests[i].capabilities);
		ef_strv_free(s->device_requests[i].options);
	}
	free(s->device_requests);
	ef_strv_free(s->health.exec_argv);
	free(s->health.http_path);
	for (size_t i = 0; i < s->ndepends_on; i++)
		free(s->depends_on[i].service);
	free(s->depends_on);
	for (size_t i = 0; i < s->nnetworks; i++) {
		free(s->networks[i].network);
		ef_strv_free(s->networks[i].aliases);
		free(s->networks[i].ipv4_address);
		free(s->networks[i].ipv6_address);
	}
	free(s->networks);
	free(s->expose);
	free(s->container_name);
	for (int t = 0; t < 2; t++) {
		ef_file_ref *r = t ? s->configs : s->secrets;
		size_t n = t ? s->nconfigs : s->nsecrets;
		for (size_t i = 0; i < n; i++) {
			free(r[i].source);
			free(r[i].target);
			free(r[i].uid);
			free(r[i].gid);
		}
		free(r);
	}
	ef_strv_free(s->tmpfs);
	free(s->stop_signal);
	ef_strv_free(s->extra_hosts);
	ef_strv_free(s->dns);
	ef_strv_free(s->dns_search);
	ef_strv_free(s->dns_opt);
	free(s->hostname);
	free(s->domainname);
	ef_strv_free(s->sysctls);
	for (size_t i = 0; i < s->nulimits; i++)
		free(s->ulimits[i].name);
	free(s->ulimits);
	ef_strv_free(s->group_add);
	ef_strv_free(s->security_opt);
	free(s->log_driver);
	ef_strv_free(s->log_opts);
	free(s->cpuset);
	free(s->platform);
	ef_strv_free(s->profiles);
	for (size_t i = 0; i < s->nenv_files; i++) {
		free(s->env_files[i].path);
		free(s->env_files[i].format);
	}
	free(s->env_files);
}

static int cmp_service(const void *a, const void *b)
{
	return strcmp(((const ef_service *)a)->name, ((const ef_service *)b)->name);
}

/* Whether the service object's `profiles` (a list of strings, as written)
 * names none of the active profiles. A value of another shape counts as
 * active: the model then says what is wrong with it. */
static bool inactive_json(const cJSON *svc, char *const *profiles)
{
	const cJSON *p =
	        cJSON_IsObject(svc) ? cJSON_GetObjectItemCaseSensitive(svc, "profiles") : NULL;

	if (!cJSON_IsArray(p) || !p->child)
		return false;
	for (const cJSON *e = p->child; e; e = e->next) {
		if (!cJSON_IsString(e) || !mf_valid_name(e->valuestring, "_.-", 64))
			return false;
		for (size_t k = 0; profiles && profiles[k]; k++)
			if (!strcmp(e->valuestring, profiles[k]) || !strcmp(profiles[k], "*"))
				return false;
	}
	return true;
}

/* The optional dependencies (required: false) on services that are not in
 * the model (their profiles are not active: inactive_json()) go. */
static void drop_absent_optional(ef_manifest *m)
{
	for (size_t i = 0; i < m->nservices; i++) {
		ef_service *s = &m->services[i];
		size_t k2 = 0;
		for (size_t k = 0; k < s->ndepends_on; k++) {
			if (!s->depends_on[k].required &&
			    !ef_manifest_find(m, s->depends_on[k].service))
				free(s->depends_on[k].service);
			else
				s->depends_on[k2++] = s->depends_on[k];
		}
		s->ndepends_on = k2;
	}
}

static int parse_tree(pctx *c, ef_manifest **out, const cJSON *root, char *const *profiles)
{
	ef_manifest *m = NULL;
	const cJSON *services, *v;
	size_t n, i = 0, saved;
	int error = 0;

	*out = NULL;
	if (!cJSON_IsObject(root)) {
		error = mf_fail(c, EF_EINVALID,
		                "expected a mapping of top-level keys (services, networks, "
		                "volumes, ...)");
		goto out;
	}
	check_text(c, root, 0);
	if (!(m = calloc(1, sizeof(*m)))) {
		error = mf_fail(c, EF_ENOMEM, "out of memory");
		goto out;
	}
	mf_check_table(c, root, mf_top_keys, "file (top level)");
	if ((v = mf_member(root, "name"))) {
		saved = mf_push_key(c, "name");
		if (mf_get_name(c, v, &m->name) == 0 && !mf_valid_name(m->name, "_-", 128))
			mf_fail(c, EF_EINVALID,
			        "'%s' is not a project name (lower-case letters, "
			        "digits, '_', '-')",
			        m->name);
		mf_pop(c, saved);
	}
	if ((v = mf_member(root, "x-edgeflip"))) {
		saved = mf_push_key(c, "x-edgeflip");
		if (!cJSON_IsObject(v))
			mf_fail(c, EF_EINVALID, "expected an object, found %s", mf_type_name(v));
		for (const cJSON *k = cJSON_IsObject(v) ? v->child : NULL; k; k = k->next) {
			char why[300];
			if (strcmp(k->string, "rollout") != 0)
				mf_fail_at(c, k->string,
				           "unknown key under the top-level x-edgeflip (known: "
				           "rollout); put deploy settings under each service's "
				           "x-edgeflip");
			else if (ef_rollout_parse(&m->rollout, k, why, sizeof(why)) < 0)
				mf_fail_at(c, k->string, "%s", why);
		}
		mf_pop(c, saved);
	}
	mf_parse_top(c, root, m);
	if (c->oom)
		goto out;
	services = mf_member(root, "services");
	if (!services) {
		mf_fail_at(c, "services", "missing; list the services to run");
		goto out;
	}
	saved = mf_push_key(c, "services");
	if (!cJSON_IsObject(services)) {
		mf_fail(c, EF_EINVALID, "expected an object {name: service}, found %s",
		        mf_type_name(services));
		mf_pop(c, saved);
		goto out;
	}
	if (mf_check_members(c, services, MAX_SERVICES, "services") < 0) {
		mf_pop(c, saved);
		goto out;
	}
	n = mf_count_members(services);
	if (n && !(m->services = calloc(n, sizeof(*m->services)))) {
		error = mf_fail(c, EF_ENOMEM, "out of memory");
		goto out;
	}
	for (const cJSON *s = services->child; s && !c->oom; s = s->next) {
		size_t saved2 = mf_push_key(c, s->string);
		/* A service of profiles that are not active is not part of what
		 * the device runs: what the device would refuse in it (scale: 2
		 * in zabbix's selenium services) is not a finding. lint
		 * --profile NAME reads it as such a device would. */
		if (!inactive_json(s, profiles)) {
			m->nservices = i + 1;
			mf_parse_service(c, &m->services[i++], s->string, s, m);
		}
		mf_pop(c, saved2);
	}
	mf_pop(c, saved);
	if (c->oom)
		goto out;
	if (m->nservices > 1)
		qsort(m->services, m->nservices, sizeof(*m->services), cmp_service);
	drop_absent_optional(m);
	for (i = 0; i < m->nservices; i++) {
		if (m->services[i].nnetworks && ef_manifest_network(m, "default") == NULL) {
			for (size_t k = 0; k < m->services[i].nnetworks; k++)
				if (!strcmp(m->services[i].networks[k].network, "default"))
					mf_add_default_network(c, m);
		}
	}
	check_references(c, m);
	check_port_clashes(c, m);
	for (i = 0; i < m->nservices && c->nerrors == 0; i++)
		mf_spec_hash(&m->services[i], m);
out:
	if (c->nerrors || error) {
		ef_manifest_free(m);
		/* ef_error_last(): the first finding, as a single-error caller expects */
		ef_error_set("%s", c->first);
		return c->first_code ? c->first_code : error ? error : EF_EINVALID;
	}
	*out = m;
	return 0;
}

/* Returns the first finding's code (EF_EINVALID, EF_ETOOBIG, ...). */
static int parse_doc(ef_manifest **out, const cJSON *doc, const char *name,
                     const ef_compose_pos *pos, ef_findings *findings, char *const *profiles)
{
	pctx *c = malloc(sizeof(*c));
	int error;

	*out = NULL;
	if (!c) {
		ef_error_set("out of memory");
		return EF_ENOMEM;
	}
	mf_ctx_init(c, name ? name : EF_MANIFEST_FILE, doc, pos, findings);
	error = parse_tree(c, out, doc, profiles);
	free(c);
	return error;
}

int ef_manifest_parse_doc_profiles(ef_manifest **out, const cJSON *doc, const char *name,
                                   const ef_compose_pos *pos, ef_findings *findings,
                                   char *const *profiles)
{
	int error = parse_doc(out, doc, name, pos, findings, profiles);

	return error < 0 && error != EF_ENOMEM ? EF_EINVALID : error;
}

int ef_manifest_parse_doc(ef_manifest **out, const cJSON *doc, const char *name,
                          const ef_compose_pos *pos, ef_findings *findings)
{
	return ef_manifest_parse_doc_profiles(out, doc, name, pos, findings, NULL);
}

static int syntax_error(const char *file, const char *json, size_t len, const char *end)
{
	size_t off = end && end >= json && end <= json + len ? (size_t)(end - json) : 0;
	size_t line = 1;

	for (size_t i = 0; i < off; i++)
		if (json[i] == '\n')
			line++;
	ef_error_set("%s: not valid JSON (line %zu, byte %zu); write compose.yaml, or produce "
	             "JSON with `docker compose config --format json`",
	             file, line, off);
	return EF_EINVALID;
}

/* cJSON ends a string at an escaped NUL ("\u0000") without a word: refuse it. */
static const char *escaped_nul(const char *json, size_t len)
{
	for (size_t i = 0; i + 6 <= len; i++) {
		if (json[i] == '\\') {
			if (json[i + 1] == 'u' && json[i + 2] == '0' && json[i + 3] == '0' &&
			    json[i + 4] == '0' && json[i + 5] == '0')
				return json + i;
			i++; /* skip the escaped character */
		}
	}
	return NULL;
}

int ef_manifest_parse(ef_manifest **out, const char *json, size_t len, const char *name)
{
	const char *file = name ? name : EF_MANIFEST_FILE;
	const char *end = NULL, *nul;
	cJSON *root;
	int error;

	*out = NULL;
	if (!json)
		return syntax_error(file, "", 0, NULL);
	if (memchr(json, '\0', len) || (nul = escaped_nul(json, len))) {
		const char *at = memchr(json, '\0', len);
		size_t off = (size_t)((at ? at : escaped_nul(json, len)) - json);
		ef_error_set("%s: byte %zu: a NUL character (\\u0000) is not allowed in a "
		             "manifest; remove it",
		             file, off);
		return EF_EINVALID;
	}
	root = cJSON_ParseWithLengthOpts(json, len, &end, false);
	if (!root)
		return syntax_error(file, json, len, end);
	for (; end && end < json + len; end++) {
		if (*end != ' ' && *end != '\t' && *end != '\n' && *end != '\r') {
			cJSON_Delete(root);
			return syntax_error(file, json, len, end);
		}
	}
	error = parse_doc(out, root, file, NULL, NULL, NULL);
	cJSON_Delete(root);
	return error;
}

const ef_service *ef_manifest_find(const ef_manifest *m, const char *service)
{
	for (size_t i = 0; m && service && i < m->nservices; i++)
		if (strcmp(m->services[i].name, service) == 0)
			return &m->services[i];
	return NULL;
}

const ef_network *ef_manifest_network(const ef_manifest *m, const char *key)
{
	for (size_t i = 0; m && key && i < m->nnetworks; i++)
		if (m->networks[i].key && strcmp(m->networks[i].key, key) == 0)
			return &m->networks[i];
	return NULL;
}

const ef_volume *ef_manifest_volume(const ef_manifest *m, const char *key)
{
	for (size_t i = 0; m && key && i < m->nvolumes; i++)
		if (m->volumes[i].key && strcmp(m->volumes[i].key, key) == 0)
			return &m->volumes[i];
	return NULL;
}

const ef_file_source *ef_manifest_secret(const ef_manifest *m, const char *key)
{
	for (size_t i = 0; m && key && i < m->nsecrets; i++)
		if (m->secrets[i].key && strcmp(m->secrets[i].key, key) == 0)
			return &m->secrets[i];
	return NULL;
}

const ef_file_source *ef_manifest_config(const ef_manifest *m, const char *key)
{
	for (size_t i = 0; m && key && i < m->nconfigs; i++)
		if (m->configs[i].key && strcmp(m->configs[i].key, key) == 0)
			return &m->configs[i];
	return NULL;
}

void ef_manifest_free(ef_manifest *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nservices; i++)
		mf_service_dispose(&m->services[i]);
	free(m->services);
	mf_top_dispose(m);
	free(m);
}
