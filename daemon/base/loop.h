/* loop: an epoll loop over file descriptors, each with a handler and its context; its
 * timers, and the clocks its handlers read.
 *
 * As many descriptors as epoll takes: the table grows. A handler may add and remove
 * descriptors, its own included; an event already read for a descriptor removed in the
 * same batch is dropped, even when a new descriptor got the same number. Timers are
 * kept in a heap ordered by when they are due (CLOCK_MONOTONIC), and the loop sleeps
 * no longer than until the first. */
#ifndef SALVE_LOOP_H
#define SALVE_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct loop;

/* Called when fd is ready for what it is watched for (errors and hang-ups always count).
 * Return 0 to go on, < 0 to stop the loop with that error. */
typedef int (*loop_handler)(int fd, void *ctx);

/* What a descriptor is watched for (loop_watch); loop_add watches LOOP_IN. */
enum {
	LOOP_IN = 1 << 0,
	LOOP_OUT = 1 << 1,
};

int loop_new(struct loop **out);
void loop_free(struct loop *l);

int loop_add(struct loop *l, int fd, loop_handler handler, void *ctx);
int loop_remove(struct loop *l, int fd);
/* Watch fd for events (LOOP_IN, LOOP_OUT, both, or 0: errors and hang-ups only). */
int loop_watch(struct loop *l, int fd, unsigned events);

/* Run until loop_stop or a handler fails. Returns 0 or the handler's error. */
int loop_run(struct loop *l);
/* One iteration: wait at most timeout_ms (-1: until something happens) for descriptors
 * or the first timer, then run what is ready and the timers that are due. Returns how
 * many handlers ran, or the error of one that failed (or -errno). */
int loop_run_once(struct loop *l, int timeout_ms);
/* The handlers still to run in this iteration do not run, and loop_run returns. */
void loop_stop(struct loop *l);

/* A timer, embedded by its owner: set handler and ctx (the rest zero), then arm it. Its
 * handler runs once when due, with the timer already disarmed; it may arm it again. */
struct loop_timer;
typedef int (*loop_timer_handler)(struct loop_timer *t, void *ctx);
struct loop_timer {
	loop_timer_handler handler;
	void *ctx;
	/* The loop's: */
	uint64_t due_ns; /* CLOCK_MONOTONIC */
	uint64_t seq;	 /* equal due times run in the order they were armed */
	size_t slot;	 /* in the heap, + 1; 0: not armed */
};

/* Due delay_ns from now; an armed timer is moved. 0 or -ENOMEM. */
int loop_timer_arm(struct loop *l, struct loop_timer *t, uint64_t delay_ns);
/* Not due any more (nothing if it is not armed). */
void loop_timer_disarm(struct loop *l, struct loop_timer *t);
bool loop_timer_armed(const struct loop_timer *t);

/* A timerfd that fires every interval_ms; the handler must read it. Returns the fd. */
int loop_timer_fd(uint64_t interval_ms);

/* A timerfd that fires first_ns from now, then every interval_ns (0: once). Returns the
 * fd or -errno. */
int loop_timer_fd_ns(uint64_t first_ns, uint64_t interval_ns);

/* clk's time now, in ns. */
uint64_t loop_now_ns(clockid_t clk);

/* CLOCK_REALTIME - CLOCK_BOOTTIME now: what makes a boot time a wall-clock time. */
int64_t loop_realtime_offset_ns(void);

#endif
