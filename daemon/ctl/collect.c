/* collect: salved's metrics, from the stages' APIs. */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <json-c/json.h>

#include "actions/actions.h"
#include "actions/checkpoints.h"
#include "actions/repairs.h"
#include "base/tally.h"
#include "ctl/collect.h"
#include "ctl/metrics.h"
#include "engine/engine.h"
#include "events/events.h"
#include "events/pipeline.h"
#include "kernel/probes.h"
#include "kernel/sites.h"
#include "events/report.h"

#define NS 1000000000ull

static const char *str_of(struct json_object *o, const char *key)
{
	return report_string_of(o, key) ?: "";
}

static uint64_t u64_of(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_uint64(v) : 0;
}

static void gauge(struct metrics *m, const char *name, const char *help, uint64_t v)
{
	metrics_family(m, name, METRICS_GAUGE, help);
	metrics_u64(m, NULL, 0, v);
}

static void salved(struct metrics *m, const struct collect_sources *s)
{
	struct engine_stats es = { 0 };

	gauge(m, "salve_up", "1 while salved runs and answers.", 1);
	metrics_family(m, "salve_build_info", METRICS_GAUGE, "salved's version, as a label; always 1.");
	metrics_u64(m, (struct metrics_label[]){ { "version", SALVE_VERSION } }, 1, 1);
	gauge(m, "salve_policies_loaded", "Policies in force.", s->set ? s->set->n_policies : 0);
	engine_stats(s->engine, &es);
	gauge(m, "salve_rules_loaded", "Rules in force.", es.rules);
	gauge(m, "salve_probe_sites", "Function probe sites attached (a site: one probe's "
	      "function in one file).", s->sites ? s->sites->n_sites : 0);
}

/* Per kind of event: what the kernel saw and what became of it. */
static int events(struct metrics *m, const struct collect_sources *s)
{
	static const struct {
		const char *name, *help;
	} fams[] = {
		{ "salve_events_seen_total", "Events that matched the kernel's filter, by kind." },
		{ "salve_events_suppressed_total", "Events the kernel's rate limit (per process "
		  "and kind, or per probe site) held back, by kind." },
		{ "salve_events_received_total", "Records salved read from the ring buffer, by kind." },
		{ "salve_events_reported_total", "Events whose line salved wrote, by kind." },
		{ "salve_events_lost_total", "Events lost: the ring buffer was full, or their line "
		  "could not be written, by kind." },
		{ "salve_events_stale_total", "Records of a configuration no longer known "
		  "(written before a reload), by kind." },
	};
	struct salve_counters kernel[SALVE_EV_KIND_MAX];
	struct pipeline_counts pc;
	int err = probes_counters(s->probes, kernel);

	if (err)
		return err;
	pipeline_counts(s->pipeline, &pc);
	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		metrics_family(m, fams[f].name, METRICS_COUNTER, fams[f].help);
		for (int k = 1; k < SALVE_EV_KIND_MAX; k++) {
			uint64_t v = f == 0 ? kernel[k].seen : f == 1 ? kernel[k].suppressed :
				     f == 2 ? pc.received[k] : f == 3 ? pc.reported[k] :
				     f == 4 ? kernel[k].lost + pc.lost[k] : pc.stale[k];

			metrics_u64(m, (struct metrics_label[]){ { "kind", events_kind_name(k) } }, 1, v);
		}
	}
	metrics_family(m, "salve_records_malformed_total", METRICS_COUNTER,
		       "Ring buffer records salved could not decode.");
	metrics_u64(m, NULL, 0, pc.malformed);
	return 0;
}

/* Rules fired: every rule in force (0 until it fires), and those of earlier
 * configurations that fired. */
