#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"
#include "events/events.h"
#include "base/log.h"
#include "base/loop.h"
#include "events/pipeline.h"
#include "events/report.h"
#include "kernel/scope.h"
#include "symbols/symbolize.h"

/* Function and syscall events, the hot ones, reach their rules in batches
 * (engine_events, whose cache misses overlap): each is held from its line until the
 * batch is full, a colder event comes, or the ring is drained (pipeline_flush). */
#define PIPELINE_BATCH 16

struct held {
	struct event ev;
	const struct policy_probe *probe;
	size_t size;
	union {
		struct salve_call_stack_event call;
		struct salve_text_stack_event text;
	} record;
};

struct pipeline {
	FILE *out;
	const struct policy_set *set;
	const struct site_plan *sites;
	struct engine *engine; /* the rules; NULL: events are only reported */
	struct symbolizer *sym;
	int64_t realtime_offset_ns; /* CLOCK_REALTIME - CLOCK_BOOTTIME */
	uint64_t received[SALVE_EV_KIND_MAX];
	uint64_t reported[SALVE_EV_KIND_MAX];
	/* Events whose line was never written: out of memory building it, a failed write,
	 * or an output gone. Counted in the stats line's "lost" with the kernel's. */
	uint64_t lost[SALVE_EV_KIND_MAX];
	uint64_t malformed;
	bool out_gone;    /* a write failed with EPIPE */
	bool lost_logged; /* the first lost line was said; the stats count the others */
	/* Scratch: an event and its names are too big for the stack of a callback. The
	 * next record is read into the first free held slot. */
	struct held held[PIPELINE_BATCH];
	size_t n_held;
	struct event ev; /* salved's own events */
	struct symbol names[SALVE_STACK_MAX];
	char build_ids[SALVE_MODULES_MAX][BUILD_ID_HEX_MAX];
};

void pipeline_sync_clock(struct pipeline *pl)
{
	pl->realtime_offset_ns = loop_realtime_offset_ns();
}

int pipeline_new(FILE *out, struct pipeline **outp)
{
	struct pipeline *pl = calloc(1, sizeof(*pl));
	int err;

	if (!pl)
		return -ENOMEM;
	if ((err = symbolizer_new(&pl->sym))) {
		free(pl);
		return err;
	}
	pl->out = out;
	pipeline_sync_clock(pl);
	*outp = pl;
	return 0;
}

void pipeline_free(struct pipeline *pl)
{
	if (!pl)
		return;
	symbolizer_free(pl->sym);
	free(pl);
}

void pipeline_set_policies(struct pipeline *pl, const struct policy_set *set,
			   const struct site_plan *sites)
{
	pl->set = set;
	pl->sites = sites;
}

void pipeline_set_engine(struct pipeline *pl, struct engine *engine)
{
	pl->engine = engine;
}

static bool probe_wants(const struct policy_probe *pr, const struct event *ev)
{
	if (scope_event_kind(pr->kind) != ev->kind)
		return false;
	switch (ev->kind) {
	case SALVE_EV_SIGNAL:
		return (pr->signals_mask & (1u << (ev->sig.signo & 31))) &&
		       (pr->handled || (ev->sig.flags & SALVE_SIG_FATAL));
	case SALVE_EV_EXIT:
		return !pr->nonzero || ev->exit.status;
	default:
		return true;
	}
}

/* The build ids of the event's modules, read from their files; "" when unknown. */
static void read_build_ids(struct pipeline *pl, const struct event *ev)
{
	for (size_t j = 0; j < ev->n_modules; j++) {
		const struct event_module *m = &ev->modules[j];

		pl->build_ids[j][0] = 0;
		if (!m->truncated)
			symbolizer_build_id(pl->sym, &(struct symbolizer_file){ m->path, m->dev, m->ino },
					    pl->build_ids[j]);
	}
}

/* Name every frame. The strings point into ev and pl's scratch. A frame equal to the
 * one before means the frame-pointer walk went round in code built without frame
 * pointers: the stack ends there. */
static size_t symbolize(struct pipeline *pl, const struct event *ev, struct report_frame *frames)
{
	read_build_ids(pl, ev);
	for (size_t i = 0; i < ev->n_frames; i++) {
		const struct event_frame *f = &ev->frames[i];
		struct report_frame *r = &frames[i];
		struct symbol *s = &pl->names[i];
		const struct event_module *m;

		if (i && f->ip == ev->frames[i - 1].ip)
			return i;
		*r = (struct report_frame){ .ip = f->ip };
		if (f->module < 0)
			continue;
		m = &ev->modules[f->module];
		r->module = m->path;
		r->offset = f->file_off;
		if (pl->build_ids[f->module][0])
			r->build_id = pl->build_ids[f->module];
		if (!m->truncated &&
		    !symbolizer_lookup(pl->sym, &(struct symbolizer_file){ m->path, m->dev, m->ino },
				       f->file_off, s)) {
			r->symbol = s->name;
			r->offset = s->offset;
		}
	}
	return ev->n_frames;
}

