/* repair_json: a repair's spec and plan as JSON, for the journal, repairs.json and the
 * repair lines, and back. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/repair.h"
#include "base/hex.h"
#include "events/report.h"

static int add_addr(struct json_object *obj, const char *key, uint64_t v)
{
	char s[32];

	snprintf(s, sizeof(s), "%#" PRIx64, v);
	return report_add(obj, key, json_object_new_string(s));
}

static const char *str_of(struct json_object *obj, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(obj, key, &v) ? json_object_get_string(v) : NULL;
}

static bool u64_of(struct json_object *obj, const char *key, uint64_t *out)
{
	const char *s = str_of(obj, key);
	char *end;

	if (!s)
		return false;
	errno = 0;
	*out = strtoull(s, &end, 0);
	return !errno && end != s && !*end;
}

static const char *const pred_ops[] = { [PRED_LT] = "<",  [PRED_LE] = "<=", [PRED_GT] = ">",
					[PRED_GE] = ">=", [PRED_EQ] = "==", [PRED_NE] = "!=",
					[PRED_IN] = "in" };

/* "when": {"arg": 0, "op": "==", "values": [3]} */
static int when_to_json(const struct code_when *w, struct json_object *obj)
{
	struct json_object *o = json_object_new_object(), *values = json_object_new_array();
	int err = !o || !values ? -ENOMEM : 0;

	for (size_t i = 0; !err && i < w->pred.n_values; i++)
		err = json_object_array_add(values, json_object_new_int64(w->pred.values[i])) ? -ENOMEM
											       : 0;
	if (err) {
		json_object_put(o);
		json_object_put(values);
		return err;
	}
	err = report_add(o, "arg", json_object_new_int(w->arg));
	err = err ?: report_add(o, "op", json_object_new_string(pred_ops[w->pred.op]));
	err = err ?: report_add(o, "values", values);
	return err ?: report_add(obj, "when", o);
}

static int when_from_json(struct json_object *o, struct code_when *w)
{
	struct json_object *arg, *op, *values;
	size_t i;

	memset(w, 0, sizeof(*w));
	if (!json_object_object_get_ex(o, "arg", &arg) || !json_object_object_get_ex(o, "op", &op) ||
	    !json_object_object_get_ex(o, "values", &values) ||
	    !json_object_is_type(values, json_type_array) ||
	    !json_object_array_length(values) ||
	    json_object_array_length(values) > POLICY_PRED_VALUES ||
	    (w->arg = (unsigned)json_object_get_int(arg)) >= POLICY_OVERRIDE_ARGS)
		return -EINVAL;
	for (i = 0; i < sizeof(pred_ops) / sizeof(pred_ops[0]); i++)
		if (!strcmp(json_object_get_string(op), pred_ops[i]))
			break;
	if (i == sizeof(pred_ops) / sizeof(pred_ops[0]))
		return -EINVAL;
	w->pred.op = (enum policy_pred_op)i;
	w->pred.n_values = json_object_array_length(values);
	for (i = 0; i < w->pred.n_values; i++)
		w->pred.values[i] = json_object_get_int64(json_object_array_get_idx(values, i));
	return 0;
}

int repair_spec_to_json(const struct repair_plan *spec, struct json_object *obj)
{
	int err = report_add(obj, "binary", json_object_new_string(spec->path));

	err = err ?: report_add(obj, "symbol", json_object_new_string(spec->symbol));
	if (spec->kind == REPAIR_REDIRECT) {
		err = err ?: report_add(obj, "to", json_object_new_string(spec->to_symbol));
		if (!spec->library[0])
			return err;
		err = err ?: report_add(obj, "library", json_object_new_string(spec->library));
		return err ?: report_add(obj, "library_build_id",
					 json_object_new_string(spec->library_build_id));
	}
	err = err ?: report_add(obj, "return", json_object_new_int64(spec->value));
	if (spec->gate)
		err = err ?: report_add(obj, "gate", json_object_new_boolean(true));
	return err || !spec->has_when ? err : when_to_json(&spec->when, obj);
}

int repair_spec_from_json(struct json_object *obj, struct repair_plan *spec)
{
	const char *kind = str_of(obj, "do"), *path = str_of(obj, "binary"),
		   *symbol = str_of(obj, "symbol");
	struct json_object *v;

	memset(spec, 0, sizeof(*spec));
	if (!kind || !path || !symbol)
		return -EINVAL;
	snprintf(spec->path, sizeof(spec->path), "%s", path);
	snprintf(spec->symbol, sizeof(spec->symbol), "%s", symbol);
	if (!strcmp(kind, "redirect")) {
		const char *to = str_of(obj, "to"), *library = str_of(obj, "library"),
			   *build_id = str_of(obj, "library_build_id");

		spec->kind = REPAIR_REDIRECT;
		if (!to || (library && !build_id))
			return -EINVAL;
		snprintf(spec->to_symbol, sizeof(spec->to_symbol), "%s", to);
		snprintf(spec->library, sizeof(spec->library), "%s", library ?: "");
		snprintf(spec->library_build_id, sizeof(spec->library_build_id), "%s", build_id ?: "");
		return 0;
	}
	if (strcmp(kind, "override") || !json_object_object_get_ex(obj, "return", &v))
		return -EINVAL;
	spec->kind = REPAIR_OVERRIDE;
	spec->value = json_object_get_int64(v);
	spec->gate = json_object_object_get_ex(obj, "gate", &v) && json_object_get_boolean(v);
	if (!json_object_object_get_ex(obj, "when", &v))
		return 0;
	spec->has_when = true;
	return when_from_json(v, &spec->when);
}

