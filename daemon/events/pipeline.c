#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"
#include "events/callsite.h"
#include "events/events.h"
#include "events/faults.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/output.h"
#include "events/pipeline.h"
#include "events/report.h"
#include "events/warm.h"
#include "kernel/scope.h"
#include "symbols/name.h"
#include "symbols/symbolize.h"

/* Function and syscall events, the hot ones, reach their rules in batches
 * (engine_events, whose cache misses overlap): each is held from its line until the
 * batch is full, a colder event comes, or the ring is drained (pipeline_flush). */
#define PIPELINE_BATCH 16

/* Room for the line of a held event; a longer one goes to its rules at once. */
#define HELD_LINE_MAX 4096

struct held {
	struct event ev;
	const struct policy_probe *probe;
	size_t line_len;
	char line[HELD_LINE_MAX];
};

/* A thrown type's name, demangled once. */
#define TYPE_NAMES 64
struct type_name {
	bool set;
	char mangled[SALVE_TEXT_MAX];
	char name[SALVE_TEXT_MAX];
};

struct pipeline {
	struct output *out;
	struct pipeline_config configs[2]; /* in force, and the one before; set NULL: none */
	struct engine *engine; /* the rules; NULL: events are only reported */
	pipeline_watch_fn *watch;
	void *watch_ctx;
	pipeline_tap_fn *tap;
	void *tap_ctx;
	struct symbolizer *sym;
	struct unwinder *unw;
	struct callsite *calls; /* function events' functions and executables, named once */
	int64_t realtime_offset_ns; /* CLOCK_REALTIME - CLOCK_BOOTTIME */
	uint64_t received[SALVE_EV_KIND_MAX];
	uint64_t stale[SALVE_EV_KIND_MAX]; /* of a configuration no longer known */
	/* Events whose line could not be built (out of memory). With the lines the output
	 * could not write, counted in the stats line's "lost" with the kernel's. */
	uint64_t unbuilt[SALVE_EV_KIND_MAX];
	uint64_t malformed;
	struct pipeline_site_counts sites[SALVE_SITES_MAX]; /* by site id, since it was attached */
	bool lost_logged; /* the first lost line was said; the stats count the others */
	size_t budget, spent; /* records this read of the ring may take (0: all), and took */
	/* Scratch: an event and its names are too big for the stack of a callback. The
	 * next record is read into the first free held slot. */
	struct held held[PIPELINE_BATCH];
	size_t n_held;
	struct event ev; /* salved's own events */
	struct event_names names; /* of the event being delivered */
	struct jsonw line; /* the last event line written: its text goes on to the rules */
	/* The last kernel-raised fault of each process, and the one the event being
	 * delivered follows from (NULL: none). */
	struct fault_table faults;
	const struct fault *cause;
	struct type_name types[TYPE_NAMES]; /* by hash of the mangled name */
};

void pipeline_sync_clock(struct pipeline *pl)
{
	pl->realtime_offset_ns = loop_realtime_offset_ns();
}

