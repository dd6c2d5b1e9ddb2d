/* Process scope, decided in the kernel so processes out of scope cost a few lookups.
 * salved fills the sets from the policies' scopes: each entry maps to the mask of the
 * policies that name it. A process belongs to the policies with an empty scope and to
 * those whose entries it matches; with no policy it is not recorded at all. */
#ifndef SALVE_SCOPE_BPF_H
#define SALVE_SCOPE_BPF_H

#include "events.bpf.h"

#define SALVE_SCOPE_ENTRIES 1024
#define SALVE_CGROUP_DEPTH 16 /* ancestors checked, so a unit's child cgroups count */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SALVE_SCOPE_ENTRIES);
	__type(key, __u64);
	__type(value, __u64);
} salve_scope_cgrp SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SALVE_SCOPE_ENTRIES);
	__type(key, struct salve_exe_key);
	__type(value, __u64);
} salve_scope_exe SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SALVE_SCOPE_ENTRIES);
	__type(key, char[SALVE_COMM_LEN]);
	__type(value, __u64);
} salve_scope_comm SEC(".maps");

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

static __always_inline __u64 salve_mask_of(void *map, const void *key)
{
	__u64 *mask = bpf_map_lookup_elem(map, key);

	return mask ? *mask : 0;
}

/* The cgroup and its ancestors, so a unit's child cgroups count as the unit. */
static __always_inline __u64 salve_cgroup_mask(struct task_struct *task)
{
	struct kernfs_node *kn = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn);
	__u64 mask = 0;

	for (int i = 0; i < SALVE_CGROUP_DEPTH && kn; i++) {
		__u64 id = BPF_CORE_READ(kn, id);

		mask |= salve_mask_of(&salve_scope_cgrp, &id);
		kn = salve_kn_parent(kn);
	}
	return mask;
}

static __always_inline __u64 salve_exe_mask(struct task_struct *task)
{
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	struct salve_exe_key key = {};

	if (!exe)
		return 0;
	key.dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
	key.ino = BPF_CORE_READ(exe, f_inode, i_ino);
	return salve_mask_of(&salve_scope_exe, &key);
}

static __always_inline __u64 salve_comm_mask(const char *task_comm)
{
	char comm[SALVE_COMM_LEN] = {};

	bpf_probe_read_kernel_str(comm, sizeof(comm), task_comm);
	return salve_mask_of(&salve_scope_comm, comm);
}

/* Scope masks of processes that hot probes (syscalls) have seen, so a syscall costs
 * one lookup; exec and exit forget a process, salved clears it all on reload. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} salve_scope_cache SEC(".maps");

/* The policies whose scope holds task; 0 means none. */
static __always_inline __u64 salve_scope_mask(const struct salve_config *cfg,
					      struct task_struct *task)
{
	__u64 mask = cfg->unscoped;

	if (cfg->scope & SALVE_SCOPE_EXE)
		mask |= salve_exe_mask(task);
	if (cfg->scope & SALVE_SCOPE_CGROUP)
		mask |= salve_cgroup_mask(task);
	if (cfg->scope & SALVE_SCOPE_COMM)
		mask |= salve_comm_mask(task->comm);
	return mask;
}

#endif
