/* jsonw: salve's own JSON writer gives, byte for byte, what json-c prints of the same
 * values (JSON_C_TO_STRING_PLAIN | NOSLASHESCAPE), for every byte a process may put in
 * a comm or a path; invalid UTF-8 becomes U+FFFD as report_string makes it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonw.h"
#include "events/report.h"

#define PLAIN (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* What json-c prints of {"s": s}, s made valid UTF-8 as salve's json-c lines make it. */
static char *json_c_text(const char *s)
{
	struct json_object *o = json_object_new_object();
	char *text;

	assert_non_null(o);
	assert_int_equal(report_add(o, "s", report_string(s)), 0);
	assert_non_null(text = strdup(json_object_to_json_string_ext(o, PLAIN)));
	json_object_put(o);
	return text;
}

static void assert_same_as_json_c(const char *s)
{
	struct jsonw w = JSONW_INIT;
	char *want = json_c_text(s);
	const char *got;
	size_t len;

	jsonw_object_begin(&w, NULL);
	jsonw_string(&w, "s", s);
	jsonw_object_end(&w);
	assert_non_null(got = jsonw_text(&w, &len));
	assert_int_equal(len, strlen(want));
	assert_memory_equal(got, want, len);
	free(want);
	jsonw_free(&w);
}

/* Every byte alone, and each between others, as json-c escapes it. */
static void test_every_byte(void **state)
{
	(void)state;
	for (int c = 1; c < 256; c++) {
		char one[2] = { (char)c, 0 }, mid[6] = { 'a', (char)c, 'b', (char)c, '"', 0 };

		assert_same_as_json_c(one);
		assert_same_as_json_c(mid);
	}
}

/* Quotes, backslashes, control bytes, valid multi-byte characters, and every kind of
 * ill-formed sequence (stray continuation, overlong, surrogate, above U+10FFFF, cut at
 * the end or before ASCII) in comm- and path-like strings. */
static void test_hostile_strings(void **state)
{
	static const char *const cases[] = {
		"",
		"plain",
		"quo\"te\\back\\\\slash",
		"tab\there\nnew\rline\bback\fform\x01\x1f\x7f",
		"/opt/app/\"weird\" dir/\\bin\\/srv",
		"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		"\x80\xbf stray",
		"\xc0\xaf overlong \xe0\x80\xaf \xf0\x80\x80\xaf",
		"\xed\xa0\x80 surrogate",
		"\xf4\x90\x80\x80 too high \xf5\x80",
		"cut \xe2\x82",
		"cut \xe2\x82" "A",
		"\xf0\x9f\x98\xe2\x82\xac",
		"\xfe\xff\xc3",
		"st\xffo\"rm\\\x01",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_same_as_json_c(cases[i]);
}

/* Random bytes, many of them high and control ones: the same as json-c, and they parse. */
static void test_random_bytes(void **state)
{
	unsigned seed = 18;

	(void)state;
	for (int round = 0; round < 20000; round++) {
		char s[40];
		size_t n = (size_t)(rand_r(&seed) % (sizeof(s) - 1));

		for (size_t i = 0; i < n; i++) {
			int r = rand_r(&seed);

			/* Mostly the bytes that matter: controls, quotes, backslash, high bytes. */
			s[i] = (char)(r % 4 == 0 ? 1 + r % 0x20 : r % 4 == 1 ? "\"\\/"[r % 3]
						 : 0x80 + r % 0x80);
			if (!s[i])
				s[i] = 'x';
		}
		s[n] = 0;
		assert_same_as_json_c(s);
	}
}

/* Numbers at their limits, booleans, null, hex, nesting: as json-c prints them. */
static void test_values_and_nesting(void **state)
{
	struct jsonw w = JSONW_INIT;
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array(),
			   *inner = json_object_new_object(), *empty = json_object_new_object();
	const char *got, *want;
	size_t len;

	(void)state;
	json_object_object_add(o, "min", json_object_new_int64(INT64_MIN));
	json_object_object_add(o, "max", json_object_new_uint64(UINT64_MAX));
	json_object_object_add(o, "zero", json_object_new_int64(0));
	json_object_object_add(o, "neg", json_object_new_int64(-42));
	json_object_object_add(o, "t", json_object_new_boolean(1));
	json_object_object_add(o, "f", json_object_new_boolean(0));
	json_object_object_add(o, "n", NULL);
	json_object_object_add(o, "hex", json_object_new_string("0x7f00deadbeef"));
	json_object_object_add(o, "hex0", json_object_new_string("0x0"));
	json_object_array_add(arr, json_object_new_int64(1));
	json_object_object_add(inner, "k", json_object_new_string("v"));
	json_object_array_add(arr, inner);
	json_object_array_add(arr, json_object_new_array());
	json_object_object_add(o, "arr", arr);
	json_object_object_add(o, "empty", empty);
	want = json_object_to_json_string_ext(o, PLAIN);

	jsonw_object_begin(&w, NULL);
	jsonw_int(&w, "min", INT64_MIN);
	jsonw_uint(&w, "max", UINT64_MAX);
	jsonw_int(&w, "zero", 0);
	jsonw_int(&w, "neg", -42);
	jsonw_bool(&w, "t", true);
	jsonw_bool(&w, "f", false);
	jsonw_null(&w, "n");
	jsonw_hex(&w, "hex", 0x7f00deadbeefULL);
	jsonw_hex(&w, "hex0", 0);
	jsonw_array_begin(&w, "arr");
	jsonw_int(&w, NULL, 1);
	jsonw_object_begin(&w, NULL);
	jsonw_string(&w, "k", "v");
	jsonw_object_end(&w);
	jsonw_array_begin(&w, NULL);
	jsonw_array_end(&w);
	jsonw_array_end(&w);
	jsonw_object_begin(&w, "empty");
	jsonw_object_end(&w);
	jsonw_object_end(&w);
	assert_non_null(got = jsonw_text(&w, &len));
	assert_int_equal(len, strlen(want));
	assert_memory_equal(got, want, len);

	/* A reset starts a new text in the same buffer. */
	jsonw_reset(&w);
	jsonw_string(&w, NULL, NULL);
	assert_non_null(got = jsonw_text(&w, &len));
	assert_int_equal(len, 2);
	assert_memory_equal(got, "\"\"", 2);
	jsonw_free(&w);
	json_object_put(o);
}

/* A string longer than the buffer's first size, escapes throughout: grown, not cut. */
static void test_long_string(void **state)
{
	char *s = malloc(20001);

	(void)state;
	assert_non_null(s);
	for (size_t i = 0; i < 20000; i++)
		s[i] = "a\"\x01\xff"[i % 4];
	s[20000] = 0;
	assert_same_as_json_c(s);
	free(s);
}

/* The UTF-8 cleaner the json-c lines use replaces what the writer replaces. */
static void test_clean_utf8(void **state)
{
	char out[64];
	size_t n;

	(void)state;
	assert_true(jsonw_utf8_valid("caf\xc3\xa9", 5));
	assert_false(jsonw_utf8_valid("cut \xe2\x82", 6));
	n = jsonw_clean_utf8("a\xe2\x82" "b\xff", 5, out);
	assert_int_equal(n, 8);
	assert_memory_equal(out, "a\xef\xbf\xbd" "b\xef\xbf\xbd", 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_byte),
		cmocka_unit_test(test_hostile_strings),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_values_and_nesting),
		cmocka_unit_test(test_long_string),
		cmocka_unit_test(test_clean_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
