/* actions: the dispatcher. One job per incident, its actions one after the other. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <time.h>
#include <unistd.h>

#include "actions/actions.h"
#include "events/report.h"
#include "actions/action.h"
#include "base/log.h"

static const struct action_ops *const ops_of[POLICY_ACTION_KIND_COUNT] = {
	[POLICY_ACTION_LOG] = &action_log_ops,
	[POLICY_ACTION_SIGNAL] = &action_signal_ops,
	[POLICY_ACTION_EXEC] = &action_exec_ops,
};

/* One incident's actions. It owns copies of everything: a reload may free the rule and
 * the engine reuses its incident before a command ends. */
struct job {
	struct actions *a;
	struct job *next;
	struct action_target target;
	char *rule, *policy, *exe, *probe, *incident_text;
	struct policy_action *acts;
	size_t n_acts, index;
	bool dry_run, budget_exhausted;
	struct json_object *incident; /* the line, "actions" filled as they end */
	struct action_run run;
	bool journaled; /* the running action has a begin entry, seq */
	uint64_t seq;
	bool pending;   /* the running action answered ACTION_PENDING */
	actions_done_fn *done;
	void *ctx;
};

struct actions {
	struct loop *loop;
	struct journal *journal;
	struct symbolizer *sym;
	int64_t realtime_offset_ns;
	struct job *jobs;
	size_t n_jobs;
};


int action_outcome(struct json_object *obj, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return report_add(obj, "outcome", json_object_new_string(text));
}

int actions_new(struct loop *loop, struct journal *journal, struct symbolizer *sym,
		struct actions **out)
{
	struct actions *a;

	if (!loop || !journal)
		return -EINVAL;
	if (!(a = calloc(1, sizeof(*a))))
		return -ENOMEM;
	a->loop = loop;
	a->journal = journal;
	a->sym = sym;
	a->realtime_offset_ns = loop_realtime_offset_ns();
	*out = a;
	return 0;
}

void actions_set_clock(struct actions *a, int64_t realtime_offset_ns)
{
	a->realtime_offset_ns = realtime_offset_ns;
}

size_t actions_running(const struct actions *a)
{
	return a->n_jobs;
}

static void action_clear(struct policy_action *act)
{
	free(act->message);
	for (size_t i = 0; act->argv && act->argv[i]; i++)
		free(act->argv[i]);
	free(act->argv);
}

static int action_copy(struct policy_action *dst, const struct policy_action *src)
{
	*dst = (struct policy_action){ .kind = src->kind, .signo = src->signo,
				       .argc = src->argc, .timeout_ns = src->timeout_ns,
				       .output_max = src->output_max };
	if (src->message && !(dst->message = strdup(src->message)))
		goto err;
	if (src->argv) {
		if (!(dst->argv = calloc(src->argc + 1, sizeof(*dst->argv))))
			goto err;
		for (size_t i = 0; i < src->argc && src->argv[i]; i++)
			if (!(dst->argv[i] = strdup(src->argv[i])))
				goto err;
	}
	return 0;
err:
	action_clear(dst);
	return -ENOMEM;
}

static void job_free(struct job *jb)
{
	if (!jb)
		return;
	for (size_t i = 0; i < jb->n_acts; i++)
		action_clear(&jb->acts[i]);
	free(jb->acts);
	if (jb->target.pidfd >= 0)
		close(jb->target.pidfd);
	json_object_put(jb->incident);
	json_object_put(jb->run.outcome);
	free(jb->rule);
	free(jb->policy);
	free(jb->exe);
	free(jb->probe);
	free(jb->incident_text);
	free(jb);
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

/* When pid's process started, in CLOCK_BOOTTIME ns to the kernel's clock tick (field
 * 22 of /proc/PID/stat, after the command name, which may hold spaces and parentheses);
 * 0 when it cannot be read. */
static uint64_t process_start_ns(uint32_t pid)
{
	char path[32], buf[1024], *p;
	unsigned long long ticks;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	if (!(f = fopen(path, "re")))
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (hz <= 0 || !(p = strrchr(buf, ')')) ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
			  "%*d %*d %llu", &ticks) != 1)
		return 0;
	return ticks * (1000000000ull / (unsigned long long)hz);
}

