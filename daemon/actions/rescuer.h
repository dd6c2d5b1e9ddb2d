/* rescuer: the processes salved traces to rescue their faults (rescue.h), each as its
 * rule's "rescue" action asked. A process is seized (PTRACE_SEIZE: nothing stops, and
 * without PTRACE_O_EXITKILL, so it carries on untraced if salved dies), every thread and
 * the threads it starts (PTRACE_O_TRACECLONE). A fault the kernel raises (SIGSEGV,
 * SIGBUS, SIGFPE, SIGILL) is rescued at the innermost rescue point on the thread's stack;
 * one with no rescue point on the stack, or a thread's second within the window, is
 * delivered as it came. Every other signal is delivered; a group stop is kept. While it
 * is traced, gdb and strace cannot attach to the process.
 *
 * The loop calls rescuer_poll on SIGCHLD (a tracee's stop) and on its tick. */
#ifndef SALVE_RESCUER_H
#define SALVE_RESCUER_H

#include <stddef.h>
#include <stdint.h>

#include "actions/rescue.h"

struct rescuer;

/* What happened to a traced process: a fault about to be rescued ("rescuing", which the
 * decide callback may refuse), "rescued" or "delivered", or "ended" (the process exited or
 * ran exec). */
struct rescue_event {
	uint64_t id;
	uint32_t pid, tid;
	const char *state;
	const char *at;     /* rescued: the rescue point */
	uint64_t rescues;   /* so far, for this id */
	uint64_t fault_ip;
	int signo;
	const char *reason; /* delivered, ended: why */
	const char (*frames)[RESCUE_FRAME_NAME]; /* rescuing, rescued: the stack, innermost */
	size_t n_frames;                         /*   first, to the rescue point */
	uint64_t ip, sp;    /* rescuing: where the thread goes on */
};

typedef void rescuer_event_fn(void *ctx, const struct rescue_event *ev);

/* Before a rescue is written: 0 to go ahead, or -errno and why (the fault is then
 * delivered). */
typedef int rescuer_decide_fn(void *ctx, const struct rescue_event *ev, char *why,
			      size_t why_len);

int rescuer_new(rescuer_event_fn *fn, rescuer_decide_fn *decide, void *ctx,
		struct rescuer **out);
/* Every process traced is let go (detached), as it was. */
void rescuer_free(struct rescuer *r);

/* Trace process pid and rescue its faults at the functions at[0..n_at) of binary (a path
 * or soname), making the innermost return value. 0 or -errno; err names the process
 * or function (-EPERM: another tracer holds it; -ENOENT: no such function). */
int rescuer_add(struct rescuer *r, uint64_t id, uint32_t pid, const char *binary,
		char *const *at, size_t n_at, int64_t value, uint64_t window_ns, char *err,
		size_t err_len);

/* Let the process of id go (detached). -ENOENT: no such id. */
int rescuer_remove(struct rescuer *r, uint64_t id);

/* Handle every stop the traced threads report. */
void rescuer_poll(struct rescuer *r);

#endif
