/* The switch backend table and what the backends share: route checks, the
 * routes file (parse and format), route descriptions, running a command. */
#define _GNU_SOURCE
#include "switch_int.h"
#include "edgeflip/error.h"
#include "edgeflip/log.h"
#include "edgeflip/proxy.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

const struct ef_switch_ops *const ef_switch_backends[] = {
        &ef_switch_proxy_ops,
        &ef_switch_nftables_ops,
        &ef_switch_hook_ops,
        NULL,
};

int ef_switch_open(ef_switch **out, const char *backend, const ef_switch_opts *opts)
{
	const char *name = backend ? backend : "proxy";

	*out = NULL;
	for (size_t i = 0; ef_switch_backends[i]; i++) {
		const struct ef_switch_ops *ops = ef_switch_backends[i];

		if (strcmp(ops->name, name) != 0)
			continue;
		if (!opts || !opts->state_dir) {
			ef_error_set("switch backend '%s' needs a state directory", name);
			return EF_EINVALID;
		}
		return ops->open(out, opts);
	}
	ef_error_set("unknown switch backend '%s' (use proxy, nftables or hook)", name);
	return EF_EINVALID;
}

void ef_switch_close(ef_switch *s)
{
	if (s)
		s->ops->close(s);
}

void ef_routes_free(ef_route *r, size_t n)
{
	if (!r)
		return;
	for (size_t i = 0; i < n; i++) {
		free(r[i].listen_addr);
		free(r[i].target_addr);
		free(r[i].service);
	}
	free(r);
}

int ef_routes_dup(ef_route **out, const ef_route *routes, size_t n)
{
	ef_route *r;

	*out = NULL;
	if (n == 0)
		return 0;
	if (!(r = calloc(n, sizeof(*r))))
		goto oom;
	for (size_t i = 0; i < n; i++) {
		memcpy(r[i].protocol, routes[i].protocol, sizeof(r[i].protocol));
		r[i].protocol[sizeof(r[i].protocol) - 1] = '\0';
		r[i].listen_port = routes[i].listen_port;
		r[i].target_port = routes[i].target_port;
		r[i].listen_addr = ef_strdup(routes[i].listen_addr);
		r[i].target_addr = ef_strdup(routes[i].target_addr);
		r[i].service = ef_strdup(routes[i].service);
		if ((routes[i].listen_addr && !r[i].listen_addr) ||
		    (routes[i].target_addr && !r[i].target_addr) ||
		    (routes[i].service && !r[i].service)) {
			ef_routes_free(r, n);
			goto oom;
		}
	}
	*out = r;
	return 0;
oom:
	ef_error_set("out of memory");
	return EF_ENOMEM;
}

bool ef_switch_sockaddr(struct sockaddr_storage *out, socklen_t *len, const char *addr,
                        uint16_t port)
{
	memset(out, 0, sizeof(*out));
	if (!addr)
		return false;
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;

		if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1)
			return false;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)out;

		if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
			return false;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
	}
	return true;
}

static bool is_wildcard(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)a)->sin6_addr);
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
	              &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
}

/* Listeners of one protocol clash when they share the port and either the
 * address or a wildcard of the same family. */
static bool listeners_clash(const ef_route *a, const ef_route *b)
{
	struct sockaddr_storage sa, sb;
	socklen_t la, lb;

	if (strcmp(a->protocol, b->protocol) != 0 || a->listen_port != b->listen_port)
		return false;
	ef_switch_sockaddr(&sa, &la, a->listen_addr, a->listen_port);
	ef_switch_sockaddr(&sb, &lb, b->listen_addr, b->listen_port);
	if (sa.ss_family != sb.ss_family)
		return false;
	return same_addr(&sa, &sb) || is_wildcard(&sa) || is_wildcard(&sb);
}

