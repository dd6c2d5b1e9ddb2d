/* loop: descriptors and timers through a real epoll loop, one iteration at a time. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/loop.h"

#define MS 1000000ull

struct pipe_end {
	struct loop *loop;
	int rd, wr;
	int calls;
	struct pipe_end *victim; /* what this one's handler removes, if set */
	int errno_back;		 /* what its handler returns */
	bool stop;
	int *reused_calls; /* if set: after removing the victim, a new readable pipe */
	int reuse[2];
};

static int on_never(int fd, void *ctx)
{
	(void)fd;
	(*(int *)ctx)++;
	return 0;
}

static void pipe_open(struct loop *l, struct pipe_end *p)
{
	int fds[2];

	assert_int_equal(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
	*p = (struct pipe_end){ .loop = l, .rd = fds[0], .wr = fds[1] };
}

static void pipe_close(struct pipe_end *p)
{
	if (p->rd >= 0)
		close(p->rd);
	close(p->wr);
}

static int on_readable(int fd, void *ctx)
{
	struct pipe_end *p = ctx;

	assert_int_equal(fd, p->rd);
	p->calls++;
	if (p->victim) {
		assert_int_equal(loop_remove(p->loop, p->victim->rd), 0);
		close(p->victim->rd);
		p->victim->rd = -1;
		if (p->reused_calls) {
			assert_int_equal(pipe2(p->reuse, O_CLOEXEC), 0);
			assert_int_equal(loop_add(p->loop, p->reuse[0], on_never, p->reused_calls), 0);
			assert_int_equal(write(p->reuse[1], "x", 1), 1);
		}
	}
	if (p->stop)
		loop_stop(p->loop);
	return -p->errno_back;
}

static void test_handler_runs_when_readable(void **state)
{
	struct loop *l;
	struct pipe_end p;

	(void)state;
	assert_int_equal(loop_new(&l), 0);
	pipe_open(l, &p);
	assert_int_equal(loop_add(l, p.rd, on_readable, &p), 0);
	assert_int_equal(loop_add(l, p.rd, on_readable, &p), -EEXIST);
	/* Nothing to read: the iteration waits its timeout and runs nothing. */
	assert_int_equal(loop_run_once(l, 10), 0);
	assert_int_equal(p.calls, 0);
	assert_int_equal(write(p.wr, "x", 1), 1);
	assert_int_equal(loop_run_once(l, 1000), 1);
	assert_int_equal(p.calls, 1);
	assert_int_equal(loop_remove(l, p.rd), 0);
	assert_int_equal(loop_remove(l, p.rd), -ENOENT);
	assert_int_equal(loop_run_once(l, 10), 0);
	assert_int_equal(p.calls, 1);
	pipe_close(&p);
	loop_free(l);
}

/* Two ready descriptors whose handlers each remove the other: whichever runs first,
 * the other's event, already read in the same batch, is dropped, even though a new
 * descriptor, ready too, took its number in between. */
static void test_remove_during_batch(void **state)
{
	struct loop *l;
	struct pipe_end a, b, *ran;
	int reused_calls = 0, victim_fd;

	(void)state;
	assert_int_equal(loop_new(&l), 0);
	pipe_open(l, &a);
	pipe_open(l, &b);
	a.victim = &b;
	b.victim = &a;
	a.reused_calls = b.reused_calls = &reused_calls;
	assert_int_equal(loop_add(l, a.rd, on_readable, &a), 0);
	assert_int_equal(loop_add(l, b.rd, on_readable, &b), 0);
	assert_int_equal(write(a.wr, "x", 1), 1);
	assert_int_equal(write(b.wr, "x", 1), 1);
	assert_int_equal(loop_run_once(l, 1000), 1);
	assert_int_equal(a.calls + b.calls, 1);
	ran = a.calls ? &a : &b;
	victim_fd = ran == &a ? b.wr - 1 : a.wr - 1; /* pipe2 gave rd, wr in a row */
	assert_int_equal(ran->reuse[0], victim_fd);
	assert_int_equal(reused_calls, 0);
	/* The new pipe's own event comes in the next iteration (with the survivor's
	 * again: its byte is still unread). */
	ran->victim = NULL;
	assert_int_equal(loop_run_once(l, 1000), 2);
	assert_int_equal(reused_calls, 1);
	assert_int_equal(loop_remove(l, ran->reuse[0]), 0);
	close(ran->reuse[0]);
	close(ran->reuse[1]);
	loop_remove(l, ran->rd);
	pipe_close(&a);
	pipe_close(&b);
	loop_free(l);
}

/* A handler that removes and closes its own descriptor. */
static void test_remove_self(void **state)
{
	struct loop *l;
	struct pipe_end p;

	(void)state;
	assert_int_equal(loop_new(&l), 0);
	pipe_open(l, &p);
	p.victim = &p;
	assert_int_equal(loop_add(l, p.rd, on_readable, &p), 0);
	assert_int_equal(write(p.wr, "x", 1), 1);
	assert_int_equal(loop_run_once(l, 1000), 1);
	assert_int_equal(p.rd, -1);
	assert_int_equal(loop_run_once(l, 10), 0);
	assert_int_equal(p.calls, 1);
	pipe_close(&p);
	loop_free(l);
}

/* loop_stop ends loop_run; the rest of the batch waits for the next run. A failing
 * handler ends it with its error. */
static void test_stop_and_error(void **state)
{
	struct loop *l;
	struct pipe_end a, b;

	(void)state;
	assert_int_equal(loop_new(&l), 0);
	pipe_open(l, &a);
	pipe_open(l, &b);
	a.stop = b.stop = true;
	assert_int_equal(loop_add(l, a.rd, on_readable, &a), 0);
	assert_int_equal(loop_add(l, b.rd, on_readable, &b), 0);
	assert_int_equal(write(a.wr, "x", 1), 1);
	assert_int_equal(write(b.wr, "x", 1), 1);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(a.calls + b.calls, 1);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(a.calls + b.calls, 2);
	a.stop = b.stop = false;
	a.errno_back = b.errno_back = EIO;
	assert_int_equal(loop_run(l), -EIO);
	loop_remove(l, a.rd);
	loop_remove(l, b.rd);
	pipe_close(&a);
	pipe_close(&b);
	loop_free(l);
}

/* Far more descriptors than a batch or the old fixed table held. */
static void test_many_descriptors(void **state)
{
	enum { N = 300 };
	struct pipe_end *p = calloc(N, sizeof(*p));
	struct loop *l;
	int total = 0;

	(void)state;
	assert_non_null(p);
	assert_int_equal(loop_new(&l), 0);
	for (int i = 0; i < N; i++) {
		pipe_open(l, &p[i]);
		assert_int_equal(loop_add(l, p[i].rd, on_readable, &p[i]), 0);
		assert_int_equal(write(p[i].wr, "x", 1), 1);
	}
	/* Level-triggered and unread: every iteration runs a batch, and every one of them
	 * gets its turn within a few. */
	for (int round = 0; round < 20; round++)
		assert_true(loop_run_once(l, 1000) > 0);
	for (int i = 0; i < N; i++) {
		assert_true(p[i].calls > 0);
		total += p[i].calls;
		loop_remove(l, p[i].rd);
		pipe_close(&p[i]);
	}
	assert_true(total >= N);
	loop_free(l);
	free(p);
}

/* LOOP_OUT: a handler for a descriptor that can be written to. */
static void test_watch_writable(void **state)
{
	struct loop *l;
	int sv[2], calls = 0;

	(void)state;
	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(loop_add(l, sv[0], on_never, &calls), 0);
	assert_int_equal(loop_run_once(l, 10), 0); /* writable, but not watched for it */
	assert_int_equal(loop_watch(l, sv[0], LOOP_OUT), 0);
	assert_int_equal(loop_run_once(l, 1000), 1);
	assert_int_equal(loop_watch(l, sv[0], 0), 0);
	assert_int_equal(loop_run_once(l, 10), 0);
	assert_int_equal(loop_watch(l, sv[0], LOOP_IN), 0);
	assert_int_equal(write(sv[1], "x", 1), 1);
	assert_int_equal(loop_run_once(l, 1000), 1);
	assert_int_equal(calls, 2);
	assert_int_equal(loop_watch(l, 12345, LOOP_IN), -ENOENT);
	loop_remove(l, sv[0]);
	close(sv[0]);
	close(sv[1]);
	loop_free(l);
}

struct fired {
	struct loop *loop;
	struct loop_timer timer;
	int order[16];
	int n;
	int id;
	int again; /* arm again this many times */
	struct fired *log;
	struct loop_timer *victim;
};

static int on_timer(struct loop_timer *t, void *ctx)
{
	struct fired *f = ctx;

	assert_ptr_equal(t, &f->timer);
	assert_false(loop_timer_armed(t));
	f->log->order[f->log->n++] = f->id;
	if (f->victim)
		loop_timer_disarm(f->loop, f->victim);
	if (f->again-- > 0)
		assert_int_equal(loop_timer_arm(f->loop, t, 1 * MS), 0);
	return 0;
}

/* Timers run in the order they are due, the loop sleeps until the first, a disarmed
 * one never runs, and one armed again by its handler runs again. */
static void test_timers(void **state)
{
	struct loop *l;
	struct fired log = { 0 }, t[4];
	uint64_t start;
	int guard = 0;

	(void)state;
	assert_int_equal(loop_new(&l), 0);
	for (int i = 0; i < 4; i++)
		t[i] = (struct fired){ .loop = l, .timer = { on_timer, &t[i] }, .id = i, .log = &log };
	t[1].again = 2;
	t[0].victim = &t[3].timer; /* t[0] fires first and disarms t[3] */
	start = loop_now_ns(CLOCK_MONOTONIC);
	assert_int_equal(loop_timer_arm(l, &t[2].timer, 40 * MS), 0);
	assert_int_equal(loop_timer_arm(l, &t[0].timer, 10 * MS), 0);
	assert_int_equal(loop_timer_arm(l, &t[1].timer, 20 * MS), 0);
	assert_int_equal(loop_timer_arm(l, &t[3].timer, 30 * MS), 0);
	assert_true(loop_timer_armed(&t[3].timer));
	/* One iteration with no descriptor: it sleeps until t[0] is due, and runs it. */
	assert_int_equal(loop_run_once(l, -1), 1);
	assert_true(loop_now_ns(CLOCK_MONOTONIC) - start >= 10 * MS);
	assert_false(loop_timer_armed(&t[3].timer));
	while (log.n < 5 && guard++ < 100)
		assert_true(loop_run_once(l, 1000) >= 0);
	assert_int_equal(log.n, 5);
	assert_int_equal(log.order[0], 0);
	assert_int_equal(log.order[1], 1);
	assert_int_equal(log.order[2], 1);
	assert_int_equal(log.order[3], 1);
	assert_int_equal(log.order[4], 2);
	assert_true(loop_now_ns(CLOCK_MONOTONIC) - start >= 40 * MS);
	assert_int_equal(loop_run_once(l, 10), 0);
	loop_free(l);
}

/* Many timers armed, moved and disarmed at random: those left run in due order. */
static struct loop_timer *fired_order[1000];
static size_t n_fired;

static int record(struct loop_timer *t, void *ctx)
{
	(void)ctx;
	fired_order[n_fired++] = t;
	return 0;
}

static void test_timer_heap(void **state)
{
	enum { N = 1000 };
	struct loop_timer *t = calloc(N, sizeof(*t));
	struct loop *l;
	size_t armed = 0;

	(void)state;
	assert_non_null(t);
	assert_int_equal(loop_new(&l), 0);
	srand(7);
	for (int i = 0; i < N; i++) {
		t[i] = (struct loop_timer){ .handler = record };
		assert_int_equal(loop_timer_arm(l, &t[i], (uint64_t)(rand() % 5000) * 1000), 0);
	}
	for (int i = 0; i < N; i += 3)
		assert_int_equal(loop_timer_arm(l, &t[i], (uint64_t)(rand() % 5000) * 1000), 0);
	for (int i = 1; i < N; i += 4)
		loop_timer_disarm(l, &t[i]);
	for (int i = 0; i < N; i++)
		armed += loop_timer_armed(&t[i]);
	n_fired = 0;
	usleep(10000);
	assert_int_equal(loop_run_once(l, 0), (int)armed);
	assert_int_equal(n_fired, armed);
	for (size_t i = 1; i < n_fired; i++)
		assert_true(fired_order[i - 1]->due_ns <= fired_order[i]->due_ns);
	loop_free(l);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handler_runs_when_readable),
		cmocka_unit_test(test_remove_during_batch),
		cmocka_unit_test(test_remove_self),
		cmocka_unit_test(test_stop_and_error),
		cmocka_unit_test(test_many_descriptors),
		cmocka_unit_test(test_watch_writable),
		cmocka_unit_test(test_timers),
		cmocka_unit_test(test_timer_heap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
