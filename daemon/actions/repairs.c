/* repairs: the repairs in effect, their lines, their undo. */
#include "actions/repairs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/loop.h"
#include "events/report.h"

struct entry {
	uint64_t id;
	uint64_t incident_id;
	char *rule, *policy;
	struct repair_plan plan;
	bool verified;
	struct entry *next;
};

struct repairs {
	struct journal *journal;
	repairs_line_fn *line;
	void *ctx;
	int64_t realtime_offset_ns;
	uint64_t next_id;
	struct entry *entries; /* newest first */
};

int repairs_new(struct journal *journal, repairs_line_fn *line, void *ctx, struct repairs **out)
{
	struct repairs *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->journal = journal;
	r->line = line;
	r->ctx = ctx;
	r->next_id = 1;
	r->realtime_offset_ns = loop_realtime_offset_ns();
	*out = r;
	return 0;
}

static void entry_free(struct entry *e)
{
	free(e->rule);
	free(e->policy);
	free(e);
}

void repairs_free(struct repairs *r)
{
	if (!r)
		return;
	while (r->entries) {
		struct entry *e = r->entries;

		r->entries = e->next;
		entry_free(e);
	}
	free(r);
}

void repairs_set_clock(struct repairs *r, int64_t realtime_offset_ns)
{
	r->realtime_offset_ns = realtime_offset_ns;
}

static const char *kind_name(enum repair_kind k)
{
	return k == REPAIR_OVERRIDE ? "override" : "redirect";
}

