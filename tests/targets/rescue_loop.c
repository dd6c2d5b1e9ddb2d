/* rescue_loop: how soon a rescued fault returns to its caller. Reads requests on stdin,
 * like service: "key=value" is parsed by parse(), which returns the value's length; a
 * request without "=" makes parse() dereference NULL, which only a rescue survives (no
 * crash guard). Prints "pid=P ready" first, then per request "ok N" or "error N" and the
 * CLOCK_MONOTONIC nanoseconds the call of parse() took: "error -1 ns=123456". */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

__attribute__((noinline)) int parse(const char *req)
{
	const char *value = strchr(req, '=');

	/* No "=": value is NULL, and this reads address 1. */
	return (int)strlen(value + 1) + (value[0] - '=');
}

static unsigned long long now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

int main(void)
{
	char line[512];

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("pid=%d ready\n", getpid());
	while (fgets(line, sizeof(line), stdin)) {
		unsigned long long t0;
		int n;

		line[strcspn(line, "\n")] = 0;
		t0 = now();
		n = parse(line);
		printf("%s %d ns=%llu\n", n >= 0 ? "ok" : "error", n, now() - t0);
	}
	return 0;
}
