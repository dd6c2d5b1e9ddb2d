/* symbolize: each ELF file is opened once, with libelf, and handed to libdwfl as one
 * module at its own addresses; libdwfl finds its debug file or MiniDebugInfo, and its
 * functions go to a table sorted by address: a lookup is a binary search, and a stat at
 * most once a second per file. Source lines and inlined functions come from libdw, once
 * per address, kept in a small table per file. Frames named for stacks (symbolizer_name)
 * are kept, strings and all, in one open-addressed table keyed by (parse version, file
 * offset, caller), its strings bump-allocated in chunks: a hit is one probe. */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
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
#include "symbols/elffile.h"
#include "symbols/symbolize.h"

_Static_assert(BUILD_ID_HEX_MAX == ELFFILE_BUILD_ID_MAX, "one build id size");

#define SYMBOLIZER_FILES 64 /* ELF files kept parsed; the least recently used goes */
#define SRC_MAX 16384       /* addresses whose DWARF answer a file keeps; then it starts over */
#define DEBUG_ROOT "/usr/lib/debug"

struct sym {
	uint64_t addr;
	/* Sized: addr + st_size. Zero-size: how far it may stand for the code after it,
	 * the end of its section and executable segment (addr when not in code). */
	uint64_t end;
	uint64_t reach; /* the furthest end of any sized symbol up to this one in its table */
	const char *name; /* into libdwfl's copy of the symbol strings */
	char *demangled;  /* the C++ name, made on first use; NULL: none or not yet */
	uint32_t shown_len; /* of the name shown (demangled or not); 0: not known yet */
	bool sized;
	uint8_t rank; /* among aliases the higher is shown */
};

/* Sorted by addr; among symbols at one address the preferred one comes last, where a
 * backward walk meets it first. */
struct symtab {
	struct sym *syms;
	size_t n, cap;
};

/* One inlined function of an address: offsets of its strings in the text after them. */
struct src_inl {
	uint32_t name, name_len, file, file_len, line;
};

/* What is known of one address: its function, and what DWARF says, in text: n_inl
 * struct src_inl, then their strings and the file's, back to back. */
struct src {
	uint64_t key;  /* module address << 1 | caller; 0: empty */
	struct sym *sy; /* NULL: no function there */
	char *text;    /* NULL: no DWARF for it */
	uint32_t line, file, file_len, n_inl;
};

struct segment {
	uint64_t offset, filesz, vaddr;
	bool exec;
};

struct elf_file {
	uint64_t version; /* this parse's number: no other parse of its symbolizer has had it */
	struct elf_file *retired; /* next on the symbolizer's list of parses dropped mid-stack */
	char *path;
	uint64_t dev, ino; /* the kernel's encoding, as in records */
	struct timespec mtime;
	uint64_t size;
	uint64_t used; /* lookup clock at last use */
	time_t checked; /* monotonic second its path was last stat'ed against it */
	struct segment *segs; /* at module addresses (the file's own plus bias) */
	size_t n_segs;
	struct elffile ef; /* ours; libdwfl holds a reference to its Elf */
	Dwfl *dwfl;        /* this file alone, as one module */
	Dwfl_Module *mod;
	struct symtab tab; /* .symtab, or the debug file's, or .dynsym and MiniDebugInfo */
	struct src *srcs;  /* open addressing, src_cap slots (a power of 2), src_n used */
	size_t src_cap, src_n;
	char build_id[BUILD_ID_HEX_MAX]; /* "" when the file has none */
};

/* Strings of the frames kept, bump-allocated. */
struct chunk {
	struct chunk *next;
	size_t used, cap;
	_Alignas(8) char data[];
};

/* A frame named, kept per (parse, file offset, caller). */
struct kept {
	uint64_t version; /* of the parse that named it; 0: an empty slot */
	uint64_t file_off;
	bool caller;
	const struct symbol_frame *frame; /* in the table's chunks; NULL: no function there */
};

