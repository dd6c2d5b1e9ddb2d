/* snapshot: a live process copied while held, and written back into it. */
#define _GNU_SOURCE
#include "actions/snapshot.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "actions/hold.h"

#define PAGE 4096ull
#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)
#define PM_FILE (1ull << 61) /* a page of the file, or shared: not written by the process */
#define IOV_BATCH 512	     /* runs of pages per process_vm_readv/writev */
#define SPLIT_MIN (64ull << 20) /* a mapping this large is moved by two threads */

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The whole of a /proc file, NUL-terminated; NULL and errno when it cannot be read. */
static uint8_t *read_whole(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 4096, n = 0;
	uint8_t *buf = NULL;

	if (fd < 0)
		return NULL;
	for (;;) {
		uint8_t *more = n + 1 >= cap || !buf ? realloc(buf, cap *= 2) : buf;
		ssize_t r;

		if (!more) {
			free(buf);
			close(fd);
			errno = ENOMEM;
			return NULL;
		}
		buf = more;
		if ((r = read(fd, buf + n, cap - n - 1)) < 0) {
			int e = errno;

			free(buf);
			close(fd);
			errno = e;
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

static uint8_t *read_proc(pid_t pid, const char *what, size_t *len)
{
	char path[128];

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	return read_whole(path, len);
}

/* Memory of the kernel's that no tracer can read: [vvar] and its kind. */
static bool special_unreadable(const char *path)
{
	return !strncmp(path, "[vvar", 5) || !strcmp(path, "[vsyscall]");
}

/* Memory no file holds: the process's own (anonymous, heap, stack, vdso), or shared
 * memory whose file is gone or is memory itself (memfd, SysV, /dev/zero). */
static bool memory_only(const struct snapshot_map *m)
{
	if (m->path[0] != '/')
		return true;
	return !strncmp(m->path, "/memfd:", 7) || !strncmp(m->path, "/SYSV", 5) ||
	       !strncmp(m->path, "/dev/zero", 9) || strstr(m->path, " (deleted)");
}

static int parse_maps(pid_t pid, struct snapshot_map **out, size_t *n_out)
{
	uint8_t *text = read_proc(pid, "maps", NULL);
	struct snapshot_map *maps = NULL;
	size_t n = 0, cap = 0;
	char *save = NULL;

	if (!text)
		return -errno;
	for (char *line = strtok_r((char *)text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct snapshot_map m = { 0 };
		char perms[5];
		int at = 0;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %" SCNu64 " %n",
			   &m.start, &m.end, perms, &m.offset, &m.major, &m.minor, &m.inode,
			   &at) < 7)
			continue;
		m.read = perms[0] == 'r';
		m.write = perms[1] == 'w';
		m.exec = perms[2] == 'x';
		m.shared = perms[3] == 's';
		if (n == cap) {
			struct snapshot_map *more = realloc(maps, (cap = cap ? cap * 2 : 64) *
									 sizeof(*maps));

			if (!more)
				goto nomem;
			maps = more;
		}
		if (!(m.path = strdup(at ? line + at : "")))
			goto nomem;
		maps[n++] = m;
	}
	free(text);
	*out = maps;
	*n_out = n;
	return 0;
nomem:
	for (size_t i = 0; i < n; i++)
		free(maps[i].path);
	free(maps);
	free(text);
	return -ENOMEM;
}

static void free_maps(struct snapshot_map *maps, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(maps[i].path);
		if (maps[i].data)
			munmap(maps[i].data, maps[i].end - maps[i].start);
	}
	free(maps);
}

/* The pagemap entries of [start, end): one u64 per page. */
static int read_pagemap(int pagemap, uint64_t start, uint64_t end, uint64_t *out)
{
	size_t want = (size_t)((end - start) / PAGE) * sizeof(*out), got = 0;

	while (got < want) {
		ssize_t r = pread(pagemap, (uint8_t *)out + got, want - got,
				  (off_t)((start / PAGE) * sizeof(*out) + got));

		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		got += (size_t)r;
	}
	return 0;
}

/* Pages [first, last) of a mapping to move between the process and m->data. */
struct span {
	pid_t pid;
	const struct snapshot_map *m;
	const bool *want;
	size_t first, last;
	bool write;
	int64_t moved; /* the bytes moved, or -errno */
};

/* Move the pages of s whose bit is set in want, in runs: read (process_vm_readv) or
 * write back (process_vm_writev). */
static void *move_span(void *arg)
{
	struct span *s = arg;
	struct iovec local[IOV_BATCH], remote[IOV_BATCH];
	size_t i = s->first;

	s->moved = 0;
	while (i < s->last) {
		size_t n = 0, bytes = 0;

		for (; i < s->last && n < IOV_BATCH; i++) {
			size_t from = i;

			if (!s->want[i])
				continue;
			while (i + 1 < s->last && s->want[i + 1])
				i++;
			local[n] = (struct iovec){ s->m->data + from * PAGE, (i - from + 1) * PAGE };
			remote[n] = (struct iovec){ (void *)(s->m->start + from * PAGE),
						    (i - from + 1) * PAGE };
			bytes += local[n++].iov_len;
		}
		if (!n)
			break;
		ssize_t r = s->write ? process_vm_writev(s->pid, local, n, remote, n, 0)
				     : process_vm_readv(s->pid, local, n, remote, n, 0);
		if (r < 0) {
			s->moved = -errno;
			break;
		}
		s->moved += r;
		if ((size_t)r < bytes) {
			s->moved = -EFAULT;
			break;
		}
	}
	return NULL;
}

/* Move the pages of m whose bit is set in want: the bytes moved, or -errno. A large
 * mapping is moved by two threads, half each, where there are two CPUs: the threads of
 * the process wait for it. */
static int64_t move_pages(pid_t pid, const struct snapshot_map *m, const bool *want, bool write)
{
	size_t pages = (size_t)((m->end - m->start) / PAGE);
	struct span a = { pid, m, want, 0, pages, write, 0 }, b = a;
	pthread_t t;

	if (pages * PAGE < SPLIT_MIN || sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		move_span(&a);
		return a.moved;
	}
	a.last = b.first = pages / 2;
	if (pthread_create(&t, NULL, move_span, &b)) {
		a.last = pages;
		move_span(&a);
		return a.moved;
	}
	move_span(&a);
	pthread_join(t, NULL);
	return a.moved < 0 ? a.moved : b.moved < 0 ? b.moved : a.moved + b.moved;
}

/* Which pages of [start, end) are present or swapped (want), and whether any of them is
 * the process's own (written: not the file's), from pagemap. */
static int read_pages(int pagemap, uint64_t start, uint64_t end, bool *want, bool *written)
{
	size_t pages = (size_t)((end - start) / PAGE);
	uint64_t *pm = malloc(pages * sizeof(*pm));
	int r = pm ? read_pagemap(pagemap, start, end, pm) : -ENOMEM;

	for (size_t i = 0; !r && i < pages; i++) {
		want[i] = pm[i] & (PM_PRESENT | PM_SWAPPED);
		*written |= want[i] && !(pm[i] & PM_FILE);
	}
	free(pm);
	return r;
}

/* Which pages of m a copy takes: none of text a file holds (read back from the file, as
 * the kernel's cores leave it), every page of a private file mapping the process wrote
 * to (its data, relocations), and the present or swapped pages of memory no file holds.
 * NULL with *none when nothing is to be copied. */
static bool *pages_to_copy(int pagemap, const struct snapshot_map *m, bool *none)
{
	size_t pages = (size_t)((m->end - m->start) / PAGE);
	bool *want = NULL, any = false, written = false;

	*none = true;
	if (!m->read || special_unreadable(m->path) || (m->shared && !memory_only(m)))
		return NULL;
	if (!(want = calloc(pages, sizeof(*want))) ||
	    read_pages(pagemap, m->start, m->end, want, &written)) {
		free(want);
		*none = false;
		return NULL;
	}
	for (size_t i = 0; i < pages && !any; i++)
		any = want[i];
	if (!memory_only(m)) {
		/* A file's pages: all of them once the process wrote to one, else none. */
		any = written || m->write;
		for (size_t i = 0; i < pages; i++)
			want[i] = any;
	}
	if (!any) {
		free(want);
		return NULL;
	}
	*none = false;
	return want;
}

/* Whether pid has exited (a zombie, or reaped): a read of its memory failed. */
static bool exited(pid_t pid)
{
	uint8_t *stat = read_proc(pid, "stat", NULL);
	char *paren = stat ? strrchr((char *)stat, ')') : NULL;
	bool gone = !paren || paren[1] != ' ' || paren[2] == 'Z' || paren[2] == 'X';

	free(stat);
	return gone;
}

static uint8_t *copy_buffer(size_t len)
{
	void *b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);

	return b == MAP_FAILED ? NULL : b;
}

