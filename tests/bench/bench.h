/* bench: what the benchmarks share: a clock and the sort their percentiles need. */
#ifndef SALVE_BENCH_H
#define SALVE_BENCH_H

#include <stdint.h>
#include <time.h>

static inline uint64_t bench_now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* For qsort of uint64_t, ascending. */
static inline int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

#endif
