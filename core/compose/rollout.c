/* Rollout waves: the x-edgeflip.rollout reader and the formula every device
 * applies to itself (docs/fleet.md). */
#include "edgeflip/rollout.h"
#include "edgeflip/date.h"
#include "edgeflip/error.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static int fail(char *err, size_t n, const char *key, const char *what)
{
	snprintf(err, n, "%s: %s", key, what);
	return EF_EINVALID;
}

static bool digits(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return true;
}

int ef_rollout_parse_time(int64_t *out, const char *s)
{
	static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned y, mo, d, h, mi, sec, oh = 0, om = 0;
	int64_t t;
	const char *p;
	int sign = 0;

	if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
	    s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
	    !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
	    !digits(s + 17, 2, &sec))
		goto bad;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60 ||
	    y < 1970)
		goto bad;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		goto bad;
	p = s + 19;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			goto bad;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		sign = 0;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && digits(p + 1, 2, &oh) &&
	           p[3] == ':' && digits(p + 4, 2, &om) && oh <= 23 && om <= 59) {
		sign = *p == '+' ? 1 : -1;
	} else {
		goto bad;
	}
	t = ef_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + (sec > 59 ? 59 : sec);
	*out = t - sign * (int64_t)(oh * 3600 + om * 60);
	return 0;
bad:
	ef_error_set("'%s' is not an RFC 3339 date and time (e.g. 2026-12-04T18:00:00Z)", s);
	return EF_EINVALID;
}

/* "24h", "90m", "1h30m", "2d", "45s": whole numbers with units, summed. */
static int parse_duration(uint64_t *out_ms, const char *s)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
	uint64_t total = 0;

	if (!*s)
		return EF_EINVALID;
	while (*s) {
		uint64_t v = 0, unit = 0;
		size_t ulen = 0;

		if (!isdigit((unsigned char)*s))
			return EF_EINVALID;
		while (isdigit((unsigned char)*s)) {
			if (v > 1000000000000ULL)
				return EF_EINVALID;
			v = v * 10 + (uint64_t)(*s++ - '0');
		}
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t n = strlen(units[i].unit);
			if (strncmp(s, units[i].unit, n) == 0 && n > ulen) {
				ulen = n;
				unit = units[i].ms;
			}
		}
		if (!ulen)
			return EF_EINVALID;
		s += ulen;
		total += v * unit;
		if (total > 100ULL * 365 * 86400000ULL)
			return EF_EINVALID;
	}
	*out_ms = total;
	return 0;
}

int ef_rollout_parse(ef_rollout *out, const cJSON *obj, char *err, size_t n)
{
	const cJSON *it;
	bool have_start = false, have_duration = false;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(obj)) {
		snprintf(err, n,
		         "expected a mapping (start, duration, "
		         "start_percentage, paused)");
		return EF_EINVALID;
	}
	cJSON_ArrayForEach(it, obj)
	{
		const char *k = it->string ? it->string : "";
		if (!strcmp(k, "start")) {
			if (!cJSON_IsString(it) ||
			    ef_rollout_parse_time(&out->start, it->valuestring))
				return fail(err, n, k,
				            "expected an RFC 3339 date and time such as "
				            "2026-12-04T18:00:00Z");
			have_start = true;
		} else if (!strcmp(k, "duration")) {
			if (!cJSON_IsString(it) ||
			    parse_duration(&out->duration_ms, it->valuestring) < 0)
				return fail(err, n, k,
				            "expected a duration with units such as \"24h\", "
				            "\"90m\" or "
				            "\"1h30m\" (up to 100 years)");
			have_duration = true;
		} else if (!strcmp(k, "start_percentage")) {
			if (!cJSON_IsNumber(it) ||
			    !(it->valuedouble >= 0 && it->valuedouble <= 100))
				return fail(err, n, k, "expected a number from 0 to 100");
			out->start_pct = it->valuedouble;
		} else if (!strcmp(k, "paused")) {
			if (!cJSON_IsBool(it))
				return fail(err, n, k, "expected true or false");
			out->paused = cJSON_IsTrue(it);
		} else {
			return fail(err, n, k,
			            "unknown key (known: start, duration, start_percentage, "
			            "paused)");
		}
	}
	if (!have_start && !out->paused)
		return fail(err, n, "start", "missing; say when the wave begins (RFC 3339)");
	if (!have_duration && !out->paused)
		return fail(err, n, "duration", "missing; say how long the wave takes (\"24h\")");
	out->set = true;
	ef_error_clear();
	return 0;
}