/* {"time","kind":"repair","id"?, "do", origin…, "state"}: NULL when out of memory. */
static struct json_object *line_new(const struct repairs *r, uint64_t id, const char *what,
				    uint64_t incident_id, const char *rule, const char *policy,
				    const char *state)
{
	struct json_object *o = json_object_new_object();
	char when[64];
	int err;

	if (!o)
		return NULL;
	if (report_time(loop_now_ns(CLOCK_BOOTTIME) + (uint64_t)r->realtime_offset_ns, when,
			sizeof(when)) < 0)
		when[0] = 0;
	err = report_add(o, "time", json_object_new_string(when));
	err = err ?: report_add(o, "kind", json_object_new_string("repair"));
	if (id)
		err = err ?: report_add(o, "id", json_object_new_uint64(id));
	err = err ?: report_add(o, "do", json_object_new_string(what));
	err = err ?: report_add(o, "incident", json_object_new_uint64(incident_id));
	err = err ?: report_add(o, "rule", report_string(rule));
	err = err ?: report_add(o, "policy", report_string(policy));
	err = err ?: report_add(o, "state", json_object_new_string(state));
	if (err) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *entry_line(const struct repairs *r, const struct entry *e,
				      const char *state)
{
	struct json_object *o = line_new(r, e->id, kind_name(e->plan.kind), e->incident_id, e->rule,
					 e->policy, state);

	if (o && repair_plan_to_json(&e->plan, o)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static void emit(struct repairs *r, struct json_object *o)
{
	if (!o) {
		salve_log(LOG_ERR, "a repair line cannot be made: %s", strerror(ENOMEM));
		return;
	}
	if (r->line)
		r->line(r->ctx, o);
	json_object_put(o);
}

int repairs_applied(struct repairs *r, const struct repair_plan *p, const struct repair_origin *o,
		    const struct patch_stats *st, uint64_t *id)
{
	struct entry *e = calloc(1, sizeof(*e));
	struct json_object *line;

	if (!e || !(e->rule = strdup(o->rule ? o->rule : "")) ||
	    !(e->policy = strdup(o->policy ? o->policy : ""))) {
		if (e)
			entry_free(e);
		return -ENOMEM;
	}
	e->id = r->next_id++;
	e->incident_id = o->incident_id;
	e->plan = *p;
	e->next = r->entries;
	r->entries = e;
	*id = e->id;
	if ((line = entry_line(r, e, "applied")) && st) {
		report_add(line, "stopped_us", json_object_new_uint64(st->stopped_ns / 1000));
		report_add(line, "threads", json_object_new_uint64(st->threads));
		report_add(line, "tries", json_object_new_uint64(st->tries));
	}
	emit(r, line);
	return 0;
}

void repairs_refused(struct repairs *r, const char *what, const struct repair_origin *o,
		     uint32_t pid, const char *reason)
{
	struct json_object *line = line_new(r, 0, what, o->incident_id, o->rule, o->policy,
					    "refused");

	if (line && (report_add(line, "pid", json_object_new_int64(pid)) ||
		     report_add(line, "reason", json_object_new_string(reason)))) {
		json_object_put(line);
		line = NULL;
	}
	emit(r, line);
}

static struct entry **find(struct repairs *r, uint64_t id)
{
	struct entry **p = &r->entries;

	while (*p && (*p)->id != id)
		p = &(*p)->next;
	return p;
}

int repairs_rollback(struct repairs *r, uint64_t id, const char *reason, char *err,
		     size_t err_len)
{
	struct entry **at = find(r, id), *e = *at;
	struct json_object *desc, *line, *outcome;
	uint64_t seq = 0;
	bool journaled = false;
	int ret;

	err[0] = 0;
	if (!e) {
		snprintf(err, err_len, "no repair %llu is in effect", (unsigned long long)id);
		return -ENOENT;
	}
	/* Journal first, with everything the undo writes. */
	if ((desc = json_object_new_object()) &&
	    !report_add(desc, "do", json_object_new_string("rollback")) &&
	    !report_add(desc, "repair", json_object_new_uint64(id)) &&
	    !report_add(desc, "of", json_object_new_string(kind_name(e->plan.kind))) &&
	    !repair_plan_to_json(&e->plan, desc)) {
		ret = journal_begin(r->journal,
				    &(struct journal_subject){ e->incident_id, e->rule, e->policy,
							       e->plan.pid, e->plan.path },
				    0, desc, &seq);
		if (ret) {
			snprintf(err, err_len, "journal %s: %s: not undoing repair %llu",
				 journal_path(r->journal), strerror(-ret), (unsigned long long)id);
			json_object_put(desc);
			return ret;
		}
		journaled = true;
	}
	json_object_put(desc);
	ret = repair_undo(&e->plan, NULL, err, err_len);
	line = entry_line(r, e, "rolled_back");
	if (line)
		report_add(line, "reason", json_object_new_string(
				     ret == -ESRCH || ret == -ESTALE ? "the process is gone" : reason));
	if (line && ret && ret != -ESRCH && ret != -ESTALE)
		report_add(line, "error", json_object_new_string(err));
	if (journaled && (outcome = json_object_new_object())) {
		report_add(outcome, "do", json_object_new_string("rollback"));
		report_add(outcome, "outcome", json_object_new_string(ret ? err : "undone"));
		journal_end(r->journal, seq, outcome);
		json_object_put(outcome);
	}
	*at = e->next;
	entry_free(e);
	emit(r, line);
	return ret == -ESRCH || ret == -ESTALE ? 0 : ret;
}

void repairs_verified(struct repairs *r, uint64_t incident_id, bool resolved)
{
	struct entry *e = r->entries, *next;
	char err[512];

	for (; e; e = next) {
		next = e->next;
		if (e->incident_id != incident_id || e->verified)
			continue;
		if (resolved) {
			e->verified = true;
			emit(r, entry_line(r, e, "verified"));
		} else if (repairs_rollback(r, e->id, "the fault did not stop within the rule's "
						      "verify window", err, sizeof(err))) {
			salve_log(LOG_ERR, "repair %llu: %s", (unsigned long long)e->id, err);
		}
	}
}

struct json_object *repairs_list(const struct repairs *r)
{
	struct json_object *a = json_object_new_array();

	for (const struct entry *e = r->entries; a && e; e = e->next) {
		struct json_object *o = entry_line(r, e, e->verified ? "verified" : "applied");

		if (!o || json_object_array_add(a, o)) {
			json_object_put(o);
			json_object_put(a);
			return NULL;
		}
		json_object_object_del(o, "time");
	}
	return a;
}
