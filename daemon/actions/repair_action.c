/* override, redirect: the repair actions. The description is the plan (repair.h),
 * made in the incident's process: the journal's begin entry holds every byte the
 * repair writes and its undo needs, and the write is made from that same description.
 * A repair that cannot be planned is described with "refused" (nothing is written) and
 * ends so, with its repair line. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "actions/action.h"
#include "actions/repair.h"
#include "actions/repairs.h"
#include "events/report.h"

/* What the policy's action asks, as a repair spec. */
static void spec_of(const struct policy_action *a, struct repair_plan *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->kind = a->kind == POLICY_ACTION_OVERRIDE ? REPAIR_OVERRIDE : REPAIR_REDIRECT;
	spec->value = a->ret;
	spec->has_when = a->has_when;
	spec->when = (struct code_when){ a->when_arg, a->when_pred };
	snprintf(spec->path, sizeof(spec->path), "%s", a->binary);
	snprintf(spec->symbol, sizeof(spec->symbol), "%s", a->symbol);
	snprintf(spec->to_symbol, sizeof(spec->to_symbol), "%s", a->to ? a->to : "");
	snprintf(spec->library, sizeof(spec->library), "%s", a->library ? a->library : "");
	snprintf(spec->library_build_id, sizeof(spec->library_build_id), "%s",
		 a->build_id ? a->build_id : "");
}

static int plan(const struct policy_action *a, uint32_t pid, struct repair_plan *p, char *err,
		size_t err_len)
{
	struct repair_plan spec;

	spec_of(a, &spec);
	return repair_plan_again(&spec, pid, p, err, err_len);
}

static int repair_describe(const struct policy_action *action, const struct action_target *t,
			   struct json_object *obj)
{
	struct repair_plan p;
	char err[512];

	int r = plan(action, t->pid, &p, err, sizeof(err));

	if (r == -ESRCH && t->by_binary && t->exe[0]) {
		/* The process is gone (a crash): the repair is for the ones started next. */
		int e = report_add(obj, "exe", json_object_new_string(t->exe));

		spec_of(action, &p);
		e = e ?: repair_spec_to_json(&p, obj);
		e = e ?: report_add(obj, "mechanism",
				    json_object_new_string(repair_mechanism_of(&p)));
		return e ?: report_add(obj, "standing", json_object_new_boolean(true));
	}
	if (r)
		return report_add(obj, "pid", json_object_new_int64(t->pid)) ?:
		       report_add(obj, "refused", json_object_new_string(err));
	return repair_plan_to_json(&p, obj);
}

/* The repair of the processes of the incident's executable started from now on. */
static int stand_for_new(struct action_run *run, const struct repair_origin *o)
{
	struct repair_plan spec;
	uint64_t id;

	spec_of(run->action, &spec);
	if (!run->repairs || repairs_stand(run->repairs, &spec, run->target->exe, o, &id))
		return action_outcome(run->outcome, "refused: new processes of %s cannot be "
				      "stopped at their entry", run->target->exe);
	report_add(run->outcome, "repair", json_object_new_uint64(id));
	return action_outcome(run->outcome, "standing: the processes of %s started from now "
			      "on get it", run->target->exe);
}

static int repair_start(struct action_run *run)
{
	const struct action_target *t = run->target;
	const char *what = run->action->kind == POLICY_ACTION_OVERRIDE ? "override" : "redirect";
	struct repair_origin o = { t->incident_id, t->rule, t->policy, t->by_binary };
	struct json_object *refused;
	struct repair_plan p;
	struct patch_stats st;
	char err[512];
	uint64_t id;
	int r;

	if (json_object_object_get_ex(run->outcome, "standing", NULL)) {
		json_object_object_del(run->outcome, "standing");
		return stand_for_new(run, &o);
	}
	if (json_object_object_get_ex(run->outcome, "refused", &refused)) {
		snprintf(err, sizeof(err), "%s", json_object_get_string(refused));
		json_object_object_del(run->outcome, "refused");
		r = -EPERM;
	} else if (repair_plan_from_json(run->outcome, &p)) {
		snprintf(err, sizeof(err), "the description is not a plan");
		r = -EINVAL;
	} else if (!run->repairs) {
		snprintf(err, sizeof(err), "salved keeps no record of repairs here");
		r = -ENOTSUP;
	} else if (p.mechanism == REPAIR_HOT_PATCH && repairs_rescuing(run->repairs, p.pid, &id)) {
		snprintf(err, sizeof(err), "process %u is traced by salved for rescue (repair %llu), "
			 "and a hot patch needs to be its tracer: roll the rescue back first",
			 p.pid, (unsigned long long)id);
		r = -EBUSY;
	} else {
		r = repair_apply(&p, &st, err, sizeof(err));
	}
	if (r) {
		if (run->repairs)
			repairs_refused(run->repairs, what, &o, t->pid, err);
		return action_outcome(run->outcome, "refused: %s", err);
	}
	if ((r = repairs_applied(run->repairs, &p, &o, &st, &id))) {
		/* Untracked, it could never be undone: undo it now. */
		repair_undo(&p, NULL, err, sizeof(err));
		return action_outcome(run->outcome, "failed: %s", strerror(-r));
	}
	report_add(run->outcome, "repair", json_object_new_uint64(id));
	report_add(run->outcome, "stopped_us", json_object_new_uint64(st.stopped_ns / 1000));
	return action_outcome(run->outcome, "applied");
}

const struct action_ops action_override_ops = {
	.name = "override",
	.describe = repair_describe,
	.start = repair_start,
};

const struct action_ops action_redirect_ops = {
	.name = "redirect",
	.describe = repair_describe,
	.start = repair_start,
};
