#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "base/loop.h"

#define LOOP_BATCH 64

struct loop_entry {
	int fd; /* -1 once removed */
	unsigned events;
	loop_handler handler;
	void *ctx;
	struct loop_entry *next_dead;
};

struct loop {
	int epfd;
	bool stop;
	bool dispatching;
	struct loop_entry **entries; /* the descriptors watched, in no order */
	size_t n_entries, cap_entries;
	/* Removed while a batch that may still name them is dispatched: freed after it. */
	struct loop_entry *dead;
	struct loop_timer **heap; /* a binary min-heap on (due_ns, seq) */
	size_t n_timers, cap_timers;
	uint64_t timer_seq;
};

int loop_new(struct loop **out)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return -errno;
	}
	*out = l;
	return 0;
}

static void free_dead(struct loop *l)
{
	while (l->dead) {
		struct loop_entry *e = l->dead;

		l->dead = e->next_dead;
		free(e);
	}
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n_entries; i++)
		free(l->entries[i]);
	free(l->entries);
	free_dead(l);
	for (size_t i = 0; i < l->n_timers; i++)
		l->heap[i]->slot = 0;
	free(l->heap);
	close(l->epfd);
	free(l);
}

static uint32_t epoll_events(unsigned events)
{
	return (events & LOOP_IN ? EPOLLIN : 0) | (events & LOOP_OUT ? EPOLLOUT : 0);
}

static ssize_t find_entry(const struct loop *l, int fd)
{
	for (size_t i = 0; i < l->n_entries; i++)
		if (l->entries[i]->fd == fd)
			return (ssize_t)i;
	return -1;
}

int loop_add(struct loop *l, int fd, loop_handler handler, void *ctx)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct loop_entry *e;

	if (fd < 0)
		return -EBADF;
	if (find_entry(l, fd) >= 0)
		return -EEXIST;
	if (l->n_entries == l->cap_entries) {
		size_t cap = l->cap_entries ? l->cap_entries * 2 : 16;
		struct loop_entry **grown = realloc(l->entries, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		l->entries = grown;
		l->cap_entries = cap;
	}
	if (!(e = malloc(sizeof(*e))))
		return -ENOMEM;
	*e = (struct loop_entry){ .fd = fd, .events = LOOP_IN, .handler = handler, .ctx = ctx };
	ev.data.ptr = e;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		int err = -errno;

		free(e);
		return err;
	}
	l->entries[l->n_entries++] = e;
	return 0;
}

int loop_remove(struct loop *l, int fd)
{
	ssize_t i = find_entry(l, fd);
	struct loop_entry *e;

	if (i < 0)
		return -ENOENT;
	e = l->entries[i];
	l->entries[i] = l->entries[--l->n_entries];
	e->fd = -1;
	if (l->dispatching) {
		e->next_dead = l->dead;
		l->dead = e;
	} else {
		free(e);
	}
	return epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) ? -errno : 0;
}

int loop_watch(struct loop *l, int fd, unsigned events)
{
	ssize_t i = find_entry(l, fd);
	struct epoll_event ev = { .events = epoll_events(events) };

	if (i < 0)
		return -ENOENT;
	if (l->entries[i]->events == events)
		return 0;
	ev.data.ptr = l->entries[i];
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev))
		return -errno;
	l->entries[i]->events = events;
	return 0;
}

void loop_stop(struct loop *l)
{
	l->stop = true;
}

/* ---- timers: a binary min-heap of the armed ones ---- */

static bool timer_before(const struct loop_timer *a, const struct loop_timer *b)
{
	return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

static void heap_set(struct loop *l, size_t i, struct loop_timer *t)
{
	l->heap[i] = t;
	t->slot = i + 1;
}

/* The timer at i moved: up or down to where the order holds again. */
static void heap_fix(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];

	while (i > 0 && timer_before(t, l->heap[(i - 1) / 2])) {
		heap_set(l, i, l->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= l->n_timers)
			break;
		if (c + 1 < l->n_timers && timer_before(l->heap[c + 1], l->heap[c]))
			c++;
		if (!timer_before(l->heap[c], t))
			break;
		heap_set(l, i, l->heap[c]);
		i = c;
	}
	heap_set(l, i, t);
}

