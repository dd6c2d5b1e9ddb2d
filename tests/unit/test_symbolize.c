/* symbolize: names from file offsets in the ELF shapes salve meets, built by the
 * Makefile: a PIE executable, a non-PIE one, a shared library and an executable
 * stripped to .dynsym; and, built here, the shapes distributions ship: stripped with a
 * debug file by build id, with a .gnu_debuglink and its CRC, with MiniDebugInfo, C++.
 * Expected offsets and names come from binutils (nm, readelf, addr2line), not from the
 * code under test. */
#define _GNU_SOURCE /* nftw */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "symbols/symbolize.h"

static char build[256];

static void target(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/tests/targets/%s", build, name);
}

/* The file offset of symbol in file: nm gives its address, readelf the PT_LOAD that
 * holds it. */
static uint64_t file_offset_of(const char *file, const char *symbol, bool dynamic)
{
	char cmd[600], line[512];
	uint64_t addr = 0, off = 0;
	bool found = false;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "nm %s --defined-only '%s'", dynamic ? "-D" : "", file);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		char name[256], type;
		unsigned long long a;

		if (sscanf(line, "%llx %c %255s", &a, &type, name) == 3 && !strcmp(name, symbol)) {
			addr = a;
			found = true;
		}
	}
	pclose(p);
	assert_true(found);
	snprintf(cmd, sizeof(cmd), "readelf -lW '%s'", file);
	p = popen(cmd, "r");
	assert_non_null(p);
	found = false;
	while (fgets(line, sizeof(line), p)) {
		unsigned long long o, va, pa, fsz;

		if (sscanf(line, " LOAD 0x%llx 0x%llx 0x%llx 0x%llx", &o, &va, &pa, &fsz) == 4 &&
		    addr >= va && addr < va + fsz) {
			off = addr - va + o;
			found = true;
		}
	}
	pclose(p);
	assert_true(found);
	return off;
}

/* The file offset of a section, from readelf -S. */
static uint64_t section_offset_of(const char *file, const char *section)
{
	char cmd[600], line[512];
	unsigned long long off = 0;
	bool found = false;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "readelf -SW '%s' | sed 's/^ *\\[ *[0-9]*\\]//'", file);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		char name[64], type[64];
		unsigned long long addr;

		if (sscanf(line, " %63s %63s %llx %llx", name, type, &addr, &off) == 4 &&
		    !strcmp(name, section)) {
			found = true;
			break;
		}
	}
	pclose(p);
	assert_true(found);
	return off;
}

/* A file known by its path alone. */
#define PLAIN(p) (&(struct symbolizer_file){ .path = (p) })

/* The identity as the kernel records it for a mapped file. */
static struct symbolizer_file identified(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (struct symbolizer_file){
		path, ((uint64_t)major(st.st_dev) << 20) | minor(st.st_dev), st.st_ino
	};
}

static void expect_symbol(struct symbolizer *s, const struct symbolizer_file *file, uint64_t off,
			  const char *symbol, uint64_t sym_off)
{
	struct symbol out;

	memset(&out, 0, sizeof(out));
	assert_int_equal(symbolizer_lookup(s, file, off, &out), 0);
	assert_string_equal(out.name, symbol);
	assert_int_equal(out.offset, sym_off);
}

/* 7 bytes into symbol in target name. */
static void check(const char *name, const char *symbol, bool dynamic)
{
	struct symbolizer *s;
	char path[512];
	uint64_t off;

	target(path, sizeof(path), name);
	off = file_offset_of(path, symbol, dynamic);
	assert_int_equal(symbolizer_new(&s), 0);
	expect_symbol(s, PLAIN(path), off + 7, symbol, 7);
	expect_symbol(s, PLAIN(path), off, symbol, 0);
	symbolizer_free(s);
}

/* ---- a temporary directory per test that needs files --------------------------------- */

