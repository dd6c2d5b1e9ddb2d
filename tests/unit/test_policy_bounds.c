/* policy bounds: every duration, size and count of the language has a range
 * (policies/README.md, "Bounds"); a value just inside loads as written, one just outside
 * is refused with the field's path and its range, never clamped. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "policy/policy.h"

#define H (3600ull * 1000000000ull)
#define S 1000000000ull

/* fmt with its two "%s" replaced by a and b, and ' for " (policies are written with '
 * to keep them legible). */
static void unquote(char *dst, size_t size, const char *fmt, const char *a, const char *b)
{
	const char *args[2] = { a, b }, *at;
	size_t n = 0, k = 0;

	dst[0] = '\0';
	while ((at = strstr(fmt, "%s"))) {
		assert_true(k < 2);
		n += (size_t)snprintf(dst + n, size - n, "%.*s%s", (int)(at - fmt), fmt, args[k++]);
		assert_true(n < size);
		fmt = at + 2;
	}
	n += (size_t)snprintf(dst + n, size - n, "%s", fmt);
	assert_true(n < size);
	for (char *c = dst; *c; c++)
		if (*c == '\'')
			*c = '"';
}

#define PROBES                                                                           \
	"{'id': 'crashes', 'kind': 'signal'}, "                                           \
	"{'id': 'slow', 'kind': 'latency', 'binary': '/b', 'symbol': 'f', 'threshold': '1ms'}"
/* A rule with a leaf %s and more fields %s. */
#define RULE_FMT "{'salve': 1, 'name': 't', 'probes': [" PROBES "], 'rules': [{'id': 'r', " \
		 "'by': 'host', 'when': %s, %s}]}"
#define LEAF "{'probe': 'crashes', 'count': 1, 'within': '1s'}"
#define LOG "'actions': [{'do': 'log'}]"
/* A latency probe with more fields %s (and an unused %s). */
#define PROBE_FMT "{'salve': 1, 'name': 't', 'probes': [{'id': 'a', 'kind': 'latency', " \
		  "'binary': '/b', 'symbol': 'f', %s}]%s}"
#define STALL_FMT "{'salve': 1, 'name': 't', 'probes': [{'id': 'a', 'kind': 'stall', " \
		  "'binary': '/b', 'symbol': 'f', %s}]%s}"

static void load(const char *fmt, const char *a, const char *b, struct policy *p)
{
	char json[2048], err[512] = "";

	unquote(json, sizeof(json), fmt, a, b);
	if (policy_parse("web.json", json, strlen(json), p, err, sizeof(err)))
		fail_msg("refused: %s", err);
}

