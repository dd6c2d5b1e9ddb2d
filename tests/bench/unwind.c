/* Unwinding bench: the cost of unwinding and naming one crash stack, and the ring-buffer
 * bytes of its record, before (the kernel's frame-pointer walk, named) and after (a
 * snapshot unwound with CFI by libdwfl, then named), measured side by side in one run.
 *
 * The stack is this program's own, 12 calls deep in code built without frame pointers
 * (the project's -O2): a snapshot is taken of it as the kernel takes one (registers, 16
 * KiB from sp, the executable file mappings from /proc/self/maps). "before" names the
 * same frames given as a frame-pointer walk would give them if the code had frame
 * pointers: the best case of the old path, so the ratio is the price of CFI at most.
 *
 * Then the unwind alone, libdwfl's (dwfl_getthread_frames) against the session's cache of
 * CFI rules, on the same snapshot in the same rounds: their ratio is what the cache saves
 * per stack under a storm from one call site. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "events/events.h"
#include "symbols/name.h"
#include "symbols/symbolize.h"
#include "../lib/self_maps.h"

#define ROUNDS 400
#define BATCH 20 /* unwinds timed together: one takes a few clock reads */
#define DEPTH 12
#define RINGBUF_HDR 8 /* the kernel's header before each ring-buffer record */

#define STACK_BYTES 16384 /* what a signal probe copies by default */

/* The record as the kernel writes it: the signal, its snapshot, the stack bytes. */
static struct salve_signal_event *snap_rec;
static struct salve_snapshot *snap;

static size_t snap_rec_size(void)
{
	return sizeof(*snap_rec) + sizeof(*snap) + snap->nr_maps * sizeof(struct salve_map) + snap->size;
}

/* The registers and stack of this thread at the call, into snap_rec. */
static __attribute__((noinline)) void take_snapshot(void)
{
	struct salve_snapshot *s = snap;
	uint64_t r[SALVE_REGS_NR], end = 0;

	SELF_REGS(r);
	memcpy(s->regs, r, sizeof(r));
	if (self_maps(s, r[SALVE_REG_SP], &end) || end <= r[SALVE_REG_SP])
		return;
	s->size = end - r[SALVE_REG_SP] > STACK_BYTES ? STACK_BYTES : end - r[SALVE_REG_SP];
	/* The stack bytes follow the mappings. */
	memcpy((uint8_t *)snapshot_stack(s), (const void *)(uintptr_t)r[SALVE_REG_SP], s->size);
}

/* A chain of distinct calls without frame pointers down to the snapshot (a recursion
 * would repeat one return address, which the frame-pointer path reads as a loop). */
#define LEVEL(n, next)                                                                  \
	static __attribute__((noinline)) int level##n(void)                             \
	{                                                                               \
		volatile int keep = n;                                                  \
		keep += next();                                                         \
		return keep;                                                            \
	}
static __attribute__((noinline)) int level0(void)
{
	take_snapshot();
	return 0;
}
LEVEL(1, level0)
LEVEL(2, level1)
LEVEL(3, level2)
LEVEL(4, level3)
LEVEL(5, level4)
LEVEL(6, level5)
LEVEL(7, level6)
LEVEL(8, level7)
LEVEL(9, level8)
LEVEL(10, level9)
LEVEL(11, level10)
LEVEL(12, level11)

/* The unwind alone, by libdwfl and from the cache, side by side; 0, or 1 when the two
 * disagree. */
