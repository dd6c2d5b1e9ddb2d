/* unwind: a fault's stack unwound from its snapshot (user registers, a copy of the top
 * of the stack, the executable mappings) with the binaries' CFI (.eh_frame,
 * .debug_frame), through elfutils' libdwfl, the way perf's --call-graph dwarf does:
 * the modules reported at the bias they were mapped at, the thread's state served from
 * the snapshot. It works after the process is gone, from the files the kernel named. */
#ifndef SALVE_UNWIND_H
#define SALVE_UNWIND_H

#include <stddef.h>
#include <stdint.h>

#include "events/events.h"

struct unwind_frame {
	uint64_t ip;       /* the faulting instruction, then return addresses */
	uint64_t file_off; /* of the instruction it stands for (a call: ip - 1) in its map */
	uint64_t adjust;   /* ip minus that instruction: 0 for the first frame, else 1 */
	int map;           /* index into the snapshot's maps */
};

/* Unwinds snapshots, keeping a libdwfl session (modules reported, files open, CFI
 * parsed) for each of the last few sets of mappings it saw. Each session also keeps the
 * CFI of the addresses its stacks went through, compiled to simple rules (the CFA a
 * register plus an offset; each register undefined, the same, saved at CFA + offset,
 * CFA + offset or another register's value): a stack whose every frame has such rules is
 * unwound from them, with libdwfl's own steps, and gives exactly libdwfl's frames. A stack
 * that meets anything else (a DWARF expression, a signal frame, code without CFI, which
 * libdwfl walks by its frame-pointer guess) is unwound whole by libdwfl. */
struct unwinder;

int unwinder_new(struct unwinder **out);
void unwinder_free(struct unwinder *u);

/* Unwind the snapshot of thread tid into out (up to max frames), innermost first. The
 * walk stops at the first address in no mapping. *n is how many were found; 0 or
 * -errno: -ENODATA when the snapshot holds no registers or no mapping of a file that
 * is still there, -ENOTSUP on an architecture salve does not unwind. */
int unwind_snapshot(struct unwinder *u, const struct salve_snapshot *snap, uint32_t tid,
		    struct unwind_frame *out, size_t max, size_t *n);

/* For tests and the bench, what the cache must agree with: unwind_snapshot by libdwfl
 * alone (dwfl_getthread_frames), the session's cache neither read nor filled. */
int unwind_snapshot_libdwfl(struct unwinder *u, const struct salve_snapshot *snap, uint32_t tid,
			    struct unwind_frame *out, size_t max, size_t *n);

/* How unwind_snapshot went since unwinder_new, for tests to see which way a stack took. */
struct unwind_stats {
	uint64_t cached;  /* stacks unwound from the cache's rules alone */
	uint64_t libdwfl; /* stacks that met an address the rules cannot say, unwound by libdwfl */
	uint64_t misses;  /* addresses whose CFI was read from libdw into a cache */
	uint64_t clears;  /* caches emptied because they were full */
};

void unwinder_stats(const struct unwinder *u, struct unwind_stats *out);

#endif
