/* signal: a named signal to the incident's process, through a pidfd opened when the
 * incident was dispatched, so a pid taken over by another process is never hit (nor
 * one that had been taken over already: started after the events). Never
 * pid 1 or below, never salved, never a process that runs another executable than the
 * one the events came from (DESIGN: scope is a wall). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actions/action.h"
#include "events/events.h"
#include "events/report.h"

static int signal_describe(const struct policy_action *action, const struct action_target *t,
			   struct json_object *obj)
{
	const char *name = report_signal_name(action->signo);
	char num[16];
	int err;

	if (!name) {
		snprintf(num, sizeof(num), "%d", action->signo);
		name = num;
	}
	err = report_add(obj, "signal", json_object_new_string(name));
	return err ?: report_add(obj, "pid", json_object_new_int64(t->pid));
}

/* Does pidfd's process still exist? Signal 0 checks without sending. */
static bool alive(int pidfd)
{
	return !pidfd_send_signal(pidfd, 0, NULL, 0);
}

/* true when pid runs the incident's executable; else false and the outcome says why. */
static bool same_exe(struct action_run *run)
{
	const struct action_target *t = run->target;
	char path[32];
	struct stat st;
	uint64_t dev;

	if (!t->exe_ino) {
		action_outcome(run->outcome, "refused: the incident names no executable to check "
			       "pid %u against", t->pid);
		return false;
	}
	snprintf(path, sizeof(path), "/proc/%u/exe", t->pid);
	if (stat(path, &st)) {
		int err = errno;

		if (!alive(t->pidfd))
			action_outcome(run->outcome, "no process");
		else if (err == ENOENT)
			action_outcome(run->outcome, "refused: pid %u has no executable (a kernel "
				       "thread or a zombie)", t->pid);
		else
			action_outcome(run->outcome, "failed: %s: %s", path, strerror(err));
		return false;
	}
	dev = events_kernel_dev(st.st_dev);
	if (dev != t->exe_dev || st.st_ino != t->exe_ino) {
		action_outcome(run->outcome, "refused: pid %u now runs another executable than %s",
			       t->pid, t->exe[0] ? t->exe : "the incident's");
		return false;
	}
	return true;
}

static int signal_start(struct action_run *run)
{
	const struct action_target *t = run->target;

	if (t->pid <= 1)
		return action_outcome(run->outcome, "refused: never pid %u", t->pid);
	if (t->pid == (uint32_t)getpid())
		return action_outcome(run->outcome, "refused: pid %u is salved itself", t->pid);
	if (t->pidfd < 0) {
		if (t->pidfd_err == -ESRCH)
			return action_outcome(run->outcome, "no process");
		if (t->pidfd_err == -ESTALE)
			return action_outcome(run->outcome, "refused: pid %u is a process started "
					      "after the events", t->pid);
		return action_outcome(run->outcome, "failed: pidfd_open: %s",
				      strerror(-t->pidfd_err));
	}
	if (!same_exe(run))
		return 0;
	if (pidfd_send_signal(t->pidfd, run->action->signo, NULL, 0)) {
		if (errno == ESRCH)
			return action_outcome(run->outcome, "no process");
		return action_outcome(run->outcome, "failed: %s", strerror(errno));
	}
	return action_outcome(run->outcome, "sent");
}

const struct action_ops action_signal_ops = {
	.name = "signal",
	.describe = signal_describe,
	.start = signal_start,
};
