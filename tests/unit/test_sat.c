/* sat: clock plus duration saturates at the end of time instead of wrapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/sat.h"

static void test_add_fits(void **state)
{
	(void)state;
	assert_true(sat_add_u64(0, 0) == 0);
	assert_true(sat_add_u64(1000, 24) == 1024);
	assert_true(sat_add_u64(UINT64_MAX - 5, 5) == UINT64_MAX);
	assert_true(sat_add_u64(0, UINT64_MAX) == UINT64_MAX);
}

/* Just past the largest sum, and far past it: both stop at UINT64_MAX. */
static void test_add_saturates(void **state)
{
	(void)state;
	assert_true(sat_add_u64(UINT64_MAX - 5, 6) == UINT64_MAX);
	assert_true(sat_add_u64(UINT64_MAX, 1) == UINT64_MAX);
	assert_true(sat_add_u64(UINT64_MAX, UINT64_MAX) == UINT64_MAX);
	assert_true(sat_add_u64(1ull << 63, 1ull << 63) == UINT64_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_fits),
		cmocka_unit_test(test_add_saturates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
