/* The device-side policy: checked before anything reaches the engine. */
#ifndef EDGEFLIP_POLICY_H
#define EDGEFLIP_POLICY_H

#include "edgeflip/config.h"
#include "edgeflip/manifest.h"

/* Checks every service of `m` against `p`. *out_findings receives one line per
 * refusal ("service web: privileged mode is refused by the device policy; ..."),
 * NULL when none. Returns 0 when allowed, EF_EREJECTED when any finding. */
int ef_policy_check(char ***out_findings, const ef_policy *p, const ef_manifest *m);

#endif
