/* corefile_read: a core corefile_write wrote, read back into the snapshot it came from (its
 * threads, registers, mappings with device, inode and path, the copied memory), from memory
 * and from a core.gz; other files refused with what is wrong with them, never a crash (cut
 * short at every length, bytes flipped); and a real process: its snapshot through a core
 * and back rolls the process back (needs root for ptrace: skipped otherwise). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/procfs.h>
#include <sys/reg.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "actions/corefile.h"

#define PAGE 4096
#define MAIN_TID 4242
#define FAULT_TID 4243
#define XSTATE_LEN 1092
#define N_MAPS 6
#define HEAP_LEN (16 * PAGE)
#define KNOWN 0x5a1fe0c0ffee1234ull
#define CHANGED 0xbad0bad0bad0bad0ull

struct fixture {
	struct snapshot s;
	struct snapshot_thread threads[2];
	struct snapshot_map maps[N_MAPS];
	uint8_t xstate[XSTATE_LEN];
	uint8_t data[PAGE], anon[3 * PAGE], shm[PAGE];
	uint64_t auxv[6];
	uint8_t *core; /* the core corefile_write made of s */
	size_t len, cap;
	char dir[64];
};

/* ---- a core in memory ---- */

static int to_memory(void *ctx, const void *buf, size_t len)
{
	struct fixture *f = ctx;

	if (f->len + len > f->cap) {
		size_t cap = f->cap ? f->cap : 1 << 16;
		uint8_t *more;

		while (cap < f->len + len)
			cap *= 2;
		if (!(more = realloc(f->core, cap)))
			return -ENOMEM;
		f->core = more;
		f->cap = cap;
	}
	memcpy(f->core + f->len, buf, len);
	f->len += len;
	return 0;
}

static void write_core(struct fixture *f, const struct snapshot *s)
{
	uint64_t bytes = 0;

	f->len = 0;
	assert_int_equal(corefile_write(s, to_memory, f, &bytes), 0);
	assert_int_equal(bytes, f->len);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct snapshot *s;

	if (!f)
		return -1;
	s = &f->s;
	s->pid = MAIN_TID;
	s->ppid = 77;
	s->uid = 1000;
	s->gid = 1001;
	strcpy(s->comm, "worker-fifteen!"); /* 15 characters, the most comm holds */
	s->state = 'S';

	f->threads[0].tid = MAIN_TID;
	f->threads[0].regs.rip = 0x401000;
	f->threads[0].regs.rsp = 0x7ffffffde000;
	f->threads[0].regs.fs_base = 0x7f0000001740;
	f->threads[0].fpregs.mxcsr = 0x1f80;
	f->threads[1].tid = FAULT_TID;
	f->threads[1].regs.rip = 0x401234;
	f->threads[1].regs.rax = 0xdeadbeef;
	f->threads[1].regs.orig_rax = (unsigned long long)-1;
	f->threads[1].fpregs.mxcsr = 0x1fa0;
	f->threads[1].fpregs.st_space[3] = 0x3ff00000;
	f->threads[1].sig = SIGSEGV;
	for (size_t i = 0; i < XSTATE_LEN; i++)
		f->xstate[i] = (uint8_t)(i * 7 + 1);
	f->threads[1].xstate = f->xstate;
	f->threads[1].xstate_len = XSTATE_LEN;
	s->threads = f->threads;
	s->n_threads = 2;

	memset(f->data, 0x5a, sizeof(f->data));
	/* The anonymous memory's middle page is zeros: read back as zeros though not copied. */
	memset(f->anon, 0x11, PAGE);
	memset(f->anon + 2 * PAGE, 0x33, PAGE);
	f->anon[2 * PAGE + 17] = 0x99;
	memset(f->shm, 0xc3, sizeof(f->shm));
	f->maps[0] = (struct snapshot_map){ .start = 0x400000, .end = 0x402000, .read = true,
					    .exec = true, .major = 8, .minor = 1, .inode = 131077,
					    .path = "/usr/bin/worker" };
	f->maps[1] = (struct snapshot_map){ .start = 0x600000, .end = 0x601000, .offset = 0x2000,
					    .read = true, .write = true, .major = 8, .minor = 1,
					    .inode = 131077, .path = "/usr/bin/worker",
					    .data = f->data, .copied = PAGE };
	f->maps[2] = (struct snapshot_map){ .start = 0x7f0000000000, .end = 0x7f0000003000,
					    .read = true, .write = true, .path = "",
					    .data = f->anon, .copied = 2 * PAGE };
	f->maps[3] = (struct snapshot_map){ .start = 0x7f0000003000, .end = 0x7f0000004000,
					    .path = "" }; /* a guard page: ---p */
	f->maps[4] = (struct snapshot_map){ .start = 0x7f0000100000, .end = 0x7f0000101000,
					    .read = true, .write = true, .shared = true,
					    .minor = 1, .inode = 0x100000004,
					    .path = "/memfd:ring (deleted)", .data = f->shm,
					    .copied = PAGE };
	f->maps[5] = (struct snapshot_map){ .start = 0xffffffffff600000,
					    .end = 0xffffffffff601000, .exec = true,
					    .path = "[vsyscall]" };
	s->maps = f->maps;
	s->n_maps = N_MAPS;

	f->auxv[0] = AT_PAGESZ;
	f->auxv[1] = PAGE;
	f->auxv[2] = AT_ENTRY;
	f->auxv[3] = 0x401000;
	f->auxv[4] = AT_NULL;
	s->auxv = (uint8_t *)f->auxv;
	s->auxv_len = sizeof(f->auxv);

	s->has_siginfo = true;
	s->siginfo.si_signo = SIGSEGV;
	s->siginfo.si_code = SEGV_MAPERR;
	s->siginfo.si_addr = (void *)0xdead;

	write_core(f, s);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	if (f->dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
		assert_int_equal(system(cmd), 0);
	}
	free(f->core);
	free(f);
	return 0;
}

