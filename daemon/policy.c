/* policy: parse and validate policy files into a policy set.
 *
 * Every JSON object of the format is checked against a table of its fields (struct
 * object_spec), so the language grows by adding rows: unknown fields, missing required
 * ones, wrong types and fields that do not apply to a probe's kind are caught in one place
 * and worded the same way everywhere. Messages read "FILE: JSONPATH: what is wrong". */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "policy.h"

/* A policy is a page of JSON; anything this large is a mistake, not a policy. */
#define POLICY_FILE_MAX (4u << 20)
#define POLICY_ID_MAX 64
#define COMM_MAX 15          /* the kernel keeps TASK_COMM_LEN - 1 bytes of a name */
#define JSON_PATH_MAX 128    /* paths are built from the tables' names and indexes */
#define SHOWN_MAX 64         /* bytes of an offending value quoted in a message */
#define SUGGEST_MAX 32       /* longer words get no "did you mean" */

struct parser {
	const char *file;
	char *err;
	size_t err_len;
	char path[JSON_PATH_MAX]; /* JSON path of the value being checked, "" at the top */
	size_t path_len;
};

/* ---- messages ----------------------------------------------------------------------- */

__attribute__((format(printf, 2, 3)))
static int fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!ps->err_len)
		return -EINVAL;
	if (ps->path_len)
		n = snprintf(ps->err, ps->err_len, "%s: %s: ", ps->file, ps->path);
	else
		n = snprintf(ps->err, ps->err_len, "%s: ", ps->file);
	if (n >= 0 && (size_t)n < ps->err_len) {
		va_start(ap, fmt);
		vsnprintf(ps->err + n, ps->err_len - n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

__attribute__((format(printf, 3, 4)))
static void say(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (!err_len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

static int no_memory(struct parser *ps)
{
	fail(ps, "out of memory");
	return -ENOMEM;
}

__attribute__((format(printf, 2, 3)))
static size_t path_push(struct parser *ps, const char *fmt, ...)
{
	size_t mark = ps->path_len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(ps->path + mark, sizeof(ps->path) - mark, fmt, ap);
	va_end(ap);
	if (n > 0)
		ps->path_len = mark + (size_t)n < sizeof(ps->path) ? mark + (size_t)n : sizeof(ps->path) - 1;
	return mark;
}

static size_t path_key(struct parser *ps, const char *key)
{
	return ps->path_len ? path_push(ps, ".%s", key) : path_push(ps, "%s", key);
}

static size_t path_index(struct parser *ps, size_t i)
{
	return path_push(ps, "[%zu]", i);
}

static void path_pop(struct parser *ps, size_t mark)
{
	ps->path_len = mark;
	ps->path[mark] = '\0';
}

/* Values are quoted as JSON, so a hostile string cannot forge a message; long ones are
 * cut on a character boundary. */
static const char *show(struct json_object *v, char *buf, size_t size)
{
	const char *s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t len = strlen(s), cut = SHOWN_MAX;

	if (len <= SHOWN_MAX) {
		snprintf(buf, size, "%s", s);
		return buf;
	}
	while (cut && ((unsigned char)s[cut] & 0xc0) == 0x80)
		cut--;
	snprintf(buf, size, "%.*s...", (int)cut, s);
	return buf;
}

static const char *show_str(const char *s, char *buf, size_t size)
{
	struct json_object *v = json_object_new_string(s);

	if (!v)
		return "\"?\"";
	show(v, buf, size);
	json_object_put(v);
	return buf;
}

#define SHOWN_LEN (SHOWN_MAX + 8)

static const char *type_name(enum json_type t)
{
	switch (t) {
	case json_type_boolean: return "a boolean";
	case json_type_int: return "an integer";
	case json_type_double: return "a number";
	case json_type_string: return "a string";
	case json_type_array: return "an array";
	case json_type_object: return "an object";
	default: return "null";
	}
}

static int wrong_type(struct parser *ps, enum json_type want, struct json_object *v)
{
	char shown[SHOWN_LEN];

	return fail(ps, "expected %s, got %s", type_name(want), show(v, shown, sizeof(shown)));
}

/* ---- "did you mean" ------------------------------------------------------------------ */

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Edit distance, a swap of neighbours counting one (optimal string alignment), case
 * ignored: "Name" and "nmae" are both one step from "name". */
static size_t distance(const char *a, const char *b)
{
	unsigned char d[SUGGEST_MAX + 1][SUGGEST_MAX + 1];
	size_t la = strlen(a), lb = strlen(b);

	if (la > SUGGEST_MAX || lb > SUGGEST_MAX)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			int cost = lower(a[i - 1]) != lower(b[j - 1]);
			unsigned best = d[i - 1][j - 1] + cost;

			if (d[i - 1][j] + 1u < best)
				best = d[i - 1][j] + 1u;
			if (d[i][j - 1] + 1u < best)
				best = d[i][j - 1] + 1u;
			if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
			    lower(a[i - 2]) == lower(b[j - 1]) && d[i - 2][j - 2] + 1u < best)
				best = d[i - 2][j - 2] + 1u;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

struct nearest {
	const char *word;
	const char *best;
	size_t dist;
};

/* A candidate is close when about a third of it or less differs. */
static void nearest_try(struct nearest *n, const char *cand, const char *compared)
{
	size_t d = distance(n->word, compared), limit = (strlen(compared) + 1) / 3;

	if (!limit)
		limit = 1;
	if (d <= limit && d < n->dist) {
		n->best = cand;
		n->dist = d;
	}
}

/* " (did you mean "x"?)", or the choices when nothing is close. */
static const char *hint(const struct nearest *n, const char *const *choices, size_t n_choices,
			char *buf, size_t size)
{
	size_t off;

	if (n->best) {
		snprintf(buf, size, " (did you mean \"%s\"?)", n->best);
		return buf;
	}
	off = snprintf(buf, size, " (expected one of ");
	for (size_t i = 0; i < n_choices && off < size; i++)
		off += snprintf(buf + off, size - off, "%s\"%s\"", i ? ", " : "", choices[i]);
	if (off < size)
		snprintf(buf + off, size - off, ")");
	return buf;
}

/* ---- tables ---------------------------------------------------------------------------- */

struct field;
typedef int parse_fn(struct parser *ps, struct json_object *v, void *dst, const struct field *f);
typedef int check_fn(struct parser *ps, struct json_object *v, const char *s, size_t len);

enum {
	FIELD_REQUIRED = 1 << 0,
	FIELD_EARLY = 1 << 1, /* checked before unknown fields: the format version */
	FIELD_ANY_TYPE = 1 << 2, /* the parser checks the type: its message says what fits */
};

struct field {
	const char *name;
	enum json_type type;
	unsigned flags;
	unsigned only;     /* tagged objects: bit i when variant i takes it; 0: every variant */
	unsigned required; /* tagged objects: bit i when variant i must have it */
	const char *alt;   /* the other of an either/or pair: one of the two is required where
			    * this one is, and never both */
	const char *help;  /* what a required field holds, said when it is missing */
	parse_fn *parse;
	size_t off, n_off; /* where the generic parsers store the value (and its count) in dst */
	check_fn *check;   /* strings: what more than non-empty they must be */
	uint64_t min;      /* numbers and durations: the smallest value taken */
};

struct object_spec {
	const struct field *fields;
	size_t n_fields;
	/* Tagged objects: the tag field (listed before the fields that depend on it) picks a
	 * variant, and some fields apply to some variants only. */
	const char *what; /* "a probe" */
	const char *tag;  /* "kind" */
	unsigned n_variants;
	unsigned (*variant)(const void *dst);
	const char *(*variant_name)(unsigned i);
};

/* The variant the object's tag names, read from the JSON before the tag is parsed; -1 when
 * it names none. */
static int tag_variant(const struct object_spec *spec, struct json_object *obj)
{
	struct json_object *t;
	const char *s;

	if (!spec->tag || !json_object_object_get_ex(obj, spec->tag, &t) ||
	    !json_object_is_type(t, json_type_string))
		return -1;
	s = json_object_get_string(t);
	for (unsigned i = 0; i < spec->n_variants; i++)
		if (!strcmp(s, spec->variant_name(i)) &&
		    strlen(s) == (size_t)json_object_get_string_len(t))
			return (int)i;
	return -1;
}

static bool takes(const struct field *f, int variant)
{
	return !f->only || variant < 0 || (f->only & (1u << variant));
}

static const struct field *find_field(const struct object_spec *spec, const char *name)
{
	for (size_t i = 0; i < spec->n_fields; i++)
		if (!strcmp(spec->fields[i].name, name))
			return &spec->fields[i];
	return NULL;
}

/* Once the tag names a variant, only the fields that variant takes are offered. */
static int unknown_field(struct parser *ps, const struct object_spec *spec, struct json_object *obj,
			 const char *key)
{
	const char *names[32];
	struct nearest n = { .word = key, .dist = SIZE_MAX };
	char shown[SHOWN_LEN], h[512];
	int variant = tag_variant(spec, obj);
	size_t count = 0;

	for (size_t i = 0; i < spec->n_fields && count < 32; i++) {
		if (!takes(&spec->fields[i], variant))
			continue;
		names[count++] = spec->fields[i].name;
		nearest_try(&n, spec->fields[i].name, spec->fields[i].name);
	}
	return fail(ps, "unknown field %s%s", show_str(key, shown, sizeof(shown)),
		    hint(&n, names, count, h, sizeof(h)));
}

static int not_for_variant(struct parser *ps, const struct object_spec *spec,
			   const struct field *f, unsigned variant)
{
	char list[256];
	size_t off = 0, count = 0;

	list[0] = '\0';
	for (unsigned i = 0; i < 32 && off < sizeof(list); i++)
		if (f->only & (1u << i))
			off += snprintf(list + off, sizeof(list) - off, "%s\"%s\"", count++ ? ", " : "",
					spec->variant_name(i));
	return fail(ps, "does not apply to %s of %s \"%s\" (only to %s %s)", spec->what, spec->tag,
		    spec->variant_name(variant), spec->tag, list);
}

static int check_field(struct parser *ps, struct json_object *obj, const struct object_spec *spec,
		       const struct field *f, void *dst)
{
	const struct field *alt;
	struct json_object *v;
	size_t mark;
	int err;

	if (!json_object_object_get_ex(obj, f->name, &v)) {
		if (!(f->flags & FIELD_REQUIRED) &&
		    !(f->required && spec->variant && (f->required & (1u << spec->variant(dst)))))
			return 0;
		if (!f->alt)
			return fail(ps, "missing required field \"%s\" (%s)", f->name, f->help);
		if (!json_object_object_get_ex(obj, f->alt, NULL))
			return fail(ps, "missing required field \"%s\" or \"%s\" (%s)", f->name, f->alt,
				    f->help);
		return 0;
	}
	mark = path_key(ps, f->name);
	if (f->only && spec->variant && !(f->only & (1u << spec->variant(dst))))
		err = not_for_variant(ps, spec, f, spec->variant(dst));
	/* said at the second of the pair, the one a reader meets last */
	else if (f->alt && (alt = find_field(spec, f->alt)) && alt < f &&
		 json_object_object_get_ex(obj, f->alt, NULL))
		err = fail(ps, "give \"%s\" or \"%s\", not both", f->alt, f->name);
	else if (!(f->flags & FIELD_ANY_TYPE) && !json_object_is_type(v, f->type))
		err = wrong_type(ps, f->type, v);
	else
		err = f->parse(ps, v, dst, f);
	path_pop(ps, mark);
	return err;
}

/* Early fields that are present, then unknown fields (a typo explains a missing field
 * better than "missing" does), then the rest in table order. */
static int check_object(struct parser *ps, struct json_object *obj, const struct object_spec *spec,
			void *dst)
{
	int err;

	for (size_t i = 0; i < spec->n_fields; i++) {
		const struct field *f = &spec->fields[i];

		if ((f->flags & FIELD_EARLY) && json_object_object_get_ex(obj, f->name, NULL) &&
		    (err = check_field(ps, obj, spec, f, dst)))
			return err;
	}
	json_object_object_foreach(obj, key, val) {
		(void)val;
		if (!find_field(spec, key))
			return unknown_field(ps, spec, obj, key);
	}
	for (size_t i = 0; i < spec->n_fields; i++) {
		const struct field *f = &spec->fields[i];

		if ((!(f->flags & FIELD_EARLY) || !json_object_object_get_ex(obj, f->name, NULL)) &&
		    (err = check_field(ps, obj, spec, f, dst)))
			return err;
	}
	return 0;
}

/* ---- generic parsers ------------------------------------------------------------------- */

#define AT(dst, off, type) ((type *)((char *)(dst) + (off)))

static int parse_bool(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	(void)ps;
	*AT(dst, f->off, bool) = json_object_get_boolean(v);
	return 0;
}

/* A string as C can hold it: no NUL inside, not empty, and whatever check says. */
static int string_value(struct parser *ps, struct json_object *v, check_fn *check, const char **out)
{
	const char *s = json_object_get_string(v);
	size_t len = json_object_get_string_len(v);
	char shown[SHOWN_LEN];

	if (memchr(s, '\0', len))
		return fail(ps, "expected a string without NUL characters, got %s",
			    show(v, shown, sizeof(shown)));
	if (!len)
		return fail(ps, "expected a non-empty string, got \"\"");
	if (check) {
		int err = check(ps, v, s, len);

		if (err)
			return err;
	}
	*out = s;
	return 0;
}

static int parse_string(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	const char *s;
	char *copy;
	int err;

	if ((err = string_value(ps, v, f->check, &s)))
		return err;
	if (!(copy = strdup(s)))
		return no_memory(ps);
	free(*AT(dst, f->off, char *));
	*AT(dst, f->off, char *) = copy;
	return 0;
}

/* An array of strings into a char ** at off and its count at n_off. The count grows with
 * each string, so a failure halfway leaves dst for policy_clear to free. */
static int parse_strings(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	size_t n = json_object_array_length(v);
	char ***arr = AT(dst, f->off, char **);
	size_t *count = AT(dst, f->n_off, size_t);

	if (!n)
		return 0;
	if (!(*arr = calloc(n, sizeof(**arr))))
		return no_memory(ps);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		size_t mark = path_index(ps, i);
		const char *s;
		int err;

		if (!json_object_is_type(e, json_type_string))
			err = wrong_type(ps, json_type_string, e);
		else
			err = string_value(ps, e, f->check, &s);
		path_pop(ps, mark);
		if (err)
			return err;
		if (!((*arr)[*count] = strdup(s)))
			return no_memory(ps);
		(*count)++;
	}
	return 0;
}

/* ---- scope ----------------------------------------------------------------------------- */

static int check_binary(struct parser *ps, struct json_object *v, const char *s, size_t len)
{
	char shown[SHOWN_LEN];

	if (s[0] != '/')
		return fail(ps, "expected an absolute path, got %s", show(v, shown, sizeof(shown)));
	if (len >= PATH_MAX)
		return fail(ps, "expected a path shorter than %d bytes, got %s (%zu bytes)", PATH_MAX,
			    show(v, shown, sizeof(shown)), len);
	return 0;
}

static int check_cgroup(struct parser *ps, struct json_object *v, const char *s, size_t len)
{
	char shown[SHOWN_LEN];

	if (s[0] != '/')
		return fail(ps, "expected a path starting with \"/\", relative to the cgroup2 mount "
			    "(like \"/system.slice/app.service\"), got %s", show(v, shown, sizeof(shown)));
	if (len >= PATH_MAX)
		return fail(ps, "expected a path shorter than %d bytes, got %s (%zu bytes)", PATH_MAX,
			    show(v, shown, sizeof(shown)), len);
	return 0;
}

static int check_comm(struct parser *ps, struct json_object *v, const char *s, size_t len)
{
	char shown[SHOWN_LEN];

	(void)s;
	if (len > COMM_MAX)
		return fail(ps, "expected a process name of at most %d bytes (the kernel keeps no more), "
			    "got %s (%zu bytes)", COMM_MAX, show(v, shown, sizeof(shown)), len);
	return 0;
}

static const struct field scope_fields[] = {
	{ .name = "binaries", .type = json_type_array, .parse = parse_strings, .check = check_binary,
	  .off = offsetof(struct policy_scope, binaries),
	  .n_off = offsetof(struct policy_scope, n_binaries) },
	{ .name = "cgroups", .type = json_type_array, .parse = parse_strings, .check = check_cgroup,
	  .off = offsetof(struct policy_scope, cgroups),
	  .n_off = offsetof(struct policy_scope, n_cgroups) },
	{ .name = "comms", .type = json_type_array, .parse = parse_strings, .check = check_comm,
	  .off = offsetof(struct policy_scope, comms),
	  .n_off = offsetof(struct policy_scope, n_comms) },
};

static const struct object_spec scope_spec = {
	.fields = scope_fields,
	.n_fields = sizeof(scope_fields) / sizeof(scope_fields[0]),
};

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

static unsigned all_signals(void)
{
	unsigned mask = 0;

	for (size_t i = 0; i < N_SIGNALS; i++)
		mask |= 1u << signals[i].signo;
	return mask;
}

static int check_id(struct parser *ps, struct json_object *v, const char *s, size_t len)
{
	char shown[SHOWN_LEN];

	if (len > POLICY_ID_MAX)
		return fail(ps, "expected an id of at most %d bytes, got %s (%zu bytes)", POLICY_ID_MAX,
			    show(v, shown, sizeof(shown)), len);
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return fail(ps, "expected an id of letters, digits, \"_\", \".\" and \"-\", got %s",
				    show(v, shown, sizeof(shown)));
	}
	return 0;
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
		nearest_try(&n, kind_names[i], kind_names[i]);
	}
	return fail(ps, "unknown probe kind %s%s", show(v, shown, sizeof(shown)),
		    hint(&n, kind_names, POLICY_PROBE_KIND_COUNT, h, sizeof(h)));
}

static int parse_signal(struct parser *ps, struct json_object *v, unsigned *mask)
{
	const char *s = json_object_get_string(v), *names[N_SIGNALS];
	struct nearest n = { .word = s, .dist = SIZE_MAX };
	char shown[SHOWN_LEN], h[256];

	if (!json_object_is_type(v, json_type_string))
		return wrong_type(ps, json_type_string, v);
	for (size_t i = 0; i < N_SIGNALS; i++) {
		if (!strcmp(s, signals[i].name) && strlen(s) == (size_t)json_object_get_string_len(v)) {
			*mask |= 1u << signals[i].signo;
			return 0;
		}
		names[i] = signals[i].name;
		/* "segv" and "sigsegv" both mean SIGSEGV */
		nearest_try(&n, signals[i].name, signals[i].name);
		nearest_try(&n, signals[i].name, signals[i].name + 3);
	}
	return fail(ps, "unknown signal %s%s", show(v, shown, sizeof(shown)),
		    hint(&n, names, N_SIGNALS, h, sizeof(h)));
}

static int parse_signals(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	size_t n = json_object_array_length(v);
	unsigned mask = 0;

	(void)f;
	if (!n)
		return fail(ps, "expected at least one signal name (leave \"signals\" out for all %zu)",
			    N_SIGNALS);
	for (size_t i = 0; i < n; i++) {
		size_t mark = path_index(ps, i);
		int err = parse_signal(ps, json_object_array_get_idx(v, i), &mask);

		path_pop(ps, mark);
		if (err)
			return err;
	}
	((struct policy_probe *)dst)->signals_mask = mask;
	return 0;
}

/* ---- function probes: where ------------------------------------------------------------- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_word(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_';
}

static int hex_digit(char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* An absolute path, or a soname for the loader to find ("libc.so.6"). */
static int check_probe_binary(struct parser *ps, struct json_object *v, const char *s, size_t len)
{
	char shown[SHOWN_LEN];

	if (s[0] == '/')
		return check_binary(ps, v, s, len);
	if (strchr(s, '/') || !strstr(s, ".so"))
		return fail(ps, "expected an absolute path or a library soname such as \"libc.so.6\", got %s",
			    show(v, shown, sizeof(shown)));
	return 0;
}

/* "name", "name@VERSION" (that version) or "name@@VERSION" (the default version), as
 * readelf and the linker write them. */
static int check_symbol(struct parser *ps, struct json_object *v, const char *s, size_t len)
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
		return fail(ps, "expected a symbol name, optionally with a version (\"name@VERSION\" or "
			    "\"name@@VERSION\"), got %s", show(v, shown, sizeof(shown)));
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
		return fail(ps, "expected a file offset: an integer of 0 or more, or a hex string such "
			    "as \"0x4f0\", got %s", show(v, shown, sizeof(shown)));
	pr->offset = off;
	pr->has_offset = true;
	return 0;
}

