/* thread_crash: built -O2 without frame pointers; a worker thread (not main) faults on a
 * NULL field while main waits for it. Prints "pid=N" and the worker's "tid=N" first. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#define KEEP __attribute__((noinline, noclone))

struct job {
	const char *name;
	const int *fields;
};

KEEP int parse_field(const struct job *j, int i)
{
	return j->fields[i];
}

KEEP int process_job(const struct job *j)
{
	int sum = 0;

	for (int i = 0; i < 4; i++)
		sum += parse_field(j, i);
	return sum;
}

KEEP void *worker(void *arg)
{
	printf("pid=%d tid=%d\n", getpid(), gettid());
	fflush(stdout);
	return (void *)(long)process_job(arg);
}

int main(void)
{
	struct job j = { "broken", NULL };
	pthread_t t;
	void *ret;

	if (pthread_create(&t, NULL, worker, &j))
		return 1;
	pthread_join(t, &ret);
	return (int)(long)ret;
}
