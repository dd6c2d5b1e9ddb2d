/* breaker: the action that opens the rule's circuit breaker (breakers.h) around a function
 * of the incident's process or an endpoint of its cgroup. Described with what it is
 * around and its timing; the breaker itself journals each of its transitions. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "actions/action.h"
#include "actions/breakers.h"
#include "actions/repairs.h"
#include "events/report.h"

static int breaker_describe(const struct policy_action *a, const struct action_target *t,
			    struct json_object *obj)
{
	char text[ENDPOINT_TEXT_MAX];
	int err = report_add(obj, "pid", json_object_new_int64(t->pid));

	if (a->has_endpoint) {
		err = err ?: report_add(obj, "endpoint",
					json_object_new_string(endpoint_format(&a->endpoint, text,
									       sizeof(text))));
	} else {
		err = err ?: report_add(obj, "binary", json_object_new_string(a->binary));
		err = err ?: report_add(obj, "symbol", json_object_new_string(a->symbol));
		err = err ?: report_add(obj, "return", json_object_new_int64(a->ret));
	}
	err = err ?: report_add(obj, "open_for_ms", json_object_new_uint64(a->open_for_ns / 1000000));
	err = err ?: report_add(obj, "max_open_for_ms",
				json_object_new_uint64(a->max_open_for_ns / 1000000));
	err = err ?: report_add(obj, "half_open_calls", json_object_new_uint64(a->half_open_calls));
	return err ?: report_add(obj, "half_open_watch_ms",
				 json_object_new_uint64(a->half_open_watch_ns / 1000000));
}

static int breaker_start(struct action_run *run)
{
	const struct action_target *t = run->target;
	const struct policy_action *a = run->action;
	struct breaker_spec spec = {
		.incident_id = t->incident_id, .rule = t->rule, .policy = t->policy,
		.probes = t->probes, .n_probes = t->n_probes,
		.timing = { a->open_for_ns, a->max_open_for_ns, a->half_open_watch_ns,
			    a->half_open_calls },
		.pid = t->pid, .binary = a->binary, .symbol = a->symbol, .value = a->ret,
		.has_endpoint = a->has_endpoint, .endpoint = a->endpoint,
	};
	enum breaker_state state;
	char err[512];
	uint64_t id;
	int r;

	if (!run->repairs)
		return action_outcome(run->outcome, "refused: salved keeps no record of repairs here");
	if (!a->has_endpoint && repairs_rescuing(run->repairs, t->pid, &id)) {
		snprintf(err, sizeof(err), "process %u is traced by salved for rescue (repair %llu), "
			 "and a breaker's gate needs to be its tracer to be written: roll the rescue "
			 "back first", t->pid, (unsigned long long)id);
		r = -EBUSY;
	} else {
		r = breakers_trip(repairs_breakers(run->repairs), &spec, &id, &state, err,
				  sizeof(err));
	}
	if (r) {
		struct repair_origin o = { t->incident_id, t->rule, t->policy, false };

		repairs_refused(run->repairs, "breaker", &o, t->pid, err);
		return action_outcome(run->outcome, "refused: %s", err);
	}
	report_add(run->outcome, "repair", json_object_new_uint64(id));
	report_add(run->outcome, "state", json_object_new_string(breaker_state_name(state)));
	return action_outcome(run->outcome, "%s", state == BREAKER_OPEN ? "open" : "unchanged");
}

const struct action_ops action_breaker_ops = {
	.name = "breaker",
	.describe = breaker_describe,
	.start = breaker_start,
};
