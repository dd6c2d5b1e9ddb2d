/* pipeline: ring-buffer records, as the kernel writes them, to the JSON lines a user
 * reads. A record is judged by the configuration whose generation it carries: the one
 * in force or the one before a reload; records of neither, and call records whose site
 * that configuration does not have, are counted as stale, never attributed to a policy
 * that did not scope them. No root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/output.h"
#include "events/pipeline.h"
#include "jsonl.h"
#include "kernel/sites.h"

struct fixture {
	/* Before the reload: a, b. After: b, a (reordered), so bit 0 changed hands. */
	struct policy old_pols[2], new_pols[2];
	struct policy_probe old_probes[3], new_probes[2];
	struct policy_set old_set, new_set;
	struct site old_site;
	struct site_plan old_sites, new_sites;
	FILE *out;
	struct output *output;
	struct pipeline *pl;
};

static struct policy_probe crash_probe(const char *id, const struct policy *pol)
{
	return (struct policy_probe){ .id = (char *)id, .kind = POLICY_PROBE_SIGNAL,
				      .signals_mask = 1u << SIGSEGV, .policy = pol };
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->old_pols[0] = (struct policy){ .name = "a", .file = "a.json", .probes = &f->old_probes[0],
					  .n_probes = 2 };
	f->old_pols[1] = (struct policy){ .name = "b", .file = "b.json", .probes = &f->old_probes[2],
					  .n_probes = 1 };
	f->old_probes[0] = crash_probe("a-crashes", &f->old_pols[0]);
	f->old_probes[1] = (struct policy_probe){ .id = "a-fails", .kind = POLICY_PROBE_RETURN,
						  .policy = &f->old_pols[0] };
	f->old_probes[2] = crash_probe("b-crashes", &f->old_pols[1]);
	f->new_pols[0] = (struct policy){ .name = "b", .file = "b.json", .probes = &f->new_probes[0],
					  .n_probes = 1 };
	f->new_pols[1] = (struct policy){ .name = "a", .file = "a.json", .probes = &f->new_probes[1],
					  .n_probes = 1 };
	f->new_probes[0] = crash_probe("b-crashes-2", &f->new_pols[0]);
	f->new_probes[1] = crash_probe("a-crashes-2", &f->new_pols[1]);
	f->old_set = (struct policy_set){ f->old_pols, 2 };
	f->new_set = (struct policy_set){ f->new_pols, 2 };
	f->old_site = (struct site){ .id = 5, .probe = &f->old_probes[1],
				     .cfg.kind = SALVE_SITE_RETURN };
	f->old_sites = (struct site_plan){ &f->old_site, 1 };
	f->new_sites = (struct site_plan){ NULL, 0 };
	if (!(f->out = tmpfile()) || output_new(fileno(f->out), &f->output) || pipeline_new(f->output, &f->pl))
		return -1;
	/* Generations 1 and 2 were decided by the old set (a scope refresh made 2), 3 by
	 * the new one. */
	pipeline_set_configs(f->pl, &(struct pipeline_config){ &f->new_set, &f->new_sites, 3, 3 },
			     &(struct pipeline_config){ &f->old_set, &f->old_sites, 1, 2 });
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pipeline_free(f->pl);
	output_free(f->output);
	fclose(f->out);
	free(f);
	return 0;
}

/* A fatal SIGSEGV of pid, in the scope of the policies in mask, under generation gen. */
static void crash(struct fixture *f, uint32_t pid, uint64_t mask, uint32_t gen)
{
	struct salve_signal_event r = {
		.hdr = { .kind = SALVE_EV_SIGNAL, .size = sizeof(r), .version = SALVE_EVENT_VERSION,
			 .pid = pid, .tid = pid, .boot_ns = 1000, .policies = mask, .gen = gen },
		.signo = SIGSEGV, .code = 1, .sender_pid = pid, .flags = SALVE_SIG_FATAL,
	};

	assert_int_equal(pipeline_record(f->pl, &r, sizeof(r)), 0);
}

/* A failed call at site under generation gen. */
static void failed_call(struct fixture *f, uint32_t pid, uint32_t site, uint32_t gen)
{
	struct salve_call_event r = {
		.hdr = { .kind = SALVE_EV_RETURN, .size = sizeof(r), .version = SALVE_EVENT_VERSION,
			 .pid = pid, .tid = pid, .boot_ns = 2000, .policies = 1, .gen = gen },
		.site = site, .ret = -1,
	};

	assert_int_equal(pipeline_record(f->pl, &r, sizeof(r)), 0);
}

