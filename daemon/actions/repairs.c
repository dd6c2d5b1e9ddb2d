/* repairs: the repairs in effect, their lines, their undo. */
#include "actions/repairs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actions/breakers.h"
#include "actions/rescuer.h"
#include "base/atomic_file.h"
#include "base/log.h"
#include "base/loop.h"
#include "events/report.h"

struct entry {
	uint64_t id;
	uint64_t incident_id;
	char *rule, *policy;
	struct repair_plan plan;
	bool verified;
	struct entry *next;
};

/* A repair that stands for the processes of an executable started later. */
struct standing {
	uint64_t id;     /* a repair id, and the cookie of the entry stop */
	char exe[PATH_MAX];
	struct repair_plan spec; /* of the first process: kind, binary, symbol, value, to */
	uint64_t incident_id;
	char rule[128], policy[128];
	struct standing *next;
};

/* A process salved traces to rescue its faults (a "rescue" action). */
struct rescue_entry {
	uint64_t id, incident_id, rescues;
	uint32_t pid;
	uint64_t start_ns; /* the process's, so a salved started again finds the same one */
	int64_t value;
	uint64_t window_ns;
	char rule[256], policy[256], binary[PATH_MAX];
	struct json_object *at; /* the rescue points, as the line shows them */
	uint32_t budget;        /* rescues an hour, the rule's budget */
	uint64_t hour_start_ns; /* of the hour they are counted in, and how many so far */
	uint32_t in_hour;
	uint64_t seq;           /* the journal entry of the rescue being written; 0: none */
	struct rescue_entry *next;
};

struct repairs {
	struct journal *journal;
	repairs_line_fn *line;
	void *ctx;
	int64_t realtime_offset_ns;
	int dirfd; /* where repairs.json is kept */
	uint64_t next_id;
	struct entry *entries; /* newest first */
	struct standing *standing;
	repairs_stand_fn *stand;
	repairs_unstand_fn *unstand;
	void *stand_ctx;
	struct rescuer *rescuer;
	struct rescue_entry *rescues; /* the processes traced for rescue */
	struct breakers *breakers;
};

#define REPAIRS_FILE "repairs.json"

static void on_rescue(void *ctx, const struct rescue_event *ev);
static int on_rescuing(void *ctx, const struct rescue_event *ev, char *why, size_t why_len);