static int setup_dir(void **state)
{
	char *dir = strdup("/tmp/salve-test-symbolize.XXXXXX");

	if (!dir || !mkdtemp(dir)) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static int teardown_dir(void **state)
{
	nftw(*state, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(*state);
	return 0;
}

/* Copy the bytes of src into dst, created or truncated in place (same inode). */
static void copy_file(const char *src, const char *dst)
{
	char buf[65536];
	int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	ssize_t n;

	assert_true(in >= 0);
	assert_true(out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, n), n);
	assert_int_equal(n, 0);
	close(in);
	assert_int_equal(close(out), 0);
}

static void tmp_path(char *buf, size_t len, void **state, const char *name)
{
	snprintf(buf, len, "%s/%s", (const char *)*state, name);
}

/* ---- the four ELF shapes ------------------------------------------------------------- */

static void test_pie(void **state)
{
	(void)state;
	check("crash", "fault_null_deref", false);
	check("crash", "fault_divide", false);
	check("crash", "fault_in_library", false);
}

static void test_non_pie(void **state)
{
	(void)state;
	check("crash-nopie", "fault_null_deref", false);
	check("crash-nopie", "fault_divide", false);
	check("crash-nopie", "fault_in_library", false);
}

static void test_shared_library(void **state)
{
	(void)state;
	check("libfault.so", "fault_lib_write", false);
	check("libfault.so", "fault_lib_compute", false);
}

static void test_stripped_dynsym(void **state)
{
	char path[512], cmd[600];

	(void)state;
	target(path, sizeof(path), "crash-stripped");
	snprintf(cmd, sizeof(cmd), "readelf -SW '%s' | grep -q '\\.symtab'", path);
	assert_int_not_equal(system(cmd), 0); /* really stripped */
	check("crash-stripped", "fault_null_deref", true);
	check("crash-stripped", "fault_divide", true);
	check("crash-stripped", "fault_in_library", true);
}

/* frame_dummy (from crtstuff) has no size: the nearest function before the address
 * names it, as long as the address stays in its section. */
static void test_zero_size_function(void **state)
{
	struct symbolizer *s;
	char path[512];

	(void)state;
	target(path, sizeof(path), "crash");
	assert_int_equal(symbolizer_new(&s), 0);
	expect_symbol(s, PLAIN(path), file_offset_of(path, "frame_dummy", false) + 2, "frame_dummy", 2);
	symbolizer_free(s);
}

/* ---- no function, not ELF, no file --------------------------------------------------- */

static void test_no_function(void **state)
{
	struct symbolizer *s;
	struct symbol out;
	char path[512];

	(void)state;
	target(path, sizeof(path), "crash");
	assert_int_equal(symbolizer_new(&s), 0);
	/* The ELF header, before any function. */
	assert_int_equal(symbolizer_lookup(s, PLAIN(path), 0, &out), -ENOENT);
	/* In no loaded segment. */
	assert_int_equal(symbolizer_lookup(s, PLAIN(path), 1ull << 40, &out), -ENOENT);
	/* Data after the last function (_fini has no size). */
	assert_int_equal(symbolizer_lookup(s, PLAIN(path), section_offset_of(path, ".rodata") + 8, &out),
			 -ENOENT);
	/* The PLT follows .init, whose _init has no size: it is not _init's. */
	assert_int_equal(symbolizer_lookup(s, PLAIN(path), section_offset_of(path, ".plt") + 16, &out),
			 -ENOENT);
	symbolizer_free(s);
}

static void test_not_elf(void **state)
{
	char text[512], empty[512];
	struct symbolizer *s;
	struct symbol out;
	FILE *f;

	tmp_path(text, sizeof(text), state, "text");
	tmp_path(empty, sizeof(empty), state, "empty");
	f = fopen(text, "w");
	assert_non_null(f);
	fputs("not an ELF file, but long enough to hold an ELF header if it were one\n", f);
	assert_int_equal(fclose(f), 0);
	f = fopen(empty, "w");
	assert_non_null(f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(symbolizer_new(&s), 0);
	assert_int_equal(symbolizer_lookup(s, PLAIN(text), 4, &out), -ENOEXEC);
	assert_int_equal(symbolizer_lookup(s, PLAIN(empty), 0, &out), -ENOEXEC);
	assert_int_equal(symbolizer_lookup(s, PLAIN(*state), 0, &out), -ENOEXEC); /* a directory */
	symbolizer_free(s);
}

/* A missing file gives stat's -ENOENT: the same code as "no function there". */
static void test_missing_file(void **state)
{
	char path[512];
	struct symbolizer *s;
	struct symbol out;

	tmp_path(path, sizeof(path), state, "missing");
	assert_int_equal(symbolizer_new(&s), 0);
	assert_int_equal(symbolizer_lookup(s, PLAIN(path), 0x1000, &out), -ENOENT);
	assert_int_equal(symbolizer_lookup(s, &(struct symbolizer_file){ path, 1, 2 }, 0x1000, &out),
			 -ENOENT);
	symbolizer_free(s);
}

/* ---- the cache ----------------------------------------------------------------------- */

/* The second lookup answers from the cache, the same as the first. */
static void test_cache_same_answer(void **state)
{
	struct symbol first, again;
	struct symbolizer *s;
	char path[512];
	uint64_t off;

	(void)state;
	target(path, sizeof(path), "crash");
	off = file_offset_of(path, "fault_divide", false) + 7;
	memset(&first, 0, sizeof(first));
	memset(&again, 0, sizeof(again));
	assert_int_equal(symbolizer_new(&s), 0);
	assert_int_equal(symbolizer_lookup(s, PLAIN(path), off, &first), 0);
	assert_int_equal(symbolizer_lookup(s, PLAIN(path), off, &again), 0);
	assert_memory_equal(&first, &again, sizeof(first));
	assert_string_equal(again.name, "fault_divide");
	symbolizer_free(s);
}

/* A binary deleted after its process mapped it is still named under the identity the
 * kernel recorded, from the parse made before. */
static void test_deleted_file_from_cache(void **state)
{
	struct symbolizer_file id;
	struct symbolizer *s;
	char src[512], tmp[512];
	struct symbol out;
	uint64_t off;

	target(src, sizeof(src), "crash");
	tmp_path(tmp, sizeof(tmp), state, "crash");
	copy_file(src, tmp);
	off = file_offset_of(tmp, "fault_null_deref", false) + 3;
	id = identified(tmp);
	assert_int_equal(symbolizer_new(&s), 0);
	expect_symbol(s, &id, off, "fault_null_deref", 3);
	assert_int_equal(unlink(tmp), 0);
	expect_symbol(s, &id, off, "fault_null_deref", 3);
	symbolizer_free(s);
	/* Nothing cached: nothing to say. */
	assert_int_equal(symbolizer_new(&s), 0);
	assert_int_equal(symbolizer_lookup(s, &id, off, &out), -ENOENT);
	symbolizer_free(s);
}

/* The identity the kernel recorded must match the file at the path. */
static void test_replaced_file_is_stale(void **state)
{
	struct symbolizer *s;
	struct symbol out;
	char path[512];
	struct stat st;
	uint64_t off;

	(void)state;
	target(path, sizeof(path), "crash");
	off = file_offset_of(path, "fault_divide", false);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(symbolizer_new(&s), 0);
	assert_int_equal(symbolizer_lookup(s, &(struct symbolizer_file){ path, 1, st.st_ino + 1 },
					   off, &out),
			 -ESTALE);
	symbolizer_free(s);
}

/* A new file under the same name (a new inode, as an upgrade makes) is read again;
 * frames recorded against the old one still get the old names. */
static void test_replaced_file_is_reread(void **state)
{
	char a[512], b[512], tmp[512], next[512];
	struct symbolizer_file old_id, new_id;
	struct symbolizer *s;
	uint64_t off_a, off_b;

	target(a, sizeof(a), "libfault.so");
	target(b, sizeof(b), "crash-nopie");
	tmp_path(tmp, sizeof(tmp), state, "bin");
	tmp_path(next, sizeof(next), state, "bin.new");
	copy_file(a, tmp);
	off_a = file_offset_of(tmp, "fault_lib_write", false) + 5;
	old_id = identified(tmp);
	assert_int_equal(symbolizer_new(&s), 0);
	expect_symbol(s, PLAIN(tmp), off_a, "fault_lib_write", 5);
	expect_symbol(s, &old_id, off_a, "fault_lib_write", 5);
	copy_file(b, next);
	assert_int_equal(rename(next, tmp), 0);
	off_b = file_offset_of(tmp, "fault_null_deref", false) + 5;
	expect_symbol(s, PLAIN(tmp), off_b, "fault_null_deref", 5);
	new_id = identified(tmp);
	expect_symbol(s, &new_id, off_b, "fault_null_deref", 5);
	expect_symbol(s, &old_id, off_a, "fault_lib_write", 5);
	symbolizer_free(s);
}

/* A file rewritten in place (same inode, new mtime) is read again. */
static void test_rewritten_in_place_is_reread(void **state)
{
	struct timespec times[2] = { { 0, UTIME_OMIT } };
	char a[512], b[512], tmp[512];
	struct stat before, after;
	struct symbolizer_file id;
	struct symbolizer *s;
	uint64_t off_a, off_b;

	target(a, sizeof(a), "libfault.so");
	target(b, sizeof(b), "crash-nopie");
	tmp_path(tmp, sizeof(tmp), state, "bin");
	copy_file(a, tmp);
	assert_int_equal(stat(tmp, &before), 0);
	off_a = file_offset_of(tmp, "fault_lib_write", false) + 7;
	assert_int_equal(symbolizer_new(&s), 0);
	expect_symbol(s, PLAIN(tmp), off_a, "fault_lib_write", 7);
	copy_file(b, tmp);
	times[1] = before.st_mtim;
	times[1].tv_sec += 10;
	assert_int_equal(utimensat(AT_FDCWD, tmp, times, 0), 0);
	assert_int_equal(stat(tmp, &after), 0);
	assert_int_equal(after.st_ino, before.st_ino);
	off_b = file_offset_of(tmp, "fault_divide", false) + 7;
	expect_symbol(s, PLAIN(tmp), off_b, "fault_divide", 7);
	id = identified(tmp);
	expect_symbol(s, &id, off_b, "fault_divide", 7);
	symbolizer_free(s);
}

/* More files than the cache holds: the oldest go, and every answer stays right. */
static void test_cache_bound(void **state)
{
	char src[512], real[PATH_MAX], link[512];
	struct symbolizer *s;
	uint64_t off;

	target(src, sizeof(src), "crash");
	assert_non_null(realpath(src, real));
	off = file_offset_of(real, "fault_divide", false) + 1;
	assert_int_equal(symbolizer_new(&s), 0);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 70; i++) {
			snprintf(link, sizeof(link), "%s/l%02d", (const char *)*state, i);
			if (!round)
				assert_int_equal(symlink(real, link), 0);
			expect_symbol(s, PLAIN(link), off, "fault_divide", 1);
		}
	}
	symbolizer_free(s);
}

