// SPDX-License-Identifier: GPL-2.0
/* functions: probes on functions of any binary or shared library, one program per
 * probe kind attached at every site of that kind. The site id rides in the BPF cookie;
 * the site's settings are in salve_sites. Each program filters first (the predicate,
 * the threshold) and reads only what the event needs. */
#include "salve.bpf.h"
#include "sites.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Entry times per thread and site, one per nesting level, so recursion and threads
 * never mix up calls. */
struct lat_key {
	__u32 tid;
	__u32 site;
};

struct lat_starts {
	__u32 depth; /* calls in progress; only the first SALVE_DEPTH_MAX are timed */
	__u32 pad;
	__u64 start[SALVE_DEPTH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct lat_key);
	__type(value, struct lat_starts);
} salve_lat_starts SEC(".maps");

/* log2 histogram of each latency site's calls, in nanoseconds; salved reads it for
 * baselines and reports. */
struct salve_hist {
	__u64 buckets[SALVE_HIST_BUCKETS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SALVE_SITES_MAX);
	__type(key, __u32);
	__type(value, struct salve_hist);
} salve_site_hist SEC(".maps");

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
	__u32 id = bpf_get_attach_cookie(ctx);
	const struct salve_site *s = bpf_map_lookup_elem(&salve_sites, &id);
	__s64 ret;

	if (!s || s->kind != SALVE_SITE_RETURN)
		return 0;
	ret = ret_value(s, PT_REGS_RC(ctx));
	if (!pred_match(s, ret))
		return 0;
	return emit_call(ctx, SALVE_EV_RETURN, id, s, ret, 0, 0);
}

SEC("uprobe")
int BPF_KPROBE(salve_fn_entry)
{
	struct lat_key key = { .tid = (__u32)bpf_get_current_pid_tgid(),
			       .site = bpf_get_attach_cookie(ctx) };
	struct lat_starts *v, fresh = {};
	__u32 d;

	v = bpf_map_lookup_elem(&salve_lat_starts, &key);
	if (!v) {
		bpf_map_update_elem(&salve_lat_starts, &key, &fresh, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&salve_lat_starts, &key);
		if (!v)
			return 0;
	}
	d = v->depth++;
	if (d < SALVE_DEPTH_MAX)
		v->start[d] = bpf_ktime_get_ns();
	return 0;
}

static __always_inline __u32 log2_bucket(__u64 v)
{
	__u32 b = 0;

	for (int i = 32; i > 0; i >>= 1) {
		if (v >> i) {
			v >>= i;
			b += i;
		}
	}
	return b < SALVE_HIST_BUCKETS ? b : SALVE_HIST_BUCKETS - 1;
}

SEC("uretprobe")
int BPF_KRETPROBE(salve_fn_exit)
{
	struct lat_key key = { .tid = (__u32)bpf_get_current_pid_tgid(),
			       .site = bpf_get_attach_cookie(ctx) };
	const struct salve_site *s;
	struct lat_starts *v;
	struct salve_hist *h;
	__u64 now = bpf_ktime_get_ns(), dur;
	__u32 d;

	v = bpf_map_lookup_elem(&salve_lat_starts, &key);
	if (!v || !v->depth)
		return 0; /* the call began before the probe was attached */
	d = --v->depth;
	if (d >= SALVE_DEPTH_MAX)
		return 0;
	dur = now - v->start[d];
	h = bpf_map_lookup_elem(&salve_site_hist, &key.site);
	if (h)
		h->buckets[log2_bucket(dur)]++;
	s = bpf_map_lookup_elem(&salve_sites, &key.site);
	if (!s || s->kind != SALVE_SITE_LATENCY || !s->threshold_ns || dur <= s->threshold_ns)
		return 0;
	return emit_call(ctx, SALVE_EV_LATENCY, key.site, s, 0, dur, 0);
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
	struct salve_text_event *t;
	__u8 one = 1;

	if (!s || s->kind != SALVE_SITE_ASSERT)
		return 0;
	bpf_map_update_elem(&salve_asserting, &tid, &one, BPF_ANY);
	t = reserve_text(ctx, SALVE_EV_ABORT, id, s);
	if (!t)
		return 0;
	t->line = line;
	bpf_probe_read_user_str(t->text, sizeof(t->text), assertion);
	bpf_probe_read_user_str(t->file, sizeof(t->file), file);
	bpf_probe_read_user_str(t->func, sizeof(t->func), function);
	bpf_ringbuf_submit(t, 0);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(salve_fn_abort)
{
	__u32 id = bpf_get_attach_cookie(ctx), tid = bpf_get_current_pid_tgid();
	const struct salve_site *s = bpf_map_lookup_elem(&salve_sites, &id);
	struct salve_text_event *t;

	if (!s || s->kind != SALVE_SITE_ABORT)
		return 0;
	if (bpf_map_lookup_elem(&salve_asserting, &tid)) {
		bpf_map_delete_elem(&salve_asserting, &tid);
		return 0;
	}
	t = reserve_text(ctx, SALVE_EV_ABORT, id, s);
	if (t)
		bpf_ringbuf_submit(t, 0);
	return 0;
}

/* __cxa_throw(object, type_info *, destructor): the thrown type's mangled name is the
 * type_info's second word (after its vtable pointer). */
SEC("uprobe")
int BPF_KPROBE(salve_fn_throw, void *object, void *tinfo)
{
	__u32 id = bpf_get_attach_cookie(ctx);
	const struct salve_site *s = bpf_map_lookup_elem(&salve_sites, &id);
	struct salve_text_event *t;
	const char *name = NULL;

	if (!s || s->kind != SALVE_SITE_THROW)
		return 0;
	t = reserve_text(ctx, SALVE_EV_EXCEPTION, id, s);
	if (!t)
		return 0;
	if (!bpf_probe_read_user(&name, sizeof(name), tinfo + sizeof(void *)) && name)
		bpf_probe_read_user_str(t->text, sizeof(t->text), name);
	bpf_ringbuf_submit(t, 0);
	return 0;
}
