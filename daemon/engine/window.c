#include <string.h>

#include "kernel/baseline.h"
#include "engine/window.h"

uint64_t window_width(uint64_t within_ns)
{
	uint64_t w = within_ns / (WINDOW_SLOTS - 1) + !!(within_ns % (WINDOW_SLOTS - 1));

	return w ? w : 1;
}

void window_clear(struct window *w)
{
	memset(w, 0, sizeof(*w));
}

/* Move the head to bucket b: the ended bucket's count goes to its slot, and the
 * buckets that fall out of the ring are emptied. */
static void advance(struct window *w, uint64_t b)
{
	uint64_t n = b - w->head;

	if (n >= WINDOW_SLOTS) {
		memset(w->slots, 0, sizeof(w->slots));
		w->total = 0;
	} else {
		w->slots[w->head % WINDOW_SLOTS] = w->cur;
		for (uint64_t i = 1; i <= n; i++) {
			uint32_t *s = &w->slots[(w->head + i) % WINDOW_SLOTS];

			w->total -= *s;
			*s = 0;
		}
	}
	w->cur = 0;
	w->head = b;
}

/* c + n, or as much as a counter holds: a storm must not look like silence. */
static uint32_t saturating_add(uint32_t c, uint32_t *n)
{
	if (c > UINT32_MAX - *n)
		*n = UINT32_MAX - c;
	return c + *n;
}

uint64_t window_add(struct window *w, uint64_t width, uint64_t now_ns, uint32_t n)
{
	uint64_t b = now_ns / width;

	if (b > w->head)
		advance(w, b);
	else if (w->head - b >= WINDOW_SLOTS)
		return w->total; /* older than the whole window */
	if (b == w->head)
		w->cur = saturating_add(w->cur, &n);
	else
		w->slots[b % WINDOW_SLOTS] = saturating_add(w->slots[b % WINDOW_SLOTS], &n);
	return w->total += n;
}

uint64_t window_count(struct window *w, uint64_t width, uint64_t now_ns)
{
	uint64_t b = now_ns / width;

	if (b > w->head)
		advance(w, b);
	return w->total;
}

void window_hist_clear(struct window_hist *w)
{
	memset(w, 0, sizeof(*w));
}

static void hist_advance(struct window_hist *w, uint64_t b)
{
	uint64_t n = b - w->head;

	if (n >= WINDOW_SLOTS) {
		memset(w->slots, 0, sizeof(w->slots));
		memset(w->total, 0, sizeof(w->total));
	} else {
		for (uint64_t i = 1; i <= n; i++) {
			uint64_t *s = w->slots[(w->head + i) % WINDOW_SLOTS];

			for (int k = 0; k < SALVE_HIST_BUCKETS; k++)
				w->total[k] -= s[k];
			memset(s, 0, sizeof(w->slots[0]));
		}
	}
	w->head = b;
}

void window_hist_add(struct window_hist *w, uint64_t width, uint64_t now_ns,
		     const uint64_t delta[SALVE_HIST_BUCKETS])
{
	uint64_t b = now_ns / width, *s;

	if (b > w->head)
		hist_advance(w, b);
	else if (w->head - b >= WINDOW_SLOTS)
		return;
	s = w->slots[b % WINDOW_SLOTS];
	for (int k = 0; k < SALVE_HIST_BUCKETS; k++) {
		s[k] += delta[k];
		w->total[k] += delta[k];
	}
}

const uint64_t *window_hist_total(struct window_hist *w, uint64_t width, uint64_t now_ns)
{
	uint64_t b = now_ns / width;

	if (b > w->head)
		hist_advance(w, b);
	return w->total;
}

uint64_t window_percentile(const uint64_t counts[SALVE_HIST_BUCKETS], double percentile,
			   uint64_t *calls)
{
	if (calls) {
		*calls = 0;
		for (int k = 0; k < SALVE_HIST_BUCKETS; k++)
			*calls += counts[k];
	}
	return baseline_threshold(counts, percentile, 1.0);
}
