/* debugsyms: the functions of a file that only a debugger finds, as libdwfl finds them:
 * in the debug file its .gnu_debuglink names (CRC checked; beside it, in .debug/, or
 * under the debug root) and in its MiniDebugInfo (.gnu_debugdata, xz). For probes on a
 * stripped binary whose symbols a distribution ships that way. */
#ifndef SALVE_DEBUGSYMS_H
#define SALVE_DEBUGSYMS_H

#include <stddef.h>
#include <stdint.h>

#define DEBUGSYMS_AMBIGUOUS_MAX 4

struct debugsyms_hit {
	uint64_t vaddr; /* as the file's own symbol table would give it (st_value) */
	uint64_t size;
	/* More than one function of that name (static functions of different files): their
	 * addresses, up to DEBUGSYMS_AMBIGUOUS_MAX. */
	uint64_t addrs[DEBUGSYMS_AMBIGUOUS_MAX];
	size_t n_addrs;
};

/* Function name (len bytes, no version) of path. 0; -ENOENT when no debug symbols name
 * it (or there are none); -ENOTUNIQ when several functions do; -ENOMEM. debug_root:
 * where debug packages install, /usr/lib/debug by default. */
int debugsyms_find(const char *path, const char *debug_root, const char *name, size_t len,
		   struct debugsyms_hit *hit);

#endif
