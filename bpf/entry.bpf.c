// SPDX-License-Identifier: GPL-2.0
/* entry: a process of a binary under repair stopped at its entry point, after the
 * loader has mapped its libraries and before its own code runs, so salved patches it
 * first (repairs outlive processes). The program stops the process with SIGSTOP and
 * tells salved which one, through a ring of its own; a record that cannot be written
 * stops nothing (no process may wait on a salved that was never told). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "salve/entry.h"

char LICENSE[] SEC("license") = "GPL";

#define SIGSTOP 19

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} salve_entry_stops SEC(".maps");

SEC("uprobe")
int salve_entry_stop(struct pt_regs *ctx)
{
	struct salve_entry_stop *e = bpf_ringbuf_reserve(&salve_entry_stops, sizeof(*e), 0);

	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->cookie = bpf_get_attach_cookie(ctx);
	if (bpf_send_signal(SIGSTOP)) {
		bpf_ringbuf_discard(e, 0);
		return 0;
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}
