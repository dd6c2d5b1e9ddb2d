/* corefile: a snapshot written as an ELF core and read back with libelf, as gdb would find
 * it: the headers, every note in the kernel's order with its content, the memory at its
 * offsets; the size known before writing; a sink's error stopping the write. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <cpuid.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/procfs.h>
#include <sys/reg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actions/corefile.h"

#define PAGE 4096
#define MAIN_TID 4242
#define FAULT_TID 4243
#define XSTATE_LEN 1092 /* not a multiple of 8: the note pads it */
#define XCR0_OFFSET 464	/* where the kernel's xstate says which features it holds */
#define XCR0_AVX 0x7	/* x87, SSE, AVX */
#define NT_XSAVE_LAYOUT 0x205

struct fixture {
	struct snapshot s;
	struct snapshot_thread threads[2];
	struct snapshot_map maps[5];
	uint8_t xstate[XSTATE_LEN];
	uint8_t bss[PAGE], anon[3 * PAGE];
	uint64_t auxv[6];
	char path[64];
};

static int setup(void **state)
{
	static const char cmdline[] = "worker\0--fast\0";
	struct fixture *f = calloc(1, sizeof(*f));
	struct snapshot *s;
	int fd;

	if (!f)
		return -1;
	s = &f->s;
	s->pid = MAIN_TID;
	s->ppid = 1;
	s->uid = 1000;
	s->gid = 1001;
	strcpy(s->comm, "worker");
	s->state = 'S';
	s->cmdline = (uint8_t *)cmdline;
	s->cmdline_len = sizeof(cmdline) - 1; /* as /proc: each argument ends in NUL */
	s->exe = "/usr/bin/worker";

	f->threads[0].tid = MAIN_TID;
	f->threads[0].regs.rip = 0x401000;
	f->threads[0].regs.rsp = 0x7ffffffde000;
	f->threads[0].fpregs.mxcsr = 0x1f80;
	f->threads[1].tid = FAULT_TID;
	f->threads[1].regs.rip = 0x401234;
	f->threads[1].regs.rax = 0xdeadbeef;
	f->threads[1].fpregs.mxcsr = 0x1fa0;
	f->threads[1].sig = SIGSEGV;
	for (size_t i = 0; i < XSTATE_LEN; i++)
		f->xstate[i] = (uint8_t)(i * 7);
	memset(f->xstate + XCR0_OFFSET, 0, 8);
	f->xstate[XCR0_OFFSET] = XCR0_AVX;
	f->threads[1].xstate = f->xstate;
	f->threads[1].xstate_len = XSTATE_LEN;
	s->threads = f->threads;
	s->n_threads = 2;

	memset(f->bss, 0x5a, sizeof(f->bss));
	for (size_t i = 0; i < sizeof(f->anon); i++)
		f->anon[i] = (uint8_t)(i / PAGE + 1);
	f->maps[0] = (struct snapshot_map){ .start = 0x400000, .end = 0x402000, .read = true,
					    .exec = true, .path = "/usr/bin/worker" };
	f->maps[1] = (struct snapshot_map){ .start = 0x600000, .end = 0x601000, .offset = 0x2000,
					    .read = true, .write = true, .major = 8, .minor = 1,
					    .inode = 131077, .path = "/usr/bin/worker",
					    .data = f->bss, .copied = PAGE };
	f->maps[2] = (struct snapshot_map){ .start = 0x7f0000000000, .end = 0x7f0000003000,
					    .read = true, .write = true, .path = "",
					    .data = f->anon, .copied = 3 * PAGE };
	f->maps[3] = (struct snapshot_map){ .start = 0x7f0000003000, .end = 0x7f0000004000,
					    .path = "" }; /* a guard page: ---p */
	f->maps[4] = (struct snapshot_map){ .start = 0x7f0000100000, .end = 0x7f0000128000,
					    .offset = 0x28000, .read = true, .exec = true,
					    .shared = true, .major = 259, .minor = 3,
					    .inode = 0x100000004,
					    .path = "/usr/lib/x86_64-linux-gnu/libc.so.6" };
	s->maps = f->maps;
	s->n_maps = 5;

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

	strcpy(f->path, "/tmp/salve-corefile-XXXXXX");
	fd = mkstemp(f->path);
	if (fd < 0)
		return -1;
	close(fd);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	unlink(f->path);
	free(f);
	return 0;
}

