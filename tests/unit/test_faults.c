/* faults: a death names the fault that began it, only when it is that process's, of
 * that signal, raised by itself; the table stays bounded and forgets on exit. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "events/faults.h"

static struct event fault(uint32_t pid, int signo, int code, uint64_t addr, uint64_t t)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = SALVE_EV_SIGNAL;
	ev.pid = ev.tid = pid;
	ev.boot_ns = t;
	ev.exe.dev = 8;
	ev.exe.ino = 100;
	ev.sig.signo = signo;
	ev.sig.code = code;
	ev.sig.sender_pid = pid;
	ev.sig.flags = SALVE_SIG_HANDLED | SALVE_SIG_HAS_ADDR;
	ev.sig.addr = addr;
	return ev;
}

/* The process raises signo at itself (SI_TKILL) with the default action: it dies of it. */
static struct event reraise(uint32_t pid, int signo, uint64_t t)
{
	struct event ev = fault(pid, signo, -6, 0, t);

	ev.sig.flags = SALVE_SIG_FATAL;
	return ev;
}

static struct event killed(uint32_t pid, int signo, uint64_t t)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = SALVE_EV_EXIT;
	ev.pid = ev.tid = pid;
	ev.boot_ns = t;
	ev.exe.dev = 8;
	ev.exe.ino = 100;
	ev.exit.status = signo | 0x80;
	return ev;
}

static void test_is_fault(void **state)
{
	struct event ev = fault(1, SIGSEGV, 1, 0x10, 1);

	(void)state;
	assert_true(faults_is_fault(&ev));
	ev.sig.code = 0x80; /* SI_KERNEL: a general protection fault */
	assert_true(faults_is_fault(&ev));
	ev.sig.code = -6; /* SI_TKILL: raised by a program */
	assert_false(faults_is_fault(&ev));
	ev = fault(1, SIGTRAP, 1, 0, 1);
	assert_false(faults_is_fault(&ev));
	ev = fault(1, SIGBUS, 2, 0, 1);
	assert_true(faults_is_fault(&ev));
	ev = fault(1, SIGFPE, 1, 0, 1);
	assert_true(faults_is_fault(&ev));
	ev = fault(1, SIGILL, 1, 0, 1);
	assert_true(faults_is_fault(&ev));
}

static void test_reraise_names_last_fault(void **state)
{
	struct fault_table *t = calloc(1, sizeof(*t));
	struct event a = fault(7, SIGSEGV, 1, 0x10, 100), b = fault(7, SIGSEGV, 2, 0x20, 200);
	struct event dead = reraise(7, SIGSEGV, 300), exit = killed(7, SIGSEGV, 400);
	const struct fault *f;

	(void)state;
	assert_non_null(t);
	faults_note(t, &a);
	faults_note(t, &b);
	assert_non_null(f = faults_cause(t, &dead));
	assert_int_equal(f->code, 2);
	assert_int_equal(f->addr, 0x20);
	assert_int_equal(f->boot_ns, 200);
	assert_true(f->has_addr);
	assert_ptr_equal(faults_cause(t, &exit), f);
	/* A fault itself has no cause; nor the death of another process or signal. */
	assert_null(faults_cause(t, &b));
	dead.pid = 8;
	assert_null(faults_cause(t, &dead));
	dead = reraise(7, SIGABRT, 300);
	assert_null(faults_cause(t, &dead));
	/* Sent by another process: not the program's own re-raise. */
	dead = reraise(7, SIGSEGV, 300);
	dead.sig.sender_pid = 1;
	assert_null(faults_cause(t, &dead));
	/* Caught again (not fatal): no death. */
	dead = reraise(7, SIGSEGV, 300);
	dead.sig.flags = SALVE_SIG_HANDLED;
	assert_null(faults_cause(t, &dead));
	/* Another binary under a reused pid. */
	exit.exe.ino = 101;
	assert_null(faults_cause(t, &exit));
	/* An exit by exit(3) follows from no signal. */
	exit = killed(7, SIGSEGV, 400);
	exit.exit.status = 3 << 8;
	assert_null(faults_cause(t, &exit));
	/* Gone: forgotten. */
	exit = killed(7, SIGSEGV, 400);
	faults_forget(t, 7);
	assert_null(faults_cause(t, &exit));
	free(t);
}

static void test_bounded(void **state)
{
	struct fault_table *t = calloc(1, sizeof(*t));
	struct event ev;

	(void)state;
	assert_non_null(t);
	for (uint32_t pid = 1; pid <= FAULTS_MAX + 10; pid++) {
		ev = fault(pid, SIGSEGV, 1, pid, pid);
		faults_note(t, &ev);
	}
	/* The oldest ten went first; the rest are there. */
	for (uint32_t pid = 1; pid <= FAULTS_MAX + 10; pid++) {
		ev = killed(pid, SIGSEGV, 1000000);
		if (pid <= 10)
			assert_null(faults_cause(t, &ev));
		else
			assert_non_null(faults_cause(t, &ev));
	}
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_fault),
		cmocka_unit_test(test_reraise_names_last_fault),
		cmocka_unit_test(test_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