int repair_plan_to_json(const struct repair_plan *p, struct json_object *obj)
{
	char orig[2 * CODE_MAX + 1], code[2 * CODE_MAX + 1];
	int err;

	hex_encode(p->orig, p->len, orig);
	hex_encode(p->code, p->len, code);
	err = report_add(obj, "pid", json_object_new_int64(p->pid));
	err = err ?: report_add(obj, "start_ns", json_object_new_uint64(p->start_ns));
	err = err ?: repair_spec_to_json(p, obj);
	err = err ?: report_add(obj, "build_id", json_object_new_string(p->build_id));
	err = err ?: add_addr(obj, "file_offset", p->file_off);
	err = err ?: add_addr(obj, "address", p->addr);
	if (p->mechanism == REPAIR_UPROBE_REGS) {
		err = err ?: report_add(obj, "mechanism", json_object_new_string("uprobe_regs"));
		return err || !p->cookie ? err : report_add(obj, "cookie",
							     json_object_new_uint64(p->cookie));
	}
	err = err ?: report_add(obj, "after_first", json_object_new_uint64(p->skip));
	if (p->kind == REPAIR_REDIRECT) {
		err = err ?: report_add(obj, "to_binary", json_object_new_string(p->to_path));
		err = err ?: add_addr(obj, "to_address", p->to_addr);
		if (p->library_handle)
			err = err ?: add_addr(obj, "library_handle", p->library_handle);
	}
	if (p->has_when || p->gate) {
		char *tramp = malloc(2 * p->tramp_len + 1);

		if (!tramp)
			return -ENOMEM;
		hex_encode(p->tramp, p->tramp_len, tramp);
		err = err ?: add_addr(obj, "page", p->page);
		err = err ?: report_add(obj, "trampoline", json_object_new_string(tramp));
		free(tramp);
	}
	err = err ?: report_add(obj, "mechanism", json_object_new_string("hot_patch"));
	err = err ?: report_add(obj, "original", json_object_new_string(orig));
	return err ?: report_add(obj, "patched", json_object_new_string(code));
}

int repair_plan_from_json(struct json_object *obj, struct repair_plan *out)
{
	const char *orig = str_of(obj, "original"), *code = str_of(obj, "patched"),
		   *build_id = str_of(obj, "build_id");
	struct json_object *v;
	size_t n_orig, n_code;
	uint64_t pid;

	const char *mechanism = str_of(obj, "mechanism");

	if (repair_spec_from_json(obj, out) || !u64_of(obj, "pid", &pid) ||
	    !u64_of(obj, "start_ns", &out->start_ns) || !u64_of(obj, "address", &out->addr) ||
	    !u64_of(obj, "file_offset", &out->file_off))
		return -EINVAL;
	out->pid = (uint32_t)pid;
	snprintf(out->build_id, sizeof(out->build_id), "%s", build_id ? build_id : "");
	if (mechanism && !strcmp(mechanism, "uprobe_regs")) {
		out->mechanism = REPAIR_UPROBE_REGS;
		if (json_object_object_get_ex(obj, "cookie", &v))
			out->cookie = (uint64_t)json_object_get_int64(v);
		return out->kind == REPAIR_OVERRIDE ? 0 : -EINVAL;
	}
	if (!orig || !code || hex_decode(orig, out->orig, CODE_MAX, &n_orig) ||
	    hex_decode(code, out->code, CODE_MAX, &n_code) || n_orig != n_code || !n_code)
		return -EINVAL;
	out->len = n_code;
	if (json_object_object_get_ex(obj, "after_first", &v))
		out->skip = (size_t)json_object_get_int64(v);
	if (out->kind == REPAIR_REDIRECT) {
		const char *to_path = str_of(obj, "to_binary");

		if (!to_path || !u64_of(obj, "to_address", &out->to_addr))
			return -EINVAL;
		snprintf(out->to_path, sizeof(out->to_path), "%s", to_path);
		u64_of(obj, "library_handle", &out->library_handle);
	}
	if (out->has_when || out->gate) {
		const char *tramp = str_of(obj, "trampoline");

		if (!tramp || !u64_of(obj, "page", &out->page) ||
		    hex_decode(tramp, out->tramp, CODE_TRAMPOLINE_MAX, &out->tramp_len))
			return -EINVAL;
	}
	return 0;
}