static void refused(const char *fmt, const char *a, const char *b, const char *msg)
{
	char json[2048], err[512] = "";
	struct policy p = { 0 };

	unquote(json, sizeof(json), fmt, a, b);
	assert_int_equal(policy_parse("web.json", json, strlen(json), &p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, msg);
}

/* A rule whose extra fields are rest; its first rule back in *p. */
static const struct policy_rule *rule_ok(const char *leaf, const char *rest, struct policy *p)
{
	load(RULE_FMT, leaf, rest, p);
	return &p->rules[0];
}

static void test_budget(void **state)
{
	struct policy p;

	(void)state;
	assert_int_equal(rule_ok(LEAF, "'budget': 65536, " LOG, &p)->budget, 65536);
	policy_clear(&p);
	assert_int_equal(rule_ok(LEAF, "'budget': 1, " LOG, &p)->budget, 1);
	policy_clear(&p);
	refused(RULE_FMT, LEAF, "'budget': 65537, " LOG,
		"web.json: rules[0].budget: expected an integer from 1 to 65536, got 65537");
	refused(RULE_FMT, LEAF, "'budget': 100000, " LOG,
		"web.json: rules[0].budget: expected an integer from 1 to 65536, got 100000");
	refused(RULE_FMT, LEAF, "'budget': 0, " LOG,
		"web.json: rules[0].budget: expected an integer from 1 to 65536, got 0");
}

static void test_cooldown(void **state)
{
	struct policy p;

	(void)state;
	assert_true(rule_ok(LEAF, "'cooldown': '24h', " LOG, &p)->cooldown_ns == 24 * H);
	policy_clear(&p);
	assert_true(rule_ok(LEAF, "'cooldown': '0s', " LOG, &p)->cooldown_ns == 0);
	policy_clear(&p);
	refused(RULE_FMT, LEAF, "'cooldown': '86400.000000001s', " LOG,
		"web.json: rules[0].cooldown: expected a duration of at most 24h, got \"86400.000000001s\"");
	/* Past 64 bits of nanoseconds, the field's own bound is what it says. */
	refused(RULE_FMT, LEAF, "'cooldown': '99999999999h', " LOG,
		"web.json: rules[0].cooldown: expected a duration of at most 24h, got \"99999999999h\"");
}

static void test_verify(void **state)
{
	struct policy p;

	(void)state;
	assert_true(rule_ok(LEAF, "'verify': '1440m', " LOG, &p)->verify_ns == 24 * H);
	policy_clear(&p);
	assert_true(rule_ok(LEAF, "'verify': '0.001us', " LOG, &p)->verify_ns == 1);
	policy_clear(&p);
	refused(RULE_FMT, LEAF, "'verify': '1441m', " LOG,
		"web.json: rules[0].verify: expected a duration of at most 24h, got \"1441m\"");
}

static void test_within_and_count(void **state)
{
	struct policy p;

	(void)state;
	assert_true(rule_ok("{'probe': 'crashes', 'count': 4294967295, 'within': '24h'}", LOG, &p)
			    ->when.within_ns == 24 * H);
	assert_true(p.rules[0].when.count == 4294967295u);
	policy_clear(&p);
	refused(RULE_FMT, "{'probe': 'crashes', 'count': 1, 'within': '86401s'}", LOG,
		"web.json: rules[0].when.within: expected a duration of at most 24h, got \"86401s\"");
	refused(RULE_FMT, "{'probe': 'crashes', 'count': 4294967296, 'within': '1s'}", LOG,
		"web.json: rules[0].when.count: expected an integer from 1 to 4294967295, got 4294967296");
}

static void test_rate(void **state)
{
	struct policy p;

	(void)state;
	assert_true(rule_ok("{'probe': 'crashes', 'rate': '4294967295/s', 'within': '1s'}", LOG, &p)
			    ->when.rate == 4294967295.0);
	policy_clear(&p);
	assert_true(rule_ok("{'probe': 'crashes', 'rate': '257698037700/m', 'within': '1s'}", LOG, &p)
			    ->when.rate == 4294967295.0);
	policy_clear(&p);
	refused(RULE_FMT, "{'probe': 'crashes', 'rate': '4294967296/s', 'within': '1s'}", LOG,
		"web.json: rules[0].when.rate: expected a rate of at most 4294967295/s, got \"4294967296/s\"");
	refused(RULE_FMT, "{'probe': 'crashes', 'rate': '257698037760/m', 'within': '1s'}", LOG,
		"web.json: rules[0].when.rate: expected a rate of at most 4294967295/s, got \"257698037760/m\"");
}

static void test_percentile_values(void **state)
{
	struct policy p;

	(void)state;
	assert_true(rule_ok("{'probe': 'slow', 'p99': '1h', 'within': '1s'}", LOG, &p)->when.above_ns == H);
	policy_clear(&p);
	refused(RULE_FMT, "{'probe': 'slow', 'p99': '3600.000000001s', 'within': '1s'}", LOG,
		"web.json: rules[0].when.p99: expected a duration of at most 1h, got \"3600.000000001s\"");
	assert_true(rule_ok("{'probe': 'slow', 'p90': {'baseline': '24h', 'factor': 2}, 'within': '1s'}",
			    LOG, &p)->when.baseline_ns == 24 * H);
	policy_clear(&p);
	assert_true(rule_ok("{'probe': 'slow', 'p90': {'baseline': '1s', 'factor': 2}, 'within': '1s'}",
			    LOG, &p)->when.baseline_ns == S);
	policy_clear(&p);
	refused(RULE_FMT, "{'probe': 'slow', 'p90': {'baseline': '86401s', 'factor': 2}, 'within': '1s'}",
		LOG, "web.json: rules[0].when.p90.baseline: expected a duration of at most 24h, got \"86401s\"");
	refused(RULE_FMT, "{'probe': 'slow', 'p90': {'baseline': '999ms', 'factor': 2}, 'within': '1s'}",
		LOG, "web.json: rules[0].when.p90.baseline: expected a duration of at least 1s, got \"999ms\"");
}

static void test_latency_probe(void **state)
{
	struct policy p;

	(void)state;
	load(PROBE_FMT, "'threshold': '1h'", "", &p);
	assert_true(p.probes[0].threshold_ns == H);
	policy_clear(&p);
	refused(PROBE_FMT, "'threshold': '61m'", "",
		"web.json: probes[0].threshold: expected a duration of at most 1h, got \"61m\"");
	load(PROBE_FMT, "'baseline': {'window': '1h'}", "", &p);
	assert_true(p.probes[0].baseline.window_ns == H);
	policy_clear(&p);
	load(PROBE_FMT, "'baseline': {'window': '1s'}", "", &p);
	assert_true(p.probes[0].baseline.window_ns == S);
	policy_clear(&p);
	refused(PROBE_FMT, "'baseline': {'window': '3601s'}", "",
		"web.json: probes[0].baseline.window: expected a duration of at most 1h, got \"3601s\"");
	refused(PROBE_FMT, "'baseline': {'window': '999ms'}", "",
		"web.json: probes[0].baseline.window: expected a duration of at least 1s, got \"999ms\"");
	/* Learned once a second: 1.5s would be read as 1s. */
	refused(PROBE_FMT, "'baseline': {'window': '1.5s'}", "",
		"web.json: probes[0].baseline.window: expected a whole number of seconds (the histogram "
		"is read once a second), got \"1.5s\"");
}

static void test_stall_every(void **state)
{
	struct policy p;

	(void)state;
	load(STALL_FMT, "'every': '24h'", "", &p);
	assert_true(p.probes[0].every_ns == 24 * H);
	policy_clear(&p);
	load(STALL_FMT, "'every': '1ms'", "", &p);
	assert_true(p.probes[0].every_ns == 1000000);
	policy_clear(&p);
	refused(STALL_FMT, "'every': '86401s'", "",
		"web.json: probes[0].every: expected a duration of at most 24h, got \"86401s\"");
	refused(STALL_FMT, "'every': '999us'", "",
		"web.json: probes[0].every: expected a duration of at least 1ms, got \"999us\"");
}

static void test_probe_rate(void **state)
{
	struct policy p;

	(void)state;
	load(PROBE_FMT, "'threshold': '1ms', 'rate': {'per_second': 4294967295, 'burst': 4294967295}",
	     "", &p);
	assert_true(p.probes[0].rate.per_second == 4294967295u);
	assert_true(p.probes[0].rate.burst == 4294967295u);
	policy_clear(&p);
	refused(PROBE_FMT, "'threshold': '1ms', 'rate': {'per_second': 4294967296}", "",
		"web.json: probes[0].rate.per_second: expected an integer from 1 to 4294967295, got 4294967296");
	refused(PROBE_FMT, "'threshold': '1ms', 'rate': {'burst': 0}", "",
		"web.json: probes[0].rate.burst: expected an integer from 1 to 4294967295, got 0");
}

/* A CFI snapshot copies 1 KiB to 48 KiB of the user stack; 16 KiB when not said. */
static void test_stack_bytes(void **state)
{
	struct policy p;

	(void)state;
	load(PROBE_FMT, "'threshold': '1ms', 'stack': 'cfi', 'stack_bytes': 1024", "", &p);
	assert_int_equal(p.probes[0].stack_bytes, 1024);
	policy_clear(&p);
	load(PROBE_FMT, "'threshold': '1ms', 'stack': 'cfi', 'stack_bytes': 49152", "", &p);
	assert_int_equal(p.probes[0].stack_bytes, 49152);
	policy_clear(&p);
	load(PROBE_FMT, "'threshold': '1ms', 'stack': 'cfi'", "", &p);
	assert_int_equal(p.probes[0].stack_bytes, 16384);
	policy_clear(&p);
	refused(PROBE_FMT, "'threshold': '1ms', 'stack': 'cfi', 'stack_bytes': 1023", "",
		"web.json: probes[0].stack_bytes: expected an integer from 1024 to 49152, got 1023");
	refused(PROBE_FMT, "'threshold': '1ms', 'stack': 'cfi', 'stack_bytes': 49153", "",
		"web.json: probes[0].stack_bytes: expected an integer from 1024 to 49152, got 49153");
	refused(PROBE_FMT, "'threshold': '1ms', 'stack': 'cfi', 'stack_bytes': -1", "",
		"web.json: probes[0].stack_bytes: expected an integer from 1024 to 49152, got -1");
}

static void test_exec(void **state)
{
	struct policy p;
	const struct policy_rule *r;

	(void)state;
	r = rule_ok(LEAF, "'actions': [{'do': 'exec', 'command': ['/bin/true'], 'timeout': '10m', "
			  "'output': '1MiB'}]", &p);
	assert_true(r->actions[0].timeout_ns == 600 * S);
	assert_true(r->actions[0].output_max == 1 << 20);
	policy_clear(&p);
	r = rule_ok(LEAF, "'actions': [{'do': 'exec', 'command': ['/bin/true'], 'output': 0}]", &p);
	assert_true(r->actions[0].output_max == 0);
	policy_clear(&p);
	refused(RULE_FMT, LEAF, "'actions': [{'do': 'exec', 'command': ['/bin/true'], "
				"'timeout': '600.000000001s'}]",
		"web.json: rules[0].actions[0].timeout: expected a duration of at most 10m, got "
		"\"600.000000001s\"");
	refused(RULE_FMT, LEAF, "'actions': [{'do': 'exec', 'command': ['/bin/true'], 'output': 1048577}]",
		"web.json: rules[0].actions[0].output: expected a size of at most 1048576 bytes, got 1048577");
	refused(RULE_FMT, LEAF, "'actions': [{'do': 'exec', 'command': ['/bin/true'], "
				"'output': '16777216TiB'}]",
		"web.json: rules[0].actions[0].output: expected a size of at most 1048576 bytes, got "
		"\"16777216TiB\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_cooldown),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_within_and_count),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_percentile_values),
		cmocka_unit_test(test_latency_probe),
		cmocka_unit_test(test_stall_every),
		cmocka_unit_test(test_probe_rate),
		cmocka_unit_test(test_stack_bytes),
		cmocka_unit_test(test_exec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
