/* memcopy: how long copying memory takes on this machine, for the checkpoint benchmark.
 *
 *   memcopy MIB
 *
 * Maps MIB MiB and writes every page (as keeper's "touch" does), then copies it with
 * memcpy into a second mapping whose pages are already there, three times, and prints
 * the fastest as "copy_ns=N"; then into a fresh mapping, where each page first costs a
 * fault, as "fresh_ns=N". */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static unsigned long long now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

static unsigned char *map(size_t len)
{
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED) {
		perror("memcopy: mmap");
		exit(1);
	}
	return m;
}

int main(int argc, char **argv)
{
	size_t len = (size_t)(argc > 1 ? strtoul(argv[1], NULL, 10) : 1024) << 20;
	unsigned char *src = map(len), *dst = map(len), *fresh;
	unsigned long long best = ~0ULL, t;

	for (size_t i = 0; i < len; i += 4096) {
		src[i] = (unsigned char)(i >> 12 | 1);
		dst[i] = 0;
	}
	for (int round = 0; round < 3; round++) {
		t = now();
		memcpy(dst, src, len);
		t = now() - t;
		best = t < best ? t : best;
	}
	fresh = map(len);
	t = now();
	memcpy(fresh, src, len);
	t = now() - t;
	printf("copy_ns=%llu fresh_ns=%llu check=%u\n", best, t, dst[len - 4096] + fresh[4096]);
	return 0;
}