/* The build id is the one binutils reads from the note. */
static void test_build_id(void **state)
{
	char path[512], cmd[700], want[BUILD_ID_HEX_MAX] = "", got[BUILD_ID_HEX_MAX];
	struct symbolizer *s;
	FILE *p;

	(void)state;
	target(path, sizeof(path), "libfault.so");
	snprintf(cmd, sizeof(cmd), "readelf -n '%s' | sed -n 's/.*Build ID: *//p'", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(want, sizeof(want), p));
	pclose(p);
	want[strcspn(want, "\n")] = 0;
	assert_true(strlen(want) >= 40);
	assert_int_equal(symbolizer_new(&s), 0);
	assert_int_equal(symbolizer_build_id(s, PLAIN(path), got), 0);
	assert_string_equal(got, want);
	symbolizer_free(s);
}

/* ---- debug files, MiniDebugInfo, C++, DWARF lines: fixtures built here ---------------- */

static char fx[256]; /* the fixtures' directory */

static const char app_c[] =
	"#include <stdio.h>\n"
	"int g = 5;\n"
	"static __attribute__((noipa)) int hidden_step(int x)\n"
	"{\n"
	"	return x * g + 1;\n"
	"}\n"
	"static inline __attribute__((always_inline)) int leaf(int x)\n"
	"{\n"
	"	return x * 3 + g;\n"
	"}\n"
	"static inline __attribute__((always_inline)) int mid(int x)\n"
	"{\n"
	"	return leaf(x) + hidden_step(x);\n"
	"}\n"
	"__attribute__((noinline)) int outer(int x)\n"
	"{\n"
	"	return mid(x) * 2;\n"
	"}\n"
	"int main(int argc, char **argv)\n"
	"{\n"
	"	(void)argv;\n"
	"	printf(\"%d\\n\", outer(argc));\n"
	"	return 0;\n"
	"}\n";

