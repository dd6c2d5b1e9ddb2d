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
 * an address are read from DWARF once and kept, a bounded number per file. What
 * symbolizer_lookup returns is copied out; for stack after stack from the same few call
 * sites, symbolizer_name (below) keeps each frame named, strings and all, and hands out
 * pointers to it. Not thread-safe: one symbolizer per thread. */
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

/* ---- naming stacks: frames named once and kept --------------------------------------
 *
 * A frame named by symbolizer_name is kept by the symbolizer per (parse of its file,
 * file offset, caller): naming it again is a hash probe, and nothing is copied. Each
 * stack begins with symbolizer_stack_begin; what symbolizer_parse and symbolizer_name
 * return stays valid until the next stack begins (or the symbolizer is freed), however
 * many files or frames the stack names. A parse is the file as read at one time: when
 * the once-a-second stat of symbolizer_parse finds the file replaced or rewritten in
 * place, it is read again as a new parse and no frame kept from the old one answers for
 * it, so a kept name lasts no longer than a copied one would. At most
 * SYMBOLIZER_NAMES_MAX frames and SYMBOLIZER_NAMES_BYTES of their strings are kept;
 * past that the table starts over. */

#define SYMBOLIZER_NAMES_SLOTS 4096 /* a power of 2 */
#define SYMBOLIZER_NAMES_MAX (SYMBOLIZER_NAMES_SLOTS * 3 / 4)
#define SYMBOLIZER_NAMES_BYTES (2u << 20)

/* A function inlined at a frame's address, as symbol_inlined. */
struct symbol_frame_inlined {
	const char *name;
	const char *file; /* "" when DWARF does not say */
	uint32_t line;
};

/* A frame as symbolizer_name keeps it: the fields of struct symbol, the strings the
 * symbolizer's. */
struct symbol_frame {
	const char *name; /* demangled */
	uint64_t offset;
	const char *file; /* "" without DWARF */
	uint32_t line;
	size_t n_inlined;
	const struct symbol_frame_inlined *inlined; /* innermost first */
};

/* A file's parse, as symbolizer_parse finds it. */
struct symbolizer_parse;

struct symbolizer_names_stats {
	uint64_t kept;    /* frames kept now */
	uint64_t hits;    /* frames answered from those kept */
	uint64_t misses;  /* frames named from the file's parse */
	uint64_t cleared; /* times the table started over, full */
};

/* Read the file at path now, its symbols, debug file and DWARF (all of which the first
 * frame named in it would otherwise wait for: tens of milliseconds for a C library with
 * its compressed debug file). 0 or -errno. */
int symbolizer_warm(struct symbolizer *s, const char *path);

/* A new stack: what was returned for the one before may go. */
void symbolizer_stack_begin(struct symbolizer *s);

/* The parse that names file now, found as symbolizer_lookup finds it (and with its
 * errors). */
int symbolizer_parse(struct symbolizer *s, const struct symbolizer_file *file,
		     const struct symbolizer_parse **out);

/* p's GNU build id as lower-case hex; "" when it has none. */
const char *symbolizer_parse_build_id(const struct symbolizer_parse *p);

/* The frame at file_off of p, as symbolizer_lookup_frame names it, kept. 0 and *out, or
 * -ENOENT when no function holds it (*out NULL), or -ENOMEM. */
int symbolizer_name(struct symbolizer *s, const struct symbolizer_parse *p, uint64_t file_off,
		    bool caller, const struct symbol_frame **out);

void symbolizer_names_stats(const struct symbolizer *s, struct symbolizer_names_stats *out);

#endif