/* The frames kept across stacks. What was handed out since the stack began stays until
 * the next one begins: a table full mid-stack retires its chunks, a parse dropped
 * mid-stack waits on a list, both freed when the next stack begins. */
struct names {
	struct kept *slots; /* SYMBOLIZER_NAMES_SLOTS, open addressing; NULL until first used */
	size_t n;
	size_t bytes; /* of strings in chunks */
	struct chunk *chunks, *retired_chunks;
	struct elf_file *retired_files;
	bool handed_out; /* a parse or a frame was returned since the stack began */
	struct symbolizer_names_stats stats;
};

struct symbolizer {
	struct elf_file *files[SYMBOLIZER_FILES];
	size_t n_files;
	uint64_t clock;
	uint64_t versions; /* the last parse's version */
	char *debug_path; /* libdwfl's search path: beside the file, .debug/, the debug root */
	Dwfl_Callbacks callbacks;
	struct names names;
	struct symbol scratch; /* a frame named on its way into the names kept */
};

/* libdwfl asks for the module's ELF file: the one already open, by reference, so the
 * bytes named are those of the file the kernel mapped, even once it is deleted. */
static int find_elf(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr base,
		    char **file_name, Elf **elfp)
{
	struct elf_file *f = *userdata;

	(void)mod, (void)name, (void)base;
	*file_name = strdup(f->path);
	*elfp = elf_begin(f->ef.fd, ELF_C_READ, f->ef.elf);
	return -1; /* the descriptor stays ours */
}

int symbolizer_new_opts(const struct symbolizer_opts *opts, struct symbolizer **out)
{
	const char *root = opts && opts->debug_root ? opts->debug_root : DEBUG_ROOT;
	struct symbolizer *s;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOTSUP;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	/* An empty element: beside the file; ".debug": its .debug folder; the root: by
	 * build id, and by the file's own folder below it. */
	if (!(s->debug_path = malloc(strlen(root) + sizeof(":.debug:")))) {
		free(s);
		return -ENOMEM;
	}
	sprintf(s->debug_path, ":.debug:%s", root);
	s->callbacks = (Dwfl_Callbacks){
		.find_elf = find_elf,
		.find_debuginfo = dwfl_standard_find_debuginfo,
		.section_address = dwfl_offline_section_address,
		.debuginfo_path = &s->debug_path,
	};
	*out = s;
	return 0;
}

int symbolizer_new(struct symbolizer **out)
{
	return symbolizer_new_opts(NULL, out);
}

static void file_free(struct elf_file *f)
{
	if (!f)
		return;
	dwfl_end(f->dwfl);
	elffile_close(&f->ef);
	for (size_t i = 0; i < f->tab.n; i++)
		free(f->tab.syms[i].demangled);
	free(f->tab.syms);
	for (size_t i = 0; i < f->src_cap; i++)
		free(f->srcs[i].text);
	free(f->srcs);
	free(f->path);
	free(f->segs);
	free(f);
}

static void chunks_free(struct chunk *c)
{
	while (c) {
		struct chunk *next = c->next;

		free(c);
		c = next;
	}
}

/* What was dropped while the last stack's names were in use. */
static void names_release(struct names *t)
{
	while (t->retired_files) {
		struct elf_file *next = t->retired_files->retired;

		file_free(t->retired_files);
		t->retired_files = next;
	}
	chunks_free(t->retired_chunks);
	t->retired_chunks = NULL;
}

void symbolizer_free(struct symbolizer *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_files; i++)
		file_free(s->files[i]);
	names_release(&s->names);
	chunks_free(s->names.chunks);
	free(s->names.slots);
	free(s->debug_path);
	free(s);
}

/* f leaves the cache: freed now, or when the next stack begins if a stack may still
 * point into it. */
static void file_drop(struct symbolizer *s, struct elf_file *f)
{
	if (!s->names.handed_out) {
		file_free(f);
		return;
	}
	f->retired = s->names.retired_files;
	s->names.retired_files = f;
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
 * _init must not name the .plt after it) nor past the end of its executable segment.
 * addr is a module address; the section is of elf, whose addresses are off by bias. */
