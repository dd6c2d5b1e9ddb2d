/* backend: the fake backend of backend_client, which a test stops and starts again on
 * the same port. Accepts a connection, reads one byte, writes it back, closes; one
 * connection at a time.
 *
 *   backend PORT [4|6]    listens on 127.0.0.1:PORT (4, the default) or [::1]:PORT (6)
 *
 * SO_REUSEADDR, so it binds again at once after being killed. Prints "listening" once
 * bound (or why it could not, exiting 1); SIGTERM or SIGKILL stop it. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "loopback.h"

static int usage(void)
{
	fprintf(stderr, "usage: backend PORT [4|6]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage addr;
	struct timeval tv = { .tv_sec = 1 };
	int one = 1, fd;
	socklen_t len;

	if (loopback_parse(argc, argv, &addr, &len))
		return usage();
	signal(SIGPIPE, SIG_IGN);
	fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (addr.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(fd, (struct sockaddr *)&addr, len) || listen(fd, 128)) {
		fprintf(stderr, "backend: cannot listen on %s port %s: %s\n",
			addr.ss_family == AF_INET ? "127.0.0.1" : "::1", argv[1], strerror(errno));
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		char b;

		if (c < 0)
			continue;
		/* A client that never writes does not hold the others up for long. */
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (recv(c, &b, 1, 0) == 1)
			send(c, &b, 1, MSG_NOSIGNAL);
		close(c);
	}
}
