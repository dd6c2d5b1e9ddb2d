/* elffile: the one ELF reader of salved, shared by the probe resolver (kernel/resolve.c:
 * symbol to file offset) and the symbolizer (symbols/symbolize.c: file offset to name).
 *
 * It opens a file as libelf reads it safely in a daemon (O_NONBLOCK, so a FIFO in a
 * binary's place cannot hang it; ELF_C_READ, not mmap, so a file truncated under it
 * cannot SIGBUS it), reads the GNU build id, turns addresses into file offsets through
 * the PT_LOAD segments, names the debug file a build id gives, and walks the functions
 * of a symbol table with their symbol versions. Every function returns 0 or a negative
 * errno; err (may be NULL) gets one sentence naming the file, cut to err_len. */
#ifndef SALVE_ELFFILE_H
#define SALVE_ELFFILE_H

#include <gelf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define ELFFILE_BUILD_ID_MAX 65 /* 32 bytes of GNU build id as hex, and the NUL */

struct elffile {
	int fd;
	Elf *elf;
	struct stat st; /* of the file opened */
};

/* Open the ELF file at path. -ENOTSUP (libelf unusable), -EISDIR, -ENOEXEC (not a
 * regular file, or not ELF), or -errno of open. */
int elffile_open(const char *path, struct elffile *out, char *err, size_t err_len);
void elffile_close(struct elffile *f);

/* The NT_GNU_BUILD_ID note of any note section, as lower-case hex; "" when none. */
void elffile_build_id(Elf *elf, char hex[ELFFILE_BUILD_ID_MAX]);

/* The file offset of vaddr, through the PT_LOAD segment that holds it; -ERANGE. */
int elffile_offset_of(Elf *elf, uint64_t vaddr, uint64_t *off);

/* Whether off lies in an executable PT_LOAD segment. */
bool elffile_in_code(Elf *elf, uint64_t off);

/* Where a debug package puts the debug file of build_id: <root>/.build-id/xx/yyyy.debug.
 * -ENAMETOOLONG when it does not fit in len. */
int elffile_debug_path(const char *root, const char *build_id, char *buf, size_t len);

/* ---- symbol tables ---------------------------------------------------------------- */

struct elf_symtab {
	Elf *elf;
	Elf_Data *syms;
	size_t n, strtab;
	bool dynamic;      /* .dynsym: versions come from .gnu.version, not the names */
	Elf_Data *versym;  /* .gnu.version, NULL when there is none */
	const char **vers; /* version index -> name, from .gnu.version_d */
	size_t n_vers;
};

/* One defined function (STT_FUNC, STT_GNU_IFUNC) of a table. */
struct elf_fn {
	const char *name; /* into libelf's data */
	size_t len;       /* of the name without any @VERSION */
	const char *ver;  /* NULL: unversioned */
	bool hidden;      /* name@VER: not the default version */
	GElf_Sym sym;
};

/* The table of type (SHT_SYMTAB, SHT_DYNSYM) of elf; -ENOENT when there is none. */
int elf_symtab_open(Elf *elf, Elf64_Word type, struct elf_symtab *t);
void elf_symtab_close(struct elf_symtab *t);

/* Entry i of t, when it is a defined function with a name. */
bool elf_symtab_fn(const struct elf_symtab *t, size_t i, struct elf_fn *fn);

#endif