/* The pages of buf that want marks, faulted in now. */
static void populate(uint8_t *buf, const bool *want, size_t pages)
{
	for (size_t i = 0; i < pages; i++) {
		size_t from = i;

		if (!want[i])
			continue;
		while (i + 1 < pages && want[i + 1])
			i++;
		if (madvise(buf + from * PAGE, (i - from + 1) * PAGE, MADV_POPULATE_WRITE))
			for (size_t j = from; j <= i; j++) /* before Linux 5.14 */
				((volatile uint8_t *)buf)[j * PAGE] = 0;
	}
}

/* MemAvailable of /proc/meminfo, in bytes; UINT64_MAX when unknown. */
static uint64_t memory_available(void)
{
	uint8_t *info = read_whole("/proc/meminfo", NULL);
	char *line = info ? strstr((char *)info, "MemAvailable:") : NULL;
	uint64_t kib = line ? strtoull(line + 13, NULL, 10) : 0;

	free(info);
	return line ? kib * 1024 : UINT64_MAX;
}

/* Reading /proc/PID/... of a process that exited fails with one of these. */
static bool gone(int err)
{
	return err == -ENOENT || err == -ESRCH;
}

static int open_pagemap(pid_t pid, char *err, size_t err_len)
{
	char path[64];
	int fd, r;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0)
		return fd;
	r = -errno;
	if (gone(r)) {
		snprintf(err, err_len, "process %d: exited while it was read", (int)pid);
		return -ESRCH;
	}
	snprintf(err, err_len, "process %d: %s: %s", (int)pid, path, strerror(-r));
	return r;
}

