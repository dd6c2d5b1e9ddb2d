/* override: what a register-write override does, keyed by its uprobe's cookie
 * (bpf/override.bpf.c). Includes nothing: BPF code includes vmlinux.h first, user space
 * <linux/types.h>. */
#ifndef SALVE_OVERRIDE_H
#define SALVE_OVERRIDE_H

#define SALVE_OVERRIDE_VALUES 16

/* The test of "when", on the argument register read as a long. */
enum salve_override_op {
	SALVE_OV_LT,
	SALVE_OV_LE,
	SALVE_OV_GT,
	SALVE_OV_GE,
	SALVE_OV_EQ,
	SALVE_OV_NE,
	SALVE_OV_IN,
};

struct salve_override_cfg {
	__s64 ret;                            /* what the function returns */
	__s64 values[SALVE_OVERRIDE_VALUES];  /* of the test */
	__u32 n_values;                       /* 0: every call is overridden */
	__u8 arg;                             /* 0 to 5: rdi, rsi, rdx, rcx, r8, r9 */
	__u8 op;                              /* enum salve_override_op */
	__u16 pad;
};

#endif
