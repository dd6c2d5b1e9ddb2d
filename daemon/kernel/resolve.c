#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kernel/resolve.h"
#include "symbols/debugsyms.h"
#include "symbols/elffile.h"

_Static_assert(RESOLVE_BUILD_ID_MAX == ELFFILE_BUILD_ID_MAX, "one build id size");

#define LD_SO_CACHE "/etc/ld.so.cache"
#define DEBUG_ROOT "/usr/lib/debug"

/* The "new" ld.so.cache format, the only one glibc >= 2.32 writes: a 48-byte header
 * (magic and version, nlibs, len_strings, flags, extension offset, 3 unused words),
 * then nlibs 24-byte entries (flags, key, value, osversion, 64-bit hwcap) whose key
 * (soname) and value (path) are offsets from the start of the file. */
#define CACHE_MAGIC "glibc-ld.so.cache1.1"
#define CACHE_HEADER 48
#define CACHE_ENTRY 24
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define CACHE_ENDIAN 2
#else
#define CACHE_ENDIAN 3
#endif

#define CLOSEST_MAX 3
#define NAME_CMP_MAX 128 /* characters of a name compared when looking for close ones */
#define AMBIGUOUS_MAX 4  /* addresses named in an "ambiguous" message */

static void __attribute__((format(printf, 3, 4)))
append(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strnlen(buf, len);
	va_list ap;

	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

/* ---- ELF files ---------------------------------------------------------------------- */

bool resolve_nop5_optimized(char *why, size_t why_len)
{
	/* The kernel (x86-64, 6.18 and later) that turns a uprobe on a 5-byte NOP into a
	 * call of a trampoline has the function that does it. */
	static const char fn[] = " arch_uprobe_optimize\n";
	char line[512];
	bool found = false;
	FILE *f = fopen("/proc/kallsyms", "re");

	if (!f) {
		snprintf(why, why_len, "/proc/kallsyms: %s", strerror(errno));
		return false;
	}
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, fn) != NULL;
	fclose(f);
	snprintf(why, why_len, found ? "a uprobe on a 5-byte NOP entry becomes a call "
				       "(clang -fpatchable-function-entry=5)"
				     : "this kernel has no arch_uprobe_optimize: every uprobe is a trap");
	return found;
}

/* One NOP instruction of exactly 5 bytes at the entry, which the kernel's uprobe
 * optimization takes: 0x66 prefixes, then 90, or 0f 1f /0 and its operand bytes.
 * gas's form is 0f 1f 44 00 00, clang 14's 0f 1f 44 00 08; gcc's
 * -fpatchable-function-entry=5 gives five 90s, which are five instructions. */
static bool nop5_at(int fd, uint64_t offset)
{
#if defined(__x86_64__)
	unsigned char b[5];
	size_t i = 0, len;
	unsigned mod, rm;

	if (pread(fd, b, sizeof(b), (off_t)offset) != (ssize_t)sizeof(b))
		return false;
	while (i < 4 && b[i] == 0x66)
		i++;
	if (b[i] == 0x90)
		return i + 1 == sizeof(b);
	if (i > 2 || b[i] != 0x0f || b[i + 1] != 0x1f || (b[i + 2] >> 3 & 7))
		return false;
	mod = b[i + 2] >> 6;
	rm = b[i + 2] & 7;
	len = i + 3;
	if (mod != 3 && rm == 4) { /* a SIB byte; base 5 without displacement means disp32 */
		if (len >= sizeof(b))
			return false;
		if (mod == 0 && (b[len] & 7) == 5)
			len += 4;
		len++;
	}
	if (mod == 1)
		len += 1;
	else if (mod == 2 || (mod == 0 && rm == 5))
		len += 4;
	return len == sizeof(b);
#else
	(void)fd;
	(void)offset;
	return false;
#endif
}

/* ---- binaries and sonames ----------------------------------------------------------- */

