/* mapwalk: delete the entries of a BPF map that a predicate picks, in one bounded walk.
 *
 * A hash map's cursor must not be deleted while it walks (the next step would start over),
 * so the picked keys are gathered first, in a buffer that grows to hold them all, and
 * deleted after the walk. Nothing picked is left behind for want of room, each delete is
 * tried once (a failure is counted and returned, never retried in a loop), and the walk
 * takes at most max_steps steps: a map the kernel changes underneath (an LRU map evicting,
 * which sends the cursor back to the start) cannot keep it going. The map is reached
 * through ops, so tests run it on a map in memory. */
#ifndef SALVE_MAPWALK_H
#define SALVE_MAPWALK_H

#include <stdbool.h>
#include <stddef.h>

struct mapwalk_ops {
	/* 0 and the key after key (the first when key is NULL); -ENOENT past the last. */
	int (*next_key)(void *map, const void *key, void *next);
	/* 0, or -ENOENT when the key went away since the step that found it. */
	int (*lookup)(void *map, const void *key, void *value);
	/* 0, or -errno. */
	int (*delete)(void *map, const void *key);
};

/* libbpf's bpf_map_* on a map fd passed as (void *)(intptr_t)fd. */
extern const struct mapwalk_ops mapwalk_bpf;

/* value is NULL when value_size is 0 (no lookup). true: delete the entry. */
typedef bool mapwalk_pick_fn(void *ctx, const void *key, const void *value);

struct mapwalk_result {
	size_t picked;  /* keys picked (a key seen twice by a restarted walk, twice) */
	size_t deleted; /* deleted by this call */
	size_t failed;  /* deletes that failed other than with -ENOENT (gone already) */
};

/* Walk map, pick, delete what was picked. 0, or the first error: of the walk, of a
 * delete (the other deletes are still tried), -ENOMEM when the keys did not fit in
 * memory (those gathered are deleted), -ELOOP when max_steps ran out. out may be NULL. */
int mapwalk_delete_if(const struct mapwalk_ops *ops, void *map, size_t key_size,
		      size_t value_size, size_t max_steps, mapwalk_pick_fn *pick, void *ctx,
		      struct mapwalk_result *out);

#endif