/* ---- function probes: values ------------------------------------------------------------- */

static const char *const value_type_names[] = {
	[POLICY_VALUE_INT] = "int",
	[POLICY_VALUE_LONG] = "long",
	[POLICY_VALUE_POINTER] = "pointer",
	[POLICY_VALUE_BOOL] = "bool",
};
#define N_VALUE_TYPES (sizeof(value_type_names) / sizeof(value_type_names[0]))

/* "an int", for "4294967296 does not fit an int" */
static const char *const value_type_nouns[] = {
	[POLICY_VALUE_INT] = "an int",
	[POLICY_VALUE_LONG] = "a long",
	[POLICY_VALUE_POINTER] = "a pointer",
	[POLICY_VALUE_BOOL] = "a bool",
};

static int parse_value_type(struct parser *ps, struct json_object *v, void *dst,
			    const struct field *f)
{
	const char *s = json_object_get_string(v);
	struct nearest n = { .word = s, .dist = SIZE_MAX };
	char shown[SHOWN_LEN], h[256];

	(void)f;
	for (unsigned i = 0; i < N_VALUE_TYPES; i++) {
		if (!strcmp(s, value_type_names[i]) &&
		    strlen(s) == (size_t)json_object_get_string_len(v)) {
			((struct policy_probe *)dst)->type = i;
			return 0;
		}
		nearest_try(&n, value_type_names[i], value_type_names[i]);
	}
	return fail(ps, "unknown type %s%s", show(v, shown, sizeof(shown)),
		    hint(&n, value_type_names, N_VALUE_TYPES, h, sizeof(h)));
}

