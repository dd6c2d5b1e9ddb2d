/* ptrace_floor: the least a rescue through ptrace can cost, for the rescue benchmark.
 *
 *   ptrace_floor ROUNDS [TRACER_CPU TARGET_CPU]
 *
 * A child calls a function whose first instruction faults, ROUNDS times, and times each
 * call as rescue_loop times parse() ("error -1 ns=N" per call, on stdout). Its parent is
 * its tracer, as salved is: PTRACE_SEIZE, SIGCHLD through a signalfd in epoll, and on
 * each fault the siginfo and registers read, the call returned with -1 (the return
 * address popped: nothing to unwind, nothing to decide or journal) and the thread
 * resumed. What is left is the kernel's part: the fault, two ptrace stops' wake-ups and
 * the register reads and writes. On a VM, where the two run counts most: a wake-up on
 * the other CPU costs more than the rest, hence the CPUs to pin each to. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Reads *p: the fault is its first instruction, with the return address on top. */
__attribute__((naked, noinline)) static int load(const int *p)
{
	(void)p;
	__asm__ volatile("movl (%rdi), %eax\n\tret\n");
}

static unsigned long long now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

/* The calling process on cpu, when one is given. */
static int pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

static void faults(int rounds, int go, int cpu)
{
	char c;

	if (pin(cpu) || read(go, &c, 1) != 1) /* traced first */
		_exit(1);
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	for (int i = 0; i < rounds; i++) {
		unsigned long long t0 = now();
		int n = load((const int *)1);

		printf("error %d ns=%llu\n", n, now() - t0);
	}
	_exit(fflush(stdout) ? 1 : 0);
}

/* The fault of a stopped child answered: its call returns -1. */
static int rescue(pid_t child)
{
	struct user_regs_struct regs;
	siginfo_t si;
	long ret;

	if (ptrace(PTRACE_GETSIGINFO, child, NULL, &si) || ptrace(PTRACE_GETREGS, child, NULL, &regs))
		return -1;
	errno = 0;
	ret = ptrace(PTRACE_PEEKDATA, child, (void *)regs.rsp, NULL);
	if (errno)
		return -1;
	regs.rip = (unsigned long long)ret;
	regs.rsp += 8;
	regs.rax = (unsigned long long)-1;
	return (int)ptrace(PTRACE_SETREGS, child, NULL, &regs);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 1000, go[2], sfd, ep, status;
	int tracer_cpu = argc > 3 ? atoi(argv[2]) : -1, target_cpu = argc > 3 ? atoi(argv[3]) : -1;
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t chld;
	pid_t child;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (rounds <= 0 || pin(tracer_cpu) || pipe(go) || sigprocmask(SIG_BLOCK, &chld, NULL) ||
	    (sfd = signalfd(-1, &chld, SFD_NONBLOCK)) < 0 || (ep = epoll_create1(0)) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev)) {
		perror("ptrace_floor");
		return 1;
	}
	if ((child = fork()) == 0)
		faults(rounds, go[0], target_cpu);
	if (child < 0 || ptrace(PTRACE_SEIZE, child, NULL, NULL) || write(go[1], "g", 1) != 1) {
		perror("ptrace_floor: trace the child");
		return 1;
	}
	for (;;) {
		struct signalfd_siginfo si;
		pid_t w = waitpid(child, &status, __WALL | WNOHANG);
		int sig = 0;

		if (w == 0) { /* nothing yet: wait as salved's loop does */
			epoll_wait(ep, &ev, 1, -1);
			while (read(sfd, &si, sizeof(si)) > 0)
				;
			continue;
		}
		if (w < 0 || WIFEXITED(status) || WIFSIGNALED(status))
			break;
		if (status >> 16 == 0 && WSTOPSIG(status) == SIGSEGV) {
			if (rescue(child)) {
				perror("ptrace_floor: rescue");
				sig = SIGSEGV;
			}
		} else if (status >> 16 == 0) {
			sig = WSTOPSIG(status);
		}
		ptrace(PTRACE_CONT, child, NULL, (void *)(intptr_t)sig);
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
