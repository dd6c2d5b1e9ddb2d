/* metrics: the Prometheus text format as the spec writes it (escaping, names, one family
 * once, histograms cumulative), and promtool, where it is installed, accepting a page. */
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

#include "ctl/metrics.h"

/* The page of what build wrote, or the error. */
static int page(void (*build)(struct metrics *m), char **text)
{
	struct metrics *m;
	size_t len;
	int err;

	assert_int_equal(metrics_new(&m), 0);
	build(m);
	err = metrics_finish(m, text, &len);
	if (!err)
		assert_int_equal(strlen(*text), len);
	metrics_free(m);
	return err;
}

static void expect_page(void (*build)(struct metrics *m), const char *want)
{
	char *text = NULL;

	assert_int_equal(page(build, &text), 0);
	assert_string_equal(text, want);
	free(text);
}

static void build_counter(struct metrics *m)
{
	metrics_family(m, "salve_events_reported_total", METRICS_COUNTER, "Events reported, by kind.");
	metrics_u64(m, (struct metrics_label[]){ { "kind", "signal" } }, 1, 3);
	metrics_u64(m, (struct metrics_label[]){ { "kind", "exit" } }, 1, 18446744073709551615ull);
	metrics_family(m, "salve_up", METRICS_GAUGE, "Up.");
	metrics_u64(m, NULL, 0, 1);
}

/* HELP and TYPE once, before the family's first sample; integers exact to 2^64 - 1. */
static void test_counter_and_gauge(void **state)
{
	(void)state;
	expect_page(build_counter,
		    "# HELP salve_events_reported_total Events reported, by kind.\n"
		    "# TYPE salve_events_reported_total counter\n"
		    "salve_events_reported_total{kind=\"signal\"} 3\n"
		    "salve_events_reported_total{kind=\"exit\"} 18446744073709551615\n"
		    "# HELP salve_up Up.\n"
		    "# TYPE salve_up gauge\n"
		    "salve_up 1\n");
}

static void build_escapes(struct metrics *m)
{
	metrics_family(m, "salve_rule_fired_total", METRICS_COUNTER,
		       "A help with a \\ backslash,\na newline and \"quotes\".");
	metrics_u64(m, (struct metrics_label[]){ { "rule", "a\\b \"c\"\nd" }, { "policy", "p" } }, 2, 1);
}

/* Label values escape backslash, double quote and newline; help text backslash and
 * newline only, as the format says. */
static void test_escaping(void **state)
{
	(void)state;
	expect_page(build_escapes,
		    "# HELP salve_rule_fired_total A help with a \\\\ backslash,\\na newline and "
		    "\"quotes\".\n"
		    "# TYPE salve_rule_fired_total counter\n"
		    "salve_rule_fired_total{rule=\"a\\\\b \\\"c\\\"\\nd\",policy=\"p\"} 1\n");
}

