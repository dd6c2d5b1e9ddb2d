/* Sites: the settings and token buckets of probe sites (salve_sites, indexed by the
 * site id an attachment carries in its cookie) and how a site's record goes out. Shared
 * by the families whose probes are sites (functions, syscalls). */
#ifndef SALVE_SITES_BPF_H
#define SALVE_SITES_BPF_H

#include "events.bpf.h"
#include "scope.bpf.h"
#include "stack.bpf.h"
#include "salve/site.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SALVE_SITES_MAX);
	__type(key, __u32);
	__type(value, struct salve_site);
} salve_sites SEC(".maps");

/* The token bucket of each site, so a storm at one site costs a bounded number of
 * records and the count of what it held back stays exact. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SALVE_SITES_MAX);
	__type(key, __u32);
	__type(value, struct salve_rate);
} salve_site_rates SEC(".maps");

/* The calls each site's program ran on, per CPU. The records it let out and those its
 * bucket held back salved counts from the records (each carries what was held before it). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SALVE_SITES_MAX);
	__type(key, __u32);
	__type(value, __u64);
} salve_site_hits SEC(".maps");

/* Count a call of site id. A global function, verified once on its own: inlined, the
 * branch on the lookup multiplies the verifier's states on the callers' paths after it. */
__noinline int salve_site_hit(__u32 id)
{
	__u64 *n = bpf_map_lookup_elem(&salve_site_hits, &id);

	if (n)
		(*n)++;
	return 0;
}

/* Whether a record of kind for site id may go out: the process is in the site's
 * policy's scope and the site's bucket has a token. */
static __always_inline struct salve_counters *admit(__u32 kind, __u32 id,
						    const struct salve_site *s, __u32 *held,
						    __u64 *policies, __u32 *gen)
{
	const struct salve_config *cfg = salve_cfg();
	struct salve_counters *c = salve_counter(kind);
	struct salve_rate *r;

	*held = 0;
	if (!cfg || !c)
		return NULL;
	*gen = cfg->gen;
	*policies = salve_scope_mask(cfg, bpf_get_current_task_btf()) & s->policies;
	if (!*policies)
		return NULL;
	c->seen++;
	r = bpf_map_lookup_elem(&salve_site_rates, &id);
	if (r && s->rate_per_sec && !salve_bucket_take(r, s->rate_per_sec, s->burst, held)) {
		c->suppressed++;
		return NULL;
	}
	return c;
}

static __always_inline void fill_call(struct salve_call_event *e, __u32 id, __s64 ret,
				      __u64 duration_ns, __u32 syscall)
{
	struct task_struct *task = bpf_get_current_task_btf();

	salve_fill_task(&e->hdr, task);
	salve_fill_exe_id(&e->exe_dev, &e->exe_ino, task);
	e->site = id;
	e->syscall = syscall;
	e->ret = ret;
	e->duration_ns = duration_ns;
}

/* The text of a text record, read from the traced function's arguments (user
 * addresses; 0: none). */
struct site_text {
	__u64 text;
	__u64 file;
	__u64 func;
	__u32 line;
	__u32 pad;
};

static __always_inline void fill_text(struct salve_text_event *t, __u32 id, const struct site_text *x)
{
	fill_call(&t->call, id, 0, 0, 0);
	t->line = x->line;
	t->text[0] = 0;
	t->file[0] = 0;
	t->func[0] = 0;
	if (x->text)
		bpf_probe_read_user_str(t->text, sizeof(t->text), (const void *)x->text);
	if (x->file)
		bpf_probe_read_user_str(t->file, sizeof(t->file), (const void *)x->file);
	if (x->func)
		bpf_probe_read_user_str(t->func, sizeof(t->func), (const void *)x->func);
}

/* A site's record with a snapshot of the stack, for CFI: what it says, gathered by the
 * probe. */
struct site_snap {
	__u64 policies;
	__s64 ret;
	__u64 duration_ns;
	struct site_text text; /* abort and exception records */
	__u32 kind;
	__u32 id;
	__u32 syscall;
	__u32 stack_bytes;
	__u32 held;
	__u32 gen;
};

