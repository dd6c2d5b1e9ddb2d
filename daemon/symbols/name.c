/* name: an event's stack unwound and named once. */
#include "symbols/name.h"

/* Name frame r, whose ip is at file_off in module m (build id hex or ""). A caller's
 * frame is a return address, named by the call before it, as a debugger does. */
static void name_frame(struct symbolizer *sym, const struct event_module *m, const char *build_id,
		       uint64_t file_off, bool caller, struct report_frame *r, struct symbol *s,
		       struct report_inlined *inlined)
{
	r->module = m->path;
	r->offset = file_off;
	if (build_id[0])
		r->build_id = build_id;
	if (m->truncated ||
	    symbolizer_lookup_frame(sym, &(struct symbolizer_file){ m->path, m->dev, m->ino }, file_off,
				    caller, s))
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

static void module_build_id(struct symbolizer *sym, const struct event_module *m, char *hex)
{
	hex[0] = 0;
	if (!m->truncated && m->path[0])
		symbolizer_build_id(sym, &(struct symbolizer_file){ m->path, m->dev, m->ino }, hex);
}

/* The stack unwound from ev's snapshot; false when it gave none. */
static bool name_unwound(struct symbolizer *sym, struct unwinder *unw, const struct event *ev,
			 struct event_names *out)
{
	const struct salve_snapshot *snap = ev->snap;
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
			module_build_id(sym, &out->maps[k], out->map_build_ids[k]);
		}
		name_frame(sym, &out->maps[k], out->map_build_ids[k], u->file_off + u->adjust,
			   u->adjust != 0, r, &out->symbols[i], out->inlined[i]);
	}
	out->n_frames = n;
	return true;
}

void name_event(struct symbolizer *sym, struct unwinder *unw, const struct event *ev,
		struct event_names *out)
{
	out->n_frames = 0;
	if (name_unwound(sym, unw, ev, out))
		return;
	for (size_t j = 0; j < ev->n_modules; j++)
		module_build_id(sym, &ev->modules[j], out->build_ids[j]);
	for (size_t i = 0; i < ev->n_frames; i++) {
		const struct event_frame *f = &ev->frames[i];
		struct report_frame *r = &out->frames[i];

		/* A repeated frame: the walk went round; no file: the walk left the code. */
		if ((i && f->ip == ev->frames[i - 1].ip) || f->module < 0 ||
		    (size_t)f->module >= ev->n_modules)
			return;
		*r = (struct report_frame){ .ip = f->ip, .how = "fp" };
		name_frame(sym, &ev->modules[f->module], out->build_ids[f->module], f->file_off, i > 0, r,
			   &out->symbols[i], out->inlined[i]);
		out->n_frames = i + 1;
	}
}
