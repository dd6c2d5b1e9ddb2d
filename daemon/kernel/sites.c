#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "kernel/resolve.h"
#include "kernel/sites.h"

static enum salve_value_type value_type(const struct policy_probe *pr)
{
	switch (pr->type) {
	case POLICY_VALUE_LONG:
		return SALVE_VALUE_LONG;
	case POLICY_VALUE_POINTER:
		return SALVE_VALUE_POINTER;
	case POLICY_VALUE_BOOL:
		return SALVE_VALUE_BOOL;
	default:
		return SALVE_VALUE_INT;
	}
}

static enum salve_pred_op pred_op(const struct policy_predicate *pred)
{
	switch (pred->op) {
	case PRED_LT:
		return SALVE_PRED_LT;
	case PRED_LE:
		return SALVE_PRED_LE;
	case PRED_GT:
		return SALVE_PRED_GT;
	case PRED_GE:
		return SALVE_PRED_GE;
	case PRED_EQ:
		return SALVE_PRED_EQ;
	case PRED_NE:
		return SALVE_PRED_NE;
	default:
		return SALVE_PRED_IN;
	}
}

/* A function a probe sits on, and what its site does there. */
struct site_spec {
	enum salve_site_kind kind;
	const char *symbol; /* NULL: at the probe's offset */
};

/* The functions probe pr sits on; 0 for kinds that sit on none. */
static size_t site_specs(const struct policy_probe *pr, struct site_spec out[2])
{
	switch (pr->kind) {
	case POLICY_PROBE_RETURN:
		out[0] = (struct site_spec){ SALVE_SITE_RETURN, pr->symbol };
		return 1;
	case POLICY_PROBE_LATENCY:
		out[0] = (struct site_spec){ SALVE_SITE_LATENCY, pr->symbol };
		return 1;
	case POLICY_PROBE_STALL:
		out[0] = (struct site_spec){ SALVE_SITE_STALL, pr->symbol };
		return 1;
	case POLICY_PROBE_ABORT:
		/* A failed assert() names its expression; a plain abort() only itself. */
		out[0] = (struct site_spec){ SALVE_SITE_ASSERT, "__assert_fail" };
		out[1] = (struct site_spec){ SALVE_SITE_ABORT, "abort" };
		return 2;
	case POLICY_PROBE_EXCEPTION:
		out[0] = (struct site_spec){ SALVE_SITE_THROW, "__cxa_throw" };
		return 1;
	case POLICY_PROBE_SYSCALL:
		out[0] = (struct site_spec){ SALVE_SITE_SYSCALL, NULL }; /* on no function */
		return 1;
	default:
		return 0;
	}
}

/* The kernel's settings for a site of probe pr of policy number index. */
static void site_cfg(const struct policy_probe *pr, enum salve_site_kind kind, size_t index,
		     struct salve_site *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->kind = kind;
	cfg->threshold_ns = pr->threshold_ns;
	cfg->flags = pr->stack ? SALVE_SITE_STACK : 0;
	cfg->policies = 1ull << index;
	cfg->value_type = value_type(pr);
	cfg->op = pred_op(&pr->when);
	cfg->n_values = pr->when.n_values;
	for (size_t i = 0; i < pr->when.n_values && i < SALVE_PRED_VALUES; i++)
		cfg->values[i] = pr->when.values[i];
	cfg->rate_per_sec = pr->rate.per_second;
	cfg->burst = pr->rate.burst;
}

static int resolve_site(const struct policy *pol, const struct policy_probe *pr,
			const struct site_spec *spec, struct site *s, char *err, size_t err_len)
{
	struct resolve_site rs;
	char why[512];
	int rc;

	if (spec->kind == SALVE_SITE_SYSCALL)
		return 0;
	rc = resolve_binary(pr->binary, s->path, sizeof(s->path), why, sizeof(why));
	if (!rc)
		rc = spec->symbol ? resolve_symbol(s->path, spec->symbol, NULL, &rs, why, sizeof(why))
				  : resolve_offset(s->path, pr->offset, &rs, why, sizeof(why));
	if (rc) {
		snprintf(err, err_len, "%s: probe \"%s\": %s", pol->file, pr->id, why);
		return rc;
	}
	s->offset = rs.offset;
	s->nop5 = rs.nop5;
	return 0;
}

int sites_plan_build(const struct policy_set *set, struct site_plan *out, char *err,
		     size_t err_len)
{
	struct site_plan plan = { 0 };
	struct site_spec specs[2];
	size_t n = 0;
	int rc;

	for (size_t i = 0; i < set->n_policies; i++)
		for (size_t j = 0; j < set->policies[i].n_probes; j++)
			n += site_specs(&set->policies[i].probes[j], specs);
	if (n > SALVE_SITES_MAX) {
		snprintf(err, err_len, "%zu function probes; salved holds at most %d", n,
			 SALVE_SITES_MAX);
		return -E2BIG;
	}
	plan.sites = calloc(n ? n : 1, sizeof(*plan.sites));
	if (!plan.sites)
		return -ENOMEM;
	for (size_t i = 0; i < set->n_policies; i++) {
		const struct policy *pol = &set->policies[i];

		for (size_t j = 0; j < pol->n_probes; j++) {
			const struct policy_probe *pr = &pol->probes[j];
			size_t k = site_specs(pr, specs);

			for (size_t f = 0; f < k; f++) {
				struct site *s = &plan.sites[plan.n_sites++];

				s->probe = pr;
				site_cfg(pr, specs[f].kind, i, &s->cfg);
				if ((rc = resolve_site(pol, pr, &specs[f], s, err, err_len))) {
					sites_plan_clear(&plan);
					return rc;
				}
			}
		}
	}
	*out = plan;
	return 0;
}

