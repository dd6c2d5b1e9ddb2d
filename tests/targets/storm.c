/* storm: raises SIGTRAP at itself, caught by a handler, at a given rate for a given
 * time, so a benchmark can drive salve's ring buffer as hard as it likes.
 *
 *   storm RATE SECONDS         RATE signals per second (0: as fast as it can)
 *   storm RATE SECONDS close   close(-1) failing with EBADF instead of a signal
 *
 * Prints "sent=N seconds=S" when done. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t caught;

static void on_trap(int sig)
{
	(void)sig;
	caught++;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double rate = argc > 1 ? atof(argv[1]) : 0, secs = argc > 2 ? atof(argv[2]) : 1;
	bool syscalls = argc > 3 && !strcmp(argv[3], "close");
	double start, t;
	unsigned long sent = 0;

	signal(SIGTRAP, on_trap);
	start = now();
	while ((t = now() - start) < secs) {
		/* Catch up to the schedule, then sleep a little; bursts stay below 1 ms. */
		unsigned long due = rate > 0 ? (unsigned long)(t * rate) : sent + 1000;

		while (sent < due) {
			if (syscalls)
				close(-1);
			else
				raise(SIGTRAP);
			sent++;
		}
		if (rate > 0)
			usleep(200);
	}
	printf("sent=%lu seconds=%.3f caught=%d\n", sent, now() - start, (int)caught);
	return 0;
}
