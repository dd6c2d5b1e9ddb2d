/* probes_report: the probes in force, for salvectl probes and the metrics. */
#ifndef SALVE_PROBES_REPORT_H
#define SALVE_PROBES_REPORT_H

#include <json-c/json.h>

#include "events/pipeline.h"
#include "kernel/probes.h"
#include "kernel/sites.h"
#include "policy/policy.h"

/* *out: an array, one object per probe of set at each of its sites in plan (a host-wide
 * probe, one object): "probe", "policy", "kind", "mechanism"; for a function site "site",
 * "binary", "symbol" (absent: by offset), "offset", "fast_path" (the entry is a 5-byte
 * NOP the kernel's fast path serves) and, without it, "fast_path_hint"; for a latency
 * site "hist_log2_ns" (calls per [2^b, 2^(b+1)) ns, trailing zeros dropped) and
 * "threshold_ns" (0: the baseline's, not learned yet); "hits" (calls the probe ran on),
 * "events" (records salved read) and "suppressed" (calls in scope its rate limit held
 * back); a host-wide probe's are its kind's, "per_kind": true. kernel: probes_counters'. */
int probes_report(struct probes *p, const struct pipeline *pl, const struct policy_set *set,
		  const struct site_plan *plan, const struct salve_counters kernel[SALVE_EV_KIND_MAX],
		  struct json_object **out);

#endif
