/* qsort_crash: built -O2 without frame pointers, as distributions build, it faults in a
 * qsort comparator (a NULL weight read), so the stack runs target -> libc -> target:
 * only CFI unwinds it. Prints "pid=N tid=N" first. noinline/noclone keep each function
 * a frame of its own name, as gdb names it. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
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

int main(void)
{
	static const int w[] = { 3, 1, 2 };
	struct item items[] = { { 1, &w[0] }, { 2, &w[1] }, { 3, NULL }, { 4, &w[2] } };

	printf("pid=%d tid=%d\n", getpid(), gettid());
	fflush(stdout);
	sort_items(items, sizeof(items) / sizeof(items[0]));
	printf("sorted: %d\n", items[0].key);
	return 0;
}
