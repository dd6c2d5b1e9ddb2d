/* engine: the rule engine of engine.h: rules set and reloaded, events filtered and
 * counted, conditions evaluated, incidents fired. Its state and its other files:
 * engine_state.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "base/sat.h"
#include "kernel/baseline.h"
#include "engine/engine_state.h"

#define HOUR_NS (3600ull * 1000000000ull)
#define MAX_ERRNO 4095

/* v op a, for every operator but PRED_IN. */
static inline bool pred1(enum policy_pred_op op, int64_t a, int64_t v)
{
	switch (op) {
	case PRED_LT:
		return v < a;
	case PRED_LE:
		return v <= a;
	case PRED_GT:
		return v > a;
	case PRED_GE:
		return v >= a;
	case PRED_EQ:
	case PRED_IN:
		return v == a;
	case PRED_NE:
		return v != a;
	}
	return false;
}

bool engine_pred_match(const struct policy_predicate *pred, int64_t v)
{
	switch (pred->op) {
	case PRED_LT:
	case PRED_LE:
	case PRED_GT:
	case PRED_GE:
	case PRED_EQ:
	case PRED_NE:
		return pred1(pred->op, pred->values[0], v);
	case PRED_IN:
		for (size_t i = 0; i < pred->n_values && i < POLICY_PRED_VALUES; i++)
			if (v == pred->values[i])
				return true;
		return false;
	}
	return false;
}

int engine_new(const struct engine_config *cfg, engine_fire_fn *fire, engine_verify_fn *verify,
	       void *ctx, struct engine **out)
{
	struct engine *e;

	if (!fire)
		return -EINVAL;
	if (!(e = calloc(1, sizeof(*e))))
		return -ENOMEM;
	if (!(e->arena = aligned_alloc(64, ARENA_BYTES))) {
		free(e);
		return -ENOMEM;
	}
	if (cfg)
		e->cfg = *cfg;
	if (!e->cfg.max_groups)
		e->cfg.max_groups = ENGINE_MAX_GROUPS_DEFAULT;
	if (e->cfg.max_groups > NONE / 2)
		e->cfg.max_groups = NONE / 2;
	e->fire = fire;
	e->verify = verify;
	e->ctx = ctx;
	*out = e;
	return 0;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	rules_free(e->rules, e->n_rules);
	index_free(e->probes, e->probe_mask);
	free(e->refs);
	free(e->arena);
	free(e);
}

static size_t count_rules(const struct policy_set *set)
{
	size_t n = 0;

	for (size_t i = 0; set && i < set->n_policies; i++)
		n += set->policies[i].n_rules;
	return n;
}

/* Rules built for a set, not yet in force. */
struct engine_rules {
	struct rule *rules;
	size_t n;
	struct rule **from; /* per rule: the current rule whose state it takes over */
	struct probe_entry *tab;
	size_t mask;
	struct leaf_ref *refs;
};

void engine_rules_discard(struct engine_rules *r)
{
	if (!r)
		return;
	rules_free(r->rules, r->n);
	index_free(r->tab, r->mask);
	free(r->refs);
	free(r->from);
	free(r);
}

int engine_rules_prepare(struct engine *e, const struct policy_set *set, struct engine_rules **out)
{
	struct engine_rules *r = calloc(1, sizeof(*r));
	size_t n = count_rules(set), k = 0;
	int err = 0;

	if (!r)
		return -ENOMEM;
	r->rules = aligned_alloc(64, (n ? n : 1) * sizeof(*r->rules));
	r->from = calloc(n ? n : 1, sizeof(*r->from));
	if (!r->rules || !r->from) {
		free(r->rules);
		free(r->from);
		free(r);
		return -ENOMEM;
	}
	memset(r->rules, 0, (n ? n : 1) * sizeof(*r->rules));
	r->n = n;
	for (size_t i = 0; set && i < set->n_policies; i++)
		for (size_t j = 0; j < set->policies[i].n_rules; j++, k++) {
			if ((err = rule_build(&r->rules[k], &set->policies[i].rules[j])))
				goto fail;
			if ((err = rule_alloc_state(&r->rules[k], e->cfg.max_groups)))
				goto fail;
		}
	/* An unchanged rule (same content, same group layout) takes over the old state. */
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < e->n_rules; j++) {
			struct rule *o = &e->rules[j];

			if (o->group_size == r->rules[i].group_size && rule_eq(o->def, r->rules[i].def)) {
				bool taken = false;

				for (size_t m = 0; m < i; m++)
					taken |= r->from[m] == o;
				if (!taken) {
					r->from[i] = o;
					break;
				}
			}
		}
	if ((err = index_build(r->rules, n, &r->tab, &r->mask, &r->refs)))
		goto fail;
	*out = r;
	return 0;
