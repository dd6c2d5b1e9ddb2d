/* hot: a hot function for the probe-cost benchmark, built twice by clang: "hot" with an
 * ordinary entry (a uprobe there is an int3) and "hot-nop5" with
 * -fpatchable-function-entry=5, whose 5-byte NOP entry the kernel can optimize.
 *
 *   hot N   calls hot_call(i) for i < N (every 1000th call returns -1, the others a
 *           small non-negative value), then prints "ns_per_call=X" measured around
 *           the loop with CLOCK_MONOTONIC.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

__attribute__((noinline)) int hot_call(int i)
{
	__asm__ volatile("" ::: "memory"); /* a call the compiler cannot fold away */
	return i % 1000 == 999 ? -1 : i & 0xff;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000, sum = 0;
	double start;

	if (n <= 0) {
		fprintf(stderr, "usage: hot N (N > 0 calls)\n");
		return 2;
	}
	start = now_ns();
	for (long i = 0; i < n; i++)
		sum += hot_call((int)i);
	printf("ns_per_call=%.1f sum=%ld\n", (now_ns() - start) / n, sum);
	return 0;
}
