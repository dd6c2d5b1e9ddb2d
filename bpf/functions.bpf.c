// SPDX-License-Identifier: GPL-2.0
/* functions: probes on functions of any binary or shared library, one program per
 * probe kind attached at every site of that kind. The site id rides in the BPF cookie;
 * the site's settings are in salve_sites. Each program filters first (the predicate,
 * the threshold) and reads only what the event needs. */
#include "salve.bpf.h"
#include "latency.bpf.h"
#include "sites.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Calls in progress per thread, in a stack of the thread's own (task storage: found
 * from the task, no hash lookup): each timed call's site, entry time and stack pointer.
 * Calls nest, so the exit of a site is the innermost frame with its stack pointer; a
 * frame deeper than the call that returns ended without its return probe (longjmp, an
 * exception unwinding through it) and is dropped. Recursion and threads never mix up
 * calls; calls nested deeper than SALVE_DEPTH_MAX are not timed. */
struct lat_frame {
	__u64 start;
	__u64 sp; /* at entry: it points at the return address */
	__u32 site;
	__u32 pad;
};

_Static_assert((SALVE_DEPTH_MAX & (SALVE_DEPTH_MAX - 1)) == 0, "SALVE_DEPTH_MAX: a power of 2");

struct lat_stack {
	__u32 depth;
	__u32 pad;
	struct lat_frame f[SALVE_DEPTH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct lat_stack);
} salve_lat_stacks SEC(".maps");

static __always_inline bool pred_match(const struct salve_site *s, __s64 v)
{
	switch (s->op) {
	case SALVE_PRED_LT:
		return v < s->values[0];
	case SALVE_PRED_LE:
		return v <= s->values[0];
	case SALVE_PRED_GT:
		return v > s->values[0];
	case SALVE_PRED_GE:
		return v >= s->values[0];
	case SALVE_PRED_EQ:
		return v == s->values[0];
	case SALVE_PRED_NE:
		return v != s->values[0];
	case SALVE_PRED_IN:
		for (int i = 0; i < SALVE_PRED_VALUES; i++) {
			if (i >= s->n_values)
				break;
			if (v == s->values[i])
				return true;
		}
		return false;
	}
	return false;
}

/* The return register read at the site's declared width. */
static __always_inline __s64 ret_value(const struct salve_site *s, __u64 rax)
{
	switch (s->value_type) {
	case SALVE_VALUE_INT:
		return (__s32)rax;
	case SALVE_VALUE_BOOL:
		return (__u8)rax;
	default:
		return (__s64)rax;
	}
}

SEC("uretprobe")
int BPF_KRETPROBE(salve_fn_ret)
{
	/* A call a circuit breaker turned away (its trampoline sets r11 to the mark) is
	 * salve's answer, not the function's: nothing to report. In assembly, first, on r1
	 * (the context, as the program is entered) with scratch registers only: written in
	 * C, or reading the context's copy, the test changes what the verifier tracks
	 * through the stack capture below, which then takes more states than it allows. */
	asm volatile("r0 = *(u64 *)(r1 + %[r11])\n"
		     "r2 = %[mark] ll\n"
		     "if r0 != r2 goto +2\n"
		     "r0 = 0\n"
		     "exit\n"
		     :
		     : [r11] "i"(__builtin_offsetof(struct pt_regs, r11)),
		       [mark] "i"(SALVE_TURNED_AWAY_MARK)
		     : "r0", "r2");
	__u32 id = bpf_get_attach_cookie(ctx);
	const struct salve_site *s = bpf_map_lookup_elem(&salve_sites, &id);
	__s64 ret;

	if (!s || s->kind != SALVE_SITE_RETURN)
		return 0;
	salve_site_hit(id);
	ret = ret_value(s, PT_REGS_RC(ctx));
	if (!pred_match(s, ret))
		return 0;
	return emit_call(ctx, SALVE_EV_RETURN, id, s, ret, 0, 0);
}

SEC("uprobe")
int BPF_KPROBE(salve_fn_entry)
{
	struct lat_stack *st = bpf_task_storage_get(&salve_lat_stacks, bpf_get_current_task_btf(), 0,
						    BPF_LOCAL_STORAGE_GET_F_CREATE);
	__u64 sp = PT_REGS_SP(ctx);
	__u32 site = bpf_get_attach_cookie(ctx), d;

	if (!st)
		return 0;
	/* Frames at or below this call's stack pointer have ended unseen; the same
	 * address for another site is another probe on this very call. */
	for (int i = 0; i < SALVE_DEPTH_MAX; i++) {
		d = st->depth;
		if (!d || d > SALVE_DEPTH_MAX)
			break;
		if (st->f[d - 1].sp > sp || (st->f[d - 1].sp == sp && st->f[d - 1].site != site))
			break;
		st->depth = d - 1;
	}
	d = st->depth;
	if (d >= SALVE_DEPTH_MAX)
		return 0;
	st->f[d].sp = sp;
	st->f[d].site = site;
	st->f[d].start = bpf_ktime_get_ns();
	st->depth = d + 1;
	return 0;
}

/* The start of the call of site that returns with stack pointer sp, taken off the
 * thread's stack; 0 when its entry was not seen. */
