/* policy_probe: the probe objects: kinds, where a function probe attaches, its fields. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_spec.h"

/* ---- probes ---------------------------------------------------------------------------- */

static const char *const kind_names[POLICY_PROBE_KIND_COUNT] = {
	[POLICY_PROBE_SIGNAL] = "signal",
	[POLICY_PROBE_EXIT] = "exit",
	[POLICY_PROBE_OOM] = "oom",
	[POLICY_PROBE_EXEC] = "exec",
	[POLICY_PROBE_RETURN] = "return",
	[POLICY_PROBE_LATENCY] = "latency",
	[POLICY_PROBE_STALL] = "stall",
	[POLICY_PROBE_EXCEPTION] = "exception",
	[POLICY_PROBE_ABORT] = "abort",
	[POLICY_PROBE_SYSCALL] = "syscall",
};

const char *policy_probe_kind_name(enum policy_probe_kind kind)
{
	return (unsigned)kind < POLICY_PROBE_KIND_COUNT ? kind_names[kind] : "unknown";
}

static const struct {
	const char *name;
	int signo;
} signals[] = {
	{ "SIGSEGV", SIGSEGV }, { "SIGBUS", SIGBUS }, { "SIGFPE", SIGFPE }, { "SIGILL", SIGILL },
	{ "SIGABRT", SIGABRT }, { "SIGSYS", SIGSYS }, { "SIGTRAP", SIGTRAP }, { "SIGKILL", SIGKILL },
};
#define N_SIGNALS (sizeof(signals) / sizeof(signals[0]))

unsigned ps_all_signals(void)
{
	unsigned mask = 0;

	for (size_t i = 0; i < N_SIGNALS; i++)
		mask |= 1u << signals[i].signo;
	return mask;
}

static int parse_kind(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	const char *s = json_object_get_string(v);
	struct nearest n = { .word = s, .dist = SIZE_MAX };
	char shown[SHOWN_LEN], h[256];

	(void)f;
	for (unsigned i = 0; i < POLICY_PROBE_KIND_COUNT; i++) {
		if (!strcmp(s, kind_names[i]) && strlen(s) == (size_t)json_object_get_string_len(v)) {
			((struct policy_probe *)dst)->kind = i;
			return 0;
		}
		ps_nearest_try(&n, kind_names[i], kind_names[i]);
	}
	return ps_fail(ps, "unknown probe kind %s%s", ps_show(v, shown, sizeof(shown)),
		    ps_hint(&n, kind_names, POLICY_PROBE_KIND_COUNT, h, sizeof(h)));
}

int ps_parse_signal(struct parser *ps, struct json_object *v, unsigned *mask)
{
	const char *s = json_object_get_string(v), *names[N_SIGNALS];
	struct nearest n = { .word = s, .dist = SIZE_MAX };
	char shown[SHOWN_LEN], h[256];

	if (!json_object_is_type(v, json_type_string))
		return ps_wrong_type(ps, json_type_string, v);
	for (size_t i = 0; i < N_SIGNALS; i++) {
		if (!strcmp(s, signals[i].name) && strlen(s) == (size_t)json_object_get_string_len(v)) {
			*mask |= 1u << signals[i].signo;
			return 0;
		}
		names[i] = signals[i].name;
		/* "segv" and "sigsegv" both mean SIGSEGV */
		ps_nearest_try(&n, signals[i].name, signals[i].name);
		ps_nearest_try(&n, signals[i].name, signals[i].name + 3);
	}
	return ps_fail(ps, "unknown signal %s%s", ps_show(v, shown, sizeof(shown)),
		    ps_hint(&n, names, N_SIGNALS, h, sizeof(h)));
}

