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
#include "actions/repair.h"
#include "base/log.h"
#include "base/tally.h"

static const struct action_ops *const ops_of[POLICY_ACTION_KIND_COUNT] = {
	[POLICY_ACTION_LOG] = &action_log_ops,
	[POLICY_ACTION_SIGNAL] = &action_signal_ops,
	[POLICY_ACTION_EXEC] = &action_exec_ops,
	[POLICY_ACTION_OVERRIDE] = &action_override_ops,
	[POLICY_ACTION_REDIRECT] = &action_redirect_ops,
	[POLICY_ACTION_RESCUE] = &action_rescue_ops,
	[POLICY_ACTION_BREAKER] = &action_breaker_ops,
	[POLICY_ACTION_CHECKPOINT] = &action_checkpoint_ops,
	[POLICY_ACTION_RESTORE] = &action_restore_ops,
};

/* One incident's actions. It owns copies of everything: a reload may free the rule and
 * the engine reuses its incident before a command ends. */
struct job {
	struct actions *a;
	struct job *next;
	struct action_target target;
	char *rule, *policy, *exe, *probe, *incident_text;
	char *probes[INCIDENT_LEAVES_MAX];
	size_t n_probes;
	struct policy_action *acts;
	size_t n_acts, index;
	bool dry_run, budget_exhausted;
	struct json_object *incident; /* the line as it stands, "actions" kept up to date */
	struct json_object *held;     /* action lines that ended before the incident's was
				       * written: they follow it */
	bool announced;               /* the incident's line was written */
	struct action_run run;
	bool journaled; /* the running action has a begin entry, seq */
	uint64_t seq;
	bool pending;   /* the running action answered ACTION_PENDING */
	actions_line_fn *line;
	void *ctx;
};

struct actions {
	struct loop *loop;
	struct journal *journal;
	int64_t realtime_offset_ns;
	struct job *jobs;
	size_t n_jobs;
	struct repairs *repairs;
	struct checkpoints *checkpoints;
	bool stopping; /* no action starts any more */
	bool draining; /* actions_stop runs the loop until the last job ends */
	struct tally *ended; /* actions that ended, by (do, outcome up to its colon) */
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

int actions_new(struct loop *loop, struct journal *journal,
		struct actions **out)
{
	struct actions *a;

