/* control: what salved answers salvectl over the control socket, and the metrics page it
 * serves to salvectl, a text file and an HTTP listener. Read-only answers are built
 * from the stages' own reports; the rest call into the stages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actions/checkpoints.h"
#include "actions/repairs.h"
#include "base/atomic_file.h"
#include "base/log.h"
#include "base/loop.h"
#include "ctl/collect.h"
#include "ctl/ctl.h"
#include "ctl/feed.h"
#include "ctl/http.h"
#include "ctl/incidents.h"
#include "ctl/metrics.h"
#include "ctl/probes_report.h"
#include "engine/engine.h"
#include "events/pipeline.h"
#include "events/report.h"
#include "kernel/netbreak.h"
#include "kernel/probes.h"
#include "kernel/resolve.h"
#include "salved.h"

static int feature_add(struct json_object *list, const char *name, bool available,
		       const char *detail)
{
	struct json_object *f = json_object_new_object();

	if (!f || json_object_array_add(list, f)) {
		json_object_put(f);
		return -ENOMEM;
	}
	json_object_object_add(f, "name", json_object_new_string(name));
	json_object_object_add(f, "available", json_object_new_boolean(available));
	json_object_object_add(f, "detail", json_object_new_string(detail));
	return 0;
}

/* What this kernel gives salved, and what salved uses of it. */
static struct json_object *features(struct daemon *d)
{
	struct json_object *list = json_object_new_array();
	const struct probes_hook *hooks;
	char name[128], detail[512];
	int err = list ? 0 : -ENOMEM;
	bool nop5;

	err = err ?: feature_add(list, "kernel BTF", true, "/sys/kernel/btf/vmlinux");
	err = err ?: feature_add(list, "BPF ring buffer", true, "every probe's records");
	for (size_t i = 0, n = probes_hooks(d->probes, &hooks); !err && i < n; i++) {
		snprintf(name, sizeof(name), "tp_btf %s", hooks[i].hook);
		snprintf(detail, sizeof(detail), "%s: on %s%s%s%s", hooks[i].family, hooks[i].flavour,
			 hooks[i].why[0] ? ": " : "", hooks[i].why,
			 hooks[i].on_demand ? "; attached while a syscall probe exists" : "");
		err = feature_add(list, name, !strcmp(hooks[i].flavour, "tp_btf"), detail);
	}
	err = err ?: feature_add(list, "uprobe sessions", probes_has_sessions(d->probes),
				 probes_has_sessions(d->probes)
					 ? "a latency probe is one session program per site"
					 : d->opt.no_sessions ? "--no-uprobe-sessions"
							      : "a uprobe and a uretprobe per site");
	nop5 = resolve_nop5_optimized(detail, sizeof(detail));
	err = err ?: feature_add(list, "nop5 fast path", nop5, detail);
	err = err ?: feature_add(list, "uprobe register writes", d->override != NULL,
				 d->override ? "overrides write rax and rip from a uprobe, nothing "
					       "written into the process"
					     : d->no_override);
	err = err ?: feature_add(list, "hot patch", true,
				 d->override ? "redirects: ptrace, /proc/PID/mem"
					     : "overrides and redirects: ptrace, /proc/PID/mem");
	err = err ?: feature_add(list, "cgroup connect hooks", netbreak_probe(detail, sizeof(detail)),
				 detail);
	err = err ?: feature_add(list, "CRIU", d->criu_ok, d->criu_status);
	if (err) {
		json_object_put(list);
		return NULL;
	}
	return list;
}

static void add_time(struct json_object *o, const char *key, uint64_t realtime_ns)
{
	char when[64];

	report_time(realtime_ns, when, sizeof(when));
	json_object_object_add(o, key, json_object_new_string(when));
}

/* salvectl status: what salved runs, in one object. */
static struct json_object *status(struct daemon *d)
{
	struct json_object *o = json_object_new_object(), *list, *reload;
	struct salve_counters kernel[SALVE_EV_KIND_MAX] = { 0 };
	struct engine_stats es;
	uint64_t seen = 0, lost = 0, suppressed = 0, probes = 0, rules = 0;

