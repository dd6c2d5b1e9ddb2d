/* actions: run a fired rule's actions, in order, each journaled first.
 *
 * For every action of the rule, in order (the next starts when the one before ended):
 *   - budget exhausted: {"do":…, "outcome":"skipped: budget"}, nothing journaled or run;
 *   - else the journal gets its begin entry (fsync'd); when that fails the action does
 *     not run: "outcome":"failed: journal: <reason>";
 *   - dry run: "outcome":"dry-run", the description saying what would have been done;
 *   - else it runs; its outcome goes to the journal's end entry.
 * Outcomes are objects: the action's description plus "outcome" and what it measured:
 *   {"do":"log","outcome":"logged"}
 *   {"do":"signal","signal":"SIGTERM","pid":42,"outcome":"sent"}, "no process",
 *     "refused: <why>" or "failed: <errno text>"
 *   {"do":"exec","command":[…],"timeout_ms":N,"outcome":"exited","status":0,
 *     "duration_ms":N}, "killed: timeout", "killed: SIGSEGV" or "failed: <reason>"
 * exec runs without blocking the loop: its child and its timeout are watched there.
 * When every action of an incident has ended, done gets the incident's JSON object
 * (incident_to_json) with each outcome in "actions", to write its line once. */
#ifndef SALVE_ACTIONS_H
#define SALVE_ACTIONS_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "actions/incident.h"
#include "actions/journal.h"
#include "base/loop.h"
#include "symbols/symbolize.h"

struct actions;

/* incident is borrowed for the call: take a reference (json_object_get) to keep it. */
typedef void actions_done_fn(void *ctx, struct json_object *incident);

/* None of loop, journal and sym is owned; each must outlive the dispatcher. The clock
 * offset starts as now's (CLOCK_REALTIME - CLOCK_BOOTTIME). */
int actions_new(struct loop *loop, struct journal *journal, struct symbolizer *sym,
		struct actions **out);

/* Kill (SIGKILL to its process group) and reap every command still running; their
 * journal entries end "killed: salved stopping". done is not called for them. */
void actions_free(struct actions *a);

/* Recompute the boot-time to wall-clock offset incident times are written with. */
void actions_set_clock(struct actions *a, int64_t realtime_offset_ns);

/* Start inc's rule's actions. inc is read during the call only: what the actions need
 * is copied. 0 and done is called once, maybe before this returns (when no action has
 * to wait), or -errno (-ENOMEM) and done is never called. */
int actions_dispatch(struct actions *a, const struct incident *inc, actions_done_fn *done,
		     void *ctx);

/* Incidents whose actions have not all ended. */
size_t actions_running(const struct actions *a);

#endif
