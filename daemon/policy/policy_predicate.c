/* policy_predicate: return value types and predicates ("< 0", "in [1, 2]"). */
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

int ps_parse_value_type(struct parser *ps, struct json_object *v, void *dst,
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
		ps_nearest_try(&n, value_type_names[i], value_type_names[i]);
	}
	return ps_fail(ps, "unknown type %s%s", ps_show(v, shown, sizeof(shown)),
		    ps_hint(&n, value_type_names, N_VALUE_TYPES, h, sizeof(h)));
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

	return ps_fail(ps, "expected a comparison such as \"< 0\", \"== 0\" or \"in [1, 2]\", got %s",
		    ps_show(v, shown, sizeof(shown)));
}

/* "OP N" with OP one of < <= > >= == !=, or "in [N, ...]"; spaces between tokens are free.
 * The type (parsed before, from the row above) decides which operators and values fit. */
int ps_parse_predicate(struct parser *ps, struct json_object *v, enum policy_value_type type,
		       struct policy_predicate *out)
{
	static const struct {
		const char *text;
		enum policy_pred_op op;
	} ops[] = { /* two-character operators first */
		{ "<=", PRED_LE }, { ">=", PRED_GE }, { "==", PRED_EQ }, { "!=", PRED_NE },
		{ "<", PRED_LT }, { ">", PRED_GT },
	};
	struct policy_predicate pred = { 0 };
	struct pred_number nums[POLICY_PRED_VALUES];
	const char *p, *end;
	char shown[SHOWN_LEN];
	size_t total = 0;

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

	if (type == POLICY_VALUE_POINTER && pred.op != PRED_EQ && pred.op != PRED_NE)
		return ps_fail(ps, "a pointer can only be compared with \"==\" or \"!=\" (such as \"== 0\" "
			    "for NULL), got %s", ps_show(v, shown, sizeof(shown)));
	if (type == POLICY_VALUE_BOOL && pred.op != PRED_EQ && pred.op != PRED_NE)
		return ps_fail(ps, "a bool can only be compared with \"== 0\", \"== 1\", \"!= 0\" or "
			    "\"!= 1\", got %s", ps_show(v, shown, sizeof(shown)));
	if (!total || total > POLICY_PRED_VALUES)
		return ps_fail(ps, "\"in\" takes 1 to %d values, got %zu", POLICY_PRED_VALUES, total);
	for (size_t i = 0; i < total; i++) {
		if (!fits(type, &nums[i], &pred.values[i]))
			return ps_fail(ps, "%.*s%s does not fit %s",
				    (int)(nums[i].len > SHOWN_MAX ? SHOWN_MAX : nums[i].len), nums[i].text,
				    nums[i].len > SHOWN_MAX ? "..." : "", value_type_nouns[type]);
	}
	pred.n_values = total;
	*out = pred;
	return 0;
}

int ps_parse_when(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	struct policy_probe *pr = dst;

	(void)f;
	return ps_parse_predicate(ps, v, pr->type, &pr->when);
}

