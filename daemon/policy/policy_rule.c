/* policy_rule: rules: when a run of events is a fault ("when", "by"), how often to act
 * ("cooldown", "budget", "dry_run", "verify"), and what to do ("actions").
 *
 * A rule names its probes by id; the probes may live in any file of the set, so what
 * depends on the probe (its kind, its value type) is checked by ps_resolve_rules once the
 * whole set is parsed. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_spec.h"

#define COND_DEPTH_MAX 8          /* nested "all"/"any" */
#define EXEC_TIMEOUT_MAX (600 * NS_PER_SEC)
#define EXEC_OUTPUT_DEFAULT 4096
#define EXEC_OUTPUT_MAX (1u << 20)

static const struct {
	const char *key;
	double percentile;
} percentiles[] = {
	{ "p50", 50 }, { "p90", 90 }, { "p95", 95 }, { "p99", 99 }, { "p999", 99.9 },
};

/* ---- leaves ---------------------------------------------------------------------------- */

#define CO(field) offsetof(struct policy_cond, field)

static int parse_count(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	struct policy_cond *c = dst;
	int err = ps_parse_u32(ps, v, dst, f);

	if (!err)
		c->kind = POLICY_COND_COUNT;
	return err;
}

/* "5/s", "0.5/s", "30/m": events per second or per minute, stored per second. */
static int parse_rate(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	struct policy_cond *c = dst;
	const char *s = json_object_get_string(v);
	size_t len = json_object_get_string_len(v), i = 0, digits = 0;
	char shown[SHOWN_LEN], *end;
	double x = 0;
	bool ok;

	(void)f;
	for (; i < len && (is_digit(s[i]) || s[i] == '.'); i++)
		digits += is_digit(s[i]);
	ok = digits && len == i + 2 && s[i] == '/' && (s[i + 1] == 's' || s[i + 1] == 'm') &&
	     s[0] != '.' && s[i - 1] != '.';
	if (ok) {
		x = strtod(s, &end);
		ok = end == s + i && isfinite(x) && x > 0;
	}
	if (!ok)
		return ps_fail(ps, "expected a rate of events greater than 0 such as \"5/s\" or \"30/m\", "
			       "got %s", ps_show(v, shown, sizeof(shown)));
	if (s[i + 1] == 'm')
		x /= 60;
	if (x > POLICY_RATE_MAX)
		return ps_fail(ps, "expected a rate of at most %.0f/s, got %s", POLICY_RATE_MAX,
			       ps_show(v, shown, sizeof(shown)));
	c->kind = POLICY_COND_RATE;
	c->rate = x;
	return 0;
}

static const struct field baseline_fields[] = {
	{ .name = "baseline", .flags = FIELD_REQUIRED | FIELD_ANY_TYPE, .parse = ps_parse_duration,
	  .min = NS_PER_SEC, .max = POLICY_SPAN_MAX_NS, .off = CO(baseline_ns),
	  .help = "the window the percentile is learned over, such as \"10m\"" },
	{ .name = "factor", .flags = FIELD_REQUIRED | FIELD_ANY_TYPE, .parse = ps_parse_factor,
	  .off = CO(baseline_factor), .help = "how many times the learned percentile, a number > 1" },
};

static const struct object_spec baseline_spec = {
	.fields = baseline_fields, .n_fields = N_FIELDS(baseline_fields),
};

/* "p99": "50ms" (a fixed value) or {"baseline": "10m", "factor": 2}. The kernel keeps
 * latency histograms per probe site, so only a rule by binary or host can read them. */
static int parse_percentile_key(struct parser *ps, struct json_object *v, void *dst,
				const struct field *f)
{
	const struct policy_rule *r = ps->ctx;
	struct policy_cond *c = dst;
	struct field dur = { .off = CO(above_ns), .max = POLICY_LATENCY_MAX_NS };
	char shown[SHOWN_LEN];
	int err;

	if (r && r->by == POLICY_BY_PROCESS)
		return ps_fail(ps, "a percentile needs \"by\": \"binary\" or \"host\" on its rule (the "
			       "kernel keeps latency histograms per probe site, not per process)");
	if (json_object_is_type(v, json_type_object))
		err = ps_check_object(ps, v, &baseline_spec, c);
	else if (json_object_is_type(v, json_type_string))
		err = ps_parse_duration(ps, v, c, &dur);
	else
		err = ps_fail(ps, "expected a duration such as \"50ms\", or {\"baseline\": \"10m\", "
			      "\"factor\": 2}, got %s", ps_show(v, shown, sizeof(shown)));
	if (err)
		return err;
	for (size_t i = 0; i < N_FIELDS(percentiles); i++)
		if (!strcmp(f->name, percentiles[i].key))
			c->percentile = percentiles[i].percentile;
	c->kind = POLICY_COND_PERCENTILE;
	return 0;
}

/* A string, or a non-empty array of them, handed one at a time to each(). */
static int one_or_many(struct parser *ps, struct json_object *v, const char *a, const char *what,
		       int (*each)(struct parser *ps, struct json_object *e, void *dst), void *dst)
{
	size_t n;

	if (json_object_is_type(v, json_type_string))
		return each(ps, v, dst);
	if (!json_object_is_type(v, json_type_array)) {
		char shown[SHOWN_LEN];

		return ps_fail(ps, "expected %s %s or an array of them, got %s", a, what,
			       ps_show(v, shown, sizeof(shown)));
	}
	if (!(n = json_object_array_length(v)))
		return ps_fail(ps, "expected at least one %s, got []", what);
	int first = 0;

	for (size_t i = 0; i < n; i++) {
		size_t mark = ps_path_index(ps, i);
		int err = each(ps, json_object_array_get_idx(v, i), dst);

		ps_path_pop(ps, mark);
		if (err && !ps_go_on(ps, err, &first))
			return err;
	}
	return first;
}

