/* resolve: turn a probe site as a policy names it (a binary or library soname, a
 * function symbol or a file offset) into what a uprobe attaches to: the ELF file and
 * the file offset of the function's first instruction. */
#ifndef SALVE_RESOLVE_H
#define SALVE_RESOLVE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
struct resolve_site {
	char path[PATH_MAX];
	uint64_t offset; /* file offset of the entry */
	uint64_t size;   /* of the function, 0 when unknown */
	bool nop5;       /* the entry is a 5-byte NOP: the kernel optimizes the uprobe */
};
struct resolve_opts; /* reserved for lookups such as a debug-file root */
/* An absolute path as is, or a soname from the library directories. */
int resolve_binary(const char *name, char *path, size_t len, char *err, size_t err_len);
int resolve_symbol(const char *path, const char *symbol, const struct resolve_opts *o, struct resolve_site *out, char *err, size_t err_len);
int resolve_offset(const char *path, uint64_t offset, struct resolve_site *out, char *err, size_t err_len);

#endif
