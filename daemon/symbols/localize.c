/* localize: pick the suspect frame of an incident's stacks, from its named events. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "symbols/localize.h"

static const char *str_field(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v) : NULL;
}

static bool in_scope(const struct policy *policy, struct json_object *ev, const char *module)
{
	const char *exe;

	if (policy && policy->scope.n_binaries) {
		for (size_t i = 0; i < policy->scope.n_binaries; i++)
			if (!strcmp(policy->scope.binaries[i], module))
				return true;
		return false;
	}
	/* The process's own executable. */
	return (exe = str_field(ev, "exe")) && !strcmp(exe, module);
}

/* Frame f into out. */
static void take_frame(struct json_object *f, const char *module, struct localize_suspect *out)
{
	const char *symbol = str_field(f, "symbol");
	struct json_object *off;

	snprintf(out->module, sizeof(out->module), "%s", module);
	snprintf(out->symbol, sizeof(out->symbol), "%s", symbol ? symbol : "");
	out->offset = json_object_object_get_ex(f, "offset", &off) ? json_object_get_uint64(off) : 0;
}

/* A probed function: its entry, from its symbol (or the file's offset without one). */
static void take_site(struct json_object *site, struct localize_suspect *out)
{
	take_frame(site, str_field(site, "module"), out);
	if (out->symbol[0])
		out->offset = 0;
}

/* The probed function of a function event ("site"), as a frame; NULL for others. */
static struct json_object *site_of(struct json_object *ev)
{
	struct json_object *site;

	return json_object_object_get_ex(ev, "site", &site) &&
			       json_object_is_type(site, json_type_object) && str_field(site, "module")
		       ? site : NULL;
}

/* The innermost frame, newest event first, that has a module and passes: in_scope
 * frames on the first pass, named ones on the second. A function event's innermost
 * frame is its probed function (its stack, taken at the return, starts at the
 * caller). */
static int find(const struct policy *policy, struct json_object *const *events, size_t n_events,
		bool scoped, struct localize_suspect *out)
{
	for (size_t e = n_events; e-- > 0;) {
		struct json_object *stack, *site = site_of(events[e]);

		if (site && (scoped ? in_scope(policy, events[e], str_field(site, "module"))
				    : !!str_field(site, "symbol"))) {
			take_site(site, out);
			out->in_scope = scoped;
			return 0;
		}
		if (!json_object_object_get_ex(events[e], "stack", &stack) ||
		    !json_object_is_type(stack, json_type_array))
			continue;
		for (size_t i = 0; i < json_object_array_length(stack); i++) {
			struct json_object *f = json_object_array_get_idx(stack, i);
			const char *module = str_field(f, "module");

			if (!module)
				continue;
			if (scoped ? in_scope(policy, events[e], module) : !!str_field(f, "symbol")) {
				take_frame(f, module, out);
				out->in_scope = scoped;
				return 0;
			}
		}
	}
	return -ENOENT;
}

/* Without a stack to choose from: the probed function of the newest function event. */
static int probed(struct json_object *const *events, size_t n_events, struct localize_suspect *out)
{
	for (size_t e = n_events; e-- > 0;) {
		struct json_object *site = site_of(events[e]);

		if (site) {
			take_site(site, out);
			out->in_scope = false;
			return 0;
		}
	}
	return -ENOENT;
}

int localize_suspect(const struct policy *policy, struct json_object *const *events,
		     size_t n_events, struct localize_suspect *out)
{
	/* Newest event first: it is the one that made the rule fire. */
	if (!find(policy, events, n_events, true, out))
		return 0;
	if (!probed(events, n_events, out))
		return 0;
	return find(policy, events, n_events, false, out);
}