static int parse_signals(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	size_t n = json_object_array_length(v);
	unsigned mask = 0;

	(void)f;
	if (!n)
		return ps_fail(ps, "expected at least one signal name (leave \"signals\" out for all %zu)",
			    N_SIGNALS);
	int first = 0;

	for (size_t i = 0; i < n; i++) {
		size_t mark = ps_path_index(ps, i);
		int err = ps_parse_signal(ps, json_object_array_get_idx(v, i), &mask);

		ps_path_pop(ps, mark);
		if (err && !ps_go_on(ps, err, &first))
			return err;
	}
	((struct policy_probe *)dst)->signals_mask = mask;
	return first;
}

/* An absolute path, or a soname for the loader to find ("libc.so.6"). */
static int check_probe_binary(struct parser *ps, struct json_object *v, const char *s, size_t len)
{
	char shown[SHOWN_LEN];

	if (s[0] == '/')
		return ps_check_binary(ps, v, s, len);
	if (strchr(s, '/') || !strstr(s, ".so"))
		return ps_fail(ps, "expected an absolute path or a library soname such as \"libc.so.6\", got %s",
			    ps_show(v, shown, sizeof(shown)));
	return 0;
}

/* "name", "name@VERSION" (that version) or "name@@VERSION" (the default version), as
 * readelf and the linker write them. */
int ps_check_symbol(struct parser *ps, struct json_object *v, const char *s, size_t len)
{
	const char *at = memchr(s, '@', len), *ver = NULL;
	char shown[SHOWN_LEN];
	bool ok = at != s;

	for (size_t i = 0; i < len && ok; i++)
		ok = (unsigned char)s[i] > ' ' && s[i] != 0x7f;
	if (ok && at) {
		ver = at + 1 + (at + 1 < s + len && at[1] == '@');
		ok = ver < s + len && !memchr(ver, '@', s + len - ver);
	}
	if (!ok)
		return ps_fail(ps, "expected a symbol name, optionally with a version (\"name@VERSION\" or "
			    "\"name@@VERSION\"), got %s", ps_show(v, shown, sizeof(shown)));
	return 0;
}

static int parse_offset(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	struct policy_probe *pr = dst;
	char shown[SHOWN_LEN];
	uint64_t off = 0;
	bool ok = false;

	(void)f;
	if (json_object_is_type(v, json_type_int)) {
		/* above INT64_MAX json-c keeps it unsigned: get_int64 saturates, get_uint64 not */
		ok = json_object_get_int64(v) >= 0;
		off = json_object_get_uint64(v);
	} else if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);
		size_t len = json_object_get_string_len(v), i = 2;

		ok = len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
		for (; ok && i < len; i++) {
			int d = hex_digit(s[i]);

			ok = d >= 0 && off >> 60 == 0;
			off = off << 4 | (uint64_t)(d & 0xf);
		}
	}
	if (!ok)
		return ps_fail(ps, "expected a file offset: an integer of 0 or more, or a hex string such "
			    "as \"0x4f0\", got %s", ps_show(v, shown, sizeof(shown)));
	pr->offset = off;
	pr->has_offset = true;
	return 0;
}

static const struct policy_baseline baseline_default = {
	.percentile = 99, .factor = 2, .window_ns = 60 * NS_PER_SEC,
};

/* The histogram is read once a second and kept for an hour: a whole number of seconds,
 * so the window learned over is the one written. */
static int parse_learn_window(struct parser *ps, struct json_object *v, void *dst,
			      const struct field *f)
{
	char shown[SHOWN_LEN];
	int err = ps_parse_duration(ps, v, dst, f);

	if (!err && *AT(dst, f->off, uint64_t) % NS_PER_SEC)
		return ps_fail(ps, "expected a whole number of seconds (the histogram is read once a "
			       "second), got %s", ps_show(v, shown, sizeof(shown)));
	return err;
}

