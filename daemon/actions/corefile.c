/* corefile: a snapshot as an ELF core, written front to back through a sink. libelf gives
 * the file form of the ELF header, the program headers, the note headers and the words of
 * NT_FILE and NT_SALVE_MAPS; the notes' bodies are the kernel's structures from
 * <sys/procfs.h>, as it writes them. */
#include <cpuid.h>
#include <elf.h>
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <string.h>
#include <sys/procfs.h>
#include <unistd.h>

#include "actions/corefile.h"

#if !defined(__x86_64__)
#error "corefile writes x86-64 cores: struct snapshot holds x86-64 registers"
#endif

#ifndef NT_X86_XSAVE_LAYOUT
#define NT_X86_XSAVE_LAYOUT 0x205 /* Linux 6.12's <linux/elf.h> */
#endif
#define XSAVE_XCR0_OFFSET 464 /* the xstate's sw_reserved: the features the kernel saves */
#define XFEATURE_FIRST_EXTENDED 2 /* x87 and SSE are in the legacy area, not in the layout */

#define NOTE_ALIGN 4 /* a core's notes are 4-aligned (the kernel's, and gdb's reading) */
#define NT_FILE_WORDS 3 /* start, end, offset in pages */
#define MAX_WORDS 8	/* the most words put_xwords is given at once */
#define XFEAT_WORDS 4	/* NT_X86_XSAVE_LAYOUT: feature, size, offset, flags */

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

static uint64_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (uint64_t)p : 4096;
}

/* The thread whose notes come first, which gdb shows as the current one: the one the
 * signal stopped when the snapshot was taken on one, else the main thread. */
static size_t first_thread(const struct snapshot *s)
{
	for (size_t i = 0; s->has_siginfo && i < s->n_threads; i++)
		if (s->threads[i].sig)
			return i;
	for (size_t i = 0; i < s->n_threads; i++)
		if (s->threads[i].tid == s->pid)
			return i;
	return 0;
}

static bool is_file(const struct snapshot_map *m)
{
	return m->path && m->path[0] == '/';
}

static const char *map_path(const struct snapshot_map *m)
{
	return m->path ? m->path : "";
}

static uint64_t map_filesz(const struct snapshot_map *m)
{
	return m->data ? m->end - m->start : 0;
}

/* The extended features of the threads' xstate whose place this CPU gives (CPUID leaf 0xd,
 * as the kernel reads them): the xstate holds them at these offsets, which differ between
 * CPUs (AMD's AVX-512 state is not where Intel's is), so a debugger reads them from
 * NT_X86_XSAVE_LAYOUT rather than guessing from the note's size. */
static uint64_t xsave_features(const struct snapshot *s)
{
	uint64_t mask = 0, out = 0;
	unsigned a, b, c, d;

	for (size_t i = 0; i < s->n_threads; i++) {
		const struct snapshot_thread *t = &s->threads[i];

		if (t->xstate && t->xstate_len >= XSAVE_XCR0_OFFSET + sizeof(mask)) {
			memcpy(&mask, t->xstate + XSAVE_XCR0_OFFSET, sizeof(mask));
			break;
		}
	}
	if (!mask || __get_cpuid_max(0, NULL) < 0xd)
		return 0;
	for (unsigned f = XFEATURE_FIRST_EXTENDED; f < 64; f++) {
		if (!(mask & (1ull << f)))
			continue;
		__cpuid_count(0xd, f, a, b, c, d);
		if (a)
			out |= 1ull << f;
	}
	return out;
}

/* ---- layout: where everything goes, computed once for both the size and the write ---- */

struct layout {
	uint64_t page;
	uint64_t ehdr, phent, shent, nhdr; /* file sizes, from libelf */
	uint64_t segs;			   /* program headers: PT_NOTE + one PT_LOAD per map */
	bool xnum;			   /* segs >= PN_XNUM: the count is in section header 0 */
	uint64_t notes_off, notes_size;
	uint64_t data_off; /* the first PT_LOAD's bytes */
	uint64_t shoff;	   /* section header 0, when xnum */
	uint64_t size;
	uint64_t n_files, files_desc; /* NT_FILE */
	uint64_t maps_desc;	      /* NT_SALVE_MAPS */
	uint64_t xfeatures;	      /* NT_X86_XSAVE_LAYOUT: the extended features it lists */
};

static uint64_t note_size(const struct layout *l, const char *name, uint64_t desc)
{
	return l->nhdr + align_up(strlen(name) + 1, NOTE_ALIGN) + align_up(desc, NOTE_ALIGN);
}

