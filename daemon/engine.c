#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "baseline.h"
#include "engine.h"
#include "window.h"

#define HOUR_NS (3600ull * 1000000000ull)
#define BUDGET_MAX 65536 /* incidents remembered per rule; a larger budget counts as this */
#define NONE UINT32_MAX
#define EMPTY UINT64_MAX
#define HUGE_PAGE (2u << 20)
#define MAX_ERRNO 4095
/* The records behind incidents: one ring of bytes for the whole engine, written in
 * order, each matched record once, each on cache lines of its own; groups keep where
 * theirs are. 16 MiB holds the last 131,000 call records or 7,000 with stacks: a
 * group's records are overwritten only when that many came after them. */
#define ARENA_BYTES (16u << 20)
#define NO_RECORD UINT64_MAX

/* Percentile state of one leaf: per probe, not per group (the kernel's histograms are
 * per site). */
struct pct {
	uint64_t width, base_width;
	uint64_t value, calls; /* as of the last histogram */
	bool holds;
	struct window_hist win, base;
};

/* A leaf of a rule's condition, with what the hot path needs copied out of it. */
struct leaf {
	enum policy_cond_kind kind;
	int win;              /* count and rate: index of the group's window; -1 otherwise */
	uint64_t width;       /* count and rate: of the group window */
	uint64_t need;        /* count and rate: holds at this many events in the window */
	const struct policy_cond *cond;
	struct pct *pct;      /* percentile */
};

/* What a rule tracks per group, 64-byte aligned: a header with where its last records
 * are in the engine's arena, a window per count or rate leaf, then what only firing
 * reads (struct group_cold). The header and the first window's count of its newest
 * bucket, head and total share the first cache line: most events of a one-leaf rule
 * touch that line only. */
struct group {
	uint64_t k1, k2;    /* process: pid, 0; binary: dev, ino; host: 0, 0. A free
			     * group's k1 is the index of the next free one. */
	uint64_t rec_last;  /* 1 + the arena position of the newest record; 0: none */
	/* From each kept record back to the one kept before it, newest first, in arena
	 * lines; 0: none kept before. */
	uint32_t rec_back[INCIDENT_RECORDS_MAX - 1];
	bool live;
	bool referenced;    /* an event came since the clock hand last passed (eviction) */
	struct window win[];
};

_Static_assert(offsetof(struct group, win) + offsetof(struct window, slots) == 64,
	       "a group's header and its first window's head bucket and total: one cache line");

struct group_cold {
	uint64_t cooldown_until;
	uint64_t verify_until;  /* 0: not under verification */
	uint64_t verify_id;
};

/* Fields in the order the hot path reads them; the leaves last. */
struct rule {
	/* One cache line: what every event of the rule reads. The state (pool, table,
	 * clock hand, budget, verifications) is kept across reloads while the rule does
	 * not change. Groups live in pool, found through table (open addressing, linear
	 * probing), and the last one found is remembered: a rule by host or binary, or a
	 * process erring in a burst, finds it without the table. */
	unsigned char *pool;
	uint64_t *table; /* key hash << 32 | group index; EMPTY */
	uint64_t last_k1, last_k2;
	uint32_t table_mask, group_size, n_live;
	uint32_t last_gi; /* NONE: nothing remembered */
	uint8_t by;       /* enum policy_group_by */
	bool simple;      /* one leaf: the rule holds when it does */
	uint8_t n_leaves, n_win;
	struct leaf leaves[INCIDENT_LEAVES_MAX];

	const struct policy_rule *def;
	uint32_t n_pct;
	uint32_t cap, n_pool, free_head, verifying;
	uint32_t hand; /* the clock's: the next group eviction looks at */
	uint64_t *spent; /* boot_ns of the incidents that took budget, a FIFO ring */
	uint32_t spent_cap, spent_n, spent_head;
} __attribute__((aligned(64)));

/* Field filters a leaf applies, and which of them its leaf_ref holds inline. */
enum {
	CHECK_SIGNAL = 0x1,
	CHECK_ERRNO = 0x2,
	CHECK_RET = 0x4,
	CHECK_TYPE = 0x8,
	CHECK_STACK = 0x10,
	CHECK_RET_ONE = 0x20, /* ret has one value: ret_op, ret_value */
};

#define ERRNOS_INLINE 3

/* A leaf as the probe index holds it, in one cache line: enough to filter and count an
 * event without a visit to the rule or the policy. */