static uint64_t unsized_end(const struct elf_file *f, Elf *elf, GElf_Word shndx, uint64_t addr,
			    Dwarf_Addr bias)
{
	uint64_t end = addr;
	Elf_Scn *scn;
	GElf_Shdr sh;

	for (size_t i = 0; i < f->n_segs; i++) {
		const struct segment *g = &f->segs[i];

		if (g->exec && addr >= g->vaddr && addr - g->vaddr < g->filesz)
			end = g->vaddr + g->filesz;
	}
	if (!elf || shndx == SHN_UNDEF || shndx >= SHN_LORESERVE || !(scn = elf_getscn(elf, shndx)) ||
	    !gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_EXECINSTR) || addr < sh.sh_addr + bias ||
	    addr - sh.sh_addr - bias >= sh.sh_size)
		return addr;
	return sh.sh_addr + bias + sh.sh_size < end ? sh.sh_addr + bias + sh.sh_size : end;
}

/* The functions of the module's symbol table, as libdwfl chose it: .symtab, or the debug
 * file's, or .dynsym with the MiniDebugInfo's. */
static int read_symbols(struct elf_file *f)
{
	struct symtab *t = &f->tab;
	int count = dwfl_module_getsymtab(f->mod);
	uint64_t reach = 0;

	for (int i = 0; i < count; i++) {
		GElf_Sym st;
		GElf_Addr addr;
		GElf_Word shndx;
		Elf *elf = NULL;
		Dwarf_Addr bias = 0;
		const char *name = dwfl_module_getsym_info(f->mod, i, &st, &addr, &shndx, &elf, &bias);
		struct sym *sy;
		int type;

		if (!name || !*name)
			continue;
		type = GELF_ST_TYPE(st.st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || shndx == SHN_UNDEF || !st.st_value)
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
			.addr = addr,
			.end = st.st_size ? addr + st.st_size : unsized_end(f, elf, shndx, addr, bias),
			.name = name,
			.sized = st.st_size != 0,
			.rank = sym_rank(&st, name),
		};
		if (sy->end < sy->addr) /* a size that wraps: take it as no size */
			*sy = (struct sym){ .addr = sy->addr, .end = sy->addr, .name = name };
	}
	if (t->n)
		qsort(t->syms, t->n, sizeof(*t->syms), cmp_sym);
	for (size_t i = 0; i < t->n; i++) {
		struct sym *sy = &t->syms[i];

		if (sy->sized && sy->end > reach)
			reach = sy->end;
		sy->reach = reach;
	}
	return 0;
}

/* The PT_LOAD segments that hold bytes of the file, and the span libdwfl will take as
 * the module's when its first segment starts there: [lo, hi) at the file's addresses. */
static int read_segments(struct elf_file *f, uint64_t *lo, uint64_t *hi)
{
	bool first = true;
	size_t nph;

	*lo = *hi = 0;
	if (elf_getphdrnum(f->ef.elf, &nph))
		return -ENOEXEC;
	f->segs = calloc(nph ? nph : 1, sizeof(*f->segs));
	if (!f->segs)
		return -ENOMEM;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(f->ef.elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (first)
			*lo = ph.p_vaddr & -ph.p_align; /* as libdwfl reckons its bias */
		first = false;
		if (ph.p_vaddr + ph.p_memsz > *hi)
			*hi = ph.p_vaddr + ph.p_memsz;
		if (ph.p_filesz)
			f->segs[f->n_segs++] = (struct segment){
				ph.p_offset, ph.p_filesz, ph.p_vaddr, !!(ph.p_flags & PF_X)
			};
	}
	return 0;
}

/* The file as one libdwfl module at its own addresses: its segments, build id and
 * functions. A file with no loaded segment has nothing to name. */
