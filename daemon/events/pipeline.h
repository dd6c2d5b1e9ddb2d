/* pipeline: what happens to one ring-buffer record. Decode it, find the probes it
 * answers (its policies mask, kind and the probes' own filters), name its stack, write
 * one JSON line per probe, and hand it to the rule engine. Keeps the per-kind counts
 * of what it received. */
#ifndef SALVE_PIPELINE_H
#define SALVE_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "policy/policy.h"
#include "kernel/probes.h"
#include "kernel/sites.h"

struct pipeline;

struct output;

/* Lines go to out (shared with the daemon's own lines, which keeps them in order). */
int pipeline_new(struct output *out, struct pipeline **outp);
void pipeline_free(struct pipeline *pl);

/* A configuration records may have been decided by: a policy set and its sites, for
 * the generations first_gen to last_gen that the kernel stamps on records. Not owned. */
struct pipeline_config {
	const struct policy_set *set;
	const struct site_plan *sites;
	uint32_t first_gen, last_gen;
};

/* The configuration in force and the one before it (NULL: none). A record is matched
 * against the policies and sites of the configuration its generation names, so a
 * reload never judges records written before it by the new set; a record of neither
 * is counted as stale. */
void pipeline_set_configs(struct pipeline *pl, const struct pipeline_config *cur,
			  const struct pipeline_config *prev);

/* Read ahead the files set's stacks will be named in (events/warm.h), before its
 * probes attach: a storm's first stacks then find them read. */
void pipeline_warm(struct pipeline *pl, const struct policy_set *set);

struct engine;

/* The rules every event a probe reports goes on to; NULL: none. Not owned. */
/* What salved read of a site's records since it came into the configuration: how many,
 * and the calls its bucket held back before them (each record carries that count). */
struct pipeline_site_counts {
	uint64_t records;
	uint64_t suppressed;
};
struct pipeline_site_counts pipeline_site_counts(const struct pipeline *pl, uint32_t id);

void pipeline_set_engine(struct pipeline *pl, struct engine *engine);

struct event;

/* Who else sees each event a probe reports, once its line is written: the circuit
 * breakers watching their rules' probes. NULL: none. */
typedef void pipeline_watch_fn(void *ctx, const char *probe, const struct event *ev);
void pipeline_set_watch(struct pipeline *pl, pipeline_watch_fn *fn, void *ctx);

/* Every line the pipeline writes (events, stats), as it writes it: what it is, its text
 * without the newline, and its json-c object where it was built as one (stats; NULL for
 * event lines, written directly), all valid for the call. NULL: none. */
struct line_facts;
typedef void pipeline_tap_fn(void *ctx, const struct line_facts *facts, struct json_object *line,
			     const char *text, size_t len);
void pipeline_set_tap(struct pipeline *pl, pipeline_tap_fn *fn, void *ctx);

/* The libbpf ring_buffer callback; ctx is the pipeline. A bad record is counted and
 * skipped. An event's line is built and handed to the output at once; function and
 * syscall events may then wait for their rules until pipeline_flush. Returns -EAGAIN,
 * which stops libbpf's read of the ring after that record, when the budget is spent. */
int pipeline_record(void *ctx, void *data, size_t size);

/* The records pipeline_record takes before it stops the read (n of them from now; 0:
 * no limit), so a storm leaves the rest of the loop its turn. */
void pipeline_budget(struct pipeline *pl, size_t n);
/* Records taken since pipeline_budget. */
size_t pipeline_budget_spent(const struct pipeline *pl);

/* The rules of the events pipeline_record still holds, now, and the lines gathered for
 * the output written: after the ring is drained, and before anything else reaches the
 * engine (ticks, histograms, reloads). */
void pipeline_flush(struct pipeline *pl);

/* Report that site's function has not run in process tgid for stalled_ns, at now_ns
 * (CLOCK_BOOTTIME). */
void pipeline_stall(struct pipeline *pl, const struct site *site, uint32_t tgid, uint64_t now_ns,
		    uint64_t stalled_ns);

/* Recompute the boot-time to wall-clock offset (after a clock step, say). */
void pipeline_sync_clock(struct pipeline *pl);

/* Write the {"kind":"stats"} line from the kernel's counters and our own; copy, when not
 * NULL, takes a reference to the line's object. */
int pipeline_stats(struct pipeline *pl, const struct salve_counters kernel[SALVE_EV_KIND_MAX],
		   struct json_object **copy);

/* Salved's own counts of the records it read, as the stats line has them. */
struct pipeline_counts {
	uint64_t received[SALVE_EV_KIND_MAX]; /* records read from the ring */
	uint64_t reported[SALVE_EV_KIND_MAX]; /* event lines written */
	uint64_t lost[SALVE_EV_KIND_MAX];     /* events whose line was never written */
	uint64_t stale[SALVE_EV_KIND_MAX];    /* of a configuration no longer known */
	uint64_t malformed;                   /* records that could not be decoded */
};
void pipeline_counts(const struct pipeline *pl, struct pipeline_counts *out);

#endif
