#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

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

_Static_assert(POLICY_STACK_BYTES_MAX <= SALVE_USTACK_MAX,
	       "a policy may ask a snapshot for more stack than the kernel copies");

/* The kernel's settings for a site of probe pr of policy number index. */
static void site_cfg(const struct policy_probe *pr, enum salve_site_kind kind, size_t index,
		     struct salve_site *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->kind = kind;
	cfg->threshold_ns = pr->threshold_ns;
	cfg->flags = pr->stack ? SALVE_SITE_STACK : 0;
	cfg->snap_bytes = pr->stack && pr->stack_cfi ? pr->stack_bytes : 0;
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

/* The pair k of syscall site s: k-th of its syscalls by errnos. */
static struct salve_sys_key sys_key(const struct site *s, size_t k)
{
	const struct policy_probe *pr = s->probe;

	return (struct salve_sys_key){ pr->syscalls[k / pr->n_errnos], pr->errnos[k % pr->n_errnos] };
}

static size_t sys_keys(const struct site *s)
{
	return s->cfg.kind == SALVE_SITE_SYSCALL ? s->probe->n_syscalls * s->probe->n_errnos : 0;
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

void sites_match(const struct site_plan *cur, struct site_plan *next)
{
	uint32_t fresh = 0;

	/* Keep the ids of unchanged sites first, so new ones cannot take them. */
	for (size_t i = 0; i < next->n_sites; i++) {
		const struct site *o = same_site(cur, &next->sites[i]);

		next->sites[i].id = o ? o->id : UINT32_MAX;
	}
	/* A new site takes an id neither plan uses: records of cur's sites still in the
	 * ring are told from its own. */
	for (size_t i = 0; i < next->n_sites; i++) {
		struct site *s = &next->sites[i];

		if (s->id != UINT32_MAX)
			continue;
		while (sites_find(next, fresh) || sites_find(cur, fresh))
			fresh++;
		s->id = fresh++;
	}
}

bool sites_is_new(const struct site_plan *cur, const struct site *s)
{
	return !sites_find(cur, s->id);
}

/* Attach new site s, and the (syscall, errno) pairs that are free. A pair a site of
 * cur has, which next lets go, moves at commit; one that stays taken is an error. */
static int stage_site(const struct sites_kernel *k, const struct site_plan *cur,
		      const struct site_plan *next, const struct site *s, char *err, size_t err_len)
{
	int rc = k->attach(k->ctx, s->id, &s->cfg, s->path, s->offset);

	if (rc) {
		/* ENOTSUPP, the kernel's own errno, has no text in libc. */
		snprintf(err, err_len, "%s: probe \"%s\": cannot attach at %s+0x%llx: %s",
			 s->probe->policy->file, s->probe->id, s->path, (unsigned long long)s->offset,
			 rc == -524 ? "the kernel cannot put a uprobe on the instruction there"
				    : strerror(-rc));
		return rc;
	}
	for (size_t i = 0; i < sys_keys(s); i++) {
		struct salve_sys_key key = sys_key(s, i);
		uint32_t owner;

		rc = k->sys_rule(k->ctx, s->id, &key, false, &owner);
		if (rc == -EEXIST && sites_find(cur, owner) && !sites_find(next, owner))
			continue;
		if (rc == -EEXIST)
			snprintf(err, err_len, "%s: probe \"%s\": another syscall probe already watches "
				 "one of its (syscall, errno) pairs", s->probe->policy->file, s->probe->id);
		else if (rc)
			snprintf(err, err_len, "%s: probe \"%s\": cannot watch its syscalls: %s",
				 s->probe->policy->file, s->probe->id, strerror(-rc));
		if (rc) {
			k->detach(k->ctx, s->id);
			return rc;
		}
	}
	return 0;
}

int sites_stage(const struct sites_kernel *k, const struct site_plan *cur, struct site_plan *next,
		char *err, size_t err_len)
{
	int rc;

	sites_match(cur, next);
	for (size_t i = 0; i < next->n_sites; i++) {
		const struct site *s = &next->sites[i];

		if (!sites_is_new(cur, s))
			continue;
		if ((rc = stage_site(k, cur, next, s, err, err_len))) {
			/* Undo the ones before it: the kernel runs cur, as it did. */
			while (i-- > 0)
				if (sites_is_new(cur, &next->sites[i]))
					k->detach(k->ctx, next->sites[i].id);
			return rc;
		}
	}
	return 0;
}

void sites_commit(const struct sites_kernel *k, const struct site_plan *cur,
		  const struct site_plan *next)
{
	for (size_t i = 0; i < next->n_sites; i++) {
		const struct site *s = &next->sites[i];

		if (!sites_is_new(cur, s))
			continue;
		/* Pairs of sites that go: an existing key's value is replaced in place. */
		for (size_t j = 0; j < sys_keys(s); j++) {
			struct salve_sys_key key = sys_key(s, j);
			uint32_t owner;

			k->sys_rule(k->ctx, s->id, &key, true, &owner);
		}
		if (s->cfg.kind != SALVE_SITE_SYSCALL)
			salve_log(LOG_INFO, "probe %s: %s+0x%llx%s", s->probe->id, s->path,
				  (unsigned long long)s->offset,
				  s->nop5 ? " (5-byte NOP entry: optimized uprobe)" : "");
	}
	for (size_t i = 0; i < cur->n_sites; i++)
		if (!sites_find(next, cur->sites[i].id))
			k->detach(k->ctx, cur->sites[i].id);
}

void sites_abort(const struct sites_kernel *k, const struct site_plan *cur,
		 const struct site_plan *next)
{
	for (size_t i = 0; i < next->n_sites; i++)
		if (sites_is_new(cur, &next->sites[i]))
			k->detach(k->ctx, next->sites[i].id);
}

static void describe_site(struct json_object *arr, const struct site *s)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return;
	json_object_object_add(o, "probe", json_object_new_string(s->probe->id));
	json_object_object_add(o, "policy", json_object_new_string(s->probe->policy->name));
	if (s->cfg.kind != SALVE_SITE_SYSCALL) {
		json_object_object_add(o, "path", json_object_new_string(s->path));
		json_object_object_add(o, "offset", json_object_new_uint64(s->offset));
	}
	if (json_object_array_add(arr, o))
		json_object_put(o);
}

void sites_describe_change(const struct site_plan *cur, struct site_plan *next,
			   struct json_object *out)
{
	struct json_object *attach = json_object_new_array(), *detach = json_object_new_array();
	size_t kept = 0;

	sites_match(cur, next);
	for (size_t i = 0; i < next->n_sites; i++) {
		if (sites_is_new(cur, &next->sites[i]))
			describe_site(attach, &next->sites[i]);
		else
			kept++;
	}
	for (size_t i = 0; i < cur->n_sites; i++)
		if (sites_is_new(next, &cur->sites[i]))
			describe_site(detach, &cur->sites[i]);
	json_object_object_add(out, "attach", attach);
	json_object_object_add(out, "detach", detach);
	json_object_object_add(out, "keep", json_object_new_uint64(kept));
}

static int probes_attach(void *ctx, uint32_t id, const struct salve_site *cfg, const char *path,
			 uint64_t offset)
{
	return probes_site_attach(ctx, id, cfg, path, offset);
}

static void probes_detach(void *ctx, uint32_t id)
{
	probes_site_detach(ctx, id);
}

static int probes_rule(void *ctx, uint32_t id, const struct salve_sys_key *key, bool replace,
		       uint32_t *owner)
{
	return probes_sys_rule(ctx, id, key, replace, owner);
}

struct sites_kernel sites_kernel_probes(struct probes *p)
{
	return (struct sites_kernel){ probes_attach, probes_detach, probes_rule, p };
}
