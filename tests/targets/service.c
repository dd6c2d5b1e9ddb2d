/* service: a server-like loop over requests, one per line on stdin, with a crash guard
 * of the kind long-running servers keep: a SIGSEGV handler that logs the fault and
 * goes back to the loop, dropping the request.
 *
 * A request "key=value" is parsed by parse(), which returns the value's length; a
 * request without "=" makes parse() dereference NULL. Prints "pid=P ready" first, then
 * one line per request: "ok N" (parse returned N >= 0), "error N" (N < 0, as an
 * override makes it, or parse_v1 when calls are redirected to it) or "fault" (the guard
 * caught a SIGSEGV). Every request also goes
 * through audit(), which never fails. Exits at end of input. "service unguarded" keeps
 * no guard: a bad request kills it, as it kills a service without one. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static sigjmp_buf guard;
static volatile long audited;

__attribute__((noinline)) int parse(const char *req)
{
	const char *value = strchr(req, '=');

	/* No "=": value is NULL, and this reads address 1. */
	return (int)strlen(value + 1) + (value[0] - '=');
}

/* parse() as it should have been: a request without "=" is refused, -EINVAL. A redirect
 * of parse() here fixes the service in place. */
__attribute__((noinline)) int parse_v1(const char *req)
{
	const char *value = strchr(req, '=');

	return value ? (int)strlen(value + 1) : -EINVAL;
}

__attribute__((noinline)) long audit(const char *req)
{
	audited += (long)strlen(req);
	return 0;
}

static void on_segv(int sig)
{
	static const char msg[] = "caught SIGSEGV\n";

	(void)sig;
	write(2, msg, sizeof(msg) - 1);
	siglongjmp(guard, 1);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_segv, .sa_flags = SA_NODEFER };
	char line[512];

	if (argc < 2 || strcmp(argv[1], "unguarded"))
		sigaction(SIGSEGV, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("pid=%d ready\n", getpid());
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = 0;
		audit(line);
		if (sigsetjmp(guard, 1)) {
			printf("fault\n");
			continue;
		}
		int n = parse(line);

		printf(n >= 0 ? "ok %d\n" : "error %d\n", n);
	}
	return 0;
}
