/* actions: real commands and real processes, driven through salved's loop, each action
 * journaled. No root needed. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "actions/actions.h"
#include "actions/journal.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/tally.h"

struct fixture {
	char dir[64];
	struct loop *loop;
	struct journal *journal;
	struct actions *actions;
	int guard; /* a timerfd that fails a test stuck in the loop */
	struct json_object *result; /* the incident line, as written */
	int calls;                  /* incident lines */
	struct json_object *lines;  /* every line, as written, in order */
	size_t n_action_lines, want; /* the loop stops when want action lines came */
	struct policy policy;
	struct policy_rule rule;
	struct policy_action acts[4];
	struct incident inc;
};

static int guard_fired(int fd, void *ctx)
{
	(void)fd;
	(void)ctx;
	return -ETIMEDOUT;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/salve-actions-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(loop_new(&f->loop), 0);
	assert_int_equal(journal_open(f->dir, 0, &f->journal, NULL), 0);
	assert_int_equal(actions_new(f->loop, f->journal, &f->actions), 0);
	f->lines = json_object_new_array();
	assert_non_null(f->lines);
	f->guard = loop_timer_fd(20000);
	assert_true(f->guard >= 0);
	assert_int_equal(loop_add(f->loop, f->guard, guard_fired, f), 0);

	f->policy = (struct policy){ .name = "web", .file = "web.json" };
	f->rule = (struct policy_rule){ .id = "parse-failing", .policy = &f->policy,
					.actions = f->acts, .budget = 10 };
	f->inc = (struct incident){ .id = 7, .rule = &f->rule, .by = POLICY_BY_PROCESS,
				    .pid = 4242, .exe = "/srv/app/bin/app", .n_counts = 1 };
	f->inc.counts[0] = (struct incident_count){ .probe_id = "parse-errors", .events = 3 };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	actions_free(f->actions);
	journal_free(f->journal);
	loop_remove(f->loop, f->guard);
	close(f->guard);
	loop_free(f->loop);
	json_object_put(f->result);
	json_object_put(f->lines);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* A line as salved writes it: parsed back from its text, as a reader gets it. */
static void line(void *ctx, struct json_object *obj)
{
	struct fixture *f = ctx;
	struct json_object *copy = json_tokener_parse(json_object_to_json_string(obj)), *kind;

	assert_non_null(copy);
	assert_true(json_object_object_get_ex(copy, "kind", &kind));
	json_object_array_add(f->lines, copy);
	if (!strcmp(json_object_get_string(kind), "incident")) {
		f->calls++;
		json_object_put(f->result);
		f->result = json_object_get(copy);
		return;
	}
	assert_string_equal(json_object_get_string(kind), "action");
	/* Never before its incident's line. */
	assert_int_equal(f->calls, 1);
	if (++f->n_action_lines == f->want)
		loop_stop(f->loop);
}

/* Dispatch f->inc: its line comes at once; then run the loop until every action has
 * its line. */
static void start_dispatch(struct fixture *f)
{
	json_object_put(f->result);
	f->result = NULL;
	f->calls = 0;
	f->n_action_lines = 0;
	f->want = f->rule.n_actions;
	assert_int_equal(actions_dispatch(f->actions, &f->inc, line, f), 0);
	assert_int_equal(f->calls, 1);
}

static void dispatch(struct fixture *f)
{
	start_dispatch(f);
	if (f->n_action_lines < f->want)
		assert_int_equal(loop_run(f->loop), 0);
	assert_int_equal(f->n_action_lines, f->want);
	assert_int_equal(actions_running(f->actions), 0);
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no \"%s\" in %s", key, json_object_to_json_string(o));
	return v;
}

static const char *get_str(struct json_object *o, const char *key)
{
	return json_object_get_string(get(o, key));
}

/* The last action line of action i of the last incident: its outcome. */
static struct json_object *outcome(struct fixture *f, size_t i)
{
	int64_t id = json_object_get_int64(get(f->result, "id"));

