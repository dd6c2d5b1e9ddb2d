/* scope: turn a policy set into the kernel filter: which kinds, signals and exits to
 * record, and the scope sets that tell each record which policies it belongs to.
 * Policy i of the set is bit i of a record's policies mask. */
#ifndef SALVE_SCOPE_H
#define SALVE_SCOPE_H

#include <stddef.h>

#include "policy/policy.h"
#include "kernel/probes.h"

struct scope_plan {
	struct salve_config cfg;
	struct probes_scope_entry *entries;
	size_t n_entries;
};

struct scope_opts {
	const char *cgroup_root; /* the cgroup2 mount, e.g. /sys/fs/cgroup/unified */
	unsigned rate_per_sec;   /* per process and kind; 0: unlimited */
	unsigned burst;
};

/* Build the plan. A binary or cgroup that does not exist yet is left out with a
 * warning (no process can match it); the policy still takes only what it names.
 * Errors (too many policies, out of memory) go to err. */
int scope_plan_build(const struct policy_set *set, const struct scope_opts *opts,
		     struct scope_plan *out, char *err, size_t err_len);
void scope_plan_clear(struct scope_plan *plan);

/* Whether two plans program the kernel the same way. */
int scope_plan_equal(const struct scope_plan *a, const struct scope_plan *b);

/* The probe kind's record kind. */
enum salve_event_kind scope_event_kind(enum policy_probe_kind kind);

#endif
