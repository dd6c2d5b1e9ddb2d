/* User stacks that can be named after the process is gone: every frame is mapped, in
 * the kernel, to the file it runs in and its offset there, and each distinct file is
 * named by walking its dentries up to the root (crossing mounts). */
#ifndef SALVE_STACK_BPF_H
#define SALVE_STACK_BPF_H

#include "events.bpf.h"

#define SALVE_PATH_DEPTH 32 /* path components and mount crossings walked */

/* Scratch twice a path long: each component is written at an offset below
 * SALVE_PATH_MAX with a constant length, which the verifier can bound. */
struct salve_path_scratch {
	char buf[SALVE_PATH_MAX * 2];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct salve_path_scratch);
} salve_path_buf SEC(".maps");

/* One step of the walk from a dentry up to the root, for bpf_loop: the verifier checks
 * a callback once, where an unrolled walk's branches multiply. */
struct salve_walk {
	__u64 dentry;     /* struct dentry * */
	__u64 mnt;        /* struct mount * */
	__u32 off;        /* bytes written to the scratch buffer */
	__u32 truncated;  /* 0 once the root is reached */
};

static long salve_walk_step(__u32 i, void *data)
{
	struct salve_walk *w = data;
	struct dentry *d = (struct dentry *)w->dentry, *parent;
	struct mount *mnt = (struct mount *)w->mnt, *mnt_parent;
	struct salve_path_scratch *s;
	__u32 zero = 0, off = w->off;
	long n;

	parent = BPF_CORE_READ(d, d_parent);
	if (d == BPF_CORE_READ(mnt, mnt.mnt_root) || d == parent) {
		/* The top of this mount: go on from where it is mounted. */
		mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
		if (mnt_parent == mnt || d == parent) {
			w->truncated = 0;
			return 1;
		}
		w->dentry = (__u64)BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = (__u64)mnt_parent;
		return 0;
	}
	s = bpf_map_lookup_elem(&salve_path_buf, &zero);
	if (!s || off >= SALVE_PATH_MAX - 1)
		return 1;
	n = bpf_probe_read_kernel_str(&s->buf[off & (SALVE_PATH_MAX - 1)], SALVE_PATH_MAX,
				      BPF_CORE_READ(d, d_name.name));
	if (n <= 1)
		return 1;
	off += n; /* n counts the NUL, which becomes the separator */
	s->buf[(off - 1) & (SALVE_PATH_MAX * 2 - 1)] = '/';
	w->off = off;
	w->dentry = (__u64)parent;
	return 0;
}

/* Name file into m: dev, inode and the path, components leaf first. */
static __noinline void salve_fill_module(struct salve_module *m, struct file *file)
{
	struct salve_walk w = { .truncated = 1 };
	struct salve_path_scratch *s;
	struct vfsmount *vmnt;
	__u32 zero = 0, off;

	if (!m || !file)
		return;
	m->dev = BPF_CORE_READ(file, f_inode, i_sb, s_dev);
	m->ino = BPF_CORE_READ(file, f_inode, i_ino);
	m->path_flags = SALVE_PATH_TRUNCATED;
	m->path[0] = 0;
	vmnt = BPF_CORE_READ(file, f_path.mnt);
	w.dentry = (__u64)BPF_CORE_READ(file, f_path.dentry);
	w.mnt = (__u64)((void *)vmnt - bpf_core_field_offset(struct mount, mnt));
	bpf_loop(SALVE_PATH_DEPTH, salve_walk_step, &w, 0);
	s = bpf_map_lookup_elem(&salve_path_buf, &zero);
	if (!s)
		return;
	off = w.off;
	if (off >= SALVE_PATH_MAX) {
		off = SALVE_PATH_MAX - 1;
		w.truncated = 1;
	}
	s->buf[off & (SALVE_PATH_MAX * 2 - 1)] = 0;
	bpf_probe_read_kernel(m->path, SALVE_PATH_MAX, s->buf);
	m->path_flags = w.truncated ? SALVE_PATH_TRUNCATED : 0;
}

struct salve_vma_ctx {
	__u64 start;
	__u64 end;
	__u64 pgoff;
	__u64 file; /* struct file *, kept as a number: only compared and read through */
};

static long salve_vma_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct salve_vma_ctx *c = data;

	c->start = vma->vm_start;
	c->end = vma->vm_end;
	c->pgoff = vma->vm_pgoff;
	c->file = (__u64)vma->vm_file;
	return 0;
}

