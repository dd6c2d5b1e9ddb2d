/* engine_groups: a rule's groups, the per-process (or per-binary, or host) state its
 * events are counted in: a pool of fixed-size groups, an open-addressing table by key,
 * and eviction by the clock when the pool is at its bound. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "engine/engine_state.h"

#define EMPTY UINT64_MAX /* a free table slot */
#define HUGE_PAGE (2u << 20)

static inline uint32_t key_hash(uint64_t k1, uint32_t k2)
{
	uint64_t h = k1 * 0x9e3779b97f4a7c15ull ^ k2 * 0xc2b2ae3d27d4eb4full;

	return (uint32_t)(h ^ (h >> 29) ^ (h >> 47));
}

/* The table slot holding the group of this key, or NONE. The hash kept beside the
 * index spares a visit to the group (a cache miss) for every other key probed. */
static uint32_t slot_find(const struct rule *r, uint64_t k1, uint32_t k2)
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

void group_verify_end(struct engine *e, struct rule *r, struct group *g, bool resolved,
		       uint64_t now)
{
	uint64_t id = cold(r, g)->verify_id;

	cold(r, g)->verify_until = 0;
	g->verifying = false;
	r->verifying--;
	if (e->verify)
		e->verify(e->ctx, id, r->def, resolved, now);
}

void watch_end(struct engine *e, struct rule *r, uint32_t i, bool resolved, uint64_t now)
{
	uint64_t id = r->watches[i].id;

	r->watches[i] = r->watches[--r->n_watches];
	if (e->verify)
		e->verify(e->ctx, id, r->def, resolved, now);
}

/* g's process is gone while its repair is verified: the window goes on, watching the
 * process's executable (a restarted service), when the rule counts by process and the
 * executable is known; otherwise the fault cannot come back and it is resolved. */
static void group_verify_handoff(struct engine *e, struct rule *r, struct group *g, uint64_t now)
{
	struct group_cold *c = cold(r, g);

	if (r->by != POLICY_BY_PROCESS || !c->exe_ino || now >= c->verify_until) {
		group_verify_end(e, r, g, true, now);
		return;
	}
	if (r->n_watches == VERIFY_WATCHES_MAX) /* the oldest window gives way */
		watch_end(e, r, 0, true, now);
	r->watches[r->n_watches++] = (struct verify_watch){ c->exe_dev, c->exe_ino,
							     c->verify_until, c->verify_id };
	c->verify_until = 0;
	g->verifying = false;
	r->verifying--;
}

/* Drop the group in table slot s; its slot goes to the free list. */
static void group_drop(struct engine *e, struct rule *r, uint32_t s, uint64_t now)
{
	uint32_t gi = slot_group(r, s);
	struct group *g = group_at(r, gi);

	if (g->verifying)
		group_verify_end(e, r, g, true, now);
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
struct group *group_get(struct engine *e, struct rule *r, uint64_t k1, uint32_t k2,
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

void group_prefetch_slot(const struct rule *r, uint64_t k1, uint32_t k2)
{
	if (r->last_gi != NONE && r->last_k1 == k1 && r->last_k2 == k2)
		__builtin_prefetch(group_at(r, r->last_gi), 1);
	else if (r->table)
		__builtin_prefetch(&r->table[key_hash(k1, k2) & r->table_mask]);
}

void group_prefetch(const struct rule *r, uint64_t k1, uint32_t k2)
{
	uint32_t h = key_hash(k1, k2);
	uint64_t v;

	if ((r->last_gi != NONE && r->last_k1 == k1 && r->last_k2 == k2) || !r->table)
		return;
	v = r->table[h & r->table_mask];
	if (v != EMPTY && (uint32_t)(v >> 32) == h)
		__builtin_prefetch(group_at(r, (uint32_t)v), 1);
}

/* Forget the group of this key, if the rule has one. */
void group_forget(struct engine *e, struct rule *r, uint64_t k1, uint32_t k2, uint64_t now)
{
	uint32_t s = slot_find(r, k1, k2);

	if (s == NONE)
		return;
	if (group_at(r, slot_group(r, s))->verifying)
		group_verify_handoff(e, r, group_at(r, slot_group(r, s)), now);
	group_drop(e, r, s, now);
}