/* An integer as written in a predicate: sign, magnitude, and the text for messages. */
struct pred_number {
	const char *text;
	size_t len;
	bool neg, overflow; /* overflow: the magnitude passed 64 bits */
	uint64_t mag;
};

static void skip_spaces(const char **p, const char *end)
{
	while (*p < end && (**p == ' ' || **p == '\t'))
		(*p)++;
}

/* [+-] then decimal digits or 0x and hex digits, ending at a non-word character. */
static bool read_number(const char **p, const char *end, struct pred_number *n)
{
	const char *s = *p;
	unsigned base = 10;
	size_t digits = 0;

	*n = (struct pred_number){ .text = s };
	if (s < end && (*s == '-' || *s == '+'))
		n->neg = *s++ == '-';
	if (end - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (; s < end; s++, digits++) {
		int d = hex_digit(*s);

		if (d < 0 || (unsigned)d >= base)
			break;
		if (n->mag > (UINT64_MAX - (unsigned)d) / base)
			n->overflow = true;
		else
			n->mag = n->mag * base + (unsigned)d;
	}
	if (!digits || (s < end && (is_word(*s) || *s == '.')))
		return false;
	n->len = s - n->text;
	*p = s;
	return true;
}

static bool fits(enum policy_value_type type, const struct pred_number *n, int64_t *out)
{
	static const uint64_t max_pos[N_VALUE_TYPES] = {
		[POLICY_VALUE_INT] = INT32_MAX, [POLICY_VALUE_LONG] = INT64_MAX,
		[POLICY_VALUE_POINTER] = UINT64_MAX, [POLICY_VALUE_BOOL] = 1,
	};
	static const uint64_t max_neg[N_VALUE_TYPES] = { /* 0: no negative values */
		[POLICY_VALUE_INT] = (uint64_t)INT32_MAX + 1, [POLICY_VALUE_LONG] = (uint64_t)INT64_MAX + 1,
	};

	if (n->overflow || n->mag > (n->neg ? max_neg[type] : max_pos[type]))
		return false;
	/* two's complement, as GNU C converts: a pointer keeps its bit pattern */
	*out = n->neg ? (int64_t)(0 - n->mag) : (int64_t)n->mag;
	return true;
}

static int bad_predicate(struct parser *ps, struct json_object *v)
{
	char shown[SHOWN_LEN];

	return fail(ps, "expected a comparison such as \"< 0\", \"== 0\" or \"in [1, 2]\", got %s",
		    show(v, shown, sizeof(shown)));
}

/* "OP N" with OP one of < <= > >= == !=, or "in [N, ...]"; spaces between tokens are free.
 * The type (parsed before, from the row above) decides which operators and values fit. */
static int parse_when(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	static const struct {
		const char *text;
		enum policy_pred_op op;
	} ops[] = { /* two-character operators first */
		{ "<=", PRED_LE }, { ">=", PRED_GE }, { "==", PRED_EQ }, { "!=", PRED_NE },
		{ "<", PRED_LT }, { ">", PRED_GT },
	};
	struct policy_probe *pr = dst;
	struct policy_predicate pred = { 0 };
	struct pred_number nums[POLICY_PRED_VALUES];
	const char *p, *end;
	char shown[SHOWN_LEN];
	size_t total = 0;

	(void)f;
	if (!json_object_is_type(v, json_type_string))
		return bad_predicate(ps, v);
	p = json_object_get_string(v);
	end = p + json_object_get_string_len(v);
	skip_spaces(&p, end);
	if (end - p >= 2 && !memcmp(p, "in", 2) && !(end - p > 2 && is_word(p[2]))) {
		pred.op = PRED_IN;
		p += 2;
		skip_spaces(&p, end);
		if (p == end || *p++ != '[')
			return bad_predicate(ps, v);
		skip_spaces(&p, end);
		if (p < end && *p == ']') {
			p++;
		} else {
			for (;;) {
				struct pred_number num;

				if (!read_number(&p, end, &num))
					return bad_predicate(ps, v);
				if (total < POLICY_PRED_VALUES)
					nums[total] = num;
				total++;
				skip_spaces(&p, end);
				if (p < end && *p == ',') {
					p++;
					skip_spaces(&p, end);
				} else if (p < end && *p == ']') {
					p++;
					break;
				} else {
					return bad_predicate(ps, v);
				}
			}
		}
	} else {
		size_t i;

		for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
			if ((size_t)(end - p) >= strlen(ops[i].text) &&
			    !memcmp(p, ops[i].text, strlen(ops[i].text)))
				break;
		if (i == sizeof(ops) / sizeof(ops[0]))
			return bad_predicate(ps, v);
		pred.op = ops[i].op;
		p += strlen(ops[i].text);
		skip_spaces(&p, end);
		if (!read_number(&p, end, &nums[0]))
			return bad_predicate(ps, v);
		total = 1;
	}
	skip_spaces(&p, end);
	if (p != end)
		return bad_predicate(ps, v);

	if (pr->type == POLICY_VALUE_POINTER && pred.op != PRED_EQ && pred.op != PRED_NE)
		return fail(ps, "a pointer can only be compared with \"==\" or \"!=\" (such as \"== 0\" "
			    "for NULL), got %s", show(v, shown, sizeof(shown)));
	if (pr->type == POLICY_VALUE_BOOL && pred.op != PRED_EQ && pred.op != PRED_NE)
		return fail(ps, "a bool can only be compared with \"== 0\", \"== 1\", \"!= 0\" or "
			    "\"!= 1\", got %s", show(v, shown, sizeof(shown)));
	if (!total || total > POLICY_PRED_VALUES)
		return fail(ps, "\"in\" takes 1 to %d values, got %zu", POLICY_PRED_VALUES, total);
	for (size_t i = 0; i < total; i++) {
		if (!fits(pr->type, &nums[i], &pred.values[i]))
			return fail(ps, "%.*s%s does not fit %s",
				    (int)(nums[i].len > SHOWN_MAX ? SHOWN_MAX : nums[i].len), nums[i].text,
				    nums[i].len > SHOWN_MAX ? "..." : "", value_type_nouns[pr->type]);
	}
	pred.n_values = total;
	pr->when = pred;
	return 0;
}

/* ---- durations and numbers ------------------------------------------------------------- */

#define NS_PER_SEC 1000000000ull

static const struct {
	const char *unit;
	uint64_t ns;
} duration_units[] = {
	{ "h", 3600 * NS_PER_SEC }, { "m", 60 * NS_PER_SEC }, { "s", NS_PER_SEC },
	{ "ms", 1000000 }, { "us", 1000 },
};
#define N_DURATION_UNITS (sizeof(duration_units) / sizeof(duration_units[0]))

/* "250us", "1.5s": a decimal number and a unit, nothing else. 0, -EINVAL when it is not a
 * duration, -ERANGE past 64 bits of nanoseconds, -EDOM for a fraction of a nanosecond. */
static int duration_ns(const char *s, size_t len, uint64_t *out)
{
	const char *p = s, *end = s + len;
	unsigned __int128 whole = 0, frac = 0, scale = 1, ns;
	bool finer = false;
	size_t u;

	if (p == end || !is_digit(*p))
		return -EINVAL;
	for (; p < end && is_digit(*p); p++)
		if (whole <= UINT64_MAX)
			whole = whole * 10 + (unsigned)(*p - '0');
	if (p < end && *p == '.') {
		if (++p == end || !is_digit(*p))
			return -EINVAL;
		for (; p < end && is_digit(*p); p++) {
			/* 18 places is finer than a nanosecond of any unit */
			if (scale < 1000000000000000000ull) {
				frac = frac * 10 + (unsigned)(*p - '0');
				scale *= 10;
			} else if (*p != '0') {
				finer = true;
			}
		}
	}
	for (u = 0; u < N_DURATION_UNITS; u++)
		if ((size_t)(end - p) == strlen(duration_units[u].unit) &&
		    !memcmp(p, duration_units[u].unit, end - p))
			break;
	if (u == N_DURATION_UNITS)
		return -EINVAL;
	if (finer || frac * duration_units[u].ns % scale)
		return -EDOM;
	ns = whole * duration_units[u].ns + frac * duration_units[u].ns / scale;
	if (ns > UINT64_MAX)
		return -ERANGE;
	*out = (uint64_t)ns;
	return 0;
}

/* The largest unit that says it exactly: "1ms", "90s". */
static const char *format_duration(uint64_t ns, char *buf, size_t size)
{
	for (size_t u = 0; u < N_DURATION_UNITS; u++) {
		if (ns && !(ns % duration_units[u].ns)) {
			snprintf(buf, size, "%" PRIu64 "%s", ns / duration_units[u].ns,
				 duration_units[u].unit);
			return buf;
		}
	}
	snprintf(buf, size, "%" PRIu64 "ns", ns);
	return buf;
}

/* A duration into a uint64_t of nanoseconds at off, at least f->min (1 when unset). */
static int parse_duration(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	uint64_t ns = 0, min = f->min ? f->min : 1;
	char shown[SHOWN_LEN], limit[32];
	int rc = -EINVAL;

	if (json_object_is_type(v, json_type_string))
		rc = duration_ns(json_object_get_string(v), json_object_get_string_len(v), &ns);
	if (rc == -ERANGE)
		return fail(ps, "expected a duration of at most %" PRIu64 "h, got %s",
			    UINT64_MAX / duration_units[0].ns, show(v, shown, sizeof(shown)));
	if (rc == -EDOM)
		return fail(ps, "expected a duration in whole nanoseconds, got %s",
			    show(v, shown, sizeof(shown)));
	if (rc)
		return fail(ps, "expected a duration such as \"20ms\" or \"1s\", got %s",
			    show(v, shown, sizeof(shown)));
	if (ns < min && min == 1)
		return fail(ps, "expected a duration greater than 0, got %s", show(v, shown, sizeof(shown)));
	if (ns < min)
		return fail(ps, "expected a duration of at least %s, got %s",
			    format_duration(min, limit, sizeof(limit)), show(v, shown, sizeof(shown)));
	*AT(dst, f->off, uint64_t) = ns;
	return 0;
}

/* An integer from f->min to UINT32_MAX into a uint32_t at off. */
static int parse_u32(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	int64_t n = json_object_get_int64(v);
	char shown[SHOWN_LEN];

	if (n < (int64_t)f->min || n > UINT32_MAX)
		return fail(ps, "expected an integer from %" PRIu64 " to %" PRIu32 ", got %s", f->min,
			    UINT32_MAX, show(v, shown, sizeof(shown)));
	*AT(dst, f->off, uint32_t) = (uint32_t)n;
	return 0;
}

static bool number_value(struct json_object *v, double *out)
{
	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return false;
	*out = json_object_get_double(v);
	return isfinite(*out);
}

static int parse_percentile(struct parser *ps, struct json_object *v, void *dst,
			    const struct field *f)
{
	char shown[SHOWN_LEN];
	double x;

	if (!number_value(v, &x) || x < 50 || x > 99.9)
		return fail(ps, "expected a number from 50 to 99.9, got %s", show(v, shown, sizeof(shown)));
	*AT(dst, f->off, double) = x;
	return 0;
}

static int parse_factor(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	char shown[SHOWN_LEN];
	double x;

	if (!number_value(v, &x) || !(x > 1))
		return fail(ps, "expected a number greater than 1, got %s", show(v, shown, sizeof(shown)));
	*AT(dst, f->off, double) = x;
	return 0;
}

static const struct policy_baseline baseline_default = {
	.percentile = 99, .factor = 2, .window_ns = 60 * NS_PER_SEC,
};

static const struct field baseline_fields[] = {
	{ .name = "percentile", .flags = FIELD_ANY_TYPE, .parse = parse_percentile,
	  .off = offsetof(struct policy_baseline, percentile) },
	{ .name = "factor", .flags = FIELD_ANY_TYPE, .parse = parse_factor,
	  .off = offsetof(struct policy_baseline, factor) },
	/* the histograms are read about once a second: a shorter window holds nothing */
	{ .name = "window", .flags = FIELD_ANY_TYPE, .parse = parse_duration, .min = NS_PER_SEC,
	  .off = offsetof(struct policy_baseline, window_ns) },
};

static const struct object_spec baseline_spec = {
	.fields = baseline_fields,
	.n_fields = sizeof(baseline_fields) / sizeof(baseline_fields[0]),
};

static int parse_baseline(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	struct policy_baseline *b = AT(dst, f->off, struct policy_baseline);

	*b = baseline_default;
	return check_object(ps, v, &baseline_spec, b);
}

static const struct policy_rate rate_default = { .per_second = 100, .burst = 200 };

static const struct field rate_fields[] = {
	{ .name = "per_second", .type = json_type_int, .parse = parse_u32, .min = 1,
	  .off = offsetof(struct policy_rate, per_second) },
	{ .name = "burst", .type = json_type_int, .parse = parse_u32, .min = 1,
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
	return check_object(ps, v, &rate_spec, r);
}

/* ---- exception types, syscalls, errnos ------------------------------------------------- */

/* A C++ type as written in source: "std::runtime_error", "::app::ParseError",
 * "app::Error<int>" (template arguments are taken as they are, brackets balanced). */
static int check_type_name(struct parser *ps, struct json_object *v, const char *s, size_t len)
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
	return fail(ps, "expected a C++ type name such as \"std::runtime_error\", got %s",
		    show(v, shown, sizeof(shown)));
}

static int parse_types(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	if (!json_object_array_length(v))
		return fail(ps, "expected at least one type name (leave \"types\" out for every exception)");
	return parse_strings(ps, v, dst, f);
}

struct named {
	const char *name;
	int value;
};

static const struct named syscall_names[] = {
#define SALVE_SYSCALL(name, nr) { #name, nr },
#include "syscalls.h"
#undef SALVE_SYSCALL
};

/* Every errno a Linux syscall returns, with the aliases glibc defines. */
#define ERRNO(e) { #e, e }
static const struct named errno_names[] = {
	ERRNO(EPERM), ERRNO(ENOENT), ERRNO(ESRCH), ERRNO(EINTR), ERRNO(EIO), ERRNO(ENXIO),
	ERRNO(E2BIG), ERRNO(ENOEXEC), ERRNO(EBADF), ERRNO(ECHILD), ERRNO(EAGAIN), ERRNO(ENOMEM),
	ERRNO(EACCES), ERRNO(EFAULT), ERRNO(ENOTBLK), ERRNO(EBUSY), ERRNO(EEXIST), ERRNO(EXDEV),
	ERRNO(ENODEV), ERRNO(ENOTDIR), ERRNO(EISDIR), ERRNO(EINVAL), ERRNO(ENFILE), ERRNO(EMFILE),
	ERRNO(ENOTTY), ERRNO(ETXTBSY), ERRNO(EFBIG), ERRNO(ENOSPC), ERRNO(ESPIPE), ERRNO(EROFS),
	ERRNO(EMLINK), ERRNO(EPIPE), ERRNO(EDOM), ERRNO(ERANGE), ERRNO(EDEADLK),
	ERRNO(ENAMETOOLONG), ERRNO(ENOLCK), ERRNO(ENOSYS), ERRNO(ENOTEMPTY), ERRNO(ELOOP),
	ERRNO(EWOULDBLOCK), ERRNO(ENOMSG), ERRNO(EIDRM), ERRNO(ECHRNG), ERRNO(EL2NSYNC),
	ERRNO(EL3HLT), ERRNO(EL3RST), ERRNO(ELNRNG), ERRNO(EUNATCH), ERRNO(ENOCSI), ERRNO(EL2HLT),
	ERRNO(EBADE), ERRNO(EBADR), ERRNO(EXFULL), ERRNO(ENOANO), ERRNO(EBADRQC), ERRNO(EBADSLT),
	ERRNO(EDEADLOCK), ERRNO(EBFONT), ERRNO(ENOSTR), ERRNO(ENODATA), ERRNO(ETIME), ERRNO(ENOSR),
	ERRNO(ENONET), ERRNO(ENOPKG), ERRNO(EREMOTE), ERRNO(ENOLINK), ERRNO(EADV), ERRNO(ESRMNT),
	ERRNO(ECOMM), ERRNO(EPROTO), ERRNO(EMULTIHOP), ERRNO(EDOTDOT), ERRNO(EBADMSG),
	ERRNO(EOVERFLOW), ERRNO(ENOTUNIQ), ERRNO(EBADFD), ERRNO(EREMCHG), ERRNO(ELIBACC),
	ERRNO(ELIBBAD), ERRNO(ELIBSCN), ERRNO(ELIBMAX), ERRNO(ELIBEXEC), ERRNO(EILSEQ),
	ERRNO(ERESTART), ERRNO(ESTRPIPE), ERRNO(EUSERS), ERRNO(ENOTSOCK), ERRNO(EDESTADDRREQ),
	ERRNO(EMSGSIZE), ERRNO(EPROTOTYPE), ERRNO(ENOPROTOOPT), ERRNO(EPROTONOSUPPORT),
	ERRNO(ESOCKTNOSUPPORT), ERRNO(EOPNOTSUPP), ERRNO(ENOTSUP), ERRNO(EPFNOSUPPORT),
	ERRNO(EAFNOSUPPORT), ERRNO(EADDRINUSE), ERRNO(EADDRNOTAVAIL), ERRNO(ENETDOWN),
	ERRNO(ENETUNREACH), ERRNO(ENETRESET), ERRNO(ECONNABORTED), ERRNO(ECONNRESET),
	ERRNO(ENOBUFS), ERRNO(EISCONN), ERRNO(ENOTCONN), ERRNO(ESHUTDOWN), ERRNO(ETOOMANYREFS),
	ERRNO(ETIMEDOUT), ERRNO(ECONNREFUSED), ERRNO(EHOSTDOWN), ERRNO(EHOSTUNREACH),
	ERRNO(EALREADY), ERRNO(EINPROGRESS), ERRNO(ESTALE), ERRNO(EUCLEAN), ERRNO(ENOTNAM),
	ERRNO(ENAVAIL), ERRNO(EISNAM), ERRNO(EREMOTEIO), ERRNO(EDQUOT), ERRNO(ENOMEDIUM),
	ERRNO(EMEDIUMTYPE), ERRNO(ECANCELED), ERRNO(ENOKEY), ERRNO(EKEYEXPIRED),
	ERRNO(EKEYREVOKED), ERRNO(EKEYREJECTED), ERRNO(EOWNERDEAD), ERRNO(ENOTRECOVERABLE),
	ERRNO(ERFKILL), ERRNO(EHWPOISON),
};
#undef ERRNO

/* A table too long to list in a message: what it is and where its names are. */
struct name_table {
	const struct named *names;
	size_t n;
	const char *what;  /* "syscall" */
	const char *where; /* said when no name is close */
};

static const struct name_table syscall_table = {
	syscall_names, sizeof(syscall_names) / sizeof(syscall_names[0]), "syscall",
	"not an x86-64 syscall name; see syscalls(2)",
};

static const struct name_table errno_table = {
	errno_names, sizeof(errno_names) / sizeof(errno_names[0]), "errno",
	"not a Linux errno name; see errno(3)",
};

/* A non-empty array of names into an int * at off and its count at n_off; the count grows
 * with each value, as in parse_strings. */
static int parse_named(struct parser *ps, struct json_object *v, void *dst, const struct field *f,
		       const struct name_table *t)
{
	size_t n = json_object_array_length(v);
	int **arr = AT(dst, f->off, int *);
	size_t *count = AT(dst, f->n_off, size_t);

	if (!n)
		return fail(ps, "expected at least one %s name, got []", t->what);
	if (!(*arr = calloc(n, sizeof(**arr))))
		return no_memory(ps);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		size_t mark = path_index(ps, i), k = t->n;
		const char *s = json_object_get_string(e);
		struct nearest near = { .word = s, .dist = SIZE_MAX };
		char shown[SHOWN_LEN], h[128];
		int err = 0;

		if (!json_object_is_type(e, json_type_string)) {
			err = wrong_type(ps, json_type_string, e);
		} else {
			for (k = 0; k < t->n; k++) {
				if (!strcmp(s, t->names[k].name) &&
				    strlen(s) == (size_t)json_object_get_string_len(e))
					break;
				nearest_try(&near, t->names[k].name, t->names[k].name);
			}
			if (k == t->n && near.best)
				snprintf(h, sizeof(h), " (did you mean \"%s\"?)", near.best);
			else
				snprintf(h, sizeof(h), " (%s)", t->where);
			if (k == t->n)
				err = fail(ps, "unknown %s %s%s", t->what, show(e, shown, sizeof(shown)), h);
		}
		path_pop(ps, mark);
		if (err)
			return err;
		(*arr)[(*count)++] = t->names[k].value;
	}
	return 0;
}

