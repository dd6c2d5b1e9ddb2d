/* resolve: probe sites to files and offsets. Fixtures are built at test time in a
 * temporary directory (a PIE and a non-PIE executable, a versioned shared library,
 * stripped copies with a debug file under a build-id path, 5-byte NOP entries);
 * expected offsets come from binutils (nm, readelf), not from the code under test. */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
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
#include <unistd.h>

#include <cmocka.h>

#include "kernel/resolve.h"

#define P 512 /* bytes of a fixture path: the temporary directory is short */

struct fixtures {
	char dir[64];
	bool clang; /* clang is there to build the 5-byte NOP entry */
};

/* ---- helpers ------------------------------------------------------------------------ */

static int __attribute__((format(printf, 1, 2))) sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc)
		fprintf(stderr, "test_resolve: failed (%d): %s\n", rc, cmd);
	return rc;
}

static void fixture(const struct fixtures *fx, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", fx->dir, name);
}

static int write_file(const char *dir, const char *name, const char *text)
{
	char path[P];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f) ? -1 : 0;
}

/* The file offset of vaddr in file, through the PT_LOAD readelf shows holding it. */
static uint64_t readelf_offset(const char *file, uint64_t vaddr)
{
	unsigned long long o, va, pa, fsz;
	char cmd[P + 32], line[512];
	uint64_t off = 0;
	bool found = false;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "readelf -lW '%s'", file);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		if (sscanf(line, " LOAD 0x%llx 0x%llx 0x%llx 0x%llx", &o, &va, &pa, &fsz) == 4 &&
		    vaddr >= va && vaddr < va + fsz) {
			off = vaddr - va + o;
			found = true;
		}
	}
	pclose(p);
	assert_true(found);
	return off;
}

/* The offset of symbol: its address from nm on sym_file, its segment from readelf on
 * file (the same file, or the stripped copy of sym_file). */
static uint64_t nm_offset(const char *file, const char *sym_file, const char *symbol)
{
	char cmd[P + 64], line[512], name[256], type;
	unsigned long long addr = 0, a;
	bool found = false;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "nm --defined-only '%s'", sym_file);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		if (sscanf(line, "%llx %c %255s", &a, &type, name) == 3 && !strcmp(name, symbol)) {
			addr = a;
			found = true;
		}
	}
	pclose(p);
	assert_true(found);
	return readelf_offset(file, addr);
}

/* Functions named name as readelf lists them (table order), with the file offsets of
 * their addresses; "name@VER" / "name@@VER" as readelf writes them. */
struct listed {
	char full[256];
	char type[16];
	uint64_t offset;
};

static size_t readelf_functions(const char *file, const char *opt, const char *name,
				struct listed *out, size_t max)
{
	char cmd[P + 64], line[1024], type[16], bind[16], vis[16], ndx[16], full[256];
	unsigned long long value, size;
	size_t n = 0, len = strlen(name);
	FILE *p;

	snprintf(cmd, sizeof(cmd), "readelf %s -W '%s'", opt, file);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		if (sscanf(line, " %*[0-9]: %llx %llu %15s %15s %15s %15s %255s", &value, &size,
			   type, bind, vis, ndx, full) != 7 ||
		    (strcmp(type, "FUNC") && strcmp(type, "IFUNC")) || !strcmp(ndx, "UND") ||
		    strncmp(full, name, len) || (full[len] && full[len] != '@') || n == max)
			continue;
		snprintf(out[n].full, sizeof(out[n].full), "%s", full);
		snprintf(out[n].type, sizeof(out[n].type), "%s", type);
		out[n++].offset = value;
	}
	pclose(p);
	for (size_t i = 0; i < n; i++)
		out[i].offset = readelf_offset(file, out[i].offset);
	return n;
}

static void read_build_id(const char *file, char *hex, size_t len)
{
	char cmd[P + 32], line[512];
	FILE *p;

	hex[0] = '\0';
	snprintf(cmd, sizeof(cmd), "readelf -n '%s'", file);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p))
		if (sscanf(line, " Build ID: %127[0-9a-f]", hex) == 1)
			break;
	pclose(p);
	assert_true(strlen(hex) < len);
}

static void bytes_at(const char *file, uint64_t off, unsigned char *b, size_t n)
{
	int fd = open(file, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, b, n, off), n);
	close(fd);
}