	if (!o)
		return NULL;
	probes_counters(d->probes, kernel);
	for (int k = 0; k < SALVE_EV_KIND_MAX; k++) {
		seen += kernel[k].seen;
		lost += kernel[k].lost;
		suppressed += kernel[k].suppressed;
	}
	for (size_t i = 0; i < d->cur.set->n_policies; i++) {
		probes += d->cur.set->policies[i].n_probes;
		rules += d->cur.set->policies[i].n_rules;
	}
	engine_stats(d->engine, &es);
	json_object_object_add(o, "version", json_object_new_string(SALVE_VERSION));
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	add_time(o, "started", d->started_ns);
	json_object_object_add(o, "uptime_s", json_object_new_uint64(
		(loop_now_ns(CLOCK_REALTIME) - d->started_ns) / 1000000000ull));
	json_object_object_add(o, "policy", json_object_new_string(d->opt.policy));
	json_object_object_add(o, "policies", json_object_new_uint64(d->cur.set->n_policies));
	json_object_object_add(o, "probes", json_object_new_uint64(probes));
	json_object_object_add(o, "sites", json_object_new_uint64(d->cur.sites.n_sites));
	json_object_object_add(o, "rules", json_object_new_uint64(rules));
	json_object_object_add(o, "incidents", json_object_new_uint64(es.incidents));
	list = repairs_list(d->repairs);
	json_object_object_add(o, "repairs", json_object_new_uint64(list ? json_object_array_length(list) : 0));
	json_object_put(list);
	list = checkpoints_list(d->checkpoints, NULL);
	json_object_object_add(o, "checkpoints", json_object_new_uint64(list ? json_object_array_length(list) : 0));
	json_object_put(list);
	json_object_object_add(o, "events_seen", json_object_new_uint64(seen));
	json_object_object_add(o, "events_lost", json_object_new_uint64(lost));
	json_object_object_add(o, "events_suppressed", json_object_new_uint64(suppressed));
	json_object_object_add(o, "followers", json_object_new_uint64(feed_followers(d->feed)));
	json_object_object_add(o, "dry_run", json_object_new_boolean(d->opt.dry_run));
	json_object_object_add(o, "state_dir", json_object_new_string(d->opt.state_dir));
	json_object_object_add(o, "socket", json_object_new_string(d->opt.socket));
	if (d->opt.pin_dir)
		json_object_object_add(o, "pin_dir", json_object_new_string(d->opt.pin_dir));
	json_object_object_add(o, "log", json_object_new_string(d->opt.log ?: "(standard output)"));
	if (d->last_reload.at_ns && (reload = json_object_new_object())) {
		add_time(reload, "time", d->last_reload.at_ns);
		json_object_object_add(reload, "ok", json_object_new_boolean(d->last_reload.ok));
		if (!d->last_reload.ok)
			json_object_object_add(reload, "error",
					       json_object_new_string(d->last_reload.error));
		json_object_object_add(o, "last_reload", reload);
	}
	return o;
}

static struct json_object *policies(struct daemon *d)
{
	struct json_object *list = json_object_new_array();

	for (size_t i = 0; list && i < d->cur.set->n_policies; i++)
		json_object_array_add(list, policy_describe(&d->cur.set->policies[i]));
	return list;
}

static struct json_object *rules(struct daemon *d)
{
	struct json_object *list = json_object_new_array();
	struct engine_rule_info *info;
	size_t n = engine_rules_info(d->engine, 0, NULL, 0);
	uint64_t now = loop_now_ns(CLOCK_BOOTTIME);

	if (!list || !(info = calloc(n ?: 1, sizeof(*info)))) {
		json_object_put(list);
		return NULL;
	}
	engine_rules_info(d->engine, now, info, n);
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();
		const char *state = info[i].verifying ? "verifying"
				    : info[i].cooling ? "cooling down"
				    : info[i].budget && !info[i].budget_left ? "budget spent"
				    : "armed";