	for (size_t n = json_object_array_length(f->lines); n-- > 0;) {
		struct json_object *l = json_object_array_get_idx(f->lines, n);

		if (strcmp(get_str(l, "kind"), "action") ||
		    json_object_get_int64(get(l, "incident")) != id ||
		    json_object_get_int64(get(l, "index")) != (int64_t)i)
			continue;
		assert_string_equal(get_str(l, "rule"), get_str(f->result, "rule"));
		assert_string_equal(get_str(l, "policy"), get_str(f->result, "policy"));
		assert_true(strlen(get_str(l, "time")) > 0);
		return l;
	}
	fail_msg("no action line for action %zu of incident %lld", i, (long long)id);
	return NULL;
}

/* Entry i of the incident line's "actions", as it was written. */
static struct json_object *entry(struct fixture *f, size_t i)
{
	struct json_object *actions = get(f->result, "actions");

	assert_true(i < json_object_array_length(actions));
	return json_object_array_get_idx(actions, i);
}

static char *slurp(const char *path)
{
	FILE *in = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!in)
		return NULL;
	n = getdelim(&buf, &cap, '\0', in);
	fclose(in);
	if (n < 0) {
		free(buf);
		return strdup("");
	}
	return buf;
}

/* The journal's entries, as parsed lines. */
static struct json_object *journal_lines(struct fixture *f)
{
	char path[128], *text, *save;
	struct json_object *arr = json_object_new_array();

	snprintf(path, sizeof(path), "%s/journal.jsonl", f->dir);
	text = slurp(path);
	assert_non_null(text);
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		struct json_object *o = json_tokener_parse(l);

		assert_non_null(o);
		json_object_array_add(arr, o);
	}
	free(text);
	return arr;
}

static void set_exec(struct policy_action *a, char **argv, uint64_t timeout_ns)
{
	size_t n = 0;

	while (argv[n])
		n++;
	*a = (struct policy_action){ .kind = POLICY_ACTION_EXEC, .argv = argv, .argc = n,
				     .timeout_ns = timeout_ns };
}

static void test_exec_stdin_env(void **state)
{
	struct fixture *f = *state;
	char *argv[] = { "/bin/sh", "-c", "cat > \"$0/stdin\"; env > \"$0/env\"; exit 3", f->dir,
			 NULL };
	char path[128], *env, *in;
	struct json_object *o, *incident, *lines, *begin, *end;

	setenv("SALVE_TEST_SECRET", "leaked", 1);
	set_exec(&f->acts[0], argv, 5000000000ULL);
	f->rule.n_actions = 1;
	dispatch(f);
	unsetenv("SALVE_TEST_SECRET");

	o = outcome(f, 0);
	assert_string_equal(get_str(o, "do"), "exec");
	assert_string_equal(get_str(o, "outcome"), "exited");
	assert_int_equal(json_object_get_int(get(o, "status")), 3);
	assert_true(json_object_get_int64(get(o, "duration_ms")) < 5000);
	assert_int_equal(json_object_get_int64(get(o, "timeout_ms")), 5000);
	assert_int_equal(json_object_array_length(get(o, "command")), 4);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(get(o, "command"), 0)),
			    "/bin/sh");

	/* stdin: the incident line, in full. */
	snprintf(path, sizeof(path), "%s/stdin", f->dir);
	in = slurp(path);
	assert_non_null(in);
	incident = json_tokener_parse(in);
	assert_non_null(incident);
	assert_string_equal(get_str(incident, "kind"), "incident");
	assert_int_equal(json_object_get_int64(get(incident, "id")), 7);
	assert_string_equal(get_str(incident, "rule"), "parse-failing");
	json_object_put(incident);
	free(in);

	/* The environment: the incident's fields and a PATH, nothing of ours. */
	snprintf(path, sizeof(path), "%s/env", f->dir);
	env = slurp(path);
	assert_non_null(env);
	assert_non_null(strstr(env, "SALVE_INCIDENT_ID=7\n"));
	assert_non_null(strstr(env, "SALVE_RULE=parse-failing\n"));
	assert_non_null(strstr(env, "SALVE_POLICY=web\n"));
	assert_non_null(strstr(env, "SALVE_PID=4242\n"));
	assert_non_null(strstr(env, "SALVE_BINARY=/srv/app/bin/app\n"));
	assert_non_null(strstr(env, "SALVE_PROBE=parse-errors\n"));
	assert_non_null(strstr(env, "SALVE_EVENTS=3\n"));
	assert_non_null(strstr(env, "PATH=/usr/local/sbin:"));
	assert_null(strstr(env, "SALVE_TEST_SECRET"));
	free(env);

	/* Journaled: begin before, end after, the same seq. */
	lines = journal_lines(f);
	assert_int_equal(json_object_array_length(lines), 2);
	begin = json_object_array_get_idx(lines, 0);
	end = json_object_array_get_idx(lines, 1);
	assert_string_equal(get_str(begin, "type"), "begin");
	assert_int_equal(json_object_get_int64(get(begin, "incident")), 7);
	assert_string_equal(get_str(get(begin, "action"), "do"), "exec");
	assert_string_equal(get_str(end, "type"), "end");
	assert_int_equal(json_object_get_int64(get(end, "seq")),
			 json_object_get_int64(get(begin, "seq")));
	assert_string_equal(get_str(get(end, "outcome"), "outcome"), "exited");
	json_object_put(lines);
}