static int parse_syscalls(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	return parse_named(ps, v, dst, f, &syscall_table);
}

static int parse_errnos(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	return parse_named(ps, v, dst, f, &errno_table);
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

#define PR(field) offsetof(struct policy_probe, field)

/* Rows are checked in order: "type" before the "when" it decides. */
static const struct field probe_fields[] = {
	{ .name = "id", .type = json_type_string, .flags = FIELD_REQUIRED, .parse = parse_string,
	  .check = check_id, .off = PR(id),
	  .help = "a name for the probe, unique across all policies" },
	{ .name = "kind", .type = json_type_string, .flags = FIELD_REQUIRED, .parse = parse_kind,
	  .help = "one of \"signal\", \"exit\", \"oom\", \"exec\", \"return\", \"latency\", \"stall\", "
		  "\"exception\", \"abort\", \"syscall\"" },
	{ .name = "signals", .type = json_type_array, .only = KIND(SIGNAL), .parse = parse_signals },
	{ .name = "handled", .type = json_type_boolean, .only = KIND(SIGNAL), .parse = parse_bool,
	  .off = PR(handled) },
	{ .name = "nonzero", .type = json_type_boolean, .only = KIND(EXIT), .parse = parse_bool,
	  .off = PR(nonzero) },
	{ .name = "binary", .type = json_type_string, .only = FUNCTION_KINDS | LIBRARY_KINDS,
	  .required = FUNCTION_KINDS, .parse = parse_string, .check = check_probe_binary,
	  .off = PR(binary),
	  .help = "the executable's absolute path, or a library soname such as \"libc.so.6\"" },
	{ .name = "symbol", .type = json_type_string, .only = FUNCTION_KINDS,
	  .required = FUNCTION_KINDS, .alt = "offset", .parse = parse_string, .check = check_symbol,
	  .off = PR(symbol), .help = "the function: its symbol name, or its offset in the file" },
	{ .name = "offset", .flags = FIELD_ANY_TYPE, .only = FUNCTION_KINDS,
	  .required = FUNCTION_KINDS, .alt = "symbol", .parse = parse_offset,
	  .help = "the function: its symbol name, or its offset in the file" },
	{ .name = "type", .type = json_type_string, .only = KIND(RETURN), .parse = parse_value_type },
	{ .name = "when", .flags = FIELD_ANY_TYPE, .only = KIND(RETURN), .required = KIND(RETURN),
	  .parse = parse_when, .help = "a test of the return value, such as \"< 0\"" },
	{ .name = "threshold", .flags = FIELD_ANY_TYPE, .only = KIND(LATENCY),
	  .required = KIND(LATENCY), .alt = "baseline", .parse = parse_duration, .off = PR(threshold_ns),
	  .help = "a fixed duration such as \"20ms\", or a baseline learned from past calls" },
	{ .name = "baseline", .type = json_type_object, .only = KIND(LATENCY),
	  .required = KIND(LATENCY), .alt = "threshold", .parse = parse_baseline, .off = PR(baseline),
	  .help = "a fixed duration such as \"20ms\", or a baseline learned from past calls" },
	{ .name = "every", .flags = FIELD_ANY_TYPE, .only = KIND(STALL), .required = KIND(STALL),
	  .parse = parse_duration, .min = 1000000, .off = PR(every_ns),
	  .help = "the longest the function may go uncalled, such as \"1s\"" },
	{ .name = "types", .type = json_type_array, .only = KIND(EXCEPTION), .parse = parse_types,
	  .check = check_type_name, .off = PR(types), .n_off = PR(n_types) },
	{ .name = "syscalls", .type = json_type_array, .only = KIND(SYSCALL), .required = KIND(SYSCALL),
	  .parse = parse_syscalls, .off = PR(syscalls), .n_off = PR(n_syscalls),
	  .help = "a non-empty array of syscall names, such as [\"openat\"]" },
	{ .name = "errnos", .type = json_type_array, .only = KIND(SYSCALL), .required = KIND(SYSCALL),
	  .parse = parse_errnos, .off = PR(errnos), .n_off = PR(n_errnos),
	  .help = "a non-empty array of errno names, such as [\"ENOENT\"]" },
	{ .name = "stack", .type = json_type_boolean, .only = SITE_KINDS, .parse = parse_bool,
	  .off = PR(stack) },
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

/* What a probe gets for the fields it leaves out. A throw or an abort is worth little
 * without the stack that led to it. */
static const struct {
	const char *binary; /* the library holding the probed function */
	bool stack;
} kind_defaults[POLICY_PROBE_KIND_COUNT] = {
	[POLICY_PROBE_EXCEPTION] = { "libstdc++.so.6", true },
	[POLICY_PROBE_ABORT] = { "libc.so.6", true },
};

static int probe_defaults(struct parser *ps, struct json_object *obj, struct policy_probe *pr)
{
	if (pr->kind == POLICY_PROBE_SIGNAL && !pr->signals_mask)
		pr->signals_mask = all_signals();
	if (!(SITE_KINDS & (1u << pr->kind)))
		return 0;
	if (!pr->binary && kind_defaults[pr->kind].binary &&
	    !(pr->binary = strdup(kind_defaults[pr->kind].binary)))
		return no_memory(ps);
	if (!json_object_object_get_ex(obj, "stack", NULL))
		pr->stack = kind_defaults[pr->kind].stack;
	if (!json_object_object_get_ex(obj, "rate", NULL))
		pr->rate = rate_default;
	return 0;
}

static int parse_probes(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	struct policy *p = dst;
	size_t n = json_object_array_length(v);

	(void)f;
	if (!n)
		return fail(ps, "expected at least one probe, got []");
	if (!(p->probes = calloc(n, sizeof(*p->probes))))
		return no_memory(ps);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		struct policy_probe *pr = &p->probes[p->n_probes++];
		size_t mark = path_index(ps, i);
		int err;

		if (!json_object_is_type(e, json_type_object))
			err = wrong_type(ps, json_type_object, e);
		else
			err = check_object(ps, e, &probe_spec, pr);
		path_pop(ps, mark);
		if (!err)
			err = probe_defaults(ps, e, pr);
		if (err)
			return err;
	}
	return 0;
}

/* ---- policy ---------------------------------------------------------------------------- */

static int parse_version(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	int64_t version = json_object_get_int64(v);

	(void)dst;
	(void)f;
	if (version != POLICY_FORMAT_VERSION)
		return fail(ps, "unsupported format version %" PRId64 " (this salved reads %d)", version,
			    POLICY_FORMAT_VERSION);
	return 0;
}

static int parse_scope(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	(void)f;
	return check_object(ps, v, &scope_spec, &((struct policy *)dst)->scope);
}

static const struct field policy_fields[] = {
	{ .name = "salve", .type = json_type_int, .flags = FIELD_REQUIRED | FIELD_EARLY,
	  .parse = parse_version, .help = "the format version, 1" },
	{ .name = "name", .type = json_type_string, .flags = FIELD_REQUIRED, .parse = parse_string,
	  .off = offsetof(struct policy, name), .help = "a non-empty string naming the policy" },
	{ .name = "scope", .type = json_type_object, .parse = parse_scope },
	{ .name = "probes", .type = json_type_array, .flags = FIELD_REQUIRED, .parse = parse_probes,
	  .help = "a non-empty array of probes" },
};

static const struct object_spec policy_spec = {
	.fields = policy_fields,
	.n_fields = sizeof(policy_fields) / sizeof(policy_fields[0]),
};

/* ---- ids unique across a set ------------------------------------------------------------- */

struct id_ref {
	const char *id;
	size_t policy, probe, order;
};

static int id_ref_cmp(const void *a, const void *b)
{
	const struct id_ref *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c ? c : (x->order > y->order) - (x->order < y->order);
}

/* Sorted rather than compared pairwise: sets of thousands of probes stay cheap. The clash
 * reported is the one whose second declaration comes first in load order. */
static int check_unique(const struct policy *pols, size_t n_pols, char *err, size_t err_len)
{
	const struct id_ref *first = NULL, *second = NULL;
	struct id_ref *refs;
	size_t n = 0;

	for (size_t i = 0; i < n_pols; i++)
		n += pols[i].n_probes;
	if (n < 2)
		return 0;
	if (!(refs = calloc(n, sizeof(*refs)))) {
		say(err, err_len, "%s: out of memory", pols[0].file);
		return -ENOMEM;
	}
	n = 0;
	for (size_t i = 0; i < n_pols; i++)
		for (size_t j = 0; j < pols[i].n_probes; j++, n++)
			refs[n] = (struct id_ref){ pols[i].probes[j].id, i, j, n };
	qsort(refs, n, sizeof(*refs), id_ref_cmp);
	for (size_t k = 1; k < n; k++) {
		if (strcmp(refs[k - 1].id, refs[k].id))
			continue;
		/* first of its run of equal ids */
		size_t f = k - 1;

		while (f && !strcmp(refs[f - 1].id, refs[k].id))
			f--;
		if (!second || refs[k].order < second->order) {
			first = &refs[f];
			second = &refs[k];
		}
	}
	if (second)
		say(err, err_len,
		    "%s: probes[%zu].id: duplicate probe id \"%s\" (first declared at %s: probes[%zu].id)",
		    pols[second->policy].file, second->probe, second->id, pols[first->policy].file,
		    first->probe);
	free(refs);
	return second ? -EINVAL : 0;
}

/* ---- JSON text ------------------------------------------------------------------------- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Line and column (in characters, as editors count) of a byte offset. */
static void position(const char *buf, size_t start, size_t off, size_t *line, size_t *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = start; i < off; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
			(*col)++;
		}
	}
}

