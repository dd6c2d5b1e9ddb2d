/* pipeline: an event whose line cannot be built (json-c out of memory) or written is
 * counted as lost in the stats line, not silently missing; a reader that went away
 * (EPIPE) is said by pipeline_output_gone, and no line is tried after it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "events/pipeline.h"

/* json_object_new_string, failing the call fail_in calls from now (-1: never), as
 * json-c does out of memory. Defined here, it takes the place of json-c's own for the
 * report code linked into this test. */
static int fail_in = -1;

struct json_object *json_object_new_string(const char *s)
{
	static struct json_object *(*real)(const char *);

	if (fail_in >= 0 && fail_in-- == 0)
		return NULL;
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "json_object_new_string");
	return real(s);
}

struct fx {
	struct policy_probe probe;
	struct site site;
	struct pipeline *pl;
	FILE *out;
	int fds[2];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || pipe(f->fds) || !(f->out = fdopen(f->fds[1], "w")))
		return -1;
	f->probe = (struct policy_probe){ .id = "tick", .kind = POLICY_PROBE_STALL };
	f->site = (struct site){ .id = 3, .probe = &f->probe };
	if (pipeline_new(f->out, &f->pl))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pipeline_free(f->pl);
	fclose(f->out);
	if (f->fds[0] >= 0)
		close(f->fds[0]);
	free(f);
	return 0;
}

/* The lines written so far, one JSON object each, into lines (n at most). */
static size_t read_lines(struct fx *f, struct json_object **lines, size_t n)
{
	static char buf[1 << 16];
	ssize_t len = read(f->fds[0], buf, sizeof(buf) - 1);
	size_t got = 0;
	char *save = NULL;

	assert_true(len > 0);
	buf[len] = 0;
	for (char *l = strtok_r(buf, "\n", &save); l && got < n; l = strtok_r(NULL, "\n", &save))
		assert_non_null(lines[got++] = json_tokener_parse(l));
	return got;
}

static uint64_t stat_of(struct json_object *stats, const char *kind, const char *what)
{
	struct json_object *events, *k, *v;

	assert_true(json_object_object_get_ex(stats, "events", &events));
	assert_true(json_object_object_get_ex(events, kind, &k));
	assert_true(json_object_object_get_ex(k, what, &v));
	return json_object_get_uint64(v);
}

static void stall(struct fx *f)
{
	pipeline_stall(f->pl, &f->site, (uint32_t)getpid(), 5000000000ull, 2000000000ull);
}

static void write_stats(struct fx *f)
{
	struct salve_counters kernel[SALVE_EV_KIND_MAX] = { 0 };

	kernel[SALVE_EV_STALL].lost = 2; /* the kernel's own: added to, not replaced */
	assert_int_equal(pipeline_stats(f->pl, kernel, NULL), 0);
}

/* Three stalls, the second's line out of memory at its first string, the third's at
 * its second: one reported, two lost, and the stats line says so. */
static void test_line_out_of_memory_is_lost(void **state)
{
	struct fx *f = *state;
	struct json_object *lines[4];

	stall(f);
	fail_in = 0;
	stall(f);
	fail_in = 1;
	stall(f);
	fail_in = -1;
	write_stats(f);
	assert_int_equal(read_lines(f, lines, 4), 2);
	assert_string_equal(json_object_get_string(json_object_object_get(lines[0], "kind")), "stall");
	assert_string_equal(json_object_get_string(json_object_object_get(lines[1], "kind")), "stats");
	assert_int_equal(stat_of(lines[1], "stall", "received"), 3);
	assert_int_equal(stat_of(lines[1], "stall", "reported"), 1);
	assert_int_equal(stat_of(lines[1], "stall", "lost"), 2 + 2);
	assert_false(pipeline_output_gone(f->pl));
	for (size_t i = 0; i < 2; i++)
		json_object_put(lines[i]);
}

/* The reader closes its end: the next line gets EPIPE (SIGPIPE ignored, as salved
 * does), the pipeline says its output is gone, and the event is lost, not reported. */
static void test_reader_gone(void **state)
{
	struct fx *f = *state;
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;

	assert_int_equal(sigaction(SIGPIPE, &ign, &old), 0);
	close(f->fds[0]);
	f->fds[0] = -1;
	assert_false(pipeline_output_gone(f->pl));
	stall(f);
	assert_true(pipeline_output_gone(f->pl));
	stall(f);
	assert_true(pipeline_output_gone(f->pl));
	assert_int_equal(pipeline_stats(f->pl, (struct salve_counters[SALVE_EV_KIND_MAX]){ 0 }, NULL),
			 0);
	assert_int_equal(sigaction(SIGPIPE, &old, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_line_out_of_memory_is_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_gone, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
