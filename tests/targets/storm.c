/* storm: raises SIGTRAP at itself, caught by a handler, at a given rate for a given
 * time, so a benchmark can drive salve's ring buffer as hard as it likes.
 *
 *   storm RATE SECONDS         RATE signals per second (0: as fast as it can)
 *   storm RATE SECONDS close   close(-1) failing with EBADF instead of a signal
 *   ... --comm BYTES           names itself BYTES (prctl PR_SET_NAME; the kernel keeps
 *                              15 bytes, whatever they are) before it starts
 *
 * Prints "sent=N seconds=S caught=N" when done. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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
	const char *pos[3] = { NULL, NULL, NULL }, *comm = NULL;
	int n_pos = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--comm") && i + 1 < argc)
			comm = argv[++i];
		else if (n_pos < 3)
			pos[n_pos++] = argv[i];
		else {
			fprintf(stderr, "usage: storm RATE SECONDS [close] [--comm BYTES]\n");
			return 2;
		}
	}

	double rate = pos[0] ? atof(pos[0]) : 0, secs = pos[1] ? atof(pos[1]) : 1;
	bool syscalls = pos[2] && !strcmp(pos[2], "close");
	double start, t;
	unsigned long sent = 0;

	if (comm && prctl(PR_SET_NAME, comm, 0, 0, 0) < 0) {
		perror("storm: prctl(PR_SET_NAME)");
		return 1;
	}
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
