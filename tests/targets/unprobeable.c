/* A service a reload probes: two ordinary functions and one whose first instruction
 * (hlt) uprobes cannot take, so the kernel refuses that attachment for real while this
 * process maps it. `unprobeable N` calls fail_often N times a second, failing every
 * call, until killed. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Never called: it exists to be refused. */
__asm__(".globl not_probeable\n"
	".type not_probeable, @function\n"
	"not_probeable:\n"
	"\thlt\n"
	"\tret\n"
	".size not_probeable, .-not_probeable\n");

__attribute__((noinline)) int fail_often(int x)
{
	return x < 0 ? 0 : -1;
}

__attribute__((noinline)) int also_fine(int x)
{
	return x + 1;
}

int main(int argc, char **argv)
{
	int per_sec = argc > 1 ? atoi(argv[1]) : 20;

	printf("pid=%d ready\n", getpid());
	fflush(stdout);
	for (;;) {
		fail_often(also_fine(1));
		usleep(1000000 / (per_sec > 0 ? per_sec : 1));
	}
}