static int file_parse(struct symbolizer *s, struct elf_file *f)
{
	GElf_Addr bias;
	uint64_t lo, hi;
	void **userdata;
	int err;

	elffile_build_id(f->ef.elf, f->build_id);
	if ((err = read_segments(f, &lo, &hi)))
		return err;
	if (!f->n_segs || hi <= lo)
		return 0;
	if (!(f->dwfl = dwfl_begin(&s->callbacks)))
		return -ENOMEM;
	dwfl_report_begin(f->dwfl);
	f->mod = dwfl_report_module(f->dwfl, f->path, lo, hi);
	if (dwfl_report_end(f->dwfl, NULL, NULL) || !f->mod)
		return -ENOMEM;
	dwfl_module_info(f->mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL);
	*userdata = f;
	if (!dwfl_module_getelf(f->mod, &bias))
		return -ENOEXEC;
	for (size_t i = 0; i < f->n_segs; i++)
		f->segs[i].vaddr += bias;
	return read_symbols(f);
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
			file_drop(s, s->files[i]);
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
		file_drop(s, s->files[slot]);
	} else {
		s->n_files++;
	}
	s->files[slot] = f;
}

/* Read the file at id->path, checked against the identity the kernel recorded. */
static int file_load(struct symbolizer *s, const struct symbolizer_file *id, struct elf_file **out)
{
	struct elf_file *f = calloc(1, sizeof(*f));
	int err;

	if (!f)
		return -ENOMEM;
	f->version = ++s->versions;
	/* The file stays open with the parse: a deleted file can still be read. */
	err = elffile_open(id->path, &f->ef, NULL, 0);
	if (err) {
		free(f);
		return err == -EISDIR ? -ENOEXEC : err;
	}
	f->dev = events_kernel_dev(f->ef.st.st_dev);
	f->ino = f->ef.st.st_ino;
	f->mtime = f->ef.st.st_mtim;
	f->size = f->ef.st.st_size;
	if (id->ino && (f->ino != id->ino || f->dev != id->dev)) {
		err = -ESTALE; /* replaced between stat and open */
		goto err;
	}
	if (!(f->path = strdup(id->path))) {
		err = -ENOMEM;
		goto err;
	}
	if ((err = file_parse(s, f)))
		goto err;
	cache_insert(s, f);
	*out = f;
	return 0;
err:
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

/* Copy src, n bytes long, into dst of size len, cut with "..." when it does not fit. */
static void copy_text(char *dst, size_t len, const char *src, size_t n)
{
	if (n < len) {
		memcpy(dst, src, n + 1);
		return;
	}
	memcpy(dst, src, len - 4);
	memcpy(dst + len - 4, "...", 4);
}

/* The C++ runtime's demangler, from libstdc++ (its ABI, callable from C). */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

/* name as written in source: "_ZN2ns5parseEPKc" becomes "ns::parse(char const*)"; a
 * versioned name (name@VERSION in a .symtab) loses its version to the demangler. NULL
 * when it is not a C++ name, or one the demangler cannot read; else malloc'd. */
static char *demangle(const char *name)
{
	const char *at = strchr(name, '@');
	char *copy = NULL, *out;
	int status = -1;

	if (strncmp(name, "_Z", 2))
		return NULL;
	if (at && !(name = copy = strndup(name, at - name)))
		return NULL;
	out = __cxa_demangle(name, NULL, NULL, &status);
	free(copy);
	if (status) {
		free(out);
		return NULL;
	}
	return out;
}

/* Copy the name sy is shown by into dst (SYMBOL_NAME_MAX). */
static void sym_name(struct sym *sy, char *dst)
{
	if (!sy->shown_len) {
		sy->demangled = demangle(sy->name);
		sy->shown_len = strlen(sy->demangled ? sy->demangled : sy->name);
	}
	copy_text(dst, SYMBOL_NAME_MAX, sy->demangled ? sy->demangled : sy->name, sy->shown_len);
}

/* ---- source lines and inlined functions, from DWARF ------------------------------- */

struct text_buf {
	char *buf;
	size_t len, cap;
	bool failed;
};

static uint32_t text_add(struct text_buf *t, const char *str)
{
	size_t n = strlen(str ? str : "") + 1;
	uint32_t at = (uint32_t)t->len;

	if (t->failed)
		return 0;
	if (t->len + n > t->cap) {
		size_t ncap = (t->cap ? t->cap : 256) * 2 + t->len + n;
		char *nb = realloc(t->buf, ncap);

		if (!nb) {
			t->failed = true;
			return 0;
		}
		t->buf = nb;
		t->cap = ncap;
	}
	memcpy(t->buf + t->len, str ? str : "", n);
	t->len += n;
	return at;
}

/* A source file's name as addr2line gives it: a relative one joined to the directory
 * it was compiled in. Into buf (len), cut when too long. */
static const char *src_path(const char *comp_dir, const char *file, char *buf, size_t len)
{
	if (!file || file[0] == '/' || !comp_dir || !*comp_dir)
		return file;
	snprintf(buf, len, "%s/%s", comp_dir, file);
	return buf;
}

/* A subprogram's or inlined function's name as a debugger shows it: its linkage name
 * demangled, else its DWARF name. malloc'd or NULL. */
static char *die_name(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
	char *out;

	if (!name)
		name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr));
	if (name && (out = demangle(name)))
		return out;
	name = dwarf_diename(die);
	return strdup(name ? name : "??");
}

