/* output: lines gathered and written in batches, in order, each counted under its tag
 * as written or lost; a full batch goes at once, a failed write loses its batch, a
 * reader gone (EPIPE) loses every later line without a try. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/output.h"

/* What the reader end of a pipe holds now (non-blocking), NUL-terminated. */
static size_t drain(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t n;

	while (got < cap - 1 && (n = read(fd, buf + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = 0;
	return got;
}

static void pipe_nb(int fds[2])
{
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
	assert_true(fcntl(fds[1], F_SETPIPE_SZ, 1 << 20) >= 0); /* room for a whole batch */
}

/* Nothing reaches the reader before a flush; then every line, in order, a newline each. */
static void test_batched_in_order(void **state)
{
	struct output *o;
	int fds[2];
	char buf[256];

	(void)state;
	pipe_nb(fds);
	assert_int_equal(output_new(fds[1], &o), 0);
	assert_int_equal(output_line(o, 3, "{\"a\":1}", 7), 0);
	assert_int_equal(output_line(o, 0, "{\"b\":2}", 7), 0);
	assert_int_equal(output_line(o, 3, "{\"c\":3}", 7), 0);
	assert_int_equal(drain(fds[0], buf, sizeof(buf)), 0);
	assert_int_equal(output_counts(o, 3).written, 0);
	assert_int_equal(output_flush(o), 0);
	drain(fds[0], buf, sizeof(buf));
	assert_string_equal(buf, "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n");
	assert_int_equal(output_counts(o, 3).written, 2);
	assert_int_equal(output_counts(o, 0).written, 1);
	assert_int_equal(output_counts(o, 3).lost, 0);
	output_free(o);
	close(fds[0]);
	close(fds[1]);
}

/* A batch that reaches OUTPUT_BATCH_BYTES is written without waiting for a flush. */
static void test_full_batch_goes_at_once(void **state)
{
	static char line[1000], buf[OUTPUT_BATCH_BYTES * 2];
	struct output *o;
	size_t n = 0, got;
	int fds[2];

	(void)state;
	memset(line, 'x', sizeof(line));
	pipe_nb(fds);
	assert_int_equal(output_new(fds[1], &o), 0);
	while ((n + 1) * (sizeof(line) + 1) < OUTPUT_BATCH_BYTES)
		assert_int_equal(output_line(o, 1, line, sizeof(line)), 0), n++;
	assert_int_equal(drain(fds[0], buf, sizeof(buf)), 0);
	assert_int_equal(output_line(o, 1, line, sizeof(line)), 0);
	got = drain(fds[0], buf, sizeof(buf));
	assert_int_equal(got, (n + 1) * (sizeof(line) + 1));
	assert_int_equal(output_counts(o, 1).written, n + 1);
	output_free(o);
	close(fds[0]);
	close(fds[1]);
}

/* A write that fails (a full disk: /dev/full) loses its batch, counted per tag, and
 * says why; the output is not gone, so the next batch is tried. */
static void test_failed_write_loses_its_batch(void **state)
{
	struct output *o;
	int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(output_new(fd, &o), 0);
	assert_int_equal(output_line(o, 2, "{}", 2), 0);
	assert_int_equal(output_line(o, 5, "{}", 2), 0);
	assert_int_equal(output_flush(o), -ENOSPC);
	assert_int_equal(output_counts(o, 2).lost, 1);
	assert_int_equal(output_counts(o, 5).lost, 1);
	assert_int_equal(output_counts(o, 2).written, 0);
	assert_false(output_gone(o));
	assert_int_equal(output_line(o, 2, "{}", 2), 0);
	assert_int_equal(output_flush(o), -ENOSPC);
	assert_int_equal(output_counts(o, 2).lost, 2);
	output_free(o);
	close(fd);
}

/* The reader goes away: EPIPE (SIGPIPE ignored, as salved does), the output is gone,
 * and later lines are lost without a write. */
static void test_reader_gone(void **state)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	struct output *o;
	int fds[2];

	(void)state;
	assert_int_equal(sigaction(SIGPIPE, &ign, &old), 0);
	assert_int_equal(pipe(fds), 0);
	close(fds[0]);
	assert_int_equal(output_new(fds[1], &o), 0);
	assert_int_equal(output_line(o, 1, "{}", 2), 0);
	assert_false(output_gone(o));
	assert_int_equal(output_flush(o), -EPIPE);
	assert_true(output_gone(o));
	assert_int_equal(output_line(o, 1, "{}", 2), -EPIPE);
	assert_int_equal(output_flush(o), -EPIPE);
	assert_int_equal(output_counts(o, 1).lost, 2);
	assert_int_equal(output_counts(o, 1).written, 0);
	output_free(o);
	close(fds[1]);
	assert_int_equal(sigaction(SIGPIPE, &old, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batched_in_order),
		cmocka_unit_test(test_full_batch_goes_at_once),
		cmocka_unit_test(test_failed_write_loses_its_batch),
		cmocka_unit_test(test_reader_gone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
