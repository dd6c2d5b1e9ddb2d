/* faults: the last fault the kernel raised in each process, so that the process's death
 * by that signal later (a handler that logs and re-raises, or its exit) can name the
 * fault that began it. A small bounded table: a process it forgot, or one that never
 * reached it, only loses its "cause". */
#ifndef SALVE_FAULTS_H
#define SALVE_FAULTS_H

#include <stdbool.h>
#include <stdint.h>

#include "events/events.h"

#define FAULTS_MAX 128 /* processes remembered at once; the oldest fault goes first */

struct fault {
	uint32_t pid;
	int32_t signo, code;
	bool has_addr;
	uint64_t addr;
	uint64_t boot_ns;
	uint64_t exe_dev, exe_ino; /* the binary that faulted: a reused pid is not it */
};

struct fault_table {
	struct fault slot[FAULTS_MAX];
	uint64_t stamp[FAULTS_MAX]; /* when each slot was written, in notes; 0: free */
	uint64_t notes;
};

/* Whether ev is a signal the kernel raised at a fault: SIGSEGV, SIGBUS, SIGFPE or
 * SIGILL with si_code > 0. */
bool faults_is_fault(const struct event *ev);

/* Remember ev when it is a fault: the last of its process. */
void faults_note(struct fault_table *t, const struct event *ev);

/* The fault that ev, a death of its process, follows from: a fatal signal it raised at
 * itself, or its exit by a signal, of the same signal as the process's last fault.
 * NULL when there is none. */
const struct fault *faults_cause(const struct fault_table *t, const struct event *ev);

/* The process is gone: its fault with it. */
void faults_forget(struct fault_table *t, uint32_t pid);

#endif