/* A pidfd now, so a signal sent later cannot hit a process that took the pid over; and
 * none for a process that started after the events, which took the pid over before. */
static void open_pidfd(struct job *jb, uint64_t events_ns)
{
	bool wanted = false;

	for (size_t i = 0; i < jb->n_acts; i++)
		wanted |= jb->acts[i].kind == POLICY_ACTION_SIGNAL;
	jb->target.pidfd = -1;
	if (!wanted || jb->dry_run || jb->budget_exhausted || jb->target.pid <= 1)
		return;
	jb->target.pidfd = pidfd_open((pid_t)jb->target.pid, 0);
	if (jb->target.pidfd < 0) {
		jb->target.pidfd_err = -errno;
		return;
	}
	/* Read once the pidfd holds the process: it cannot change under the check. */
	if (process_start_ns(jb->target.pid) > events_ns) {
		close(jb->target.pidfd);
		jb->target.pidfd = -1;
		jb->target.pidfd_err = -ESTALE;
	}
}

static int job_new(struct actions *a, const struct incident *inc, struct job **out)
{
	const struct policy_rule *rule = inc->rule;
	struct job *jb = calloc(1, sizeof(*jb));
	int err;

	if (!jb)
		return -ENOMEM;
	jb->a = a;
	jb->target.pidfd = -1;
	jb->dry_run = inc->dry_run;
	jb->budget_exhausted = inc->budget_exhausted;
	jb->rule = dup_or_empty(rule ? rule->id : NULL);
	jb->policy = dup_or_empty(rule && rule->policy ? rule->policy->name : NULL);
	jb->exe = dup_or_empty(inc->exe);
	jb->probe = dup_or_empty(incident_first_probe(inc));
	if (!jb->rule || !jb->policy || !jb->exe || !jb->probe)
		goto nomem;
	if (rule && rule->n_actions) {
		if (!(jb->acts = calloc(rule->n_actions, sizeof(*jb->acts))))
			goto nomem;
		for (; jb->n_acts < rule->n_actions; jb->n_acts++)
			if (action_copy(&jb->acts[jb->n_acts], &rule->actions[jb->n_acts]))
				goto nomem;
	}
	if ((err = incident_to_json(inc, a->sym, a->realtime_offset_ns, &jb->incident)))
		goto err;
	jb->target = (struct action_target){
		.incident_id = inc->id, .rule = jb->rule, .policy = jb->policy, .pid = inc->pid,
		.exe_dev = inc->exe_dev, .exe_ino = inc->exe_ino, .exe = jb->exe,
		.probe = jb->probe, .events = incident_events(inc),
	};
	open_pidfd(jb, inc->boot_ns);
	*out = jb;
	return 0;
nomem:
	err = -ENOMEM;
err:
	job_free(jb);
	return err;
}

/* The running action ended (its outcome set): journal it, add it to the line. */
static void job_record(struct job *jb)
{
	struct json_object *actions;
	int err;

	if (jb->journaled && (err = journal_end(jb->a->journal, jb->seq, jb->run.outcome)))
		salve_log(LOG_ERR, "journal %s: cannot record the end of entry %llu "
			  "(incident %llu, rule %s): %s", journal_path(jb->a->journal),
			  (unsigned long long)jb->seq, (unsigned long long)jb->target.incident_id,
			  jb->rule, strerror(-err));
	jb->journaled = false;
	jb->pending = false;
	if (json_object_object_get_ex(jb->incident, "actions", &actions) &&
	    !json_object_array_add(actions, jb->run.outcome))
		jb->run.outcome = NULL;
	json_object_put(jb->run.outcome);
	jb->run.outcome = NULL;
	jb->index++;
}

static void job_finish(struct action_run *run);