static int one_signal(struct parser *ps, struct json_object *e, void *dst)
{
	return ps_parse_signal(ps, e, &((struct policy_cond *)dst)->filter.signals_mask);
}

static int parse_signal_filter(struct parser *ps, struct json_object *v, void *dst,
			       const struct field *f)
{
	(void)f;
	return one_or_many(ps, v, "a", "signal name", one_signal, dst);
}

static int one_errno(struct parser *ps, struct json_object *e, void *dst)
{
	struct policy_filter *fl = &((struct policy_cond *)dst)->filter;
	int value, err;

	if ((err = ps_name_value(ps, e, &ps_errno_table, &value)))
		return err;
	int *n = realloc(fl->errnos, (fl->n_errnos + 1) * sizeof(*n));

	if (!n)
		return ps_no_memory(ps);
	fl->errnos = n;
	fl->errnos[fl->n_errnos++] = value;
	return 0;
}

static int parse_errno_filter(struct parser *ps, struct json_object *v, void *dst,
			      const struct field *f)
{
	(void)f;
	return one_or_many(ps, v, "an", "errno name", one_errno, dst);
}

static int one_type(struct parser *ps, struct json_object *e, void *dst)
{
	struct policy_filter *fl = &((struct policy_cond *)dst)->filter;
	const char *s;
	char **n;
	int err;

	if (!json_object_is_type(e, json_type_string))
		return ps_wrong_type(ps, json_type_string, e);
	if ((err = ps_string_value(ps, e, ps_check_type_name, &s)))
		return err;
	if (!(n = realloc(fl->types, (fl->n_types + 1) * sizeof(*n))))
		return ps_no_memory(ps);
	fl->types = n;
	if (!(fl->types[fl->n_types] = strdup(s)))
		return ps_no_memory(ps);
	fl->n_types++;
	return 0;
}

static int parse_type_filter(struct parser *ps, struct json_object *v, void *dst,
			     const struct field *f)
{
	(void)f;
	return one_or_many(ps, v, "a", "C++ type name", one_type, dst);
}

/* A function as a stack shows it: one word without spaces ("parse", "app::Parser::run"). */
static int check_function(struct parser *ps, struct json_object *v, const char *s, size_t len)
{
	char shown[SHOWN_LEN];

	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return ps_fail(ps, "expected a function name without spaces, such as \"parse\", "
				       "got %s", ps_show(v, shown, sizeof(shown)));
	return 0;
}

static const struct field leaf_fields[] = {
	{ .name = "probe", .type = json_type_string, .flags = FIELD_REQUIRED, .parse = ps_parse_string,
	  .check = ps_check_id, .off = CO(probe_id),
	  .help = "the id of a probe of the policy set" },
	{ .name = "count", .type = json_type_int, .parse = parse_count, .min = 1, .off = CO(count) },
	{ .name = "rate", .type = json_type_string, .parse = parse_rate },
	{ .name = "p50", .flags = FIELD_ANY_TYPE, .parse = parse_percentile_key },
	{ .name = "p90", .flags = FIELD_ANY_TYPE, .parse = parse_percentile_key },
	{ .name = "p95", .flags = FIELD_ANY_TYPE, .parse = parse_percentile_key },
	{ .name = "p99", .flags = FIELD_ANY_TYPE, .parse = parse_percentile_key },
	{ .name = "p999", .flags = FIELD_ANY_TYPE, .parse = parse_percentile_key },
	{ .name = "within", .flags = FIELD_REQUIRED | FIELD_ANY_TYPE, .parse = ps_parse_duration,
	  .max = POLICY_SPAN_MAX_NS, .off = CO(within_ns), .help = "the sliding window, such as \"1s\"" },
	{ .name = "signal", .flags = FIELD_ANY_TYPE, .parse = parse_signal_filter },
	{ .name = "errno", .flags = FIELD_ANY_TYPE, .parse = parse_errno_filter },
	{ .name = "ret", .type = json_type_string, .parse = ps_parse_string, .off = CO(filter.ret_text) },
	{ .name = "type", .flags = FIELD_ANY_TYPE, .parse = parse_type_filter },
	{ .name = "stack_has", .type = json_type_string, .parse = ps_parse_string,
	  .check = check_function, .off = CO(filter.stack_has) },
};

static const struct object_spec leaf_spec = {
	.fields = leaf_fields, .n_fields = N_FIELDS(leaf_fields),
};

/* Exactly one of "count", "rate" and the percentiles says when the leaf holds. */
static int one_threshold(struct parser *ps, struct json_object *obj)
{
	const char *first = NULL;

	for (size_t i = 1; i < 3 + N_FIELDS(percentiles); i++) {
		const char *key = leaf_fields[i].name;

		if (!json_object_object_get_ex(obj, key, NULL))
			continue;
		if (first)
			return ps_fail(ps, "give one threshold, not both \"%s\" and \"%s\"", first, key);
		first = key;
	}
	if (!first)
		return ps_fail(ps, "missing a threshold: give \"count\", \"rate\" or a percentile "
			       "(\"p50\", \"p90\", \"p95\", \"p99\", \"p999\")");
	return 0;
}

/* ---- all, any ---------------------------------------------------------------------------- */

