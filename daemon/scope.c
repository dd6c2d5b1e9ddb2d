#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "log.h"
#include "scope.h"

enum salve_event_kind scope_event_kind(enum policy_probe_kind kind)
{
	switch (kind) {
	case POLICY_PROBE_SIGNAL:
		return SALVE_EV_SIGNAL;
	case POLICY_PROBE_EXIT:
		return SALVE_EV_EXIT;
	case POLICY_PROBE_OOM:
		return SALVE_EV_OOM;
	case POLICY_PROBE_EXEC:
		return SALVE_EV_EXEC;
	case POLICY_PROBE_RETURN:
		return SALVE_EV_RETURN;
	case POLICY_PROBE_LATENCY:
		return SALVE_EV_LATENCY;
	case POLICY_PROBE_STALL:
		return SALVE_EV_STALL;
	case POLICY_PROBE_ABORT:
		return SALVE_EV_ABORT;
	case POLICY_PROBE_EXCEPTION:
		return SALVE_EV_EXCEPTION;
	case POLICY_PROBE_SYSCALL:
		return SALVE_EV_SYSCALL;
	default:
		return 0; /* no record kind runs it yet */
	}
}

/* Add policy bit to the entry with this key, or a new entry. */
static int add_entry(struct scope_plan *plan, const struct probes_scope_entry *e, size_t *cap)
{
	for (size_t i = 0; i < plan->n_entries; i++) {
		if (plan->entries[i].set == e->set &&
		    !memcmp(&plan->entries[i].key, &e->key, sizeof(e->key))) {
			plan->entries[i].policies |= e->policies;
			return 0;
		}
	}
	if (plan->n_entries == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct probes_scope_entry *n = realloc(plan->entries, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		plan->entries = n;
		*cap = ncap;
	}
	plan->entries[plan->n_entries++] = *e;
	plan->cfg.scope |= e->set;
	return 0;
}

static int add_scope(const struct policy *pol, __u64 bit, const struct scope_opts *opts,
		     struct scope_plan *plan, size_t *cap)
{
	const struct policy_scope *sc = &pol->scope;
	struct probes_scope_entry e;
	char path[4096];
	struct stat st;
	int err;

	for (size_t i = 0; i < sc->n_binaries; i++) {
		if (stat(sc->binaries[i], &st)) {
			salve_log(LOG_WARNING, "%s: scope.binaries[%zu]: %s: %s; no process runs it yet",
				  pol->file, i, sc->binaries[i], strerror(errno));
			continue;
		}
		memset(&e, 0, sizeof(e));
		e.set = SALVE_SCOPE_EXE;
		/* The kernel's dev_t packs major and minor as major << 20 | minor. */
		e.key.exe.dev = ((__u64)major(st.st_dev) << 20) | minor(st.st_dev);
		e.key.exe.ino = st.st_ino;
		e.policies = bit;
		if ((err = add_entry(plan, &e, cap)))
			return err;
	}
	for (size_t i = 0; i < sc->n_cgroups; i++) {
		snprintf(path, sizeof(path), "%s%s", opts->cgroup_root, sc->cgroups[i]);
		if (stat(path, &st)) {
			salve_log(LOG_WARNING, "%s: scope.cgroups[%zu]: %s: %s; no process is in it yet",
				  pol->file, i, path, strerror(errno));
			continue;
		}
		memset(&e, 0, sizeof(e));
		e.set = SALVE_SCOPE_CGROUP;
		e.key.cgroup_id = st.st_ino; /* a cgroup2 directory's inode is its id */
		e.policies = bit;
		if ((err = add_entry(plan, &e, cap)))
			return err;
	}
	for (size_t i = 0; i < sc->n_comms; i++) {
		memset(&e, 0, sizeof(e));
		e.set = SALVE_SCOPE_COMM;
		strncpy(e.key.comm, sc->comms[i], sizeof(e.key.comm) - 1);
		e.policies = bit;
		if ((err = add_entry(plan, &e, cap)))
			return err;
	}
	return 0;
}

static int add_probe(const struct policy *pol, size_t index, struct salve_config *cfg,
		     bool *all_exits, char *err, size_t err_len)
{
	const struct policy_probe *pr = &pol->probes[index];
	enum salve_event_kind kind = scope_event_kind(pr->kind);

	if (!kind) {
		snprintf(err, err_len, "%s: probes[%zu]: salved %s cannot run probes of kind \"%s\"",
			 pol->file, index, SALVE_VERSION, policy_probe_kind_name(pr->kind));
		return -EOPNOTSUPP;
	}
	cfg->kinds |= 1u << kind;
	if (pr->kind == POLICY_PROBE_SIGNAL) {
		cfg->signals |= pr->signals_mask;
		cfg->signals_handled |= pr->handled;
		cfg->stack |= 1u << kind;
	}
	if (pr->kind == POLICY_PROBE_EXIT && !pr->nonzero)
		*all_exits = true;
	return 0;
}

int scope_plan_build(const struct policy_set *set, const struct scope_opts *opts,
		     struct scope_plan *out, char *err, size_t err_len)
{
	struct scope_plan plan = { 0 };
	bool all_exits = false;
	size_t cap = 0;
	int rc;

	if (set->n_policies > SALVE_POLICIES_MAX) {
		snprintf(err, err_len, "%zu policies loaded; salved holds at most %d",
			 set->n_policies, SALVE_POLICIES_MAX);
		return -E2BIG;
	}
	for (size_t i = 0; i < set->n_policies; i++) {
		const struct policy *pol = &set->policies[i];
		const struct policy_scope *sc = &pol->scope;
		__u64 bit = 1ull << i;

		for (size_t j = 0; j < pol->n_probes; j++) {
			if ((rc = add_probe(pol, j, &plan.cfg, &all_exits, err, err_len))) {
				scope_plan_clear(&plan);
				return rc;
			}
		}
		if (!sc->n_binaries && !sc->n_cgroups && !sc->n_comms) {
			plan.cfg.unscoped |= bit;
			continue;
		}
		if ((rc = add_scope(pol, bit, opts, &plan, &cap))) {
			snprintf(err, err_len, "%s: cannot build its scope: %s", pol->file, strerror(-rc));
			scope_plan_clear(&plan);
			return rc;
		}
	}
	plan.cfg.exit_nonzero = !all_exits;
	plan.cfg.rate_per_sec = opts->rate_per_sec;
	plan.cfg.burst = opts->burst;
	*out = plan;
	return 0;
}

void scope_plan_clear(struct scope_plan *plan)
{
	free(plan->entries);
	*plan = (struct scope_plan){ 0 };
}

int scope_plan_equal(const struct scope_plan *a, const struct scope_plan *b)
{
	return !memcmp(&a->cfg, &b->cfg, sizeof(a->cfg)) && a->n_entries == b->n_entries &&
	       (!a->n_entries || !memcmp(a->entries, b->entries, a->n_entries * sizeof(*a->entries)));
}
