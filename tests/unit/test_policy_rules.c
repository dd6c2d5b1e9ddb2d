/* policy rules and the rest of the issue 4 language (scope units, uids, build ids,
 * exclusions; dry_run; sizes): what loads, with which defaults, and the exact message for
 * every mistake, naming file and JSON path. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/policy.h"

/* Probes of every kind a filter cares about; rules are tested against them. */
#define PROBES                                                                                   \
	"{\"id\": \"crashes\", \"kind\": \"signal\"}, {\"id\": \"exits\", \"kind\": \"exit\"}, "  \
	"{\"id\": \"slow\", \"kind\": \"latency\", \"binary\": \"/b\", \"symbol\": \"f\", "      \
	"\"threshold\": \"1ms\"}, "                                                              \
	"{\"id\": \"rets\", \"kind\": \"return\", \"binary\": \"/b\", \"symbol\": \"g\", "        \
	"\"when\": \"< 0\"}, "                                                                   \
	"{\"id\": \"sys\", \"kind\": \"syscall\", \"syscalls\": [\"openat\"], "                  \
	"\"errnos\": [\"ENOENT\"]}, {\"id\": \"exc\", \"kind\": \"exception\"}, "                \
	"{\"id\": \"ptr\", \"kind\": \"return\", \"binary\": \"/b\", \"symbol\": \"h\", "         \
	"\"type\": \"pointer\", \"when\": \"== 0\"}"
#define WITH_RULES(rules) \
	"{\"salve\": 1, \"name\": \"t\", \"probes\": [" PROBES "], \"rules\": [" rules "]}"
#define WITH_RULES_X(extra, rules) \
	"{\"salve\": 1, \"name\": \"t\"" extra ", \"probes\": [" PROBES "], \"rules\": [" rules "]}"
#define RULE(when, rest) "{\"id\": \"r\", \"when\": " when ", " rest "}"
#define RULE_BY(by, when, rest) "{\"id\": \"r\", \"by\": \"" by "\", \"when\": " when ", " rest "}"
#define LOG "\"actions\": [{\"do\": \"log\"}]"
#define WITH_SCOPE(scope) \
	"{\"salve\": 1, \"name\": \"t\", \"scope\": " scope ", \"probes\": [{\"id\": \"a\", \"kind\": \"oom\"}]}"

static void expect_error(const char *json, int rc, const char *msg)
{
	struct policy p = { .name = (char *)"untouched" };
	char err[1024] = "";

	assert_int_equal(policy_parse("x.json", json, strlen(json), &p, err, sizeof(err)), rc);
	assert_string_equal(err, msg);
	assert_string_equal(p.name, "untouched");
	assert_null(p.rules);
}

static void parse_ok(const char *json, struct policy *p)
{
	char err[1024] = "";

	assert_int_equal(policy_parse("x.json", json, strlen(json), p, err, sizeof(err)), 0);
	assert_string_equal(err, "");
}

/* ---- what loads ------------------------------------------------------------------------ */

static void test_rule_defaults(void **state)
{
	struct policy p;
	const struct policy_rule *r;

	(void)state;
	parse_ok(WITH_RULES(RULE("{\"probe\": \"exits\", \"count\": 3, \"within\": \"1s\"}", LOG)), &p);
	assert_false(p.dry_run);
	assert_int_equal(p.n_rules, 1);
	r = &p.rules[0];
	assert_string_equal(r->id, "r");
	assert_ptr_equal(r->policy, &p);
	assert_int_equal(r->by, POLICY_BY_PROCESS);
	assert_int_equal(r->cooldown_ns, 0);
	assert_int_equal(r->budget, 10);
	assert_false(r->dry_run);
	assert_int_equal(r->verify_ns, 30000000000ull);
	assert_int_equal(r->when.kind, POLICY_COND_COUNT);
	assert_string_equal(r->when.probe_id, "exits");
	assert_ptr_equal(r->when.probe, &p.probes[1]);
	assert_int_equal(r->when.count, 3);
	assert_int_equal(r->when.within_ns, 1000000000ull);
	assert_int_equal(r->when.filter.signals_mask, 0);
	assert_null(r->when.filter.errnos);
	assert_false(r->when.filter.has_ret);
	assert_null(r->when.filter.types);
	assert_null(r->when.filter.stack_has);
	assert_int_equal(r->n_actions, 1);
	assert_int_equal(r->actions[0].kind, POLICY_ACTION_LOG);
	assert_null(r->actions[0].message);
	policy_clear(&p);

	/* no rules at all is a policy that only reports */
	parse_ok("{\"salve\": 1, \"name\": \"t\", \"probes\": [{\"id\": \"a\", \"kind\": \"oom\"}]}", &p);
	assert_int_equal(p.n_rules, 0);
	assert_null(p.rules);
	policy_clear(&p);
	parse_ok("{\"salve\": 1, \"name\": \"t\", \"probes\": [{\"id\": \"a\", \"kind\": \"oom\"}], \"rules\": []}", &p);
	assert_int_equal(p.n_rules, 0);
	policy_clear(&p);
}

/* The example of issue 4, part 7, word for word. */
static void test_issue_rule_example(void **state)
{
	const char *json =
		"{\"salve\": 1, \"name\": \"app\", \"probes\": [{\"id\": \"parse-errors\", \"kind\": \"return\", "
		"\"binary\": \"/srv/app/bin/app\", \"symbol\": \"parse\", \"when\": \"< 0\"}],\n"
		"\"rules\": [\n"
		" {\"id\": \"parse-failing\", \"by\": \"process\",\n"
		"  \"when\": {\"probe\": \"parse-errors\", \"count\": 3, \"within\": \"1s\"},\n"
		"  \"cooldown\": \"10s\", \"budget\": 10, \"dry_run\": false,\n"
		"  \"actions\": [{\"do\": \"exec\", \"command\": [\"/usr/bin/logger\", \"parse failing\"],\n"
		"               \"timeout\": \"5s\", \"output\": \"64KiB\"}]}]}";
	struct policy p;
	const struct policy_action *a;

	(void)state;
	parse_ok(json, &p);
	assert_int_equal(p.rules[0].cooldown_ns, 10000000000ull);
	assert_int_equal(p.rules[0].when.count, 3);
	a = &p.rules[0].actions[0];
	assert_int_equal(a->kind, POLICY_ACTION_EXEC);
	assert_int_equal(a->argc, 2);
	assert_string_equal(a->argv[0], "/usr/bin/logger");
	assert_string_equal(a->argv[1], "parse failing");
	assert_null(a->argv[2]);
	assert_int_equal(a->timeout_ns, 5000000000ull);
	assert_int_equal(a->output_max, 65536);
	policy_clear(&p);
}

static void test_rule_every_field(void **state)
{
	const char *json = WITH_RULES_X(", \"dry_run\": true",
		"{\"id\": \"r1\", \"by\": \"host\", \"cooldown\": \"0s\", \"budget\": 1, \"dry_run\": false, "
		"\"verify\": \"2m\", \"when\": {\"any\": ["
		"  {\"probe\": \"slow\", \"p99\": \"50ms\", \"within\": \"30s\"},"
		"  {\"probe\": \"slow\", \"p999\": {\"baseline\": \"10m\", \"factor\": 2.5}, \"within\": \"1m\"},"
		"  {\"all\": [{\"probe\": \"crashes\", \"signal\": [\"SIGSEGV\", \"SIGBUS\"], \"stack_has\": \"parse\", "
		"             \"rate\": \"30/m\", \"within\": \"1m\"},"
		"            {\"probe\": \"sys\", \"errno\": \"ENOENT\", \"rate\": \"0.5/s\", \"within\": \"10s\"},"
		"            {\"probe\": \"rets\", \"ret\": \"in [-2, -3]\", \"count\": 1, \"within\": \"1s\"},"
		"            {\"probe\": \"exc\", \"type\": [\"std::bad_alloc\", \"app::Error\"], \"count\": 2, \"within\": \"1s\"}]}]},"
		" \"actions\": [{\"do\": \"log\", \"message\": \"slow or crashing\"}, {\"do\": \"signal\", \"signal\": \"SIGUSR1\"},"
		"             {\"do\": \"exec\", \"command\": [\"/bin/true\", \"\"]}]}");
	const struct policy_cond *w, *all;
	const struct policy_rule *r;
	struct policy p;

	(void)state;
	parse_ok(json, &p);
	assert_true(p.dry_run);
	r = &p.rules[0];
	/* the policy's dry run wins over the rule's */
	assert_true(r->dry_run);
	assert_int_equal(r->by, POLICY_BY_HOST);
	assert_int_equal(r->budget, 1);
	assert_int_equal(r->verify_ns, 120000000000ull);
	w = &r->when;
	assert_int_equal(w->kind, POLICY_COND_ANY);
	assert_int_equal(w->n_children, 3);
	assert_int_equal(w->children[0].kind, POLICY_COND_PERCENTILE);
	assert_true(w->children[0].percentile == 99);
	assert_int_equal(w->children[0].above_ns, 50000000);
	assert_ptr_equal(w->children[0].probe, &p.probes[2]);
	assert_int_equal(w->children[1].kind, POLICY_COND_PERCENTILE);
	assert_true(w->children[1].percentile == 99.9);
	assert_int_equal(w->children[1].above_ns, 0);
	assert_int_equal(w->children[1].baseline_ns, 600000000000ull);
	assert_true(w->children[1].baseline_factor == 2.5);
	all = &w->children[2];
	assert_int_equal(all->kind, POLICY_COND_ALL);
	assert_int_equal(all->n_children, 4);
	assert_int_equal(all->children[0].kind, POLICY_COND_RATE);
	assert_true(all->children[0].rate == 0.5);
	assert_int_equal(all->children[0].filter.signals_mask, 1u << SIGSEGV | 1u << SIGBUS);
	assert_string_equal(all->children[0].filter.stack_has, "parse");
	assert_true(all->children[1].rate == 0.5);
	assert_int_equal(all->children[1].filter.n_errnos, 1);
	assert_int_equal(all->children[1].filter.errnos[0], ENOENT);
	assert_true(all->children[2].filter.has_ret);
	assert_int_equal(all->children[2].filter.ret.op, PRED_IN);
	assert_int_equal(all->children[2].filter.ret.n_values, 2);
	assert_int_equal(all->children[2].filter.ret.values[1], -3);
	assert_int_equal(all->children[3].filter.n_types, 2);
	assert_string_equal(all->children[3].filter.types[1], "app::Error");
	assert_int_equal(r->n_actions, 3);
	assert_string_equal(r->actions[0].message, "slow or crashing");
	assert_int_equal(r->actions[1].kind, POLICY_ACTION_SIGNAL);
	assert_int_equal(r->actions[1].signo, SIGUSR1);
	assert_int_equal(r->actions[2].timeout_ns, 10000000000ull);
	assert_int_equal(r->actions[2].output_max, 4096); /* the default */
	assert_string_equal(r->actions[2].argv[1], "");
	policy_clear(&p);
}

