/* exec: run a command, without a shell, with the incident as JSON on its stdin and key
 * fields in its environment; killed (its whole process group) past its timeout. What
 * it writes to stdout and stderr is kept, up to the action's "output" size, in its
 * outcome.
 *
 * Nothing here blocks salved's loop: the child is spawned, and its exit (a pidfd), its
 * output (a pipe) and its timeout (a timerfd) are watched by the loop. stdin is
 * written in full into the pipe before the child exists, the pipe grown to fit: a
 * child that never reads it cannot stall salved, and as salved holds the read end
 * until the spawn no write can raise SIGPIPE. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "actions/action.h"
#include "base/log.h"
#include "events/report.h"

#define EXEC_TIMEOUT_DEFAULT_NS (10ULL * 1000000000ULL)
#define EXEC_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define EXEC_ENV_MAX 9
#define EXEC_STDIN_MAX (16u << 20) /* the largest pipe asked for */

struct exec_state {
	pid_t pid;
	int pidfd, timerfd;
	int outfd;          /* the read end of its stdout and stderr; -1: none or closed */
	char *out;          /* what it wrote, up to the action's output_max */
	size_t out_len;
	bool out_cut;       /* it wrote more than that */
	bool timed_out;
	uint64_t start_ns;
};

static uint64_t timeout_of(const struct policy_action *action)
{
	return action->timeout_ns ? action->timeout_ns : EXEC_TIMEOUT_DEFAULT_NS;
}

static int exec_describe(const struct policy_action *action, const struct action_target *t,
			 struct json_object *obj)
{
	struct json_object *cmd = json_object_new_array();
	int err = report_add(obj, "command", cmd);

	(void)t;
	for (size_t i = 0; !err && action->argv && action->argv[i]; i++) {
		struct json_object *s = report_string(action->argv[i]);

		if (!s || json_object_array_add(cmd, s) < 0) {
			json_object_put(s);
			err = -ENOMEM;
		}
	}
	return err ?: report_add(obj, "timeout_ms",
				 json_object_new_uint64(timeout_of(action) / 1000000));
}

/* The child's environment: the incident's key fields and a PATH, nothing of salved's. */
static int make_env(const struct action_target *t, char *env[EXEC_ENV_MAX])
{
	int n = 0, r = 0;

	r |= asprintf(&env[n++], "SALVE_INCIDENT_ID=%" PRIu64, t->incident_id) < 0;
	r |= asprintf(&env[n++], "SALVE_RULE=%s", t->rule) < 0;
	r |= asprintf(&env[n++], "SALVE_POLICY=%s", t->policy) < 0;
	r |= asprintf(&env[n++], "SALVE_PID=%u", t->pid) < 0;
	r |= asprintf(&env[n++], "SALVE_BINARY=%s", t->exe) < 0;
	r |= asprintf(&env[n++], "SALVE_PROBE=%s", t->probe) < 0;
	r |= asprintf(&env[n++], "SALVE_EVENTS=%" PRIu64, t->events) < 0;
	r |= !(env[n++] = strdup(EXEC_PATH));
	env[n] = NULL;
	return r ? -ENOMEM : 0;
}

static void free_env(char *env[EXEC_ENV_MAX])
{
	for (int i = 0; i < EXEC_ENV_MAX - 1; i++)
		free(env[i]);
}

/* A pipe holding text, its write end closed: the child reads it, then end of file.
 * Returns the read end, or -errno; *truncated when the pipe could not hold it all. */
static int stdin_pipe(const char *text, bool *truncated)
{
	size_t len = strlen(text), off = 0;
	int fds[2];

	*truncated = false;
	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	/* 64 KiB by default; growing it may be refused (pipe-max-size), then the text is
	 * cut and the outcome says so. */
	if (len >= 65536)
		fcntl(fds[1], F_SETPIPE_SZ, (int)(len < EXEC_STDIN_MAX ? len + 1 : EXEC_STDIN_MAX));
	fcntl(fds[1], F_SETFL, O_NONBLOCK);
	while (off < len) {
		ssize_t n = write(fds[1], text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*truncated = true;
			break;
		}
		off += (size_t)n;
	}
	close(fds[1]);
	return fds[0];
}

