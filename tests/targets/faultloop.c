/* faultloop: SIGSEGV as control flow, the way a JVM or a garbage collector uses it: a
 * page is made inaccessible, each write to it faults (SEGV_ACCERR), and the handler
 * opens the page and returns, so the write is done again and succeeds.
 *
 *   faultloop RATE SECONDS   RATE faults per second (0: as fast as it can)
 *
 * Prints "pid=P" at start and "faults=N seconds=S" when done, flushed. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static volatile char *page;
static size_t page_size;
static volatile unsigned long handled;

static void on_segv(int sig, siginfo_t *info, void *uctx)
{
	(void)sig;
	(void)uctx;
	if (info->si_addr != (void *)page || mprotect((void *)page, page_size, PROT_READ | PROT_WRITE))
		abort(); /* not ours: a real fault */
	handled++;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static void touch(void)
{
	mprotect((void *)page, page_size, PROT_NONE);
	page[0]++;
}

int main(int argc, char **argv)
{
	double rate = argc > 1 ? atof(argv[1]) : 0, secs = argc > 2 ? atof(argv[2]) : 1;
	struct sigaction sa;
	unsigned long sent = 0;
	double start, t;

	page_size = (size_t)sysconf(_SC_PAGESIZE);
	page = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		return 2;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, NULL))
		return 2;
	printf("pid=%d\n", getpid());
	fflush(stdout);
	start = now();
	while ((t = now() - start) < secs) {
		/* Catch up to the schedule, then sleep a little; bursts stay below 1 ms. */
		unsigned long due = rate > 0 ? (unsigned long)(t * rate) : sent + 1000;

		while (sent < due) {
			touch();
			sent++;
		}
		if (rate > 0)
			usleep(200);
	}
	printf("faults=%lu seconds=%.3f\n", handled, now() - start);
	fflush(stdout);
	return handled == sent ? 0 : 1;
}
