/* baseline: latency thresholds learned from each site's own calls. The kernel keeps a
 * log2 histogram per latency site; once a second salved takes a snapshot, and over the
 * probe's window it computes the percentile (the upper edge of its log2 bucket) times
 * the factor, and writes that threshold into the site. Until the window has calls, the
 * site reports nothing. */
#ifndef SALVE_BASELINE_H
#define SALVE_BASELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/probes.h"
#include "kernel/sites.h"

struct baseline;

int baseline_new(struct baseline **out);
void baseline_free(struct baseline *b);

/* Whether site s learns its threshold: a latency site with a baseline. */
bool baseline_learns(const struct site *s);

/* Each tick, first: drop the histories of sites that plan no longer has (a reload), so
 * an id used again starts afresh. */
void baseline_forget_gone(struct baseline *b, const struct site_plan *plan);

/* Each tick, for every site that learns: counts is its histogram now (cumulative, as
 * probes_site_hist reads it, once a tick for every reader); update its threshold. */
void baseline_site(struct baseline *b, struct probes *p, const struct site *s,
		   const uint64_t counts[SALVE_HIST_BUCKETS]);

/* The threshold computed from counts over a window; 0 when there are no calls. Exposed
 * for tests. */
uint64_t baseline_threshold(const uint64_t counts[SALVE_HIST_BUCKETS], double percentile,
			    double factor);

#endif
