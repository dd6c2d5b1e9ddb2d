// SPDX-License-Identifier: GPL-2.0
/* signals: fatal-class signals, with the sender, si_code, the fault address and the
 * receiving thread's user stack mapped to files.
 *
 * signal_generate sees the signal sent; a fatal one is held until its receiver exits
 * (sched_process_exit), where the stack is still the one the signal found and can be
 * mapped in full. A signal the process catches is reported too: a fault the kernel
 * raised (SIGSEGV, SIGBUS, SIGFPE, SIGILL with si_code > 0) whenever a probe wants
 * faults ("faults": "all"), others only for "handled" probes. A fault is raised in the
 * faulting thread, which takes its snapshot as the delivery starts. The BTF tracepoint
 * sees the receiving task and the full siginfo; the classic tracepoint is the fallback
 * and knows only the receiver's pid and comm. */
#include "salve.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define SIGILL 4
#define SIGTRAP 5
#define SIGABRT 6
#define SIGBUS 7
#define SIGFPE 8
#define SIGKILL 9
#define SIGSEGV 11
#define SIG_DFL 0
#define SEND_SIG_PRIV 1
#define SI_USER 0
#define SI_KERNEL 0x80
#define PT_PTRACED 0x1
/* The per-process rate-limit bucket of faults a program catches: a JVM or a GC that
 * takes SIGSEGV as control flow spends its own budget, not that of its real crash. */
#define SIG_FAULT_BUCKET (0x100 | SALVE_EV_SIGNAL)
/* Signals whose si_addr is the faulting address when the kernel raised them. */
#define ADDR_SIGNALS ((1u << SIGILL) | (1u << SIGTRAP) | (1u << SIGBUS) | (1u << SIGFPE) | \
		      (1u << SIGSEGV))

static __always_inline bool wanted(const struct salve_config *cfg, int sig, int result)
{
	if (!salve_kind_on(cfg, SALVE_EV_SIGNAL) || sig <= 0 || sig >= 32 ||
	    !(cfg->signals & (1u << sig)))
		return false;
	/* Already pending, ignored or failed: nothing new reaches the receiver. */
	return result == TRACE_SIGNAL_DELIVERED || result == TRACE_SIGNAL_LOSE_INFO;
}

static __always_inline bool is_fatal(struct task_struct *task, int sig)
{
	if (sig == SIGKILL)
		return true;
	return BPF_CORE_READ(task, sighand, action[(sig - 1) & 63].sa.sa_handler) == SIG_DFL;
}

/* A fatal signal waits here until its receiver exits: there, in process context with
 * interrupts on, its whole stack can be mapped to files (at signal_generate the
 * kernel holds the siglock with interrupts off, which allows one VMA lookup). */
struct pending_sig {
	__u64 boot_ns;
	__u64 addr;
	__u64 policies;
	__s32 signo;
	__s32 code;
	__u32 sender_pid;
	__u32 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); /* receiving tid, or tgid for a signal to the whole process */
	__type(value, struct pending_sig);
} salve_sig_pending SEC(".maps");

/* Emit p's record with the snapshot of task, the receiver, which is current: no
 * frame-pointer walk, the snapshot is what salved unwinds. */
static __always_inline void emit_snapshot(struct salve_counters *c, const struct pending_sig *p,
					  struct task_struct *task, __u32 stack_bytes, __u32 held,
					  __u32 gen)
{
	struct salve_signal_event *e;
	struct bpf_dynptr dp;
	__u32 flags = p->flags;

	e = salve_reserve_snapshot(&dp, c, SALVE_EV_SIGNAL, sizeof(*e), stack_bytes, held,
				   p->policies, gen, task);
	if (!e)
		return;
	salve_fill_task(&e->hdr, task);
	e->hdr.boot_ns = p->boot_ns; /* when it was sent, not when it was written */
	e->signo = p->signo;
	e->code = p->code;
	e->sender_pid = p->sender_pid;
	e->addr = p->addr;
	e->ip = ((struct salve_snapshot *)(e + 1))->regs[SALVE_REG_IP];
	e->stack.nr_frames = 0;
	e->stack.nr_modules = 0;
	salve_fill_exe(&e->exe, task);
	if (e->ip)
		flags |= SALVE_SIG_HAS_IP;
	e->flags = flags;
	bpf_ringbuf_submit_dynptr(&dp, 0);
}

/* A signal the receiver sent itself and catches (a fault, most often) is taken where
 * the kernel holds the siglock with interrupts off and refuses the walk of the
 * mappings. Its snapshot is taken a moment later by a task work, which the kernel runs
 * in the receiver at the start of the signal's delivery: interrupts on, the registers
 * and the stack still those the signal found, the handler not yet entered. */
