/* baseline: the learned latency threshold, from log2 histogram counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kernel/baseline.h"

static void test_empty_window_reports_nothing(void **state)
{
	uint64_t counts[SALVE_HIST_BUCKETS] = { 0 };

	(void)state;
	assert_int_equal(baseline_threshold(counts, 99, 2), 0);
}

/* Bucket i holds [2^i, 2^(i+1)) ns: the percentile's bucket gives its upper edge. */
static void test_upper_edge_times_factor(void **state)
{
	uint64_t counts[SALVE_HIST_BUCKETS] = { 0 };

	(void)state;
	counts[20] = 1000; /* about 1 ms */
	assert_int_equal(baseline_threshold(counts, 99, 3), 3ull << 21);
	assert_int_equal(baseline_threshold(counts, 50, 2), 2ull << 21);
}

/* 99 fast calls and 1 slow one: p99 is the fast bucket, p99.9 the slow one. */
static void test_percentile_at_bucket_boundary(void **state)
{
	uint64_t counts[SALVE_HIST_BUCKETS] = { 0 };

	(void)state;
	counts[10] = 99;
	counts[30] = 1;
	assert_int_equal(baseline_threshold(counts, 99, 2), 2ull << 11);
	assert_int_equal(baseline_threshold(counts, 99.9, 2), 2ull << 31);
	counts[10] = 98;
	counts[30] = 2;
	assert_int_equal(baseline_threshold(counts, 99, 2), 2ull << 31);
}

/* A slow tail times a large factor is past 64 bits of nanoseconds: the threshold stays
 * at the largest, never wraps to a small one that every call would pass. */
static void test_threshold_saturates(void **state)
{
	uint64_t counts[SALVE_HIST_BUCKETS] = { 0 };

	(void)state;
	counts[63] = 1;
	assert_true(baseline_threshold(counts, 99, 2) == UINT64_MAX);
	counts[63] = 0;
	counts[40] = 1;
	assert_true(baseline_threshold(counts, 99, 1e30) == UINT64_MAX);
	assert_true(baseline_threshold(counts, 99, 1.5) == 3ull << 40);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_window_reports_nothing),
		cmocka_unit_test(test_upper_edge_times_factor),
		cmocka_unit_test(test_percentile_at_bucket_boundary),
		cmocka_unit_test(test_threshold_saturates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