struct leaf_ref {
	struct rule *rule;
	uint64_t width;
	uint64_t need; /* the leaf's, so a rule of one leaf is decided here */
	int64_t ret_value;
	const struct policy_filter *filter; /* the rest */
	unsigned signals_mask;
	int errnos[ERRNOS_INLINE];
	uint8_t leaf;
	int8_t win;
	uint8_t checks;    /* CHECK_* */
	uint8_t ret_op;    /* enum policy_pred_op, with CHECK_RET_ONE */
	uint8_t n_errnos;  /* inline errnos; 0 with CHECK_ERRNO: see filter */
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct leaf_ref) == 64, "a leaf_ref is one cache line");
_Static_assert(INCIDENT_LEAVES_MAX <= INT8_MAX, "leaf_ref.leaf and .win hold a leaf index");

/* Two to a cache line, so the index of a thousand probes stays in the caches and an
 * event's first miss is its leaf_ref. */
struct probe_entry {
	const struct policy_probe *probe;
	struct leaf_ref *refs;  /* count and rate leaves grouped by rule, then percentile ones */
	struct probe_hist *hist; /* percentile probes */
	uint32_t n_refs;
	uint32_t n_pct_refs : 31;
	uint32_t symbols : 1;
};

/* A percentile probe's previous cumulative histogram, to take the next one's delta. */
struct probe_hist {
	bool has_last;
	uint64_t last[SALVE_HIST_BUCKETS];
};

_Static_assert(sizeof(struct probe_entry) == 32, "two probe_entry to a cache line");

struct engine {
	struct engine_config cfg;
	engine_fire_fn *fire;
	engine_verify_fn *verify;
	void *ctx;
	struct rule *rules;
	size_t n_rules;
	struct probe_entry *probes; /* hash table by probe pointer */
	size_t probe_mask;
	struct leaf_ref *refs;
	unsigned char *arena;  /* ARENA_BYTES */
	uint64_t arena_pos;    /* bytes ever written: the next record goes at arena_pos % size */
	uint64_t next_id;
	uint64_t now; /* the latest time seen, for what happens without one (forget) */
	struct engine_stats stats;
};

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

static void index_free(struct probe_entry *tab, size_t mask)
{
	for (size_t i = 0; tab && i <= mask; i++)
		free(tab[i].hist);
	free(tab);
}

static void rule_free_state(struct rule *r)
{
	free(r->pool);
	free(r->table);
	free(r->spent);
	for (size_t i = 0; i < r->n_leaves; i++)
		free(r->leaves[i].pct);
}

static void rules_free(struct rule *rules, size_t n)
{
	for (size_t i = 0; i < n; i++)
		rule_free_state(&rules[i]);
	free(rules);
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

/* ---- rule definitions: flatten, size, compare ------------------------------------- */

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

static int rule_build(struct rule *r, const struct policy_rule *def)
{
	int err;

	*r = (struct rule){ .def = def, .by = (uint8_t)def->by, .free_head = NONE,
			    .last_gi = NONE };
	if ((err = flatten(r, &def->when)))
		return err;
	if (!r->n_leaves)
		return -EINVAL;
	r->simple = r->n_leaves == 1;
	r->group_size = sizeof(struct group) + r->n_win * sizeof(struct window) +
			sizeof(struct group_cold);
	r->group_size = (r->group_size + 63) & ~63u;
	return 0;
}

static int rule_alloc_state(struct rule *r, size_t max_groups)
{
	r->cap = (uint32_t)max_groups;
	r->spent_cap = r->def->budget < BUDGET_MAX ? r->def->budget : BUDGET_MAX;
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
	       strv_eq(a->argv, b->argv, a->argc))) && a->timeout_ns == b->timeout_ns;
}

static bool rule_eq(const struct policy_rule *a, const struct policy_rule *b)
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

/* ---- the probe index --------------------------------------------------------------- */

static size_t ptr_hash(const void *p)
{
	uint64_t h = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull;

	return (size_t)(h ^ (h >> 32));
}

static struct probe_entry *probe_find(const struct engine *e, const struct policy_probe *p)
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
static int index_build(struct rule *rules, size_t n_rules, struct probe_entry **tabp,
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

static size_t count_rules(const struct policy_set *set)
{
	size_t n = 0;

	for (size_t i = 0; set && i < set->n_policies; i++)
		n += set->policies[i].n_rules;
	return n;
}

/* Move the state of a rule that did not change into its new definition. */
static void adopt(struct rule *to, struct rule *from)
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
	for (size_t i = 0; i < to->n_leaves; i++) {
		to->leaves[i].pct = from->leaves[i].pct;
		from->leaves[i].pct = NULL;
	}
	from->pool = NULL;
	from->table = NULL;
	from->spent = NULL;
}

