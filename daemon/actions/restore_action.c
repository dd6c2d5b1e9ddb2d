/* restore: the action that brings the incident's process back to a checkpoint
 * (checkpoints_restore): salve's own core rolled back into the running process (its
 * writable memory and its threads' registers as they were), or criu's images restored
 * (the process killed first when it still runs). "from" names the checkpoint; by
 * default the newest of the incident's process. Refused with the reason when there is
 * none, when the process's layout changed since (a mapping gone, resized or replaced, a
 * thread gone), or when salved traces it for a rescue. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "actions/action.h"
#include "actions/checkpoints.h"
#include "actions/repairs.h"
#include "events/report.h"

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
	uint64_t rescue;
	pid_t pid;
	int r;

	if (!run->checkpoints)
		return action_outcome(run->outcome, "refused: salved keeps no checkpoints here");
	if (t->pid <= 1 || t->pid == (uint32_t)getpid())
		return action_outcome(run->outcome, "refused: never pid %u%s", t->pid,
				      t->pid > 1 ? " (salved itself)" : "");
	if (run->repairs && repairs_rescuing(run->repairs, t->pid, &rescue))
		return action_outcome(run->outcome, "refused: salved traces process %u for rescue %llu, "
				      "and a restore must hold it too: roll the rescue back first",
				      t->pid, (unsigned long long)rescue);
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

const struct action_ops action_restore_ops = {
	.name = "restore",
	.describe = restore_describe,
	.start = restore_start,
};