static void layout(const struct snapshot *s, struct layout *l)
{
	uint64_t n;

	memset(l, 0, sizeof(*l));
	l->page = page_size();
	l->ehdr = elf64_fsize(ELF_T_EHDR, 1, EV_CURRENT);
	l->phent = elf64_fsize(ELF_T_PHDR, 1, EV_CURRENT);
	l->shent = elf64_fsize(ELF_T_SHDR, 1, EV_CURRENT);
	l->nhdr = elf64_fsize(ELF_T_NHDR, 1, EV_CURRENT);
	l->segs = 1 + s->n_maps;
	l->xnum = l->segs >= PN_XNUM;

	for (size_t i = 0; i < s->n_maps; i++) {
		if (!is_file(&s->maps[i]))
			continue;
		l->n_files++;
		l->files_desc += strlen(s->maps[i].path) + 1;
	}
	if (l->n_files)
		l->files_desc += (2 + NT_FILE_WORDS * l->n_files) *
				 elf64_fsize(ELF_T_XWORD, 1, EV_CURRENT);
	l->maps_desc = (2 + COREFILE_MAP_WORDS * s->n_maps) *
		       elf64_fsize(ELF_T_XWORD, 1, EV_CURRENT);
	for (size_t i = 0; i < s->n_maps; i++)
		l->maps_desc += strlen(map_path(&s->maps[i])) + 1;

	n = 0;
	for (size_t i = 0; i < s->n_threads; i++) {
		n += note_size(l, "CORE", sizeof(struct elf_prstatus));
		n += note_size(l, "CORE", sizeof(struct user_fpregs_struct));
		if (s->threads[i].xstate)
			n += note_size(l, "LINUX", s->threads[i].xstate_len);
	}
	n += note_size(l, "CORE", sizeof(struct elf_prpsinfo));
	if (s->has_siginfo)
		n += note_size(l, "CORE", sizeof(siginfo_t));
	if (s->auxv_len)
		n += note_size(l, "CORE", s->auxv_len);
	if (l->n_files)
		n += note_size(l, "CORE", l->files_desc);
	l->xfeatures = xsave_features(s);
	if (l->xfeatures)
		n += note_size(l, "LINUX", __builtin_popcountll(l->xfeatures) * XFEAT_WORDS *
						   elf64_fsize(ELF_T_WORD, 1, EV_CURRENT));
	n += note_size(l, COREFILE_SALVE_OWNER, l->maps_desc);
	l->notes_off = l->ehdr + l->segs * l->phent;
	l->notes_size = n;
	l->data_off = align_up(l->notes_off + n, l->page);

	l->size = l->data_off;
	for (size_t i = 0; i < s->n_maps; i++)
		l->size += align_up(map_filesz(&s->maps[i]), l->page);
	if (l->xnum) {
		l->shoff = l->size;
		l->size += l->shent;
	}
}

uint64_t corefile_size(const struct snapshot *s)
{
	struct layout l;

	layout(s, &l);
	return l.size;
}

/* ---- writing ---- */

struct writer {
	corefile_sink *sink;
	void *ctx;
	uint64_t off;
};

static int put(struct writer *w, const void *buf, uint64_t len)
{
	const uint8_t *p = buf;

	while (len) {
		size_t n = len < COREFILE_CHUNK ? (size_t)len : COREFILE_CHUNK;
		int err = w->sink(w->ctx, p, n);

		if (err < 0)
			return err;
		p += n;
		len -= n;
		w->off += n;
	}
	return 0;
}

static int zeros(struct writer *w, uint64_t len)
{
	static const uint8_t zero[4096];

	while (len) {
		uint64_t n = len < sizeof(zero) ? len : sizeof(zero);
		int err = put(w, zero, n);

		if (err)
			return err;
		len -= n;
	}
	return 0;
}

/* Zeros up to off, which the layout says is where the next bytes go. */
static int pad_to(struct writer *w, uint64_t off)
{
	if (w->off > off)
		return -EINVAL;
	return zeros(w, off - w->off);
}

/* count ELF structures of one type from memory in their file form (libelf's byte order). */
static int put_elf(struct writer *w, Elf_Type type, const void *mem, size_t mem_size, size_t count)
{
	uint8_t out[64];
	Elf_Data src = {
		.d_buf = (void *)mem, .d_type = type, .d_size = mem_size, .d_version = EV_CURRENT,
	};
	Elf_Data dst = {
		.d_buf = out, .d_type = type, .d_size = sizeof(out), .d_version = EV_CURRENT,
	};
	size_t fsize = elf64_fsize(type, count, EV_CURRENT);

	if (!fsize || fsize > sizeof(out) || !elf64_xlatetof(&dst, &src, ELFDATA2LSB))
		return -EINVAL;
	return put(w, out, dst.d_size);
}