/* ---- what a read-back snapshot must hold ---- */

static const struct snapshot_thread *thread(const struct snapshot *s, pid_t tid)
{
	for (size_t i = 0; i < s->n_threads; i++)
		if (s->threads[i].tid == tid)
			return &s->threads[i];
	fail_msg("thread %d not read back", (int)tid);
	return NULL;
}

static void assert_same_maps(const struct snapshot *got, const struct snapshot *want)
{
	assert_int_equal(got->n_maps, want->n_maps);
	for (size_t i = 0; i < want->n_maps; i++) {
		const struct snapshot_map *g = &got->maps[i], *w = &want->maps[i];

		assert_int_equal(g->start, w->start);
		assert_int_equal(g->end, w->end);
		assert_int_equal(g->offset, w->offset);
		assert_int_equal(g->read, w->read);
		assert_int_equal(g->write, w->write);
		assert_int_equal(g->exec, w->exec);
		assert_int_equal(g->shared, w->shared);
		assert_int_equal(g->major, w->major);
		assert_int_equal(g->minor, w->minor);
		assert_int_equal(g->inode, w->inode);
		assert_string_equal(g->path, w->path);
		if (!w->data) {
			assert_null(g->data);
			assert_int_equal(g->copied, 0);
			continue;
		}
		assert_non_null(g->data);
		assert_int_equal(g->copied, w->end - w->start);
		assert_memory_equal(g->data, w->data, w->end - w->start);
	}
}