static int parse_cond(struct parser *ps, struct json_object *v, struct policy_cond *c,
		      unsigned depth)
{
	struct json_object *all = NULL, *any = NULL, *list;
	const char *key;
	size_t n = 0, mark;
	int err = 0;

	if (!json_object_is_type(v, json_type_object))
		return ps_wrong_type(ps, json_type_object, v);
	json_object_object_get_ex(v, "all", &all);
	json_object_object_get_ex(v, "any", &any);
	if (!all && !any) {
		if ((err = ps_check_object(ps, v, &leaf_spec, c)))
			return err;
		return one_threshold(ps, v);
	}
	if (all && any)
		return ps_fail(ps, "give \"all\" or \"any\", not both (nest one inside the other)");
	key = all ? "all" : "any";
	json_object_object_foreach(v, k, val) {
		(void)val;
		if (strcmp(k, key)) {
			char shown[SHOWN_LEN];

			return ps_fail(ps, "a condition with \"%s\" takes no other field, got %s", key,
				       ps_show_str(k, shown, sizeof(shown)));
		}
	}
	list = all ? all : any;
	c->kind = all ? POLICY_COND_ALL : POLICY_COND_ANY;
	mark = ps_path_key(ps, key);
	if (!json_object_is_type(list, json_type_array))
		err = ps_wrong_type(ps, json_type_array, list);
	else if (!(n = json_object_array_length(list)))
		err = ps_fail(ps, "expected at least one condition, got []");
	else if (depth >= COND_DEPTH_MAX)
		err = ps_fail(ps, "conditions nest at most %d \"all\"/\"any\" deep", COND_DEPTH_MAX);
	else if (!(c->children = calloc(n, sizeof(*c->children))))
		err = ps_no_memory(ps);
	/* each condition on its own */
	for (size_t i = 0, stop = err != 0; !stop && i < n; i++) {
		size_t im = ps_path_index(ps, i);
		int e;

		c->n_children++;
		e = parse_cond(ps, json_object_array_get_idx(list, i), &c->children[i], depth + 1);
		ps_path_pop(ps, im);
		if (e && !ps_go_on(ps, e, &err))
			stop = 1;
	}
	ps_path_pop(ps, mark);
	return err;
}

/* ---- actions ----------------------------------------------------------------------------- */

static const char *const action_names[POLICY_ACTION_KIND_COUNT] = {
	[POLICY_ACTION_LOG] = "log",
	[POLICY_ACTION_SIGNAL] = "signal",
	[POLICY_ACTION_EXEC] = "exec",
	[POLICY_ACTION_OVERRIDE] = "override",
	[POLICY_ACTION_REDIRECT] = "redirect",
	[POLICY_ACTION_RESCUE] = "rescue",
	[POLICY_ACTION_BREAKER] = "breaker",
	[POLICY_ACTION_CHECKPOINT] = "checkpoint",
	[POLICY_ACTION_RESTORE] = "restore",
};

static const char *const backend_names[] = {
	[POLICY_BACKEND_AUTO] = "auto",
	[POLICY_BACKEND_CORE] = "core",
	[POLICY_BACKEND_CRIU] = "criu",
};

const char *policy_backend_name(enum policy_backend b)
{
	return b < sizeof(backend_names) / sizeof(backend_names[0]) ? backend_names[b] : "unknown";
}

/* "last" (the default) or a checkpoint's id. */
static int parse_from(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	struct policy_action *a = dst;
	const char *s = json_object_get_string(v);
	char shown[SHOWN_LEN];

	(void)f;
	if (!*s || strchr(s, '/') || s[0] == '.')
		return ps_fail(ps, "expected \"last\" or a checkpoint's id (as salvectl checkpoints "
			       "lists them), got %s", ps_show(v, shown, sizeof(shown)));
	if (!strcmp(s, "last"))
		return 0;
	return (a->from = strdup(s)) ? 0 : ps_no_memory(ps);
}

static int parse_backend(struct parser *ps, struct json_object *v, void *dst,
			 const struct field *f)
{
	struct policy_action *a = dst;
	const char *s = json_object_get_string(v);
	char shown[SHOWN_LEN];

	(void)f;
	for (size_t i = 0; i < sizeof(backend_names) / sizeof(backend_names[0]); i++)
		if (!strcmp(s, backend_names[i])) {
			a->backend = (enum policy_backend)i;
			return 0;
		}
	return ps_fail(ps, "expected \"auto\", \"core\" (salve's own snapshot) or \"criu\", got %s",
		       ps_show(v, shown, sizeof(shown)));
}

static int parse_do(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	const char *s = json_object_get_string(v);
	struct nearest n = { .word = s, .dist = SIZE_MAX };
	char shown[SHOWN_LEN], h[256];

	(void)f;
	for (unsigned i = 0; i < POLICY_ACTION_KIND_COUNT; i++) {
		if (!strcmp(s, action_names[i]) && strlen(s) == (size_t)json_object_get_string_len(v)) {
			((struct policy_action *)dst)->kind = i;
			return 0;
		}
		ps_nearest_try(&n, action_names[i], action_names[i]);
	}
	return ps_fail(ps, "unknown action %s%s", ps_show(v, shown, sizeof(shown)),
		       ps_hint(&n, action_names, POLICY_ACTION_KIND_COUNT, h, sizeof(h)));
}

static int parse_signo(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	(void)f;
	return ps_name_value(ps, v, &ps_signal_table, &((struct policy_action *)dst)->signo);
}

/* argv for execve: NULL-terminated, argv[0] an absolute path (no PATH search in a daemon). */
static int parse_command(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	struct policy_action *a = dst;
	size_t n = json_object_array_length(v);

	(void)f;
	if (!n)
		return ps_fail(ps, "expected a command: an array of the program's absolute path and its "
			       "arguments, got []");
	if (!(a->argv = calloc(n + 1, sizeof(*a->argv))))
		return ps_no_memory(ps);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		size_t mark = ps_path_index(ps, i);
		char shown[SHOWN_LEN];
		const char *s = NULL;
		int err = 0;

		if (!json_object_is_type(e, json_type_string))
			err = ps_wrong_type(ps, json_type_string, e);
		else if (!i && json_object_get_string(e)[0] != '/')
			err = ps_fail(ps, "expected the program's absolute path (commands run without a "
				      "PATH search), got %s", ps_show(e, shown, sizeof(shown)));
		else if (!i)
			err = ps_string_value(ps, e, ps_check_binary, &s);
		else if (memchr(json_object_get_string(e), '\0', json_object_get_string_len(e)))
			err = ps_fail(ps, "expected a string without NUL characters, got %s",
				      ps_show(e, shown, sizeof(shown)));
		else
			s = json_object_get_string(e); /* arguments may be empty */
		ps_path_pop(ps, mark);
		if (err)
			return err;
		if (!(a->argv[i] = strdup(s)))
			return ps_no_memory(ps);
		a->argc++;
	}
	return 0;
}