static int syntax_error(struct parser *ps, const char *buf, size_t start, size_t off,
			const char *what)
{
	size_t line, col;

	position(buf, start, off, &line, &col);
	say(ps->err, ps->err_len, "%s:%zu:%zu: syntax error: %s", ps->file, line, col, what);
	return -EINVAL;
}

static int parse_json(struct parser *ps, const char *buf, size_t len, struct json_object **out)
{
	struct json_tokener *tok;
	struct json_object *root;
	enum json_tokener_error jerr;
	size_t start = 0, end;

	if (len > POLICY_FILE_MAX)
		return fail(ps, "file too large (%zu bytes; policy files are at most %u bytes)", len,
			    POLICY_FILE_MAX);
	/* A byte order mark, as some editors write. */
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
		start = 3;
	for (end = start; end < len && is_space(buf[end]); end++)
		;
	if (end == len)
		return fail(ps, "empty file (expected a JSON object)");
	if (!(tok = json_tokener_new()))
		return no_memory(ps);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, buf + start, (int)(len - start));
	jerr = json_tokener_get_error(tok);
	end = start + json_tokener_get_parse_end(tok);
	if (!root && jerr == json_tokener_continue) {
		/* The text ended inside a value: a NUL tells json-c there is no more. */
		root = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		end = len;
	}
	json_tokener_free(tok);
	if (!root)
		return syntax_error(ps, buf, start, end, json_tokener_error_desc(jerr));
	while (end < len && is_space(buf[end]))
		end++;
	if (end < len) {
		json_object_put(root);
		return syntax_error(ps, buf, start, end, "unexpected text after the JSON object");
	}
	*out = root;
	return 0;
}