static int check_one(const ef_route *r, size_t i, const char *prefix)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (strcmp(r->protocol, "tcp") != 0 && strcmp(r->protocol, "udp") != 0) {
		ef_error_set("%sroutes[%zu].protocol: must be \"tcp\" or \"udp\"", prefix, i);
		return EF_EINVALID;
	}
	if (!ef_switch_sockaddr(&ss, &len, r->listen_addr, r->listen_port)) {
		ef_error_set("%sroutes[%zu].listen_addr: not an IPv4 or IPv6 address", prefix, i);
		return EF_EINVALID;
	}
	if (r->listen_port == 0) {
		ef_error_set("%sroutes[%zu].listen_port: must be an integer from 1 to 65535",
		             prefix, i);
		return EF_EINVALID;
	}
	if (!ef_switch_sockaddr(&ss, &len, r->target_addr, r->target_port) || is_wildcard(&ss)) {
		ef_error_set("%sroutes[%zu].target_addr: not a unicast IPv4 or IPv6 address",
		             prefix, i);
		return EF_EINVALID;
	}
	if (r->target_port == 0) {
		ef_error_set("%sroutes[%zu].target_port: must be an integer from 1 to 65535",
		             prefix, i);
		return EF_EINVALID;
	}
	return 0;
}

static int check_all(const ef_route *routes, size_t n, const char *prefix)
{
	int error;

	if (n > EF_ROUTES_MAX) {
		ef_error_set("%sroutes: more than %d routes", prefix, EF_ROUTES_MAX);
		return EF_ETOOBIG;
	}
	for (size_t i = 0; i < n; i++) {
		if ((error = check_one(&routes[i], i, prefix)) < 0)
			return error;
		for (size_t j = 0; j < i; j++) {
			if (listeners_clash(&routes[i], &routes[j])) {
				ef_error_set("%sroutes[%zu]: %s %s port %u is already routed by "
				             "routes[%zu]",
				             prefix, i, routes[i].protocol, routes[i].listen_addr,
				             routes[i].listen_port, j);
				return EF_EINVALID;
			}
		}
	}
	return 0;
}

int ef_routes_check(const ef_route *routes, size_t n)
{
	return check_all(routes, n, "");
}

/* ---- the routes file ---- */

#define FILE_PREFIX "routes file: "

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ef_error_set(FILE_PREFIX "%s", msg);
	return EF_EINVALID;
}

/* A JSON number that is an integer in [lo, hi]. */
static bool get_int(const cJSON *item, double lo, double hi, double *out)
{
	if (!cJSON_IsNumber(item))
		return false;
	if (!isfinite(item->valuedouble) || item->valuedouble != floor(item->valuedouble))
		return false;
	if (item->valuedouble < lo || item->valuedouble > hi)
		return false;
	*out = item->valuedouble;
	return true;
}

static int check_unique_keys(const cJSON *obj, const char *path)
{
	for (const cJSON *a = obj->child; a; a = a->next)
		for (const cJSON *b = obj->child; b != a; b = b->next)
			if (strcmp(a->string, b->string) == 0)
				return bad("%s%s%s: duplicate key", path, *path ? "." : "",
				           a->string);
	return 0;
}

static int parse_route(ef_route *r, const cJSON *obj, size_t i)
{
	static const char *const keys[] = {"protocol",    "listen_addr", "listen_port",
	                                   "target_addr", "target_port", "service"};
	const cJSON *item;
	char path[32];
	double v;
	int error;

	snprintf(path, sizeof(path), "routes[%zu]", i);
	if (!cJSON_IsObject(obj))
		return bad("%s: must be an object", path);
	if ((error = check_unique_keys(obj, path)) < 0)
		return error;
	for (item = obj->child; item; item = item->next) {
		size_t k;

		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			if (strcmp(item->string, keys[k]) == 0)
				break;
		if (k == sizeof(keys) / sizeof(keys[0]))
			return bad("%s.%s: unknown key", path, item->string);
	}

	item = cJSON_GetObjectItemCaseSensitive(obj, "protocol");
	if (!item)
		return bad("%s.protocol: missing", path);
	if (!cJSON_IsString(item) ||
	    (strcmp(item->valuestring, "tcp") != 0 && strcmp(item->valuestring, "udp") != 0))
		return bad("%s.protocol: must be \"tcp\" or \"udp\"", path);
	snprintf(r->protocol, sizeof(r->protocol), "%s", item->valuestring);

	for (int side = 0; side < 2; side++) {
		const char *akey = side ? "target_addr" : "listen_addr";
		const char *pkey = side ? "target_port" : "listen_port";
		char **addr = side ? &r->target_addr : &r->listen_addr;
		uint16_t *port = side ? &r->target_port : &r->listen_port;

		item = cJSON_GetObjectItemCaseSensitive(obj, akey);
		if (!item)
			return bad("%s.%s: missing", path, akey);
		if (!cJSON_IsString(item))
			return bad("%s.%s: must be a string", path, akey);
		if (!(*addr = strdup(item->valuestring))) {
			ef_error_set("out of memory");
			return EF_ENOMEM;
		}
		item = cJSON_GetObjectItemCaseSensitive(obj, pkey);
		if (!item)
			return bad("%s.%s: missing", path, pkey);
		if (!get_int(item, 1, 65535, &v))
			return bad("%s.%s: must be an integer from 1 to 65535", path, pkey);
		*port = (uint16_t)v;
	}
	item = cJSON_GetObjectItemCaseSensitive(obj, "service");
	if (item) {
		if (!cJSON_IsString(item))
			return bad("%s.service: must be a string", path);
		if (!(r->service = strdup(item->valuestring))) {
			ef_error_set("out of memory");
			return EF_ENOMEM;
		}
	}
	return 0;
}

