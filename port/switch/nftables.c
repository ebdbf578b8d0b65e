/* The "nftables" switch backend: the kernel rewrites the destination of new
 * connections (DNAT) from the public port to the active slot's port.
 *
 * One `nft -f -` transaction per apply(): it creates the table `ip edgeflip`
 * if needed, flushes and refills its four maps and its two chains. nft
 * applies a whole file atomically, so every route changes at once or none
 * does. Conntrack keeps established connections (and UDP flows) on the
 * target they started with. IPv4 only. See docs/switch.md. */
#include "switch_int.h"
#include "edgeflip/error.h"
#include "edgeflip/log.h"
#include "edgeflip/proxy.h"
#include "edgeflip/sys/fs.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NFT_TIMEOUT_MS 10000
#define NFT_OUTPUT_MAX 8192

struct nft_switch {
	ef_switch parent;
	char routes_path[PATH_MAX];
};

static int run_nft(ef_buf *output, const char *script, const char *what)
{
	char *argv_script[] = {"nft", "-f", "-", NULL};
	char *argv_list[] = {"nft", "list", "table", "ip", "edgeflip", NULL};
	char *argv_check[] = {"nft", "list", "tables", NULL};
	char *const *argv = argv_check;
	int status, error;

	if (script)
		argv = argv_script;
	else if (strcmp(what, "list") == 0)
		argv = argv_list;
	error = ef_switch_run(&status, output, argv, NULL, script, script ? strlen(script) : 0,
	                      NFT_TIMEOUT_MS);
	if (error < 0)
		return error;
	if (status != 0) {
		/* nft's message, on one line. */
		for (char *c = output->ptr; c && *c; c++)
			if (*c == '\n')
				*c = ' ';
		ef_error_set("nft %s failed (exit status %d): %s", what, status,
		             output->ptr ? output->ptr : "");
		return EF_ERROR;
	}
	return 0;
}

static bool is_any(const char *addr)
{
	return strcmp(addr, "0.0.0.0") == 0;
}

static int check_ipv4(const ef_route *routes, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strchr(routes[i].listen_addr, ':') || strchr(routes[i].target_addr, ':')) {
			ef_error_set(
			        "routes[%zu]: the nftables switch handles IPv4 only (%s -> %s)", i,
			        routes[i].listen_addr, routes[i].target_addr);
			return EF_EINVALID;
		}
	}
	return 0;
}

/* The map elements of one protocol: port-only keys for 0.0.0.0 listeners,
 * address . port keys for the others. */
static int put_elements(ef_buf *b, const ef_route *routes, size_t n, const char *proto,
                        bool with_addr)
{
	const char *map = with_addr ? "addr" : "any";
	bool first = true;
	int error = 0;

	for (size_t i = 0; i < n && error == 0; i++) {
		const ef_route *r = &routes[i];

		if (strcmp(r->protocol, proto) != 0 || is_any(r->listen_addr) == with_addr)
			continue;
		if (first)
			error = ef_buf_printf(b, "add element ip edgeflip %s_%s { ", proto, map);
		else
			error = ef_buf_puts(b, ", ");
		first = false;
		if (error == 0 && with_addr)
			error = ef_buf_printf(b, "%s . ", r->listen_addr);
		if (error == 0)
			error = ef_buf_printf(b, "%u : %s . %u", r->listen_port, r->target_addr,
			                      r->target_port);
	}
	if (error == 0 && !first)
		error = ef_buf_puts(b, " }\n");
	return error;
}

/* Only traffic addressed to this host: a gateway also forwards other
 * hosts' traffic to the same ports, which must pass untouched. */
static const char script_head[] =
        "add table ip edgeflip\n"
        "add map ip edgeflip tcp_any { type inet_service : ipv4_addr . inet_service; }\n"
        "add map ip edgeflip tcp_addr { type ipv4_addr . inet_service : ipv4_addr . "
        "inet_service; }\n"
        "add map ip edgeflip udp_any { type inet_service : ipv4_addr . inet_service; }\n"
        "add map ip edgeflip udp_addr { type ipv4_addr . inet_service : ipv4_addr . "
        "inet_service; }\n"
        "add chain ip edgeflip prerouting { type nat hook prerouting priority dstnat; policy "
        "accept; }\n"
        "add chain ip edgeflip output { type nat hook output priority -100; policy accept; }\n"
        "flush chain ip edgeflip prerouting\n"
        "flush chain ip edgeflip output\n"
        "flush map ip edgeflip tcp_any\n"
        "flush map ip edgeflip tcp_addr\n"
        "flush map ip edgeflip udp_any\n"
        "flush map ip edgeflip udp_addr\n";

