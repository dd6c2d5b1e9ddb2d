/* rescue: a faulting thread returned from its innermost rescue point. */
#define _GNU_SOURCE
#include "actions/rescue.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/user.h>

#include "actions/patch.h"
#include "events/events.h"
#include "kernel/resolve.h"

/* DWARF register numbers of x86-64 that a callee saves, and the stack pointer. */
enum { DW_RBX = 3, DW_RBP = 6, DW_RSP = 7, DW_R12 = 12, DW_R13, DW_R14, DW_R15 };

int rescue_points(pid_t pid, const char *binary, const char *const *symbols, size_t n,
		  struct rescue_point *out, char *err, size_t err_len)
{
	char path[PATH_MAX];
	struct stat st;
	int r;

	if ((r = resolve_binary(binary, path, sizeof(path), err, err_len)))
		return r;
	if (stat(path, &st)) {
		r = -errno;
		snprintf(err, err_len, "%s: %s", path, strerror(-r));
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		struct resolve_site site;

		if ((r = resolve_symbol(path, symbols[i], NULL, &site, err, err_len)))
			return r;
		if (!site.size) {
			snprintf(err, err_len, "%s: %s has no size in its symbol table: where its code "
				 "ends is unknown", path, symbols[i]);
			return -ENOTSUP;
		}
		if ((r = patch_locate(pid, events_kernel_dev(st.st_dev), st.st_ino, site.offset,
				      &out[i].start))) {
			snprintf(err, err_len, "process %d does not map %s (where %s is)", (int)pid, path,
				 symbols[i]);
			return r;
		}
		out[i].end = out[i].start + site.size;
		snprintf(out[i].symbol, sizeof(out[i].symbol), "%s", symbols[i]);
	}
	return 0;
}

/* The callee-saved registers, by DWARF number, followed out frame by frame. */
static const unsigned saved_regs[] = { DW_RBX, DW_RBP, DW_R12, DW_R13, DW_R14, DW_R15 };
#define N_SAVED (sizeof(saved_regs) / sizeof(saved_regs[0]))

struct find {
	const struct rescue_point *points;
	size_t n;
	struct rescue_plan *plan;
	unsigned depth;
	bool found, done;
	int err;
	uint64_t saved[N_SAVED];
	bool known[N_SAVED];
};

/* A callee-saved register a frame's CFI says nothing of is the one its callee had: a
 * function that changes one saves it first, and its CFI says where (libdwfl calls
 * such a register unknown rather than the same). */
static void follow_saved(struct find *fd, const struct stack_frame *f)
{
	for (size_t i = 0; i < N_SAVED; i++) {
		uint64_t v;

		if (!stacks_frame_reg(f, saved_regs[i], &v)) {
			fd->saved[i] = v;
			fd->known[i] = true;
		}
	}
}

/* The point whose code holds the instruction frame f stands for (a return address: the
 * call just before it). */
static const struct rescue_point *point_of(const struct find *fd, const struct stack_frame *f)
{
	uint64_t at = fd->depth ? f->pc - 1 : f->pc;

	for (size_t i = 0; i < fd->n; i++)
		if (at >= fd->points[i].start && at < fd->points[i].end)
			return &fd->points[i];
	return NULL;
}

/* Frame f's name for the rescue's line: its function, else its module and address. */
static void name_frame(struct rescue_plan *p, const struct stack_frame *f)
{
	const char *slash = f->module ? strrchr(f->module, '/') : NULL;

	if (p->n_frames == RESCUE_FRAMES_MAX)
		return;
	if (f->symbol)
		snprintf(p->frames[p->n_frames++], RESCUE_FRAME_NAME, "%s", f->symbol);
	else
		snprintf(p->frames[p->n_frames++], RESCUE_FRAME_NAME, "%s@%#llx",
			 slash ? slash + 1 : f->module ? f->module : "?", (unsigned long long)f->pc);
}

static bool on_frame(const struct stack_frame *f, void *arg)
{
	struct find *fd = arg;
	struct rescue_plan *p = fd->plan;

	if (fd->depth == 0)
		p->fault_ip = f->pc;
	if (!fd->found)
		name_frame(p, f);
	follow_saved(fd, f);
	if (fd->found) {
		/* The rescue point's caller, as it is once the point returned. */
		p->ip = f->pc;
		for (size_t i = 0; i < N_SAVED; i++)
			if (!fd->known[i])
				fd->err = -ENODATA;
		if (stacks_frame_reg(f, DW_RSP, &p->sp))
			fd->err = -ENODATA;
		p->rbx = fd->saved[0];
		p->rbp = fd->saved[1];
		p->r12 = fd->saved[2];
		p->r13 = fd->saved[3];
		p->r14 = fd->saved[4];
		p->r15 = fd->saved[5];
		fd->done = true;
		return false;
	}
	if ((p->point = point_of(fd, f))) {
		p->depth = fd->depth;
		fd->found = true;
	}
	fd->depth++;
	return true;
}

int rescue_find(struct stacks *s, pid_t tid, const struct rescue_point *points, size_t n,
		struct rescue_plan *out, char *err, size_t err_len)
{
	struct find fd = { .points = points, .n = n, .plan = out };
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = stacks_walk(s, tid, on_frame, &fd))) {
		snprintf(err, err_len, "thread %d: its stack cannot be unwound", (int)tid);
		return r;
	}
	if (!fd.found) {
		snprintf(err, err_len, "thread %d: no rescue point on its stack (%u frames)", (int)tid,
			 fd.depth);
		return -ENOENT;
	}
	if (!fd.done || fd.err) {
		snprintf(err, err_len, "thread %d: the CFI does not restore the registers of %s's "
			 "caller", (int)tid, out->point->symbol);
		return -ENODATA;
	}
	return 0;
}

int rescue_apply(pid_t tid, const struct rescue_plan *p, int64_t value, char *err,
		 size_t err_len)
{
	struct user_regs_struct regs;

	if (ptrace(PTRACE_GETREGS, tid, NULL, &regs)) {
		snprintf(err, err_len, "thread %d: registers: %s", (int)tid, strerror(errno));
		return -errno;
	}
	regs.rip = p->ip;
	regs.rsp = p->sp;
	regs.rbx = p->rbx;
	regs.rbp = p->rbp;
	regs.r12 = p->r12;
	regs.r13 = p->r13;
	regs.r14 = p->r14;
	regs.r15 = p->r15;
	regs.rax = (unsigned long long)value;
	regs.orig_rax = (unsigned long long)-1; /* no system call to restart */
	if (ptrace(PTRACE_SETREGS, tid, NULL, &regs)) {
		snprintf(err, err_len, "thread %d: registers: %s", (int)tid, strerror(errno));
		return -errno;
	}
	return 0;
}
