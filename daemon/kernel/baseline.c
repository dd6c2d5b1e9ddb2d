#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/baseline.h"

/* One snapshot a second, over the window the policy says: whole seconds, up to an hour
 * (the parser refuses any other, so the bound below never shortens one). */
#define BASELINE_TICKS_MAX (POLICY_LEARN_MAX_NS / 1000000000ull)

/* Cumulative histograms of one site, a ring of one per tick. */
struct history {
	uint32_t site;
	uint64_t window_ticks;
	size_t n, next;
	uint64_t (*snaps)[SALVE_HIST_BUCKETS];
};

struct baseline {
	struct history *h;
	size_t n;
};

int baseline_new(struct baseline **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void baseline_free(struct baseline *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		free(b->h[i].snaps);
	free(b->h);
	free(b);
}

uint64_t baseline_threshold(const uint64_t counts[SALVE_HIST_BUCKETS], double percentile,
			    double factor)
{
	uint64_t total = 0, seen = 0;

	for (int i = 0; i < SALVE_HIST_BUCKETS; i++)
		total += counts[i];
	if (!total)
		return 0;
	for (int i = 0; i < SALVE_HIST_BUCKETS; i++) {
		seen += counts[i];
		/* Bucket i holds durations in [2^i, 2^(i+1)) ns: its upper edge bounds them. */
		if ((double)seen >= total * percentile / 100.0) {
			double limit = (double)(i < 63 ? 2ull << i : UINT64_MAX) * factor;

			/* Past 64 bits (a long tail times a large factor): no call is that slow. */
			return limit >= 0x1p64 ? UINT64_MAX : (uint64_t)limit;
		}
	}
	return 0;
}

static struct history *history_of(struct baseline *b, const struct site *s)
{
	uint64_t ticks = s->probe->baseline.window_ns / 1000000000ull;
	struct history *h;

	for (size_t i = 0; i < b->n; i++)
		if (b->h[i].site == s->id)
			return &b->h[i];
	h = realloc(b->h, (b->n + 1) * sizeof(*h));
	if (!h)
		return NULL;
	b->h = h;
	h = &b->h[b->n];
	*h = (struct history){ .site = s->id };
	h->window_ticks = ticks < 1 ? 1 : ticks > BASELINE_TICKS_MAX ? BASELINE_TICKS_MAX : ticks;
	h->snaps = calloc(h->window_ticks + 1, sizeof(*h->snaps));
	if (!h->snaps)
		return NULL;
	b->n++;
	return h;
}

/* Histories of sites a reload removed go, so an id used again starts afresh. */
static void forget_gone(struct baseline *b, const struct site_plan *plan)
{
	for (size_t i = 0; i < b->n;) {
		const struct site *s = sites_find(plan, b->h[i].site);

		if (s && baseline_learns(s)) {
			i++;
			continue;
		}
		free(b->h[i].snaps);
		b->h[i] = b->h[--b->n];
	}
}

bool baseline_learns(const struct site *s)
{
	return s->cfg.kind == SALVE_SITE_LATENCY && !s->probe->threshold_ns;
}

void baseline_forget_gone(struct baseline *b, const struct site_plan *plan)
{
	forget_gone(b, plan);
}

void baseline_site(struct baseline *b, struct probes *p, const struct site *s,
		   const uint64_t counts[SALVE_HIST_BUCKETS])
{
	uint64_t window[SALVE_HIST_BUCKETS], *now, *then;
	struct salve_site cfg;
	struct history *h;
	size_t slots;

	if (!baseline_learns(s) || !(h = history_of(b, s)))
		return;
	slots = h->window_ticks + 1;
	now = h->snaps[h->next];
	memcpy(now, counts, SALVE_HIST_BUCKETS * sizeof(*now));
	/* The oldest snapshot in the ring is the window's start. */
	then = h->n + 1 >= slots ? h->snaps[(h->next + 1) % slots] : h->snaps[0];
	for (int k = 0; k < SALVE_HIST_BUCKETS; k++)
		window[k] = now[k] - (h->n ? then[k] : 0);
	h->next = (h->next + 1) % slots;
	if (h->n < slots)
		h->n++;
	cfg = s->cfg;
	cfg.threshold_ns = baseline_threshold(window, s->probe->baseline.percentile,
					      s->probe->baseline.factor);
	probes_site_update(p, s->id, &cfg);
}
