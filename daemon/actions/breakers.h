/* breakers: the circuit breakers salved holds, each closed → open → half-open → closed.
 *
 * A breaker is around a function in one process (open: its calls return a value at once,
 * through a gate, repair_plan_gate) or around connect() to an endpoint from one cgroup
 * (open: ECONNREFUSED at once, kernel/netbreak.h). Its rule firing opens it; after
 * open_for it is half-open: exactly half_open_calls calls (or connects) go through for
 * real. An event of the rule's probes from the breaker's process (or cgroup) while it is
 * half-open opens it again, open_for doubled up to max_open_for; once every call it let
 * through is gone and half_open_watch has passed since the last with no such event, it
 * closes: nothing of it stays in the process or the cgroup.
 *
 * Every transition is journaled (a begin entry before it takes effect, with the gate's
 * bytes, and an end entry) and is a line:
 *   {"time","kind":"breaker","id","rule","policy","incident","state":"open"|"half_open"|
 *    "closed","reason","open_for_ms","turned_away", "pid","binary","symbol"… |
 *    "endpoint","cgroup"}
 * The breakers in effect are kept in DIR/breakers.json (replaced whole at every change),
 * so a salved started again resumes each in its state ("resumed"). */
#ifndef SALVE_BREAKERS_H
#define SALVE_BREAKERS_H

#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actions/journal.h"
#include "actions/repair.h"
#include "policy/endpoint.h"

struct breakers;
struct netbreak;

enum breaker_state { BREAKER_CLOSED, BREAKER_OPEN, BREAKER_HALF_OPEN };

/* How a breaker moves: its state and when the next step is due. Pure: breaker_step. */
struct breaker_clock {
	enum breaker_state state;
	uint64_t open_for_ns;  /* this opening's (CLOCK_BOOTTIME durations) */
	uint64_t until_ns;     /* open: when it half-opens; half-open: when the watch of the
				* calls let through ends (0 while some are still to let through) */
};

struct breaker_timing {
	uint64_t open_for_ns, max_open_for_ns, half_open_watch_ns;
	uint32_t half_open_calls;
};

/* What happened to a breaker. */
enum breaker_input {
	BREAKER_TRIP,     /* its rule fired, or a call let through failed */
	BREAKER_TICK,     /* time passed; left: the calls half-open may still let through */
};

/* The clock after input at now (boot-time ns); true when the state changed. */
bool breaker_step(struct breaker_clock *c, const struct breaker_timing *t, enum breaker_input in,
		  uint64_t now_ns, int64_t left);

const char *breaker_state_name(enum breaker_state s);

/* What a breaker action asks, where. */
struct breaker_spec {
	uint64_t incident_id;
	const char *rule, *policy;
	const char *const *probes; /* the rule's probes: an event of one while half-open is */
	size_t n_probes;           /*   a call let through failing */
	struct breaker_timing timing;
	uint32_t pid;              /* function: the process; endpoint: whose cgroup */
	/* a function (binary, symbol, value), or an endpoint */
	const char *binary, *symbol;
	int64_t value;
	bool has_endpoint;
	struct endpoint endpoint;
};

/* A line to write; borrowed for the call. */
typedef void breakers_line_fn(void *ctx, struct json_object *line);

/* journal is not owned; lines go through line. The next ids come from *next_id (shared
 * with the other repairs). */
int breakers_new(struct journal *journal, int dirfd, breakers_line_fn *line, void *ctx,
		 uint64_t *next_id, struct breakers **out);
void breakers_free(struct breakers *b);

/* Endpoint breakers go through nb (not owned); NULL: they are refused. */
void breakers_set_netbreak(struct breakers *b, struct netbreak *nb);
void breakers_set_clock(struct breakers *b, int64_t realtime_offset_ns);

/* The rule of spec fired: its breaker (the rule's, around the same function of the same
 * process, or the same endpoint for the same cgroup) opens, made first when there is
 * none. *id names it; *state is its state after. 0, or -errno with err saying why
 * (nothing was changed). */
int breakers_trip(struct breakers *b, const struct breaker_spec *spec, uint64_t *id,
		  enum breaker_state *state, char *err, size_t err_len);

/* An event of probe from process pid (in cgroup cgroup_id): a failure of the calls a
 * half-open breaker watching that probe let through. */
void breakers_event(struct breakers *b, const char *probe, uint32_t pid, uint64_t cgroup_id);

/* Time passed: breakers half-open, close, and let go of processes that are gone. */
void breakers_tick(struct breakers *b);

/* Whether id is a breaker; remove it (closed: nothing of it stays), with reason. */
bool breakers_has(const struct breakers *b, uint64_t id);
int breakers_remove(struct breakers *b, uint64_t id, const char *reason, char *err,
		    size_t err_len);

/* Remove the breakers of rules no longer loaded. */
typedef bool breakers_rule_fn(void *ctx, const char *rule);
void breakers_prune(struct breakers *b, breakers_rule_fn *rule_loaded, void *ctx);

/* At start: the breakers a salved before left (DIR/breakers.json), each resumed in its
 * state when its process (or cgroup) is still there and its rule loaded, else undone. */
void breakers_restore(struct breakers *b, breakers_rule_fn *rule_loaded, void *ctx);

/* Every breaker, added to array a as objects like their lines. -ENOMEM. */
int breakers_list(const struct breakers *b, struct json_object *a);
size_t breakers_count(const struct breakers *b);

#endif
