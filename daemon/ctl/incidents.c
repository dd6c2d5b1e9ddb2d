/* incidents: the last incidents, from their lines. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/incidents.h"
#include "events/report.h"

struct incidents {
	struct json_object *kept[INCIDENTS_KEEP]; /* a ring: n from first */
	size_t first, n;
};

int incidents_new(struct incidents **out)
{
	return (*out = calloc(1, sizeof(**out))) ? 0 : -ENOMEM;
}

void incidents_free(struct incidents *in)
{
	if (!in)
		return;
	for (size_t i = 0; i < in->n; i++)
		json_object_put(in->kept[(in->first + i) % INCIDENTS_KEEP]);
	free(in);
}

static const char *kind_of(struct json_object *line)
{
	return report_string_of(line, "kind") ?: "";
}

/* key's value in line, shared, else a fallback made. */
static struct json_object *copy(struct json_object *line, const char *key, struct json_object *fallback)
{
	struct json_object *v;

	if (json_object_object_get_ex(line, key, &v)) {
		json_object_put(fallback);
		return json_object_get(v);
	}
	return fallback;
}

/* The comm of the incident's last event. */
static struct json_object *last_comm(struct json_object *line)
{
	struct json_object *events, *last, *ev;
	size_t n;

	if (!json_object_object_get_ex(line, "events", &events) ||
	    !json_object_object_get_ex(events, "last", &last) ||
	    !json_object_is_type(last, json_type_array) || !(n = json_object_array_length(last)))
		return json_object_new_string("");
	ev = json_object_array_get_idx(last, n - 1);
	return copy(ev, "comm", json_object_new_string(""));
}

static void add_incident(struct incidents *in, struct json_object *line)
{
	struct json_object *o = json_object_new_object(), *actions = NULL, *src;

	if (!o)
		return;
	json_object_object_add(o, "id", copy(line, "id", json_object_new_uint64(0)));
	json_object_object_add(o, "time", copy(line, "time", json_object_new_string("")));
	json_object_object_add(o, "rule", copy(line, "rule", json_object_new_string("")));
	json_object_object_add(o, "policy", copy(line, "policy", json_object_new_string("")));
	json_object_object_add(o, "pid", copy(line, "pid", json_object_new_int64(0)));
	json_object_object_add(o, "comm", last_comm(line));
	if (json_object_object_get_ex(line, "binary", NULL))
		json_object_object_add(o, "binary", copy(line, "binary", NULL));
	else
		json_object_object_add(o, "exe", copy(line, "exe", json_object_new_string("")));
	json_object_object_add(o, "dry_run", copy(line, "dry_run", json_object_new_boolean(0)));
	/* The actions change as their lines come: a copy of their own. */
	if (json_object_object_get_ex(line, "actions", &src) && json_object_deep_copy(src, &actions, NULL))
		actions = NULL;
	json_object_object_add(o, "actions", actions ?: json_object_new_array());
	json_object_object_add(o, "verify", NULL);
	if (in->n == INCIDENTS_KEEP) {
		json_object_put(in->kept[in->first]);
		in->first = (in->first + 1) % INCIDENTS_KEEP;
		in->n--;
	}
	in->kept[(in->first + in->n++) % INCIDENTS_KEEP] = o;
}

/* The kept incident a line names by its "incident", else NULL. */
static struct json_object *find(struct incidents *in, struct json_object *line)
{
	struct json_object *id, *v;

	if (!json_object_object_get_ex(line, "incident", &id))
		return NULL;
	for (size_t i = in->n; i-- > 0;) {
		struct json_object *o = in->kept[(in->first + i) % INCIDENTS_KEEP];

		if (json_object_object_get_ex(o, "id", &v) &&
		    json_object_get_uint64(v) == json_object_get_uint64(id))
			return o;
	}
	return NULL;
}

/* An action ended: its entry becomes its line's outcome. */
static void set_action(struct json_object *inc, struct json_object *line)
{
	static const char *const skip[] = { "time", "kind", "incident", "rule", "policy" };
	struct json_object *actions, *index, *a = json_object_new_object();
	size_t at;

	if (!a)
		return;
	json_object_object_foreach(line, key, val) {
		bool skipped = false;

		for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
			skipped |= !strcmp(key, skip[i]);
		if (!skipped)
			json_object_object_add(a, key, json_object_get(val));
	}
	json_object_object_add(a, "state", json_object_new_string("ended"));
	if (!json_object_object_get_ex(inc, "actions", &actions) ||
	    !json_object_object_get_ex(line, "index", &index) ||
	    (at = (size_t)json_object_get_uint64(index)) > json_object_array_length(actions) ||
	    json_object_array_put_idx(actions, at, a))
		json_object_put(a);
}

void incidents_line(struct incidents *in, struct json_object *line)
{
	const char *kind = kind_of(line);
	struct json_object *inc, *outcome;

	if (!strcmp(kind, "incident"))
		add_incident(in, line);
	else if (!strcmp(kind, "action") && (inc = find(in, line)))
		set_action(inc, line);
	else if (!strcmp(kind, "verify") && (inc = find(in, line)) &&
		 json_object_object_get_ex(line, "outcome", &outcome))
		json_object_object_add(inc, "verify", json_object_get(outcome));
}

struct json_object *incidents_list(const struct incidents *in)
{
	struct json_object *list = json_object_new_array_ext((int)in->n);

	for (size_t i = 0; list && i < in->n; i++)
		if (json_object_array_add(list, json_object_get(in->kept[(in->first + i) % INCIDENTS_KEEP]))) {
			json_object_put(list);
			return NULL;
		}
	return list;
}
