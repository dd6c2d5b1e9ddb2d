/* pipeline: an event whose line cannot be built or kept for the output (out of memory)
 * or written is counted as lost in the stats line, not silently missing; a reader that
 * went away (EPIPE) is said by output_gone, and no line is tried after it. */
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

#include "base/output.h"
#include "events/pipeline.h"

/* realloc, failing the call fail_in calls from now (-1: never), as it does out of
 * memory. Defined here, it takes the place of libc's for the code linked into this test:
 * the line writer's buffer and the output's are grown with it. */
static int fail_in = -1;

void *realloc(void *p, size_t n)
{
	static void *(*real)(void *, size_t);

	if (fail_in >= 0 && fail_in-- == 0)
		return NULL;
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "realloc");
	return real(p, n);
}

struct fx {
	struct policy_probe probe;
	struct site site;
	struct pipeline *pl;
	struct output *out;
	int fds[2];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || pipe(f->fds) || output_new(f->fds[1], &f->out))
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
	output_free(f->out);
	close(f->fds[1]);
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

/* Three stalls, the first's line out of memory as it is built, the second's as the
 * output keeps it: one reported, two lost, and the stats line says so. */
static void test_line_out_of_memory_is_lost(void **state)
{
	struct fx *f = *state;
	struct json_object *lines[4];

	fail_in = 0;
	stall(f);
	fail_in = 1;
	stall(f);
	fail_in = -1;
	stall(f);
	write_stats(f);
	assert_int_equal(read_lines(f, lines, 4), 2);
	assert_string_equal(json_object_get_string(json_object_object_get(lines[0], "kind")), "stall");
	assert_string_equal(json_object_get_string(json_object_object_get(lines[1], "kind")), "stats");
	assert_int_equal(stat_of(lines[1], "stall", "received"), 3);
	assert_int_equal(stat_of(lines[1], "stall", "reported"), 1);
	assert_int_equal(stat_of(lines[1], "stall", "lost"), 2 + 2);
	assert_false(output_gone(f->out));
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
	assert_false(output_gone(f->out));
	stall(f);
	assert_true(output_gone(f->out));
	stall(f);
	assert_true(output_gone(f->out));
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
