/* journal: entries on disk before and after actions; what a restart finds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actions/journal.h"

struct fixture {
	char dir[64];
	char path[128], old[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/salve-journal-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/journal.jsonl", f->dir);
	snprintf(f->old, sizeof(f->old), "%s/journal.jsonl.1", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	unlink(f->path);
	unlink(f->old);
	rmdir(f->dir);
	free(f);
	return 0;
}

static const struct journal_subject subject = {
	.incident_id = 42, .rule = "parse-failing", .policy = "web", .pid = 4242,
	.binary = "/srv/app/bin/app",
};

static struct json_object *action_signal(void)
{
	struct json_object *a = json_object_new_object();

	json_object_object_add(a, "do", json_object_new_string("signal"));
	json_object_object_add(a, "signal", json_object_new_string("SIGTERM"));
	return a;
}

static struct json_object *outcome(const char *what)
{
	struct json_object *o = action_signal();

	json_object_object_add(o, "outcome", json_object_new_string(what));
	return o;
}

/* The file's lines, parsed; *n their count. */
static struct json_object **read_lines(const char *path, size_t *n)
{
	struct json_object **lines = NULL;
	char *line = NULL;
	size_t cap = 0;
	FILE *in = fopen(path, "r");

	assert_non_null(in);
	*n = 0;
	while (getline(&line, &cap, in) > 0) {
		lines = realloc(lines, (*n + 1) * sizeof(*lines));
		assert_non_null(lines);
		lines[*n] = json_tokener_parse(line);
		assert_non_null(lines[*n]);
		(*n)++;
	}
	free(line);
	fclose(in);
	return lines;
}

static void free_lines(struct json_object **lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_object_put(lines[i]);
	free(lines);
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_string(v);
}

static int64_t get_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_int64(v);
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	return v;
}