int policy_parse(const char *file, const char *json, size_t len, struct policy *out,
		 char *err, size_t err_len)
{
	struct parser ps = { .file = file, .err = err, .err_len = err ? err_len : 0 };
	struct policy p = { 0 };
	struct json_object *root = NULL;
	char shown[SHOWN_LEN];
	int rc;

	if ((rc = parse_json(&ps, json, len, &root)))
		return rc;
	if (!json_object_is_type(root, json_type_object))
		rc = fail(&ps, "expected a JSON object at the top level, got %s",
			  show(root, shown, sizeof(shown)));
	else if (!(p.file = strdup(file)))
		rc = no_memory(&ps);
	else if (!(rc = check_object(&ps, root, &policy_spec, &p)))
		rc = check_unique(&p, 1, ps.err, ps.err_len);
	json_object_put(root);
	if (rc) {
		policy_clear(&p);
		return rc;
	}
	*out = p;
	for (size_t i = 0; i < out->n_probes; i++)
		out->probes[i].policy = out;
	return 0;
}

void policy_clear(struct policy *p)
{
	if (!p)
		return;
	free(p->file);
	free(p->name);
	for (size_t i = 0; i < p->scope.n_binaries; i++)
		free(p->scope.binaries[i]);
	free(p->scope.binaries);
	for (size_t i = 0; i < p->scope.n_cgroups; i++)
		free(p->scope.cgroups[i]);
	free(p->scope.cgroups);
	for (size_t i = 0; i < p->scope.n_comms; i++)
		free(p->scope.comms[i]);
	free(p->scope.comms);
	for (size_t i = 0; i < p->n_probes; i++) {
		struct policy_probe *pr = &p->probes[i];

		free(pr->id);
		free(pr->binary);
		free(pr->symbol);
		for (size_t j = 0; j < pr->n_types; j++)
			free(pr->types[j]);
		free(pr->types);
		free(pr->syscalls);
		free(pr->errnos);
	}
	free(p->probes);
	*p = (struct policy){ 0 };
}

