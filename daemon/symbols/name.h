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

/* Names point into the event, into this struct and into the symbolizer's kept names
 * (symbolizer_name): no frame's strings are copied here, which keeps it small (about
 * 20 KB; it held a 7 KB struct symbol per frame before). */
struct event_names {
	struct report_frame frames[SALVE_STACK_MAX];
	size_t n_frames;
	struct report_inlined inlined[SALVE_STACK_MAX][SYMBOL_INLINED_MAX];
	/* A stack unwound from the event's snapshot, and the files of the maps its frames
	 * lie in. */
	struct unwind_frame unwound[SALVE_STACK_MAX];
	struct event_module maps[SALVE_STACK_MAX];
};

/* Name ev's frames with sym into out. out's frames are valid while ev and out are, and
 * until the next name_event with sym (or any other symbolizer_stack_begin on it, or
 * symbolizer_free): their symbol, file, inlined and build id strings belong to sym,
 * which keeps them for the stacks after. An event with a
 * snapshot is unwound with CFI by unw (frames "cfi"); without one (or unw), or when that
 * finds nothing,
 * its frame-pointer walk is named (frames "fp"). Either stops at the first frame in no
 * mapped file; a frame equal to the one before means a frame-pointer walk went round in
 * code built without frame pointers: the stack ends there too. Every frame but the
 * innermost is a return address, named by the call before it, as a debugger does. */
void name_event(struct symbolizer *sym, struct unwinder *unw, const struct event *ev,
		struct event_names *out);

#endif