/* At a function's first instruction its frame is not built yet, so a frame-pointer
 * walk skips the caller: put the return address the call left on top of the stack in
 * as the second frame. */
static __always_inline __u32 salve_add_caller(struct pt_regs *regs, struct salve_stack *st,
					      __u32 nr)
{
	__u64 ret;

	if (!nr || bpf_probe_read_user(&ret, sizeof(ret), (void *)PT_REGS_SP(regs)))
		return nr;
	for (int i = SALVE_STACK_MAX - 1; i > 1; i--)
		st->ip[i] = st->ip[i - 1];
	st->ip[1] = ret;
	return nr < SALVE_STACK_MAX ? nr + 1 : nr;
}

/* Capture current's user stack into st. Runs in the context of the thread whose
 * stack it is, so the frames and mappings are its own. at_entry: ctx is a uprobe at a
 * function's first instruction. */
static __always_inline void salve_capture_stack(void *ctx, struct salve_stack *st, bool at_entry)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 files[SALVE_MODULES_MAX] = {};
	struct salve_vma_ctx vc = {};
	__u32 nr = 0, nmod = 0;
	long bytes;

	bytes = bpf_get_stack(ctx, st->ip, sizeof(st->ip), BPF_F_USER_STACK);
	if (bytes <= 0)
		return;
	nr = bytes / sizeof(__u64);
	if (at_entry)
		nr = salve_add_caller(ctx, st, nr);
	st->nr_frames = nr;
	for (__u32 i = 0; i < SALVE_STACK_MAX; i++) {
		__u32 j;

		if (i >= nr)
			break;
		st->module[i] = SALVE_MODULE_NONE;
		/* A frame in the mapping found last needs no lookup: where interrupts are off
		 * (a fault caught at signal_generate) the kernel allows only one. */
		if (!vc.file || st->ip[i] < vc.start || st->ip[i] >= vc.end) {
			vc.file = 0;
			if (bpf_find_vma(task, st->ip[i], salve_vma_cb, &vc, 0) || !vc.file)
				continue;
		}
		st->file_off[i] = st->ip[i] - vc.start + (vc.pgoff << salve_page_shift);
		for (j = 0; j < SALVE_MODULES_MAX; j++) {
			if (j == nmod) {
				files[j] = vc.file;
				nmod++;
				break;
			}
			if (files[j] == vc.file)
				break;
		}
		if (j < SALVE_MODULES_MAX)
			st->module[i] = j;
	}
	st->nr_modules = nmod;
	for (__u32 j = 0; j < SALVE_MODULES_MAX; j++) {
		if (j >= nmod)
			break;
		salve_fill_module(&st->modules[j], (struct file *)files[j]);
	}
}

extern int bpf_iter_task_vma_new(struct bpf_iter_task_vma *it, struct task_struct *task,
				 __u64 addr) __ksym;
extern struct vm_area_struct *bpf_iter_task_vma_next(struct bpf_iter_task_vma *it) __ksym;
extern void bpf_iter_task_vma_destroy(struct bpf_iter_task_vma *it) __ksym;
extern int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) __ksym;
extern int *bpf_iter_num_next(struct bpf_iter_num *it) __ksym;
extern void bpf_iter_num_destroy(struct bpf_iter_num *it) __ksym;
extern int bpf_probe_read_user_dynptr(struct bpf_dynptr *dptr, __u32 off, __u32 size,
				      const void *unsafe_ptr__ign) __ksym;

#define SALVE_VM_EXEC 0x4
#define SALVE_USTACK_PAGE 4096 /* the stack is read a page at a time */

/* The executable file mappings of the snapshot being taken, collected before its
 * record is reserved (that needs their count), and the one being named. Per CPU: a
 * snapshot is taken by a program that does not migrate. */
struct salve_maps_scratch {
	struct salve_vma_ctx vma[SALVE_MAPS_MAX];
	struct salve_map map; /* the next one written to the record */
	__u32 n;
	__u32 truncated;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct salve_maps_scratch);
} salve_maps_buf SEC(".maps");

/* Collect the executable file mappings of current, in address order, into the scratch;
 * returns how many. One lock of the mm for the whole walk (the iterator's). A global
 * function: the verifier checks it once. */