fail:
	engine_rules_discard(r);
	return err;
}

void engine_rules_commit(struct engine *e, struct engine_rules *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->from[i])
			rule_adopt(&r->rules[i], r->from[i]);
	/* A probe that stays (by id) keeps its last histogram, so no second is lost. */
	for (size_t i = 0; e->probes && i <= e->probe_mask; i++) {
		struct probe_entry *old = &e->probes[i];

		if (!old->probe || !old->hist || !old->hist->has_last)
			continue;
		for (size_t j = 0; j <= r->mask; j++)
			if (r->tab[j].probe && r->tab[j].n_pct_refs &&
			    !strcmp(r->tab[j].probe->id, old->probe->id))
				*r->tab[j].hist = *old->hist;
	}
	rules_free(e->rules, e->n_rules);
	index_free(e->probes, e->probe_mask);
	free(e->refs);
	e->rules = r->rules;
	e->n_rules = r->n;
	e->probes = r->tab;
	e->probe_mask = r->mask;
	e->refs = r->refs;
	free(r->from);
	free(r);
}

int engine_set_rules(struct engine *e, const struct policy_set *set)
{
	struct engine_rules *r;
	int err = engine_rules_prepare(e, set, &r);

	if (!err)
		engine_rules_commit(e, r);
	return err;
}

bool engine_needs_histogram(const struct engine *e, const struct policy_probe *probe)
{
	const struct probe_entry *pe = probe_find(e, probe);

	return pe && pe->n_pct_refs;
}

bool engine_needs_symbols(const struct engine *e, const struct policy_probe *probe)
{
	const struct probe_entry *pe = probe_find(e, probe);

	return pe && pe->symbols;
}

static void group_key(const struct rule *r, const struct event *ev, uint64_t *k1, uint32_t *k2)
{
	switch (r->by) {
	case POLICY_BY_PROCESS:
		*k1 = ev->pid;
		*k2 = 0;
		break;
	case POLICY_BY_BINARY:
		*k1 = ev->exe.ino;
		*k2 = (uint32_t)ev->exe.dev; /* the kernel's dev_t: 32 bits */
		break;
	default:
		*k1 = *k2 = 0;
	}
}

/* ---- filters and conditions ------------------------------------------------------ */

static bool is_call(enum salve_event_kind kind)
{
	return kind == SALVE_EV_RETURN || kind == SALVE_EV_LATENCY || kind == SALVE_EV_SYSCALL;
}

