/* incident: one fired rule as a JSON line, its events decoded and named only now. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/events.h"
#include "actions/incident.h"
#include "symbols/localize.h"
#include "events/report.h"
#include "kernel/scope.h"

/* Decoding and naming need room no callback stack should give. */
struct scratch {
	struct event events[INCIDENT_RECORDS_MAX];
	size_t n_events;
	struct report_frame frames[SALVE_STACK_MAX];
	struct symbol names[SALVE_STACK_MAX];
	char build_ids[SALVE_MODULES_MAX][BUILD_ID_HEX_MAX];
};

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

/* The one probe among the rule's leaves that reports this kind of event; NULL when
 * none or several do (a record does not say which of them it answered). */
static const char *probe_of(const struct policy_cond *c, enum salve_event_kind kind,
			    const char *found, bool *ambiguous)
{
	if (c->kind == POLICY_COND_ALL || c->kind == POLICY_COND_ANY) {
		for (size_t i = 0; i < c->n_children; i++)
			found = probe_of(&c->children[i], kind, found, ambiguous);
		return found;
	}
	if (!c->probe || scope_event_kind(c->probe->kind) != kind)
		return found;
	if (found && strcmp(found, c->probe->id))
		*ambiguous = true;
	return c->probe->id;
}

static const char *record_probe(const struct incident *inc, enum salve_event_kind kind)
{
	bool ambiguous = false;
	const char *id;

	if (!inc->rule)
		return NULL;
	id = probe_of(&inc->rule->when, kind, NULL, &ambiguous);
	return ambiguous ? NULL : id;
}

/* The C++ runtime's demangler, from libstdc++ (its ABI, callable from C). */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

/* A thrown type as written in source, as the event lines show it. */
static void demangle_type(struct event *ev)
{
	const char *mangled = ev->text.text + (ev->text.text[0] == '*');
	int status = -1;
	char *name = __cxa_demangle(mangled, NULL, NULL, &status);

	if (!status && name)
		snprintf(ev->text.text, sizeof(ev->text.text), "%s", name);
	free(name);
}

/* Name ev's frames into s->frames, as the event lines do; returns how many. */
static size_t name_frames(struct symbolizer *sym, const struct event *ev, struct scratch *s)
{
	for (size_t j = 0; j < ev->n_modules; j++) {
		const struct event_module *m = &ev->modules[j];

		s->build_ids[j][0] = '\0';
		if (sym && !m->truncated)
			symbolizer_build_id(sym, &(struct symbolizer_file){ m->path, m->dev, m->ino },
					    s->build_ids[j]);
	}
	for (size_t i = 0; i < ev->n_frames; i++) {
		const struct event_frame *f = &ev->frames[i];
		struct report_frame *r = &s->frames[i];
		const struct event_module *m;

		if (i && f->ip == ev->frames[i - 1].ip)
			return i;
		*r = (struct report_frame){ .ip = f->ip };
		if (f->module < 0 || (size_t)f->module >= ev->n_modules)
			continue;
		m = &ev->modules[f->module];
		r->module = m->path;
		r->offset = f->file_off;
		if (s->build_ids[f->module][0])
			r->build_id = s->build_ids[f->module];
		if (sym && !m->truncated &&
		    !symbolizer_lookup(sym, &(struct symbolizer_file){ m->path, m->dev, m->ino },
				       f->file_off, &s->names[i])) {
			r->symbol = s->names[i].name;
			r->offset = s->names[i].offset;
		}
	}
	return ev->n_frames;
}

static int add_events(struct json_object *obj, const struct incident *inc,
		      struct symbolizer *sym, int64_t offset, struct scratch *s)
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
		struct event *ev = &s->events[s->n_events];
		size_t n;

		/* The engine kept what it could decode; a record that no longer does is
		 * left out rather than failing the whole incident. */
		if (!rec->data || events_decode(rec->data, rec->size, ev))
			continue;
		if (ev->kind == SALVE_EV_EXCEPTION)
			demangle_type(ev);
		s->n_events++;
		n = name_frames(sym, ev, s);
		err = push(last, report_event(ev, record_probe(inc, ev->kind),
					      ev->boot_ns + (uint64_t)offset, s->frames, n));
	}
	return err;
}

static int add_suspect(struct json_object *obj, const struct incident *inc,
		       struct symbolizer *sym, const struct scratch *s)
{
	const struct policy *policy = inc->rule ? inc->rule->policy : NULL;
	struct localize_suspect sus;
	struct json_object *so;
	int err;

	if (!sym || localize_suspect(sym, policy, s->events, s->n_events, &sus)) {
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

int incident_to_json(const struct incident *inc, struct symbolizer *sym,
		     int64_t realtime_offset_ns, struct json_object **out)
{
	const struct policy_rule *rule = inc->rule;
	struct json_object *obj = json_object_new_object();
	struct scratch *s = calloc(1, sizeof(*s));
	char when[64];
	int err = 0;

	if (!obj || !s) {
		err = -ENOMEM;
		goto out;
	}
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
	err = err ?: add_events(obj, inc, sym, realtime_offset_ns, s);
	err = err ?: add_suspect(obj, inc, sym, s);
	err = err ?: report_add(obj, "actions", json_object_new_array());
out:
	free(s);
	if (err) {
		json_object_put(obj);
		return err;
	}
	*out = obj;
	return 0;
}
