/* engine_rules: a rule as the engine holds it, built from its definition (its leaves
 * flattened, its group layout sized), compared with another on reload, and its state
 * moved over when it did not change. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_state.h"

void rule_free_state(struct rule *r)
{
	free(r->pool);
	free(r->table);
	free(r->spent);
	for (size_t i = 0; i < r->n_leaves; i++)
		free(r->leaves[i].pct);
}

void rules_free(struct rule *rules, size_t n)
{
	for (size_t i = 0; i < n; i++)
		rule_free_state(&rules[i]);
	free(rules);
}

static enum policy_group_by def_by(const struct rule *r)
{
	return r->def->by;
}

/* Events in the window at which a count or rate leaf holds: a rate holds above
 * rate * within events, that is at the next whole number. */
static uint64_t leaf_need(const struct policy_cond *c)
{
	double events = c->rate * ((double)c->within_ns / 1e9);

	if (c->kind == POLICY_COND_COUNT)
		return c->count;
	if (events >= 0x1p64)
		return UINT64_MAX;
	return events < 0 ? 0 : (uint64_t)events + 1;
}

static int flatten(struct rule *r, const struct policy_cond *c)
{
	struct leaf *l;

	if (c->kind == POLICY_COND_ALL || c->kind == POLICY_COND_ANY) {
		for (size_t i = 0; i < c->n_children; i++) {
			int err = flatten(r, &c->children[i]);

			if (err)
				return err;
		}
		return 0;
	}
	if (r->n_leaves >= INCIDENT_LEAVES_MAX)
		return -E2BIG;
	if (!c->probe || !c->within_ns)
		return -EINVAL;
	l = &r->leaves[r->n_leaves++];
	*l = (struct leaf){ .cond = c, .kind = c->kind, .win = -1, .need = leaf_need(c) };
	if (c->kind == POLICY_COND_PERCENTILE) {
		if (def_by(r) == POLICY_BY_PROCESS ||
		    (!c->above_ns && (!c->baseline_ns || c->baseline_factor <= 0)))
			return -EINVAL;
		r->n_pct++;
	} else {
		l->win = (int)r->n_win++;
		l->width = window_width(c->within_ns);
	}
	return 0;
}

int rule_build(struct rule *r, const struct policy_rule *def)
{
	int err;

	*r = (struct rule){ .def = def, .by = (uint8_t)def->by, .free_head = NONE,
			    .last_gi = NONE };
	if ((err = flatten(r, &def->when)))
		return err;
	if (!r->n_leaves || def->budget > POLICY_BUDGET_MAX)
		return -EINVAL;
	r->simple = r->n_leaves == 1;
	r->group_size = sizeof(struct group) + r->n_win * sizeof(struct window) +
			sizeof(struct group_cold);
	r->group_size = (r->group_size + 63) & ~63u;
	return 0;
}

int rule_alloc_state(struct rule *r, size_t max_groups)
{
	r->cap = (uint32_t)max_groups;
	r->spent_cap = r->def->budget; /* at most POLICY_BUDGET_MAX: rule_build said so */
	if (r->spent_cap && !(r->spent = calloc(r->spent_cap, sizeof(*r->spent))))
		return -ENOMEM;
	for (size_t i = 0; i < r->n_leaves; i++) {
		struct leaf *l = &r->leaves[i];
		const struct policy_cond *c = l->cond;

		if (c->kind != POLICY_COND_PERCENTILE)
			continue;
		if (!(l->pct = calloc(1, sizeof(*l->pct))))
			return -ENOMEM;
		l->pct->width = window_width(c->within_ns);
		l->pct->base_width = window_width(c->baseline_ns ? c->baseline_ns : c->within_ns);
	}
	return 0;
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool strv_eq(char *const *a, char *const *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!str_eq(a[i], b[i]))
			return false;
	return true;
}

static bool pred_eq(const struct policy_predicate *a, const struct policy_predicate *b)
{
	return a->op == b->op && a->n_values == b->n_values && a->n_values <= POLICY_PRED_VALUES &&
	       !memcmp(a->values, b->values, a->n_values * sizeof(a->values[0]));
}