		if (!o || json_object_array_add(list, o)) {
			json_object_put(o);
			break;
		}
		json_object_object_add(o, "rule", json_object_new_string(info[i].def->id));
		json_object_object_add(o, "policy", json_object_new_string(info[i].def->policy->name));
		json_object_object_add(o, "state", json_object_new_string(state));
		json_object_object_add(o, "fired", json_object_new_uint64(info[i].fired));
		if (info[i].last_fired_ns)
			add_time(o, "last_fired", (uint64_t)((int64_t)info[i].last_fired_ns +
							     loop_realtime_offset_ns()));
		json_object_object_add(o, "budget", json_object_new_uint64(info[i].budget));
		json_object_object_add(o, "budget_left", json_object_new_uint64(info[i].budget_left));
		json_object_object_add(o, "groups", json_object_new_uint64(info[i].groups));
		json_object_object_add(o, "verifying", json_object_new_uint64(info[i].verifying));
		json_object_object_add(o, "cooling", json_object_new_uint64(info[i].cooling));
		json_object_object_add(o, "actions", json_object_new_uint64(info[i].def->n_actions));
	}
	free(info);
	return list;
}

/* salvectl's requests that only read: the key of the answer, and the answer. */
static struct json_object *ctl_read(struct daemon *d, const char *cmd, const char **key)
{
	struct salve_counters kernel[SALVE_EV_KIND_MAX] = { 0 };
	struct json_object *list = NULL;

	*key = cmd;
	if (!strcmp(cmd, "status"))
		return status(d);
	if (!strcmp(cmd, "policies"))
		return policies(d);
	if (!strcmp(cmd, "rules"))
		return rules(d);
	if (!strcmp(cmd, "features"))
		return features(d);
	if (!strcmp(cmd, "repairs"))
		return repairs_list(d->repairs);
	if (!strcmp(cmd, "incidents"))
		return incidents_list(d->incidents);
	if (!strcmp(cmd, "probes")) {
		probes_counters(d->probes, kernel);
		probes_report(d->probes, d->pipeline, d->cur.set, &d->cur.sites, kernel, &list);
		return list;
	}
	*key = NULL;
	return NULL;
}

/* ---- metrics (ctl/collect.h): one page, three ways out ---- */

/* The metrics page, now: what the ring holds is read first, as for stats. */
static int metrics_page(void *ctx, char **text, size_t *len)
{
	struct daemon *d = ctx;

	daemon_drain_ring(d);
	return collect_metrics(&(struct collect_sources){
				       .probes = d->probes, .pipeline = d->pipeline, .engine = d->engine,
				       .actions = d->actions, .repairs = d->repairs,
				       .checkpoints = d->checkpoints, .set = d->cur.set,
				       .sites = &d->cur.sites, .fired = d->fired,
				       .checkpoint_quota = d->opt.checkpoint_quota },
			       text, len);
}

/* --metrics-textfile, replaced whole. A failure is said once, until a write works. */
int control_write_textfile(struct daemon *d)
{
	char *text = NULL;
	size_t len;
	int err = metrics_page(d, &text, &len);

	err = err ?: atomic_file_replace(d->opt.metrics_textfile, text, len, 0644);
	free(text);
	if (err && !d->textfile_failing)
		salve_log(LOG_ERR, "--metrics-textfile %s: %s%s", d->opt.metrics_textfile,
			  strerror(-err), err == -ENOENT ? " (its directory must exist: node_exporter's "
							   "--collector.textfile.directory)" : "");
	else if (!err && d->textfile_failing)
		salve_log(LOG_INFO, "--metrics-textfile %s: written again", d->opt.metrics_textfile);
	d->textfile_failing = err != 0;
	return err;
}

/* The metrics' ways out that are asked for: the listener, and the text file's first
 * write. Either failing stops salved at its start, saying why. */