static void symbol_ok(const char *file, const char *symbol, const struct resolve_opts *opts,
		      struct resolve_site *site)
{
	char err[1024] = "";
	int rc = resolve_symbol(file, symbol, opts, site, err, sizeof(err));

	if (rc)
		fail_msg("resolve_symbol(%s, %s): %d: %s", file, symbol, rc, err);
	assert_string_equal(site->path, file);
}

static void symbol_fails(const char *file, const char *symbol, const struct resolve_opts *opts,
			 int want_rc, const char *want_err)
{
	struct resolve_site site;
	char err[2048] = "";

	assert_int_equal(resolve_symbol(file, symbol, opts, &site, err, sizeof(err)), want_rc);
	assert_string_equal(err, want_err);
}

/* ---- fixtures ----------------------------------------------------------------------- */

static const char app_c[] =
	"#define F __attribute__((noinline, used))\n"
	"F int parse(const char *s) { return s[0]; }\n"
	"F int parse_line(const char *s) { return s[1] + 1; }\n"
	"F int pause(void) { return 3; }\n"
	"F int query(int x) { return x * 7; }\n"
	"F static int helper(int x) { return x + 1; }\n"
	"int two(int);\n"
	"int main(int argc, char **argv)\n"
	"{ return parse(argv[0]) + parse_line(argv[0]) + pause() + query(argc) + helper(argc)\n"
	"         + two(argc); }\n";

/* A second static helper: two local functions of one name. */
static const char two_c[] =
	"__attribute__((noinline, used)) static int helper(int x) { return x * 5; }\n"
	"int two(int x) { return helper(x); }\n";

static const char lib_c[] =
	"__attribute__((noinline)) int lib_fn_v1(int x) { return x + 1; }\n"
	"__attribute__((noinline)) int lib_fn_v2(int x) { return x * 3 + 2; }\n"
	"__asm__(\".symver lib_fn_v1, lib_fn@VER_1\");\n"
	"__asm__(\".symver lib_fn_v2, lib_fn@@VER_2\");\n"
	"int lib_plain(int x) { return x - 7; }\n";

static const char lib_map[] = "VER_1 { global: lib_fn; lib_plain; local: *; };\n"
			      "VER_2 { global: lib_fn; } VER_1;\n";

/* hot() gets the compiler's patchable entry; canon() starts with gas's own nopl. */
static const char nop_c[] =
	"__attribute__((noinline)) int hot(int x) { return x * 2; }\n"
	"__asm__(\".text\\n.globl canon\\n.type canon,@function\\ncanon:\\n"
	".byte 0x0f,0x1f,0x44,0x00,0x00\\nret\\n.size canon, .-canon\\n\");\n"
	"int canon(void);\n"
	"int main(int argc, char **argv) { (void)argv; return hot(argc) + canon(); }\n";

#define NOP_FLAGS "-O1 -fcf-protection=none -fpatchable-function-entry=5"

static int setup(void **state)
{
	static struct fixtures fx;
	const char *d = fx.dir;
	char id[128];

	snprintf(fx.dir, sizeof(fx.dir), "/tmp/salve-resolve-XXXXXX");
	if (!mkdtemp(fx.dir))
		return -1;
	fx.clang = !system("command -v clang >/dev/null 2>&1");
	if (write_file(d, "app.c", app_c) || write_file(d, "two.c", two_c) ||
	    write_file(d, "lib.c", lib_c) || write_file(d, "lib.map", lib_map) ||
	    write_file(d, "nop.c", nop_c) || write_file(d, "script", "#!/bin/sh\nexit 0\n"))
		return -1;
	if (sh("cd %s && cc -O0 -g -fPIE -pie app.c two.c -o app-pie", d) ||
	    sh("cd %s && cc -O0 -g -fno-pie -no-pie app.c two.c -o app-nopie", d) ||
	    sh("cd %s && cc -O0 -g -fPIE -pie -Wl,--build-id=none app.c two.c -o app-noid", d) ||
	    sh("cd %s && cc -O1 -shared -fPIC -Wl,--version-script=lib.map lib.c -o libfix.so",
	       d) ||
	    sh("cd %s && strip --strip-all -o libfix-stripped.so libfix.so", d) ||
	    sh("cd %s && strip --strip-all -o app-stripped app-pie", d) ||
	    sh("cd %s && strip --strip-all -o app-noid-stripped app-noid", d) ||
	    sh("cd %s && cc %s nop.c -o nop-gcc", d, NOP_FLAGS) ||
	    (fx.clang && sh("cd %s && clang %s nop.c -o nop-clang", d, NOP_FLAGS)))
		return -1;
	/* The debug file where a debug package would put it, under a root of our own. */
	{
		char pie[P];

		fixture(&fx, "app-pie", pie, sizeof(pie));
		read_build_id(pie, id, sizeof(id));
	}
	if (strlen(id) < 4 ||
	    sh("cd %s && mkdir -p debug/.build-id/%.2s nodebug && "
	       "objcopy --only-keep-debug app-pie debug/.build-id/%.2s/%s.debug",
	       d, id, id, id + 2))
		return -1;
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	const struct fixtures *fx = *state;

	if (fx && getenv("SALVE_KEEP_TMP") == NULL)
		sh("rm -rf '%s'", fx->dir);
	return 0;
}

