/* The maps every salve object shares (salved reuses the first object's fds for the
 * rest) and the helpers that put a record on the ring buffer. */
#ifndef SALVE_EVENTS_BPF_H
#define SALVE_EVENTS_BPF_H

#include "salve/event.h"

#define SALVE_RINGBUF_BYTES (8 << 20)

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SALVE_RINGBUF_BYTES);
} salve_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct salve_config);
} salve_config SEC(".maps");

/* The slot of salve_config (and of every scope entry) in force. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} salve_active SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SALVE_EV_KIND_MAX);
	__type(key, __u32);
	__type(value, struct salve_counters);
} salve_counters SEC(".maps");

/* Token bucket per (tgid, kind): a crash loop or a signal storm costs a bounded number
 * of records; what it holds back is counted and carried by the next record. */
struct salve_rate_key {
	__u32 tgid;
	__u32 kind;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct salve_rate_key);
	__type(value, struct salve_rate);
} salve_rates SEC(".maps");

const volatile char bpf_metadata_salve_ver[] SEC(".rodata") = SALVE_VERSION;
const volatile __u32 salve_page_shift = 12; /* salved sets the running kernel's */

/* The configuration in force; every decision of one program reads this one. */
static __always_inline const struct salve_config *salve_cfg(void)
{
	__u32 zero = 0, *active = bpf_map_lookup_elem(&salve_active, &zero), slot;

	if (!active)
		return NULL;
	slot = *active & 1;
	return bpf_map_lookup_elem(&salve_config, &slot);
}

static __always_inline struct salve_counters *salve_counter(__u32 kind)
{
	return bpf_map_lookup_elem(&salve_counters, &kind);
}

/* Take a token from bucket r, refilled at rate per second up to burst. false: the
 * record is held back, and counted in r->held until a record carries the count. */
static __always_inline bool salve_bucket_take(struct salve_rate *r, __u32 rate, __u32 burst,
					      __u32 *held)
{
	__u64 now = bpf_ktime_get_boot_ns(), last = r->last_ns, burst_milli = (__u64)burst * 1000;

	/* Another CPU may have moved last past this one's now: no credit then. */
	if (now > last) {
		r->tokens_milli += (now - last) / 1000000 * rate;
		/* Only whole milliseconds were credited; keep the remainder for next time. */
		r->last_ns = now - (now - last) % 1000000;
	}
	if (r->tokens_milli > burst_milli)
		r->tokens_milli = burst_milli;
	if (r->tokens_milli < 1000) {
		__sync_fetch_and_add(&r->held, 1);
		return false;
	}
	r->tokens_milli -= 1000;
	*held = __sync_lock_test_and_set(&r->held, 0);
	return true;
}

/* Whether a record of kind for tgid may go out now (the per-process bucket). */
static __always_inline bool salve_rate_allow(const struct salve_config *cfg, __u32 tgid,
					     __u32 kind, __u32 *held)
{
	struct salve_rate_key key = { .tgid = tgid, .kind = kind };
	struct salve_rate *r, fresh = {};

	*held = 0;
	if (!cfg->rate_per_sec)
		return true;
	r = bpf_map_lookup_elem(&salve_rates, &key);
	if (!r) {
		fresh.last_ns = bpf_ktime_get_boot_ns();
		fresh.tokens_milli = (__u64)cfg->burst * 1000 - 1000;
		bpf_map_update_elem(&salve_rates, &key, &fresh, BPF_NOEXIST);
		return true;
	}
	return salve_bucket_take(r, cfg->rate_per_sec, cfg->burst, held);
}

/* Reserve a record that the rate limit let through; counts it as lost when the ring
 * is full. */
static __always_inline void *salve_reserve_held(struct salve_counters *c, __u32 kind, __u32 size,
						__u32 held, __u64 policies, __u32 gen)
{
	struct salve_event_hdr *hdr = bpf_ringbuf_reserve(&salve_events, size, 0);

	if (!hdr) {
		c->lost++;
		return NULL;
	}
	hdr->kind = kind;
	hdr->size = size;
	hdr->version = SALVE_EVENT_VERSION;
	hdr->flags = 0;
	hdr->policies = policies;
	hdr->gen = gen;
	hdr->suppressed = held;
	hdr->boot_ns = bpf_ktime_get_boot_ns();
	return hdr;
}

/* As salve_reserve, rate-limited in the process's bucket named bucket rather than
 * kind's own, so one class of records (faults a program catches) cannot use up the
 * budget of the rest of its kind. */
static __always_inline void *salve_reserve_in(const struct salve_config *cfg, __u32 kind,
					      __u32 bucket, __u32 size, __u32 tgid,
					      __u64 policies)
{
	struct salve_counters *c = salve_counter(kind);
	__u32 held;

	if (!c)
		return NULL;
	c->seen++;
	if (!salve_rate_allow(cfg, tgid, bucket, &held)) {
		c->suppressed++;
		return NULL;
	}
	return salve_reserve_held(c, kind, size, held, policies, cfg->gen);
}

/* Reserve a record of kind for the policies in mask; counts it as seen, and as lost
 * or suppressed when it cannot go out. Returns NULL when the caller must not emit. */
static __always_inline void *salve_reserve(const struct salve_config *cfg, __u32 kind,
					   __u32 size, __u32 tgid, __u64 policies)
{
	return salve_reserve_in(cfg, kind, kind, size, tgid, policies);
}

/* The subject of a record: a task other than current when the kernel acts on it. */
static __always_inline void salve_fill_task(struct salve_event_hdr *hdr, struct task_struct *task)
{
	hdr->pid = BPF_CORE_READ(task, tgid);
	hdr->tid = BPF_CORE_READ(task, pid);
	hdr->cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	bpf_probe_read_kernel_str(hdr->comm, sizeof(hdr->comm), &task->comm);
}

/* The executable's identity, without its path: enough to group calls by binary. */
static __always_inline void salve_fill_exe_id(__u64 *dev, __u64 *ino, struct task_struct *task)
{
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);

	*dev = exe ? BPF_CORE_READ(exe, f_inode, i_sb, s_dev) : 0;
	*ino = exe ? BPF_CORE_READ(exe, f_inode, i_ino) : 0;
}

static __always_inline bool salve_kind_on(const struct salve_config *cfg, __u32 kind)
{
	return cfg->kinds & (1u << kind);
}

#endif
