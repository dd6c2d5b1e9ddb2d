// SPDX-License-Identifier: GPL-2.0
/* syscalls: chosen syscalls failing with chosen errnos, in processes in scope. Every
 * syscall exit on the host passes here, so the order is cheapest first: is any syscall
 * probe on, did the call fail, was it a connect a breaker refused (a lookup for refused
 * connects only), is the process in scope (one cached lookup), is the (syscall, errno)
 * pair watched. */
#include "salve.bpf.h"
#include "breaker.bpf.h"
#include "sites.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define MAX_ERRNO 4095

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct salve_sys_key);
	__type(value, __u32); /* site id */
} salve_sys_rules SEC(".maps");

static __always_inline int on_exit(void *ctx, long nr, long ret)
{
	const struct salve_config *cfg = salve_cfg();
	struct salve_sys_key key;
	const struct salve_site *s;
	struct salve_scope_cached *cached;
	__u64 mask;
	__u32 tgid, *id;

	if (!cfg || !salve_kind_on(cfg, SALVE_EV_SYSCALL) || ret >= 0 || ret < -MAX_ERRNO)
		return 0;
	/* salve's own refusal (bpf/breaker.bpf.c), not the service's failure. */
	if (nr == SALVE_NR_CONNECT && ret == -SALVE_ECONNREFUSED && salve_brk_refused())
		return 0;
	tgid = bpf_get_current_pid_tgid() >> 32;
	cached = bpf_map_lookup_elem(&salve_scope_cache, &tgid);
	if (cached && cached->gen == cfg->gen) {
		mask = cached->policies;
	} else {
		struct salve_scope_cached fresh = { .gen = cfg->gen };

		mask = fresh.policies = salve_scope_mask(cfg, bpf_get_current_task_btf());
		bpf_map_update_elem(&salve_scope_cache, &tgid, &fresh, BPF_ANY);
	}
	if (!mask)
		return 0;
	key.nr = nr;
	key.err = -ret;
	id = bpf_map_lookup_elem(&salve_sys_rules, &key);
	if (!id)
		return 0;
	s = bpf_map_lookup_elem(&salve_sites, id);
	if (!s || s->kind != SALVE_SITE_SYSCALL || !(s->policies & mask))
		return 0;
	salve_site_hit(*id);
	return emit_call(ctx, SALVE_EV_SYSCALL, *id, s, ret, 0, nr);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(salve_sys_btf, struct pt_regs *regs, long ret)
{
	return on_exit(ctx, BPF_CORE_READ(regs, orig_ax), ret);
}

SEC("tp/raw_syscalls/sys_exit")
int salve_sys_tp(struct trace_event_raw_sys_exit *args)
{
	return on_exit(args, args->id, args->ret);
}
