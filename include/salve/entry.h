/* entry: the record of a process stopped at its entry point for salved to repair.
 * Includes nothing: BPF code includes vmlinux.h first, user space <linux/types.h>. */
#ifndef SALVE_ENTRY_H
#define SALVE_ENTRY_H

struct salve_entry_stop {
	__u32 pid;    /* the process, stopped (SIGSTOP) */
	__u32 cookie; /* the binary's attachment, as salved numbered it */
};

#endif
