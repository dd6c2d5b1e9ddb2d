/* repair_loop: how soon a repair reaches a running caller. Reads commands on stdin:
 *   "fault"  takes a SIGSEGV that its crash guard catches (salve sees the fault), then
 *            calls work() in a tight loop until it returns the override (-1), and prints
 *            "seen=<CLOCK_REALTIME ns>" of that first overridden return (or "seen=0"
 *            after 5 s without one);
 *   "check"  calls work() once and prints "ret=N".
 * Prints "pid=P ready" first. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static sigjmp_buf guard;
static volatile int zero;

__attribute__((noinline)) int work(int i)
{
	return i >= 0 ? 7 : 8;
}

static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(guard, 1);
}

static unsigned long long now(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_segv, .sa_flags = SA_NODEFER };
	char line[64];

	sigaction(SIGSEGV, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("pid=%d ready\n", getpid());
	while (fgets(line, sizeof(line), stdin)) {
		if (!strncmp(line, "check", 5)) {
			printf("ret=%d\n", work(1));
			continue;
		}
		if (!sigsetjmp(guard, 1))
			*(volatile int *)(long)zero = 1; /* the fault salve sees */
		unsigned long long give_up = now(CLOCK_MONOTONIC) + 5000000000ULL, seen = 0;

		for (int i = 0; !seen && now(CLOCK_MONOTONIC) < give_up; i++)
			if (work(i & 0xffff) == -1)
				seen = now(CLOCK_REALTIME);
		printf("seen=%llu\n", seen);
	}
	return 0;
}