/* The buffers the copy will land in, made before the threads are held: the first write
 * to a page costs salved a fault (12 us on a VM: 3 s for 1 GiB), which would otherwise
 * all be paid with the process stopped. *pre: the mappings as they are now, with the
 * buffers of those to copy, their pages to be copied faulted in. Refused when the copy
 * would take more than half the memory the host has available. */
static int prepare(pid_t pid, struct snapshot_map **pre, bool ***pre_wants, size_t *n_pre,
		   char *err, size_t err_len)
{
	uint64_t total = 0, avail = memory_available();
	bool **wants;
	int pagemap, r;

	if ((r = parse_maps(pid, pre, n_pre))) {
		snprintf(err, err_len, "process %d: its mappings: %s", (int)pid,
			 gone(r) ? "no such process" : strerror(-r));
		return gone(r) ? -ESRCH : r;
	}
	if ((pagemap = open_pagemap(pid, err, err_len)) < 0)
		return pagemap;
	if (!(wants = calloc(*n_pre ?: 1, sizeof(*wants)))) {
		close(pagemap);
		return -ENOMEM;
	}
	for (size_t i = 0; i < *n_pre; i++) {
		const struct snapshot_map *m = &(*pre)[i];
		bool none;

		if ((wants[i] = pages_to_copy(pagemap, m, &none)))
			for (size_t p = 0; p < (m->end - m->start) / PAGE; p++)
				total += wants[i][p] ? PAGE : 0;
	}
	close(pagemap);
	if (total > avail / 2) {
		snprintf(err, err_len, "process %d: its copy would take %" PRIu64 " MiB, more than "
			 "half the %" PRIu64 " MiB of memory this host has available", (int)pid,
			 total >> 20, avail >> 20);
		r = -ENOMEM;
	}
	for (size_t i = 0; i < *n_pre; i++) {
		struct snapshot_map *m = &(*pre)[i];

		if (!r && wants[i] && (m->data = copy_buffer(m->end - m->start)))
			populate(m->data, wants[i], (m->end - m->start) / PAGE);
	}
	*pre_wants = wants;
	return r;
}