/* ---- override, redirect: what a repair patches ------------------------------------------- */

/* The file whose text is patched, by the path its processes map it from: a soname is not
 * looked up here, as a probe's is. */
static int check_repair_binary(struct parser *ps, struct json_object *v, const char *s,
			       size_t len)
{
	char shown[SHOWN_LEN];

	if (s[0] != '/')
		return ps_fail(ps, "expected the absolute path of the executable or library whose "
			       "function is patched, got %s", ps_show(v, shown, sizeof(shown)));
	return ps_check_binary(ps, v, s, len);
}

static int check_library(struct parser *ps, struct json_object *v, const char *s, size_t len)
{
	char shown[SHOWN_LEN];

	if (s[0] != '/')
		return ps_fail(ps, "expected the fix library's absolute path (it is loaded from "
			       "there, never searched for), got %s", ps_show(v, shown, sizeof(shown)));
	return ps_check_binary(ps, v, s, len);
}

/* "-EINVAL": the errno negated, as a function returning -errno does. */
static int errno_return(struct parser *ps, struct json_object *v, const char *s, size_t len,
			int64_t *out)
{
	const struct name_table *t = &ps_errno_table;
	bool minus = s[0] == '-';
	const char *name = s + minus;
	struct nearest near = { .word = name, .dist = SIZE_MAX };
	char shown[SHOWN_LEN];

	for (size_t k = 0; k < t->n; k++) {
		if (strlen(t->names[k].name) == len - minus && !strcmp(name, t->names[k].name)) {
			if (!minus)
				return ps_fail(ps, "an errno is returned negated: write \"-%s\" for %d, or "
					       "give the number, got %s", name, -t->names[k].value,
					       ps_show(v, shown, sizeof(shown)));
			*out = -t->names[k].value;
			return 0;
		}
		ps_nearest_try(&near, t->names[k].name, t->names[k].name);
	}
	if (!minus || len < 2 || name[0] != 'E')
		return ps_fail(ps, "expected an integer, an errno name written \"-EINVAL\" (its value "
			       "negated) or null (for NULL), got %s", ps_show(v, shown, sizeof(shown)));
	if (near.best)
		return ps_fail(ps, "unknown errno %s (did you mean \"-%s\"?)",
			       ps_show(v, shown, sizeof(shown)), near.best);
	return ps_fail(ps, "unknown errno %s (%s)", ps_show(v, shown, sizeof(shown)), t->where);
}

/* "return": an integer that fits 64 bits, "-ENAME", or null (a NULL pointer, 0). */
static int parse_return(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	struct policy_action *a = dst;
	char shown[SHOWN_LEN];

	(void)f;
	if (json_object_is_type(v, json_type_null)) {
		a->ret = 0;
		return 0;
	}
	if (json_object_is_type(v, json_type_int)) {
		/* above INT64_MAX json-c keeps it unsigned: get_int64 saturates, get_uint64 not */
		if (json_object_get_int64(v) == INT64_MAX && json_object_get_uint64(v) > INT64_MAX)
			return ps_fail(ps, "expected an integer from %" PRId64 " to %" PRId64 " (a 64-bit "
				       "register), got %s", INT64_MIN, INT64_MAX,
				       ps_show(v, shown, sizeof(shown)));
		a->ret = json_object_get_int64(v);
		return 0;
	}
	if (json_object_is_type(v, json_type_string)) {
		const char *s;
		int err = ps_string_value(ps, v, NULL, &s);

		return err ?: errno_return(ps, v, s, json_object_get_string_len(v), &a->ret);
	}
	return ps_fail(ps, "expected an integer, an errno name written \"-EINVAL\" (its value "
		       "negated) or null (for NULL), got %s", ps_show(v, shown, sizeof(shown)));
}

/* "argN OP VALUE": a test of argument N, in the predicate syntax of a return probe's
 * "when", on the argument's whole register. */
static int parse_arg_when(struct parser *ps, struct json_object *v, void *dst,
			  const struct field *f)
{
	struct policy_action *a = dst;
	const char *s = json_object_get_string(v);
	size_t len = json_object_get_string_len(v), i = 0;
	struct json_object *rest;
	char shown[SHOWN_LEN];
	int err;

	(void)f;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (len - i < 5 || memcmp(s + i, "arg", 3) || s[i + 3] < '0' ||
	    s[i + 3] >= '0' + POLICY_OVERRIDE_ARGS || is_word(s[i + 4]) || s[i + 4] == '.')
		return ps_fail(ps, "expected \"argN\" and a comparison, N from 0 to %d (the integer and "
			       "pointer arguments, first to sixth), such as \"arg0 == 0\" or "
			       "\"arg1 in [3, 4]\", got %s", POLICY_OVERRIDE_ARGS - 1,
			       ps_show(v, shown, sizeof(shown)));
	a->when_arg = (unsigned)(s[i + 3] - '0');
	for (i += 4; i < len && (s[i] == ' ' || s[i] == '\t'); i++)
		;
	if (!(rest = json_object_new_string_len(s + i, (int)(len - i))))
		return ps_no_memory(ps);
	err = ps_parse_predicate(ps, rest, POLICY_VALUE_LONG, &a->when_pred);
	json_object_put(rest);
	a->has_when = !err;
	return err;
}