/* The C++ runtime's demangler, from libstdc++ (its ABI, callable from C). */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

/* A thrown type's name as written in source: "St13runtime_error" becomes
 * "std::runtime_error". A name it cannot read stays as the runtime gave it. */
static void demangle_type(struct event *ev)
{
	const char *mangled = ev->text.text + (ev->text.text[0] == '*'); /* local linkage mark */
	int status = -1;
	char *name = __cxa_demangle(mangled, NULL, NULL, &status);

	if (!status && name)
		snprintf(ev->text.text, sizeof(ev->text.text), "%s", name);
	free(name);
}

/* An exception probe with types reports only those. */
static bool type_wanted(const struct policy_probe *pr, const struct event *ev)
{
	if (ev->kind != SALVE_EV_EXCEPTION || !pr->n_types)
		return true;
	for (size_t i = 0; i < pr->n_types; i++)
		if (!strcmp(pr->types[i], ev->text.text))
			return true;
	return false;
}

/* One line to the output; once its reader has gone (EPIPE, said by
 * pipeline_output_gone), nothing more is tried and 0 is returned. */
static int write_line(struct pipeline *pl, struct json_object *line)
{
	int err = pl->out_gone ? 0 : report_write(pl->out, line);

	if (err == -EPIPE) {
		pl->out_gone = true;
		return 0;
	}
	return err;
}

bool pipeline_output_gone(const struct pipeline *pl)
{
	return pl->out_gone;
}

/* Write ev as produced by probe. */
static void report(struct pipeline *pl, const struct event *ev, const char *probe, bool *named,
		   struct report_frame *frames, size_t *n_frames)
{
	struct json_object *line;
	int err;

	if (!*named) {
		*n_frames = symbolize(pl, ev, frames);
		*named = true;
	}
	line = report_event(ev, probe, ev->boot_ns + pl->realtime_offset_ns, frames, *n_frames);
	err = line ? write_line(pl, line) : -ENOMEM;
	json_object_put(line);
	if (!err && !pl->out_gone) {
		pl->reported[ev->kind]++;
		return;
	}
	pl->lost[ev->kind]++;
	if (err && !pl->lost_logged) {
		pl->lost_logged = true;
		salve_log(LOG_ERR, "cannot write an event: %s (events lost from now on are counted in "
			  "the stats line's \"lost\")", strerror(-err));
	}
}

void pipeline_flush(struct pipeline *pl)
{
	struct engine_input in[PIPELINE_BATCH];

	for (size_t i = 0; i < pl->n_held; i++)
		in[i] = (struct engine_input){ &pl->held[i].ev, pl->held[i].probe,
					       &pl->held[i].record, pl->held[i].size, NULL, 0 };
	if (pl->n_held)
		engine_events(pl->engine, in, pl->n_held);
	pl->n_held = 0;
}

/* ev as produced by probe: its line, then the rules that watch the probe, after those
 * of the events held before it. record is the ring-buffer record it came from (NULL
 * for salved's own events). */
static void deliver(struct pipeline *pl, const struct event *ev, const struct policy_probe *probe,
		    const void *record, size_t size, bool *named, struct report_frame *frames,
		    size_t *n_frames)
{
	struct engine_input in = { ev, probe, record, size, NULL, 0 };
	const char *symbols[SALVE_STACK_MAX];

	report(pl, ev, probe->id, named, frames, n_frames);
	if (!pl->engine)
		return;
	pipeline_flush(pl);
	if (engine_needs_symbols(pl->engine, probe)) {
		for (size_t i = 0; i < *n_frames; i++)
			if (frames[i].symbol)
				symbols[in.n_symbols++] = frames[i].symbol;
		in.symbols = symbols;
	}
	engine_event(pl->engine, &in);
}

/* As deliver, for the event in the first free held slot: held for the next batch
 * when its rules need no symbols. */
static void deliver_held(struct pipeline *pl, const struct policy_probe *probe,
			 const void *record, size_t size, bool *named,
			 struct report_frame *frames, size_t *n_frames)
{
	struct held *h = &pl->held[pl->n_held];

	if (!pl->engine || engine_needs_symbols(pl->engine, probe) || size > sizeof(h->record)) {
		deliver(pl, &h->ev, probe, record, size, named, frames, n_frames);
		return;
	}
	report(pl, &h->ev, probe->id, named, frames, n_frames);
	h->probe = probe;
	h->size = size;
	memcpy(&h->record, record, size);
	if (++pl->n_held == PIPELINE_BATCH)
		pipeline_flush(pl);
}

