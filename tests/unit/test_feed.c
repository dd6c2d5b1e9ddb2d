/* feed: lines kept and followed through a real control socket, served by a real loop
 * the test turns while its clients read. No root needed. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/loop.h"
#include "ctl/ctl.h"
#include "ctl/feed.h"

#define MS 1000000ull

struct fixture {
	char dir[64];
	char path[96];
	struct loop *loop;
	struct ctl *ctl;
	struct feed *feed;
};

static void handler(void *ctx, const char *cmd, struct json_object *req, struct json_object *reply)
{
	struct fixture *f = ctx;

	assert_string_equal(cmd, "events");
	feed_events(f->feed, f->ctl, req, reply);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/salve-feed-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(chmod(f->dir, 0711), 0); /* the group can reach the socket */
	snprintf(f->path, sizeof(f->path), "%s/salved.sock", f->dir);
	assert_int_equal(loop_new(&f->loop), 0);
	assert_int_equal(feed_new(&f->feed), 0);
	assert_int_equal(ctl_new(f->loop, &(struct ctl_config){ .path = f->path, .group = getegid(),
				 .handler = handler, .ctx = f }, &f->ctl), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ctl_free(f->ctl);
	feed_free(f->feed);
	loop_free(f->loop);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* A line as salved writes it: the object and its text. */
static void line(struct fixture *f, const char *text)
{
	struct json_object *o = json_tokener_parse(text);
	struct line_facts facts;

	assert_non_null(o);
	report_facts_of(o, &facts);
	feed_line(f->feed, &facts, text, strlen(text));
	json_object_put(o);
}

static int ask(struct fixture *f, const char *req)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
	assert_int_equal(send(fd, "\n", 1, MSG_NOSIGNAL), 1);
	return fd;
}

/* What fd has received within ms while the loop turns (all of it, when it ends). */
static char *received(struct fixture *f, int fd, unsigned ms, bool *ended)
{
	static char buf[1 << 20];
	size_t len = 0;
	uint64_t until = loop_now_ns(CLOCK_MONOTONIC) + ms * MS;

	*ended = false;
	while (loop_now_ns(CLOCK_MONOTONIC) < until) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n > 0) {
			len += (size_t)n;
			continue;
		}
		if (n == 0) {
			*ended = true;
			break;
		}
		assert_true(loop_run_once(f->loop, 5) >= 0);
	}
	buf[len] = 0;
	return buf;
}

static const char *const lines[] = {
	"{\"kind\":\"signal\",\"probe\":\"crashes\",\"pid\":10,\"comm\":\"web\",\"signal\":\"SIGSEGV\"}",
	"{\"kind\":\"exit\",\"probe\":\"exits\",\"pid\":10,\"comm\":\"web\",\"exit_code\":null}",
	"{\"kind\":\"signal\",\"probe\":\"crashes\",\"pid\":11,\"comm\":\"db\",\"signal\":\"SIGBUS\"}",
	"{\"kind\":\"incident\",\"id\":1,\"rule\":\"crash-loop\",\"pid\":10}",
	"{\"kind\":\"stats\",\"events\":{}}",
};

static void feed_all(struct fixture *f)
{
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		line(f, lines[i]);
}

/* Without follow: the reply, the kept lines that match, oldest first, then the end. */
static void test_kept(void **state)
{
	struct fixture *f = *state;
	char want[2048];
	bool ended;

	feed_all(f);
	assert_int_equal(feed_kept(f->feed), 5);
	snprintf(want, sizeof(want), "{\"ok\":true,\"follow\":false,\"lines\":5}\n%s\n%s\n%s\n%s\n%s\n",
		 lines[0], lines[1], lines[2], lines[3], lines[4]);
	assert_string_equal(received(f, ask(f, "{\"cmd\":\"events\"}"), 2000, &ended), want);
	assert_true(ended);
	snprintf(want, sizeof(want), "{\"ok\":true,\"follow\":false,\"lines\":2}\n%s\n%s\n", lines[3],
		 lines[4]);
	assert_string_equal(received(f, ask(f, "{\"cmd\":\"events\",\"last\":2}"), 2000, &ended), want);
	/* Filters: a kind, a list of kinds, pid, comm, probe, rule; all must match. */
	snprintf(want, sizeof(want), "{\"ok\":true,\"follow\":false,\"lines\":2}\n%s\n%s\n", lines[0],
		 lines[2]);
	assert_string_equal(received(f, ask(f, "{\"cmd\":\"events\",\"kind\":\"signal\"}"), 2000,
				     &ended), want);
	snprintf(want, sizeof(want), "{\"ok\":true,\"follow\":false,\"lines\":1}\n%s\n", lines[1]);
	assert_string_equal(received(f, ask(f, "{\"cmd\":\"events\",\"kind\":[\"exit\",\"oom\"],"
					    "\"pid\":10}"), 2000, &ended), want);
	snprintf(want, sizeof(want), "{\"ok\":true,\"follow\":false,\"lines\":1}\n%s\n", lines[2]);
	assert_string_equal(received(f, ask(f, "{\"cmd\":\"events\",\"comm\":\"db\"}"), 2000, &ended),
			    want);
	snprintf(want, sizeof(want), "{\"ok\":true,\"follow\":false,\"lines\":1}\n%s\n", lines[1]);
	assert_string_equal(received(f, ask(f, "{\"cmd\":\"events\",\"probe\":\"exits\"}"), 2000,
				     &ended), want);
	snprintf(want, sizeof(want), "{\"ok\":true,\"follow\":false,\"lines\":1}\n%s\n", lines[3]);
	assert_string_equal(received(f, ask(f, "{\"cmd\":\"events\",\"rule\":\"crash-loop\","
					    "\"pid\":10}"), 2000, &ended), want);
	assert_string_equal(received(f, ask(f, "{\"cmd\":\"events\",\"pid\":12}"), 2000, &ended),
			    "{\"ok\":true,\"follow\":false,\"lines\":0}\n");
	assert_true(ended);
	assert_int_equal(ctl_clients(f->ctl), 0);
}

