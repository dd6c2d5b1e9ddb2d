/* backend_client: a service's client of a backend, for circuit breakers. Every 5 ms it
 * calls fetch(), which connects to the backend on loopback, writes one byte, reads it
 * back and closes: 0, or -errno of what failed. It counts the results: ok (0), refused
 * (-ECONNREFUSED), turned_away (-1000, what a breaker around fetch() returns in its
 * place) and other.
 *
 *   backend_client PORT [4|6]    127.0.0.1:PORT (4, the default) or [::1]:PORT (6)
 *
 * fetch() is not inlined and, built with frame pointers at -O0, starts with endbr64 or
 * push %rbp and has no call in its first bytes: an override's trampoline can take it.
 * Prints "pid=P ready" first; on SIGUSR1 "ok=N refused=N turned_away=N other=N" so
 * far, on SIGTERM the same and exits 0. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "loopback.h"

#define TURNED_AWAY (-1000)

static struct sockaddr_storage peer;
static socklen_t peer_len;
static atomic_ulong ok, refused, turned_away, other;

__attribute__((noinline)) int fetch(void)
{
	struct timeval tv = { .tv_sec = 2 };
	char c = 'x';
	int fd, err = 0;
	ssize_t n;

	fd = socket(peer.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A backend that accepts and never answers is a failure, not a hang. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&peer, peer_len) < 0)
		err = -errno;
	else if ((n = send(fd, &c, 1, MSG_NOSIGNAL)) != 1)
		err = n < 0 ? -errno : -EIO;
	else if ((n = recv(fd, &c, 1, 0)) != 1)
		err = n < 0 ? -errno : -ECONNRESET; /* closed before answering */
	else if (c != 'x')
		err = -EBADMSG;
	close(fd);
	return err;
}

static void *caller(void *arg)
{
	const struct timespec pause = { .tv_nsec = 5000000 };

	(void)arg;
	for (;;) {
		int r = fetch();

		if (r == 0)
			atomic_fetch_add(&ok, 1);
		else if (r == -ECONNREFUSED)
			atomic_fetch_add(&refused, 1);
		else if (r == TURNED_AWAY)
			atomic_fetch_add(&turned_away, 1);
		else
			atomic_fetch_add(&other, 1);
		nanosleep(&pause, NULL);
	}
	return NULL;
}

static int usage(void)
{
	fprintf(stderr, "usage: backend_client PORT [4|6]\n");
	return 2;
}

int main(int argc, char **argv)
{
	int sig = SIGUSR1;
	pthread_t t;
	sigset_t set;

	if (loopback_parse(argc, argv, &peer, &peer_len))
		return usage();
	/* The signals are taken by sigwait here only, never interrupting fetch(). */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pthread_create(&t, NULL, caller, NULL)) {
		fprintf(stderr, "backend_client: cannot start the caller thread\n");
		return 1;
	}
	printf("pid=%d ready\n", getpid());
	do {
		if (sigwait(&set, &sig))
			continue;
		printf("ok=%lu refused=%lu turned_away=%lu other=%lu\n", atomic_load(&ok),
		       atomic_load(&refused), atomic_load(&turned_away), atomic_load(&other));
	} while (sig == SIGUSR1);
	_exit(0);
}
