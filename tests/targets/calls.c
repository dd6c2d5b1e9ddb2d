/* calls: functions that fail, slow down or stop on a known schedule, for the function
 * probes.
 *
 *   calls fail N     calls parse_item(i) for i < N; every 7th call (i % 7 == 3) fails
 *                    with -(i % 5 + 1). Prints "failures=K sum=S" (S: the sum of the
 *                    failing return values).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((noinline)) int parse_item(int i)
{
	if (i % 7 == 3)
		return -(i % 5 + 1);
	return i;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "fail";
	long n = argc > 2 ? atol(argv[2]) : 10000, failures = 0, sum = 0;

	if (!strcmp(mode, "fail")) {
		for (long i = 0; i < n; i++) {
			int r = parse_item((int)i);

			if (r < 0) {
				failures++;
				sum += r;
			}
		}
		printf("pid=%d failures=%ld sum=%ld\n", getpid(), failures, sum);
		return 0;
	}
	fprintf(stderr, "calls: unknown mode '%s'\n", mode);
	return 2;
}