static const char cpp_cc[] =
	"namespace ns {\n"
	"struct Parser {\n"
	"	int parse(const char *s, int n);\n"
	"};\n"
	"__attribute__((noinline)) int Parser::parse(const char *s, int n) { return s[0] + n; }\n"
	"}\n"
	"int main(int argc, char **argv) { ns::Parser p; return p.parse(argv[0], argc); }\n";

static int __attribute__((format(printf, 1, 2))) sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static int write_text(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fx, name);
	if (!(f = fopen(path, "w")))
		return -1;
	fputs(text, f);
	return fclose(f);
}

static void fx_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", fx, name);
}

/* The GNU build id of path, as readelf prints it. */
static void build_id_of(const char *path, char *out, size_t len)
{
	char cmd[700];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "readelf -n '%s' | sed -n 's/.*Build ID: *//p'", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	out[0] = 0;
	if (!fgets(out, len, p))
		out[0] = 0;
	pclose(p);
	out[strcspn(out, "\n")] = 0;
}

/* app (with a build id), app-renamed (app with outer() called renamed(): the same code
 * at the same offsets) and app-noid (without a build id) at -O2 with DWARF; then:
 *   stripped         app stripped; its debug file in debug/.build-id/xx/yyyy.debug
 *   link/app-noid    app-noid stripped, with a .gnu_debuglink to app-noid.debug beside it
 *   badlink/app-noid the same, beside its debug file with one section more: the same
 *                    functions at the same addresses, another CRC
 *   mini             app stripped, its functions in .gnu_debugdata (the MiniDebugInfo
 *                    recipe of gdb's manual, as Fedora builds packages)
 *   cpp              a C++ program */
static int fixtures_setup(void **state)
{
	char id[128], app[512];

	(void)state;
	snprintf(fx, sizeof(fx), "/tmp/salve-test-symbolize-fx.XXXXXX");
	if (!mkdtemp(fx) || write_text("app.c", app_c) || write_text("cpp.cc", cpp_cc))
		return -1;
	if (sh("cd %s && cc -O2 -g app.c -o app && "
	       "cc -O2 -g -Douter=renamed app.c -o app-renamed && "
	       "cc -O2 -g -Wl,--build-id=none app.c -o app-noid && "
	       "c++ -O1 -g cpp.cc -o cpp", fx))
		return -1;
	fx_path(app, sizeof(app), "app");
	build_id_of(app, id, sizeof(id));
	if (strlen(id) < 4)
		return -1;
	if (sh("cd %s && mkdir -p debug/.build-id/%.2s nodebug link badlink && "
	       "objcopy --only-keep-debug app debug/.build-id/%.2s/%s.debug && "
	       "strip --strip-all -o stripped app && "
	       "objcopy --only-keep-debug app-noid link/app-noid.debug && "
	       "strip --strip-all -o link/app-noid app-noid && "
	       "objcopy --add-gnu-debuglink=link/app-noid.debug link/app-noid && "
	       "cp link/app-noid badlink/app-noid && "
	       "objcopy --add-section .salve.junk=app.c link/app-noid.debug badlink/app-noid.debug",
	       fx, id, id, id + 2))
		return -1;
	if (sh("cd %s && mkdir mini.d && cd mini.d && cp ../app mini && "
	       "nm -D mini --format=posix --defined-only | awk '{ print $1 }' | sort > dynsyms && "
	       "nm mini --format=posix --defined-only | "
	       "awk '{ if ($2 == \"T\" || $2 == \"t\" || $2 == \"D\") print $1 }' | sort > funcsyms && "
	       "comm -13 dynsyms funcsyms > keep_symbols && "
	       "objcopy --only-keep-debug mini debug && "
	       "objcopy -S --remove-section .gdb_index --remove-section .comment "
	       "--keep-symbols=keep_symbols debug mini_debuginfo && "
	       "strip --strip-all -R .comment mini && xz mini_debuginfo && "
	       "objcopy --add-section .gnu_debugdata=mini_debuginfo.xz mini && mv mini ../mini",
	       fx))
		return -1;
	return 0;
}

static int fixtures_teardown(void **state)
{
	(void)state;
	if (fx[0] && !getenv("SALVE_KEEP_TMP"))
		sh("rm -rf '%s'", fx);
	return 0;
}

static struct symbolizer *with_root(const char *root)
{
	char dir[512];
	struct symbolizer *s;

	fx_path(dir, sizeof(dir), root);
	assert_int_equal(symbolizer_new_opts(&(struct symbolizer_opts){ .debug_root = dir }, &s), 0);
	return s;
}

/* hidden_step is static: a stripped file names it only through its debug information. */
static void expect_hidden(struct symbolizer *s, const char *file, bool named)
{
	char path[512], app[512];
	struct symbol out;
	uint64_t off;
	int rc;

	fx_path(path, sizeof(path), file);
	fx_path(app, sizeof(app), "app");
	off = file_offset_of(app, "hidden_step", false);
	memset(&out, 0, sizeof(out));
	rc = symbolizer_lookup(s, PLAIN(path), off + 1, &out);
	if (named) {
		assert_int_equal(rc, 0);
		assert_string_equal(out.name, "hidden_step");
		assert_int_equal(out.offset, 1);
	} else {
		assert_true(rc != 0 || strcmp(out.name, "hidden_step"));
	}
}