static bool filter_eq(const struct policy_filter *a, const struct policy_filter *b)
{
	return a->signals_mask == b->signals_mask && a->n_errnos == b->n_errnos &&
	       (!a->n_errnos || !memcmp(a->errnos, b->errnos, a->n_errnos * sizeof(int))) &&
	       a->has_ret == b->has_ret && (!a->has_ret || pred_eq(&a->ret, &b->ret)) &&
	       a->n_types == b->n_types && strv_eq(a->types, b->types, a->n_types) &&
	       str_eq(a->stack_has, b->stack_has);
}

static bool cond_eq(const struct policy_cond *a, const struct policy_cond *b)
{
	if (a->kind != b->kind || a->n_children != b->n_children)
		return false;
	if (a->kind == POLICY_COND_ALL || a->kind == POLICY_COND_ANY) {
		for (size_t i = 0; i < a->n_children; i++)
			if (!cond_eq(&a->children[i], &b->children[i]))
				return false;
		return true;
	}
	return str_eq(a->probe_id, b->probe_id) && filter_eq(&a->filter, &b->filter) &&
	       a->within_ns == b->within_ns && a->count == b->count && a->rate == b->rate &&
	       a->percentile == b->percentile && a->above_ns == b->above_ns &&
	       a->baseline_factor == b->baseline_factor && a->baseline_ns == b->baseline_ns;
}

static bool action_eq(const struct policy_action *a, const struct policy_action *b)
{
	return a->kind == b->kind && str_eq(a->message, b->message) && a->signo == b->signo &&
	       a->argc == b->argc && (a->argv == b->argv || (a->argv && b->argv &&
	       strv_eq(a->argv, b->argv, a->argc))) && a->timeout_ns == b->timeout_ns &&
	       a->output_max == b->output_max && str_eq(a->binary, b->binary) &&
	       str_eq(a->symbol, b->symbol) && a->ret == b->ret && a->has_when == b->has_when &&
	       a->when_arg == b->when_arg &&
	       (!a->has_when || pred_eq(&a->when_pred, &b->when_pred)) && str_eq(a->to, b->to) &&
	       str_eq(a->library, b->library) && str_eq(a->build_id, b->build_id) &&
	       a->n_at == b->n_at && (a->at == b->at || (a->at && b->at &&
	       strv_eq(a->at, b->at, a->n_at))) && a->window_ns == b->window_ns;
}

bool rule_eq(const struct policy_rule *a, const struct policy_rule *b)
{
	if (!str_eq(a->id, b->id) || a->by != b->by || a->cooldown_ns != b->cooldown_ns ||
	    a->budget != b->budget || a->dry_run != b->dry_run || a->verify_ns != b->verify_ns ||
	    a->n_actions != b->n_actions || !cond_eq(&a->when, &b->when))
		return false;
	for (size_t i = 0; i < a->n_actions; i++)
		if (!action_eq(&a->actions[i], &b->actions[i]))
			return false;
	return true;
}

/* Move the state of a rule that did not change into its new definition. */
void rule_adopt(struct rule *to, struct rule *from)
{
	rule_free_state(to);
	to->pool = from->pool;
	to->cap = from->cap;
	to->n_pool = from->n_pool;
	to->n_live = from->n_live;
	to->free_head = from->free_head;
	to->table = from->table;
	to->table_mask = from->table_mask;
	to->hand = from->hand;
	to->last_k1 = from->last_k1;
	to->last_k2 = from->last_k2;
	to->last_gi = from->last_gi;
	to->spent = from->spent;
	to->spent_cap = from->spent_cap;
	to->spent_n = from->spent_n;
	to->spent_head = from->spent_head;
	to->verifying = from->verifying;
	to->n_watches = from->n_watches;
	to->fired = from->fired;
	to->last_fired = from->last_fired;
	memcpy(to->watches, from->watches, sizeof(to->watches));
	for (size_t i = 0; i < to->n_leaves; i++) {
		to->leaves[i].pct = from->leaves[i].pct;
		from->leaves[i].pct = NULL;
	}
	from->pool = NULL;
	from->table = NULL;
	from->spent = NULL;
}