static const struct field baseline_fields[] = {
	{ .name = "percentile", .flags = FIELD_ANY_TYPE, .parse = ps_parse_percentile,
	  .off = offsetof(struct policy_baseline, percentile) },
	{ .name = "factor", .flags = FIELD_ANY_TYPE, .parse = ps_parse_factor,
	  .off = offsetof(struct policy_baseline, factor) },
	/* the histograms are read about once a second: a shorter window holds nothing */
	{ .name = "window", .flags = FIELD_ANY_TYPE, .parse = parse_learn_window, .min = NS_PER_SEC,
	  .max = POLICY_LEARN_MAX_NS, .off = offsetof(struct policy_baseline, window_ns) },
};

static const struct object_spec baseline_spec = {
	.fields = baseline_fields,
	.n_fields = sizeof(baseline_fields) / sizeof(baseline_fields[0]),
};

static int parse_baseline(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	struct policy_baseline *b = AT(dst, f->off, struct policy_baseline);

	*b = baseline_default;
	return ps_check_object(ps, v, &baseline_spec, b);
}

static const struct policy_rate rate_default = { .per_second = 100, .burst = 200 };

static const struct field rate_fields[] = {
	{ .name = "per_second", .type = json_type_int, .parse = ps_parse_u32, .min = 1,
	  .off = offsetof(struct policy_rate, per_second) },
	{ .name = "burst", .type = json_type_int, .parse = ps_parse_u32, .min = 1,
	  .off = offsetof(struct policy_rate, burst) },
};

static const struct object_spec rate_spec = {
	.fields = rate_fields,
	.n_fields = sizeof(rate_fields) / sizeof(rate_fields[0]),
};

static int parse_rate(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	struct policy_rate *r = AT(dst, f->off, struct policy_rate);

	*r = rate_default;
	return ps_check_object(ps, v, &rate_spec, r);
}

/* ---- exception types, syscalls, errnos ------------------------------------------------- */

/* A C++ type as written in source: "std::runtime_error", "::app::ParseError",
 * "app::Error<int>" (template arguments are taken as they are, brackets balanced). */
int ps_check_type_name(struct parser *ps, struct json_object *v, const char *s, size_t len)
{
	char shown[SHOWN_LEN];
	size_t i = len >= 2 && s[0] == ':' && s[1] == ':' ? 2 : 0;

	for (;;) {
		size_t start = i;

		while (i < len && is_word(s[i]))
			i++;
		if (i == start || is_digit(s[start]))
			break;
		if (i < len && s[i] == '<') {
			unsigned depth = 0;

			for (; i < len; i++) {
				if ((unsigned char)s[i] < ' ' || s[i] == 0x7f)
					break;
				depth += s[i] == '<';
				depth -= s[i] == '>';
				if (!depth)
					break;
			}
			if (i == len || s[i] != '>')
				break;
			i++;
		}
		if (i == len)
			return 0;
		if (len - i < 2 || s[i] != ':' || s[i + 1] != ':')
			break;
		i += 2;
	}
	return ps_fail(ps, "expected a C++ type name such as \"std::runtime_error\", got %s",
		    ps_show(v, shown, sizeof(shown)));
}

int ps_parse_types(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	if (!json_object_array_length(v))
		return ps_fail(ps, "expected at least one type name (leave \"types\" out for every exception)");
	return ps_parse_strings(ps, v, dst, f);
}

static const char *const faults_names[] = {
	[POLICY_FAULTS_ALL] = "all",
	[POLICY_FAULTS_FATAL] = "fatal",
};

/* "faults": "all" or "fatal". Checked after "handled", which it must not contradict. */
static int parse_faults(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	struct policy_probe *pr = dst;
	const char *s = json_object_get_string(v);
	struct nearest n = { .word = s, .dist = SIZE_MAX };
	char shown[SHOWN_LEN], h[128];

	(void)f;
	for (unsigned i = 0; i < N_FIELDS(faults_names); i++) {
		if (!strcmp(s, faults_names[i]) && strlen(s) == (size_t)json_object_get_string_len(v)) {
			pr->faults = i;
			if (pr->faults == POLICY_FAULTS_FATAL && pr->handled)
				return ps_fail(ps, "\"fatal\" leaves out the faults a program catches, but "
					       "\"handled\": true reports every signal it catches; drop one "
					       "of the two");
			return 0;
		}
		ps_nearest_try(&n, faults_names[i], faults_names[i]);
	}
	return ps_fail(ps, "unknown value %s%s", ps_show(v, shown, sizeof(shown)),
		       ps_hint(&n, faults_names, N_FIELDS(faults_names), h, sizeof(h)));
}