static bool filter_pass(const struct leaf_ref *ref, const struct engine_input *in)
{
	const struct policy_filter *f = ref->filter;
	const struct event *ev = in->ev;
	unsigned checks = ref->checks;

	if (checks & CHECK_SIGNAL) {
		int sig;

		if (ev->kind == SALVE_EV_SIGNAL)
			sig = ev->sig.signo;
		else if (ev->kind == SALVE_EV_EXIT && WIFSIGNALED(ev->exit.status))
			sig = WTERMSIG(ev->exit.status);
		else
			return false;
		if (sig < 0 || sig > 31 || !(ref->signals_mask & (1u << sig)))
			return false;
	}
	if (checks & CHECK_ERRNO) {
		bool found = false;

		/* Syscalls and functions that return -errno. */
		if (!is_call(ev->kind) || ev->call.ret >= 0 || ev->call.ret < -MAX_ERRNO)
			return false;
		if (ref->n_errnos)
			for (size_t i = 0; i < ref->n_errnos && !found; i++)
				found = ref->errnos[i] == -ev->call.ret;
		else
			for (size_t i = 0; i < f->n_errnos && !found; i++)
				found = f->errnos[i] == -ev->call.ret;
		if (!found)
			return false;
	}
	if (checks & CHECK_RET) {
		if (!is_call(ev->kind))
			return false;
		if (checks & CHECK_RET_ONE ? !pred1(ref->ret_op, ref->ret_value, ev->call.ret) :
					     !engine_pred_match(&f->ret, ev->call.ret))
			return false;
	}
	if (checks & CHECK_TYPE) {
		bool found = false;

		if (ev->kind != SALVE_EV_EXCEPTION)
			return false;
		for (size_t i = 0; i < f->n_types && !found; i++)
			found = !strcmp(f->types[i], ev->text.text);
		if (!found)
			return false;
	}
	if (checks & CHECK_STACK) {
		bool found = false;

		for (size_t i = 0; i < in->n_symbols && !found; i++)
			found = in->symbols[i] && !strcmp(in->symbols[i], f->stack_has);
		if (!found)
			return false;
	}
	return true;
}

static bool leaf_holds(const struct leaf *l, struct group *g, uint64_t now)
{
	switch (l->kind) {
	case POLICY_COND_COUNT:
	case POLICY_COND_RATE:
		return (g ? window_count(&g->win[l->win], l->width, now) : 0) >= l->need;
	case POLICY_COND_PERCENTILE:
		return l->pct->holds;
	default:
		return false;
	}
}

static bool cond_eval(const struct policy_cond *c, const bool *leaf, size_t *i)
{
	bool all = c->kind == POLICY_COND_ALL, v = all;

	if (!all && c->kind != POLICY_COND_ANY)
		return leaf[(*i)++];
	/* Every child is visited: the leaf cursor must pass all of them. */
	for (size_t k = 0; k < c->n_children; k++) {
		bool h = cond_eval(&c->children[k], leaf, i);

		v = all ? v && h : v || h;
	}
	return v;
}

static bool rule_holds(const struct rule *r, struct group *g, uint64_t now)
{
	bool leaf[INCIDENT_LEAVES_MAX];
	size_t i = 0;

	if (r->simple)
		return leaf_holds(&r->leaves[0], g, now);
	for (size_t k = 0; k < r->n_leaves; k++)
		leaf[k] = leaf_holds(&r->leaves[k], g, now);
	return cond_eval(&r->def->when, leaf, &i);
}

/* ---- firing -------------------------------------------------------------------------- */

/* Take one unit of the rule's hourly budget at now; false when it is spent. */
static bool budget_take(struct rule *r, uint64_t now)
{
	while (r->spent_n && sat_add_u64(r->spent[r->spent_head], HOUR_NS) <= now) {
		r->spent_head = (r->spent_head + 1) % r->spent_cap;
		r->spent_n--;
	}
	if (r->spent_n >= r->spent_cap)
		return false;
	r->spent[(r->spent_head + r->spent_n++) % r->spent_cap] = now;
	return true;
}