int ef_proxy_routes_parse(ef_route **out, size_t *n, uint64_t *generation, const char *data,
                          size_t len)
{
	int error = EF_EINVALID;
	const char *end = NULL;
	const cJSON *item, *list;
	ef_route *routes = NULL;
	size_t count = 0;
	cJSON *root;
	double v;

	*out = NULL;
	*n = 0;
	*generation = 0;
	if (len > EF_ROUTES_FILE_MAX) {
		ef_error_set(FILE_PREFIX "larger than %d bytes", EF_ROUTES_FILE_MAX);
		return EF_ETOOBIG;
	}
	if (memchr(data, '\0', len))
		return bad("contains a NUL byte");
	root = cJSON_ParseWithLengthOpts(data, len, &end, false);
	if (!root) {
		size_t at = end && end >= data && end <= data + len ? (size_t)(end - data) : 0;
		return bad("invalid JSON at byte %zu", at);
	}
	while (end && end < data + len && strchr(" \t\r\n", *end))
		end++;
	if (end && end < data + len) {
		error = bad("unexpected data after the JSON value at byte %zu",
		            (size_t)(end - data));
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		error = bad("the top level must be an object");
		goto out;
	}
	if ((error = check_unique_keys(root, "")) < 0)
		goto out;
	for (item = root->child; item; item = item->next) {
		if (strcmp(item->string, "generation") != 0 &&
		    strcmp(item->string, "routes") != 0) {
			error = bad("%s: unknown key", item->string);
			goto out;
		}
	}
	item = cJSON_GetObjectItemCaseSensitive(root, "generation");
	if (!item) {
		error = bad("generation: missing");
		goto out;
	}
	if (!get_int(item, 0, 9007199254740991.0, &v)) {
		error = bad("generation: must be an integer from 0 to 2^53-1");
		goto out;
	}
	*generation = (uint64_t)v;
	list = cJSON_GetObjectItemCaseSensitive(root, "routes");
	if (!list) {
		error = bad("routes: missing");
		goto out;
	}
	if (!cJSON_IsArray(list)) {
		error = bad("routes: must be an array");
		goto out;
	}
	count = (size_t)cJSON_GetArraySize(list);
	if (count > EF_ROUTES_MAX) {
		error = bad("routes: more than %d routes", EF_ROUTES_MAX);
		goto out;
	}
	if (count && !(routes = calloc(count, sizeof(*routes)))) {
		ef_error_set("out of memory");
		error = EF_ENOMEM;
		goto out;
	}
	{
		size_t i = 0;

		for (item = list->child; item; item = item->next, i++)
			if ((error = parse_route(&routes[i], item, i)) < 0)
				goto out;
	}
	if ((error = check_all(routes, count, FILE_PREFIX)) < 0)
		goto out;
	*out = routes;
	*n = count;
	routes = NULL;
	error = 0;
out:
	ef_routes_free(routes, count);
	cJSON_Delete(root);
	if (error < 0)
		*generation = 0;
	return error;
}

