/* engine: the rule engine. It counts the events of each rule's probes in sliding
 * windows per group (process, binary or host), decides when a rule's condition holds,
 * and hands an incident to its caller when a rule fires; then it tracks the verify
 * window of the repair. Memory is fixed per group and groups are bounded per rule, so
 * neither an event storm nor a fork storm grows it.
 *
 * Semantics the tests pin down:
 * - Events reach only the leaves that use their probe (an index by probe).
 * - COUNT holds when the leaf's window has at least count events; RATE when events
 *   divided by the window's span in seconds exceed rate; PERCENTILE when the percentile
 *   of the calls in the window (the upper edge of its log2 bucket) exceeds above_ns, or
 *   exceeds baseline_factor times the same percentile over the last baseline_ns. See
 *   window.h for how spans map to buckets.
 * - A rule is evaluated for a group when an event updates one of its leaves for that
 *   group, and for percentile leaves when engine_histogram brings new calls.
 * - When a rule fires, the group's count and rate windows and its kept records start
 *   empty again: the events that made one incident never make another. Percentile
 *   leaves are per probe, not per group, and are not reset; the cooldown spaces their
 *   incidents.
 * - Within the cooldown a group does not fire; its events are still counted.
 * - Each rule dispatches actions for at most budget incidents in any sliding hour;
 *   beyond that incidents still fire, flagged budget_exhausted.
 * - After an incident with actions (not dry run, within budget) and verify_ns > 0, the
 *   group is verified until boot_ns + verify_ns: the first time the condition holds
 *   again, verify reports resolved = false; if the window ends without that,
 *   engine_tick reports resolved = true. A group by process forgotten under
 *   verification (its process exited: a crash) hands its window to its executable (ev
 *   exe dev and ino when it fired): the first process of that executable for which
 *   the condition holds within the window (the service restarted) reports resolved =
 *   false, and engine_tick reports resolved = true at the window's end. At most
 *   VERIFY_WATCHES_MAX such windows per rule (a new one ends the oldest, resolved). A
 *   group evicted, or forgotten without a known executable, reports resolved = true
 *   then: the fault did not come back while the group could be watched.
 * - Groups: by process (ev->pid), by binary (ev->exe dev and ino; events without an
 *   exe share one group) or by host. At most max_groups per rule; when a new group
 *   needs room an old one is dropped (counted in stats.evicted), chosen by the clock
 *   (second chance): the next one from the clock's hand that no event touched since
 *   the hand last passed it, so a process seen once goes before one seen again.
 *   Memory per group is fixed: its windows and where its last INCIDENT_RECORDS_MAX
 *   records are in the engine's record ring.
 *
 * - A reload that changes or removes a rule drops its verifications without a verdict.
 *
 * The callbacks run inside engine_event, engine_histogram, engine_tick and
 * engine_forget, and must not call back into the engine. */
#ifndef SALVE_ENGINE_H
#define SALVE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "events/events.h"
#include "actions/incident.h"
#include "policy/policy.h"
#include "salve/site.h"

#define ENGINE_MAX_GROUPS_DEFAULT 4096

struct engine;

struct engine_config {
	size_t max_groups; /* groups tracked per rule; 0: ENGINE_MAX_GROUPS_DEFAULT */
	bool dry_run;      /* salved --dry-run: every incident is a dry run */
};

/* A rule fired. inc and what it points to are valid only during the call. */
typedef void engine_fire_fn(void *ctx, const struct incident *inc);

/* The verdict on incident_id of rule: resolved when its verify window ended without the
 * rule's condition holding again for the group. */
typedef void engine_verify_fn(void *ctx, uint64_t incident_id, const struct policy_rule *rule,
			      bool resolved, uint64_t now_ns);

/* One decoded event and what the caller knows of it. */
struct engine_input {
	const struct event *ev;
	const struct policy_probe *probe; /* the probe that reported it */
	const char *line;                 /* its event line (JSON, named), kept for */
	size_t line_len;                  /*   incidents; NULL/0: none */
	const char *const *symbols;       /* the stack's function names, innermost first, */
	size_t n_symbols;                 /*   when engine_needs_symbols(probe) */
};