/* Is pid gone (or a zombie nobody reaped yet)? */
static bool dead(pid_t pid)
{
	char path[64], *stat;
	bool gone;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (!(stat = slurp(path)))
		return true;
	gone = strstr(stat, ") Z ") != NULL;
	free(stat);
	return gone;
}

static void test_exec_timeout(void **state)
{
	struct fixture *f = *state;
	/* A grandchild too: the whole process group goes. */
	char *argv[] = { "/bin/sh", "-c", "sleep 30 & echo $! > \"$0/pid\"; wait", f->dir, NULL };
	char path[128], *text;
	struct json_object *o;
	pid_t grandchild;

	set_exec(&f->acts[0], argv, 300000000ULL);
	f->rule.n_actions = 1;
	start_dispatch(f);
	/* The dispatcher kept its own copies: the rule and incident may go now. */
	memset(&f->inc, 0, sizeof(f->inc));
	argv[2] = "garbage";
	f->rule.n_actions = 0;
	assert_int_equal(loop_run(f->loop), 0);
	assert_int_equal(f->n_action_lines, 1);

	o = outcome(f, 0);
	assert_string_equal(get_str(o, "outcome"), "killed: timeout");
	assert_true(json_object_get_int64(get(o, "duration_ms")) >= 300);
	assert_true(json_object_get_int64(get(o, "duration_ms")) < 10000);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(get(o, "command"), 2)),
			    "sleep 30 & echo $! > \"$0/pid\"; wait");
	snprintf(path, sizeof(path), "%s/pid", f->dir);
	text = slurp(path);
	assert_non_null(text);
	grandchild = atoi(text);
	free(text);
	assert_true(grandchild > 1);
	for (int i = 0; i < 100 && !dead(grandchild); i++)
		usleep(10000);
	assert_true(dead(grandchild));
}

/* What the command writes to stdout and stderr, in the order it wrote it, kept up to
 * the action's output size; nothing without one. */
static void test_exec_output(void **state)
{
	struct fixture *f = *state;
	char *argv[] = { "/bin/sh", "-c", "echo out; echo err >&2; printf 'a\\000b'", NULL };
	char *loud[] = { "/bin/sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x", NULL };
	struct json_object *o, *v;

	set_exec(&f->acts[0], argv, 0);
	f->acts[0].output_max = 4096;
	set_exec(&f->acts[1], loud, 0);
	f->acts[1].output_max = 10;
	set_exec(&f->acts[2], argv, 0);
	f->rule.n_actions = 3;
	dispatch(f);
	o = outcome(f, 0);
	assert_string_equal(get_str(o, "outcome"), "exited");
	assert_string_equal(get_str(o, "output"), "out\nerr\na\xef\xbf\xbd" "b");
	assert_false(json_object_object_get_ex(o, "output_truncated", NULL));
	o = outcome(f, 1);
	assert_string_equal(get_str(o, "output"), "xxxxxxxxxx");
	assert_true(json_object_get_boolean(get(o, "output_truncated")));
	assert_string_equal(get_str(o, "outcome"), "exited");
	assert_false(json_object_object_get_ex(outcome(f, 2), "output", &v));
}