int ef_proxy_routes_format(ef_buf *out, const ef_route *routes, size_t n, uint64_t generation)
{
	cJSON *root = cJSON_CreateObject(), *list = NULL;
	int error = EF_ENOMEM;
	char *text = NULL;

	if (!root || !cJSON_AddNumberToObject(root, "generation", (double)generation) ||
	    !(list = cJSON_AddArrayToObject(root, "routes")))
		goto out;
	for (size_t i = 0; i < n; i++) {
		cJSON *r = cJSON_CreateObject();

		if (!r)
			goto out;
		cJSON_AddItemToArray(list, r);
		if (!cJSON_AddStringToObject(r, "protocol", routes[i].protocol) ||
		    !cJSON_AddStringToObject(r, "listen_addr",
		                             routes[i].listen_addr ? routes[i].listen_addr : "") ||
		    !cJSON_AddNumberToObject(r, "listen_port", routes[i].listen_port) ||
		    !cJSON_AddStringToObject(r, "target_addr",
		                             routes[i].target_addr ? routes[i].target_addr : "") ||
		    !cJSON_AddNumberToObject(r, "target_port", routes[i].target_port))
			goto out;
		if (routes[i].service && !cJSON_AddStringToObject(r, "service", routes[i].service))
			goto out;
	}
	if (!(text = cJSON_Print(root)))
		goto out;
	if ((error = ef_buf_puts(out, text)) < 0 || (error = ef_buf_puts(out, "\n")) < 0)
		goto out;
	error = 0;
out:
	if (error == EF_ENOMEM)
		ef_error_set("out of memory");
	free(text);
	cJSON_Delete(root);
	return error;
}

int ef_routes_load(ef_route **out, size_t *n, uint64_t *generation, const char *path)
{
	ef_buf data;
	int error;

	*out = NULL;
	*n = 0;
	*generation = 0;
	if ((error = ef_read_file(&data, path, EF_ROUTES_FILE_MAX)) < 0)
		return error;
	error = ef_proxy_routes_parse(out, n, generation, data.ptr, data.len);
	if (error < 0)
		ef_error_prefix("%s", path);
	ef_buf_dispose(&data);
	return error;
}

/* ---- descriptions ---- */

static int put_endpoint(ef_buf *out, const char *addr, uint16_t port)
{
	if (addr && strchr(addr, ':'))
		return ef_buf_printf(out, "[%s]:%u", addr, port);
	return ef_buf_printf(out, "%s:%u", addr ? addr : "", port);
}

int ef_route_describe(ef_buf *out, const ef_route *r)
{
	int error;

	if ((error = ef_buf_printf(out, "%s:", r->protocol)) < 0 ||
	    (error = put_endpoint(out, r->listen_addr, r->listen_port)) < 0 ||
	    (error = ef_buf_puts(out, ">")) < 0 ||
	    (error = put_endpoint(out, r->target_addr, r->target_port)) < 0)
		return error;
	return 0;
}

int ef_routes_describe(ef_buf *out, const ef_route *routes, size_t n)
{
	int error;

	if ((error = ef_buf_put(out, "", 0)) < 0)
		return error;
	for (size_t i = 0; i < n; i++) {
		if (i && (error = ef_buf_puts(out, ",")) < 0)
			return error;
		if ((error = ef_route_describe(out, &routes[i])) < 0)
			return error;
	}
	return 0;
}

/* ---- running a command ---- */

void ef_switch_close_fds(void)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0)
		return;
#endif
	for (int fd = 3; fd < 4096; fd++)
		close(fd);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *find_program(const char *name)
{
	const char *path = getenv("PATH");
	ef_buf b = EF_BUF_INIT(4096);

	if (strchr(name, '/'))
		return strdup(name);
	if (!path || !*path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		ef_buf_clear(&b);
		if (ef_buf_printf(&b, "%.*s/%s", (int)n, path, name) == 0 && n > 0 &&
		    access(b.ptr, X_OK) == 0)
			return ef_buf_detach(&b);
		path += n;
		if (*path == ':')
			path++;
	}
	ef_buf_dispose(&b);
	return NULL;
}

static char **make_env(char *const env_add[])
{
	size_t n = 0, k = 0, i;
	char **env;

	while (environ && environ[n])
		n++;
	while (env_add && env_add[k])
		k++;
	if (!(env = calloc(n + k + 1, sizeof(*env))))
		return NULL;
	/* Added entries first: the first of two equal keys wins in getenv(). */
	for (i = 0; i < k; i++)
		env[i] = env_add[i];
	for (size_t j = 0; j < n; j++)
		env[i++] = environ[j];
	return env;
}

