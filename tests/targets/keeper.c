/* keeper: a process that keeps known values, for checkpoints and their rollback.
 *
 * Four named worker threads wait in worker_wait(), each with a value of its own on its
 * stack; the process holds a table of known values (known[]), a marker string, a heap
 * block and a spare mapping. Reads commands on stdin, one per line:
 *
 *   corrupt    overwrite the known values, the marker and the heap block
 *   check      "check ok", or "check bad: WHAT" when a value is not what it was
 *              (verify() returns 0, or -1)
 *   unmap      unmap the spare mapping ("unmapped")
 *   touch MIB  map MIB MiB and write every page ("touched MIB")
 *
 * Prints "pid=P ready" once the workers wait. Exits at the end of its input. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define WORKERS 4
#define KNOWN 1024
#define HEAP_BYTES (1u << 20)
#define SPARE_BYTES (64u << 10)

unsigned long known[KNOWN];
char marker[32] = "salve-checkpoint-marker";
static unsigned char *heap_block;
static void *spare;
static atomic_int waiting;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;

static unsigned long value_of(unsigned long i)
{
	return (i + 1) * 0x9E3779B97F4A7C15ul;
}

__attribute__((noinline)) static void worker_wait(volatile unsigned long *mine)
{
	pthread_mutex_lock(&lock);
	atomic_fetch_add(&waiting, 1);
	while (*mine)
		pthread_cond_wait(&never, &lock);
	pthread_mutex_unlock(&lock);
}

static void *worker(void *arg)
{
	volatile unsigned long mine = 0x5a1e0000ul + (unsigned long)arg;
	char name[16];

	snprintf(name, sizeof(name), "keeper-w%lu", (unsigned long)arg);
	pthread_setname_np(pthread_self(), name);
	worker_wait(&mine);
	return NULL;
}

static const char *check(void)
{
	for (unsigned long i = 0; i < KNOWN; i++)
		if (known[i] != value_of(i))
			return "known[]";
	if (strcmp(marker, "salve-checkpoint-marker"))
		return "marker";
	for (unsigned i = 0; i < HEAP_BYTES; i++)
		if (heap_block[i] != (unsigned char)(i * 7))
			return "heap block";
	return NULL;
}

/* 0 when every value is what it was, else -1: what a return probe watches. */
__attribute__((noinline)) int verify(void)
{
	return check() ? -1 : 0;
}

int main(void)
{
	pthread_t t[WORKERS];
	char line[128];

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (unsigned long i = 0; i < KNOWN; i++)
		known[i] = value_of(i);
	heap_block = malloc(HEAP_BYTES);
	spare = mmap(NULL, SPARE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!heap_block || spare == MAP_FAILED)
		return 1;
	memset(spare, 0x5a, SPARE_BYTES);
	for (unsigned i = 0; i < HEAP_BYTES; i++)
		heap_block[i] = (unsigned char)(i * 7);
	for (unsigned long i = 0; i < WORKERS; i++)
		pthread_create(&t[i], NULL, worker, (void *)(i + 1));
	while (atomic_load(&waiting) < WORKERS)
		usleep(1000);
	printf("pid=%d ready\n", getpid());
	while (fgets(line, sizeof(line), stdin)) {
		const char *bad;
		unsigned long mib;

		if (!strncmp(line, "corrupt", 7)) {
			for (unsigned long i = 0; i < KNOWN; i++)
				known[i] = 0xdeadul;
			strcpy(marker, "corrupted");
			memset(heap_block, 0xee, HEAP_BYTES);
			printf("corrupted\n");
		} else if (!strncmp(line, "check", 5)) {
			if (verify() && (bad = check()))
				printf("check bad: %s\n", bad);
			else
				printf("check ok\n");
		} else if (!strncmp(line, "unmap", 5)) {
			munmap(spare, SPARE_BYTES);
			printf("unmapped\n");
		} else if (sscanf(line, "touch %lu", &mib) == 1) {
			unsigned char *m = mmap(NULL, mib << 20, PROT_READ | PROT_WRITE,
						MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (m == MAP_FAILED)
				return 1;
			for (unsigned long i = 0; i < mib << 20; i += 4096)
				m[i] = (unsigned char)(i >> 12 | 1);
			printf("touched %lu\n", mib);
		}
	}
	return 0;
}
