/* actions: run a fired rule's actions, in order, each journaled first.
 *
 * For every action of the rule, in order (the next starts when the one before ended):
 *   - budget exhausted: {"do":…, "outcome":"skipped: budget"}, nothing journaled or run;
 *   - salved stopping (actions_stop): "outcome":"skipped: salved stopping", likewise;
 *   - else the journal gets its begin entry (fsync'd); when that fails the action does
 *     not run: "outcome":"failed: journal: <reason>";
 *   - dry run: "outcome":"dry-run", the description saying what would have been done;
 *   - else it runs; its outcome goes to the journal's end entry.
 * Outcomes are objects: the action's description plus "outcome" and what it measured:
 *   {"do":"log","outcome":"logged"}
 *   {"do":"signal","signal":"SIGTERM","pid":42,"outcome":"sent"}, "no process",
 *     "refused: <why>" or "failed: <errno text>"
 *   {"do":"exec","command":[…],"timeout_ms":N,"outcome":"exited","status":0,
 *     "duration_ms":N}, "killed: timeout", "killed: SIGSEGV", "interrupted" (salved
 *     stopped it) or "failed: <reason>"
 * exec runs without blocking the loop: its child and its timeout are watched there.
 *
 * Lines, through the dispatch's line callback, journal first, always:
 *   - the incident's (incident_to_json), during actions_dispatch: once the actions that
 *     end at once (log, signal, dry run, budget, refusals) have ended, before any waits.
 *     Its "actions" lists every action of the rule, as it stands then:
 *       {"index":N,"do":…,"state":"ended"|"running"|"queued", the description…,
 *        when ended its "outcome" and what it measured}
 *   - one per action, after its journal end entry (the ones that ended at once right
 *     after the incident's):
 *       {"time","kind":"action","incident":ID,"rule","policy","index":N, the outcome}
 * A command gets the incident line as it stands when it starts on stdin: the actions
 * before it ended (with their outcomes), itself running. */
#ifndef SALVE_ACTIONS_H
#define SALVE_ACTIONS_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "actions/incident.h"
#include "actions/journal.h"
#include "base/loop.h"

struct actions;

/* A line to write; borrowed for the call: take a reference (json_object_get) to keep it. */
typedef void actions_line_fn(void *ctx, struct json_object *line);

/* Neither loop nor journal is owned; each must outlive the dispatcher. The clock
 * offset starts as now's (CLOCK_REALTIME - CLOCK_BOOTTIME). */
int actions_new(struct loop *loop, struct journal *journal, struct actions **out);

/* salved is stopping: no action starts any more. The running ones get up to bound_ns
 * to end, the loop running (loop_stop from another handler cuts it short); then every
 * command still running is killed (SIGKILL to its process group) and reaped, and ends
 * "interrupted": journal end entry, then its line. Actions queued behind it end
 * "skipped: salved stopping". Returns 0 or the loop's error. */
int actions_stop(struct actions *a, uint64_t bound_ns);

/* actions_stop(a, 0) (nothing dropped: every action still gets its line), then free. */
void actions_free(struct actions *a);

/* Recompute the boot-time to wall-clock offset incident times are written with. */
void actions_set_clock(struct actions *a, int64_t realtime_offset_ns);

/* Start inc's rule's actions. inc is read during the call only: what the actions need
 * is copied. 0: line has had the incident's line before this returns, and gets each
 * action's line as it ends; or -errno (-ENOMEM) and line is never called. */
int actions_dispatch(struct actions *a, const struct incident *inc, actions_line_fn *line,
		     void *ctx);

/* The repairs in effect, where the repair actions record theirs (not owned). */
struct repairs;
void actions_set_repairs(struct actions *a, struct repairs *r);
/* Where the checkpoint actions write (NULL: they refuse). */
struct checkpoints;
void actions_set_checkpoints(struct actions *a, struct checkpoints *c);

/* Incidents whose actions have not all ended. */
size_t actions_running(const struct actions *a);

/* Every action that ended since salved started, counted by its "do" and its outcome up
 * to the first colon ("sent", "refused", "failed", "skipped", "dry-run", "exited"...):
 * the rows of (do, outcome) for the metrics. */
struct tally;
const struct tally *actions_ended(const struct actions *a);

#endif
