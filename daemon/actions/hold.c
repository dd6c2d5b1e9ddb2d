/* hold: every thread of a process stopped with ptrace, then resumed. */
#define _GNU_SOURCE
#include "actions/hold.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>

#define HOLD_ROUNDS 16 /* listings of the threads until no new one appears */
#define HOLD_STEPS 64  /* instructions a thread is stepped to leave a range */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void hold_begin(struct hold *h, pid_t pid)
{
	sigset_t chld;

	*h = (struct hold){ .pid = pid };
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &chld, &h->mask);
}

void hold_end(struct hold *h)
{
	hold_release(h);
	/* The waits took every SIGCHLD that came meanwhile: one for whoever else waits on
	 * it (salved's loop, for the processes it traces). */
	raise(SIGCHLD);
	pthread_sigmask(SIG_SETMASK, &h->mask, NULL);
	free(h->t);
	h->t = NULL;
	h->cap = 0;
}

static bool held_has(const struct hold *h, pid_t tid)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->t[i].tid == tid)
			return true;
	return false;
}

void hold_release(struct hold *h)
{
	for (size_t i = 0; i < h->n; i++)
		ptrace(PTRACE_DETACH, h->t[i].tid, NULL, (void *)(intptr_t)h->t[i].sig);
	h->n = 0;
}

/* Wait for tid's next stop, up to deadline: 0 and its status; -ESRCH it exited; -EBUSY
 * it did not stop in time. */
static int wait_status(pid_t tid, uint64_t deadline, int *status)
{
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (;;) {
		pid_t r = waitpid(tid, status, __WALL | WNOHANG);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -ESRCH;
		}
		if (r == tid) {
			if (WIFEXITED(*status) || WIFSIGNALED(*status))
				return -ESRCH;
			if (WIFSTOPPED(*status))
				return 0;
		}
		if (now_ns() > deadline)
			return -EBUSY;
		/* A tracee's stop sends its tracer SIGCHLD, blocked by hold_begin: wait for
		 * it, not a timer. */
		sigtimedwait(&chld, NULL, &(struct timespec){ .tv_nsec = 1000000 });
	}
}

/* The stop after PTRACE_INTERRUPT: the interrupt's own stop, or a group stop, holds
 * nothing back; a signal-delivery stop holds its signal, delivered on resume. */
static int wait_interrupted(struct hold_thread *t, uint64_t deadline)
{
	int status = 0, r = wait_status(t->tid, deadline, &status);

	if (!r && status >> 16 == 0 && WSTOPSIG(status) != SIGTRAP)
		t->sig = WSTOPSIG(status);
	return r;
}

int hold_wait(struct hold_thread *t, uint64_t timeout_ns, int *stop_sig)
{
	int status = 0, r = wait_status(t->tid, now_ns() + timeout_ns, &status);

	if (!r)
		*stop_sig = WSTOPSIG(status);
	return r;
}

#define NOTIFY_STOPS 8 /* notifications and signals from outside a resume may meet */

int hold_resume(struct hold_thread *t, int request, uint64_t timeout_ns, int *stop_sig)
{
	uint64_t deadline = now_ns() + timeout_ns;

	for (int i = 0; i < NOTIFY_STOPS; i++) {
		int status = 0, r;

		if (ptrace((enum __ptrace_request)request, t->tid, NULL, NULL))
			return -errno;
		if ((r = wait_status(t->tid, deadline, &status)))
			return r;
		if (status >> 16 == PTRACE_EVENT_STOP)
			continue;
		*stop_sig = WSTOPSIG(status);
		if (*stop_sig == SIGTRAP || *stop_sig == SIGSEGV || *stop_sig == SIGBUS ||
		    *stop_sig == SIGILL || *stop_sig == SIGFPE || *stop_sig == SIGABRT ||
		    *stop_sig == SIGSYS)
			return 0;
		/* A signal from outside: it stopped the thread on its way to user mode, before
		 * any instruction; held back for the release. */
		if (!t->sig)
			t->sig = *stop_sig;
	}
	return -EBUSY;
}

