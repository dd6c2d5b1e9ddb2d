/* localize: pick the suspect frame of an incident's stacks. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "symbols/localize.h"

/* The frames of ev worth reading: a frame equal to the one before means the
 * frame-pointer walk went round in code built without frame pointers. */
static size_t frames_used(const struct event *ev)
{
	for (size_t i = 1; i < ev->n_frames; i++)
		if (ev->frames[i].ip == ev->frames[i - 1].ip)
			return i;
	return ev->n_frames;
}

static bool in_scope(const struct policy *policy, const struct event *ev,
		     const struct event_module *m)
{
	if (policy && policy->scope.n_binaries) {
		for (size_t i = 0; i < policy->scope.n_binaries; i++)
			if (!m->truncated && !strcmp(policy->scope.binaries[i], m->path))
				return true;
		return false;
	}
	/* The process's own executable: by identity when the kernel gave it, as the
	 * path may have been replaced since. */
	if (ev->exe.ino && m->ino)
		return ev->exe.dev == m->dev && ev->exe.ino == m->ino;
	return ev->exe.path[0] && !m->truncated && !ev->exe.truncated &&
	       !strcmp(ev->exe.path, m->path);
}

/* Name frame i of ev into out; true when the symbolizer found a function. */
static bool name_frame(struct symbolizer *sym, const struct event *ev, size_t i,
		       struct localize_suspect *out)
{
	const struct event_frame *f = &ev->frames[i];
	const struct event_module *m = &ev->modules[f->module];
	struct symbol s;

	snprintf(out->module, sizeof(out->module), "%s", m->path);
	out->symbol[0] = '\0';
	out->offset = f->file_off;
	if (m->truncated ||
	    symbolizer_lookup(sym, &(struct symbolizer_file){ m->path, m->dev, m->ino },
			      f->file_off, &s))
		return false;
	snprintf(out->symbol, sizeof(out->symbol), "%s", s.name);
	out->offset = s.offset;
	return true;
}

int localize_suspect(struct symbolizer *sym, const struct policy *policy,
		     const struct event *events, size_t n_events, struct localize_suspect *out)
{
	/* Newest event first: it is the one that made the rule fire. */
	for (size_t e = n_events; e-- > 0;) {
		const struct event *ev = &events[e];
		size_t n = frames_used(ev);

		for (size_t i = 0; i < n; i++) {
			int mod = ev->frames[i].module;

			if (mod < 0 || (size_t)mod >= ev->n_modules ||
			    !in_scope(policy, ev, &ev->modules[mod]))
				continue;
			name_frame(sym, ev, i, out);
			out->in_scope = true;
			return 0;
		}
	}
	for (size_t e = n_events; e-- > 0;) {
		const struct event *ev = &events[e];
		size_t n = frames_used(ev);

		for (size_t i = 0; i < n; i++) {
			int mod = ev->frames[i].module;

			if (mod < 0 || (size_t)mod >= ev->n_modules)
				continue;
			if (name_frame(sym, ev, i, out)) {
				out->in_scope = false;
				return 0;
			}
		}
	}
	return -ENOENT;
}