/* Fill src from DWARF for module address addr (the key's). Without DWARF there, src
 * says nothing (no file, no line, nothing inlined). */
static int src_read(struct elf_file *f, uint64_t addr, struct src *src)
{
	struct src_inl inl[SYMBOL_INLINED_MAX];
	struct text_buf t = { 0 };
	const char *file = NULL, *comp_dir;
	char path[SYMBOL_FILE_MAX]; /* a joined name, until text has it */
	Dwarf_Attribute cattr;
	Dwarf_Die *cu, *scopes = NULL;
	Dwarf_Files *files = NULL;
	Dwarf_Addr bias;
	Dwfl_Line *line;
	size_t n_files = 0;
	int lineno = 0, n;

	src->n_inl = 0;
	src->line = 0;
	src->text = NULL;
	if (!f->mod || !(cu = dwfl_module_addrdie(f->mod, addr, &bias)))
		return 0;
	t.len = sizeof(inl); /* room for the inlined functions' offsets, filled in at the end */
	comp_dir = dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &cattr));
	if ((line = dwfl_module_getsrc(f->mod, addr)))
		file = src_path(comp_dir, dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL),
				path, sizeof(path));
	if (dwarf_getsrcfiles(cu, &files, &n_files))
		files = NULL;
	/* dwarf_getscopes goes on from an inlined function into its abstract definition;
	 * the chain of concrete instances around the innermost scope is its DIE's. */
	n = dwarf_getscopes(cu, addr - bias, &scopes);
	if (n > 0) {
		Dwarf_Die inner = scopes[0];

		free(scopes);
		scopes = NULL;
		n = dwarf_getscopes_die(&inner, &scopes);
	}
	for (int i = 0; i < n; i++) {
		Dwarf_Attribute attr;
		Dwarf_Word call_file = 0, call_line = 0;
		int tag = dwarf_tag(&scopes[i]);

		if (tag == DW_TAG_subprogram)
			break;
		if (tag != DW_TAG_inlined_subroutine)
			continue;
		if (src->n_inl < SYMBOL_INLINED_MAX) {
			char *name = die_name(&scopes[i]);

			inl[src->n_inl].name = text_add(&t, name ? name : "??");
			inl[src->n_inl].name_len = strlen(name ? name : "??");
			inl[src->n_inl].file = text_add(&t, file);
			inl[src->n_inl].file_len = strlen(file ? file : "");
			inl[src->n_inl++].line = lineno > 0 ? lineno : 0;
			free(name);
		}
		/* Where it was inlined: the line in the function around it. */
		dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_file, &attr), &call_file);
		dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_line, &attr), &call_line);
		file = files && call_file < n_files ? dwarf_filesrc(files, call_file, NULL, NULL) : NULL;
		file = src_path(comp_dir, file, path, sizeof(path));
		lineno = (int)call_line;
	}
	free(scopes);
	src->file = text_add(&t, file && lineno > 0 ? file : "");
	src->file_len = strlen(t.failed ? "" : t.buf + src->file);
	src->line = file && lineno > 0 ? lineno : 0;
	if (t.failed) {
		free(t.buf);
		src->n_inl = 0;
		return -ENOMEM;
	}
	memcpy(t.buf, inl, sizeof(inl));
	src->text = t.buf;
	return 0;
}