/* ---- tests -------------------------------------------------------------------------- */

static void test_symbol_pie_and_non_pie(void **state)
{
	const char *const files[] = { "app-pie", "app-nopie" };
	const char *const symbols[] = { "parse", "parse_line", "pause", "query", "main" };
	struct resolve_site site;
	char path[P], id[128];

	for (size_t i = 0; i < 2; i++) {
		fixture(*state, files[i], path, sizeof(path));
		read_build_id(path, id, sizeof(id));
		for (size_t j = 0; j < sizeof(symbols) / sizeof(symbols[0]); j++) {
			symbol_ok(path, symbols[j], NULL, &site);
			assert_int_equal(site.offset, nm_offset(path, path, symbols[j]));
			assert_true(site.size > 0);
			assert_false(site.nop5);
			assert_false(site.ifunc);
			assert_string_equal(site.build_id, id);
		}
	}
	assert_true(strlen(id) >= 16);
}

static void test_shared_library_versions(void **state)
{
	const char *const files[] = { "libfix.so", "libfix-stripped.so" };
	struct resolve_site site;
	struct listed fns[4];
	char path[P], lib[P], want[P + 256];
	uint64_t v1 = 0, v2 = 0;

	fixture(*state, "libfix.so", lib, sizeof(lib));

	/* .symtab spells versions in the names; .dynsym has them in .gnu.version. */
	for (size_t i = 0; i < 2; i++) {
		fixture(*state, files[i], path, sizeof(path));
		assert_int_equal(readelf_functions(path, "--dyn-syms", "lib_fn", fns, 4), 2);
		assert_string_equal(fns[0].full, "lib_fn@VER_1");
		assert_string_equal(fns[1].full, "lib_fn@@VER_2");
		v1 = fns[0].offset;
		v2 = fns[1].offset;
		assert_true(v1 != v2);

		symbol_ok(path, "lib_fn", NULL, &site);
		assert_int_equal(site.offset, v2);
		symbol_ok(path, "lib_fn@@VER_2", NULL, &site);
		assert_int_equal(site.offset, v2);
		symbol_ok(path, "lib_fn@VER_2", NULL, &site);
		assert_int_equal(site.offset, v2);
		symbol_ok(path, "lib_fn@VER_1", NULL, &site);
		assert_int_equal(site.offset, v1);
		symbol_ok(path, "lib_plain@@VER_1", NULL, &site);
		assert_int_equal(site.offset, nm_offset(path, lib, "lib_plain"));
		symbol_ok(path, "lib_plain", NULL, &site);
		assert_int_equal(site.offset, nm_offset(path, lib, "lib_plain"));
	}

	/* Only the stripped copy has one table, so one listing order. */
	snprintf(want, sizeof(want),
		 "%s: no function \"lib_fn@@VER_1\" "
		 "(versions: \"lib_fn@VER_1\", \"lib_fn@@VER_2\")",
		 path);
	symbol_fails(path, "lib_fn@@VER_1", NULL, -ENOENT, want);
	snprintf(want, sizeof(want),
		 "%s: no function \"lib_fn@VER_3\" (versions: \"lib_fn@VER_1\", \"lib_fn@@VER_2\")",
		 path);
	symbol_fails(path, "lib_fn@VER_3", NULL, -ENOENT, want);
	snprintf(want, sizeof(want),
		 "%s: \"lib_fn@\" is not a symbol: write name, name@VERSION or name@@VERSION",
		 path);
	symbol_fails(path, "lib_fn@", NULL, -EINVAL, want);
}

