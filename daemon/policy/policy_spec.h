/* policy_spec: the machinery shared by the policy parser's files (private to daemon/policy*.c).
 *
 * Every JSON object of the format is checked against a table of its fields (struct
 * object_spec), so the language grows by adding rows: unknown fields, missing required
 * ones, wrong types and fields that do not apply to a variant are caught in one place and
 * worded the same way everywhere. Messages read "FILE: JSONPATH: what is wrong". */
#ifndef SALVE_POLICY_SPEC_H
#define SALVE_POLICY_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "policy/policy.h"

/* A policy is a page of JSON; anything this large is a mistake, not a policy. */
#define POLICY_FILE_MAX (4u << 20)
#define POLICY_ID_MAX 64
#define COMM_MAX 15          /* the kernel keeps TASK_COMM_LEN - 1 bytes of a name */
#define JSON_PATH_MAX 128    /* paths are built from the tables' names and indexes */
#define SHOWN_MAX 64         /* bytes of an offending value quoted in a message */
#define SHOWN_LEN (SHOWN_MAX + 8)
#define SUGGEST_MAX 32       /* longer words get no "did you mean" */
#define NS_PER_SEC 1000000000ull

struct parser {
	const char *file;
	char *err;
	size_t err_len;
	/* Where each error is kept once it is final (ps_go_on, ps_commit); NULL: the first
	 * error ends the parse. pending: err holds one not kept yet. */
	struct policy_errors *errs;
	bool pending;
	char path[JSON_PATH_MAX]; /* JSON path of the value being checked, "" at the top */
	size_t path_len;
	const void *ctx; /* what an enclosing object tells the fields of an inner one */
};

/* ---- messages and JSON paths ----------------------------------------------------------- */

__attribute__((format(printf, 2, 3)))
int ps_fail(struct parser *ps, const char *fmt, ...);
__attribute__((format(printf, 3, 4)))
void ps_say(char *err, size_t err_len, const char *fmt, ...);
int ps_no_memory(struct parser *ps);
/* Keep the error err holds, if not kept yet. */
void ps_commit(struct parser *ps);
/* After err (not 0) from a field or an element that others do not depend on: keeps its
 * message, remembers the first error in *first, and says whether to check the next
 * (errors are kept, the error is not ENOMEM, and fewer than POLICY_ERRORS_MAX so far). */
bool ps_go_on(struct parser *ps, int err, int *first);
/* Append msg to errs; false when it is full (errs->stopped is then set). */
bool ps_errors_add(struct policy_errors *errs, const char *msg);
__attribute__((format(printf, 2, 3)))
size_t ps_path_push(struct parser *ps, const char *fmt, ...);
size_t ps_path_key(struct parser *ps, const char *key);
size_t ps_path_index(struct parser *ps, size_t i);
void ps_path_pop(struct parser *ps, size_t mark);
const char *ps_show(struct json_object *v, char *buf, size_t size);
const char *ps_show_str(const char *s, char *buf, size_t size);
int ps_wrong_type(struct parser *ps, enum json_type want, struct json_object *v);

/* ---- "did you mean" ------------------------------------------------------------------ */

struct nearest {
	const char *word;
	const char *best;
	size_t dist;
};

void ps_nearest_try(struct nearest *n, const char *cand, const char *compared);
const char *ps_hint(const struct nearest *n, const char *const *choices, size_t n_choices,
		    char *buf, size_t size);

/* ---- tables ---------------------------------------------------------------------------- */

struct field;
typedef int parse_fn(struct parser *ps, struct json_object *v, void *dst, const struct field *f);
typedef int check_fn(struct parser *ps, struct json_object *v, const char *s, size_t len);

