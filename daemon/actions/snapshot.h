/* snapshot: a live process copied while its threads are held: every thread's registers
 * (general, floating point, extended state), its mappings and the memory of the readable
 * ones, auxv, open files, limits and command line. The threads run again before anything
 * is compressed or written (corefile.h writes a snapshot as an ELF core). A snapshot of a
 * process still running can be written back into it (snapshot_rollback). */
#ifndef SALVE_SNAPSHOT_H
#define SALVE_SNAPSHOT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/user.h>

#define SNAPSHOT_XSTATE_MAX 16384 /* NT_X86_XSTATE: 2.7 KiB with AVX-512, 11 KiB with AMX */
#define SNAPSHOT_LIMITS 16	  /* RLIMIT_NLIMITS on Linux */

struct snapshot_thread {
	pid_t tid;
	struct user_regs_struct regs;
	struct user_fpregs_struct fpregs;
	uint8_t *xstate; /* PTRACE_GETREGSET NT_X86_XSTATE; NULL when the kernel gave none */
	size_t xstate_len;
	int sig; /* the signal its stop held back (a fault's), else 0 */
};

/* One line of /proc/PID/maps, and what was copied of it. */
struct snapshot_map {
	uint64_t start, end, offset; /* offset into the file, in bytes */
	bool read, write, exec, shared;
	unsigned major, minor;
	uint64_t inode;
	char *path; /* the file, "[heap]", "[stack]", "[vdso]"…; "" for anonymous memory */
	/* end - start bytes, or NULL when not copied (not readable, or text a file holds:
	 * read-only file mappings are read back from the file, as the kernel's cores do).
	 * A page that was not present (never touched, not swapped) is left zero. */
	uint8_t *data;
	uint64_t copied; /* bytes actually read: the present pages */
};

struct snapshot_fd {
	int fd;
	char *target; /* readlink of /proc/PID/fd/N */
	uint64_t pos;
	unsigned flags; /* open flags, from /proc/PID/fdinfo/N */
};

struct snapshot {
	pid_t pid, ppid;
	uid_t uid;
	gid_t gid;
	char comm[16];
	char state; /* /proc/PID/stat's, before the threads were held */
	uint64_t start_ticks; /* /proc/PID/stat's starttime: which of the processes the pid
			       * has named */
	uint8_t *cmdline; /* NUL-separated, as /proc/PID/cmdline */
	size_t cmdline_len;
	char *exe; /* readlink of /proc/PID/exe */
	uint8_t *auxv;
	size_t auxv_len;
	struct rlimit limits[SNAPSHOT_LIMITS];
	struct snapshot_thread *threads;
	size_t n_threads;
	struct snapshot_map *maps;
	size_t n_maps;
	struct snapshot_fd *fds;
	size_t n_fds;
	bool has_siginfo; /* it was taken on a signal: NT_SIGINFO */
	siginfo_t siginfo;
	uint64_t taken_ns;	/* CLOCK_REALTIME when the threads were held */
	uint64_t pause_ns;	/* how long they stayed stopped */
	uint64_t memory_bytes; /* sum of the maps' copied bytes */
};

/* Hold every thread of pid, copy it, resume it: 0, or -errno with err naming the process
 * and what could not be read (-ESRCH gone, -EPERM another tracer, -ENOMEM). */
int snapshot_take(pid_t pid, struct snapshot **out, char *err, size_t err_len);

/* What pid is besides its threads and memory (identity, command line, auxv, open files,
 * limits), read without holding it: for a checkpoint another tool takes. */
int snapshot_identify(pid_t pid, struct snapshot **out, char *err, size_t err_len);

/* The starttime of process pid (clock ticks after boot); 0 when there is none. */
uint64_t snapshot_start_ticks(pid_t pid);

/* Write s back into the same process, still running: every thread of the snapshot gets
 * its registers back and every writable private mapping its memory. Refused (-ESTALE,
 * err says what changed) when a mapping of the snapshot is gone, resized or replaced,
 * one of its threads is gone, or a thread started since. Files, sockets and other kernel
 * state are not rolled back. */
int snapshot_rollback(const struct snapshot *s, char *err, size_t err_len);

void snapshot_free(struct snapshot *s);

#endif