static void test_debug_file_by_build_id(void **state)
{
	struct symbolizer *s;
	char cmd[700], path[512];

	(void)state;
	fx_path(path, sizeof(path), "stripped");
	snprintf(cmd, sizeof(cmd), "readelf -SW '%s' | grep -q '\\.symtab'", path);
	assert_int_not_equal(system(cmd), 0); /* really stripped */
	s = with_root("debug");
	expect_hidden(s, "stripped", true);
	symbolizer_free(s);
	s = with_root("nodebug");
	expect_hidden(s, "stripped", false);
	symbolizer_free(s);
}

/* A file without a build id finds its debug file by .gnu_debuglink, and only one whose
 * CRC is the one the link names. */
static void test_debuglink_crc(void **state)
{
	struct symbolizer *s;
	char path[512], app[512];
	struct symbol out;
	uint64_t off;

	(void)state;
	s = with_root("nodebug");
	/* app-noid's layout is app's but for the build id note: take its own offsets. */
	fx_path(app, sizeof(app), "app-noid");
	off = file_offset_of(app, "hidden_step", false);
	fx_path(path, sizeof(path), "link/app-noid");
	memset(&out, 0, sizeof(out));
	assert_int_equal(symbolizer_lookup(s, PLAIN(path), off + 2, &out), 0);
	assert_string_equal(out.name, "hidden_step");
	assert_int_equal(out.offset, 2);
	fx_path(path, sizeof(path), "badlink/app-noid");
	memset(&out, 0, sizeof(out));
	assert_true(symbolizer_lookup(s, PLAIN(path), off + 2, &out) != 0 ||
		    strcmp(out.name, "hidden_step"));
	symbolizer_free(s);
}

static void test_minidebuginfo(void **state)
{
	struct symbolizer *s;
	char cmd[1200], path[512];

	(void)state;
	fx_path(path, sizeof(path), "mini");
	snprintf(cmd, sizeof(cmd),
		 "readelf -SW '%s' | grep -q '\\.gnu_debugdata' && ! readelf -SW '%s' | grep -q '\\.symtab'",
		 path, path);
	assert_int_equal(system(cmd), 0);
	s = with_root("nodebug");
	expect_hidden(s, "mini", true);
	symbolizer_free(s);
}

/* The name c++filt gives, as nm -C prints it. */
static void test_cplusplus_demangled(void **state)
{
	char path[512], cmd[700], line[512], want[512] = "";
	struct symbolizer *s;
	FILE *p;

	(void)state;
	fx_path(path, sizeof(path), "cpp");
	snprintf(cmd, sizeof(cmd), "nm -C --defined-only '%s' | sed -n 's/^[0-9a-f]* T //p' | "
		 "grep '^ns::Parser::parse'", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (fgets(line, sizeof(line), p))
		snprintf(want, sizeof(want), "%.*s", (int)strcspn(line, "\n"), line);
	pclose(p);
	assert_string_equal(want, "ns::Parser::parse(char const*, int)");
	assert_int_equal(symbolizer_new(&s), 0);
	expect_symbol(s, PLAIN(path), file_offset_of(path, "_ZN2ns6Parser5parseEPKci", false) + 1,
		      want, 1);
	symbolizer_free(s);
}

/* What addr2line -f -i -C says of addr in path: function and file:line pairs, innermost
 * first. */
struct a2l {
	size_t n;
	char fn[SYMBOL_INLINED_MAX + 1][SYMBOL_NAME_MAX];
	char file[SYMBOL_INLINED_MAX + 1][SYMBOL_FILE_MAX];
	unsigned line[SYMBOL_INLINED_MAX + 1];
};

static void addr2line(const char *path, uint64_t addr, struct a2l *out)
{
	char cmd[700], fn[SYMBOL_NAME_MAX], loc[SYMBOL_FILE_MAX + 64];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "addr2line -e '%s' -f -i -C 0x%llx", path,
		 (unsigned long long)addr);
	p = popen(cmd, "r");
	assert_non_null(p);
	out->n = 0;
	while (out->n <= SYMBOL_INLINED_MAX && fgets(fn, sizeof(fn), p) && fgets(loc, sizeof(loc), p)) {
		char *colon = strrchr(loc, ':');

		fn[strcspn(fn, "\n")] = 0;
		assert_non_null(colon);
		*colon = 0;
		snprintf(out->fn[out->n], SYMBOL_NAME_MAX, "%s", fn);
		snprintf(out->file[out->n], SYMBOL_FILE_MAX, "%.*s", SYMBOL_FILE_MAX - 1, loc);
		out->line[out->n++] = strtoul(colon + 1, NULL, 10); /* "12 (discriminator 1)" */
	}
	pclose(p);
}

/* The virtual address of a file offset, through readelf's PT_LOAD lines. */
static uint64_t vaddr_of(const char *file, uint64_t off)
{
	char cmd[600], line[512];
	uint64_t addr = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "readelf -lW '%s'", file);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		unsigned long long o, va, pa, fsz;

		if (sscanf(line, " LOAD 0x%llx 0x%llx 0x%llx 0x%llx", &o, &va, &pa, &fsz) == 4 &&
		    off >= o && off < o + fsz)
			addr = off - o + va;
	}
	pclose(p);
	return addr;
}

/* The size of function fn in file, as nm -S gives it. */
static uint64_t fn_size(const char *file, const char *fn)
{
	char cmd[700];
	uint64_t size = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "nm -S --defined-only '%s' | awk '$4 == \"%s\" { print $2 }'",
		 file, fn);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%" SCNx64, &size), 1);
	pclose(p);
	assert_true(size > 0);
	return size;
}

