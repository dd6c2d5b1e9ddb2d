/* The kernel's floor for a latency probe timed by a uprobe session: a session program
 * that does nothing, run at the entry and (returning 0) again at the return. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("kprobe") /* attached as BPF_TRACE_UPROBE_SESSION by floor */
int floor_session(void *ctx)
{
	return 0;
}
