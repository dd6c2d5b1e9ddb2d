/* rescue: the action that makes salved the incident's process's tracer and rescues its
 * faults at the rule's rescue points (repairs_rescue). Described with the process and the
 * points; refused with a reason (nothing traced) when the process is gone, traced by
 * another, or has none of the points. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "actions/action.h"
#include "actions/repairs.h"
#include "events/report.h"

static int rescue_describe(const struct policy_action *a, const struct action_target *t,
			   struct json_object *obj)
{
	struct json_object *at = json_object_new_array();
	int err = at ? 0 : -ENOMEM;

	for (size_t i = 0; !err && i < a->n_at; i++)
		err = json_object_array_add(at, json_object_new_string(a->at[i])) ? -ENOMEM : 0;
	if (err) {
		json_object_put(at);
		return err;
	}
	err = report_add(obj, "pid", json_object_new_int64(t->pid));
	err = err ?: report_add(obj, "binary", json_object_new_string(a->binary ?: t->exe));
	err = err ?: report_add(obj, "at", at);
	err = err ?: report_add(obj, "return", json_object_new_int64(a->ret));
	return err ?: report_add(obj, "window_ms", json_object_new_uint64(a->window_ns / 1000000));
}

static int rescue_start(struct action_run *run)
{
	const struct action_target *t = run->target;
	const struct policy_action *a = run->action;
	struct repair_origin o = { t->incident_id, t->rule, t->policy, t->by_binary };
	const char *binary = a->binary ?: t->exe;
	char err[512];
	uint64_t id;
	int r;

	if (!run->repairs)
		return action_outcome(run->outcome, "refused: salved keeps no record of repairs here");
	if (!binary[0])
		return action_outcome(run->outcome, "refused: process %u: its executable is unknown",
				      t->pid);
	if ((r = repairs_rescue(run->repairs, t->pid, binary, a->at, a->n_at, a->ret, a->window_ns,
				t->budget, &o, &id, err, sizeof(err)))) {
		repairs_refused(run->repairs, "rescue", &o, t->pid, err);
		return action_outcome(run->outcome, "refused: %s", err);
	}
	report_add(run->outcome, "repair", json_object_new_uint64(id));
	return action_outcome(run->outcome, "applied: salved traces process %u and rescues its "
			      "faults", t->pid);
}

const struct action_ops action_rescue_ops = {
	.name = "rescue",
	.describe = rescue_describe,
	.start = rescue_start,
};
