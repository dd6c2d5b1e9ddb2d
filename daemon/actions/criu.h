/* criu: salved's use of a criu binary (4.2 or later) to checkpoint a process tree and
 * bring it back. The binary's path is the caller's (configurable); criu runs by fork and
 * exec, never a shell, with stdin on /dev/null, under a timeout after which it is killed.
 * These calls block until criu exits: a dump of a small process takes 50-80 ms.
 *
 * The arguments, the single source of truth (tests/unit/test_criu.c asserts them and
 * tests/integration/test_criu.sh runs criu with the same):
 *   criu --version
 *   criu check
 *   criu dump -t PID -D DIR -o dump.log -v4 --leave-running --allow-uprobes
 *             --tcp-established --network-lock nftables --file-locks [--shell-job]
 *   criu restore -D DIR -o restore.log -v4 --restore-detached --pidfile DIR/restore.pid
 *             --allow-uprobes --tcp-established --file-locks [--shell-job]
 * Why each: --allow-uprobes because a process that has hit a uprobe (every process salve
 * probes) has a [uprobes] mapping, which criu refuses otherwise; --tcp-established for
 * processes with TCP connections, and --network-lock nftables because hosts without
 * iptables lock the network that way (criu does it through libnftables, no binary);
 * --file-locks because criu refuses a process holding a lock (a daemon's pid file)
 * otherwise, and restores the lock with it (a lock whose open file is shared with a
 * process outside the tree cannot be taken again: that restore fails); no
 * --track-mem, since soft-dirty tracking is off in the kernels salve runs on; --shell-job
 * only when the process has a controlling terminal (/proc/PID/stat tty_nr), which a dump
 * without it refuses; restore passes it when the dump did (DIR/shell-job marks it).
 * criu writes its log into DIR (dump.log, restore.log) and its stdout and stderr go to
 * DIR/dump.out and DIR/restore.out, all kept beside the images. */
#ifndef SALVE_CRIU_H
#define SALVE_CRIU_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CRIU_CHECK_TIMEOUT_MS 10000
#define CRIU_DUMP_TIMEOUT_MS 120000
#define CRIU_RESTORE_TIMEOUT_MS 60000

/* The oldest criu salved uses: the first with --allow-uprobes. */
#define CRIU_MIN_MAJOR 4
#define CRIU_MIN_MINOR 2

/* What criu's stats-dump and stats-restore images say, in microseconds. */
struct criu_stats {
	uint32_t freezing_us; /* dump: stopping the tree */
	uint32_t frozen_us;   /* dump: how long the tree stayed stopped */
	uint32_t memdump_us, memwrite_us;
	uint64_t pages_written;
	uint32_t restore_us; /* restore: from the fork of the tree to its resume */
	uint64_t pages_restored;
};

/* criu's version ("4.2.1", from `criu --version`) into version: 0, or -errno with err
 * naming the binary and what went wrong. */
int criu_version(const char *criu, char *version, size_t version_len, char *err,
		 size_t err_len);

/* 0 when criu is 4.2 or later and `criu check` passes on this host; -ENOTSUP when it is
 * older or the check fails, err naming the binary, its version and criu's own last error
 * line; -ENOENT/-EACCES when the binary cannot run; -ETIMEDOUT. version (may be NULL)
 * gets criu's version whenever it could be read, for the features line. */
int criu_check(const char *criu, char *version, size_t version_len, char *err,
	       size_t err_len);

/* Dump the tree of pid into dir (an existing directory), leaving it running: 0, or
 * -errno with err quoting criu's last error from dir/dump.log: the first line of its last
 * run of "Error (" lines, the cause before its consequences (-ESRCH when pid is
 * gone, -ETIMEDOUT when criu was killed after CRIU_DUMP_TIMEOUT_MS). */
int criu_dump(const char *criu, pid_t pid, const char *dir, char *err, size_t err_len);

/* Bring back the tree dumped in dir, detached: 0 with *pid its root's pid (the same pid
 * it had), or -errno with err quoting criu's last error from dir/restore.log (as dump).
 * The dumped pids must be free: the caller kills the old process first; -EBUSY and err
 * naming the pid and the process that holds it when one is taken. */
int criu_restore(const char *criu, const char *dir, pid_t *pid, char *err, size_t err_len);

/* criu's stats image in dir ("dump" or "restore") into *st: 0, or -errno (-ENOENT when
 * criu wrote none, -EINVAL when it cannot be read) with err naming the file. */
int criu_stats_read(const char *dir, const char *which, struct criu_stats *st, char *err,
		    size_t err_len);

/* Run criu with args (args[0] is the verb; NULL-terminated), stdin /dev/null, stdout and
 * stderr to out_fd, killed after timeout_ms: 0 on exit status 0, -ECANCELED on another
 * status or a signal, -ETIMEDOUT, or -errno when it could not start, with err naming
 * the binary and the verb. */
int criu_run(const char *criu, const char *const *args, int out_fd, int timeout_ms, char *err,
	     size_t err_len);

#endif
