/* name: an event's stack unwound and named once. Frames are named through the
 * symbolizer's kept names: a frame from a call site seen before is a hash probe, and its
 * strings are the symbolizer's, not copied. */
#include "symbols/name.h"

/* The parse of module m, found once per stack; NULL when it has none (a path cut by the
 * kernel, no path, a file that cannot be read). */
static const struct symbolizer_parse *module_parse(struct symbolizer *sym,
						   const struct event_module *m)
{
	const struct symbolizer_parse *p;

	if (m->truncated || !m->path[0] ||
	    symbolizer_parse(sym, &(struct symbolizer_file){ m->path, m->dev, m->ino }, &p))
		return NULL;
	return p;
}

/* Name frame r, whose ip is at file_off in module m, read as p (NULL: not read). A
 * caller's frame is a return address, named by the call before it, as a debugger does. */
static void name_frame(struct symbolizer *sym, const struct event_module *m,
		       const struct symbolizer_parse *p, uint64_t file_off, bool caller,
		       struct report_frame *r, struct report_inlined *inlined)
{
	const struct symbol_frame *s;

	r->module = m->path;
	r->offset = file_off;
	if (!p)
		return;
	if (symbolizer_parse_build_id(p)[0])
		r->build_id = symbolizer_parse_build_id(p);
	if (symbolizer_name(sym, p, file_off, caller, &s))
		return;
	r->symbol = s->name;
	r->offset = s->offset;
	r->file = s->file;
	r->line = s->line;
	for (size_t k = 0; k < s->n_inlined; k++)
		inlined[k] = (struct report_inlined){ s->inlined[k].name, s->inlined[k].file,
						      s->inlined[k].line };
	r->inlined = inlined;
	r->n_inlined = s->n_inlined;
}

/* The stack unwound from ev's snapshot; false when it gave none. */
static bool name_unwound(struct symbolizer *sym, struct unwinder *unw, const struct event *ev,
			 struct event_names *out)
{
	const struct salve_snapshot *snap = ev->snap;
	const struct symbolizer_parse *parses[SALVE_STACK_MAX]; /* of out->maps */
	int slot_map[SALVE_STACK_MAX]; /* the map each of out->maps names */
	size_t n = 0, n_slots = 0;

	if (!snap || unwind_snapshot(unw, snap, ev->tid, out->unwound, SALVE_STACK_MAX, &n) || !n)
		return false;
	for (size_t i = 0; i < n; i++) {
		const struct unwind_frame *u = &out->unwound[i];
		struct report_frame *r = &out->frames[i];
		size_t k = 0;

		*r = (struct report_frame){ .ip = u->ip, .how = "cfi" };
		if (u->map < 0 || u->map >= snap->nr_maps)
			continue;
		while (k < n_slots && slot_map[k] != u->map)
			k++;
		if (k == n_slots) {
			slot_map[n_slots++] = u->map;
			events_module(&snapshot_maps(snap)[u->map].file, &out->maps[k]);
			parses[k] = module_parse(sym, &out->maps[k]);
		}
		name_frame(sym, &out->maps[k], parses[k], u->file_off + u->adjust, u->adjust != 0, r,
			   out->inlined[i]);
	}
	out->n_frames = n;
	return true;
}

void name_event(struct symbolizer *sym, struct unwinder *unw, const struct event *ev,
		struct event_names *out)
{
	const struct symbolizer_parse *parses[SALVE_MODULES_MAX];
	bool found[SALVE_MODULES_MAX] = { false };

	out->n_frames = 0;
	symbolizer_stack_begin(sym);
	if (name_unwound(sym, unw, ev, out))
		return;
	for (size_t i = 0; i < ev->n_frames; i++) {
		const struct event_frame *f = &ev->frames[i];
		struct report_frame *r = &out->frames[i];

		/* A repeated frame: the walk went round; no file: the walk left the code. */
		if ((i && f->ip == ev->frames[i - 1].ip) || f->module < 0 ||
		    (size_t)f->module >= ev->n_modules)
			return;
		if (!found[f->module]) {
			parses[f->module] = module_parse(sym, &ev->modules[f->module]);
			found[f->module] = true;
		}
		*r = (struct report_frame){ .ip = f->ip, .how = "fp" };
		name_frame(sym, &ev->modules[f->module], parses[f->module], f->file_off, i > 0, r,
			   out->inlined[i]);
		out->n_frames = i + 1;
	}
}