static void append_raw(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void test_begin_end(void **state)
{
	struct fixture *f = *state;
	struct journal_replay r;
	struct json_object *a = action_signal(), *o = outcome("sent"), **lines;
	struct journal *j;
	uint64_t seq = 0;
	size_t n;

	assert_int_equal(journal_open(f->dir, 0, &j, &r), 0);
	assert_int_equal(r.n_pending, 0);
	assert_int_equal(r.last_seq, 0);
	assert_string_equal(journal_path(j), f->path);
	assert_int_equal(journal_begin(j, &subject, 1, a, &seq), 0);
	assert_int_equal(seq, 1);

	/* The begin is on disk before the action runs. */
	lines = read_lines(f->path, &n);
	assert_int_equal(n, 1);
	assert_string_equal(get_str(lines[0], "type"), "begin");
	assert_int_equal(get_int(lines[0], "seq"), 1);
	assert_int_equal(get_int(lines[0], "incident"), 42);
	assert_string_equal(get_str(lines[0], "rule"), "parse-failing");
	assert_string_equal(get_str(lines[0], "policy"), "web");
	assert_int_equal(get_int(lines[0], "pid"), 4242);
	assert_string_equal(get_str(lines[0], "binary"), "/srv/app/bin/app");
	assert_int_equal(get_int(lines[0], "index"), 1);
	assert_string_equal(get_str(get(lines[0], "action"), "signal"), "SIGTERM");
	assert_int_equal(strlen(get_str(lines[0], "time")), strlen("2026-11-22T16:31:13.123456789Z"));
	free_lines(lines, n);

	assert_int_equal(journal_end(j, seq, o), 0);
	lines = read_lines(f->path, &n);
	assert_int_equal(n, 2);
	assert_string_equal(get_str(lines[1], "type"), "end");
	assert_int_equal(get_int(lines[1], "seq"), 1);
	assert_string_equal(get_str(get(lines[1], "outcome"), "outcome"), "sent");
	free_lines(lines, n);
	journal_free(j);
	journal_replay_clear(&r);

	/* A clean restart finds nothing open and numbers on. */
	assert_int_equal(journal_open(f->dir, 0, &j, &r), 0);
	assert_int_equal(r.n_pending, 0);
	assert_int_equal(r.corrupt_lines, 0);
	assert_false(r.torn_tail);
	assert_int_equal(r.last_seq, 1);
	assert_int_equal(journal_begin(j, &subject, 0, a, &seq), 0);
	assert_int_equal(seq, 2);
	journal_free(j);
	journal_replay_clear(&r);
	json_object_put(a);
	json_object_put(o);
}

static void test_replay_unfinished(void **state)
{
	struct fixture *f = *state;
	struct json_object *a = action_signal(), *o = outcome("sent"), **lines;
	struct journal_replay r;
	struct journal *j;
	uint64_t s1, s2;
	size_t n;

	assert_int_equal(journal_open(f->dir, 0, &j, NULL), 0);
	assert_int_equal(journal_begin(j, &subject, 0, a, &s1), 0);
	assert_int_equal(journal_end(j, s1, o), 0);
	assert_int_equal(journal_begin(j, &subject, 1, a, &s2), 0);
	/* salved is killed here, mid-action. */
	journal_free(j);

	assert_int_equal(journal_open(f->dir, 0, &j, &r), 0);
	assert_int_equal(r.n_pending, 1);
	assert_int_equal(r.pending[0].seq, s2);
	assert_int_equal(r.pending[0].incident_id, 42);
	assert_int_equal(get_int(r.pending[0].begin, "index"), 1);
	assert_string_equal(get_str(get(r.pending[0].begin, "action"), "do"), "signal");
	assert_int_equal(r.last_seq, s2);
	journal_replay_clear(&r);
	journal_free(j);

	/* The journal now says so, and the next start finds it closed. */
	lines = read_lines(f->path, &n);
	assert_int_equal(n, 4);
	assert_string_equal(get_str(lines[3], "type"), "end");
	assert_int_equal(get_int(lines[3], "seq"), (int64_t)s2);
	assert_string_equal(get_str(get(lines[3], "outcome"), "outcome"), "interrupted");
	free_lines(lines, n);
	assert_int_equal(journal_open(f->dir, 0, &j, &r), 0);
	assert_int_equal(r.n_pending, 0);
	journal_replay_clear(&r);
	journal_free(j);
	json_object_put(a);
	json_object_put(o);
}

static void test_torn_and_corrupt_lines(void **state)
{
	struct fixture *f = *state;
	struct json_object *a = action_signal(), **lines;
	struct journal_replay r;
	struct journal *j;
	uint64_t seq;
	size_t n;

	assert_int_equal(journal_open(f->dir, 0, &j, NULL), 0);
	assert_int_equal(journal_begin(j, &subject, 0, a, &seq), 0);
	journal_free(j);
	/* A line that is no entry, then a write torn by a crash. */
	append_raw(f->path, "not json at all\n");
	append_raw(f->path, "{\"seq\":2,\"type\":\"begin\",\"incid");

	assert_int_equal(journal_open(f->dir, 0, &j, &r), 0);
	assert_true(r.torn_tail);
	assert_int_equal(r.corrupt_lines, 1);
	assert_int_equal(r.first_corrupt, 2);
	assert_int_equal(r.n_pending, 1); /* seq 1: the torn seq 2 never happened */
	assert_int_equal(r.pending[0].seq, 1);
	journal_replay_clear(&r);
	assert_int_equal(journal_begin(j, &subject, 0, a, &seq), 0);
	assert_int_equal(seq, 2);
	journal_free(j);

	/* The torn bytes are gone: every line after the corrupt one is whole. */
	assert_int_equal(journal_open(f->dir, 0, &j, &r), 0);
	assert_false(r.torn_tail);
	assert_int_equal(r.corrupt_lines, 1);
	assert_int_equal(r.n_pending, 1);
	assert_int_equal(r.pending[0].seq, 2);
	journal_replay_clear(&r);
	journal_free(j);
	/* not json, begin 1, interrupted 1, begin 2, interrupted 2: 5 lines but one is bad */
	{
		FILE *in = fopen(f->path, "r");
		char line[4096];
		int count = 0;

		assert_non_null(in);
		while (fgets(line, sizeof(line), in)) {
			assert_int_equal(line[strlen(line) - 1], '\n');
			count++;
		}
		fclose(in);
		assert_int_equal(count, 5);
	}
	(void)lines;
	(void)n;
	json_object_put(a);
}

static void test_rotation(void **state)
{
	struct fixture *f = *state;
	struct json_object *a = action_signal(), *o = outcome("sent");
	struct journal_replay r;
	struct journal *j;
	struct stat st;
	uint64_t open_seq, seq;
	const uint64_t max = 2048;

	assert_int_equal(journal_open(f->dir, max, &j, NULL), 0);
	/* One action stays running across the rotation. */
	assert_int_equal(journal_begin(j, &subject, 0, a, &open_seq), 0);
	for (int i = 0; i < 40; i++) {
		assert_int_equal(journal_begin(j, &subject, 1, a, &seq), 0);
		assert_int_equal(journal_end(j, seq, o), 0);
		assert_int_equal(stat(f->path, &st), 0);
		assert_true((uint64_t)st.st_size <= max);
	}
	assert_int_equal(stat(f->old, &st), 0);
	assert_true((uint64_t)st.st_size <= max);
	journal_free(j);

	/* The running one is still known from the current file alone. */
	unlink(f->old);
	assert_int_equal(journal_open(f->dir, max, &j, &r), 0);
	assert_int_equal(r.n_pending, 1);
	assert_int_equal(r.pending[0].seq, open_seq);
	assert_int_equal(r.last_seq, seq);
	journal_replay_clear(&r);
	journal_free(j);

	/* Numbering goes on after a rotation that left nothing open. */
	assert_int_equal(journal_open(f->dir, 400, &j, NULL), 0);
	assert_int_equal(journal_begin(j, &subject, 0, a, &seq), 0);
	assert_int_equal(journal_end(j, seq, o), 0);
	assert_int_equal(journal_begin(j, &subject, 0, a, &seq), 0);
	assert_int_equal(journal_end(j, seq, o), 0);
	journal_free(j);
	assert_int_equal(stat(f->old, &st), 0);
	assert_int_equal(journal_open(f->dir, 400, &j, &r), 0);
	assert_int_equal(r.last_seq, seq);
	assert_int_equal(r.n_pending, 0);
	journal_replay_clear(&r);
	journal_free(j);
	json_object_put(a);
	json_object_put(o);
}

static void test_one_writer(void **state)
{
	struct fixture *f = *state;
	struct journal *j, *other = NULL;

	assert_int_equal(journal_open(f->dir, 0, &j, NULL), 0);
	assert_int_equal(journal_open(f->dir, 0, &other, NULL), -EBUSY);
	assert_null(other);
	journal_free(j);
	assert_int_equal(journal_open(f->dir, 0, &other, NULL), 0);
	journal_free(other);
}

static void test_missing_dir(void **state)
{
	struct journal *j = NULL;

	(void)state;
	assert_int_equal(journal_open("/nonexistent/salve", 0, &j, NULL), -ENOENT);
	assert_null(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_begin_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_unfinished, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_and_corrupt_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_writer, setup, teardown),
		cmocka_unit_test(test_missing_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
