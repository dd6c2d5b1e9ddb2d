/* qsort_crash: built -O2 without frame pointers, as distributions build, it faults in a
 * qsort comparator (a NULL weight read), so the stack runs target -> libc -> target:
 * only CFI unwinds it. Prints "pid=N tid=N" first. noinline/noclone keep each function
 * a frame of its own name, as gdb names it.
 *
 *   qsort_crash          dies of the fault
 *   qsort_crash catch    as servers and runtimes do: a SIGSEGV handler logs the fault
 *                        ("caught SIGSEGV" on stderr) and raises it again, so the
 *                        process dies of it once the handler returns */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct item {
	int key;
	const int *weight;
};

#define KEEP __attribute__((noinline, noclone))

KEEP int weight_of(const struct item *it)
{
	return *it->weight;
}

KEEP int by_weight(const void *a, const void *b)
{
	return weight_of(a) - weight_of(b);
}

KEEP void sort_items(struct item *items, size_t n)
{
	qsort(items, n, sizeof(*items), by_weight);
	__asm__ volatile("" ::: "memory"); /* not a tail call: sort_items stays a frame */
}

static void log_and_reraise(int sig)
{
	static const char msg[] = "caught SIGSEGV\n";

	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing more to say */
	}
	/* Blocked until the handler returns, and then, with the default action back, fatal
	 * at the faulting instruction's context. */
	signal(sig, SIG_DFL);
	raise(sig);
}

int main(int argc, char **argv)
{
	static const int w[] = { 3, 1, 2 };
	struct item items[] = { { 1, &w[0] }, { 2, &w[1] }, { 3, NULL }, { 4, &w[2] } };

	if (argc > 1 && strcmp(argv[1], "catch") == 0)
		signal(SIGSEGV, log_and_reraise);
	printf("pid=%d tid=%d\n", getpid(), gettid());
	fflush(stdout);
	sort_items(items, sizeof(items) / sizeof(items[0]));
	printf("sorted: %d\n", items[0].key);
	return 0;
}
