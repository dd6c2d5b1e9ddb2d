/* inject: a system call or a function call made by a held thread of a process (hold.h)
 * on salve's behalf: the mmap of a trampoline page, the dlopen of a fix library. The
 * thread's registers are saved before and put back after, so it goes on as if nothing
 * had run; one stopped inside a system call restarts it as it would have.
 *
 * Every function returns 0 or a negative errno; on error, err holds one sentence that
 * names the process and thread, cut to err_len. */
#ifndef SALVE_INJECT_H
#define SALVE_INJECT_H

#include <stddef.h>
#include <stdint.h>

#include "actions/hold.h"

/* System call nr with args, run by held thread t of process pid through a syscall
 * instruction already in its code (the vDSO's), single-stepped: its result, or -errno as
 * the kernel returns it, in *ret. */
int inject_syscall(pid_t pid, struct hold_thread *t, long nr, const uint64_t args[6], int64_t *ret,
		   char *err, size_t err_len);

/* The function at fn called with args by held thread t, below its stack's red zone,
 * returning to trap, an address holding int3 (0xcc), where the call is over: its rax in
 * *ret. -EFAULT: the function faulted (the fault is taken back; err names the signal);
 * -ETIMEDOUT: it did not return within timeout_ns (the thread is put back where it was,
 * a lock it took is lost: callers pick a thread that holds none). */
int inject_call(pid_t pid, struct hold_thread *t, uint64_t fn, const uint64_t args[6],
		uint64_t trap, uint64_t timeout_ns, uint64_t *ret, char *err, size_t err_len);

#endif