/* "at": the rescue points, each a function's symbol. */
static int parse_at(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	struct policy_action *a = dst;
	size_t n = json_object_array_length(v);

	(void)f;
	if (!n || n > POLICY_RESCUE_POINTS)
		return ps_fail(ps, "expected 1 to %d rescue points (functions with an error return, "
			       "such as \"parse\"), got %zu", POLICY_RESCUE_POINTS, n);
	if (!(a->at = calloc(n + 1, sizeof(*a->at))))
		return ps_no_memory(ps);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		size_t mark = ps_path_index(ps, i);
		const char *s = NULL;
		int err = json_object_is_type(e, json_type_string)
				  ? ps_string_value(ps, e, ps_check_symbol, &s)
				  : ps_wrong_type(ps, json_type_string, e);

		ps_path_pop(ps, mark);
		if (err)
			return err;
		if (!(a->at[i] = strdup(s)))
			return ps_no_memory(ps);
		a->n_at++;
	}
	return 0;
}

/* Only with "library": the build id checked is the fix library's. */
static int parse_library_build_id(struct parser *ps, struct json_object *v, void *dst,
				  const struct field *f)
{
	if (!((struct policy_action *)dst)->library)
		return ps_fail(ps, "applies only with \"library\": it is the fix library's build id "
			       "(the patched binary's own belongs in the scope's \"binaries\")");
	return ps_parse_string(ps, v, dst, f);
}

static int parse_endpoint(struct parser *ps, struct json_object *v, void *dst,
			  const struct field *f)
{
	struct policy_action *a = dst;
	char why[256];

	(void)f;
	if (endpoint_parse(json_object_get_string(v), &a->endpoint, why, sizeof(why)))
		return ps_fail(ps, "%s", why);
	a->has_endpoint = true;
	return 0;
}

/* A breaker is around a function (binary, symbol and the value it returns while open)
 * or an endpoint, never both; its backoff starts below its cap. */
static int breaker_check(struct parser *ps, const struct policy_action *a, bool has_return)
{
	if (a->has_endpoint && (a->symbol || a->binary || has_return))
		return ps_fail(ps, "a breaker is around an \"endpoint\" or a function (\"binary\", "
			       "\"symbol\", \"return\"), not both: connects to an endpoint fail "
			       "with ECONNREFUSED while it is open");
	if (!a->has_endpoint && (!a->symbol || !a->binary || !has_return))
		return ps_fail(ps, "missing required field \"%s\" (a breaker is around a function: "
			       "\"binary\", \"symbol\" and the \"return\" value of its calls while "
			       "open; or around an \"endpoint\" such as \"10.0.0.5:5432\")",
			       !a->binary && !a->symbol ? "endpoint" : !a->binary ? "binary" :
			       !a->symbol ? "symbol" : "return");
	if (a->max_open_for_ns < a->open_for_ns)
		return ps_fail(ps, "\"max_open_for\" is shorter than \"open_for\": the backoff "
			       "doubles open_for up to max_open_for");
	return 0;
}

/* What the field table cannot say: a fix library is loaded only with its build id, and a
 * redirect goes somewhere else. */
static int repair_check(struct parser *ps, const struct policy_action *a)
{
	char shown[SHOWN_LEN];
	size_t mark;
	int err;

	if (a->kind != POLICY_ACTION_REDIRECT)
		return 0;
	if (a->library && !a->build_id)
		return ps_fail(ps, "missing required field \"build_id\" (the fix library's GNU build "
			       "id, as \"readelf -n\" prints it: salve loads no other file)");
	if (a->library || strcmp(a->symbol, a->to))
		return 0;
	mark = ps_path_key(ps, "to");
	err = ps_fail(ps, "redirects %s to itself: name another function, or the same one in a "
		      "fix library (\"library\", \"build_id\")", ps_show_str(a->to, shown, sizeof(shown)));
	ps_path_pop(ps, mark);
	return err;
}

static unsigned action_variant(const void *dst)
{
	return ((const struct policy_action *)dst)->kind;
}

static const char *action_variant_name(unsigned i)
{
	return i < POLICY_ACTION_KIND_COUNT ? action_names[i] : "unknown";
}

#define ACT(k) (1u << POLICY_ACTION_##k)
#define AO(field) offsetof(struct policy_action, field)
#define REPAIRS (ACT(OVERRIDE) | ACT(REDIRECT))
#define RESCUE_WINDOW_MAX (3600 * NS_PER_SEC)
#define BREAKER_OPEN_MAX (24 * 3600 * NS_PER_SEC)

