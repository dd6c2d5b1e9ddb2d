/* symbolize: name the function at an offset of an ELF file, with libelf.
 *
 * Works from the file alone (path + file offset, as the kernel records them), so a
 * stack can be named after its process has exited. The file offset is turned into a
 * virtual address through the PT_LOAD segment that holds it, which covers PIE and
 * non-PIE executables and shared libraries alike; the symbol is looked up in .symtab,
 * or in .dynsym when the file is stripped. Parsed files are cached by path, device and
 * inode, at most 64 of them. */
#ifndef SALVE_SYMBOLIZE_H
#define SALVE_SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>

struct symbolizer;

#define SYMBOL_NAME_MAX 512

struct symbol {
	char name[SYMBOL_NAME_MAX]; /* a longer name is cut and ends in "..." */
	uint64_t offset;            /* bytes from the start of the symbol */
};

int symbolizer_new(struct symbolizer **out);
void symbolizer_free(struct symbolizer *s);

#define BUILD_ID_HEX_MAX 65 /* 32 bytes of GNU build id as hex, and the NUL */

/* The file a frame ran in, as the kernel saw it mapped: its path and identity (the
 * kernel's dev_t, major << 20 | minor, and inode). dev and ino 0: not known. */
struct symbolizer_file {
	const char *path;
	uint64_t dev, ino;
};

/* Find the function holding file_off in file. 0 and *out filled; -ENOENT when no
 * symbol covers it; -ENOEXEC when the file is not ELF; -ESTALE when the path now names
 * another file than the one that was mapped (replaced since); other -errno when the
 * file cannot be read. A file already parsed under the same identity is not looked
 * at again. */
int symbolizer_lookup(struct symbolizer *s, const struct symbolizer_file *file,
		      uint64_t file_off, struct symbol *out);

/* The GNU build id of file as lower-case hex. -ENOENT when it has none; the other
 * errors as for symbolizer_lookup. */
int symbolizer_build_id(struct symbolizer *s, const struct symbolizer_file *file,
			char hex[BUILD_ID_HEX_MAX]);

#endif
