/* incident: a rule fired for one group. The engine builds it; from then on it is
 * immutable, and the actions, the journal and the report read it.
 *
 * It carries the lines of the last few events that triggered it, as the pipeline wrote
 * them: each event is decoded and named once, on its way in, and an incident embeds
 * and localizes from those named events, never reading a record or an ELF file again. */
#ifndef SALVE_INCIDENT_H
#define SALVE_INCIDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include <json-c/json.h>

#include "policy/policy.h"
#include "salve/event.h"

#define INCIDENT_RECORDS_MAX 4 /* the last events kept in full, oldest first */
#define INCIDENT_LEAVES_MAX 16 /* condition leaves counted in an incident */

struct incident_record {
	size_t len;
	const char *line; /* an event line (a JSON object, not NUL-terminated) */
};

/* How many events one leaf of the rule's condition saw in its window when it fired. */
struct incident_count {
	const char *probe_id;
	uint64_t events;
	uint64_t value_ns; /* percentile leaves: the percentile measured; 0 otherwise */
};

struct incident {
	uint64_t id;                   /* salved-wide sequence number, from 1 */
	uint64_t boot_ns;              /* CLOCK_BOOTTIME of the event that made it fire */
	const struct policy_rule *rule;
	enum policy_group_by by;
	uint32_t pid;                  /* by process: the process; else the last event's */
	uint64_t exe_dev, exe_ino;     /* by binary: the file; else the last event's exe */
	char exe[SALVE_PATH_MAX + 1];  /* its path; "" when unknown */
	bool dry_run;                  /* the rule's, its policy's or salved's --dry-run */
	bool budget_exhausted;         /* the rule's budget of actions for the last hour is
					* spent: record the incident, run no action */
	struct incident_count counts[INCIDENT_LEAVES_MAX];
	size_t n_counts;
	struct incident_record records[INCIDENT_RECORDS_MAX];
	size_t n_records;
};

/* The incident as the JSON object of its {"kind":"incident"} line:
 *   {"time", "kind":"incident", "id", "rule", "policy", "by":"process"|"binary"|"host",
 *    by process: "pid" and "exe" (when known); by binary: "binary" (its path) and "pid"
 *    of the last event; by host: "host": true and "pid" of the last event,
 *    "dry_run", "budget_exhausted" (only when true),
 *    "events": {"counts": [{"probe", "events"[, "value_ns"]}…],
 *               "last": [the events' own lines, oldest first]},
 *    "suspect": {"module", "symbol", "offset", "in_scope"} or null,
 *    "actions": []}
 * "actions" is left empty for the dispatcher to fill. realtime_offset_ns is
 * CLOCK_REALTIME - CLOCK_BOOTTIME, for the incident's own time. 0 or -errno (-ENOMEM). */
int incident_to_json(const struct incident *inc, int64_t realtime_offset_ns,
		     struct json_object **out);

/* The probe of the rule's first condition leaf, for SALVE_PROBE; NULL when none. */
const char *incident_first_probe(const struct incident *inc);

/* The events counted over every leaf. */
uint64_t incident_events(const struct incident *inc);

#endif