static void free_wants(bool **wants, size_t n)
{
	for (size_t i = 0; wants && i < n; i++)
		free(wants[i]);
	free(wants);
}

/* Memory no file holds, made ready for before the hold: its pages then (want) and those
 * that came since, read from pagemap where want has none. A page there then is copied
 * whatever became of it: one dropped since reads as zero, as it now is. */
static int add_new_pages(int pagemap, const struct snapshot_map *m, bool *want)
{
	size_t pages = (size_t)((m->end - m->start) / PAGE);

	for (size_t i = 0; i < pages; i++) {
		size_t from = i;
		bool written = false;
		int r;

		if (want[i])
			continue;
		while (i + 1 < pages && !want[i + 1])
			i++;
		if ((r = read_pages(pagemap, m->start + from * PAGE, m->start + (i + 1) * PAGE,
				    want + from, &written)))
			return r;
	}
	return 0;
}

/* The buffer prepare made for m and the pages it was for, taken from pre; NULL when m
 * is not as it was then. */
static uint8_t *prepared(struct snapshot_map *pre, bool **pre_wants, size_t n_pre,
			 const struct snapshot_map *m, bool **want)
{
	for (size_t i = 0; i < n_pre; i++)
		if (pre[i].start == m->start && pre[i].end == m->end && pre[i].inode == m->inode &&
		    pre[i].data) {
			uint8_t *data = pre[i].data;

			pre[i].data = NULL;
			*want = pre_wants[i];
			pre_wants[i] = NULL;
			return data;
		}
	return NULL;
}

static int copy_memory(pid_t pid, struct snapshot *s, struct snapshot_map *pre,
		       bool **pre_wants, size_t n_pre, char *err, size_t err_len)
{
	int pagemap = open_pagemap(pid, err, err_len);

	if (pagemap < 0)
		return exited(pid) ? -ESRCH : pagemap;
	for (size_t i = 0; i < s->n_maps; i++) {
		struct snapshot_map *m = &s->maps[i];
		size_t len = m->end - m->start;
		bool none = false, *want = NULL;
		int64_t got;

		/* Memory made ready for: only the pages that came since are looked up (a
		 * pagemap read of 1 GiB takes 9 ms of the pause). */
		if (memory_only(m) && (m->data = prepared(pre, pre_wants, n_pre, m, &want)) &&
		    add_new_pages(pagemap, m, want)) {
			free(want);
			want = NULL;
		}
		if (!m->data)
			want = pages_to_copy(pagemap, m, &none);
		if (!want && none)
			continue;
		if (!want) {
			close(pagemap);
			if (exited(pid)) {
				snprintf(err, err_len, "process %d: exited while it was copied", (int)pid);
				return -ESRCH;
			}
			snprintf(err, err_len, "process %d: its pagemap cannot be read", (int)pid);
			return -EIO;
		}
		if (!m->data) { /* a file's memory the process wrote to: its pages all taken */
			bool *then = NULL;

			m->data = prepared(pre, pre_wants, n_pre, m, &then);
			free(then);
		}
		if (!m->data && !(m->data = copy_buffer(len))) {
			free(want);
			close(pagemap);
			snprintf(err, err_len, "process %d: no memory for a copy of %" PRIu64
				 " bytes at %#" PRIx64, (int)pid, (uint64_t)len, m->start);
			return -ENOMEM;
		}
		got = move_pages(pid, m, want, false);
		free(want);
		if (got < 0 && (got == -ESRCH || exited(pid))) {
			snprintf(err, err_len, "process %d: exited while it was copied", (int)pid);
			close(pagemap);
			return -ESRCH;
		}
		if (got < 0) {
			/* Memory the kernel keeps from tracers (a device's, a guard): left out. */
			munmap(m->data, len);
			m->data = NULL;
			continue;
		}
		m->copied = (uint64_t)got;
		s->memory_bytes += m->copied;
	}
	close(pagemap);
	return 0;
}

