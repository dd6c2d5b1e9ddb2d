/* symbolize: each ELF file is parsed once, with libelf, into tables of functions sorted
 * by address; a lookup is a binary search, and a stat at most once a second per file. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "events/events.h"
#include "symbols/symbolize.h"

#define SYMBOLIZER_FILES 64 /* ELF files kept parsed; the least recently used goes */

struct sym {
	uint64_t addr;
	/* Sized: addr + st_size. Zero-size: how far it may stand for the code after it,
	 * the end of its section and executable segment (addr when not in code). */
	uint64_t end;
	uint64_t reach; /* the furthest end of any sized symbol up to this one in its table */
	const char *name; /* into the file's strings */
	bool sized;
	uint8_t rank; /* among aliases the higher is shown */
};

/* Sorted by addr; among symbols at one address the preferred one comes last, where a
 * backward walk meets it first. */
struct symtab {
	struct sym *syms;
	size_t n, cap;
};

struct segment {
	uint64_t offset, filesz, vaddr;
	bool exec;
};

struct elf_file {
	char *path;
	uint64_t dev, ino; /* the kernel's encoding, as in records */
	struct timespec mtime;
	uint64_t size;
	uint64_t used; /* lookup clock at last use */
	time_t checked; /* monotonic second its path was last stat'ed against it */
	struct segment *segs;
	size_t n_segs;
	struct symtab tabs[2]; /* .symtab, then .dynsym */
	char *strings;
	char build_id[BUILD_ID_HEX_MAX]; /* "" when the file has none */
};

struct symbolizer {
	struct elf_file *files[SYMBOLIZER_FILES];
	size_t n_files;
	uint64_t clock;
};

int symbolizer_new(struct symbolizer **out)
{
	struct symbolizer *s;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOTSUP;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	*out = s;
	return 0;
}

static void file_free(struct elf_file *f)
{
	if (!f)
		return;
	free(f->path);
	free(f->segs);
	free(f->tabs[0].syms);
	free(f->tabs[1].syms);
	free(f->strings);
	free(f);
}

void symbolizer_free(struct symbolizer *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_files; i++)
		file_free(s->files[i]);
	free(s);
}

static int cmp_sym(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* The tightest, then the best ranked, then the first name: last. */
	if (x->end != y->end)
		return x->end > y->end ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return strcmp(y->name, x->name);
}

/* A global name before a weak or local alias, and "malloc" before "__libc_malloc". */
static uint8_t sym_rank(const GElf_Sym *st, const char *name)
{
	int bind = GELF_ST_BIND(st->st_info);
	uint8_t rank = bind == STB_GLOBAL ? 4 : bind == STB_WEAK ? 2 : 0;

	return rank + (name[0] != '_');
}

/* How far a zero-size function may be taken to reach: never out of its section (an
 * _init must not name the .plt after it) nor past the end of its executable segment. */
static uint64_t unsized_end(const struct elf_file *f, Elf *elf, const GElf_Sym *st)
{
	uint64_t addr = st->st_value, end = addr;
	Elf_Scn *scn;
	GElf_Shdr sh;

	for (size_t i = 0; i < f->n_segs; i++) {
		const struct segment *g = &f->segs[i];

		if (g->exec && addr >= g->vaddr && addr - g->vaddr < g->filesz)
			end = g->vaddr + g->filesz;
	}
	if (st->st_shndx == SHN_XINDEX)
		return end; /* the section is in SHT_SYMTAB_SHNDX: the segment bounds it */
	if (st->st_shndx >= SHN_LORESERVE || !(scn = elf_getscn(elf, st->st_shndx)) ||
	    !gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_EXECINSTR) || addr < sh.sh_addr ||
	    addr - sh.sh_addr >= sh.sh_size)
		return addr;
	return sh.sh_addr + sh.sh_size < end ? sh.sh_addr + sh.sh_size : end;
}

/* Collect the functions of one symbol table. Names point into libelf's data until
 * file_parse copies them. */
static int read_symtab(struct elf_file *f, Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh,
		       struct symtab *t, size_t *str_bytes)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t count = data && sh->sh_entsize ? data->d_size / sh->sh_entsize : 0;

	for (size_t i = 0; i < count; i++) {
		struct sym *sy;
		const char *name;
		GElf_Sym st;
		int type;

		if (!gelf_getsym(data, i, &st))
			continue;
		type = GELF_ST_TYPE(st.st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || st.st_shndx == SHN_UNDEF ||
		    !st.st_value)
			continue;
		name = elf_strptr(elf, sh->sh_link, st.st_name);
		if (!name || !*name)
			continue;
		if (t->n == t->cap) {
			size_t ncap = t->cap ? t->cap * 2 : 256;
			struct sym *ns = realloc(t->syms, ncap * sizeof(*ns));

			if (!ns)
				return -ENOMEM;
			t->syms = ns;
			t->cap = ncap;
		}
		sy = &t->syms[t->n++];
		*sy = (struct sym){
			.addr = st.st_value,
			.end = st.st_size ? st.st_value + st.st_size : unsized_end(f, elf, &st),
			.name = name,
			.sized = st.st_size != 0,
			.rank = sym_rank(&st, name),
		};
		if (sy->end < sy->addr) /* a size that wraps: take it as no size */
			*sy = (struct sym){ .addr = sy->addr, .end = sy->addr, .name = name };
		*str_bytes += strlen(name) + 1;
	}
	return 0;
}