/* Every byte of outer() (where mid() and leaf() are inlined) and of main() named as
 * addr2line names it: the inlined functions innermost first, each with its line, then
 * the symbol's own line; through the stripped file's debug file the same. */
static void test_lines_match_addr2line(void **state)
{
	static const char *const fns[] = { "outer", "main" };
	char app[512], stripped[512];
	struct symbolizer *s = with_root("debug");
	size_t inlined_seen = 0, lines_seen = 0;
	struct symbol *out = malloc(sizeof(*out));

	(void)state;
	assert_non_null(out);
	fx_path(app, sizeof(app), "app");
	fx_path(stripped, sizeof(stripped), "stripped");
	for (size_t f = 0; f < 2; f++) {
		uint64_t start = file_offset_of(app, fns[f], false), size = fn_size(app, fns[f]);

		for (uint64_t off = start; off < start + size; off++) {
			struct a2l want;

			addr2line(app, vaddr_of(app, off), &want);
			assert_true(want.n >= 1);
			for (int which = 0; which < 2; which++) {
				memset(out, 0, sizeof(*out));
				assert_int_equal(symbolizer_lookup(s, PLAIN(which ? stripped : app), off,
								   out), 0);
				assert_string_equal(out->name, fns[f]);
				assert_int_equal(out->n_inlined, want.n - 1);
				for (size_t i = 0; i < out->n_inlined; i++) {
					assert_string_equal(out->inlined[i].name, want.fn[i]);
					assert_string_equal(out->inlined[i].file, want.file[i]);
					assert_int_equal(out->inlined[i].line, want.line[i]);
				}
				assert_string_equal(out->name, want.fn[want.n - 1]);
				assert_string_equal(out->file, want.file[want.n - 1]);
				assert_int_equal(out->line, want.line[want.n - 1]);
			}
			inlined_seen += want.n > 1;
			lines_seen += want.line[0] > 0;
		}
	}
	assert_true(inlined_seen > 0); /* the fixture does inline */
	assert_true(lines_seen > 0);
	free(out);
	symbolizer_free(s);
}

/* A return address is named by the call before it, as addr2line names address - 1. */
static void test_caller_frame(void **state)
{
	char app[512];
	struct symbolizer *s = with_root("nodebug");
	struct symbol *out = malloc(sizeof(*out));
	uint64_t off;
	struct a2l want;

	(void)state;
	assert_non_null(out);
	fx_path(app, sizeof(app), "app");
	off = file_offset_of(app, "outer", false) + 4;
	addr2line(app, vaddr_of(app, off) - 1, &want);
	memset(out, 0, sizeof(*out));
	assert_int_equal(symbolizer_lookup_frame(s, PLAIN(app), off, true, out), 0);
	assert_string_equal(out->name, "outer");
	assert_int_equal(out->offset, 4);
	assert_string_equal(out->file, want.file[want.n - 1]);
	assert_int_equal(out->line, want.line[want.n - 1]);
	free(out);
	symbolizer_free(s);
}


/* ---- names kept across stacks (symbolizer_name) ------------------------------------- */

/* A kept frame says what the copied lookup says of the same frame. */
static void expect_same_frame(struct symbolizer *s, const struct symbolizer_file *file,
			      uint64_t off, bool caller, int got_rc, const struct symbol_frame *got)
{
	static struct symbol want;
	int rc;

	memset(&want, 0, sizeof(want));
	rc = symbolizer_lookup_frame(s, file, off, caller, &want);
	assert_int_equal(got_rc, rc);
	if (rc)
		return;
	assert_string_equal(got->name, want.name);
	assert_int_equal(got->offset, want.offset);
	assert_string_equal(got->file, want.file);
	assert_int_equal(got->line, want.line);
	assert_int_equal(got->n_inlined, want.n_inlined);
	for (size_t i = 0; i < want.n_inlined; i++) {
		assert_string_equal(got->inlined[i].name, want.inlined[i].name);
		assert_string_equal(got->inlined[i].file, want.inlined[i].file);
		assert_int_equal(got->inlined[i].line, want.inlined[i].line);
	}
}

static const struct symbolizer_parse *parse_of(struct symbolizer *s,
					       const struct symbolizer_file *file)
{
	const struct symbolizer_parse *p = NULL;

	assert_int_equal(symbolizer_parse(s, file, &p), 0);
	assert_non_null(p);
	return p;
}

/* Every byte of outer() (inlined functions, lines) and main(), as an innermost frame and
 * as a caller's, in app and through the stripped file's debug file: the kept frame is
 * the copied one, and the second time it is the same one, answered from the table. */
static void test_kept_equals_copied(void **state)
{
	static const char *const fns[] = { "outer", "main" };
	struct symbolizer *s = with_root("debug");
	struct symbolizer_names_stats st;
	char app[512], stripped[512];
	size_t inlined_seen = 0, named = 0;

	(void)state;
	fx_path(app, sizeof(app), "app");
	fx_path(stripped, sizeof(stripped), "stripped");
	for (size_t f = 0; f < 2; f++) {
		uint64_t start = file_offset_of(app, fns[f], false), size = fn_size(app, fns[f]);

		for (uint64_t off = start; off < start + size + 2; off++) {
			for (int which = 0; which < 4; which++) {
				const struct symbolizer_file *file = PLAIN(which & 2 ? stripped : app);
				const struct symbol_frame *first = NULL, *again = NULL;
				bool caller = which & 1;
				int rc, rc2;

				symbolizer_stack_begin(s);
				rc = symbolizer_name(s, parse_of(s, file), off, caller, &first);
				expect_same_frame(s, file, off, caller, rc, first);
				symbolizer_stack_begin(s);
				rc2 = symbolizer_name(s, parse_of(s, file), off, caller, &again);
				assert_int_equal(rc2, rc);
				assert_ptr_equal(again, first);
				expect_same_frame(s, file, off, caller, rc2, again);
				named += !rc;
				inlined_seen += !rc && first->n_inlined;
			}
		}
	}
	assert_true(named > 0);
	assert_true(inlined_seen > 0); /* the fixture does inline */
	symbolizer_names_stats(s, &st);
	assert_true(st.hits >= st.misses);
	assert_int_equal(st.cleared, 0);
	symbolizer_free(s);
}

