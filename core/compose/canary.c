/* x-edgeflip.canary of a service: the weighted steps of a canary rollout
 * and when it aborts (docs/manifest.md "Canary"). Errors name the file,
 * line and JSON path like every manifest finding. */
#include "manifest_internal.h"
#include "edgeflip/error.h"

#include <math.h>
#include <stdlib.h>

static int parse_steps(pctx *c, ef_canary *out, const cJSON *it)
{
	static const char *const keys[] = {"weight", "pause", NULL};
	size_t n = 0, i = 0;
	int error = 0;

	if (!cJSON_IsArray(it))
		return mf_fail(c, EF_EINVALID, "expected a list of {weight, pause}, got %s",
		               mf_type_name(it));
	n = (size_t)cJSON_GetArraySize(it);
	if (n == 0 || n > EF_CANARY_MAX_STEPS)
		return mf_fail(c, EF_EINVALID, "expected 1 to %d steps, got %zu",
		               EF_CANARY_MAX_STEPS, n);
	if (!(out->steps = calloc(n, sizeof(*out->steps))))
		return mf_fail(c, EF_ENOMEM, "out of memory");
	out->nsteps = n;
	for (const cJSON *e = it->child; e && error == 0; e = e->next, i++) {
		size_t saved = mf_push_index(c, i);
		const cJSON *v;
		int64_t w;

		if (!cJSON_IsObject(e)) {
			error = mf_fail(c, EF_EINVALID, "expected {weight: 1-100, pause: 30s}");
		} else if ((error = mf_check_keys(c, e, keys, false)) == 0) {
			if (!(v = mf_member(e, "weight")) || !mf_whole_number(v, 1, 100, &w))
				error = mf_fail_at(c, "weight", "expected a whole number 1-100");
			else if (i && w <= out->steps[i - 1].weight)
				error = mf_fail_at(c, "weight",
				                   "must be larger than the step before (%u): "
				                   "weights increase step by step",
				                   out->steps[i - 1].weight);
			else if (!(v = mf_member(e, "pause")))
				error = mf_fail_at(c, "pause",
				                   "missing: how long the step lasts (\"30s\")");
			else {
				size_t s2 = mf_push_key(c, "pause");

				out->steps[i].weight = (uint8_t)w;
				error = mf_get_duration(c, v, &out->steps[i].pause_ms);
				mf_pop(c, s2);
			}
		}
		mf_pop(c, saved);
	}
	return error;
}

int mf_parse_canary(pctx *c, ef_canary *out, const cJSON *it)
{
	static const char *const keys[] = {"steps", "max_error_rate", "min_requests", NULL};
	const cJSON *v;
	size_t saved;
	int64_t n;
	int error;

	if (!cJSON_IsObject(it))
		return mf_fail(c, EF_EINVALID,
		               "expected an object {steps, max_error_rate, "
		               "min_requests}");
	if ((error = mf_check_keys(c, it, keys, false)) < 0)
		return error;
	if ((v = mf_member(it, "steps"))) {
		saved = mf_push_key(c, "steps");
		error = parse_steps(c, out, v);
		mf_pop(c, saved);
		if (error < 0)
			return error;
	}
	if ((v = mf_member(it, "max_error_rate"))) {
		if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
		    v->valuedouble > 1)
			return mf_fail_at(c, "max_error_rate",
			                  "expected a number from 0 to 1 (0.05 = 5%%)");
		out->max_error_rate = v->valuedouble;
	}
	if ((v = mf_member(it, "min_requests"))) {
		if (!mf_whole_number(v, 1, 1000000, &n))
			return mf_fail_at(c, "min_requests", "expected a whole number 1-1000000");
		out->min_requests = (uint64_t)n;
	}
	return 0;
}