static void rules(struct metrics *m, const struct collect_sources *s)
{
	struct engine_stats es = { 0 };
	uint64_t n;

	metrics_family(m, "salve_rule_fired_total", METRICS_COUNTER,
		       "Incidents: times a rule fired (dry runs and exhausted budgets included).");
	for (size_t i = 0; s->set && i < s->set->n_policies; i++) {
		const struct policy *p = &s->set->policies[i];

		for (size_t j = 0; j < p->n_rules; j++) {
			const char *v[] = { p->rules[j].id, p->name };

			metrics_u64(m, (struct metrics_label[]){ { "rule", v[0] }, { "policy", v[1] } }, 2,
				    tally_get(s->fired, v));
		}
	}
	for (size_t r = 0; r < tally_rows(s->fired); r++) {
		const char *const *v = tally_row(s->fired, r, &n);
		bool loaded = false;

		for (size_t i = 0; !loaded && s->set && i < s->set->n_policies; i++)
			for (size_t j = 0; !loaded && j < s->set->policies[i].n_rules; j++)
				loaded = !strcmp(s->set->policies[i].rules[j].id, v[0]) &&
					 !strcmp(s->set->policies[i].name, v[1]);
		if (!loaded)
			metrics_u64(m, (struct metrics_label[]){ { "rule", v[0] }, { "policy", v[1] } },
				    2, n);
	}
	engine_stats(s->engine, &es);
	metrics_family(m, "salve_rule_budget_exhausted_total", METRICS_COUNTER,
		       "Incidents that fired past their rule's budget of actions an hour: no "
		       "actions ran.");
	metrics_u64(m, NULL, 0, es.budget_exhausted);
	gauge(m, "salve_rule_groups", "Groups (processes, binaries or the host) the rules count "
	      "events for now.", es.groups);
	metrics_family(m, "salve_rule_groups_evicted_total", METRICS_COUNTER,
		       "Groups forgotten to make room (see --max-groups).");
	metrics_u64(m, NULL, 0, es.evicted);
}

static void actions(struct metrics *m, const struct collect_sources *s)
{
	const struct tally *t = actions_ended(s->actions);
	uint64_t n;

	metrics_family(m, "salve_actions_total", METRICS_COUNTER,
		       "Actions that ended, by action and outcome (the action line's outcome up "
		       "to its colon: logged, sent, exited, applied, refused, failed, skipped...).");
	for (size_t r = 0; r < tally_rows(t); r++) {
		const char *const *v = tally_row(t, r, &n);

		metrics_u64(m, (struct metrics_label[]){ { "action", v[0] }, { "outcome", v[1] } }, 2, n);
	}
	gauge(m, "salve_actions_running", "Incidents whose actions have not all ended.",
	      actions_running(s->actions));
}

/* The repairs in effect, by what they do; the breakers among them, each in its state. */
static int repairs(struct metrics *m, const struct collect_sources *s)
{
	static const char *const kinds[] = { "override", "redirect", "rescue", "breaker" };
	static const char *const states[] = { "closed", "open", "half_open" };
	struct json_object *list = repairs_list(s->repairs);
	size_t n = list ? json_object_array_length(list) : 0;
	char id[32];

	if (!list)
		return -ENOMEM;
	metrics_family(m, "salve_repairs_active", METRICS_GAUGE,
		       "Repairs in effect (standing ones for new processes included), by what they do.");
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		uint64_t count = 0;

		for (size_t i = 0; i < n; i++)
			count += !strcmp(str_of(json_object_array_get_idx(list, i), "do"), kinds[k]);
		metrics_u64(m, (struct metrics_label[]){ { "do", kinds[k] } }, 1, count);
	}
	metrics_family(m, "salve_breaker_state", METRICS_GAUGE,
		       "Each circuit breaker's state: 1 for the one it is in, 0 for the others.");
	for (size_t i = 0; i < n; i++) {
		struct json_object *b = json_object_array_get_idx(list, i);

		if (strcmp(str_of(b, "do"), "breaker"))
			continue;
		snprintf(id, sizeof(id), "%llu", (unsigned long long)u64_of(b, "id"));
		for (size_t k = 0; k < sizeof(states) / sizeof(states[0]); k++)
			metrics_u64(m, (struct metrics_label[]){ { "breaker", id },
								 { "rule", str_of(b, "rule") },
								 { "policy", str_of(b, "policy") },
								 { "state", states[k] } },
				    4, !strcmp(str_of(b, "state"), states[k]));
	}
	metrics_family(m, "salve_breaker_turned_away_total", METRICS_COUNTER,
		       "Calls or connects each circuit breaker answered itself while open.");
	for (size_t i = 0; i < n; i++) {
		struct json_object *b = json_object_array_get_idx(list, i);

		if (strcmp(str_of(b, "do"), "breaker"))
			continue;
		snprintf(id, sizeof(id), "%llu", (unsigned long long)u64_of(b, "id"));
		metrics_u64(m, (struct metrics_label[]){ { "breaker", id },
							 { "rule", str_of(b, "rule") },
							 { "policy", str_of(b, "policy") } },
			    3, u64_of(b, "turned_away"));
	}
	json_object_put(list);
	return 0;
}