static void fire(struct engine *e, struct rule *r, struct group *g, uint64_t now,
		 const struct event *ev)
{
	const struct policy_rule *def = r->def;
	struct incident inc = {
		.id = ++e->next_id,
		.boot_ns = now,
		.rule = def,
		.by = def->by,
		.pid = def->by == POLICY_BY_PROCESS ? (uint32_t)g->k1 : ev ? ev->pid : 0,
		.exe_dev = def->by == POLICY_BY_BINARY ? g->k2 : ev ? ev->exe.dev : 0,
		.exe_ino = def->by == POLICY_BY_BINARY ? g->k1 : ev ? ev->exe.ino : 0,
		.dry_run = e->cfg.dry_run || def->dry_run || (def->policy && def->policy->dry_run),
	};
	bool acts = !inc.dry_run && def->n_actions;
	uint64_t kept[INCIDENT_RECORDS_MAX], cool;
	unsigned n_kept = kept_records(g, kept);

	if (ev)
		memcpy(inc.exe, ev->exe.path, sizeof(inc.exe));
	else if (r->leaves[0].cond->probe->binary) /* a percentile rule: its probe's binary */
		snprintf(inc.exe, sizeof(inc.exe), "%s", r->leaves[0].cond->probe->binary);
	for (size_t i = 0; i < r->n_leaves; i++) {
		const struct leaf *l = &r->leaves[i];
		struct incident_count *c = &inc.counts[inc.n_counts++];

		c->probe_id = l->cond->probe_id;
		if (l->pct) {
			c->events = l->pct->calls;
			c->value_ns = l->pct->value;
		} else {
			c->events = window_count(&g->win[l->win], l->width, now);
		}
	}
	for (unsigned i = 0; i < n_kept; i++) {
		const struct arena_entry *a = kept[i] == NO_RECORD ? NULL : arena_get(e, kept[i]);

		if (a)
			inc.records[inc.n_records++] = (struct incident_record){ a->size, (const char *)a->record };
		else
			e->stats.records_skipped++;
	}
	if (acts && !budget_take(r, now)) {
		inc.budget_exhausted = true;
		e->stats.budget_exhausted++;
	}
	e->stats.incidents++;
	r->fired++;
	r->last_fired = now;
	e->fire(e->ctx, &inc);

	/* The events of this incident make no other. */
	cool = (cold(r, g)->cooldown_until = sat_add_u64(now, def->cooldown_ns)) >> COOL_SHIFT;
	g->cool_until = cool < UINT32_MAX ? (uint32_t)cool : UINT32_MAX;
	memset(g->win, 0, r->n_win * sizeof(struct window));
	g->rec_last = 0;
	memset(g->rec_back, 0, sizeof(g->rec_back));
	if (acts && !inc.budget_exhausted && def->verify_ns) {
		if (!g->verifying)
			r->verifying++;
		g->verifying = true;
		cold(r, g)->verify_until = sat_add_u64(now, def->verify_ns);
		cold(r, g)->verify_id = inc.id;
		cold(r, g)->exe_dev = ev ? ev->exe.dev : 0;
		cold(r, g)->exe_ino = ev ? ev->exe.ino : 0;
	}
}

/* The rule's condition holds for g at now. */
static void holds(struct engine *e, struct rule *r, struct group *g, uint64_t now,
		  const struct event *ev)
{
	/* A storm holding on after the rule fired: cooling down, as the group's first line
	 * says without a visit to its cold part. */
	if (!g->verifying && now >> COOL_SHIFT < g->cool_until)
		return;
	/* A process of an executable whose crashed process's repair is verified: the
	 * fault came back in the restarted service. */
	for (uint32_t i = r->n_watches; ev && i-- > 0;)
		if (r->watches[i].exe_ino == ev->exe.ino && r->watches[i].exe_dev == ev->exe.dev)
			watch_end(e, r, i, now >= r->watches[i].until, now);
	if (g->verifying)
		/* The fault came back within the verify window: the repair did not help.
		 * Past it, the tick that would have said so has not come yet. */
		group_verify_end(e, r, g, now >= cold(r, g)->verify_until, now);
	if (now < cold(r, g)->cooldown_until)
		return;
	fire(e, r, g, now, ev);
}

