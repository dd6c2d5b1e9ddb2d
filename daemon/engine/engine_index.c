/* engine_index: the rules' leaves indexed by probe, so an event reaches only the rules
 * that use its probe. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_state.h"

void index_free(struct probe_entry *tab, size_t mask)
{
	for (size_t i = 0; tab && i <= mask; i++)
		free(tab[i].hist);
	free(tab);
}

static size_t ptr_hash(const void *p)
{
	uint64_t h = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull;

	return (size_t)(h ^ (h >> 32));
}

struct probe_entry *probe_find(const struct engine *e, const struct policy_probe *p)
{
	if (!e->probes || !p)
		return NULL;
	for (size_t i = ptr_hash(p) & e->probe_mask;; i = (i + 1) & e->probe_mask) {
		if (e->probes[i].probe == p)
			return &e->probes[i];
		if (!e->probes[i].probe)
			return NULL;
	}
}

static struct probe_entry *probe_insert(struct probe_entry *tab, size_t mask,
					const struct policy_probe *p)
{
	size_t i = ptr_hash(p) & mask;

	while (tab[i].probe && tab[i].probe != p)
		i = (i + 1) & mask;
	tab[i].probe = p;
	return &tab[i];
}

static struct leaf_ref leaf_ref_of(struct rule *r, size_t j)
{
	const struct leaf *l = &r->leaves[j];
	const struct policy_filter *f = &l->cond->filter;
	struct leaf_ref ref = { .rule = r, .width = l->width, .leaf = (uint8_t)j,
				.win = (int8_t)l->win, .need = l->need, .filter = f,
				.signals_mask = f->signals_mask };

	ref.checks = (f->signals_mask ? CHECK_SIGNAL : 0) | (f->n_errnos ? CHECK_ERRNO : 0) |
		     (f->has_ret ? CHECK_RET : 0) | (f->n_types ? CHECK_TYPE : 0) |
		     (f->stack_has ? CHECK_STACK : 0);
	if (f->has_ret && (f->ret.op != PRED_IN || f->ret.n_values == 1)) {
		ref.checks |= CHECK_RET_ONE;
		ref.ret_op = (uint8_t)f->ret.op;
		ref.ret_value = f->ret.values[0];
	}
	if (f->n_errnos && f->n_errnos <= ERRNOS_INLINE) {
		ref.n_errnos = (uint8_t)f->n_errnos;
		memcpy(ref.errnos, f->errnos, f->n_errnos * sizeof(int));
	}
	return ref;
}

/* Build the index of rules' leaves by probe: one table, one array of references. */
int index_build(struct rule *rules, size_t n_rules, struct probe_entry **tabp,
		       size_t *maskp, struct leaf_ref **refsp)
{
	size_t n_leaves = 0, size = 4, at = 0;
	struct probe_entry *tab;
	struct leaf_ref *refs;
	/* Where the next count and percentile references of each entry go. */
	struct placed {
		uint32_t count, pct;
	} *placed;

	for (size_t i = 0; i < n_rules; i++)
		n_leaves += rules[i].n_leaves;
	while (size < 2 * n_leaves)
		size *= 2;
	tab = aligned_alloc(64, size * sizeof(*tab));
	if (tab)
		memset(tab, 0, size * sizeof(*tab));
	refs = aligned_alloc(64, (n_leaves ? n_leaves : 1) * sizeof(*refs));
	placed = calloc(size, sizeof(*placed));
	if (!tab || !refs || !placed) {
		free(tab);
		free(refs);
		free(placed);
		return -ENOMEM;
	}
	/* Count, then place each probe's references in one run, in rule order. */
	for (size_t i = 0; i < n_rules; i++)
		for (size_t j = 0; j < rules[i].n_leaves; j++) {
			const struct policy_cond *c = rules[i].leaves[j].cond;
			struct probe_entry *pe = probe_insert(tab, size - 1, c->probe);

			if (c->kind == POLICY_COND_PERCENTILE)
				pe->n_pct_refs++;
			else
				pe->n_refs++;
			if (c->filter.stack_has)
				pe->symbols = true;
		}
	for (size_t i = 0; i < size; i++) {
		tab[i].refs = refs + at;
		at += tab[i].n_refs + tab[i].n_pct_refs;
	}
	for (size_t i = 0; i < size; i++)
		placed[i] = (struct placed){ 0, tab[i].n_refs };
	for (size_t i = 0; i < n_rules; i++)
		for (size_t j = 0; j < rules[i].n_leaves; j++) {
			const struct policy_cond *c = rules[i].leaves[j].cond;
			struct probe_entry *pe = probe_insert(tab, size - 1, c->probe);
			struct placed *at_pe = &placed[pe - tab];

			pe->refs[c->kind == POLICY_COND_PERCENTILE ? at_pe->pct++ : at_pe->count++] =
				leaf_ref_of(&rules[i], j);
		}
	free(placed);
	for (size_t i = 0; i < size; i++)
		if (tab[i].n_pct_refs && !(tab[i].hist = calloc(1, sizeof(*tab[i].hist)))) {
			index_free(tab, size - 1);
			free(refs);
			return -ENOMEM;
		}
	*tabp = tab;
	*maskp = size - 1;
	*refsp = refs;
	return 0;
}

