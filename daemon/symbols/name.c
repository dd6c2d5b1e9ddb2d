/* name: an event's stack named once. */
#include "symbols/name.h"

static void name_frame(const struct symbol *sy, struct report_inlined *inlined,
		       struct report_frame *r)
{
	r->symbol = sy->name;
	r->offset = sy->offset;
	r->file = sy->file;
	r->line = sy->line;
	for (size_t k = 0; k < sy->n_inlined; k++)
		inlined[k] = (struct report_inlined){ sy->inlined[k].name, sy->inlined[k].file,
						      sy->inlined[k].line };
	r->inlined = inlined;
	r->n_inlined = sy->n_inlined;
}

void name_event(struct symbolizer *sym, const struct event *ev, struct event_names *out)
{
	for (size_t j = 0; j < ev->n_modules; j++) {
		const struct event_module *m = &ev->modules[j];

		out->build_ids[j][0] = 0;
		if (!m->truncated)
			symbolizer_build_id(sym, &(struct symbolizer_file){ m->path, m->dev, m->ino },
					    out->build_ids[j]);
	}
	out->n_frames = ev->n_frames;
	for (size_t i = 0; i < ev->n_frames; i++) {
		const struct event_frame *f = &ev->frames[i];
		struct report_frame *r = &out->frames[i];
		const struct event_module *m;

		if (i && f->ip == ev->frames[i - 1].ip) {
			out->n_frames = i;
			return;
		}
		*r = (struct report_frame){ .ip = f->ip };
		if (f->module < 0 || (size_t)f->module >= ev->n_modules)
			continue;
		m = &ev->modules[f->module];
		r->module = m->path;
		r->offset = f->file_off;
		if (out->build_ids[f->module][0])
			r->build_id = out->build_ids[f->module];
		if (!m->truncated &&
		    !symbolizer_lookup_frame(sym, &(struct symbolizer_file){ m->path, m->dev, m->ino },
					     f->file_off, i > 0, &out->symbols[i]))
			name_frame(&out->symbols[i], out->inlined[i], r);
	}
}