/* The lines written so far, parsed; the caller puts each. */
static size_t lines(struct fixture *f, struct json_object **out, size_t max)
{
	pipeline_flush(f->pl);
	return jsonl_read(f->out, out, max);
}

static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_string(v);
}

static int64_t num(struct json_object *o, const char *path1, const char *path2,
		   const char *key)
{
	struct json_object *v = o;

	assert_true(json_object_object_get_ex(v, path1, &v));
	assert_true(json_object_object_get_ex(v, path2, &v));
	assert_true(json_object_object_get_ex(v, key, &v));
	return json_object_get_int64(v);
}

/* Bit 0 is policy a's in generations 1-2 and b's in 3: each record goes to the policy
 * that scoped it when it was written. */
static void test_records_judged_by_their_generation(void **state)
{
	struct fixture *f = *state;
	struct json_object *l[8];
	size_t n;

	crash(f, 10, 1, 2);     /* before the reload: a */
	crash(f, 11, 1, 3);     /* after: b */
	crash(f, 12, 2, 1);     /* before, bit 1: b */
	crash(f, 13, 1 | 2, 3); /* after, both */
	n = lines(f, l, 8);
	assert_int_equal(n, 5);
	assert_string_equal(str(l[0], "probe"), "a-crashes");
	assert_int_equal(json_object_get_int(json_object_object_get(l[0], "pid")), 10);
	assert_string_equal(str(l[1], "probe"), "b-crashes-2");
	assert_string_equal(str(l[2], "probe"), "b-crashes");
	assert_string_equal(str(l[3], "probe"), "b-crashes-2");
	assert_string_equal(str(l[4], "probe"), "a-crashes-2");
	for (size_t i = 0; i < n; i++)
		json_object_put(l[i]);
}

/* A generation neither configuration knows, and a site the record's configuration
 * does not have: counted as stale, no line. */
static void test_stale_records_counted(void **state)
{
	struct fixture *f = *state;
	struct salve_counters kernel[SALVE_EV_KIND_MAX] = { 0 };
	struct json_object *l[8];
	size_t n;

	crash(f, 20, 1, 9);       /* no such generation */
	failed_call(f, 21, 5, 2); /* the old set's site: reported */
	failed_call(f, 22, 5, 3); /* the new set has no site 5 */
	pipeline_flush(f->pl);
	assert_int_equal(pipeline_stats(f->pl, kernel, NULL), 0);
	n = lines(f, l, 8);
	assert_int_equal(n, 2);
	assert_string_equal(str(l[0], "probe"), "a-fails");
	assert_int_equal(json_object_get_int(json_object_object_get(l[0], "pid")), 21);
	assert_string_equal(str(l[1], "kind"), "stats");
	assert_int_equal(num(l[1], "events", "signal", "received"), 1);
	assert_int_equal(num(l[1], "events", "signal", "stale"), 1);
	assert_int_equal(num(l[1], "events", "signal", "reported"), 0);
	assert_int_equal(num(l[1], "events", "return", "received"), 2);
	assert_int_equal(num(l[1], "events", "return", "stale"), 1);
	assert_int_equal(num(l[1], "events", "return", "reported"), 1);
	for (size_t i = 0; i < n; i++)
		json_object_put(l[i]);
}

/* A record cut short is counted as malformed, and the ring goes on. */
static void test_malformed_skipped(void **state)
{
	struct fixture *f = *state;
	struct salve_counters kernel[SALVE_EV_KIND_MAX] = { 0 };
	struct salve_signal_event r = { .hdr = { .kind = SALVE_EV_SIGNAL, .size = sizeof(r),
						 .version = SALVE_EVENT_VERSION } };
	struct json_object *l[4], *v;

	assert_int_equal(pipeline_record(f->pl, &r, 12), 0);
	crash(f, 30, 1, 3);
	assert_int_equal(pipeline_stats(f->pl, kernel, NULL), 0);
	assert_int_equal(lines(f, l, 4), 2);
	assert_string_equal(str(l[0], "probe"), "b-crashes-2");
	assert_true(json_object_object_get_ex(l[1], "malformed", &v));
	assert_int_equal(json_object_get_int(v), 1);
	json_object_put(l[0]);
	json_object_put(l[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_records_judged_by_their_generation, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stale_records_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_skipped, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