static int put_xwords(struct writer *w, const uint64_t *v, size_t count)
{
	Elf64_Xword x[MAX_WORDS];

	if (count > MAX_WORDS)
		return -EINVAL;
	for (size_t i = 0; i < count; i++)
		x[i] = v[i];
	return put_elf(w, ELF_T_XWORD, x, count * sizeof(x[0]), count);
}

static int note_begin(struct writer *w, const char *name, Elf64_Word type, uint64_t desc)
{
	size_t namesz = strlen(name) + 1;
	Elf64_Nhdr h = { .n_namesz = namesz, .n_descsz = desc, .n_type = type };
	int err;

	if (desc > UINT32_MAX)
		return -EINVAL;
	err = put_elf(w, ELF_T_NHDR, &h, sizeof(h), 1);
	if (!err)
		err = put(w, name, namesz);
	if (!err)
		err = zeros(w, align_up(namesz, NOTE_ALIGN) - namesz);
	return err;
}

static int note_end(struct writer *w, uint64_t desc)
{
	return zeros(w, align_up(desc, NOTE_ALIGN) - desc);
}

static int note(struct writer *w, const char *name, Elf64_Word type, const void *desc,
		uint64_t len)
{
	int err = note_begin(w, name, type, len);

	if (!err)
		err = put(w, desc, len);
	if (!err)
		err = note_end(w, len);
	return err;
}

static int write_ehdr(struct writer *w, const struct layout *l)
{
	Elf64_Ehdr e = {
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB,
			     EV_CURRENT, ELFOSABI_NONE },
		.e_type = ET_CORE,
		.e_machine = EM_X86_64,
		.e_version = EV_CURRENT,
		.e_phoff = l->ehdr,
		.e_ehsize = l->ehdr,
		.e_phentsize = l->phent,
		.e_phnum = l->xnum ? PN_XNUM : l->segs,
	};

	if (l->xnum) {
		e.e_shoff = l->shoff;
		e.e_shentsize = l->shent;
		e.e_shnum = 1;
		e.e_shstrndx = SHN_UNDEF;
	}
	return put_elf(w, ELF_T_EHDR, &e, sizeof(e), 1);
}

static int write_phdrs(struct writer *w, const struct snapshot *s, const struct layout *l)
{
	Elf64_Phdr p = {
		.p_type = PT_NOTE, .p_offset = l->notes_off, .p_filesz = l->notes_size,
		.p_align = NOTE_ALIGN,
	};
	uint64_t off = l->data_off;
	int err = put_elf(w, ELF_T_PHDR, &p, sizeof(p), 1);

	for (size_t i = 0; !err && i < s->n_maps; i++) {
		const struct snapshot_map *m = &s->maps[i];

		p = (Elf64_Phdr){
			.p_type = PT_LOAD,
			.p_flags = (m->read ? PF_R : 0) | (m->write ? PF_W : 0) |
				   (m->exec ? PF_X : 0),
			.p_offset = off,
			.p_vaddr = m->start,
			.p_filesz = map_filesz(m),
			.p_memsz = m->end - m->start,
			.p_align = l->page,
		};
		off += align_up(p.p_filesz, l->page);
		err = put_elf(w, ELF_T_PHDR, &p, sizeof(p), 1);
	}
	return err;
}

/* pr_cursig is the process's signal in every thread's NT_PRSTATUS, as the kernel writes it:
 * gdb takes the last one's as the signal that ended the process. */
static int write_prstatus(struct writer *w, const struct snapshot *s,
			  const struct snapshot_thread *t)
{
	struct elf_prstatus p;
	int sig = s->has_siginfo ? s->siginfo.si_signo : 0;

	_Static_assert(sizeof(p.pr_reg) == sizeof(t->regs), "pr_reg is user_regs_struct");
	memset(&p, 0, sizeof(p));
	p.pr_info.si_signo = sig;
	p.pr_cursig = sig;
	p.pr_pid = t->tid;
	p.pr_ppid = s->ppid;
	memcpy(&p.pr_reg, &t->regs, sizeof(p.pr_reg));
	p.pr_fpvalid = 1;
	return note(w, "CORE", NT_PRSTATUS, &p, sizeof(p));
}