/* What a probe gets for the fields it leaves out. A fault, a throw or an abort is worth
 * little without the stack that led to it, and is rare enough to afford a snapshot unwound
 * by CFI as a debugger would; the hot kinds' "stack": true is the cheap frame-pointer walk. */
static const struct {
	const char *binary; /* the library holding the probed function */
	bool stack;         /* a stack when "stack" is left out */
	bool cfi;           /* "stack": true unwinds by CFI, else walks frame pointers */
} kind_defaults[POLICY_PROBE_KIND_COUNT] = {
	[POLICY_PROBE_SIGNAL] = { NULL, true, true },
	[POLICY_PROBE_EXCEPTION] = { "libstdc++.so.6", true, true },
	[POLICY_PROBE_ABORT] = { "libc.so.6", true, true },
};

/* "stack": true or false (the kind's way, or none), "cfi" or "fp". A signal's stack is
 * always a snapshot unwound by CFI. */
static int parse_stack(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	static const char *const ways[] = { "cfi", "fp" };
	struct policy_probe *pr = dst;
	const char *s = json_object_get_string(v);
	struct nearest n = { .word = s, .dist = SIZE_MAX };
	bool is_string = json_object_is_type(v, json_type_string);
	char shown[SHOWN_LEN];

	(void)f;
	if (json_object_is_type(v, json_type_boolean)) {
		pr->stack = json_object_get_boolean(v);
		pr->stack_cfi = pr->stack && kind_defaults[pr->kind].cfi;
	} else if (is_string && strlen(s) == (size_t)json_object_get_string_len(v) &&
		   (!strcmp(s, "cfi") || !strcmp(s, "fp"))) {
		pr->stack = true;
		pr->stack_cfi = !strcmp(s, "cfi");
	} else {
		for (unsigned i = 0; is_string && i < N_FIELDS(ways); i++)
			ps_nearest_try(&n, ways[i], ways[i]);
		return ps_fail(ps, "expected true, false, \"cfi\" or \"fp\", got %s%s%s%s",
			       ps_show(v, shown, sizeof(shown)), n.best ? " (did you mean \"" : "",
			       n.best ? n.best : "", n.best ? "\"?)" : "");
	}
	if (pr->kind == POLICY_PROBE_SIGNAL && !pr->stack)
		return ps_fail(ps, "a signal probe always captures the stack (unwound by CFI); leave "
			       "\"stack\" out, or give true or \"cfi\"");
	if (pr->kind == POLICY_PROBE_SIGNAL && !pr->stack_cfi)
		return ps_fail(ps, "a signal's stack is always unwound by CFI, never by the "
			       "frame-pointer walk; leave \"stack\" out, or give true or \"cfi\"");
	return 0;
}

/* ---- the probe object ------------------------------------------------------------------ */

static unsigned probe_variant(const void *dst)
{
	return ((const struct policy_probe *)dst)->kind;
}

static const char *probe_variant_name(unsigned i)
{
	return policy_probe_kind_name(i);
}

#define KIND(k) (1u << POLICY_PROBE_##k)
#define FUNCTION_KINDS (KIND(RETURN) | KIND(LATENCY) | KIND(STALL))
#define LIBRARY_KINDS (KIND(EXCEPTION) | KIND(ABORT))
#define SITE_KINDS (FUNCTION_KINDS | LIBRARY_KINDS | KIND(SYSCALL))
#define STACK_KINDS (SITE_KINDS | KIND(SIGNAL))

#define PR(field) offsetof(struct policy_probe, field)