void sites_plan_clear(struct site_plan *plan)
{
	free(plan->sites);
	*plan = (struct site_plan){ 0 };
}

const struct site *sites_find(const struct site_plan *plan, uint32_t id)
{
	for (size_t i = 0; i < plan->n_sites; i++)
		if (plan->sites[i].id == id)
			return &plan->sites[i];
	return NULL;
}

static bool same_ints(const int *a, size_t na, const int *b, size_t nb)
{
	return na == nb && (!na || !memcmp(a, b, na * sizeof(*a)));
}

static bool same_syscalls(const struct policy_probe *a, const struct policy_probe *b)
{
	return same_ints(a->syscalls, a->n_syscalls, b->syscalls, b->n_syscalls) &&
	       same_ints(a->errnos, a->n_errnos, b->errnos, b->n_errnos);
}

/* The (syscall, errno) pairs of a syscall site, into the kernel. */
static int attach_syscalls(struct probes *p, const struct site *s)
{
	const struct policy_probe *pr = s->probe;
	size_t n = pr->n_syscalls * pr->n_errnos, k = 0;
	struct salve_sys_key *keys = calloc(n ? n : 1, sizeof(*keys));
	int rc;

	if (!keys)
		return -ENOMEM;
	for (size_t i = 0; i < pr->n_syscalls; i++)
		for (size_t j = 0; j < pr->n_errnos; j++)
			keys[k++] = (struct salve_sys_key){ pr->syscalls[i], pr->errnos[j] };
	rc = probes_site_syscalls(p, s->id, keys, n);
	free(keys);
	return rc;
}

/* The same probe at the same place with the same settings. */
static const struct site *same_site(const struct site_plan *plan, const struct site *s)
{
	for (size_t i = 0; i < plan->n_sites; i++) {
		const struct site *o = &plan->sites[i];

		if (!strcmp(o->probe->id, s->probe->id) && !strcmp(o->path, s->path) &&
		    o->offset == s->offset && !memcmp(&o->cfg, &s->cfg, sizeof(o->cfg)) &&
		    same_syscalls(o->probe, s->probe))
			return o;
	}
	return NULL;
}

static bool id_taken(const struct site_plan *plan, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (plan->sites[i].id == id)
			return true;
	return false;
}

int sites_apply(struct probes *p, const struct site_plan *prev, struct site_plan *next,
		char *err, size_t err_len)
{
	uint32_t fresh = 0;
	int rc;

	/* Keep the ids of unchanged sites first, so new ones cannot take them. */
	for (size_t i = 0; i < next->n_sites; i++) {
		const struct site *o = same_site(prev, &next->sites[i]);

		next->sites[i].id = o ? o->id : UINT32_MAX;
	}
	for (size_t i = 0; i < prev->n_sites; i++) {
		const struct site *s = &prev->sites[i];

		if (!id_taken(next, next->n_sites, s->id))
			probes_site_detach(p, s->id);
	}
	for (size_t i = 0; i < next->n_sites; i++) {
		struct site *s = &next->sites[i];

		if (s->id != UINT32_MAX)
			continue;
		while (id_taken(next, next->n_sites, fresh) || id_taken(prev, prev->n_sites, fresh))
			fresh++;
		s->id = fresh++;
		rc = probes_site_attach(p, s->id, &s->cfg, s->path, s->offset);
		if (!rc && s->cfg.kind == SALVE_SITE_SYSCALL && (rc = attach_syscalls(p, s)) == -EEXIST) {
			snprintf(err, err_len, "%s: probe \"%s\": another syscall probe already watches "
				 "one of its (syscall, errno) pairs", s->probe->policy->file, s->probe->id);
			probes_site_detach(p, s->id);
			return rc;
		}
		if (rc) {
			snprintf(err, err_len, "%s: probe \"%s\": cannot attach at %s+0x%llx: %s",
				 s->probe->policy->file, s->probe->id, s->path,
				 (unsigned long long)s->offset, strerror(-rc));
			return rc;
		}
		if (s->cfg.kind == SALVE_SITE_SYSCALL)
			continue;
		salve_log(LOG_INFO, "probe %s: %s+0x%llx%s", s->probe->id, s->path,
			  (unsigned long long)s->offset,
			  s->nop5 ? " (5-byte NOP entry: optimized uprobe)" : "");
	}
	return 0;
}