static int read_registers(struct snapshot_thread *t)
{
	uint8_t xstate[SNAPSHOT_XSTATE_MAX];
	struct iovec iov = { xstate, sizeof(xstate) };

	if (ptrace(PTRACE_GETREGS, t->tid, NULL, &t->regs) ||
	    ptrace(PTRACE_GETFPREGS, t->tid, NULL, &t->fpregs))
		return -errno;
	if (!ptrace(PTRACE_GETREGSET, t->tid, (void *)NT_X86_XSTATE, &iov) && iov.iov_len) {
		if (!(t->xstate = malloc(iov.iov_len)))
			return -ENOMEM;
		memcpy(t->xstate, xstate, iov.iov_len);
		t->xstate_len = iov.iov_len;
	}
	return 0;
}

/* pid's name, parent, state and ids, from stat and status. */
static int read_identity(pid_t pid, struct snapshot *s)
{
	uint8_t *stat = read_proc(pid, "stat", NULL), *status;
	char *close_paren, *line;
	int ppid = 0;

	if (!stat)
		return -errno;
	/* "PID (COMM) S PPID …": comm may hold spaces and parentheses. */
	if ((close_paren = strrchr((char *)stat, ')'))) {
		char *open_paren = strchr((char *)stat, '(');
		size_t n = (size_t)(close_paren - open_paren - 1);

		memcpy(s->comm, open_paren + 1, n < sizeof(s->comm) ? n : sizeof(s->comm) - 1);
		sscanf(close_paren + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
		       "%*d %*d %*d %*d %" SCNu64, &s->state, &ppid, &s->start_ticks);
	}
	free(stat);
	s->ppid = ppid;
	if (!(status = read_proc(pid, "status", NULL)))
		return -errno;
	if ((line = strstr((char *)status, "\nUid:")))
		s->uid = (uid_t)strtoul(line + 5, NULL, 10);
	if ((line = strstr((char *)status, "\nGid:")))
		s->gid = (gid_t)strtoul(line + 5, NULL, 10);
	free(status);
	return 0;
}

static int read_fds(pid_t pid, struct snapshot *s)
{
	char dir[64];
	struct dirent *de;
	size_t cap = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	if (!(d = opendir(dir)))
		return -errno;
	while ((de = readdir(d))) {
		char link[320], target[4096], info[64];
		struct snapshot_fd f = { .fd = -1 };
		uint8_t *fdinfo;
		ssize_t n;
		char *pos, *flags;

		if (de->d_name[0] == '.')
			continue;
		f.fd = atoi(de->d_name);
		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		if ((n = readlink(link, target, sizeof(target) - 1)) < 0)
			continue; /* closed meanwhile */
		target[n] = 0;
		snprintf(info, sizeof(info), "fdinfo/%d", f.fd);
		if ((fdinfo = read_proc(pid, info, NULL))) {
			if ((pos = strstr((char *)fdinfo, "pos:")))
				f.pos = strtoull(pos + 4, NULL, 10);
			if ((flags = strstr((char *)fdinfo, "flags:")))
				f.flags = (unsigned)strtoul(flags + 6, NULL, 8);
			free(fdinfo);
		}
		if (s->n_fds == cap) {
			struct snapshot_fd *more = realloc(s->fds, (cap = cap ? cap * 2 : 16) *
									sizeof(*more));

			if (!more)
				goto nomem;
			s->fds = more;
		}
		if (!(f.target = strdup(target)))
			goto nomem;
		s->fds[s->n_fds++] = f;
	}
	closedir(d);
	return 0;
nomem:
	closedir(d);
	return -ENOMEM;
}