/* Emit r's record with the snapshot of current. A global function: the verifier checks
 * it once, on its own, where inlined into each probe it would be checked again on every
 * path that reaches it, beside the frame-pointer walk, more than the verifier explores. */
__noinline int salve_emit_site_snapshot(const struct site_snap *r)
{
	struct salve_counters *c;
	struct bpf_dynptr dp;
	void *rec;

	if (!r || !(c = salve_counter(r->kind)))
		return 0;
	if (r->kind == SALVE_EV_ABORT || r->kind == SALVE_EV_EXCEPTION) {
		rec = salve_reserve_snapshot(&dp, c, r->kind, sizeof(struct salve_text_event),
					     r->stack_bytes, r->held, r->policies, r->gen,
					     bpf_get_current_task_btf());
		if (!rec)
			return 0;
		fill_text(rec, r->id, &r->text);
	} else {
		rec = salve_reserve_snapshot(&dp, c, r->kind, sizeof(struct salve_call_event),
					     r->stack_bytes, r->held, r->policies, r->gen,
					     bpf_get_current_task_btf());
		if (!rec)
			return 0;
		fill_call(rec, r->id, r->ret, r->duration_ns, r->syscall);
	}
	bpf_ringbuf_submit_dynptr(&dp, 0);
	return 0;
}

static __always_inline bool wants_snapshot(const struct salve_site *s)
{
	return (s->flags & SALVE_SITE_STACK) && s->snap_bytes;
}

/* Emit a call record for site id; syscall: its number, for syscall sites. The stack, when
 * the site wants one, is a snapshot for CFI or the frame-pointer walk. */
static __always_inline int emit_call(void *ctx, __u32 kind, __u32 id, const struct salve_site *s,
				     __s64 ret, __u64 duration_ns, __u32 syscall)
{
	struct salve_counters *c;
	struct salve_call_event *e;
	__u64 policies;
	__u32 held, gen;

	if (!(c = admit(kind, id, s, &held, &policies, &gen)))
		return 0;
	if (wants_snapshot(s)) {
		struct site_snap r = { .policies = policies, .ret = ret, .duration_ns = duration_ns,
				       .kind = kind, .id = id, .syscall = syscall,
				       .stack_bytes = s->snap_bytes, .held = held, .gen = gen };

		return salve_emit_site_snapshot(&r);
	}
	if (s->flags & SALVE_SITE_STACK) {
		struct salve_call_stack_event *se;

		se = salve_reserve_held(c, kind, sizeof(*se), held, policies, gen);
		if (!se)
			return 0;
		se->stack.nr_frames = 0;
		se->stack.nr_modules = 0;
		salve_capture_stack(ctx, &se->stack, false); /* after the return: whole frames */
		e = &se->call;
	} else {
		e = salve_reserve_held(c, kind, sizeof(*e), held, policies, gen);
		if (!e)
			return 0;
	}
	fill_call(e, id, ret, duration_ns, syscall);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* Emit a text record for site id, at the entry of the function whose arguments x reads. */
static __always_inline int emit_text(void *ctx, __u32 kind, __u32 id, const struct salve_site *s,
				     const struct site_text *x)
{
	struct salve_text_event *t;
	struct salve_counters *c;
	__u64 policies;
	__u32 held, gen;

	if (!(c = admit(kind, id, s, &held, &policies, &gen)))
		return 0;
	if (wants_snapshot(s)) {
		struct site_snap r = { .policies = policies, .text = *x, .kind = kind, .id = id,
				       .stack_bytes = s->snap_bytes, .held = held, .gen = gen };

		return salve_emit_site_snapshot(&r);
	}
	if (s->flags & SALVE_SITE_STACK) {
		struct salve_text_stack_event *se;

		se = salve_reserve_held(c, kind, sizeof(*se), held, policies, gen);
		if (!se)
			return 0;
		se->stack.nr_frames = 0;
		se->stack.nr_modules = 0;
		salve_capture_stack(ctx, &se->stack, true); /* at the entry of the function */
		t = &se->text;
	} else {
		t = salve_reserve_held(c, kind, sizeof(*t), held, policies, gen);
		if (!t)
			return 0;
	}
	fill_text(t, id, x);
	bpf_ringbuf_submit(t, 0);
	return 0;
}

#endif
