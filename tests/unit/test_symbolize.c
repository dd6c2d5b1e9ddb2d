/* symbolize: names from file offsets in the ELF shapes salve meets, built by the
 * Makefile: a PIE executable, a non-PIE one, a shared library and an executable
 * stripped to .dynsym. Expected offsets come from binutils (nm, readelf), not from the
 * code under test. */
#include <errno.h>
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

#include "symbolize.h"

static char build[256];

static void target(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/tests/targets/%s", build, name);
}

/* The file offset of symbol in file: nm gives its address, readelf the PT_LOAD that
 * holds it. */
static uint64_t file_offset_of(const char *file, const char *symbol, bool dynamic)
{
	char cmd[512], line[512];
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

static void check(const char *name, const char *symbol, bool dynamic)
{
	struct symbolizer *s;
	struct symbol out;
	char path[512];
	uint64_t off;

	target(path, sizeof(path), name);
	off = file_offset_of(path, symbol, dynamic);
	assert_int_equal(symbolizer_new(&s), 0);
	assert_int_equal(symbolizer_lookup(s, &(struct symbolizer_file){ .path = path }, off + 7, &out), 0);
	assert_string_equal(out.name, symbol);
	assert_int_equal(out.offset, 7);
	/* A second lookup comes from the cache and says the same. */
	memset(&out, 0, sizeof(out));
	assert_int_equal(symbolizer_lookup(s, &(struct symbolizer_file){ .path = path }, off, &out), 0);
	assert_string_equal(out.name, symbol);
	assert_int_equal(out.offset, 0);
	symbolizer_free(s);
}

static void test_pie(void **state)
{
	(void)state;
	check("crash", "fault_null_deref", false);
	check("crash", "fault_divide", false);
}

static void test_non_pie(void **state)
{
	(void)state;
	check("crash-nopie", "fault_null_deref", false);
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
	check("crash-stripped", "fault_in_library", true);
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

/* Without an identity, a file rewritten on disk is read again. */
static void test_rewritten_file_is_reread(void **state)
{
	char tmp[] = "/tmp/salve-symbolize-XXXXXX", a[512], b[512], cmd[1200];
	struct symbolizer *s;
	struct symbol out;
	uint64_t off_a;
	int fd;

	(void)state;
	target(a, sizeof(a), "libfault.so");
	target(b, sizeof(b), "crash-nopie");
	fd = mkstemp(tmp);
	assert_true(fd >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", a, tmp);
	assert_int_equal(system(cmd), 0);
	off_a = file_offset_of(tmp, "fault_lib_write", false);
	assert_int_equal(symbolizer_new(&s), 0);
	assert_int_equal(symbolizer_lookup(s, &(struct symbolizer_file){ .path = tmp }, off_a, &out), 0);
	assert_string_equal(out.name, "fault_lib_write");
	/* A new file under the same name (a new inode, as an upgrade makes). */
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s.new' && mv '%s.new' '%s'", b, tmp, tmp, tmp);
	assert_int_equal(system(cmd), 0);
	off_a = file_offset_of(tmp, "fault_null_deref", false);
	assert_int_equal(symbolizer_lookup(s, &(struct symbolizer_file){ .path = tmp }, off_a, &out), 0);
	assert_string_equal(out.name, "fault_null_deref");
	symbolizer_free(s);
	unlink(tmp);
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
	assert_int_equal(symbolizer_build_id(s, &(struct symbolizer_file){ .path = path }, got), 0);
	assert_string_equal(got, want);
	symbolizer_free(s);
}

static void test_errors(void **state)
{
	char tmp[] = "/tmp/salve-symbolize-XXXXXX", path[512];
	struct symbolizer *s;
	struct symbol out;
	int fd;

	(void)state;
	assert_int_equal(symbolizer_new(&s), 0);
	/* Not ELF. */
	fd = mkstemp(tmp);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not an ELF file\n", 16), 16);
	close(fd);
	assert_int_equal(symbolizer_lookup(s, &(struct symbolizer_file){ .path = tmp }, 4, &out), -ENOEXEC);
	unlink(tmp);
	/* Missing. */
	assert_int_equal(symbolizer_lookup(s, &(struct symbolizer_file){ .path = "/nonexistent/salve" }, 0,
					   &out),
			 -ENOENT);
	/* An offset in no loaded segment, and one in the ELF header before any function. */
	target(path, sizeof(path), "crash");
	assert_int_equal(symbolizer_lookup(s, &(struct symbolizer_file){ .path = path }, 1ull << 40, &out),
			 -ENOENT);
	assert_int_equal(symbolizer_lookup(s, &(struct symbolizer_file){ .path = path }, 0, &out), -ENOENT);
	symbolizer_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pie),
		cmocka_unit_test(test_non_pie),
		cmocka_unit_test(test_shared_library),
		cmocka_unit_test(test_stripped_dynsym),
		cmocka_unit_test(test_replaced_file_is_stale),
		cmocka_unit_test(test_rewritten_file_is_reread),
		cmocka_unit_test(test_build_id),
		cmocka_unit_test(test_errors),
	};
	const char *b = getenv("SALVE_BUILD");

	snprintf(build, sizeof(build), "%s", b && *b ? b : "build");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