/* What a process is besides its memory and threads, read before it is held. */
static int read_process(pid_t pid, struct snapshot *s, char *err, size_t err_len)
{
	char exe[4096], path[64];
	ssize_t n;
	int r;

	if ((r = read_identity(pid, s))) {
		snprintf(err, err_len, "process %d: %s", (int)pid,
			 r == -ENOENT ? "no such process" : strerror(-r));
		return r == -ENOENT ? -ESRCH : r;
	}
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	if ((n = readlink(path, exe, sizeof(exe) - 1)) < 0)
		n = 0;
	exe[n] = 0;
	if (!(s->exe = strdup(exe)))
		return -ENOMEM;
	if (!(s->cmdline = read_proc(pid, "cmdline", &s->cmdline_len)) ||
	    !(s->auxv = read_proc(pid, "auxv", &s->auxv_len))) {
		r = -errno;
		if (gone(r))
			snprintf(err, err_len, "process %d: exited while it was read", (int)pid);
		else
			snprintf(err, err_len, "process %d: its command line and auxv: %s", (int)pid,
				 strerror(-r));
		return gone(r) ? -ESRCH : r;
	}
	for (int i = 0; i < SNAPSHOT_LIMITS; i++)
		if (prlimit(pid, (__rlimit_resource_t)i, NULL, &s->limits[i]))
			s->limits[i] = (struct rlimit){ RLIM_INFINITY, RLIM_INFINITY };
	if ((r = read_fds(pid, s))) {
		if (gone(r))
			snprintf(err, err_len, "process %d: exited while it was read", (int)pid);
		else
			snprintf(err, err_len, "process %d: its open files: %s", (int)pid, strerror(-r));
		return gone(r) ? -ESRCH : r;
	}
	return 0;
}

int snapshot_identify(pid_t pid, struct snapshot **out, char *err, size_t err_len)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->pid = pid;
	s->taken_ns = clock_ns(CLOCK_REALTIME);
	if ((r = read_process(pid, s, err, err_len))) {
		snapshot_free(s);
		return r;
	}
	*out = s;
	return 0;
}

uint64_t snapshot_start_ticks(pid_t pid)
{
	struct snapshot s = { 0 };

	return read_identity(pid, &s) ? 0 : s.start_ticks;
}

int snapshot_take(pid_t pid, struct snapshot **out, char *err, size_t err_len)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	struct snapshot_map *pre = NULL;
	bool **pre_wants = NULL;
	size_t n_pre = 0;
	uint64_t start = 0;
	struct hold h;
	int r;

	if (!s)
		return -ENOMEM;
	s->pid = pid;
	if ((r = read_process(pid, s, err, err_len)) ||
	    (r = prepare(pid, &pre, &pre_wants, &n_pre, err, err_len)))
		goto fail;
	hold_begin(&h, pid);
	if ((r = hold_all(&h, err, err_len))) {
		if (r == -ESRCH)
			snprintf(err, err_len, "process %d: exited before its threads were held",
				 (int)pid);
		goto release;
	}
	start = clock_ns(CLOCK_MONOTONIC);
	s->taken_ns = clock_ns(CLOCK_REALTIME);
	if (!(s->threads = calloc(h.n, sizeof(*s->threads)))) {
		r = -ENOMEM;
		goto release;
	}
	for (size_t i = 0; i < h.n; i++) {
		struct snapshot_thread *t = &s->threads[s->n_threads];

		t->tid = h.t[i].tid;
		t->sig = h.t[i].sig;
		if (t->sig && !s->has_siginfo)
			s->has_siginfo = !ptrace(PTRACE_GETSIGINFO, t->tid, NULL, &s->siginfo);
		if ((r = read_registers(t))) {
			if (r == -ESRCH)
				continue; /* it exited while held */
			snprintf(err, err_len, "process %d: thread %d: its registers: %s", (int)pid,
				 (int)t->tid, strerror(-r));
			goto release;
		}
		s->n_threads++;
	}
	if ((r = parse_maps(pid, &s->maps, &s->n_maps))) {
		if (gone(r))
			snprintf(err, err_len, "process %d: exited while it was read", (int)pid);
		else
			snprintf(err, err_len, "process %d: its mappings: %s", (int)pid, strerror(-r));
		r = gone(r) ? -ESRCH : r;
		goto release;
	}
	r = copy_memory(pid, s, pre, pre_wants, n_pre, err, err_len);