/* ---- files and directories --------------------------------------------------------------- */

static int too_large(const char *path, size_t size, char *err, size_t err_len)
{
	say(err, err_len, "%s: file too large (%zu bytes; policy files are at most %u bytes)", path,
	    size, POLICY_FILE_MAX);
	return -EFBIG;
}

static int sys_error(const char *path, int e, char *err, size_t err_len)
{
	say(err, err_len, "%s: %s", path, strerror(e));
	return -e;
}

/* The whole file, refused past POLICY_FILE_MAX even when it grows while read. */
static int read_file(const char *path, char **out, size_t *out_len, char *err, size_t err_len)
{
	struct stat st;
	size_t cap, len = 0;
	char *buf = NULL;
	int fd, rc = 0;

	/* O_NONBLOCK: a FIFO named like a policy must not hang the daemon. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0)
		return sys_error(path, errno, err, err_len);
	if (fstat(fd, &st)) {
		rc = sys_error(path, errno, err, err_len);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		say(err, err_len, "%s: not a regular file or a directory", path);
		rc = -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > POLICY_FILE_MAX) {
		rc = too_large(path, (size_t)st.st_size, err, err_len);
		goto out;
	}
	/* one byte more than the size, to see the end without a second buffer */
	cap = (size_t)st.st_size + 1 < 4096 ? 4096 : (size_t)st.st_size + 1;
	for (;;) {
		ssize_t n;

		if (len == cap || !buf) {
			char *nbuf;

			if (buf)
				cap = cap * 2 > POLICY_FILE_MAX + 1 ? POLICY_FILE_MAX + 1 : cap * 2;
			if (!(nbuf = realloc(buf, cap))) {
				say(err, err_len, "%s: out of memory", path);
				rc = -ENOMEM;
				goto out;
			}
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = sys_error(path, errno, err, err_len);
			goto out;
		}
		if (!n)
			break;
		len += n;
		if (len > POLICY_FILE_MAX) {
			rc = too_large(path, len, err, err_len);
			goto out;
		}
	}
	*out = buf;
	*out_len = len;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

static int load_file(const char *path, struct policy *out, char *err, size_t err_len)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if ((rc = read_file(path, &buf, &len, err, err_len)))
		return rc;
	rc = policy_parse(path, buf, len, out, err, err_len);
	free(buf);
	return rc;
}

