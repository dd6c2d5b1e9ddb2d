/* window: sliding windows as rings of time buckets, exactly at bucket boundaries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "engine/window.h"

#define MS 1000000ull

/* 31 full buckets plus the one in progress: a span of 31 ms gives 1 ms buckets. */
static void test_width(void **state)
{
	(void)state;
	assert_int_equal(window_width(31 * MS), MS);
	assert_int_equal(window_width(31 * MS + 1), MS + 1); /* rounded up: never shorter */
	assert_int_equal(window_width(1000 * MS), 32258065);
	assert_int_equal(window_width(1), 1);
}

/* An event at the start of bucket 0 counts through bucket 31, not in bucket 32. */
static void test_event_leaves_at_bucket_boundary(void **state)
{
	struct window w;
	uint64_t width = window_width(31 * MS);

	(void)state;
	window_clear(&w);
	window_add(&w, width, 100 * MS, 1);
	assert_int_equal(window_count(&w, width, 100 * MS), 1);
	assert_int_equal(window_count(&w, width, 131 * MS - 1), 1);
	assert_int_equal(window_count(&w, width, 131 * MS), 1);
	assert_int_equal(window_count(&w, width, 132 * MS - 1), 1);
	assert_int_equal(window_count(&w, width, 132 * MS), 0);
}

/* An event at the end of its bucket still counts for the whole span after it. */
static void test_event_counts_for_the_whole_span(void **state)
{
	struct window w;
	uint64_t width = window_width(31 * MS);

	(void)state;
	window_clear(&w);
	window_add(&w, width, 101 * MS - 1, 1);
	assert_int_equal(window_count(&w, width, 101 * MS - 1 + 31 * MS - 1), 1);
	assert_int_equal(window_count(&w, width, 132 * MS - 1), 1);
	assert_int_equal(window_count(&w, width, 132 * MS), 0);
}

static void test_events_slide_out_one_bucket_at_a_time(void **state)
{
	struct window w;
	uint64_t width = window_width(31 * MS);

	(void)state;
	window_clear(&w);
	for (uint64_t t = 0; t < 10; t++)
		window_add(&w, width, (1000 + t) * MS, 2);
	assert_int_equal(window_count(&w, width, 1031 * MS), 20);
	assert_int_equal(window_count(&w, width, 1032 * MS), 18);
	assert_int_equal(window_count(&w, width, 1040 * MS), 2);
	assert_int_equal(window_count(&w, width, 1041 * MS), 0);
	/* A jump far ahead empties it, and it counts again from there. */
	window_add(&w, width, 5000 * MS, 1);
	assert_int_equal(window_count(&w, width, 5000 * MS), 1);
}

/* Events out of order: a late one inside the ring counts, one older than it does not. */
static void test_late_events(void **state)
{
	struct window w;
	uint64_t width = window_width(31 * MS);

	(void)state;
	window_clear(&w);
	window_add(&w, width, 200 * MS, 1);
	window_add(&w, width, 169 * MS, 1); /* bucket 169: the oldest still in the ring */
	window_add(&w, width, 168 * MS, 1); /* bucket 168: already out */
	assert_int_equal(window_count(&w, width, 200 * MS), 2);
	assert_int_equal(window_count(&w, width, 201 * MS), 1);
}

static void test_count_saturates(void **state)
{
	struct window w;
	uint64_t width = window_width(31 * MS);

	(void)state;
	window_clear(&w);
	window_add(&w, width, 0, UINT32_MAX);
	window_add(&w, width, 0, 5);
	assert_int_equal(window_count(&w, width, 0), UINT32_MAX);
}

/* The percentile is the upper edge of its log2 bucket, as baseline.c has it. */
static void test_percentile(void **state)
{
	uint64_t counts[SALVE_HIST_BUCKETS] = { 0 }, calls;

	(void)state;
	assert_int_equal(window_percentile(counts, 99, &calls), 0);
	assert_int_equal(calls, 0);
	counts[10] = 99;
	counts[30] = 1;
	assert_int_equal(window_percentile(counts, 99, &calls), 2048);
	assert_int_equal(calls, 100);
	assert_int_equal(window_percentile(counts, 99.9, NULL), 2ull << 30);
	counts[10] = 98;
	counts[30] = 2;
	assert_int_equal(window_percentile(counts, 99, NULL), 2ull << 30);
}

static void test_histogram_window(void **state)
{
	static struct window_hist w;
	uint64_t width = window_width(31 * MS), d[SALVE_HIST_BUCKETS] = { 0 };
	const uint64_t *tot;

	(void)state;
	window_hist_clear(&w);
	d[20] = 5;
	window_hist_add(&w, width, 100 * MS, d);
	d[20] = 0;
	d[10] = 7;
	window_hist_add(&w, width, 110 * MS, d);
	tot = window_hist_total(&w, width, 131 * MS);
	assert_int_equal(tot[20], 5);
	assert_int_equal(tot[10], 7);
	tot = window_hist_total(&w, width, 132 * MS);
	assert_int_equal(tot[20], 0);
	assert_int_equal(tot[10], 7);
	tot = window_hist_total(&w, width, 142 * MS);
	assert_int_equal(tot[10], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_width),
		cmocka_unit_test(test_event_leaves_at_bucket_boundary),
		cmocka_unit_test(test_event_counts_for_the_whole_span),
		cmocka_unit_test(test_events_slide_out_one_bucket_at_a_time),
		cmocka_unit_test(test_late_events),
		cmocka_unit_test(test_count_saturates),
		cmocka_unit_test(test_percentile),
		cmocka_unit_test(test_histogram_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