static void test_libc_versions(void **state)
{
	const struct fixtures *fx = *state;
	struct resolve_opts opts = { 0 };
	struct resolve_site site;
	struct listed fns[8];
	char libc[P], err[512], nodebug[P], want[4096], at[300];
	const struct listed *def = NULL;
	size_t n, hidden = 0;

	assert_int_equal(resolve_binary("libc.so.6", libc, sizeof(libc), err, sizeof(err)), 0);
	n = readelf_functions(libc, "--dyn-syms", "memcpy", fns, 8);
	assert_true(n >= 1);
	for (size_t i = 0; i < n; i++)
		if (strstr(fns[i].full, "@@"))
			def = &fns[i];
	assert_non_null(def);

	symbol_ok(libc, "memcpy", NULL, &site);
	assert_int_equal(site.offset, def->offset);
	assert_int_equal(site.ifunc, !strcmp(def->type, "IFUNC"));
	symbol_ok(libc, def->full, NULL, &site);
	assert_int_equal(site.offset, def->offset);
	for (size_t i = 0; i < n; i++) {
		if (&fns[i] == def)
			continue;
		/* memcpy@GLIBC_2.2.5 on x86-64: the old memmove-like memcpy. */
		symbol_ok(libc, fns[i].full, NULL, &site);
		assert_int_equal(site.offset, fns[i].offset);
		assert_true(site.offset != def->offset);
		hidden++;
	}
	if (!hidden)
		print_message("libc.so.6 has one memcpy: the old version is not exercised\n");

	/* A version that is not there lists those that are; the debug root is ours, so a
	 * libc debug package on this machine does not change the answer. */
	snprintf(nodebug, sizeof(nodebug), "%s/nodebug", fx->dir);
	opts.debug_root = nodebug;
	snprintf(want, sizeof(want), "%s: no function \"memcpy@GLIBC_9.9\" (versions: ", libc);
	for (size_t i = 0; i < n; i++) {
		snprintf(at, sizeof(at), "%s\"%.255s\"", i ? ", " : "", fns[i].full);
		strcat(want, at);
	}
	strcat(want, ")");
	symbol_fails(libc, "memcpy@GLIBC_9.9", &opts, -ENOENT, want);
}

static void test_closest_names(void **state)
{
	char path[P], want[P + 256];

	fixture(*state, "app-pie", path, sizeof(path));
	snprintf(want, sizeof(want),
		 "%s: no function \"parze\" (closest: \"parse\", \"parse_line\", \"pause\")", path);
	symbol_fails(path, "parze", NULL, -ENOENT, want);
	snprintf(want, sizeof(want), "%s: no function \"quer\" (closest: \"query\")", path);
	symbol_fails(path, "quer", NULL, -ENOENT, want);
	snprintf(want, sizeof(want), "%s: no function \"zzzzzz\"", path);
	symbol_fails(path, "zzzzzz", NULL, -ENOENT, want);
	/* A data object is not a function. */
	snprintf(want, sizeof(want), "%s: no function \"__dso_handle\"", path);
	symbol_fails(path, "__dso_handle", NULL, -ENOENT, want);
}

static void test_ambiguous_static(void **state)
{
	char path[P], want[P + 256];
	struct listed fns[4];

	fixture(*state, "app-pie", path, sizeof(path));
	assert_int_equal(readelf_functions(path, "--syms", "helper", fns, 4), 2);
	snprintf(want, sizeof(want),
		 "%s: \"helper\" names 2 functions (at file offsets 0x%llx, 0x%llx); "
		 "probe one by its offset",
		 path, (unsigned long long)fns[0].offset, (unsigned long long)fns[1].offset);
	symbol_fails(path, "helper", NULL, -ENOTUNIQ, want);
}

