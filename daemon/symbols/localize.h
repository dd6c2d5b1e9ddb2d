/* localize: the first guess at where an incident's fault lies.
 *
 * The suspect is the innermost stack frame, of the newest event that has one, whose
 * module is a binary the rule's policy scopes (scope.binaries; with none named, the
 * process's own executable): the service's own code nearest the fault, not the libc
 * function it called. A function event's innermost frame is the function its probe
 * sits on (its "site"), so a return in a scoped binary names the probed function, and
 * an exception or abort (probed in the C++ runtime or libc) the scoped frame that
 * threw or aborted. Without such a frame, the probed function of the newest function
 * event; then the innermost frame that has a symbol. It reads the frames as the
 * pipeline named them, once, for the event's own line. */
#ifndef SALVE_LOCALIZE_H
#define SALVE_LOCALIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <linux/types.h>

#include "policy/policy.h"
#include "salve/event.h"
#include "symbols/symbolize.h"

struct localize_suspect {
	char module[SALVE_PATH_MAX + 1]; /* the file's path */
	char symbol[SYMBOL_NAME_MAX];    /* "" when the file has no symbol for it */
	uint64_t offset;                 /* from the symbol; from the file when symbol is "" */
	bool in_scope;                   /* in a scoped binary; false: the fallback */
};

/* events: event lines (JSON objects as the pipeline writes them: "exe", "site" and
 * "stack" of {"module", "symbol", "offset"}), oldest first, as an incident keeps them; policy may
 * be NULL (no binaries named). 0 and *out filled, or -ENOENT when no frame qualifies. */
int localize_suspect(const struct policy *policy, struct json_object *const *events,
		     size_t n_events, struct localize_suspect *out);

#endif