/* The NT_GNU_BUILD_ID note of any note section, as hex. */
static void read_build_id(Elf *elf, char *hex)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *data;
		GElf_Shdr sh;
		GElf_Nhdr nh;
		size_t off = 0, name_off, desc_off;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE || !(data = elf_getdata(scn, NULL)))
			continue;
		while ((off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
			const unsigned char *desc = (const unsigned char *)data->d_buf + desc_off;

			if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 ||
			    memcmp((const char *)data->d_buf + name_off, "GNU", 4) ||
			    nh.n_descsz * 2 >= BUILD_ID_HEX_MAX)
				continue;
			for (size_t i = 0; i < nh.n_descsz; i++)
				sprintf(hex + 2 * i, "%02x", desc[i]);
			return;
		}
	}
}

static int read_segments(struct elf_file *f, Elf *elf)
{
	size_t nph;

	if (elf_getphdrnum(elf, &nph))
		return -ENOEXEC;
	f->segs = calloc(nph ? nph : 1, sizeof(*f->segs));
	if (!f->segs)
		return -ENOMEM;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_LOAD && ph.p_filesz)
			f->segs[f->n_segs++] = (struct segment){
				ph.p_offset, ph.p_filesz, ph.p_vaddr, !!(ph.p_flags & PF_X)
			};
	}
	return 0;
}

/* Parse the PT_LOAD segments, the build id and the functions of .symtab and .dynsym;
 * the names move to one block the file owns. */
static int file_parse(struct elf_file *f, Elf *elf)
{
	static const unsigned int types[2] = { SHT_SYMTAB, SHT_DYNSYM };
	size_t str_bytes = 0;
	char *p;
	int err;

	if (elf_kind(elf) != ELF_K_ELF)
		return -ENOEXEC;
	if ((err = read_segments(f, elf)))
		return err;
	read_build_id(elf, f->build_id);
	for (int t = 0; t < 2; t++) {
		Elf_Scn *scn = NULL;

		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;

			if (gelf_getshdr(scn, &sh) && sh.sh_type == types[t] &&
			    (err = read_symtab(f, elf, scn, &sh, &f->tabs[t], &str_bytes)))
				return err;
		}
	}
	f->strings = malloc(str_bytes ? str_bytes : 1);
	if (!f->strings)
		return -ENOMEM;
	p = f->strings;
	for (int t = 0; t < 2; t++) {
		struct symtab *tab = &f->tabs[t];
		uint64_t reach = 0;

		if (tab->n)
			qsort(tab->syms, tab->n, sizeof(*tab->syms), cmp_sym);
		for (size_t i = 0; i < tab->n; i++) {
			struct sym *sy = &tab->syms[i];
			size_t len = strlen(sy->name) + 1;

			memcpy(p, sy->name, len);
			sy->name = p;
			p += len;
			if (sy->sized && sy->end > reach)
				reach = sy->end;
			sy->reach = reach;
		}
	}
	return 0;
}

static bool same_version(const struct elf_file *f, const struct stat *st)
{
	return f->mtime.tv_sec == st->st_mtim.tv_sec && f->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	       f->size == (uint64_t)st->st_size;
}

/* The parse of path as the file (dev, ino); of its current version when st is given. */
static struct elf_file *cache_find(struct symbolizer *s, const char *path, uint64_t dev,
				   uint64_t ino, const struct stat *st)
{
	for (size_t i = 0; i < s->n_files; i++) {
		struct elf_file *f = s->files[i];

		if (f->ino == ino && f->dev == dev && !strcmp(f->path, path) &&
		    (!st || same_version(f, st)))
			return f;
	}
	return NULL;
}

static void cache_insert(struct symbolizer *s, struct elf_file *f)
{
	size_t slot = s->n_files;

	/* An older version of the same inode is gone for good. */
	for (size_t i = 0; i < s->n_files; i++) {
		if (s->files[i]->ino == f->ino && s->files[i]->dev == f->dev &&
		    !strcmp(s->files[i]->path, f->path)) {
			file_free(s->files[i]);
			s->files[i] = s->files[--s->n_files];
			slot = s->n_files;
			break;
		}
	}
	if (slot == SYMBOLIZER_FILES) {
		slot = 0;
		for (size_t i = 1; i < s->n_files; i++)
			if (s->files[i]->used < s->files[slot]->used)
				slot = i;
		file_free(s->files[slot]);
	} else {
		s->n_files++;
	}
	s->files[slot] = f;
}