static void test_exec_missing_command(void **state)
{
	struct fixture *f = *state;
	char *missing[] = { "/nonexistent/salve-command", "x", NULL };
	char *relative[] = { "sh", "-c", "true", NULL };

	set_exec(&f->acts[0], missing, 0);
	set_exec(&f->acts[1], relative, 0);
	f->rule.n_actions = 2;
	dispatch(f);
	assert_string_equal(get_str(outcome(f, 0), "outcome"),
			    "failed: /nonexistent/salve-command: No such file or directory");
	assert_int_equal(json_object_get_int64(get(outcome(f, 0), "timeout_ms")), 10000);
	assert_string_equal(get_str(outcome(f, 1), "outcome"),
			    "failed: the command must start with an absolute path");
}

/* The kernel's dev_t and inode of pid's executable, as events carry them. */
static void exe_identity(pid_t pid, struct incident *inc)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	assert_int_equal(stat(path, &st), 0);
	inc->exe_dev = ((uint64_t)major(st.st_dev) << 20) | minor(st.st_dev);
	inc->exe_ino = st.st_ino;
}

static pid_t spawn_sleeper(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (!pid) {
		for (;;)
			pause();
	}
	return pid;
}

/* The incident's events happen now: after the processes the test started so far. */
static void events_now(struct fixture *f)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	f->inc.boot_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void test_signal_kills_child(void **state)
{
	struct fixture *f = *state;
	struct json_object *o;
	pid_t child = spawn_sleeper();
	int status;

	events_now(f);
	f->acts[0] = (struct policy_action){ .kind = POLICY_ACTION_SIGNAL, .signo = SIGTERM };
	f->rule.n_actions = 1;
	f->inc.pid = (uint32_t)child;
	exe_identity(child, &f->inc);
	dispatch(f);
	o = outcome(f, 0);
	assert_string_equal(get_str(o, "do"), "signal");
	assert_string_equal(get_str(o, "signal"), "SIGTERM");
	assert_int_equal(json_object_get_int64(get(o, "pid")), child);
	assert_string_equal(get_str(o, "outcome"), "sent");
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);

	/* Gone and reaped: nothing to signal. */
	dispatch(f);
	assert_string_equal(get_str(outcome(f, 0), "outcome"), "no process");
}

/* The signal was refused, saying why (text), and child lives on; then it goes. */
static void expect_spared(struct fixture *f, pid_t child, const char *text)
{
	int status;

	assert_non_null(strstr(get_str(outcome(f, 0), "outcome"), text));
	assert_int_equal(waitpid(child, &status, WNOHANG), 0);
	kill(child, SIGKILL);
	assert_int_equal(waitpid(child, &status, 0), child);
}

static void test_signal_refused(void **state)
{
	struct fixture *f = *state;
	pid_t child = spawn_sleeper();

	events_now(f);
	f->acts[0] = (struct policy_action){ .kind = POLICY_ACTION_SIGNAL, .signo = SIGKILL };
	f->rule.n_actions = 1;

	f->inc.pid = 1;
	dispatch(f);
	assert_string_equal(get_str(outcome(f, 0), "outcome"), "refused: never pid 1");

	f->inc.pid = (uint32_t)getpid();
	exe_identity(getpid(), &f->inc);
	dispatch(f);
	assert_true(!strncmp(get_str(outcome(f, 0), "outcome"), "refused: pid ", 13));
	assert_non_null(strstr(get_str(outcome(f, 0), "outcome"), "salved itself"));

	/* The pid now runs another executable than the events': not that process. */
	f->inc.pid = (uint32_t)child;
	f->inc.exe_ino++;
	dispatch(f);
	expect_spared(f, child, "now runs another executable");
}