/* Seize and interrupt the threads of h->pid not held yet; how many. */
static int seize_new(struct hold *h, char *err, size_t err_len)
{
	char dir[64];
	struct dirent *de;
	DIR *d;
	int added = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)h->pid);
	if (!(d = opendir(dir))) {
		int e = errno;

		snprintf(err, err_len, "process %d: %s", (int)h->pid, strerror(e));
		return e == ENOENT ? -ESRCH : -e;
	}
	while ((de = readdir(d))) {
		pid_t tid = (pid_t)strtol(de->d_name, NULL, 10);

		if (tid <= 0 || held_has(h, tid))
			continue;
		if (ptrace(PTRACE_SEIZE, tid, NULL, NULL)) {
			int e = errno;

			if (e == ESRCH) /* the thread ended meanwhile */
				continue;
			closedir(d);
			snprintf(err, err_len,
				 "process %d: cannot trace thread %d: %s (another tracer, such as gdb "
				 "or strace, holds it?)",
				 (int)h->pid, (int)tid, strerror(e));
			return -EPERM;
		}
		if (h->n == h->cap) {
			size_t cap = h->cap ? 2 * h->cap : 16;
			struct hold_thread *t = realloc(h->t, cap * sizeof(*t));

			if (!t) {
				ptrace(PTRACE_DETACH, tid, NULL, NULL);
				closedir(d);
				return -ENOMEM;
			}
			h->t = t;
			h->cap = cap;
		}
		h->t[h->n++] = (struct hold_thread){ .tid = tid };
		ptrace(PTRACE_INTERRUPT, tid, NULL, NULL);
		added++;
	}
	closedir(d);
	return added;
}

int hold_all(struct hold *h, char *err, size_t err_len)
{
	for (int round = 0; round < HOLD_ROUNDS; round++) {
		size_t first = h->n;
		int added = seize_new(h, err, err_len);

		if (added < 0)
			return added;
		if (!added)
			return h->n ? 0 : -ESRCH;
		for (size_t i = first; i < h->n; i++) {
			int r = wait_interrupted(&h->t[i], now_ns() + HOLD_STOP_WAIT_NS);

			if (r == -ESRCH) { /* it exited: nothing to hold */
				h->t[i--] = h->t[--h->n];
				continue;
			}
			if (r) {
				snprintf(err, err_len,
					 "process %d: thread %d did not stop within %d ms (in an "
					 "uninterruptible wait?)",
					 (int)h->pid, (int)h->t[i].tid, HOLD_STOP_WAIT_NS / 1000000);
				return -EBUSY;
			}
		}
	}
	snprintf(err, err_len, "process %d: threads kept appearing while they were stopped",
		 (int)h->pid);
	return -EBUSY;
}

/* Whether tid's instruction pointer lies inside one of the ranges. */
static bool ip_inside(pid_t tid, const struct hold_range *r, size_t n)
{
	struct user_regs_struct regs;

	if (ptrace(PTRACE_GETREGS, tid, NULL, &regs))
		return false;
#if defined(__x86_64__)
	for (size_t i = 0; i < n; i++)
		if ((regs.rip > r[i].addr || (r[i].from_start && regs.rip == r[i].addr)) &&
		    regs.rip < r[i].addr + r[i].len)
			return true;
	return false;
#else
	return true;
#endif
}

pid_t hold_step_out(struct hold *h, const struct hold_range *r, size_t n)
{
	for (size_t i = 0; i < h->n; i++) {
		for (int steps = 0; ip_inside(h->t[i].tid, r, n); steps++) {
			int sig, e;

			if (steps == HOLD_STEPS)
				return h->t[i].tid;
			e = hold_resume(&h->t[i], PTRACE_SINGLESTEP, HOLD_STOP_WAIT_NS, &sig);
			if (e == -ESRCH) {
				h->t[i--] = h->t[--h->n]; /* it exited */
				break;
			}
			if (e)
				return h->t[i].tid;
			if (sig != SIGTRAP) /* a signal came meanwhile: delivered on resume */
				h->t[i].sig = sig;
		}
	}
	return 0;
}