int engine_set_rules(struct engine *e, const struct policy_set *set)
{
	size_t n = count_rules(set), k = 0, mask = 0;
	struct rule *rules = aligned_alloc(64, (n ? n : 1) * sizeof(*rules));
	struct rule **from = calloc(n ? n : 1, sizeof(*from));
	struct probe_entry *tab = NULL;
	struct leaf_ref *refs = NULL;
	int err = 0;

	if (!rules || !from) {
		free(rules);
		free(from);
		return -ENOMEM;
	}
	memset(rules, 0, (n ? n : 1) * sizeof(*rules));
	for (size_t i = 0; set && i < set->n_policies; i++)
		for (size_t j = 0; j < set->policies[i].n_rules; j++, k++) {
			if ((err = rule_build(&rules[k], &set->policies[i].rules[j])))
				goto fail;
			if ((err = rule_alloc_state(&rules[k], e->cfg.max_groups)))
				goto fail;
		}
	/* An unchanged rule (same content, same group layout) takes over the old state. */
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < e->n_rules; j++) {
			struct rule *o = &e->rules[j];

			if (o->group_size == rules[i].group_size && rule_eq(o->def, rules[i].def)) {
				bool taken = false;

				for (size_t m = 0; m < i; m++)
					taken |= from[m] == o;
				if (!taken) {
					from[i] = o;
					break;
				}
			}
		}
	if ((err = index_build(rules, n, &tab, &mask, &refs)))
		goto fail;

	/* Nothing fails from here on. */
	for (size_t i = 0; i < n; i++)
		if (from[i])
			adopt(&rules[i], from[i]);
	/* A probe that stays (by id) keeps its last histogram, so no second is lost. */
	for (size_t i = 0; e->probes && i <= e->probe_mask; i++) {
		struct probe_entry *old = &e->probes[i];

		if (!old->probe || !old->hist || !old->hist->has_last)
			continue;
		for (size_t j = 0; j <= mask; j++)
			if (tab[j].probe && tab[j].n_pct_refs && str_eq(tab[j].probe->id, old->probe->id)) {
				*tab[j].hist = *old->hist;
			}
	}
	rules_free(e->rules, e->n_rules);
	index_free(e->probes, e->probe_mask);
	free(e->refs);
	e->rules = rules;
	e->n_rules = n;
	e->probes = tab;
	e->probe_mask = mask;
	e->refs = refs;
	free(from);
	return 0;
fail:
	rules_free(rules, n);
	free(from);
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

/* ---- groups -------------------------------------------------------------------------- */

static inline struct group *group_at(const struct rule *r, uint32_t i)
{
	return (struct group *)(r->pool + (size_t)i * r->group_size);
}

static inline struct group_cold *cold(const struct rule *r, struct group *g)
{
	return (struct group_cold *)&g->win[r->n_win];
}

static inline uint32_t key_hash(uint64_t k1, uint64_t k2)
{
	uint64_t h = k1 * 0x9e3779b97f4a7c15ull ^ k2 * 0xc2b2ae3d27d4eb4full;

	return (uint32_t)(h ^ (h >> 29) ^ (h >> 47));
}

/* The table slot holding the group of this key, or NONE. The hash kept beside the
 * index spares a visit to the group (a cache miss) for every other key probed. */
static uint32_t slot_find(const struct rule *r, uint64_t k1, uint64_t k2)
{
	uint32_t h = key_hash(k1, k2);
	uint64_t v;

	if (!r->table)
		return NONE;
	for (uint32_t s = h & r->table_mask;; s = (s + 1) & r->table_mask) {
		if ((v = r->table[s]) == EMPTY)
			return NONE;
		if ((uint32_t)(v >> 32) == h && group_at(r, (uint32_t)v)->k1 == k1 &&
		    group_at(r, (uint32_t)v)->k2 == k2)
			return s;
	}
}

static inline uint32_t slot_group(const struct rule *r, uint32_t s)
{
	return (uint32_t)r->table[s];
}

static void slot_put(struct rule *r, uint64_t v)
{
	uint32_t s = (uint32_t)(v >> 32) & r->table_mask;

	while (r->table[s] != EMPTY)
		s = (s + 1) & r->table_mask;
	r->table[s] = v;
}