/* A process that started after the events has taken their pid over: never it, even
 * when it runs the same executable. */
static void test_signal_pid_taken_over(void **state)
{
	struct fixture *f = *state;
	pid_t child;

	events_now(f);
	usleep(30000); /* /proc gives start times to the clock tick (10 ms) */
	child = spawn_sleeper();
	f->acts[0] = (struct policy_action){ .kind = POLICY_ACTION_SIGNAL, .signo = SIGKILL };
	f->rule.n_actions = 1;
	f->inc.pid = (uint32_t)child;
	exe_identity(child, &f->inc);
	dispatch(f);
	expect_spared(f, child, "started after the events");
}

static void test_dry_run(void **state)
{
	struct fixture *f = *state;
	char marker[128];
	char *argv[] = { "/bin/sh", "-c", "touch \"$0\"", marker, NULL };
	pid_t child = spawn_sleeper();
	struct json_object *lines;
	int status;

	snprintf(marker, sizeof(marker), "%s/ran", f->dir);
	set_exec(&f->acts[0], argv, 0);
	f->acts[1] = (struct policy_action){ .kind = POLICY_ACTION_SIGNAL, .signo = SIGKILL };
	f->rule.n_actions = 2;
	f->inc.dry_run = true;
	f->inc.pid = (uint32_t)child;
	exe_identity(child, &f->inc);
	dispatch(f);
	assert_true(json_object_get_boolean(get(f->result, "dry_run")));
	/* Nothing waits: the incident's line says what would have been done. */
	assert_string_equal(get_str(entry(f, 0), "state"), "ended");
	assert_string_equal(get_str(entry(f, 0), "outcome"), "dry-run");
	assert_string_equal(get_str(entry(f, 1), "outcome"), "dry-run");
	assert_string_equal(get_str(outcome(f, 0), "outcome"), "dry-run");
	assert_string_equal(get_str(outcome(f, 0), "do"), "exec");
	assert_string_equal(get_str(outcome(f, 1), "outcome"), "dry-run");
	assert_string_equal(get_str(outcome(f, 1), "signal"), "SIGKILL");
	assert_int_equal(access(marker, F_OK), -1);
	assert_int_equal(waitpid(child, &status, WNOHANG), 0);
	kill(child, SIGKILL);
	waitpid(child, &status, 0);

	/* What would have happened is in the journal. */
	lines = journal_lines(f);
	assert_int_equal(json_object_array_length(lines), 4);
	assert_string_equal(get_str(json_object_array_get_idx(lines, 0), "type"), "begin");
	assert_string_equal(get_str(get(json_object_array_get_idx(lines, 1), "outcome"), "outcome"),
			    "dry-run");
	assert_string_equal(get_str(get(json_object_array_get_idx(lines, 2), "action"), "do"),
			    "signal");
	json_object_put(lines);
}

static void test_budget(void **state)
{
	struct fixture *f = *state;
	char marker[128];
	char *argv[] = { "/bin/sh", "-c", "touch \"$0\"", marker, NULL };
	struct json_object *lines;

	snprintf(marker, sizeof(marker), "%s/ran", f->dir);
	set_exec(&f->acts[0], argv, 0);
	f->acts[1] = (struct policy_action){ .kind = POLICY_ACTION_LOG, .message = "no" };
	f->rule.n_actions = 2;
	f->inc.budget_exhausted = true;
	dispatch(f);
	assert_string_equal(get_str(outcome(f, 0), "outcome"), "skipped: budget");
	assert_string_equal(get_str(outcome(f, 1), "outcome"), "skipped: budget");
	assert_string_equal(get_str(entry(f, 0), "state"), "ended");
	assert_string_equal(get_str(entry(f, 0), "outcome"), "skipped: budget");
	assert_string_equal(get_str(entry(f, 1), "outcome"), "skipped: budget");
	assert_true(json_object_get_boolean(get(f->result, "budget_exhausted")));
	assert_int_equal(access(marker, F_OK), -1);
	lines = journal_lines(f);
	assert_int_equal(json_object_array_length(lines), 0);
	json_object_put(lines);
	/* The metrics count each by what it was and its outcome's first word. */
	assert_int_equal(tally_get(actions_ended(f->actions), (const char *[]){ "exec", "skipped" }), 1);
	assert_int_equal(tally_get(actions_ended(f->actions), (const char *[]){ "log", "skipped" }), 1);
	assert_int_equal(tally_rows(actions_ended(f->actions)), 2);
}