static double mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The name at off in file, as a stack begun now names it; "" for none. */
static const char *kept_name(struct symbolizer *s, const struct symbolizer_file *file,
			     uint64_t off)
{
	const struct symbol_frame *fr;

	symbolizer_stack_begin(s);
	return symbolizer_name(s, parse_of(s, file), off, false, &fr) ? "" : fr->name;
}

/* A file rewritten in place (same inode) with another function at the offset: its kept
 * name does not outlive the once-a-second stat; a file known by its path alone is
 * stat'ed for every stack and named anew at once. */
static void test_kept_rewritten_in_place(void **state)
{
	struct timespec times[2] = { { 0, UTIME_OMIT } };
	char app[512], renamed[512], tmp[512];
	struct stat before, after;
	struct symbolizer_file id;
	struct symbolizer *s;
	uint64_t off;
	double t0;

	fx_path(app, sizeof(app), "app");
	fx_path(renamed, sizeof(renamed), "app-renamed");
	tmp_path(tmp, sizeof(tmp), state, "bin");
	off = file_offset_of(app, "outer", false) + 4;
	assert_int_equal(file_offset_of(renamed, "renamed", false) + 4, off);
	copy_file(app, tmp);
	assert_int_equal(stat(tmp, &before), 0);
	id = identified(tmp);
	assert_int_equal(symbolizer_new(&s), 0);
	assert_string_equal(kept_name(s, &id, off), "outer");
	assert_string_equal(kept_name(s, &id, off), "outer");
	assert_string_equal(kept_name(s, PLAIN(tmp), off), "outer");
	copy_file(renamed, tmp);
	times[1] = before.st_mtim;
	times[1].tv_sec += 10;
	assert_int_equal(utimensat(AT_FDCWD, tmp, times, 0), 0);
	assert_int_equal(stat(tmp, &after), 0);
	assert_int_equal(after.st_ino, before.st_ino);
	/* Under the identity the kernel recorded: named anew by the next second's stat. */
	t0 = mono_seconds();
	while (strcmp(kept_name(s, &id, off), "renamed") && mono_seconds() - t0 < 3)
		usleep(10000);
	assert_string_equal(kept_name(s, &id, off), "renamed");
	assert_true(mono_seconds() - t0 < 2);
	/* By its path alone: at once. */
	copy_file(app, tmp);
	times[1].tv_sec += 10;
	assert_int_equal(utimensat(AT_FDCWD, tmp, times, 0), 0);
	assert_string_equal(kept_name(s, PLAIN(tmp), off), "outer");
	symbolizer_free(s);
}

/* More frames than the table keeps: it starts over, and a stack that was handed names
 * before that still reads them until the next stack begins; every answer stays the
 * copied one. Frames are keyed by parse too: the crash target under LINKS paths gives
 * enough of them. */
enum { KEPT_LINKS = 3, KEPT_STACK = 64, KEPT_BEFORE = SYMBOLIZER_NAMES_MAX - KEPT_STACK / 4 };

struct kept_fixture {
	char links[KEPT_LINKS][512];
	const struct symbolizer_parse *parses[KEPT_LINKS];
	uint64_t text, text_size;
};

/* Frame i of the fixture: a byte of .text in one of the links, innermost or a caller. */
static int kept_frame(struct symbolizer *s, const struct kept_fixture *k, size_t i,
		      const struct symbol_frame **out)
{
	size_t at = i / 2 % k->text_size, link = i / 2 / k->text_size;

	assert_true(link < KEPT_LINKS);
	return symbolizer_name(s, k->parses[link], k->text + at, i & 1, out);
}

static void kept_expect(struct symbolizer *s, const struct kept_fixture *k, size_t i, int rc,
			const struct symbol_frame *got)
{
	size_t at = i / 2 % k->text_size, link = i / 2 / k->text_size;

	expect_same_frame(s, PLAIN(k->links[link]), k->text + at, i & 1, rc, got);
}

static void kept_stack(struct symbolizer *s, struct kept_fixture *k)
{
	symbolizer_stack_begin(s);
	for (size_t l = 0; l < KEPT_LINKS; l++)
		k->parses[l] = parse_of(s, PLAIN(k->links[l]));
}

