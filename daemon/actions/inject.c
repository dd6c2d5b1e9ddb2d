/* inject: system calls and function calls run by a held thread of a process. */
#define _GNU_SOURCE
#include "actions/inject.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <unistd.h>

#include "actions/patch.h"

#define SCAN_MAX (1u << 20) /* bytes of a mapping searched for a syscall instruction */

/* The address of a syscall instruction (0f 05) in pid's vDSO, else in the first
 * executable mapping that has one; 0. Any such two bytes will do: only that one
 * instruction runs, single-stepped. */
static uint64_t find_syscall(pid_t pid)
{
	char path[64], line[4096];
	uint64_t found = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	for (int pass = 0; pass < 2 && !found; pass++) {
		FILE *f = fopen(path, "re");

		if (!f)
			return 0;
		while (!found && fgets(line, sizeof(line), f)) {
			unsigned long long start, end;
			char perms[8];
			uint8_t *buf;
			size_t n;

			if (sscanf(line, "%llx-%llx %7s", &start, &end, perms) != 3 || perms[2] != 'x' ||
			    (pass == 0) != (strstr(line, "[vdso]") != NULL))
				continue;
			n = end - start < SCAN_MAX ? end - start : SCAN_MAX;
			if (!(buf = malloc(n)))
				break;
			if (!patch_read(pid, start, buf, n))
				for (size_t i = 0; i + 1 < n && !found; i++)
					if (buf[i] == 0x0f && buf[i + 1] == 0x05)
						found = start + i;
			free(buf);
		}
		fclose(f);
	}
	return found;
}

static int get_regs(pid_t tid, struct user_regs_struct *regs)
{
	return ptrace(PTRACE_GETREGS, tid, NULL, regs) ? -errno : 0;
}

/* regs, set so no system call the thread was stopped in restarts meanwhile. */
static int set_regs(pid_t tid, struct user_regs_struct *regs)
{
	return ptrace(PTRACE_SETREGS, tid, NULL, regs) ? -errno : 0;
}

int inject_syscall(pid_t pid, struct hold_thread *t, long nr, const uint64_t args[6], int64_t *ret,
		   char *err, size_t err_len)
{
	struct user_regs_struct saved, regs;
	uint64_t at = find_syscall(pid);
	int r, sig = 0;

	if (!at) {
		snprintf(err, err_len, "process %d maps no syscall instruction to run", (int)pid);
		return -ENOEXEC;
	}
	if ((r = get_regs(t->tid, &saved))) {
		snprintf(err, err_len, "thread %d: registers: %s", (int)t->tid, strerror(-r));
		return r;
	}
	regs = saved;
	regs.rip = at;
	regs.rax = (unsigned long long)nr;
	regs.orig_rax = (unsigned long long)-1; /* no restart of the interrupted one */
	regs.rdi = args[0];
	regs.rsi = args[1];
	regs.rdx = args[2];
	regs.r10 = args[3];
	regs.r8 = args[4];
	regs.r9 = args[5];
	if ((r = set_regs(t->tid, &regs)) ||
	    (r = hold_resume(t, PTRACE_SINGLESTEP, HOLD_STOP_WAIT_NS, &sig)) ||
	    (r = get_regs(t->tid, &regs))) {
		snprintf(err, err_len, "process %d: thread %d: system call %ld: %s", (int)pid,
			 (int)t->tid, nr, strerror(-r));
		set_regs(t->tid, &saved);
		return r;
	}
	set_regs(t->tid, &saved);
	if (sig != SIGTRAP) {
		snprintf(err, err_len, "process %d: thread %d: system call %ld stopped by signal %d",
			 (int)pid, (int)t->tid, nr, sig);
		return -EINTR;
	}
	*ret = (int64_t)regs.rax;
	return 0;
}

int inject_call(pid_t pid, struct hold_thread *t, uint64_t fn, const uint64_t args[6],
		uint64_t trap, uint64_t timeout_ns, uint64_t *ret, char *err, size_t err_len)
{
	struct user_regs_struct saved, regs;
	struct iovec local, remote;
	uint64_t sp;
	int r, sig = 0;

	if ((r = get_regs(t->tid, &saved))) {
		snprintf(err, err_len, "thread %d: registers: %s", (int)t->tid, strerror(-r));
		return r;
	}
	regs = saved;
	/* Below the red zone, 16-byte aligned at the call, the return address pushed. */
	sp = ((saved.rsp - 128) & ~(uint64_t)15) - 8;
	local = (struct iovec){ &trap, sizeof(trap) };
	remote = (struct iovec){ (void *)(uintptr_t)sp, sizeof(trap) };
	if (process_vm_writev(pid, &local, 1, &remote, 1, 0) != (ssize_t)sizeof(trap)) {
		r = -errno;
		snprintf(err, err_len, "process %d: thread %d: writing its stack: %s", (int)pid,
			 (int)t->tid, strerror(-r));
		return r;
	}
	regs.rsp = sp;
	regs.rip = fn;
	regs.orig_rax = (unsigned long long)-1;
	regs.rax = 0; /* no vector registers used by a variadic callee */
	regs.rdi = args[0];
	regs.rsi = args[1];
	regs.rdx = args[2];
	regs.rcx = args[3];
	regs.r8 = args[4];
	regs.r9 = args[5];
	if ((r = set_regs(t->tid, &regs))) {
		snprintf(err, err_len, "process %d: thread %d: %s", (int)pid, (int)t->tid,
			 strerror(-r));
		return r;
	}
	r = hold_resume(t, PTRACE_CONT, timeout_ns, &sig);
	if (r == -EBUSY) {
		/* Still running: stop it where it is and put it back. */
		ptrace(PTRACE_INTERRUPT, t->tid, NULL, NULL);
		if (hold_wait(t, HOLD_STOP_WAIT_NS, &sig)) {
			snprintf(err, err_len, "process %d: thread %d ran away in a call salve made",
				 (int)pid, (int)t->tid);
			return -ETIMEDOUT;
		}
		set_regs(t->tid, &saved);
		snprintf(err, err_len, "process %d: thread %d: the call did not return within %" PRIu64
			 " ms", (int)pid, (int)t->tid, timeout_ns / 1000000);
		return -ETIMEDOUT;
	}
	if (r || (r = get_regs(t->tid, &regs))) {
		snprintf(err, err_len, "process %d: thread %d: %s", (int)pid, (int)t->tid, strerror(-r));
		return r;
	}
	set_regs(t->tid, &saved);
	if (sig != SIGTRAP || regs.rip != trap + 1) {
		snprintf(err, err_len, "process %d: thread %d: the call stopped with signal %d at %#llx",
			 (int)pid, (int)t->tid, sig, regs.rip);
		return -EFAULT;
	}
	*ret = regs.rax;
	return 0;
}