	if (!loop || !journal)
		return -EINVAL;
	if (!(a = calloc(1, sizeof(*a))))
		return -ENOMEM;
	if (tally_new(2, &a->ended)) {
		free(a);
		return -ENOMEM;
	}
	a->loop = loop;
	a->journal = journal;
	a->realtime_offset_ns = loop_realtime_offset_ns();
	*out = a;
	return 0;
}

void actions_set_clock(struct actions *a, int64_t realtime_offset_ns)
{
	a->realtime_offset_ns = realtime_offset_ns;
}

void actions_set_repairs(struct actions *a, struct repairs *r)
{
	a->repairs = r;
}

void actions_set_checkpoints(struct actions *a, struct checkpoints *c)
{
	a->checkpoints = c;
}

size_t actions_running(const struct actions *a)
{
	return a->n_jobs;
}

const struct tally *actions_ended(const struct actions *a)
{
	return a->ended;
}

/* The action that ended, counted by what it was and its outcome's first word(s). */
static void count_ended(struct actions *a, struct json_object *outcome)
{
	struct json_object *what, *how;
	char word[64];
	const char *text;

	if (!json_object_object_get_ex(outcome, "do", &what) ||
	    !json_object_object_get_ex(outcome, "outcome", &how) || !(text = json_object_get_string(how)))
		return;
	snprintf(word, sizeof(word), "%.*s", (int)strcspn(text, ":"), text);
	tally_add(a->ended, (const char *[]){ json_object_get_string(what), word }, 1);
}

static void action_clear(struct policy_action *act)
{
	free(act->message);
	free(act->binary);
	free(act->symbol);
	free(act->to);
	free(act->from);
	free(act->library);
	free(act->build_id);
	for (size_t i = 0; act->argv && act->argv[i]; i++)
		free(act->argv[i]);
	free(act->argv);
	for (size_t i = 0; act->at && act->at[i]; i++)
		free(act->at[i]);
	free(act->at);
}

static int action_copy(struct policy_action *dst, const struct policy_action *src)
{
	*dst = (struct policy_action){ .kind = src->kind, .signo = src->signo,
				       .argc = src->argc, .timeout_ns = src->timeout_ns,
				       .output_max = src->output_max, .ret = src->ret,
				       .has_when = src->has_when, .when_arg = src->when_arg,
				       .when_pred = src->when_pred, .n_at = src->n_at,
				       .window_ns = src->window_ns,
				       .has_endpoint = src->has_endpoint, .endpoint = src->endpoint,
				       .open_for_ns = src->open_for_ns,
				       .max_open_for_ns = src->max_open_for_ns,
				       .half_open_calls = src->half_open_calls,
				       .half_open_watch_ns = src->half_open_watch_ns,
				       .backend = src->backend, .keep = src->keep };
	if ((src->message && !(dst->message = strdup(src->message))) ||
	    (src->binary && !(dst->binary = strdup(src->binary))) ||
	    (src->symbol && !(dst->symbol = strdup(src->symbol))) ||
	    (src->to && !(dst->to = strdup(src->to))) ||
	    (src->from && !(dst->from = strdup(src->from))) ||
	    (src->library && !(dst->library = strdup(src->library))) ||
	    (src->build_id && !(dst->build_id = strdup(src->build_id))))
		goto err;
	if (src->argv) {
		if (!(dst->argv = calloc(src->argc + 1, sizeof(*dst->argv))))
			goto err;
		for (size_t i = 0; i < src->argc && src->argv[i]; i++)
			if (!(dst->argv[i] = strdup(src->argv[i])))
				goto err;
	}
	if (src->at) {
		if (!(dst->at = calloc(src->n_at + 1, sizeof(*dst->at))))
			goto err;
		for (size_t i = 0; i < src->n_at; i++)
			if (!(dst->at[i] = strdup(src->at[i])))
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
	json_object_put(jb->held);
	json_object_put(jb->run.outcome);
	free(jb->rule);
	free(jb->policy);
	free(jb->exe);
	free(jb->probe);
	for (size_t i = 0; i < jb->n_probes; i++)
		free(jb->probes[i]);
	free(jb->incident_text);
	free(jb);
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

/* A pidfd now, so a signal sent (or a checkpoint taken) later cannot hit a process that
 * took the pid over; and
 * none for a process that started after the events, which took the pid over before. */
static void open_pidfd(struct job *jb, uint64_t events_ns)
{
	bool wanted = false;

	for (size_t i = 0; i < jb->n_acts; i++)
		wanted |= jb->acts[i].kind == POLICY_ACTION_SIGNAL ||
			  jb->acts[i].kind == POLICY_ACTION_CHECKPOINT;
	jb->target.pidfd = -1;
	if (!wanted || jb->dry_run || jb->budget_exhausted || jb->target.pid <= 1)
		return;
	jb->target.pidfd = pidfd_open((pid_t)jb->target.pid, 0);
	if (jb->target.pidfd < 0) {
		jb->target.pidfd_err = -errno;
		return;
	}
	/* Read once the pidfd holds the process: it cannot change under the check. */
	if (repair_process_start_ns(jb->target.pid) > events_ns) {
		close(jb->target.pidfd);
		jb->target.pidfd = -1;
		jb->target.pidfd_err = -ESTALE;
	}
}

/* What act will do: {"do", its parameters}, or with "outcome" already when it cannot be
 * described. NULL when out of memory. */
static struct json_object *describe(const struct policy_action *act,
				    const struct action_target *t)
{
	const struct action_ops *ops = act->kind < POLICY_ACTION_KIND_COUNT ? ops_of[act->kind]
									   : NULL;
	struct json_object *o = json_object_new_object();
	int err;

	if (!o)
		return NULL;
	if (!ops) {
		report_add(o, "do", json_object_new_int(act->kind));
		action_outcome(o, "failed: unknown action kind %d", act->kind);
		return o;
	}
	if ((err = report_add(o, "do", json_object_new_string(ops->name))) ||
	    (err = ops->describe(act, t, o)))
		action_outcome(o, "failed: %s", strerror(-err));
	return o;
}

/* Entry index of the incident line's "actions": {"index", "do", "state", then the rest
 * of from}. NULL when out of memory. */
static struct json_object *entry_new(size_t index, struct json_object *from, const char *state)
{
	struct json_object *e = json_object_new_object(), *v;
	int err;

	if (!e)
		return NULL;
	err = report_add(e, "index", json_object_new_uint64(index));
	if (!err && json_object_object_get_ex(from, "do", &v))
		err = report_add(e, "do", json_object_get(v));
	err = err ?: report_add(e, "state", json_object_new_string(state));
	json_object_object_foreach(from, key, val) {
		if (!err && strcmp(key, "do"))
			err = report_add(e, key, json_object_get(val));
	}
	if (err) {
		json_object_put(e);
		return NULL;
	}
	return e;
}

/* The running action's entry in the incident line is now in state, from its outcome. */
static void entry_set(struct job *jb, const char *state)
{
	struct json_object *actions, *e;

	if (!jb->run.outcome || !json_object_object_get_ex(jb->incident, "actions", &actions) ||
	    !(e = entry_new(jb->index, jb->run.outcome, state)))
		return;
	if (json_object_array_put_idx(actions, jb->index, e) < 0)
		json_object_put(e);
}

/* Every action queued in the incident line's "actions". */
static int entries_new(struct job *jb)
{
	struct json_object *actions;

	if (!json_object_object_get_ex(jb->incident, "actions", &actions))
		return -EINVAL;
	for (size_t i = 0; i < jb->n_acts; i++) {
		struct json_object *d = describe(&jb->acts[i], &jb->target);
		struct json_object *e = d ? entry_new(i, d, "queued") : NULL;

		json_object_put(d);
		if (!e || json_object_array_add(actions, e) < 0) {
			json_object_put(e);
			return -ENOMEM;
		}
	}
	return 0;
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
	for (size_t i = 0; i < inc->n_counts && i < INCIDENT_LEAVES_MAX; i++)
		if (inc->counts[i].probe_id &&
		    !(jb->probes[jb->n_probes++] = strdup(inc->counts[i].probe_id)))
			goto nomem;
	if (!jb->rule || !jb->policy || !jb->exe || !jb->probe ||
	    !(jb->held = json_object_new_array()))
		goto nomem;
	if (rule && rule->n_actions) {
		if (!(jb->acts = calloc(rule->n_actions, sizeof(*jb->acts))))
			goto nomem;
		for (; jb->n_acts < rule->n_actions; jb->n_acts++)
			if (action_copy(&jb->acts[jb->n_acts], &rule->actions[jb->n_acts]))
				goto nomem;
	}
	if ((err = incident_to_json(inc, a->realtime_offset_ns, &jb->incident)))
		goto err;
	jb->target = (struct action_target){
		.incident_id = inc->id, .rule = jb->rule, .policy = jb->policy, .pid = inc->pid,
		.exe_dev = inc->exe_dev, .exe_ino = inc->exe_ino, .exe = jb->exe,
		.probe = jb->probe, .events = incident_events(inc),
		.probes = (const char *const *)jb->probes, .n_probes = jb->n_probes,
		.budget = rule ? rule->budget : 0,
		.by_binary = rule && rule->policy && policy_scope_binaries_only(&rule->policy->scope),
	};
	if ((err = entries_new(jb)))
		goto err;
	open_pidfd(jb, inc->boot_ns);
	*out = jb;
	return 0;
nomem:
	err = -ENOMEM;
err:
	job_free(jb);
	return err;
}

/* The {"kind":"action"} line of the running action, its outcome set. */
static struct json_object *action_line(struct job *jb)
{
	struct json_object *o = json_object_new_object();
	char when[64];
	int err;

	if (!o)
		return NULL;
	if (report_time(loop_now_ns(CLOCK_BOOTTIME) + (uint64_t)jb->a->realtime_offset_ns, when,
			sizeof(when)) < 0)
		when[0] = '\0';
	err = report_add(o, "time", json_object_new_string(when));
	err = err ?: report_add(o, "kind", json_object_new_string("action"));
	err = err ?: report_add(o, "incident", json_object_new_uint64(jb->target.incident_id));
	err = err ?: report_add(o, "rule", report_string(jb->rule));
	err = err ?: report_add(o, "policy", report_string(jb->policy));
	err = err ?: report_add(o, "index", json_object_new_uint64(jb->index));
	json_object_object_foreach(jb->run.outcome, key, val) {
		if (!err)
			err = report_add(o, key, json_object_get(val));
	}
	if (err) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* Hand line over: now, or after the incident's when that is not written yet. */
static void job_emit(struct job *jb, struct json_object *line)
{
	if (!jb->announced && !json_object_array_add(jb->held, line))
		return;
	if (jb->line)
		jb->line(jb->ctx, line);
	json_object_put(line);
}

/* The incident's line, then the lines of the actions that ended before it. */
static void job_announce(struct job *jb)
{
	jb->announced = true;
	if (jb->line)
		jb->line(jb->ctx, jb->incident);
	for (size_t i = 0; i < json_object_array_length(jb->held); i++)
		if (jb->line)
			jb->line(jb->ctx, json_object_array_get_idx(jb->held, i));
	json_object_put(jb->held);
	jb->held = NULL;
}

/* The journal fields of a message about the job's running action. */
static struct log_fields job_fields(const struct job *jb)
{
	const struct policy_action *act = jb->index < jb->n_acts ? &jb->acts[jb->index] : NULL;

	return (struct log_fields){ .rule = jb->rule, .policy = jb->policy, .pid = jb->target.pid,
				    .action = act && act->kind < POLICY_ACTION_KIND_COUNT ?
						      ops_of[act->kind]->name : NULL,
				    .incident = jb->target.incident_id };
}

/* The running action ended (its outcome set): journal it, then its line. */
static void job_record(struct job *jb)
{
	struct log_fields fields = job_fields(jb);
	struct json_object *line;
	int err;

	if (jb->journaled && (err = journal_end(jb->a->journal, jb->seq, jb->run.outcome)))
		salve_log_ctx(LOG_ERR, &fields, "journal %s: cannot record the end of entry %llu "
			      "(incident %llu, rule %s): %s", journal_path(jb->a->journal),
			      (unsigned long long)jb->seq, (unsigned long long)jb->target.incident_id,
			      jb->rule, strerror(-err));
	jb->journaled = false;
	jb->pending = false;
	entry_set(jb, "ended");
	if (jb->run.outcome)
		count_ended(jb->a, jb->run.outcome);
	if (jb->run.outcome && (line = action_line(jb)))
		job_emit(jb, line);
	else
		salve_log_ctx(LOG_ERR, &fields, "incident %llu (rule %s): action %zu ended, but its "
			      "line cannot be made: %s", (unsigned long long)jb->target.incident_id,
			      jb->rule, jb->index, strerror(ENOMEM));
	json_object_put(jb->run.outcome);
	jb->run.outcome = NULL;
	jb->index++;
}

static void job_finish(struct action_run *run);

/* Begin action jb->index: 0 when it already ended, ACTION_PENDING when it runs on. */
static int job_start(struct job *jb)
{
	const struct policy_action *act = &jb->acts[jb->index];
	struct json_object *o = describe(act, &jb->target);
	const char *text;
	int err;

	jb->run = (struct action_run){ .action = act, .target = &jb->target, .loop = jb->a->loop,
				       .outcome = o, .finish = job_finish, .repairs = jb->a->repairs,
				       .checkpoints = jb->a->checkpoints };
	if (!o || json_object_object_get_ex(o, "outcome", NULL))
		return 0; /* cannot be described: ended; out of memory: no line */
	if (jb->budget_exhausted) {
		action_outcome(o, "skipped: budget");
		return 0;
	}
	if (jb->a->stopping) {
		action_outcome(o, "skipped: salved stopping");
		return 0;
	}
	/* Journal first: an action that could not be recorded does not run. */
	if ((err = journal_begin(jb->a->journal,
				 &(struct journal_subject){ jb->target.incident_id, jb->rule,
							    jb->policy, jb->target.pid, jb->exe },
				 jb->index, o, &jb->seq))) {
		struct log_fields fields = job_fields(jb);

		salve_log_ctx(LOG_ERR, &fields, "journal %s: cannot record action %zu of incident "
			      "%llu (rule %s), not running it: %s", journal_path(jb->a->journal),
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
	entry_set(jb, "running");
	free(jb->incident_text);
	text = json_object_to_json_string_ext(jb->incident, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
	jb->incident_text = strdup(text ? text : "{}");
	jb->target.incident_json = jb->incident_text ? jb->incident_text : "{}";
	return ops_of[act->kind]->start(&jb->run);
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

/* Run actions until one waits; the incident's line goes out then at the latest. When
 * none is left, let go. */
static void job_step(struct job *jb)
{
	struct actions *a = jb->a;

	while (jb->index < jb->n_acts) {
		if (job_start(jb) == ACTION_PENDING) {
			jb->pending = true;
			break;
		}
		job_record(jb);
	}
	if (!jb->announced)
		job_announce(jb);
	if (jb->pending)
		return;
	job_unlink(jb);
	job_free(jb);
	if (a->draining && !a->n_jobs)
		loop_stop(a->loop);
}

static void job_finish(struct action_run *run)
{
	struct job *jb = (struct job *)((char *)run - offsetof(struct job, run));

	job_record(jb);
	job_step(jb);
}

int actions_dispatch(struct actions *a, const struct incident *inc, actions_line_fn *line,
		     void *ctx)
{
	struct job *jb;
	int err;

	if ((err = job_new(a, inc, &jb)))
		return err;
	jb->line = line;
	jb->ctx = ctx;
	jb->next = a->jobs;
	a->jobs = jb;
	a->n_jobs++;
	job_step(jb);
	return 0;
}

static int bound_reached(int fd, void *ctx)
{
	struct actions *a = ctx;
	uint64_t ticks;

	if (read(fd, &ticks, sizeof(ticks)) == sizeof(ticks))
		loop_stop(a->loop);
	return 0;
}

/* Let the running commands end within bound_ns, the loop running. */
static int drain(struct actions *a, uint64_t bound_ns)
{
	int timer = loop_timer_fd_ns(bound_ns, 0), err;

	if (timer < 0)
		return timer;
	if (!(err = loop_add(a->loop, timer, bound_reached, a))) {
		a->draining = true;
		err = loop_run(a->loop);
		a->draining = false;
		loop_remove(a->loop, timer);
	}
	close(timer);
	return err;
}

int actions_stop(struct actions *a, uint64_t bound_ns)
{
	int err = 0;

	a->stopping = true;
	if (a->n_jobs && bound_ns) {
		salve_log(LOG_INFO, "waiting up to %llu ms for the actions of %zu incident%s",
			  (unsigned long long)(bound_ns / 1000000), a->n_jobs,
			  a->n_jobs == 1 ? "" : "s");
		err = drain(a, bound_ns);
	}
	while (a->jobs) {
		struct job *jb = a->jobs;
		const struct action_ops *ops = ops_of[jb->acts[jb->index].kind];
		struct log_fields fields = job_fields(jb);

		/* Only a command pends, and it can be cancelled: killed, reaped, its
		 * outcome "interrupted". */
		ops->cancel(&jb->run);
		salve_log_ctx(LOG_WARNING, &fields, "incident %llu (rule %s): action %zu (%s) "
			      "interrupted: salved is stopping",
			      (unsigned long long)jb->target.incident_id, jb->rule, jb->index,
			      ops->name);
		job_record(jb);
		job_step(jb); /* the rest: skipped, and the job freed */
	}
	return err;
}

void actions_free(struct actions *a)
{
	if (!a)
		return;
	actions_stop(a, 0);
	tally_free(a->ended);
	free(a);
}
