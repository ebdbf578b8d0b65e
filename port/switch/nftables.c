/* The "nftables" switch backend: the kernel rewrites the destination of new
 * connections (DNAT) from the public port to the active slot's port.
 *
 * Targets are never on loopback: DNAT from another host to 127.0.0.1 needs
 * net.ipv4.conf.*.route_localnet=1, which lets anyone on the LAN reach every
 * service bound to 127.0.0.1 (CVE-2020-8558). The deploy publishes a slot's
 * internal ports on the backend's own addresses instead, EF_SWITCH_NFT_ADDR4
 * and EF_SWITCH_NFT_ADDR6, which open() puts on `lo` as a /32 and a /128; a
 * filter chain drops traffic to them that arrives from another interface
 * without having been DNATed by this table, so a LAN host reaches a slot
 * only through its public port.
 *
 * One `nft -f -` transaction per apply(): it creates the table `inet
 * edgeflip` if needed, flushes and refills its eight maps (tcp/udp, IPv4/IPv6,
 * any-address/address-specific listeners) and its chains. nft applies a
 * whole file atomically, so every route changes at once or none does.
 * Conntrack keeps established connections (and UDP flows) on the target they
 * started with. See docs/switch.md. */
#include "switch_int.h"
#include "edgeflip/error.h"
#include "edgeflip/log.h"
#include "edgeflip/proxy.h"
#include "edgeflip/sys/fs.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
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

static void one_line(ef_buf *output)
{
	for (char *c = output->ptr; c && *c; c++)
		if (*c == '\n')
			*c = ' ';
}

static int run_nft(ef_buf *output, const char *script, const char *what)
{
	char *argv_script[] = {"nft", "-f", "-", NULL};
	char *argv_list[] = {"nft", "list", "table", "inet", "edgeflip", NULL};
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
		one_line(output);
		ef_error_set("nft %s failed (exit status %d): %s", what, status,
		             output->ptr ? output->ptr : "");
		return EF_ERROR;
	}
	return 0;
}

/* `ip -4|-6 addr replace ADDR dev lo`: idempotent, no kernel module. */
static int add_address(const char *family, const char *addr)
{
	char *argv[] = {"ip", (char *)family, "addr", "replace", (char *)addr, "dev", "lo", NULL};
	ef_buf output = EF_BUF_INIT(NFT_OUTPUT_MAX);
	int status, error;

	error = ef_switch_run(&status, &output, argv, NULL, NULL, 0, NFT_TIMEOUT_MS);
	if (error == 0 && status != 0) {
		one_line(&output);
		ef_error_set("cannot add the nftables switch's target address: ip %s addr replace "
		             "%s dev lo failed (exit status %d): %s",
		             family, addr, status, output.ptr ? output.ptr : "");
		error = EF_ERROR;
	}
	ef_buf_dispose(&output);
	return error;
}

static bool is_v6(const char *addr)
{
	return strchr(addr, ':') != NULL;
}

static bool is_any(const char *addr)
{
	return strcmp(addr, "0.0.0.0") == 0 || strcmp(addr, "::") == 0;
}

static bool is_loopback(const char *addr)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, addr, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, addr, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return false;
}

/* No loopback targets, and no NAT between the families (no NAT64 here). */
static int check_targets(const ef_route *routes, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const ef_route *r = &routes[i];

		if (is_loopback(r->target_addr)) {
			ef_error_set("routes[%zu]: target %s is a loopback address: the nftables "
			             "switch does not DNAT to loopback (other hosts would need "
			             "route_localnet=1, CVE-2020-8558); publish the slot on %s "
			             "instead",
			             i, r->target_addr,
			             is_v6(r->target_addr) ? EF_SWITCH_NFT_ADDR6
			                                   : EF_SWITCH_NFT_ADDR4);
			return EF_EINVALID;
		}
		if (is_v6(r->listen_addr) != is_v6(r->target_addr)) {
			ef_error_set("routes[%zu]: %s -> %s: the nftables switch cannot route "
			             "between IPv4 and IPv6; use a target of the listener's "
			             "family",
			             i, r->listen_addr, r->target_addr);
			return EF_EINVALID;
		}
		if (r->canary_addr && (is_loopback(r->canary_addr) ||
		                       is_v6(r->listen_addr) != is_v6(r->canary_addr))) {
			ef_error_set("routes[%zu]: canary %s: the nftables switch needs a canary "
			             "target of the listener's family that is not loopback (%s)",
			             i, r->canary_addr,
			             is_v6(r->listen_addr) ? EF_SWITCH_NFT_ADDR6
			                                   : EF_SWITCH_NFT_ADDR4);
			return EF_EINVALID;
		}
	}
	return 0;
}

/* The map elements of one protocol and family: port-only keys for 0.0.0.0
 * and :: listeners, address . port keys for the others. */
