/* The kernel's floor for a probe: programs that do nothing, attached where salve's
 * would be, so the benchmark measures what the uprobe machinery itself costs. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("uprobe")
int floor_entry(void *ctx)
{
	return 0;
}

SEC("uretprobe")
int floor_return(void *ctx)
{
	return 0;
}