static void test_in_order(void **state)
{
	struct fixture *f = *state;
	char *first[] = { "/bin/sh", "-c", "sleep 0.2; echo 1 >> \"$0/order\"", f->dir, NULL };
	char *second[] = { "/bin/sh", "-c", "echo 2 >> \"$0/order\"; cat > \"$0/stdin\"", f->dir,
			   NULL };
	char path[128], *text;
	struct json_object *in, *earlier;

	set_exec(&f->acts[0], first, 0);
	f->acts[1] = (struct policy_action){ .kind = POLICY_ACTION_LOG, .message = "parse failing" };
	set_exec(&f->acts[2], second, 0);
	f->rule.n_actions = 3;
	dispatch(f);
	assert_string_equal(get_str(outcome(f, 0), "outcome"), "exited");
	assert_string_equal(get_str(outcome(f, 1), "do"), "log");
	assert_string_equal(get_str(outcome(f, 1), "message"), "parse failing");
	assert_string_equal(get_str(outcome(f, 1), "outcome"), "logged");
	assert_string_equal(get_str(outcome(f, 2), "outcome"), "exited");
	assert_int_equal(tally_get(actions_ended(f->actions), (const char *[]){ "exec", "exited" }), 2);
	assert_int_equal(tally_get(actions_ended(f->actions), (const char *[]){ "log", "logged" }), 1);
	snprintf(path, sizeof(path), "%s/order", f->dir);
	text = slurp(path);
	assert_string_equal(text, "1\n2\n");
	free(text);

	/* A later command sees the outcomes before it, and itself running. */
	snprintf(path, sizeof(path), "%s/stdin", f->dir);
	text = slurp(path);
	in = json_tokener_parse(text);
	assert_non_null(in);
	assert_int_equal(json_object_array_length(get(in, "actions")), 3);
	earlier = json_object_array_get_idx(get(in, "actions"), 0);
	assert_string_equal(get_str(earlier, "state"), "ended");
	assert_string_equal(get_str(earlier, "outcome"), "exited");
	earlier = json_object_array_get_idx(get(in, "actions"), 1);
	assert_string_equal(get_str(earlier, "state"), "ended");
	assert_string_equal(get_str(earlier, "outcome"), "logged");
	earlier = json_object_array_get_idx(get(in, "actions"), 2);
	assert_string_equal(get_str(earlier, "state"), "running");
	assert_false(json_object_object_get_ex(earlier, "outcome", NULL));
	json_object_put(in);
	free(text);

	/* The incident's line came first, the first command running, the rest queued;
	 * then one line per action, in order. */
	assert_int_equal(json_object_array_length(f->lines), 4);
	assert_string_equal(get_str(json_object_array_get_idx(f->lines, 0), "kind"), "incident");
	assert_string_equal(get_str(entry(f, 0), "state"), "running");
	assert_string_equal(get_str(entry(f, 0), "do"), "exec");
	assert_int_equal(json_object_get_int64(get(entry(f, 0), "index")), 0);
	assert_string_equal(get_str(entry(f, 1), "state"), "queued");
	assert_string_equal(get_str(entry(f, 1), "message"), "parse failing");
	assert_string_equal(get_str(entry(f, 2), "state"), "queued");
	for (int i = 0; i < 3; i++)
		assert_int_equal(json_object_get_int64(get(json_object_array_get_idx(f->lines, i + 1),
							       "index")), i);
}