__noinline int salve_maps_collect(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct bpf_iter_task_vma it;
	struct vm_area_struct *vma;
	struct salve_maps_scratch *m;
	__u32 zero = 0, n = 0;

	m = bpf_map_lookup_elem(&salve_maps_buf, &zero);
	if (!m)
		return 0;
	m->truncated = 0;
	/* No counter of the mappings walked: the verifier sees the iterator end, where a
	 * counter would have it walk every value. */
	if (bpf_iter_task_vma_new(&it, task, 0) == 0) {
		while ((vma = bpf_iter_task_vma_next(&it))) {
			struct file *f = vma->vm_file;

			if (!f || !(vma->vm_flags & SALVE_VM_EXEC))
				continue;
			if (n >= SALVE_MAPS_MAX) {
				m->truncated = 1;
				break;
			}
			m->vma[n & (SALVE_MAPS_MAX - 1)].start = vma->vm_start;
			m->vma[n & (SALVE_MAPS_MAX - 1)].end = vma->vm_end;
			m->vma[n & (SALVE_MAPS_MAX - 1)].pgoff = vma->vm_pgoff;
			m->vma[n & (SALVE_MAPS_MAX - 1)].file = (__u64)f;
			n++;
		}
	}
	bpf_iter_task_vma_destroy(&it);
	m->n = n;
	return n;
}

/* Mapping i of those collected, named by its file, into the scratch's map. Named after
 * the walk, outside the mm lock: each file is pinned by its mapping, which the thread
 * being looked at cannot drop while it is here. A global function: checked once. */
__noinline int salve_maps_name(__u32 i)
{
	struct salve_maps_scratch *m;
	__u32 zero = 0;

	m = bpf_map_lookup_elem(&salve_maps_buf, &zero);
	if (!m || i >= SALVE_MAPS_MAX)
		return -1;
	m->map.start = m->vma[i].start;
	m->map.end = m->vma[i].end;
	m->map.pgoff = m->vma[i].pgoff;
	salve_fill_module(&m->map.file, (struct file *)m->vma[i].file);
	return 0;
}

/* Write the n mappings collected into dp from off on. */
static __always_inline bool salve_maps_write(struct bpf_dynptr *dp, __u32 off, __u32 n)
{
	struct salve_maps_scratch *m;
	struct bpf_iter_num it;
	__u32 zero = 0;
	bool ok = true;
	int *at;

	m = bpf_map_lookup_elem(&salve_maps_buf, &zero);
	if (!m)
		return false;
	/* An open-coded loop: the verifier checks its body until its state repeats, not
	 * once per mapping. */
	bpf_iter_num_new(&it, 0, n);
	while ((at = bpf_iter_num_next(&it))) {
		__u32 i = *at;

		if (salve_maps_name(i) ||
		    bpf_dynptr_write(dp, off + i * sizeof(struct salve_map), &m->map, sizeof(m->map), 0)) {
			ok = false;
			break;
		}
	}
	bpf_iter_num_destroy(&it);
	return ok;
}

/* How many bytes of stack a snapshot of sp copies, at most want: up to the end of the
 * stack's mapping (a read past it would fault). */
static __always_inline __u32 salve_snapshot_len(struct task_struct *task, __u64 sp, __u32 want)
{
	struct salve_vma_ctx vc = {};
	__u64 end, len;

	if (!sp || bpf_find_vma(task, sp, salve_vma_cb, &vc, 0) || vc.end <= sp)
		end = (sp | (SALVE_USTACK_PAGE - 1)) + 1;
	else
		end = vc.end;
	len = end - sp;
	if (len > want)
		len = want;
	if (len > SALVE_USTACK_MAX)
		len = SALVE_USTACK_MAX;
	return len & ~7u; /* whole words: records stay aligned */
}

/* The registers CFI needs of current into s. A global function: the verifier checks
 * it once, on its own, not again on every path of each probe that takes a snapshot
 * (beside a frame-pointer walk, that would outgrow what the verifier explores). */
__noinline int salve_snapshot_fill(struct salve_snapshot *s)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);

	if (!s)
		return 0;
	for (int i = 0; i < SALVE_REGS_NR; i++)
		s->regs[i] = 0;
	if (!regs)
		return 0;
#if defined(__TARGET_ARCH_x86)
	s->regs[SALVE_REG_IP] = BPF_CORE_READ(regs, ip);
	s->regs[SALVE_REG_SP] = BPF_CORE_READ(regs, sp);
	s->regs[SALVE_REG_BP] = BPF_CORE_READ(regs, bp);
	s->regs[SALVE_REG_BX] = BPF_CORE_READ(regs, bx);
	s->regs[SALVE_REG_R12] = BPF_CORE_READ(regs, r12);
	s->regs[SALVE_REG_R13] = BPF_CORE_READ(regs, r13);
	s->regs[SALVE_REG_R14] = BPF_CORE_READ(regs, r14);
	s->regs[SALVE_REG_R15] = BPF_CORE_READ(regs, r15);
