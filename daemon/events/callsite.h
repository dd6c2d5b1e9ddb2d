/* callsite: what a function event says of where it comes from, found once and cached:
 * the function its site sits on (module, demangled symbol, file offset), by site; and
 * the path of its process's executable, by the executable's identity (dev, ino), which
 * is all the kernel puts in a call record. */
#ifndef SALVE_CALLSITE_H
#define SALVE_CALLSITE_H

#include <stdint.h>

#include "events/events.h"
#include "kernel/sites.h"
#include "policy/policy.h"
#include "symbols/symbolize.h"

#define CALLSITE_FUNCTIONS 256 /* sites remembered (by id) */
#define CALLSITE_EXES 64       /* executables remembered (by identity) */

struct callsite_function {
	const char *module; /* the site's file */
	const char *symbol; /* demangled; NULL when neither the file nor the probe names it */
	uint64_t offset;    /* of the function's entry, in the file */
};

struct callsite_fn_slot {
	const struct site *site;
	char module[PATH_MAX];
	uint64_t offset;
	char symbol[SYMBOL_NAME_MAX];
};

struct callsite_exe_slot {
	uint64_t dev, ino;
	char path[SALVE_PATH_MAX + 1];
};

struct callsite {
	struct callsite_fn_slot fns[CALLSITE_FUNCTIONS];
	struct callsite_exe_slot exes[CALLSITE_EXES];
};

int callsite_new(struct callsite **out);
void callsite_free(struct callsite *c);

/* The function site sits on, named by sym from its file (the probe's symbol when the
 * file has none for that offset). Valid until the next call. */
void callsite_function(struct callsite *c, struct symbolizer *sym, const struct site *site,
		       struct callsite_function *out);

/* Fill ev->exe.path, when empty, from its identity: the site's file, the binaries of
 * set's policies whose bit ev->policies has, or /proc/PID/exe while the process lives;
 * each checked against the identity. Left empty when none is that file. */
void callsite_exe(struct callsite *c, const struct policy_set *set, const struct site *site,
		  struct event *ev);

#endif
