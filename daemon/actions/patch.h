/* patch: a hot patch, a few bytes of a running process's text replaced the safe way
 * (DESIGN, rules for repairs, 2): every thread seized and stopped with ptrace, none with
 * its instruction pointer inside the bytes (one that is gets single-stepped out of them,
 * the others held; one that stays inside has every thread resumed and the whole tried
 * again, a bounded number of times, then refused), the bytes in memory checked against what the caller
 * expects, written through /proc/PID/mem, read back, every thread resumed. A thread may
 * be anywhere else, inside the function too: it finishes in the old code. Only the
 * instruction pointers are checked, never the stacks: an event loop is never off them.
 *
 * Every function returns 0 or a negative errno; on error, err holds one sentence that
 * names the process and the address, cut to err_len. */
#ifndef SALVE_PATCH_H
#define SALVE_PATCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "actions/hold.h"

#define PATCH_BYTES_MAX 32

/* What a patch cost the process. */
struct patch_stats {
	uint64_t stopped_ns; /* the try that wrote: first thread stopped to last resumed */
	unsigned threads;    /* stopped on that try */
	unsigned tries;      /* 1 unless a thread was inside the bytes */
};

/* Replace the len bytes at addr in process pid, which must equal expect, with bytes.
 * -EPERM: pid is 1, salved itself, or cannot be traced (another tracer holds it);
 * -ESRCH: the process is gone; -EILSEQ: the bytes in memory are not expect (err shows
 * both); -EBUSY: a thread stayed inside the bytes, or would not stop; -EFAULT: addr is
 * not mapped; -EINVAL: len is 0 or above PATCH_BYTES_MAX. st may be NULL. */
int patch_write(pid_t pid, uint64_t addr, const uint8_t *expect, const uint8_t *bytes, size_t len,
		struct patch_stats *st, char *err, size_t err_len);

/* The general form: with every thread of pid held (hold.h) and none inside the ranges
 * avoid (the first names the bytes in errors), fn(h, arg) does the work, its result
 * returned; a thread that stays inside has every thread resumed and the whole tried
 * again, then -EBUSY. The errors of patch_write before fn runs. */
typedef int (*patch_fn)(struct hold *h, void *arg, char *err, size_t err_len);
int patch_held(pid_t pid, const struct hold_range *avoid, size_t n_avoid, patch_fn fn, void *arg,
	       unsigned flags, struct patch_stats *st, char *err, size_t err_len);
/* flags: the process is stopped by salve (SIGSTOP at its entry point) and fn runs code in
 * it, which a stopped process does not: SIGCONT it once every thread is held, so they
 * run only salve's code until released. */
#define PATCH_CONTINUE 0x1

/* Inside patch_held's fn: check the len bytes at addr equal expect (unless NULL), write
 * bytes there through /proc/PID/mem, read them back. -EILSEQ, -EFAULT as patch_write. */
int patch_poke(pid_t pid, uint64_t addr, const uint8_t *expect, const uint8_t *bytes, size_t len,
	       char *err, size_t err_len);

/* Read len bytes at addr of process pid into out: 0, or -errno (-ESRCH, -EFAULT). */
int patch_read(pid_t pid, uint64_t addr, uint8_t *out, size_t len);

/* Where the file (kernel dev_t dev, inode ino) is mapped in process pid at file offset
 * off: its address there, from /proc/PID/maps. -ENOENT: the process does not map that
 * offset of the file; -ESRCH: the process is gone, or exiting (it maps nothing). */
int patch_locate(pid_t pid, uint64_t dev, uint64_t ino, uint64_t off, uint64_t *addr);

#endif
