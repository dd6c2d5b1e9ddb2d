/* salved: wires the stages together (its options are options.c's, its answers to
 * salvectl control.c's). Options, privileges, then
 * policy -> scope plan -> probes -> ring buffer -> pipeline -> JSON lines, in one epoll
 * loop with a signalfd (INT/TERM stop, HUP reloads) and a timerfd for periodic work. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "actions/actions.h"
#include "actions/breakers.h"
#include "actions/checkpoints.h"
#include "actions/criu.h"
#include "actions/repairs.h"
#include "kernel/baseline.h"
#include "kernel/entry.h"
#include "kernel/netbreak.h"
#include "kernel/override.h"
#include "ctl/ctl.h"
#include "ctl/feed.h"
#include "ctl/incidents.h"
#include "ctl/policy_watch.h"
#include "engine/engine.h"
#include "events/events.h"
#include "actions/journal.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/notify.h"
#include "base/output.h"
#include "events/pipeline.h"
#include "policy/policy.h"
#include "kernel/probes.h"
#include "events/report.h"
#include "kernel/scope.h"
#include "kernel/scope_watch.h"
#include "kernel/sites.h"
#include "events/stall.h"
#include "base/sys.h"
#include "base/tally.h"
#include "ctl/http.h"
#include "salved.h"

#define TICK_MS 1000
#define BREAKER_TICK_MS 50
#define ACTIONS_STOP_NS (5ULL * 1000000000ULL) /* at a stop, what running actions get */
/* Ticks between looks at the scope's names (stat, no ELF), for what inotify misses. */
#define SCOPE_RECHECK_TICKS 30

static int build_plan(struct daemon *d, const struct policy_set *set, struct scope_plan *plan)
{
	struct scope_opts so = { sys_cgroup2_root(), d->opt.rate, d->opt.burst };
	char err[512];
	int rc = scope_plan_build(set, &so, plan, err, sizeof(err));

	if (rc)
		salve_log(LOG_ERR, "%s", err);
	return rc;
}

static void config_clear(struct config *c)
{
	scope_plan_clear(&c->plan);
	sites_plan_clear(&c->sites);
	policy_set_free(c->set);
	*c = (struct config){ 0 };
}

/* The pipeline matches records against the configurations they were decided by. */
static void publish_configs(struct daemon *d)
{
	struct pipeline_config cur = { d->cur.set, &d->cur.sites, d->cur.first_gen, d->cur.last_gen };
	struct pipeline_config prev = { d->prev.set, &d->prev.sites, d->prev.first_gen,
					d->prev.last_gen };

	pipeline_set_configs(d->pipeline, &cur, d->prev.set ? &prev : NULL);
}

/* Put next, planned, with its rules prepared, in force instead of d->cur: attach its
 * new sites beside the running ones; stage its scope in the kernel's other slot; then
 * switch scope, sites and rules together and detach what went. A failure at any step
 * undoes the steps before it (allocating nothing) and discards rules: the running
 * configuration stays exactly as it was, kernel side included, and next is the
 * caller's to clear. On success next is d->cur, and d->cur the previous one. Records
 * written before the switch are still matched against the configuration that decided
 * them. 0, or -errno and err saying why. */
static int switch_config(struct daemon *d, struct config *next, struct engine_rules *rules,
			 char *err, size_t err_len)
{
	struct sites_kernel k = sites_kernel_probes(d->probes);
	uint32_t gen;
	int rc;

	pipeline_flush(d->pipeline); /* events held so far meet the rules they came under */
	pipeline_warm(d->pipeline, next->set);
	if ((rc = sites_stage(&k, &d->cur.sites, &next->sites, err, err_len)))
		goto undo_rules;
	if ((rc = probes_scope_stage(d->probes, &next->plan.cfg, next->plan.entries,
				     next->plan.n_entries, &gen))) {
		snprintf(err, err_len, "the kernel refused the new scope: %s", strerror(-rc));
		goto undo_sites;
	}
	if ((rc = probes_scope_commit(d->probes))) {
		snprintf(err, err_len, "the kernel refused the switch to the new scope: %s",
			 strerror(-rc));
		probes_scope_abort(d->probes);
		goto undo_sites;
	}
	/* In force from here; nothing below fails. */
	sites_commit(&k, &d->cur.sites, &next->sites);
	engine_rules_commit(d->engine, rules);
	scope_plan_report(&d->cur.plan, &next->plan);
	next->first_gen = next->last_gen = gen;
	config_clear(&d->prev);
	d->prev = d->cur;
	d->cur = *next;
	*next = (struct config){ 0 };
	publish_configs(d);
	return 0;
undo_sites:
	sites_abort(&k, &d->cur.sites, &next->sites);
undo_rules:
	engine_rules_discard(rules);
	return rc;
}