enum {
	FIELD_REQUIRED = 1 << 0,
	FIELD_EARLY = 1 << 1, /* checked before unknown fields: the format version */
	FIELD_ANY_TYPE = 1 << 2, /* the parser checks the type: its message says what fits */
	FIELD_ZERO = 1 << 3,     /* durations: 0 is a value ("cooldown": "0s") */
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
	uint64_t max;      /* durations and sizes: the largest, when not 0 */
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

#define N_FIELDS(a) (sizeof(a) / sizeof((a)[0]))
#define AT(dst, off, type) ((type *)((char *)(dst) + (off)))

int ps_check_object(struct parser *ps, struct json_object *obj, const struct object_spec *spec,
		    void *dst);

/* ---- values ---------------------------------------------------------------------------- */

int ps_parse_bool(struct parser *ps, struct json_object *v, void *dst, const struct field *f);
int ps_string_value(struct parser *ps, struct json_object *v, check_fn *check, const char **out);
int ps_parse_string(struct parser *ps, struct json_object *v, void *dst, const struct field *f);
int ps_parse_strings(struct parser *ps, struct json_object *v, void *dst, const struct field *f);
int ps_check_id(struct parser *ps, struct json_object *v, const char *s, size_t len);
int ps_check_binary(struct parser *ps, struct json_object *v, const char *s, size_t len);
/* A function's symbol: "name", "name@VERSION" or "name@@VERSION". */
int ps_check_symbol(struct parser *ps, struct json_object *v, const char *s, size_t len);
/* A GNU build id: lowercase hex, an even number of digits from 2 to 40. */
int ps_check_build_id(struct parser *ps, struct json_object *v, const char *s, size_t len);
const char *ps_format_duration(uint64_t ns, char *buf, size_t size);
int ps_parse_duration(struct parser *ps, struct json_object *v, void *dst, const struct field *f);
int ps_parse_size(struct parser *ps, struct json_object *v, void *dst, const struct field *f);
int ps_parse_u32(struct parser *ps, struct json_object *v, void *dst, const struct field *f);
bool ps_number_value(struct json_object *v, double *out);
int ps_parse_percentile(struct parser *ps, struct json_object *v, void *dst,
			const struct field *f);
int ps_parse_factor(struct parser *ps, struct json_object *v, void *dst, const struct field *f);
int ps_parse_predicate(struct parser *ps, struct json_object *v, enum policy_value_type type,
		       struct policy_predicate *out);
int ps_parse_value_type(struct parser *ps, struct json_object *v, void *dst,
			const struct field *f);
int ps_parse_when(struct parser *ps, struct json_object *v, void *dst, const struct field *f);

static inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline bool is_word(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_';
}

static inline int hex_digit(char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* ---- names ----------------------------------------------------------------------------- */

struct named {
	const char *name;
	int value;
};

/* A table too long to list in a message: what it is and where its names are. */
struct name_table {
	const struct named *names;
	size_t n;
	const char *what;  /* "syscall" */
	size_t strip;      /* a prefix a person may leave out ("SIG"), for hints */
	const char *where; /* said when no name is close */
};

extern const struct name_table ps_syscall_table, ps_errno_table, ps_signal_table;

int ps_name_value(struct parser *ps, struct json_object *e, const struct name_table *t, int *value);
int ps_parse_named(struct parser *ps, struct json_object *v, void *dst, const struct field *f,
		   const struct name_table *t);
int ps_parse_syscalls(struct parser *ps, struct json_object *v, void *dst, const struct field *f);
int ps_parse_errnos(struct parser *ps, struct json_object *v, void *dst, const struct field *f);

/* ---- probes, scope, rules -------------------------------------------------------------- */

/* The signals a signal probe reports: the fatal ones. */
unsigned ps_all_signals(void);
int ps_parse_signal(struct parser *ps, struct json_object *v, unsigned *mask);
int ps_check_type_name(struct parser *ps, struct json_object *v, const char *s, size_t len);
int ps_parse_types(struct parser *ps, struct json_object *v, void *dst, const struct field *f);
int ps_parse_probes(struct parser *ps, struct json_object *v, void *dst, const struct field *f);
void ps_probe_clear(struct policy_probe *pr);
int ps_parse_scope(struct parser *ps, struct json_object *v, void *dst, const struct field *f);
void ps_scope_clear(struct policy_scope *sc);
int ps_parse_rules(struct parser *ps, struct json_object *v, void *dst, const struct field *f);
void ps_rule_clear(struct policy_rule *r);
/* Points each leaf of each rule at its probe among n_pols policies; err as policy_set_load,
 * every error in errs too when it is not NULL. */
int ps_resolve_rules(struct policy *pols, size_t n_pols, char *err, size_t err_len,
		     struct policy_errors *errs);

#endif
