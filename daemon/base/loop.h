/* loop: an epoll loop over file descriptors, each with a handler and its context; its
 * timers, and the clocks its handlers read. */
#ifndef SALVE_LOOP_H
#define SALVE_LOOP_H

#include <stdint.h>
#include <time.h>

struct loop;

/* Called when fd is readable (errors and hang-ups count as readable). Return 0 to go
 * on, < 0 to stop the loop with that error. */
typedef int (*loop_handler)(int fd, void *ctx);

int loop_new(struct loop **out);
void loop_free(struct loop *l);

int loop_add(struct loop *l, int fd, loop_handler handler, void *ctx);
int loop_remove(struct loop *l, int fd);

/* Run until loop_stop or a handler fails. Returns 0 or the handler's error. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

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
