/* salve-demo: the program make run points at, to see salved report something. Built as
 * build/salve-demo, with frame pointers and debug info, so its stack is named to the line.
 *
 *   salve-demo crash     writes through a NULL pointer in parse_request() (SIGSEGV)
 *   salve-demo abort     fails an assert() in check_config() (SIGABRT)
 *   salve-demo exit [N]  exits with code N (default 3): reported when it runs as a
 *                        service, such as under systemd-run
 *
 * It says what it is about to do, with its pid, before it does it. */
#define _GNU_SOURCE
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct request {
	const char *path;
	int length;
};

static struct request *volatile no_request; /* NULL, and the compiler cannot tell */

static void say(const char *what)
{
	printf("salve-demo: pid %d: %s\n", getpid(), what);
	fflush(stdout);
}

__attribute__((noinline)) static int parse_request(struct request *req, const char *line)
{
	say("writing through a NULL pointer in parse_request() (SIGSEGV)");
	req->path = line;
	req->length = (int)strlen(line);
	return req->length;
}

__attribute__((noinline)) static int handle_request(const char *line)
{
	return parse_request(no_request, line) > 0 ? 0 : 1;
}

__attribute__((noinline)) static void check_config(int workers)
{
	say("failing an assert in check_config() (SIGABRT)");
	assert(workers > 0 && "the config must name at least one worker");
}

static int usage(void)
{
	fprintf(stderr, "usage: salve-demo crash | abort | exit [N]\n"
			"  crash     a NULL dereference in parse_request() (SIGSEGV)\n"
			"  abort     a failed assert() in check_config() (SIGABRT)\n"
			"  exit [N]  exit with code N (default 3)\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (!strcmp(mode, "crash"))
		return handle_request("GET /index.html");
	if (!strcmp(mode, "abort")) {
		check_config(argc > 2 ? atoi(argv[2]) : 0);
		return 0;
	}
	if (!strcmp(mode, "exit")) {
		char *end;
		long code = argc > 2 ? strtol(argv[2], &end, 10) : 3;

		if (argc > 2 && (*end || end == argv[2] || code < 0 || code > 255)) {
			fprintf(stderr, "salve-demo: exit: expected a code from 0 to 255, got '%s'\n",
				argv[2]);
			return 2;
		}
		say(code ? "exiting with a non-zero code" : "exiting with code 0");
		return (int)code;
	}
	return usage();
}