static size_t src_slot(const struct src *srcs, size_t cap, uint64_t key)
{
	size_t i = (key * 0x9e3779b97f4a7c15ull) >> 32 & (cap - 1);

	while (srcs[i].key && srcs[i].key != key)
		i = (i + 1) & (cap - 1);
	return i;
}

/* Room for one more answer: the table doubles up to SRC_MAX, and there starts over. */
static int src_room(struct elf_file *f)
{
	size_t cap = f->src_cap ? f->src_cap * 2 : 64;
	struct src *ns;

	if (f->src_cap && (f->src_n + 1) * 4 <= f->src_cap * 3)
		return 0;
	if (cap > SRC_MAX) {
		for (size_t i = 0; i < f->src_cap; i++)
			free(f->srcs[i].text);
		memset(f->srcs, 0, f->src_cap * sizeof(*f->srcs));
		f->src_n = 0;
		return 0;
	}
	if (!(ns = calloc(cap, sizeof(*ns))))
		return -ENOMEM;
	for (size_t i = 0; i < f->src_cap; i++)
		if (f->srcs[i].key)
			ns[src_slot(ns, cap, f->srcs[i].key)] = f->srcs[i];
	free(f->srcs);
	f->srcs = ns;
	f->src_cap = cap;
	return 0;
}

/* What is known of addr, found once and kept in the file's table. NULL when out of
 * memory. */
static const struct src *src_get(struct elf_file *f, uint64_t addr, bool caller)
{
	uint64_t key = addr << 1 | caller | (uint64_t)!addr << 63; /* never 0 */
	struct src fresh = { .key = key };
	size_t i;

	if (f->src_cap && f->srcs[i = src_slot(f->srcs, f->src_cap, key)].key == key)
		return &f->srcs[i];
	if (src_room(f))
		return NULL;
	fresh.sy = (struct sym *)table_find(&f->tab, addr);
	if (fresh.sy && src_read(f, addr, &fresh))
		return NULL;
	i = src_slot(f->srcs, f->src_cap, key);
	f->srcs[i] = fresh;
	f->src_n++;
	return &f->srcs[i];
}

/* Name the frame at file_off of the parse f into out, as symbolizer_lookup_frame. */
static int frame_lookup(struct elf_file *f, uint64_t file_off, bool caller, struct symbol *out)
{
	const struct segment *seg = NULL;
	const struct src *src;
	uint64_t addr, at;

	/* Where a file page is mapped twice, the frame ran in the executable one. */
	for (size_t i = 0; i < f->n_segs; i++) {
		const struct segment *g = &f->segs[i];

		if (file_off >= g->offset && file_off - g->offset < g->filesz && (!seg || g->exec))
			seg = g;
	}
	if (!seg)
		return -ENOENT;
	addr = file_off - seg->offset + seg->vaddr;
	/* A return address may be just past a call that never returns, at the end of its
	 * function: the call is the byte before. */
	at = caller && addr > seg->vaddr ? addr - 1 : addr;
	if (!(src = src_get(f, at, caller))) {
		/* Out of memory for what DWARF says: the name still stands. */
		struct sym *sy = (struct sym *)table_find(&f->tab, at);

		if (!sy)
			return -ENOENT;
		sym_name(sy, out->name);
		out->offset = addr - sy->addr;
		out->file[0] = 0;
		out->line = 0;
		out->n_inlined = 0;
		return 0;
	}
	if (!src->sy)
		return -ENOENT;
	sym_name(src->sy, out->name);
	out->offset = addr - src->sy->addr;
	out->line = src->line;
	out->n_inlined = src->n_inl;
	if (!src->text) {
		out->file[0] = 0;
		return 0;
	}
	copy_text(out->file, sizeof(out->file), src->text + src->file, src->file_len);
	for (uint32_t i = 0; i < src->n_inl; i++) {
		const struct src_inl *inl = (const struct src_inl *)src->text + i;
		struct symbol_inlined *in = &out->inlined[i];

		copy_text(in->name, sizeof(in->name), src->text + inl->name, inl->name_len);
		copy_text(in->file, sizeof(in->file), src->text + inl->file, inl->file_len);
		in->line = inl->line;
	}
	return 0;
}

