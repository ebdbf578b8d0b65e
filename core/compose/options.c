/* The Compose service keys beyond the original subset (issue 10): shared
 * readers (names, sizes, relative paths), tmpfs, stop and init settings, host
 * names and addresses, kernel settings, logging. Relations between services
 * (depends_on, networks, expose, container_name, secrets, configs) are in
 * relations.c; resources, platform, profiles, env_file and deploy in
 * resources.c. See docs/manifest.md. */
#include "edgeflip/manifest.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "manifest_internal.h"

#define MAX_NETWORKS 32
#define MAX_REFS     64

static int oom(pctx *c)
{
	return mf_fail(c, EF_ENOMEM, "out of memory");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void mf_sort_strv(char **v)
{
	size_t n = ef_strv_len(v);

	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_str);
}

/* A name: letters, digits and `extra`, starting with a letter or digit. */
bool mf_valid_name(const char *s, const char *extra, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max || !mf_is_alnum(s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!mf_is_alnum(s[i]) && !strchr(extra, s[i]))
			return false;
	return true;
}

/* A string that names something: non-empty, no control characters. */
int mf_get_name(pctx *c, const cJSON *it, char **out)
{
	int error = mf_get_nonempty_string(c, it, out);

	if (error == 0 && mf_has_ctl(*out))
		return mf_fail(c, EF_EINVALID,
		               "control characters are not allowed here; write a plain name");
	return error;
}

/* A string, or a list of strings (`dns: 1.1.1.1` or `dns: [..]`). */
int mf_get_string_or_list(pctx *c, const cJSON *it, size_t max, char ***out)
{
	if (cJSON_IsString(it)) {
		char **v = NULL;
		if (ef_strv_push(&v, it->valuestring) < 0)
			return oom(c);
		ef_strv_free(*out);
		*out = v;
		return 0;
	}
	return mf_get_string_list(c, it, max, out);
}

/* A number of bytes, or a size such as "512m" (binary units). */
int mf_get_size(pctx *c, const cJSON *it, int64_t *out)
{
	int64_t n;

	if (mf_whole_number(it, 0, 9.2e18, &n)) {
		*out = n;
		return 0;
	}
	if (cJSON_IsString(it) && mf_parse_mem(out, it->valuestring) == 0)
		return 0;
	return mf_fail(c, EF_EINVALID,
	               "expected a number of bytes or a size such as \"512m\", \"1g\" or \"256k\"");
}

/* A relative path inside the environment directory, normalised: "./a//b/" ->
 * "a/b", "." for the directory itself. ".." that leaves the directory, "~"
 * and absolute paths are refused. */
int mf_rel_path(pctx *c, const char *raw, const char *what, char **out)
{
	ef_buf b = EF_BUF_INIT(4096);
	size_t depth = 0;
	const char *p = raw;
	int error = 0;

	if (raw[0] == '~')
		return mf_fail(c, EF_EINVALID,
		               "%s '%s' starts with '~': only a bind source may (it is the "
		               "environment's home directory on the device); use a path relative "
		               "to the environment directory (./x)",
		               what, raw);
	if (raw[0] == '/' || mf_has_ctl(raw))
		return mf_fail(c, EF_EINVALID,
		               "%s '%s' must be a relative path without control "
		               "characters",
		               what, raw);
	while (*p && error == 0) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.')) {
			/* skip */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (depth == 0) {
				ef_buf_dispose(&b);
				return mf_fail(
				        c, EF_EINVALID,
				        "%s '%s' leaves the environment directory; keep the "
				        "file inside it (or use an absolute path, checked by "
				        "the device policy)",
				        what, raw);
			}
			/* drop the last component */
			while (b.len && b.ptr[b.len - 1] != '/')
				b.len--;
			if (b.len)
				b.len--;
			depth--;
		} else {
			if (b.len)
				error = ef_buf_put(&b, "/", 1);
			if (error == 0)
				error = ef_buf_put(&b, p, n);
			depth++;
		}
		p += n;
		if (*p == '/')
			p++;
	}
	if (error == 0 && b.len == 0)
		error = ef_buf_put(&b, ".", 1);
	if (error < 0) {
		ef_buf_dispose(&b);
		return oom(c);
	}
	free(*out);
	*out = ef_buf_detach(&b);
	return *out ? 0 : oom(c);
}

