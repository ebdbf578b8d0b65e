/* What operators change beside a running daemon, looked at by every pass
 * (docs/deploy.md "Quarantine"): the trust files, whose change lets commits
 * refused for their signature be examined again, and the requests that
 * `edgeflip retry` leaves. */
#include "agent_internal.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"
#include "edgeflip/log.h"
#include "edgeflip/state.h"
#include "edgeflip/verify.h"
#include "edgeflip/sys/clock.h"
#include "edgeflip/sys/fs.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* FNV-1a over the trust files: tells that they changed, nothing more (who
 * can write them owns the device anyway). */
static uint64_t fnv1a(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* Commits refused for their signature are examined again when the trust
 * configuration changes: a typo fixed in allowed_signers must not leave a
 * good commit refused for ever. The hash of the files that decided is kept
 * in STATE_DIR/trust.hash. A pass reads the files again only when stat(2)
 * tells they changed, and every EF_AGENT_TRUST_REREAD passes regardless. */
void ef_agent_recheck_trust(ef_agent *a)
{
	const char *files[] = {a->cfg->allowed_signers, a->cfg->openpgp_keys};
	char path[4200], now[32];
	uint64_t h = 0xcbf29ce484222325ull;
	ef_fs_stamp stamp[2];
	bool stamped = true;
	ef_buf old;
	int n;

	/* Untouched since the last pass read them: nothing to read or hash. */
	memset(stamp, 0, sizeof(stamp));
	for (size_t i = 0; i < 2; i++)
		if (files[i] && (ef_fs_stamp_of(&stamp[i], files[i]) < 0 ||
		                 stamp[i].changed_s + 2 >= ef_clock_wall()))
			stamped = false; /* or changed too recently to tell the next change */
	if (stamped && a->trust_stamped && ++a->trust_unread < EF_AGENT_TRUST_REREAD &&
	    memcmp(stamp, a->trust_stamp, sizeof(stamp)) == 0)
		return;
	a->trust_unread = 0;
	memcpy(a->trust_stamp, stamp, sizeof(stamp));
	a->trust_stamped = stamped;
	for (size_t i = 0; i < 2; i++) {
		ef_buf b;

		h = fnv1a(h, "|", 1);
		if (!files[i] || ef_read_file(&b, files[i], 16u << 20) < 0)
			continue;
		h = fnv1a(h, b.ptr, b.len);
		ef_buf_dispose(&b);
	}
	snprintf(now, sizeof(now), "%016llx\n", (unsigned long long)h);
	snprintf(path, sizeof(path), "%s/trust.hash", a->cfg->state_dir);
	if (ef_read_file(&old, path, 64) == 0) {
		bool same = old.len == strlen(now) && memcmp(old.ptr, now, old.len) == 0;

		ef_buf_dispose(&old);
		if (same)
			return;
		/* The keys loaded for earlier passes are not the files' now:
		 * the next verification loads them again (open_trust). */
		ef_trust_free(a->trust);
		a->trust = NULL;
		n = ef_state_unquarantine(&a->st, NULL, "signature");
		if (n > 0) {
			ef_info("trust-changed",
			        "requeued=%d what=\"commits refused for their "
			        "signature are examined again\"",
			        n);
			ef_state_save(&a->st, a->cfg->state_dir);
		}
	}
	ef_fs_write_atomic(path, now, strlen(now));
}

void ef_agent_requests_due(ef_agent *a)
{
	a->requests_due = true;
}

/* Decided once a pass: the daemon asks before it serves `import`, the
 * pass asks again for STATE_DIR/retry and gets the same answer. */
bool ef_agent_requests_now(ef_agent *a)
{
	if (a->requests_decided)
		return a->requests_look;
	a->requests_decided = true;
	a->requests_look = a->requests_due || ++a->requests_unlooked >= EF_AGENT_REQUESTS_EVERY;
	if (a->requests_look) {
		a->requests_due = false;
		a->requests_unlooked = 0;
	}
	return a->requests_look;
}

/* `edgeflip retry [REV]` beside a running daemon leaves its request in
 * STATE_DIR/retry (one revision prefix or "*" per line). */
void ef_agent_apply_retry_requests(ef_agent *a)
{
	char path[4200];
	ef_buf b;
	int total = 0;

	snprintf(path, sizeof(path), "%s/retry", a->cfg->state_dir);
	/* Most passes: no request. lstat says so without the message that a
	 * failed open formats (strerror, which looks up its translation). */
	if (!ef_fs_exists(path) || ef_read_file(&b, path, 64u << 10) < 0)
		return;
	for (char *line = b.ptr, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (*line)
			total += ef_state_unquarantine(&a->st, strcmp(line, "*") ? line : NULL,
			                               NULL);
	}
	ef_buf_dispose(&b);
	unlink(path);
	ef_info("retry-requested", "released=%d", total);
	if (total > 0)
		ef_state_save(&a->st, a->cfg->state_dir);
}