int symbolizer_lookup_frame(struct symbolizer *s, const struct symbolizer_file *file,
			    uint64_t file_off, bool caller, struct symbol *out)
{
	struct elf_file *f;
	int err = file_get(s, file, &f);

	return err ? err : frame_lookup(f, file_off, caller, out);
}

int symbolizer_lookup(struct symbolizer *s, const struct symbolizer_file *file,
		      uint64_t file_off, struct symbol *out)
{
	return symbolizer_lookup_frame(s, file, file_off, false, out);
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

/* ---- names kept across stacks ------------------------------------------------------ */

#define CHUNK_BYTES 65536

int symbolizer_warm(struct symbolizer *s, const char *path)
{
	struct elf_file *f;
	Dwarf_Addr bias;
	int err = file_get(s, &(struct symbolizer_file){ path, 0, 0 }, &f);

	/* libdw reads (and inflates) a file's DWARF whole when it is first asked for it. */
	if (!err && f->mod)
		dwfl_module_getdwarf(f->mod, &bias);
	return err;
}

void symbolizer_stack_begin(struct symbolizer *s)
{
	names_release(&s->names);
	s->names.handed_out = false;
}

int symbolizer_parse(struct symbolizer *s, const struct symbolizer_file *file,
		     const struct symbolizer_parse **out)
{
	struct elf_file *f;
	int err = file_get(s, file, &f);

	if (err)
		return err;
	s->names.handed_out = true;
	*out = (const struct symbolizer_parse *)f;
	return 0;
}

const char *symbolizer_parse_build_id(const struct symbolizer_parse *p)
{
	return ((const struct elf_file *)p)->build_id;
}

static size_t kept_slot(const struct kept *slots, uint64_t version, uint64_t file_off, bool caller)
{
	uint64_t h = ((file_off << 1 | caller) ^ version * 0xff51afd7ed558ccdull) *
		     0x9e3779b97f4a7c15ull;
	size_t i = (h >> 32) & (SYMBOLIZER_NAMES_SLOTS - 1);

	while (slots[i].version && (slots[i].version != version || slots[i].file_off != file_off ||
				    slots[i].caller != caller))
		i = (i + 1) & (SYMBOLIZER_NAMES_SLOTS - 1);
	return i;
}

/* The table starts over; strings a stack may still point at wait for the next one. */
static void names_clear(struct names *t)
{
	struct chunk **last = &t->chunks;

	if (t->handed_out) {
		while (*last)
			last = &(*last)->next;
		*last = t->retired_chunks;
		t->retired_chunks = t->chunks;
	} else {
		chunks_free(t->chunks);
	}
	t->chunks = NULL;
	t->bytes = 0;
	t->n = 0;
	memset(t->slots, 0, SYMBOLIZER_NAMES_SLOTS * sizeof(*t->slots));
	t->stats.cleared++;
}

/* len bytes of the table's chunks, 8-aligned; NULL when out of memory. */
static void *names_alloc(struct names *t, size_t len)
{
	struct chunk *c = t->chunks;
	void *at;

	len = (len + 7) & ~(size_t)7;
	if (!c || c->cap - c->used < len) {
		size_t cap = len > CHUNK_BYTES ? len : CHUNK_BYTES;

		if (!(c = malloc(sizeof(*c) + cap)))
			return NULL;
		*c = (struct chunk){ .next = t->chunks, .cap = cap };
		t->chunks = c;
	}
	at = c->data + c->used;
	c->used += len;
	t->bytes += len;
	return at;
}

static const char *names_text(struct names *t, const char *str, size_t len)
{
	char *dst = names_alloc(t, len + 1);

	if (dst)
		memcpy(dst, str, len + 1);
	return dst;
}

/* sym (the frame as named) in the table's chunks; NULL when out of memory. */
static const struct symbol_frame *names_keep(struct names *t, const struct symbol *sym)
{
	struct symbol_frame_inlined *inl = NULL;
	struct symbol_frame *fr = names_alloc(t, sizeof(*fr));

	if (!fr)
		return NULL;
	*fr = (struct symbol_frame){ .offset = sym->offset, .line = sym->line,
				     .n_inlined = sym->n_inlined };
	if (sym->n_inlined && !(inl = names_alloc(t, sym->n_inlined * sizeof(*inl))))
		return NULL;
	fr->inlined = inl;
	if (!(fr->name = names_text(t, sym->name, strlen(sym->name))) ||
	    !(fr->file = names_text(t, sym->file, strlen(sym->file))))
		return NULL;
	for (size_t i = 0; i < sym->n_inlined; i++) {
		const struct symbol_inlined *in = &sym->inlined[i];

		inl[i].line = in->line;
		if (!(inl[i].name = names_text(t, in->name, strlen(in->name))) ||
		    !(inl[i].file = names_text(t, in->file, strlen(in->file))))
			return NULL;
	}
	return fr;
}

/* The bytes sym's strings take in the chunks, at most. */
static size_t names_size(const struct symbol *sym)
{
	size_t n = sizeof(struct symbol_frame) + sym->n_inlined * sizeof(struct symbol_frame_inlined) +
		   strlen(sym->name) + strlen(sym->file) + 16;

	for (size_t i = 0; i < sym->n_inlined; i++)
		n += strlen(sym->inlined[i].name) + strlen(sym->inlined[i].file) + 16;
	return n;
}

int symbolizer_name(struct symbolizer *s, const struct symbolizer_parse *p, uint64_t file_off,
		    bool caller, const struct symbol_frame **out)
{
	struct elf_file *f = (struct elf_file *)p;
	struct names *t = &s->names;
	struct kept *k;
	int err;

	if (!t->slots && !(t->slots = calloc(SYMBOLIZER_NAMES_SLOTS, sizeof(*t->slots))))
		return -ENOMEM;
	t->handed_out = true;
	k = &t->slots[kept_slot(t->slots, f->version, file_off, caller)];
	if (k->version) {
		t->stats.hits++;
		*out = k->frame;
		return k->frame ? 0 : -ENOENT;
	}
	t->stats.misses++;
	err = frame_lookup(f, file_off, caller, &s->scratch);
	if (err && err != -ENOENT)
		return err;
	if (t->n + 1 > SYMBOLIZER_NAMES_MAX ||
	    (!err && t->bytes + names_size(&s->scratch) > SYMBOLIZER_NAMES_BYTES)) {
		names_clear(t);
		k = &t->slots[kept_slot(t->slots, f->version, file_off, caller)];
	}
	*k = (struct kept){ .file_off = file_off, .caller = caller };
	/* Out of memory: what it took stays in the chunks until they go. */
	if (!err && !(k->frame = names_keep(t, &s->scratch)))
		return -ENOMEM;
	k->version = f->version;
	t->n++;
	*out = k->frame;
	return err;
}

void symbolizer_names_stats(const struct symbolizer *s, struct symbolizer_names_stats *out)
{
	*out = s->names.stats;
	out->kept = s->names.n;
}
