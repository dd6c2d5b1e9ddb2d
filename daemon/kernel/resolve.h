/* resolve: turn a probe site as a policy names it into what a uprobe attaches to.
 *
 * A policy names a binary (an absolute path, or a library soname such as "libc.so.6")
 * and a function (a symbol, or a file offset). The kernel wants the path of the ELF
 * file and the file offset of the function's first instruction; the offset comes
 * from the symbol's address through the PT_LOAD segment that holds it, which covers
 * PIE and non-PIE executables and shared libraries alike.
 *
 * Every function returns 0 or a negative errno; on error, err holds one sentence that
 * names the file (and symbol), cut to err_len. */
#ifndef SALVE_RESOLVE_H
#define SALVE_RESOLVE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RESOLVE_BUILD_ID_MAX 65 /* 32 bytes of GNU build id as hex, and the NUL */

struct resolve_site {
	char path[PATH_MAX];
	uint64_t offset; /* file offset of the function's first instruction */
	uint64_t size;   /* of the function (st_size); 0 for a site given by offset */
	bool nop5;       /* the first instruction is one 5-byte NOP (x86-64 only), such as
			  * clang's -fpatchable-function-entry=5 puts there: the kernel
			  * optimizes a uprobe on it. gcc's five 1-byte NOPs are not one. */
	bool ifunc;      /* STT_GNU_IFUNC: the offset is the resolver, which runs once
			  * when the library is loaded, not on each call */
	char build_id[RESOLVE_BUILD_ID_MAX]; /* of the file at path, lower-case hex; "" if none */
};

struct resolve_opts {
	/* Where separate debug files are found by build id, as
	 * <debug_root>/.build-id/xx/yyyy.debug. NULL: /usr/lib/debug. */
	const char *debug_root;
};

/* The file a policy's "binary" names, into path (len bytes).
 *   "/abs/path"  kept as written; it must exist and be ELF.
 *   "libc.so.6"  a soname, found the way the dynamic loader would: /etc/ld.so.cache,
 *                then /lib/<triplet>, /usr/lib/<triplet>, /lib and /usr/lib, taking
 *                only a library built for the running architecture.
 * -ENOENT (no such file, or the soname is nowhere), -ENOEXEC (not ELF), -EINVAL (a
 * relative path), -ENAMETOOLONG (path too small), other -errno from open. */
int resolve_binary(const char *name, char *path, size_t len, char *err, size_t err_len);

/* The function symbol of the ELF file at path. symbol is "name", "name@VERSION" (that
 * version exactly) or "name@@VERSION" (that version, which must be the default);
 * plain "name" takes the default version when there are several. Looked up among the
 * defined functions (STT_FUNC, STT_GNU_IFUNC) of .symtab, then .dynsym; when the file
 * has no .symtab and .dynsym lacks it, in the .symtab of the debug file named by the
 * file's build id. opts may be NULL for the defaults.
 * -ENOENT: no such function or version (err names up to 3 close names, or the
 * versions there are); -ENOTUNIQ: several functions of that name at different
 * addresses (static functions of different source files); -EINVAL: a malformed
 * symbol; -ERANGE: the symbol is in no loaded segment; the errors of opening a file. */
int resolve_symbol(const char *path, const char *symbol, const struct resolve_opts *opts,
		   struct resolve_site *out, char *err, size_t err_len);

/* A site given by file offset: offset must lie in an executable PT_LOAD segment
 * (-ERANGE otherwise). size is 0; nop5 and build_id are filled. */
int resolve_offset(const char *path, uint64_t offset, struct resolve_site *out, char *err,
		   size_t err_len);

/* The GNU build id of the ELF file at path, as lower-case hex; "" when it has none. */
/* Whether this kernel turns a uprobe on a 5-byte NOP into a call (its fast path); why
 * says it in words. */
bool resolve_nop5_optimized(char *why, size_t why_len);

int resolve_build_id(const char *path, char hex[RESOLVE_BUILD_ID_MAX], char *err, size_t err_len);

#endif
