/* metrics: the Prometheus text exposition format, version 0.0.4, written into a buffer.
 *
 * A family is declared (name, type, help), then its samples follow; its "# HELP" and
 * "# TYPE" lines are written with its first sample, so a family without samples leaves
 * no lines. Every family appears once, its samples together, as the format wants.
 *
 *   # HELP salve_events_reported_total Events whose line salved wrote, by kind.
 *   # TYPE salve_events_reported_total counter
 *   salve_events_reported_total{kind="signal"} 3
 *
 * Names are checked: a metric name is [a-zA-Z_:][a-zA-Z0-9_:]*, a label name
 * [a-zA-Z_][a-zA-Z0-9_]* not starting with "__", and a histogram's labels may not
 * include "le". Label values are escaped as the format says (backslash, double quote,
 * newline) and made valid UTF-8 (each byte that is not part of a valid sequence becomes
 * U+FFFD), since one bad byte would make a scraper reject the whole page. Help text
 * escapes backslash and newline.
 *
 * Errors are sticky: the first (-ENOMEM, or -EINVAL for a bad name, a family declared
 * twice, or a sample without a family) is what metrics_finish returns. */
#ifndef SALVE_METRICS_H
#define SALVE_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "salve/site.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum metrics_type {
	METRICS_COUNTER,
	METRICS_GAUGE,
	METRICS_HISTOGRAM,
};

struct metrics_label {
	const char *name;
	const char *value;
};

struct metrics;

int metrics_new(struct metrics **out);
/* Frees what metrics_finish did not hand over. NULL-safe. */
void metrics_free(struct metrics *m);

/* The family the samples that follow belong to. name is a counter's whole name (with
 * its _total), a histogram's without _bucket, _sum and _count. Strings are copied. */
void metrics_family(struct metrics *m, const char *name, enum metrics_type type, const char *help);

/* A sample of the current family (not of a histogram): labels[0..n) and the value, an
 * integer as it is, or ns given in seconds, written exactly (9 decimals at most). */
void metrics_u64(struct metrics *m, const struct metrics_label *labels, size_t n, uint64_t value);
void metrics_seconds(struct metrics *m, const struct metrics_label *labels, size_t n,
		     uint64_t ns);

/* A histogram's samples: one _bucket per edge, le = le_ns[i] in seconds, its count
 * cumulative[i] (calls that took at most le_ns[i]); then le="+Inf" and _count, both
 * count, and _sum, sum_ns in seconds. Edges must rise and counts must not fall, and
 * neither may pass count: -EINVAL otherwise. */
void metrics_histogram(struct metrics *m, const struct metrics_label *labels, size_t n,
		       const uint64_t *le_ns, const uint64_t *cumulative, size_t n_edges,
		       uint64_t count, uint64_t sum_ns);

/* The edges salve's latency histograms are shown with, and a log2 histogram (bucket k:
 * calls of 2^k ns up to 2^(k+1) - 1 ns; bucket 0 also 0 ns; the last bucket everything
 * longer) summed at them: cumulative[i] counts the calls of at most le_ns[i] ns,
 * exactly, since durations are whole ns. The edges are the bucket tops 2^(k+1) - 1 ns
 * for k from METRICS_LOG2_FIRST to METRICS_LOG2_LAST (127 ns to about 68.7 s): faster
 * calls are in the first, slower ones only in +Inf. *count is every call. */
#define METRICS_LOG2_FIRST 6
#define METRICS_LOG2_LAST 35
#define METRICS_LOG2_EDGES (METRICS_LOG2_LAST - METRICS_LOG2_FIRST + 1)
void metrics_log2_cumulate(const __u64 buckets[SALVE_HIST_BUCKETS],
			   uint64_t le_ns[METRICS_LOG2_EDGES], uint64_t cumulative[METRICS_LOG2_EDGES],
			   uint64_t *count);

/* The text, NUL-terminated (*len without the NUL), now the caller's to free(); or the
 * first error, and nothing. m stays to be freed. */
int metrics_finish(struct metrics *m, char **text, size_t *len);

#endif