/* Linear probing deletion: shift back the entries that probed past the hole. */
static void slot_delete(struct rule *r, uint32_t hole)
{
	uint32_t mask = r->table_mask, j = hole;

	for (;;) {
		uint32_t home;

		j = (j + 1) & mask;
		if (r->table[j] == EMPTY)
			break;
		home = (uint32_t)(r->table[j] >> 32) & mask;
		/* It stays when its home lies cyclically in (hole, j]. */
		if (hole <= j ? (home > hole && home <= j) : (home > hole || home <= j))
			continue;
		r->table[hole] = r->table[j];
		hole = j;
	}
	r->table[hole] = EMPTY;
}

/* Room for n live groups at a load of at most one half. */
static int table_reserve(struct rule *r, uint32_t n)
{
	uint32_t size = r->table ? r->table_mask + 1 : 0, want = 16;
	uint64_t *old = r->table;

	if (2 * (uint64_t)n <= size)
		return 0;
	while (want < 2 * (uint64_t)n)
		want *= 2;
	if (!(r->table = malloc(want * sizeof(*r->table)))) {
		r->table = old;
		return -ENOMEM;
	}
	memset(r->table, 0xff, want * sizeof(*r->table));
	r->table_mask = want - 1;
	for (uint32_t i = 0; i < size; i++)
		if (old[i] != EMPTY)
			slot_put(r, old[i]);
	free(old);
	return 0;
}

static void verify_end(struct engine *e, struct rule *r, struct group *g, bool resolved,
		       uint64_t now)
{
	uint64_t id = cold(r, g)->verify_id;

	cold(r, g)->verify_until = 0;
	r->verifying--;
	if (e->verify)
		e->verify(e->ctx, id, r->def, resolved, now);
}

/* Drop the group in table slot s; its slot goes to the free list. */
static void group_drop(struct engine *e, struct rule *r, uint32_t s, uint64_t now)
{
	uint32_t gi = slot_group(r, s);
	struct group *g = group_at(r, gi);

	if (cold(r, g)->verify_until)
		verify_end(e, r, g, true, now);
	if (r->last_gi == gi)
		r->last_gi = NONE;
	slot_delete(r, s);
	g->live = false;
	g->k1 = r->free_head;
	r->free_head = gi;
	r->n_live--;
}

/* Thousands of groups touched at random cost a TLB miss each on 4 KiB pages: ask for
 * huge pages where the kernel gives them on request (THP "madvise"). */
