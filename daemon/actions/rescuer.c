/* rescuer: processes traced to rescue their faults. */
#define _GNU_SOURCE
#include "actions/rescuer.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>

#include "actions/rescue.h"
#include "actions/stacks.h"
#include "policy/policy.h"

#define THREADS_MAX 1024

struct traced {
	uint64_t id;
	pid_t pid;
	pid_t tids[THREADS_MAX];
	uint64_t last_ns[THREADS_MAX]; /* each thread's last rescue */
	size_t n_tids;
	struct rescue_point points[POLICY_RESCUE_POINTS];
	size_t n_points;
	int64_t value;
	uint64_t window_ns, rescues;
	struct stacks *stacks; /* the process's modules, kept from one fault to the next */
	struct traced *next;
};

struct rescuer {
	rescuer_event_fn *fn;
	rescuer_decide_fn *decide;
	void *ctx;
	struct rescue_plan plan; /* of the fault being handled */
	struct traced *list;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int rescuer_new(rescuer_event_fn *fn, rescuer_decide_fn *decide, void *ctx,
		struct rescuer **out)
{
	struct rescuer *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->fn = fn;
	r->decide = decide;
	r->ctx = ctx;
	*out = r;
	return 0;
}

static void event(struct rescuer *r, const struct traced *t, pid_t tid, const char *state,
		  const char *at, uint64_t ip, int signo, const char *reason)
{
	struct rescue_event ev = { t->id, (uint32_t)t->pid, (uint32_t)tid, state, at, t->rescues,
				   ip, signo, reason, NULL, 0, 0, 0 };

	r->fn(r->ctx, &ev);
}

/* The rescue of plan, as an event in state. */
static struct rescue_event plan_event(const struct traced *t, pid_t tid, const char *state,
				      const struct rescue_plan *plan, int signo)
{
	return (struct rescue_event){ t->id, (uint32_t)t->pid, (uint32_t)tid, state,
				      plan->point->symbol, t->rescues, plan->fault_ip, signo, NULL,
				      plan->frames, plan->n_frames, plan->ip, plan->sp };
}

static int add_tid(struct traced *t, pid_t tid)
{
	for (size_t i = 0; i < t->n_tids; i++)
		if (t->tids[i] == tid)
			return 0;
	if (t->n_tids == THREADS_MAX)
		return -ENOSPC;
	t->last_ns[t->n_tids] = 0;
	t->tids[t->n_tids++] = tid;
	return 0;
}

static void drop_tid(struct traced *t, size_t i)
{
	t->tids[i] = t->tids[--t->n_tids];
	t->last_ns[i] = t->last_ns[t->n_tids];
}

/* Detach every thread: each must be stopped for it, so it is interrupted first. */
static void let_go(struct traced *t)
{
	for (size_t i = 0; i < t->n_tids; i++) {
		int status = 0;

		if (ptrace(PTRACE_INTERRUPT, t->tids[i], NULL, NULL))
			continue;
		for (int tries = 0; tries < 1000; tries++) {
			pid_t w = waitpid(t->tids[i], &status, __WALL | WNOHANG);

			if (w == t->tids[i] || w < 0)
				break;
			nanosleep(&(struct timespec){ .tv_nsec = 100000 }, NULL);
		}
		/* A signal its stop held stays with it: delivered on detach. */
		ptrace(PTRACE_DETACH, t->tids[i], NULL,
		       (void *)(intptr_t)(WIFSTOPPED(status) && status >> 16 == 0 &&
						  WSTOPSIG(status) != SIGTRAP
					  ? WSTOPSIG(status) : 0));
	}
	t->n_tids = 0;
	stacks_close(t->stacks);
	t->stacks = NULL;
}

void rescuer_free(struct rescuer *r)
{
	if (!r)
		return;
	while (r->list) {
		struct traced *t = r->list;

		r->list = t->next;
		let_go(t);
		free(t);
	}
	free(r);
}

int rescuer_add(struct rescuer *r, uint64_t id, uint32_t pid, const char *binary,
		char *const *at, size_t n_at, int64_t value, uint64_t window_ns, char *err,
		size_t err_len)
{
	struct traced *t = calloc(1, sizeof(*t));
	char dir[64];
	struct dirent *de;
	DIR *d;
	int ret;

	if (!t)
		return -ENOMEM;
	t->id = id;
	t->pid = (pid_t)pid;
	t->value = value;
	t->window_ns = window_ns;
	t->n_points = n_at < POLICY_RESCUE_POINTS ? n_at : POLICY_RESCUE_POINTS;
	if ((ret = rescue_points(t->pid, binary, (const char *const *)at, t->n_points, t->points,
				 err, err_len)))
		goto fail;
	snprintf(dir, sizeof(dir), "/proc/%u/task", pid);
	if (!(d = opendir(dir))) {
		ret = -ESRCH;
		snprintf(err, err_len, "process %u: no such process", pid);
		goto fail;
	}
	while ((de = readdir(d))) {
		pid_t tid = (pid_t)strtol(de->d_name, NULL, 10);

		if (tid <= 0)
			continue;
		if (ptrace(PTRACE_SEIZE, tid, NULL,
			   (void *)(PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC))) {
			if (errno == ESRCH)
				continue;
			ret = -errno;
			snprintf(err, err_len, "process %u: cannot trace thread %d: %s (another tracer, "
				 "such as gdb or strace, holds it?)", pid, (int)tid, strerror(errno));
			closedir(d);
			goto fail;
		}
		add_tid(t, tid);
	}
	closedir(d);
	t->next = r->list;
	r->list = t;
	return 0;
fail:
	let_go(t);
	free(t);
	return ret;
}

int rescuer_remove(struct rescuer *r, uint64_t id)
{
	for (struct traced **at = &r->list; *at; at = &(*at)->next) {
		struct traced *t = *at;

		if (t->id != id)
			continue;
		*at = t->next;
		let_go(t);
		free(t);
		return 0;
	}
	return -ENOENT;
}

/* A fault of thread i of t the kernel raised: rescued (0, r->plan says how; the caller
 * resumes the thread, then reports it), or the signal to deliver. */
static int fault(struct rescuer *r, struct traced *t, size_t i, int sig)
{
	pid_t tid = t->tids[i];
	struct rescue_plan *plan = &r->plan;
	struct rescue_event ev;
	char err[512];
	uint64_t now = now_ns();
	siginfo_t si;

	if (ptrace(PTRACE_GETSIGINFO, tid, NULL, &si) || si.si_code <= 0)
		return sig; /* sent by a process, not raised by a fault */
	if (t->last_ns[i] && now - t->last_ns[i] < t->window_ns) {
		event(r, t, tid, "delivered", NULL, 0, sig,
		      "a second fault of the thread within the rescue window");
		return sig;
	}
	/* The session of the last fault, or a new one; a library loaded since can leave the
	 * kept one short of a frame's CFI: then a new one is tried. */
	for (int fresh = t->stacks == NULL;; fresh = 1) {
		int e;

		if (!t->stacks && stacks_open(t->pid, &t->stacks, err, sizeof(err))) {
			event(r, t, tid, "delivered", NULL, 0, sig, err);
			return sig;
		}
		e = rescue_find(t->stacks, tid, t->points, t->n_points, plan, err, sizeof(err));
		if (!e)
			break;
		stacks_close(t->stacks);
		t->stacks = NULL;
		if (fresh) {
			event(r, t, tid, "delivered", NULL, 0, sig, err);
			return sig;
		}
	}
	ev = plan_event(t, tid, "rescuing", plan, sig);
	if (r->decide && r->decide(r->ctx, &ev, err, sizeof(err))) {
		event(r, t, tid, "delivered", NULL, plan->fault_ip, sig, err);
		return sig;
	}
	if (rescue_apply(tid, plan, t->value, err, sizeof(err))) {
		event(r, t, tid, "delivered", NULL, plan->fault_ip, sig, err);
		return sig;
	}
	t->last_ns[i] = now;
	t->rescues++;
	return 0;
}

/* Every stop thread i of t reports; false when the process is gone or let go. */
static bool poll_thread(struct rescuer *r, struct traced *t, size_t *i)
{
	pid_t tid = t->tids[*i];
	int status;

	while (waitpid(tid, &status, __WALL | WNOHANG) == tid) {
		int event_kind = status >> 16, sig;
		unsigned long msg;

		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			drop_tid(t, *i);
			(*i)--;
			return t->n_tids > 0;
		}
		if (!WIFSTOPPED(status))
			continue;
		sig = WSTOPSIG(status);
		switch (event_kind) {
		case PTRACE_EVENT_CLONE:
			if (!ptrace(PTRACE_GETEVENTMSG, tid, NULL, &msg))
				add_tid(t, (pid_t)msg);
			ptrace(PTRACE_CONT, tid, NULL, NULL);
			break;
		case PTRACE_EVENT_EXEC:
			/* Another program now: its rescue points are gone. */
			return false;
		case PTRACE_EVENT_STOP:
			if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
				ptrace(PTRACE_LISTEN, tid, NULL, NULL); /* a group stop stays */
			else
				ptrace(PTRACE_CONT, tid, NULL, NULL);
			break;
		case 0: {
			int fault_sig = sig;

			if (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL)
				sig = fault(r, t, *i, sig);
			ptrace(PTRACE_CONT, tid, NULL, (void *)(intptr_t)sig);
			if (sig != fault_sig) { /* rescued: said once the thread runs again */
				struct rescue_event ev = plan_event(t, tid, "rescued", &r->plan,
								    fault_sig);

				r->fn(r->ctx, &ev);
			}
			break;
		}
		default:
			ptrace(PTRACE_CONT, tid, NULL, NULL);
			break;
		}
	}
	return true;
}

void rescuer_poll(struct rescuer *r)
{
	struct traced **at = &r->list;

	while (*at) {
		struct traced *t = *at;
		bool alive = t->n_tids > 0;

		for (size_t i = 0; alive && i < t->n_tids; i++)
			alive = poll_thread(r, t, &i);
		if (alive) {
			at = &t->next;
			continue;
		}
		*at = t->next;
		event(r, t, t->pid, "ended", NULL, 0, 0,
		      t->n_tids ? "the process ran another program" : "the process exited");
		let_go(t);
		free(t);
	}
}
