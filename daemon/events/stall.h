/* stall: functions that should run every so often and have not. The kernel records
 * each stall site's last call per process; on every tick salved compares it with the
 * site's period and reports each stall once, with how long it has lasted so far. */
#ifndef SALVE_STALL_H
#define SALVE_STALL_H

#include "events/pipeline.h"
#include "kernel/probes.h"
#include "kernel/sites.h"

struct stall;

/* Where the last calls come from: the kernel's map, walked by probes_last_calls. */
typedef int (*stall_last_calls_fn)(struct probes *p, probes_last_call_fn fn, void *ctx);

int stall_new(struct stall **out);
/* As stall_new, reading the last calls through last_calls instead (a test's table). */
int stall_new_from(stall_last_calls_fn last_calls, struct stall **out);
void stall_free(struct stall *st);

/* Look at every stall site now (CLOCK_BOOTTIME ns); report new stalls to pl. */
void stall_check(struct stall *st, struct probes *p, const struct site_plan *sites,
		 struct pipeline *pl, uint64_t now_ns);

#endif