release:
	hold_end(&h);
	s->pause_ns = start ? clock_ns(CLOCK_MONOTONIC) - start : 0;
	free_maps(pre, n_pre); /* the buffers no mapping took: it changed while unheld */
	free_wants(pre_wants, n_pre);
	pre = NULL;
	pre_wants = NULL;
	n_pre = 0;
	if (!r && !s->n_threads) {
		snprintf(err, err_len, "process %d: exited while it was copied", (int)pid);
		r = -ESRCH;
	}
	if (r)
		goto fail;
	*out = s;
	return 0;
fail:
	free_maps(pre, n_pre);
	free_wants(pre_wants, n_pre);
	snapshot_free(s);
	return r;
}

static const struct snapshot_map *map_at(const struct snapshot_map *maps, size_t n,
					 uint64_t start)
{
	for (size_t i = 0; i < n; i++)
		if (maps[i].start <= start && start < maps[i].end)
			return &maps[i];
	return NULL;
}

/* Whether every mapping rollback writes is still there as it was, else what changed. */
static int check_layout(const struct snapshot *s, const struct snapshot_map *now, size_t n,
			char *err, size_t err_len)
{
	for (size_t i = 0; i < s->n_maps; i++) {
		const struct snapshot_map *m = &s->maps[i], *c;

		if (!m->data || !m->write || m->shared)
			continue;
		if (!(c = map_at(now, n, m->start))) {
			snprintf(err, err_len, "process %d: the mapping at %#" PRIx64 " (%s) is gone",
				 (int)s->pid, m->start, m->path[0] ? m->path : "anonymous");
			return -ESTALE;
		}
		if (c->start != m->start || c->end != m->end) {
			snprintf(err, err_len, "process %d: the mapping at %#" PRIx64 " (%s) was "
				 "resized: %#" PRIx64 "-%#" PRIx64 ", was %#" PRIx64 "-%#" PRIx64,
				 (int)s->pid, m->start, m->path[0] ? m->path : "anonymous", c->start,
				 c->end, m->start, m->end);
			return -ESTALE;
		}
		if (strcmp(c->path, m->path) || c->inode != m->inode || !c->write || c->shared) {
			snprintf(err, err_len, "process %d: the mapping at %#" PRIx64 " was replaced: "
				 "now %s%s, was %s", (int)s->pid, m->start,
				 c->path[0] ? c->path : "anonymous", c->write ? "" : " (not writable)",
				 m->path[0] ? m->path : "anonymous");
			return -ESTALE;
		}
	}
	return 0;
}

/* The pages of m to write back: those the copy holds, and those present now that the
 * copy has as zero (touched since). */
static int write_back(pid_t pid, int pagemap, const struct snapshot_map *m)
{
	size_t pages = (size_t)((m->end - m->start) / PAGE);
	static const uint8_t zero[PAGE];
	uint64_t *pm = malloc(pages * sizeof(*pm));
	bool *want = calloc(pages, sizeof(*want));
	int64_t r = -ENOMEM;

	if (pm && want && !(r = read_pagemap(pagemap, m->start, m->end, pm))) {
		for (size_t i = 0; i < pages; i++)
			want[i] = (pm[i] & (PM_PRESENT | PM_SWAPPED)) ||
				  memcmp(m->data + i * PAGE, zero, PAGE);
		r = move_pages(pid, m, want, true);
	}
	free(pm);
	free(want);
	return r < 0 ? (int)r : 0;
}

