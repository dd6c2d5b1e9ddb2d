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

/* Emit a call record for site id; syscall: its number, for syscall sites. */
static __always_inline int emit_call(void *ctx, __u32 kind, __u32 id, const struct salve_site *s,
				     __s64 ret, __u64 duration_ns, __u32 syscall)
{
	struct salve_counters *c;
	struct salve_call_event *e;
	__u64 policies;
	__u32 held, gen;

	if (!(c = admit(kind, id, s, &held, &policies, &gen)))
		return 0;
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
	salve_fill_task(&e->hdr, bpf_get_current_task_btf());
	salve_fill_exe_id(&e->exe_dev, &e->exe_ino, bpf_get_current_task_btf());
	e->site = id;
	e->syscall = syscall;
	e->ret = ret;
	e->duration_ns = duration_ns;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* Emit a text record for site id; the caller fills the text. */
static __always_inline struct salve_text_event *reserve_text(void *ctx, __u32 kind, __u32 id,
							     const struct salve_site *s)
{
	struct salve_text_event *t;
	struct salve_counters *c;
	__u64 policies;
	__u32 held, gen;

	if (!(c = admit(kind, id, s, &held, &policies, &gen)))
		return NULL;
	if (s->flags & SALVE_SITE_STACK) {
		struct salve_text_stack_event *se;

		se = salve_reserve_held(c, kind, sizeof(*se), held, policies, gen);
		if (!se)
			return NULL;
		se->stack.nr_frames = 0;
		se->stack.nr_modules = 0;
		salve_capture_stack(ctx, &se->stack, true); /* at the entry of the function */
		t = &se->text;
	} else {
		t = salve_reserve_held(c, kind, sizeof(*t), held, policies, gen);
		if (!t)
			return NULL;
	}
	salve_fill_task(&t->call.hdr, bpf_get_current_task_btf());
	salve_fill_exe_id(&t->call.exe_dev, &t->call.exe_ino, bpf_get_current_task_btf());
	t->call.site = id;
	t->call.ret = 0;
	t->call.duration_ns = 0;
	t->line = 0;
	t->text[0] = 0;
	t->file[0] = 0;
	t->func[0] = 0;
	return t;
}

#endif