static int checkpoints(struct metrics *m, const struct collect_sources *s)
{
	static const char *const backends[] = { "core", "criu" };
	struct json_object *list = checkpoints_list(s->checkpoints, NULL);
	size_t n = list ? json_object_array_length(list) : 0;
	uint64_t count[2] = { 0 }, bytes[2] = { 0 };

	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(list, i);
		size_t b = !strcmp(str_of(c, "backend"), "criu");

		count[b]++;
		bytes[b] += u64_of(c, "bytes");
	}
	json_object_put(list);
	metrics_family(m, "salve_checkpoints", METRICS_GAUGE,
		       "Checkpoints kept under the state directory, by backend.");
	for (size_t b = 0; b < 2; b++)
		metrics_u64(m, (struct metrics_label[]){ { "backend", backends[b] } }, 1, count[b]);
	metrics_family(m, "salve_checkpoint_bytes", METRICS_GAUGE,
		       "Disk the checkpoints kept take, by backend.");
	for (size_t b = 0; b < 2; b++)
		metrics_u64(m, (struct metrics_label[]){ { "backend", backends[b] } }, 1, bytes[b]);
	gauge(m, "salve_checkpoint_quota_bytes", "Disk all checkpoints may take together "
	      "(--checkpoint-quota).", s->checkpoint_quota);
	return 0;
}

/* Each function site's calls, the records salved read of it and what its rate limit
 * held back, as salvectl probes counts them (a latency site's calls are its histogram's
 * count, below). */
static void sites(struct metrics *m, const struct collect_sources *s)
{
	static const struct {
		const char *name, *help;
	} fams[] = {
		{ "salve_site_hits_total", "Calls (or returns, or failed syscalls) a function "
					   "probe site's program ran on." },
		{ "salve_site_events_total", "Records of a function probe site salved read." },
		{ "salve_site_suppressed_total", "Calls in scope a function probe site's rate "
						 "limit held back." },
	};

	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		metrics_family(m, fams[f].name, METRICS_COUNTER, fams[f].help);
		for (size_t i = 0; s->sites && i < s->sites->n_sites; i++) {
			const struct site *site = &s->sites->sites[i];
			struct pipeline_site_counts read = pipeline_site_counts(s->pipeline, site->id);
			uint64_t hits = 0, held = 0, v;
			char id[16];

			if (f == 0 && site->cfg.kind == SALVE_SITE_LATENCY)
				continue; /* its histogram's _count */
			if (f != 1 && probes_site_hits(s->probes, site->id, &hits, &held))
				continue;
			v = f == 0 ? hits : f == 1 ? read.records : read.suppressed + held;
			snprintf(id, sizeof(id), "%u", site->id);
			metrics_u64(m, (struct metrics_label[]){ { "probe", site->probe->id },
								 { "policy", site->probe->policy->name },
								 { "site", id } },
				    3, v);
		}
	}
}