/* A pointer's ret is parsed with the probe's type: 0xffffffffffffffff fits, "<" does not. */
static void test_ret_takes_the_probe_type(void **state)
{
	struct policy p;

	(void)state;
	parse_ok(WITH_RULES(RULE("{\"probe\": \"ptr\", \"ret\": \"== 0xffffffffffffffff\", \"count\": 1, \"within\": \"1s\"}", LOG)), &p);
	assert_int_equal(p.rules[0].when.filter.ret.values[0], -1);
	policy_clear(&p);
}

/* ---- override and redirect (issue 14) ------------------------------------------------- */

#define ONE_ACTION(action) \
	WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", "\"actions\": [" action "]"))

/* The shapes of issue 14, word for word, and where each field lands. */
static void test_repair_shapes(void **state)
{
	const char *json = ONE_ACTION(
		"{\"do\": \"override\", \"binary\": \"/srv/app/bin/app\", \"symbol\": \"parse\", \"return\": -1},"
		"{\"do\": \"override\", \"binary\": \"/srv/app/bin/app\", \"symbol\": \"parse\", \"return\": \"-EINVAL\","
		" \"when\": \"arg0 == 0\"},"
		"{\"do\": \"override\", \"binary\": \"/srv/app/bin/app\", \"symbol\": \"lookup\", \"return\": null},"
		"{\"do\": \"redirect\", \"binary\": \"/srv/app/bin/app\", \"symbol\": \"fetch_v2\", \"to\": \"fetch_v1\"},"
		"{\"do\": \"redirect\", \"binary\": \"/srv/app/bin/app\", \"symbol\": \"parse\","
		" \"to\": \"parse\", \"library\": \"/srv/fixes/parse-fix.so\", \"build_id\": \"8f3a09c1d2e4b5a6978877665544332211000fed\"}");
	const struct policy_action *a;
	struct policy p;

	(void)state;
	parse_ok(json, &p);
	assert_int_equal(p.rules[0].n_actions, 5);
	a = p.rules[0].actions;
	assert_int_equal(a[0].kind, POLICY_ACTION_OVERRIDE);
	assert_string_equal(a[0].binary, "/srv/app/bin/app");
	assert_string_equal(a[0].symbol, "parse");
	assert_int_equal(a[0].ret, -1);
	assert_false(a[0].has_when);
	assert_null(a[0].to);
	assert_null(a[0].library);
	assert_null(a[0].build_id);

	assert_int_equal(a[1].kind, POLICY_ACTION_OVERRIDE);
	assert_int_equal(a[1].ret, -EINVAL);
	assert_true(a[1].has_when);
	assert_int_equal(a[1].when_arg, 0);
	assert_int_equal(a[1].when_pred.op, PRED_EQ);
	assert_int_equal(a[1].when_pred.n_values, 1);
	assert_int_equal(a[1].when_pred.values[0], 0);

	assert_int_equal(a[2].kind, POLICY_ACTION_OVERRIDE);
	assert_string_equal(a[2].symbol, "lookup");
	assert_int_equal(a[2].ret, 0);
	assert_false(a[2].has_when);

	assert_int_equal(a[3].kind, POLICY_ACTION_REDIRECT);
	assert_string_equal(a[3].binary, "/srv/app/bin/app");
	assert_string_equal(a[3].symbol, "fetch_v2");
	assert_string_equal(a[3].to, "fetch_v1");
	assert_null(a[3].library);
	assert_null(a[3].build_id);
	assert_false(a[3].has_when);

	assert_int_equal(a[4].kind, POLICY_ACTION_REDIRECT);
	assert_string_equal(a[4].symbol, "parse");
	assert_string_equal(a[4].to, "parse");
	assert_string_equal(a[4].library, "/srv/fixes/parse-fix.so");
	assert_string_equal(a[4].build_id, "8f3a09c1d2e4b5a6978877665544332211000fed");
	policy_clear(&p);
}

/* "return" takes the 64-bit range and every errno name negated; "when" every argument
 * register and the predicate syntax of a return probe, on a long. */
static void test_repair_values(void **state)
{
	const char *json = ONE_ACTION(
		"{\"do\": \"override\", \"binary\": \"/b\", \"symbol\": \"f@@V2\", \"return\": 9223372036854775807,"
		" \"when\": \"arg5 in [-1, 0x10, 3]\"},"
		"{\"do\": \"override\", \"binary\": \"/b\", \"symbol\": \"f@V1\", \"return\": -9223372036854775808,"
		" \"when\": \" arg3<0\"},"
		"{\"do\": \"override\", \"binary\": \"/usr/lib/libx.so.1\", \"symbol\": \"g\", \"return\": \"-EHWPOISON\","
		" \"when\": \"arg1 != 0x7fffffffffffffff\"},"
		"{\"do\": \"override\", \"binary\": \"/b\", \"symbol\": \"h\", \"return\": 0},"
		"{\"do\": \"redirect\", \"binary\": \"/b\", \"symbol\": \"f\", \"to\": \"f@@V2\","
		" \"library\": \"/opt/fix/libfix.so.1\", \"build_id\": \"ab\"}");
	const struct policy_action *a;
	struct policy p;

	(void)state;
	parse_ok(json, &p);
	a = p.rules[0].actions;
	assert_int_equal(a[0].ret, INT64_MAX);
	assert_int_equal(a[0].when_arg, 5);
	assert_int_equal(a[0].when_pred.op, PRED_IN);
	assert_int_equal(a[0].when_pred.n_values, 3);
	assert_int_equal(a[0].when_pred.values[0], -1);
	assert_int_equal(a[0].when_pred.values[1], 16);
	assert_true(a[1].ret == INT64_MIN);
	assert_int_equal(a[1].when_arg, 3);
	assert_int_equal(a[1].when_pred.op, PRED_LT);
	assert_string_equal(a[2].binary, "/usr/lib/libx.so.1");
	assert_int_equal(a[2].ret, -133); /* EHWPOISON */
	assert_int_equal(a[2].when_arg, 1);
	assert_int_equal(a[2].when_pred.op, PRED_NE);
	assert_int_equal(a[2].when_pred.values[0], INT64_MAX);
	assert_int_equal(a[3].ret, 0);
	assert_false(a[3].has_when);
	assert_string_equal(a[4].to, "f@@V2");
	assert_string_equal(a[4].build_id, "ab");
	policy_clear(&p);
}

/* A breaker around a function, and around endpoints, with its timing and its defaults. */
static void test_breaker_shapes(void **state)
{
	const char *json = ONE_ACTION(
		"{\"do\": \"breaker\", \"binary\": \"/srv/app/bin/app\", \"symbol\": \"fetch\","
		" \"return\": \"-ECONNREFUSED\", \"open_for\": \"5s\", \"max_open_for\": \"1m\","
		" \"half_open_calls\": 3, \"half_open_watch\": \"250ms\"},"
		"{\"do\": \"breaker\", \"endpoint\": \"10.0.0.5:5432\"},"
		"{\"do\": \"breaker\", \"endpoint\": \"[fd00::/8]:443\"}");
	const struct policy_action *a;
	struct policy p;

	(void)state;
	parse_ok(json, &p);
	assert_int_equal(p.rules[0].n_actions, 3);
	a = p.rules[0].actions;
	assert_int_equal(a[0].kind, POLICY_ACTION_BREAKER);
	assert_string_equal(a[0].symbol, "fetch");
	assert_int_equal(a[0].ret, -ECONNREFUSED);
	assert_false(a[0].has_endpoint);
	assert_int_equal(a[0].open_for_ns, 5000000000ull);
	assert_int_equal(a[0].max_open_for_ns, 60000000000ull);
	assert_int_equal(a[0].half_open_calls, 3);
	assert_int_equal(a[0].half_open_watch_ns, 250000000ull);
	assert_true(a[1].has_endpoint);
	assert_int_equal(a[1].endpoint.port, 5432);
	assert_int_equal(a[1].endpoint.prefix, 32);
	assert_null(a[1].symbol);
	/* the defaults */
	assert_int_equal(a[1].open_for_ns, 10000000000ull);
	assert_int_equal(a[1].max_open_for_ns, 300000000000ull);
	assert_int_equal(a[1].half_open_calls, 1);
	assert_int_equal(a[1].half_open_watch_ns, 1000000000ull);
	assert_int_equal(a[2].endpoint.prefix, 8);
	assert_int_equal(a[2].endpoint.port, 443);
	policy_clear(&p);
}

/* A checkpoint, with its backend and how many are kept, and its defaults; a restore. */
static void test_checkpoint_shapes(void **state)
{
	const char *json = ONE_ACTION("{\"do\": \"checkpoint\"},"
				      "{\"do\": \"checkpoint\", \"backend\": \"core\", \"keep\": 7},"
				      "{\"do\": \"checkpoint\", \"backend\": \"criu\", \"keep\": 1000}");
	const struct policy_action *a;
	struct policy p;

	(void)state;
	parse_ok(json, &p);
	a = p.rules[0].actions;
	assert_int_equal(a[0].kind, POLICY_ACTION_CHECKPOINT);
	assert_int_equal(a[0].backend, POLICY_BACKEND_AUTO);
	assert_int_equal(a[0].keep, 3);
	assert_int_equal(a[1].backend, POLICY_BACKEND_CORE);
	assert_int_equal(a[1].keep, 7);
	assert_int_equal(a[2].backend, POLICY_BACKEND_CRIU);
	assert_string_equal(policy_backend_name(a[2].backend), "criu");
	policy_clear(&p);
	expect_error(ONE_ACTION("{\"do\": \"checkpoint\", \"backend\": \"gcore\"}"), -EINVAL,
		     "x.json: rules[0].actions[0].backend: expected \"auto\", \"core\" (salve's own snapshot) or \"criu\", got \"gcore\"");
	expect_error(ONE_ACTION("{\"do\": \"checkpoint\", \"keep\": 0}"), -EINVAL,
		     "x.json: rules[0].actions[0].keep: expected an integer from 1 to 1000, got 0");
	json = ONE_ACTION("{\"do\": \"restore\"}, {\"do\": \"restore\", \"from\": \"last\"},"
			  "{\"do\": \"restore\", \"from\": \"20261126T101500Z-4242\"}");
	parse_ok(json, &p);
	a = p.rules[0].actions;
	assert_int_equal(a[0].kind, POLICY_ACTION_RESTORE);
	assert_null(a[0].from);
	assert_null(a[1].from);
	assert_string_equal(a[2].from, "20261126T101500Z-4242");
	policy_clear(&p);
	expect_error(ONE_ACTION("{\"do\": \"restore\", \"from\": \"../etc\"}"), -EINVAL,
		     "x.json: rules[0].actions[0].from: expected \"last\" or a checkpoint's id (as salvectl checkpoints lists them), got \"../etc\"");
	expect_error(ONE_ACTION("{\"do\": \"log\", \"keep\": 2}"), -EINVAL,
		     "x.json: rules[0].actions[0].keep: does not apply to an action of do \"log\" (only to do \"checkpoint\")");
}