static int put_elements(ef_buf *b, const ef_route *routes, size_t n, const char *proto, int fam,
                        bool with_addr)
{
	const char *map = with_addr ? "addr" : "any";
	bool first = true;
	int error = 0;

	for (size_t i = 0; i < n && error == 0; i++) {
		const ef_route *r = &routes[i];

		if (strcmp(r->protocol, proto) != 0 || is_any(r->listen_addr) == with_addr ||
		    (is_v6(r->listen_addr) ? 6 : 4) != fam)
			continue;
		if (first)
			error = ef_buf_printf(b, "add element inet edgeflip %s%d_%s { ", proto, fam,
			                      map);
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

/* A canary route's rule: `numgen random mod 100 < W` sends W percent of the
 * port's new connections to the canary target before the maps see them. */
static int put_canary_rule(ef_buf *b, const ef_route *r, const char *chain)
{
	bool v6 = is_v6(r->listen_addr);
	const char *ip = v6 ? "ip6" : "ip";
	int error = 0;

	if (!r->canary_addr || !r->canary_weight)
		return 0;
	error = ef_buf_printf(b, "add rule inet edgeflip %s fib daddr type local ", chain);
	if (error == 0 && !is_any(r->listen_addr))
		error = ef_buf_printf(b, "%s daddr %s ", ip, r->listen_addr);
	else if (error == 0)
		error = ef_buf_printf(b, "meta nfproto %s ", v6 ? "ipv6" : "ipv4");
	if (error == 0)
		error = ef_buf_printf(b,
		                      "%s dport %u numgen random mod 100 < %u dnat %s to "
		                      "%s%s%s:%u\n",
		                      r->protocol, r->listen_port, r->canary_weight, ip,
		                      v6 ? "[" : "", r->canary_addr, v6 ? "]" : "", r->canary_port);
	return error;
}

static const char *const protos[] = {"tcp", "udp"};
static const int fams[] = {4, 6};

static int make_script(ef_buf *b, const ef_route *routes, size_t n)
{
	static const char *const chains[] = {"prerouting", "output"};
	/* The IPv4-only table of earlier versions goes in the same transaction
	 * (add, then delete: no error when it does not exist). */
	int error = ef_buf_puts(b, "add table ip edgeflip\n"
	                           "delete table ip edgeflip\n"
	                           "add table inet edgeflip\n");

	for (size_t p = 0; p < 2 && error == 0; p++)
		for (size_t f = 0; f < 2 && error == 0; f++) {
			const char *t = fams[f] == 4 ? "ipv4_addr" : "ipv6_addr";

			error = ef_buf_printf(
			        b,
			        "add map inet edgeflip %s%d_any { type inet_service : %s . "
			        "inet_service; }\n"
			        "add map inet edgeflip %s%d_addr { type %s . inet_service : %s . "
			        "inet_service; }\n"
			        "flush map inet edgeflip %s%d_any\n"
			        "flush map inet edgeflip %s%d_addr\n",
			        protos[p], fams[f], t, protos[p], fams[f], t, t, protos[p], fams[f],
			        protos[p], fams[f]);
		}
	/* Only traffic addressed to this host: a gateway also forwards other
	 * hosts' traffic to the same ports, which must pass untouched. */
	if (error == 0)
		error = ef_buf_puts(
		        b, "add chain inet edgeflip prerouting { type nat hook prerouting priority "
		           "dstnat; policy accept; }\n"
		           "add chain inet edgeflip output { type nat hook output priority -100; "
		           "policy accept; }\n"
		           "add chain inet edgeflip guard { type filter hook input priority 0; "
		           "policy accept; }\n"
		           "flush chain inet edgeflip prerouting\n"
		           "flush chain inet edgeflip output\n"
		           "flush chain inet edgeflip guard\n");
	for (size_t c = 0; c < 2 && error == 0; c++) {
		/* Canary routes first: W of 100 new connections to the canary
		 * (NAT rules see only a connection's first packet). */
		for (size_t i = 0; i < n && error == 0; i++)
			error = put_canary_rule(b, &routes[i], chains[c]);
		for (size_t f = 0; f < 2 && error == 0; f++)
			for (size_t p = 0; p < 2 && error == 0; p++) {
				const char *ip = fams[f] == 4 ? "ip" : "ip6";

				error = ef_buf_printf(
				        b,
				        "add rule inet edgeflip %s fib daddr type local dnat %s "
				        "to %s daddr . %s dport map @%s%d_addr\n"
				        "add rule inet edgeflip %s fib daddr type local dnat %s "
				        "to %s dport map @%s%d_any\n",
				        chains[c], ip, ip, protos[p], protos[p], fams[f], chains[c],
				        ip, protos[p], protos[p], fams[f]);
			}
	}
	/* The slots' addresses answer other hosts only through a public port. */
	if (error == 0)
		error = ef_buf_printf(b,
		                      "add rule inet edgeflip guard iif != lo ip daddr %s ct "
		                      "status & dnat == 0 drop\n"
		                      "add rule inet edgeflip guard iif != lo ip6 daddr %s ct "
		                      "status & dnat == 0 drop\n",
		                      EF_SWITCH_NFT_ADDR4, EF_SWITCH_NFT_ADDR6);
	for (size_t p = 0; p < 2 && error == 0; p++)
		for (size_t f = 0; f < 2 && error == 0; f++) {
			error = put_elements(b, routes, n, protos[p], fams[f], true);
			if (error == 0)
				error = put_elements(b, routes, n, protos[p], fams[f], false);
		}
	return error;
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
	/* The targets' addresses (gone after a reboot, so every open). */
	if ((error = add_address("-4", EF_SWITCH_NFT_ADDR4 "/32")) < 0)
		goto fail;
	if (add_address("-6", EF_SWITCH_NFT_ADDR6 "/128") < 0) {
		/* A kernel without IPv6: IPv4 routes still work. */
		ef_warn("nftables-no-ipv6", "msg=\"%s\"", ef_error_last());
		ef_error_clear();
	}
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

	if ((error = ef_routes_check(routes, n)) < 0 || (error = check_targets(routes, n)) < 0)
		goto out;
	if ((error = make_script(&script, routes, n)) < 0)
		goto out;
	if ((error = run_nft(&output, script.ptr, "-f -")) < 0)
		goto out;
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
