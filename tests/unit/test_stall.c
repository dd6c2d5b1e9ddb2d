/* stall: what salved reports from the kernel's last call per (stall site, process). The
 * kernel's map is a table here, walked as probes_last_calls walks the map (an entry the
 * callback forgets is deleted); the reports are the JSON lines a user reads. No root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/output.h"
#include "events/pipeline.h"
#include "jsonl.h"
#include "events/stall.h"
#include "kernel/sites.h"

#define MS 1000000ull
#define T0 (5000 * MS) /* boot time of the last call */

/* ---- the kernel's salve_last_call map, as a table ----------------------------------------- */

struct last_call {
	__u32 site, tgid;
	__u64 last_ns;
};

static struct last_call table[8];
static size_t n_table;

static int table_walk(struct probes *p, probes_last_call_fn fn, void *ctx)
{
	(void)p;
	for (size_t i = 0; i < n_table;) {
		if (fn(ctx, table[i].site, table[i].tgid, table[i].last_ns))
			table[i] = table[--n_table];
		else
			i++;
	}
	return 0;
}

static void called(__u32 site, __u32 tgid, __u64 last_ns)
{
	for (size_t i = 0; i < n_table; i++) {
		if (table[i].site == site && table[i].tgid == tgid) {
			table[i].last_ns = last_ns;
			return;
		}
	}
	table[n_table++] = (struct last_call){ site, tgid, last_ns };
}

/* ---- a stall site, a latency site, and the pipeline writing to a file --------------------- */

struct fixture {
	struct policy_probe tick, slow;
	struct site sites[2];
	struct site_plan plan;
	FILE *out;
	struct output *output;
	struct pipeline *pl;
	struct stall *st;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->tick = (struct policy_probe){ .id = (char *)"tick", .kind = POLICY_PROBE_STALL,
					 .every_ns = 100 * MS };
	f->slow = (struct policy_probe){ .id = (char *)"slow", .kind = POLICY_PROBE_LATENCY,
					 .threshold_ns = 100 * MS };
	f->sites[0] = (struct site){ .id = 1, .probe = &f->tick, .cfg.kind = SALVE_SITE_STALL };
	f->sites[1] = (struct site){ .id = 2, .probe = &f->slow, .cfg.kind = SALVE_SITE_LATENCY };
	f->plan = (struct site_plan){ f->sites, 2 };
	n_table = 0;
	if (!(f->out = tmpfile()) || output_new(fileno(f->out), &f->output) || pipeline_new(f->output, &f->pl) ||
	    stall_new_from(table_walk, &f->st))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	stall_free(f->st);
	pipeline_free(f->pl);
	output_free(f->output);
	fclose(f->out);
	free(f);
	return 0;
}

static void check(struct fixture *f, uint64_t now_ns)
{
	stall_check(f->st, NULL, &f->plan, f->pl, now_ns);
}

/* The lines written so far, parsed; the caller puts each. */
static size_t lines(struct fixture *f, struct json_object **out, size_t max)
{
	pipeline_flush(f->pl);
	return jsonl_read(f->out, out, max);
}

static void put(struct json_object **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_object_put(l[i]);
}

static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_string(v);
}

static int64_t num(struct json_object *o, const char *key)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_int64(v);
}

/* Not called for longer than its period: one stall line, saying how long so far; later
 * ticks of the same stall say nothing more. */
static void test_a_stall_is_reported_once(void **state)
{
	struct fixture *f = *state;
	struct json_object *l[4];
	char comm[32] = "";
	FILE *fp;

	called(1, getpid(), T0);
	check(f, T0 + 50 * MS);
	check(f, T0 + 100 * MS); /* the period itself is not a stall yet */
	assert_int_equal(lines(f, l, 4), 0);

	check(f, T0 + 300 * MS);
	check(f, T0 + 900 * MS);
	assert_int_equal(lines(f, l, 4), 1);
	assert_string_equal(str(l[0], "kind"), "stall");
	assert_string_equal(str(l[0], "probe"), "tick");
	assert_int_equal(num(l[0], "pid"), getpid());
	assert_int_equal(num(l[0], "duration_ns"), 300 * MS);
	assert_non_null(fp = fopen("/proc/self/comm", "r"));
	assert_non_null(fgets(comm, sizeof(comm), fp));
	fclose(fp);
	comm[strcspn(comm, "\n")] = 0;
	assert_string_equal(str(l[0], "comm"), comm);
	put(l, 1);
	assert_int_equal(n_table, 1); /* a live process is remembered */
}

/* Calls resume, then stop again: a second stall, timed from the new last call. */
static void test_a_new_stall_after_calls_resume(void **state)
{
	struct fixture *f = *state;
	struct json_object *l[4];

	called(1, getpid(), T0);
	check(f, T0 + 200 * MS);
	called(1, getpid(), T0 + 250 * MS);
	check(f, T0 + 300 * MS);
	assert_int_equal(lines(f, l, 4), 1);
	put(l, 1);

	check(f, T0 + 500 * MS);
	assert_int_equal(lines(f, l, 4), 2);
	assert_int_equal(num(l[1], "duration_ns"), 250 * MS);
	put(l, 2);
}

/* Each process stalls on its own. */
static void test_processes_stall_apart(void **state)
{
	struct fixture *f = *state;
	struct json_object *l[4];

	called(1, getpid(), T0);
	called(1, getppid(), T0 + 200 * MS);
	check(f, T0 + 250 * MS);
	assert_int_equal(lines(f, l, 4), 1);
	assert_int_equal(num(l[0], "pid"), getpid());
	put(l, 1);
	check(f, T0 + 400 * MS);
	assert_int_equal(lines(f, l, 4), 2);
	assert_int_equal(num(l[1], "pid"), getppid());
	assert_int_equal(num(l[1], "duration_ns"), 200 * MS);
	put(l, 2);
}

/* A process that is gone does not stall: its entry is forgotten, and nothing said. */
static void test_a_gone_process_is_forgotten(void **state)
{
	struct fixture *f = *state;
	struct json_object *l[4];
	pid_t child = fork();

	assert_true(child >= 0);
	if (!child)
		_exit(0);
	assert_int_equal(waitpid(child, NULL, 0), child);
	called(1, child, T0);
	check(f, T0 + 10000 * MS);
	assert_int_equal(lines(f, l, 4), 0);
	assert_int_equal(n_table, 0);
}

/* Entries of a latency site, or of a site gone with a reload, are no stalls. */
static void test_only_stall_sites_stall(void **state)
{
	struct fixture *f = *state;
	struct json_object *l[4];

	called(2, getpid(), T0);
	called(7, getpid(), T0);
	check(f, T0 + 10000 * MS);
	assert_int_equal(lines(f, l, 4), 0);
	assert_int_equal(n_table, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_a_stall_is_reported_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_new_stall_after_calls_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_processes_stall_apart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_gone_process_is_forgotten, setup, teardown),
		cmocka_unit_test_setup_teardown(test_only_stall_sites_stall, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