void engine_event(struct engine *e, const struct engine_input *in)
{
	struct probe_entry *pe = probe_find(e, in->probe);
	const struct event *ev = in->ev;
	uint64_t now = ev->boot_ns, pos = NO_RECORD;
	bool matched = false;

	if (now > e->now)
		e->now = now;
	if (!pe)
		return;
	for (size_t i = 0; i < pe->n_refs;) {
		struct rule *r = pe->refs[i].rule;
		const struct leaf_ref *hit[INCIDENT_LEAVES_MAX];
		size_t n_hit = 0;
		struct group *g;
		uint64_t k1, n = 0;
		uint32_t k2;

		/* The leaves of one rule on this probe are adjacent. */
		for (; i < pe->n_refs && pe->refs[i].rule == r; i++)
			if (!pe->refs[i].checks || filter_pass(&pe->refs[i], in))
				hit[n_hit++] = &pe->refs[i];
		if (!n_hit)
			continue;
		/* Copied once, when a first rule wants it. */
		if (!matched && in->line && in->line_len)
			pos = arena_put(e, in->line, in->line_len);
		matched = true;
		group_key(r, ev, &k1, &k2);
		if (!(g = group_get(e, r, k1, k2, now)))
			continue;
		for (size_t k = 0; k < n_hit; k++)
			n = window_add(&g->win[hit[k]->win], hit[k]->width, now, 1);
		keep_record(g, pos);
		/* A rule of one leaf holds on what its window now counts: no visit to the
		 * rule's leaves. */
		if (r->simple ? n >= hit[0]->need : rule_holds(r, g, now))
			holds(e, r, g, now, ev);
	}
	e->stats.matched += matched;
}

/* Events are fetched for in batches of at most this many. */
#define BATCH_MAX 32

/* What an event's first rule will read, fetched ahead stage by stage: its leaf
 * reference, its rule, the table slot of its group, its group. Each stage reads what
 * the one before fetched, for every event of the batch in turn, so the misses of a
 * stage overlap. The events then run in order as engine_event. */
void engine_events(struct engine *e, const struct engine_input *in, size_t n)
{
	const struct leaf_ref *ref[BATCH_MAX];
	uint64_t k1[BATCH_MAX];
	uint32_t k2[BATCH_MAX];

	for (size_t at = 0; at < n; at += BATCH_MAX) {
		size_t m = n - at < BATCH_MAX ? n - at : BATCH_MAX;

		for (size_t i = 0; i < m; i++) {
			const struct probe_entry *pe = probe_find(e, in[at + i].probe);

			ref[i] = pe && pe->n_refs ? pe->refs : NULL;
			if (ref[i])
				__builtin_prefetch(ref[i]);
		}
		for (size_t i = 0; i < m; i++)
			if (ref[i])
				__builtin_prefetch(ref[i]->rule);
		for (size_t i = 0; i < m; i++)
			if (ref[i]) {
				group_key(ref[i]->rule, in[at + i].ev, &k1[i], &k2[i]);
				group_prefetch_slot(ref[i]->rule, k1[i], k2[i]);
			}
		for (size_t i = 0; i < m; i++)
			if (ref[i])
				group_prefetch(ref[i]->rule, k1[i], k2[i]);
		for (size_t i = 0; i < m; i++)
			engine_event(e, &in[at + i]);
	}
}

/* Percentile leaves changed: evaluate every group of the rule, or for a rule of
 * percentile leaves only, its one group. */
static void rule_hist_eval(struct engine *e, struct rule *r, uint64_t now)
{
	struct group *g;

	if (!r->n_win) {
		if ((g = group_get(e, r, 0, 0, now)) && rule_holds(r, g, now))
			holds(e, r, g, now, NULL);
		return;
	}
	for (uint32_t gi = 0; gi < r->n_pool; gi++)
		if (group_at(r, gi)->live && rule_holds(r, group_at(r, gi), now))
			holds(e, r, group_at(r, gi), now, NULL);
}

