/* counter: a process to checkpoint and restore. It keeps a counter and 2 MiB of memory
 * filled from the counter. On each SIGUSR1 it checks that the memory still holds what it
 * last wrote, adds one to the counter, calls tick() (where a test attaches a uprobe),
 * refills the memory, and appends "count=N check=ok" (or "check=bad") to the file named
 * by its argument, on which it holds an flock as a daemon does on its pid file. It prints
 * "pid=P ready" there first.
 *
 * Written for criu: the file is opened once and kept open (criu restores a regular file
 * at its offset, where a pipe to the test would be a resource outside the dumped tree);
 * the test starts it under setsid with stdin and stdout on /dev/null, so it has no
 * terminal. SIGUSR1 is blocked and taken with sigwaitinfo(), which a restore may
 * interrupt with EINTR: the loop simply waits again. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define WORDS (2u * 1024 * 1024 / sizeof(uint64_t))

static uint64_t *mem;

static uint64_t word(uint64_t count, size_t i)
{
	return count * 0x9e3779b97f4a7c15ull + i;
}

__attribute__((noinline)) uint64_t tick(uint64_t count)
{
	__asm__ volatile("" : : "r"(count) : "memory");
	return count + 1;
}

static void fill(uint64_t count)
{
	for (size_t i = 0; i < WORDS; i++)
		mem[i] = word(count, i);
}

static int check(uint64_t count)
{
	for (size_t i = 0; i < WORDS; i++)
		if (mem[i] != word(count, i))
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	uint64_t count = 0;
	sigset_t set;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: %s OUTPUT_FILE\n", argv[0]);
		return 2;
	}
	fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		fprintf(stderr, "%s: flock: %s\n", argv[1], strerror(errno));
		return 1;
	}
	mem = malloc(WORDS * sizeof(*mem));
	if (!mem)
		return 1;
	fill(count);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	dprintf(fd, "pid=%d ready\n", getpid());
	for (;;) {
		int ok;

		if (sigwaitinfo(&set, NULL) < 0)
			continue;
		ok = check(count);
		count = tick(count);
		fill(count);
		dprintf(fd, "count=%llu check=%s\n", (unsigned long long)count, ok ? "ok" : "bad");
	}
}