static void assert_same(const struct snapshot *got, const struct fixture *f)
{
	const struct snapshot *want = &f->s;
	const struct snapshot_thread *t;

	assert_int_equal(got->pid, MAIN_TID);
	assert_int_equal(got->ppid, 77);
	assert_int_equal(got->uid, 1000);
	assert_int_equal(got->gid, 1001);
	assert_string_equal(got->comm, "worker-fifteen!");
	assert_int_equal(got->state, 'S');

	/* The thread the signal stopped first, as in the core, with the signal. */
	assert_int_equal(got->n_threads, 2);
	assert_int_equal(got->threads[0].tid, FAULT_TID);
	t = thread(got, FAULT_TID);
	assert_int_equal(t->sig, SIGSEGV);
	assert_int_equal(t->regs.rip, 0x401234);
	assert_int_equal(t->regs.rax, 0xdeadbeef);
	assert_int_equal(t->regs.orig_rax, (unsigned long long)-1);
	assert_memory_equal(&t->regs, &f->threads[1].regs, sizeof(t->regs));
	assert_memory_equal(&t->fpregs, &f->threads[1].fpregs, sizeof(t->fpregs));
	assert_int_equal(t->xstate_len, XSTATE_LEN);
	assert_memory_equal(t->xstate, f->xstate, XSTATE_LEN);
	t = thread(got, MAIN_TID);
	assert_int_equal(t->sig, 0);
	assert_int_equal(t->regs.rsp, 0x7ffffffde000);
	assert_int_equal(t->regs.fs_base, 0x7f0000001740);
	assert_memory_equal(&t->fpregs, &f->threads[0].fpregs, sizeof(t->fpregs));
	assert_null(t->xstate);
	assert_int_equal(t->xstate_len, 0);

	assert_int_equal(got->auxv_len, sizeof(f->auxv));
	assert_memory_equal(got->auxv, f->auxv, sizeof(f->auxv));
	assert_true(got->has_siginfo);
	assert_int_equal(got->siginfo.si_signo, SIGSEGV);
	assert_int_equal(got->siginfo.si_code, SEGV_MAPERR);
	assert_ptr_equal(got->siginfo.si_addr, (void *)0xdead);

	assert_same_maps(got, want);
	assert_int_equal(got->memory_bytes, 4 * PAGE + PAGE);
}

/* ---- tests ---- */

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	struct snapshot *s = NULL;
	char err[256];

	assert_int_equal(corefile_read(f->core, f->len, &s, err, sizeof(err)), 0);
	assert_non_null(s);
	assert_same(s, f);
	/* Written again, the read-back snapshot is the same core, byte for byte. */
	{
		uint8_t *first = f->core;
		size_t len = f->len;

		f->core = NULL;
		f->cap = 0;
		write_core(f, s);
		assert_int_equal(f->len, len);
		assert_memory_equal(f->core, first, len);
		free(first);
	}
	snapshot_free(s);
}

/* Taken without a signal: no siginfo, no thread with a signal, the main thread first. */
static void test_no_signal(void **state)
{
	struct fixture *f = *state;
	struct snapshot *s = NULL;
	char err[256];

	f->s.has_siginfo = false;
	f->s.auxv_len = 0;
	write_core(f, &f->s);
	assert_int_equal(corefile_read(f->core, f->len, &s, err, sizeof(err)), 0);
	assert_false(s->has_siginfo);
	assert_null(s->auxv);
	assert_int_equal(s->threads[0].tid, MAIN_TID);
	assert_int_equal(s->threads[0].sig, 0);
	assert_int_equal(s->threads[1].sig, 0);
	assert_same_maps(s, &f->s);
	snapshot_free(s);
}

static int read_fails(const void *core, size_t len, const char *want)
{
	struct snapshot *s = (struct snapshot *)1;
	char err[256] = "";
	int r = corefile_read(core, len, &s, err, sizeof(err));

	assert_null(s);
	if (!r)
		fail_msg("read back; expected: %s", want);
	if (!strstr(err, want))
		fail_msg("error \"%s\", expected one with \"%s\"", err, want);
	return r;
}

/* A core of the kernel's (no NT_SALVE_MAPS) and files that are no x86-64 core: refused by
 * name. */
