// SPDX-License-Identifier: GPL-2.0
/* sessions: latency probes as one uprobe session program (kernel 6.13 and later). The
 * program runs at the function's entry and again at its return, and the two share a
 * cookie of the call's own: the entry time goes there, so no map is looked up to pair
 * them, recursion and threads cannot mix calls up, and a call left by longjmp simply
 * never returns. salved loads this family only where the kernel takes it, and falls
 * back to the uprobe and uretprobe pair of the functions family elsewhere. */
#include "salve.bpf.h"
#include "latency.bpf.h"

char LICENSE[] SEC("license") = "GPL";

extern __u64 *bpf_session_cookie(void) __ksym;
extern bool bpf_session_is_return(void) __ksym;

/* Attached by salved as BPF_TRACE_UPROBE_SESSION (libbpf 1.1 knows no section for it). */
SEC("kprobe")
int salve_fn_session(struct pt_regs *ctx)
{
	__u64 *start = bpf_session_cookie();
	__u64 now = bpf_ktime_get_ns();

	if (!bpf_session_is_return()) {
		*start = now;
		return 0; /* 0: run again at the return */
	}
	return salve_latency_done(ctx, bpf_get_attach_cookie(ctx), now - *start);
}
