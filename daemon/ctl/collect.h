/* collect: salved's metrics page, read from the stages' own counters and lists at the
 * moment it is asked for (metrics.h writes the format). The same text goes to
 * `salvectl metrics`, to --metrics-textfile and to --metrics-listen.
 *
 * The families (counters end in _total; times are in seconds, sizes in bytes):
 *   salve_up, salve_build_info{version}, salve_policies_loaded, salve_rules_loaded,
 *   salve_probe_sites
 *   salve_events_seen_total{kind}        matched the kernel's filter
 *   salve_events_suppressed_total{kind}  held back by the rate limit in the kernel
 *   salve_events_received_total{kind}    records salved read from the ring buffer
 *   salve_events_reported_total{kind}    event lines written
 *   salve_events_lost_total{kind}        ring buffer full, or a line never written
 *   salve_events_stale_total{kind}       of a configuration no longer known
 *   salve_records_malformed_total
 *   salve_rule_fired_total{rule,policy}  incidents (dry runs, exhausted budgets too)
 *   salve_rule_budget_exhausted_total, salve_rule_groups, salve_rule_groups_evicted_total
 *   salve_actions_total{action,outcome}  outcome: the action line's, up to its colon
 *   salve_actions_running                incidents whose actions have not all ended
 *   salve_repairs_active{do}             override, redirect, rescue, breaker
 *   salve_breaker_state{breaker,rule,policy,state}  1 for its state, 0 for the others
 *   salve_breaker_turned_away_total{breaker,rule,policy}
 *   salve_checkpoints{backend}, salve_checkpoint_bytes{backend}  kept, on disk
 *   salve_checkpoint_quota_bytes
 *   salve_call_latency_seconds{probe,policy}  histogram of each latency probe's calls
 *   process_cpu_seconds_total, process_resident_memory_bytes,
 *   process_virtual_memory_bytes, process_start_time_seconds, process_open_fds,
 *   process_max_fds                      salved's own, as client libraries name them */
#ifndef SALVE_COLLECT_H
#define SALVE_COLLECT_H

#include <stddef.h>
#include <stdint.h>

struct probes;
struct pipeline;
struct engine;
struct actions;
struct repairs;
struct checkpoints;
struct policy_set;
struct site_plan;
struct tally;

/* What the page is read from; none is owned. */
struct collect_sources {
	struct probes *probes;
	struct pipeline *pipeline;
	struct engine *engine;
	const struct actions *actions;
	const struct repairs *repairs;
	struct checkpoints *checkpoints;
	const struct policy_set *set;   /* in force */
	const struct site_plan *sites;  /* in force */
	const struct tally *fired;      /* incidents by (rule, policy) */
	uint64_t checkpoint_quota;      /* bytes */
};

/* The page: *text (NUL-terminated, *len bytes without it; the caller frees it). 0 or
 * -errno. */
int collect_metrics(const struct collect_sources *s, char **text, size_t *len);

#endif