static void test_errors_breakers(void **state)
{
	(void)state;
	expect_error(ONE_ACTION("{\"do\": \"breaker\"}"), -EINVAL,
		     "x.json: rules[0].actions[0]: missing required field \"endpoint\" (a breaker is around a function: \"binary\", \"symbol\" and the \"return\" value of its calls while open; or around an \"endpoint\" such as \"10.0.0.5:5432\")");
	expect_error(ONE_ACTION("{\"do\": \"breaker\", \"binary\": \"/b\", \"symbol\": \"f\"}"), -EINVAL,
		     "x.json: rules[0].actions[0]: missing required field \"return\" (a breaker is around a function: \"binary\", \"symbol\" and the \"return\" value of its calls while open; or around an \"endpoint\" such as \"10.0.0.5:5432\")");
	expect_error(ONE_ACTION("{\"do\": \"breaker\", \"endpoint\": \"10.0.0.5:5432\", \"symbol\": \"f\"}"), -EINVAL,
		     "x.json: rules[0].actions[0]: a breaker is around an \"endpoint\" or a function (\"binary\", \"symbol\", \"return\"), not both: connects to an endpoint fail with ECONNREFUSED while it is open");
	expect_error(ONE_ACTION("{\"do\": \"breaker\", \"endpoint\": \"10.0.0.5:5432\", \"open_for\": \"1m\", \"max_open_for\": \"10s\"}"), -EINVAL,
		     "x.json: rules[0].actions[0]: \"max_open_for\" is shorter than \"open_for\": the backoff doubles open_for up to max_open_for");
	expect_error(ONE_ACTION("{\"do\": \"breaker\", \"endpoint\": \"10.0.0.5:5432\", \"half_open_calls\": 0}"), -EINVAL,
		     "x.json: rules[0].actions[0].half_open_calls: expected an integer from 1 to 10000, got 0");
	expect_error(ONE_ACTION("{\"do\": \"breaker\", \"endpoint\": \"db.local:5432\"}"), -EINVAL, "x.json: rules[0].actions[0].endpoint: endpoint \"db.local:5432\": \"db.local\" is not an IPv4 address (names are not resolved): expected an address with an optional /prefix and :port, such as 10.0.0.1:8080, 10.0.0.0/8:443, [::1]:8080 or fd00::/8");
	expect_error(ONE_ACTION("{\"do\": \"override\", \"binary\": \"/b\", \"symbol\": \"p\", \"return\": -1, \"open_for\": \"1s\"}"), -EINVAL,
		     "x.json: rules[0].actions[0].open_for: does not apply to an action of do \"override\" (only to do \"breaker\")");
}