static void build_utf8(struct metrics *m)
{
	metrics_family(m, "salve_x", METRICS_GAUGE, "x");
	/* valid: é, €, 😀; invalid: a lone continuation byte, a truncated sequence, an
	 * overlong '/', a surrogate */
	metrics_u64(m, (struct metrics_label[]){ { "v", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80" } }, 1, 1);
	metrics_u64(m, (struct metrics_label[]){ { "v", "a\x80z\xe2\x82" } }, 1, 2);
	metrics_u64(m, (struct metrics_label[]){ { "v", "\xc0\xaf\xed\xa0\x80" } }, 1, 3);
}

/* Valid UTF-8 goes as it is; every byte of no valid sequence becomes U+FFFD, so a
 * policy's bytes never make a scraper reject the page. */
static void test_utf8(void **state)
{
	(void)state;
	expect_page(build_utf8, "# HELP salve_x x\n# TYPE salve_x gauge\n"
				"salve_x{v=\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"} 1\n"
				"salve_x{v=\"a\xef\xbf\xbdz\xef\xbf\xbd\xef\xbf\xbd\"} 2\n"
				"salve_x{v=\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"} 3\n");
}

static void build_empty_family(struct metrics *m)
{
	metrics_family(m, "salve_breaker_state", METRICS_GAUGE, "none yet");
	metrics_family(m, "salve_up", METRICS_GAUGE, "Up.");
	metrics_u64(m, NULL, 0, 1);
}

/* A family without samples leaves no lines. */
static void test_empty_family(void **state)
{
	(void)state;
	expect_page(build_empty_family, "# HELP salve_up Up.\n# TYPE salve_up gauge\nsalve_up 1\n");
}

static void build_seconds(struct metrics *m)
{
	metrics_family(m, "process_cpu_seconds_total", METRICS_COUNTER, "cpu");
	metrics_seconds(m, (struct metrics_label[]){ { "a", "1" } }, 1, 1500000000ull);
	metrics_seconds(m, (struct metrics_label[]){ { "a", "2" } }, 1, 127);
	metrics_seconds(m, (struct metrics_label[]){ { "a", "3" } }, 1, 3000000000ull);
	metrics_seconds(m, (struct metrics_label[]){ { "a", "4" } }, 1, 0);
}

/* Nanoseconds in seconds, exactly. */
static void test_seconds(void **state)
{
	(void)state;
	expect_page(build_seconds, "# HELP process_cpu_seconds_total cpu\n"
				   "# TYPE process_cpu_seconds_total counter\n"
				   "process_cpu_seconds_total{a=\"1\"} 1.5\n"
				   "process_cpu_seconds_total{a=\"2\"} 0.000000127\n"
				   "process_cpu_seconds_total{a=\"3\"} 3\n"
				   "process_cpu_seconds_total{a=\"4\"} 0\n");
}

/* Each bad input is an error, and no page. */
static void bad_metric_name(struct metrics *m) { metrics_family(m, "salve-x", METRICS_GAUGE, ""); }
static void bad_first_digit(struct metrics *m) { metrics_family(m, "1salve", METRICS_GAUGE, ""); }
static void bad_label_name(struct metrics *m)
{
	metrics_family(m, "salve_x", METRICS_GAUGE, "");
	metrics_u64(m, (struct metrics_label[]){ { "rule-id", "x" } }, 1, 1);
}
static void reserved_label_name(struct metrics *m)
{
	metrics_family(m, "salve_x", METRICS_GAUGE, "");
	metrics_u64(m, (struct metrics_label[]){ { "__name", "x" } }, 1, 1);
}
static void twice(struct metrics *m)
{
	metrics_family(m, "salve_x", METRICS_GAUGE, "");
	metrics_u64(m, NULL, 0, 1);
	metrics_family(m, "salve_y", METRICS_GAUGE, "");
	metrics_u64(m, NULL, 0, 1);
	metrics_family(m, "salve_x", METRICS_GAUGE, "");
}
static void no_family(struct metrics *m) { metrics_u64(m, NULL, 0, 1); }
static void le_label(struct metrics *m)
{
	uint64_t le[] = { 10 }, cum[] = { 1 };

	metrics_family(m, "salve_h_seconds", METRICS_HISTOGRAM, "");
	metrics_histogram(m, (struct metrics_label[]){ { "le", "1" } }, 1, le, cum, 1, 1, 0);
}
static void falling(struct metrics *m)
{
	uint64_t le[] = { 10, 20 }, cum[] = { 2, 1 };

	metrics_family(m, "salve_h_seconds", METRICS_HISTOGRAM, "");
	metrics_histogram(m, NULL, 0, le, cum, 2, 2, 0);
}
static void past_count(struct metrics *m)
{
	uint64_t le[] = { 10 }, cum[] = { 3 };

	metrics_family(m, "salve_h_seconds", METRICS_HISTOGRAM, "");
	metrics_histogram(m, NULL, 0, le, cum, 1, 2, 0);
}
static void plain_sample_of_histogram(struct metrics *m)
{
	metrics_family(m, "salve_h_seconds", METRICS_HISTOGRAM, "");
	metrics_u64(m, NULL, 0, 1);
}

static void test_bad_names_and_order(void **state)
{
	void (*const bad[])(struct metrics *) = { bad_metric_name, bad_first_digit, bad_label_name,
						  reserved_label_name, twice, no_family, le_label,
						  falling, past_count, plain_sample_of_histogram };
	char *text = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(page(bad[i], &text), -EINVAL);
		assert_null(text);
	}
}

static void build_histogram(struct metrics *m)
{
	uint64_t le[] = { 127, 255 }, cum[] = { 2, 5 };

	metrics_family(m, "salve_call_latency_seconds", METRICS_HISTOGRAM, "Calls.");
	metrics_histogram(m, (struct metrics_label[]){ { "probe", "slow-work" }, { "policy", "p" } },
			  2, le, cum, 2, 7, 1234567890123ull);
}

/* Buckets cumulative with le in seconds, then +Inf, _sum and _count: all of the calls. */
static void test_histogram_text(void **state)
{
	(void)state;
	expect_page(build_histogram,
		    "# HELP salve_call_latency_seconds Calls.\n"
		    "# TYPE salve_call_latency_seconds histogram\n"
		    "salve_call_latency_seconds_bucket{probe=\"slow-work\",policy=\"p\",le=\"0.000000127\"} 2\n"
		    "salve_call_latency_seconds_bucket{probe=\"slow-work\",policy=\"p\",le=\"0.000000255\"} 5\n"
		    "salve_call_latency_seconds_bucket{probe=\"slow-work\",policy=\"p\",le=\"+Inf\"} 7\n"
		    "salve_call_latency_seconds_sum{probe=\"slow-work\",policy=\"p\"} 1234.567890123\n"
		    "salve_call_latency_seconds_count{probe=\"slow-work\",policy=\"p\"} 7\n");
}

/* The log2 buckets summed at their tops: the calls at or under 127 ns (buckets 0 to 6)
 * in the first edge, each next bucket added at its own top, and those past the last
 * edge (about 68.7 s) only in the count. */
static void test_log2_cumulate(void **state)
{
	__u64 b[SALVE_HIST_BUCKETS] = { 0 };
	uint64_t le[METRICS_LOG2_EDGES], cum[METRICS_LOG2_EDGES], count;

	(void)state;
	b[0] = 1;  /* 0 or 1 ns */
	b[6] = 2;  /* 64..127 ns */
	b[7] = 4;  /* 128..255 ns */
	b[20] = 8; /* about 1 to 2 ms */
	b[35] = 16;
	b[36] = 32; /* past 68.7 s */
	b[63] = 64;
	metrics_log2_cumulate(b, le, cum, &count);
	assert_int_equal(METRICS_LOG2_EDGES, 30);
	assert_int_equal(le[0], 127);
	assert_int_equal(cum[0], 3);
	assert_int_equal(le[1], 255);
	assert_int_equal(cum[1], 7);
	for (int e = 2; e < 20 - METRICS_LOG2_FIRST; e++)
		assert_int_equal(cum[e], 7);
	assert_int_equal(le[20 - METRICS_LOG2_FIRST], (2ull << 20) - 1);
	assert_int_equal(cum[20 - METRICS_LOG2_FIRST], 15);
	assert_int_equal(le[METRICS_LOG2_EDGES - 1], (2ull << 35) - 1);
	assert_int_equal(cum[METRICS_LOG2_EDGES - 1], 31);
	assert_int_equal(count, 127);
	for (int e = 1; e < METRICS_LOG2_EDGES; e++)
		assert_true(le[e] == 2 * le[e - 1] + 1);
}

static void build_all(struct metrics *m)
{
	__u64 b[SALVE_HIST_BUCKETS] = { 0 };
	uint64_t le[METRICS_LOG2_EDGES], cum[METRICS_LOG2_EDGES], count;

	build_counter(m);
	build_escapes(m);
	build_utf8(m);
	build_seconds(m);
	b[10] = 3;
	b[25] = 1;
	metrics_log2_cumulate(b, le, cum, &count);
	metrics_family(m, "salve_call_latency_seconds", METRICS_HISTOGRAM, "Calls.");
	metrics_histogram(m, (struct metrics_label[]){ { "probe", "a\"b" } }, 1, le, cum,
			  METRICS_LOG2_EDGES, count, 33557504);
}

/* The oracle: promtool check metrics accepts the page, lint included. */
static void test_promtool(void **state)
{
	char *text = NULL, cmd[128], path[] = "/tmp/salve-test-metrics.XXXXXX";
	int fd, rc;

	(void)state;
	if (access("/usr/bin/promtool", X_OK)) {
		skip(); /* Debian's prometheus package ships it: make deps */
		return;
	}
	assert_int_equal(page(build_all, &text), 0);
	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	snprintf(cmd, sizeof(cmd), "/usr/bin/promtool check metrics < %s", path);
	rc = system(cmd);
	unlink(path);
	free(text);
	assert_int_equal(rc, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_and_gauge),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_empty_family),
		cmocka_unit_test(test_seconds),
		cmocka_unit_test(test_bad_names_and_order),
		cmocka_unit_test(test_histogram_text),
		cmocka_unit_test(test_log2_cumulate),
		cmocka_unit_test(test_promtool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