static void huge_pages(void *p, size_t len)
{
	uintptr_t start = ((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
	uintptr_t end = ((uintptr_t)p + len) & ~(uintptr_t)(HUGE_PAGE - 1);

	if (end > start)
		madvise((void *)start, end - start, MADV_HUGEPAGE);
}

/* Grow the pool by half again (amortized, bounded by cap); new slots go to the free list. */
static int pool_grow(struct rule *r)
{
	uint64_t want = (uint64_t)r->n_pool + r->n_pool / 2 + 16;
	unsigned char *p;

	if (want > r->cap)
		want = r->cap;
	/* Aligned, so a group's header and first window share a cache line. */
	if (!(p = aligned_alloc(64, want * r->group_size)))
		return -ENOMEM;
	if (r->pool)
		memcpy(p, r->pool, (size_t)r->n_pool * r->group_size);
	free(r->pool);
	r->pool = p;
	huge_pages(p, want * r->group_size);
	for (uint64_t i = want; i-- > r->n_pool;) {
		group_at(r, (uint32_t)i)->live = false;
		group_at(r, (uint32_t)i)->k1 = r->free_head;
		r->free_head = (uint32_t)i;
	}
	r->n_pool = (uint32_t)want;
	return 0;
}

/* The group eviction takes, by the clock (second chance): the next one, from the
 * hand on, that no event touched since the hand last passed it. Like least recently
 * used, without touching other groups on every event to keep a list in order. */
static uint32_t clock_victim(struct rule *r)
{
	for (;;) {
		uint32_t gi = r->hand;
		struct group *g = group_at(r, gi);

		r->hand = (r->hand + 1) % r->n_pool;
		if (!g->live)
			continue;
		if (!g->referenced)
			return gi;
		g->referenced = false;
	}
}

/* A slot for a new group: a free one, a new one while under the bound, else an old
 * group's. NONE when memory runs out. */
static uint32_t group_alloc(struct engine *e, struct rule *r, uint64_t now)
{
	uint32_t gi;

	if (r->free_head == NONE && r->n_pool < r->cap)
		pool_grow(r); /* on failure, evict instead */
	if (r->free_head == NONE && r->n_live) {
		gi = clock_victim(r);
		group_drop(e, r, slot_find(r, group_at(r, gi)->k1, group_at(r, gi)->k2), now);
		e->stats.evicted++;
	}
	if ((gi = r->free_head) == NONE)
		return NONE;
	r->free_head = (uint32_t)group_at(r, gi)->k1;
	return gi;
}

/* The group of this key, created empty when new. */
static struct group *group_get(struct engine *e, struct rule *r, uint64_t k1, uint64_t k2,
			       uint64_t now)
{
	uint32_t s, gi = NONE;
	struct group *g;

	if (r->last_gi != NONE && r->last_k1 == k1 && r->last_k2 == k2)
		gi = r->last_gi;
	else if ((s = slot_find(r, k1, k2)) != NONE)
		gi = slot_group(r, s);
	if (gi != NONE) {
		g = group_at(r, gi);
		r->last_k1 = k1;
		r->last_k2 = k2;
		r->last_gi = gi;
		g->referenced = true;
		return g;
	}
	if (table_reserve(r, r->n_live + 1) || (gi = group_alloc(e, r, now)) == NONE)
		return NULL;
	g = group_at(r, gi);
	memset(g, 0, sizeof(*g) + r->n_win * sizeof(struct window) + sizeof(struct group_cold));
	g->k1 = k1;
	g->k2 = k2;
	g->live = true; /* not referenced: a process seen once goes first */
	slot_put(r, (uint64_t)key_hash(k1, k2) << 32 | gi);
	r->n_live++;
	r->last_k1 = k1;
	r->last_k2 = k2;
	r->last_gi = gi;
	return g;
}

static void group_key(const struct rule *r, const struct event *ev, uint64_t *k1, uint64_t *k2)
{
	switch (r->by) {
	case POLICY_BY_PROCESS:
		*k1 = ev->pid;
		*k2 = 0;
		break;
	case POLICY_BY_BINARY:
		*k1 = ev->exe.dev;
		*k2 = ev->exe.ino;
		break;
	default:
		*k1 = *k2 = 0;
	}
}

/* Records are read again only when a rule fires: they are written around the caches,
 * so that the stream of them does not push the rules' groups out. */
static inline void copy_uncached(unsigned char *dst, const void *src, size_t size, size_t padded)
{
#ifdef __SSE2__
	/* Whole lines only: a line written in part costs a read of it from memory. */
	size_t whole = size / 16 * 16;

	for (size_t i = 0; i < whole; i += 16)
		_mm_stream_si128((__m128i *)(dst + i),
				 _mm_loadu_si128((const __m128i *)((const unsigned char *)src + i)));
	if (whole < padded) {
		unsigned char tail[64] __attribute__((aligned(16))) = { 0 };

		memcpy(tail, (const unsigned char *)src + whole, size - whole);
		for (size_t i = whole; i < padded; i += 16)
			_mm_stream_si128((__m128i *)(dst + i),
					 _mm_load_si128((const __m128i *)(tail + i - whole)));
	}
#else
	memcpy(dst, src, size);
	(void)padded;
#endif
}

/* An arena entry: its record's size, then the record; entries start on a cache line. */
struct arena_entry {
	uint64_t size;
	uint64_t pad;
	unsigned char record[];
};

#define ARENA_LINE 64

/* Copy a record into the arena; its position. A record never wraps: the tail of the
 * ring too small for it is skipped. */
static uint64_t arena_put(struct engine *e, const void *rec, size_t size)
{
	size_t len = (sizeof(struct arena_entry) + size + ARENA_LINE - 1) & ~(size_t)(ARENA_LINE - 1);
	struct arena_entry head = { .size = size };
	uint64_t pos = e->arena_pos;

	if (pos % ARENA_BYTES + len > ARENA_BYTES)
		pos += ARENA_BYTES - pos % ARENA_BYTES;
	copy_uncached(e->arena + pos % ARENA_BYTES, &head, sizeof(head), sizeof(head));
	copy_uncached(e->arena + pos % ARENA_BYTES + sizeof(head), rec, size, len - sizeof(head));
	e->arena_pos = pos + len;
	return pos;
}

/* The entry at pos, unless later ones have overwritten it since. */
static const struct arena_entry *arena_get(const struct engine *e, uint64_t pos)
{
	return e->arena_pos <= pos + ARENA_BYTES ? (const void *)(e->arena + pos % ARENA_BYTES) : NULL;
}

static void keep_record(struct group *g, uint64_t pos)
{
	uint64_t back;

	if (pos == NO_RECORD)
		return;
	if (g->rec_last) {
		back = (pos - (g->rec_last - 1)) / ARENA_LINE;
		memmove(&g->rec_back[1], &g->rec_back[0], sizeof(g->rec_back) - sizeof(g->rec_back[0]));
		/* Farther back than any arena holds: as good as overwritten. */
		g->rec_back[0] = back < UINT32_MAX ? (uint32_t)back : UINT32_MAX;
	}
	g->rec_last = pos + 1;
}

/* The positions of g's kept records, oldest first; how many. */
static unsigned kept_records(const struct group *g, uint64_t pos[INCIDENT_RECORDS_MAX])
{
	uint64_t at[INCIDENT_RECORDS_MAX];
	unsigned n = 0;

	if (!g->rec_last)
		return 0;
	at[n++] = g->rec_last - 1;
	for (unsigned i = 0; i < INCIDENT_RECORDS_MAX - 1 && g->rec_back[i]; i++) {
		uint64_t back = (uint64_t)g->rec_back[i] * ARENA_LINE;

		at[n] = back <= at[n - 1] && g->rec_back[i] != UINT32_MAX ? at[n - 1] - back : NO_RECORD;
		n++;
	}
	for (unsigned i = 0; i < n; i++)
		pos[i] = at[n - 1 - i];
	return n;
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
	while (r->spent_n && r->spent[r->spent_head] + HOUR_NS <= now) {
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
		.exe_dev = def->by == POLICY_BY_BINARY ? g->k1 : ev ? ev->exe.dev : 0,
		.exe_ino = def->by == POLICY_BY_BINARY ? g->k2 : ev ? ev->exe.ino : 0,
		.dry_run = e->cfg.dry_run || def->dry_run || (def->policy && def->policy->dry_run),
	};
	bool acts = !inc.dry_run && def->n_actions;
	uint64_t kept[INCIDENT_RECORDS_MAX];
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
			inc.records[inc.n_records++] = (struct incident_record){ a->size, a->record };
		else
			e->stats.records_skipped++;
	}
	if (acts && !budget_take(r, now)) {
		inc.budget_exhausted = true;
		e->stats.budget_exhausted++;
	}
	e->stats.incidents++;
	e->fire(e->ctx, &inc);

	/* The events of this incident make no other. */
	cold(r, g)->cooldown_until = now + def->cooldown_ns;
	memset(g->win, 0, r->n_win * sizeof(struct window));
	g->rec_last = 0;
	memset(g->rec_back, 0, sizeof(g->rec_back));
	if (acts && !inc.budget_exhausted && def->verify_ns) {
		if (!cold(r, g)->verify_until)
			r->verifying++;
		cold(r, g)->verify_until = now + def->verify_ns;
		cold(r, g)->verify_id = inc.id;
	}
}

/* The rule's condition holds for g at now. */
static void holds(struct engine *e, struct rule *r, struct group *g, uint64_t now,
		  const struct event *ev)
{
	if (cold(r, g)->verify_until)
		/* The fault came back within the verify window: the repair did not help.
		 * Past it, the tick that would have said so has not come yet. */
		verify_end(e, r, g, now >= cold(r, g)->verify_until, now);
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
		uint64_t k1, k2, n = 0;

		/* The leaves of one rule on this probe are adjacent. */
		for (; i < pe->n_refs && pe->refs[i].rule == r; i++)
			if (!pe->refs[i].checks || filter_pass(&pe->refs[i], in))
				hit[n_hit++] = &pe->refs[i];
		if (!n_hit)
			continue;
		/* Copied once, when a first rule wants it. */
		if (!matched && in->record && in->size)
			pos = arena_put(e, in->record, in->size);
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

			if (g->live && cold(r, g)->verify_until && now_ns >= cold(r, g)->verify_until)
				verify_end(e, r, g, true, now_ns);
		}
	}
}

void engine_forget(struct engine *e, uint32_t pid)
{
	for (size_t i = 0; i < e->n_rules; i++) {
		struct rule *r = &e->rules[i];
		uint32_t s;

		if (r->by == POLICY_BY_PROCESS && (s = slot_find(r, pid, 0)) != NONE)
			group_drop(e, r, s, e->now);
	}
}

void engine_stats(const struct engine *e, struct engine_stats *out)
{
	*out = e->stats;
	out->rules = e->n_rules;
	out->groups = 0;
	for (size_t i = 0; i < e->n_rules; i++)
		out->groups += e->rules[i].n_live;
}
