/* Unit-test helper: the JSON lines a stage wrote to a FILE, read back parsed. Include it
 * after <cmocka.h> and <json-c/json.h>. */
#ifndef SALVE_TEST_JSONL_H
#define SALVE_TEST_JSONL_H

#include <stdio.h>

/* Every line written to out so far, parsed into lines[] (the caller puts each); the
 * file is left at its end for more writes. How many. */
static inline size_t jsonl_read(FILE *out, struct json_object **lines, size_t max)
{
	char buf[8192];
	size_t n = 0;

	fflush(out);
	rewind(out);
	while (fgets(buf, sizeof(buf), out)) {
		assert_true(n < max);
		assert_non_null(lines[n] = json_tokener_parse(buf));
		n++;
	}
	fseek(out, 0, SEEK_END);
	return n;
}

#endif