struct fault_work {
	struct bpf_task_work tw;
	struct pending_sig p;
	__u32 held; /* records the rate limit held back before this one */
	__u32 gen;  /* the configuration that scoped it */
	__u32 stack_bytes;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32); /* receiving tid */
	__type(value, struct fault_work);
} salve_sig_work SEC(".maps");

extern int bpf_task_work_schedule_resume_impl(struct task_struct *task, struct bpf_task_work *tw,
					      void *map__map, bpf_task_work_callback_t callback,
					      void *aux__prog) __ksym;

static int snapshot_work(struct bpf_map *map, void *key, void *value)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct salve_counters *c = salve_counter(SALVE_EV_SIGNAL);
	struct fault_work *w = value;
	struct pending_sig p = w->p;

	if (c && BPF_CORE_READ(task, pid) == *(__u32 *)key)
		emit_snapshot(c, &p, task, w->stack_bytes, w->held, w->gen);
	return 0;
}

/* Whether p's snapshot is now the task work's to take. */
static __always_inline bool defer_snapshot(const struct pending_sig *p, struct task_struct *task,
					   __u32 tid, __u32 stack_bytes, __u32 held, __u32 gen)
{
	struct fault_work w = { .p = *p, .held = held, .gen = gen, .stack_bytes = stack_bytes }, *v;

	if (bpf_map_update_elem(&salve_sig_work, &tid, &w, BPF_ANY))
		return false;
	v = bpf_map_lookup_elem(&salve_sig_work, &tid);
	return v && bpf_task_work_schedule_resume_impl(task, &v->tw, &salve_sig_work,
						       snapshot_work, NULL) == 0;
}

/* Emit the record of p. task is the receiver, or NULL when only its tid and comm are
 * known (classic tracepoint, another process). with_stack: the receiver is current. */
static __always_inline int emit(void *ctx, const struct salve_config *cfg,
				const struct pending_sig *p, struct task_struct *task, __u32 tid,
				const char *comm, bool with_stack, __u32 bucket)
{
	struct salve_counters *c = salve_counter(SALVE_EV_SIGNAL);
	bool snapshot = with_stack && task && (cfg->stack & (1u << SALVE_EV_SIGNAL));
	struct salve_signal_event *e;
	__u32 flags = p->flags, held;

	if (!c)
		return 0;
	c->seen++;
	if (!salve_rate_allow(cfg, task ? BPF_CORE_READ(task, tgid) : tid, bucket, &held)) {
		c->suppressed++;
		return 0;
	}
	/* A fatal signal is emitted at its receiver's exit, where the snapshot can be taken
	 * at once; a caught one by the task work, or, where the kernel has none, with the
	 * frame-pointer walk, which needs one mapping lookup per module. */
	if (snapshot && (p->flags & SALVE_SIG_FATAL)) {
		emit_snapshot(c, p, task, cfg->snap_bytes, held, cfg->gen);
		return 0;
	}
	if (snapshot && defer_snapshot(p, task, tid, cfg->snap_bytes, held, cfg->gen))
		return 0;
	e = salve_reserve_held(c, SALVE_EV_SIGNAL, sizeof(*e), held, p->policies, cfg->gen);
	if (!e)
		return 0;
	if (task) {
		salve_fill_task(&e->hdr, task);
	} else {
		e->hdr.pid = tid; /* the best the classic tracepoint knows */
		e->hdr.tid = tid;
		e->hdr.cgroup_id = 0;
		bpf_probe_read_kernel_str(e->hdr.comm, sizeof(e->hdr.comm), comm);
	}
	e->hdr.boot_ns = p->boot_ns; /* when it was sent, not when it was written */
	e->signo = p->signo;
	e->code = p->code;
	e->sender_pid = p->sender_pid;
	e->addr = p->addr;
	e->ip = 0;
	e->stack.nr_frames = 0;
	e->stack.nr_modules = 0;
	if (task)
		salve_fill_exe(&e->exe, task);
	else
		salve_module_clear(&e->exe);
	if (with_stack && (cfg->stack & (1u << SALVE_EV_SIGNAL))) {
		salve_capture_stack(ctx, &e->stack, false);
		if (e->stack.nr_frames) {
			e->ip = e->stack.ip[0];
			flags |= SALVE_SIG_HAS_IP;
		}
	}
	e->flags = flags;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* A signal was sent to task (or, classic tracepoint, to tid). Fatal ones wait for the
 * receiver's exit; caught ones are emitted now. */
static __always_inline int on_generate(void *ctx, const struct salve_config *cfg, int sig,
				       int code, const __u64 *addr, bool group,
				       struct task_struct *task, __u32 tid, const char *comm)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	struct pending_sig p = {
		.boot_ns = bpf_ktime_get_boot_ns(),
		.signo = sig,
		.code = code,
		.sender_pid = bpf_get_current_pid_tgid() >> 32,
	};
	bool self = task ? task == cur : tid == (__u32)bpf_get_current_pid_tgid();
	bool fault = code > 0 && (SALVE_FAULT_SIGNALS & (1u << sig));
	__u32 bucket = SALVE_EV_SIGNAL, key;

	if (self)
		task = cur;
	/* A traced thread's SIGTRAP is its debugger's breakpoint or single step (salved's
	 * own, when it patches): the tracer takes it, the process never sees it. */
	if (task && sig == SIGTRAP && (BPF_CORE_READ(task, ptrace) & PT_PTRACED))
		return 0;
	if (task) {
		if (is_fatal(task, sig)) {
			p.flags |= SALVE_SIG_FATAL;
		} else {
			/* Caught: a fault only where a probe wants caught faults. */
			p.flags |= SALVE_SIG_HANDLED;
			if (fault)
				bucket = SIG_FAULT_BUCKET;
			if (!cfg->signals_handled && !(fault && (cfg->faults & (1u << sig))))
				return 0;
		}
		p.policies = salve_scope_mask(cfg, task);
		tid = BPF_CORE_READ(task, pid);
	} else {
		/* Classic tracepoint, another process: all we know of it is its comm. */
		if (sig == SIGKILL)
			p.flags |= SALVE_SIG_FATAL;
		p.policies = salve_comm_scope_mask(cfg, comm);
	}
	if (!p.policies)
		return 0;
	if (addr && code > 0 && (ADDR_SIGNALS & (1u << sig))) {
		p.addr = *addr;
		p.flags |= SALVE_SIG_HAS_ADDR;
	}
	if (!(p.flags & SALVE_SIG_FATAL))
		return emit(ctx, cfg, &p, task, tid, comm, self, bucket);
	key = group && task ? BPF_CORE_READ(task, tgid) : tid;
	bpf_map_update_elem(&salve_sig_pending, &key, &p, BPF_ANY);
	return 0;
}