int ef_switch_run(int *status, ef_buf *output, char *const argv[], char *const env_add[],
                  const char *input, size_t input_len, int timeout_ms)
{
	int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, devnull = -1;
	int error = EF_ERROR, wstatus = 0;
	int64_t deadline = now_ms() + timeout_ms;
	char *prog = find_program(argv[0]);
	char **env = make_env(env_add);
	size_t written = 0;
	bool reaped = false;
	pid_t pid = -1;

	*status = -1;
	if (!prog) {
		ef_error_set("cannot find program '%s' in PATH", argv[0]);
		goto out;
	}
	if (!env) {
		ef_error_set("out of memory");
		error = EF_ENOMEM;
		goto out;
	}
	/* stdin is a socket so that writing to a child that has exited gives
	 * EPIPE (MSG_NOSIGNAL) instead of killing the caller with SIGPIPE. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pipe) < 0 ||
	    pipe2(out_pipe, O_CLOEXEC) < 0 ||
	    (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
		ef_error_set("cannot run %s: %s", argv[0], strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		ef_error_set("cannot run %s: fork: %s", argv[0], strerror(errno));
		goto out;
	}
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		setpgid(0, 0);
		dup2(input ? in_pipe[0] : devnull, 0);
		dup2(output ? out_pipe[1] : 2, 1);
		dup2(output ? out_pipe[1] : 2, 2);
		ef_switch_close_fds();
		execve(prog, argv, env);
		_exit(127);
	}
	close(in_pipe[0]);
	close(out_pipe[1]);
	in_pipe[0] = out_pipe[1] = -1;
	if (!input) {
		close(in_pipe[1]);
		in_pipe[1] = -1;
	}
	fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);

	/* Feed stdin and read the output until both pipes are done. */
	while (in_pipe[1] >= 0 || out_pipe[0] >= 0) {
		struct pollfd pfd[2];
		int nfd = 0, left = (int)(deadline - now_ms());

		if (left <= 0)
			break;
		if (in_pipe[1] >= 0)
			pfd[nfd++] = (struct pollfd){.fd = in_pipe[1], .events = POLLOUT};
		if (out_pipe[0] >= 0)
			pfd[nfd++] = (struct pollfd){.fd = out_pipe[0], .events = POLLIN};
		if (poll(pfd, (nfds_t)nfd, left) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < nfd; i++) {
			if (!pfd[i].revents)
				continue;
			if (pfd[i].fd == in_pipe[1]) {
				ssize_t w = send(in_pipe[1], input + written, input_len - written,
				                 MSG_NOSIGNAL);

				if (w > 0)
					written += (size_t)w;
				if ((w < 0 && errno != EAGAIN && errno != EINTR) ||
				    written == input_len) {
					close(in_pipe[1]);
					in_pipe[1] = -1;
				}
			} else {
				char chunk[1024];
				ssize_t r = read(out_pipe[0], chunk, sizeof(chunk));

				if (r > 0 && output && output->len + (size_t)r <= output->cap)
					ef_buf_put(output, chunk, (size_t)r);
				if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
					close(out_pipe[0]);
					out_pipe[0] = -1;
				}
			}
		}
	}
	/* Then wait for the exit, up to the deadline. */
	for (;;) {
		pid_t w = waitpid(pid, &wstatus, WNOHANG);

		if (w == pid) {
			reaped = true;
			break;
		}
		if (w < 0 && errno != EINTR)
			break;
		if (now_ms() >= deadline)
			break;
		usleep(2000);
	}
	if (!reaped) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		waitpid(pid, &wstatus, 0);
		ef_error_set("%s did not finish within %d ms and was killed", argv[0], timeout_ms);
		error = EF_ETIMEOUT;
		goto out;
	}
	if (WIFEXITED(wstatus))
		*status = WEXITSTATUS(wstatus);
	else if (WIFSIGNALED(wstatus))
		*status = 128 + WTERMSIG(wstatus);
	error = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (in_pipe[i] >= 0)
			close(in_pipe[i]);
		if (out_pipe[i] >= 0)
			close(out_pipe[i]);
	}
	if (devnull >= 0)
		close(devnull);
	free(prog);
	free(env);
	return error;
}