static void test_refused(void **state)
{
	struct fixture *f = *state;
	uint8_t *c = malloc(f->len);
	uint8_t *owner;
	Elf64_Ehdr eh;

	assert_non_null(c);
	memcpy(c, f->core, f->len);
	owner = memmem(c, f->len, "SALVE", 6);
	assert_non_null(owner);
	owner[0] = 'X';
	assert_int_equal(read_fails(c, f->len, "not a core salve wrote: no NT_SALVE_MAPS"),
			 -EINVAL);

	/* A thread without its floating point registers: zeros would be written back. */
	{
		Elf64_Nhdr fp = { .n_namesz = 5, .n_descsz = sizeof(struct user_fpregs_struct),
				  .n_type = NT_FPREGSET };
		Elf64_Nhdr *h;

		memcpy(c, f->core, f->len);
		h = memmem(c, f->len, &fp, sizeof(fp));
		assert_non_null(h);
		fp.n_type = 0x99; /* a note no one reads */
		memcpy(h, &fp, sizeof(fp));
		assert_int_equal(read_fails(c, f->len, "thread 4243: no NT_FPREGSET"), -EINVAL);
	}

	assert_int_equal(read_fails("#!/bin/sh\n", 10, "not an ELF file"), -EINVAL);
	assert_int_equal(read_fails(f->core, 3, "not an ELF file (truncated)"), -EINVAL);

	memcpy(c, f->core, f->len);
	c[EI_CLASS] = ELFCLASS32;
	assert_int_equal(read_fails(c, f->len, "not a 64-bit little-endian"), -EINVAL);

	memcpy(c, f->core, f->len);
	memcpy(&eh, c, sizeof(eh));
	eh.e_type = ET_EXEC;
	memcpy(c, &eh, sizeof(eh));
	assert_int_equal(read_fails(c, f->len, "not a core file (e_type 2)"), -EINVAL);
	eh.e_type = ET_CORE;
	eh.e_machine = EM_AARCH64;
	memcpy(c, &eh, sizeof(eh));
	assert_int_equal(read_fails(c, f->len, "not an x86-64 core (e_machine 183)"), -EINVAL);
	free(c);

	/* Cut short in the last mapping's memory. */
	assert_int_equal(read_fails(f->core, f->len - 1, "truncated: the memory at 0x7f0000100000"),
			 -EINVAL);
}

/* len bytes of core ending right before a page no one may read: a read past the end faults
 * even in code the sanitizers do not see (libelf). */
struct fenced {
	uint8_t *base;
	size_t size;
};

