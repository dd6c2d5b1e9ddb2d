// SPDX-License-Identifier: GPL-2.0
/* exits: the life of a process around its faults: exit (status, killing signal,
 * core dumped), OOM kills (victim and its memory), exec (new binary).
 *
 * BTF tracepoints where they load; classic tracepoints otherwise. */
#include "salve.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define PAGE_KB (1u << (salve_page_shift - 10))
#define MM_FILEPAGES 0
#define MM_ANONPAGES 1
#define MM_SHMEMPAGES 3

/* ---- exit ----------------------------------------------------------------------- */

static __always_inline int on_exit(struct task_struct *task, bool group_dead)
{
	const struct salve_config *cfg = salve_cfg();
	struct salve_exit_event *e;
	__u64 policies;
	__u32 status;

	if (group_dead) {
		__u32 tgid = BPF_CORE_READ(task, tgid);

		bpf_map_delete_elem(&salve_scope_cache, &tgid);
	}
	if (!cfg || !group_dead || !salve_kind_on(cfg, SALVE_EV_EXIT))
		return 0;
	status = BPF_CORE_READ(task, exit_code);
	if (cfg->exit_nonzero && !status)
		return 0;
	policies = salve_scope_mask(cfg, task);
	if (!policies)
		return 0;
	e = salve_reserve(cfg, SALVE_EV_EXIT, sizeof(*e), BPF_CORE_READ(task, tgid), policies);
	if (!e)
		return 0;
	salve_fill_task(&e->hdr, task);
	/* The last thread to go may not be the leader; the process is the leader, and
	 * its name is the leader's (a worker thread may have named itself). */
	e->hdr.tid = e->hdr.pid;
	bpf_probe_read_kernel_str(e->hdr.comm, sizeof(e->hdr.comm),
				  &task->group_leader->comm);
	e->status = status;
	salve_fill_exe(&e->exe, task);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* "Group dead" is decided once, in do_exit, by the thread whose decrement of
 * signal->live reached zero. Kernels that pass it to the tracepoint (6.16 on: the
 * prototype gained `bool group_dead` together with the record's field) are asked;
 * older ones leave only signal->live, read after the fact: two threads exiting
 * together can both see it at zero, so there the fallback may report twice. */
static __always_inline bool exit_passes_group_dead(void)
{
	return bpf_core_field_exists(struct trace_event_raw_sched_process_exit, group_dead);
}

static __always_inline bool exit_live_zero(struct task_struct *task)
{
	return BPF_CORE_READ(task, signal, live.counter) == 0;
}

SEC("tp_btf/sched_process_exit")
int salve_exit_btf(unsigned long long *ctx)
{
	struct task_struct *task = (void *)ctx[0];

	/* The second argument exists only where the kernel passes it: the verifier
	 * never sees the read on a kernel without it (the branch is a load-time constant). */
	if (exit_passes_group_dead())
		return on_exit(task, (__u8)ctx[1] != 0);
	return on_exit(task, exit_live_zero(task));
}

SEC("tp/sched/sched_process_exit")
int salve_exit_tp(struct trace_event_raw_sched_process_exit *args)
{
	struct task_struct *task = bpf_get_current_task_btf();

	if (exit_passes_group_dead())
		return on_exit(task, args->group_dead != 0);
	return on_exit(task, exit_live_zero(task));
}

/* ---- OOM kill ------------------------------------------------------------------- */

static __always_inline __u64 rss_pages(struct mm_struct *mm, int member)
{
	__s64 n = BPF_CORE_READ(mm, rss_stat[member & 3].count);

	return n > 0 ? n : 0;
}

SEC("tp_btf/mark_victim")
int BPF_PROG(salve_oom_btf, struct task_struct *task)
{
	const struct salve_config *cfg = salve_cfg();
	struct salve_oom_event *e;
	struct mm_struct *mm;
	__u64 policies;

	if (!cfg || !salve_kind_on(cfg, SALVE_EV_OOM))
		return 0;
	policies = salve_scope_mask(cfg, task);
	if (!policies)
		return 0;
	e = salve_reserve(cfg, SALVE_EV_OOM, sizeof(*e), BPF_CORE_READ(task, tgid), policies);
	if (!e)
		return 0;
	salve_fill_task(&e->hdr, task);
	mm = BPF_CORE_READ(task, mm);
	e->total_vm_kb = (__u64)BPF_CORE_READ(mm, total_vm) * PAGE_KB;
	e->anon_rss_kb = rss_pages(mm, MM_ANONPAGES) * PAGE_KB;
	e->file_rss_kb = rss_pages(mm, MM_FILEPAGES) * PAGE_KB;
	e->shmem_rss_kb = rss_pages(mm, MM_SHMEMPAGES) * PAGE_KB;
	e->pgtables_kb = (__u64)BPF_CORE_READ(mm, pgtables_bytes.counter) >> 10;
	e->uid = BPF_CORE_READ(task, cred, uid.val);
	e->oom_score_adj = BPF_CORE_READ(task, signal, oom_score_adj);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* The classic record carries the figures the kernel computed, but only the victim's
 * pid and comm: it goes to the policies that take every process, less those whose
 * exclusions name that comm (other exclusions cannot be told from here). */
SEC("tp/oom/mark_victim")
int salve_oom_tp(struct trace_event_raw_mark_victim *args)
{
	const struct salve_config *cfg = salve_cfg();
	struct salve_oom_event *e;
	char comm[SALVE_COMM_LEN];
	__u64 policies;
	__u32 loc;

	if (!cfg || !salve_kind_on(cfg, SALVE_EV_OOM) || !cfg->unscoped)
		return 0;
	loc = BPF_CORE_READ(args, __data_loc_comm);
	bpf_probe_read_kernel_str(comm, sizeof(comm), (void *)args + (loc & 0xffff));
	policies = salve_comm_scope_mask(cfg, comm) & cfg->unscoped;
	if (!policies)
		return 0;
	e = salve_reserve(cfg, SALVE_EV_OOM, sizeof(*e), args->pid, policies);
	if (!e)
		return 0;
	e->hdr.pid = args->pid;
	e->hdr.tid = args->pid;
	e->hdr.cgroup_id = 0;
	__builtin_memcpy(e->hdr.comm, comm, sizeof(comm));
	e->total_vm_kb = args->total_vm;
	e->anon_rss_kb = args->anon_rss;
	e->file_rss_kb = args->file_rss;
	e->shmem_rss_kb = args->shmem_rss;
	e->pgtables_kb = args->pgtables;
	e->uid = args->uid;
	e->oom_score_adj = args->oom_score_adj;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* ---- exec ----------------------------------------------------------------------- */

static __always_inline int on_exec(__u32 old_tid)
{
	const struct salve_config *cfg = salve_cfg();
	struct task_struct *task = bpf_get_current_task_btf();
	struct salve_exec_event *e;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 policies;

	bpf_map_delete_elem(&salve_scope_cache, &tgid); /* a new binary: scope anew */
	if (!cfg || !salve_kind_on(cfg, SALVE_EV_EXEC))
		return 0;
	policies = salve_scope_mask(cfg, task);
	if (!policies)
		return 0;
	e = salve_reserve(cfg, SALVE_EV_EXEC, sizeof(*e), BPF_CORE_READ(task, tgid), policies);
	if (!e)
		return 0;
	salve_fill_task(&e->hdr, task);
	e->old_tid = old_tid;
	salve_fill_exe(&e->exe, task);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(salve_exec_btf, struct task_struct *p, pid_t old_pid)
{
	return on_exec(old_pid);
}

SEC("tp/sched/sched_process_exec")
int salve_exec_tp(struct trace_event_raw_sched_process_exec *args)
{
	return on_exec(args->old_pid);
}