/* Each latency site's calls, cumulative since it was attached. */
static void latency(struct metrics *m, const struct collect_sources *s)
{
	metrics_family(m, "salve_call_latency_seconds", METRICS_HISTOGRAM,
		       "Calls of each latency probe's function, by how long they took.");
	for (size_t i = 0; s->sites && i < s->sites->n_sites; i++) {
		const struct site *site = &s->sites->sites[i];
		uint64_t le[METRICS_LOG2_EDGES], cum[METRICS_LOG2_EDGES], count;
		struct salve_hist h;

		if (site->cfg.kind != SALVE_SITE_LATENCY || probes_site_latency(s->probes, site->id, &h))
			continue;
		metrics_log2_cumulate(h.buckets, le, cum, &count);
		metrics_histogram(m, (struct metrics_label[]){ { "probe", site->probe->id },
							       { "policy", site->probe->policy->name } },
				  2, le, cum, METRICS_LOG2_EDGES, count, h.sum_ns);
	}
}

/* When salved started, in ns since the epoch: its start in clock ticks after boot
 * (/proc/self/stat) and the boot's time (/proc/stat). 0: unknown. */
static uint64_t start_time_ns(void)
{
	unsigned long long ticks = 0, btime = 0;
	long hz = sysconf(_SC_CLK_TCK);
	char buf[1024], *p;
	size_t n;
	FILE *f;

	if (hz <= 0 || !(f = fopen("/proc/self/stat", "re")))
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* After the comm's closing parenthesis: state is field 3, starttime field 22. */
	if (!(p = strrchr(buf, ')')) ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
			  "%*d %*d %llu", &ticks) != 1)
		return 0;
	if (!(f = fopen("/proc/stat", "re")))
		return 0;
	while (fgets(buf, sizeof(buf), f))
		if (sscanf(buf, "btime %llu", &btime) == 1)
			break;
	fclose(f);
	return btime ? btime * NS + ticks * NS / (unsigned long long)hz : 0;
}

static uint64_t open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	uint64_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n ? n - 1 : 0; /* not the one reading the directory */
}

/* salved's own CPU, memory and files, named as the Prometheus client libraries name a
 * process's. */
static void process(struct metrics *m)
{
	unsigned long long size = 0, resident = 0;
	long page = sysconf(_SC_PAGESIZE);
	struct rusage ru;
	struct rlimit rl;
	uint64_t start = start_time_ns();
	FILE *f;

	if (!getrusage(RUSAGE_SELF, &ru)) {
		uint64_t us = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000ull +
			      (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);

		metrics_family(m, "process_cpu_seconds_total", METRICS_COUNTER,
			       "User and system CPU time salved spent, in seconds.");
		metrics_seconds(m, NULL, 0, us * 1000);
	}
	if ((f = fopen("/proc/self/statm", "re"))) {
		if (fscanf(f, "%llu %llu", &size, &resident) == 2 && page > 0) {
			gauge(m, "process_resident_memory_bytes", "salved's resident memory, in bytes.",
			      resident * (uint64_t)page);
			gauge(m, "process_virtual_memory_bytes", "salved's virtual memory, in bytes.",
			      size * (uint64_t)page);
		}
		fclose(f);
	}
	if (start) {
		metrics_family(m, "process_start_time_seconds", METRICS_GAUGE,
			       "When salved started, in seconds since the epoch.");
		metrics_seconds(m, NULL, 0, start);
	}
	gauge(m, "process_open_fds", "File descriptors salved has open.", open_fds());
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY)
		gauge(m, "process_max_fds", "File descriptors salved may open.", rl.rlim_cur);
}

int collect_metrics(const struct collect_sources *s, char **text, size_t *len)
{
	struct metrics *m;
	int err = metrics_new(&m);

	if (err)
		return err;
	salved(m, s);
	if (!(err = events(m, s))) {
		rules(m, s);
		actions(m, s);
		err = repairs(m, s);
	}
	err = err ?: checkpoints(m, s);
	if (!err) {
		sites(m, s);
		latency(m, s);
		process(m);
		err = metrics_finish(m, text, len);
	}
	metrics_free(m);
	return err;
}