static void test_errors_repairs(void **state)
{
	(void)state;
	/* what each kind requires */
	expect_error(ONE_ACTION("{\"do\": \"override\", \"symbol\": \"parse\", \"return\": -1}"), -EINVAL,
		     "x.json: rules[0].actions[0]: missing required field \"binary\" (the absolute path of the executable or library holding the function)");
	expect_error(ONE_ACTION("{\"do\": \"redirect\", \"symbol\": \"parse\", \"to\": \"q\"}"), -EINVAL,
		     "x.json: rules[0].actions[0]: missing required field \"binary\" (the absolute path of the executable or library holding the function)");
	expect_error(ONE_ACTION("{\"do\": \"override\", \"binary\": \"/b\", \"return\": -1}"), -EINVAL,
		     "x.json: rules[0].actions[0]: missing required field \"symbol\" (the function's symbol name, such as \"parse\")");
	expect_error(ONE_ACTION("{\"do\": \"redirect\", \"binary\": \"/b\", \"to\": \"q\"}"), -EINVAL,
		     "x.json: rules[0].actions[0]: missing required field \"symbol\" (the function's symbol name, such as \"parse\")");
	expect_error(ONE_ACTION("{\"do\": \"override\", \"binary\": \"/b\", \"symbol\": \"parse\"}"), -EINVAL,
		     "x.json: rules[0].actions[0]: missing required field \"return\" (the value the function returns: an integer, an errno name such as \"-EINVAL\", or null)");
	expect_error(ONE_ACTION("{\"do\": \"redirect\", \"binary\": \"/b\", \"symbol\": \"parse\"}"), -EINVAL,
		     "x.json: rules[0].actions[0]: missing required field \"to\" (the function the calls go to, such as \"fetch_v1\")");
	/* binary and symbol */
	expect_error(ONE_ACTION("{\"do\": \"override\", \"binary\": \"bin/app\", \"symbol\": \"parse\", \"return\": -1}"), -EINVAL,
		     "x.json: rules[0].actions[0].binary: expected the absolute path of the executable or library whose function is patched, got \"bin/app\"");
	expect_error(ONE_ACTION("{\"do\": \"redirect\", \"binary\": \"libc.so.6\", \"symbol\": \"parse\", \"to\": \"q\"}"), -EINVAL,
		     "x.json: rules[0].actions[0].binary: expected the absolute path of the executable or library whose function is patched, got \"libc.so.6\"");
	expect_error(ONE_ACTION("{\"do\": \"override\", \"binary\": \"/b\", \"symbol\": \"a b\", \"return\": -1}"), -EINVAL,
		     "x.json: rules[0].actions[0].symbol: expected a symbol name, optionally with a version (\"name@VERSION\" or \"name@@VERSION\"), got \"a b\"");
	expect_error(ONE_ACTION("{\"do\": \"redirect\", \"binary\": \"/b\", \"symbol\": \"p\", \"to\": \"q@\"}"), -EINVAL,
		     "x.json: rules[0].actions[0].to: expected a symbol name, optionally with a version (\"name@VERSION\" or \"name@@VERSION\"), got \"q@\"");
	expect_error(ONE_ACTION("{\"do\": \"override\", \"binary\": \"/b\", \"symbol\": \"\", \"return\": -1}"), -EINVAL,
		     "x.json: rules[0].actions[0].symbol: expected a non-empty string, got \"\"");
	/* return */
	expect_error(ONE_ACTION("{\"do\": \"override\", \"binary\": \"/b\", \"symbol\": \"p\", \"return\": \"EINVAL\"}"), -EINVAL,
		     "x.json: rules[0].actions[0].return: an errno is returned negated: write \"-EINVAL\" for -22, or give the number, got \"EINVAL\"");
	expect_error(ONE_ACTION("{\"do\": \"override\", \"binary\": \"/b\", \"symbol\": \"p\", \"return\": \"-ENOTANERRNO\"}"), -EINVAL,
		     "x.json: rules[0].actions[0].return: unknown errno \"-ENOTANERRNO\" (not a Linux errno name; see errno(3))");
	expect_error(ONE_ACTION("{\"do\": \"override\", \"binary\": \"/b\", \"symbol\": \"p\", \"return\": \"-EINVL\"}"), -EINVAL,
		     "x.json: rules[0].actions[0].return: unknown errno \"-EINVL\" (did you mean \"-EINVAL\"?)");
	expect_error(ONE_ACTION("{\"do\": \"override\", \"binary\": \"/b\", \"symbol\": \"p\", \"return\": \"-1\"}"), -EINVAL,
		     "x.json: rules[0].actions[0].return: expected an integer, an errno name written \"-EINVAL\" (its value negated) or null (for NULL), got \"-1\"");
	expect_error(ONE_ACTION("{\"do\": \"override\", \"binary\": \"/b\", \"symbol\": \"p\", \"return\": 1.5}"), -EINVAL,
		     "x.json: rules[0].actions[0].return: expected an integer, an errno name written \"-EINVAL\" (its value negated) or null (for NULL), got 1.5");
	expect_error(ONE_ACTION("{\"do\": \"override\", \"binary\": \"/b\", \"symbol\": \"p\", \"return\": false}"), -EINVAL,
		     "x.json: rules[0].actions[0].return: expected an integer, an errno name written \"-EINVAL\" (its value negated) or null (for NULL), got false");
	expect_error(ONE_ACTION("{\"do\": \"override\", \"binary\": \"/b\", \"symbol\": \"p\", \"return\": 9223372036854775808}"), -EINVAL,
		     "x.json: rules[0].actions[0].return: expected an integer from -9223372036854775808 to 9223372036854775807 (a 64-bit register), got 9223372036854775808");
	/* when */
	expect_error(ONE_ACTION("{\"do\": \"override\", \"binary\": \"/b\", \"symbol\": \"p\", \"return\": 0, \"when\": \"arg9 == 1\"}"), -EINVAL,
		     "x.json: rules[0].actions[0].when: expected \"argN\" and a comparison, N from 0 to 5 (the integer and pointer arguments, first to sixth), such as \"arg0 == 0\" or \"arg1 in [3, 4]\", got \"arg9 == 1\"");
	expect_error(ONE_ACTION("{\"do\": \"override\", \"binary\": \"/b\", \"symbol\": \"p\", \"return\": 0, \"when\": \"x == 1\"}"), -EINVAL,
		     "x.json: rules[0].actions[0].when: expected \"argN\" and a comparison, N from 0 to 5 (the integer and pointer arguments, first to sixth), such as \"arg0 == 0\" or \"arg1 in [3, 4]\", got \"x == 1\"");
	expect_error(ONE_ACTION("{\"do\": \"override\", \"binary\": \"/b\", \"symbol\": \"p\", \"return\": 0, \"when\": \"arg10 == 1\"}"), -EINVAL,
		     "x.json: rules[0].actions[0].when: expected \"argN\" and a comparison, N from 0 to 5 (the integer and pointer arguments, first to sixth), such as \"arg0 == 0\" or \"arg1 in [3, 4]\", got \"arg10 == 1\"");
	expect_error(ONE_ACTION("{\"do\": \"override\", \"binary\": \"/b\", \"symbol\": \"p\", \"return\": 0, \"when\": \"arg0\"}"), -EINVAL,
		     "x.json: rules[0].actions[0].when: expected \"argN\" and a comparison, N from 0 to 5 (the integer and pointer arguments, first to sixth), such as \"arg0 == 0\" or \"arg1 in [3, 4]\", got \"arg0\"");
	expect_error(ONE_ACTION("{\"do\": \"override\", \"binary\": \"/b\", \"symbol\": \"p\", \"return\": 0, \"when\": \"arg0 = 1\"}"), -EINVAL,
		     "x.json: rules[0].actions[0].when: expected a comparison such as \"< 0\", \"== 0\" or \"in [1, 2]\", got \"= 1\"");
	expect_error(ONE_ACTION("{\"do\": \"override\", \"binary\": \"/b\", \"symbol\": \"p\", \"return\": 0, \"when\": \"arg2 == 0xffffffffffffffff\"}"), -EINVAL,
		     "x.json: rules[0].actions[0].when: 0xffffffffffffffff does not fit a long");
	expect_error(ONE_ACTION("{\"do\": \"override\", \"binary\": \"/b\", \"symbol\": \"p\", \"return\": 0, \"when\": 0}"), -EINVAL,
		     "x.json: rules[0].actions[0].when: expected a string, got 0");
	/* library and build_id go together */
	expect_error(ONE_ACTION("{\"do\": \"redirect\", \"binary\": \"/b\", \"symbol\": \"p\", \"to\": \"q\", \"build_id\": \"abcd\"}"), -EINVAL,
		     "x.json: rules[0].actions[0].build_id: applies only with \"library\": it is the fix library's build id (the patched binary's own belongs in the scope's \"binaries\")");
	expect_error(ONE_ACTION("{\"do\": \"redirect\", \"binary\": \"/b\", \"symbol\": \"p\", \"to\": \"p\", \"library\": \"/fix.so\"}"), -EINVAL,
		     "x.json: rules[0].actions[0]: missing required field \"build_id\" (the fix library's GNU build id, as \"readelf -n\" prints it: salve loads no other file)");
	expect_error(ONE_ACTION("{\"do\": \"redirect\", \"binary\": \"/b\", \"symbol\": \"p\", \"to\": \"p\", \"library\": \"/fix.so\", \"build_id\": \"ABCD\"}"), -EINVAL,
		     "x.json: rules[0].actions[0].build_id: expected a build id: lowercase hex digits, an even number from 2 to 40, as \"readelf -n\" prints it, got \"ABCD\"");
	expect_error(ONE_ACTION("{\"do\": \"redirect\", \"binary\": \"/b\", \"symbol\": \"p\", \"to\": \"p\", \"library\": \"/fix.so\", \"build_id\": \"abc\"}"), -EINVAL,
		     "x.json: rules[0].actions[0].build_id: expected a build id: lowercase hex digits, an even number from 2 to 40, as \"readelf -n\" prints it, got \"abc\"");
	expect_error(ONE_ACTION("{\"do\": \"redirect\", \"binary\": \"/b\", \"symbol\": \"p\", \"to\": \"p\", \"library\": \"/fix.so\", \"build_id\": \"0123456789abcdef0123456789abcdef0123456789\"}"), -EINVAL,
		     "x.json: rules[0].actions[0].build_id: expected a build id: lowercase hex digits, an even number from 2 to 40, as \"readelf -n\" prints it, got \"0123456789abcdef0123456789abcdef0123456789\"");
	expect_error(ONE_ACTION("{\"do\": \"redirect\", \"binary\": \"/b\", \"symbol\": \"p\", \"to\": \"p\", \"library\": \"/fix.so\", \"build_id\": \"zz\"}"), -EINVAL,
		     "x.json: rules[0].actions[0].build_id: expected a build id: lowercase hex digits, an even number from 2 to 40, as \"readelf -n\" prints it, got \"zz\"");
	expect_error(ONE_ACTION("{\"do\": \"redirect\", \"binary\": \"/b\", \"symbol\": \"p\", \"to\": \"p\", \"library\": \"fix.so\", \"build_id\": \"ab\"}"), -EINVAL,
		     "x.json: rules[0].actions[0].library: expected the fix library's absolute path (it is loaded from there, never searched for), got \"fix.so\"");
	expect_error(ONE_ACTION("{\"do\": \"redirect\", \"binary\": \"/b\", \"symbol\": \"p\", \"to\": \"p\"}"), -EINVAL,
		     "x.json: rules[0].actions[0].to: redirects \"p\" to itself: name another function, or the same one in a fix library (\"library\", \"build_id\")");
	/* a field of one kind on the other, and on the older kinds */
	expect_error(ONE_ACTION("{\"do\": \"override\", \"binary\": \"/b\", \"symbol\": \"p\", \"return\": 0, \"to\": \"q\"}"), -EINVAL,
		     "x.json: rules[0].actions[0].to: does not apply to an action of do \"override\" (only to do \"redirect\")");
	expect_error(ONE_ACTION("{\"do\": \"override\", \"binary\": \"/b\", \"symbol\": \"p\", \"return\": 0, \"library\": \"/fix.so\"}"), -EINVAL,
		     "x.json: rules[0].actions[0].library: does not apply to an action of do \"override\" (only to do \"redirect\")");
	expect_error(ONE_ACTION("{\"do\": \"redirect\", \"binary\": \"/b\", \"symbol\": \"p\", \"to\": \"q\", \"return\": 0}"), -EINVAL,
		     "x.json: rules[0].actions[0].return: does not apply to an action of do \"redirect\" (only to do \"override\", \"rescue\", \"breaker\")");
	expect_error(ONE_ACTION("{\"do\": \"redirect\", \"binary\": \"/b\", \"symbol\": \"p\", \"to\": \"q\", \"when\": \"arg0 == 0\"}"), -EINVAL,
		     "x.json: rules[0].actions[0].when: does not apply to an action of do \"redirect\" (only to do \"override\")");
	expect_error(ONE_ACTION("{\"do\": \"signal\", \"signal\": \"SIGTERM\", \"symbol\": \"p\"}"), -EINVAL,
		     "x.json: rules[0].actions[0].symbol: does not apply to an action of do \"signal\" (only to do \"override\", \"redirect\", \"breaker\")");
	/* rescue */
	expect_error(ONE_ACTION("{\"do\": \"rescue\", \"return\": -1}"), -EINVAL,
		     "x.json: rules[0].actions[0]: missing required field \"at\" (the rescue points: functions with an error return, such as [\"parse\"])");
	expect_error(ONE_ACTION("{\"do\": \"rescue\", \"at\": [], \"return\": -1}"), -EINVAL,
		     "x.json: rules[0].actions[0].at: expected 1 to 16 rescue points (functions with an error return, such as \"parse\"), got 0");
	expect_error(ONE_ACTION("{\"do\": \"rescue\", \"at\": [\"parse\", 7], \"return\": -1}"), -EINVAL,
		     "x.json: rules[0].actions[0].at[1]: expected a string, got 7");
	expect_error(ONE_ACTION("{\"do\": \"override\", \"binary\": \"/b\", \"symbol\": \"p\", \"return\": 0, \"message\": \"m\"}"), -EINVAL,
		     "x.json: rules[0].actions[0].message: does not apply to an action of do \"override\" (only to do \"log\")");
	/* typos, offered only the fields of the kind */
	expect_error(ONE_ACTION("{\"do\": \"redirect\", \"binary\": \"/b\", \"symbol\": \"p\", \"to\": \"q\", \"libary\": \"/fix.so\"}"), -EINVAL,
		     "x.json: rules[0].actions[0]: unknown field \"libary\" (did you mean \"library\"?)");
	expect_error(ONE_ACTION("{\"do\": \"override\", \"binary\": \"/b\", \"symbol\": \"p\", \"retrun\": 0}"), -EINVAL,
		     "x.json: rules[0].actions[0]: unknown field \"retrun\" (did you mean \"return\"?)");
	expect_error(ONE_ACTION("{\"do\": \"override\", \"binary\": \"/b\", \"symbol\": \"p\", \"return\": 0, \"args\": 1}"), -EINVAL,
		     "x.json: rules[0].actions[0]: unknown field \"args\" (expected one of \"do\", \"binary\", \"symbol\", \"return\", \"when\")");
	expect_error(ONE_ACTION("{\"do\": \"overide\"}"), -EINVAL,
		     "x.json: rules[0].actions[0].do: unknown action \"overide\" (did you mean \"override\"?)");
}

/* ---- every mistake, with its message --------------------------------------------------- */