static int bench_unwind_only(struct unwinder *unw)
{
	static struct unwind_frame a[SALVE_STACK_MAX], b[SALVE_STACK_MAX];
	static uint64_t dwfl[ROUNDS], cached[ROUNDS];
	struct unwind_stats st;
	size_t na = 0, nb = 0;
	uint32_t tid = (uint32_t)getpid();

	unwind_snapshot_libdwfl(unw, snap, tid, a, SALVE_STACK_MAX, &na);
	unwind_snapshot(unw, snap, tid, b, SALVE_STACK_MAX, &nb);
	for (size_t i = 0; i < na && na == nb; i++)
		if (a[i].ip != b[i].ip || a[i].file_off != b[i].file_off || a[i].map != b[i].map)
			nb = 0;
	if (na != nb || !na) {
		fprintf(stderr, "unwind bench: libdwfl found %zu frames, the cache %zu or others\n", na, nb);
		return 1;
	}
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t t0 = bench_now_ns(CLOCK_MONOTONIC);

		for (int i = 0; i < BATCH; i++)
			unwind_snapshot_libdwfl(unw, snap, tid, a, SALVE_STACK_MAX, &na);
		dwfl[r] = (bench_now_ns(CLOCK_MONOTONIC) - t0) / BATCH;
		t0 = bench_now_ns(CLOCK_MONOTONIC);
		for (int i = 0; i < BATCH; i++)
			unwind_snapshot(unw, snap, tid, b, SALVE_STACK_MAX, &nb);
		cached[r] = (bench_now_ns(CLOCK_MONOTONIC) - t0) / BATCH;
	}
	qsort(dwfl, ROUNDS, sizeof(dwfl[0]), bench_cmp_u64);
	qsort(cached, ROUNDS, sizeof(cached[0]), bench_cmp_u64);
	unwinder_stats(unw, &st);
	printf("unwind alone: the same %zu-frame snapshot, a kept session (%d rounds of %d side by side)\n",
	       na, ROUNDS, BATCH);
	printf("  libdwfl:                 p50 %8.2f us  p99 %8.2f us\n", dwfl[ROUNDS / 2] / 1e3,
	       dwfl[ROUNDS * 99 / 100] / 1e3);
	printf("  cached rules:            p50 %8.2f us  p99 %8.2f us  (%llu stacks cached, %llu to libdwfl)\n",
	       cached[ROUNDS / 2] / 1e3, cached[ROUNDS * 99 / 100] / 1e3, (unsigned long long)st.cached,
	       (unsigned long long)st.libdwfl);
	printf("  libdwfl / cached: p50 %.1fx, p99 %.1fx\n",
	       (double)dwfl[ROUNDS / 2] / (double)cached[ROUNDS / 2],
	       (double)dwfl[ROUNDS * 99 / 100] / (double)cached[ROUNDS * 99 / 100]);
	return 0;
}

