/* jsonw: JSON written straight into one reused buffer, for the lines salved writes by
 * the hundred thousand a second, where building a json-c tree per line and printing it
 * cost more than everything else a line needs.
 *
 * The text is what json-c prints with JSON_C_TO_STRING_PLAIN |
 * JSON_C_TO_STRING_NOSLASHESCAPE (tests/unit/test_jsonw.c holds it to that): no
 * spaces, '"' and '\' escaped, \b \f \n \r \t by name, the other bytes below 0x20 as
 * \u00xx. Strings come from processes (comm, paths, symbols) and may hold anything:
 * invalid UTF-8 becomes U+FFFD, one per maximal ill-formed subpart (Unicode's
 * "substitution of maximal subparts"), so every line is valid JSON and valid UTF-8.
 *
 * Keys are the caller's constants, written as they are. A value is added with its key
 * inside an object (key NULL inside an array or at the top). Out of memory, the writer
 * fails from then on (jsonw_failed) until jsonw_reset. */
#ifndef SALVE_JSONW_H
#define SALVE_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jsonw {
	char *buf;
	size_t len, cap;
	bool comma;  /* a value was written at this level: the next one needs a comma */
	bool failed; /* out of memory: what was written is incomplete */
};

/* A writer of nothing yet, its buffer grown as lines need: jsonw_free releases it. */
#define JSONW_INIT { 0 }
void jsonw_free(struct jsonw *w);

/* Start a new text in the same buffer. */
void jsonw_reset(struct jsonw *w);

/* The text written so far (not NUL-terminated), NULL when the writer failed. */
const char *jsonw_text(const struct jsonw *w, size_t *len);

void jsonw_object_begin(struct jsonw *w, const char *key);
void jsonw_object_end(struct jsonw *w);
void jsonw_array_begin(struct jsonw *w, const char *key);
void jsonw_array_end(struct jsonw *w);

/* s NULL writes "". */
void jsonw_string(struct jsonw *w, const char *key, const char *s);
void jsonw_string_len(struct jsonw *w, const char *key, const char *s, size_t len);
void jsonw_int(struct jsonw *w, const char *key, int64_t v);
void jsonw_uint(struct jsonw *w, const char *key, uint64_t v);
void jsonw_bool(struct jsonw *w, const char *key, bool v);
void jsonw_null(struct jsonw *w, const char *key);
/* v as a string of lowercase hex: "0x7f00aa". */
void jsonw_hex(struct jsonw *w, const char *key, uint64_t v);

/* The n bytes at s with invalid UTF-8 replaced as jsonw_string replaces it, into out
 * (room for 3n bytes); returns the bytes written. For builders that still use json-c. */
size_t jsonw_clean_utf8(const char *s, size_t n, char *out);
/* Whether the n bytes at s are valid UTF-8 (then jsonw_clean_utf8 would copy them). */
bool jsonw_utf8_valid(const char *s, size_t n);

#endif