/* A soname resolves to a library the loader would map into a native process. */
static bool native_elf(Elf *elf)
{
	GElf_Ehdr eh;

	if (!gelf_getehdr(elf, &eh) ||
	    eh.e_ident[EI_CLASS] != (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32))
		return false;
#if defined(__x86_64__)
	return eh.e_machine == EM_X86_64;
#elif defined(__i386__)
	return eh.e_machine == EM_386;
#elif defined(__aarch64__)
	return eh.e_machine == EM_AARCH64;
#elif defined(__arm__)
	return eh.e_machine == EM_ARM;
#elif defined(__riscv)
	return eh.e_machine == EM_RISCV;
#elif defined(__powerpc64__)
	return eh.e_machine == EM_PPC64;
#elif defined(__s390x__)
	return eh.e_machine == EM_S390;
#else
	return true;
#endif
}

static bool library_fits(const char *path)
{
	struct elffile f;
	char scratch[16];
	bool ok;

	if (elffile_open(path, &f, scratch, sizeof(scratch)))
		return false;
	ok = native_elf(f.elf);
	elffile_close(&f);
	return ok;
}

static int copy_path(const char *src, char *path, size_t len)
{
	size_t n = strlen(src);

	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(path, src, n + 1);
	return 0;
}

/* The path /etc/ld.so.cache gives name. Entries of glibc-hwcaps subdirectories are
 * passed over: which one the loader takes depends on the CPU, while the plain entry
 * is there for every CPU. */
static int cache_lookup(const char *name, char *path, size_t len)
{
	const unsigned char *map;
	uint32_t nlibs;
	struct stat st;
	int fd, rc = -ENOENT;

	fd = open(LD_SO_CACHE, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	if (fstat(fd, &st) || (size_t)st.st_size < CACHE_HEADER) {
		close(fd);
		return -ENOENT;
	}
	map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return -ENOENT;
	memcpy(&nlibs, map + 20, sizeof(nlibs));
	if (memcmp(map, CACHE_MAGIC, strlen(CACHE_MAGIC)) ||
	    ((map[28] & 3) && (map[28] & 3) != CACHE_ENDIAN) ||
	    nlibs > ((size_t)st.st_size - CACHE_HEADER) / CACHE_ENTRY)
		goto out;
	for (uint32_t i = 0; i < nlibs && rc; i++) {
		const unsigned char *e = map + CACHE_HEADER + (size_t)i * CACHE_ENTRY;
		uint32_t key, value;
		uint64_t hwcap;

		memcpy(&key, e + 4, sizeof(key));
		memcpy(&value, e + 8, sizeof(value));
		memcpy(&hwcap, e + 16, sizeof(hwcap));
		if (hwcap || key >= st.st_size || value >= st.st_size ||
		    !memchr(map + key, 0, st.st_size - key) ||
		    !memchr(map + value, 0, st.st_size - value) ||
		    strcmp((const char *)map + key, name))
			continue;
		if (library_fits((const char *)map + value))
			rc = copy_path((const char *)map + value, path, len);
	}
out:
	munmap((void *)map, st.st_size);
	return rc;
}

/* Debian's multiarch directory name for the running machine. */
static void multiarch_triplet(char *buf, size_t len)
{
	static const struct {
		const char *machine, *triplet;
	} known[] = {
		{ "x86_64", "x86_64-linux-gnu" },   { "aarch64", "aarch64-linux-gnu" },
		{ "i686", "i386-linux-gnu" },       { "i586", "i386-linux-gnu" },
		{ "i386", "i386-linux-gnu" },       { "armv7l", "arm-linux-gnueabihf" },
		{ "armv8l", "arm-linux-gnueabihf" }, { "ppc64le", "powerpc64le-linux-gnu" },
		{ "s390x", "s390x-linux-gnu" },     { "riscv64", "riscv64-linux-gnu" },
	};
	struct utsname u;

	buf[0] = '\0';
	if (uname(&u))
		return;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (!strcmp(u.machine, known[i].machine)) {
			snprintf(buf, len, "%s", known[i].triplet);
			return;
		}
	}
	snprintf(buf, len, "%s-linux-gnu", u.machine);
}