static const struct field action_fields[] = {
	{ .name = "do", .type = json_type_string, .flags = FIELD_REQUIRED, .parse = parse_do,
	  .help = "one of \"log\", \"signal\", \"exec\", \"override\", \"redirect\", \"rescue\", "
		  "\"breaker\", \"checkpoint\", \"restore\"" },
	{ .name = "message", .type = json_type_string, .only = ACT(LOG), .parse = ps_parse_string,
	  .off = AO(message) },
	{ .name = "signal", .type = json_type_string, .only = ACT(SIGNAL), .required = ACT(SIGNAL),
	  .parse = parse_signo, .help = "the signal to send, such as \"SIGTERM\"" },
	{ .name = "command", .type = json_type_array, .only = ACT(EXEC), .required = ACT(EXEC),
	  .parse = parse_command,
	  .help = "the program's absolute path and its arguments, such as [\"/usr/bin/logger\", \"x\"]" },
	{ .name = "timeout", .flags = FIELD_ANY_TYPE, .only = ACT(EXEC), .parse = ps_parse_duration,
	  .max = EXEC_TIMEOUT_MAX, .off = AO(timeout_ns) },
	{ .name = "output", .flags = FIELD_ANY_TYPE, .only = ACT(EXEC), .parse = ps_parse_size,
	  .max = EXEC_OUTPUT_MAX, .off = AO(output_max) },
	{ .name = "binary", .type = json_type_string, .only = REPAIRS | ACT(RESCUE) | ACT(BREAKER),
	  .required = REPAIRS,
	  .parse = ps_parse_string, .check = check_repair_binary, .off = AO(binary),
	  .help = "the absolute path of the executable or library holding the function" },
	{ .name = "symbol", .type = json_type_string, .only = REPAIRS | ACT(BREAKER), .required = REPAIRS,
	  .parse = ps_parse_string, .check = ps_check_symbol, .off = AO(symbol),
	  .help = "the function's symbol name, such as \"parse\"" },
	{ .name = "return", .flags = FIELD_ANY_TYPE, .only = ACT(OVERRIDE) | ACT(RESCUE) | ACT(BREAKER),
	  .required = ACT(OVERRIDE) | ACT(RESCUE),
	  .parse = parse_return,
	  .help = "the value the function returns: an integer, an errno name such as \"-EINVAL\", "
		  "or null" },
	{ .name = "when", .type = json_type_string, .only = ACT(OVERRIDE), .parse = parse_arg_when },
	{ .name = "to", .type = json_type_string, .only = ACT(REDIRECT), .required = ACT(REDIRECT),
	  .parse = ps_parse_string, .check = ps_check_symbol, .off = AO(to),
	  .help = "the function the calls go to, such as \"fetch_v1\"" },
	/* "library" before the "build_id" that needs it */
	{ .name = "library", .type = json_type_string, .only = ACT(REDIRECT), .parse = ps_parse_string,
	  .check = check_library, .off = AO(library) },
	{ .name = "build_id", .type = json_type_string, .only = ACT(REDIRECT),
	  .parse = parse_library_build_id, .check = ps_check_build_id, .off = AO(build_id) },
	{ .name = "at", .type = json_type_array, .only = ACT(RESCUE), .required = ACT(RESCUE),
	  .parse = parse_at,
	  .help = "the rescue points: functions with an error return, such as [\"parse\"]" },
	{ .name = "window", .flags = FIELD_ANY_TYPE, .only = ACT(RESCUE), .parse = ps_parse_duration,
	  .max = RESCUE_WINDOW_MAX, .off = AO(window_ns) },
	{ .name = "endpoint", .type = json_type_string, .only = ACT(BREAKER), .parse = parse_endpoint,
	  .help = "the endpoint connects to which the breaker fails: \"host:port\", \"[v6]:port\" "
		  "or a network such as \"10.0.0.0/8\"" },
	{ .name = "open_for", .flags = FIELD_ANY_TYPE, .only = ACT(BREAKER), .parse = ps_parse_duration,
	  .max = BREAKER_OPEN_MAX, .off = AO(open_for_ns) },
	{ .name = "max_open_for", .flags = FIELD_ANY_TYPE, .only = ACT(BREAKER),
	  .parse = ps_parse_duration, .max = BREAKER_OPEN_MAX, .off = AO(max_open_for_ns) },
	{ .name = "half_open_calls", .type = json_type_int, .only = ACT(BREAKER), .parse = ps_parse_u32,
	  .min = 1, .max = POLICY_HALF_OPEN_CALLS_MAX, .off = AO(half_open_calls) },
	{ .name = "half_open_watch", .flags = FIELD_ANY_TYPE, .only = ACT(BREAKER),
	  .parse = ps_parse_duration, .max = BREAKER_OPEN_MAX, .off = AO(half_open_watch_ns) },
	{ .name = "backend", .type = json_type_string, .only = ACT(CHECKPOINT), .parse = parse_backend },
	{ .name = "keep", .type = json_type_int, .only = ACT(CHECKPOINT), .parse = ps_parse_u32,
	  .min = 1, .max = POLICY_KEEP_MAX, .off = AO(keep) },
	{ .name = "from", .type = json_type_string, .only = ACT(RESTORE), .parse = parse_from },
};

static const struct object_spec action_spec = {
	.fields = action_fields,
	.n_fields = N_FIELDS(action_fields),
	.what = "an action",
	.tag = "do",
	.n_variants = POLICY_ACTION_KIND_COUNT,
	.variant = action_variant,
	.variant_name = action_variant_name,
};

static int parse_actions(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	struct policy_rule *r = dst;
	size_t n = json_object_array_length(v);

	(void)f;
	if (!n)
		return ps_fail(ps, "expected at least one action, got []");
	if (!(r->actions = calloc(n, sizeof(*r->actions))))
		return ps_no_memory(ps);
	int first = 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		struct policy_action *a = &r->actions[r->n_actions++];
		size_t mark = ps_path_index(ps, i);
		int err;

		a->timeout_ns = 10 * NS_PER_SEC;
		a->output_max = EXEC_OUTPUT_DEFAULT;
		a->window_ns = NS_PER_SEC;
		a->open_for_ns = 10 * NS_PER_SEC;
		a->max_open_for_ns = 300 * NS_PER_SEC;
		a->half_open_calls = 1;
		a->half_open_watch_ns = NS_PER_SEC;
		a->keep = 3;
		if (!json_object_is_type(e, json_type_object))
			err = ps_wrong_type(ps, json_type_object, e);
		else
			err = ps_check_object(ps, e, &action_spec, a);
		if (!err)
			err = repair_check(ps, a);
		if (!err && a->kind == POLICY_ACTION_BREAKER)
			err = breaker_check(ps, a, json_object_object_get_ex(e, "return", NULL));
		ps_path_pop(ps, mark);
		if (err && !ps_go_on(ps, err, &first))
			return err;
	}
	return first;
}

/* ---- the rule object --------------------------------------------------------------------- */

static const char *const by_names[] = {
	[POLICY_BY_PROCESS] = "process",
	[POLICY_BY_BINARY] = "binary",
	[POLICY_BY_HOST] = "host",
};