/* Rows are checked in order: "type" before the "when" it decides. */
static const struct field probe_fields[] = {
	{ .name = "id", .type = json_type_string, .flags = FIELD_REQUIRED, .parse = ps_parse_string,
	  .check = ps_check_id, .off = PR(id),
	  .help = "a name for the probe, unique across all policies" },
	{ .name = "kind", .type = json_type_string, .flags = FIELD_REQUIRED, .parse = parse_kind,
	  .help = "one of \"signal\", \"exit\", \"oom\", \"exec\", \"return\", \"latency\", \"stall\", "
		  "\"exception\", \"abort\", \"syscall\"" },
	{ .name = "signals", .type = json_type_array, .only = KIND(SIGNAL), .parse = parse_signals },
	{ .name = "handled", .type = json_type_boolean, .only = KIND(SIGNAL), .parse = ps_parse_bool,
	  .off = PR(handled) },
	{ .name = "faults", .type = json_type_string, .only = KIND(SIGNAL), .parse = parse_faults },
	{ .name = "nonzero", .type = json_type_boolean, .only = KIND(EXIT), .parse = ps_parse_bool,
	  .off = PR(nonzero) },
	{ .name = "binary", .type = json_type_string, .only = FUNCTION_KINDS | LIBRARY_KINDS,
	  .required = FUNCTION_KINDS, .parse = ps_parse_string, .check = check_probe_binary,
	  .off = PR(binary),
	  .help = "the executable's absolute path, or a library soname such as \"libc.so.6\"" },
	{ .name = "symbol", .type = json_type_string, .only = FUNCTION_KINDS,
	  .required = FUNCTION_KINDS, .alt = "offset", .parse = ps_parse_string, .check = ps_check_symbol,
	  .off = PR(symbol), .help = "the function: its symbol name, or its offset in the file" },
	{ .name = "offset", .flags = FIELD_ANY_TYPE, .only = FUNCTION_KINDS,
	  .required = FUNCTION_KINDS, .alt = "symbol", .parse = parse_offset,
	  .help = "the function: its symbol name, or its offset in the file" },
	{ .name = "type", .type = json_type_string, .only = KIND(RETURN), .parse = ps_parse_value_type },
	{ .name = "when", .flags = FIELD_ANY_TYPE, .only = KIND(RETURN), .required = KIND(RETURN),
	  .parse = ps_parse_when, .help = "a test of the return value, such as \"< 0\"" },
	{ .name = "threshold", .flags = FIELD_ANY_TYPE, .only = KIND(LATENCY),
	  .required = KIND(LATENCY), .alt = "baseline", .parse = ps_parse_duration,
	  .max = POLICY_LATENCY_MAX_NS, .off = PR(threshold_ns),
	  .help = "a fixed duration such as \"20ms\", or a baseline learned from past calls" },
	{ .name = "baseline", .type = json_type_object, .only = KIND(LATENCY),
	  .required = KIND(LATENCY), .alt = "threshold", .parse = parse_baseline, .off = PR(baseline),
	  .help = "a fixed duration such as \"20ms\", or a baseline learned from past calls" },
	{ .name = "every", .flags = FIELD_ANY_TYPE, .only = KIND(STALL), .required = KIND(STALL),
	  .parse = ps_parse_duration, .min = 1000000, .max = POLICY_SPAN_MAX_NS, .off = PR(every_ns),
	  .help = "the longest the function may go uncalled, such as \"1s\"" },
	{ .name = "types", .type = json_type_array, .only = KIND(EXCEPTION), .parse = ps_parse_types,
	  .check = ps_check_type_name, .off = PR(types), .n_off = PR(n_types) },
	{ .name = "syscalls", .type = json_type_array, .only = KIND(SYSCALL), .required = KIND(SYSCALL),
	  .parse = ps_parse_syscalls, .off = PR(syscalls), .n_off = PR(n_syscalls),
	  .help = "a non-empty array of syscall names, such as [\"openat\"]" },
	{ .name = "errnos", .type = json_type_array, .only = KIND(SYSCALL), .required = KIND(SYSCALL),
	  .parse = ps_parse_errnos, .off = PR(errnos), .n_off = PR(n_errnos),
	  .help = "a non-empty array of errno names, such as [\"ENOENT\"]" },
	{ .name = "stack", .flags = FIELD_ANY_TYPE, .only = STACK_KINDS, .parse = parse_stack },
	/* checked against the probe's stack once its defaults are in (probe_defaults) */
	{ .name = "stack_bytes", .type = json_type_int, .only = STACK_KINDS, .parse = ps_parse_u32,
	  .min = POLICY_STACK_BYTES_MIN, .max = POLICY_STACK_BYTES_MAX, .off = PR(stack_bytes) },
	{ .name = "rate", .type = json_type_object, .only = SITE_KINDS, .parse = parse_rate,
	  .off = PR(rate) },
};

