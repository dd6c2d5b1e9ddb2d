/* repairs: the repairs salved has made and not undone, by id: what `salvectl repairs`
 * lists, what a failed verify and `salvectl rollback ID` undo.
 *
 * Each change of a repair's state is a line, through the callback:
 *   {"time","kind":"repair","id":N,"do":"override"|"redirect","incident","rule","policy",
 *    "pid","binary","symbol",…,"mechanism":"hot_patch",
 *    "state":"applied"|"verified"|"rolled_back"|"refused","reason":…}
 * and an undo is journaled like an action: a begin entry (fsync'd) before the bytes go
 * back, an end entry after. */
#ifndef SALVE_REPAIRS_H
#define SALVE_REPAIRS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actions/journal.h"
#include "actions/repair.h"

struct repairs;

/* A line to write; borrowed for the call. */
typedef void repairs_line_fn(void *ctx, struct json_object *line);

/* Who a repair is for: copies are taken. */
struct repair_origin {
	uint64_t incident_id;
	const char *rule;
	const char *policy;
	bool new_processes; /* the policy is scoped by binary alone: a process of the binary
			     * started later is in scope, and gets the repair too */
};

/* Stop the new processes of executable exe at their entry, reporting them with cookie
 * (repairs_entry_stopped); 0 or -errno, err says why. And stop them no more. */
typedef int repairs_stand_fn(void *ctx, const char *exe, uint32_t cookie, char *err,
			     size_t err_len);
typedef void repairs_unstand_fn(void *ctx, uint32_t cookie);

/* Trace process pid and rescue its faults (rescuer.h) at the functions at[0..n_at) of
 * binary, the innermost returning value, as o's rule asked: an "applied" line, then a
 * "rescued" line (with the stack) or a "delivered" line per fault, "ended" when the
 * process is gone. Each rescue is journaled before it is written and counted against
 * budget (rescues an hour, the rule's): past it, faults are delivered. *id names it
 * (salvectl rollback ID lets it go). -EEXIST: it is traced already; the errors of
 * rescuer_add. */
int repairs_rescue(struct repairs *r, uint32_t pid, const char *binary, char *const *at,
		   size_t n_at, int64_t value, uint64_t window_ns, uint32_t budget,
		   const struct repair_origin *o, uint64_t *id, char *err, size_t err_len);

/* Whether salved traces process pid for rescue; *id: that repair. A hot patch of it
 * cannot stop its threads (ptrace allows one tracer). */
bool repairs_rescuing(const struct repairs *r, uint32_t pid, uint64_t *id);

/* Handle what the traced processes report (on SIGCHLD, and on the loop's tick). */
void repairs_poll(struct repairs *r);

/* journal is not owned and must outlive r. The repairs in effect are kept in
 * dir/repairs.json (written whole, then renamed over the last, at every change), so a
 * salved started again finds them. */
int repairs_new(struct journal *journal, const char *dir, repairs_line_fn *line, void *ctx,
		struct repairs **out);
void repairs_free(struct repairs *r);

/* How repairs reach processes started later: every repair applied for an origin with
 * new_processes stands for its executable until it is rolled back. */
void repairs_set_standing(struct repairs *r, repairs_stand_fn *stand, repairs_unstand_fn *unstand,
			  void *ctx);

/* The incident's process is gone (a crash): its repair stands for the processes of exe
 * started from now on, spec saying what (kind, path, symbol, value or to_symbol), when
 * o->new_processes. *id names it; -ENOTSUP when it cannot stand. */
int repairs_stand(struct repairs *r, const struct repair_plan *spec, const char *exe,
		  const struct repair_origin *o, uint64_t *id);

/* Process pid of a standing repair's executable stopped at its entry: repair it like
 * the first (journaled, its own id and "applied" line), or say why not (a "refused" line),
 * then continue it (SIGCONT), always. */
void repairs_entry_stopped(struct repairs *r, uint32_t pid, uint32_t cookie);

/* The circuit breakers (breakers.h), kept with the repairs: listed, rolled back, pruned
 * and restored with them. */
struct breakers *repairs_breakers(struct repairs *r);

/* The boot-time to wall-clock offset lines are written with. */
void repairs_set_clock(struct repairs *r, int64_t realtime_offset_ns);

/* p was applied for o: keep it, write its "applied" line (with what the patch cost).
 * *id names it. */
int repairs_applied(struct repairs *r, const struct repair_plan *p, const struct repair_origin *o,
		    const struct patch_stats *st, uint64_t *id);

/* A repair that could not be made: its "refused" line, with the reason. */
void repairs_refused(struct repairs *r, const char *what, const struct repair_origin *o,
		     uint32_t pid, const char *reason);

/* Undo repair id (journaled), with reason for its line. -ENOENT: no such repair. A
 * repair whose process is gone is simply dropped ("rolled_back", the process gone).
 * When the undo itself fails (the bytes are no longer the patch), err says why and the
 * repair is dropped too: salve never writes over what it did not write. */
int repairs_rollback(struct repairs *r, uint64_t id, const char *reason, char *err,
		     size_t err_len);

/* The verify window of incident_id ended: its repairs are "verified" when resolved,
 * else rolled back. */
void repairs_verified(struct repairs *r, uint64_t incident_id, bool resolved);

/* Whether a rule of that id is loaded now; *by_binary: its policy is scoped by binary
 * alone (see new_processes). */
typedef bool repairs_rule_fn(void *ctx, const char *rule, bool *by_binary);

/* At start: the repairs the last salved left in effect (dir/repairs.json) and those it
 * was making when it stopped (the journal's interrupted begins of override and
 * redirect). Each whose process still runs with salve's bytes in place is adopted
 * ("adopted" line), or undone when its rule is no longer loaded; one whose process has
 * the original bytes was never written and is dropped; a process gone, likewise. */
void repairs_restore(struct repairs *r, const struct journal_replay *replay,
		     repairs_rule_fn *rule_loaded, void *ctx);

/* After a reload: the repairs of rules no longer loaded are undone. */
void repairs_prune(struct repairs *r, repairs_rule_fn *rule_loaded, void *ctx);

/* Every repair in effect, as an array of objects like their lines (a new reference). */
struct json_object *repairs_list(const struct repairs *r);
/* How many repairs_list has, without making it. */
size_t repairs_in_effect(const struct repairs *r);

#endif