static void test_kept_bound(void **state)
{
	const struct symbol_frame *got[KEPT_STACK];
	struct symbolizer_names_stats st;
	struct kept_fixture k;
	char path[512], real[PATH_MAX], cmd[PATH_MAX + 200];
	struct symbolizer *s;
	size_t named = 0;
	int rc[KEPT_STACK];
	FILE *p;

	target(path, sizeof(path), "crash");
	assert_non_null(realpath(path, real));
	k.text = section_offset_of(real, ".text");
	snprintf(cmd, sizeof(cmd), "readelf -SW '%s' | sed 's/^ *\\[ *[0-9]*\\]//' | "
		 "awk '$1 == \".text\" { print $5 }'", real);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%" SCNx64, &k.text_size), 1);
	pclose(p);
	assert_true(k.text_size * 2 * KEPT_LINKS > KEPT_BEFORE + KEPT_STACK);
	for (size_t l = 0; l < KEPT_LINKS; l++) {
		snprintf(k.links[l], sizeof(k.links[l]), "%s/l%zu", (const char *)*state, l);
		assert_int_equal(symlink(real, k.links[l]), 0);
	}
	assert_int_equal(symbolizer_new(&s), 0);
	for (size_t i = 0; i < KEPT_BEFORE; i++) {
		const struct symbol_frame *fr;

		if (i % KEPT_STACK == 0)
			kept_stack(s, &k);
		kept_frame(s, &k, i, &fr);
	}
	symbolizer_names_stats(s, &st);
	assert_int_equal(st.kept, KEPT_BEFORE);
	assert_int_equal(st.misses, KEPT_BEFORE);
	assert_int_equal(st.cleared, 0);
	/* One stack across the table's end. */
	kept_stack(s, &k);
	for (size_t i = 0; i < KEPT_STACK; i++) {
		rc[i] = kept_frame(s, &k, KEPT_BEFORE + i, &got[i]);
		named += !rc[i];
	}
	symbolizer_names_stats(s, &st);
	assert_int_equal(st.cleared, 1);
	assert_int_equal(st.kept, KEPT_BEFORE + KEPT_STACK - SYMBOLIZER_NAMES_MAX);
	assert_true(named > KEPT_STACK / 2);
	for (size_t i = 0; i < KEPT_STACK; i++)
		kept_expect(s, &k, KEPT_BEFORE + i, rc[i], got[i]);
	/* The first frames went with the table: named again, the same. */
	kept_stack(s, &k);
	for (size_t i = 0; i < KEPT_STACK; i++) {
		rc[i] = kept_frame(s, &k, i, &got[i]);
		kept_expect(s, &k, i, rc[i], got[i]);
	}
	symbolizer_names_stats(s, &st);
	assert_int_equal(st.misses, KEPT_BEFORE + 2 * KEPT_STACK);
	symbolizer_free(s);
}

/* A stack naming more files than the symbolizer keeps parsed: a parse it was handed
 * still names frames and gives its build id after it left the cache. */
static void test_kept_parse_outlives_cache(void **state)
{
	const struct symbolizer_parse *first = NULL, *p;
	char src[512], real[PATH_MAX], link[512], want[BUILD_ID_HEX_MAX];
	const struct symbol_frame *fr;
	struct symbolizer *s;
	uint64_t off;

	target(src, sizeof(src), "crash");
	assert_non_null(realpath(src, real));
	build_id_of(real, want, sizeof(want));
	off = file_offset_of(real, "fault_divide", false) + 1;
	assert_int_equal(symbolizer_new(&s), 0);
	symbolizer_stack_begin(s);
	for (int i = 0; i < 70; i++) {
		snprintf(link, sizeof(link), "%s/l%02d", (const char *)*state, i);
		assert_int_equal(symlink(real, link), 0);
		p = parse_of(s, PLAIN(link));
		if (!i)
			first = p;
	}
	assert_int_equal(symbolizer_name(s, first, off, false, &fr), 0);
	assert_string_equal(fr->name, "fault_divide");
	assert_int_equal(fr->offset, 1);
	assert_string_equal(symbolizer_parse_build_id(first), want);
	symbolizer_stack_begin(s);
	symbolizer_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pie),
		cmocka_unit_test(test_non_pie),
		cmocka_unit_test(test_shared_library),
		cmocka_unit_test(test_stripped_dynsym),
		cmocka_unit_test(test_zero_size_function),
		cmocka_unit_test(test_no_function),
		cmocka_unit_test_setup_teardown(test_not_elf, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_missing_file, setup_dir, teardown_dir),
		cmocka_unit_test(test_cache_same_answer),
		cmocka_unit_test_setup_teardown(test_deleted_file_from_cache, setup_dir, teardown_dir),
		cmocka_unit_test(test_replaced_file_is_stale),
		cmocka_unit_test_setup_teardown(test_replaced_file_is_reread, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_rewritten_in_place_is_reread, setup_dir,
						teardown_dir),
		cmocka_unit_test_setup_teardown(test_cache_bound, setup_dir, teardown_dir),
		cmocka_unit_test(test_build_id),
		cmocka_unit_test_setup_teardown(test_kept_bound, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_kept_parse_outlives_cache, setup_dir, teardown_dir),
	};
	const struct CMUnitTest debug_tests[] = {
		cmocka_unit_test(test_debug_file_by_build_id),
		cmocka_unit_test(test_debuglink_crc),
		cmocka_unit_test(test_minidebuginfo),
		cmocka_unit_test(test_cplusplus_demangled),
		cmocka_unit_test(test_lines_match_addr2line),
		cmocka_unit_test(test_caller_frame),
		cmocka_unit_test(test_kept_equals_copied),
		cmocka_unit_test_setup_teardown(test_kept_rewritten_in_place, setup_dir, teardown_dir),
	};
	const char *b = getenv("SALVE_BUILD");
	int failed;

	snprintf(build, sizeof(build), "%s", b && *b ? b : "build");
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	return failed + cmocka_run_group_tests_name("debug information", debug_tests,
						    fixtures_setup, fixtures_teardown);
}
