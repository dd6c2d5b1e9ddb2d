/* policy_spec: messages, JSON paths, "did you mean" and the field tables every object of
 * the policy format is checked against. */
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

/* ---- messages ----------------------------------------------------------------------- */

__attribute__((format(printf, 2, 3)))
int ps_fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!ps->err_len)
		return -EINVAL;
	ps->pending = true;
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
void ps_say(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (!err_len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

int ps_no_memory(struct parser *ps)
{
	ps_fail(ps, "out of memory");
	return -ENOMEM;
}

bool ps_errors_add(struct policy_errors *errs, const char *msg)
{
	char **n, *copy;

	if (errs->n >= POLICY_ERRORS_MAX) {
		errs->stopped = true;
		return false;
	}
	if (!(copy = strdup(msg)) || !(n = realloc(errs->msgs, (errs->n + 1) * sizeof(*n)))) {
		free(copy);
		errs->stopped = true;
		return false;
	}
	errs->msgs = n;
	errs->msgs[errs->n++] = copy;
	return true;
}

void ps_commit(struct parser *ps)
{
	if (ps->pending && ps->errs)
		ps_errors_add(ps->errs, ps->err);
	ps->pending = false;
}

bool ps_go_on(struct parser *ps, int err, int *first)
{
	ps_commit(ps);
	if (!*first)
		*first = err;
	if (ps->errs && ps->errs->n >= POLICY_ERRORS_MAX)
		ps->errs->stopped = true; /* what is left is not checked */
	return ps->errs && err == -EINVAL && !ps->errs->stopped;
}

__attribute__((format(printf, 2, 3)))
size_t ps_path_push(struct parser *ps, const char *fmt, ...)
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

size_t ps_path_key(struct parser *ps, const char *key)
{
	return ps->path_len ? ps_path_push(ps, ".%s", key) : ps_path_push(ps, "%s", key);
}

size_t ps_path_index(struct parser *ps, size_t i)
{
	return ps_path_push(ps, "[%zu]", i);
}

void ps_path_pop(struct parser *ps, size_t mark)
{
	ps->path_len = mark;
	ps->path[mark] = '\0';
}

/* Values are quoted as JSON, so a hostile string cannot forge a message; long ones are
 * cut on a character boundary. */
const char *ps_show(struct json_object *v, char *buf, size_t size)
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

const char *ps_show_str(const char *s, char *buf, size_t size)
{
	struct json_object *v = json_object_new_string(s);

	if (!v)
		return "\"?\"";
	ps_show(v, buf, size);
	json_object_put(v);
	return buf;
}


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

int ps_wrong_type(struct parser *ps, enum json_type want, struct json_object *v)
{
	char shown[SHOWN_LEN];

	return ps_fail(ps, "expected %s, got %s", type_name(want), ps_show(v, shown, sizeof(shown)));
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

/* A candidate is close when about a third of it or less differs. */
void ps_nearest_try(struct nearest *n, const char *cand, const char *compared)
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
const char *ps_hint(const struct nearest *n, const char *const *choices, size_t n_choices,
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
		ps_nearest_try(&n, spec->fields[i].name, spec->fields[i].name);
	}
	return ps_fail(ps, "unknown field %s%s", ps_show_str(key, shown, sizeof(shown)),
		    ps_hint(&n, names, count, h, sizeof(h)));
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
	return ps_fail(ps, "does not apply to %s of %s \"%s\" (only to %s %s)", spec->what, spec->tag,
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
			return ps_fail(ps, "missing required field \"%s\" (%s)", f->name, f->help);
		/* said once, at the first of the pair */
		if (json_object_object_get_ex(obj, f->alt, NULL) ||
		    ((alt = find_field(spec, f->alt)) && alt < f))
			return 0;
		return ps_fail(ps, "missing required field \"%s\" or \"%s\" (%s)", f->name, f->alt,
			       f->help);
	}
	mark = ps_path_key(ps, f->name);
	if (f->only && spec->variant && !(f->only & (1u << spec->variant(dst))))
		err = not_for_variant(ps, spec, f, spec->variant(dst));
	/* said at the second of the pair, the one a reader meets last */
	else if (f->alt && (alt = find_field(spec, f->alt)) && alt < f &&
		 json_object_object_get_ex(obj, f->alt, NULL))
		err = ps_fail(ps, "give \"%s\" or \"%s\", not both", f->alt, f->name);
	else if (!(f->flags & FIELD_ANY_TYPE) && !json_object_is_type(v, f->type))
		err = ps_wrong_type(ps, f->type, v);
	else
		err = f->parse(ps, v, dst, f);
	ps_path_pop(ps, mark);
	return err;
}

/* Early fields that are present, then unknown fields (a typo explains a missing field
 * better than "missing" does), then the rest in table order. */
int ps_check_object(struct parser *ps, struct json_object *obj, const struct object_spec *spec,
			void *dst)
{
	int err;

	int first = 0;

	for (size_t i = 0; i < spec->n_fields; i++) {
		const struct field *f = &spec->fields[i];

		if ((f->flags & FIELD_EARLY) && json_object_object_get_ex(obj, f->name, NULL) &&
		    (err = check_field(ps, obj, spec, f, dst)))
			return err;
	}
	/* Every unknown field is said; after them, the object's other fields are not
	 * checked, for a typo would come back as a missing field. */
	json_object_object_foreach(obj, key, val) {
		(void)val;
		if (!find_field(spec, key) && (err = unknown_field(ps, spec, obj, key)) &&
		    !ps_go_on(ps, err, &first))
			return err;
	}
	if (first)
		return first;
	/* Each field on its own, but for the tag: the others depend on the variant it picks. */
	for (size_t i = 0; i < spec->n_fields; i++) {
		const struct field *f = &spec->fields[i];

		if ((!(f->flags & FIELD_EARLY) || !json_object_object_get_ex(obj, f->name, NULL)) &&
		    (err = check_field(ps, obj, spec, f, dst)) &&
		    ((spec->tag && !strcmp(f->name, spec->tag)) || !ps_go_on(ps, err, &first)))
			return err;
	}
	return first;
}

/* ---- generic parsers ------------------------------------------------------------------- */


int ps_parse_bool(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	(void)ps;
	*AT(dst, f->off, bool) = json_object_get_boolean(v);
	return 0;
}

/* A string as C can hold it: no NUL inside, not empty, and whatever check says. */
int ps_string_value(struct parser *ps, struct json_object *v, check_fn *check, const char **out)
{
	const char *s = json_object_get_string(v);
	size_t len = json_object_get_string_len(v);
	char shown[SHOWN_LEN];

	if (memchr(s, '\0', len))
		return ps_fail(ps, "expected a string without NUL characters, got %s",
			    ps_show(v, shown, sizeof(shown)));
	if (!len)
		return ps_fail(ps, "expected a non-empty string, got \"\"");
	if (check) {
		int err = check(ps, v, s, len);

		if (err)
			return err;
	}
	*out = s;
	return 0;
}

int ps_parse_string(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	const char *s;
	char *copy;
	int err;

	if ((err = ps_string_value(ps, v, f->check, &s)))
		return err;
	if (!(copy = strdup(s)))
		return ps_no_memory(ps);
	free(*AT(dst, f->off, char *));
	*AT(dst, f->off, char *) = copy;
	return 0;
}

/* An array of strings into a char ** at off and its count at n_off. The count grows with
 * each string, so a failure halfway leaves dst for policy_clear to free. */
int ps_parse_strings(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	size_t n = json_object_array_length(v);
	char ***arr = AT(dst, f->off, char **);
	size_t *count = AT(dst, f->n_off, size_t);

	if (!n)
		return 0;
	if (!(*arr = calloc(n, sizeof(**arr))))
		return ps_no_memory(ps);
	int first = 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		size_t mark = ps_path_index(ps, i);
		const char *s;
		int err;

		if (!json_object_is_type(e, json_type_string))
			err = ps_wrong_type(ps, json_type_string, e);
		else
			err = ps_string_value(ps, e, f->check, &s);
		ps_path_pop(ps, mark);
		if (err && !ps_go_on(ps, err, &first))
			return err;
		if (err)
			continue;
		if (!((*arr)[*count] = strdup(s)))
			return ps_no_memory(ps);
		(*count)++;
	}
	return first;
}

int ps_check_id(struct parser *ps, struct json_object *v, const char *s, size_t len)
{
	char shown[SHOWN_LEN];

	if (len > POLICY_ID_MAX)
		return ps_fail(ps, "expected an id of at most %d bytes, got %s (%zu bytes)", POLICY_ID_MAX,
			    ps_show(v, shown, sizeof(shown)), len);
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return ps_fail(ps, "expected an id of letters, digits, \"_\", \".\" and \"-\", got %s",
				    ps_show(v, shown, sizeof(shown)));
	}
	return 0;
}