/* The thread's other register sets, as the kernel's x86-64 regset view orders them. */
static int write_regsets(struct writer *w, const struct snapshot_thread *t)
{
	int err = note(w, "CORE", NT_FPREGSET, &t->fpregs, sizeof(t->fpregs));

	if (!err && t->xstate)
		err = note(w, "LINUX", NT_X86_XSTATE, t->xstate, t->xstate_len);
	return err;
}

static int write_prpsinfo(struct writer *w, const struct snapshot *s)
{
	static const char states[] = "RSDTZW";
	const char *st = s->state ? strchr(states, s->state) : NULL;
	struct elf_prpsinfo p;
	size_t n = s->cmdline_len;

	memset(&p, 0, sizeof(p));
	p.pr_state = st ? st - states : 0;
	p.pr_sname = s->state ? s->state : '.';
	p.pr_zomb = s->state == 'Z';
	p.pr_uid = s->uid;
	p.pr_gid = s->gid;
	p.pr_pid = s->pid;
	p.pr_ppid = s->ppid;
	memcpy(p.pr_fname, s->comm, strnlen(s->comm, sizeof(p.pr_fname) - 1));
	/* The command line's arguments with spaces between them, as ps shows it. */
	if (n && s->cmdline[n - 1] == '\0')
		n--;
	if (n > sizeof(p.pr_psargs) - 1)
		n = sizeof(p.pr_psargs) - 1;
	for (size_t i = 0; i < n; i++)
		p.pr_psargs[i] = s->cmdline[i] ? (char)s->cmdline[i] : ' ';
	return note(w, "CORE", NT_PRPSINFO, &p, sizeof(p));
}

/* NT_FILE: the count, the page size, a (start, end, offset in pages) per mapping of a file,
 * then the files' names, each ending in NUL. */
static int write_files(struct writer *w, const struct snapshot *s, const struct layout *l)
{
	uint64_t head[2] = { l->n_files, l->page };
	int err = note_begin(w, "CORE", NT_FILE, l->files_desc);

	if (!err)
		err = put_xwords(w, head, 2);
	for (size_t i = 0; !err && i < s->n_maps; i++) {
		const struct snapshot_map *m = &s->maps[i];
		uint64_t v[NT_FILE_WORDS] = { m->start, m->end, m->offset / l->page };

		if (is_file(m))
			err = put_xwords(w, v, NT_FILE_WORDS);
	}
	for (size_t i = 0; !err && i < s->n_maps; i++)
		if (is_file(&s->maps[i]))
			err = put(w, s->maps[i].path, strlen(s->maps[i].path) + 1);
	if (!err)
		err = note_end(w, l->files_desc);
	return err;
}

/* NT_X86_XSAVE_LAYOUT: a (feature, size, offset, flags) per extended feature, after every
 * thread's notes as the kernel writes it. */
static int write_xsave_layout(struct writer *w, const struct layout *l)
{
	uint64_t desc = __builtin_popcountll(l->xfeatures) * XFEAT_WORDS *
			elf64_fsize(ELF_T_WORD, 1, EV_CURRENT);
	int err = note_begin(w, "LINUX", NT_X86_XSAVE_LAYOUT, desc);

	for (unsigned f = 0; !err && f < 64; f++) {
		unsigned a, b, c, d;
		Elf64_Word v[XFEAT_WORDS];

		if (!(l->xfeatures & (1ull << f)))
			continue;
		__cpuid_count(0xd, f, a, b, c, d);
		v[0] = f;
		v[1] = a; /* size */
		v[2] = b; /* offset in the standard (non-compacted) form ptrace gives */
		v[3] = 0;
		err = put_elf(w, ELF_T_WORD, v, sizeof(v), XFEAT_WORDS);
	}
	if (!err)
		err = note_end(w, desc);
	return err;
}

/* NT_SALVE_MAPS: the count, the words per record, a (start, end, offset, flags, major,
 * minor, inode) per mapping, then every mapping's path ending in NUL. */
