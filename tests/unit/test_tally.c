/* tally: counters by label values, rows in the order they came, bounded. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "base/tally.h"

static void test_counts_by_values(void **state)
{
	struct tally *t;
	uint64_t n;
	const char *const *row;

	(void)state;
	assert_int_equal(tally_new(0, &t), -EINVAL);
	assert_int_equal(tally_new(TALLY_LABELS_MAX + 1, &t), -EINVAL);
	assert_int_equal(tally_new(2, &t), 0);
	assert_int_equal(tally_add(t, (const char *[]){ "signal", "sent" }, 1), 0);
	assert_int_equal(tally_add(t, (const char *[]){ "log", "logged" }, 1), 0);
	assert_int_equal(tally_add(t, (const char *[]){ "signal", "sent" }, 2), 0);
	assert_int_equal(tally_add(t, (const char *[]){ "signal", "refused" }, 1), 0);
	assert_int_equal(tally_rows(t), 3);
	row = tally_row(t, 0, &n);
	assert_string_equal(row[0], "signal");
	assert_string_equal(row[1], "sent");
	assert_int_equal(n, 3);
	row = tally_row(t, 2, &n);
	assert_string_equal(row[1], "refused");
	assert_int_equal(n, 1);
	assert_int_equal(tally_get(t, (const char *[]){ "log", "logged" }), 1);
	assert_int_equal(tally_get(t, (const char *[]){ "log", "sent" }), 0);
	tally_free(t);
	tally_free(NULL);
}

/* Past TALLY_ROWS_MAX combinations, new ones all count in the one row of TALLY_OTHER:
 * nothing is lost from the total, and memory stays bounded. */
static void test_bounded(void **state)
{
	struct tally *t;
	char name[32];
	uint64_t total = 0, n;

	(void)state;
	assert_int_equal(tally_new(1, &t), 0);
	for (int i = 0; i < TALLY_ROWS_MAX + 100; i++) {
		snprintf(name, sizeof(name), "rule-%d", i);
		assert_int_equal(tally_add(t, (const char *[]){ name }, 1), 0);
	}
	assert_int_equal(tally_rows(t), TALLY_ROWS_MAX);
	assert_int_equal(tally_get(t, (const char *[]){ TALLY_OTHER }), 101);
	assert_int_equal(tally_get(t, (const char *[]){ "rule-0" }), 1);
	assert_int_equal(tally_add(t, (const char *[]){ "rule-5" }, 1), 0); /* an old row still counts */
	assert_int_equal(tally_get(t, (const char *[]){ "rule-5" }), 2);
	for (size_t r = 0; r < tally_rows(t); r++) {
		tally_row(t, r, &n);
		total += n;
	}
	assert_int_equal(total, TALLY_ROWS_MAX + 101);
	tally_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_by_values),
		cmocka_unit_test(test_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