/* Whether the loaded policies have a rule of that id (a repair of a rule gone is undone),
 * and whether its policy is scoped by binary alone. */
static bool rule_loaded(void *ctx, const char *rule, bool *by_binary)
{
	const struct daemon *d = ctx;

	for (size_t i = 0; d->cur.set && i < d->cur.set->n_policies; i++) {
		const struct policy *p = &d->cur.set->policies[i];

		for (size_t j = 0; j < p->n_rules; j++) {
			if (!strcmp(p->rules[j].id, rule)) {
				*by_binary = policy_scope_binaries_only(&p->scope);
				return true;
			}
		}
	}
	return false;
}

/* Repairs reach the processes of a binary started later: stopped at their entry. */
static int on_stand(void *ctx, const char *exe, uint32_t cookie, char *err, size_t err_len)
{
	struct daemon *d = ctx;

	return entry_attach(d->entry, exe, cookie, err, err_len);
}

static void on_unstand(void *ctx, uint32_t cookie)
{
	struct daemon *d = ctx;

	entry_detach(d->entry, cookie);
}

static void on_entry_stopped(void *ctx, uint32_t pid, uint32_t cookie)
{
	struct daemon *d = ctx;

	repairs_entry_stopped(d->repairs, pid, cookie);
}

/* Every error of a policy set that cannot load, one log line each. */
static void log_policy_errors(const struct policy_errors *errs, const char *path)
{
	for (size_t i = 0; i < errs->n; i++)
		salve_log(LOG_ERR, "%s", errs->msgs[i]);
	if (errs->stopped)
		salve_log(LOG_ERR, "%s: stopped after %d errors", path, POLICY_ERRORS_MAX);
}

/* Reload as a transaction: validate and plan the whole new set, prepare its rules, then
 * switch_config. A broken policy, or a step the kernel refuses, leaves the running
 * configuration as it was. check: only say, into *change, what would attach and detach.
 * 0, or -errno and err saying why. */
/* A reload refused: said, and kept for salvectl status unless it was only a check. */
static void reload_refused(struct daemon *d, bool check, const char *err)
{
	salve_log(LOG_ERR, "reload refused, the running policy stays: %s", err);
	if (check)
		return;
	d->last_reload.at_ns = loop_now_ns(CLOCK_REALTIME);
	d->last_reload.ok = false;
	snprintf(d->last_reload.error, sizeof(d->last_reload.error), "%s", err);
}

int daemon_reload(struct daemon *d, bool check, struct json_object *change, char *err,
		  size_t err_len)
{
	struct config next = { 0 };
	struct engine_rules *rules = NULL;
	struct policy_errors perrs;
	int rc;

	*err = 0;
	/* The refusal says the first error (and how many); the log has them all. */
	if ((rc = policy_set_load_errors(d->opt.policy, &next.set, &perrs))) {
		policy_errors_summary(&perrs, err, err_len);
		reload_refused(d, check, err);
		if (perrs.n > 1)
			log_policy_errors(&perrs, d->opt.policy);
		policy_errors_clear(&perrs);
		return rc;
	}
	if ((rc = build_plan(d, next.set, &next.plan))) {
		snprintf(err, err_len, "the scope cannot be programmed (see salved's log)");
		goto refused;
	}
	if ((rc = sites_plan_build(next.set, &next.sites, err, err_len)))
		goto refused;
	if ((rc = engine_rules_prepare(d->engine, next.set, &rules))) {
		snprintf(err, err_len, "the rules cannot be set up: %s", strerror(-rc));
		goto refused;
	}
	if (check) {
		sites_describe_change(&d->cur.sites, &next.sites, change);
		json_object_object_add(change, "scope_changes",
				       json_object_new_boolean(!scope_plan_equal(&d->cur.plan,
										 &next.plan)));
		engine_rules_discard(rules);
		config_clear(&next);
		return 0;
	}
	if ((rc = switch_config(d, &next, rules, err, err_len)))
		goto refused;
	d->last_reload.at_ns = loop_now_ns(CLOCK_REALTIME);
	d->last_reload.ok = true;
	d->last_reload.error[0] = 0;
	/* Watch the new set's names; planning once more after arming misses no change. */
	d->scope_dirty = true;
	repairs_prune(d->repairs, rule_loaded, d);
	salve_log(LOG_INFO, "reloaded %zu polic%s from %s", d->cur.set->n_policies,
		  d->cur.set->n_policies == 1 ? "y" : "ies", d->opt.policy);
	return 0;
refused:
	config_clear(&next);
	reload_refused(d, check, err);
	return rc;
}