int repairs_new(struct journal *journal, const char *dir, repairs_line_fn *line, void *ctx,
		struct repairs **out)
{
	struct repairs *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	if ((r->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		int err = -errno;

		free(r);
		return err;
	}
	r->journal = journal;
	r->line = line;
	r->ctx = ctx;
	r->next_id = 1;
	r->realtime_offset_ns = loop_realtime_offset_ns();
	if (rescuer_new(on_rescue, on_rescuing, r, &r->rescuer) ||
	    breakers_new(journal, r->dirfd, line, ctx, &r->next_id, &r->breakers)) {
		rescuer_free(r->rescuer);
		close(r->dirfd);
		free(r);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}

static void entry_free(struct entry *e)
{
	free(e->rule);
	free(e->policy);
	free(e);
}

void repairs_free(struct repairs *r)
{
	if (!r)
		return;
	while (r->entries) {
		struct entry *e = r->entries;

		r->entries = e->next;
		entry_free(e);
	}
	while (r->standing) {
		struct standing *s = r->standing;

		r->standing = s->next;
		free(s);
	}
	breakers_free(r->breakers);
	rescuer_free(r->rescuer); /* every traced process let go, as it was */
	while (r->rescues) {
		struct rescue_entry *x = r->rescues;

		r->rescues = x->next;
		json_object_put(x->at);
		free(x);
	}
	close(r->dirfd);
	free(r);
}

void repairs_set_clock(struct repairs *r, int64_t realtime_offset_ns)
{
	r->realtime_offset_ns = realtime_offset_ns;
	breakers_set_clock(r->breakers, realtime_offset_ns);
}

struct breakers *repairs_breakers(struct repairs *r)
{
	return r->breakers;
}

static const char *kind_name(enum repair_kind k)
{
	return k == REPAIR_OVERRIDE ? "override" : "redirect";
}

/* {"time","kind":"repair","id"?, "do", origin…, "state"}: NULL when out of memory. */
static struct json_object *line_new(const struct repairs *r, uint64_t id, const char *what,
				    uint64_t incident_id, const char *rule, const char *policy,
				    const char *state)
{
	struct json_object *o = json_object_new_object();
	char when[64];
	int err;

	if (!o)
		return NULL;
	if (report_time(loop_now_ns(CLOCK_BOOTTIME) + (uint64_t)r->realtime_offset_ns, when,
			sizeof(when)) < 0)
		when[0] = 0;
	err = report_add(o, "time", json_object_new_string(when));
	err = err ?: report_add(o, "kind", json_object_new_string("repair"));
	if (id)
		err = err ?: report_add(o, "id", json_object_new_uint64(id));
	err = err ?: report_add(o, "do", json_object_new_string(what));
	err = err ?: report_add(o, "incident", json_object_new_uint64(incident_id));
	err = err ?: report_add(o, "rule", report_string(rule));
	err = err ?: report_add(o, "policy", report_string(policy));
	err = err ?: report_add(o, "state", json_object_new_string(state));
	if (err) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *entry_line(const struct repairs *r, const struct entry *e,
				      const char *state)
{
	struct json_object *o = line_new(r, e->id, kind_name(e->plan.kind), e->incident_id, e->rule,
					 e->policy, state);

	if (o && repair_plan_to_json(&e->plan, o)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static void emit(struct repairs *r, struct json_object *o)
{
	if (!o) {
		salve_log(LOG_ERR, "a repair line cannot be made: %s", strerror(ENOMEM));
		return;
	}
	if (r->line)
		r->line(r->ctx, o);
	json_object_put(o);
}

/* The repairs in effect, whole, into repairs.json: a temporary file synced, then renamed
 * over the last one, so a crash leaves the old list or the new, never half of one. */
static struct json_object *list_kept(const struct repairs *r);

static void save(struct repairs *r)
{
	struct json_object *list = list_kept(r);
	const char *text = list ? json_object_to_json_string_ext(list, JSON_C_TO_STRING_PLAIN) : NULL;
	int err = text ? atomic_file_write(r->dirfd, REPAIRS_FILE, text) : -ENOMEM;

	if (err)
		salve_log(LOG_ERR, "%s: cannot keep the repairs in effect: %s (a salved started "
			  "again will not find them)", REPAIRS_FILE, strerror(-err));
	json_object_put(list);
}

/* ---- standing repairs: the new processes of a repaired executable ------------------ */

/* Journal first: the begin entry of what (kind_name's, or "rollback" of repair id) on
 * plan p, with every byte it writes. 0, or -errno with err saying so: then nothing may
 * be written. */
static int journal_first(struct repairs *r, const char *what, uint64_t id,
			 const struct repair_plan *p, uint64_t incident_id, const char *rule,
			 const char *policy, uint64_t *seq, char *err, size_t err_len)
{
	struct json_object *desc = json_object_new_object();
	int ret = -ENOMEM;

	if (desc && !report_add(desc, "do", json_object_new_string(what)) &&
	    (!id || (!report_add(desc, "repair", json_object_new_uint64(id)) &&
		     !report_add(desc, "of", json_object_new_string(kind_name(p->kind))))) &&
	    !repair_plan_to_json(p, desc))
		ret = journal_begin(r->journal,
				    &(struct journal_subject){ incident_id, rule, policy, p->pid, p->path },
				    0, desc, seq);
	json_object_put(desc);
	if (ret)
		snprintf(err, err_len, "journal %s: %s", journal_path(r->journal), strerror(-ret));
	return ret;
}

/* Its end entry: what happened. */
static void journal_last(struct repairs *r, uint64_t seq, const char *what, const char *outcome)
{
	struct json_object *end = json_object_new_object();

	if (end && !report_add(end, "do", json_object_new_string(what)) &&
	    !report_add(end, "outcome", json_object_new_string(outcome)))
		journal_end(r->journal, seq, end);
	json_object_put(end);
}

void repairs_set_standing(struct repairs *r, repairs_stand_fn *stand, repairs_unstand_fn *unstand,
			  void *ctx)
{
	r->stand = stand;
	r->unstand = unstand;
	r->stand_ctx = ctx;
}

static struct entry **find(struct repairs *r, uint64_t id)
{
	struct entry **p = &r->entries;

	while (*p && (*p)->id != id)
		p = &(*p)->next;
	return p;
}

/* Roll e back (freed then, undone or not); a failure is logged with e's fields, taken
 * before. */
static void rollback_logged(struct repairs *r, struct entry *e, const char *reason)
{
	char err[512], rule[256], policy[256];
	struct log_fields f = { .rule = rule, .policy = policy, .pid = e->plan.pid,
				.incident = e->incident_id, .repair = e->id };

	snprintf(rule, sizeof(rule), "%s", e->rule);
	snprintf(policy, sizeof(policy), "%s", e->policy);
	if (repairs_rollback(r, e->id, reason, err, sizeof(err)))
		salve_log_ctx(LOG_ERR, &f, "repair %llu: %s", (unsigned long long)f.repair, err);
}

/* The standing repair the plan of a repair (or the repair's rule) is one of. */
static struct standing **standing_of(struct repairs *r, const char *rule, const struct repair_plan *p)
{
	struct standing **s = &r->standing;

	while (*s && (strcmp((*s)->rule, rule) || strcmp((*s)->spec.path, p->path) ||
		      strcmp((*s)->spec.symbol, p->symbol)))
		s = &(*s)->next;
	return s;
}

static struct standing **standing_by_id(struct repairs *r, uint64_t id)
{
	struct standing **s = &r->standing;

	while (*s && (*s)->id != id)
		s = &(*s)->next;
	return s;
}

/* {"kind":"repair","id","do",…,"state","exe","binary","symbol","return"|"to"}. */
static struct json_object *standing_line(const struct repairs *r, const struct standing *s,
					 const char *state)
{
	struct json_object *o = line_new(r, s->id, kind_name(s->spec.kind), s->incident_id, s->rule,
					 s->policy, state);
	int err = 0;

	if (!o)
		return NULL;
	err = report_add(o, "exe", json_object_new_string(s->exe));
	err = err ?: repair_spec_to_json(&s->spec, o);
	err = err ?: report_add(o, "mechanism",
				json_object_new_string(repair_mechanism_of(&s->spec)));
	if (err) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* Repair the new processes of exe as spec says, from now on: a repair of its own (id:
 * id_hint when free, else the next), with its "standing" line. */
static void stand_exe(struct repairs *r, const struct repair_plan *spec, const char *exe,
		      const struct repair_origin *o, uint64_t id_hint)
{
	struct standing *s;
	char err[512];

	if (!o->new_processes || !r->stand || *standing_of(r, o->rule ? o->rule : "", spec))
		return;
	if (!(s = calloc(1, sizeof(*s))))
		return;
	s->id = id_hint && !*standing_by_id(r, id_hint) && !*find(r, id_hint) ? id_hint : r->next_id;
	if (s->id >= r->next_id)
		r->next_id = s->id + 1;
	s->spec = *spec;
	s->incident_id = o->incident_id;
	snprintf(s->exe, sizeof(s->exe), "%s", exe);
	snprintf(s->rule, sizeof(s->rule), "%s", o->rule ? o->rule : "");
	snprintf(s->policy, sizeof(s->policy), "%s", o->policy ? o->policy : "");
	if (r->stand(r->stand_ctx, exe, (uint32_t)s->id, err, sizeof(err))) {
		salve_log_ctx(LOG_WARNING, &(struct log_fields){ .rule = o->rule, .policy = o->policy,
								 .incident = o->incident_id },
			      "repair of %s: new processes of %s will not get it: %s", spec->symbol,
			      exe, err);
		free(s);
		return;
	}
	s->next = r->standing;
	r->standing = s;
	save(r);
	emit(r, standing_line(r, s, "standing"));
}

/* Repair the new processes of p's executable as p was. */
static void stand(struct repairs *r, const struct repair_plan *p, const struct repair_origin *o)
{
	char link[64], exe[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%u/exe", p->pid);
	if ((n = readlink(link, exe, sizeof(exe) - 1)) < 0)
		return;
	exe[n] = 0;
	stand_exe(r, p, exe, o, 0);
}

int repairs_stand(struct repairs *r, const struct repair_plan *spec, const char *exe,
		  const struct repair_origin *o, uint64_t *id)
{
	struct standing *s;

	stand_exe(r, spec, exe, o, 0);
	s = *standing_of(r, o->rule ? o->rule : "", spec);
	if (!s)
		return -ENOTSUP;
	*id = s->id;
	return 0;
}

/* Stop repairing new processes: s (found at at) is undone, with its line. */
static void unstand_at(struct repairs *r, struct standing **at, const char *reason)
{
	struct standing *s = *at;
	struct json_object *line = standing_line(r, s, "rolled_back");

	if (line)
		report_add(line, "reason", json_object_new_string(reason));
	r->unstand(r->stand_ctx, (uint32_t)s->id);
	*at = s->next;
	free(s);
	save(r);
	emit(r, line);
}

static void unstand(struct repairs *r, const char *rule, const struct repair_plan *p,
		    const char *reason)
{
	struct standing **at = standing_of(r, rule, p);

	if (*at)
		unstand_at(r, at, reason);
}

void repairs_entry_stopped(struct repairs *r, uint32_t pid, uint32_t cookie)
{
	struct standing *s = r->standing;
	struct repair_origin o;
	struct repair_plan p;
	struct patch_stats st;
	char err[512] = "";
	uint64_t seq, id;
	int ret;

	while (s && (uint32_t)s->id != cookie)
		s = s->next;
	if (!s)
		goto cont; /* undone meanwhile */
	o = (struct repair_origin){ s->incident_id, s->rule, s->policy, true };
	/* Journal first, as for the first process. */
	if (!(ret = repair_plan_again(&s->spec, pid, &p, err, sizeof(err))) &&
	    !(ret = journal_first(r, kind_name(p.kind), 0, &p, s->incident_id, s->rule, s->policy,
				  &seq, err, sizeof(err)))) {
		ret = repair_apply_at_entry(&p, &st, err, sizeof(err));
		journal_last(r, seq, kind_name(p.kind), ret ? err : "applied");
	}
	if (ret)
		repairs_refused(r, kind_name(s->spec.kind), &o, pid, err);
	else if (repairs_applied(r, &p, &o, &st, &id))
		repair_undo(&p, NULL, err, sizeof(err));
cont:
	kill((pid_t)pid, SIGCONT);
}

int repairs_applied(struct repairs *r, const struct repair_plan *p, const struct repair_origin *o,
		    const struct patch_stats *st, uint64_t *id)
{
	struct entry *e = calloc(1, sizeof(*e));
	struct json_object *line;

	if (!e || !(e->rule = strdup(o->rule ? o->rule : "")) ||
	    !(e->policy = strdup(o->policy ? o->policy : ""))) {
		if (e)
			entry_free(e);
		return -ENOMEM;
	}
	e->id = r->next_id++;
	e->incident_id = o->incident_id;
	e->plan = *p;
	e->next = r->entries;
	r->entries = e;
	*id = e->id;
	save(r);
	stand(r, p, o);
	if ((line = entry_line(r, e, "applied")) && st) {
		report_add(line, "stopped_us", json_object_new_uint64(st->stopped_ns / 1000));
		report_add(line, "threads", json_object_new_uint64(st->threads));
		report_add(line, "tries", json_object_new_uint64(st->tries));
	}
	emit(r, line);
	return 0;
}

void repairs_refused(struct repairs *r, const char *what, const struct repair_origin *o,
		     uint32_t pid, const char *reason)
{
	struct json_object *line = line_new(r, 0, what, o->incident_id, o->rule, o->policy,
					    "refused");

	if (line && (report_add(line, "pid", json_object_new_int64(pid)) ||
		     report_add(line, "reason", json_object_new_string(reason)))) {
		json_object_put(line);
		line = NULL;
	}
	emit(r, line);
}

/* ---- rescues: processes traced to survive their faults ----------------------------- */

static struct rescue_entry **rescue_of(struct repairs *r, uint64_t id)
{
	struct rescue_entry **at = &r->rescues;

	while (*at && (*at)->id != id)
		at = &(*at)->next;
	return at;
}

/* {"kind":"repair","id","do":"rescue",…,"state","pid","at","return","rescues"}. */
static struct json_object *rescue_line(const struct repairs *r, const struct rescue_entry *x,
				       const char *state)
{
	struct json_object *o = line_new(r, x->id, "rescue", x->incident_id, x->rule, x->policy,
					 state);
	int err = 0;

	if (!o)
		return NULL;
	err = report_add(o, "pid", json_object_new_int64(x->pid));
	err = err ?: report_add(o, "at", json_object_get(x->at));
	err = err ?: report_add(o, "return", json_object_new_int64(x->value));
	err = err ?: report_add(o, "rescues", json_object_new_uint64(x->rescues));
	err = err ?: report_add(o, "budget_left", json_object_new_uint64(x->budget - x->in_hour));
	err = err ?: report_add(o, "mechanism", json_object_new_string("ptrace"));
	err = err ?: report_add(o, "binary", json_object_new_string(x->binary));
	err = err ?: report_add(o, "window_ms", json_object_new_uint64(x->window_ns / 1000000));
	err = err ?: report_add(o, "start_ns", json_object_new_uint64(x->start_ns));
	if (err) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static void rescue_drop(struct rescue_entry **at)
{
	struct rescue_entry *x = *at;

	*at = x->next;
	json_object_put(x->at);
	free(x);
}

/* The stack of a rescue, innermost first, as a JSON array; NULL when it has none. */
static struct json_object *rescue_stack(const struct rescue_event *ev)
{
	struct json_object *a = ev->n_frames ? json_object_new_array() : NULL;

	for (size_t i = 0; a && i < ev->n_frames; i++)
		json_object_array_add(a, json_object_new_string(ev->frames[i]));
	return a;
}

#define HOUR_NS (3600 * 1000000000ull)

/* A rescue about to be written: within the rule's budget, and journaled first (its end
 * entry follows with its outcome, on_rescue). */
static int on_rescuing(void *ctx, const struct rescue_event *ev, char *why, size_t why_len)
{
	struct repairs *r = ctx;
	struct rescue_entry *x = *rescue_of(r, ev->id);
	uint64_t now = loop_now_ns(CLOCK_BOOTTIME);
	struct json_object *desc;
	char ip[32];
	int ret;

	if (!x)
		return -ENOENT;
	if (now - x->hour_start_ns >= HOUR_NS) {
		x->hour_start_ns = now;
		x->in_hour = 0;
	}
	if (x->in_hour >= x->budget) {
		snprintf(why, why_len, "the rule's budget of %u rescues an hour is spent: a process "
			 "that keeps faulting is let die", x->budget);
		return -EDQUOT;
	}
	if (!(desc = json_object_new_object()))
		return -ENOMEM;
	report_add(desc, "do", json_object_new_string("rescue"));
	report_add(desc, "repair", json_object_new_uint64(x->id));
	report_add(desc, "tid", json_object_new_int64(ev->tid));
	report_add(desc, "rescued_at", json_object_new_string(ev->at));
	snprintf(ip, sizeof(ip), "%#llx", (unsigned long long)ev->fault_ip);
	report_add(desc, "fault_ip", json_object_new_string(ip));
	snprintf(ip, sizeof(ip), "%#llx", (unsigned long long)ev->ip);
	report_add(desc, "resume_ip", json_object_new_string(ip));
	snprintf(ip, sizeof(ip), "%#llx", (unsigned long long)ev->sp);
	report_add(desc, "resume_sp", json_object_new_string(ip));
	report_add(desc, "return", json_object_new_int64(x->value));
	report_add(desc, "stack", rescue_stack(ev));
	ret = journal_begin(r->journal,
			    &(struct journal_subject){ x->incident_id, x->rule, x->policy, x->pid,
						       x->binary },
			    0, desc, &x->seq);
	json_object_put(desc);
	if (ret) {
		snprintf(why, why_len, "journal %s: %s", journal_path(r->journal), strerror(-ret));
		return ret;
	}
	x->in_hour++;
	return 0;
}

static void on_rescue(void *ctx, const struct rescue_event *ev)
{
	struct repairs *r = ctx;
	struct rescue_entry **at = rescue_of(r, ev->id), *x = *at;
	struct json_object *o;
	char ip[32];

	if (!x)
		return;
	x->rescues = ev->rescues;
	if (x->seq) { /* the end of the rescue journaled: written, or not */
		struct json_object *end = json_object_new_object();

		if (end && !report_add(end, "do", json_object_new_string("rescue")) &&
		    !report_add(end, "outcome", json_object_new_string(ev->state)))
			journal_end(r->journal, x->seq, end);
		json_object_put(end);
		x->seq = 0;
	}
	if (!(o = rescue_line(r, x, ev->state)))
		return emit(r, NULL);
	if (ev->n_frames)
		json_object_object_add(o, "stack", rescue_stack(ev));
	json_object_object_add(o, "tid", json_object_new_int64(ev->tid));
	if (ev->signo)
		json_object_object_add(o, "signal", report_string(policy_signal_name(ev->signo)));
	if (ev->at)
		json_object_object_add(o, "rescued_at", json_object_new_string(ev->at));
	if (ev->fault_ip) {
		snprintf(ip, sizeof(ip), "%#llx", (unsigned long long)ev->fault_ip);
		json_object_object_add(o, "fault_ip", json_object_new_string(ip));
	}
	if (ev->reason)
		json_object_object_add(o, "reason", json_object_new_string(ev->reason));
	emit(r, o);
	if (!strcmp(ev->state, "ended"))
		rescue_drop(at);
}

int repairs_rescue(struct repairs *r, uint32_t pid, const char *binary, char *const *at,
		   size_t n_at, int64_t value, uint64_t window_ns, uint32_t budget,
		   const struct repair_origin *o, uint64_t *id, char *err, size_t err_len)
{
	struct rescue_entry *x;
	int ret;

	for (x = r->rescues; x; x = x->next)
		if (x->pid == pid) {
			snprintf(err, err_len, "process %u is traced for rescue already (repair %llu)",
				 pid, (unsigned long long)x->id);
			return -EEXIST;
		}
	if (!(x = calloc(1, sizeof(*x))) || !(x->at = json_object_new_array())) {
		free(x);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_at; i++)
		json_object_array_add(x->at, json_object_new_string(at[i]));
	x->id = r->next_id;
	x->incident_id = o->incident_id;
	x->pid = pid;
	x->start_ns = repair_process_start_ns(pid);
	x->value = value;
	x->window_ns = window_ns;
	x->budget = budget;
	x->hour_start_ns = loop_now_ns(CLOCK_BOOTTIME);
	snprintf(x->binary, sizeof(x->binary), "%s", binary);
	snprintf(x->rule, sizeof(x->rule), "%s", o->rule ? o->rule : "");
	snprintf(x->policy, sizeof(x->policy), "%s", o->policy ? o->policy : "");
	if ((ret = rescuer_add(r->rescuer, x->id, pid, binary, at, n_at, value, window_ns, err,
			       err_len))) {
		json_object_put(x->at);
		free(x);
		return ret;
	}
	r->next_id++;
	x->next = r->rescues;
	r->rescues = x;
	*id = x->id;
	emit(r, rescue_line(r, x, "applied"));
	save(r);
	return 0;
}

bool repairs_rescuing(const struct repairs *r, uint32_t pid, uint64_t *id)
{
	for (const struct rescue_entry *x = r->rescues; x; x = x->next)
		if (x->pid == pid) {
			*id = x->id;
			return true;
		}
	return false;
}

void repairs_poll(struct repairs *r)
{
	rescuer_poll(r->rescuer);
}

int repairs_rollback(struct repairs *r, uint64_t id, const char *reason, char *err,
		     size_t err_len)
{
	struct entry **at = find(r, id), *e = *at;
	struct json_object *line;
	uint64_t seq = 0;
	int ret;

	err[0] = 0;
	if (!e && breakers_has(r->breakers, id))
		return breakers_remove(r->breakers, id, reason, err, err_len);
	if (!e && *rescue_of(r, id)) {
		struct rescue_entry **x = rescue_of(r, id);

		/* Let the process go: its faults are its own again. */
		rescuer_remove(r->rescuer, id);
		if ((line = rescue_line(r, *x, "rolled_back")))
			json_object_object_add(line, "reason", json_object_new_string(reason));
		emit(r, line);
		rescue_drop(x);
		return 0;
	}
	if (!e && *standing_by_id(r, id)) {
		struct standing *st = *standing_by_id(r, id);
		struct repair_plan spec = st->spec;
		char rule[sizeof(st->rule)];
		struct entry *x, *next;

		/* Undone for the processes to come, and for those that got it. */
		snprintf(rule, sizeof(rule), "%s", st->rule);
		unstand_at(r, standing_by_id(r, id), reason);
		for (x = r->entries; x; x = next) {
			next = x->next;
			if (!strcmp(x->rule, rule) && !strcmp(x->plan.path, spec.path) &&
			    !strcmp(x->plan.symbol, spec.symbol))
				rollback_logged(r, x, reason);
		}
		err[0] = 0;
		return 0;
	}
	if (!e) {
		snprintf(err, err_len, "no repair %llu is in effect", (unsigned long long)id);
		return -ENOENT;
	}
	/* Journal first, with everything the undo writes. */
	if ((ret = journal_first(r, "rollback", id, &e->plan, e->incident_id, e->rule, e->policy,
				 &seq, err, err_len)))
		return ret;
	ret = repair_undo(&e->plan, NULL, err, err_len);
	line = entry_line(r, e, "rolled_back");
	if (line)
		report_add(line, "reason", json_object_new_string(
				     ret == -ESRCH || ret == -ESTALE ? "the process is gone" : reason));
	if (line && ret && ret != -ESRCH && ret != -ESTALE)
		report_add(line, "error", json_object_new_string(err));
	journal_last(r, seq, "rollback", ret ? err : "undone");
	/* Undone here, it is undone for the processes to come too. */
	unstand(r, e->rule, &e->plan, reason);
	*at = e->next;
	entry_free(e);
	save(r);
	emit(r, line);
	return ret == -ESRCH || ret == -ESTALE ? 0 : ret;
}

void repairs_verified(struct repairs *r, uint64_t incident_id, bool resolved)
{
	static const char why[] = "the fault did not stop within the rule's verify window";
	struct entry *e = r->entries, *next;
	struct standing **s = &r->standing;

	/* The repair of the processes to come, when the fault came back. */
	while (*s) {
		if ((*s)->incident_id == incident_id && !resolved)
			unstand_at(r, s, why);
		else
			s = &(*s)->next;
	}

	for (; e; e = next) {
		next = e->next;
		if (e->incident_id != incident_id || e->verified)
			continue;
		if (resolved) {
			e->verified = true;
			save(r);
			emit(r, entry_line(r, e, "verified"));
		} else {
			rollback_logged(r, e, why);
		}
	}
}

static const char *str_of(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static uint64_t u64_of(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_uint64(v) : 0;
}

/* One repair the last salved left: adopt it, undo it or drop it, as its process's bytes
 * say. id 0: it was being made (an interrupted journal entry). */
static void restore_one(struct repairs *r, struct json_object *plan_obj, uint64_t id,
			const struct repair_origin *o, bool verified, repairs_rule_fn *rule_loaded,
			void *ctx)
{
	struct repair_plan p;
	struct entry *e;
	uint8_t now[CODE_MAX];
	bool by_binary = false;
	struct log_fields fields;
	char err[512];

	if (repair_plan_from_json(plan_obj, &p) || repair_process_start_ns(p.pid) != p.start_ns ||
	    patch_read((pid_t)p.pid, p.addr, now, p.len))
		return; /* not a plan, or its process is gone: nothing to keep */
	fields = (struct log_fields){ .rule = o->rule, .policy = o->policy, .pid = p.pid,
				      .incident = o->incident_id, .repair = id };
	if (p.mechanism == REPAIR_UPROBE_REGS) {
		/* Its uprobe ended with the last salved: put it back to adopt it. */
		if (repair_apply(&p, NULL, err, sizeof(err))) {
			salve_log_ctx(LOG_WARNING, &fields, "repair of %s in process %u ended with "
				      "the last salved: %s", p.symbol, p.pid, err);
			return;
		}
	} else if (memcmp(now, p.code, p.len)) {
		if (memcmp(now, p.orig, p.len))
			salve_log_ctx(LOG_WARNING, &fields, "repair of %s in process %u: the bytes "
				      "there are neither salve's nor the file's; left alone", p.symbol,
				      p.pid);
		return; /* never written: the process is as it was */
	}
	if (!(e = calloc(1, sizeof(*e))) || !(e->rule = strdup(o->rule ? o->rule : "")) ||
	    !(e->policy = strdup(o->policy ? o->policy : ""))) {
		if (e)
			entry_free(e);
		salve_log_ctx(LOG_ERR, &fields, "repair of %s in process %u: %s", p.symbol, p.pid,
			      strerror(ENOMEM));
		return;
	}
	e->id = id && !*find(r, id) ? id : r->next_id;
	if (e->id >= r->next_id)
		r->next_id = e->id + 1;
	e->incident_id = o->incident_id;
	e->plan = p;
	e->verified = verified;
	e->next = r->entries;
	r->entries = e;
	if (!rule_loaded(ctx, e->rule, &by_binary)) {
		rollback_logged(r, e, "its rule is no longer loaded");
		return;
	}
	stand(r, &p, &(struct repair_origin){ o->incident_id, o->rule, o->policy, by_binary });
	emit(r, entry_line(r, e, "adopted"));
}

/* The first len bytes of /proc/PID/file: how many, or -1. */
static ssize_t read_proc(const char *pid, const char *file, void *buf, size_t len)
{
	char path[300];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/%s", pid, file);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, len);
	close(fd);
	return n;
}

/* Whether process pid is stopped where the entry-stop program stops one: state T, not in
 * a system call, its instruction pointer at its ELF entry point (or the few bytes past
 * it that the probed instruction, stepped before the stop, takes). */
static bool stopped_at_entry(const char *pid)
{
	char buf[4096], *p;
	unsigned long long sp, pc;
	uint64_t auxv[2 * 64], entry = 0;
	ssize_t n;

	if ((n = read_proc(pid, "stat", buf, sizeof(buf) - 1)) <= 0 ||
	    (buf[n] = 0, !(p = strrchr(buf, ')'))) || p[1] != ' ' || p[2] != 'T')
		return false;
	if ((n = read_proc(pid, "syscall", buf, sizeof(buf) - 1)) <= 0 ||
	    (buf[n] = 0, sscanf(buf, "-1 %llx %llx", &sp, &pc) != 2))
		return false;
	n = read_proc(pid, "auxv", auxv, sizeof(auxv));
	for (ssize_t i = 0; i + 1 < n / (ssize_t)sizeof(uint64_t); i += 2)
		if (auxv[i] == 9 /* AT_ENTRY */)
			entry = auxv[i + 1];
	return entry && pc >= entry && pc < entry + 16;
}

/* The processes of exe the last salved stopped at their entry point and was killed
 * before it continued them: repaired as standing says (s), then continued; with no
 * standing repair (its rule is gone), continued. A stopped process never waits for a
 * salved that will not come. */
static void continue_left_stopped(struct repairs *r, const char *exe, struct standing *s)
{
	struct dirent *de;
	DIR *d = opendir("/proc");

	while (d && (de = readdir(d))) {
		char link[300], path[PATH_MAX];
		ssize_t n;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(link, sizeof(link), "/proc/%s/exe", de->d_name);
		if ((n = readlink(link, path, sizeof(path) - 1)) < 0)
			continue;
		path[n] = 0;
		if (strcmp(path, exe) || !stopped_at_entry(de->d_name))
			continue;
		salve_log_ctx(LOG_INFO, &(struct log_fields){ .pid = (uint32_t)atoi(de->d_name),
							      .rule = s ? s->rule : NULL,
							      .repair = s ? s->id : 0 },
			      "process %s of %s was left stopped at its entry point by the last "
			      "salved: %s", de->d_name, exe, s ? "repaired and continued" : "continued");
		if (s)
			repairs_entry_stopped(r, (uint32_t)atoi(de->d_name), (uint32_t)s->id);
		else
			kill(atoi(de->d_name), SIGCONT);
	}
	if (d)
		closedir(d);
}

/* repairs_rule_fn as breakers ask it. */
struct rule_check {
	repairs_rule_fn *fn;
	void *ctx;
};

static bool rule_only(void *ctx, const char *rule)
{
	struct rule_check *c = ctx;
	bool by_binary;

	return c->fn(c->ctx, rule, &by_binary);
}

void repairs_restore(struct repairs *r, const struct journal_replay *replay,
		     repairs_rule_fn *rule_loaded, void *ctx)
{
	struct json_object *kept = NULL;
	char *text = NULL;
	size_t cap = 0;
	FILE *f = NULL;
	int fd = openat(r->dirfd, REPAIRS_FILE, O_RDONLY | O_CLOEXEC);

	if (fd >= 0 && (f = fdopen(fd, "r")) && getline(&text, &cap, f) > 0)
		kept = json_tokener_parse(text);
	if (f)
		fclose(f);
	else if (fd >= 0)
		close(fd);
	free(text);
	for (size_t i = 0; json_object_is_type(kept, json_type_array) &&
			   i < json_object_array_length(kept); i++) {
		struct json_object *k = json_object_array_get_idx(kept, i);
		const char *state = str_of(k, "state");
		bool by_binary = false;

		if (state && !strcmp(state, "standing")) {
			struct repair_plan spec;
			const char *rule = str_of(k, "rule");

			if (!str_of(k, "exe"))
				continue;
			if (!rule || !rule_loaded(ctx, rule, &by_binary) ||
			    repair_spec_from_json(k, &spec)) {
				continue_left_stopped(r, str_of(k, "exe"), NULL);
				continue;
			}
			stand_exe(r, &spec, str_of(k, "exe"),
				  &(struct repair_origin){ u64_of(k, "incident"), rule,
							   str_of(k, "policy"), by_binary },
				  u64_of(k, "id"));
			continue_left_stopped(r, str_of(k, "exe"),
					      *standing_of(r, rule, &spec));
			continue;
		}

		restore_one(r, k, u64_of(k, "id"),
			    &(struct repair_origin){ u64_of(k, "incident"), str_of(k, "rule"),
						     str_of(k, "policy"), false },
			    state && !strcmp(state, "verified"), rule_loaded, ctx);
	}
	json_object_put(kept);
	/* Repairs begun and never ended: written or not, their bytes say. */
	for (size_t i = 0; replay && i < replay->n_pending; i++) {
		struct json_object *b = replay->pending[i].begin, *action;
		const char *what;

		if (!json_object_object_get_ex(b, "action", &action) || !(what = str_of(action, "do")) ||
		    (strcmp(what, "override") && strcmp(what, "redirect")))
			continue;
		restore_one(r, action, 0,
			    &(struct repair_origin){ u64_of(b, "incident"), str_of(b, "rule"),
						     str_of(b, "policy"), false },
			    false, rule_loaded, ctx);
	}
	save(r);
	breakers_restore(r->breakers, rule_only, &(struct rule_check){ rule_loaded, ctx });
}

void repairs_prune(struct repairs *r, repairs_rule_fn *rule_loaded, void *ctx)
{
	struct entry *e, *next;
	bool by_binary;
	char err[512];

	for (e = r->entries; e; e = next) {
		next = e->next;
		if (!rule_loaded(ctx, e->rule, &by_binary))
			rollback_logged(r, e, "its rule was removed by a reload");
	}
	for (struct rescue_entry *x = r->rescues, *xn; x; x = xn) {
		xn = x->next;
		if (!rule_loaded(ctx, x->rule, &by_binary))
			repairs_rollback(r, x->id, "its rule was removed by a reload", err, sizeof(err));
	}
	breakers_prune(r->breakers, rule_only, &(struct rule_check){ rule_loaded, ctx });
}

/* Line o, without its time, added to list a; false (a freed) when it cannot be. */
static bool list_add(struct json_object *a, struct json_object *o)
{
	if (!o || json_object_array_add(a, o)) {
		json_object_put(o);
		json_object_put(a);
		return false;
	}
	json_object_object_del(o, "time");
	return true;
}

/* The repairs of the file: breakers keep their own. */
static struct json_object *list_kept(const struct repairs *r)
{
	struct json_object *a = json_object_new_array();

	for (const struct entry *e = r->entries; a && e; e = e->next)
		if (!list_add(a, entry_line(r, e, e->verified ? "verified" : "applied")))
			return NULL;
	for (const struct rescue_entry *x = r->rescues; a && x; x = x->next)
		if (!list_add(a, rescue_line(r, x, "active")))
			return NULL;
	for (const struct standing *s = r->standing; a && s; s = s->next)
		if (!list_add(a, standing_line(r, s, "standing")))
			return NULL;
	return a;
}

struct json_object *repairs_list(const struct repairs *r)
{
	struct json_object *a = list_kept(r);

	if (a && breakers_list(r->breakers, a)) {
		json_object_put(a);
		return NULL;
	}
	return a;
}

size_t repairs_in_effect(const struct repairs *r)
{
	size_t n = breakers_count(r->breakers);

	for (const struct entry *e = r->entries; e; e = e->next)
		n++;
	for (const struct rescue_entry *x = r->rescues; x; x = x->next)
		n++;
	for (const struct standing *s = r->standing; s; s = s->next)
		n++;
	return n;
}