static int parse_by(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	const char *s = json_object_get_string(v);
	struct nearest n = { .word = s, .dist = SIZE_MAX };
	char shown[SHOWN_LEN], h[128];

	(void)f;
	for (unsigned i = 0; i < N_FIELDS(by_names); i++) {
		if (!strcmp(s, by_names[i]) && strlen(s) == (size_t)json_object_get_string_len(v)) {
			((struct policy_rule *)dst)->by = i;
			return 0;
		}
		ps_nearest_try(&n, by_names[i], by_names[i]);
	}
	return ps_fail(ps, "unknown grouping %s%s", ps_show(v, shown, sizeof(shown)),
		       ps_hint(&n, by_names, N_FIELDS(by_names), h, sizeof(h)));
}

static int parse_rule_when(struct parser *ps, struct json_object *v, void *dst,
			   const struct field *f)
{
	struct policy_rule *r = dst;
	const void *saved = ps->ctx;
	int err;

	(void)f;
	ps->ctx = r;
	err = parse_cond(ps, v, &r->when, 0);
	ps->ctx = saved;
	return err;
}

#define RO(field) offsetof(struct policy_rule, field)

/* "by" before "when": a percentile depends on it. */
static const struct field rule_fields[] = {
	{ .name = "id", .type = json_type_string, .flags = FIELD_REQUIRED, .parse = ps_parse_string,
	  .check = ps_check_id, .off = RO(id),
	  .help = "a name for the rule, unique across all policies" },
	{ .name = "by", .type = json_type_string, .parse = parse_by },
	{ .name = "when", .type = json_type_object, .flags = FIELD_REQUIRED, .parse = parse_rule_when,
	  .help = "the condition, such as {\"probe\": \"crashes\", \"count\": 3, \"within\": \"1m\"}" },
	{ .name = "cooldown", .flags = FIELD_ANY_TYPE | FIELD_ZERO, .parse = ps_parse_duration,
	  .max = POLICY_SPAN_MAX_NS, .off = RO(cooldown_ns) },
	{ .name = "budget", .type = json_type_int, .parse = ps_parse_u32, .min = 1,
	  .max = POLICY_BUDGET_MAX, .off = RO(budget) },
	{ .name = "dry_run", .type = json_type_boolean, .parse = ps_parse_bool, .off = RO(dry_run) },
	{ .name = "verify", .flags = FIELD_ANY_TYPE, .parse = ps_parse_duration,
	  .max = POLICY_SPAN_MAX_NS, .off = RO(verify_ns) },
	{ .name = "actions", .type = json_type_array, .flags = FIELD_REQUIRED, .parse = parse_actions,
	  .help = "a non-empty array of actions, such as [{\"do\": \"log\"}]" },
};

static const struct object_spec rule_spec = {
	.fields = rule_fields, .n_fields = N_FIELDS(rule_fields),
};

int ps_parse_rules(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	struct policy *p = dst;
	size_t n = json_object_array_length(v);

	(void)f;
	if (!n)
		return 0;
	if (!(p->rules = calloc(n, sizeof(*p->rules))))
		return ps_no_memory(ps);
	int first = 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		struct policy_rule *r = &p->rules[p->n_rules++];
		size_t mark = ps_path_index(ps, i);
		int err;

		r->budget = 10;
		r->verify_ns = 30 * NS_PER_SEC;
		if (!json_object_is_type(e, json_type_object))
			err = ps_wrong_type(ps, json_type_object, e);
		else
			err = ps_check_object(ps, e, &rule_spec, r);
		ps_path_pop(ps, mark);
		/* each rule on its own */
		if (err && !ps_go_on(ps, err, &first))
			return err;
	}
	return first;
}

static void cond_clear(struct policy_cond *c)
{
	for (size_t i = 0; i < c->n_children; i++)
		cond_clear(&c->children[i]);
	free(c->children);
	free(c->probe_id);
	free(c->filter.errnos);
	for (size_t i = 0; i < c->filter.n_types; i++)
		free(c->filter.types[i]);
	free(c->filter.types);
	free(c->filter.stack_has);
	free(c->filter.ret_text);
}

void ps_rule_clear(struct policy_rule *r)
{
	free(r->id);
	cond_clear(&r->when);
	for (size_t i = 0; i < r->n_actions; i++) {
		struct policy_action *a = &r->actions[i];

		free(a->message);
		for (size_t j = 0; j < a->argc; j++)
			free(a->argv[j]);
		free(a->argv);
		free(a->binary);
		free(a->symbol);
		free(a->to);
		free(a->from);
		free(a->library);
		free(a->build_id);
		for (size_t j = 0; j < a->n_at; j++)
			free(a->at[j]);
		free(a->at);
	}
	free(r->actions);
	*r = (struct policy_rule){ 0 };
}

/* ---- resolving probe ids ----------------------------------------------------------------- */

struct probes_of {
	struct policy *pols;
	size_t n_pols;
};

static const struct policy_probe *find_probe(const struct probes_of *set, const char *id,
					     struct nearest *near)
{
	for (size_t i = 0; i < set->n_pols; i++) {
		for (size_t j = 0; j < set->pols[i].n_probes; j++) {
			const struct policy_probe *pr = &set->pols[i].probes[j];

			if (!strcmp(pr->id, id))
				return pr;
			ps_nearest_try(near, pr->id, pr->id);
		}
	}
	return NULL;
}

static int not_for_probe(struct parser *ps, const char *key, const struct policy_probe *pr,
			 const char *only)
{
	size_t mark = ps_path_key(ps, key);
	int err = ps_fail(ps, "does not apply to probe \"%s\" of kind \"%s\" (only to %s)", pr->id,
			  policy_probe_kind_name(pr->kind), only);

	ps_path_pop(ps, mark);
	return err;
}

/* A filter on a value the probe never reports would never let an event through: a
 * mistake, said now rather than found by a rule that never fires. */
