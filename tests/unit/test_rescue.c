/* rescue: a real service (tests/targets/service, "unguarded": no crash guard of its
 * own), traced by the test as salved traces it, whose parse() faults inside libc's
 * strlen() on a request without "=". Each fault is taken back to parse(), the rescue
 * point, which returns -1: 100 requests, 1 in 10 bad, every good one answered and every
 * bad one refused, the process alive and its memory flat. A fault with no rescue point
 * on the stack is delivered as it came: the process dies of it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actions/rescue.h"
#include "actions/stacks.h"

static char service[4096];
static pid_t running;

struct child {
	pid_t pid;
	FILE *in, *out;
};

static int kill_child(void **state)
{
	(void)state;
	if (running > 0) {
		kill(running, SIGKILL);
		waitpid(running, NULL, __WALL);
	}
	running = 0;
	return 0;
}

/* Start the service unguarded, traced (seized: nothing stops until a signal comes). */
static void child_start(struct child *c)
{
	int in[2], out[2];
	char line[256];

	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl(service, service, "unguarded", (char *)NULL);
		_exit(127);
	}
	running = c->pid;
	close(in[0]);
	close(out[1]);
	c->in = fdopen(in[1], "w");
	c->out = fdopen(out[0], "r");
	setvbuf(c->in, NULL, _IOLBF, 0);
	assert_non_null(fgets(line, sizeof(line), c->out));
	assert_non_null(strstr(line, "ready"));
	assert_int_equal(ptrace(PTRACE_SEIZE, c->pid, NULL, NULL), 0);
}

/* Send one request; if the service faults, rescue it at points (or deliver the signal
 * when none is on the stack). Returns its answer line, or NULL when it died. */
static char *ask(struct child *c, const char *req, const struct rescue_point *points, size_t n,
		 struct rescue_plan *plan, char *line, size_t len)
{
	int status;
	char err[512];

	fprintf(c->in, "%s\n", req);
	for (;;) {
		siginfo_t si;
		struct stacks *s;
		int sig = 0;

		/* An answer, or a stop: whichever comes first. */
		pid_t r = waitpid(c->pid, &status, __WALL | WNOHANG);

		if (r == 0) {
			fd_set fds;
			struct timeval tv = { 0, 1000 };

			FD_ZERO(&fds);
			FD_SET(fileno(c->out), &fds);
			if (select(fileno(c->out) + 1, &fds, NULL, NULL, &tv) > 0)
				return fgets(line, (int)len, c->out);
			continue;
		}
		assert_int_equal(r, c->pid);
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			running = 0;
			return NULL;
		}
		assert_true(WIFSTOPPED(status));
		assert_int_equal(WSTOPSIG(status), SIGSEGV);
		assert_int_equal(ptrace(PTRACE_GETSIGINFO, c->pid, NULL, &si), 0);
		assert_true(si.si_code > 0); /* raised by the kernel */
		assert_int_equal(stacks_open(c->pid, &s, err, sizeof(err)), 0);
		if (!rescue_find(s, c->pid, points, n, plan, err, sizeof(err)))
			assert_int_equal(rescue_apply(c->pid, plan, -1, err, sizeof(err)), 0);
		else
			sig = SIGSEGV; /* delivered as it came */
		stacks_close(s);
		assert_int_equal(ptrace(PTRACE_CONT, c->pid, NULL, (void *)(intptr_t)sig), 0);
	}
}

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	assert_non_null(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void test_rescued_at_parse(void **state)
{
	const char *at[] = { "parse" };
	struct rescue_point points[1];
	struct rescue_plan plan;
	struct child c;
	char line[256], req[64], want[64], err[512];
	long rss_first = 0;

	(void)state;
	child_start(&c);
	assert_int_equal(rescue_points(c.pid, service, at, 1, points, err, sizeof(err)), 0);
	for (int i = 0; i < 100; i++) {
		bool bad = i % 10 == 3;

		if (bad) {
			snprintf(req, sizeof(req), "bad%d", i);
			snprintf(want, sizeof(want), "error -1\n");
		} else {
			snprintf(req, sizeof(req), "k=%*s", i % 7 + 1, "v");
			snprintf(want, sizeof(want), "ok %d\n", i % 7 + 1);
		}
		assert_non_null(ask(&c, req, points, 1, &plan, line, sizeof(line)));
		assert_string_equal(line, want);
		if (bad && i == 3) {
			/* The fault was inside libc's strlen, called by parse. */
			assert_ptr_equal(plan.point, &points[0]);
			assert_true(plan.depth >= 1);
			assert_false(plan.fault_ip >= points[0].start && plan.fault_ip < points[0].end);
			rss_first = rss_kb(c.pid);
		}
	}
	/* Memory flat: rescues leak nothing (a page or two of slack). */
	assert_true(rss_kb(c.pid) <= rss_first + 8);
	fclose(c.in);
	fclose(c.out);
	kill_child(NULL);
}

static void test_no_rescue_point(void **state)
{
	const char *at[] = { "audit" }; /* not on the stack when parse faults */
	struct rescue_point points[1];
	struct rescue_plan plan;
	struct child c;
	char line[256], err[512];

	(void)state;
	child_start(&c);
	assert_int_equal(rescue_points(c.pid, service, at, 1, points, err, sizeof(err)), 0);
	assert_non_null(ask(&c, "a=12", points, 1, &plan, line, sizeof(line)));
	assert_string_equal(line, "ok 2\n");
	assert_null(ask(&c, "bad", points, 1, &plan, line, sizeof(line)));
	fclose(c.in);
	fclose(c.out);
}

static void test_refusals(void **state)
{
	const char *at[] = { "no_such_function" };
	struct rescue_point points[1];
	struct child c;
	char err[512];

	(void)state;
	child_start(&c);
	assert_int_equal(rescue_points(c.pid, service, at, 1, points, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no_such_function"));
	fclose(c.in);
	fclose(c.out);
	kill_child(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_rescued_at_parse, kill_child),
		cmocka_unit_test_teardown(test_no_rescue_point, kill_child),
		cmocka_unit_test_teardown(test_refusals, kill_child),
	};
	const char *b = getenv("SALVE_BUILD");
	char rel[4096];

	snprintf(rel, sizeof(rel), "%s/tests/targets/service", b && *b ? b : "build");
	if (!realpath(rel, service)) {
		perror(rel);
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
