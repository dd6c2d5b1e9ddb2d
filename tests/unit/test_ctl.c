/* ctl: a real control socket in a temporary directory, served by a real loop that the
 * test turns one iteration at a time while its clients write, stall and read. No root
 * needed; as root, peers of another uid are made with fork and setresuid. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/loop.h"
#include "ctl/ctl.h"

#define DEADLINE_MS 300
#define MS 1000000ull

struct fixture {
	char dir[64];
	char path[96];
	struct loop *loop;
	struct ctl *ctl;
	int calls;
	int late_fd; /* "slow" writes late_line here, from inside the handler */
	const char *late_line;
	struct ctl_client *stream; /* the last "follow" stream, NULL once gone */
	int gone;		   /* streams closed */
};

static void on_gone(void *ctx)
{
	struct fixture *f = ctx;

	f->gone++;
	f->stream = NULL;
}

static void put(int fd, const char *s);

/* echo: {"ok": true, "arg": req.arg}; big: a reply past CTL_LINE_MAX (a request's
 * limit, not a reply's); huge: a reply past CTL_REPLY_MAX; slow: as echo, after keeping
 * salved busy past the deadline and then writing late_line; follow: a stream, a line
 * {"n":0} queued before the reply; ending: a stream of three lines that salved ends. */
#define BIG_REPLY (CTL_LINE_MAX * 2)

static void handler(void *ctx, const char *cmd, struct json_object *req, struct json_object *reply)
{
	struct fixture *f = ctx;
	struct json_object *arg;

	f->calls++;
	if (!strcmp(cmd, "echo")) {
		json_object_object_add(reply, "ok", json_object_new_boolean(1));
		if (json_object_object_get_ex(req, "arg", &arg))
			json_object_object_add(reply, "arg", json_object_get(arg));
	} else if (!strcmp(cmd, "slow")) {
		usleep((DEADLINE_MS + 50) * 1000);
		put(f->late_fd, f->late_line);
		json_object_object_add(reply, "ok", json_object_new_boolean(1));
	} else if (!strcmp(cmd, "follow") || !strcmp(cmd, "ending")) {
		struct ctl_client *s;
		int rc = ctl_keep(f->ctl, on_gone, f, &s);

		json_object_object_add(reply, "ok", json_object_new_boolean(!rc));
		if (rc) {
			json_object_object_add(reply, "error", json_object_new_string(strerror(-rc)));
			return;
		}
		assert_int_equal(ctl_stream_write(s, "{\"n\":0}", 7), 0);
		if (!strcmp(cmd, "follow")) {
			f->stream = s;
			return;
		}
		assert_int_equal(ctl_stream_write(s, "{\"n\":1}", 7), 0);
		assert_int_equal(ctl_stream_write(s, "{\"n\":2}", 7), 0);
		ctl_stream_end(s);
	} else if (!strcmp(cmd, "flood")) { /* an ending stream, more than a socket holds */
		static char text[1024];
		struct ctl_client *s;

		assert_int_equal(ctl_keep(f->ctl, on_gone, f, &s), 0);
		memset(text, 'x', sizeof(text));
		while (!ctl_stream_write(s, text, sizeof(text)))
			;
		ctl_stream_end(s);
		json_object_object_add(reply, "ok", json_object_new_boolean(1));
	} else if (!strcmp(cmd, "huge") || !strcmp(cmd, "big")) {
		size_t len = !strcmp(cmd, "big") ? BIG_REPLY : CTL_REPLY_MAX + 9;
		char *s = malloc(len + 1);

		assert_non_null(s);
		memset(s, 'x', len);
		s[len] = 0;
		json_object_object_add(reply, "ok", json_object_new_boolean(1));
		json_object_object_add(reply, "data", json_object_new_string(s));
		free(s);
	} else {
		json_object_object_add(reply, "ok", json_object_new_boolean(0));
		json_object_object_add(reply, "error", json_object_new_string("unknown command"));
	}
}

