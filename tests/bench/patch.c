/* Hot-patch bench, side by side in one run:
 *   - how long a patch keeps the target's threads stopped, with 1 and with 8 threads
 *     calling the patched function in a tight loop (tests/targets/patch_loop), over 100
 *     patches and 100 undos each, against the 1 ms the repair issue allows;
 *   - the cost of a call to an overridden function against a plain function returning
 *     the same constant, in a child of this program whose function is patched.
 * Usage: patch [BUILD] (default build). */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "actions/code.h"
#include "actions/patch.h"
#include "actions/repair.h"

#define PATCHES 100
#define CALLS 4000000
#define ROUNDS 9

/* p50 and p99 of how long PATCHES patches and undos of answer() stopped a patch_loop of
 * threads threads. */
static int stopped(const char *loop, const char *threads, uint64_t *p50, uint64_t *p99)
{
	static uint64_t ns[2 * PATCHES];
	struct repair_plan plan;
	char line[128], err[512];
	int fds[2], n = 0, rc = 1;
	FILE *out;
	pid_t pid;

	if (pipe(fds) || (pid = fork()) < 0)
		return 1;
	if (pid == 0) {
		dup2(fds[1], 1);
		execl(loop, loop, threads, "-1", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	out = fdopen(fds[0], "r");
	if (!out || !fgets(line, sizeof(line), out) ||
	    repair_plan_override(loop, "answer", -1, (uint32_t)pid, &plan, err, sizeof(err))) {
		fprintf(stderr, "patch bench: %s: %s\n", loop, err);
		goto out;
	}
	for (int i = 0; i < PATCHES; i++) {
		struct patch_stats st;

		if (repair_apply(&plan, &st, err, sizeof(err)))
			goto fail;
		ns[n++] = st.stopped_ns;
		usleep(500);
		if (repair_undo(&plan, &st, err, sizeof(err)))
			goto fail;
		ns[n++] = st.stopped_ns;
		usleep(500);
	}
	qsort(ns, (size_t)n, sizeof(ns[0]), bench_cmp_u64);
	*p50 = ns[n / 2];
	*p99 = ns[n * 99 / 100];
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "patch bench: %s\n", err);
out:
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	if (out)
		fclose(out);
	return rc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static __attribute__((noinline)) long patched(void)
{
	__asm__ volatile("" ::: "memory");
	return 41 + (getpid() == 0);
}

static __attribute__((noinline)) long plain(void)
{
	return 7;
}

/* The child: wait for the go, then time CALLS calls of each through pointers, in
 * ROUNDS rounds that alternate which goes first; report the median of the rounds'
 * ratios (patched / plain), or a negative number when a call missed the override. */
static void timer_child(int go, int report)
{
	long (*volatile fa)(void) = patched, (*volatile fb)(void) = plain;
	double ratios[ROUNDS], out;
	long sum = 0;
	char c;

	if (read(go, &c, 1) != 1)
		_exit(1);
	for (int round = 0; round < ROUNDS; round++) {
		uint64_t t[2];

		for (int k = 0; k < 2; k++) {
			int which = (round + k) & 1; /* 0: patched */
			long (*f)(void) = which ? fb : fa;
			uint64_t t0 = bench_now_ns(CLOCK_MONOTONIC);

			for (int i = 0; i < CALLS; i++)
				sum += f();
			t[which] = bench_now_ns(CLOCK_MONOTONIC) - t0;
		}
		ratios[round] = (double)t[0] / (double)t[1];
	}
	qsort(ratios, ROUNDS, sizeof(ratios[0]), cmp_double);
	/* Every call of the patched one returned the override, 7 like plain's. */
	out = sum == 7L * 2 * CALLS * ROUNDS ? ratios[ROUNDS / 2] : -1;
	write(report, &out, sizeof(out));
	_exit(0);
}

static int call_cost(double *ratio)
{
	int go[2], report[2], rc = 1;
	struct repair_plan plan;
	char self[PATH_MAX], err[512];
	pid_t pid;

	if (!realpath("/proc/self/exe", self) || pipe(go) || pipe(report) || (pid = fork()) < 0)
		return 1;
	if (pid == 0)
		timer_child(go[0], report[1]);
	if (repair_plan_override(self, "patched", 7, (uint32_t)pid, &plan, err, sizeof(err)) ||
	    repair_apply(&plan, NULL, err, sizeof(err))) {
		fprintf(stderr, "patch bench: %s\n", err);
	} else if (write(go[1], "g", 1) == 1 && read(report[0], ratio, sizeof(*ratio)) == sizeof(*ratio)) {
		if (*ratio < 0)
			fprintf(stderr, "patch bench: a call of the overridden function did not "
					"return the override\n");
		else
			rc = 0;
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return rc;
}

int main(int argc, char **argv)
{
	char rel[PATH_MAX], loop[PATH_MAX];
	uint64_t a50, a99, b50, b99;
	double ratio;

	snprintf(rel, sizeof(rel), "%s/tests/targets/patch_loop", argc > 1 ? argv[1] : "build");
	if (!realpath(rel, loop)) {
		perror(rel);
		return 1;
	}
	if (stopped(loop, "1", &a50, &a99) || stopped(loop, "8", &b50, &b99) || call_cost(&ratio))
		return 1;
	printf("patch: threads stopped per patch (%d patches and %d undos each, side by side)\n",
	       PATCHES, PATCHES);
	printf("  1 thread:   p50 %6.0f us  p99 %6.0f us  p99 / 1 ms target %.2f\n", a50 / 1e3,
	       a99 / 1e3, a99 / 1e6);
	printf("  8 threads:  p50 %6.0f us  p99 %6.0f us  p99 / 1 ms target %.2f\n", b50 / 1e3,
	       b99 / 1e3, b99 / 1e6);
	printf("  8 / 1 threads: p50 %.2fx p99 %.2fx\n", (double)b50 / (double)a50,
	       (double)b99 / (double)a99);
	printf("patch: a call to the overridden function / a plain one returning the same "
	       "constant: %.2fx, median of %d alternating rounds (target 1.1x)\n", ratio, ROUNDS);
	return 0;
}
