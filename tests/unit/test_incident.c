/* incident: the {"kind":"incident"} line, and the suspect frame localize picks, from
 * event lines made as the pipeline makes them (decoded, named once). Stacks run through
 * this very test binary and the C library, so the symbolizer names real functions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actions/incident.h"
#include "symbols/localize.h"
#include "symbols/name.h"
#include "events/report.h"
#include "event_line.h"
#include "../lib/self_maps.h"

/* A function of ours for the stack to run through. */
int incident_test_suspect(int x);
__attribute__((noinline, used)) int incident_test_suspect(int x)
{
	return x * 3 + 1;
}

struct mapped {
	char path[PATH_MAX];
	uint64_t file_off;
};

/* Where addr lies in which file, from /proc/self/maps. */
static void find_mapping(const void *addr, struct mapped *out)
{
	FILE *maps = fopen("/proc/self/maps", "r");
	char line[PATH_MAX + 128];
	uintptr_t a = (uintptr_t)addr;

	assert_non_null(maps);
	while (fgets(line, sizeof(line), maps)) {
		unsigned long start, end, off;
		char path[PATH_MAX] = "";

		if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %4095s", &start, &end, &off, path) < 3)
			continue;
		if (a < start || a >= end)
			continue;
		snprintf(out->path, sizeof(out->path), "%s", path);
		out->file_off = a - start + off;
		fclose(maps);
		return;
	}
	fclose(maps);
	fail_msg("%p is in no mapping", addr);
}

#define OFFSET (1700000000LL * 1000000000LL) /* CLOCK_REALTIME - CLOCK_BOOTTIME */

struct fixture {
	struct symbolizer *sym;
	struct salve_signal_event *rec;
	struct event ev;
	struct event_names names;
	struct json_object *event; /* its line, as the pipeline wrote it */
	const char *line;
	char exe[PATH_MAX];
	struct mapped ours, libc;
	struct policy policy;
	struct policy_probe probe;
	struct policy_rule rule;
	struct incident inc;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct salve_signal_event *r;
	ssize_t n;

	assert_non_null(f);
	assert_int_equal(symbolizer_new(&f->sym), 0);
	n = readlink("/proc/self/exe", f->exe, sizeof(f->exe) - 1);
	assert_true(n > 0);
	find_mapping((const void *)incident_test_suspect, &f->ours);
	assert_string_equal(f->ours.path, f->exe);
	find_mapping((const void *)fclose, &f->libc);

	/* A SIGSEGV whose stack is fclose <- incident_test_suspect <- (no file). */
	f->rec = r = calloc(1, sizeof(*r));
	assert_non_null(r);
	r->hdr = (struct salve_event_hdr){ .kind = SALVE_EV_SIGNAL, .size = sizeof(*r),
					   .version = SALVE_EVENT_VERSION, .pid = 4242, .tid = 4243,
					   .boot_ns = 5000000000ULL };
	memcpy(r->hdr.comm, "app", 4);
	r->signo = 11;
	r->code = 1;
	r->flags = SALVE_SIG_FATAL | SALVE_SIG_HAS_ADDR;
	kernel_path(f->exe, r->exe.path);
	r->stack.nr_frames = 3;
	r->stack.nr_modules = 2;
	r->stack.ip[0] = (uintptr_t)fclose;
	r->stack.file_off[0] = f->libc.file_off;
	r->stack.module[0] = 1;
	r->stack.ip[1] = (uintptr_t)incident_test_suspect + 4;
	r->stack.file_off[1] = f->ours.file_off + 4;
	r->stack.module[1] = 0;
	r->stack.ip[2] = 0x7ffffffde000ULL;
	r->stack.module[2] = SALVE_MODULE_NONE;
	kernel_path(f->exe, r->stack.modules[0].path);
	kernel_path(f->libc.path, r->stack.modules[1].path);

