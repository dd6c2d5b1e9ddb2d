/* corefile_read: a core corefile_write wrote, read back into a snapshot with libelf, for an
 * in-place rollback from a checkpoint on disk. The core is untrusted input (a file anyone
 * with access to the state directory could have changed): every size and offset is checked
 * against the bytes there before it is used, and what does not parse is refused by name. */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/procfs.h>
#include <unistd.h>
#include <zlib.h>

#include "actions/corefile.h"

#define PAGE 4096u
#define MAP_WORDS_MAX 64	/* the longest record of NT_SALVE_MAPS read */
#define GZ_FIRST (1u << 20)	/* a decompressed core's first buffer, doubled as it fills */
#define GZ_READ_MAX (1u << 30)	/* the most one gzread is asked for (it returns an int) */

struct reader {
	const uint8_t *core;
	size_t len;
	Elf *elf;
	struct snapshot *s;
	size_t threads_cap;
	bool fpregs; /* the last thread's NT_FPREGSET was read */
	bool psinfo, maps;
	char *err;
	size_t err_len;
};

__attribute__((format(printf, 2, 3))) static int fail(struct reader *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, r->err_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Whether [off, off + size) lies in the core. */
static bool in_core(const struct reader *r, uint64_t off, uint64_t size)
{
	return off <= r->len && size <= r->len - off;
}

/* ---- the ELF header and program headers ---- */

static int read_header(struct reader *r, size_t *phnum)
{
	const uint8_t *id = r->core;
	GElf_Ehdr eh;

	if (r->len < EI_NIDENT || memcmp(id, ELFMAG, SELFMAG))
		return fail(r, "not an ELF file%s", r->len < EI_NIDENT ? " (truncated)" : "");
	if (id[EI_CLASS] != ELFCLASS64 || id[EI_DATA] != ELFDATA2LSB)
		return fail(r, "not a 64-bit little-endian ELF file (class %u, data %u)",
			    id[EI_CLASS], id[EI_DATA]);
	if (r->len < elf64_fsize(ELF_T_EHDR, 1, EV_CURRENT))
		return fail(r, "truncated: %zu bytes, shorter than an ELF header", r->len);
	/* libelf reads the image in place: it is not changed for a native byte order. */
	if (!(r->elf = elf_memory((char *)r->core, r->len)) || elf_kind(r->elf) != ELF_K_ELF ||
	    !gelf_getehdr(r->elf, &eh))
		return fail(r, "its ELF header: %s", elf_errmsg(-1));
	if (eh.e_type != ET_CORE)
		return fail(r, "not a core file (e_type %u)", eh.e_type);
	if (eh.e_machine != EM_X86_64)
		return fail(r, "not an x86-64 core (e_machine %u)", eh.e_machine);
	if (eh.e_phentsize != elf64_fsize(ELF_T_PHDR, 1, EV_CURRENT))
		return fail(r, "program headers of %u bytes, not %zu", eh.e_phentsize,
			    elf64_fsize(ELF_T_PHDR, 1, EV_CURRENT));
	if (eh.e_phnum == PN_XNUM &&
	    !in_core(r, eh.e_shoff, elf64_fsize(ELF_T_SHDR, 1, EV_CURRENT)))
		return fail(r, "truncated: section header 0, which holds the program header count, "
			    "is past the end");
	if (elf_getphdrnum(r->elf, phnum))
		return fail(r, "its program header count: %s", elf_errmsg(-1));
	if (!*phnum || eh.e_phoff > r->len || *phnum > (r->len - eh.e_phoff) / eh.e_phentsize)
		return fail(r, "truncated: %zu program headers at offset %" PRIu64
			    " do not fit in %zu bytes", *phnum, (uint64_t)eh.e_phoff, r->len);
	return 0;
}

/* ---- notes ---- */

static bool owner_is(const char *name, size_t namesz, const char *want)
{
	return namesz == strlen(want) + 1 && !memcmp(name, want, namesz);
}

/* The thread of the last NT_PRSTATUS, whose register sets follow it; NULL (err says so
 * when what names the note) before the first. */
static struct snapshot_thread *current_thread(struct reader *r, const char *what)
{
	if (!r->s->n_threads) {
		if (what)
			fail(r, "%s before any NT_PRSTATUS", what);
		return NULL;
	}
	return &r->s->threads[r->s->n_threads - 1];
}

/* A thread's floating point registers are written back with the others: zeros would unmask
 * every floating point exception (MXCSR), so a thread without them is refused. */
static int no_fpregs(struct reader *r, const struct snapshot_thread *t)
{
	return fail(r, "thread %d: no NT_FPREGSET", (int)t->tid);
}

static int wrong_size(struct reader *r, const char *what, size_t got, size_t want)
{
	return fail(r, "%s of %zu bytes, not %zu", what, got, want);
}

/* A thread: its id and registers. The first thread's pr_cursig is the signal that stopped
 * it, which the snapshot was taken on (corefile_write puts that thread first and the
 * process's signal in every thread's note, as the kernel does). */
static int note_prstatus(struct reader *r, const uint8_t *desc, size_t len)
{
	struct snapshot *s = r->s;
	struct elf_prstatus p;
	struct snapshot_thread *t;

	if (len != sizeof(p))
		return wrong_size(r, "NT_PRSTATUS", len, sizeof(p));
	if ((t = current_thread(r, NULL)) && !r->fpregs)
		return no_fpregs(r, t);
	memcpy(&p, desc, sizeof(p));
	r->fpregs = false;
	if (s->n_threads == r->threads_cap) {
		size_t cap = r->threads_cap ? r->threads_cap * 2 : 8;
		struct snapshot_thread *more = realloc(s->threads, cap * sizeof(*more));

		if (!more)
			return -ENOMEM;
		s->threads = more;
		r->threads_cap = cap;
	}
	t = &s->threads[s->n_threads++];
	memset(t, 0, sizeof(*t));
	t->tid = p.pr_pid;
	memcpy(&t->regs, &p.pr_reg, sizeof(t->regs));
	t->sig = s->n_threads == 1 ? p.pr_cursig : 0;
	return 0;
}

static int note_fpregset(struct reader *r, const uint8_t *desc, size_t len)
{
	struct snapshot_thread *t = current_thread(r, "NT_FPREGSET");

	if (!t)
		return -EINVAL;
	if (len != sizeof(t->fpregs))
		return wrong_size(r, "NT_FPREGSET", len, sizeof(t->fpregs));
	if (r->fpregs)
		return fail(r, "thread %d: two NT_FPREGSET notes", (int)t->tid);
	memcpy(&t->fpregs, desc, len);
	r->fpregs = true;
	return 0;
}

static int note_xstate(struct reader *r, const uint8_t *desc, size_t len)
{
	struct snapshot_thread *t = current_thread(r, "NT_X86_XSTATE");

	if (!t)
		return -EINVAL;
	if (t->xstate)
		return fail(r, "thread %d: two NT_X86_XSTATE notes", (int)t->tid);
	if (!len || len > SNAPSHOT_XSTATE_MAX)
		return fail(r, "thread %d: NT_X86_XSTATE of %zu bytes, not 1 to %d", (int)t->tid,
			    len, SNAPSHOT_XSTATE_MAX);
	if (!(t->xstate = malloc(len)))
		return -ENOMEM;
	memcpy(t->xstate, desc, len);
	t->xstate_len = len;
	return 0;
}

static int note_prpsinfo(struct reader *r, const uint8_t *desc, size_t len)
{
	struct snapshot *s = r->s;
	struct elf_prpsinfo p;

	if (len != sizeof(p))
		return wrong_size(r, "NT_PRPSINFO", len, sizeof(p));
	if (r->psinfo)
		return fail(r, "two NT_PRPSINFO notes");
	r->psinfo = true;
	memcpy(&p, desc, sizeof(p));
	s->pid = p.pr_pid;
	s->ppid = p.pr_ppid;
	s->uid = p.pr_uid;
	s->gid = p.pr_gid;
	_Static_assert(sizeof(p.pr_fname) == sizeof(s->comm), "comm is pr_fname");
	memcpy(s->comm, p.pr_fname, sizeof(s->comm) - 1);
	s->comm[sizeof(s->comm) - 1] = '\0';
	s->state = p.pr_sname == '.' ? 0 : p.pr_sname;
	return 0;
}

static int note_auxv(struct reader *r, const uint8_t *desc, size_t len)
{
	struct snapshot *s = r->s;

	if (s->auxv)
		return fail(r, "two NT_AUXV notes");
	if (!len)
		return 0;
	if (!(s->auxv = malloc(len)))
		return -ENOMEM;
	memcpy(s->auxv, desc, len);
	s->auxv_len = len;
	return 0;
}

static int note_siginfo(struct reader *r, const uint8_t *desc, size_t len)
{
	if (len != sizeof(r->s->siginfo))
		return wrong_size(r, "NT_SIGINFO", len, sizeof(r->s->siginfo));
	if (r->s->has_siginfo)
		return fail(r, "two NT_SIGINFO notes");
	memcpy(&r->s->siginfo, desc, len);
	r->s->has_siginfo = true;
	return 0;
}

/* words 64-bit words of the core at p, in memory's byte order. */
static int xwords(struct reader *r, const uint8_t *p, uint64_t *out, size_t words)
{
	Elf_Data src = { .d_buf = (void *)p, .d_type = ELF_T_XWORD,
			 .d_size = words * sizeof(uint64_t), .d_version = EV_CURRENT };
	Elf_Data dst = { .d_buf = out, .d_type = ELF_T_XWORD,
			 .d_size = words * sizeof(uint64_t), .d_version = EV_CURRENT };

	if (!elf64_xlatetom(&dst, &src, ELFDATA2LSB))
		return fail(r, "NT_SALVE_MAPS: %s", elf_errmsg(-1));
	return 0;
}

static int map_record(struct reader *r, size_t i, const uint64_t *w)
{
	struct snapshot_map *m = &r->s->maps[i];

	m->start = w[0];
	m->end = w[1];
	m->offset = w[2];
	m->read = w[3] & COREFILE_MAP_READ;
	m->write = w[3] & COREFILE_MAP_WRITE;
	m->exec = w[3] & COREFILE_MAP_EXEC;
	m->shared = w[3] & COREFILE_MAP_SHARED;
	m->inode = w[6];
	if (w[4] > UINT32_MAX || w[5] > UINT32_MAX)
		return fail(r, "NT_SALVE_MAPS: mapping %zu: device %#" PRIx64 ":%#" PRIx64, i, w[4],
			    w[5]);
	m->major = (unsigned)w[4];
	m->minor = (unsigned)w[5];
	if (m->end <= m->start || m->start % PAGE || m->end % PAGE)
		return fail(r, "NT_SALVE_MAPS: mapping %zu: %#" PRIx64 "-%#" PRIx64
			    " is not a range of whole pages", i, m->start, m->end);
	if (i && m->start < m[-1].end)
		return fail(r, "NT_SALVE_MAPS: mapping %zu at %#" PRIx64 " is not after the one "
			    "before, which ends at %#" PRIx64, i, m->start, m[-1].end);
	return 0;
}

/* NT_SALVE_MAPS: the count, the words per record, the records, then the paths. */
static int note_maps(struct reader *r, const uint8_t *desc, size_t len)
{
	struct snapshot *s = r->s;
	uint64_t head[2], w[MAP_WORDS_MAX];
	const uint8_t *p, *end = desc + len;
	size_t rec;
	int err;

	if (r->maps)
		return fail(r, "two NT_SALVE_MAPS notes");
	r->maps = true;
	if (len < sizeof(head))
		return wrong_size(r, "NT_SALVE_MAPS", len, sizeof(head));
	if ((err = xwords(r, desc, head, 2)))
		return err;
	if (head[1] < COREFILE_MAP_WORDS || head[1] > MAP_WORDS_MAX)
		return fail(r, "NT_SALVE_MAPS: records of %" PRIu64 " words, not %d to %d", head[1],
			    COREFILE_MAP_WORDS, MAP_WORDS_MAX);
	rec = (size_t)head[1] * sizeof(uint64_t);
	if (head[0] > (len - sizeof(head)) / rec)
		return fail(r, "NT_SALVE_MAPS: %" PRIu64 " mappings do not fit in its %zu bytes",
			    head[0], len);
	if (head[0] && !(s->maps = calloc((size_t)head[0], sizeof(*s->maps))))
		return -ENOMEM;
	s->n_maps = (size_t)head[0];
	p = desc + sizeof(head);
	for (size_t i = 0; i < s->n_maps; i++, p += rec)
		if ((err = xwords(r, p, w, (size_t)head[1])) || (err = map_record(r, i, w)))
			return err;
	for (size_t i = 0; i < s->n_maps; i++) {
		const uint8_t *nul = memchr(p, '\0', (size_t)(end - p));

		if (!nul)
			return fail(r, "NT_SALVE_MAPS: the path of mapping %zu runs past the note",
				    i);
		if (!(s->maps[i].path = strdup((const char *)p)))
			return -ENOMEM;
		p = nul + 1;
	}
	return 0;
}

static int note(struct reader *r, const char *name, size_t namesz, uint32_t type,
		const uint8_t *desc, size_t len)
{
	if (owner_is(name, namesz, "CORE")) {
		switch (type) {
		case NT_PRSTATUS:
			return note_prstatus(r, desc, len);
		case NT_FPREGSET:
			return note_fpregset(r, desc, len);
		case NT_PRPSINFO:
			return note_prpsinfo(r, desc, len);
		case NT_AUXV:
			return note_auxv(r, desc, len);
		case NT_SIGINFO:
			return note_siginfo(r, desc, len);
		}
	} else if (owner_is(name, namesz, "LINUX") && type == NT_X86_XSTATE) {
		return note_xstate(r, desc, len);
	} else if (owner_is(name, namesz, COREFILE_SALVE_OWNER) && type == NT_SALVE_MAPS) {
		return note_maps(r, desc, len);
	}
	return 0; /* NT_FILE, the xstate's layout: what the snapshot does not hold */
}

static int read_notes(struct reader *r, size_t i, const GElf_Phdr *ph)
{
	size_t off = 0, next, name_off, desc_off;
	GElf_Nhdr nh;
	Elf_Data *d;
	int err;

	if (!in_core(r, ph->p_offset, ph->p_filesz))
		return fail(r, "truncated: the notes (program header %zu) at offset %" PRIu64
			    ", %" PRIu64 " bytes, are past the end", i, (uint64_t)ph->p_offset,
			    (uint64_t)ph->p_filesz);
	if (!ph->p_filesz)
		return 0;
	if (!(d = elf_getdata_rawchunk(r->elf, (int64_t)ph->p_offset, ph->p_filesz, ELF_T_NHDR)))
		return fail(r, "the notes at offset %" PRIu64 ": %s", (uint64_t)ph->p_offset,
			    elf_errmsg(-1));
	while (off < d->d_size && (next = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
		err = note(r, (const char *)d->d_buf + name_off, nh.n_namesz, nh.n_type,
			   (const uint8_t *)d->d_buf + desc_off, nh.n_descsz);
		if (err)
			return err;
		off = next;
	}
	if (off != d->d_size)
		return fail(r, "the notes at offset %" PRIu64 " do not parse at their byte %zu",
			    (uint64_t)ph->p_offset, off);
	return 0;
}

/* ---- memory ---- */

static bool zero(const uint8_t *p, size_t n)
{
	return !n || (!p[0] && !memcmp(p, p + 1, n - 1));
}

static struct snapshot_map *map_at(struct snapshot *s, uint64_t start)
{
	size_t lo = 0, hi = s->n_maps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->maps[mid].start == start)
			return &s->maps[mid];
		if (s->maps[mid].start < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* A PT_LOAD's bytes into its mapping's copy, as snapshot_take holds one: end - start bytes
 * of anonymous memory, pages of zeros left untouched (never faulted in). */
static int read_load(struct reader *r, size_t i, const GElf_Phdr *ph)
{
	struct snapshot_map *m = map_at(r->s, ph->p_vaddr);
	size_t len;

	if (!m || ph->p_memsz != m->end - m->start)
		return fail(r, "program header %zu: PT_LOAD %#" PRIx64 "+%#" PRIx64
			    " is no mapping of NT_SALVE_MAPS", i, (uint64_t)ph->p_vaddr, (uint64_t)ph->p_memsz);
	if (!ph->p_filesz)
		return 0;
	if (ph->p_filesz > ph->p_memsz)
		return fail(r, "program header %zu: PT_LOAD at %#" PRIx64 " has %" PRIu64
			    " bytes in the file, more than its %" PRIu64 " in memory", i,
			    m->start, (uint64_t)ph->p_filesz, (uint64_t)ph->p_memsz);
	if (m->data)
		return fail(r, "program header %zu: a second PT_LOAD at %#" PRIx64, i, m->start);
	if (!in_core(r, ph->p_offset, ph->p_filesz))
		return fail(r, "truncated: the memory at %#" PRIx64 " (%" PRIu64 " bytes at offset "
			    "%" PRIu64 ") is past the end of the core's %zu bytes", m->start,
			    (uint64_t)ph->p_filesz, (uint64_t)ph->p_offset, r->len);
	len = (size_t)(m->end - m->start);
	m->data = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m->data == MAP_FAILED) {
		m->data = NULL;
		snprintf(r->err, r->err_len, "no memory for a copy of %zu bytes at %#" PRIx64, len,
			 m->start);
		return -ENOMEM;
	}
	for (uint64_t o = 0; o < ph->p_filesz; o += PAGE) {
		const uint8_t *src = r->core + ph->p_offset + o;
		size_t n = ph->p_filesz - o < PAGE ? (size_t)(ph->p_filesz - o) : PAGE;

		if (!zero(src, n))
			memcpy(m->data + o, src, n);
	}
	m->copied = ph->p_filesz;
	r->s->memory_bytes += m->copied;
	return 0;
}

/* ---- the whole ---- */

static int read_core(struct reader *r)
{
	size_t phnum;
	GElf_Phdr ph;
	int err;

	if ((err = read_header(r, &phnum)))
		return err;
	for (size_t i = 0; i < phnum; i++) {
		if (!gelf_getphdr(r->elf, (int)i, &ph))
			return fail(r, "program header %zu: %s", i, elf_errmsg(-1));
		if (ph.p_type == PT_NOTE && (err = read_notes(r, i, &ph)))
			return err;
	}
	if (!r->maps)
		return fail(r, "not a core salve wrote: no NT_SALVE_MAPS note (owner %s) gives its "
			    "mappings, which a rollback checks", COREFILE_SALVE_OWNER);
	if (!r->psinfo)
		return fail(r, "no NT_PRPSINFO note: the process is not named");
	if (!r->s->n_threads)
		return fail(r, "no NT_PRSTATUS note: no thread");
	if (!r->fpregs)
		return no_fpregs(r, current_thread(r, NULL));
	for (size_t i = 0; i < phnum; i++) {
		if (!gelf_getphdr(r->elf, (int)i, &ph))
			return fail(r, "program header %zu: %s", i, elf_errmsg(-1));
		if (ph.p_type == PT_LOAD && (err = read_load(r, i, &ph)))
			return err;
	}
	return 0;
}

int corefile_read(const void *core, size_t len, struct snapshot **out, char *err, size_t err_len)
{
	struct reader r = { .core = core, .len = len, .err = err, .err_len = err_len };
	int ret;

	*out = NULL;
	if (err_len)
		err[0] = '\0';
	if (elf_version(EV_CURRENT) == EV_NONE) {
		snprintf(err, err_len, "libelf: %s", elf_errmsg(-1));
		return -ENOSYS;
	}
	if (!(r.s = calloc(1, sizeof(*r.s))))
		return -ENOMEM;
	ret = read_core(&r);
	elf_end(r.elf);
	if (ret) {
		if (ret == -ENOMEM && !r.err[0])
			snprintf(err, err_len, "out of memory");
		snapshot_free(r.s);
		return ret;
	}
	*out = r.s;
	return 0;
}

/* The whole of a gzip file in anonymous memory, doubled as it fills (mremap moves pages, it
 * does not copy them): gzip's trailer gives the size modulo 4 GiB only, and a core's own
 * headers do not give it before its end (the program header count of a core with 65535
 * mappings or more is in a section header at the end). */
static int gunzip(const char *path, uint8_t **buf_out, size_t *cap_out, size_t *len_out,
		  char *err, size_t err_len)
{
	size_t cap = GZ_FIRST, n = 0;
	int fd, zerr = Z_OK, r = 0;
	const char *msg = "";
	bool nomem = false;
	uint8_t *buf;
	gzFile gz;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		r = -errno;
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return r;
	}
	if (!(gz = gzdopen(fd, "rb"))) {
		close(fd);
		snprintf(err, err_len, "%s: out of memory", path);
		return -ENOMEM;
	}
	gzbuffer(gz, GZ_FIRST);
	buf = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	nomem = buf == MAP_FAILED;
	while (!nomem) {
		int got;

		if (n == cap) {
			uint8_t *more = cap <= SIZE_MAX / 2
						? mremap(buf, cap, cap * 2, MREMAP_MAYMOVE)
						: MAP_FAILED;

			if ((nomem = more == MAP_FAILED))
				break;
			buf = more;
			cap *= 2;
		}
		got = gzread(gz, buf + n,
			     (unsigned)(cap - n < GZ_READ_MAX ? cap - n : GZ_READ_MAX));
		if (got <= 0) {
			msg = gzerror(gz, &zerr);
			break;
		}
		n += (size_t)got;
	}
	if (nomem) {
		snprintf(err, err_len, "%s: no memory for the core past %zu bytes", path, n);
		r = -ENOMEM;
	} else if (zerr == Z_ERRNO) {
		r = -errno;
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
	} else if (zerr != Z_OK) {
		/* A truncated stream is Z_BUF_ERROR ("unexpected end of file"), which gzread
		 * does not return as an error: it ends as if the file did. */
		snprintf(err, err_len, "%s: not a whole gzip file: %s", path, msg);
		r = -EINVAL;
	}
	if (gzclose_r(gz) != Z_OK && !r) {
		snprintf(err, err_len, "%s: not a whole gzip file: it ends in its middle", path);
		r = -EINVAL;
	}
	if (r) {
		if (buf != MAP_FAILED)
			munmap(buf, cap);
		return r;
	}
	*buf_out = buf;
	*cap_out = cap;
	*len_out = n;
	return 0;
}

int corefile_read_gz(const char *path, struct snapshot **out, char *err, size_t err_len)
{
	char why[512];
	uint8_t *buf = NULL;
	size_t cap = 0, len = 0;
	int r;

	*out = NULL;
	if ((r = gunzip(path, &buf, &cap, &len, err, err_len)))
		return r;
	if ((r = corefile_read(buf, len, out, why, sizeof(why))))
		snprintf(err, err_len, "%s: %s", path, why);
	munmap(buf, cap);
	return r;
}
