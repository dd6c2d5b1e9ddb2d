/* symbolize: name the function at an offset of an ELF file, with libelf.
 *
 * Works from the file alone (path + file offset, as the kernel records them), so a
 * stack can be named after its process has exited. The file offset is turned into a
 * virtual address through the PT_LOAD segment that holds it, which covers PIE and
 * non-PIE executables and shared libraries alike. The address is looked up in .symtab,
 * then in .dynsym (all a stripped file has): a function whose size covers it, else the
 * nearest function before it when that one has no size (asm, crt files), but never
 * past the end of that function's section or executable segment.
 *
 * Each file is parsed once and cached by path, device, inode, size and mtime, so a file
 * replaced or rewritten in place is read again; at most 64 files, the least recently
 * used goes. A lookup costs a binary search, and a stat of the path at most once a second
 * per file (when the kernel gave dev and ino). Nothing returned points into
 * the cache: names are copied out. Not thread-safe: one symbolizer per thread. */
#ifndef SALVE_SYMBOLIZE_H
#define SALVE_SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>

struct symbolizer;

#define SYMBOL_NAME_MAX 512

/* Filled by symbolizer_lookup; the caller's copy, valid as long as it is. */
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

/* Find the function holding file_off in file. 0 and *out filled, or:
 *   -ENOENT   no function holds file_off (or it is in no PT_LOAD segment);
 *   -ENOEXEC  the file is not ELF (or not a regular file);
 *   -ESTALE   the path now names another file than the one that was mapped (dev, ino
 *             given and different), and that one was not parsed before;
 *   -errno    of stat or open when the file cannot be read: -ENOENT when it is missing
 *             (the same code as "no function": a caller that must tell them apart
 *             stats the path), -EACCES when it may not be read.
 * With dev and ino given, a file parsed earlier under that identity still answers after
 * it was deleted or replaced on disk. */
int symbolizer_lookup(struct symbolizer *s, const struct symbolizer_file *file,
		      uint64_t file_off, struct symbol *out);

/* The GNU build id of file as lower-case hex. -ENOENT when it has none; the other
 * errors as for symbolizer_lookup. */
int symbolizer_build_id(struct symbolizer *s, const struct symbolizer_file *file,
			char hex[BUILD_ID_HEX_MAX]);

#endif
