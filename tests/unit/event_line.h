/* Unit-test helper: an event's line as the pipeline writes it (report_event_begin,
 * closed), parsed back with json-c; NULL when it does not parse. */
#ifndef SALVE_TEST_EVENT_LINE_H
#define SALVE_TEST_EVENT_LINE_H

#include <json-c/json.h>
#include <string.h>

#include "base/jsonw.h"
#include "events/report.h"

static inline struct json_object *event_line(const struct event *ev, const char *probe,
					     uint64_t realtime_ns, const struct report_frame *frames,
					     size_t n_frames)
{
	struct jsonw w = JSONW_INIT;
	struct json_object *obj = NULL;
	struct json_tokener *tok = json_tokener_new();
	const char *text;
	size_t len;

	report_event_begin(&w, ev, probe, realtime_ns, frames, n_frames);
	jsonw_object_end(&w);
	if (tok && (text = jsonw_text(&w, &len))) {
		obj = json_tokener_parse_ex(tok, text, (int)len);
		if (obj && json_tokener_get_parse_end(tok) != len) {
			json_object_put(obj);
			obj = NULL;
		}
	}
	json_tokener_free(tok);
	jsonw_free(&w);
	return obj;
}

#endif
