/* name: an event's stack unwound and named once, on its way in: each frame's module,
 * build id, function and offset, source file and line, the functions inlined there, and
 * how it was found, as its line shows them and every later stage reads them. */
#ifndef SALVE_NAME_H
#define SALVE_NAME_H

#include <stddef.h>

#include "events/events.h"
#include "events/report.h"
#include "symbols/symbolize.h"
#include "symbols/unwind.h"

struct event_names {
	struct report_frame frames[SALVE_STACK_MAX]; /* point into names and the event */
	size_t n_frames;
	struct symbol symbols[SALVE_STACK_MAX];
	struct report_inlined inlined[SALVE_STACK_MAX][SYMBOL_INLINED_MAX];
	char build_ids[SALVE_MODULES_MAX][BUILD_ID_HEX_MAX];
	/* A stack unwound from the event's snapshot, and the files of the maps its frames
	 * lie in. */
	struct unwind_frame unwound[SALVE_STACK_MAX];
	struct event_module maps[SALVE_STACK_MAX];
	char map_build_ids[SALVE_STACK_MAX][BUILD_ID_HEX_MAX];
};

/* Name ev's frames with sym into out, valid while ev and out are. An event with a
 * snapshot is unwound with CFI by unw (frames "cfi"); without one (or unw), or when that
 * finds nothing,
 * its frame-pointer walk is named (frames "fp"). Either stops at the first frame in no
 * mapped file; a frame equal to the one before means a frame-pointer walk went round in
 * code built without frame pointers: the stack ends there too. Every frame but the
 * innermost is a return address, named by the call before it, as a debugger does. */
void name_event(struct symbolizer *sym, struct unwinder *unw, const struct event *ev,
		struct event_names *out);

#endif