int control_metrics_start(struct daemon *d)
{
	char why[512];
	size_t n;
	int err;

	if (d->opt.metrics_listen) {
		if ((err = http_new(d->loop, &(struct http_config){ .listen = d->opt.metrics_listen,
								    .path = "/metrics",
								    .content_type = METRICS_CONTENT_TYPE,
								    .body = metrics_page, .ctx = d },
				    &d->http, why, sizeof(why)))) {
			salve_log(LOG_ERR, "--metrics-listen %s: %s", d->opt.metrics_listen, why);
			return err;
		}
		salve_log(LOG_INFO, "metrics: http://%.*s:%u/metrics",
			  (int)(strrchr(d->opt.metrics_listen, ':') - d->opt.metrics_listen),
			  d->opt.metrics_listen, http_port(d->http));
	}
	if (d->opt.metrics_textfile) {
		n = strlen(d->opt.metrics_textfile);
		if (n < 5 || strcmp(d->opt.metrics_textfile + n - 5, ".prom"))
			salve_log(LOG_WARNING, "--metrics-textfile %s: node_exporter's textfile "
				  "collector reads only files named *.prom", d->opt.metrics_textfile);
		if ((err = control_write_textfile(d)))
			return err;
		salve_log(LOG_INFO, "metrics: %s, every %u s", d->opt.metrics_textfile,
			  d->opt.metrics_every);
	}
	return 0;
}