static bool is_rel_source(const char *s)
{
	return s[0] == '.' || s[0] == '~';
}

/* ---------------------------------------------------------------------------
 * tmpfs, stop, init, hosts, dns */

int mf_f_tmpfs(pctx *c, svc_ctx *sc, const cJSON *it)
{
	int error = mf_get_string_or_list(c, it, MAX_LIST, &sc->s->tmpfs);

	for (size_t i = 0; error == 0 && sc->s->tmpfs && sc->s->tmpfs[i]; i++) {
		const char *t = sc->s->tmpfs[i];
		if (t[0] != '/' || mf_has_ctl(t) || strstr(t, "/../")) {
			size_t saved = cJSON_IsArray(it) ? mf_push_index(c, i) : c->len;
			error = mf_fail(c, EF_EINVALID,
			                "'%s' is not a tmpfs mount: expected an absolute path, "
			                "optionally \":size=64m,mode=1777\"",
			                t);
			mf_pop(c, saved);
		}
	}
	mf_sort_strv(sc->s->tmpfs);
	return error;
}

static const char *const signals[] = {
        "HUP",  "INT",  "QUIT", "ILL",    "TRAP",   "ABRT",  "BUS",  "FPE",  "KILL", "USR1", "SEGV",
        "USR2", "PIPE", "ALRM", "TERM",   "STKFLT", "CHLD",  "CONT", "STOP", "TSTP", "TTIN", "TTOU",
        "URG",  "XCPU", "XFSZ", "VTALRM", "PROF",   "WINCH", "IO",   "PWR",  "SYS",  NULL};

int mf_f_stop_signal(pctx *c, svc_ctx *sc, const cJSON *it)
{
	const char *s = cJSON_IsString(it) ? it->valuestring : "";
	const char *base = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
	uint64_t n;
	int64_t num;

	if (mf_whole_number(it, 1, 64, &num)) {
		char tmp[8];
		snprintf(tmp, sizeof(tmp), "%lld", (long long)num);
		free(sc->s->stop_signal);
		return (sc->s->stop_signal = strdup(tmp)) ? 0 : oom(c);
	}
	if (mf_digits_number(s, 1, 64, &n))
		return mf_get_string(c, it, &sc->s->stop_signal);
	for (size_t i = 0; signals[i]; i++)
		if (strcasecmp(base, signals[i]) == 0)
			return mf_get_string(c, it, &sc->s->stop_signal);
	if (!strncasecmp(base, "RTMIN", 5) || !strncasecmp(base, "RTMAX", 5))
		return mf_get_string(c, it, &sc->s->stop_signal);
	return mf_fail(c, EF_EINVALID,
	               "expected a signal name such as \"SIGTERM\" or \"SIGQUIT\", or a number");
}

int mf_f_stop_grace_period(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return mf_get_duration(c, it, &sc->s->stop_grace_period_ms);
}

int mf_f_init(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return mf_get_bool(c, it, &sc->s->init);
}

int mf_f_stdin_open(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return mf_get_bool(c, it, &sc->s->stdin_open);
}

int mf_f_tty(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return mf_get_bool(c, it, &sc->s->tty);
}

static bool valid_ip(const char *ip)
{
	unsigned char addr[16];

	return inet_pton(AF_INET, ip, addr) == 1 || inet_pton(AF_INET6, ip, addr) == 1;
}