	f->policy = (struct policy){ .name = "web", .file = "web.json" };
	f->probe = (struct policy_probe){ .id = "crashes", .kind = POLICY_PROBE_SIGNAL,
					  .policy = &f->policy };
	f->rule = (struct policy_rule){
		.id = "crashing", .by = POLICY_BY_PROCESS, .policy = &f->policy,
		.when = { .kind = POLICY_COND_COUNT, .probe_id = "crashes", .probe = &f->probe,
			  .count = 1, .within_ns = 1000000000ULL },
	};
	f->inc = (struct incident){ .id = 9, .boot_ns = 5000000000ULL, .rule = &f->rule,
				    .by = POLICY_BY_PROCESS, .pid = 4242, .n_counts = 1,
				    .n_records = 1 };
	assert_true(strlen(f->exe) < sizeof(f->inc.exe));
	memcpy(f->inc.exe, f->exe, strlen(f->exe) + 1);
	f->inc.counts[0] = (struct incident_count){ .probe_id = "crashes", .events = 2 };
	/* The event's line, as the pipeline writes it. */
	assert_int_equal(events_decode(r, sizeof(*r), &f->ev), 0);
	name_event(f->sym, NULL, &f->ev, &f->names); /* no snapshot */
	f->event = event_line(&f->ev, "crashes", f->ev.boot_ns + OFFSET, f->names.frames,
				f->names.n_frames);
	assert_non_null(f->event);
	f->line = json_object_to_json_string_ext(f->event, JSON_C_TO_STRING_PLAIN);
	f->inc.records[0] = (struct incident_record){ strlen(f->line), f->line };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	symbolizer_free(f->sym);
	json_object_put(f->event);
	free(f->rec);
	free(f);
	return 0;
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no \"%s\" in %s", key, json_object_to_json_string(o));
	return v;
}

static const char *get_str(struct json_object *o, const char *key)
{
	return json_object_get_string(get(o, key));
}

static void test_line(void **state)
{
	struct fixture *f = *state;
	const int64_t offset = OFFSET;
	struct json_object *obj, *events, *counts, *last, *ev, *sus, *stack;
	char when[64];

	assert_int_equal(incident_to_json(&f->inc, offset, &obj), 0);
	assert_int_equal(report_time(5000000000ULL + (uint64_t)offset, when, sizeof(when)), 0);
	assert_string_equal(get_str(obj, "time"), when);
	assert_string_equal(get_str(obj, "kind"), "incident");
	assert_int_equal(json_object_get_int64(get(obj, "id")), 9);
	assert_string_equal(get_str(obj, "rule"), "crashing");
	assert_string_equal(get_str(obj, "policy"), "web");
	assert_string_equal(get_str(obj, "by"), "process");
	assert_int_equal(json_object_get_int64(get(obj, "pid")), 4242);
	assert_string_equal(get_str(obj, "exe"), f->exe);
	assert_false(json_object_get_boolean(get(obj, "dry_run")));
	assert_false(json_object_object_get_ex(obj, "budget_exhausted", NULL));
	assert_false(json_object_object_get_ex(obj, "binary", NULL));

	events = get(obj, "events");
	counts = get(events, "counts");
	assert_int_equal(json_object_array_length(counts), 1);
	assert_string_equal(get_str(json_object_array_get_idx(counts, 0), "probe"), "crashes");
	assert_int_equal(json_object_get_int64(get(json_object_array_get_idx(counts, 0), "events")), 2);
	assert_false(json_object_object_get_ex(json_object_array_get_idx(counts, 0), "value_ns", NULL));
	last = get(events, "last");
	assert_int_equal(json_object_array_length(last), 1);
	ev = json_object_array_get_idx(last, 0);
	assert_string_equal(get_str(ev, "kind"), "signal");
	assert_string_equal(get_str(ev, "probe"), "crashes");
	assert_string_equal(get_str(ev, "signal"), "SIGSEGV");
	assert_string_equal(get_str(ev, "time"), when);
	/* The frame in no file ends the stack: no junk frame after the last module. */
	stack = get(ev, "stack");
	assert_int_equal(json_object_array_length(stack), 2);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(stack, 1), "module", NULL));
	assert_string_equal(get_str(json_object_array_get_idx(stack, 1), "symbol"),
			    "incident_test_suspect");
	assert_int_equal(json_object_get_int64(get(json_object_array_get_idx(stack, 1), "offset")), 4);

	/* The innermost frame in the process's own executable, not the libc one. */
	sus = get(obj, "suspect");
	assert_string_equal(get_str(sus, "module"), f->exe);
	assert_string_equal(get_str(sus, "symbol"), "incident_test_suspect");
	assert_int_equal(json_object_get_int64(get(sus, "offset")), 4);
	assert_true(json_object_get_boolean(get(sus, "in_scope")));

	assert_true(json_object_is_type(get(obj, "actions"), json_type_array));
	assert_int_equal(json_object_array_length(get(obj, "actions")), 0);
	json_object_put(obj);
}