static void test_errors_rule(void **state)
{
	(void)state;
	expect_error(WITH_RULES("\"x\""), -EINVAL,
		     "x.json: rules[0]: expected an object, got \"x\"");
	expect_error(WITH_RULES("{}"), -EINVAL,
		     "x.json: rules[0]: missing required field \"id\" (a name for the rule, unique across all policies)");
	expect_error(WITH_RULES("{\"when\": {\"probe\": \"crashes\", \"count\": 3, \"within\": \"1s\"}, \"actions\": [{\"do\": \"log\"}]}"), -EINVAL,
		     "x.json: rules[0]: missing required field \"id\" (a name for the rule, unique across all policies)");
	expect_error(WITH_RULES("{\"id\": \"r\", \"actions\": [{\"do\": \"log\"}]}"), -EINVAL,
		     "x.json: rules[0]: missing required field \"when\" (the condition, such as {\"probe\": \"crashes\", \"count\": 3, \"within\": \"1m\"})");
	expect_error(WITH_RULES("{\"id\": \"r\", \"when\": {\"probe\": \"crashes\", \"count\": 3, \"within\": \"1s\"}}"), -EINVAL,
		     "x.json: rules[0]: missing required field \"actions\" (a non-empty array of actions, such as [{\"do\": \"log\"}])");
	expect_error(WITH_RULES("{\"id\": \"r\", \"whn\": {}, \"actions\": [{\"do\": \"log\"}]}"), -EINVAL,
		     "x.json: rules[0]: unknown field \"whn\" (did you mean \"when\"?)");
	expect_error(WITH_RULES("{\"id\": \"bad id\", \"when\": {\"probe\": \"crashes\", \"count\": 3, \"within\": \"1s\"}, \"actions\": [{\"do\": \"log\"}]}"), -EINVAL,
		     "x.json: rules[0].id: expected an id of letters, digits, \"_\", \".\" and \"-\", got \"bad id\"");
	expect_error(WITH_RULES(RULE_BY("proces", "{\"probe\": \"crashes\", \"count\": 3, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].by: unknown grouping \"proces\" (did you mean \"process\"?)");
	expect_error(WITH_RULES(RULE_BY("cluster", "{\"probe\": \"crashes\", \"count\": 3, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].by: unknown grouping \"cluster\" (expected one of \"process\", \"binary\", \"host\")");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 3, \"within\": \"1s\"}", "\"cooldown\": \"x\", \"actions\": [{\"do\": \"log\"}]")), -EINVAL,
		     "x.json: rules[0].cooldown: expected a duration such as \"20ms\" or \"1s\", got \"x\"");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 3, \"within\": \"1s\"}", "\"cooldown\": 5, \"actions\": [{\"do\": \"log\"}]")), -EINVAL,
		     "x.json: rules[0].cooldown: expected a duration such as \"20ms\" or \"1s\", got 5");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 3, \"within\": \"1s\"}", "\"budget\": 0, \"actions\": [{\"do\": \"log\"}]")), -EINVAL,
		     "x.json: rules[0].budget: expected an integer from 1 to 65536, got 0");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 3, \"within\": \"1s\"}", "\"budget\": \"10\", \"actions\": [{\"do\": \"log\"}]")), -EINVAL,
		     "x.json: rules[0].budget: expected an integer, got \"10\"");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 3, \"within\": \"1s\"}", "\"dry_run\": \"yes\", \"actions\": [{\"do\": \"log\"}]")), -EINVAL,
		     "x.json: rules[0].dry_run: expected a boolean, got \"yes\"");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 3, \"within\": \"1s\"}", "\"verify\": \"0s\", \"actions\": [{\"do\": \"log\"}]")), -EINVAL,
		     "x.json: rules[0].verify: expected a duration greater than 0, got \"0s\"");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", LOG) ", " RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[1].id: duplicate rule id \"r\" (first declared at x.json: rules[0].id)");
	expect_error(WITH_RULES("{\"id\": \"crashes\", \"when\": {\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}, \"actions\": [{\"do\": \"log\"}]}"), -EINVAL,
		     "x.json: rules[0].id: duplicate id \"crashes\" (first declared at x.json: probes[0].id)");
}

static void test_errors_actions(void **state)
{
	(void)state;
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 3, \"within\": \"1s\"}", "\"actions\": []")), -EINVAL,
		     "x.json: rules[0].actions: expected at least one action, got []");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 3, \"within\": \"1s\"}", "\"actions\": {}")), -EINVAL,
		     "x.json: rules[0].actions: expected an array, got {}");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", "\"actions\": [3]")), -EINVAL,
		     "x.json: rules[0].actions[0]: expected an object, got 3");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", "\"actions\": [{}]")), -EINVAL,
		     "x.json: rules[0].actions[0]: missing required field \"do\" (one of \"log\", \"signal\", \"exec\", \"override\", \"redirect\", \"rescue\", \"breaker\", \"checkpoint\", \"restore\")");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", "\"actions\": [{\"do\": \"lgo\"}]")), -EINVAL,
		     "x.json: rules[0].actions[0].do: unknown action \"lgo\" (did you mean \"log\"?)");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", "\"actions\": [{\"do\": \"reboot\"}]")), -EINVAL,
		     "x.json: rules[0].actions[0].do: unknown action \"reboot\" (expected one of \"log\", \"signal\", \"exec\", \"override\", \"redirect\", \"rescue\", \"breaker\", \"checkpoint\", \"restore\")");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", "\"actions\": [{\"do\": \"log\", \"signal\": \"SIGTERM\"}]")), -EINVAL,
		     "x.json: rules[0].actions[0].signal: does not apply to an action of do \"log\" (only to do \"signal\")");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", "\"actions\": [{\"do\": \"log\", \"mesage\": \"x\"}]")), -EINVAL,
		     "x.json: rules[0].actions[0]: unknown field \"mesage\" (did you mean \"message\"?)");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", "\"actions\": [{\"do\": \"signal\"}]")), -EINVAL,
		     "x.json: rules[0].actions[0]: missing required field \"signal\" (the signal to send, such as \"SIGTERM\")");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", "\"actions\": [{\"do\": \"signal\", \"signal\": \"SIGTREM\"}]")), -EINVAL,
		     "x.json: rules[0].actions[0].signal: unknown signal \"SIGTREM\" (did you mean \"SIGTERM\"?)");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", "\"actions\": [{\"do\": \"signal\", \"signal\": \"term\"}]")), -EINVAL,
		     "x.json: rules[0].actions[0].signal: unknown signal \"term\" (did you mean \"SIGTERM\"?)");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", "\"actions\": [{\"do\": \"signal\", \"signal\": \"SIGFOO\"}]")), -EINVAL,
		     "x.json: rules[0].actions[0].signal: unknown signal \"SIGFOO\" (did you mean \"SIGFPE\"?)");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", "\"actions\": [{\"do\": \"signal\", \"signal\": 15}]")), -EINVAL,
		     "x.json: rules[0].actions[0].signal: expected a string, got 15");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", "\"actions\": [{\"do\": \"exec\"}]")), -EINVAL,
		     "x.json: rules[0].actions[0]: missing required field \"command\" (the program's absolute path and its arguments, such as [\"/usr/bin/logger\", \"x\"])");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", "\"actions\": [{\"do\": \"exec\", \"command\": []}]")), -EINVAL,
		     "x.json: rules[0].actions[0].command: expected a command: an array of the program's absolute path and its arguments, got []");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", "\"actions\": [{\"do\": \"exec\", \"command\": [\"logger\"]}]")), -EINVAL,
		     "x.json: rules[0].actions[0].command[0]: expected the program's absolute path (commands run without a PATH search), got \"logger\"");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", "\"actions\": [{\"do\": \"exec\", \"command\": [\"/bin/x\", 3]}]")), -EINVAL,
		     "x.json: rules[0].actions[0].command[1]: expected a string, got 3");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", "\"actions\": [{\"do\": \"exec\", \"command\": \"/bin/x\"}]")), -EINVAL,
		     "x.json: rules[0].actions[0].command: expected an array, got \"/bin/x\"");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", "\"actions\": [{\"do\": \"exec\", \"command\": [\"/bin/x\"], \"timeout\": \"x\"}]")), -EINVAL,
		     "x.json: rules[0].actions[0].timeout: expected a duration such as \"20ms\" or \"1s\", got \"x\"");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", "\"actions\": [{\"do\": \"exec\", \"command\": [\"/bin/x\"], \"timeout\": \"11m\"}]")), -EINVAL,
		     "x.json: rules[0].actions[0].timeout: expected a duration of at most 10m, got \"11m\"");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", "\"actions\": [{\"do\": \"exec\", \"command\": [\"/bin/x\"], \"timeout\": \"0s\"}]")), -EINVAL,
		     "x.json: rules[0].actions[0].timeout: expected a duration greater than 0, got \"0s\"");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", "\"actions\": [{\"do\": \"exec\", \"command\": [\"/bin/x\"], \"output\": \"2MiB\"}]")), -EINVAL,
		     "x.json: rules[0].actions[0].output: expected a size of at most 1048576 bytes, got \"2MiB\"");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", "\"actions\": [{\"do\": \"exec\", \"command\": [\"/bin/x\"], \"output\": \"4KB\"}]")), -EINVAL,
		     "x.json: rules[0].actions[0].output: expected a size such as \"64MiB\" or \"4096\" (units B, KiB, MiB, GiB, TiB), got \"4KB\"");
}