int pipeline_new(struct output *out, struct pipeline **outp)
{
	struct pipeline *pl = calloc(1, sizeof(*pl));
	int err;

	if (!pl)
		return -ENOMEM;
	if ((err = symbolizer_new(&pl->sym)) || (err = unwinder_new(&pl->unw)) ||
	    (err = callsite_new(&pl->calls))) {
		symbolizer_free(pl->sym);
		unwinder_free(pl->unw);
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
	unwinder_free(pl->unw);
	callsite_free(pl->calls);
	jsonw_free(&pl->line);
	free(pl);
}

void pipeline_set_configs(struct pipeline *pl, const struct pipeline_config *cur,
			  const struct pipeline_config *prev)
{
	/* A site new to this configuration starts from nothing, whatever held its id before. */
	for (size_t i = 0; cur && cur->sites && i < cur->sites->n_sites; i++) {
		const struct site *s = &cur->sites->sites[i];

		if (s->id < SALVE_SITES_MAX &&
		    (!pl->configs[0].sites || sites_is_new(pl->configs[0].sites, s)))
			pl->sites[s->id] = (struct pipeline_site_counts){ 0 };
	}
	pl->configs[0] = cur ? *cur : (struct pipeline_config){ 0 };
	pl->configs[1] = prev ? *prev : (struct pipeline_config){ 0 };
}

/* The configuration that decided a record of generation gen; NULL when none known. */
static const struct pipeline_config *config_of(const struct pipeline *pl, uint32_t gen)
{
	for (size_t i = 0; i < 2; i++) {
		const struct pipeline_config *c = &pl->configs[i];

		if (c->set && gen - c->first_gen <= c->last_gen - c->first_gen)
			return c;
	}
	return NULL;
}

struct pipeline_site_counts pipeline_site_counts(const struct pipeline *pl, uint32_t id)
{
	return id < SALVE_SITES_MAX ? pl->sites[id] : (struct pipeline_site_counts){ 0 };
}

void pipeline_warm(struct pipeline *pl, const struct policy_set *set)
{
	uint64_t start = loop_now_ns(CLOCK_MONOTONIC);
	size_t n = warm_stacks(pl->sym, set);

	if (n)
		salve_log(LOG_INFO, "read %zu file%s ahead of their stacks in %llu ms", n,
			  n == 1 ? "" : "s",
			  (unsigned long long)((loop_now_ns(CLOCK_MONOTONIC) - start) / 1000000));
}

void pipeline_set_watch(struct pipeline *pl, pipeline_watch_fn *fn, void *ctx)
{
	pl->watch = fn;
	pl->watch_ctx = ctx;
}

void pipeline_set_tap(struct pipeline *pl, pipeline_tap_fn *fn, void *ctx)
{
	pl->tap = fn;
	pl->tap_ctx = ctx;
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
		/* Fatal ones; caught ones for "handled"; caught faults unless "faults": "fatal". */
		return (pr->signals_mask & (1u << (ev->sig.signo & 31))) &&
		       (pr->handled || (ev->sig.flags & SALVE_SIG_FATAL) ||
			(pr->faults == POLICY_FAULTS_ALL && (ev->sig.flags & SALVE_SIG_HANDLED) &&
			 faults_is_fault(ev)));
	case SALVE_EV_EXIT:
		return !pr->nonzero || ev->exit.status;
	default:
		return true;
	}
}

/* The C++ runtime's demangler, from libstdc++ (its ABI, callable from C). */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

/* A thrown type's name as written in source: "St13runtime_error" becomes
 * "std::runtime_error". A name it cannot read stays as the runtime gave it. A program
 * throws few types, often: each is demangled once and kept. */