/* What systemctl status shows: what salved watches, and what it did. Sent when it
 * changes. */
static void tell_status(struct daemon *d)
{
	const struct policy_set *set = d->cur.set;
	size_t probes = 0, rules = 0, repairs = repairs_in_effect(d->repairs);
	struct engine_stats es;

	for (size_t i = 0; i < set->n_policies; i++) {
		probes += set->policies[i].n_probes;
		rules += set->policies[i].n_rules;
	}
	engine_stats(d->engine, &es);
	notify_status(d->notify, "watching %zu polic%s: %zu probe%s at %zu site%s, %zu rule%s; "
		      "%llu incident%s, %zu repair%s in effect%s", set->n_policies,
		      set->n_policies == 1 ? "y" : "ies", probes, probes == 1 ? "" : "s",
		      d->cur.sites.n_sites, d->cur.sites.n_sites == 1 ? "" : "s", rules,
		      rules == 1 ? "" : "s", (unsigned long long)es.incidents,
		      es.incidents == 1 ? "" : "s", repairs, repairs == 1 ? "" : "s",
		      d->opt.dry_run ? " (dry run)" : "");
}

int daemon_reload_notified(struct daemon *d, char *err, size_t err_len)
{
	int rc;

	notify_reloading(d->notify);
	rc = daemon_reload(d, false, NULL, err, err_len);
	tell_status(d);
	notify_ready(d->notify);
	return rc;
}

int daemon_write_stats(struct daemon *d, struct json_object **copy)
{
	struct salve_counters kernel[SALVE_EV_KIND_MAX];
	int err = probes_counters(d->probes, kernel);

	return err ? err : pipeline_stats(d->pipeline, kernel, copy);
}

/* A name the scope depends on changed (a binary installed or replaced, a unit started):
 * watch the names again, then plan; the kernel is programmed only when the plan differs. */
static void refresh_plan(struct daemon *d)
{
	struct scope_plan plan;
	bool changed;
	uint32_t gen;
	int err;

	if ((err = scope_watch_arm(d->scope_watch, d->cur.set, sys_cgroup2_root())))
		salve_log(LOG_ERR, "cannot watch the scope's names: %s", strerror(-err));
	if (build_plan(d, d->cur.set, &plan))
		return;
	changed = !scope_plan_equal(&plan, &d->cur.plan);
	if (changed && (err = probes_configure(d->probes, &plan.cfg, plan.entries, plan.n_entries,
					       &gen))) {
		salve_log(LOG_ERR, "cannot program the kernel filter: %s", strerror(-err));
		scope_plan_clear(&plan);
		return;
	}
	scope_plan_report(&d->cur.plan, &plan);
	scope_plan_clear(&d->cur.plan);
	d->cur.plan = plan;
	if (changed) {
		d->cur.last_gen = gen; /* the same set decides records of either generation */
		publish_configs(d);
	}
}

/* inotify on the scope's names: a burst of events is one plan, on the next tick. */
static int on_scope_watch(int fd, void *ctx)
{
	struct daemon *d = ctx;
	int rc = scope_watch_read(d->scope_watch);

	(void)fd;
	if (rc < 0)
		salve_log(LOG_ERR, "reading the scope's inotify events: %s", strerror(-rc));
	if (rc)
		d->scope_dirty = true;
	return 0;
}

