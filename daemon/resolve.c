#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resolve.h"

static const char nop5[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };

int resolve_binary(const char *name, char *path, size_t len, char *err, size_t err_len)
{
	static const char *const dirs[] = { "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
					    "/lib64", "/usr/lib64", "/lib", "/usr/lib" };
	struct stat st;

	if (strchr(name, '/')) {
		if (stat(name, &st)) {
			snprintf(err, err_len, "%s: %s", name, strerror(errno));
			return -errno;
		}
		snprintf(path, len, "%s", name);
		return 0;
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, len, "%s/%s", dirs[i], name);
		if (!stat(path, &st) && S_ISREG(st.st_mode))
			return 0;
	}
	snprintf(err, err_len, "%s: not found in the default library directories", name);
	return -ENOENT;
}

/* The file offset of vaddr, through the PT_LOAD segment that holds it. */
static int file_offset(Elf *elf, uint64_t vaddr, uint64_t *off)
{
	size_t n;

	if (elf_getphdrnum(elf, &n))
		return -ENOEXEC;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_LOAD && vaddr >= ph.p_vaddr &&
		    vaddr < ph.p_vaddr + ph.p_filesz) {
			*off = vaddr - ph.p_vaddr + ph.p_offset;
			return 0;
		}
	}
	return -ENOENT;
}

/* Find name among the functions of the symbol tables; the closest other name goes to
 * near for the message. */
static int find_function(Elf *elf, const char *name, GElf_Sym *out, char *near, size_t near_len)
{
	size_t want = strlen(name), best = (size_t)-1;
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *data;
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM) ||
		    !sh.sh_entsize || !(data = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			const char *s;
			GElf_Sym sym;
			size_t common = 0;

			if (!gelf_getsym(data, i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
			    sym.st_shndx == SHN_UNDEF || !(s = elf_strptr(elf, sh.sh_link, sym.st_name)))
				continue;
			if (!strcmp(s, name)) {
				*out = sym;
				return 0;
			}
			while (s[common] && s[common] == name[common])
				common++;
			if (common && want - common < best) {
				best = want - common;
				snprintf(near, near_len, " (closest: \"%s\")", s);
			}
		}
	}
	return -ENOENT;
}

static int open_elf(const char *path, int *fd, Elf **elf, char *err, size_t err_len)
{
	elf_version(EV_CURRENT);
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return -errno;
	}
	*elf = elf_begin(*fd, ELF_C_READ_MMAP, NULL);
	if (!*elf || elf_kind(*elf) != ELF_K_ELF) {
		elf_end(*elf);
		close(*fd);
		snprintf(err, err_len, "%s: not an ELF file", path);
		return -ENOEXEC;
	}
	return 0;
}

static void read_nop5(int fd, struct resolve_site *out)
{
	char entry[5];

	out->nop5 = pread(fd, entry, sizeof(entry), out->offset) == sizeof(entry) &&
		    !memcmp(entry, nop5, sizeof(nop5));
}

int resolve_symbol(const char *path, const char *symbol, const struct resolve_opts *opts,
		   struct resolve_site *out, char *err, size_t err_len)
{
	char near[300] = "";
	GElf_Sym sym;
	Elf *elf;
	int fd, rc;

	(void)opts;
	if ((rc = open_elf(path, &fd, &elf, err, err_len)))
		return rc;
	memset(out, 0, sizeof(*out));
	snprintf(out->path, sizeof(out->path), "%s", path);
	rc = find_function(elf, symbol, &sym, near, sizeof(near));
	if (rc)
		snprintf(err, err_len, "%s: no function \"%s\"%s", path, symbol, near);
	else if ((rc = file_offset(elf, sym.st_value, &out->offset)))
		snprintf(err, err_len, "%s: function \"%s\" is in no loaded segment", path, symbol);
	if (!rc) {
		out->size = sym.st_size;
		read_nop5(fd, out);
	}
	elf_end(elf);
	close(fd);
	return rc;
}

int resolve_offset(const char *path, uint64_t offset, struct resolve_site *out, char *err,
		   size_t err_len)
{
	Elf *elf;
	size_t n;
	int fd, rc;

	if ((rc = open_elf(path, &fd, &elf, err, err_len)))
		return rc;
	memset(out, 0, sizeof(*out));
	snprintf(out->path, sizeof(out->path), "%s", path);
	out->offset = offset;
	rc = -ERANGE;
	if (!elf_getphdrnum(elf, &n)) {
		for (size_t i = 0; i < n && rc; i++) {
			GElf_Phdr ph;

			if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_LOAD && (ph.p_flags & PF_X) &&
			    offset >= ph.p_offset && offset < ph.p_offset + ph.p_filesz)
				rc = 0;
		}
	}
	if (rc)
		snprintf(err, err_len, "%s: offset 0x%llx is not in executable code", path,
			 (unsigned long long)offset);
	else
		read_nop5(fd, out);
	elf_end(elf);
	close(fd);
	return rc;
}