static int write_maps(struct writer *w, const struct snapshot *s, const struct layout *l)
{
	uint64_t head[2] = { s->n_maps, COREFILE_MAP_WORDS };
	int err = note_begin(w, COREFILE_SALVE_OWNER, NT_SALVE_MAPS, l->maps_desc);

	_Static_assert(COREFILE_MAP_WORDS <= MAX_WORDS, "a record goes out in one put_xwords");
	if (!err)
		err = put_xwords(w, head, 2);
	for (size_t i = 0; !err && i < s->n_maps; i++) {
		const struct snapshot_map *m = &s->maps[i];
		uint64_t v[COREFILE_MAP_WORDS] = {
			m->start, m->end, m->offset,
			(m->read ? COREFILE_MAP_READ : 0) | (m->write ? COREFILE_MAP_WRITE : 0) |
				(m->exec ? COREFILE_MAP_EXEC : 0) |
				(m->shared ? COREFILE_MAP_SHARED : 0),
			m->major, m->minor, m->inode,
		};

		err = put_xwords(w, v, COREFILE_MAP_WORDS);
	}
	for (size_t i = 0; !err && i < s->n_maps; i++)
		err = put(w, map_path(&s->maps[i]), strlen(map_path(&s->maps[i])) + 1);
	if (!err)
		err = note_end(w, l->maps_desc);
	return err;
}

static int write_notes(struct writer *w, const struct snapshot *s, const struct layout *l)
{
	size_t first = first_thread(s);
	int err;

	err = write_prstatus(w, s, &s->threads[first]);
	if (!err)
		err = write_prpsinfo(w, s);
	if (!err && s->has_siginfo)
		err = note(w, "CORE", NT_SIGINFO, &s->siginfo, sizeof(s->siginfo));
	if (!err && s->auxv_len)
		err = note(w, "CORE", NT_AUXV, s->auxv, s->auxv_len);
	if (!err && l->n_files)
		err = write_files(w, s, l);
	if (!err)
		err = write_regsets(w, &s->threads[first]);
	for (size_t i = 0; !err && i < s->n_threads; i++) {
		if (i == first)
			continue;
		err = write_prstatus(w, s, &s->threads[i]);
		if (!err)
			err = write_regsets(w, &s->threads[i]);
	}
	if (!err && l->xfeatures)
		err = write_xsave_layout(w, l);
	if (!err)
		err = write_maps(w, s, l);
	return err;
}

static int write_memory(struct writer *w, const struct snapshot *s, const struct layout *l)
{
	uint64_t off = l->data_off;
	int err = pad_to(w, off);

	for (size_t i = 0; !err && i < s->n_maps; i++) {
		uint64_t len = map_filesz(&s->maps[i]);

		if (!len)
			continue;
		err = pad_to(w, off);
		if (!err)
			err = put(w, s->maps[i].data, len);
		off += align_up(len, l->page);
	}
	if (!err)
		err = pad_to(w, off);
	return err;
}

/* Section header 0 holding the program header count when it does not fit e_phnum. */
static int write_xnum(struct writer *w, const struct layout *l)
{
	Elf64_Shdr sh = { .sh_type = SHT_NULL, .sh_info = l->segs };
	int err = pad_to(w, l->shoff);

	if (!err)
		err = put_elf(w, ELF_T_SHDR, &sh, sizeof(sh), 1);
	return err;
}

static int check(const struct snapshot *s)
{
	if (!s->n_threads || !s->threads)
		return -EINVAL;
	for (size_t i = 0; i < s->n_threads; i++)
		if (s->threads[i].xstate && s->threads[i].xstate_len > UINT32_MAX)
			return -EINVAL;
	if (s->auxv_len > UINT32_MAX)
		return -EINVAL;
	for (size_t i = 0; i < s->n_maps; i++) {
		const struct snapshot_map *m = &s->maps[i];

		if (m->end <= m->start || (i && m->start < s->maps[i - 1].end))
			return -EINVAL;
	}
	return 0;
}

int corefile_write(const struct snapshot *s, corefile_sink *sink, void *ctx, uint64_t *bytes)
{
	struct writer w = { .sink = sink, .ctx = ctx };
	struct layout l;
	int err;

	if (bytes)
		*bytes = 0;
	err = check(s);
	if (err)
		return err;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOSYS;
	layout(s, &l);
	if (l.files_desc > UINT32_MAX || l.maps_desc > UINT32_MAX)
		return -EINVAL;

	err = write_ehdr(&w, &l);
	if (!err)
		err = write_phdrs(&w, s, &l);
	if (!err)
		err = write_notes(&w, s, &l);
	if (!err)
		err = write_memory(&w, s, &l);
	if (!err && l.xnum)
		err = write_xnum(&w, &l);
	if (err)
		return err;
	if (w.off != l.size)
		return -EINVAL;
	if (bytes)
		*bytes = w.off;
	return 0;
}
