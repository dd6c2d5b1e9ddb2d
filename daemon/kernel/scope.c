#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "events/events.h"
#include "base/log.h"
#include "kernel/resolve.h"
#include "kernel/scope.h"

#define UNIT_SEARCH_DEPTH 6 /* slices nest: /user.slice/user-1000.slice/user@1000.service/... */

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

/* Add the entry's policies to the entry with this key, or a new entry. */
static int add_entry(struct scope_plan *plan, const struct probes_scope_entry *e, size_t *cap)
{
	for (size_t i = 0; i < plan->n_entries; i++) {
		if (plan->entries[i].set == e->set &&
		    !memcmp(&plan->entries[i].key, &e->key, sizeof(e->key))) {
			plan->entries[i].val.include |= e->val.include;
			plan->entries[i].val.exclude |= e->val.exclude;
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

/* The cgroup of a systemd unit: the directory of that name under root, in whatever
 * slice it runs. 0 and path filled, or -ENOENT when the unit has no cgroup (it is not
 * running). */
static int unit_cgroup(const char *dir, const char *unit, int depth, char *path, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = -ENOENT;

	if (!d)
		return -errno;
	while (rc && (de = readdir(d))) {
		char sub[4096];

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name) >= sizeof(sub))
			continue;
		if (!strcmp(de->d_name, unit)) {
			snprintf(path, len, "%s", sub);
			rc = 0;
		} else if (depth > 1 && strchr(de->d_name, '.')) { /* units and slices only */
			rc = unit_cgroup(sub, unit, depth - 1, path, len) ? -ENOENT : 0;
		}
	}
	closedir(d);
	return rc;
}

static int add_cgroup(struct scope_plan *plan, size_t *cap, const char *path,
		      struct salve_scope_val val)
{
	struct probes_scope_entry e = { .set = SALVE_SCOPE_CGROUP, .val = val };
	struct stat st;

	if (stat(path, &st))
		return -errno;
	e.key.cgroup_id = st.st_ino; /* a cgroup2 directory's inode is its id */
	return add_entry(plan, &e, cap);
}

/* The binary at path, when it has the build id the policy asks for (if any). */
static int add_binary(struct scope_plan *plan, size_t *cap, const char *path,
		      const char *build_id, struct salve_scope_val val, const char *where)
{
	struct probes_scope_entry e = { .set = SALVE_SCOPE_EXE, .val = val };
	char hex[RESOLVE_BUILD_ID_MAX], why[512];
	struct stat st;

	if (stat(path, &st)) {
		salve_log(LOG_WARNING, "%s: %s: %s; no process runs it yet", where, path,
			  strerror(errno));
		return 0;
	}
	if (build_id && (resolve_build_id(path, hex, why, sizeof(why)) || strcmp(hex, build_id))) {
		salve_log(LOG_WARNING, "%s: %s has build id \"%s\", not \"%s\"; left out until it does",
			  where, path, hex[0] ? hex : "(none)", build_id);
		return 0;
	}
	e.key.exe.dev = events_kernel_dev(st.st_dev);
	e.key.exe.ino = st.st_ino;
	return add_entry(plan, &e, cap);
}

/* The entries of one scope (a policy's, or its exclusions when val excludes). Names
 * that match nothing yet (a binary not installed, a unit not started) are left out
 * with a warning; salved looks again every second. */
static int add_scope(const struct policy *pol, const struct policy_scope *sc, const char *field,
		     struct salve_scope_val val, const struct scope_opts *opts,
		     struct scope_plan *plan, size_t *cap)
{
	struct probes_scope_entry e;
	char path[4096], where[512];
	int err;

	for (size_t i = 0; i < sc->n_binaries; i++) {
		snprintf(where, sizeof(where), "%s: %s.binaries[%zu]", pol->file, field, i);
		if ((err = add_binary(plan, cap, sc->binaries[i],
				      sc->build_ids ? sc->build_ids[i] : NULL, val, where)))
			return err;
	}
	for (size_t i = 0; i < sc->n_cgroups; i++) {
		snprintf(path, sizeof(path), "%s%s", opts->cgroup_root, sc->cgroups[i]);
		err = add_cgroup(plan, cap, path, val);
		if (err == -ENOMEM)
			return err;
		if (err)
			salve_log(LOG_WARNING, "%s: %s.cgroups[%zu]: %s: %s; no process is in it yet",
				  pol->file, field, i, path, strerror(-err));
	}
	for (size_t i = 0; i < sc->n_units; i++) {
		err = unit_cgroup(opts->cgroup_root, sc->units[i], UNIT_SEARCH_DEPTH, path, sizeof(path));
		if (!err)
			err = add_cgroup(plan, cap, path, val);
		if (err == -ENOMEM)
			return err;
		if (err)
			salve_log(LOG_WARNING, "%s: %s.units[%zu]: %s has no cgroup under %s: %s; "
				  "it is not running yet", pol->file, field, i, sc->units[i],
				  opts->cgroup_root, strerror(-err));
	}
	for (size_t i = 0; i < sc->n_comms; i++) {
		e = (struct probes_scope_entry){ .set = SALVE_SCOPE_COMM, .val = val };
		strncpy(e.key.comm, sc->comms[i], sizeof(e.key.comm) - 1);
		if ((err = add_entry(plan, &e, cap)))
			return err;
	}
	for (size_t i = 0; i < sc->n_uids; i++) {
		e = (struct probes_scope_entry){ .set = SALVE_SCOPE_UID, .val = val };
		e.key.uid = sc->uids[i];
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

		rc = 0;
		for (size_t j = 0; j < pol->n_probes; j++) {
			if ((rc = add_probe(pol, j, &plan.cfg, &all_exits, err, err_len))) {
				scope_plan_clear(&plan);
				return rc;
			}
		}
		/* Rules that count per process forget a process when it exits: every exit
		 * in scope must reach salved, whether a probe reports it or not. */
		for (size_t j = 0; j < pol->n_rules; j++) {
			if (pol->rules[j].by == POLICY_BY_PROCESS) {
				plan.cfg.kinds |= 1u << SALVE_EV_EXIT;
				all_exits = true;
			}
		}
		if (!sc->n_binaries && !sc->n_cgroups && !sc->n_units && !sc->n_comms && !sc->n_uids) {
			plan.cfg.unscoped |= bit;
		} else {
			/* Every kind of list it has must match (indexes: the SALVE_SCOPE_* bits). */
			plan.cfg.scoped |= bit;
			plan.cfg.needs[0] |= sc->n_cgroups || sc->n_units ? bit : 0;
			plan.cfg.needs[1] |= sc->n_binaries ? bit : 0;
			plan.cfg.needs[2] |= sc->n_comms ? bit : 0;
			plan.cfg.needs[3] |= sc->n_uids ? bit : 0;
			rc = add_scope(pol, sc, "scope", (struct salve_scope_val){ .include = bit }, opts,
				       &plan, &cap);
		}
		if (!rc && sc->exclude)
			rc = add_scope(pol, sc->exclude, "scope.exclude",
				       (struct salve_scope_val){ .exclude = bit }, opts, &plan, &cap);
		if (rc) {
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