static __always_inline __u64 lat_pop(struct lat_stack *st, __u32 site, __u64 sp)
{
	__u64 entry_sp = sp - 8, start = 0; /* the return popped the return address */
	__u32 d;

	for (int i = 0; i < SALVE_DEPTH_MAX; i++) {
		d = st->depth;
		if (!d || d > SALVE_DEPTH_MAX || st->f[d - 1].sp >= entry_sp)
			break;
		st->depth = d - 1; /* deeper: it ended without its return probe */
	}
	/* Among frames of this very call (two probes on one function), this site's. */
	for (int i = 0; i < SALVE_DEPTH_MAX; i++) {
		d = st->depth;
		if (i >= d || d > SALVE_DEPTH_MAX)
			break;
		/* The mask keeps the verifier sure of the bounds: SALVE_DEPTH_MAX is 2^n. */
		struct lat_frame *f = &st->f[(d - 1 - i) & (SALVE_DEPTH_MAX - 1)];

		if (f->sp != entry_sp)
			break;
		if (f->site != site)
			continue;
		start = f->start;
		*f = st->f[(d - 1) & (SALVE_DEPTH_MAX - 1)];
		st->depth = d - 1;
		break;
	}
	return start;
}

SEC("uretprobe")
int BPF_KRETPROBE(salve_fn_exit)
{
	struct lat_stack *st = bpf_task_storage_get(&salve_lat_stacks, bpf_get_current_task_btf(), 0, 0);
	__u32 site = bpf_get_attach_cookie(ctx);
	__u64 now = bpf_ktime_get_ns(), start;

	if (!st || !(start = lat_pop(st, site, PT_REGS_SP(ctx))))
		return 0; /* the call began before the probe was attached, or too deep */
	return salve_latency_done(ctx, site, now - start);
}

/* Stall sites: the last call per site and process, which salved compares with the
 * site's period on its timer. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct salve_call_key);
	__type(value, __u64); /* CLOCK_BOOTTIME ns */
} salve_last_call SEC(".maps");

SEC("uprobe")
int BPF_KPROBE(salve_fn_call)
{
	struct salve_call_key key = { .site = bpf_get_attach_cookie(ctx),
				      .tgid = bpf_get_current_pid_tgid() >> 32 };
	const struct salve_config *cfg = salve_cfg();
	const struct salve_site *s = bpf_map_lookup_elem(&salve_sites, &key.site);
	__u64 now = bpf_ktime_get_boot_ns();

	salve_site_hit(key.site);
	if (!cfg || !s || !(salve_scope_mask(cfg, bpf_get_current_task_btf()) & s->policies))
		return 0;
	bpf_map_update_elem(&salve_last_call, &key, &now, BPF_ANY);
	return 0;
}

/* A failed assert() calls __assert_fail, which calls abort(): the thread's abort is
 * then part of the assert's record, not one of its own. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} salve_asserting SEC(".maps");

SEC("uprobe")
int BPF_KPROBE(salve_fn_assert, const char *assertion, const char *file, unsigned int line,
	       const char *function)
{
	__u32 id = bpf_get_attach_cookie(ctx), tid = bpf_get_current_pid_tgid();
	const struct salve_site *s = bpf_map_lookup_elem(&salve_sites, &id);
	struct site_text x = { (__u64)assertion, (__u64)file, (__u64)function, line };
	__u8 one = 1;

	if (!s || s->kind != SALVE_SITE_ASSERT)
		return 0;
	salve_site_hit(id);
	bpf_map_update_elem(&salve_asserting, &tid, &one, BPF_ANY);
	return emit_text(ctx, SALVE_EV_ABORT, id, s, &x);
}

SEC("uprobe")
int BPF_KPROBE(salve_fn_abort)
{
	__u32 id = bpf_get_attach_cookie(ctx), tid = bpf_get_current_pid_tgid();
	const struct salve_site *s = bpf_map_lookup_elem(&salve_sites, &id);
	struct site_text x = {};

	if (!s || s->kind != SALVE_SITE_ABORT)
		return 0;
	salve_site_hit(id);
	if (bpf_map_lookup_elem(&salve_asserting, &tid)) {
		bpf_map_delete_elem(&salve_asserting, &tid);
		return 0;
	}
	return emit_text(ctx, SALVE_EV_ABORT, id, s, &x);
}

/* __cxa_throw(object, type_info *, destructor): the thrown type's mangled name is the
 * type_info's second word (after its vtable pointer). */
SEC("uprobe")
int BPF_KPROBE(salve_fn_throw, void *object, void *tinfo)
{
	__u32 id = bpf_get_attach_cookie(ctx);
	const struct salve_site *s = bpf_map_lookup_elem(&salve_sites, &id);
	struct site_text x = {};
	const char *name = NULL;

	if (!s || s->kind != SALVE_SITE_THROW)
		return 0;
	salve_site_hit(id);
	if (!bpf_probe_read_user(&name, sizeof(name), tinfo + sizeof(void *)))
		x.text = (__u64)name;
	return emit_text(ctx, SALVE_EV_EXCEPTION, id, s, &x);
}
