/* faults: the last kernel-raised fault of each process, for the death that follows. */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "events/faults.h"

bool faults_is_fault(const struct event *ev)
{
	return ev->kind == SALVE_EV_SIGNAL && ev->sig.code > 0 && ev->sig.signo > 0 &&
	       ev->sig.signo < 32 && (SALVE_FAULT_SIGNALS & (1u << ev->sig.signo));
}

static struct fault *find(const struct fault_table *t, uint32_t pid)
{
	for (size_t i = 0; i < FAULTS_MAX; i++)
		if (t->stamp[i] && t->slot[i].pid == pid)
			return (struct fault *)&t->slot[i];
	return NULL;
}

void faults_note(struct fault_table *t, const struct event *ev)
{
	struct fault *f;
	size_t i, oldest = 0;

	if (!faults_is_fault(ev))
		return;
	if (!(f = find(t, ev->pid))) {
		for (i = 0; i < FAULTS_MAX && t->stamp[i]; i++)
			if (t->stamp[i] < t->stamp[oldest])
				oldest = i;
		f = &t->slot[i < FAULTS_MAX ? i : oldest];
	}
	*f = (struct fault){
		.pid = ev->pid,
		.signo = ev->sig.signo,
		.code = ev->sig.code,
		.has_addr = !!(ev->sig.flags & SALVE_SIG_HAS_ADDR),
		.addr = ev->sig.addr,
		.boot_ns = ev->boot_ns,
		.exe_dev = ev->exe.dev,
		.exe_ino = ev->exe.ino,
	};
	t->stamp[f - t->slot] = ++t->notes;
}

const struct fault *faults_cause(const struct fault_table *t, const struct event *ev)
{
	const struct fault *f = find(t, ev->pid);
	int signo;

	if (!f || f->boot_ns > ev->boot_ns)
		return NULL;
	if (ev->kind == SALVE_EV_SIGNAL) {
		/* Raised by the process at itself (raise, kill, tgkill), and fatal. */
		if (ev->sig.code > 0 || ev->sig.sender_pid != ev->pid ||
		    !(ev->sig.flags & SALVE_SIG_FATAL))
			return NULL;
		signo = ev->sig.signo;
	} else if (ev->kind == SALVE_EV_EXIT && WIFSIGNALED(ev->exit.status)) {
		signo = WTERMSIG(ev->exit.status);
	} else {
		return NULL;
	}
	if (signo != f->signo)
		return NULL;
	/* Both know the binary: a pid reused by another program is not the one that faulted. */
	if (f->exe_ino && ev->exe.ino && (f->exe_dev != ev->exe.dev || f->exe_ino != ev->exe.ino))
		return NULL;
	return f;
}

void faults_forget(struct fault_table *t, uint32_t pid)
{
	struct fault *f = find(t, pid);

	if (f)
		t->stamp[f - t->slot] = 0;
}
