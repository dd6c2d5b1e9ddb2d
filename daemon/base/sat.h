/* sat: saturating arithmetic for clocks and counters.
 *
 * A deadline is a clock reading plus a duration from a policy (a cooldown, a verify
 * window, a stall period). Wrapping would put a far deadline in the past and make it
 * fire at once; saturating keeps it at the end of time, which is what a person who wrote
 * a long duration meant. */
#ifndef SALVE_SAT_H
#define SALVE_SAT_H

#include <stdint.h>

/* a + b, or UINT64_MAX when the sum does not fit. */
static inline uint64_t sat_add_u64(uint64_t a, uint64_t b)
{
	uint64_t s;

	return __builtin_add_overflow(a, b, &s) ? UINT64_MAX : s;
}

#endif
