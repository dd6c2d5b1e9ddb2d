/* name: an event's stack named once, on its way in: each frame's module, build id,
 * function and offset, source file and line, and the functions inlined there, as its
 * line shows them and every later stage reads them. */
#ifndef SALVE_NAME_H
#define SALVE_NAME_H

#include <stddef.h>

#include "events/events.h"
#include "events/report.h"
#include "symbols/symbolize.h"

struct event_names {
	struct report_frame frames[SALVE_STACK_MAX]; /* point into names and the event */
	size_t n_frames;
	struct symbol symbols[SALVE_STACK_MAX];
	struct report_inlined inlined[SALVE_STACK_MAX][SYMBOL_INLINED_MAX];
	char build_ids[SALVE_MODULES_MAX][BUILD_ID_HEX_MAX];
};

/* Name ev's frames with sym into out, valid while ev and out are. A frame equal to the
 * one before means a frame-pointer walk went round in code built without frame
 * pointers: the stack ends there. Every frame but the innermost is a return address,
 * named by the call before it, as a debugger does. */
void name_event(struct symbolizer *sym, const struct event *ev, struct event_names *out);

#endif