double ef_rollout_wariness(const char *device_id)
{
	static const char prefix[] = "edgeflip-rollout:";
	crypto_hash_sha256_state st;
	unsigned char h[crypto_hash_sha256_BYTES];
	uint64_t v = 0;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const unsigned char *)prefix, sizeof(prefix) - 1);
	crypto_hash_sha256_update(&st, (const unsigned char *)device_id, strlen(device_id));
	crypto_hash_sha256_final(&st, h);
	for (int i = 0; i < 8; i++)
		v = (v << 8) | h[i];
	/* ldexp: exact scaling by 2^-64; the result rounds to a double < 1 unless
	 * v is within 2^10 of 2^64, which then reads as the last device. */
	return ldexp((double)v, -64);
}

double ef_rollout_share(const ef_rollout *r, int64_t now)
{
	double p = r->start_pct / 100.0, f;

	if (r->duration_ms == 0)
		f = now >= r->start ? 1.0 : 0.0;
	else
		f = ((double)(now - r->start) * 1000.0) / (double)r->duration_ms;
	if (f < 0)
		f = 0;
	if (f > 1)
		f = 1;
	return p + (1.0 - p) * f;
}

int64_t ef_rollout_turn(const ef_rollout *r, double w)
{
	double p = r->start_pct / 100.0;
	int64_t t, end;

	if (!r->set || r->paused)
		return 0;
	if (w < p || p >= 1.0 || r->duration_ms == 0)
		return r->start;
	/* The formula, then a step or two to the exact second share() gives
	 * (floating point rounding); the share is 1 > w from the end on. */
	end = r->start + (int64_t)(r->duration_ms / 1000u) + 1;
	t = r->start + (int64_t)((w - p) / (1.0 - p) * (double)r->duration_ms / 1000.0);
	if (t > end)
		t = end;
	while (t < end && !(w < ef_rollout_share(r, t)))
		t++;
	while (t > r->start && w < ef_rollout_share(r, t - 1))
		t--;
	return t;
}

ef_rollout_verdict ef_rollout_decide(const ef_rollout *r, double w, int64_t now,
                                     int64_t commit_time, char *why, size_t n)
{
	double share;

	if (!r->set) {
		snprintf(why, n, "no rollout: every device at once");
		return EF_ROLLOUT_GO;
	}
	if (r->paused) {
		snprintf(why, n, "the rollout is paused (x-edgeflip.rollout.paused: true)");
		return EF_ROLLOUT_PAUSED;
	}
	if (commit_time > 0 && now < commit_time) {
		snprintf(why, n,
		         "the clock (%lld) is before the commit's date (%lld): it looks unset; "
		         "waiting for the time to be set (NTP)",
		         (long long)now, (long long)commit_time);
		return EF_ROLLOUT_CLOCK_UNSET;
	}
	share = ef_rollout_share(r, now);
	if (w < share) {
		snprintf(why, n, "in the wave: wariness %.4f < share %.4f", w, share);
		return EF_ROLLOUT_GO;
	}
	snprintf(why, n, "waiting: wariness %.4f, the wave stands at %.1f%%", w, share * 100.0);
	return EF_ROLLOUT_WAIT;
}

const char *ef_rollout_verdict_name(ef_rollout_verdict v)
{
	switch (v) {
	case EF_ROLLOUT_GO:
		return "go";
	case EF_ROLLOUT_WAIT:
		return "waiting";
	case EF_ROLLOUT_PAUSED:
		return "paused";
	case EF_ROLLOUT_CLOCK_UNSET:
		return "clock-unset";
	}
	return "?";
}
