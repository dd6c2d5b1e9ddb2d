/* stacks: the live stacks of a held process's threads (hold.h), unwound with the
 * binaries' CFI by libdwfl, each frame named by its module and symbol: what salve
 * checks before it runs code in a thread (not inside malloc or the loader) and before
 * it unloads a library (no thread inside it). */
#ifndef SALVE_STACKS_H
#define SALVE_STACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct stacks;

struct stack_frame {
	uint64_t pc;        /* the instruction pointer, then return addresses */
	const char *module; /* the file mapped there; NULL outside any */
	const char *symbol; /* the function it falls in; NULL when none is named */
	void *state;        /* libdwfl's, for stacks_frame_reg, during the call only */
};

/* Called per frame, innermost first; return false to stop the walk. */
typedef bool (*stacks_fn)(const struct stack_frame *f, void *arg);

/* The modules of process pid, whose threads salve holds stopped. 0 or -errno; err
 * names the process. */
int stacks_open(pid_t pid, struct stacks **out, char *err, size_t err_len);
void stacks_close(struct stacks *s);

/* The value of DWARF register regno (x86-64: 0 rax, 3 rbx, 6 rbp, 7 rsp, 12-15 r12-r15)
 * in frame f as the CFI unwound it: for a caller, what it holds once the callee
 * returned. -ENODATA: the CFI does not say. */
int stacks_frame_reg(const struct stack_frame *f, unsigned regno, uint64_t *val);

/* Walk held thread tid's stack. 0, or -errno when not even its first frame is known. A
 * walk that stops early (no CFI for a frame) still returns 0: what it saw was called. */
int stacks_walk(struct stacks *s, pid_t tid, stacks_fn fn, void *arg);

#endif