static int host_entry(pctx *c, const char *host, const char *ip, char ***v)
{
	char *e;

	if (!mf_valid_name(host, "_.-", 253))
		return mf_fail(c, EF_EINVALID, "'%s' is not a host name", host);
	if (strcmp(ip, "host-gateway") && !valid_ip(ip))
		return mf_fail(c, EF_EINVALID,
		               "'%s' is not an IPv4 or IPv6 address (or \"host-gateway\")", ip);
	if (!(e = mf_str_printf("%s:%s", host, ip)) || ef_strv_push_owned(v, e) < 0)
		return oom(c);
	return 0;
}

int mf_f_extra_hosts(pctx *c, svc_ctx *sc, const cJSON *it)
{
	char **v = NULL;
	size_t i = 0;
	int error = 0;

	if (cJSON_IsObject(it)) {
		if ((error = mf_check_members(c, it, MAX_LIST, "hosts")) < 0)
			return error;
		for (const cJSON *e = it->child; e && error == 0; e = e->next) {
			size_t saved = mf_push_key(c, e->string);
			if (!cJSON_IsString(e))
				error = mf_fail(c, EF_EINVALID, "expected an address, found %s",
				                mf_type_name(e));
			else
				error = host_entry(c, e->string, e->valuestring, &v);
			mf_pop(c, saved);
		}
	} else if (cJSON_IsArray(it)) {
		if (cJSON_GetArraySize(it) > MAX_LIST)
			return mf_fail(c, EF_ETOOBIG, "more than %d entries", MAX_LIST);
		for (const cJSON *e = it->child; e && error == 0; e = e->next, i++) {
			size_t saved = mf_push_index(c, i);
			char tmp[300], *sep;
			if (!cJSON_IsString(e) || strlen(e->valuestring) >= sizeof(tmp))
				error = mf_fail(c, EF_EINVALID,
				                "expected \"host:address\" or "
				                "\"host=address\"");
			else {
				snprintf(tmp, sizeof(tmp), "%s", e->valuestring);
				sep = strchr(tmp, '=');
				if (!sep)
					sep = strchr(tmp, ':');
				if (!sep)
					error = mf_fail(c, EF_EINVALID,
					                "'%s': expected \"host:address\" or "
					                "\"host=address\"",
					                tmp);
				else {
					*sep = '\0';
					/* "[::1]" as Compose writes IPv6 in the '=' form */
					char *ip = sep + 1;
					size_t n = strlen(ip);
					if (n > 2 && ip[0] == '[' && ip[n - 1] == ']') {
						ip[n - 1] = '\0';
						ip++;
					}
					error = host_entry(c, tmp, ip, &v);
				}
			}
			mf_pop(c, saved);
		}
	} else {
		return mf_fail(c, EF_EINVALID,
		               "expected a list of \"host:address\" or an object {host: address}, "
		               "found %s",
		               mf_type_name(it));
	}
	if (error < 0) {
		ef_strv_free(v);
		return error;
	}
	mf_sort_strv(v);
	ef_strv_free(sc->s->extra_hosts);
	sc->s->extra_hosts = v;
	return 0;
}

int mf_f_dns(pctx *c, svc_ctx *sc, const cJSON *it)
{
	int error = mf_get_string_or_list(c, it, MAX_LIST, &sc->s->dns);

	for (size_t i = 0; error == 0 && sc->s->dns && sc->s->dns[i]; i++)
		if (!valid_ip(sc->s->dns[i]))
			error = mf_fail(c, EF_EINVALID, "'%s' is not an IPv4 or IPv6 address",
			                sc->s->dns[i]);
	return error;
}

static int name_list(pctx *c, const cJSON *it, char ***out, const char *what)
{
	int error = mf_get_string_or_list(c, it, MAX_LIST, out);

	for (size_t i = 0; error == 0 && *out && (*out)[i]; i++) {
		if ((*out)[i][0] && !mf_has_ctl((*out)[i]) && !strchr((*out)[i], ' '))
			continue;
		size_t saved = cJSON_IsArray(it) ? mf_push_index(c, i) : c->len;
		error = mf_fail(c, EF_EINVALID, "'%s' is not a %s", (*out)[i], what);
		mf_pop(c, saved);
	}
	return error;
}

