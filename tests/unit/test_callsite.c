/* callsite: the function a function event's site sits on and its process's executable,
 * as its line shows them: a C++ name demangled, a symbol version left out, a file's own
 * symbol preferred to the probe's spelling, and the executable named from its identity
 * and remembered. No root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "events/callsite.h"

struct fx {
	struct callsite *c;
	struct symbolizer *sym;
	struct policy_probe probe;
	struct site site;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(callsite_new(&f->c), 0);
	assert_int_equal(symbolizer_new(&f->sym), 0);
	f->site.id = 7;
	f->site.probe = &f->probe;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	callsite_free(f->c);
	symbolizer_free(f->sym);
	free(f);
	return 0;
}

/* A file salved cannot read: the probe's symbol, demangled, without its version. */
static void test_probe_symbol(void **state)
{
	struct fx *f = *state;
	struct callsite_function fn;

	snprintf(f->site.path, sizeof(f->site.path), "/nonexistent/app");
	f->site.offset = 0x1234;
	f->probe.symbol = "_ZN3app5parseEPKc@@APP_1";
	callsite_function(f->c, f->sym, &f->site, &fn);
	assert_string_equal(fn.module, "/nonexistent/app");
	assert_string_equal(fn.symbol, "app::parse(char const*)");
	assert_int_equal(fn.offset, 0x1234);

	/* The same site moved (a reload): named anew. */
	f->probe.symbol = "parse_item@V2";
	f->site.offset = 0x2000;
	callsite_function(f->c, f->sym, &f->site, &fn);
	assert_string_equal(fn.symbol, "parse_item");
	assert_int_equal(fn.offset, 0x2000);

	/* By offset, in a file without symbols: no name. */
	f->probe.symbol = NULL;
	f->site.offset = 0x3000;
	callsite_function(f->c, f->sym, &f->site, &fn);
	assert_null(fn.symbol);
}

/* The process's executable from its identity: /proc while it lives, then remembered. */
static void test_exe(void **state)
{
	struct fx *f = *state;
	struct event ev = { 0 };
	char self[PATH_MAX];
	struct stat st;
	ssize_t n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = 0;
	assert_int_equal(stat(self, &st), 0);
	ev.pid = (uint32_t)getpid();
	ev.exe.dev = events_kernel_dev(st.st_dev);
	ev.exe.ino = st.st_ino;
	callsite_exe(f->c, NULL, NULL, &ev);
	assert_string_equal(ev.exe.path, self);

	/* Another process of the same file, gone already: named from memory. */
	ev.exe.path[0] = 0;
	ev.pid = 0x7ffffffe;
	callsite_exe(f->c, NULL, NULL, &ev);
	assert_string_equal(ev.exe.path, self);

	/* An identity no candidate has: left empty. */
	ev.exe.path[0] = 0;
	ev.exe.ino++;
	callsite_exe(f->c, NULL, NULL, &ev);
	assert_string_equal(ev.exe.path, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_probe_symbol, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exe, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