static void serve(struct fixture *f, const char *path, gid_t group, unsigned max_clients,
		  struct ctl **out)
{
	assert_int_equal(ctl_new(f->loop, &(struct ctl_config){ .path = path, .group = group,
				 .max_clients = max_clients, .deadline_ms = DEADLINE_MS,
				 .handler = handler, .ctx = f }, out), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/salve-ctl-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(chmod(f->dir, 0711), 0); /* the group can reach the socket */
	snprintf(f->path, sizeof(f->path), "%s/salved.sock", f->dir);
	assert_int_equal(loop_new(&f->loop), 0);
	/* Our own group is answered, so the test runs as any user. */
	serve(f, f->path, getegid(), 0, &f->ctl);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	ctl_free(f->ctl);
	loop_free(f->loop);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static int client(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void put(int fd, const char *s)
{
	assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* What fd has to read now, added to buf; 1 at end of file. */
static int take(int fd, char *buf, size_t size, size_t *len)
{
	for (;;) {
		ssize_t n = read(fd, buf + *len, size - 1 - *len);

		if (n < 0 && (errno == EAGAIN || errno == ECONNRESET))
			return errno == ECONNRESET;
		assert_true(n >= 0);
		if (!n)
			return 1;
		*len += (size_t)n;
		buf[*len] = 0;
	}
}

/* Turn the loop until fd's reply line has come and salved has closed the connection;
 * the line, parsed (NULL if the connection closed without one). */
static struct json_object *reply_of(struct fixture *f, int fd)
{
	static char buf[BIG_REPLY + 1024];
	size_t len = 0;
	uint64_t until = loop_now_ns(CLOCK_MONOTONIC) + 5000 * MS;
	struct json_object *o;

	while (!take(fd, buf, sizeof(buf), &len)) {
		assert_true(loop_now_ns(CLOCK_MONOTONIC) < until);
		assert_true(loop_run_once(f->loop, 20) >= 0);
	}
	close(fd);
	if (!len)
		return NULL;
	assert_int_equal(buf[len - 1], '\n');
	assert_non_null(o = json_tokener_parse(buf));
	return o;
}

static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no \"%s\" in %s", key, json_object_to_json_string(o));
	return json_object_get_string(v);
}

static void expect_refusal(struct json_object *o, const char *why, const char *text)
{
	assert_string_equal(str(o, "ok"), "false");
	assert_string_equal(str(o, "refused"), why);
	if (!strstr(str(o, "error"), text))
		fail_msg("error \"%s\" does not say \"%s\"", str(o, "error"), text);
	json_object_put(o);
}

/* Run the loop for ms. */
static void spin(struct fixture *f, unsigned ms)
{
	uint64_t until = loop_now_ns(CLOCK_MONOTONIC) + ms * MS;

	while (loop_now_ns(CLOCK_MONOTONIC) < until)
		assert_true(loop_run_once(f->loop, 5) >= 0);
}

static void test_request_answered(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	struct json_object *o;
	int fd = client(f->path);

	/* The socket is the group's, and no one else's. */
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	assert_int_equal(st.st_gid, getegid());
	put(fd, "{\"cmd\": \"echo\", \"arg\": \"hello\"}\n");
	o = reply_of(f, fd);
	assert_string_equal(str(o, "ok"), "true");
	assert_string_equal(str(o, "arg"), "hello");
	json_object_put(o);
	assert_int_equal(f->calls, 1);
	assert_int_equal(ctl_clients(f->ctl), 0);
}

/* A line in pieces is answered when its newline comes, not before. */
static void test_partial_line(void **state)
{
	struct fixture *f = *state;
	struct json_object *o;
	int fd = client(f->path);

	put(fd, "{\"cmd\": \"ec");
	spin(f, 30);
	assert_int_equal(ctl_clients(f->ctl), 1);
	assert_int_equal(f->calls, 0);
	put(fd, "ho\", \"arg\":");
	spin(f, 30);
	assert_int_equal(f->calls, 0);
	put(fd, " 7}\n");
	o = reply_of(f, fd);
	assert_string_equal(str(o, "arg"), "7");
	json_object_put(o);
	assert_int_equal(f->calls, 1);
}

/* Not JSON, not a command, or cut short: refused with the reason, no handler run. A
 * connection that sends nothing goes without a word. */
static void test_bad_requests(void **state)
{
	struct fixture *f = *state;
	int fd = client(f->path);

	put(fd, "reload\n");
	expect_refusal(reply_of(f, fd), "syntax", "expected a JSON object with \"cmd\"");
	fd = client(f->path);
	put(fd, "{\"cmd\": 1}\n");
	expect_refusal(reply_of(f, fd), "syntax", "\"cmd\"");
	fd = client(f->path);
	put(fd, "{\"cmd\": \"echo\"}");
	shutdown(fd, SHUT_WR);
	expect_refusal(reply_of(f, fd), "incomplete", "without its newline");
	fd = client(f->path);
	shutdown(fd, SHUT_WR);
	assert_null(reply_of(f, fd));
	assert_int_equal(f->calls, 0);
	assert_int_equal(ctl_clients(f->ctl), 0);
}

/* A line of CTL_LINE_MAX bytes with its newline is answered; one byte more is refused
 * as soon as the limit is passed, and the client closed. A reply may be longer (a
 * metrics page), up to CTL_REPLY_MAX; one over that is replaced by a refusal. */
static void test_line_limit(void **state)
{
	struct fixture *f = *state;
	const char *head = "{\"cmd\": \"echo\", \"arg\": \"", *tail = "\"}\n";
	size_t pad = CTL_LINE_MAX - strlen(head) - strlen(tail), off = 0, len;
	char *line = malloc(CTL_LINE_MAX + 2);
	struct json_object *o;
	int fd;

	assert_non_null(line);
	for (int extra = 0; extra < 2; extra++) {
		len = (size_t)sprintf(line, "%s%*s%s", head, (int)(pad + extra), "", tail);
		assert_int_equal(len, CTL_LINE_MAX + extra);
		fd = client(f->path);
		off = 0;
		while (off < len) { /* the socket's buffer takes it in parts */
			ssize_t n = send(fd, line + off, len - off, MSG_NOSIGNAL);

			if (n < 0 && errno != EAGAIN)
				break; /* refused and closed: the rest is not wanted */
			off += n > 0 ? (size_t)n : 0;
			assert_true(loop_run_once(f->loop, 20) >= 0);
		}
		o = reply_of(f, fd);
		if (!extra) {
			assert_string_equal(str(o, "ok"), "true");
			assert_int_equal(strlen(str(o, "arg")), pad);
			json_object_put(o);
		} else {
			expect_refusal(o, "size", "the request is longer than 65536 bytes");
		}
	}
	assert_int_equal(f->calls, 1);
	fd = client(f->path);
	put(fd, "{\"cmd\": \"huge\"}\n");
	expect_refusal(reply_of(f, fd), "size", "the reply would be longer than 33554432 bytes");
	fd = client(f->path);
	put(fd, "{\"cmd\": \"big\"}\n");
	o = reply_of(f, fd);
	assert_string_equal(str(o, "ok"), "true");
	assert_int_equal(strlen(str(o, "data")), BIG_REPLY);
	json_object_put(o);
	free(line);
}

/* A client that trickles its line a byte at a time never finishes it: it is refused
 * at its deadline, counted from its connection, while another client that comes
 * later is answered at once. */
static void test_deadline(void **state)
{
	struct fixture *f = *state;
	uint64_t start = loop_now_ns(CLOCK_MONOTONIC), elapsed;
	int slow = client(f->path), fast;
	char buf[512];
	size_t len = 0;
	struct json_object *o;

	put(slow, "{\"cmd\": \"echo\"");
	spin(f, 50);
	fast = client(f->path);
	put(fast, "{\"cmd\": \"echo\", \"arg\": \"fast\"}\n");
	o = reply_of(f, fast);
	assert_string_equal(str(o, "arg"), "fast");
	json_object_put(o);
	assert_true(loop_now_ns(CLOCK_MONOTONIC) - start < DEADLINE_MS * MS);
	assert_int_equal(ctl_clients(f->ctl), 1);
	/* A byte every 20 ms does not buy the slow one more time. */
	while (!take(slow, buf, sizeof(buf), &len)) {
		assert_true(loop_now_ns(CLOCK_MONOTONIC) - start < 5 * DEADLINE_MS * MS);
		if (send(slow, " ", 1, MSG_NOSIGNAL) != 1)
			assert_int_equal(errno, EPIPE);
		spin(f, 20);
	}
	elapsed = loop_now_ns(CLOCK_MONOTONIC) - start;
	assert_true(elapsed >= DEADLINE_MS * MS);
	assert_true(elapsed < 2 * DEADLINE_MS * MS);
	close(slow);
	assert_non_null(o = json_tokener_parse(buf));
	expect_refusal(o, "deadline", "did not arrive whole within 300 ms");
	assert_int_equal(f->calls, 1);
	assert_int_equal(ctl_clients(f->ctl), 0);
}

/* A client whose line came whole while salved was busy with another past its deadline
 * is answered, not dropped: salved's time is not the client's. */
static void test_busy_salved_is_not_the_clients_fault(void **state)
{
	struct fixture *f = *state;
	struct json_object *o;
	int waiting = client(f->path), slow;

	spin(f, 10);
	assert_int_equal(ctl_clients(f->ctl), 1);
	f->late_fd = waiting;
	f->late_line = "{\"cmd\": \"echo\", \"arg\": \"late\"}\n";
	slow = client(f->path);
	put(slow, "{\"cmd\": \"slow\"}\n");
	o = reply_of(f, slow);
	assert_string_equal(str(o, "ok"), "true");
	json_object_put(o);
	o = reply_of(f, waiting);
	assert_string_equal(str(o, "arg"), "late");
	json_object_put(o);
	assert_int_equal(f->calls, 2);
}

/* Many clients at once, each in two pieces: all answered, none waits for another. */
static void test_many_clients(void **state)
{
	enum { N = 150 };
	struct fixture *f = *state;
	int fds[N];
	char msg[64];

	for (int i = 0; i < N; i++) {
		fds[i] = client(f->path);
		put(fds[i], "{\"cmd\": \"echo\", ");
		assert_true(loop_run_once(f->loop, 0) >= 0); /* accepted: the backlog stays short */
	}
	spin(f, 10);
	assert_int_equal(ctl_clients(f->ctl), N);
	for (int i = N - 1; i >= 0; i--) {
		snprintf(msg, sizeof(msg), "\"arg\": %d}\n", i);
		put(fds[i], msg);
	}
	for (int i = 0; i < N; i++) {
		struct json_object *o = reply_of(f, fds[i]);

		snprintf(msg, sizeof(msg), "%d", i);
		assert_string_equal(str(o, "arg"), msg);
		json_object_put(o);
	}
	assert_int_equal(f->calls, N);
	assert_int_equal(ctl_clients(f->ctl), 0);
}

/* Past max_clients, one more is told salved is busy, and the others are served. */
static void test_busy(void **state)
{
	struct fixture *f = *state;
	char path[160];
	struct ctl *small;
	int fds[3], extra;

	snprintf(path, sizeof(path), "%s/small.sock", f->dir);
	serve(f, path, getegid(), 2, &small);
	fds[0] = client(path);
	fds[1] = client(path);
	spin(f, 10);
	assert_int_equal(ctl_clients(small), 2);
	extra = client(path);
	expect_refusal(reply_of(f, extra), "busy", "serving 2 control clients already");
	for (int i = 0; i < 2; i++) {
		struct json_object *o;

		put(fds[i], "{\"cmd\": \"echo\", \"arg\": \"x\"}\n");
		o = reply_of(f, fds[i]);
		assert_string_equal(str(o, "ok"), "true");
		json_object_put(o);
	}
	fds[2] = client(path);
	put(fds[2], "{\"cmd\": \"echo\"}\n");
	json_object_put(reply_of(f, fds[2]));
	assert_int_equal(f->calls, 3);
	ctl_free(small);
}

/* ctl_request in a child, optionally as another user with a set of groups: its return,
 * its message and its reply, through a pipe, while the loop serves it. */
struct outcome {
	int rc;
	char err[512];
	char reply[512];
};

static void request_in_child(struct fixture *f, const char *path, uid_t uid, gid_t gid,
			     const gid_t *groups, size_t n_groups, struct outcome *out)
{
	int p[2], status;
	pid_t pid;
	size_t len = 0;

	assert_int_equal(pipe(p), 0);
	assert_true((pid = fork()) >= 0);
	if (!pid) {
		struct json_object *req = json_tokener_parse("{\"cmd\": \"echo\", \"arg\": \"child\"}"),
				   *reply = NULL;
		struct outcome o = { 0 };

		close(p[0]);
		if (uid != (uid_t)-1 && (setgroups(n_groups, groups) || setresgid(gid, gid, gid) ||
					 setresuid(uid, uid, uid)))
			_exit(3);
		o.rc = ctl_request(path, req, &reply, o.err, sizeof(o.err));
		if (reply)
			snprintf(o.reply, sizeof(o.reply), "%s", json_object_to_json_string(reply));
		_exit(write(p[1], &o, sizeof(o)) == sizeof(o) ? 0 : 4);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	while (len < sizeof(*out)) {
		ssize_t n = read(p[0], (char *)out + len, sizeof(*out) - len);

		if (n == 0)
			break;
		if (n > 0)
			len += (size_t)n;
		else
			assert_true(loop_run_once(f->loop, 20) >= 0);
	}
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(len, sizeof(*out));
}

static void test_client_request(void **state)
{
	struct fixture *f = *state;
	struct outcome o;
	char path[160];

	request_in_child(f, f->path, (uid_t)-1, 0, NULL, 0, &o);
	assert_int_equal(o.rc, 0);
	assert_string_equal(o.reply, "{ \"ok\": true, \"arg\": \"child\" }");
	snprintf(path, sizeof(path), "%s/none.sock", f->dir);
	request_in_child(f, path, (uid_t)-1, 0, NULL, 0, &o);
	assert_int_equal(o.rc, -ENOENT);
	assert_non_null(strstr(o.err, "is salved running?"));
}


/* Lines as they come on a stream's socket, read without blocking while the loop turns. */
struct reader {
	int fd;
	char buf[1 << 16];
	size_t len;
	bool eof;
};

/* The next line (its newline cut) into line; false when none has come within ms. */
static bool next_line(struct fixture *f, struct reader *r, char *line, size_t size, unsigned ms)
{
	uint64_t until = loop_now_ns(CLOCK_MONOTONIC) + ms * MS;

	for (;;) {
		char *nl = memchr(r->buf, '\n', r->len);
		ssize_t n;

		if (nl) {
			size_t l = (size_t)(nl - r->buf);

			assert_true(l < size);
			memcpy(line, r->buf, l);
			line[l] = 0;
			memmove(r->buf, nl + 1, r->len - l - 1);
			r->len -= l + 1;
			return true;
		}
		if (r->eof || loop_now_ns(CLOCK_MONOTONIC) >= until)
			return false;
		n = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			r->eof = true;
		else if (n > 0)
			r->len += (size_t)n;
		else
			assert_true(loop_run_once(f->loop, 5) >= 0);
	}
}

static void expect_line(struct fixture *f, struct reader *r, const char *want)
{
	char line[4096];

	if (!next_line(f, r, line, sizeof(line), 5000))
		fail_msg("no line \"%s\" on the stream", want);
	assert_string_equal(line, want);
}

/* A subscriber: the reply, then what was queued while it was made, then each line as
 * salved writes it; the client's closing ends the stream. */
static void test_stream(void **state)
{
	struct fixture *f = *state;
	struct reader r = { .fd = client(f->path) };
	char line[256];

	put(r.fd, "{\"cmd\": \"follow\"}\n");
	expect_line(f, &r, "{\"ok\":true}");
	expect_line(f, &r, "{\"n\":0}");
	assert_non_null(f->stream);
	assert_int_equal(ctl_streams(f->ctl), 1);
	assert_int_equal(ctl_clients(f->ctl), 1);
	/* No deadline for a follower that has read all: it stays. */
	spin(f, DEADLINE_MS + 100);
	assert_non_null(f->stream);
	assert_false(next_line(f, &r, line, sizeof(line), 10));
	assert_int_equal(ctl_stream_write(f->stream, "{\"n\":1}", 7), 0);
	assert_int_equal(ctl_stream_write(f->stream, "{\"n\":2}", 7), 0);
	expect_line(f, &r, "{\"n\":1}");
	expect_line(f, &r, "{\"n\":2}");
	/* What it sends is read and ignored. */
	put(r.fd, "anything\n");
	spin(f, 20);
	assert_non_null(f->stream);
	assert_int_equal(f->gone, 0);
	/* Other requests are answered meanwhile. */
	{
		int fd = client(f->path);
		struct json_object *o;

		put(fd, "{\"cmd\": \"echo\", \"arg\": 1}\n");
		o = reply_of(f, fd);
		assert_string_equal(str(o, "arg"), "1");
		json_object_put(o);
	}
	close(r.fd);
	spin(f, 20);
	assert_int_equal(f->gone, 1);
	assert_null(f->stream);
	assert_int_equal(ctl_streams(f->ctl), 0);
	assert_int_equal(ctl_clients(f->ctl), 0);
}

/* A stream salved ends: its lines, then the connection closed. */
static void test_stream_ended(void **state)
{
	struct fixture *f = *state;
	struct reader r = { .fd = client(f->path) };
	char line[256];

	put(r.fd, "{\"cmd\": \"ending\"}\n");
	expect_line(f, &r, "{\"ok\":true}");
	expect_line(f, &r, "{\"n\":0}");
	expect_line(f, &r, "{\"n\":1}");
	expect_line(f, &r, "{\"n\":2}");
	assert_false(next_line(f, &r, line, sizeof(line), 2000));
	assert_true(r.eof);
	close(r.fd);
	assert_int_equal(f->gone, 1);
	assert_int_equal(ctl_clients(f->ctl), 0);
}

/* A subscriber that does not read: salved queues up to CTL_STREAM_QUEUE and drops the
 * rest without waiting; when the client has read, it is told how many lines it missed,
 * where it missed them, and gets the lines after. */
static void test_stream_slow(void **state)
{
	struct fixture *f = *state;
	struct reader r = { .fd = client(f->path) };
	char text[1024], line[2048], want[64];
	unsigned queued = 0, dropped = 0;
	uint64_t t0;
	int rc;

	put(r.fd, "{\"cmd\": \"follow\"}\n");
	expect_line(f, &r, "{\"ok\":true}");
	expect_line(f, &r, "{\"n\":0}");
	memset(text, 'x', sizeof(text));
	t0 = loop_now_ns(CLOCK_MONOTONIC);
	for (;;) { /* the queue fills: each write returns at once */
		int len = snprintf(text, sizeof(text), "{\"n\":%u,\"pad\":\"", queued + 1);

		text[len] = 'x';
		memcpy(text + sizeof(text) - 2, "\"}", 2);
		if ((rc = ctl_stream_write(f->stream, text, sizeof(text))) == -ENOBUFS)
			break;
		assert_int_equal(rc, 0);
		queued++;
	}
	dropped = 1;
	for (int i = 0; i < 9; i++, dropped++)
		assert_int_equal(ctl_stream_write(f->stream, "{\"late\":1}", 10), -ENOBUFS);
	assert_true(loop_now_ns(CLOCK_MONOTONIC) - t0 < 2000 * MS);
	/* At least the queue's worth went in, whatever the socket took besides. */
	assert_true((uint64_t)queued * (sizeof(text) + 1) >= CTL_STREAM_QUEUE);
	/* It read: every line queued, in order, then the gap said. */
	for (unsigned i = 1; i <= queued; i++) {
		snprintf(want, sizeof(want), "{\"n\":%u,", i);
		if (!next_line(f, &r, line, sizeof(line), 5000))
			fail_msg("line %u of %u did not come", i, queued);
		assert_memory_equal(line, want, strlen(want));
	}
	snprintf(want, sizeof(want), "{\"kind\":\"dropped\",\"lines\":%u}", dropped);
	expect_line(f, &r, want);
	assert_int_equal(ctl_stream_write(f->stream, "{\"n\":\"after\"}", 13), 0);
	expect_line(f, &r, "{\"n\":\"after\"}");
	assert_int_equal(f->gone, 0);
	close(r.fd);
	spin(f, 20);
	assert_int_equal(f->gone, 1);
}

/* A stream salved ends that its client does not read: dropped after the deadline. */
static void test_stream_ended_unread(void **state)
{
	struct fixture *f = *state;
	int fd = client(f->path);

	put(fd, "{\"cmd\": \"flood\"}\n");
	spin(f, DEADLINE_MS / 2);
	assert_int_equal(ctl_clients(f->ctl), 1);
	assert_int_equal(f->gone, 0);
	spin(f, DEADLINE_MS);
	assert_int_equal(f->gone, 1);
	assert_int_equal(ctl_clients(f->ctl), 0);
	close(fd);
}

/* A subscriber that closes while lines are written to it: the writes fail at once, the
 * stream goes from the loop, and salved goes on. */
static void test_stream_closing(void **state)
{
	struct fixture *f = *state;
	struct reader r = { .fd = client(f->path) };
	int rc;

	put(r.fd, "{\"cmd\": \"follow\"}\n");
	expect_line(f, &r, "{\"ok\":true}");
	close(r.fd);
	rc = ctl_stream_write(f->stream, "{\"n\":1}", 7);
	assert_true(rc == -EPIPE || rc == 0);
	assert_int_equal(f->gone, 0); /* not under the writer's feet */
	spin(f, 20);
	assert_int_equal(f->gone, 1);
	assert_int_equal(ctl_streams(f->ctl), 0);
	assert_int_equal(ctl_clients(f->ctl), 0);
}

/* CTL_STREAMS_MAX streams at once; one more is refused by ctl_keep, and requests are
 * still answered. */
static void test_stream_limit(void **state)
{
	struct fixture *f = *state;
	struct reader r[CTL_STREAMS_MAX + 1];
	char line[256];

	for (int i = 0; i <= CTL_STREAMS_MAX; i++) {
		r[i] = (struct reader){ .fd = client(f->path) };
		put(r[i].fd, "{\"cmd\": \"follow\"}\n");
		assert_true(next_line(f, &r[i], line, sizeof(line), 5000));
		if (i < CTL_STREAMS_MAX) {
			assert_string_equal(line, "{\"ok\":true}");
		} else {
			struct json_object *o = json_tokener_parse(line);

			assert_string_equal(str(o, "ok"), "false");
			assert_string_equal(str(o, "error"), strerror(EBUSY));
			json_object_put(o);
		}
	}
	assert_int_equal(ctl_streams(f->ctl), CTL_STREAMS_MAX);
	for (int i = 0; i <= CTL_STREAMS_MAX; i++)
		close(r[i].fd);
	spin(f, 30);
	assert_int_equal(ctl_streams(f->ctl), 0);
	assert_int_equal(f->gone, CTL_STREAMS_MAX);
}

/* ctl_stream_open and ctl_lines_next in a child: the reply, the lines, the end. */
static void test_client_stream(void **state)
{
	struct fixture *f = *state;
	char got[512] = "";
	int p[2], status;
	size_t len = 0;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	assert_true((pid = fork()) >= 0);
	if (!pid) {
		struct json_object *req = json_tokener_parse("{\"cmd\": \"ending\"}"), *reply;
		struct ctl_lines *l;
		const char *line;
		char out[512], err[256];
		int n, rc;

		close(p[0]);
		if (ctl_stream_open(f->path, req, &reply, &l, err, sizeof(err)))
			_exit(3);
		n = snprintf(out, sizeof(out), "%s|", json_object_to_json_string(reply));
		while (!(rc = ctl_lines_next(l, &line)))
			n += snprintf(out + n, sizeof(out) - (size_t)n, "%s|", line);
		n += snprintf(out + n, sizeof(out) - (size_t)n, "%s", rc == -ENODATA ? "end" : "error");
		ctl_lines_free(l);
		_exit(write(p[1], out, (size_t)n) == n ? 0 : 4);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	for (;;) {
		ssize_t n = read(p[0], got + len, sizeof(got) - 1 - len);

		if (n == 0)
			break;
		if (n > 0)
			len += (size_t)n;
		else
			assert_true(loop_run_once(f->loop, 20) >= 0);
	}
	got[len] = 0;
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_string_equal(got, "{ \"ok\": true }|{\"n\":0}|{\"n\":1}|{\"n\":2}|end");
}

/* The peer's credentials: root, or the group (primary or supplementary), is answered;
 * anyone else is told why, even past a socket file that lets them in. */
static void test_peer_credentials(void **state)
{
	struct fixture *f = *state;
	char path[160], want[320];
	struct ctl *rootonly;
	struct outcome o;

	snprintf(path, sizeof(path), "%s/root.sock", f->dir);
	serve(f, path, CTL_NO_GROUP, 0, &rootonly);
	{
		struct stat st;

		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		assert_int_equal(st.st_uid, geteuid());
	}
	if (geteuid() == 0) {
		const gid_t ours = getegid(), other = 65533;

		/* The socket files let anyone in: the credentials are the wall left. */
		assert_int_equal(chmod(path, 0666), 0);
		assert_int_equal(chmod(f->path, 0666), 0);
		request_in_child(f, path, 65534, other, NULL, 0, &o);
		assert_int_equal(o.rc, -EACCES);
		snprintf(want, sizeof(want), "%s: permission denied: salved's control socket answers "
			 "root; you are uid 65534", path);
		assert_string_equal(o.err, want);
		request_in_child(f, f->path, 65534, other, NULL, 0, &o);
		assert_int_equal(o.rc, -EACCES);
		assert_non_null(strstr(o.err, "answers root or group "));
		assert_non_null(strstr(o.err, "; you are uid 65534"));
		/* In the group by its primary group, or by a supplementary one. */
		request_in_child(f, f->path, 65534, ours, NULL, 0, &o);
		assert_int_equal(o.rc, 0);
		request_in_child(f, f->path, 65534, other, &ours, 1, &o);
		assert_int_equal(o.rc, 0);
		assert_string_equal(o.reply, "{ \"ok\": true, \"arg\": \"child\" }");
		assert_int_equal(f->calls, 2);
	} else {
		/* Not root, and no group: the file's mode 0600 lets us in (ours), the
		 * credentials do not. */
		request_in_child(f, path, (uid_t)-1, 0, NULL, 0, &o);
		assert_int_equal(o.rc, -EACCES);
		snprintf(want, sizeof(want), "%s: permission denied: salved's control socket answers "
			 "root; you are uid %u", path, getuid());
		assert_string_equal(o.err, want);
		assert_int_equal(f->calls, 0);
	}
	assert_int_equal(ctl_clients(rootonly), 0);
	ctl_free(rootonly);
}

/* A second ctl on a live socket is refused; on a stale file, it takes over. */
static void test_socket_taken(void **state)
{
	struct fixture *f = *state;
	struct ctl *second;
	int fd;

	assert_int_equal(ctl_new(f->loop, &(struct ctl_config){ .path = f->path, .group = CTL_NO_GROUP,
				 .handler = handler, .ctx = f }, &second), -EADDRINUSE);
	/* The probe's connection is served and closed without a word. */
	spin(f, 20);
	assert_int_equal(ctl_clients(f->ctl), 0);
	ctl_free(f->ctl);
	f->ctl = NULL;
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
		assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	close(fd); /* a stale socket file, no one listening */
	serve(f, f->path, getegid(), 0, &f->ctl);
	fd = client(f->path);
	put(fd, "{\"cmd\": \"echo\"}\n");
	json_object_put(reply_of(f, fd));
	assert_int_equal(f->calls, 1);
}

static void test_group_parse(void **state)
{
	gid_t g;

	(void)state;
	assert_int_equal(ctl_group_parse("root", &g), 0);
	assert_int_equal(g, 0);
	assert_int_equal(ctl_group_parse("4242", &g), 0);
	assert_int_equal(g, 4242);
	assert_int_equal(ctl_group_parse("no-such-group-here", &g), -ENOENT);
	assert_int_equal(ctl_group_parse("12x", &g), -ENOENT);
	assert_int_equal(ctl_group_parse("", &g), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_request_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_salved_is_not_the_clients_fault, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_clients, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_ended, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_slow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_closing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_ended_unread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_credentials, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket_taken, setup, teardown),
		cmocka_unit_test(test_group_parse),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