int mf_f_dns_search(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return name_list(c, it, &sc->s->dns_search, "domain name");
}

int mf_f_dns_opt(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return name_list(c, it, &sc->s->dns_opt, "resolver option");
}

static int host_name(pctx *c, const cJSON *it, const char *what, char **out)
{
	int error = mf_get_name(c, it, out);

	/* '_' as the engine takes it (nextcloud's examples use it); at most 64
	 * bytes, what the kernel's sethostname() and setdomainname() take. */
	if (error == 0 && !mf_valid_name(*out, "-._", 64))
		return mf_fail(c, EF_EINVALID,
		               "'%s' is not a %s (at most 64 letters, digits, '-', '_', '.')", *out,
		               what);
	return error;
}

int mf_f_hostname(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return host_name(c, it, "host name", &sc->s->hostname);
}

int mf_f_domainname(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return host_name(c, it, "domain name", &sc->s->domainname);
}

/* ---------------------------------------------------------------------------
 * Kernel settings, groups, security options, logging */

int mf_f_sysctls(pctx *c, svc_ctx *sc, const cJSON *it)
{
	int error = mf_get_kv(c, it, MAX_LIST, KV_OPTS, &sc->s->sysctls);

	for (size_t i = 0; error == 0 && sc->s->sysctls && sc->s->sysctls[i]; i++) {
		const char *kv = sc->s->sysctls[i];
		size_t n = strcspn(kv, "=");
		for (size_t k = 0; k < n && error == 0; k++)
			if (!mf_is_alnum(kv[k]) && !strchr("._-/", kv[k]))
				error = mf_fail(c, EF_EINVALID, "'%.*s' is not a sysctl name",
				                (int)n, kv);
	}
	return error;
}

static int cmp_ulimit(const void *a, const void *b)
{
	return strcmp(((const ef_ulimit *)a)->name, ((const ef_ulimit *)b)->name);
}

int mf_f_ulimits(pctx *c, svc_ctx *sc, const cJSON *it)
{
	static const char *const names[] = {"core",    "cpu",      "data",   "fsize",      "locks",
	                                    "memlock", "msgqueue", "nice",   "nofile",     "nproc",
	                                    "rss",     "rtprio",   "rttime", "sigpending", "stack",
	                                    "as",      NULL};
	ef_service *s = sc->s;
	size_t n;
	int error = 0;

	if (!cJSON_IsObject(it))
		return mf_fail(c, EF_EINVALID,
		               "expected an object {nofile: {soft: N, hard: N}}, "
		               "found %s",
		               mf_type_name(it));
	if ((error = mf_check_members(c, it, 32, "ulimits")) < 0)
		return error;
	n = mf_count_members(it);
	if (n == 0)
		return 0;
	if (!(s->ulimits = calloc(n, sizeof(*s->ulimits))))
		return oom(c);
	for (const cJSON *e = it->child; e && error == 0; e = e->next) {
		ef_ulimit *u = &s->ulimits[s->nulimits];
		size_t saved = mf_push_key(c, e->string), k;
		int64_t v;

		for (k = 0; names[k]; k++)
			if (!strcmp(names[k], e->string))
				break;
		if (!names[k])
			error = mf_fail(c, EF_EINVALID,
			                "'%s' is not a resource limit (such as nofile "
			                "or nproc)",
			                e->string);
		else if (mf_whole_number(e, -1, 9.2e18, &v)) {
			u->soft = u->hard = v;
		} else if (cJSON_IsObject(e)) {
			static const char *const keys[] = {"soft", "hard", NULL};
			const cJSON *so = mf_member(e, "soft"), *ha = mf_member(e, "hard");
			if ((error = mf_check_keys(c, e, keys, false)) == 0) {
				if (!so || !mf_whole_number(so, -1, 9.2e18, &u->soft))
					error = mf_fail_at(c, "soft",
					                   "expected a whole number (-1: "
					                   "unlimited)");
				else if (!ha || !mf_whole_number(ha, -1, 9.2e18, &u->hard))
					error = mf_fail_at(c, "hard",
					                   "expected a whole number (-1: "
					                   "unlimited)");
				else if (u->hard != -1 && (u->soft == -1 || u->soft > u->hard))
					error = mf_fail(c, EF_EINVALID,
					                "soft (%lld) is above hard (%lld)",
					                (long long)u->soft, (long long)u->hard);
			}
		} else
			error = mf_fail(c, EF_EINVALID,
			                "expected a number or {soft: N, hard: N}, found %s",
			                mf_type_name(e));
		if (error == 0 && !(u->name = strdup(e->string)))
			error = oom(c);
		if (error == 0)
			s->nulimits++;
		mf_pop(c, saved);
	}
	if (s->nulimits > 1)
		qsort(s->ulimits, s->nulimits, sizeof(*s->ulimits), cmp_ulimit);
	return error;
}