static void test_errors_when(void **state)
{
	(void)state;
	expect_error(WITH_RULES(RULE("[]", LOG)), -EINVAL,
		     "x.json: rules[0].when: expected an object, got []");
	expect_error(WITH_RULES(RULE("{}", LOG)), -EINVAL,
		     "x.json: rules[0].when: missing required field \"probe\" (the id of a probe of the policy set)");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 3}", LOG)), -EINVAL,
		     "x.json: rules[0].when: missing required field \"within\" (the sliding window, such as \"1s\")");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 3, \"rate\": \"5/s\", \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when: give one threshold, not both \"count\" and \"rate\"");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"cont\": 3, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when: unknown field \"cont\" (did you mean \"count\"?)");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 0, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.count: expected an integer from 1 to 4294967295, got 0");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": \"3\", \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.count: expected an integer, got \"3\"");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"rate\": \"5\", \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.rate: expected a rate of events greater than 0 such as \"5/s\" or \"30/m\", got \"5\"");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"rate\": \"0/s\", \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.rate: expected a rate of events greater than 0 such as \"5/s\" or \"30/m\", got \"0/s\"");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"rate\": \"5/h\", \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.rate: expected a rate of events greater than 0 such as \"5/s\" or \"30/m\", got \"5/h\"");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"rate\": 5, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.rate: expected a string, got 5");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 3, \"within\": \"0s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.within: expected a duration greater than 0, got \"0s\"");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 3, \"within\": \"soon\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.within: expected a duration such as \"20ms\" or \"1s\", got \"soon\"");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crash\", \"count\": 3, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.probe: unknown probe \"crash\" (did you mean \"crashes\"?)");
	expect_error(WITH_RULES(RULE("{\"probe\": \"nothing-like-it\", \"count\": 3, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.probe: unknown probe \"nothing-like-it\" (no probe of the policy set has this id)");
	expect_error(WITH_RULES(RULE("{\"probe\": \"\", \"count\": 3, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.probe: expected a non-empty string, got \"\"");
	expect_error(WITH_RULES(RULE_BY("host", "{\"probe\": \"slow\", \"p98\": \"50ms\", \"within\": \"30s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when: unknown field \"p98\" (did you mean \"p90\"?)");
	expect_error(WITH_RULES(RULE_BY("host", "{\"probe\": \"slow\", \"p99\": \"50ms\", \"count\": 2, \"within\": \"30s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when: give one threshold, not both \"count\" and \"p99\"");
}

static void test_errors_percentiles(void **state)
{
	(void)state;
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when: missing a threshold: give \"count\", \"rate\" or a percentile (\"p50\", \"p90\", \"p95\", \"p99\", \"p999\")");
	expect_error(WITH_RULES(RULE("{\"probe\": \"slow\", \"p99\": \"50ms\", \"within\": \"30s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.p99: a percentile needs \"by\": \"binary\" or \"host\" on its rule (the kernel keeps latency histograms per probe site, not per process)");
	expect_error(WITH_RULES(RULE_BY("process", "{\"probe\": \"slow\", \"p99\": \"50ms\", \"within\": \"30s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.p99: a percentile needs \"by\": \"binary\" or \"host\" on its rule (the kernel keeps latency histograms per probe site, not per process)");
	expect_error(WITH_RULES(RULE_BY("binary", "{\"probe\": \"crashes\", \"p99\": \"50ms\", \"within\": \"30s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.p99: does not apply to probe \"crashes\" of kind \"signal\" (only to probes of kind \"latency\": percentiles are of call durations)");
	expect_error(WITH_RULES(RULE_BY("host", "{\"probe\": \"slow\", \"p99\": 50, \"within\": \"30s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.p99: expected a duration such as \"50ms\", or {\"baseline\": \"10m\", \"factor\": 2}, got 50");
	expect_error(WITH_RULES(RULE_BY("host", "{\"probe\": \"slow\", \"p99\": \"fast\", \"within\": \"30s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.p99: expected a duration such as \"20ms\" or \"1s\", got \"fast\"");
	expect_error(WITH_RULES(RULE_BY("host", "{\"probe\": \"slow\", \"p99\": {\"baseline\": \"10m\"}, \"within\": \"30s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.p99: missing required field \"factor\" (how many times the learned percentile, a number > 1)");
	expect_error(WITH_RULES(RULE_BY("host", "{\"probe\": \"slow\", \"p99\": {\"factor\": 2}, \"within\": \"30s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.p99: missing required field \"baseline\" (the window the percentile is learned over, such as \"10m\")");
	expect_error(WITH_RULES(RULE_BY("host", "{\"probe\": \"slow\", \"p99\": {\"baseline\": \"10m\", \"factor\": 1}, \"within\": \"30s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.p99.factor: expected a number greater than 1, got 1");
	expect_error(WITH_RULES(RULE_BY("host", "{\"probe\": \"slow\", \"p99\": {\"baseline\": \"100ms\", \"factor\": 2}, \"within\": \"30s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.p99.baseline: expected a duration of at least 1s, got \"100ms\"");
	expect_error(WITH_RULES(RULE_BY("host", "{\"probe\": \"slow\", \"p99\": {\"baseline\": \"10m\", \"factor\": 2, \"window\": \"1m\"}, \"within\": \"30s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.p99: unknown field \"window\" (expected one of \"baseline\", \"factor\")");
}

static void test_errors_all_any(void **state)
{
	(void)state;
	expect_error(WITH_RULES(RULE("{\"all\": []}", LOG)), -EINVAL,
		     "x.json: rules[0].when.all: expected at least one condition, got []");
	expect_error(WITH_RULES(RULE("{\"any\": {}}", LOG)), -EINVAL,
		     "x.json: rules[0].when.any: expected an array, got {}");
	expect_error(WITH_RULES(RULE("{\"all\": [{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}], \"any\": []}", LOG)), -EINVAL,
		     "x.json: rules[0].when: give \"all\" or \"any\", not both (nest one inside the other)");
	expect_error(WITH_RULES(RULE("{\"all\": [{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}], \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when: a condition with \"all\" takes no other field, got \"within\"");
	expect_error(WITH_RULES(RULE("{\"all\": [3]}", LOG)), -EINVAL,
		     "x.json: rules[0].when.all[0]: expected an object, got 3");
	expect_error(WITH_RULES(RULE("{\"all\": [{\"all\": [{\"all\": [{\"all\": [{\"all\": [{\"all\": [{\"all\": [{\"all\": [{\"all\": [{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}]}]}]}]}]}]}]}]}]}", LOG)), -EINVAL,
		     "x.json: rules[0].when.all[0].all[0].all[0].all[0].all[0].all[0].all[0].all[0].all: conditions nest at most 8 \"all\"/\"any\" deep");
	expect_error(WITH_RULES(RULE("{\"any\": [{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}, {\"all\": [{\"probe\": \"exits\", \"count\": 1, \"within\": \"1s\"}, {\"probe\": \"exitz\", \"count\": 1, \"within\": \"1s\"}]}]}", LOG)), -EINVAL,
		     "x.json: rules[0].when.any[1].all[1].probe: unknown probe \"exitz\" (did you mean \"exits\"?)");
}

static void test_errors_filters(void **state)
{
	(void)state;
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"signal\": \"segv\", \"count\": 1, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.signal: unknown signal \"segv\" (did you mean \"SIGSEGV\"?)");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"signal\": [], \"count\": 1, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.signal: expected at least one signal name, got []");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"signal\": 11, \"count\": 1, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.signal: expected a signal name or an array of them, got 11");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"signal\": [\"SIGSEGV\", 11], \"count\": 1, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.signal[1]: expected a string, got 11");
	expect_error(WITH_RULES(RULE("{\"probe\": \"exits\", \"signal\": \"SIGSEGV\", \"count\": 1, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.signal: does not apply to probe \"exits\" of kind \"exit\" (only to probes of kind \"signal\")");
	expect_error(WITH_RULES(RULE("{\"probe\": \"sys\", \"errno\": [\"ENOENT\", \"EACCESS\"], \"count\": 1, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.errno[1]: unknown errno \"EACCESS\" (did you mean \"EACCES\"?)");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"errno\": \"ENOENT\", \"count\": 1, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.errno: does not apply to probe \"crashes\" of kind \"signal\" (only to probes of kind \"syscall\")");
	expect_error(WITH_RULES(RULE("{\"probe\": \"rets\", \"ret\": \"about -2\", \"count\": 1, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.ret: expected a comparison such as \"< 0\", \"== 0\" or \"in [1, 2]\", got \"about -2\"");
	expect_error(WITH_RULES(RULE("{\"probe\": \"rets\", \"ret\": \"== 4294967296\", \"count\": 1, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.ret: 4294967296 does not fit an int");
	expect_error(WITH_RULES(RULE("{\"probe\": \"ptr\", \"ret\": \"< 5\", \"count\": 1, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.ret: a pointer can only be compared with \"==\" or \"!=\" (such as \"== 0\" for NULL), got \"< 5\"");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"ret\": \"< 0\", \"count\": 1, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.ret: does not apply to probe \"crashes\" of kind \"signal\" (only to probes of kind \"return\")");
	expect_error(WITH_RULES(RULE("{\"probe\": \"rets\", \"ret\": -2, \"count\": 1, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.ret: expected a string, got -2");
	expect_error(WITH_RULES(RULE("{\"probe\": \"exc\", \"type\": [\"std::bad_alloc\", \"not a type\"], \"count\": 1, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.type[1]: expected a C++ type name such as \"std::runtime_error\", got \"not a type\"");
	expect_error(WITH_RULES(RULE("{\"probe\": \"exits\", \"type\": \"std::bad_alloc\", \"count\": 1, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.type: does not apply to probe \"exits\" of kind \"exit\" (only to probes of kind \"exception\")");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"stack_has\": \"two words\", \"count\": 1, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.stack_has: expected a function name without spaces, such as \"parse\", got \"two words\"");
	expect_error(WITH_RULES(RULE("{\"probe\": \"exits\", \"stack_has\": \"parse\", \"count\": 1, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.stack_has: does not apply to probe \"exits\" of kind \"exit\" (only to probes that capture stacks: kind \"signal\", or \"stack\": true)");
	expect_error(WITH_RULES(RULE("{\"probe\": \"sys\", \"stack_has\": \"parse\", \"count\": 1, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.stack_has: does not apply to probe \"sys\" of kind \"syscall\" (only to probes that capture stacks: kind \"signal\", or \"stack\": true)");
}

static void test_errors_policy(void **state)
{
	(void)state;
	expect_error(WITH_RULES_X(", \"dry_run\": 1", RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: dry_run: expected a boolean, got 1");
}
static void test_scope_errors(void **state)
{
	(void)state;
	expect_error(WITH_SCOPE("{\"binaries\": [3]}"), -EINVAL,
		     "x.json: scope.binaries[0]: expected an absolute path or an object {\"path\": ..., \"build_id\": ...}, got 3");
	expect_error(WITH_SCOPE("{\"binaries\": [\"bin/x\"]}"), -EINVAL,
		     "x.json: scope.binaries[0]: expected an absolute path, got \"bin/x\"");
	expect_error(WITH_SCOPE("{\"binaries\": [{\"build_id\": \"ab\"}]}"), -EINVAL,
		     "x.json: scope.binaries[0]: missing required field \"path\" (the executable's absolute path)");
	expect_error(WITH_SCOPE("{\"binaries\": [{\"path\": \"x\"}]}"), -EINVAL,
		     "x.json: scope.binaries[0].path: expected an absolute path, got \"x\"");
	expect_error(WITH_SCOPE("{\"binaries\": [{\"path\": \"/x\", \"build_id\": \"ABCD\"}]}"), -EINVAL,
		     "x.json: scope.binaries[0].build_id: expected a build id: lowercase hex digits, an even number from 2 to 40, as \"readelf -n\" prints it, got \"ABCD\"");
	expect_error(WITH_SCOPE("{\"binaries\": [{\"path\": \"/x\", \"build_id\": \"abc\"}]}"), -EINVAL,
		     "x.json: scope.binaries[0].build_id: expected a build id: lowercase hex digits, an even number from 2 to 40, as \"readelf -n\" prints it, got \"abc\"");
	expect_error(WITH_SCOPE("{\"binaries\": [{\"path\": \"/x\", \"build_id\": \"0123456789012345678901234567890123456789ab\"}]}"), -EINVAL,
		     "x.json: scope.binaries[0].build_id: expected a build id: lowercase hex digits, an even number from 2 to 40, as \"readelf -n\" prints it, got \"0123456789012345678901234567890123456789ab\"");
	expect_error(WITH_SCOPE("{\"binaries\": [{\"path\": \"/x\", \"build_id\": 12}]}"), -EINVAL,
		     "x.json: scope.binaries[0].build_id: expected a string, got 12");
	expect_error(WITH_SCOPE("{\"binaries\": [{\"path\": \"/x\", \"buildid\": \"ab\"}]}"), -EINVAL,
		     "x.json: scope.binaries[0]: unknown field \"buildid\" (did you mean \"build_id\"?)");
	expect_error(WITH_SCOPE("{\"units\": [\"app\"]}"), -EINVAL,
		     "x.json: scope.units[0]: expected a systemd unit name such as \"app.service\": letters, digits, \":\", \"_\", \".\", \"-\", \"\\\" and at most one \"@\" (not first), then .service, .scope, .slice, .socket, .mount or .swap; at most 255 bytes; got \"app\"");
	expect_error(WITH_SCOPE("{\"units\": [\"app.timer\"]}"), -EINVAL,
		     "x.json: scope.units[0]: expected a systemd unit name such as \"app.service\": letters, digits, \":\", \"_\", \".\", \"-\", \"\\\" and at most one \"@\" (not first), then .service, .scope, .slice, .socket, .mount or .swap; at most 255 bytes; got \"app.timer\"");
	expect_error(WITH_SCOPE("{\"units\": [\"my app.service\"]}"), -EINVAL,
		     "x.json: scope.units[0]: expected a systemd unit name such as \"app.service\": letters, digits, \":\", \"_\", \".\", \"-\", \"\\\" and at most one \"@\" (not first), then .service, .scope, .slice, .socket, .mount or .swap; at most 255 bytes; got \"my app.service\"");
	expect_error(WITH_SCOPE("{\"units\": [\".service\"]}"), -EINVAL,
		     "x.json: scope.units[0]: expected a systemd unit name such as \"app.service\": letters, digits, \":\", \"_\", \".\", \"-\", \"\\\" and at most one \"@\" (not first), then .service, .scope, .slice, .socket, .mount or .swap; at most 255 bytes; got \".service\"");
	expect_error(WITH_SCOPE("{\"units\": [\"@x.service\"]}"), -EINVAL,
		     "x.json: scope.units[0]: expected a systemd unit name such as \"app.service\": letters, digits, \":\", \"_\", \".\", \"-\", \"\\\" and at most one \"@\" (not first), then .service, .scope, .slice, .socket, .mount or .swap; at most 255 bytes; got \"@x.service\"");
	expect_error(WITH_SCOPE("{\"units\": [\"a@b@c.service\"]}"), -EINVAL,
		     "x.json: scope.units[0]: expected a systemd unit name such as \"app.service\": letters, digits, \":\", \"_\", \".\", \"-\", \"\\\" and at most one \"@\" (not first), then .service, .scope, .slice, .socket, .mount or .swap; at most 255 bytes; got \"a@b@c.service\"");
	expect_error(WITH_SCOPE("{\"units\": \"app.service\"}"), -EINVAL,
		     "x.json: scope.units: expected an array, got \"app.service\"");
	expect_error(WITH_SCOPE("{\"uids\": [-1]}"), -EINVAL,
		     "x.json: scope.uids[0]: expected a uid: an integer from 0 to 4294967295, got -1");
	expect_error(WITH_SCOPE("{\"uids\": [4294967296]}"), -EINVAL,
		     "x.json: scope.uids[0]: expected a uid: an integer from 0 to 4294967295, got 4294967296");
	expect_error(WITH_SCOPE("{\"uids\": [\"root\"]}"), -EINVAL,
		     "x.json: scope.uids[0]: expected a uid: an integer from 0 to 4294967295, got \"root\"");
	expect_error(WITH_SCOPE("{\"uids\": [1.5]}"), -EINVAL,
		     "x.json: scope.uids[0]: expected a uid: an integer from 0 to 4294967295, got 1.5");
	expect_error(WITH_SCOPE("{\"exclude\": []}"), -EINVAL,
		     "x.json: scope.exclude: expected an object, got []");
	expect_error(WITH_SCOPE("{\"exclude\": {\"exclude\": {}}}"), -EINVAL,
		     "x.json: scope.exclude.exclude: exclusions do not nest: list every exclusion in the one \"scope.exclude\"");
	expect_error(WITH_SCOPE("{\"exclude\": {\"comm\": [\"sh\"]}}"), -EINVAL,
		     "x.json: scope.exclude: unknown field \"comm\" (did you mean \"comms\"?)");
	expect_error(WITH_SCOPE("{\"exclude\": {\"uids\": [-1]}}"), -EINVAL,
		     "x.json: scope.exclude.uids[0]: expected a uid: an integer from 0 to 4294967295, got -1");
	expect_error(WITH_SCOPE("{\"exclude\": {\"binaries\": [\"x\"]}}"), -EINVAL,
		     "x.json: scope.exclude.binaries[0]: expected an absolute path, got \"x\"");
}

static void test_scope_values(void **state)
{
	struct policy p;
	const struct policy_scope *sc;

	(void)state;
	parse_ok(WITH_SCOPE("{\"binaries\": [\"/usr/bin/a\", {\"path\": \"/opt/b\", \"build_id\": \"0123456789abcdef\"}, "
			    "{\"path\": \"/opt/c\"}], \"units\": [\"app.service\", \"getty@tty1.service\", \"user.slice\", "
			    "\"session-2.scope\"], \"uids\": [0, 4294967295], "
			    "\"exclude\": {\"comms\": [\"sh\"], \"uids\": [65534], \"units\": [\"x.socket\"], "
			    "\"binaries\": [{\"path\": \"/bin/sh\", \"build_id\": \"ab\"}], \"cgroups\": [\"/init.scope\"]}}"),
		 &p);
	sc = &p.scope;
	assert_int_equal(sc->n_binaries, 3);
	assert_string_equal(sc->binaries[1], "/opt/b");
	assert_null(sc->build_ids[0]);
	assert_string_equal(sc->build_ids[1], "0123456789abcdef");
	assert_null(sc->build_ids[2]);
	assert_int_equal(sc->n_units, 4);
	assert_string_equal(sc->units[1], "getty@tty1.service");
	assert_int_equal(sc->n_uids, 2);
	assert_int_equal(sc->uids[1], UINT32_MAX);
	assert_non_null(sc->exclude);
	assert_int_equal(sc->exclude->n_comms, 1);
	assert_int_equal(sc->exclude->uids[0], 65534);
	assert_string_equal(sc->exclude->units[0], "x.socket");
	assert_string_equal(sc->exclude->build_ids[0], "ab");
	assert_string_equal(sc->exclude->cgroups[0], "/init.scope");
	assert_null(sc->exclude->exclude);
	policy_clear(&p);

	/* no exclude: none */
	parse_ok(WITH_SCOPE("{\"uids\": []}"), &p);
	assert_null(p.scope.exclude);
	assert_int_equal(p.scope.n_uids, 0);
	policy_clear(&p);
}

/* ---- value parsers ------------------------------------------------------------------------ */

static uint64_t size_of(const char *s)
{
	uint64_t n = 0;

	assert_int_equal(policy_size_bytes(s, strlen(s), &n), 0);
	return n;
}

static void test_sizes(void **state)
{
	uint64_t n = 7;

	(void)state;
	assert_int_equal(size_of("0"), 0);
	assert_int_equal(size_of("4096"), 4096);
	assert_int_equal(size_of("4096B"), 4096);
	assert_int_equal(size_of("4KiB"), 4096);
	assert_int_equal(size_of("64MiB"), 64ull << 20);
	assert_int_equal(size_of("1GiB"), 1ull << 30);
	assert_int_equal(size_of("2TiB"), 2ull << 40);
	assert_int_equal(size_of("18446744073709551615"), UINT64_MAX);
	assert_int_equal(size_of("16777215TiB"), 16777215ull << 40);
	assert_int_equal(policy_size_bytes("16777216TiB", 11, &n), -ERANGE);
	assert_int_equal(policy_size_bytes("18446744073709551616", 20, &n), -ERANGE);
	assert_int_equal(policy_size_bytes("", 0, &n), -EINVAL);
	assert_int_equal(policy_size_bytes("MiB", 3, &n), -EINVAL);
	assert_int_equal(policy_size_bytes("64MB", 4, &n), -EINVAL);
	assert_int_equal(policy_size_bytes("64 MiB", 6, &n), -EINVAL);
	assert_int_equal(policy_size_bytes("1.5GiB", 6, &n), -EINVAL);
	assert_int_equal(policy_size_bytes("-1", 2, &n), -EINVAL);
	assert_int_equal(policy_size_bytes("64mib", 5, &n), -EINVAL);
	assert_int_equal(n, 7);
}

static void test_duration_values(void **state)
{
	uint64_t ns = 7;

	(void)state;
	assert_int_equal(policy_duration_ns("250ms", 5, &ns), 0);
	assert_int_equal(ns, 250000000);
	assert_int_equal(policy_duration_ns("1h", 2, &ns), 0);
	assert_int_equal(ns, 3600000000000ull);
	assert_int_equal(policy_duration_ns("1.5s", 4, &ns), 0);
	assert_int_equal(ns, 1500000000);
	assert_int_equal(policy_duration_ns("5", 1, &ns), -EINVAL);
	assert_int_equal(policy_duration_ns("1.5us5", 6, &ns), -EINVAL);
	assert_int_equal(policy_duration_ns("0.0001us", 8, &ns), -EDOM);
	assert_int_equal(policy_duration_ns("99999999999h", 12, &ns), -ERANGE);
}

static void test_signal_names(void **state)
{
	(void)state;
	assert_string_equal(policy_signal_name(SIGTERM), "SIGTERM");
	assert_string_equal(policy_signal_name(SIGUSR2), "SIGUSR2");
	assert_null(policy_signal_name(0));
}

/* ---- sets: rules name probes of other files, ids are unique across files ---------------- */

static int setup_dir(void **state)
{
	char *dir = strdup("/tmp/salve-test-policy-rules.XXXXXX");

	if (!dir || !mkdtemp(dir)) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

static int teardown_dir(void **state)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", (char *)*state);
	free(*state);
	return system(cmd) ? -1 : 0;
}

static void expect_load_error(const char *path, const char *msg)
{
	struct policy_set *set = (struct policy_set *)0x1;
	char err[1024] = "";

	assert_int_equal(policy_set_load(path, &set, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, msg);
	assert_ptr_equal(set, (struct policy_set *)0x1);
}

#define A_JSON "{\"salve\": 1, \"name\": \"a\", \"probes\": [{\"id\": \"crashes\", \"kind\": \"signal\"}]}"

static void test_rule_uses_probe_of_other_file(void **state)
{
	const char *dir = *state;
	struct policy_set *set = NULL;
	char err[1024] = "", path[4096];

	write_file(dir, "a.json", A_JSON);
	write_file(dir, "b.json",
		   "{\"salve\": 1, \"name\": \"b\", \"probes\": [{\"id\": \"exits\", \"kind\": \"exit\"}],"
		   " \"rules\": [" RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", LOG) "]}");
	assert_int_equal(policy_set_load(dir, &set, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_ptr_equal(set->policies[1].rules[0].when.probe, &set->policies[0].probes[0]);
	assert_ptr_equal(set->policies[1].rules[0].policy, &set->policies[1]);
	policy_set_free(set);

	/* alone, b.json names a probe it does not have */
	snprintf(path, sizeof(path), "%s/b.json", dir);
	char want[4300];

	snprintf(want, sizeof(want), "%s: rules[0].when.probe: unknown probe \"crashes\" (no probe of the "
		 "policy set has this id)", path);
	expect_load_error(path, want);
}

static void test_id_clash_across_files(void **state)
{
	const char *dir = *state;
	char want[8400];

	write_file(dir, "a.json", A_JSON);
	write_file(dir, "b.json",
		   "{\"salve\": 1, \"name\": \"b\", \"probes\": [{\"id\": \"exits\", \"kind\": \"exit\"}],"
		   " \"rules\": [{\"id\": \"crashes\", \"when\": {\"probe\": \"exits\", \"count\": 1, \"within\": \"1s\"}, " LOG "}]}");
	snprintf(want, sizeof(want), "%s/b.json: rules[0].id: duplicate id \"crashes\" (first declared at "
		 "%s/a.json: probes[0].id)", dir, dir);
	expect_load_error(dir, want);

	write_file(dir, "b.json",
		   "{\"salve\": 1, \"name\": \"b\", \"probes\": [{\"id\": \"exits\", \"kind\": \"exit\"}],"
		   " \"rules\": [" RULE("{\"probe\": \"exits\", \"count\": 1, \"within\": \"1s\"}", LOG) "]}");
	write_file(dir, "c.json",
		   "{\"salve\": 1, \"name\": \"c\", \"probes\": [{\"id\": \"oom\", \"kind\": \"oom\"}],"
		   " \"rules\": [" RULE("{\"probe\": \"oom\", \"count\": 1, \"within\": \"1s\"}", LOG) "]}");
	snprintf(want, sizeof(want), "%s/c.json: rules[0].id: duplicate rule id \"r\" (first declared at "
		 "%s/b.json: rules[0].id)", dir, dir);
	expect_load_error(dir, want);
}

/* The JSON Schema ships in policies/ beside the policies; a directory load passes it by. */
static void test_directory_skips_schema(void **state)
{
	const char *dir = *state;
	struct policy_set *set = NULL;
	char err[1024] = "";

	write_file(dir, "a.json", A_JSON);
	write_file(dir, "salve-policy.schema.json", "{\"$schema\": \"x\"}");
	assert_int_equal(policy_set_load(dir, &set, err, sizeof(err)), 0);
	assert_int_equal(set->n_policies, 1);
	policy_set_free(set);
}

static void test_errors_edges(void **state)
{
	(void)state;
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"rate\": \".5/s\", \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.rate: expected a rate of events greater than 0 such as \"5/s\" or \"30/m\", got \".5/s\"");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"rate\": \"5./s\", \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.rate: expected a rate of events greater than 0 such as \"5/s\" or \"30/m\", got \"5./s\"");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"rate\": \"1.2.3/s\", \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.rate: expected a rate of events greater than 0 such as \"5/s\" or \"30/m\", got \"1.2.3/s\"");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"rate\": \"5/ s\", \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.rate: expected a rate of events greater than 0 such as \"5/s\" or \"30/m\", got \"5/ s\"");
	expect_error(WITH_RULES(RULE("{\"probe\": \"exc\", \"type\": [3], \"count\": 1, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.type[0]: expected a string, got 3");
	expect_error(WITH_RULES(RULE("{\"probe\": \"exc\", \"type\": [], \"count\": 1, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.type: expected at least one C++ type name, got []");
	expect_error(WITH_RULES(RULE("{\"probe\": \"sys\", \"errno\": [4], \"count\": 1, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.errno[0]: expected a string, got 4");
	expect_error(WITH_RULES(RULE("{\"probe\": \"sys\", \"errno\": \"ENOPE\", \"count\": 1, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.errno: unknown errno \"ENOPE\" (did you mean \"ENOMEM\"?)");
	expect_error(WITH_RULES(RULE("{\"probe\": \"rets\", \"ret\": \"\", \"count\": 1, \"within\": \"1s\"}", LOG)), -EINVAL,
		     "x.json: rules[0].when.ret: expected a non-empty string, got \"\"");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", "\"actions\": [{\"do\": \"log\", \"message\": \"\"}]")), -EINVAL,
		     "x.json: rules[0].actions[0].message: expected a non-empty string, got \"\"");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", "\"actions\": [{\"do\": \"exec\", \"command\": [\"/bin/x\", \"a\\u0000b\"]}]")), -EINVAL,
		     "x.json: rules[0].actions[0].command[1]: expected a string without NUL characters, got \"a\\u0000b\"");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", "\"actions\": [{\"do\": 3}]")), -EINVAL,
		     "x.json: rules[0].actions[0].do: expected a string, got 3");
	expect_error(WITH_RULES(RULE("{\"probe\": \"crashes\", \"count\": 1, \"within\": \"1s\"}", "\"actions\": [{\"do\": \"signal\", \"signal\": \"SIGTERM\", \"timeout\": \"1s\"}]")), -EINVAL,
		     "x.json: rules[0].actions[0].timeout: does not apply to an action of do \"signal\" (only to do \"exec\")");
	expect_error("{\"salve\": 1, \"name\": \"t\", \"probes\": [{\"id\": \"a\", \"kind\": \"oom\"}], \"rules\": {}}",
		     -EINVAL, "x.json: rules: expected an array, got {}");
	{
		char json[1024], unit[300], msg[1024];

		memset(unit, 'a', 248);
		strcpy(unit + 248, ".service"); /* 256 bytes */
		snprintf(json, sizeof(json), WITH_SCOPE("{\"units\": [\"%s\"]}"), unit);
		snprintf(msg, sizeof(msg), "x.json: scope.units[0]: expected a systemd unit name such as "
			 "\"app.service\": letters, digits, \":\", \"_\", \".\", \"-\", \"\\\" and at most one \"@\" "
			 "(not first), then .service, .scope, .slice, .socket, .mount or .swap; at most 255 "
			 "bytes; got \"%.63s...", unit); /* quoted, cut at 64 bytes */
		expect_error(json, -EINVAL, msg);
		unit[247] = '\0';
		strcat(unit, ".service"); /* 255 bytes */
		snprintf(json, sizeof(json), WITH_SCOPE("{\"units\": [\"%s\"]}"), unit);
		struct policy p;

		parse_ok(json, &p);
		policy_clear(&p);
	}
}

/* A filter on a value its probe never reports could never match. */
static void test_filter_values_the_probe_reports(void **state)
{
	(void)state;
	expect_error("{\"salve\": 1, \"name\": \"t\", \"probes\": [{\"id\": \"segv\", \"kind\": \"signal\", "
		     "\"signals\": [\"SIGSEGV\"]}], \"rules\": ["
		     RULE("{\"probe\": \"segv\", \"signal\": [\"SIGSEGV\", \"SIGBUS\"], \"count\": 1, \"within\": \"1s\"}", LOG) "]}",
		     -EINVAL, "x.json: rules[0].when.signal: probe \"segv\" does not report SIGBUS (add it to the "
		     "probe's \"signals\")");
	expect_error(WITH_RULES(RULE("{\"probe\": \"sys\", \"errno\": [\"ENOENT\", \"EPERM\"], \"count\": 1, \"within\": \"1s\"}", LOG)),
		     -EINVAL, "x.json: rules[0].when.errno: probe \"sys\" does not report EPERM (add it to the "
		     "probe's \"errnos\")");
	expect_error("{\"salve\": 1, \"name\": \"t\", \"probes\": [{\"id\": \"throws\", \"kind\": \"exception\", "
		     "\"types\": [\"std::runtime_error\"]}], \"rules\": ["
		     RULE("{\"probe\": \"throws\", \"type\": [\"std::runtime_error\", \"app::ParseError\"], \"count\": 1, \"within\": \"1s\"}", LOG) "]}",
		     -EINVAL, "x.json: rules[0].when.type: probe \"throws\" does not report \"app::ParseError\" "
		     "(add it to the probe's \"types\")");
	/* A probe without types reports them all. */
	{
		struct policy p;

		parse_ok("{\"salve\": 1, \"name\": \"t\", \"probes\": [{\"id\": \"throws\", \"kind\": \"exception\"}], "
			 "\"rules\": [" RULE("{\"probe\": \"throws\", \"type\": \"app::ParseError\", \"count\": 1, \"within\": \"1s\"}", LOG) "]}",
			 &p);
		policy_clear(&p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule_defaults),
		cmocka_unit_test(test_issue_rule_example),
		cmocka_unit_test(test_rule_every_field),
		cmocka_unit_test(test_ret_takes_the_probe_type),
		cmocka_unit_test(test_errors_rule),
		cmocka_unit_test(test_errors_actions),
		cmocka_unit_test(test_repair_shapes),
		cmocka_unit_test(test_repair_values),
		cmocka_unit_test(test_errors_repairs),
		cmocka_unit_test(test_breaker_shapes),
		cmocka_unit_test(test_checkpoint_shapes),
		cmocka_unit_test(test_errors_breakers),
		cmocka_unit_test(test_errors_when),
		cmocka_unit_test(test_errors_percentiles),
		cmocka_unit_test(test_errors_all_any),
		cmocka_unit_test(test_errors_filters),
		cmocka_unit_test(test_errors_policy),
		cmocka_unit_test(test_errors_edges),
		cmocka_unit_test(test_filter_values_the_probe_reports),
		cmocka_unit_test(test_scope_errors),
		cmocka_unit_test(test_scope_values),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_duration_values),
		cmocka_unit_test(test_signal_names),
		cmocka_unit_test_setup_teardown(test_rule_uses_probe_of_other_file, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_id_clash_across_files, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_directory_skips_schema, setup_dir, teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