/* stdin_fd becomes its stdin; out_fd (or /dev/null when -1) its stdout and stderr. */
static int spawn(const struct action_run *run, int stdin_fd, int out_fd, pid_t *pid)
{
	char *const *argv = run->action->argv;
	char *env[EXEC_ENV_MAX] = { 0 };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int err;

	if ((err = make_env(run->target, env))) {
		free_env(env);
		return err;
	}
	sigemptyset(&none);
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	/* Its own process group, so a timeout kills what it started too; salved's blocked
	 * signals (signalfd) and dispositions not inherited; only fds 0-2 open. */
	err = posix_spawn_file_actions_adddup2(&fa, stdin_fd, 0);
	if (out_fd >= 0)
		err = err ?: posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	else
		err = err ?: posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	err = err ?: posix_spawn_file_actions_adddup2(&fa, 1, 2);
	err = err ?: posix_spawn_file_actions_addchdir_np(&fa, "/");
	err = err ?: posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	err = err ?: posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
						     POSIX_SPAWN_SETSIGDEF);
	err = err ?: posix_spawnattr_setpgroup(&attr, 0);
	err = err ?: posix_spawnattr_setsigmask(&attr, &none);
	err = err ?: posix_spawnattr_setsigdefault(&attr, &all);
	err = err ?: posix_spawn(pid, argv[0], &fa, &attr, argv, env);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	free_env(env);
	return -err;
}

/* Read what the command wrote so far, keeping up to output_max bytes; false once it
 * closed its end (or reading failed). */
static bool read_output(struct action_run *run)
{
	struct exec_state *st = run->priv;
	char scrap[4096];

	for (;;) {
		size_t room = run->action->output_max - st->out_len;
		ssize_t n = room ? read(st->outfd, st->out + st->out_len, room) :
				   read(st->outfd, scrap, sizeof(scrap));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN;
		if (!n)
			return false;
		if (room)
			st->out_len += (size_t)n;
		else
			st->out_cut = true;
	}
}

static void close_output(struct action_run *run)
{
	struct exec_state *st = run->priv;

	if (st->outfd < 0)
		return;
	loop_remove(run->loop, st->outfd);
	close(st->outfd);
	st->outfd = -1;
}

static int exec_output(int fd, void *ctx)
{
	struct action_run *run = ctx;

	(void)fd;
	if (!read_output(run))
		close_output(run);
	return 0;
}

/* The output into the outcome, read to its end or to what there is now: a command
 * that left a child holding the pipe is not waited for. NUL bytes read as U+FFFD. */
static void add_output(struct action_run *run)
{
	struct exec_state *st = run->priv;

	if (!st->out)
		return;
	if (st->outfd >= 0 && !read_output(run))
		close_output(run);
	if (!st->out_len && !st->out_cut)
		return;
	for (size_t i = 0; i < st->out_len; i++)
		if (!st->out[i])
			st->out[i] = (char)0xff; /* not UTF-8: report_string replaces it */
	st->out[st->out_len] = 0;
	report_add(run->outcome, "output", report_string(st->out));
	if (st->out_cut)
		report_add(run->outcome, "output_truncated", json_object_new_boolean(true));
}

/* Close what st holds and free it, before or after the loop watched it. */
static void state_discard(struct exec_state *st)
{
	if (st->pidfd >= 0)
		close(st->pidfd);
	if (st->timerfd >= 0)
		close(st->timerfd);
	if (st->outfd >= 0)
		close(st->outfd);
	free(st->out);
	free(st);
}

static void state_close(struct action_run *run)
{
	struct exec_state *st = run->priv;

	close_output(run);
	if (st->timerfd >= 0)
		loop_remove(run->loop, st->timerfd);
	loop_remove(run->loop, st->pidfd);
	state_discard(st);
	run->priv = NULL;
}

/* The child was reaped with status: say how it ended. */
static void set_ended(struct action_run *run, int status, uint64_t duration_ns)
{
	struct exec_state *st = run->priv;
	struct json_object *o = run->outcome;

	if (st->timed_out) {
		action_outcome(o, "killed: timeout");
	} else if (WIFEXITED(status)) {
		action_outcome(o, "exited");
		report_add(o, "status", json_object_new_int(WEXITSTATUS(status)));
	} else if (WIFSIGNALED(status)) {
		const char *name = report_signal_name(WTERMSIG(status));

		if (name)
			action_outcome(o, "killed: %s", name);
		else
			action_outcome(o, "killed: signal %d", WTERMSIG(status));
	} else {
		action_outcome(o, "failed: wait status %#x", (unsigned)status);
	}
	report_add(o, "duration_ms", json_object_new_uint64(duration_ns / 1000000));
}