#endif
	return 0;
}

/* Copy len bytes of user stack from sp into dp at off, a page at a time, up to the first
 * page that cannot be read without a fault (a read of them all at once fails whole):
 * what lies below it still unwinds. Returns the bytes copied. */
static __always_inline __u32 salve_snapshot_stack(struct bpf_dynptr *dp, __u32 off, __u64 sp,
						  __u32 len)
{
	__u32 done = 0;

	for (int i = 0; i <= SALVE_USTACK_MAX / SALVE_USTACK_PAGE; i++) {
		__u32 chunk = SALVE_USTACK_PAGE - ((sp + done) & (SALVE_USTACK_PAGE - 1));

		if (done >= len)
			break;
		if (chunk > len - done)
			chunk = len - done;
		if (bpf_probe_read_user_dynptr(dp, off + done, chunk, (void *)(sp + done)))
			break;
		done += chunk;
	}
	return done;
}

/* Reserve in dp a record of kind whose base bytes (the kind's own record, for the caller
 * to fill past its header) are followed by the snapshot of current (task): its
 * registers, its executable mappings and up to stack_bytes of its stack, for salved's
 * CFI unwinder. Returns the record, or NULL when the ring is full (dp is then
 * discarded). The caller submits dp. A snapshot is taken in process context with
 * interrupts on, where the kernel lets the mappings be walked. */
static __always_inline void *salve_reserve_snapshot(struct bpf_dynptr *dp, struct salve_counters *c,
						    __u32 kind, const __u32 base, __u32 stack_bytes,
						    __u32 held, __u64 policies, __u32 gen,
						    struct task_struct *task)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	const __u32 at_maps = base + sizeof(struct salve_snapshot);
	struct salve_maps_scratch *ms;
	struct salve_event_hdr *hdr;
	struct salve_snapshot *s;
	__u64 sp = regs ? BPF_CORE_READ(regs, sp) : 0;
	__u32 len = salve_snapshot_len(task, sp, stack_bytes), size, zero = 0;
	__u32 n = salve_maps_collect(), at_stack;

	if (n > SALVE_MAPS_MAX)
		n = SALVE_MAPS_MAX;
	at_stack = at_maps + n * sizeof(struct salve_map);
	size = at_stack + len;
	if (bpf_ringbuf_reserve_dynptr(&salve_events, size, 0, dp)) {
		bpf_ringbuf_discard_dynptr(dp, 0);
		c->lost++;
		return NULL;
	}
	/* The stack and the mappings first: a write to the ring would leave a slice taken
	 * before it stale. */
	len = salve_snapshot_stack(dp, at_stack, sp, len);
	ms = bpf_map_lookup_elem(&salve_maps_buf, &zero);
	if (!salve_maps_write(dp, at_maps, n) || !ms ||
	    !(hdr = bpf_dynptr_data(dp, 0, at_maps))) {
		bpf_ringbuf_discard_dynptr(dp, 0);
		c->lost++;
		return NULL;
	}
	s = (void *)hdr + base;
	salve_snapshot_fill(s);
	s->size = len;
	s->nr_maps = n;
	s->flags = ms->truncated ? SALVE_SNAP_MAPS_TRUNCATED : 0;
	hdr->kind = kind;
	hdr->size = size;
	hdr->version = SALVE_EVENT_VERSION;
	hdr->flags = SALVE_HDR_SNAPSHOT;
	hdr->policies = policies;
	hdr->gen = gen;
	hdr->suppressed = held;
	hdr->boot_ns = bpf_ktime_get_boot_ns();
	return hdr;
}

/* Ring-buffer memory is not zeroed: a module left unnamed must say so. */
static __always_inline void salve_module_clear(struct salve_module *m)
{
	m->dev = 0;
	m->ino = 0;
	m->path_flags = 0;
	m->path[0] = 0;
}

/* The binary a task runs; left empty for a kernel thread or an mm already gone. */
static __always_inline void salve_fill_exe(struct salve_module *m, struct task_struct *task)
{
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);

	salve_module_clear(m);
	if (exe)
		salve_fill_module(m, exe);
}

#endif
