/* elffile: opening ELF files, build ids, segments, debug file paths, symbol tables. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/hex.h"
#include "symbols/elffile.h"

#define VERSYM_HIDDEN 0x8000 /* name@VER: not the default version */
#define VERSYM_INDEX 0x7fff

#define SAY(...) (err && err_len ? (void)snprintf(err, err_len, __VA_ARGS__) : (void)0)

int elffile_open(const char *path, struct elffile *out, char *err, size_t err_len)
{
	int e;

	out->elf = NULL;
	out->fd = -1;
	if (elf_version(EV_CURRENT) == EV_NONE) {
		SAY("%s: libelf: %s", path, elf_errmsg(-1));
		return -ENOTSUP;
	}
	/* O_NONBLOCK: a FIFO put in a binary's place must not hang the daemon. */
	out->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (out->fd < 0 || fstat(out->fd, &out->st)) {
		e = errno;
		SAY("%s: %s", path, strerror(e));
		if (out->fd >= 0)
			close(out->fd);
		out->fd = -1;
		return -e;
	}
	if (S_ISDIR(out->st.st_mode)) {
		SAY("%s: %s", path, strerror(EISDIR));
		elffile_close(out);
		return -EISDIR;
	}
	/* ELF_C_READ, not mmap: a file truncated under us must not SIGBUS the daemon. */
	if (S_ISREG(out->st.st_mode))
		out->elf = elf_begin(out->fd, ELF_C_READ, NULL);
	if (!out->elf || elf_kind(out->elf) != ELF_K_ELF) {
		SAY("%s: not an ELF file", path);
		elffile_close(out);
		return -ENOEXEC;
	}
	return 0;
}

void elffile_close(struct elffile *f)
{
	elf_end(f->elf);
	f->elf = NULL;
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

void elffile_build_id(Elf *elf, char hex[ELFFILE_BUILD_ID_MAX])
{
	Elf_Scn *scn = NULL;

	hex[0] = '\0';
	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *data;
		GElf_Shdr sh;
		GElf_Nhdr nh;
		size_t off = 0, name_off, desc_off;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE ||
		    !(data = elf_getdata(scn, NULL)))
			continue;
		while ((off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
			const unsigned char *desc = (const unsigned char *)data->d_buf + desc_off;

			if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 ||
			    memcmp((const char *)data->d_buf + name_off, "GNU", 4) ||
			    !nh.n_descsz || nh.n_descsz * 2 >= ELFFILE_BUILD_ID_MAX)
				continue;
			hex_encode(desc, nh.n_descsz, hex);
			return;
		}
	}
}

int elffile_offset_of(Elf *elf, uint64_t vaddr, uint64_t *off)
{
	size_t n;

	if (elf_getphdrnum(elf, &n))
		return -ERANGE;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_LOAD && vaddr >= ph.p_vaddr &&
		    vaddr - ph.p_vaddr < ph.p_filesz) {
			*off = vaddr - ph.p_vaddr + ph.p_offset;
			return 0;
		}
	}
	return -ERANGE;
}

bool elffile_in_code(Elf *elf, uint64_t off)
{
	size_t n;

	if (elf_getphdrnum(elf, &n))
		return false;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_LOAD && (ph.p_flags & PF_X) &&
		    off >= ph.p_offset && off - ph.p_offset < ph.p_filesz)
			return true;
	}
	return false;
}

int elffile_debug_path(const char *root, const char *build_id, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/.build-id/%.2s/%s.debug", root, build_id,
			 build_id[0] && build_id[1] ? build_id + 2 : "");

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* ---- symbol tables ---------------------------------------------------------------- */

static int read_verdefs(struct elf_symtab *t, Elf_Scn *scn, const GElf_Shdr *sh)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	GElf_Verdef vd;
	GElf_Verdaux va;
	size_t max = 0;

	/* Two walks: the largest index sizes the array, then the names fill it. */
	for (int fill = 0; data && fill < 2; fill++) {
		size_t off = 0;

		if (fill && !(t->vers = calloc(max + 1, sizeof(*t->vers))))
			return -ENOMEM;
		if (fill)
			t->n_vers = max + 1;
		for (size_t i = 0; i < sh->sh_info && gelf_getverdef(data, off, &vd); i++) {
			if (!fill && vd.vd_ndx > max)
				max = vd.vd_ndx;
			else if (fill && gelf_getverdaux(data, off + vd.vd_aux, &va))
				t->vers[vd.vd_ndx] = elf_strptr(t->elf, sh->sh_link, va.vda_name);
			if (!vd.vd_next)
				break;
			off += vd.vd_next;
		}
	}
	return 0;
}

void elf_symtab_close(struct elf_symtab *t)
{
	free(t->vers);
	t->vers = NULL;
}

int elf_symtab_open(Elf *elf, Elf64_Word type, struct elf_symtab *t)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	int rc = -ENOENT;

	*t = (struct elf_symtab){ .elf = elf, .dynamic = type == SHT_DYNSYM };
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == type && sh.sh_entsize && (t->syms = elf_getdata(scn, NULL))) {
			t->n = sh.sh_size / sh.sh_entsize;
			t->strtab = sh.sh_link;
			rc = 0;
		} else if (t->dynamic && sh.sh_type == SHT_GNU_versym) {
			t->versym = elf_getdata(scn, NULL);
		} else if (t->dynamic && sh.sh_type == SHT_GNU_verdef && !t->vers) {
			int e = read_verdefs(t, scn, &sh);

			if (e)
				return e;
		}
	}
	if (rc)
		elf_symtab_close(t);
	return rc;
}

bool elf_symtab_fn(const struct elf_symtab *t, size_t i, struct elf_fn *fn)
{
	const char *at;
	GElf_Versym vs;
	int type;

	if (!gelf_getsym(t->syms, i, &fn->sym))
		return false;
	type = GELF_ST_TYPE(fn->sym.st_info);
	if ((type != STT_FUNC && type != STT_GNU_IFUNC) || fn->sym.st_shndx == SHN_UNDEF)
		return false;
	fn->name = elf_strptr(t->elf, t->strtab, fn->sym.st_name);
	if (!fn->name || !*fn->name)
		return false;
	fn->ver = NULL;
	fn->hidden = false;
	if (t->dynamic) {
		size_t idx;

		fn->len = strlen(fn->name);
		if (t->versym && gelf_getversym(t->versym, i, &vs) &&
		    (idx = vs & VERSYM_INDEX) >= 2 && idx < t->n_vers && t->vers[idx]) {
			fn->ver = t->vers[idx];
			fn->hidden = vs & VERSYM_HIDDEN;
		}
		return true;
	}
	/* The linker writes versions into .symtab names: name@VER, name@@VER. */
	at = strchr(fn->name, '@');
	fn->len = at ? (size_t)(at - fn->name) : strlen(fn->name);
	if (at) {
		fn->hidden = at[1] != '@';
		fn->ver = at + 1 + !fn->hidden;
	}
	return true;
}