int mf_f_shm_size(pctx *c, svc_ctx *sc, const cJSON *it)
{
	return mf_get_size(c, it, &sc->s->shm_size);
}

int mf_f_group_add(pctx *c, svc_ctx *sc, const cJSON *it)
{
	int64_t n;
	int error = 0;
	size_t i = 0;

	if (!cJSON_IsArray(it))
		return mf_fail(c, EF_EINVALID, "expected a list of group names or ids, found %s",
		               mf_type_name(it));
	for (const cJSON *e = it->child; e && error == 0; e = e->next, i++) {
		size_t saved = mf_push_index(c, i);
		char tmp[32];
		if (mf_whole_number(e, 0, 4294967295.0, &n)) {
			snprintf(tmp, sizeof(tmp), "%lld", (long long)n);
			if (ef_strv_push(&sc->s->group_add, tmp) < 0)
				error = oom(c);
		} else if (cJSON_IsString(e) && mf_valid_name(e->valuestring, "_.-", 64)) {
			if (ef_strv_push(&sc->s->group_add, e->valuestring) < 0)
				error = oom(c);
		} else
			error = mf_fail(c, EF_EINVALID, "expected a group name or number");
		mf_pop(c, saved);
	}
	mf_sort_strv(sc->s->group_add);
	return error;
}

int mf_f_security_opt(pctx *c, svc_ctx *sc, const cJSON *it)
{
	int error = mf_get_string_list(c, it, MAX_LIST, &sc->s->security_opt);

	for (size_t i = 0; error == 0 && sc->s->security_opt && sc->s->security_opt[i]; i++) {
		const char *o = sc->s->security_opt[i];
		if (!o[0] || mf_has_ctl(o)) {
			size_t saved = mf_push_index(c, i);
			error = mf_fail(c, EF_EINVALID,
			                "expected an option such as "
			                "\"no-new-privileges:true\"");
			mf_pop(c, saved);
		}
	}
	mf_sort_strv(sc->s->security_opt);
	return error;
}

int mf_f_logging(pctx *c, svc_ctx *sc, const cJSON *it)
{
	static const char *const keys[] = {"driver", "options", NULL};
	const cJSON *v;
	size_t saved;
	int error;

	if ((error = mf_check_keys(c, it, keys, false)) < 0)
		return error;
	if ((v = mf_member(it, "driver"))) {
		saved = mf_push_key(c, "driver");
		error = mf_get_name(c, v, &sc->s->log_driver);
		if (error == 0 && !mf_valid_name(sc->s->log_driver, "_.-", 64))
			error = mf_fail(c, EF_EINVALID, "'%s' is not a logging driver name",
			                sc->s->log_driver);
		mf_pop(c, saved);
		if (error < 0)
			return error;
	}
	if ((v = mf_member(it, "options")) && !cJSON_IsNull(v)) {
		saved = mf_push_key(c, "options");
		error = mf_get_kv(c, v, MAX_LIST, KV_OPTS, &sc->s->log_opts);
		mf_pop(c, saved);
	}
	return error;
}

bool mf_is_relative_source(const char *s)
{
	return is_rel_source(s);
}