/* The event output's reader went away (`salved | head`): say so once and stop, so the
 * probes are detached and unpinned, rather than watch on for nobody. -EPIPE then. */
int daemon_output_gone(struct daemon *d, int err)
{
	if (err != -EPIPE && !output_gone(d->output))
		return 0;
	if (!d->out_gone) {
		d->out_gone = true;
		salve_log(LOG_ERR, "the event output is closed (%s): stopping", strerror(EPIPE));
		loop_stop(d->loop);
	}
	return -EPIPE;
}

/* --watch-policy: the policy's files changed and settled. */
static void on_policy_changed(void *ctx)
{
	struct daemon *d = ctx;
	char err[1024];

	if (!d->stopping)
		daemon_reload_notified(d, err, sizeof(err));
}

static int on_signal(int fd, void *ctx)
{
	struct daemon *d = ctx;
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) { /* a traced process stopped (rescues) */
			repairs_poll(d->repairs);
			continue;
		}
		if (si.ssi_signo == SIGHUP) {
			char err[1024];

			if (!d->stopping)
				daemon_reload_notified(d, err, sizeof(err));
			continue;
		}
		salve_log(LOG_INFO, "%s: stopping", strsignal(si.ssi_signo));
		loop_stop(d->loop);
	}
	return 0;
}

/* Every line salved writes, as it writes it: kept for salvectl events and incidents. */
static void on_line(void *ctx, const struct line_facts *facts, struct json_object *line,
		    const char *text, size_t len)
{
	struct daemon *d = ctx;

	feed_line(d->feed, facts, text, len);
	if (line) /* the lines of incidents and actions are built as objects */
		incidents_line(d->incidents, line);
}

static void write_line(struct daemon *d, struct json_object *line, const char *what)
{
	size_t len;
	const char *text = report_text(line, &len);
	int err = !text ? -ENOMEM : d->out_gone ? -EPIPE : output_line(d->output, 0, text, len);

	err = err ?: output_flush(d->output);
	if (text) {
		struct line_facts facts;

		report_facts_of(line, &facts);
		on_line(d, &facts, line, text, len);
	}
	if (err && !daemon_output_gone(d, err))
		salve_log(LOG_ERR, "cannot write %s: %s", what, strerror(-err));
}

/* An incident's line as its rule fires, then one line per action as it ends. */
static void on_action_line(void *ctx, struct json_object *line)
{
	write_line(ctx, line, "an incident or action line");
}

/* Records of calls name the process's executable only by identity, and the process
 * may be gone by the time its records are read: the path is the scoped binary with
 * that identity, else what /proc says while the process still runs. */
static void name_exe(struct incident *inc)
{
	const struct policy_scope *sc = &inc->rule->policy->scope;
	char link[64];
	struct stat st;
	ssize_t n;

	for (size_t i = 0; i < sc->n_binaries; i++) {
		if (!stat(sc->binaries[i], &st) && st.st_ino == inc->exe_ino &&
		    events_kernel_dev(st.st_dev) == inc->exe_dev) {
			snprintf(inc->exe, sizeof(inc->exe), "%s", sc->binaries[i]);
			return;
		}
	}
	snprintf(link, sizeof(link), "/proc/%u/exe", inc->pid);
	if (!inc->pid || stat(link, &st) || st.st_ino != inc->exe_ino ||
	    (n = readlink(link, inc->exe, sizeof(inc->exe) - 1)) < 0)
		return;
	inc->exe[n] = 0;
}

/* A rule fired: its actions, through the journal. */
static void on_incident(void *ctx, const struct incident *inc)
{
	struct daemon *d = ctx;
	struct incident named = *inc;
	int err;

	if (!named.exe[0] && named.exe_ino)
		name_exe(&named);
	tally_add(d->fired, (const char *[]){ inc->rule->id, inc->rule->policy->name }, 1);
	if ((err = actions_dispatch(d->actions, &named, on_action_line, d)))
		salve_log_ctx(LOG_ERR, &(struct log_fields){ .rule = inc->rule->id,
							     .policy = inc->rule->policy->name,
							     .pid = inc->pid, .incident = inc->id },
			      "rule %s fired (incident %" PRIu64 ") but its actions cannot start: %s",
			      inc->rule->id, inc->id, strerror(-err));
}