/* The loader's default directories, in its order: multiarch first. */
static int dirs_lookup(const char *name, char *path, size_t len)
{
	char triplet[80], dirs[4][100];
	size_t n = 0;

	multiarch_triplet(triplet, sizeof(triplet));
	if (triplet[0]) {
		snprintf(dirs[n++], sizeof(dirs[0]), "/lib/%s", triplet);
		snprintf(dirs[n++], sizeof(dirs[0]), "/usr/lib/%s", triplet);
	}
	snprintf(dirs[n++], sizeof(dirs[0]), "/lib");
	snprintf(dirs[n++], sizeof(dirs[0]), "/usr/lib");
	for (size_t i = 0; i < n; i++) {
		char cand[PATH_MAX];

		if (snprintf(cand, sizeof(cand), "%s/%s", dirs[i], name) < (int)sizeof(cand) &&
		    library_fits(cand))
			return copy_path(cand, path, len);
	}
	return -ENOENT;
}

int resolve_binary(const char *name, char *path, size_t len, char *err, size_t err_len)
{
	struct elffile f;
	int rc;

	if (!*name || (name[0] != '/' && strchr(name, '/'))) {
		snprintf(err, err_len, "%s: not an absolute path or a library soname",
			 *name ? name : "\"\"");
		return -EINVAL;
	}
	if (name[0] == '/') {
		if ((rc = elffile_open(name, &f, err, err_len)))
			return rc;
		elffile_close(&f);
		rc = copy_path(name, path, len);
	} else {
		rc = cache_lookup(name, path, len);
		if (rc == -ENOENT)
			rc = dirs_lookup(name, path, len);
		if (rc == -ENOENT) {
			snprintf(err, err_len, "%s: not found in /etc/ld.so.cache or the default "
				 "library directories", name);
			return rc;
		}
	}
	if (rc == -ENAMETOOLONG)
		snprintf(err, err_len, "%s: the path does not fit in %zu bytes", name, len);
	return rc;
}

/* ---- symbol tables ------------------------------------------------------------------ */

/* What the policy asked for: "name", "name@VER" or "name@@VER". */
struct query {
	const char *name;
	size_t len;
	const char *ver;   /* NULL: any, the default preferred */
	bool want_default; /* "@@" */
};

static int parse_query(const char *symbol, struct query *q)
{
	const char *at = strchr(symbol, '@');

	*q = (struct query){ symbol, at ? (size_t)(at - symbol) : strlen(symbol), NULL, false };
	if (at) {
		q->want_default = at[1] == '@';
		q->ver = at + 1 + q->want_default;
		if (!*q->ver || strchr(q->ver, '@'))
			return -EINVAL;
	}
	return q->len ? 0 : -EINVAL;
}

static bool same_name(const struct elf_fn *fn, const char *name, size_t len)
{
	return fn->len == len && !memcmp(fn->name, name, len);
}

/* How well fn answers q, 0 for not at all. For a plain name the default (or only)
 * version beats a hidden one; a global symbol beats a local one. */
static int match(const struct query *q, const struct elf_fn *fn)
{
	int rank;

	if (!same_name(fn, q->name, q->len))
		return 0;
	if (q->ver) {
		if (!fn->ver || strcmp(fn->ver, q->ver) || (q->want_default && fn->hidden))
			return 0;
		rank = 2;
	} else {
		rank = fn->hidden ? 1 : 2;
	}
	return rank * 2 + (GELF_ST_BIND(fn->sym.st_info) != STB_LOCAL);
}

/* The best match of q in t. Several best matches at different addresses (static
 * functions of the same name) are ambiguous: their addresses go to addrs. */