static const struct object_spec probe_spec = {
	.fields = probe_fields,
	.n_fields = sizeof(probe_fields) / sizeof(probe_fields[0]),
	.what = "a probe",
	.tag = "kind",
	.n_variants = POLICY_PROBE_KIND_COUNT,
	.variant = probe_variant,
	.variant_name = probe_variant_name,
};

static int probe_defaults(struct parser *ps, struct json_object *obj, struct policy_probe *pr)
{
	if (pr->kind == POLICY_PROBE_SIGNAL && !pr->signals_mask)
		pr->signals_mask = ps_all_signals();
	if (!json_object_object_get_ex(obj, "stack", NULL)) {
		pr->stack = kind_defaults[pr->kind].stack;
		pr->stack_cfi = pr->stack && kind_defaults[pr->kind].cfi;
	}
	if (pr->stack_bytes && !pr->stack_cfi) {
		ps_path_key(ps, "stack_bytes");
		return ps_fail(ps, "applies only to stacks unwound by CFI (\"stack\": \"cfi\"); this "
			       "\"%s\" probe %s", policy_probe_kind_name(pr->kind),
			       pr->stack ? "walks frame pointers, which copies no stack"
					 : "captures no stack");
	}
	if (pr->stack_cfi && !pr->stack_bytes)
		pr->stack_bytes = POLICY_STACK_BYTES_DEFAULT;
	if (!(SITE_KINDS & (1u << pr->kind)))
		return 0;
	if (!pr->binary && kind_defaults[pr->kind].binary &&
	    !(pr->binary = strdup(kind_defaults[pr->kind].binary)))
		return ps_no_memory(ps);
	if (!json_object_object_get_ex(obj, "rate", NULL))
		pr->rate = rate_default;
	return 0;
}

int ps_parse_probes(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	struct policy *p = dst;
	size_t n = json_object_array_length(v);

	(void)f;
	if (!n)
		return ps_fail(ps, "expected at least one probe, got []");
	if (!(p->probes = calloc(n, sizeof(*p->probes))))
		return ps_no_memory(ps);
	int first = 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		struct policy_probe *pr = &p->probes[p->n_probes++];
		size_t mark = ps_path_index(ps, i);
		int err;

		if (!json_object_is_type(e, json_type_object))
			err = ps_wrong_type(ps, json_type_object, e);
		else
			err = ps_check_object(ps, e, &probe_spec, pr);
		if (!err)
			err = probe_defaults(ps, e, pr);
		ps_path_pop(ps, mark);
		/* each probe on its own */
		if (err && !ps_go_on(ps, err, &first))
			return err;
	}
	return first;
}


void ps_probe_clear(struct policy_probe *pr)
{
	free(pr->id);
	free(pr->binary);
	free(pr->symbol);
	for (size_t j = 0; j < pr->n_types; j++)
		free(pr->types[j]);
	free(pr->types);
	free(pr->syscalls);
	free(pr->errnos);
	*pr = (struct policy_probe){ 0 };
}
