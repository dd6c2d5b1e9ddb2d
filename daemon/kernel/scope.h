/* scope: turn a policy set into the kernel filter: which kinds, signals and exits to
 * record, and the scope sets that tell each record which policies it belongs to.
 * Policy i of the set is bit i of a record's policies mask. */
#ifndef SALVE_SCOPE_H
#define SALVE_SCOPE_H

#include <stddef.h>

#include "policy/policy.h"
#include "kernel/probes.h"

/* Each name a scope gives that must be found on this host (a binary, a cgroup, a unit),
 * and whether it was: a plan remembers which are missing, so that salved says so once
 * when one goes missing and once when it appears, however often it plans again. */
struct scope_name {
	char *where;   /* "web.json: scope.binaries[0]" */
	char *name;    /* the path or unit as the policy gives it */
	char *missing; /* NULL when found; else the warning, naming where, name and why */
};

struct scope_plan {
	struct salve_config cfg;
	struct probes_scope_entry *entries;
	size_t n_entries;
	struct scope_name *names;
	size_t n_names;
};

struct scope_opts {
	const char *cgroup_root; /* the cgroup2 mount, e.g. /sys/fs/cgroup/unified */
	unsigned rate_per_sec;   /* per process and kind; 0: unlimited */
	unsigned burst;
};

/* Build the plan. A binary, cgroup or unit that does not exist yet is left out and
 * marked missing in out->names (no process can match it); the policy still takes only
 * what it names. Nothing is logged: scope_plan_report says what changed. Errors (too
 * many policies, out of memory) go to err. */
int scope_plan_build(const struct policy_set *set, const struct scope_opts *opts,
		     struct scope_plan *out, char *err, size_t err_len);
void scope_plan_clear(struct scope_plan *plan);

/* Whether two plans program the kernel the same way (names aside). */
int scope_plan_equal(const struct scope_plan *a, const struct scope_plan *b);

/* Log what next says of its names that prev (the plan it replaces; empty at start) did
 * not: a warning for each name missing now, an info line for each that was missing and
 * is found now. */
void scope_plan_report(const struct scope_plan *prev, const struct scope_plan *next);

/* The cgroup of systemd unit under the cgroup2 mount root, in whatever slice it runs:
 * 0 and its path, or -ENOENT when it has none (it is not running). */
int scope_unit_cgroup(const char *root, const char *unit, char *path, size_t len);

/* The probe kind's record kind. */
enum salve_event_kind scope_event_kind(enum policy_probe_kind kind);

#endif