static int table_find(const struct elf_symtab *t, const struct query *q, struct elf_fn *hit,
		      uint64_t addrs[AMBIGUOUS_MAX], size_t *n_addrs)
{
	int best = 0, score;
	struct elf_fn fn;

	for (size_t i = 0; i < t->n; i++) {
		if (elf_symtab_fn(t, i, &fn) && (score = match(q, &fn)) > best) {
			best = score;
			*hit = fn;
		}
	}
	if (!best)
		return -ENOENT;
	*n_addrs = 0;
	for (size_t i = 0; i < t->n; i++) {
		size_t k = 0;

		if (!elf_symtab_fn(t, i, &fn) || match(q, &fn) != best)
			continue;
		while (k < *n_addrs && addrs[k] != fn.sym.st_value)
			k++;
		if (k == *n_addrs && k < AMBIGUOUS_MAX)
			addrs[(*n_addrs)++] = fn.sym.st_value;
	}
	return *n_addrs > 1 ? -ENOTUNIQ : 0;
}

/* ---- messages ----------------------------------------------------------------------- */

struct near {
	const char *name;
	size_t len;
	unsigned prefix, full;
};

/* Edit distance from q to the closest prefix of c, and to all of c: a typo scores low
 * ("parze" -> "parse"), and so does a longer name that starts alike ("parse_line").
 * Names sort by the first, then the second. */
static void distance(const char *q, size_t m, const char *c, size_t n, unsigned *prefix,
		     unsigned *full)
{
	unsigned rows[2][NAME_CMP_MAX + 1];

	m = m < NAME_CMP_MAX ? m : NAME_CMP_MAX;
	n = n < NAME_CMP_MAX ? n : NAME_CMP_MAX;
	for (size_t j = 0; j <= n; j++)
		rows[0][j] = j;
	for (size_t i = 1; i <= m; i++) {
		unsigned *prev = rows[(i - 1) & 1], *cur = rows[i & 1];

		cur[0] = i;
		for (size_t j = 1; j <= n; j++) {
			unsigned sub = prev[j - 1] + (q[i - 1] != c[j - 1]);
			unsigned del = prev[j] + 1, ins = cur[j - 1] + 1;

			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
	}
	*prefix = rows[m & 1][0];
	for (size_t j = 1; j <= n; j++)
		if (rows[m & 1][j] < *prefix)
			*prefix = rows[m & 1][j];
	*full = rows[m & 1][n];
}

static int near_cmp(const struct near *a, const struct near *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int c;

	if (a->prefix != b->prefix)
		return a->prefix < b->prefix ? -1 : 1;
	if (a->full != b->full)
		return a->full < b->full ? -1 : 1;
	c = memcmp(a->name, b->name, n);
	return c ? c : (a->len > b->len) - (a->len < b->len);
}

/* Keep the CLOSEST_MAX function names nearest q, each once. */
static void closest_add(struct near *best, size_t *n, const struct query *q, const struct elf_fn *fn)
{
	struct near c = { fn->name, fn->len, 0, 0 };
	size_t at;

	if (same_name(fn, q->name, q->len))
		return;
	distance(q->name, q->len, fn->name, fn->len, &c.prefix, &c.full);
	/* Close: a few edits away, or nearly a prefix of it. */
	if (c.full > q->len / 2 && c.prefix > q->len / 4)
		return;
	for (size_t i = 0; i < *n; i++)
		if (best[i].len == c.len && !memcmp(best[i].name, c.name, c.len))
			return;
	for (at = *n; at > 0 && near_cmp(&c, &best[at - 1]) < 0; at--)
		;
	if (at >= CLOSEST_MAX)
		return;
	if (*n < CLOSEST_MAX)
		(*n)++;
	memmove(&best[at + 1], &best[at], (*n - at - 1) * sizeof(*best));
	best[at] = c;
}

/* Why q is not there: the versions its name has (true), or the names closest to it. */
static bool explain_missing(const struct elf_symtab *tabs, size_t n_tabs, const struct query *q,
			    char *err, size_t err_len)
{
	struct near best[CLOSEST_MAX];
	size_t n_best = 0, n_vers = 0;
	const char *seen[16];
	bool seen_hidden[16];
	struct elf_fn fn;

	for (size_t t = 0; t < n_tabs; t++) {
		for (size_t i = 0; i < tabs[t].n; i++) {
			size_t k = 0;

			if (!elf_symtab_fn(&tabs[t], i, &fn))
				continue;
			if (!same_name(&fn, q->name, q->len)) {
				closest_add(best, &n_best, q, &fn);
				continue;
			}
			while (k < n_vers && !(seen_hidden[k] == fn.hidden &&
					       (seen[k] == fn.ver ||
						(seen[k] && fn.ver && !strcmp(seen[k], fn.ver)))))
				k++;
			if (k < n_vers || n_vers == sizeof(seen) / sizeof(seen[0]))
				continue;
			seen[n_vers] = fn.ver;
			seen_hidden[n_vers++] = fn.hidden;
			append(err, err_len, "%s\"%.*s%s%s\"", n_vers == 1 ? " (versions: " : ", ",
			       (int)q->len, q->name, fn.ver ? (fn.hidden ? "@" : "@@") : "",
			       fn.ver ? fn.ver : "");
		}
	}
	if (n_vers) {
		append(err, err_len, ")");
		return true;
	}
	for (size_t i = 0; i < n_best; i++)
		append(err, err_len, "%s\"%.*s\"", i ? ", " : " (closest: ", (int)best[i].len,
		       best[i].name);
	if (n_best)
		append(err, err_len, ")");
	return false;
}

static void explain_ambiguous(Elf *elf, const char *path, const char *symbol,
			      const uint64_t *addrs, size_t n, char *err, size_t err_len)
{
	snprintf(err, err_len, "%s: \"%s\" names %s%zu functions (at file offsets", path, symbol,
		 n == AMBIGUOUS_MAX ? "at least " : "", n);
	for (size_t i = 0; i < n; i++) {
		uint64_t off;

		if (!elffile_offset_of(elf, addrs[i], &off))
			append(err, err_len, "%s 0x%llx", i ? "," : "", (unsigned long long)off);
	}
	append(err, err_len, "); probe one by its offset");
}

/* ---- sites -------------------------------------------------------------------------- */

static int site_start(const char *path, struct elffile *f, struct resolve_site *out, char *err,
		      size_t err_len)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (copy_path(path, out->path, sizeof(out->path))) {
		snprintf(err, err_len, "%.64s...: path longer than %d bytes", path, PATH_MAX - 1);
		return -ENAMETOOLONG;
	}
	if ((rc = elffile_open(path, f, err, err_len)))
		return rc;
	elffile_build_id(f->elf, out->build_id);
	return 0;
}

