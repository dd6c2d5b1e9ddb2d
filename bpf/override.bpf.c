// SPDX-License-Identifier: GPL-2.0
/* override: a function made to return a value without running its body, by a uprobe at
 * its entry that writes the registers (Linux 6.18 lets a uprobe program set ax, ip and
 * sp): the value in rax, the return address popped into ip. Only on the calls whose
 * argument passes the test, when there is one. No text is written and no thread is
 * stopped; the override ends with its uprobe. Loaded only where the kernel allows the
 * writes (kernel/regwrite.c probes for it). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "salve/override.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64); /* the uprobe's cookie */
	__type(value, struct salve_override_cfg);
} salve_overrides SEC(".maps");

/* Every argument register read at its own constant offset (the verifier allows no
 * other access to the context), then the one asked for. */
static __always_inline __s64 arg_of(const struct pt_regs *ctx, __u8 n)
{
	__s64 args[6] = { ctx->di, ctx->si, ctx->dx, ctx->cx, ctx->r8, ctx->r9 };

	return args[n < 6 ? n : 5];
}

static __always_inline bool passes(const struct salve_override_cfg *o, __s64 v)
{
	switch (o->op) {
	case SALVE_OV_LT: return v < o->values[0];
	case SALVE_OV_LE: return v <= o->values[0];
	case SALVE_OV_GT: return v > o->values[0];
	case SALVE_OV_GE: return v >= o->values[0];
	case SALVE_OV_EQ: return v == o->values[0];
	case SALVE_OV_NE: return v != o->values[0];
	default:
		for (__u32 i = 0; i < SALVE_OVERRIDE_VALUES; i++)
			if (i < o->n_values && v == o->values[i])
				return true;
		return false;
	}
}

SEC("uprobe")
int salve_override(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx), ret_addr;
	const struct salve_override_cfg *o = bpf_map_lookup_elem(&salve_overrides, &cookie);

	if (!o || (o->n_values && !passes(o, arg_of(ctx, o->arg))))
		return 0;
	/* At the entry, the return address is on top of the stack. */
	if (bpf_probe_read_user(&ret_addr, sizeof(ret_addr), (void *)ctx->sp))
		return 0;
	ctx->ax = o->ret;
	ctx->ip = ret_addr;
	ctx->sp += 8;
	return 0;
}