static uint8_t *fence(struct fenced *fz, const uint8_t *core, size_t len)
{
	size_t room = (len + PAGE - 1) / PAGE * PAGE;

	fz->size = room + PAGE;
	fz->base = mmap(NULL, fz->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(fz->base != MAP_FAILED);
	assert_int_equal(mprotect(fz->base + room, PAGE, PROT_NONE), 0);
	memcpy(fz->base + room - len, core, len);
	return fz->base + room - len;
}

static void unfence(struct fenced *fz)
{
	munmap(fz->base, fz->size);
}

/* Whatever the bytes, a read gives a snapshot or -EINVAL with a reason, nothing else. */
static void read_any(const uint8_t *core, size_t len, const char *what, size_t at)
{
	struct snapshot *s = NULL;
	char err[256] = "";
	int r = corefile_read(core, len, &s, err, sizeof(err));

	if (r == 0) {
		assert_non_null(s);
		snapshot_free(s);
		return;
	}
	if (r != -EINVAL || !err[0] || s)
		fail_msg("%s at %zu: %d \"%s\"", what, at, r, err);
}

/* Cut short at every length, and a byte changed at every place of the headers and notes
 * (and at random places everywhere): never a crash, a leak or a read past the end. */
static void test_fuzz(void **state)
{
	struct fixture *f = *state;
	uint8_t *c = malloc(f->len);
	struct fenced fz;
	size_t head;
	unsigned seed = 16;

	assert_non_null(c);
	for (size_t len = 0; len < f->len; len++) {
		struct snapshot *s = NULL;
		char err[256] = "";
		uint8_t *p = fence(&fz, f->core, len);

		/* Every byte is needed: the last is the last mapping's memory. */
		assert_int_equal(corefile_read(p, len, &s, err, sizeof(err)), -EINVAL);
		assert_null(s);
		assert_true(err[0]);
		unfence(&fz);
	}

	/* The first copied mapping's memory starts a page after the notes. */
	head = f->len - 5 * PAGE;
	for (size_t at = 0; at < head; at++) {
		static const uint8_t flips[] = { 0xff, 0x01, 0x80 };

		for (size_t k = 0; k < sizeof(flips); k++) {
			uint8_t *p = fence(&fz, f->core, f->len);

			p[at] ^= flips[k];
			read_any(p, f->len, "byte flipped", at);
			unfence(&fz);
		}
	}
	for (int round = 0; round < 2000; round++) {
		memcpy(c, f->core, f->len);
		for (int k = 0; k < 8; k++) {
			size_t at = (size_t)rand_r(&seed) % (round & 1 ? head : f->len);

			c[at] = (uint8_t)rand_r(&seed);
		}
		uint8_t *p = fence(&fz, c, f->len);

		read_any(p, f->len, "round", (size_t)round);
		unfence(&fz);
	}
	free(c);
}

/* ---- core.gz ---- */

static void write_gz(const char *path, const uint8_t *buf, size_t len)
{
	gzFile gz = gzopen(path, "wb1");

	assert_non_null(gz);
	assert_int_equal(gzwrite(gz, buf, (unsigned)len), (int)len);
	assert_int_equal(gzclose(gz), Z_OK);
}

static void test_gz(void **state)
{
	struct fixture *f = *state;
	struct snapshot *s = NULL;
	char path[128], err[512];
	uint8_t *gz;
	size_t gz_len;
	FILE *fp;
	int fd;

	strcpy(f->dir, "/tmp/test_corefile_read.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/core.gz", f->dir);
	write_gz(path, f->core, f->len);
	assert_int_equal(corefile_read_gz(path, &s, err, sizeof(err)), 0);
	assert_same(s, f);
	snapshot_free(s);

	/* Bigger than the first buffer: it grows. */
	{
		size_t big = 3 * (1u << 20) + 5 * PAGE;
		uint8_t *mem = malloc(big);

		assert_non_null(mem);
		for (size_t i = 0; i < big; i++)
			mem[i] = (uint8_t)(i * 31 >> 12);
		f->maps[2].end = f->maps[2].start + big;
		f->maps[2].data = mem;
		f->maps[3].start = f->maps[2].end;
		f->maps[3].end = f->maps[3].start + PAGE;
		f->maps[4].start = f->maps[3].end + 0x100000;
		f->maps[4].end = f->maps[4].start + PAGE;
		write_core(f, &f->s);
		write_gz(path, f->core, f->len);
		assert_int_equal(corefile_read_gz(path, &s, err, sizeof(err)), 0);
		assert_same_maps(s, &f->s);
		snapshot_free(s);
		free(mem);
	}

	/* Cut short: the gzip stream ends in its middle. */
	assert_non_null(fp = fopen(path, "rb"));
	assert_non_null(gz = malloc(f->len + 1024));
	gz_len = fread(gz, 1, f->len + 1024, fp);
	fclose(fp);
	assert_true(gz_len > 100);
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, gz, gz_len / 2), (ssize_t)(gz_len / 2));
	close(fd);
	s = (struct snapshot *)1;
	assert_int_equal(corefile_read_gz(path, &s, err, sizeof(err)), -EINVAL);
	assert_null(s);
	assert_non_null(strstr(err, "core.gz: not a whole gzip file"));

	/* A byte of the compressed data changed: its check fails (or it no longer inflates). */
	gz[gz_len / 2] ^= 0x55;
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, gz, gz_len), (ssize_t)gz_len);
	close(fd);
	assert_int_equal(corefile_read_gz(path, &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "core.gz: "));
	free(gz);

	/* A whole gzip file of something else: corefile_read's reason, with the file's name. */
	write_gz(path, (const uint8_t *)"hello", 5);
	assert_int_equal(corefile_read_gz(path, &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "core.gz: not an ELF file"));

	snprintf(path, sizeof(path), "%s/none/core.gz", f->dir);
	assert_int_equal(corefile_read_gz(path, &s, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "none/core.gz: No such file"));
}

/* ---- a real process ---- */

static volatile uint64_t known = 1; /* in the test's .data: a private file mapping */

/* The child: sets its values, says so, then does what it is told: 'c' change the values,
 * 'v' say whether they are the ones it set ('1') or not ('0'). Any point of this loop is
 * one to roll back to: the pipe is all it shares. */
