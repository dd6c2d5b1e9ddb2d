/* policy_describe: a loaded policy as salvectl policies shows it. */
#include "policy/policy.h"

static void add_strv(struct json_object *o, const char *key, char *const *v, size_t n)
{
	struct json_object *arr;

	if (!n || !(arr = json_object_new_array()))
		return;
	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, json_object_new_string(v[i]));
	json_object_object_add(o, key, arr);
}

static struct json_object *scope_describe(const struct policy_scope *sc)
{
	struct json_object *o = json_object_new_object(), *arr;

	if (!o)
		return NULL;
	add_strv(o, "binaries", sc->binaries, sc->n_binaries);
	add_strv(o, "cgroups", sc->cgroups, sc->n_cgroups);
	add_strv(o, "units", sc->units, sc->n_units);
	add_strv(o, "comms", sc->comms, sc->n_comms);
	if (sc->n_uids && (arr = json_object_new_array())) {
		for (size_t i = 0; i < sc->n_uids; i++)
			json_object_array_add(arr, json_object_new_uint64(sc->uids[i]));
		json_object_object_add(o, "uids", arr);
	}
	if (sc->exclude)
		json_object_object_add(o, "exclude", scope_describe(sc->exclude));
	return o;
}

struct json_object *policy_describe(const struct policy *p)
{
	struct json_object *o = json_object_new_object(), *probes, *rules;

	if (!o)
		return NULL;
	json_object_object_add(o, "name", json_object_new_string(p->name));
	json_object_object_add(o, "file", json_object_new_string(p->file));
	json_object_object_add(o, "dry_run", json_object_new_boolean(p->dry_run));
	json_object_object_add(o, "scope", scope_describe(&p->scope));
	json_object_object_add(o, "probes", probes = json_object_new_array());
	for (size_t i = 0; probes && i < p->n_probes; i++)
		json_object_array_add(probes, json_object_new_string(p->probes[i].id));
	json_object_object_add(o, "rules", rules = json_object_new_array());
	for (size_t i = 0; rules && i < p->n_rules; i++)
		json_object_array_add(rules, json_object_new_string(p->rules[i].id));
	return o;
}
