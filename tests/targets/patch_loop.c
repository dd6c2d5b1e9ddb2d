/* patch_loop: threads calling answer() in a tight loop while salve patches its entry
 * and puts it back. Every call must return 42 (the original) or the override value;
 * anything else, or a crash, is a patch that tore.
 *
 *   patch_loop THREADS OVERRIDE [park]
 *
 * fallback() returns the override value, for a redirect of answer() to it.
 * With "park", one more thread spins for ever inside the first bytes of parked(), so a
 * patch there must be refused. With "when", the threads call twice(k) for k = 0 to 7
 * instead, for an override only when k is 3: 2k is the original, the override value only
 * for k = 3, anything else is other. With "loader", one more thread spins for ever in a
 * dl_iterate_phdr() callback, holding the loader's lock, so a dlopen must not be called. Prints "pid=P ready" once every thread runs; on SIGUSR1
 * prints "original=N overridden=N other=N" so far, on SIGTERM the same and exits 0. */
#define _GNU_SOURCE
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THREADS_MAX 64

static volatile int base = 40;
static long override;
static atomic_int running;

struct counts {
	unsigned long original, overridden, other;
	char pad[64];
};

static struct counts counts[THREADS_MAX];
static bool with_when;

__attribute__((noinline)) int answer(void)
{
	return base + 2;
}

__attribute__((noinline)) long twice(long k)
{
	return k * 2 + base - 40;
}

/* What a redirect of answer() sends its calls to. */
__attribute__((noinline)) int fallback(void)
{
	return (int)override;
}

/* Its first bytes loop for ever: a thread that called it is always inside them. */
__attribute__((naked, noinline)) void parked(void)
{
	__asm__ volatile("nop\n"
			 "1: pause\n"
			 "jmp 1b\n"
			 "ret\n");
}

static void *caller(void *arg)
{
	struct counts *c = arg;

	atomic_fetch_add(&running, 1);
	for (long k = 0;; k = (k + 1) % 8) {
		long v;

		if (with_when) {
			v = twice(k);
			if (v == 2 * k)
				c->original++;
			else if (v == override && k == 3)
				c->overridden++;
			else
				c->other++;
			continue;
		}
		v = answer();
		if (v == 42)
			c->original++;
		else if (v == override)
			c->overridden++;
		else
			c->other++;
	}
	return NULL;
}

static int spin_in_loader(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)info;
	(void)size;
	atomic_fetch_add(&running, 1);
	for (;;)
		*(volatile int *)arg = 1;
	return 0;
}

static void *in_loader(void *arg)
{
	static int spun;

	(void)arg;
	dl_iterate_phdr(spin_in_loader, &spun);
	return NULL;
}

static void *park(void *arg)
{
	(void)arg;
	atomic_fetch_add(&running, 1);
	parked();
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 8, want;
	bool with_park = argc > 3 && !strcmp(argv[3], "park");
	bool with_loader = argc > 3 && !strcmp(argv[3], "loader");
	struct counts sum = { 0 };
	pthread_t t;
	sigset_t set;
	int sig;

	with_when = argc > 3 && !strcmp(argv[3], "when");
	override = argc > 2 ? strtol(argv[2], NULL, 0) : -1;
	if (n < 1 || n > THREADS_MAX)
		n = 8;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (int i = 0; i < n; i++)
		pthread_create(&t, NULL, caller, &counts[i]);
	if (with_park)
		pthread_create(&t, NULL, park, NULL);
	if (with_loader)
		pthread_create(&t, NULL, in_loader, NULL);
	want = n + with_park + with_loader;
	while (atomic_load(&running) < want)
		usleep(1000);
	printf("pid=%d ready\n", getpid());
	fflush(stdout);
	do {
		sigwait(&set, &sig);
		sum = (struct counts){ 0 };
		for (int i = 0; i < n; i++) {
			sum.original += counts[i].original;
			sum.overridden += counts[i].overridden;
			sum.other += counts[i].other;
		}
		printf("original=%lu overridden=%lu other=%lu\n", sum.original, sum.overridden,
		       sum.other);
		fflush(stdout);
	} while (sig == SIGUSR1);
	_exit(0);
}
