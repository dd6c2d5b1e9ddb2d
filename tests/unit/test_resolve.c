/* resolve: probe sites to files and offsets, checked against binutils. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "resolve.h"

static char build[256];

/* nm's address of symbol, turned into a file offset with readelf's PT_LOAD headers. */
static uint64_t nm_offset(const char *file, const char *symbol)
{
	char cmd[600], line[512];
	unsigned long long addr = 0, o, va, pa, fsz, off = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "nm --defined-only '%s' | awk '$3 == \"%s\" { print $1 }'", file,
		 symbol);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%llx", &addr), 1);
	pclose(p);
	snprintf(cmd, sizeof(cmd), "readelf -lW '%s'", file);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p))
		if (sscanf(line, " LOAD 0x%llx 0x%llx 0x%llx 0x%llx", &o, &va, &pa, &fsz) == 4 &&
		    addr >= va && addr < va + fsz)
			off = addr - va + o;
	pclose(p);
	assert_true(off > 0);
	return off;
}

static void test_symbol_pie_and_non_pie(void **state)
{
	const char *const files[] = { "calls", "crash-nopie" };
	const char *const symbols[] = { "parse_item", "fault_divide" };
	struct resolve_site site;
	char path[512], err[512];

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/tests/targets/%s", build, files[i]);
		assert_int_equal(resolve_symbol(path, symbols[i], NULL, &site, err, sizeof(err)), 0);
		assert_int_equal(site.offset, nm_offset(path, symbols[i]));
		assert_string_equal(site.path, path);
		assert_true(site.size > 0);
		assert_false(site.nop5); /* gcc's plain entry */
	}
}

static void test_soname(void **state)
{
	char path[512], err[512];
	size_t len;

	(void)state;
	assert_int_equal(resolve_binary("libc.so.6", path, sizeof(path), err, sizeof(err)), 0);
	len = strlen(path);
	assert_true(path[0] == '/' && len > 9 && !strcmp(path + len - 9, "libc.so.6"));
	assert_int_equal(resolve_binary("libnothere.so.9", path, sizeof(path), err, sizeof(err)),
			 -ENOENT);
	assert_string_equal(err, "libnothere.so.9: not found in the default library directories");
	assert_int_equal(resolve_binary("/nonexistent/app", path, sizeof(path), err, sizeof(err)),
			 -ENOENT);
	assert_string_equal(err, "/nonexistent/app: No such file or directory");
}

static void test_missing_symbol_names_closest(void **state)
{
	struct resolve_site site;
	char path[512], err[1024], want[1200];

	(void)state;
	snprintf(path, sizeof(path), "%s/tests/targets/calls", build);
	assert_int_equal(resolve_symbol(path, "parse_itme", NULL, &site, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s: no function \"parse_itme\" (closest: \"parse_item\")", path);
	assert_string_equal(err, want);
}

static void test_offset(void **state)
{
	struct resolve_site site;
	char path[512], err[1024], want[1200];
	uint64_t off;

	(void)state;
	snprintf(path, sizeof(path), "%s/tests/targets/calls", build);
	off = nm_offset(path, "parse_item");
	assert_int_equal(resolve_offset(path, off, &site, err, sizeof(err)), 0);
	assert_int_equal(site.offset, off);
	assert_int_equal(resolve_offset(path, 0, &site, err, sizeof(err)), -ERANGE);
	snprintf(want, sizeof(want), "%s: offset 0x0 is not in executable code", path);
	assert_string_equal(err, want);
}

static void test_not_elf(void **state)
{
	char tmp[] = "/tmp/salve-resolve-XXXXXX", err[512], want[600];
	struct resolve_site site;
	int fd;

	(void)state;
	fd = mkstemp(tmp);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "#!/bin/sh\n", 10), 10);
	close(fd);
	assert_int_equal(resolve_symbol(tmp, "main", NULL, &site, err, sizeof(err)), -ENOEXEC);
	snprintf(want, sizeof(want), "%s: not an ELF file", tmp);
	assert_string_equal(err, want);
	unlink(tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_symbol_pie_and_non_pie),
		cmocka_unit_test(test_soname),
		cmocka_unit_test(test_missing_symbol_names_closest),
		cmocka_unit_test(test_offset),
		cmocka_unit_test(test_not_elf),
	};
	const char *b = getenv("SALVE_BUILD");

	snprintf(build, sizeof(build), "%s", b && *b ? b : "build");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
