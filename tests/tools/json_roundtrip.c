/* json_roundtrip: checks a file of JSON lines, as salved writes its events, against json-c.
 *
 *   json_roundtrip FILE
 *
 * Every line must end in a newline and be one JSON object that json-c's strict tokener
 * parses whole, its strings valid UTF-8; and json-c's own rendering of the parsed object
 * (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) must be the line byte for byte:
 * the writer's escaping is json-c's. Prints "lines=N" and exits 0, or names the first line
 * that is not (its number, the byte where it differs, both texts around it) and exits 1;
 * 2 when FILE cannot be read. */
#define _GNU_SOURCE
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define AROUND 60 /* bytes shown either side of a difference */

/* s[from, to) with what is not printable ASCII as \xNN, on one line. */
static void show(const char *label, const char *s, size_t len, size_t at)
{
	size_t from = at > AROUND ? at - AROUND : 0, to = at + AROUND < len ? at + AROUND : len;

	fprintf(stderr, "  %s%s", label, from ? "..." : "");
	for (size_t i = from; i < to; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			fputc(c, stderr);
		else
			fprintf(stderr, "\\x%02x", c);
	}
	fprintf(stderr, "%s\n", to < len ? "..." : "");
}

/* 0 when line (without its newline) is json-c's rendering of itself; else says why. */
static int check_line(struct json_tokener *tok, const char *name, size_t no, const char *line,
		      size_t len)
{
	struct json_object *obj;
	enum json_tokener_error jerr;
	const char *again;
	size_t again_len, at = 0;
	int ret = 0;

	json_tokener_reset(tok);
	obj = json_tokener_parse_ex(tok, line, (int)len);
	jerr = json_tokener_get_error(tok);
	if (!obj || jerr != json_tokener_success) {
		size_t end = json_tokener_get_parse_end(tok);

		fprintf(stderr, "%s:%zu: not JSON at byte %zu: %s\n", name, no, end,
			jerr == json_tokener_continue ? "the line ends inside a value"
						      : json_tokener_error_desc(jerr));
		show("line: ", line, len, end);
		json_object_put(obj);
		return -1;
	}
	if (json_tokener_get_parse_end(tok) != len) {
		fprintf(stderr, "%s:%zu: bytes after the JSON value at byte %zu\n", name, no,
			json_tokener_get_parse_end(tok));
		show("line: ", line, len, json_tokener_get_parse_end(tok));
		ret = -1;
	} else if (!json_object_is_type(obj, json_type_object)) {
		fprintf(stderr, "%s:%zu: a JSON %s, not an object\n", name, no,
			json_type_to_name(json_object_get_type(obj)));
		ret = -1;
	} else {
		again = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE,
							  &again_len);
		while (at < len && at < again_len && line[at] == again[at])
			at++;
		if (at < len || at < again_len) {
			fprintf(stderr, "%s:%zu: differs from json-c's rendering at byte %zu\n", name,
				no, at);
			show("line:   ", line, len, at);
			show("json-c: ", again, again_len, at);
			ret = -1;
		}
	}
	json_object_put(obj);
	return ret;
}

int main(int argc, char **argv)
{
	struct json_tokener *tok;
	char *line = NULL;
	size_t cap = 0, no = 0;
	ssize_t n;
	FILE *f;
	int ret = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: json_roundtrip FILE\n");
		return 2;
	}
	if (!(f = fopen(argv[1], "re"))) {
		fprintf(stderr, "json_roundtrip: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	if (!(tok = json_tokener_new())) {
		fprintf(stderr, "json_roundtrip: out of memory\n");
		fclose(f);
		return 2;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	while ((n = getline(&line, &cap, f)) > 0) {
		no++;
		if (line[n - 1] != '\n') {
			fprintf(stderr, "%s:%zu: the last line has no newline (%zd bytes)\n", argv[1],
				no, n);
			ret = 1;
			break;
		}
		if (check_line(tok, argv[1], no, line, (size_t)n - 1) < 0) {
			ret = 1;
			break;
		}
	}
	if (!ret && ferror(f)) {
		fprintf(stderr, "json_roundtrip: %s: %s\n", argv[1], strerror(errno));
		ret = 2;
	}
	if (!ret)
		printf("lines=%zu\n", no);
	free(line);
	json_tokener_free(tok);
	fclose(f);
	return ret;
}
