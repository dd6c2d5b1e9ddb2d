/* The kernel's floor for a latency probe timed by a uprobe session: a session program
 * that does nothing, run at the entry and (returning 0) again at the return; and the
 * least any latency probe does on top, a clock read at each end with the entry time
 * kept in the call's session cookie. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

extern __u64 *bpf_session_cookie(void) __ksym;
extern bool bpf_session_is_return(void) __ksym;

__u64 floor_total_ns; /* read by no one: keeps the subtraction */

SEC("kprobe") /* attached as BPF_TRACE_UPROBE_SESSION by floor */
int floor_session(void *ctx)
{
	return 0;
}

SEC("kprobe")
int floor_session_clock(void *ctx)
{
	__u64 *start = bpf_session_cookie();
	__u64 now = bpf_ktime_get_ns();

	if (!bpf_session_is_return())
		*start = now;
	else
		floor_total_ns += now - *start;
	return 0;
}
