#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "symbolize.h"

#define SYMBOLIZER_FILES 64 /* ELF files kept parsed; the least recently used goes */

struct sym {
	uint64_t addr, size;
	const char *name; /* into the file's string storage */
};

struct segment {
	uint64_t offset, filesz, vaddr;
};

struct elf_file {
	char *path;
	uint64_t dev, ino; /* the kernel's encoding, as in records */
	uint64_t used; /* lookup clock at last use */
	struct segment *segs;
	size_t n_segs;
	struct sym *syms; /* sorted by addr */
	size_t n_syms;
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
	free(f->syms);
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

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Collect the functions of one symbol table; names are copied into f->strings later. */
static int read_symtab(Elf *elf, Elf_Scn *scn, GElf_Shdr *sh, struct sym **syms, size_t *n,
		       size_t *cap, size_t *str_bytes)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t count = sh->sh_entsize ? sh->sh_size / sh->sh_entsize : 0;

	for (size_t i = 0; data && i < count; i++) {
		GElf_Sym st;
		const char *name;
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
		if (*n == *cap) {
			size_t ncap = *cap ? *cap * 2 : 256;
			struct sym *ns = realloc(*syms, ncap * sizeof(*ns));

			if (!ns)
				return -ENOMEM;
			*syms = ns;
			*cap = ncap;
		}
		(*syms)[(*n)++] = (struct sym){ st.st_value, st.st_size, name };
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

/* Parse the PT_LOAD segments, the build id and the functions of .symtab, then
 * .dynsym. */
static int file_parse(struct elf_file *f, Elf *elf)
{
	struct sym *syms = NULL;
	size_t n = 0, cap = 0, str_bytes = 0, nph;
	Elf_Scn *scn = NULL;
	int err = 0;
	char *p;

	if (elf_kind(elf) != ELF_K_ELF || elf_getphdrnum(elf, &nph))
		return -ENOEXEC;
	f->segs = calloc(nph ? nph : 1, sizeof(*f->segs));
	if (!f->segs)
		return -ENOMEM;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_LOAD)
			f->segs[f->n_segs++] = (struct segment){ ph.p_offset, ph.p_filesz, ph.p_vaddr };
	}
	read_build_id(elf, f->build_id);
	for (int want = SHT_SYMTAB; want >= 0; want = want == SHT_SYMTAB ? SHT_DYNSYM : -1) {
		scn = NULL;
		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;

			if (gelf_getshdr(scn, &sh) && sh.sh_type == (unsigned)want &&
			    (err = read_symtab(elf, scn, &sh, &syms, &n, &cap, &str_bytes)))
				goto out;
		}
		if (n)
			break; /* .dynsym only when there is no .symtab */
	}
	f->strings = malloc(str_bytes ? str_bytes : 1);
	if (!f->strings) {
		err = -ENOMEM;
		goto out;
	}
	p = f->strings;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(syms[i].name) + 1;

		memcpy(p, syms[i].name, len);
		syms[i].name = p;
		p += len;
	}
	qsort(syms, n, sizeof(*syms), cmp_sym);
	f->syms = syms;
	f->n_syms = n;
	syms = NULL;
out:
	free(syms);
	return err;
}

static uint64_t kernel_dev(dev_t dev)
{
	return ((uint64_t)major(dev) << 20) | minor(dev);
}

static int file_open(const char *path, uint64_t dev, uint64_t ino, struct elf_file **out)
{
	struct elf_file *f = calloc(1, sizeof(*f));
	Elf *elf;
	int fd, err;

	if (!f)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		free(f);
		return err;
	}
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	err = elf ? file_parse(f, elf) : -ENOEXEC;
	elf_end(elf);
	close(fd);
	if (!err && !(f->path = strdup(path)))
		err = -ENOMEM;
	if (err) {
		file_free(f);
		return err;
	}
	f->dev = dev;
	f->ino = ino;
	*out = f;
	return 0;
}

static int file_get(struct symbolizer *s, const struct symbolizer_file *id, struct elf_file **out)
{
	struct elf_file *f = NULL;
	uint64_t dev = id->dev, ino = id->ino;
	struct stat st;
	size_t slot;
	int err;

	/* The identity the kernel recorded is enough to find a file parsed before. */
	for (size_t i = 0; ino && i < s->n_files; i++) {
		if (s->files[i]->ino == ino && s->files[i]->dev == dev &&
		    !strcmp(s->files[i]->path, id->path)) {
			*out = s->files[i];
			return 0;
		}
	}
	if (stat(id->path, &st))
		return -errno;
	if (ino && (st.st_ino != ino || kernel_dev(st.st_dev) != dev))
		return -ESTALE;
	dev = kernel_dev(st.st_dev);
	ino = st.st_ino;
	/* Without an identity from the kernel, the stat decides; a replaced file goes. */
	for (size_t i = 0; i < s->n_files; i++) {
		if (strcmp(s->files[i]->path, id->path))
			continue;
		if (s->files[i]->ino == ino && s->files[i]->dev == dev) {
			*out = s->files[i];
			return 0;
		}
		file_free(s->files[i]);
		s->files[i] = s->files[--s->n_files];
		break;
	}
	if ((err = file_open(id->path, dev, ino, &f)))
		return err;
	if (s->n_files < SYMBOLIZER_FILES) {
		slot = s->n_files++;
	} else {
		slot = 0;
		for (size_t i = 1; i < s->n_files; i++)
			if (s->files[i]->used < s->files[slot]->used)
				slot = i;
		file_free(s->files[slot]);
	}
	s->files[slot] = f;
	*out = f;
	return 0;
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
	struct elf_file *f = NULL;
	size_t lo = 0, hi;
	uint64_t addr;
	int err;

	if ((err = file_get(s, file, &f)))
		return err;
	f->used = ++s->clock;
	for (size_t i = 0; i < f->n_segs && !seg; i++)
		if (file_off >= f->segs[i].offset && file_off < f->segs[i].offset + f->segs[i].filesz)
			seg = &f->segs[i];
	if (!seg)
		return -ENOENT;
	addr = file_off - seg->offset + seg->vaddr;
	/* The last symbol starting at or before addr. */
	hi = f->n_syms;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (f->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return -ENOENT;
	/* Among symbols at the same address, one whose size covers addr. */
	for (size_t i = lo; i-- > 0 && f->syms[i].addr == f->syms[lo - 1].addr;) {
		const struct sym *sy = &f->syms[i];

		if (addr < sy->addr + sy->size || !sy->size) {
			/* A zero-size symbol is taken only within its own segment. */
			if (!sy->size && sy->addr < seg->vaddr)
				return -ENOENT;
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
	f->used = ++s->clock;
	if (!f->build_id[0])
		return -ENOENT;
	memcpy(hex, f->build_id, BUILD_ID_HEX_MAX);
	return 0;
}
