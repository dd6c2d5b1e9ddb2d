/* stacks: the stacks of a stopped process's threads, through libdwfl. */
#define _GNU_SOURCE
#include "actions/stacks.h"

#include <elfutils/libdwfl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>

#define PAGE 4096u

struct stacks {
	Dwfl *dwfl;
	pid_t pid;
	/* The last page of the process read: an unwind reads its words a few pages at most,
	 * and one process_vm_readv per page costs what one PTRACE_PEEKDATA per word would. */
	uint64_t page_at;
	bool page_valid;
	uint8_t page[PAGE];
};

/* libdwfl's view of the threads, read the cheap way: the threads are stopped by salved
 * already (hold.h, rescuer.h), their registers read with PTRACE_GETREGS, the memory with
 * process_vm_readv. */
static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_arg)
{
	(void)dwfl;
	(void)arg;
	(void)thread_arg;
	return 0; /* only asked threads are walked (get_thread) */
}

static bool get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_arg)
{
	(void)dwfl;
	(void)arg;
	*thread_arg = (void *)(intptr_t)tid;
	return true;
}

static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	struct stacks *s = arg;
	uint64_t at = addr & ~(uint64_t)(PAGE - 1);

	(void)dwfl;
	if (addr + sizeof(*result) > at + PAGE) { /* across two pages: read it alone */
		struct iovec local = { result, sizeof(*result) }, remote = { (void *)addr,
									    sizeof(*result) };

		return process_vm_readv(s->pid, &local, 1, &remote, 1, 0) == sizeof(*result);
	}
	if (!s->page_valid || s->page_at != at) {
		struct iovec local = { s->page, PAGE }, remote = { (void *)at, PAGE };

		s->page_valid = process_vm_readv(s->pid, &local, 1, &remote, 1, 0) == PAGE;
		s->page_at = at;
		if (!s->page_valid)
			return false;
	}
	memcpy(result, s->page + (addr - at), sizeof(*result));
	return true;
}

static bool set_initial_registers(Dwfl_Thread *thread, void *thread_arg)
{
	pid_t tid = (pid_t)(intptr_t)thread_arg;
	struct user_regs_struct r;
	/* DWARF's x86-64 numbering: rax rdx rcx rbx rsi rdi rbp rsp r8-r15, and the return
	 * address column (the pc) */
	Dwarf_Word regs[17];

	if (ptrace(PTRACE_GETREGS, tid, NULL, &r))
		return false;
	regs[0] = r.rax, regs[1] = r.rdx, regs[2] = r.rcx, regs[3] = r.rbx;
	regs[4] = r.rsi, regs[5] = r.rdi, regs[6] = r.rbp, regs[7] = r.rsp;
	regs[8] = r.r8, regs[9] = r.r9, regs[10] = r.r10, regs[11] = r.r11;
	regs[12] = r.r12, regs[13] = r.r13, regs[14] = r.r14, regs[15] = r.r15;
	regs[16] = r.rip;
	return dwfl_thread_state_registers(thread, 0, 17, regs);
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
	.next_thread = next_thread,
	.get_thread = get_thread,
	.memory_read = memory_read,
	.set_initial_registers = set_initial_registers,
};

static char *debuginfo_path;

static const Dwfl_Callbacks proc_callbacks = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

int stacks_open(pid_t pid, struct stacks **out, char *err, size_t err_len)
{
	struct stacks *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->pid = pid;
	if (!(s->dwfl = dwfl_begin(&proc_callbacks))) {
		free(s);
		return -ENOMEM;
	}
	dwfl_report_begin(s->dwfl);
	r = dwfl_linux_proc_report(s->dwfl, pid);
	dwfl_report_end(s->dwfl, NULL, NULL);
	if (r || !dwfl_attach_state(s->dwfl, NULL, pid, &thread_callbacks, s)) {
		r = r > 0 ? -r : -ESRCH;
		snprintf(err, err_len, "process %d: its stacks cannot be read: %s", (int)pid,
			 dwfl_errmsg(-1) ?: strerror(-r));
		stacks_close(s);
		return r;
	}
	*out = s;
	return 0;
}

void stacks_close(struct stacks *s)
{
	if (!s)
		return;
	dwfl_end(s->dwfl);
	free(s);
}

struct walk {
	struct stacks *s;
	stacks_fn fn;
	void *arg;
	unsigned frames;
};

static int on_frame(Dwfl_Frame *frame, void *arg)
{
	struct walk *w = arg;
	Dwarf_Addr pc;
	bool activation;
	struct stack_frame f = { 0 };
	Dwfl_Module *mod;

	if (!dwfl_frame_pc(frame, &pc, &activation))
		return DWARF_CB_ABORT;
	f.pc = pc;
	f.state = frame;
	/* A return address names the call before it. */
	if ((mod = dwfl_addrmodule(w->s->dwfl, activation ? pc : pc - 1))) {
		f.module = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
		f.symbol = dwfl_module_addrname(mod, activation ? pc : pc - 1);
	}
	w->frames++;
	return w->fn(&f, w->arg) ? DWARF_CB_OK : DWARF_CB_ABORT;
}

int stacks_frame_reg(const struct stack_frame *f, unsigned regno, uint64_t *val)
{
	Dwarf_Word w;

	if (dwfl_frame_reg(f->state, regno, &w))
		return -ENODATA;
	*val = w;
	return 0;
}

int stacks_walk(struct stacks *s, pid_t tid, stacks_fn fn, void *arg)
{
	struct walk w = { s, fn, arg, 0 };

	s->page_valid = false; /* the process ran since the last walk */
	dwfl_getthread_frames(s->dwfl, tid, on_frame, &w);
	return w.frames ? 0 : -ENODATA;
}