SEC("tp_btf/signal_generate")
int BPF_PROG(salve_sig_btf, int sig, struct kernel_siginfo *info, struct task_struct *task,
	     int group, int result)
{
	const struct salve_config *cfg = salve_cfg();
	int code = (unsigned long)info == SEND_SIG_PRIV ? SI_KERNEL : SI_USER;
	__u64 addr = 0;

	if (!cfg || !wanted(cfg, sig, result))
		return 0;
	/* info may be one of the SEND_SIG_* markers, not a pointer. */
	if ((unsigned long)info > SEND_SIG_PRIV) {
		code = BPF_CORE_READ(info, si_code);
		addr = (__u64)BPF_CORE_READ(info, _sifields._sigfault._addr);
	}
	return on_generate(ctx, cfg, sig, code, &addr, group, task, 0, NULL);
}

SEC("tp/signal/signal_generate")
int salve_sig_tp(struct trace_event_raw_signal_generate *args)
{
	const struct salve_config *cfg = salve_cfg();

	if (!cfg || !wanted(cfg, args->sig, args->result))
		return 0;
	/* The classic record has no siginfo: no fault address. */
	return on_generate(args, cfg, args->sig, args->code, NULL, args->group, NULL, args->pid,
			   args->comm);
}

/* A thread exits: if a fatal signal waits for it (or for its process), emit it now
 * with this thread's stack, which is where the signal found it. */
static __always_inline int on_thread_exit(void *ctx)
{
	const struct salve_config *cfg = salve_cfg();
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = id, tgid = id >> 32;
	struct pending_sig *found, p;
	__u32 key = tid;

	if (!cfg)
		return 0;
	found = bpf_map_lookup_elem(&salve_sig_pending, &key);
	if (!found) {
		key = tgid;
		found = bpf_map_lookup_elem(&salve_sig_pending, &key);
		if (!found)
			return 0;
	}
	p = *found;
	/* Only a death by that signal is its crash: a tracer may have taken the signal
	 * away (a debugger's), and the thread ends later for another reason. */
	if ((BPF_CORE_READ(task, exit_code) & 0x7f) != p.signo) {
		if (key == tid)
			bpf_map_delete_elem(&salve_sig_pending, &key);
		return 0;
	}
	bpf_map_delete_elem(&salve_sig_pending, &key);
	return emit(ctx, cfg, &p, task, tid, NULL, true, SALVE_EV_SIGNAL);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(salve_sigx_btf)
{
	return on_thread_exit(ctx);
}

SEC("tp/sched/sched_process_exit")
int salve_sigx_tp(struct trace_event_raw_sched_process_template *args)
{
	return on_thread_exit(args);
}