void engine_histogram(struct engine *e, const struct policy_probe *probe,
		      const uint64_t counts[SALVE_HIST_BUCKETS], uint64_t now_ns)
{
	struct probe_entry *pe = probe_find(e, probe);
	uint64_t delta[SALVE_HIST_BUCKETS];

	if (now_ns > e->now)
		e->now = now_ns;
	if (!pe || !pe->n_pct_refs)
		return;
	if (!pe->hist->has_last) {
		/* The first snapshot only sets the reference: it may hold calls of any age. */
		memcpy(pe->hist->last, counts, sizeof(pe->hist->last));
		pe->hist->has_last = true;
		return;
	}
	for (int k = 0; k < SALVE_HIST_BUCKETS; k++) {
		/* A count that went down: the site was attached again and starts from 0. */
		delta[k] = counts[k] >= pe->hist->last[k] ? counts[k] - pe->hist->last[k] : counts[k];
		pe->hist->last[k] = counts[k];
	}
	for (size_t i = 0; i < pe->n_pct_refs; i++) {
		const struct leaf_ref *ref = &pe->refs[pe->n_refs + i];
		const struct leaf *l = &ref->rule->leaves[ref->leaf];
		const struct policy_cond *c = l->cond;
		struct pct *p = l->pct;
		uint64_t limit;

		window_hist_add(&p->win, p->width, now_ns, delta);
		p->value = window_percentile(window_hist_total(&p->win, p->width, now_ns),
					     c->percentile, &p->calls);
		if (c->above_ns) {
			limit = c->above_ns;
		} else {
			window_hist_add(&p->base, p->base_width, now_ns, delta);
			limit = baseline_threshold(window_hist_total(&p->base, p->base_width, now_ns),
						   c->percentile, c->baseline_factor);
		}
		p->holds = p->calls && limit && p->value > limit;
	}
	for (size_t i = pe->n_refs; i < pe->n_refs + pe->n_pct_refs; i++)
		if (i == pe->n_refs || pe->refs[i].rule != pe->refs[i - 1].rule)
			rule_hist_eval(e, pe->refs[i].rule, now_ns);
}

void engine_tick(struct engine *e, uint64_t now_ns)
{
	if (now_ns > e->now)
		e->now = now_ns;
	for (size_t i = 0; i < e->n_rules; i++) {
		struct rule *r = &e->rules[i];

		for (uint32_t gi = 0; r->verifying && gi < r->n_pool; gi++) {
			struct group *g = group_at(r, gi);

			if (g->live && g->verifying && now_ns >= cold(r, g)->verify_until)
				group_verify_end(e, r, g, true, now_ns);
		}
		for (uint32_t w = r->n_watches; w-- > 0;)
			if (now_ns >= r->watches[w].until)
				watch_end(e, r, w, true, now_ns);
	}
}

void engine_forget(struct engine *e, uint32_t pid)
{
	for (size_t i = 0; i < e->n_rules; i++)
		if (e->rules[i].by == POLICY_BY_PROCESS)
			group_forget(e, &e->rules[i], pid, 0, e->now);
}

/* Budget spent within the hour before now: the FIFO's entries not yet expired. */
static uint32_t budget_spent(const struct rule *r, uint64_t now)
{
	uint32_t n = r->spent_n;

	for (uint32_t i = 0; i < r->spent_n; i++) {
		if (sat_add_u64(r->spent[(r->spent_head + i) % r->spent_cap], HOUR_NS) > now)
			break;
		n--;
	}
	return n;
}

size_t engine_rules_info(const struct engine *e, uint64_t now, struct engine_rule_info *out,
			 size_t max)
{
	for (size_t i = 0; i < e->n_rules && i < max; i++) {
		const struct rule *r = &e->rules[i];
		uint32_t cooling = 0;

		for (uint32_t g = 0; g < r->n_pool; g++) {
			struct group *gr = group_at(r, g);

			if (gr->live && !gr->verifying && cold(r, gr)->cooldown_until > now)
				cooling++;
		}
		out[i] = (struct engine_rule_info){
			.def = r->def,
			.fired = r->fired,
			.last_fired_ns = r->last_fired,
			.budget = r->def->budget,
			.budget_left = r->def->budget - budget_spent(r, now),
			.groups = r->n_live,
			.verifying = r->verifying,
			.cooling = cooling,
		};
	}
	return e->n_rules;
}

void engine_stats(const struct engine *e, struct engine_stats *out)
{
	*out = e->stats;
	out->rules = e->n_rules;
	out->groups = 0;
	for (size_t i = 0; i < e->n_rules; i++)
		out->groups += e->rules[i].n_live;
}