static void test_exec_large_stdin(void **state)
{
	struct fixture *f = *state;
	char *ignore[] = { "/bin/sh", "-c", "exit 0", NULL };
	char *count[] = { "/bin/sh", "-c", "wc -c > \"$0/size\"", f->dir, NULL };
	size_t big = 300000;
	char *message = malloc(big + 1), path[128], *text;

	/* A long log message makes the line the later commands get longer than a pipe
	 * holds by default; one command never reads it, the next reads it all. */
	assert_non_null(message);
	memset(message, 'x', big);
	message[big] = '\0';
	salve_log_setup(LOG_SINK_STDERR, LOG_ERR, false);
	f->acts[0] = (struct policy_action){ .kind = POLICY_ACTION_LOG, .message = message };
	set_exec(&f->acts[1], ignore, 0);
	set_exec(&f->acts[2], count, 0);
	f->rule.n_actions = 3;
	dispatch(f);
	salve_log_setup(LOG_SINK_STDERR, LOG_INFO, false);
	assert_string_equal(get_str(outcome(f, 1), "outcome"), "exited");
	assert_string_equal(get_str(outcome(f, 2), "outcome"), "exited");
	assert_false(json_object_object_get_ex(outcome(f, 2), "stdin_truncated", NULL));
	snprintf(path, sizeof(path), "%s/size", f->dir);
	text = slurp(path);
	assert_non_null(text);
	assert_true(strtoul(text, NULL, 10) > big);
	free(text);
	free(message);
}

static void test_no_actions(void **state)
{
	struct fixture *f = *state;

	f->rule.n_actions = 0;
	dispatch(f);
	assert_int_equal(json_object_array_length(get(f->result, "actions")), 0);
}

/* The pid a command wrote to DIR/pid, once it wrote it whole. */
static pid_t wait_pid_file(struct fixture *f)
{
	char path[128], *text = NULL;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/pid", f->dir);
	for (int i = 0; i < 500 && !(text = slurp(path)); i++)
		usleep(10000);
	for (int i = 0; i < 500 && text && !strchr(text, '\n'); i++) {
		free(text);
		usleep(10000);
		text = slurp(path);
	}
	assert_non_null(text);
	pid = atoi(text);
	free(text);
	assert_true(pid > 1);
	return pid;
}

static uint64_t now_ms(void)
{
	return loop_now_ns(CLOCK_MONOTONIC) / 1000000;
}

/* Freed with a command running: killed, reaped, and recorded: nothing dropped. */
static void test_free_kills_running(void **state)
{
	struct fixture *f = *state;
	char *argv[] = { "/bin/sh", "-c", "echo $$ > \"$0/pid\"; exec sleep 30", f->dir, NULL };
	struct json_object *lines, *end;
	pid_t child;

	set_exec(&f->acts[0], argv, 0);
	f->rule.n_actions = 1;
	start_dispatch(f);
	assert_int_equal(actions_running(f->actions), 1);
	child = wait_pid_file(f);
	actions_free(f->actions);
	f->actions = NULL;
	/* Reaped by salved, so gone entirely. */
	assert_int_equal(kill(child, 0), -1);
	assert_int_equal(f->n_action_lines, 1);
	assert_string_equal(get_str(outcome(f, 0), "outcome"), "interrupted");
	lines = journal_lines(f);
	assert_int_equal(json_object_array_length(lines), 2);
	end = json_object_array_get_idx(lines, 1);
	assert_string_equal(get_str(get(end, "outcome"), "outcome"), "interrupted");
	json_object_put(lines);
}

/* A long command: the incident's line comes at once, saying it runs. salved stops: it
 * waits for the bound, then kills the command's whole group; its line and the journal
 * say "interrupted", with what it wrote; the action behind it never starts. */