/* salvectl's requests. */
void control_request(void *ctx, const char *cmd, struct json_object *req, struct json_object *reply)
{
	struct daemon *d = ctx;
	struct json_object *check, *answer;
	const char *key;
	char err[1024];

	if ((answer = ctl_read(d, cmd, &key)) || key) {
		json_object_object_add(reply, "ok", json_object_new_boolean(answer != NULL));
		json_object_object_add(reply, answer ? key : "error",
				       answer ?: json_object_new_string(strerror(ENOMEM)));
		return;
	}
	if (!strcmp(cmd, "reload")) {
		bool dry = json_object_object_get_ex(req, "check", &check) &&
			   json_object_get_boolean(check);
		bool ok = !(dry ? daemon_reload(d, true, reply, err, sizeof(err))
				: daemon_reload_notified(d, err, sizeof(err)));

		json_object_object_add(reply, "ok", json_object_new_boolean(ok));
		if (!ok)
			json_object_object_add(reply, "error", json_object_new_string(err));
		else if (!dry)
			json_object_object_add(reply, "policies",
					       json_object_new_int64((int64_t)d->cur.set->n_policies));
		if (ok && dry)
			json_object_object_add(reply, "check", json_object_new_boolean(true));
		return;
	}
	if (!strcmp(cmd, "rollback")) {
		struct json_object *id;
		int rc = -EINVAL;

		snprintf(err, sizeof(err), "rollback needs the repair's \"id\", a number");
		if (json_object_object_get_ex(req, "id", &id) && json_object_is_type(id, json_type_int))
			rc = repairs_rollback(d->repairs, (uint64_t)json_object_get_int64(id),
					      "asked for (salvectl rollback)", err, sizeof(err));
		json_object_object_add(reply, "ok", json_object_new_boolean(!rc));
		if (rc)
			json_object_object_add(reply, "error", json_object_new_string(err));
		return;
	}
	if (!strcmp(cmd, "checkpoint")) {
		struct json_object *pid, *repairs = NULL;
		char id[CHECKPOINT_ID_MAX];
		uint64_t rescue;
		int rc = -EINVAL;

		snprintf(err, sizeof(err), "checkpoint needs the process's \"pid\", a number above 1");
		if (json_object_object_get_ex(req, "pid", &pid) && json_object_is_type(pid, json_type_int) &&
		    json_object_get_int64(pid) > 1 && json_object_get_int64(pid) != getpid()) {
			if (repairs_rescuing(d->repairs, (uint32_t)json_object_get_int64(pid), &rescue)) {
				snprintf(err, sizeof(err), "salved traces process %lld for rescue %llu, and "
					 "a checkpoint must hold it too: roll the rescue back first",
					 (long long)json_object_get_int64(pid), (unsigned long long)rescue);
			} else {
				repairs = repairs_list(d->repairs);
				rc = checkpoints_take(d->checkpoints,
						      &(struct checkpoint_request){
							      .pid = (pid_t)json_object_get_int64(pid),
							      .repairs = repairs,
							      .keep = CHECKPOINT_KEEP_ASKED },
						      id, err, sizeof(err));
				json_object_put(repairs);
			}
		}
		json_object_object_add(reply, "ok", json_object_new_boolean(!rc));
		if (rc) {
			json_object_object_add(reply, "error", json_object_new_string(err));
		} else {
			struct json_object *list = checkpoints_list(d->checkpoints, id);

			if (list && json_object_array_length(list))
				json_object_object_add(reply, "checkpoint",
						       json_object_get(json_object_array_get_idx(list, 0)));
			json_object_put(list);
		}
		return;
	}
	if (!strcmp(cmd, "restore")) {
		struct json_object *id;
		pid_t pid = 0;
		int rc = -EINVAL;

		snprintf(err, sizeof(err), "restore needs the checkpoint's \"id\"");
		if (json_object_object_get_ex(req, "id", &id) && json_object_is_type(id, json_type_string))
			rc = checkpoints_restore(d->checkpoints, json_object_get_string(id), &pid, err,
						 sizeof(err));
		json_object_object_add(reply, "ok", json_object_new_boolean(!rc));
		json_object_object_add(reply, rc ? "error" : "pid",
				       rc ? json_object_new_string(err) : json_object_new_int(pid));
		return;
	}
	if (!strcmp(cmd, "checkpoints")) {
		struct json_object *id, *meta, *list;
		char dir[4096];

		if (json_object_object_get_ex(req, "id", &id)) { /* one, whole */
			int rc = checkpoints_find(d->checkpoints, json_object_get_string(id), &meta, dir,
						  sizeof(dir), err, sizeof(err));

			json_object_object_add(reply, "ok", json_object_new_boolean(!rc));
			if (!rc)
				json_object_object_add(meta, "path", json_object_new_string(dir));
			json_object_object_add(reply, rc ? "error" : "checkpoint",
					       rc ? json_object_new_string(err) : meta);
			return;
		}
		list = checkpoints_list(d->checkpoints, NULL);

		json_object_object_add(reply, "ok", json_object_new_boolean(list != NULL));
		json_object_object_add(reply, list ? "checkpoints" : "error",
				       list ?: json_object_new_string(strerror(ENOMEM)));
		return;
	}
	if (!strcmp(cmd, "stats")) {
		struct json_object *stats = NULL;
		int rc;

		/* What the ring holds now is read first: every record the kernel wrote
		 * before the request has its line before this stats line. */
		daemon_drain_ring(d);
		rc = daemon_write_stats(d, &stats);
		json_object_object_add(reply, "ok", json_object_new_boolean(!rc));
		if (rc)
			json_object_object_add(reply, "error", json_object_new_string(strerror(-rc)));
		else
			json_object_object_add(reply, "stats", stats);
		return;
	}
	if (!strcmp(cmd, "events")) { /* a stream of the lines: see ctl/feed.h */
		feed_events(d->feed, d->ctl, req, reply);
		return;
	}
	if (!strcmp(cmd, "metrics")) {
		char *text = NULL;
		size_t len = 0;
		int rc = metrics_page(d, &text, &len);

		json_object_object_add(reply, "ok", json_object_new_boolean(!rc));
		json_object_object_add(reply, rc ? "error" : "text",
				       rc ? json_object_new_string(strerror(-rc))
					  : json_object_new_string_len(text, (int)len));
		free(text);
		return;
	}
	json_object_object_add(reply, "ok", json_object_new_boolean(0));
	snprintf(err, sizeof(err), "unknown command \"%s\"", cmd);
	json_object_object_add(reply, "error", json_object_new_string(err));
}