static int reported(struct parser *ps, const struct policy_cond *c, const struct policy_probe *pr)
{
	unsigned extra = c->filter.signals_mask & ~pr->signals_mask;
	size_t mark;
	int err = 0;

	if (c->filter.signals_mask && extra) {
		int signo = __builtin_ctz(extra);

		mark = ps_path_key(ps, "signal");
		err = ps_fail(ps, "probe \"%s\" does not report %s (add it to the probe's \"signals\")",
			      pr->id, policy_signal_name(signo));
		ps_path_pop(ps, mark);
		return err;
	}
	for (size_t i = 0; i < c->filter.n_errnos; i++) {
		bool found = false;

		for (size_t j = 0; j < pr->n_errnos && !found; j++)
			found = pr->errnos[j] == c->filter.errnos[i];
		if (found)
			continue;
		mark = ps_path_key(ps, "errno");
		err = ps_fail(ps, "probe \"%s\" does not report %s (add it to the probe's \"errnos\")",
			      pr->id, policy_errno_name(c->filter.errnos[i]));
		ps_path_pop(ps, mark);
		return err;
	}
	/* An exception probe without types reports every type. */
	for (size_t i = 0; pr->n_types && i < c->filter.n_types; i++) {
		char shown[SHOWN_LEN];
		bool found = false;

		for (size_t j = 0; j < pr->n_types && !found; j++)
			found = !strcmp(pr->types[j], c->filter.types[i]);
		if (found)
			continue;
		mark = ps_path_key(ps, "type");
		err = ps_fail(ps, "probe \"%s\" does not report %s (add it to the probe's \"types\")",
			      pr->id, ps_show_str(c->filter.types[i], shown, sizeof(shown)));
		ps_path_pop(ps, mark);
		return err;
	}
	return 0;
}

static int resolve_leaf(struct parser *ps, struct policy_cond *c, const struct probes_of *set)
{
	struct nearest near = { .word = c->probe_id, .dist = SIZE_MAX };
	const struct policy_probe *pr = find_probe(set, c->probe_id, &near);
	char shown[SHOWN_LEN];
	size_t mark;
	int err = 0;

	if (!pr) {
		mark = ps_path_key(ps, "probe");
		if (near.best)
			err = ps_fail(ps, "unknown probe %s (did you mean \"%s\"?)",
				      ps_show_str(c->probe_id, shown, sizeof(shown)), near.best);
		else
			err = ps_fail(ps, "unknown probe %s (no probe of the policy set has this id)",
				      ps_show_str(c->probe_id, shown, sizeof(shown)));
		ps_path_pop(ps, mark);
		return err;
	}
	c->probe = pr;
	if (c->kind == POLICY_COND_PERCENTILE && pr->kind != POLICY_PROBE_LATENCY) {
		for (size_t i = 0; i < N_FIELDS(percentiles); i++)
			if (c->percentile == percentiles[i].percentile)
				return not_for_probe(ps, percentiles[i].key, pr,
						     "probes of kind \"latency\": percentiles are of call durations");
	}
	if (c->filter.signals_mask && pr->kind != POLICY_PROBE_SIGNAL)
		return not_for_probe(ps, "signal", pr, "probes of kind \"signal\"");
	if (c->filter.n_errnos && pr->kind != POLICY_PROBE_SYSCALL)
		return not_for_probe(ps, "errno", pr, "probes of kind \"syscall\"");
	if (c->filter.ret_text && pr->kind != POLICY_PROBE_RETURN)
		return not_for_probe(ps, "ret", pr, "probes of kind \"return\"");
	if (c->filter.n_types && pr->kind != POLICY_PROBE_EXCEPTION)
		return not_for_probe(ps, "type", pr, "probes of kind \"exception\"");
	if (c->filter.stack_has && pr->kind != POLICY_PROBE_SIGNAL && !pr->stack)
		return not_for_probe(ps, "stack_has", pr,
				     "probes that capture stacks: kind \"signal\", or \"stack\": true");
	if ((err = reported(ps, c, pr)))
		return err;
	if (c->filter.ret_text) {
		struct json_object *t = json_object_new_string(c->filter.ret_text);

		if (!t)
			return ps_no_memory(ps);
		mark = ps_path_key(ps, "ret");
		err = ps_parse_predicate(ps, t, pr->type, &c->filter.ret);
		ps_path_pop(ps, mark);
		json_object_put(t);
		c->filter.has_ret = !err;
	}
	return err;
}

static int resolve_cond(struct parser *ps, struct policy_cond *c, const struct probes_of *set)
{
	const char *key = c->kind == POLICY_COND_ALL ? "all" : "any";

	if (c->kind != POLICY_COND_ALL && c->kind != POLICY_COND_ANY)
		return resolve_leaf(ps, c, set);
	for (size_t i = 0; i < c->n_children; i++) {
		size_t mark = ps_path_push(ps, ".%s[%zu]", key, i);
		int err = resolve_cond(ps, &c->children[i], set);

		ps_path_pop(ps, mark);
		if (err)
			return err;
	}
	return 0;
}

int ps_resolve_rules(struct policy *pols, size_t n_pols, char *err, size_t err_len,
		     struct policy_errors *errs)
{
	struct probes_of set = { pols, n_pols };
	int first = 0;

	for (size_t i = 0; i < n_pols; i++) {
		struct parser ps = { .file = pols[i].file, .err = err, .err_len = err_len,
				     .errs = errs };

		for (size_t j = 0; j < pols[i].n_rules; j++) {
			size_t mark = ps_path_push(&ps, "rules[%zu].when", j);
			int rc = resolve_cond(&ps, &pols[i].rules[j].when, &set);

			ps_path_pop(&ps, mark);
			/* each rule on its own */
			if (rc && !ps_go_on(&ps, rc, &first))
				return rc;
		}
	}
	return first;
}
