/* checkpoint and restore: the actions that save the incident's process and bring it
 * back (checkpoints.h).
 *
 * checkpoint: salve's own snapshot as an ELF core, or criu's dump, with what the process
 * was and the repairs in effect. The copy is made in the loop (the process's threads
 * wait only for it); compressing and writing it, or criu's dump, in a thread.
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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
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

/* A checkpoint being written: its core compressed and written (or criu's dump) in a
 * thread of its own, so that salved's loop goes on meanwhile; the thread says through an
 * eventfd in the loop that it is done. */
struct writing {
	struct checkpoint_job *job;
	struct json_object *repairs; /* the request's, held until the end */
	pthread_t thread;
	bool threaded;
	int efd;
};

static void *write_thread(void *arg)
{
	struct writing *w = arg;
	uint64_t one = 1;

	checkpoint_job_run(w->job);
	while (write(w->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	return NULL;
}

/* The checkpoint written (or not): retention, its line, the outcome; all let go. */
static int checkpoint_end(struct action_run *run)
{
	struct writing *w = run->priv;
	char id[CHECKPOINT_ID_MAX], err[1024];
	int r;

	if (w->threaded)
		pthread_join(w->thread, NULL);
	if (w->efd >= 0) {
		loop_remove(run->loop, w->efd);
		close(w->efd);
	}
	r = checkpoints_end(w->job, id, err, sizeof(err));
	json_object_put(w->repairs);
	free(w);
	run->priv = NULL;
	if (r)
		return action_outcome(run->outcome, r == -ESRCH ? "no process: %s"
					: r == -ENOTSUP ? "refused: %s" : "failed: %s", err);
	report_add(run->outcome, "checkpoint", json_object_new_string(id));
	return action_outcome(run->outcome, "taken: checkpoint %s", id);
}

static int checkpoint_written(int fd, void *ctx)
{
	struct action_run *run = ctx;

	(void)fd;
	checkpoint_end(run);
	run->finish(run);
	return 0;
}

static int checkpoint_start(struct action_run *run)
{
	const struct action_target *t = run->target;
	const struct policy_action *a = run->action;
	struct writing *w;
	char err[1024];
	int r;

	if ((r = refused(run, "checkpoint")))
		return r < 0 ? r : 0;
	if (t->pidfd < 0)
		return action_outcome(run->outcome, t->pidfd_err == -ESTALE
					    ? "refused: pid %u is a process started after the events"
					    : "no process", t->pid);
	if (!(w = calloc(1, sizeof(*w))))
		return -ENOMEM;
	if (run->repairs)
		w->repairs = repairs_list(run->repairs);
	/* The copy, here: the threads held only while their memory is copied. */
	r = checkpoints_begin(run->checkpoints,
			      &(struct checkpoint_request){ .pid = (pid_t)t->pid, .rule = t->rule,
							    .policy = t->policy,
							    .incident_id = t->incident_id,
							    .incident_json = t->incident_json,
							    .repairs = w->repairs, .keep = a->keep,
							    .backend = a->backend },
			      &w->job, err, sizeof(err));
	if (r) {
		json_object_put(w->repairs);
		free(w);
		return action_outcome(run->outcome, r == -ESRCH ? "no process: %s"
					: r == -ENOTSUP ? "refused: %s" : "failed: %s", err);
	}
	run->priv = w;
	if ((w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) >= 0 &&
	    !loop_add(run->loop, w->efd, checkpoint_written, run)) {
		if (!pthread_create(&w->thread, NULL, write_thread, w)) {
			w->threaded = true;
			return ACTION_PENDING;
		}
		loop_remove(run->loop, w->efd);
	}
	/* No thread, or no loop to wait in: written here. */
	if (w->efd >= 0)
		close(w->efd);
	w->efd = -1;
	checkpoint_job_run(w->job);
	return checkpoint_end(run);
}

/* salved stopping: the write is let finish (a checkpoint is whole or nothing). */
static void checkpoint_cancel(struct action_run *run)
{
	if (run->priv)
		checkpoint_end(run);
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
	.cancel = checkpoint_cancel,
};

const struct action_ops action_restore_ops = {
	.name = "restore",
	.describe = restore_describe,
	.start = restore_start,
};
