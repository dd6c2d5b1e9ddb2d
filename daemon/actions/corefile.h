/* corefile: a snapshot written as an ELF core (ET_CORE, x86-64) laid out as the kernel
 * lays out its own, so `gdb BINARY CORE` opens it: the ELF header, the program headers (one
 * PT_NOTE, then a PT_LOAD per mapping in address order), the notes, then the copied memory
 * of each mapping at a page-aligned offset.
 *
 * Notes, in the kernel's order: for every thread NT_PRSTATUS, NT_FPREGSET and NT_X86_XSTATE
 * (the thread that took the signal first, else the main thread), with NT_PRPSINFO,
 * NT_SIGINFO (when the snapshot was taken on a signal), NT_AUXV and NT_FILE (the mappings
 * of files, whose read-only text gdb reads from the files) after the first thread's
 * NT_PRSTATUS, NT_X86_XSAVE_LAYOUT after the threads (where this CPU keeps each extended
 * feature in the xstate, from CPUID), and salve's own NT_SALVE_MAPS last. A mapping that was
 * not copied has a PT_LOAD with no bytes in the file.
 *
 * NT_SALVE_MAPS (owner "SALVE") holds what an in-place rollback checks of every mapping and
 * no kernel note gives (NT_FILE has only the files, and neither device, inode nor
 * permissions; a PT_LOAD has no "shared"): laid out as NT_FILE, all words 64-bit in the
 * core's byte order, a count, the words per record (COREFILE_MAP_WORDS; a reader skips
 * words it does not know), then for every mapping in address order a record (start, end,
 * offset in bytes, COREFILE_MAP_* flags, major, minor, inode), then every mapping's path
 * ending in NUL ("" for anonymous memory). It comes after the kernel's notes, which keep
 * the order and places the kernel gives them; gdb and readelf pass over it as an unknown
 * note. corefile_read reads such a core back into a snapshot.
 *
 * The core goes out in file order through a sink and is never sought back into, so the
 * caller may compress it as it comes. */
#ifndef SALVE_COREFILE_H
#define SALVE_COREFILE_H

#include <stddef.h>
#include <stdint.h>

#include "actions/snapshot.h"

#define COREFILE_CHUNK (1u << 20) /* the most bytes one call of a sink is given */

#define NT_SALVE_MAPS 0x5341	  /* "SA": a type no tool reads for an owner it does not know */
#define COREFILE_SALVE_OWNER "SALVE"
#define COREFILE_MAP_WORDS 7	  /* start, end, offset, flags, major, minor, inode */
#define COREFILE_MAP_READ 0x1u
#define COREFILE_MAP_WRITE 0x2u
#define COREFILE_MAP_EXEC 0x4u
#define COREFILE_MAP_SHARED 0x8u

/* The bytes of an ELF core, handed on in file order, at most COREFILE_CHUNK at a time.
 * 0, or -errno (stops the write). */
typedef int corefile_sink(void *ctx, const void *buf, size_t len);

/* Write s as an ELF core through sink; *bytes (may be NULL) the core's size. 0, or -errno:
 * the sink's error, -EINVAL for a snapshot no core can hold (no thread, mappings out of
 * address order or overlapping, a note over 4 GiB). */
int corefile_write(const struct snapshot *s, corefile_sink *sink, void *ctx, uint64_t *bytes);

/* The size corefile_write will produce, before writing (for a free-space check). */
uint64_t corefile_size(const struct snapshot *s);

/* A core corefile_write wrote, len bytes at core, read back into a new snapshot (*out, for
 * snapshot_rollback; free it with snapshot_free): pid, parent, ids, comm and state from
 * NT_PRPSINFO; every thread in the core's order with its registers (the first one's
 * pr_cursig as its signal); auxv; siginfo; every mapping from NT_SALVE_MAPS, with a copy
 * (data, copied) of those whose PT_LOAD has bytes in the file. The command line, exe, open
 * files and limits are not in a core (meta.json has them) and are left empty. 0, or
 * -EINVAL with err saying what is wrong (not an ELF x86-64 core, truncated, a note that
 * does not parse, a core without NT_SALVE_MAPS such as the kernel's), -ENOMEM. */
int corefile_read(const void *core, size_t len, struct snapshot **out, char *err, size_t err_len);

/* corefile_read of the core gzip-compressed in the file at path (a checkpoint's core.gz; a
 * file not compressed is read as it is). 0, or -errno with err naming the file: its open's
 * error, -EINVAL for a gzip stream cut short or corrupt, or corefile_read's. */
int corefile_read_gz(const char *path, struct snapshot **out, char *err, size_t err_len);

#endif
