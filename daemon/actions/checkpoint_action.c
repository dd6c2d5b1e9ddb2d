/* checkpoint and restore: the actions that save the incident's process and bring it
 * back (checkpoints.h).
 *
 * checkpoint: salve's own snapshot as an ELF core, or criu's dump, with what the process
 * was and the repairs in effect.
 * restore: salve's core rolled back into the running process (its writable memory and
 * its threads' registers as they were), or criu's images restored (the process killed
 * first when it still runs). "from" names the checkpoint; by default the newest of the
 * incident's process.
 *
 * Both are refused with the reason when the process is pid 1 or salved, when salved
 * traces it for a rescue (it cannot be held by a second tracer), and, for a checkpoint,
 * when it is gone; a restore also when there is no such checkpoint or the process's
 * layout changed since (a mapping gone, resized or replaced, a thread gone or new). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "actions/action.h"
#include "actions/checkpoints.h"
#include "actions/repairs.h"
#include "events/report.h"

/* Why neither action may touch the incident's process (the outcome set), or 0. */
static int refused(struct action_run *run, const char *what)
{
	const struct action_target *t = run->target;
	uint64_t rescue;

	if (!run->checkpoints)
		return action_outcome(run->outcome, "refused: salved keeps no checkpoints here") ?: 1;
	if (t->pid <= 1 || t->pid == (uint32_t)getpid())
		return action_outcome(run->outcome, "refused: never pid %u%s", t->pid,
				      t->pid > 1 ? " (salved itself)" : "") ?: 1;
	if (run->repairs && repairs_rescuing(run->repairs, t->pid, &rescue))
		return action_outcome(run->outcome, "refused: salved traces process %u for rescue %llu, "
				      "and a %s must hold it too: roll the rescue back first",
				      t->pid, (unsigned long long)rescue, what) ?: 1;
	return 0;
}

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
	int r;

	if ((r = refused(run, "checkpoint")))
		return r < 0 ? r : 0;
	if (t->pidfd < 0)
		return action_outcome(run->outcome, t->pidfd_err == -ESTALE
					    ? "refused: pid %u is a process started after the events"
					    : "no process", t->pid);
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

static int restore_describe(const struct policy_action *a, const struct action_target *t,
			    struct json_object *obj)
{
	int err = report_add(obj, "pid", json_object_new_int64(t->pid));

	return err ?: report_add(obj, "from", json_object_new_string(a->from ?: "last"));
}

static int restore_start(struct action_run *run)
{
	const struct action_target *t = run->target;
	char id[CHECKPOINT_ID_MAX + 16], err[1024];
	pid_t pid;
	int r;

	if ((r = refused(run, "restore")))
		return r < 0 ? r : 0;
	if (run->action->from)
		snprintf(id, sizeof(id), "%s", run->action->from);
	else
		snprintf(id, sizeof(id), "last:%u", t->pid);
	if ((r = checkpoints_restore(run->checkpoints, id, &pid, err, sizeof(err))))
		return action_outcome(run->outcome, r == -ENOENT || r == -ESTALE || r == -ENOTSUP ||
							    r == -ESRCH || r == -EBUSY
						    ? "refused: %s" : "failed: %s", err);
	report_add(run->outcome, "restored_pid", json_object_new_int(pid));
	return action_outcome(run->outcome, "restored: process %d", (int)pid);
}

const struct action_ops action_checkpoint_ops = {
	.name = "checkpoint",
	.describe = checkpoint_describe,
	.start = checkpoint_start,
};

const struct action_ops action_restore_ops = {
	.name = "restore",
	.describe = restore_describe,
	.start = restore_start,
};