static char *join(const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	bool slash = dl && dir[dl - 1] == '/';
	char *s = malloc(dl + nl + 2);

	if (s)
		snprintf(s, dl + nl + 2, "%s%s%s", dir, slash ? "" : "/", name);
	return s;
}

static int path_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Regular *.json files of dir (symlinks followed), sorted. Hidden files are left out:
 * editors keep their locks and backups there. */
static int list_dir(const char *dir, char ***out, size_t *out_n, char *err, size_t err_len)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int rc = 0;
	DIR *d;

	if (!(d = opendir(dir)))
		return sys_error(dir, errno, err, err_len);
	for (;;) {
		const char *name;
		struct stat st;
		size_t len;
		char *full;

		errno = 0;
		if (!(de = readdir(d))) {
			if (errno)
				rc = sys_error(dir, errno, err, err_len);
			break;
		}
		name = de->d_name;
		len = strlen(name);
		if (name[0] == '.' || len <= 5 || strcmp(name + len - 5, ".json"))
			continue;
		if (!(full = join(dir, name))) {
			rc = -ENOMEM;
			say(err, err_len, "%s: out of memory", dir);
			break;
		}
		if (fstatat(dirfd(d), name, &st, 0)) {
			rc = sys_error(full, errno, err, err_len);
			free(full);
			break;
		}
		if (!S_ISREG(st.st_mode)) {
			free(full);
			continue;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			char **nn = realloc(names, ncap * sizeof(*nn));

			if (!nn) {
				free(full);
				rc = -ENOMEM;
				say(err, err_len, "%s: out of memory", dir);
				break;
			}
			names = nn;
			cap = ncap;
		}
		names[n++] = full;
	}
	closedir(d);
	if (!rc && !n) {
		say(err, err_len, "%s: no policy files (*.json) in this directory", dir);
		rc = -ENOENT;
	}
	if (rc) {
		free_names(names, n);
		return rc;
	}
	qsort(names, n, sizeof(*names), path_cmp);
	*out = names;
	*out_n = n;
	return 0;
}

int policy_set_load(const char *path, struct policy_set **out, char *err, size_t err_len)
{
	struct policy_set *set = NULL;
	char **files = NULL;
	size_t n = 0;
	struct stat st;
	int rc;

	if (!err)
		err_len = 0;
	if (stat(path, &st))
		return sys_error(path, errno, err, err_len);
	if (S_ISDIR(st.st_mode)) {
		if ((rc = list_dir(path, &files, &n, err, err_len)))
			return rc;
	} else {
		if (!(files = calloc(1, sizeof(*files))) || !(files[0] = strdup(path))) {
			free(files);
			say(err, err_len, "%s: out of memory", path);
			return -ENOMEM;
		}
		n = 1;
	}
	if (!(set = calloc(1, sizeof(*set))) || !(set->policies = calloc(n, sizeof(*set->policies)))) {
		say(err, err_len, "%s: out of memory", path);
		rc = -ENOMEM;
		goto err;
	}
	/* Parsed in place: the array never moves, so each probe's policy pointer (set by
	 * policy_parse to its out) already points into the set. */
	for (size_t i = 0; i < n; i++) {
		if ((rc = load_file(files[i], &set->policies[i], err, err_len)))
			goto err;
		set->n_policies++;
	}
	if ((rc = check_unique(set->policies, set->n_policies, err, err_len)))
		goto err;
	free_names(files, n);
	*out = set;
	return 0;
err:
	free_names(files, n);
	policy_set_free(set);
	return rc;
}

void policy_set_free(struct policy_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n_policies; i++)
		policy_clear(&set->policies[i]);
	free(set->policies);
	free(set);
}

static const char *name_of(const struct named *names, size_t n, int value)
{
	for (size_t i = 0; i < n; i++)
		if (names[i].value == value)
			return names[i].name;
	return NULL;
}

const char *policy_syscall_name(int nr)
{
	return name_of(syscall_names, sizeof(syscall_names) / sizeof(syscall_names[0]), nr);
}

/* The first name of a value is its usual one: EAGAIN before EWOULDBLOCK. */
const char *policy_errno_name(int err)
{
	return name_of(errno_names, sizeof(errno_names) / sizeof(errno_names[0]), err);
}
