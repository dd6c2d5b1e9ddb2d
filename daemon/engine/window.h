/* window: sliding windows over time as rings of buckets, in fixed memory.
 *
 * A window of span 'within' is WINDOW_SLOTS buckets of width
 * window_width(within) = ceil(within / (WINDOW_SLOTS - 1)): the bucket in progress and
 * the WINDOW_SLOTS - 1 full ones before it. Buckets are aligned on multiples of the
 * width (bucket number = now / width), so an event at t is counted at now while
 *     now / width - t / width <= WINDOW_SLOTS - 1.
 * That is: always for the first 'within' after it happened (never less, so "3 within
 * 1s" holds for any 3 events less than 1s apart), and never once one more bucket width
 * has passed. Events older than the ring when they arrive (out of order by more than
 * the window) are dropped.
 *
 * The caller keeps the width (one per condition, not per group) and passes it in, so a
 * window is WINDOW_SLOTS counters and a total. Time is CLOCK_BOOTTIME in ns. */
#ifndef SALVE_WINDOW_H
#define SALVE_WINDOW_H

#include <linux/types.h>
#include <stdint.h>

#include "salve/site.h"

#define WINDOW_SLOTS 32

struct window {
	uint32_t cur;   /* events in the newest bucket (its slot is filled when it ends), so
			 * that counting an event touches the slots only once a bucket */
	uint32_t pad;
	uint64_t head;  /* bucket number of the newest bucket */
	uint64_t total; /* events in the window: cur and the slots */
	uint32_t slots[WINDOW_SLOTS];
};

/* Latency histograms (log2 buckets of ns, as the kernel's) over a window. */
struct window_hist {
	uint64_t head;
	uint64_t total[SALVE_HIST_BUCKETS];
	uint64_t slots[WINDOW_SLOTS][SALVE_HIST_BUCKETS];
};

/* The bucket width for a window of span within_ns (> 0); at least 1 ns. */
uint64_t window_width(uint64_t within_ns);

void window_clear(struct window *w);
/* Count n events at now_ns; the events in the window then, as window_count. */
uint64_t window_add(struct window *w, uint64_t width, uint64_t now_ns, uint32_t n);
/* Events in the window as seen at now_ns. */
uint64_t window_count(struct window *w, uint64_t width, uint64_t now_ns);

void window_hist_clear(struct window_hist *w);
/* Add a histogram of calls (not cumulative) seen at now_ns. */
void window_hist_add(struct window_hist *w, uint64_t width, uint64_t now_ns,
		     const uint64_t delta[SALVE_HIST_BUCKETS]);
/* The calls in the window as seen at now_ns; points into w. */
const uint64_t *window_hist_total(struct window_hist *w, uint64_t width, uint64_t now_ns);

/* The percentile (0-100] of a log2 histogram: the upper edge of the bucket it falls in,
 * as baseline.c computes it; 0 for an empty histogram. *calls gets the number of calls
 * when not NULL. */
uint64_t window_percentile(const uint64_t counts[SALVE_HIST_BUCKETS], double percentile,
			   uint64_t *calls);

#endif
