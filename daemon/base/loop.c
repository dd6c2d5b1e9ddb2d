#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "base/loop.h"

#define LOOP_MAX_FDS 64

struct loop_entry {
	int fd; /* -1 when free */
	loop_handler handler;
	void *ctx;
};

struct loop {
	int epfd;
	bool stop;
	struct loop_entry entries[LOOP_MAX_FDS];
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
	for (int i = 0; i < LOOP_MAX_FDS; i++)
		l->entries[i].fd = -1;
	*out = l;
	return 0;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	close(l->epfd);
	free(l);
}

int loop_add(struct loop *l, int fd, loop_handler handler, void *ctx)
{
	struct epoll_event ev = { .events = EPOLLIN };

	for (int i = 0; i < LOOP_MAX_FDS; i++) {
		struct loop_entry *e = &l->entries[i];

		if (e->fd >= 0)
			continue;
		ev.data.ptr = e;
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev))
			return -errno;
		*e = (struct loop_entry){ fd, handler, ctx };
		return 0;
	}
	return -ENOSPC;
}

int loop_remove(struct loop *l, int fd)
{
	for (int i = 0; i < LOOP_MAX_FDS; i++) {
		if (l->entries[i].fd != fd)
			continue;
		l->entries[i].fd = -1;
		return epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) ? -errno : 0;
	}
	return -ENOENT;
}

void loop_stop(struct loop *l)
{
	l->stop = true;
}

int loop_run(struct loop *l)
{
	struct epoll_event evs[16];

	l->stop = false;
	while (!l->stop) {
		int n = epoll_wait(l->epfd, evs, 16, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n && !l->stop; i++) {
			struct loop_entry *e = evs[i].data.ptr;
			int err;

			/* An earlier handler in this batch may have removed it. */
			if (e->fd < 0)
				continue;
			err = e->handler(e->fd, e->ctx);
			if (err < 0)
				return err;
		}
	}
	return 0;
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