static void test_groups(void **state)
{
	struct fixture *f = *state;
	struct json_object *obj;

	f->inc.by = POLICY_BY_BINARY;
	f->inc.dry_run = true;
	f->inc.budget_exhausted = true;
	f->inc.counts[0].value_ns = 51000000;
	assert_int_equal(incident_to_json(&f->inc, 0, &obj), 0);
	assert_string_equal(get_str(obj, "by"), "binary");
	assert_string_equal(get_str(obj, "binary"), f->exe);
	assert_true(json_object_get_boolean(get(obj, "dry_run")));
	assert_true(json_object_get_boolean(get(obj, "budget_exhausted")));
	assert_int_equal(json_object_get_int64(get(json_object_array_get_idx(
				 get(get(obj, "events"), "counts"), 0), "value_ns")), 51000000);
	json_object_put(obj);

	f->inc.by = POLICY_BY_HOST;
	assert_int_equal(incident_to_json(&f->inc, 0, &obj), 0);
	assert_string_equal(get_str(obj, "by"), "host");
	assert_true(json_object_get_boolean(get(obj, "host")));
	assert_false(json_object_object_get_ex(obj, "binary", NULL));
	json_object_put(obj);
}

static void test_scoped_binaries(void **state)
{
	struct fixture *f = *state;
	char *binaries[] = { f->libc.path };
	struct json_object *obj, *sus, *bare;
	struct localize_suspect s;

	/* A policy that names the library: the suspect is the library's frame. */
	f->policy.scope.binaries = binaries;
	f->policy.scope.n_binaries = 1;
	assert_int_equal(localize_suspect(&f->policy, &f->event, 1, &s), 0);
	assert_true(s.in_scope);
	assert_string_equal(s.module, f->libc.path);
	assert_true(s.symbol[0]);

	/* A policy that names another binary: the innermost frame with a name, out of scope. */
	binaries[0] = "/usr/sbin/elsewhere";
	assert_int_equal(incident_to_json(&f->inc, 0, &obj), 0);
	sus = get(obj, "suspect");
	assert_string_equal(get_str(sus, "module"), f->libc.path);
	assert_false(json_object_get_boolean(get(sus, "in_scope")));
	json_object_put(obj);

	/* No frame has a file: no suspect. */
	bare = json_tokener_parse("{\"exe\":\"/srv/app\",\"stack\":[{\"ip\":\"0x1\"}]}");
	assert_non_null(bare);
	assert_int_equal(localize_suspect(&f->policy, &bare, 1, &s), -ENOENT);
	json_object_put(bare);
	f->policy.scope.binaries = NULL;
	f->policy.scope.n_binaries = 0;
}

