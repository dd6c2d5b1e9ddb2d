#define _GNU_SOURCE /* vasprintf */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
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

/* Remember name of where, found or not (missing: the warning, printf-style; NULL when
 * found). */
__attribute__((format(printf, 4, 5)))
static int add_name(struct scope_plan *plan, const char *where, const char *name,
		    const char *missing, ...)
{
	struct scope_name *n = realloc(plan->names, (plan->n_names + 1) * sizeof(*n));
	struct scope_name *e;
	va_list ap;

	if (!n)
		return -ENOMEM;
	plan->names = n;
	e = &n[plan->n_names];
	*e = (struct scope_name){ strdup(where), strdup(name), NULL };
	if (missing) {
		va_start(ap, missing);
		if (vasprintf(&e->missing, missing, ap) < 0)
			e->missing = NULL;
		va_end(ap);
	}
	if (!e->where || !e->name || (missing && !e->missing)) {
		free(e->where);
		free(e->name);
		free(e->missing);
		return -ENOMEM;
	}
	plan->n_names++;
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

int scope_unit_cgroup(const char *root, const char *unit, char *path, size_t len)
{
	return unit_cgroup(root, unit, UNIT_SEARCH_DEPTH, path, len);
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
	char hex[RESOLVE_BUILD_ID_MAX] = "", why[512];
	struct stat st;
	int err;

	if (stat(path, &st))
		return add_name(plan, where, path, "%s: %s: %s; no process runs it yet", where,
				path, strerror(errno));
	if (build_id && (resolve_build_id(path, hex, why, sizeof(why)) || strcmp(hex, build_id)))
		return add_name(plan, where, path,
				"%s: %s has build id \"%s\", not \"%s\"; left out until it does",
				where, path, hex[0] ? hex : "(none)", build_id);
	e.key.exe.dev = events_kernel_dev(st.st_dev);
	e.key.exe.ino = st.st_ino;
	if ((err = add_entry(plan, &e, cap)))
		return err;
	return add_name(plan, where, path, NULL);
}

/* The entries of one scope (a policy's, or its exclusions when val excludes). Names
 * that match nothing yet (a binary not installed, a unit not started) are left out
 * and marked missing; salved plans again when they appear. */
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
		snprintf(where, sizeof(where), "%s: %s.cgroups[%zu]", pol->file, field, i);
		snprintf(path, sizeof(path), "%s%s", opts->cgroup_root, sc->cgroups[i]);
		err = add_cgroup(plan, cap, path, val);
		if (err == -ENOMEM)
			return err;
		err = err ? add_name(plan, where, path, "%s: %s: %s; no process is in it yet", where,
				     path, strerror(-err))
			  : add_name(plan, where, path, NULL);
		if (err)
			return err;
	}
	for (size_t i = 0; i < sc->n_units; i++) {
		snprintf(where, sizeof(where), "%s: %s.units[%zu]", pol->file, field, i);
		err = scope_unit_cgroup(opts->cgroup_root, sc->units[i], path, sizeof(path));
		if (!err)
			err = add_cgroup(plan, cap, path, val);
		if (err == -ENOMEM)
			return err;
		err = err ? add_name(plan, where, sc->units[i],
				     "%s: %s has no cgroup under %s: %s; it is not running yet",
				     where, sc->units[i], opts->cgroup_root, strerror(-err))
			  : add_name(plan, where, sc->units[i], NULL);
		if (err)
			return err;
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
		if (pr->faults == POLICY_FAULTS_ALL)
			cfg->faults |= pr->signals_mask & SALVE_FAULT_SIGNALS;
		cfg->stack |= 1u << kind;
		/* One snapshot serves every signal probe: the largest any of them asks. */
		if (cfg->snap_bytes < pr->stack_bytes)
			cfg->snap_bytes = pr->stack_bytes;
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
	/* A list with no entry in the kernel (its binaries or cgroups all missing yet) still
	 * narrows its policy, to nothing: the kernel looks at every kind of set a policy
	 * needs, not only those that have entries. */
	plan.cfg.scope |= (plan.cfg.needs[0] ? SALVE_SCOPE_CGROUP : 0) |
			  (plan.cfg.needs[1] ? SALVE_SCOPE_EXE : 0) |
			  (plan.cfg.needs[2] ? SALVE_SCOPE_COMM : 0) |
			  (plan.cfg.needs[3] ? SALVE_SCOPE_UID : 0);
	plan.cfg.exit_nonzero = !all_exits;
	plan.cfg.rate_per_sec = opts->rate_per_sec;
	plan.cfg.burst = opts->burst;
	*out = plan;
	return 0;
}

void scope_plan_clear(struct scope_plan *plan)
{
	for (size_t i = 0; i < plan->n_names; i++) {
		free(plan->names[i].where);
		free(plan->names[i].name);
		free(plan->names[i].missing);
	}
	free(plan->names);
	free(plan->entries);
	*plan = (struct scope_plan){ 0 };
}

int scope_plan_equal(const struct scope_plan *a, const struct scope_plan *b)
{
	return !memcmp(&a->cfg, &b->cfg, sizeof(a->cfg)) && a->n_entries == b->n_entries &&
	       (!a->n_entries || !memcmp(a->entries, b->entries, a->n_entries * sizeof(*a->entries)));
}

static const struct scope_name *find_name(const struct scope_plan *plan, const struct scope_name *n)
{
	for (size_t i = 0; i < plan->n_names; i++)
		if (!strcmp(plan->names[i].where, n->where) && !strcmp(plan->names[i].name, n->name))
			return &plan->names[i];
	return NULL;
}

void scope_plan_report(const struct scope_plan *prev, const struct scope_plan *next)
{
	for (size_t i = 0; i < next->n_names; i++) {
		const struct scope_name *n = &next->names[i];
		const struct scope_name *was = find_name(prev, n);

		if (n->missing && !(was && was->missing && !strcmp(was->missing, n->missing)))
			salve_log(LOG_WARNING, "%s", n->missing);
		else if (!n->missing && was && was->missing)
			salve_log(LOG_INFO, "%s: %s appeared; the scope takes it in", n->where, n->name);
	}
}