/* Begin action jb->index: 0 when it already ended, ACTION_PENDING when it runs on. */
static int job_start(struct job *jb)
{
	const struct policy_action *act = &jb->acts[jb->index];
	const struct action_ops *ops = act->kind < POLICY_ACTION_KIND_COUNT ? ops_of[act->kind]
									   : NULL;
	struct json_object *o = json_object_new_object();
	const char *text;
	int err;

	jb->run = (struct action_run){ .action = act, .target = &jb->target, .loop = jb->a->loop,
				       .outcome = o, .finish = job_finish };
	if (!o)
		return 0; /* out of memory: the line goes out without this outcome */
	if (!ops) {
		report_add(o, "do", json_object_new_int(act->kind));
		action_outcome(o, "failed: unknown action kind %d", act->kind);
		return 0;
	}
	if ((err = report_add(o, "do", json_object_new_string(ops->name))) ||
	    (err = ops->describe(act, &jb->target, o))) {
		action_outcome(o, "failed: %s", strerror(-err));
		return 0;
	}
	if (jb->budget_exhausted) {
		action_outcome(o, "skipped: budget");
		return 0;
	}
	/* Journal first: an action that could not be recorded does not run. */
	if ((err = journal_begin(jb->a->journal,
				 &(struct journal_subject){ jb->target.incident_id, jb->rule,
							    jb->policy, jb->target.pid, jb->exe },
				 jb->index, o, &jb->seq))) {
		salve_log(LOG_ERR, "journal %s: cannot record action %zu of incident %llu "
			  "(rule %s), not running it: %s", journal_path(jb->a->journal),
			  jb->index, (unsigned long long)jb->target.incident_id, jb->rule,
			  strerror(-err));
		action_outcome(o, "failed: journal: %s", strerror(-err));
		return 0;
	}
	jb->journaled = true;
	if (jb->dry_run) {
		action_outcome(o, "dry-run");
		return 0;
	}
	free(jb->incident_text);
	text = json_object_to_json_string_ext(jb->incident, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
	jb->incident_text = strdup(text ? text : "{}");
	jb->target.incident_json = jb->incident_text ? jb->incident_text : "{}";
	return ops->start(&jb->run);
}

static void job_unlink(struct job *jb)
{
	for (struct job **p = &jb->a->jobs; *p; p = &(*p)->next) {
		if (*p == jb) {
			*p = jb->next;
			jb->a->n_jobs--;
			return;
		}
	}
}

/* Run actions until one waits; when none is left, hand the line over and let go. */
static void job_step(struct job *jb)
{
	while (jb->index < jb->n_acts) {
		if (job_start(jb) == ACTION_PENDING) {
			jb->pending = true;
			return;
		}
		job_record(jb);
	}
	job_unlink(jb);
	if (jb->done)
		jb->done(jb->ctx, jb->incident);
	job_free(jb);
}

static void job_finish(struct action_run *run)
{
	struct job *jb = (struct job *)((char *)run - offsetof(struct job, run));

	job_record(jb);
	job_step(jb);
}

int actions_dispatch(struct actions *a, const struct incident *inc, actions_done_fn *done,
		     void *ctx)
{
	struct job *jb;
	int err;

	if ((err = job_new(a, inc, &jb)))
		return err;
	jb->done = done;
	jb->ctx = ctx;
	jb->next = a->jobs;
	a->jobs = jb;
	a->n_jobs++;
	job_step(jb);
	return 0;
}

void actions_free(struct actions *a)
{
	if (!a)
		return;
	while (a->jobs) {
		struct job *jb = a->jobs;
		const struct action_ops *ops = NULL;

		if (jb->pending && jb->index < jb->n_acts &&
		    jb->acts[jb->index].kind < POLICY_ACTION_KIND_COUNT)
			ops = ops_of[jb->acts[jb->index].kind];
		a->jobs = jb->next;
		if (ops && ops->cancel) {
			ops->cancel(&jb->run);
			job_record(jb);
		}
		job_free(jb);
	}
	free(a);
}