/* A repair applied, verified, rolled back or refused. */
static void on_repair_line(void *ctx, struct json_object *line)
{
	write_line(ctx, line, "a repair line");
}

/* An event a probe reported: a failure of the calls a half-open breaker let through? */
static void on_watched(void *ctx, const char *probe, const struct event *ev)
{
	struct daemon *d = ctx;

	breakers_event(repairs_breakers(d->repairs), probe, ev->pid, ev->cgroup_id);
}

/* Breakers half-open and close on time: a finer clock than the tick's. */
static int on_breaker_tick(int fd, void *ctx)
{
	struct daemon *d = ctx;
	uint64_t expirations;

	if (read(fd, &expirations, sizeof(expirations)) == sizeof(expirations))
		breakers_tick(repairs_breakers(d->repairs));
	return 0;
}

/* The verdict on a repair: did the fault stop within the rule's verify window? */
static void on_verified(void *ctx, uint64_t incident_id, const struct policy_rule *rule,
			bool resolved, uint64_t now_ns)
{
	struct daemon *d = ctx;
	struct json_object *o = json_object_new_object();
	char when[64];

	if (!o)
		return;
	report_time((uint64_t)((int64_t)now_ns + loop_realtime_offset_ns()), when, sizeof(when));
	json_object_object_add(o, "time", json_object_new_string(when));
	json_object_object_add(o, "kind", json_object_new_string("verify"));
	json_object_object_add(o, "incident", json_object_new_uint64(incident_id));
	json_object_object_add(o, "rule", json_object_new_string(rule->id));
	json_object_object_add(o, "policy", json_object_new_string(rule->policy->name));
	json_object_object_add(o, "outcome", json_object_new_string(resolved ? "resolved" : "persists"));
	write_line(d, o, "a verify line");
	json_object_put(o);
	/* The repairs of the incident stay when it is resolved, else they are undone. */
	repairs_verified(d->repairs, incident_id, resolved);
}

/* The second's latency histograms, each site's read once for those that use it: the
 * learned thresholds and the rules on percentiles; then the rules' verify windows. */
static void tick_histograms(struct daemon *d, uint64_t now_ns)
{
	baseline_forget_gone(d->baseline, &d->cur.sites);
	for (size_t i = 0; i < d->cur.sites.n_sites; i++) {
		const struct site *s = &d->cur.sites.sites[i];
		bool rules = s->cfg.kind == SALVE_SITE_LATENCY &&
			     engine_needs_histogram(d->engine, s->probe);
		uint64_t counts[SALVE_HIST_BUCKETS];

		if ((!rules && !baseline_learns(s)) || probes_site_hist(d->probes, s->id, counts))
			continue;
		baseline_site(d->baseline, d->probes, s, counts);
		if (rules)
			engine_histogram(d->engine, s->probe, counts, now_ns);
	}
	engine_tick(d->engine, now_ns);
}

