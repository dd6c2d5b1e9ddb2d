/* catch: a program with its own SIGSEGV handler, as long-running servers have: the
 * handler logs the fault and re-raises it, so the process still dies of SIGSEGV (and
 * dumps core where the limit allows).
 *
 *   catch             NULL-page write in fault_caught(), caught, logged, re-raised
 *
 * Prints "pid=P tid=T" and "addr=0x..." before it faults, flushed, and the handler
 * writes "caught SIGSEGV" to stderr. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile int *volatile null_page = (int *)0x10;

static void on_segv(int sig, siginfo_t *info, void *uctx)
{
	static const char msg[] = "caught SIGSEGV\n";

	(void)info;
	(void)uctx;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing more to say */
	}
	/* The default action again, then the same signal: it is delivered when the handler
	 * returns, and the process dies of it. */
	signal(sig, SIG_DFL);
	raise(sig);
}

__attribute__((noinline)) void fault_caught(void)
{
	printf("pid=%d tid=%d\naddr=%p\n", getpid(), gettid(), (void *)null_page);
	fflush(stdout);
	*null_page = 1;
}

int main(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, NULL))
		return 2;
	fault_caught();
	return 1;
}