static void test_stop_interrupts(void **state)
{
	struct fixture *f = *state;
	char *argv[] = { "/bin/sh", "-c", "sleep 30 & echo $! > \"$0/pid\"; echo started; wait",
			 f->dir, NULL };
	struct json_object *lines, *o;
	uint64_t t0, waited;
	pid_t grandchild;

	set_exec(&f->acts[0], argv, 20000000000ULL);
	f->acts[0].output_max = 4096;
	f->acts[1] = (struct policy_action){ .kind = POLICY_ACTION_LOG, .message = "after" };
	f->rule.n_actions = 2;
	start_dispatch(f);
	assert_int_equal(f->n_action_lines, 0);
	assert_int_equal(json_object_array_length(get(f->result, "actions")), 2);
	assert_string_equal(get_str(entry(f, 0), "state"), "running");
	assert_int_equal(json_object_get_int64(get(entry(f, 0), "timeout_ms")), 20000);
	assert_string_equal(get_str(entry(f, 1), "state"), "queued");
	grandchild = wait_pid_file(f);

	t0 = now_ms();
	assert_int_equal(actions_stop(f->actions, 300000000ULL), 0);
	waited = now_ms() - t0;
	assert_true(waited >= 300);
	assert_true(waited < 5000);
	assert_int_equal(actions_running(f->actions), 0);
	assert_int_equal(f->n_action_lines, 2);
	o = outcome(f, 0);
	assert_string_equal(get_str(o, "do"), "exec");
	assert_string_equal(get_str(o, "outcome"), "interrupted");
	assert_true(json_object_get_int64(get(o, "duration_ms")) >= 300);
	assert_string_equal(get_str(o, "output"), "started\n");
	assert_string_equal(get_str(outcome(f, 1), "outcome"), "skipped: salved stopping");
	for (int i = 0; i < 100 && !dead(grandchild); i++)
		usleep(10000);
	assert_true(dead(grandchild));

	/* The journal ended the command as interrupted; the log never began. */
	lines = journal_lines(f);
	assert_int_equal(json_object_array_length(lines), 2);
	assert_string_equal(get_str(json_object_array_get_idx(lines, 0), "type"), "begin");
	o = json_object_array_get_idx(lines, 1);
	assert_string_equal(get_str(o, "type"), "end");
	assert_string_equal(get_str(get(o, "outcome"), "outcome"), "interrupted");
	json_object_put(lines);

	/* A rule that fires while salved stops runs nothing, and says so. */
	f->acts[0] = (struct policy_action){ .kind = POLICY_ACTION_LOG };
	f->rule.n_actions = 1;
	f->inc.id = 8;
	dispatch(f);
	assert_string_equal(get_str(entry(f, 0), "outcome"), "skipped: salved stopping");
	assert_string_equal(get_str(outcome(f, 0), "outcome"), "skipped: salved stopping");
}

/* A command that ends within the bound is waited for, and ends as it would have. */
static void test_stop_waits(void **state)
{
	struct fixture *f = *state;
	char *argv[] = { "/bin/sh", "-c", "sleep 0.3; exit 4", NULL };
	uint64_t t0, waited;

	set_exec(&f->acts[0], argv, 0);
	f->acts[1] = (struct policy_action){ .kind = POLICY_ACTION_LOG };
	f->rule.n_actions = 2;
	start_dispatch(f);
	t0 = now_ms();
	assert_int_equal(actions_stop(f->actions, 5000000000ULL), 0);
	waited = now_ms() - t0;
	assert_true(waited < 4000);
	assert_int_equal(f->n_action_lines, 2);
	assert_string_equal(get_str(outcome(f, 0), "outcome"), "exited");
	assert_int_equal(json_object_get_int(get(outcome(f, 0), "status")), 4);
	assert_string_equal(get_str(outcome(f, 1), "outcome"), "skipped: salved stopping");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exec_stdin_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_missing_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signal_kills_child, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signal_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signal_pid_taken_over, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dry_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_large_stdin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_actions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_kills_running, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_interrupts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_waits, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
