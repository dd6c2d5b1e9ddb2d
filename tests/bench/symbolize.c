/* Symbolizer benchmark: the cost of naming one frame on the cached path (the file
 * parsed already, as in a burst of stacks from the same binaries), over the offsets of
 * every function of the crash target and of libc, each looked up as an innermost frame
 * and as a caller frame (a return address), in turns. Prints ns per lookup (thread CPU
 * time, the median of 15 passes) and the cost of the first lookup in a file (its parse).
 * Files are given with their identity (device, inode), as the kernel records them.
 * The figures are of this run; they move between machines. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bench.h"
#include "events/events.h"

#include "symbols/symbolize.h"

#define PASSES 15
#define ROUNDS 200
#define OFFS_MAX 4096

/* File offsets of up to max functions of path, 5 bytes in, from nm and readelf. */
static size_t offsets(const char *path, const char *nm_flags, uint64_t *out, size_t max)
{
	char cmd[1024], line[512];
	unsigned long long o, va, pa, fsz, loads[8][3];
	size_t n_loads = 0, n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "readelf -lW '%s'", path);
	if (!(p = popen(cmd, "r")))
		return 0;
	while (fgets(line, sizeof(line), p))
		if (sscanf(line, " LOAD 0x%llx 0x%llx 0x%llx 0x%llx", &o, &va, &pa, &fsz) == 4 &&
		    n_loads < 8) {
			loads[n_loads][0] = o;
			loads[n_loads][1] = va;
			loads[n_loads++][2] = fsz;
		}
	pclose(p);
	snprintf(cmd, sizeof(cmd), "nm %s --defined-only '%s' 2>/dev/null", nm_flags, path);
	if (!(p = popen(cmd, "r")))
		return 0;
	while (fgets(line, sizeof(line), p) && n < max) {
		unsigned long long a;
		char type;

		if (sscanf(line, "%llx %c", &a, &type) != 2 || (type != 'T' && type != 't'))
			continue;
		for (size_t i = 0; i < n_loads; i++)
			if (a >= loads[i][1] && a < loads[i][1] + loads[i][2]) {
				out[n++] = a - loads[i][1] + loads[i][0] + 5;
				break;
			}
	}
	pclose(p);
	return n;
}

int main(int argc, char **argv)
{
	static uint64_t offs[2][OFFS_MAX];
	const char *build = argc > 1 ? argv[1] : "build";
	char crash[512];
	const char *paths[2] = { crash, "/lib/x86_64-linux-gnu/libc.so.6" };
	size_t n[2];
	uint64_t passes[PASSES], first[2], named = 0;
	struct symbolizer_file ids[2];
	struct symbolizer *s;
	struct symbol sym;
	struct stat st;

	snprintf(crash, sizeof(crash), "%s/tests/targets/crash", build);
	n[0] = offsets(paths[0], "", offs[0], OFFS_MAX);
	n[1] = offsets(paths[1], "-D", offs[1], OFFS_MAX);
	if (!n[0] || !n[1]) {
		fprintf(stderr, "symbolize bench: no functions found in %s or %s\n", paths[0], paths[1]);
		return 1;
	}
	for (int f = 0; f < 2; f++) {
		if (stat(paths[f], &st))
			return 1;
		ids[f] = (struct symbolizer_file){ paths[f], events_kernel_dev(st.st_dev), st.st_ino };
	}
	if (symbolizer_new(&s))
		return 1;
	for (int f = 0; f < 2; f++) {
		uint64_t t0 = bench_now_ns(CLOCK_THREAD_CPUTIME_ID);

		symbolizer_lookup(s, &ids[f], offs[f][0], &sym);
		first[f] = bench_now_ns(CLOCK_THREAD_CPUTIME_ID) - t0;
	}
	for (int p = 0; p < PASSES; p++) {
		uint64_t t0 = bench_now_ns(CLOCK_THREAD_CPUTIME_ID), lookups = 0;

		for (int r = 0; r < ROUNDS; r++)
			for (int f = 0; f < 2; f++)
				for (size_t i = 0; i < n[f]; i += 7, lookups++)
					named += !symbolizer_lookup_frame(
						s, &ids[f], offs[f][i],
						(i / 7 + r) & 1, &sym);
		passes[p] = (bench_now_ns(CLOCK_THREAD_CPUTIME_ID) - t0) / lookups;
	}
	qsort(passes, PASSES, sizeof(passes[0]), bench_cmp_u64);
	printf("symbolize: %llu ns per frame named on the cached path (median of %d passes); "
	       "first lookup in a file (its parse): crash %.2f ms, libc %.2f ms; %llu named\n",
	       (unsigned long long)passes[PASSES / 2], PASSES, first[0] / 1e6, first[1] / 1e6,
	       (unsigned long long)named);
	symbolizer_free(s);
	return 0;
}