static void test_stripped_with_debug_file(void **state)
{
	const struct fixtures *fx = *state;
	struct resolve_opts opts = { 0 };
	struct resolve_site site;
	char path[P], pie[P], root[P], want[4 * P], id[128];

	fixture(fx, "app-stripped", path, sizeof(path));
	fixture(fx, "app-pie", pie, sizeof(pie));
	fixture(fx, "debug", root, sizeof(root));
	read_build_id(path, id, sizeof(id));
	opts.debug_root = root;

	/* The debug file gives the address, the stripped file's segments the offset. */
	symbol_ok(path, "parse", &opts, &site);
	assert_int_equal(site.offset, nm_offset(path, pie, "parse"));
	assert_string_equal(site.build_id, id);
	assert_true(site.size > 0);
	symbol_ok(path, "query", &opts, &site);
	assert_int_equal(site.offset, nm_offset(path, pie, "query"));

	snprintf(want, sizeof(want),
		 "%s: no function \"parze\" (closest: \"parse\", \"parse_line\", \"pause\")", path);
	symbol_fails(path, "parze", &opts, -ENOENT, want);

	/* Without it, the message says where it was looked for. */
	fixture(fx, "nodebug", root, sizeof(root));
	/* The stripped executable still exports pause(): it interposes libc's. */
	snprintf(want, sizeof(want),
		 "%s: no function \"parse\" (closest: \"pause\"); the file is stripped and has "
		 "no debug file %s/.build-id/%.2s/%s.debug, and no .gnu_debuglink debug file or "
		 "MiniDebugInfo names it",
		 path, root, id, id + 2);
	symbol_fails(path, "parse", &opts, -ENOENT, want);

	fixture(fx, "app-noid-stripped", path, sizeof(path));
	snprintf(want, sizeof(want),
		 "%s: no function \"query\"; the file is stripped and has no build id to find its "
		 "debug file by, and no .gnu_debuglink debug file or MiniDebugInfo names it",
		 path);
	symbol_fails(path, "query", &opts, -ENOENT, want);
}

static void test_nop5(void **state)
{
	const struct fixtures *fx = *state;
	struct resolve_site site;
	unsigned char b[5];
	char path[P];

	/* gcc pads the entry with five 1-byte NOPs: five instructions, no fast path. */
	fixture(fx, "nop-gcc", path, sizeof(path));
	symbol_ok(path, "hot", NULL, &site);
	assert_int_equal(site.offset, nm_offset(path, path, "hot"));
	bytes_at(path, site.offset, b, 5);
	assert_memory_equal(b, "\x90\x90\x90\x90\x90", 5);
	assert_false(site.nop5);
	/* gas's nopl 0x0(%rax,%rax,1). */
	symbol_ok(path, "canon", NULL, &site);
	bytes_at(path, site.offset, b, 5);
	assert_memory_equal(b, "\x0f\x1f\x44\x00\x00", 5);
	assert_true(site.nop5);
	symbol_ok(path, "main", NULL, &site);
	assert_false(site.nop5);

	if (!fx->clang) {
		print_message("clang not installed: its 5-byte NOP entry not checked\n");
		return;
	}
	/* clang 14 writes one nopl with a displacement of 8: 0f 1f 44 00 08. */
	fixture(fx, "nop-clang", path, sizeof(path));
	symbol_ok(path, "hot", NULL, &site);
	assert_int_equal(site.offset, nm_offset(path, path, "hot"));
	bytes_at(path, site.offset, b, 5);
	assert_memory_equal(b, "\x0f\x1f\x44\x00", 4);
	assert_true(site.nop5);
}

static void test_offset(void **state)
{
	struct resolve_site site;
	char path[P], err[1024], want[P + 128], id[128];
	uint64_t off;

	fixture(*state, "app-pie", path, sizeof(path));
	read_build_id(path, id, sizeof(id));
	off = nm_offset(path, path, "parse");
	assert_int_equal(resolve_offset(path, off, &site, err, sizeof(err)), 0);
	assert_int_equal(site.offset, off);
	assert_int_equal(site.size, 0);
	assert_false(site.nop5);
	assert_string_equal(site.path, path);
	assert_string_equal(site.build_id, id);
	/* Offset 0 is the ELF header: mapped, but not executable. */
	assert_int_equal(resolve_offset(path, 0, &site, err, sizeof(err)), -ERANGE);
	snprintf(want, sizeof(want), "%s: offset 0x0 is not in executable code", path);
	assert_string_equal(err, want);
	assert_int_equal(resolve_offset(path, 1ull << 40, &site, err, sizeof(err)), -ERANGE);
	snprintf(want, sizeof(want), "%s: offset 0x10000000000 is not in executable code", path);
	assert_string_equal(err, want);
}