int main(void)
{
	static struct salve_signal_event fp_rec;
	static struct event ev;
	static struct event_names names;
	static uint64_t before[ROUNDS], cold[ROUNDS], after[ROUNDS];
	struct symbolizer *sym;
	struct unwinder *unw = NULL;
	size_t frames_cfi, frames_fp;
	int err;

	if (!(snap_rec = calloc(1, sizeof(*snap_rec) + sizeof(*snap) +
						SALVE_MAPS_MAX * sizeof(struct salve_map) + STACK_BYTES)) ||
	    (err = symbolizer_new(&sym)) || (err = unwinder_new(&unw))) {
		fprintf(stderr, "unwind bench: out of memory\n");
		return 1;
	}
	snap = (struct salve_snapshot *)(snap_rec + 1);
	level12();
	snap_rec->hdr = (struct salve_event_hdr){ .kind = SALVE_EV_SIGNAL, .size = snap_rec_size(),
						  .version = SALVE_EVENT_VERSION,
						  .flags = SALVE_HDR_SNAPSHOT, .pid = (uint32_t)getpid(),
						  .tid = (uint32_t)getpid() };
	snap_rec->signo = 11;
	snap_rec->flags = SALVE_SIG_FATAL | SALVE_SIG_HAS_IP;

	/* The frames CFI finds, given to the old path as a frame-pointer walk. */
	if ((err = events_decode(snap_rec, snap_rec_size(), &ev))) {
		fprintf(stderr, "unwind bench: the snapshot record does not decode: %s\n", strerror(-err));
		return 1;
	}
	name_event(sym, unw, &ev, &names);
	frames_cfi = names.n_frames;
	fp_rec.hdr = snap_rec->hdr;
	fp_rec.hdr.size = sizeof(fp_rec);
	fp_rec.hdr.flags = 0;
	fp_rec.signo = 11;
	for (size_t i = 0; i < names.n_frames && i < SALVE_STACK_MAX; i++) {
		const struct unwind_frame *u = &names.unwound[i];
		size_t m;

		for (m = 0; m < fp_rec.stack.nr_modules; m++)
			if (fp_rec.stack.modules[m].ino == snapshot_maps(snap)[u->map].file.ino)
				break;
		if (m == fp_rec.stack.nr_modules && m < SALVE_MODULES_MAX)
			fp_rec.stack.modules[fp_rec.stack.nr_modules++] = snapshot_maps(snap)[u->map].file;
		fp_rec.stack.ip[i] = u->ip;
		fp_rec.stack.file_off[i] = u->file_off + u->adjust;
		fp_rec.stack.module[i] = (uint8_t)m;
		fp_rec.stack.nr_frames = (uint16_t)(i + 1);
	}

	for (int r = 0; r < ROUNDS; r++) {
		uint64_t t0 = bench_now_ns(CLOCK_MONOTONIC);

		struct unwinder *fresh = NULL;

		events_decode(&fp_rec, sizeof(fp_rec), &ev);
		name_event(sym, unw, &ev, &names);
		frames_fp = names.n_frames;
		before[r] = bench_now_ns(CLOCK_MONOTONIC) - t0;
		/* A process seen for the first time: its session is built. */
		t0 = bench_now_ns(CLOCK_MONOTONIC);
		if (unwinder_new(&fresh))
			return 1;
		events_decode(snap_rec, snap_rec_size(), &ev);
		name_event(sym, fresh, &ev, &names);
		unwinder_free(fresh);
		cold[r] = bench_now_ns(CLOCK_MONOTONIC) - t0;
		/* Its next fault: the session is kept. */
		t0 = bench_now_ns(CLOCK_MONOTONIC);
		events_decode(snap_rec, snap_rec_size(), &ev);
		name_event(sym, unw, &ev, &names);
		after[r] = bench_now_ns(CLOCK_MONOTONIC) - t0;
	}
	qsort(before, ROUNDS, sizeof(before[0]), bench_cmp_u64);
	qsort(cold, ROUNDS, sizeof(cold[0]), bench_cmp_u64);
	qsort(after, ROUNDS, sizeof(after[0]), bench_cmp_u64);
	printf("unwind: one crash stack decoded, unwound and named (%zu frames by fp, %zu by cfi; "
	       "%d rounds side by side)\n", frames_fp, frames_cfi, ROUNDS);
	printf("  fp:                      p50 %8.1f us  p99 %8.1f us  ring bytes %6zu\n",
	       before[ROUNDS / 2] / 1e3, before[ROUNDS * 99 / 100] / 1e3,
	       sizeof(fp_rec) + RINGBUF_HDR);
	printf("  cfi, a process's first:  p50 %8.1f us  p99 %8.1f us  ring bytes %6zu\n",
	       cold[ROUNDS / 2] / 1e3, cold[ROUNDS * 99 / 100] / 1e3, snap_rec_size() + RINGBUF_HDR);
	printf("  cfi, its next (kept):    p50 %8.1f us  p99 %8.1f us\n",
	       after[ROUNDS / 2] / 1e3, after[ROUNDS * 99 / 100] / 1e3);
	printf("  cfi / fp: first p50 %.1fx, next p50 %.1fx p99 %.1fx; ring bytes %.1fx\n",
	       (double)cold[ROUNDS / 2] / (double)before[ROUNDS / 2],
	       (double)after[ROUNDS / 2] / (double)before[ROUNDS / 2],
	       (double)after[ROUNDS * 99 / 100] / (double)before[ROUNDS * 99 / 100],
	       (double)(snap_rec_size() + RINGBUF_HDR) / (double)(sizeof(fp_rec) + RINGBUF_HDR));
	printf("  kept session: p50 %.1fx faster than a new one\n",
	       (double)cold[ROUNDS / 2] / (double)after[ROUNDS / 2]);
	if (bench_unwind_only(unw))
		return 1;
	unwinder_free(unw);
	symbolizer_free(sym);
	free(snap_rec);
	return frames_cfi >= DEPTH ? 0 : 1;
}
