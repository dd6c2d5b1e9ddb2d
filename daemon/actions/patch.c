/* patch: a hot patch of a running process's text, every thread stopped. */
#define _GNU_SOURCE
#include "actions/patch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PATCH_TRIES 50               /* stops before a thread inside the bytes refuses */
#define PATCH_STOP_WAIT_NS 200000000 /* a thread that does not stop in this long refuses */
#define PATCH_ROUNDS 16              /* listings of the threads until no new one appears */
#define PATCH_STEPS 64               /* instructions a thread is stepped to leave the bytes */

/* A thread held stopped, and the signal its stop held back (delivered on resume). */
struct held {
	pid_t tid;
	int sig;
	bool stopped;
};

struct hold {
	pid_t pid;
	struct held *t;
	size_t n, cap;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void hex(const uint8_t *b, size_t n, char *out, size_t len)
{
	size_t at = 0;

	out[0] = 0;
	for (size_t i = 0; i < n && at + 3 < len; i++)
		at += (size_t)snprintf(out + at, len - at, "%s%02x", i ? " " : "", b[i]);
}

static bool held_has(const struct hold *h, pid_t tid)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->t[i].tid == tid)
			return true;
	return false;
}

/* Resume every thread held, each with the signal its stop held back. */
static void release(struct hold *h)
{
	for (size_t i = 0; i < h->n; i++)
		ptrace(PTRACE_DETACH, h->t[i].tid, NULL, (void *)(intptr_t)h->t[i].sig);
	h->n = 0;
}

/* Wait for tid's stop after PTRACE_INTERRUPT, up to deadline. 0 stopped; -ESRCH it
 * exited; -EBUSY it did not stop in time. */
static int wait_stop(struct held *t, uint64_t deadline)
{
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (;;) {
		int status = 0;
		pid_t r = waitpid(t->tid, &status, __WALL | WNOHANG);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -ESRCH;
		}
		if (r == t->tid) {
			if (WIFEXITED(status) || WIFSIGNALED(status))
				return -ESRCH;
			if (WIFSTOPPED(status)) {
				/* The interrupt's own stop, or a group stop, holds nothing back; a
				 * signal-delivery stop holds its signal. */
				int event = status >> 16, sig = WSTOPSIG(status);

				if (event == 0 && sig != SIGTRAP)
					t->sig = sig;
				t->stopped = true;
				return 0;
			}
		}
		if (now_ns() > deadline)
			return -EBUSY;
		/* A tracee's stop sends its tracer SIGCHLD, blocked while threads are held:
		 * wait for it, not a timer, so salved wakes as the stop comes, however busy
		 * the CPUs are. */
		sigtimedwait(&chld, NULL, &(struct timespec){ .tv_nsec = 1000000 });
	}
}

/* Seize and stop every thread of h->pid, listing them again until no new one appears
 * (a thread may be starting one). */
static int hold_all(struct hold *h, char *err, size_t err_len)
{
	char dir[64];

	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)h->pid);
	for (int round = 0; round < PATCH_ROUNDS; round++) {
		size_t first = h->n;
		struct dirent *de;
		DIR *d = opendir(dir);

		if (!d) {
			snprintf(err, err_len, "process %d: %s", (int)h->pid, strerror(errno));
			return errno == ENOENT ? -ESRCH : -errno;
		}
		while ((de = readdir(d))) {
			pid_t tid = (pid_t)strtol(de->d_name, NULL, 10);

			if (tid <= 0 || held_has(h, tid))
				continue;
			if (ptrace(PTRACE_SEIZE, tid, NULL, NULL)) {
				int e = errno;

				if (e == ESRCH) /* the thread ended meanwhile */
					continue;
				closedir(d);
				snprintf(err, err_len,
					 "process %d: cannot trace thread %d: %s (another tracer, such as "
					 "gdb or strace, holds it?)",
					 (int)h->pid, (int)tid, strerror(e));
				return -EPERM;
			}
			if (h->n == h->cap) {
				size_t cap = h->cap ? 2 * h->cap : 16;
				struct held *t = realloc(h->t, cap * sizeof(*t));

				if (!t) {
					ptrace(PTRACE_DETACH, tid, NULL, NULL);
					closedir(d);
					return -ENOMEM;
				}
				h->t = t;
				h->cap = cap;
			}
			h->t[h->n++] = (struct held){ .tid = tid };
			ptrace(PTRACE_INTERRUPT, tid, NULL, NULL);
		}
		closedir(d);
		if (h->n == first)
			return h->n ? 0 : -ESRCH;
		for (size_t i = first; i < h->n; i++) {
			uint64_t deadline = now_ns() + PATCH_STOP_WAIT_NS;
			int r = wait_stop(&h->t[i], deadline);

			if (r == -ESRCH) { /* it exited: nothing to hold */
				h->t[i--] = h->t[--h->n];
				continue;
			}
			if (r) {
				snprintf(err, err_len,
					 "process %d: thread %d did not stop within %d ms (in an "
					 "uninterruptible wait?)",
					 (int)h->pid, (int)h->t[i].tid, PATCH_STOP_WAIT_NS / 1000000);
				return -EBUSY;
			}
		}
	}
	snprintf(err, err_len, "process %d: threads kept appearing while they were stopped",
		 (int)h->pid);
	return -EBUSY;
}

/* Whether tid's instruction pointer lies inside (addr, addr + len). A thread at addr
 * itself runs the new bytes from their start. */
static bool ip_inside(pid_t tid, uint64_t addr, size_t len)
{
	struct user_regs_struct regs;

	if (ptrace(PTRACE_GETREGS, tid, NULL, &regs))
		return false;
#if defined(__x86_64__)
	return regs.rip > addr && regs.rip < addr + len;
#else
	return true;
#endif
}