int pipeline_record(void *ctx, void *data, size_t size)
{
	struct pipeline *pl = ctx;
	struct report_frame frames[SALVE_STACK_MAX];
	struct event *ev = &pl->held[pl->n_held].ev; /* a slot is free: flushed when full */
	size_t n_frames = 0;
	bool named = false;
	int err;

	if ((err = events_decode(data, size, ev))) {
		if (!pl->malformed++)
			salve_log(LOG_WARNING, "skipping a malformed ring-buffer record (%zu bytes): %s",
				  size, strerror(-err));
		return 0;
	}
	pl->received[ev->kind]++;
	if (!pl->set)
		return 0;
	if (ev->kind >= SALVE_EV_RETURN) {
		/* Records of function and syscall probes name their site, and the site its
		 * one probe; the kernel checked the site's own policy. A site that went with
		 * a reload has no probe to name any more. */
		const struct site *site = pl->sites ? sites_find(pl->sites, ev->call.site) : NULL;

		if (ev->kind == SALVE_EV_EXCEPTION)
			demangle_type(ev);
		if (site && type_wanted(site->probe, ev))
			deliver_held(pl, site->probe, data, size, &named, frames, &n_frames);
		return 0;
	}
	pipeline_flush(pl); /* the rules of the events before it, first */
	for (size_t i = 0; i < pl->set->n_policies && i < SALVE_POLICIES_MAX; i++) {
		const struct policy *pol = &pl->set->policies[i];

		if (!(ev->policies & (1ull << i)))
			continue;
		for (size_t j = 0; j < pol->n_probes; j++)
			if (probe_wants(&pol->probes[j], ev))
				deliver(pl, ev, &pol->probes[j], data, size, &named, frames, &n_frames);
	}
	/* The rules count that process no more. */
	if (ev->kind == SALVE_EV_EXIT && pl->engine)
		engine_forget(pl->engine, ev->pid);
	return 0;
}

int pipeline_stats(struct pipeline *pl, const struct salve_counters kernel[SALVE_EV_KIND_MAX])
{
	struct json_object *o = json_object_new_object(), *kinds = json_object_new_object();
	char when[64];
	int err;

	if (!o || !kinds) {
		json_object_put(o);
		json_object_put(kinds);
		return -ENOMEM;
	}
	report_time(loop_now_ns(CLOCK_REALTIME), when, sizeof(when));
	json_object_object_add(o, "time", json_object_new_string(when));
	json_object_object_add(o, "kind", json_object_new_string("stats"));
	for (int k = 1; k < SALVE_EV_KIND_MAX; k++) {
		struct json_object *c = json_object_new_object();

		json_object_object_add(c, "seen", json_object_new_uint64(kernel[k].seen));
		json_object_object_add(c, "received", json_object_new_uint64(pl->received[k]));
		json_object_object_add(c, "reported", json_object_new_uint64(pl->reported[k]));
		json_object_object_add(c, "lost", json_object_new_uint64(kernel[k].lost + pl->lost[k]));
		json_object_object_add(c, "suppressed", json_object_new_uint64(kernel[k].suppressed));
		json_object_object_add(kinds, events_kind_name(k), c);
	}
	json_object_object_add(o, "events", kinds);
	json_object_object_add(o, "malformed", json_object_new_uint64(pl->malformed));
	if (pl->engine) {
		struct json_object *r = json_object_new_object();
		struct engine_stats es;

		engine_stats(pl->engine, &es);
		json_object_object_add(r, "rules", json_object_new_uint64(es.rules));
		json_object_object_add(r, "groups", json_object_new_uint64(es.groups));
		json_object_object_add(r, "evicted", json_object_new_uint64(es.evicted));
		json_object_object_add(r, "incidents", json_object_new_uint64(es.incidents));
		json_object_object_add(r, "budget_exhausted",
				       json_object_new_uint64(es.budget_exhausted));
		json_object_object_add(o, "rules", r);
	}
	err = write_line(pl, o);
	json_object_put(o);
	return err;
}

/* What /proc says of a live process: its comm and its binary. */
static void describe_process(uint32_t tgid, struct event *ev)
{
	char path[64];
	FILE *f;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%u/comm", tgid);
	if ((f = fopen(path, "re"))) {
		if (fgets(ev->comm, sizeof(ev->comm), f))
			ev->comm[strcspn(ev->comm, "\n")] = 0;
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%u/exe", tgid);
	n = readlink(path, ev->exe.path, sizeof(ev->exe.path) - 1);
	ev->exe.path[n > 0 ? n : 0] = 0;
}

void pipeline_stall(struct pipeline *pl, const struct site *site, uint32_t tgid, uint64_t now_ns,
		    uint64_t stalled_ns)
{
	struct event *ev = &pl->ev;
	bool named = true;
	size_t n_frames = 0;

	memset(ev, 0, sizeof(*ev));
	ev->kind = SALVE_EV_STALL;
	ev->boot_ns = now_ns;
	ev->pid = ev->tid = tgid;
	ev->call.site = site->id;
	ev->call.duration_ns = stalled_ns;
	describe_process(tgid, ev);
	pl->received[SALVE_EV_STALL]++;
	deliver(pl, ev, site->probe, NULL, 0, &named, NULL, &n_frames);
}