static int exec_exited(int fd, void *ctx)
{
	struct action_run *run = ctx;
	struct exec_state *st = run->priv;
	int status = 0;
	pid_t r;

	(void)fd;
	/* Its pid cannot be reused before this reaps it. */
	do
		r = waitpid(st->pid, &status, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return 0; /* woken for another reason: not gone yet */
	if (r < 0)
		action_outcome(run->outcome, "failed: waitpid: %s", strerror(errno));
	else
		set_ended(run, status, loop_now_ns(CLOCK_MONOTONIC) - st->start_ns);
	add_output(run);
	state_close(run);
	run->finish(run);
	return 0;
}

static int exec_timed_out(int fd, void *ctx)
{
	struct action_run *run = ctx;
	struct exec_state *st = run->priv;
	uint64_t ticks;

	if (read(fd, &ticks, sizeof(ticks)) != sizeof(ticks))
		return 0; /* not expired: a stale wake-up */
	st->timed_out = true;
	/* The group is the child's pid, held while the child is unreaped. */
	if (kill(-st->pid, SIGKILL) && errno != ESRCH)
		salve_log_ctx(LOG_WARNING, &(struct log_fields){ .rule = run->target->rule,
								 .policy = run->target->policy,
								 .pid = run->target->pid,
								 .action = "exec",
								 .incident = run->target->incident_id },
			      "exec %s (incident %" PRIu64 "): cannot kill it: %s",
			      run->action->argv[0], run->target->incident_id, strerror(errno));
	loop_remove(run->loop, st->timerfd);
	close(st->timerfd);
	st->timerfd = -1;
	return 0;
}

/* A child that cannot be watched is not left behind. */
static void kill_reap(pid_t pid)
{
	kill(-pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

static int exec_start(struct action_run *run)
{
	char *const *argv = run->action->argv;
	int fd, err, out_w = -1;
	struct exec_state *st;
	bool truncated;

	if (!argv || !argv[0] || argv[0][0] != '/')
		return action_outcome(run->outcome, "failed: the command must start with an "
				      "absolute path");
	if (!(st = calloc(1, sizeof(*st))))
		return action_outcome(run->outcome, "failed: %s", strerror(ENOMEM));
	st->pidfd = st->timerfd = st->outfd = -1;
	if (run->action->output_max) {
		int out[2];

		if (!(st->out = malloc(run->action->output_max + 1)) || pipe2(out, O_CLOEXEC)) {
			err = st->out ? errno : ENOMEM;
			state_discard(st);
			return action_outcome(run->outcome, "failed: its output: %s", strerror(err));
		}
		st->outfd = out[0];
		out_w = out[1];
	}
	if ((fd = stdin_pipe(run->target->incident_json, &truncated)) < 0) {
		if (out_w >= 0)
			close(out_w);
		state_discard(st);
		return action_outcome(run->outcome, "failed: pipe: %s", strerror(-fd));
	}
	if (truncated)
		report_add(run->outcome, "stdin_truncated", json_object_new_boolean(true));
	st->start_ns = loop_now_ns(CLOCK_MONOTONIC);
	err = spawn(run, fd, out_w, &st->pid);
	close(fd);
	if (out_w >= 0)
		close(out_w); /* the child's now: end of file once it and its own close it */
	if (err) {
		state_discard(st);
		return action_outcome(run->outcome, "failed: %s: %s", argv[0], strerror(-err));
	}
	if ((st->pidfd = pidfd_open(st->pid, 0)) < 0) {
		err = -errno;
		goto kill;
	}
	if ((st->timerfd = loop_timer_fd_ns(timeout_of(run->action), 0)) < 0) {
		err = st->timerfd;
		goto kill;
	}
	if (st->outfd >= 0 && fcntl(st->outfd, F_SETFL, O_NONBLOCK)) {
		err = -errno;
		goto kill;
	}
	run->priv = st;
	if ((err = loop_add(run->loop, st->pidfd, exec_exited, run)))
		goto kill;
	if ((err = loop_add(run->loop, st->timerfd, exec_timed_out, run))) {
		loop_remove(run->loop, st->pidfd);
		goto kill;
	}
	if (st->outfd >= 0 && (err = loop_add(run->loop, st->outfd, exec_output, run))) {
		loop_remove(run->loop, st->pidfd);
		loop_remove(run->loop, st->timerfd);
		goto kill;
	}
	return ACTION_PENDING;
kill:
	kill_reap(st->pid);
	state_discard(st);
	run->priv = NULL;
	return action_outcome(run->outcome, "failed: cannot watch the command: %s",
			      strerror(-err));
}

static void exec_cancel(struct action_run *run)
{
	struct exec_state *st = run->priv;
	int status = 0;

	if (!st)
		return;
	kill(-st->pid, SIGKILL);
	while (waitpid(st->pid, &status, 0) < 0 && errno == EINTR)
		;
	action_outcome(run->outcome, "interrupted");
	report_add(run->outcome, "duration_ms",
		   json_object_new_uint64((loop_now_ns(CLOCK_MONOTONIC) - st->start_ns) / 1000000));
	add_output(run);
	state_close(run);
}

const struct action_ops action_exec_ops = {
	.name = "exec",
	.describe = exec_describe,
	.start = exec_start,
	.cancel = exec_cancel,
};