static int make_script(ef_buf *b, const ef_route *routes, size_t n)
{
	static const char *const chains[] = {"prerouting", "output"};
	static const char *const protos[] = {"tcp", "udp"};
	int error = ef_buf_puts(b, script_head);

	for (size_t c = 0; c < 2 && error == 0; c++)
		for (size_t p = 0; p < 2 && error == 0; p++)
			error = ef_buf_printf(
			        b,
			        "add rule ip edgeflip %s fib daddr type local dnat ip addr . port "
			        "to ip daddr . %s dport map @%s_addr\n"
			        "add rule ip edgeflip %s fib daddr type local dnat ip addr . port "
			        "to %s dport map @%s_any\n",
			        chains[c], protos[p], protos[p], chains[c], protos[p], protos[p]);
	for (size_t p = 0; p < 2 && error == 0; p++) {
		error = put_elements(b, routes, n, protos[p], true);
		if (error == 0)
			error = put_elements(b, routes, n, protos[p], false);
	}
	return error;
}

static void warn_route_localnet(const ef_route *routes, size_t n)
{
	ef_buf v;

	for (size_t i = 0; i < n; i++) {
		if (strncmp(routes[i].target_addr, "127.", 4) != 0)
			continue;
		if (ef_read_file(&v, "/proc/sys/net/ipv4/conf/all/route_localnet", 16) == 0) {
			if (v.ptr[0] == '0')
				ef_warn("nftables-route-localnet",
				        "target=%s msg=\"other hosts cannot reach a loopback "
				        "target "
				        "through DNAT; set net.ipv4.conf.all.route_localnet=1\"",
				        routes[i].target_addr);
			ef_buf_dispose(&v);
		}
		return;
	}
}

static void nft_close(ef_switch *s)
{
	/* The rules stay in the kernel: traffic flows while the agent is down. */
	free(s);
}

static int nft_open(ef_switch **out, const ef_switch_opts *opts)
{
	ef_buf output = EF_BUF_INIT(NFT_OUTPUT_MAX);
	struct nft_switch *ns;
	char dir[PATH_MAX];
	int error;

	*out = NULL;
	if (!(ns = calloc(1, sizeof(*ns)))) {
		ef_error_set("out of memory");
		return EF_ENOMEM;
	}
	ns->parent.ops = &ef_switch_nftables_ops;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/nftables", opts->state_dir) >= sizeof(dir) ||
	    (size_t)snprintf(ns->routes_path, sizeof(ns->routes_path), "%s/routes.json", dir) >=
	            sizeof(ns->routes_path)) {
		ef_error_set("path too long: %s", opts->state_dir);
		error = EF_EINVALID;
		goto fail;
	}
	if ((error = ef_fs_mkdir_p(dir, 0700)) < 0)
		goto fail;
	/* Fail now, not at the first flip, when nft is missing or not allowed. */
	if ((error = run_nft(&output, NULL, "list tables")) < 0)
		goto fail;
	ef_buf_dispose(&output);
	*out = &ns->parent;
	return 0;
fail:
	ef_buf_dispose(&output);
	free(ns);
	return error;
}

static int nft_apply(ef_switch *s, const ef_route *routes, size_t n)
{
	struct nft_switch *ns = (struct nft_switch *)s;
	ef_buf script = EF_BUF_INIT(EF_ROUTES_FILE_MAX), output = EF_BUF_INIT(NFT_OUTPUT_MAX),
	       text = EF_BUF_INIT(EF_ROUTES_FILE_MAX);
	ef_route *old = NULL;
	size_t old_n = 0;
	uint64_t gen = 0;
	int error;

	if ((error = ef_routes_check(routes, n)) < 0 || (error = check_ipv4(routes, n)) < 0)
		goto out;
	if ((error = make_script(&script, routes, n)) < 0)
		goto out;
	if ((error = run_nft(&output, script.ptr, "-f -")) < 0)
		goto out;
	warn_route_localnet(routes, n);
	/* Remember what is in force, for current(). */
	if (ef_routes_load(&old, &old_n, &gen, ns->routes_path) < 0)
		gen = 0;
	ef_routes_free(old, old_n);
	if ((error = ef_proxy_routes_format(&text, routes, n, gen + 1)) < 0 ||
	    (error = ef_fs_write_atomic(ns->routes_path, text.ptr, text.len)) < 0)
		goto out;
	ef_info("nftables-applied", "generation=%llu routes=%zu", (unsigned long long)(gen + 1), n);
out:
	ef_buf_dispose(&script);
	ef_buf_dispose(&output);
	ef_buf_dispose(&text);
	return error;
}

static int nft_current(ef_switch *s, ef_route **out, size_t *n)
{
	struct nft_switch *ns = (struct nft_switch *)s;
	ef_buf output = EF_BUF_INIT(NFT_OUTPUT_MAX);
	uint64_t gen;
	int error;

	*out = NULL;
	*n = 0;
	/* After a reboot the file remains but the kernel has no table. */
	error = run_nft(&output, NULL, "list");
	ef_buf_dispose(&output);
	if (error == EF_ERROR) {
		ef_error_clear();
		return 0;
	}
	if (error < 0)
		return error;
	error = ef_routes_load(out, n, &gen, ns->routes_path);
	if (error == EF_ENOTFOUND) {
		ef_error_clear();
		return 0;
	}
	return error;
}

const struct ef_switch_ops ef_switch_nftables_ops = {
        .name = "nftables",
        .open = nft_open,
        .apply = nft_apply,
        .current = nft_current,
        .close = nft_close,
};
