/* stacks: the stacks of a stopped process's threads, through libdwfl. */
#define _GNU_SOURCE
#include "actions/stacks.h"

#include <elfutils/libdwfl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct stacks {
	Dwfl *dwfl;
	pid_t pid;
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
	/* The threads are stopped by salved already: libdwfl reads them as they are. */
	if (r || (r = dwfl_linux_proc_attach(s->dwfl, pid, true))) {
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

	dwfl_getthread_frames(s->dwfl, tid, on_frame, &w);
	return w.frames ? 0 : -ENODATA;
}