/* ---- sinks ---- */

struct file_sink {
	int fd;
	uint64_t calls;
	size_t biggest;
};

static int to_file(void *ctx, const void *buf, size_t len)
{
	struct file_sink *fs = ctx;
	const char *p = buf;

	fs->calls++;
	if (len > fs->biggest)
		fs->biggest = len;
	while (len) {
		ssize_t n = write(fs->fd, p, len);

		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Takes `room` bytes, then says the disk is full, and counts calls after that. */
struct full_sink {
	uint64_t room, taken;
	int failures, calls_after;
};

static int to_full_disk(void *ctx, const void *buf, size_t len)
{
	struct full_sink *fs = ctx;

	(void)buf;
	if (fs->failures) {
		fs->calls_after++;
		return -EIO;
	}
	if (fs->taken + len > fs->room) {
		fs->failures++;
		return -ENOSPC;
	}
	fs->taken += len;
	return 0;
}

/* ---- reading back ---- */

struct core {
	int fd;
	Elf *elf;
	uint8_t *bytes; /* the whole file */
	size_t size;
};

static void core_open(struct core *c, const char *path)
{
	struct stat st;

	assert_int_not_equal(elf_version(EV_CURRENT), EV_NONE);
	c->fd = open(path, O_RDONLY);
	assert_true(c->fd >= 0);
	assert_int_equal(fstat(c->fd, &st), 0);
	c->size = (size_t)st.st_size;
	c->bytes = malloc(c->size);
	assert_non_null(c->bytes);
	assert_int_equal(pread(c->fd, c->bytes, c->size, 0), (ssize_t)c->size);
	c->elf = elf_begin(c->fd, ELF_C_READ, NULL);
	assert_non_null(c->elf);
	assert_int_equal(elf_kind(c->elf), ELF_K_ELF);
}

static void core_close(struct core *c)
{
	elf_end(c->elf);
	close(c->fd);
	free(c->bytes);
}

static uint64_t write_core(struct fixture *f)
{
	struct file_sink fs = { .fd = open(f->path, O_WRONLY | O_TRUNC) };
	uint64_t bytes = 0;

	assert_true(fs.fd >= 0);
	assert_int_equal(corefile_write(&f->s, to_file, &fs, &bytes), 0);
	assert_true(fs.biggest <= COREFILE_CHUNK);
	close(fs.fd);
	return bytes;
}

struct note {
	char name[8];
	uint32_t type;
	const uint8_t *desc;
	size_t descsz;
};

/* Every note of the core's PT_NOTE, in file order. */
static size_t read_notes(struct core *c, struct note *out, size_t max)
{
	GElf_Phdr ph;
	Elf_Data *d;
	GElf_Nhdr nh;
	size_t off = 0, next, name_off, desc_off, n = 0;

	assert_non_null(gelf_getphdr(c->elf, 0, &ph));
	assert_int_equal(ph.p_type, PT_NOTE);
	d = elf_getdata_rawchunk(c->elf, (int64_t)ph.p_offset, ph.p_filesz, ELF_T_NHDR);
	assert_non_null(d);
	while ((next = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
		assert_true(n < max);
		assert_true(nh.n_namesz < sizeof(out[n].name));
		memcpy(out[n].name, (char *)d->d_buf + name_off, nh.n_namesz);
		out[n].name[nh.n_namesz] = '\0';
		out[n].type = nh.n_type;
		out[n].desc = (uint8_t *)d->d_buf + desc_off;
		out[n].descsz = nh.n_descsz;
		n++;
		off = next;
	}
	assert_int_equal(off, ph.p_filesz); /* the notes fill the segment, nothing after */
	return n;
}

/* What CPUID says of AVX's place in the xstate, the layout note's one record; false when
 * this CPU has no AVX (no note then). */
static bool avx_layout(uint32_t rec[4])
{
	unsigned a = 0, b = 0, c, d;

	if (__get_cpuid_max(0, NULL) >= 0xd)
		__cpuid_count(0xd, 2, a, b, c, d);
	rec[0] = 2;
	rec[1] = a;
	rec[2] = b;
	rec[3] = 0;
	return a != 0;
}

static const struct elf_prstatus *prstatus(const struct note *n)
{
	assert_string_equal(n->name, "CORE");
	assert_int_equal(n->type, NT_PRSTATUS);
	assert_int_equal(n->descsz, sizeof(struct elf_prstatus));
	return (const struct elf_prstatus *)n->desc;
}

static void assert_note(const struct note *n, const char *name, uint32_t type, const void *desc,
			size_t len)
{
	assert_string_equal(n->name, name);
	assert_int_equal(n->type, type);
	assert_int_equal(n->descsz, len);
	assert_memory_equal(n->desc, desc, len);
}

/* NT_SALVE_MAPS: every mapping, anonymous ones too, with what NT_FILE leaves out. */
static uint64_t word(const struct note *n, size_t i)
{
	uint64_t w;

	assert_true((i + 1) * sizeof(w) <= n->descsz);
	memcpy(&w, n->desc + i * sizeof(w), sizeof(w)); /* the note is only 4-aligned */
	return w;
}

static void assert_salve_maps(const struct note *n, const struct snapshot *s)
{
	const char *name;

	assert_string_equal(n->name, "SALVE");
	assert_int_equal(n->type, NT_SALVE_MAPS);
	assert_int_equal(word(n, 0), s->n_maps);
	assert_int_equal(word(n, 1), COREFILE_MAP_WORDS);
	for (size_t i = 0; i < s->n_maps; i++) {
		const struct snapshot_map *m = &s->maps[i];
		size_t r = 2 + i * COREFILE_MAP_WORDS;
		uint64_t flags = (m->read ? COREFILE_MAP_READ : 0) |
				 (m->write ? COREFILE_MAP_WRITE : 0) |
				 (m->exec ? COREFILE_MAP_EXEC : 0) |
				 (m->shared ? COREFILE_MAP_SHARED : 0);

		assert_int_equal(word(n, r), m->start);
		assert_int_equal(word(n, r + 1), m->end);
		assert_int_equal(word(n, r + 2), m->offset);
		assert_int_equal(word(n, r + 3), flags);
		assert_int_equal(word(n, r + 4), m->major);
		assert_int_equal(word(n, r + 5), m->minor);
		assert_int_equal(word(n, r + 6), m->inode);
	}
	name = (const char *)n->desc + (2 + s->n_maps * COREFILE_MAP_WORDS) * sizeof(uint64_t);
	for (size_t i = 0; i < s->n_maps; i++) {
		assert_string_equal(name, s->maps[i].path);
		name += strlen(name) + 1;
	}
	assert_int_equal(name - (const char *)n->desc, n->descsz);
}

/* ---- tests ---- */

static void test_headers(void **state)
{
	struct fixture *f = *state;
	uint64_t bytes = write_core(f);
	struct core c;
	GElf_Ehdr eh;
	GElf_Phdr ph;
	size_t phnum;

	core_open(&c, f->path);
	assert_int_equal(bytes, c.size);
	assert_int_equal(corefile_size(&f->s), c.size);
	assert_int_equal(gelf_getclass(c.elf), ELFCLASS64);
	assert_non_null(gelf_getehdr(c.elf, &eh));
	assert_int_equal(eh.e_ident[EI_DATA], ELFDATA2LSB);
	assert_int_equal(eh.e_type, ET_CORE);
	assert_int_equal(eh.e_machine, EM_X86_64);
	assert_int_equal(elf_getphdrnum(c.elf, &phnum), 0);
	assert_int_equal(phnum, 1 + f->s.n_maps);

	assert_non_null(gelf_getphdr(c.elf, 0, &ph));
	assert_int_equal(ph.p_type, PT_NOTE);
	assert_int_equal(ph.p_offset, eh.e_phoff + phnum * eh.e_phentsize);
	assert_true(ph.p_filesz > 0);

	/* One PT_LOAD per mapping, in address order, each copied one at a page in the file
	 * after the notes, holding its bytes; the others with none in the file. */
	uint64_t notes_end = ph.p_offset + ph.p_filesz, last_off = 0;

	for (size_t i = 0; i < f->s.n_maps; i++) {
		const struct snapshot_map *m = &f->s.maps[i];
		uint32_t flags = (m->read ? PF_R : 0) | (m->write ? PF_W : 0) | (m->exec ? PF_X : 0);

		assert_non_null(gelf_getphdr(c.elf, (int)(1 + i), &ph));
		assert_int_equal(ph.p_type, PT_LOAD);
		assert_int_equal(ph.p_vaddr, m->start);
		assert_int_equal(ph.p_memsz, m->end - m->start);
		assert_int_equal(ph.p_flags, flags);
		assert_int_equal(ph.p_align, PAGE);
		if (!m->data) {
			assert_int_equal(ph.p_filesz, 0);
			continue;
		}
		assert_int_equal(ph.p_filesz, m->end - m->start);
		assert_int_equal(ph.p_offset % PAGE, 0);
		assert_true(ph.p_offset >= notes_end);
		assert_true(ph.p_offset > last_off);
		assert_true(ph.p_offset + ph.p_filesz <= c.size);
		assert_memory_equal(c.bytes + ph.p_offset, m->data, ph.p_filesz);
		last_off = ph.p_offset;
	}
	/* The pages of the anonymous mapping in order: 1, 2, 3. */
	assert_non_null(gelf_getphdr(c.elf, 3, &ph));
	assert_int_equal(c.bytes[ph.p_offset + 2 * PAGE + 17], 3);
	/* Zeros between the notes and the first memory. */
	assert_non_null(gelf_getphdr(c.elf, 2, &ph));
	for (uint64_t o = notes_end; o < ph.p_offset; o++)
		assert_int_equal(c.bytes[o], 0);
	core_close(&c);
}

static void test_notes(void **state)
{
	struct fixture *f = *state;
	struct note n[16];
	struct core c;
	size_t count;
	const struct elf_prstatus *ps;
	const struct elf_prpsinfo *pi;
	const siginfo_t *si;

	uint32_t layout[4];
	bool has_layout = avx_layout(layout);

	write_core(f);
	core_open(&c, f->path);
	count = read_notes(&c, n, 16);
	/* The kernel's order: the faulting thread (listed second) first, the process's notes
	 * after its NT_PRSTATUS, then its other register sets, then the next thread's, then
	 * the xstate's layout on this CPU; salve's mappings last. */
	assert_int_equal(count, 10 + has_layout);

	ps = prstatus(&n[0]);
	assert_int_equal(ps->pr_pid, FAULT_TID);
	assert_int_equal(ps->pr_ppid, 1);
	assert_int_equal(ps->pr_cursig, SIGSEGV);
	assert_int_equal(ps->pr_info.si_signo, SIGSEGV);
	assert_int_equal(ps->pr_reg[RIP], 0x401234);
	assert_int_equal(ps->pr_reg[RAX], 0xdeadbeef);
	assert_int_equal(ps->pr_fpvalid, 1);

	assert_string_equal(n[1].name, "CORE");
	assert_int_equal(n[1].type, NT_PRPSINFO);
	assert_int_equal(n[1].descsz, sizeof(struct elf_prpsinfo));
	pi = (const struct elf_prpsinfo *)n[1].desc;
	assert_string_equal(pi->pr_fname, "worker");
	assert_string_equal(pi->pr_psargs, "worker --fast");
	assert_int_equal(pi->pr_pid, MAIN_TID);
	assert_int_equal(pi->pr_ppid, 1);
	assert_int_equal(pi->pr_uid, 1000);
	assert_int_equal(pi->pr_gid, 1001);
	assert_int_equal(pi->pr_sname, 'S');

	assert_string_equal(n[2].name, "CORE");
	assert_int_equal(n[2].type, NT_SIGINFO);
	assert_int_equal(n[2].descsz, sizeof(siginfo_t));
	si = (const siginfo_t *)n[2].desc;
	assert_int_equal(si->si_signo, SIGSEGV);
	assert_int_equal(si->si_code, SEGV_MAPERR);
	assert_ptr_equal(si->si_addr, (void *)0xdead);

	assert_note(&n[3], "CORE", NT_AUXV, f->auxv, sizeof(f->auxv));

	/* NT_FILE: the three mappings of files, none of the anonymous ones. */
	const uint64_t *w = (const uint64_t *)n[4].desc;
	const char *name;

	assert_string_equal(n[4].name, "CORE");
	assert_int_equal(n[4].type, NT_FILE);
	assert_int_equal(w[0], 3);
	assert_int_equal(w[1], PAGE);
	assert_int_equal(w[2], 0x400000);
	assert_int_equal(w[3], 0x402000);
	assert_int_equal(w[4], 0);
	assert_int_equal(w[5], 0x600000);
	assert_int_equal(w[6], 0x601000);
	assert_int_equal(w[7], 2); /* offset 0x2000 in pages */
	assert_int_equal(w[8], 0x7f0000100000);
	assert_int_equal(w[9], 0x7f0000128000);
	assert_int_equal(w[10], 0x28);
	name = (const char *)&w[11];
	assert_string_equal(name, "/usr/bin/worker");
	name += strlen(name) + 1;
	assert_string_equal(name, "/usr/bin/worker");
	name += strlen(name) + 1;
	assert_string_equal(name, "/usr/lib/x86_64-linux-gnu/libc.so.6");
	name += strlen(name) + 1;
	assert_int_equal(name - (const char *)n[4].desc, n[4].descsz);

	assert_note(&n[5], "CORE", NT_FPREGSET, &f->threads[1].fpregs,
		    sizeof(struct user_fpregs_struct));
	assert_note(&n[6], "LINUX", NT_X86_XSTATE, f->xstate, XSTATE_LEN);

	/* The main thread: the process's signal (gdb reads the last thread's), no extended
	 * state in this snapshot. */
	ps = prstatus(&n[7]);
	assert_int_equal(ps->pr_pid, MAIN_TID);
	assert_int_equal(ps->pr_cursig, SIGSEGV);
	assert_int_equal(ps->pr_reg[RIP], 0x401000);
	assert_int_equal(ps->pr_reg[RSP], 0x7ffffffde000);
	assert_note(&n[8], "CORE", NT_FPREGSET, &f->threads[0].fpregs,
		    sizeof(struct user_fpregs_struct));
	if (has_layout)
		assert_note(&n[9], "LINUX", NT_XSAVE_LAYOUT, layout, sizeof(layout));
	assert_salve_maps(&n[count - 1], &f->s);
	core_close(&c);
}

/* Taken without a signal: the main thread first, no NT_SIGINFO, no signal in any thread's
 * NT_PRSTATUS though one held a signal back when stopped. */
static void test_no_signal(void **state)
{
	struct fixture *f = *state;
	struct note n[16];
	struct core c;
	size_t count;

	f->s.has_siginfo = false;
	assert_int_equal(write_core(f), corefile_size(&f->s));
	core_open(&c, f->path);
	count = read_notes(&c, n, 16);
	assert_int_equal(count, 9 + avx_layout((uint32_t[4]){ 0 }));
	assert_int_equal(prstatus(&n[0])->pr_pid, MAIN_TID);
	assert_int_equal(prstatus(&n[0])->pr_cursig, 0);
	assert_int_equal(n[1].type, NT_PRPSINFO);
	assert_int_equal(n[2].type, NT_AUXV);
	assert_int_equal(n[3].type, NT_FILE);
	assert_int_equal(n[4].type, NT_FPREGSET);
	assert_int_equal(prstatus(&n[5])->pr_pid, FAULT_TID);
	assert_int_equal(prstatus(&n[5])->pr_cursig, 0);
	assert_int_equal(n[6].type, NT_FPREGSET);
	assert_int_equal(n[7].type, NT_X86_XSTATE);
	for (size_t i = 0; i < count; i++)
		assert_int_not_equal(n[i].type, NT_SIGINFO);
	/* Without extended state, no layout of it. */
	core_close(&c);
	f->threads[1].xstate = NULL;
	assert_int_equal(write_core(f), corefile_size(&f->s));
	core_open(&c, f->path);
	assert_int_equal(read_notes(&c, n, 16), 8);
	assert_int_equal(n[6].type, NT_FPREGSET);
	assert_salve_maps(&n[7], &f->s);
	core_close(&c);
}

/* A memory mapping too big for one sink call goes in pieces, and still reads back. */
static void test_big_mapping(void **state)
{
	struct fixture *f = *state;
	size_t len = 2 * COREFILE_CHUNK + PAGE;
	uint8_t *big = malloc(len);
	struct core c;
	GElf_Phdr ph;

	assert_non_null(big);
	for (size_t i = 0; i < len; i++)
		big[i] = (uint8_t)(i >> 12);
	f->maps[2].end = f->maps[2].start + len;
	f->maps[2].data = big;
	f->maps[3].start = f->maps[2].end;
	f->maps[3].end = f->maps[3].start + PAGE;
	f->maps[4].start = f->maps[3].end + 0x100000;
	f->maps[4].end = f->maps[4].start + 0x28000;
	assert_int_equal(write_core(f), corefile_size(&f->s));
	core_open(&c, f->path);
	assert_non_null(gelf_getphdr(c.elf, 3, &ph));
	assert_int_equal(ph.p_filesz, len);
	assert_memory_equal(c.bytes + ph.p_offset, big, len);
	core_close(&c);
	free(big);
}

/* More program headers than e_phnum holds: the count in section header 0, as the kernel
 * writes it and libelf reads it. */
static void test_many_mappings(void **state)
{
	struct fixture *f = *state;
	size_t n = PN_XNUM + 10;
	struct snapshot_map *maps = calloc(n, sizeof(*maps));
	struct core c;
	GElf_Ehdr eh;
	GElf_Phdr ph;
	size_t phnum;

	assert_non_null(maps);
	for (size_t i = 0; i < n; i++)
		maps[i] = (struct snapshot_map){ .start = 0x10000000 + 2 * i * PAGE,
						 .end = 0x10000000 + (2 * i + 1) * PAGE,
						 .read = true, .path = "" };
	maps[n - 1].data = f->bss;
	f->s.maps = maps;
	f->s.n_maps = n;
	assert_int_equal(write_core(f), corefile_size(&f->s));
	core_open(&c, f->path);
	assert_non_null(gelf_getehdr(c.elf, &eh));
	assert_int_equal(eh.e_phnum, PN_XNUM);
	assert_int_equal(elf_getphdrnum(c.elf, &phnum), 0);
	assert_int_equal(phnum, n + 1);
	assert_non_null(gelf_getphdr(c.elf, (int)n, &ph));
	assert_int_equal(ph.p_vaddr, maps[n - 1].start);
	assert_int_equal(ph.p_filesz, PAGE);
	assert_memory_equal(c.bytes + ph.p_offset, f->bss, PAGE);
	core_close(&c);
	free(maps);
}

/* A sink that fails (a full disk) stops the write wherever it happens, and its error is the
 * writer's; nothing more is handed to it. */
static void test_sink_error(void **state)
{
	struct fixture *f = *state;
	uint64_t size = corefile_size(&f->s);
	uint64_t cuts[] = { 0, 10, 100, 1000, 3000, size - PAGE - 1, size - 1 };

	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		struct full_sink fs = { .room = cuts[i] };
		uint64_t bytes = 1;

		assert_int_equal(corefile_write(&f->s, to_full_disk, &fs, &bytes), -ENOSPC);
		assert_int_equal(fs.failures, 1);
		assert_int_equal(fs.calls_after, 0);
		assert_int_equal(bytes, 0);
	}
}

/* Snapshots no core can hold are refused before a byte is written. */
static void test_invalid(void **state)
{
	struct fixture *f = *state;
	struct full_sink fs = { .room = UINT64_MAX };
	struct snapshot_map swap;

	swap = f->maps[1];
	f->maps[1] = f->maps[2];
	f->maps[2] = swap;
	assert_int_equal(corefile_write(&f->s, to_full_disk, &fs, NULL), -EINVAL);
	f->maps[2] = f->maps[1];
	f->maps[1] = swap;
	f->maps[1].end = f->maps[2].start + PAGE; /* overlaps the next */
	assert_int_equal(corefile_write(&f->s, to_full_disk, &fs, NULL), -EINVAL);
	f->maps[1].end = f->maps[1].start; /* empty */
	assert_int_equal(corefile_write(&f->s, to_full_disk, &fs, NULL), -EINVAL);
	f->maps[1].end = f->maps[1].start + PAGE;
	f->s.n_threads = 0;
	assert_int_equal(corefile_write(&f->s, to_full_disk, &fs, NULL), -EINVAL);
	assert_int_equal(fs.taken, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_signal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_mapping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_mappings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sink_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
