/* symbolize: name the function at an offset of an ELF file, as a debugger would, with
 * elfutils' libdwfl and libdw.
 *
 * Works from the file alone (path + file offset, as the kernel records them), so a
 * stack can be named after its process has exited. The file offset is turned into a
 * virtual address through the PT_LOAD segment that holds it, which covers PIE and
 * non-PIE executables and shared libraries alike. The address is looked up among the
 * functions of .symtab; for a file without one, of its separate debug file (found by
 * build id as <debug root>/.build-id/xx/yyyy.debug, or by .gnu_debuglink with its CRC
 * beside the file, in its .debug folder or under the debug root), else of .dynsym and
 * the MiniDebugInfo (.gnu_debugdata, xz) a distribution left in it: a function whose size
 * covers it, else the nearest function before it when that one has no size (asm, crt
 * files), but never past the end of that function's section or executable segment. C++
 * names are demangled. Where DWARF is present (in the file or its debug file), the
 * source file and line and the functions inlined at the address come with the name.
 * The debug root is /usr/lib/debug unless the options name another. libdwfl asks the
 * debuginfod servers DEBUGINFOD_URLS names for a debug file it cannot find; salved
 * unsets it at start, so only this host is searched.
 *
 * Each file is parsed once and cached by path, device, inode, size and mtime, so a file
 * replaced or rewritten in place is read again; at most 64 files, the least recently
 * used goes. A lookup costs a binary search, and a stat of the path at most once a second
 * per file (when the kernel gave dev and ino); the source lines and inlined functions of
 * an address are read from DWARF once and kept, a bounded number per file. Nothing
 * returned points into the cache: names are copied out. Not thread-safe: one symbolizer
 * per thread. */
#ifndef SALVE_SYMBOLIZE_H
#define SALVE_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct symbolizer;

#define SYMBOL_NAME_MAX 512
#define SYMBOL_FILE_MAX 256
#define SYMBOL_INLINED_MAX 8 /* inlined functions named per address, innermost first */

/* A function inlined at an address, and where in its source the code there is: for the
 * innermost, the address's own line; for each next one, the line where the one before
 * was inlined into it. */
struct symbol_inlined {
	char name[SYMBOL_NAME_MAX];
	char file[SYMBOL_FILE_MAX]; /* "" when DWARF does not say */
	uint32_t line;
};

/* Filled by symbolizer_lookup; the caller's copy, valid as long as it is. Strings too
 * long are cut and end in "...". */
struct symbol {
	char name[SYMBOL_NAME_MAX]; /* demangled */
	uint64_t offset;            /* bytes from the start of the symbol */
	/* Where in the symbol's own source the code is, as a debugger's frame shows it: the
	 * address's line, or where the outermost inlined function was inlined; "" and 0
	 * without DWARF for the address. */
	char file[SYMBOL_FILE_MAX];
	uint32_t line;
	size_t n_inlined;
	struct symbol_inlined inlined[SYMBOL_INLINED_MAX];
};

struct symbolizer_opts {
	const char *debug_root; /* where separate debug files are; NULL: /usr/lib/debug */
};

int symbolizer_new(struct symbolizer **out);
/* The same with options; opts may be NULL. */
int symbolizer_new_opts(const struct symbolizer_opts *opts, struct symbolizer **out);
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

/* The same for a frame of a stack. caller: file_off is a return address (every frame
 * but the innermost): the function, source line and inlined functions are those of the
 * call instruction before it, as a debugger names a caller's frame; offset still counts
 * to file_off. */
int symbolizer_lookup_frame(struct symbolizer *s, const struct symbolizer_file *file,
			    uint64_t file_off, bool caller, struct symbol *out);

/* The GNU build id of file as lower-case hex. -ENOENT when it has none; the other
 * errors as for symbolizer_lookup. */
int symbolizer_build_id(struct symbolizer *s, const struct symbolizer_file *file,
			char hex[BUILD_ID_HEX_MAX]);

#endif
