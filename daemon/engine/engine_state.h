/* engine_state: the rule engine's state, shared by its files (private to daemon/engine*.c).
 *
 * - engine.c: the rules' life (set, reload) and the event path: filters, conditions,
 *   firing, percentiles, verification ticks.
 * - engine_rules.c: a rule built from its definition, compared with another, and its
 *   state moved to the new definition on reload.
 * - engine_index.c: the index of the rules' leaves by probe.
 * - engine_groups.c: a rule's groups: their pool, their table by key, eviction.
 * - engine_records.c: the ring of records behind incidents. */
#ifndef SALVE_ENGINE_STATE_H
#define SALVE_ENGINE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "engine/window.h"

#define NONE UINT32_MAX /* no group */
/* The records behind incidents, each an event's line (named once, by the pipeline):
 * one ring of bytes for the whole engine, written in order, each matched line once,
 * each on cache lines of its own; groups keep where theirs are. 16 MiB holds the last
 * 40,000 or so lines of calls, fewer with stacks: a group's records are overwritten
 * only when that many came after them. */
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
	uint64_t k1;        /* process: pid; binary: its inode; host: 0. A free group's:
			     * the index of the next free one */
	uint32_t k2;        /* binary: the kernel's dev_t of its file system; else 0 */
	/* Before this, in boot ns >> COOL_SHIFT, the group cools down after firing for
	 * sure: a storm that holds on needs no visit to its cold part. */
	uint32_t cool_until;
	uint64_t rec_last;  /* 1 + the arena position of the newest record; 0: none */
	/* From each kept record back to the one kept before it, newest first, in arena
	 * lines; 0: none kept before. */
	uint32_t rec_back[INCIDENT_RECORDS_MAX - 1];
	bool live;
	bool referenced;    /* an event came since the clock hand last passed (eviction) */
	bool verifying;     /* its cold part has a verification running */
	struct window win[];
};

#define COOL_SHIFT 26 /* about 67 ms */

_Static_assert(offsetof(struct group, win) + offsetof(struct window, slots) == 64,
	       "a group's header and its first window's head bucket and total: one cache line");

struct group_cold {
	uint64_t cooldown_until;
	uint64_t verify_until;  /* 0: not under verification */
	uint64_t verify_id;
	uint64_t exe_dev, exe_ino; /* the process's executable when the rule fired; 0: unknown */
};

/* A verification whose process has gone (a crash): it watches the same executable,
 * the service restarted, until its window ends. */
#define VERIFY_WATCHES_MAX 16

struct verify_watch {
	uint64_t exe_dev, exe_ino;
	uint64_t until, id;
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
	uint64_t last_k1;
	uint32_t last_k2;
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
	uint32_t n_watches;
	struct verify_watch watches[VERIFY_WATCHES_MAX];
	uint64_t fired, last_fired; /* incidents, and boot_ns of the last (0: none) */
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

/* An arena entry: its record's size, then the record; entries start on a cache line. */
struct arena_entry {
	uint64_t size;
	uint64_t pad;
	unsigned char record[];
};

static inline struct group *group_at(const struct rule *r, uint32_t i)
{
	return (struct group *)(r->pool + (size_t)i * r->group_size);
}

static inline struct group_cold *cold(const struct rule *r, struct group *g)
{
	return (struct group_cold *)&g->win[r->n_win];
}

/* engine_rules.c */
int rule_build(struct rule *r, const struct policy_rule *def);
int rule_alloc_state(struct rule *r, size_t max_groups);
void rule_free_state(struct rule *r);
void rules_free(struct rule *rules, size_t n);
/* Same content: the state of a may serve b. */
bool rule_eq(const struct policy_rule *a, const struct policy_rule *b);
void rule_adopt(struct rule *to, struct rule *from);

/* engine_index.c */
int index_build(struct rule *rules, size_t n_rules, struct probe_entry **tabp, size_t *maskp,
		struct leaf_ref **refsp);
void index_free(struct probe_entry *tab, size_t mask);
struct probe_entry *probe_find(const struct engine *e, const struct policy_probe *p);

/* engine_groups.c */
struct group *group_get(struct engine *e, struct rule *r, uint64_t k1, uint32_t k2, uint64_t now);
void group_forget(struct engine *e, struct rule *r, uint64_t k1, uint32_t k2, uint64_t now);
/* Fetch ahead what group_get will read for this key: the table slot, then (once that
 * is in) the group. */
void group_prefetch_slot(const struct rule *r, uint64_t k1, uint32_t k2);
void group_prefetch(const struct rule *r, uint64_t k1, uint32_t k2);
/* g's verification ends: resolved or not, as the engine's verify callback hears it. */
/* Watch i of r ends: resolved or not, as the engine's verify callback hears it. */
void watch_end(struct engine *e, struct rule *r, uint32_t i, bool resolved, uint64_t now);
void group_verify_end(struct engine *e, struct rule *r, struct group *g, bool resolved,
		      uint64_t now);

/* engine_records.c */
uint64_t arena_put(struct engine *e, const void *rec, size_t size);
const struct arena_entry *arena_get(const struct engine *e, uint64_t pos);
void keep_record(struct group *g, uint64_t pos);
unsigned kept_records(const struct group *g, uint64_t pos[INCIDENT_RECORDS_MAX]);

#endif