bool loop_timer_armed(const struct loop_timer *t)
{
	return t->slot != 0;
}

void loop_timer_disarm(struct loop *l, struct loop_timer *t)
{
	size_t i;

	if (!t->slot)
		return;
	i = t->slot - 1;
	t->slot = 0;
	if (i == --l->n_timers)
		return;
	l->heap[i] = l->heap[l->n_timers];
	heap_fix(l, i);
}

int loop_timer_arm(struct loop *l, struct loop_timer *t, uint64_t delay_ns)
{
	if (!t->slot) {
		if (l->n_timers == l->cap_timers) {
			size_t cap = l->cap_timers ? l->cap_timers * 2 : 16;
			struct loop_timer **grown = realloc(l->heap, cap * sizeof(*grown));

			if (!grown)
				return -ENOMEM;
			l->heap = grown;
			l->cap_timers = cap;
		}
		l->heap[l->n_timers] = t;
		t->slot = ++l->n_timers;
	}
	t->due_ns = loop_now_ns(CLOCK_MONOTONIC) + delay_ns;
	t->seq = l->timer_seq++;
	heap_fix(l, t->slot - 1);
	return 0;
}

/* How long epoll may sleep: timeout_ms, or less if a timer is due sooner. */
static int wait_ms(const struct loop *l, int timeout_ms)
{
	uint64_t now, left;

	if (!l->n_timers)
		return timeout_ms;
	now = loop_now_ns(CLOCK_MONOTONIC);
	left = l->heap[0]->due_ns > now ? (l->heap[0]->due_ns - now + 999999) / 1000000 : 0;
	if (left > INT_MAX)
		left = INT_MAX;
	return timeout_ms >= 0 && (uint64_t)timeout_ms < left ? timeout_ms : (int)left;
}

/* The timers due by now; one armed again by its handler waits for the next iteration. */
static int run_timers(struct loop *l, int *ran)
{
	uint64_t now = loop_now_ns(CLOCK_MONOTONIC), seq_end = l->timer_seq;

	while (!l->stop && l->n_timers && l->heap[0]->due_ns <= now && l->heap[0]->seq < seq_end) {
		struct loop_timer *t = l->heap[0];
		int err;

		loop_timer_disarm(l, t);
		(*ran)++;
		if ((err = t->handler(t, t->ctx)) < 0)
			return err;
	}
	return 0;
}

int loop_run_once(struct loop *l, int timeout_ms)
{
	struct epoll_event evs[LOOP_BATCH];
	int n, ran = 0, err = 0;

	l->stop = false;
	n = epoll_wait(l->epfd, evs, LOOP_BATCH, wait_ms(l, timeout_ms));
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	l->dispatching = true;
	for (int i = 0; i < n && !l->stop; i++) {
		struct loop_entry *e = evs[i].data.ptr;

		/* An earlier handler in this batch may have removed it. */
		if (e->fd < 0)
			continue;
		ran++;
		if ((err = e->handler(e->fd, e->ctx)) < 0)
			break;
	}
	l->dispatching = false;
	free_dead(l);
	if (!err)
		err = run_timers(l, &ran);
	return err < 0 ? err : ran;
}

int loop_run(struct loop *l)
{
	for (;;) {
		int rc = loop_run_once(l, -1);

		if (rc < 0)
			return rc;
		if (l->stop)
			return 0;
	}
}

static struct timespec ns_to_ts(uint64_t ns)
{
	return (struct timespec){ (time_t)(ns / 1000000000ULL), (long)(ns % 1000000000ULL) };
}

int loop_timer_fd_ns(uint64_t first_ns, uint64_t interval_ns)
{
	struct itimerspec its = { .it_interval = ns_to_ts(interval_ns), .it_value = ns_to_ts(first_ns) };
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (timerfd_settime(fd, 0, &its, NULL)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int loop_timer_fd(uint64_t interval_ms)
{
	return loop_timer_fd_ns(interval_ms * 1000000, interval_ms * 1000000);
}

uint64_t loop_now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int64_t loop_realtime_offset_ns(void)
{
	return (int64_t)(loop_now_ns(CLOCK_REALTIME) - loop_now_ns(CLOCK_BOOTTIME));
}