int resolve_symbol(const char *path, const char *symbol, const struct resolve_opts *opts,
		   struct resolve_site *out, char *err, size_t err_len)
{
	const char *root = opts && opts->debug_root ? opts->debug_root : DEBUG_ROOT;
	struct elffile bin = { .fd = -1 }, dbg = { .fd = -1 };
	struct elf_symtab tabs[3];
	size_t n_tabs = 0, n_addrs = 0;
	char debug_path[PATH_MAX], why[PATH_MAX + 128] = "";
	uint64_t addrs[AMBIGUOUS_MAX];
	struct query q;
	struct elf_fn hit;
	bool stripped;
	int rc;

	if (parse_query(symbol, &q)) {
		snprintf(err, err_len, "%s: \"%s\" is not a symbol: write name, name@VERSION or "
			 "name@@VERSION", path, symbol);
		return -EINVAL;
	}
	if ((rc = site_start(path, &bin, out, err, err_len)))
		return rc;
	rc = -ENOENT;
	/* .symtab, then .dynsym: the first table that has the name decides. */
	for (size_t i = 0; i < 2 && rc == -ENOENT; i++) {
		rc = elf_symtab_open(bin.elf, i ? SHT_DYNSYM : SHT_SYMTAB, &tabs[n_tabs]);
		if (!rc)
			rc = table_find(&tabs[n_tabs++], &q, &hit, addrs, &n_addrs);
	}
	stripped = !n_tabs || tabs[0].dynamic;
	/* A stripped file's own symbols are in its debug file, named by build id. */
	if (rc == -ENOENT && stripped && !out->build_id[0]) {
		snprintf(why, sizeof(why),
			 "; the file is stripped and has no build id to find its debug file by");
	} else if (rc == -ENOENT && stripped) {
		if (elffile_debug_path(root, out->build_id, debug_path, sizeof(debug_path)) ||
		    access(debug_path, F_OK)) {
			snprintf(why, sizeof(why),
				 "; the file is stripped and has no debug file %s", debug_path);
		} else if ((rc = elffile_open(debug_path, &dbg, err, err_len))) {
			goto out;
		} else if ((rc = elf_symtab_open(dbg.elf, SHT_SYMTAB, &tabs[n_tabs])) == -ENOENT) {
			snprintf(why, sizeof(why), "; its debug file %s has no symbol table",
				 debug_path);
		} else if (!rc) {
			rc = table_find(&tabs[n_tabs++], &q, &hit, addrs, &n_addrs);
		}
	}
	/* Then where else a debugger looks: the .gnu_debuglink debug file, MiniDebugInfo. */
	if (rc == -ENOENT && stripped && !q.ver) {
		struct debugsyms_hit dh;
		int drc = debugsyms_find(path, root, q.name, q.len, &dh);

		if (drc == 0 || drc == -ENOTUNIQ) {
			rc = drc;
			memset(&hit, 0, sizeof(hit));
			hit.sym.st_value = dh.vaddr;
			hit.sym.st_size = dh.size;
			hit.sym.st_info = GELF_ST_INFO(STB_GLOBAL, STT_FUNC);
			n_addrs = dh.n_addrs < AMBIGUOUS_MAX ? dh.n_addrs : AMBIGUOUS_MAX;
			memcpy(addrs, dh.addrs, n_addrs * sizeof(addrs[0]));
		} else if (drc == -ENOMEM) {
			rc = drc;
		} else if (why[0]) {
			append(why, sizeof(why), ", and no .gnu_debuglink debug file or "
			       "MiniDebugInfo names it");
		}
	}
	if (rc == -ENOENT) {
		snprintf(err, err_len, "%s: no function \"%s\"", path, symbol);
		if (!explain_missing(tabs, n_tabs, &q, err, err_len))
			append(err, err_len, "%s", why);
	} else if (rc == -ENOTUNIQ) {
		explain_ambiguous(bin.elf, path, symbol, addrs, n_addrs, err, err_len);
	} else if (rc == -ENOMEM) {
		snprintf(err, err_len, "%s: out of memory reading its symbols", path);
	} else if (!rc && (rc = elffile_offset_of(bin.elf, hit.sym.st_value, &out->offset))) {
		snprintf(err, err_len,
			 "%s: function \"%s\" (address 0x%llx) is in no loaded segment", path,
			 symbol, (unsigned long long)hit.sym.st_value);
	} else if (!rc) {
		out->size = hit.sym.st_size;
		out->ifunc = GELF_ST_TYPE(hit.sym.st_info) == STT_GNU_IFUNC;
		out->nop5 = nop5_at(bin.fd, out->offset);
	}
out:
	for (size_t i = 0; i < n_tabs; i++)
		elf_symtab_close(&tabs[i]);
	elffile_close(&dbg);
	elffile_close(&bin);
	return rc;
}

int resolve_offset(const char *path, uint64_t offset, struct resolve_site *out, char *err,
		   size_t err_len)
{
	struct elffile bin;
	int rc;

	if ((rc = site_start(path, &bin, out, err, err_len)))
		return rc;
	out->offset = offset;
	rc = elffile_in_code(bin.elf, offset) ? 0 : -ERANGE;
	if (rc)
		snprintf(err, err_len, "%s: offset 0x%llx is not in executable code", path,
			 (unsigned long long)offset);
	else
		out->nop5 = nop5_at(bin.fd, offset);
	elffile_close(&bin);
	return rc;
}

int resolve_build_id(const char *path, char hex[RESOLVE_BUILD_ID_MAX], char *err, size_t err_len)
{
	struct elffile f;
	int rc = elffile_open(path, &f, err, err_len);

	if (rc)
		return rc;
	elffile_build_id(f.elf, hex);
	elffile_close(&f);
	return 0;
}
