/* probes_report: every probe of the policies in force as salvectl probes shows it: where
 * it sits, what the kernel runs there, and what it counted. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl/probes_report.h"
#include "kernel/scope.h"

/* The kernel mechanism of a site, and whether the kernel's fast path serves its entry. */
static const char *site_mechanism(const struct site *s, bool sessions)
{
	switch (s->cfg.kind) {
	case SALVE_SITE_RETURN:
		return "uretprobe";
	case SALVE_SITE_LATENCY:
		return sessions ? "uprobe session" : "uprobe + uretprobe";
	case SALVE_SITE_SYSCALL:
		return "tracepoint sys_exit";
	default:
		return "uprobe";
	}
}

static const char *site_symbol(const struct site *s)
{
	switch (s->cfg.kind) {
	case SALVE_SITE_ASSERT:
		return "__assert_fail";
	case SALVE_SITE_ABORT:
		return "abort";
	case SALVE_SITE_THROW:
		return "__cxa_throw";
	default:
		return s->probe->symbol;
	}
}

static void add_str(struct json_object *o, const char *key, const char *v)
{
	if (v)
		json_object_object_add(o, key, json_object_new_string(v));
}

static void add_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

static struct json_object *probe_head(const struct policy_probe *pr)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	add_str(o, "probe", pr->id);
	add_str(o, "policy", pr->policy->name);
	add_str(o, "kind", policy_probe_kind_name(pr->kind));
	return o;
}

static struct json_object *site_entry(struct probes *p, const struct pipeline *pl,
				      const struct site *s, bool sessions)
{
	struct json_object *o = probe_head(s->probe), *hist;
	struct pipeline_site_counts read = pipeline_site_counts(pl, s->id);
	uint64_t counts[SALVE_HIST_BUCKETS], hits = 0, held = 0;
	bool fn = s->cfg.kind != SALVE_SITE_SYSCALL;

	if (!o)
		return NULL;
	add_u64(o, "site", s->id);
	add_str(o, "mechanism", site_mechanism(s, sessions));
	if (fn) {
		add_str(o, "binary", s->path);
		add_str(o, "symbol", site_symbol(s));
		add_u64(o, "offset", s->offset);
		json_object_object_add(o, "fast_path", json_object_new_boolean(s->nop5));
		/* A return probe's uretprobe is a trap at the return whatever the entry is. */
		if (!s->nop5)
			add_str(o, "fast_path_hint",
				"the entry is not a 5-byte NOP: build the binary with clang's "
				"-fpatchable-function-entry=5 for the kernel's fast path");
	}
	probes_site_hits(p, s->id, &hits, &held);
	if (s->cfg.kind == SALVE_SITE_LATENCY && !probes_site_hist(p, s->id, counts)) {
		/* A latency site's calls are its histogram's: its programs count nothing else. */
		hits = 0;
		hist = json_object_new_array();
		for (size_t b = 0; b < SALVE_HIST_BUCKETS; b++) {
			hits += counts[b];
			json_object_array_add(hist, json_object_new_uint64(counts[b]));
		}
		/* Bucket b counts calls of [2^b, 2^(b+1)) ns; trailing empty ones are left out. */
		while (json_object_array_length(hist) &&
		       !json_object_get_uint64(json_object_array_get_idx(hist,
									json_object_array_length(hist) - 1)))
			json_object_array_del_idx(hist, json_object_array_length(hist) - 1, 1);
		json_object_object_add(o, "hist_log2_ns", hist);
		add_u64(o, "threshold_ns", s->cfg.threshold_ns);
	}
	add_u64(o, "hits", hits);
	add_u64(o, "events", read.records);
	add_u64(o, "suppressed", read.suppressed + held);
	return o;
}

/* The tracepoint a host-wide probe kind runs on. */
static const char *host_hook(enum policy_probe_kind kind)
{
	switch (kind) {
	case POLICY_PROBE_SIGNAL:
		return "signal_generate";
	case POLICY_PROBE_EXIT:
		return "sched_process_exit";
	case POLICY_PROBE_OOM:
		return "mark_victim";
	case POLICY_PROBE_EXEC:
		return "sched_process_exec";
	default:
		return NULL;
	}
}

static struct json_object *host_entry(struct probes *p, const struct policy_probe *pr,
				      const struct salve_counters *kernel)
{
	struct json_object *o = probe_head(pr);
	const struct probes_hook *hooks;
	const char *hook = host_hook(pr->kind), *flavour = "tracepoint";
	const struct salve_counters *c = &kernel[scope_event_kind(pr->kind)];
	char mech[96];

	if (!o)
		return NULL;
	for (size_t i = 0, n = probes_hooks(p, &hooks); i < n; i++)
		if (!strcmp(hooks[i].hook, hook))
			flavour = hooks[i].flavour;
	snprintf(mech, sizeof(mech), "%s %s", flavour, hook);
	add_str(o, "mechanism", mech);
	/* One program serves every probe of the kind: its counts are the kind's. */
	json_object_object_add(o, "per_kind", json_object_new_boolean(true));
	add_u64(o, "hits", c->seen);
	add_u64(o, "events", c->seen > c->suppressed + c->lost ? c->seen - c->suppressed - c->lost : 0);
	add_u64(o, "suppressed", c->suppressed);
	return o;
}

int probes_report(struct probes *p, const struct pipeline *pl, const struct policy_set *set,
		  const struct site_plan *plan, const struct salve_counters kernel[SALVE_EV_KIND_MAX],
		  struct json_object **out)
{
	struct json_object *list = json_object_new_array(), *o;
	bool sessions = probes_has_sessions(p);

	if (!list)
		return -ENOMEM;
	for (size_t i = 0; set && i < set->n_policies; i++) {
		const struct policy *pol = &set->policies[i];

		for (size_t j = 0; j < pol->n_probes; j++) {
			const struct policy_probe *pr = &pol->probes[j];

			if (host_hook(pr->kind)) {
				if (!(o = host_entry(p, pr, kernel)) || json_object_array_add(list, o))
					goto nomem;
				continue;
			}
			for (size_t k = 0; k < plan->n_sites; k++) {
				if (plan->sites[k].probe != pr)
					continue;
				if (!(o = site_entry(p, pl, &plan->sites[k], sessions)) ||
				    json_object_array_add(list, o))
					goto nomem;
			}
		}
	}
	*out = list;
	return 0;
nomem:
	json_object_put(o);
	json_object_put(list);
	return -ENOMEM;
}
