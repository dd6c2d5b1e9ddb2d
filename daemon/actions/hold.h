/* hold: every thread of a running process stopped with ptrace and held, for as long as
 * salve works on it (a hot patch, code run inside it), then resumed as it was.
 *
 * Threads are seized and interrupted (PTRACE_SEIZE, PTRACE_INTERRUPT), never attached
 * with SIGSTOP: nothing the process can see. The thread list is read again until no new
 * thread appears. Stops are waited for on SIGCHLD, which the caller blocks (hold_begin)
 * so salved wakes as a stop comes, however busy the CPUs are. A signal a stop held back
 * is delivered on resume. */
#ifndef SALVE_HOLD_H
#define SALVE_HOLD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HOLD_STOP_WAIT_NS 200000000 /* a thread that does not stop in this long refuses */

struct hold_thread {
	pid_t tid;
	int sig; /* the signal its stop held back, delivered on resume; 0 */
};

struct hold {
	pid_t pid;
	struct hold_thread *t;
	size_t n, cap;
	sigset_t mask; /* the caller's, before hold_begin */
};

/* Bytes no thread may be inside while held: (addr, addr + len), or [addr, addr + len)
 * when from_start (a thread at the first byte of a patch runs the new bytes from their
 * start; one at the first byte of a page to be unmapped would be lost). */
struct hold_range {
	uint64_t addr;
	uint64_t len;
	bool from_start;
};

/* Start working on process pid: SIGCHLD blocked in the calling thread. */
void hold_begin(struct hold *h, pid_t pid);
/* Done: every thread resumed, SIGCHLD as it was, the list freed. */
void hold_end(struct hold *h);

/* Seize and stop every thread. -ESRCH: the process is gone; -EPERM: a thread cannot be
 * traced (another tracer holds it); -EBUSY: a thread did not stop in time, or threads
 * kept appearing. err names the process and thread. */
int hold_all(struct hold *h, char *err, size_t err_len);

/* Resume every thread held, each with the signal its stop held back. */
void hold_release(struct hold *h);

/* Single-step each thread inside one of the ranges out of them, the others held: the
 * bytes a patch replaces are a few instructions of straight code, which a thread in a
 * tight loop over a small function is nearly always in. The thread that stays inside,
 * or 0. */
pid_t hold_step_out(struct hold *h, const struct hold_range *r, size_t n);

/* Resume held thread t with request (PTRACE_CONT, PTRACE_SINGLESTEP) and wait until it
 * stops again: 0, and *stop_sig the signal of that stop (SIGTRAP for a step or a
 * breakpoint, or a fault's). A job-control notification, or a signal from outside (held
 * back for the release, as one an interrupt stop held), stops it before it runs anything:
 * it is resumed again. -ESRCH it exited; -EBUSY it did not stop
 * within timeout_ns; -errno the request failed. */
int hold_resume(struct hold_thread *t, int request, uint64_t timeout_ns, int *stop_sig);

/* Wait, as hold_resume does, for t's stop after the caller stopped it itself
 * (PTRACE_INTERRUPT). */
int hold_wait(struct hold_thread *t, uint64_t timeout_ns, int *stop_sig);

#endif