static int on_tick(int fd, void *ctx)
{
	struct daemon *d = ctx;
	uint64_t expirations, now;

	if (read(fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return 0;
	d->ticks++;
	pipeline_sync_clock(d->pipeline);
	actions_set_clock(d->actions, loop_realtime_offset_ns());
	repairs_set_clock(d->repairs, loop_realtime_offset_ns());
	repairs_poll(d->repairs); /* a SIGCHLD a hot patch's wait took is not missed */
	if (d->scope_dirty ||
	    (d->ticks % SCOPE_RECHECK_TICKS == 0 && scope_watch_poll(d->scope_watch))) {
		d->scope_dirty = false;
		refresh_plan(d);
	}
	now = loop_now_ns(CLOCK_BOOTTIME);
	stall_check(d->stall, d->probes, &d->cur.sites, d->pipeline, now);
	tick_histograms(d, now);
	if (d->opt.stats_every && d->ticks % d->opt.stats_every == 0)
		daemon_write_stats(d, NULL);
	if (d->opt.metrics_textfile && d->ticks % d->opt.metrics_every == 0)
		control_write_textfile(d);
	tell_status(d);
	return daemon_output_gone(d, 0);
}

static int make_dirs(const char *path, mode_t mode)
{
	char buf[4096];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(buf, mode) && errno != EEXIST ? -errno : 0;
}

/* The directory the control socket goes in, made when missing: searchable by all, as
 * systemd's RuntimeDirectory is, so --socket-group's members reach the socket, whose
 * own mode says who may use it. */
static int make_parent(const char *path)
{
	char dir[4096];
	char *slash;
	int err;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	if ((err = make_dirs(dir, 0755)))
		salve_log(LOG_ERR, "%s: %s", dir, strerror(-err));
	return err;
}

static int start(struct daemon *d)
{
	struct probes_cfg pc = { .pin_dir = d->opt.pin_dir, .classic_only = d->opt.classic,
				 .no_sessions = d->opt.no_sessions, .on_record = pipeline_record };
	const struct probes_hook *hooks;
	struct config next = { 0 };
	struct journal_replay replay = { 0 };
	struct engine_rules *rules = NULL;
	struct policy_errors perrs;
	char why[512], version[64];
	int err;

	if ((err = sys_check(why, sizeof(why))) || (err = sys_mount_fs(why, sizeof(why)))) {
		salve_log(LOG_ERR, "%s", why);
		return err;
	}
	if ((err = make_dirs(d->opt.state_dir, 0700)) ||
	    (err = journal_open(d->opt.state_dir, 0, &d->journal, &replay))) {
		salve_log(LOG_ERR, "--state-dir %s: %s", d->opt.state_dir,
			  err == -EBUSY ? "another salved keeps its journal there" : strerror(-err));
		return err;
	}
	if ((err = tally_new(2, &d->fired)) ||
	    (err = actions_new(d->loop, d->journal, &d->actions)) ||
	    (err = repairs_new(d->journal, d->opt.state_dir, on_repair_line, d, &d->repairs)) ||
	    (err = entry_new(d->loop, on_entry_stopped, d, &d->entry))) {
		journal_replay_clear(&replay);
		return err;
	}
	if ((err = checkpoints_new(d->opt.state_dir, d->opt.checkpoint_quota, on_repair_line, d,
				   &d->checkpoints, why, sizeof(why)))) {
		salve_log(LOG_ERR, "--state-dir: %s", why);
		journal_replay_clear(&replay);
		return err;
	}
	/* criu where it works: checked once, here; the core backend works everywhere. */
	if (access(d->opt.criu, F_OK)) {
		snprintf(d->criu_status, sizeof(d->criu_status), "%s: not installed; checkpoints are "
			 "salve's own cores", d->opt.criu);
	} else if (!(d->criu_ok = !criu_check(d->opt.criu, version, sizeof(version), why,
					     sizeof(why)))) {
		snprintf(d->criu_status, sizeof(d->criu_status), "%s", why);
		salve_log(LOG_WARNING, "checkpoints: %s; salve's own cores only", why);
	} else {
		snprintf(d->criu_status, sizeof(d->criu_status), "criu %s at %s: dump and restore",
			 version, d->opt.criu);
		checkpoints_set_criu(d->checkpoints, d->opt.criu);
		salve_log(LOG_INFO, "checkpoints: %s", d->criu_status);
	}
	actions_set_repairs(d->actions, d->repairs);
	actions_set_checkpoints(d->actions, d->checkpoints);
	repairs_set_standing(d->repairs, on_stand, on_unstand, d);
	if ((err = policy_set_load_errors(d->opt.policy, &next.set, &perrs))) {
		log_policy_errors(&perrs, d->opt.policy); /* every error, one line each */
		policy_errors_clear(&perrs);
		journal_replay_clear(&replay);
		return err;
	}
	if ((err = scope_watch_new(&d->scope_watch)) ||
	    (err = scope_watch_arm(d->scope_watch, next.set, sys_cgroup2_root())) ||
	    (err = build_plan(d, next.set, &next.plan)) ||
	    (err = pipeline_new(d->output, &d->pipeline)) || (err = stall_new(&d->stall)) ||
	    (err = baseline_new(&d->baseline)) ||
	    (err = engine_new(&(struct engine_config){ .max_groups = d->opt.max_groups,
						       .dry_run = d->opt.dry_run }, on_incident,
			      on_verified, d, &d->engine)))
		goto out;
	pipeline_set_engine(d->pipeline, d->engine);
	pipeline_set_tap(d->pipeline, on_line, d);
	pc.ctx = d->pipeline;
	if ((err = probes_new(&pc, &d->probes)))
		goto out;
	for (size_t i = 0, n = probes_hooks(d->probes, &hooks); i < n; i++)
		if (!hooks[i].on_demand) /* those say so when a probe attaches them */
			salve_log(hooks[i].why[0] ? LOG_WARNING : LOG_INFO, "%s: %s on %s%s%s",
				  hooks[i].family, hooks[i].hook, hooks[i].flavour,
				  hooks[i].why[0] ? ": " : "", hooks[i].why);
	if ((err = sites_plan_build(next.set, &next.sites, why, sizeof(why))))
		goto refused;
	if ((err = engine_rules_prepare(d->engine, next.set, &rules))) {
		snprintf(why, sizeof(why), "the rules cannot be set up: %s", strerror(-err));
		goto refused;
	}
	/* The first configuration is switched to as a reload's is, from none. */
	if ((err = switch_config(d, &next, rules, why, sizeof(why))))
		goto refused;
	/* The override mechanism this kernel allows. */
	if (d->opt.no_regwrite) {
		snprintf(d->no_override, sizeof(d->no_override), "--no-register-writes");
		salve_log(LOG_INFO, "repairs: hot patch of a function's entry (--no-register-writes)");
	} else if (!override_new(&d->override, d->no_override, sizeof(d->no_override))) {
		repair_use_override(d->override);
		salve_log(LOG_INFO, "repairs: overrides by uprobes that write the registers, "
			  "redirects by hot patch of a function's entry");
	} else {
		salve_log(LOG_INFO, "repairs: hot patch of a function's entry (uprobe register "
			  "writes refused: %s)", d->no_override);
	}
	/* Breakers around endpoints: the cgroup connect programs, where the kernel has them. */
	if (netbreak_new(probes_map_fd(d->probes, "salve_turned_away"), &d->netbreak, why,
			 sizeof(why)))
		salve_log(LOG_INFO, "breakers: around functions only (%s)", why);
	else
		breakers_set_netbreak(repairs_breakers(d->repairs), d->netbreak);
	pipeline_set_watch(d->pipeline, on_watched, d);
	/* What the last salved left patched: adopted, or undone if its rule is gone. */
	repairs_restore(d->repairs, &replay, rule_loaded, d);
	journal_replay_clear(&replay);
	salve_log(LOG_INFO, "watching with %zu polic%s from %s%s", d->cur.set->n_policies,
		  d->cur.set->n_policies == 1 ? "y" : "ies", d->opt.policy,
		  d->opt.dry_run ? " (dry run)" : "");
	return 0;
refused:
	salve_log(LOG_ERR, "%s", why);
out:
	journal_replay_clear(&replay);
	config_clear(&next);
	return err;
}

static int run(struct daemon *d)
{
	sigset_t mask;
	int sigfd = -1, timer = -1, breaker_timer = -1, err;

	/* A closed event output is an EPIPE to handle (daemon_output_gone), not a death. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	/* An ignored signal never reaches a signalfd; a shell ignores INT for background jobs. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) ||
	    (sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		return -errno;
	d->started_ns = loop_now_ns(CLOCK_REALTIME);
	if ((err = loop_new(&d->loop)) || (err = notify_new(d->loop, &d->notify)) ||
	    (err = feed_new(&d->feed)) || (err = incidents_new(&d->incidents)) || (err = start(d)))
		goto out;
	if ((timer = loop_timer_fd(TICK_MS)) < 0 || (breaker_timer = loop_timer_fd(BREAKER_TICK_MS)) < 0) {
		err = timer < 0 ? timer : breaker_timer;
		goto out;
	}
	if ((err = daemon_ring_start(d)) ||
	    (err = loop_add(d->loop, sigfd, on_signal, d)) ||
	    (err = make_parent(d->opt.socket)) ||
	    (err = ctl_new(d->loop, &(struct ctl_config){ .path = d->opt.socket,
							   .group = d->opt.socket_group,
							   .handler = control_request, .ctx = d }, &d->ctl)) ||
	    (err = control_metrics_start(d)) ||
	    (err = loop_add(d->loop, timer, on_tick, d)) ||
	    (err = loop_add(d->loop, breaker_timer, on_breaker_tick, d)) ||
	    (scope_watch_fd(d->scope_watch) >= 0 &&
	     (err = loop_add(d->loop, scope_watch_fd(d->scope_watch), on_scope_watch, d))))
		goto out;
	if (d->opt.watch_policy) {
		char why[512];

		if ((err = policy_watch_new(d->loop, &(struct policy_watch_config){
				.path = d->opt.policy, .changed = on_policy_changed, .ctx = d },
				&d->policy_watch, why, sizeof(why)))) {
			salve_log(LOG_ERR, "%s", why);
			goto out;
		}
		salve_log(LOG_INFO, "reloading the policy when its files in %s change",
			  policy_watch_dir(d->policy_watch));
	}
	/* Ready: the probes attached, the first policy in force, the control socket up. */
	tell_status(d);
	notify_ready(d->notify);
	err = loop_run(d->loop);
	notify_stopping(d->notify);
	/* Running actions get a few seconds to end, the loop still turning (a second INT
	 * or TERM cuts it short); what remains is killed and recorded as interrupted. */
	d->stopping = true;
	actions_stop(d->actions, err ? 0 : ACTIONS_STOP_NS);
	/* What is already in the ring is still reported, where there is a reader. */
	if (!d->out_gone) {
		daemon_drain_ring(d);
		daemon_write_stats(d, NULL);
	}
	err = err ?: daemon_output_gone(d, 0);
	/* A page of a salved gone would say it is up: it goes with it. */
	if (d->opt.metrics_textfile)
		unlink(d->opt.metrics_textfile);
out:
	if (err)
		notify_failed(d->notify, err, salve_log_last_error());
	if (timer >= 0)
		close(timer);
	if (breaker_timer >= 0)
		close(breaker_timer);
	close(sigfd);
	return err;
}

int main(int argc, char **argv)
{
	struct daemon d = { 0 };
	int rc = options_parse(argc, argv, &d.opt), err;

	if (rc >= 0)
		return rc;
	salve_log_setup(salve_log_stderr_is_journal() ? LOG_SINK_JOURNAL : LOG_SINK_STDERR, LOG_INFO,
			d.opt.verbose);
	/* Debug files are looked for on this host only: libdwfl would ask the debuginfod
	 * servers this names, a network fetch in the middle of naming a stack. */
	unsetenv("DEBUGINFOD_URLS");
	d.out = stdout;
	if (d.opt.log && !(d.out = fopen(d.opt.log, "ae"))) {
		salve_log(LOG_ERR, "--log %s: %s", d.opt.log, strerror(errno));
		return 1;
	}
	if ((err = output_new(fileno(d.out), &d.output))) {
		salve_log(LOG_ERR, "cannot start: %s", strerror(-err));
		return 1;
	}
	err = run(&d);
	policy_watch_free(d.policy_watch);
	ctl_free(d.ctl);
	http_free(d.http);
	probes_free(d.probes);
	engine_free(d.engine);
	actions_free(d.actions);
	repairs_free(d.repairs);
	checkpoints_free(d.checkpoints);
	netbreak_free(d.netbreak); /* breakers around endpoints end with salved: resumed at start */
	repair_use_override(NULL);
	override_free(d.override);
	entry_free(d.entry);
	journal_free(d.journal);
	pipeline_free(d.pipeline);
	stall_free(d.stall);
	baseline_free(d.baseline);
	scope_watch_free(d.scope_watch);
	config_clear(&d.cur);
	config_clear(&d.prev);
	/* Last: the frees above may still write lines (actions ending); ctl_free closed
	 * the streams that followed them. */
	feed_free(d.feed);
	incidents_free(d.incidents);
	notify_free(d.notify);
	loop_free(d.loop);
	tally_free(d.fired);
	output_free(d.output);
	if (d.out != stdout)
		fclose(d.out);
	if (err)
		salve_log(LOG_ERR, "salved stopped: %s", strerror(-err));
	return err ? 1 : 0;
}
