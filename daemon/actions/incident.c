/* incident: one fired rule as a JSON line, with the named lines of its last events. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/incident.h"
#include "symbols/localize.h"
#include "events/report.h"

static int push(struct json_object *arr, struct json_object *val)
{
	if (!val)
		return -ENOMEM;
	if (json_object_array_add(arr, val) < 0) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

static const struct policy_cond *first_leaf(const struct policy_cond *c)
{
	if (c->kind != POLICY_COND_ALL && c->kind != POLICY_COND_ANY)
		return c;
	for (size_t i = 0; i < c->n_children; i++) {
		const struct policy_cond *leaf = first_leaf(&c->children[i]);

		if (leaf)
			return leaf;
	}
	return NULL;
}

const char *incident_first_probe(const struct incident *inc)
{
	const struct policy_cond *leaf;

	if (inc->n_counts && inc->counts[0].probe_id)
		return inc->counts[0].probe_id;
	if (!inc->rule || !(leaf = first_leaf(&inc->rule->when)))
		return NULL;
	return leaf->probe ? leaf->probe->id : leaf->probe_id;
}

uint64_t incident_events(const struct incident *inc)
{
	uint64_t n = 0;

	for (size_t i = 0; i < inc->n_counts && i < INCIDENT_LEAVES_MAX; i++)
		n += inc->counts[i].events;
	return n;
}

/* "last": the events' own lines, parsed back; n_last says how many, in last[]. */
static int add_events(struct json_object *obj, const struct incident *inc,
		      struct json_object *last_events[INCIDENT_RECORDS_MAX], size_t *n_last)
{
	struct json_object *events = json_object_new_object(), *counts, *last;
	int err = report_add(obj, "events", events);

	err = err ?: report_add(events, "counts", counts = json_object_new_array());
	for (size_t i = 0; !err && i < inc->n_counts && i < INCIDENT_LEAVES_MAX; i++) {
		const struct incident_count *c = &inc->counts[i];
		struct json_object *co = json_object_new_object();

		err = push(counts, co);
		err = err ?: report_add(co, "probe", report_string(c->probe_id));
		err = err ?: report_add(co, "events", json_object_new_uint64(c->events));
		if (c->value_ns)
			err = err ?: report_add(co, "value_ns", json_object_new_uint64(c->value_ns));
	}
	err = err ?: report_add(events, "last", last = json_object_new_array());
	for (size_t i = 0; !err && i < inc->n_records && i < INCIDENT_RECORDS_MAX; i++) {
		const struct incident_record *rec = &inc->records[i];
		struct json_tokener *tok;
		struct json_object *ev;

		if (!rec->line || !rec->len || rec->len > INT32_MAX)
			continue;
		if (!(tok = json_tokener_new()))
			return -ENOMEM;
		ev = json_tokener_parse_ex(tok, rec->line, (int)rec->len);
		json_tokener_free(tok);
		/* A line that no longer parses (it cannot, as the pipeline wrote it) is left
		 * out rather than failing the whole incident. */
		if (!ev)
			continue;
		if (!json_object_is_type(ev, json_type_object)) {
			json_object_put(ev);
			continue;
		}
		if (!(err = push(last, ev)))
			last_events[(*n_last)++] = ev;
	}
	return err;
}

static int add_suspect(struct json_object *obj, const struct incident *inc,
		       struct json_object *const *events, size_t n_events)
{
	const struct policy *policy = inc->rule ? inc->rule->policy : NULL;
	struct localize_suspect sus;
	struct json_object *so;
	int err;

	if (localize_suspect(policy, events, n_events, &sus)) {
		/* json-c stores a JSON null as a NULL value. */
		return json_object_object_add(obj, "suspect", NULL) < 0 ? -ENOMEM : 0;
	}
	err = report_add(obj, "suspect", so = json_object_new_object());
	err = err ?: report_add(so, "module", report_string(sus.module));
	if (sus.symbol[0])
		err = err ?: report_add(so, "symbol", report_string(sus.symbol));
	else if (!err && json_object_object_add(so, "symbol", NULL) < 0)
		err = -ENOMEM;
	err = err ?: report_add(so, "offset", json_object_new_uint64(sus.offset));
	err = err ?: report_add(so, "in_scope", json_object_new_boolean(sus.in_scope));
	return err;
}

static const char *by_name(enum policy_group_by by)
{
	switch (by) {
	case POLICY_BY_PROCESS:
		return "process";
	case POLICY_BY_BINARY:
		return "binary";
	case POLICY_BY_HOST:
		return "host";
	}
	return "?";
}

static int add_group(struct json_object *obj, const struct incident *inc)
{
	int err = report_add(obj, "by", json_object_new_string(by_name(inc->by)));

	switch (inc->by) {
	case POLICY_BY_PROCESS:
		err = err ?: report_add(obj, "pid", json_object_new_int64(inc->pid));
		if (inc->exe[0])
			err = err ?: report_add(obj, "exe", report_string(inc->exe));
		break;
	case POLICY_BY_BINARY:
		err = err ?: report_add(obj, "binary", report_string(inc->exe));
		err = err ?: report_add(obj, "pid", json_object_new_int64(inc->pid));
		break;
	case POLICY_BY_HOST:
		err = err ?: report_add(obj, "host", json_object_new_boolean(true));
		err = err ?: report_add(obj, "pid", json_object_new_int64(inc->pid));
		break;
	}
	return err;
}

int incident_to_json(const struct incident *inc, int64_t realtime_offset_ns,
		     struct json_object **out)
{
	const struct policy_rule *rule = inc->rule;
	struct json_object *obj = json_object_new_object(), *last[INCIDENT_RECORDS_MAX];
	size_t n_last = 0;
	char when[64];
	int err = 0;

	if (!obj)
		return -ENOMEM;
	if (report_time(inc->boot_ns + (uint64_t)realtime_offset_ns, when, sizeof(when)) < 0)
		when[0] = '\0';
	err = err ?: report_add(obj, "time", json_object_new_string(when));
	err = err ?: report_add(obj, "kind", json_object_new_string("incident"));
	err = err ?: report_add(obj, "id", json_object_new_uint64(inc->id));
	err = err ?: report_add(obj, "rule", report_string(rule ? rule->id : NULL));
	err = err ?: report_add(obj, "policy", report_string(rule && rule->policy ? rule->policy->name
									: NULL));
	err = err ?: add_group(obj, inc);
	err = err ?: report_add(obj, "dry_run", json_object_new_boolean(inc->dry_run));
	if (inc->budget_exhausted)
		err = err ?: report_add(obj, "budget_exhausted", json_object_new_boolean(true));
	err = err ?: add_events(obj, inc, last, &n_last);
	err = err ?: add_suspect(obj, inc, last, n_last);
	err = err ?: report_add(obj, "actions", json_object_new_array());
	if (err) {
		json_object_put(obj);
		return err;
	}
	*out = obj;
	return 0;
}