static int write_registers(const struct snapshot_thread *t)
{
	struct iovec iov = { t->xstate, t->xstate_len };

	if (ptrace(PTRACE_SETREGS, t->tid, NULL, &t->regs) ||
	    ptrace(PTRACE_SETFPREGS, t->tid, NULL, &t->fpregs))
		return -errno;
	if (t->xstate && ptrace(PTRACE_SETREGSET, t->tid, (void *)NT_X86_XSTATE, &iov))
		return -errno;
	return 0;
}

int snapshot_rollback(const struct snapshot *s, char *err, size_t err_len)
{
	struct snapshot_map *now = NULL;
	size_t n_now = 0;
	int pagemap = -1, r;
	struct hold h;

	hold_begin(&h, s->pid);
	if ((r = hold_all(&h, err, err_len)))
		goto out;
	for (size_t i = 0; i < s->n_threads; i++) {
		bool there = false;

		for (size_t j = 0; j < h.n && !there; j++)
			there = h.t[j].tid == s->threads[i].tid;
		if (!there) {
			snprintf(err, err_len, "process %d: thread %d of the checkpoint is gone",
				 (int)s->pid, (int)s->threads[i].tid);
			r = -ESTALE;
			goto out;
		}
	}
	/* A thread started since has no registers to go back to, and would run on in
	 * memory rolled back under it. */
	for (size_t j = 0; j < h.n; j++) {
		bool known = false;

		for (size_t i = 0; i < s->n_threads && !known; i++)
			known = h.t[j].tid == s->threads[i].tid;
		if (!known) {
			snprintf(err, err_len, "process %d: thread %d started after the checkpoint",
				 (int)s->pid, (int)h.t[j].tid);
			r = -ESTALE;
			goto out;
		}
	}
	if ((r = parse_maps(s->pid, &now, &n_now))) {
		snprintf(err, err_len, "process %d: its mappings: %s", (int)s->pid, strerror(-r));
		goto out;
	}
	if ((r = check_layout(s, now, n_now, err, err_len)))
		goto out;
	if ((pagemap = open_pagemap(s->pid, err, err_len)) < 0) {
		r = pagemap;
		goto out;
	}
	for (size_t i = 0; i < s->n_maps; i++) {
		const struct snapshot_map *m = &s->maps[i];

		if (!m->data || !m->write || m->shared)
			continue;
		if ((r = write_back(s->pid, pagemap, m))) {
			snprintf(err, err_len, "process %d: writing back %#" PRIx64 "-%#" PRIx64
				 " (%s): %s", (int)s->pid, m->start, m->end,
				 m->path[0] ? m->path : "anonymous", strerror(-r));
			goto out;
		}
	}
	for (size_t i = 0; i < s->n_threads; i++)
		if ((r = write_registers(&s->threads[i]))) {
			snprintf(err, err_len, "process %d: thread %d: its registers: %s", (int)s->pid,
				 (int)s->threads[i].tid, strerror(-r));
			goto out;
		}
	/* A fault a stop held back belongs to the code rolled back from; any other signal
	 * (a SIGTERM sent meanwhile) is still for the process. */
	for (size_t j = 0; j < h.n; j++)
		if (h.t[j].sig == SIGSEGV || h.t[j].sig == SIGBUS || h.t[j].sig == SIGFPE ||
		    h.t[j].sig == SIGILL || h.t[j].sig == SIGTRAP)
			h.t[j].sig = 0;
out:
	if (pagemap >= 0)
		close(pagemap);
	free_maps(now, n_now);
	hold_end(&h);
	return r;
}

void snapshot_free(struct snapshot *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_threads; i++)
		free(s->threads[i].xstate);
	free(s->threads);
	free_maps(s->maps, s->n_maps);
	for (size_t i = 0; i < s->n_fds; i++)
		free(s->fds[i].target);
	free(s->fds);
	free(s->cmdline);
	free(s->auxv);
	free(s->exe);
	free(s);
}
