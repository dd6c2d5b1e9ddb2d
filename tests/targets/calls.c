/* calls: functions that fail, slow down or stop on a known schedule, for the function
 * probes.
 *
 *   calls fail N     calls parse_item(i) for i < N; every 7th call (i % 7 == 3) fails
 *                    with -(i % 5 + 1). Prints "failures=K sum=S" (S: the sum of the
 *                    failing return values).
 *   calls slow MS    query() recursing 4 deep (each level sleeps 5, 30, 5 and 2 ms) and
 *                    work() called 6 times from each of 4 threads (sleeping 5 or 30 ms
 *                    in turn); every call longer than MS ms prints "slow tid=T ns=N"
 *                    with the duration it measured itself.
 *   calls learn      work(1) for 2.5 s, then work(25) once; prints "slow tid=T ns=N"
 *                    for every call over 3 ms: any a busy host stretched, then the
 *                    25 ms call last.
 *   calls lib N      calls libfault.so's fault_lib_compute(i) for i < N (it returns
 *                    3i + 1); prints "pid=P".
 *   calls open PATH  open()s PATH 3 times (it does not exist), prints "pid=P".
 *   calls leap       leap() 40 times jumping out with longjmp after 1 ms (so it never
 *                    returns),
 *                    then once returning after 25 ms; prints "slow tid=T ns=N" for
 *                    that call.
 *   calls beat       tick() every 100 ms for 1 s, none for 2 s, every 100 ms for 2 s
 *                    more; prints "pause" and "resume" around the gap.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libfault.h"

__attribute__((noinline)) int parse_item(int i)
{
	if (i % 7 == 3)
		return -(i % 5 + 1);
	return i;
}

static long threshold_ns;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void nap(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void report_if_slow(long start)
{
	long ns = now_ns() - start;

	if (ns <= threshold_ns)
		return;
	pthread_mutex_lock(&out_lock);
	printf("slow tid=%d ns=%ld\n", gettid(), ns);
	pthread_mutex_unlock(&out_lock);
}

__attribute__((noinline)) int query(int depth)
{
	static const int ms[] = { 2, 5, 30, 5 };
	long start = now_ns();
	int r = 0;

	nap(ms[depth]);
	if (depth > 0)
		r = query(depth - 1) + 1;
	report_if_slow(start);
	return r;
}

__attribute__((noinline)) void work(int ms)
{
	long start = now_ns();

	nap(ms);
	report_if_slow(start);
}

static jmp_buf leap_back;

/* With escape set it leaves by longjmp after 1 ms: its return probe never runs. */
__attribute__((noinline)) void leap(int escape)
{
	long start = now_ns();

	if (escape) {
		nap(1);
		longjmp(leap_back, 1);
	}
	nap(25);
	report_if_slow(start);
}

static void *worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 6; i++)
		work(i % 2 ? 30 : 5);
	return NULL;
}

__attribute__((noinline)) void tick(void)
{
	__asm__ volatile("" ::: "memory");
}

static void beat(int ms, int times)
{
	for (int i = 0; i < times; i++) {
		tick();
		nap(ms);
	}
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "fail";
	long n = argc > 2 ? atol(argv[2]) : 10000, failures = 0, sum = 0;

	if (!strcmp(mode, "fail")) {
		for (long i = 0; i < n; i++) {
			int r = parse_item((int)i);

			if (r < 0) {
				failures++;
				sum += r;
			}
		}
		printf("pid=%d failures=%ld sum=%ld\n", getpid(), failures, sum);
		return 0;
	}
	if (!strcmp(mode, "slow")) {
		pthread_t t[4];

		threshold_ns = (argc > 2 ? atol(argv[2]) : 20) * 1000000L;
		query(3);
		for (int i = 0; i < 4; i++)
			pthread_create(&t[i], NULL, worker, NULL);
		for (int i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
		printf("pid=%d done\n", getpid());
		return 0;
	}
	if (!strcmp(mode, "learn")) {
		long start = now_ns();

		threshold_ns = 3 * 1000000L;
		while (now_ns() - start < 2500 * 1000000L)
			work(1);
		work(25);
		printf("pid=%d done\n", getpid());
		return 0;
	}
	if (!strcmp(mode, "lib")) {
		for (long i = 0; i < n; i++)
			sum += fault_lib_compute((int)i);
		printf("pid=%d sum=%ld\n", getpid(), sum);
		return 0;
	}
	if (!strcmp(mode, "open")) {
		for (int i = 0; i < 3; i++)
			if (open(argc > 2 ? argv[2] : "/nonexistent", O_RDONLY) >= 0)
				return 1;
		printf("pid=%d\n", getpid());
		return 0;
	}
	if (!strcmp(mode, "leap")) {
		threshold_ns = 20 * 1000000L;
		for (volatile int i = 0; i < 40; i++)
			if (!setjmp(leap_back))
				leap(1);
		leap(0);
		printf("pid=%d done\n", getpid());
		return 0;
	}
	if (!strcmp(mode, "beat")) {
		printf("pid=%d\n", getpid());
		beat(100, 10);
		printf("pause\n");
		fflush(stdout);
		nap(2000);
		printf("resume\n");
		fflush(stdout);
		beat(100, 20);
		return 0;
	}
	fprintf(stderr, "calls: unknown mode '%s'\n", mode);
	return 2;
}