static void child(int cmd, int rep, volatile uint8_t *heap)
{
	char c;

	known = KNOWN;
	for (size_t i = 0; i < HEAP_LEN; i++)
		heap[i] = (uint8_t)(i * 13);
	if (write(rep, "r", 1) != 1)
		_exit(2);
	while (read(cmd, &c, 1) == 1) {
		char ok = '1';

		if (c == 'c') {
			known = CHANGED;
			for (size_t i = 0; i < HEAP_LEN; i++)
				heap[i] = 0xee;
			ok = 'd';
		} else {
			for (size_t i = 0; i < HEAP_LEN; i++)
				if (heap[i] != (uint8_t)(i * 13))
					ok = '0';
			if (known != KNOWN)
				ok = '0';
		}
		if (write(rep, &ok, 1) != 1)
			_exit(2);
	}
	_exit(0);
}

static char ask(int cmd, int rep, char what)
{
	char c = 0;

	assert_int_equal(write(cmd, &what, 1), 1);
	assert_int_equal(read(rep, &c, 1), 1);
	return c;
}

static const struct snapshot_map *holding(const struct snapshot *s, const volatile void *p)
{
	uint64_t a = (uint64_t)(uintptr_t)p;

	for (size_t i = 0; i < s->n_maps; i++)
		if (s->maps[i].start <= a && a < s->maps[i].end)
			return &s->maps[i];
	fail_msg("no mapping holds %p", (void *)(uintptr_t)a);
	return NULL;
}

/* A child's snapshot written as a core and read back holds its values where they were; the
 * child changes them; the read-back snapshot rolls it back, and the child finds its values
 * again and goes on. */
static void test_live_rollback(void **state)
{
	struct fixture *f = *state;
	uint8_t *heap;
	struct snapshot *taken = NULL, *s = NULL;
	const struct snapshot_map *m;
	int to_child[2], from_child[2], status;
	char err[512] = "";
	uint64_t v;
	pid_t pid;
	char c;

#if defined(__SANITIZE_ADDRESS__)
	/* The sanitizer's shadow is terabytes of writable memory no snapshot copies. */
	skip();
#endif
	if (geteuid() != 0)
		skip();
	assert_non_null(heap = malloc(HEAP_LEN));
	assert_int_equal(pipe(to_child), 0);
	assert_int_equal(pipe(from_child), 0);
	if ((pid = fork()) == 0) {
		close(to_child[1]);
		close(from_child[0]);
		child(to_child[0], from_child[1], heap);
	}
	assert_true(pid > 0);
	close(to_child[0]);
	close(from_child[1]);
	assert_int_equal(read(from_child[0], &c, 1), 1);
	assert_int_equal(c, 'r');

	if (snapshot_take(pid, &taken, err, sizeof(err)))
		fail_msg("snapshot_take: %s", err);
	write_core(f, taken);
	snapshot_free(taken);
	if (corefile_read(f->core, f->len, &s, err, sizeof(err)))
		fail_msg("corefile_read: %s", err);
	assert_int_equal(s->pid, pid);
	assert_int_equal(s->threads[0].tid, pid);

	m = holding(s, &known);
	assert_non_null(m->data);
	assert_true(m->write);
	assert_false(m->shared);
	memcpy(&v, m->data + ((uintptr_t)&known - m->start), sizeof(v));
	assert_int_equal(v, KNOWN);
	m = holding(s, heap);
	assert_non_null(m->data);
	for (size_t i = 0; i < HEAP_LEN; i++)
		assert_int_equal(m->data[(uintptr_t)heap - m->start + i], (uint8_t)(i * 13));

	assert_int_equal(ask(to_child[1], from_child[0], 'c'), 'd');
	assert_int_equal(ask(to_child[1], from_child[0], 'v'), '0');
	if (snapshot_rollback(s, err, sizeof(err)))
		fail_msg("snapshot_rollback: %s", err);
	assert_int_equal(ask(to_child[1], from_child[0], 'v'), '1');
	/* It goes on: changed again, and told so. */
	assert_int_equal(ask(to_child[1], from_child[0], 'c'), 'd');
	assert_int_equal(ask(to_child[1], from_child[0], 'v'), '0');

	close(to_child[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(from_child[0]);
	snapshot_free(s);
	free(heap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_signal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fuzz, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gz, setup, teardown),
		cmocka_unit_test_setup_teardown(test_live_rollback, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