/* Read the file at id->path, checked against the identity the kernel recorded. */
static int file_load(struct symbolizer *s, const struct symbolizer_file *id, struct elf_file **out)
{
	struct elf_file *f = calloc(1, sizeof(*f));
	Elf *elf = NULL;
	struct stat st;
	int fd, err;

	if (!f)
		return -ENOMEM;
	/* O_NONBLOCK: a FIFO put in a binary's place must not hang the daemon. */
	fd = open(id->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		err = -errno;
		goto err;
	}
	if (fstat(fd, &st)) {
		err = -errno;
		goto err;
	}
	f->dev = events_kernel_dev(st.st_dev);
	f->ino = st.st_ino;
	f->mtime = st.st_mtim;
	f->size = st.st_size;
	if (id->ino && (f->ino != id->ino || f->dev != id->dev)) {
		err = -ESTALE; /* replaced between stat and open */
		goto err;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -ENOEXEC;
		goto err;
	}
	/* ELF_C_READ, not mmap: a file truncated under us must not SIGBUS the daemon. */
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf) {
		err = -ENOEXEC;
		goto err;
	}
	if ((err = file_parse(f, elf)))
		goto err;
	if (!(f->path = strdup(id->path))) {
		err = -ENOMEM;
		goto err;
	}
	elf_end(elf);
	close(fd);
	cache_insert(s, f);
	*out = f;
	return 0;
err:
	elf_end(elf);
	if (fd >= 0)
		close(fd);
	file_free(f);
	return err;
}

static time_t now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec;
}

static int file_get(struct symbolizer *s, const struct symbolizer_file *id, struct elf_file **out)
{
	time_t now = now_seconds();
	struct elf_file *f;
	struct stat st;
	int err;

	/* Stacks come in bursts from the same files: the identity the kernel recorded finds
	 * the parse, and the path is stat'ed again only once a second for a rewrite. */
	f = id->ino ? cache_find(s, id->path, id->dev, id->ino, NULL) : NULL;
	if (f && f->checked == now)
		goto found;
	err = stat(id->path, &st) ? -errno : 0;
	if (!err && (!id->ino || (st.st_ino == id->ino && events_kernel_dev(st.st_dev) == id->dev))) {
		f = cache_find(s, id->path, events_kernel_dev(st.st_dev), st.st_ino, &st);
		if (!f && (err = file_load(s, id, &f)))
			return err;
		f->checked = now;
	} else {
		if (!err)
			err = -ESTALE; /* the path names another file now */
		/* Gone or replaced since it was mapped: a parse from before still names
		 * the frame. */
		if (!f)
			return err;
	}
found:
	f->used = ++s->clock;
	*out = f;
	return 0;
}

/* The innermost sized function holding addr; else the nearest function before addr
 * when it has no size (asm, crt files) and addr is within its reach. */
static const struct sym *table_find(const struct symtab *t, uint64_t addr)
{
	const struct sym *near;
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	/* Back only as far as an earlier sized symbol can still reach addr. */
	for (size_t i = lo; i-- > 0 && t->syms[i].reach > addr;)
		if (t->syms[i].sized && addr < t->syms[i].end)
			return &t->syms[i];
	near = &t->syms[lo - 1];
	/* A sized symbol at that address says where the code there ends. */
	for (size_t i = lo; i-- > 0 && t->syms[i].addr == near->addr;)
		if (t->syms[i].sized)
			return NULL;
	return addr == near->addr || addr < near->end ? near : NULL;
}

static void copy_name(char *dst, const char *src)
{
	size_t len = strlen(src);

	if (len < SYMBOL_NAME_MAX) {
		memcpy(dst, src, len + 1);
		return;
	}
	memcpy(dst, src, SYMBOL_NAME_MAX - 4);
	memcpy(dst + SYMBOL_NAME_MAX - 4, "...", 4);
}

int symbolizer_lookup(struct symbolizer *s, const struct symbolizer_file *file,
		      uint64_t file_off, struct symbol *out)
{
	const struct segment *seg = NULL;
	struct elf_file *f;
	uint64_t addr;
	int err;

	if ((err = file_get(s, file, &f)))
		return err;
	/* Where a file page is mapped twice, the frame ran in the executable one. */
	for (size_t i = 0; i < f->n_segs; i++) {
		const struct segment *g = &f->segs[i];

		if (file_off >= g->offset && file_off - g->offset < g->filesz && (!seg || g->exec))
			seg = g;
	}
	if (!seg)
		return -ENOENT;
	addr = file_off - seg->offset + seg->vaddr;
	for (int t = 0; t < 2; t++) {
		const struct sym *sy = table_find(&f->tabs[t], addr);

		if (sy) {
			copy_name(out->name, sy->name);
			out->offset = addr - sy->addr;
			return 0;
		}
	}
	return -ENOENT;
}

int symbolizer_build_id(struct symbolizer *s, const struct symbolizer_file *file,
			char hex[BUILD_ID_HEX_MAX])
{
	struct elf_file *f;
	int err = file_get(s, file, &f);

	if (err)
		return err;
	if (!f->build_id[0])
		return -ENOENT;
	memcpy(hex, f->build_id, BUILD_ID_HEX_MAX);
	return 0;
}
