/* notify: what salved sends to NOTIFY_SOCKET, read from a socket the test binds there. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/loop.h"
#include "base/notify.h"

struct manager {
	char dir[48], path[80];
	int fd;
};

static void manager_open(struct manager *m)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	snprintf(m->dir, sizeof(m->dir), "/tmp/salve-notify.XXXXXX");
	assert_non_null(mkdtemp(m->dir));
	snprintf(m->path, sizeof(m->path), "%s/notify", m->dir);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", m->path);
	m->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(m->fd >= 0);
	assert_int_equal(bind(m->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	setenv("NOTIFY_SOCKET", m->path, 1);
}

static void manager_close(struct manager *m)
{
	close(m->fd);
	unlink(m->path);
	rmdir(m->dir);
	unsetenv("NOTIFY_SOCKET");
}

/* The next datagram, within ms; "" when none came. */
static const char *next_msg(struct manager *m, int ms)
{
	static char buf[2048];
	struct pollfd p = { m->fd, POLLIN, 0 };
	ssize_t n;

	buf[0] = 0;
	if (poll(&p, 1, ms) != 1)
		return buf;
	n = recv(m->fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

static uint64_t mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void test_ready_status_reload_stop(void **state)
{
	struct manager m;
	struct loop *l;
	struct notify *n;
	unsigned long long usec;
	uint64_t before, after;
	const char *msg;

	(void)state;
	manager_open(&m);
	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(notify_new(l, &n), 0);
	assert_int_equal(notify_watchdog_usec(n), 0);

	/* Before READY a status waits for it, and goes with it. */
	notify_status(n, "watching %d policies", 2);
	assert_string_equal(next_msg(&m, 0), "");
	notify_ready(n);
	assert_string_equal(next_msg(&m, 1000), "READY=1\nSTATUS=watching 2 policies");

	/* After it: sent when it changed, and only then. */
	notify_status(n, "watching %d policies", 2);
	assert_string_equal(next_msg(&m, 0), "");
	notify_status(n, "watching %d policies", 3);
	assert_string_equal(next_msg(&m, 1000), "STATUS=watching 3 policies");

	before = mono_usec();
	notify_reloading(n);
	after = mono_usec();
	msg = next_msg(&m, 1000);
	assert_int_equal(sscanf(msg, "RELOADING=1\nMONOTONIC_USEC=%llu", &usec), 1);
	assert_true(usec >= before && usec <= after);
	notify_ready(n);
	assert_string_equal(next_msg(&m, 1000), "READY=1\nSTATUS=watching 3 policies");

	notify_stopping(n);
	assert_string_equal(next_msg(&m, 1000), "STOPPING=1");
	notify_failed(n, -ENOENT, "policy p.json: no such file");
	assert_string_equal(next_msg(&m, 1000), "STATUS=failed: policy p.json: no such file\n"
						"ERRNO=2");
	notify_failed(n, -EINVAL, "");
	assert_string_equal(next_msg(&m, 1000), "STATUS=failed: Invalid argument\nERRNO=22");
	notify_free(n);
	/* Failed before it had a notify: still said. */
	notify_failed(NULL, -EPERM, "needs CAP_BPF");
	assert_string_equal(next_msg(&m, 1000), "STATUS=failed: needs CAP_BPF\nERRNO=1");
	loop_free(l);
	manager_close(&m);
}

/* WATCHDOG_USEC=200 ms: a ping every 100 ms from the loop's timer, the variables taken
 * from the environment. */
static void test_watchdog_half_period(void **state)
{
	struct manager m;
	struct loop *l;
	struct notify *n;
	char pid[16];
	uint64_t start, last = 0;
	int pings = 0;

	(void)state;
	manager_open(&m);
	snprintf(pid, sizeof(pid), "%d", getpid());
	setenv("WATCHDOG_USEC", "200000", 1);
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(notify_new(l, &n), 0);
	assert_int_equal(notify_watchdog_usec(n), 200000);
	assert_null(getenv("WATCHDOG_USEC"));
	assert_null(getenv("WATCHDOG_PID"));
	start = mono_usec();
	while (pings < 5 && mono_usec() - start < 5000000) {
		const char *msg;

		assert_true(loop_run_once(l, 50) >= 0);
		if (!*(msg = next_msg(&m, 0)))
			continue;
		assert_string_equal(msg, "WATCHDOG=1");
		/* Within the period of the last, as systemd needs (half of it, but for a busy host). */
		if (last)
			assert_true(mono_usec() - last < 200000);
		last = mono_usec();
		pings++;
	}
	assert_int_equal(pings, 5);
	/* 5 pings at 100 ms: not before 400 ms. */
	assert_true(last - start >= 400000);
	notify_free(n);
	loop_free(l);
	manager_close(&m);
}

/* Another process's watchdog (WATCHDOG_PID not salved's): no pings. */
static void test_watchdog_of_another(void **state)
{
	struct manager m;
	struct loop *l;
	struct notify *n;

	(void)state;
	manager_open(&m);
	setenv("WATCHDOG_USEC", "200000", 1);
	setenv("WATCHDOG_PID", "1", 1);
	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(notify_new(l, &n), 0);
	assert_int_equal(notify_watchdog_usec(n), 0);
	notify_free(n);
	loop_free(l);
	manager_close(&m);
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

/* No NOTIFY_SOCKET: nothing is sent, nothing fails. */
static void test_no_manager(void **state)
{
	struct loop *l;
	struct notify *n;

	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(notify_new(l, &n), 0);
	notify_status(n, "watching");
	notify_ready(n);
	notify_reloading(n);
	notify_stopping(n);
	notify_failed(n, -EIO, "x");
	notify_free(n);
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready_status_reload_stop),
		cmocka_unit_test(test_watchdog_half_period),
		cmocka_unit_test(test_watchdog_of_another),
		cmocka_unit_test(test_no_manager),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
