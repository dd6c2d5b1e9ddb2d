/* report: events as JSON lines, one object per line, written by salve's own writer
 * (base/jsonw.h: json-c's text, without a tree per line); the rarer lines of actions
 * and repairs are json-c objects built with report_add and report_string.
 *
 * Strings from processes (comm, paths, symbols) are hostile: they may hold quotes,
 * control bytes and invalid UTF-8. Both ways escape the first two and replace invalid
 * UTF-8 by U+FFFD, so every line is valid JSON. */
#ifndef SALVE_REPORT_H
#define SALVE_REPORT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/jsonw.h"
#include "events/events.h"

/* A function inlined at a frame's address, and the source line in it. */
struct report_inlined {
	const char *symbol;
	const char *file; /* NULL when unknown */
	uint32_t line;
};

struct report_frame {
	uint64_t ip;
	const char *module;   /* NULL when unknown */
	const char *symbol;   /* NULL when unknown */
	uint64_t offset;      /* from the symbol, or from the module when symbol is NULL */
	const char *build_id; /* of the module, as hex; NULL when unknown */
	const char *file;     /* source file of symbol's line; NULL when unknown */
	uint32_t line;
	const struct report_inlined *inlined; /* innermost first; n_inlined of them */
	size_t n_inlined;
	const char *how;      /* how the unwinder found it: "fp", "cfi"; NULL: not said */
};

/* The line of event ev as produced by probe, into w, its object left open: the caller
 * adds what it knows besides the record (report_cause, a site) and closes it with
 * jsonw_object_end. realtime_ns is the wall-clock time of the event. */
void report_event_begin(struct jsonw *w, const struct event *ev, const char *probe,
			uint64_t realtime_ns, const struct report_frame *frames, size_t n_frames);

/* Add to an open event line the fault its death follows from: "cause": {"time", "code",
 * "addr"}, the fault's wall-clock time, its si_code by name (signo's table) and its
 * address when addr is not NULL. */
void report_cause(struct jsonw *w, int signo, int code, const uint64_t *addr, uint64_t realtime_ns);

/* Add val under key to obj, taking val; val NULL (a failed allocation) or a failed add
 * gives -ENOMEM, and val is freed. Lets a builder chain its adds with ?:. */
int report_add(struct json_object *obj, const char *key, struct json_object *val);

/* obj as the line salved writes of it, without its newline: the named event that later
 * stages keep. Valid until obj changes or is put; NULL when out of memory. */
const char *report_text(struct json_object *obj, size_t *len);

/* What a line is, for those who pick lines without reading them back (salvectl events
 * --follow's filters): its kind, and the pid, comm (as the line shows it), probe and rule
 * it names; NULL (has_pid false) where it names none. Valid with the line. */
struct line_facts {
	const char *kind;
	bool has_pid;
	int64_t pid;
	const char *comm, *probe, *rule;
};

/* The facts of a line built as a json-c object. */
void report_facts_of(struct json_object *line, struct line_facts *out);

/* RFC 3339 UTC with nanoseconds: 2026-11-22T16:31:13.123456789Z. */
int report_time(uint64_t realtime_ns, char *buf, size_t len);

/* Names as a person knows them: "SIGSEGV", "SEGV_MAPERR"; NULL when unknown. */
const char *report_signal_name(int signo);
const char *report_code_name(int signo, int code);

/* The string under key in obj; NULL when there is none, or the value is not a string. */
const char *report_string_of(struct json_object *obj, const char *key);

/* A json string from untrusted bytes: invalid UTF-8 becomes U+FFFD. */
struct json_object *report_string(const char *s);

#endif