static void demangle_type(struct pipeline *pl, struct event *ev)
{
	const char *mangled = ev->text.text + (ev->text.text[0] == '*'); /* local linkage mark */
	uint32_t hash = 2166136261u; /* FNV-1a */
	struct type_name *t;
	int status = -1;
	char *name;

	for (const char *c = ev->text.text; *c; c++)
		hash = (hash ^ (uint8_t)*c) * 16777619u;
	t = &pl->types[hash % TYPE_NAMES];
	if (!t->set || strcmp(t->mangled, ev->text.text)) {
		const char *src;
		size_t n;

		name = __cxa_demangle(mangled, NULL, NULL, &status);
		src = !status && name ? name : ev->text.text;
		n = strnlen(src, sizeof(t->name) - 1);
		memcpy(t->name, src, n);
		t->name[n] = 0;
		memcpy(t->mangled, ev->text.text, sizeof(t->mangled));
		t->set = true;
		free(name);
	}
	memcpy(ev->text.text, t->name, sizeof(t->name));
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

/* "site": the function a function event's probe sits on, named once per site. */
static void site_field(struct pipeline *pl, const struct site *site)
{
	struct callsite_function fn;

	callsite_function(pl->calls, pl->sym, site, &fn);
	jsonw_object_begin(&pl->line, "site");
	jsonw_string(&pl->line, "module", fn.module);
	if (fn.symbol)
		jsonw_string(&pl->line, "symbol", fn.symbol);
	jsonw_uint(&pl->line, "offset", fn.offset);
	jsonw_object_end(&pl->line);
}

/* ev's line as produced by probe, with what it says besides the record: the fault
 * that led to it, and the function a function event is about. NULL when out of memory. */
static const char *build_line(struct pipeline *pl, const struct event *ev, const char *probe,
			      const struct site *site, size_t *len)
{
	struct jsonw *w = &pl->line;

	jsonw_reset(w);
	report_event_begin(w, ev, probe, ev->boot_ns + pl->realtime_offset_ns, pl->names.frames,
			   pl->names.n_frames);
	if (pl->cause)
		report_cause(w, pl->cause->signo, pl->cause->code,
			     pl->cause->has_addr ? &pl->cause->addr : NULL,
			     pl->cause->boot_ns + pl->realtime_offset_ns);
	if (site && site->cfg.kind != SALVE_SITE_SYSCALL)
		site_field(pl, site);
	jsonw_object_end(w);
	return jsonw_text(w, len);
}

/* Write ev as produced by probe (at site, for a function event): named once (named
 * says whether it is), its line written, and its text in *text for the later stages
 * (valid until the next report). false when it has no line. */
/* The first event line lost to an error is said; the stats line counts the others (a
 * reader gone is said by the daemon). */
static void say_lost(struct pipeline *pl, int err)
{
	if (!err || err == -EPIPE || pl->lost_logged)
		return;
	pl->lost_logged = true;
	salve_log(LOG_ERR, "cannot write an event: %s (events lost from now on are counted in "
		  "the stats line's \"lost\")", strerror(-err));
}

static bool report(struct pipeline *pl, const struct event *ev, const char *probe,
		   const struct site *site, bool *named, const char **text, size_t *len)
{
	int err;

	if (!*named) {
		name_event(pl->sym, pl->unw, ev, &pl->names);
		*named = true;
	}
	*text = build_line(pl, ev, probe, site, len);
	if (!*text)
		pl->unbuilt[ev->kind]++;
	err = *text ? output_line(pl->out, ev->kind, *text, *len) : -ENOMEM;
	if (*text && pl->tap) {
		/* The comm as the line shows it, invalid UTF-8 replaced. */
		char comm[3 * sizeof(ev->comm)];
		size_t n = jsonw_clean_utf8(ev->comm, strlen(ev->comm), comm);
		struct line_facts facts = { .kind = events_kind_name(ev->kind), .has_pid = true,
					    .pid = ev->pid, .comm = comm, .probe = probe };

		comm[n] = 0;
		pl->tap(pl->tap_ctx, &facts, NULL, *text, *len);
	}
	if (!err && pl->watch)
		pl->watch(pl->watch_ctx, probe, ev);
	say_lost(pl, err);
	return *text;
}

/* The rules of the events held so far. */
static void flush_held(struct pipeline *pl)
{
	struct engine_input in[PIPELINE_BATCH];

	for (size_t i = 0; i < pl->n_held; i++)
		in[i] = (struct engine_input){ &pl->held[i].ev, pl->held[i].probe, pl->held[i].line,
					       pl->held[i].line_len, NULL, 0 };
	if (pl->n_held)
		engine_events(pl->engine, in, pl->n_held);
	pl->n_held = 0;
}

void pipeline_flush(struct pipeline *pl)
{
	flush_held(pl);
	say_lost(pl, output_flush(pl->out));
}

/* The rules that watch probe, for ev (named) and its line, after those of the events
 * held before it. */
static void to_rules(struct pipeline *pl, const struct event *ev, const struct policy_probe *probe,
		     const char *text, size_t len)
{
	struct engine_input in = { ev, probe, text, len, NULL, 0 };
	const char *symbols[SALVE_STACK_MAX];

	flush_held(pl);
	if (engine_needs_symbols(pl->engine, probe)) {
		for (size_t i = 0; i < pl->names.n_frames; i++)
			if (pl->names.frames[i].symbol)
				symbols[in.n_symbols++] = pl->names.frames[i].symbol;
		in.symbols = symbols;
	}
	engine_event(pl->engine, &in);
}

/* ev as produced by probe: its line, then its rules. */
static void deliver(struct pipeline *pl, const struct event *ev, const struct policy_probe *probe,
		    const struct site *site, bool *named)
{
	const char *text = NULL;
	size_t len = 0;

	if (report(pl, ev, probe->id, site, named, &text, &len) && pl->engine)
		to_rules(pl, ev, probe, text, len);
}

/* As deliver, for the event in the first free held slot: held for the next batch
 * when its rules need no symbols. */
static void deliver_held(struct pipeline *pl, const struct site *site, bool *named)
{
	struct held *h = &pl->held[pl->n_held];
	const struct policy_probe *probe = site->probe;
	const char *text;
	size_t len;

	if (!report(pl, &h->ev, probe->id, site, named, &text, &len) || !pl->engine)
		return;
	if (engine_needs_symbols(pl->engine, probe) || len > sizeof(h->line)) {
		to_rules(pl, &h->ev, probe, text, len);
		return;
	}
	h->probe = probe;
	h->line_len = len;
	memcpy(h->line, text, len);
	if (++pl->n_held == PIPELINE_BATCH)
		flush_held(pl);
}

static void record(struct pipeline *pl, void *data, size_t size)
{
	struct event *ev = &pl->held[pl->n_held].ev; /* a slot is free: flushed when full */
	const struct pipeline_config *cfg;
	bool named = false;
	int err;

	if ((err = events_decode(data, size, ev))) {
		if (!pl->malformed++)
			salve_log(LOG_WARNING, "skipping a malformed ring-buffer record (%zu bytes): %s",
				  size, strerror(-err));
		return;
	}
	pl->received[ev->kind]++;
	if (!(cfg = config_of(pl, ev->gen))) {
		pl->stale[ev->kind]++;
		return;
	}
	if (ev->kind >= SALVE_EV_RETURN) {
		/* Records of function and syscall probes name their site, and the site its
		 * one probe; the kernel checked the site's own policy. A site of another
		 * configuration (a reload switched in between) can name none. */
		const struct site *site = cfg->sites ? sites_find(cfg->sites, ev->call.site) : NULL;

		if (ev->kind == SALVE_EV_EXCEPTION)
			demangle_type(pl, ev);
		if (site && site->id < SALVE_SITES_MAX) {
			pl->sites[site->id].records++;
			pl->sites[site->id].suppressed += ev->suppressed;
		}
		if (!site) {
			pl->stale[ev->kind]++;
		} else if (type_wanted(site->probe, ev)) {
			callsite_exe(pl->calls, cfg->set, site, ev);
			deliver_held(pl, site, &named);
		}
		return;
	}
	flush_held(pl); /* the rules of the events before it, first */
	pl->cause = faults_cause(&pl->faults, ev);
	faults_note(&pl->faults, ev);
	for (size_t i = 0; i < cfg->set->n_policies && i < SALVE_POLICIES_MAX; i++) {
		const struct policy *pol = &cfg->set->policies[i];

		if (!(ev->policies & (1ull << i)))
			continue;
		for (size_t j = 0; j < pol->n_probes; j++)
			if (probe_wants(&pol->probes[j], ev))
				deliver(pl, ev, &pol->probes[j], NULL, &named);
	}
	pl->cause = NULL;
	if (ev->kind == SALVE_EV_EXIT)
		faults_forget(&pl->faults, ev->pid);
	/* The rules count that process no more. */
	if (ev->kind == SALVE_EV_EXIT && pl->engine)
		engine_forget(pl->engine, ev->pid);
}

void pipeline_budget(struct pipeline *pl, size_t n)
{
	pl->budget = n;
	pl->spent = 0;
}

size_t pipeline_budget_spent(const struct pipeline *pl)
{
	return pl->spent;
}

int pipeline_record(void *ctx, void *data, size_t size)
{
	struct pipeline *pl = ctx;

	record(pl, data, size);
	return ++pl->spent == pl->budget ? -EAGAIN : 0;
}

void pipeline_counts(const struct pipeline *pl, struct pipeline_counts *out)
{
	memcpy(out->received, pl->received, sizeof(out->received));
	for (int k = 0; k < SALVE_EV_KIND_MAX; k++) {
		struct output_counts c = output_counts(pl->out, (unsigned)k);

		out->reported[k] = c.written;
		out->lost[k] = pl->unbuilt[k] + c.lost;
	}
	memcpy(out->stale, pl->stale, sizeof(out->stale));
	out->malformed = pl->malformed;
}

int pipeline_stats(struct pipeline *pl, const struct salve_counters kernel[SALVE_EV_KIND_MAX],
		   struct json_object **copy)
{
	struct json_object *o = json_object_new_object(), *kinds = json_object_new_object();
	struct pipeline_counts counts;
	const char *text;
	char when[64];
	size_t len;
	int err;

	pipeline_flush(pl); /* the lines before it, counted as written or lost */
	pipeline_counts(pl, &counts);
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
		json_object_object_add(c, "reported", json_object_new_uint64(counts.reported[k]));
		json_object_object_add(c, "lost", json_object_new_uint64(kernel[k].lost + counts.lost[k]));
		json_object_object_add(c, "suppressed", json_object_new_uint64(kernel[k].suppressed));
		json_object_object_add(c, "stale", json_object_new_uint64(pl->stale[k]));
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
	text = report_text(o, &len);
	err = text ? output_line(pl->out, 0, text, len) : -ENOMEM;
	err = err ?: output_flush(pl->out);
	if (err == -EPIPE) /* the reader gone: said by output_gone, not by each line */
		err = 0;
	if (text && pl->tap)
		pl->tap(pl->tap_ctx, &(struct line_facts){ .kind = "stats" }, o, text, len);
	if (copy)
		*copy = err ? NULL : json_object_get(o);
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
	bool named = true; /* salved's own: no stack */

	pipeline_flush(pl);
	pl->names.n_frames = 0;
	memset(ev, 0, sizeof(*ev));
	ev->kind = SALVE_EV_STALL;
	ev->boot_ns = now_ns;
	ev->pid = ev->tid = tgid;
	ev->call.site = site->id;
	ev->call.duration_ns = stalled_ns;
	describe_process(tgid, ev);
	pl->received[SALVE_EV_STALL]++;
	deliver(pl, ev, site->probe, site, &named);
	pipeline_flush(pl);
}
