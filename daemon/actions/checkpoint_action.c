/* checkpoint: the action that saves the incident's process (checkpoints.h): salve's own
 * snapshot as an ELF core, or criu's dump, with what the process was and the repairs in
 * effect. Refused
 * with the reason when the process is gone, is pid 1 or salved, or salved traces it for
 * a rescue (it cannot be held by a second tracer). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "actions/action.h"
#include "actions/checkpoints.h"
#include "actions/repairs.h"
#include "events/report.h"

static int checkpoint_describe(const struct policy_action *a, const struct action_target *t,
			       struct json_object *obj)
{
	int err = report_add(obj, "pid", json_object_new_int64(t->pid));

	err = err ?: report_add(obj, "backend", json_object_new_string(policy_backend_name(a->backend)));
	return err ?: report_add(obj, "keep", json_object_new_uint64(a->keep));
}

static int checkpoint_start(struct action_run *run)
{
	const struct action_target *t = run->target;
	const struct policy_action *a = run->action;
	char id[CHECKPOINT_ID_MAX], err[1024];
	struct json_object *repairs = NULL;
	uint64_t rescue;
	int r;

	if (!run->checkpoints)
		return action_outcome(run->outcome, "refused: salved keeps no checkpoints here");
	if (t->pid <= 1 || t->pid == (uint32_t)getpid())
		return action_outcome(run->outcome, "refused: never pid %u%s", t->pid,
				      t->pid > 1 ? " (salved itself)" : "");
	if (t->pidfd < 0)
		return action_outcome(run->outcome, t->pidfd_err == -ESTALE
					    ? "refused: pid %u is a process started after the events"
					    : "no process", t->pid);
	if (run->repairs && repairs_rescuing(run->repairs, t->pid, &rescue))
		return action_outcome(run->outcome, "refused: salved traces process %u for rescue %llu, "
				      "and a checkpoint must hold it too: roll the rescue back first",
				      t->pid, (unsigned long long)rescue);
	if (run->repairs)
		repairs = repairs_list(run->repairs);
	r = checkpoints_take(run->checkpoints,
			     &(struct checkpoint_request){ .pid = (pid_t)t->pid, .rule = t->rule,
							   .policy = t->policy,
							   .incident_id = t->incident_id,
							   .incident_json = t->incident_json,
							   .repairs = repairs, .keep = a->keep,
							   .backend = a->backend },
			     id, err, sizeof(err));
	json_object_put(repairs);
	if (r)
		return action_outcome(run->outcome, r == -ESRCH ? "no process: %s"
					: r == -ENOTSUP ? "refused: %s" : "failed: %s", err);
	report_add(run->outcome, "checkpoint", json_object_new_string(id));
	return action_outcome(run->outcome, "taken: checkpoint %s", id);
}

const struct action_ops action_checkpoint_ops = {
	.name = "checkpoint",
	.describe = checkpoint_describe,
	.start = checkpoint_start,
};