struct engine_stats {
	uint64_t rules;
	uint64_t groups;       /* tracked now, over all rules */
	uint64_t evicted;      /* groups dropped for room (by the clock: not used of late) */
	uint64_t incidents;    /* fired, dry runs and exhausted budgets included */
	uint64_t budget_exhausted;
	uint64_t matched;      /* events that passed the filters of at least one leaf */
	uint64_t records_skipped; /* records of an incident overwritten before it fired */
};

/* One rule as salvectl rules shows it. */
struct engine_rule_info {
	const struct policy_rule *def;
	uint64_t fired;         /* incidents since the rule was loaded as it is */
	uint64_t last_fired_ns; /* boot ns; 0: never */
	uint32_t budget, budget_left; /* actions an hour, and what the last hour left */
	uint32_t groups;        /* processes (or binaries) tracked */
	uint32_t verifying;     /* groups whose repair is being verified */
	uint32_t cooling;       /* groups cooling down after firing */
};

/* fire is required; verify may be NULL. */
int engine_new(const struct engine_config *cfg, engine_fire_fn *fire, engine_verify_fn *verify,
	       void *ctx, struct engine **out);
void engine_free(struct engine *e);

/* Evaluate the rules of set from now on; set must outlive its use (until the next call
 * or engine_free). Rules equal in content to a current one (id, by, condition with probe
 * ids and filters, cooldown, budget, dry_run, verify, actions) keep their groups,
 * windows, budget and verifications; others start empty. On error (-ENOMEM, -EINVAL
 * for a leaf without a resolved probe, a zero window or a percentile rule by process,
 * -E2BIG for more than INCIDENT_LEAVES_MAX leaves) the current rules stay. set may be
 * NULL: no rules. */
int engine_set_rules(struct engine *e, const struct policy_set *set);

/* engine_set_rules in two steps, for a reload that must be all or nothing: prepare does
 * everything that can fail (the current rules stay in force); commit cannot fail; a
 * prepared set not committed is discarded. No other change of rules may come between
 * prepare and commit. */
struct engine_rules;
int engine_rules_prepare(struct engine *e, const struct policy_set *set, struct engine_rules **out);
void engine_rules_commit(struct engine *e, struct engine_rules *r);
void engine_rules_discard(struct engine_rules *r);

/* A leaf on this probe filters on stack_has: pass symbols with its events. */
bool engine_needs_symbols(const struct engine *e, const struct policy_probe *probe);

void engine_event(struct engine *e, const struct engine_input *in);
/* n events in order, as engine_event one by one; what each will read is fetched for
 * all of them first, so that their cache misses overlap instead of adding up. */
void engine_events(struct engine *e, const struct engine_input *in, size_t n);

/* A percentile leaf watches this probe: feed it engine_histogram. */
bool engine_needs_histogram(const struct engine *e, const struct policy_probe *probe);

/* The cumulative latency histogram of probe's site, read now; the engine takes the
 * difference from the previous one. */
void engine_histogram(struct engine *e, const struct policy_probe *probe,
		      const uint64_t counts[SALVE_HIST_BUCKETS], uint64_t now_ns);

/* Once a second: end the verify windows that are due. */
void engine_tick(struct engine *e, uint64_t now_ns);

/* Process pid exited: drop its groups of rules by process. */
void engine_forget(struct engine *e, uint32_t pid);

void engine_stats(const struct engine *e, struct engine_stats *out);

/* The rules in force at now (boot ns), into out (at most max); returns how many there are. */
size_t engine_rules_info(const struct engine *e, uint64_t now, struct engine_rule_info *out,
			 size_t max);

/* Does v satisfy pred? The same comparison as the kernel's return probes make, on the
 * value already sign-extended from its type. */
bool engine_pred_match(const struct policy_predicate *pred, int64_t v);

#endif
