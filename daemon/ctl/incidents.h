/* incidents: the last INCIDENTS_KEEP incidents salved saw, as its lines tell them, for
 * `salvectl incidents`.
 *
 * incidents_line reads every line salved writes: a {"kind":"incident"} line adds one
 * (the oldest goes past INCIDENTS_KEEP), a {"kind":"action"} line sets the outcome of
 * its incident's action, a {"kind":"verify"} line its verdict. Each incident is
 *   {"id", "time", "rule", "policy", "pid", "comm" (of its last event; "" when none),
 *    "exe" (or "binary" for a rule by binary), "dry_run",
 *    "actions": [{"index", "do", "state":"ended"|"running"|"queued", the description,
 *                 and once ended "outcome" and what the action measured}],
 *    "verify": "resolved"|"persists", or null while none came}. */
#ifndef SALVE_INCIDENTS_H
#define SALVE_INCIDENTS_H

#include <json-c/json.h>
#include <stddef.h>

#define INCIDENTS_KEEP 100

struct incidents;

int incidents_new(struct incidents **out);
void incidents_free(struct incidents *in);

/* A line salved wrote (any kind: those of no incident are passed over). */
void incidents_line(struct incidents *in, struct json_object *line);

/* The incidents kept, oldest first: a new array, or NULL when out of memory. */
struct json_object *incidents_list(const struct incidents *in);

#endif