/* The ring keeps the last FEED_KEEP_LINES, and no more than FEED_KEEP_BYTES. */
static void test_ring(void **state)
{
	struct fixture *f = *state;
	static char big[FEED_KEEP_BYTES / 4 + 2]; /* four are more than the cap */
	char text[64], want[64];
	bool ended;
	char *got;

	for (int i = 0; i < FEED_KEEP_LINES + 5; i++) {
		snprintf(text, sizeof(text), "{\"kind\":\"stats\",\"n\":%d}", i);
		line(f, text);
	}
	assert_int_equal(feed_kept(f->feed), FEED_KEEP_LINES);
	got = received(f, ask(f, "{\"cmd\":\"events\",\"last\":1}"), 2000, &ended);
	snprintf(want, sizeof(want), "{\"kind\":\"stats\",\"n\":%d}\n", FEED_KEEP_LINES + 4);
	assert_non_null(strstr(got, want));
	memset(big, ' ', sizeof(big) - 1);
	memcpy(big, "{\"kind\":\"stats\"}", 16);
	for (int i = 0; i < 5; i++)
		line(f, big);
	assert_int_equal(feed_kept(f->feed), 3);
}

/* Following: the last N first when asked, then each new line that matches, as it is
 * written; the client's going ends the following. */
static void test_follow(void **state)
{
	struct fixture *f = *state;
	char want[2048];
	bool ended;
	int fd, all;

	line(f, lines[0]);
	fd = ask(f, "{\"cmd\":\"events\",\"follow\":true,\"kind\":\"signal\",\"pid\":11}");
	all = ask(f, "{\"cmd\":\"events\",\"follow\":true,\"last\":1}");
	assert_string_equal(received(f, fd, 100, &ended), "{\"ok\":true,\"follow\":true,\"lines\":0}\n");
	snprintf(want, sizeof(want), "{\"ok\":true,\"follow\":true,\"lines\":1}\n%s\n", lines[0]);
	assert_string_equal(received(f, all, 100, &ended), want);
	assert_false(ended);
	assert_int_equal(feed_followers(f->feed), 2);
	feed_all(f);
	snprintf(want, sizeof(want), "%s\n", lines[2]);
	assert_string_equal(received(f, fd, 100, &ended), want);
	snprintf(want, sizeof(want), "%s\n%s\n%s\n%s\n%s\n", lines[0], lines[1], lines[2], lines[3],
		 lines[4]);
	assert_string_equal(received(f, all, 100, &ended), want);
	assert_false(ended);
	close(fd);
	close(all);
	received(f, -1, 50, &ended); /* the loop sees them go */
	assert_int_equal(feed_followers(f->feed), 0);
	assert_int_equal(ctl_streams(f->ctl), 0);
	line(f, lines[0]); /* no one to send it to */
}

/* Requests that make no sense are refused, saying which field and why. */
static void test_bad_requests(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *req, *error;
	} bad[] = {
		{ "{\"cmd\":\"events\",\"kind\":\"sigsegv\"}", "no kind of line \\\"sigsegv\\\" (kinds: signal, exit" },
		{ "{\"cmd\":\"events\",\"kind\":[\"signal\",3]}", "\\\"kind\\\" must be a kind's name or a list of them" },
		{ "{\"cmd\":\"events\",\"pid\":\"ten\"}", "\\\"pid\\\" must be a number" },
		{ "{\"cmd\":\"events\",\"last\":-1}", "\\\"last\\\" must be a number of lines, 0 or more" },
		{ "{\"cmd\":\"events\",\"comm\":7}", "\\\"comm\\\" must be a string" },
	};
	bool ended;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *got = received(f, ask(f, bad[i].req), 2000, &ended);

		if (!strstr(got, "\"ok\":false") || !strstr(got, bad[i].error))
			fail_msg("%s: got %s, expected the error %s", bad[i].req, got, bad[i].error);
		assert_true(ended);
	}
	assert_int_equal(feed_followers(f->feed), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_follow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
