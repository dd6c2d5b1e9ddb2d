/* log: the incident, and the rule's message, to salved's log at warning level. */
#include <inttypes.h>

#include "actions/action.h"
#include "base/log.h"
#include "events/report.h"

static int log_describe(const struct policy_action *action, const struct action_target *t,
			struct json_object *obj)
{
	(void)t;
	if (!action->message)
		return 0;
	return report_add(obj, "message", report_string(action->message));
}

static int log_start(struct action_run *run)
{
	const struct policy_action *act = run->action;
	const struct action_target *t = run->target;

	salve_log_ctx(LOG_WARNING, &(struct log_fields){ .rule = t->rule, .policy = t->policy,
							 .pid = t->pid, .action = "log",
							 .incident = t->incident_id },
		      "incident %" PRIu64 " (rule %s, policy %s)%s%s: %s", t->incident_id, t->rule,
		      t->policy, act->message ? ": " : "", act->message ? act->message : "",
		      t->incident_json);
	return action_outcome(run->outcome, "logged");
}

const struct action_ops action_log_ops = {
	.name = "log",
	.describe = log_describe,
	.start = log_start,
};
