/* Process scope, decided in the kernel so processes out of scope cost a few lookups.
 * salved fills the sets from the policies' scopes: each entry maps to the policies
 * that name it, to include or to exclude. A process belongs to the policies with no
 * inclusions and to those it matches in every kind of set they list, less those whose
 * exclusions it matches; with no policy it is not recorded at all. */
#ifndef SALVE_SCOPE_BPF_H
#define SALVE_SCOPE_BPF_H

#include "events.bpf.h"

#define SALVE_SCOPE_ENTRIES 1024
#define SALVE_CGROUP_DEPTH 16 /* ancestors checked, so a unit's child cgroups count */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SALVE_SCOPE_ENTRIES);
	__type(key, __u64);
	__type(value, struct salve_scope_slots);
} salve_scope_cgrp SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SALVE_SCOPE_ENTRIES);
	__type(key, struct salve_exe_key);
	__type(value, struct salve_scope_slots);
} salve_scope_exe SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SALVE_SCOPE_ENTRIES);
	__type(key, char[SALVE_COMM_LEN]);
	__type(value, struct salve_scope_slots);
} salve_scope_comm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SALVE_SCOPE_ENTRIES);
	__type(key, __u32);
	__type(value, struct salve_scope_slots);
} salve_scope_uid SEC(".maps");

/* kernfs_node.parent became __parent in 6.15; CO-RE picks whichever this kernel has. */
struct kernfs_node___old {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

static __always_inline struct kernfs_node *salve_kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(kn->__parent))
		return BPF_CORE_READ(kn, __parent);
	return BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
}

/* What the entry at key means to the configuration in slot. */
static __always_inline void salve_scope_add(void *map, const void *key, __u32 slot,
					    struct salve_scope_val *acc)
{
	struct salve_scope_slots *v = bpf_map_lookup_elem(map, key);

	if (v) {
		acc->include |= v->slot[slot & 1].include;
		acc->exclude |= v->slot[slot & 1].exclude;
	}
}

/* The cgroup and its ancestors, so a unit's child cgroups count as the unit. */
static __always_inline void salve_cgroup_scope(struct task_struct *task, __u32 slot,
					       struct salve_scope_val *acc)
{
	struct kernfs_node *kn = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn);

	for (int i = 0; i < SALVE_CGROUP_DEPTH && kn; i++) {
		__u64 id = BPF_CORE_READ(kn, id);

		salve_scope_add(&salve_scope_cgrp, &id, slot, acc);
		kn = salve_kn_parent(kn);
	}
}

static __always_inline void salve_exe_scope(struct task_struct *task, __u32 slot,
					    struct salve_scope_val *acc)
{
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	struct salve_exe_key key = {};

	if (!exe)
		return;
	key.dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
	key.ino = BPF_CORE_READ(exe, f_inode, i_ino);
	salve_scope_add(&salve_scope_exe, &key, slot, acc);
}

static __always_inline void salve_comm_scope(const char *task_comm, __u32 slot,
					     struct salve_scope_val *acc)
{
	char comm[SALVE_COMM_LEN] = {};

	bpf_probe_read_kernel_str(comm, sizeof(comm), task_comm);
	salve_scope_add(&salve_scope_comm, comm, slot, acc);
}

/* The real uid, as ps shows it. */
static __always_inline void salve_uid_scope(struct task_struct *task, __u32 slot,
					    struct salve_scope_val *acc)
{
	__u32 uid = BPF_CORE_READ(task, real_cred, uid.val);

	salve_scope_add(&salve_scope_uid, &uid, slot, acc);
}

/* Scope masks of processes that hot probes (syscalls) have seen, so a syscall costs
 * one lookup; exec and exit forget a process, and a mask of another generation is
 * computed anew. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct salve_scope_cached);
} salve_scope_cache SEC(".maps");

/* Narrow in to the policies this kind of set lets through (those that match one of
 * its entries, and those that list none of its kind); collect its exclusions. */
static __always_inline void salve_scope_narrow(const struct salve_config *cfg, int idx,
					       const struct salve_scope_val *v, __u64 *in, __u64 *out)
{
	*in &= v->include | ~cfg->needs[idx];
	*out |= v->exclude;
}

/* The policies whose scope holds task; 0 means none. */
static __always_inline __u64 salve_scope_mask(const struct salve_config *cfg,
					      struct task_struct *task)
{
	__u64 in = cfg->scoped, out = 0;
	struct salve_scope_val v;

	if (cfg->scope & SALVE_SCOPE_CGROUP) {
		v = (struct salve_scope_val){};
		salve_cgroup_scope(task, cfg->slot, &v);
		salve_scope_narrow(cfg, 0, &v, &in, &out);
	}
	if (cfg->scope & SALVE_SCOPE_EXE) {
		v = (struct salve_scope_val){};
		salve_exe_scope(task, cfg->slot, &v);
		salve_scope_narrow(cfg, 1, &v, &in, &out);
	}
	if (cfg->scope & SALVE_SCOPE_COMM) {
		v = (struct salve_scope_val){};
		salve_comm_scope(task->comm, cfg->slot, &v);
		salve_scope_narrow(cfg, 2, &v, &in, &out);
	}
	if (cfg->scope & SALVE_SCOPE_UID) {
		v = (struct salve_scope_val){};
		salve_uid_scope(task, cfg->slot, &v);
		salve_scope_narrow(cfg, 3, &v, &in, &out);
	}
	return (cfg->unscoped | in) & ~out;
}

/* What a classic tracepoint knows of another process, its comm, decides its scope:
 * the policies that list nothing but comms can be told. */
static __always_inline __u64 salve_comm_scope_mask(const struct salve_config *cfg, const char *comm)
{
	__u64 in = cfg->scoped & ~(cfg->needs[0] | cfg->needs[1] | cfg->needs[3]), out = 0;
	struct salve_scope_val v = {};

	if (cfg->scope & SALVE_SCOPE_COMM) {
		salve_comm_scope(comm, cfg->slot, &v);
		salve_scope_narrow(cfg, 2, &v, &in, &out);
	}
	return (cfg->unscoped | in) & ~out;
}

#endif
