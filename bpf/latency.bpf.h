/* Latency: what every latency probe does once it knows how long a call took, however
 * it timed it (a uprobe session, or a uprobe and a uretprobe): count the call in the
 * site's histogram and report it when over the site's threshold. */
#ifndef SALVE_LATENCY_BPF_H
#define SALVE_LATENCY_BPF_H

#include "sites.bpf.h"

/* log2 histogram of each latency site's calls, in nanoseconds, and their sum (struct
 * salve_hist, include/salve/site.h); salved reads it for baselines, rules and metrics. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SALVE_SITES_MAX);
	__type(key, __u32);
	__type(value, struct salve_hist);
} salve_site_hist SEC(".maps");

static __always_inline __u32 log2_bucket(__u64 v)
{
	__u32 b = 0;

	for (int i = 32; i > 0; i >>= 1) {
		if (v >> i) {
			v >>= i;
			b += i;
		}
	}
	return b < SALVE_HIST_BUCKETS ? b : SALVE_HIST_BUCKETS - 1;
}

/* A call of site took dur ns; ctx is at its return. */
static __always_inline int salve_latency_done(void *ctx, __u32 site, __u64 dur)
{
	struct salve_hist *h = bpf_map_lookup_elem(&salve_site_hist, &site);
	const struct salve_site *s;

	if (h) {
		h->buckets[log2_bucket(dur)]++;
		h->sum_ns += dur; /* per CPU: no atomic needed, no line shared */
	}
	s = bpf_map_lookup_elem(&salve_sites, &site);
	if (!s || s->kind != SALVE_SITE_LATENCY || !s->threshold_ns || dur <= s->threshold_ns)
		return 0;
	return emit_call(ctx, SALVE_EV_LATENCY, site, s, 0, dur, 0);
}

#endif