static void test_soname(void **state)
{
	const char *const names[] = { "libc.so.6", "libstdc++.so.6", "libelf.so.1" };
	char path[P], err[512], cmd[256], line[P + 128];
	unsigned char ident[EI_NIDENT];
	struct stat st;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t len = strlen(names[i]), plen;
		bool listed = false;
		FILE *p;

		assert_int_equal(resolve_binary(names[i], path, sizeof(path), err, sizeof(err)), 0);
		plen = strlen(path);
		assert_true(!strncmp(path, "/lib/", 5) || !strncmp(path, "/usr/lib/", 9));
		assert_true(plen > len && path[plen - len - 1] == '/' &&
			    !strcmp(path + plen - len, names[i]));
		assert_int_equal(stat(path, &st), 0);
		/* Built for this machine (not /lib32's copy), and what ldconfig lists. */
		bytes_at(path, 0, ident, sizeof(ident));
		assert_memory_equal(ident, ELFMAG, SELFMAG);
		assert_int_equal(ident[EI_CLASS], sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32);
		snprintf(cmd, sizeof(cmd), "ldconfig -p 2>/dev/null || /sbin/ldconfig -p");
		p = popen(cmd, "r");
		assert_non_null(p);
		while (fgets(line, sizeof(line), p)) {
			char *arrow = strstr(line, " => ");

			line[strcspn(line, "\n")] = '\0';
			if (arrow && !strncmp(line + strspn(line, " \t"), names[i], len) &&
			    !strcmp(arrow + 4, path))
				listed = true;
		}
		pclose(p);
		assert_true(listed);
	}
	assert_int_equal(resolve_binary("libnothere.so.9", path, sizeof(path), err, sizeof(err)),
			 -ENOENT);
	assert_string_equal(err,
			    "libnothere.so.9: not found in /etc/ld.so.cache or the default library "
			    "directories");
	assert_int_equal(resolve_binary("libc.so.6", path, 8, err, sizeof(err)), -ENAMETOOLONG);
}

static void test_binary_paths(void **state)
{
	const struct fixtures *fx = *state;
	struct resolve_site site;
	char path[P], out[P], err[1024], want[P + 64];

	fixture(fx, "app-nopie", path, sizeof(path));
	assert_int_equal(resolve_binary(path, out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, path);

	assert_int_equal(resolve_binary("/nonexistent/app", out, sizeof(out), err, sizeof(err)),
			 -ENOENT);
	assert_string_equal(err, "/nonexistent/app: No such file or directory");
	assert_int_equal(resolve_binary("bin/app", out, sizeof(out), err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "bin/app: not an absolute path or a library soname");
	assert_int_equal(resolve_binary(fx->dir, out, sizeof(out), err, sizeof(err)), -EISDIR);
	snprintf(want, sizeof(want), "%s: Is a directory", fx->dir);
	assert_string_equal(err, want);

	fixture(fx, "script", path, sizeof(path));
	snprintf(want, sizeof(want), "%s: not an ELF file", path);
	assert_int_equal(resolve_binary(path, out, sizeof(out), err, sizeof(err)), -ENOEXEC);
	assert_string_equal(err, want);
	assert_int_equal(resolve_symbol(path, "main", NULL, &site, err, sizeof(err)), -ENOEXEC);
	assert_string_equal(err, want);
	assert_int_equal(resolve_offset(path, 0, &site, err, sizeof(err)), -ENOEXEC);
	assert_string_equal(err, want);
	symbol_fails("/nonexistent/app", "main", NULL, -ENOENT,
		     "/nonexistent/app: No such file or directory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_symbol_pie_and_non_pie),
		cmocka_unit_test(test_shared_library_versions),
		cmocka_unit_test(test_libc_versions),
		cmocka_unit_test(test_closest_names),
		cmocka_unit_test(test_ambiguous_static),
		cmocka_unit_test(test_stripped_with_debug_file),
		cmocka_unit_test(test_nop5),
		cmocka_unit_test(test_offset),
		cmocka_unit_test(test_soname),
		cmocka_unit_test(test_binary_paths),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
