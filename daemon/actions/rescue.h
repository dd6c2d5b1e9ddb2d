/* rescue: a thread stopped by a fault taken back to the innermost rescue point on its
 * stack and made to return a value from it, as if that function had failed instead
 * (ASSURE's rescue points, Rx). The thread's stack is unwound with the binaries' CFI
 * (stacks.h); the rescue point's caller gets the callee-saved registers (rbx, rbp,
 * r12-r15) and the stack pointer the CFI restores, the instruction pointer its return
 * address, rax the value. The fault's signal is then suppressed by the tracer that
 * holds the thread (salved): the process goes on as if the rescue point had returned.
 *
 * Every function returns 0 or a negative errno; on error, err holds one sentence that
 * names the process, thread and function, cut to err_len. */
#ifndef SALVE_RESCUE_H
#define SALVE_RESCUE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "actions/stacks.h"

/* A function to rescue at: its code's addresses in the process. */
struct rescue_point {
	char symbol[256];
	uint64_t start, end; /* [start, end) */
};

#define RESCUE_FRAMES_MAX 32   /* frames of a rescued stack named in its line */
#define RESCUE_FRAME_NAME 160

/* What rescue_apply writes into the thread, and the stack it was found on. */
struct rescue_plan {
	const struct rescue_point *point; /* the innermost on the stack */
	unsigned depth;                   /* its frame's, 0 the faulting one */
	uint64_t fault_ip;
	uint64_t ip, sp;                  /* its caller's: return address, stack pointer */
	uint64_t rbx, rbp, r12, r13, r14, r15;
	/* the frames from the fault to the rescue point: "symbol" or "module+0xOFF" */
	char frames[RESCUE_FRAMES_MAX][RESCUE_FRAME_NAME];
	size_t n_frames;
};

/* The rescue points symbols[0..n) of the file binary (a path, or a soname) as process
 * pid maps them, into out. -ENOENT: a symbol is not in binary, or pid does not map it;
 * -ENOTSUP: a symbol has no size (where its code ends is unknown). */
int rescue_points(pid_t pid, const char *binary, const char *const *symbols, size_t n,
		  struct rescue_point *out, char *err, size_t err_len);

/* Unwind thread tid (stopped by its tracer in s's process) to the innermost of the n
 * points on its stack. -ENOENT: none is on it (the fault is to be delivered as it
 * came); -ENODATA: the CFI does not restore every register the caller needs. */
int rescue_find(struct stacks *s, pid_t tid, const struct rescue_point *points, size_t n,
		struct rescue_plan *out, char *err, size_t err_len);

/* Write the plan into traced thread tid, rax = value. The caller then resumes it
 * without the signal. */
int rescue_apply(pid_t tid, const struct rescue_plan *p, int64_t value, char *err,
		 size_t err_len);

#endif
