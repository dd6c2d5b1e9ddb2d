/* crash: faults on demand, so tests can watch salve report them.
 *
 *   crash null       NULL-page write in fault_null_deref()
 *   crash lib        the same fault inside libfault.so's fault_lib_write()
 *   crash thread     the fault in a second thread (prints that thread's tid)
 *   crash abort      abort()
 *   crash assert     a failed assert() in fault_assert()
 *   crash fpe        integer divide by zero in fault_divide()
 *   crash sleep      waits to be killed
 *   crash exit N     exit(N)
 *   crash hog        allocates and touches memory until the OOM killer stops it
 *
 * It prints "pid=P tid=T" for the faulting thread and "addr=0x..." for memory faults
 * before it faults, flushed, so the test can compare them with what salve reports. */
#define _GNU_SOURCE
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libfault.h"

static volatile int *volatile null_page = (int *)0x10;
static volatile int divisor;

static void announce(void)
{
	printf("pid=%d tid=%d\n", getpid(), gettid());
	fflush(stdout);
}

__attribute__((noinline)) void fault_null_deref(void)
{
	announce();
	printf("addr=%p\n", (void *)null_page);
	fflush(stdout);
	*null_page = 1;
}

__attribute__((noinline)) void fault_assert(int x)
{
	announce();
	assert(x == 42 && "value must be 42");
}

__attribute__((noinline)) int fault_divide(int x)
{
	announce();
	return x / divisor;
}

__attribute__((noinline)) void fault_in_library(void)
{
	announce();
	fault_lib_write(null_page);
}

static void *thread_main(void *arg)
{
	(void)arg;
	fault_null_deref();
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "null";

	if (!strcmp(mode, "null")) {
		fault_null_deref();
	} else if (!strcmp(mode, "lib")) {
		fault_in_library();
	} else if (!strcmp(mode, "thread")) {
		pthread_t t;
		if (pthread_create(&t, NULL, thread_main, NULL))
			return 2;
		pthread_join(t, NULL);
	} else if (!strcmp(mode, "abort")) {
		announce();
		abort();
	} else if (!strcmp(mode, "assert")) {
		fault_assert(argc);
	} else if (!strcmp(mode, "fpe")) {
		return fault_divide(argc);
	} else if (!strcmp(mode, "sleep")) {
		announce();
		for (;;)
			pause();
	} else if (!strcmp(mode, "hog")) {
		announce();
		for (;;) {
			char *p = malloc(1 << 20);

			if (p)
				memset(p, 1, 1 << 20);
		}
	} else if (!strcmp(mode, "exit")) {
		announce();
		exit(argc > 2 ? atoi(argv[2]) : 1);
	} else {
		fprintf(stderr, "crash: unknown mode '%s'\n", mode);
		return 2;
	}
	return fault_lib_compute(0) == 1 ? 0 : 1;
}
