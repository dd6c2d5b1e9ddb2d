/* breakers: the clock of a circuit breaker, step by step: closed → open on a trip, half-open
 * once open_for passes, open again with open_for doubled (and capped) on a failure while
 * half-open, closed once every call it lets through has begun and the watch has passed;
 * a trip while open changes nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "actions/breakers.h"

#define MS 1000000ull

static const struct breaker_timing timing = { .open_for_ns = 1000 * MS,
					      .max_open_for_ns = 3000 * MS,
					      .half_open_watch_ns = 300 * MS,
					      .half_open_calls = 2 };

static void test_full_cycle(void **state)
{
	struct breaker_clock c = { 0 };

	(void)state;
	assert_true(breaker_step(&c, &timing, BREAKER_TRIP, 10 * MS, 0));
	assert_int_equal(c.state, BREAKER_OPEN);
	assert_int_equal(c.open_for_ns, 1000 * MS);
	/* open: a second trip, and time short of open_for, change nothing */
	assert_false(breaker_step(&c, &timing, BREAKER_TRIP, 20 * MS, 0));
	assert_false(breaker_step(&c, &timing, BREAKER_TICK, 1009 * MS, 0));
	assert_int_equal(c.state, BREAKER_OPEN);
	assert_true(breaker_step(&c, &timing, BREAKER_TICK, 1010 * MS, 0));
	assert_int_equal(c.state, BREAKER_HALF_OPEN);
	/* half-open: no watch while calls are still to let through, however long */
	assert_false(breaker_step(&c, &timing, BREAKER_TICK, 9000 * MS, 2));
	assert_false(breaker_step(&c, &timing, BREAKER_TICK, 9100 * MS, 1));
	assert_int_equal(c.until_ns, 0);
	/* the last let through: watched 300 ms, then closed */
	assert_false(breaker_step(&c, &timing, BREAKER_TICK, 9200 * MS, 0));
	assert_int_equal(c.until_ns, 9500 * MS);
	assert_false(breaker_step(&c, &timing, BREAKER_TICK, 9499 * MS, -5));
	assert_true(breaker_step(&c, &timing, BREAKER_TICK, 9500 * MS, -5));
	assert_int_equal(c.state, BREAKER_CLOSED);
	assert_int_equal(c.open_for_ns, 1000 * MS); /* the last opening's, for its line */
}

static void test_backoff_capped(void **state)
{
	struct breaker_clock c = { 0 };
	const uint64_t expect[] = { 1000, 2000, 3000, 3000 };
	uint64_t now = 0;

	(void)state;
	breaker_step(&c, &timing, BREAKER_TRIP, now, 0);
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		assert_int_equal(c.open_for_ns, expect[i] * MS);
		assert_int_equal(c.until_ns, now + expect[i] * MS);
		now = c.until_ns;
		assert_true(breaker_step(&c, &timing, BREAKER_TICK, now, 2));
		assert_int_equal(c.state, BREAKER_HALF_OPEN);
		/* a call let through fails: open again, longer */
		now += 5 * MS;
		assert_true(breaker_step(&c, &timing, BREAKER_TRIP, now, 0));
		assert_int_equal(c.state, BREAKER_OPEN);
	}
	/* closed, the next opening starts from open_for again */
	now = c.until_ns;
	breaker_step(&c, &timing, BREAKER_TICK, now, 0);
	breaker_step(&c, &timing, BREAKER_TICK, now, 0);
	assert_true(breaker_step(&c, &timing, BREAKER_TICK, now + 300 * MS, 0));
	assert_int_equal(c.state, BREAKER_CLOSED);
	assert_true(breaker_step(&c, &timing, BREAKER_TRIP, now + 400 * MS, 0));
	assert_int_equal(c.open_for_ns, 1000 * MS);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(breaker_state_name(BREAKER_CLOSED), "closed");
	assert_string_equal(breaker_state_name(BREAKER_OPEN), "open");
	assert_string_equal(breaker_state_name(BREAKER_HALF_OPEN), "half_open");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_cycle),
		cmocka_unit_test(test_backoff_capped),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
