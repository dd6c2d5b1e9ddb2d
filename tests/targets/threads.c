/* threads: a process of 16 threads (the main one and 15 named workers, all busy)
 * killed by a signal raised in a worker, so that every thread exits at once.
 *
 *   threads kill    a worker sends SIGKILL to the process
 *   threads segv    a worker dereferences NULL (SIGSEGV, fatal)
 *
 * Prints "pid=P" before the workers start; the process dies by the signal. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define WORKERS 15

static atomic_int running;
static const char *mode = "kill";

static void *worker(void *arg)
{
	long n = (long)arg;
	char name[16];
	volatile unsigned long spin = 0;

	/* A worker's name differs from the process's: the exit event must not carry it. */
	snprintf(name, sizeof(name), "worker%ld", n);
	pthread_setname_np(pthread_self(), name);
	atomic_fetch_add(&running, 1);
	if (n == WORKERS - 1) {
		while (atomic_load(&running) < WORKERS)
			spin++;
		if (!strcmp(mode, "segv"))
			*(volatile int *)0 = 1;
		kill(getpid(), SIGKILL);
	}
	for (;;)
		spin++;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[WORKERS];
	volatile unsigned long spin = 0;

	if (argc > 1)
		mode = argv[1];
	printf("pid=%d\n", getpid());
	fflush(stdout);
	for (long i = 0; i < WORKERS; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)i)) {
			perror("threads: pthread_create");
			return 1;
		}
	for (;;)
		spin++;
}