/* Step each thread inside the bytes out of them, one instruction at a time, the others
 * held: the bytes are a few instructions of straight code, which a thread in a tight
 * loop over a small function is nearly always in. The thread that stays inside, or 0. */
static pid_t step_out(struct hold *h, uint64_t addr, size_t len)
{
	for (size_t i = 0; i < h->n; i++) {
		for (int steps = 0; ip_inside(h->t[i].tid, addr, len); steps++) {
			int r;

			if (steps == PATCH_STEPS || ptrace(PTRACE_SINGLESTEP, h->t[i].tid, NULL, NULL))
				return h->t[i].tid;
			r = wait_stop(&h->t[i], now_ns() + PATCH_STOP_WAIT_NS);
			if (r == -ESRCH)
				break; /* it exited */
			if (r)
				return h->t[i].tid;
		}
	}
	return 0;
}

static int mem_open(pid_t pid, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	return open(path, flags | O_CLOEXEC);
}

int patch_read(pid_t pid, uint64_t addr, uint8_t *out, size_t len)
{
	int fd = mem_open(pid, O_RDONLY), r = 0;
	ssize_t n;

	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = pread(fd, out, len, (off_t)addr);
	if (n != (ssize_t)len)
		r = n < 0 ? -errno : -EFAULT;
	close(fd);
	return r == -EIO ? -EFAULT : r;
}

/* With every thread stopped and none inside: check, write, read back. */
static int write_held(pid_t pid, uint64_t addr, const uint8_t *expect, const uint8_t *bytes,
		      size_t len, char *err, size_t err_len)
{
	uint8_t now[PATCH_BYTES_MAX];
	char a[3 * PATCH_BYTES_MAX], b[3 * PATCH_BYTES_MAX];
	int fd, r;

	if ((r = patch_read(pid, addr, now, len))) {
		snprintf(err, err_len, "process %d: cannot read %#" PRIx64 ": %s", (int)pid, addr,
			 strerror(-r));
		return r;
	}
	if (memcmp(now, expect, len)) {
		hex(now, len, a, sizeof(a));
		hex(expect, len, b, sizeof(b));
		snprintf(err, err_len, "process %d: the bytes at %#" PRIx64 " are %s, not %s", (int)pid,
			 addr, a, b);
		return -EILSEQ;
	}
	if ((fd = mem_open(pid, O_RDWR)) < 0) {
		r = -errno;
		snprintf(err, err_len, "process %d: /proc/%d/mem: %s", (int)pid, (int)pid, strerror(-r));
		return r;
	}
	if (pwrite(fd, bytes, len, (off_t)addr) != (ssize_t)len)
		r = -errno;
	close(fd);
	if (!r && !(r = patch_read(pid, addr, now, len)) && memcmp(now, bytes, len))
		r = -EIO;
	if (r)
		snprintf(err, err_len, "process %d: writing %zu bytes at %#" PRIx64 ": %s", (int)pid, len,
			 addr, strerror(-r));
	return r;
}

int patch_write(pid_t pid, uint64_t addr, const uint8_t *expect, const uint8_t *bytes, size_t len,
		struct patch_stats *st, char *err, size_t err_len)
{
	struct hold h = { .pid = pid };
	struct patch_stats s = { 0 };
	sigset_t chld, mask;
	int r = -EBUSY;

	err[0] = 0;
	if (!len || len > PATCH_BYTES_MAX)
		return -EINVAL;
	if (pid <= 1 || pid == getpid()) {
		snprintf(err, err_len, "process %d: %s is never patched", (int)pid,
			 pid == getpid() ? "salved itself" : "PID 1");
		return -EPERM;
	}
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &chld, &mask);
	for (s.tries = 1; s.tries <= PATCH_TRIES; s.tries++) {
		uint64_t t0 = now_ns();
		pid_t inside;

		r = hold_all(&h, err, err_len);
		if (!r && (inside = step_out(&h, addr, len))) {
			r = -EBUSY;
			snprintf(err, err_len,
				 "process %d: thread %d stayed inside the %zu bytes at %#" PRIx64
				 " over %d tries",
				 (int)pid, (int)inside, len, addr, PATCH_TRIES);
			release(&h);
			/* Let it run out of them, a little longer each time. */
			nanosleep(&(struct timespec){ .tv_nsec = 50000L * s.tries }, NULL);
			continue;
		}
		if (!r)
			r = write_held(pid, addr, expect, bytes, len, err, err_len);
		s.threads = (unsigned)h.n;
		release(&h);
		s.stopped_ns = now_ns() - t0;
		break;
	}
	if (s.tries > PATCH_TRIES)
		s.tries = PATCH_TRIES;
	pthread_sigmask(SIG_SETMASK, &mask, NULL);
	free(h.t);
	if (st)
		*st = s;
	return r;
}

int patch_locate(pid_t pid, uint64_t dev, uint64_t ino, uint64_t off, uint64_t *addr)
{
	char path[64], line[4096];
	FILE *f;
	int r = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	if (!(f = fopen(path, "re")))
		return errno == ENOENT ? -ESRCH : -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, pgoff, inode;
		unsigned int maj, min;

		if (sscanf(line, "%llx-%llx %*4s %llx %x:%x %llu", &start, &end, &pgoff, &maj, &min,
			   &inode) != 6)
			continue;
		if (inode != ino || (((uint64_t)maj << 20) | min) != dev)
			continue;
		if (off >= pgoff && off - pgoff < end - start) {
			*addr = start + (off - pgoff);
			r = 0;
			break;
		}
	}
	fclose(f);
	return r;
}