/* Function events: the probed function ("site") is their innermost frame. */
static void test_function_events(void **state)
{
	struct fixture *f = *state;
	char *binaries[] = { "/srv/app" };
	struct json_object *ev[2];
	struct localize_suspect s;

	(void)f;
	/* A return in the service, its stack taken at the return (main, the caller): the
	 * probed function, not main. */
	ev[0] = json_tokener_parse("{\"kind\":\"return\",\"exe\":\"/srv/app\","
				   "\"site\":{\"module\":\"/srv/app\",\"symbol\":\"parse(char const*)\","
				   "\"offset\":4660},\"stack\":[{\"ip\":\"0x1\",\"module\":\"/srv/app\","
				   "\"symbol\":\"main\",\"offset\":20}]}");
	/* An exception thrown from the service, probed in the C++ runtime: the service's
	 * frame that threw. */
	ev[1] = json_tokener_parse("{\"kind\":\"exception\",\"exe\":\"/srv/app\","
				   "\"site\":{\"module\":\"/lib/libstdc++.so.6\",\"symbol\":\"__cxa_throw\","
				   "\"offset\":9000},\"stack\":[{\"ip\":\"0x2\",\"module\":\"/lib/libstdc++.so.6\","
				   "\"symbol\":\"__cxa_throw\",\"offset\":0},{\"ip\":\"0x3\","
				   "\"module\":\"/srv/app\",\"symbol\":\"load\",\"offset\":8}]}");
	assert_non_null(ev[0]);
	assert_non_null(ev[1]);
	assert_int_equal(localize_suspect(NULL, ev, 1, &s), 0);
	assert_true(s.in_scope);
	assert_string_equal(s.module, "/srv/app");
	assert_string_equal(s.symbol, "parse(char const*)");
	assert_int_equal(s.offset, 0);
	assert_int_equal(localize_suspect(NULL, ev, 2, &s), 0);
	assert_string_equal(s.symbol, "load");
	assert_int_equal(s.offset, 8);

	/* Without a stack, a probed function out of scope is still the suspect. */
	f->policy.scope.binaries = binaries;
	f->policy.scope.n_binaries = 1;
	json_object_object_del(ev[1], "stack");
	assert_int_equal(localize_suspect(&f->policy, &ev[1], 1, &s), 0);
	assert_false(s.in_scope);
	assert_string_equal(s.module, "/lib/libstdc++.so.6");
	assert_string_equal(s.symbol, "__cxa_throw");
	f->policy.scope.binaries = NULL;
	f->policy.scope.n_binaries = 0;
	json_object_put(ev[0]);
	json_object_put(ev[1]);
}

static void test_bad_record_left_out(void **state)
{
	struct fixture *f = *state;
	struct json_object *obj;

	/* A line cut short is not in "last"; no suspect. */
	f->inc.records[0].len = 10;
	assert_int_equal(incident_to_json(&f->inc, 0, &obj), 0);
	assert_int_equal(json_object_array_length(get(get(obj, "events"), "last")), 0);
	assert_true(json_object_is_type(get(obj, "suspect"), json_type_null));
	json_object_put(obj);
}

static void test_probe_naming(void **state)
{
	struct fixture *f = *state;
	struct policy_probe other = { .id = "more-crashes", .kind = POLICY_PROBE_SIGNAL };
	struct policy_probe exits = { .id = "exits", .kind = POLICY_PROBE_EXIT };
	struct policy_cond leaves[2] = {
		{ .kind = POLICY_COND_COUNT, .probe_id = "exits", .probe = &exits },
		{ .kind = POLICY_COND_COUNT, .probe_id = "crashes", .probe = &f->probe },
	};
	struct json_object *obj, *ev;

	f->rule.when = (struct policy_cond){ .kind = POLICY_COND_ANY, .children = leaves,
					     .n_children = 2 };
	f->inc.n_counts = 0;
	assert_string_equal(incident_first_probe(&f->inc), "exits");
	assert_int_equal(incident_events(&f->inc), 0);
	/* An event in "last" is its own line: it names the probe that reported it, even
	 * where two of the rule's leaves watch its kind. */
	leaves[0].probe = &other;
	assert_int_equal(incident_to_json(&f->inc, 0, &obj), 0);
	ev = json_object_array_get_idx(get(get(obj, "events"), "last"), 0);
	assert_string_equal(get_str(ev, "probe"), "crashes");
	assert_string_equal(json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN), f->line);
	json_object_put(obj);

	f->inc.n_counts = 2;
	f->inc.counts[1] = (struct incident_count){ .probe_id = "exits", .events = 5 };
	assert_string_equal(incident_first_probe(&f->inc), "crashes");
	assert_int_equal(incident_events(&f->inc), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_groups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scoped_binaries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_function_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_record_left_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probe_naming, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
