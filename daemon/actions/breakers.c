/* breakers: circuit breakers, their clock, their mechanisms, their lines and their file. */
#define _GNU_SOURCE
#include "actions/breakers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "actions/patch.h"
#include "base/atomic_file.h"
#include "base/log.h"
#include "base/loop.h"
#include "events/report.h"
#include "kernel/netbreak.h"

#define BREAKERS_FILE "breakers.json"
#define PROBES_MAX 16

/* ---- the clock ------------------------------------------------------------------------ */

const char *breaker_state_name(enum breaker_state s)
{
	return s == BREAKER_OPEN ? "open" : s == BREAKER_HALF_OPEN ? "half_open" : "closed";
}

bool breaker_step(struct breaker_clock *c, const struct breaker_timing *t, enum breaker_input in,
		  uint64_t now_ns, int64_t left)
{
	switch (in) {
	case BREAKER_TRIP:
		if (c->state == BREAKER_OPEN)
			return false;
		/* Opened again from half-open: the dependency is still down, wait longer. */
		c->open_for_ns = c->state == BREAKER_CLOSED ? t->open_for_ns
				 : c->open_for_ns > t->max_open_for_ns / 2 ? t->max_open_for_ns
									   : 2 * c->open_for_ns;
		c->state = BREAKER_OPEN;
		c->until_ns = now_ns + c->open_for_ns;
		return true;
	case BREAKER_TICK:
		if (c->state == BREAKER_OPEN && now_ns >= c->until_ns) {
			c->state = BREAKER_HALF_OPEN;
			c->until_ns = 0;
			return true;
		}
		if (c->state != BREAKER_HALF_OPEN)
			return false;
		if (!c->until_ns && left <= 0) /* the last call let through has begun */
			c->until_ns = now_ns + t->half_open_watch_ns;
		if (!c->until_ns || now_ns < c->until_ns)
			return false;
		/* open_for stays as it was: its line says the last, and a close that must wait
		 * for a thread in the gate goes back to half-open with it */
		c->state = BREAKER_CLOSED;
		c->until_ns = 0;
		return true;
	}
	return false;
}

/* ---- the registry --------------------------------------------------------------------- */

struct breaker {
	uint64_t id, incident_id;
	char rule[256], policy[256];
	char *probes[PROBES_MAX];
	size_t n_probes;
	struct breaker_timing timing;
	struct breaker_clock clock;
	uint64_t turned_away; /* a gate's: counted before the counter was last set */
	/* around a function: its gate */
	struct repair_plan plan;
	/* or around an endpoint, for a cgroup */
	bool has_endpoint;
	struct endpoint ep;
	char cgroup[PATH_MAX];
	uint64_t cgroup_id;
	unsigned slot;
	uint32_t pid; /* the incident's */
	struct breaker *next;
};

struct breakers {
	struct journal *journal;
	int dirfd;
	breakers_line_fn *line;
	void *ctx;
	uint64_t *next_id;
	int64_t realtime_offset_ns;
	struct netbreak *nb;
	bool slots[SALVE_BREAKERS_MAX];
	struct breaker *list;
};

int breakers_new(struct journal *journal, int dirfd, breakers_line_fn *line, void *ctx,
		 uint64_t *next_id, struct breakers **out)
{
	struct breakers *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	*b = (struct breakers){ .journal = journal, .dirfd = dirfd, .line = line, .ctx = ctx,
			       .next_id = next_id, .realtime_offset_ns = loop_realtime_offset_ns() };
	*out = b;
	return 0;
}

static void breaker_free(struct breaker *x)
{
	for (size_t i = 0; i < x->n_probes; i++)
		free(x->probes[i]);
	free(x);
}

/* Breakers outlive salved: those in effect stay (breakers.json says so), except the
 * endpoint ones, whose programs end with it and are set again at its next start. */
void breakers_free(struct breakers *b)
{
	if (!b)
		return;
	while (b->list) {
		struct breaker *x = b->list;

		b->list = x->next;
		breaker_free(x);
	}
	free(b);
}

void breakers_set_netbreak(struct breakers *b, struct netbreak *nb)
{
	b->nb = nb;
}

void breakers_set_clock(struct breakers *b, int64_t realtime_offset_ns)
{
	b->realtime_offset_ns = realtime_offset_ns;
}

/* ---- lines, the file, the journal ---------------------------------------------------- */

/* What the breaker has turned away so far: what was counted before, and what its gate
 * or its map entry counts now. */
static uint64_t turned_away(const struct breakers *b, const struct breaker *x)
{
	struct netbreak_counts n;
	int64_t left;

	if (x->has_endpoint)
		return x->turned_away +
		       (b->nb && !netbreak_read(b->nb, x->slot, &n) ? n.turned_away : 0);
	return x->turned_away + (!repair_gate_left(&x->plan, &left) && left < 0 ? (uint64_t)-left : 0);
}

/* What a salved started again must add to what it will count: a gate's counter stays in
 * the process, an endpoint's map entry ends with salved. */
static uint64_t turned_away_kept(const struct breakers *b, const struct breaker *x)
{
	return x->has_endpoint ? turned_away(b, x) : x->turned_away;
}

/* The breaker as its lines and the file show it; live: with what it turned away. */
static struct json_object *breaker_obj(const struct breakers *b, const struct breaker *x, bool live)
{
	struct json_object *o = json_object_new_object(), *probes = json_object_new_array();
	char text[ENDPOINT_TEXT_MAX];
	int err = o && probes ? 0 : -ENOMEM;

	for (size_t i = 0; !err && i < x->n_probes; i++)
		err = json_object_array_add(probes, json_object_new_string(x->probes[i])) ? -ENOMEM : 0;
	err = err ?: report_add(o, "id", json_object_new_uint64(x->id));
	err = err ?: report_add(o, "do", json_object_new_string("breaker"));
	err = err ?: report_add(o, "incident", json_object_new_uint64(x->incident_id));
	err = err ?: report_add(o, "rule", report_string(x->rule));
	err = err ?: report_add(o, "policy", report_string(x->policy));
	err = err ?: report_add(o, "state", json_object_new_string(breaker_state_name(x->clock.state)));
	err = err ?: report_add(o, "open_for_ms", json_object_new_uint64(x->clock.open_for_ns / 1000000));
	if (live)
		err = err ?: report_add(o, "turned_away", json_object_new_uint64(turned_away(b, x)));
	if (x->has_endpoint) {
		err = err ?: report_add(o, "endpoint",
					json_object_new_string(endpoint_format(&x->ep, text, sizeof(text))));
		err = err ?: report_add(o, "cgroup", json_object_new_string(x->cgroup));
		err = err ?: report_add(o, "pid", json_object_new_int64(x->pid));
		err = err ?: report_add(o, "mechanism", json_object_new_string("cgroup_connect"));
	} else {
		struct json_object *plan = json_object_new_object();

		err = err ?: report_add(o, "pid", json_object_new_int64(x->plan.pid));
		err = err ?: report_add(o, "binary", json_object_new_string(x->plan.path));
		err = err ?: report_add(o, "symbol", json_object_new_string(x->plan.symbol));
		err = err ?: report_add(o, "return", json_object_new_int64(x->plan.value));
		err = err ?: report_add(o, "mechanism", json_object_new_string("gate"));
		err = err ?: report_add(plan, "do", json_object_new_string("override"));
		err = err ?: repair_plan_to_json(&x->plan, plan);
		err = err ?: report_add(o, "gate", plan);
		if (err == -ENOMEM && !plan)
			json_object_put(plan);
	}
	err = err ?: report_add(o, "probes", probes);
	probes = NULL;
	err = err ?: report_add(o, "open_for_base_ms", json_object_new_uint64(x->timing.open_for_ns / 1000000));
	err = err ?: report_add(o, "max_open_for_ms",
				json_object_new_uint64(x->timing.max_open_for_ns / 1000000));
	err = err ?: report_add(o, "half_open_calls", json_object_new_uint64(x->timing.half_open_calls));
	err = err ?: report_add(o, "half_open_watch_ms",
				json_object_new_uint64(x->timing.half_open_watch_ns / 1000000));
	/* Boot time: a salved started again in the same boot resumes the clock. */
	err = err ?: report_add(o, "until_boot_ns", json_object_new_uint64(x->clock.until_ns));
	err = err ?: report_add(o, "turned_away_before",
				json_object_new_uint64(turned_away_kept(b, x)));
	if (err) {
		json_object_put(probes);
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* Its {"kind":"breaker"} line: the object, with the time, the kind and why. */
static void emit(struct breakers *b, const struct breaker *x, const char *reason)
{
	struct json_object *o = json_object_new_object(), *body = breaker_obj(b, x, true);
	char when[64];
	int err = o && body ? 0 : -ENOMEM;

	if (report_time(loop_now_ns(CLOCK_BOOTTIME) + (uint64_t)b->realtime_offset_ns, when,
			sizeof(when)) < 0)
		when[0] = 0;
	err = err ?: report_add(o, "time", json_object_new_string(when));
	err = err ?: report_add(o, "kind", json_object_new_string("breaker"));
	json_object_object_foreach(body, k, v) {
		if (err || !strcmp(k, "gate") || !strcmp(k, "until_boot_ns") ||
		    !strcmp(k, "turned_away_before") || !strcmp(k, "do"))
			continue;
		err = report_add(o, k, json_object_get(v));
	}
	err = err ?: report_add(o, "reason", json_object_new_string(reason));
	json_object_put(body);
	if (err) {
		salve_log_ctx(LOG_ERR, &(struct log_fields){ .rule = x->rule, .policy = x->policy,
							     .pid = x->pid, .action = "breaker",
							     .incident = x->incident_id,
							     .repair = x->id },
			      "breaker %llu: its line cannot be made: %s", (unsigned long long)x->id,
			      strerror(-err));
	} else if (b->line) {
		b->line(b->ctx, o);
	}
	json_object_put(o);
}

/* The breakers in effect, whole, into breakers.json: a temporary file synced, then
 * renamed over the last one. */
static void save(struct breakers *b)
{
	struct json_object *list = json_object_new_array();
	const char *text = NULL;
	int err = list ? 0 : -ENOMEM;

	for (struct breaker *x = b->list; !err && x; x = x->next) {
		struct json_object *o = breaker_obj(b, x, false);

		if (!o || json_object_array_add(list, o)) {
			json_object_put(o);
			err = -ENOMEM;
		}
	}
	if (!err && !(text = json_object_to_json_string_ext(list, JSON_C_TO_STRING_PLAIN)))
		err = -ENOMEM;
	err = err ?: atomic_file_write(b->dirfd, BREAKERS_FILE, text);
	if (err)
		salve_log(LOG_ERR, "%s: cannot keep the breakers in effect: %s (a salved started "
			  "again will not find them)", BREAKERS_FILE, strerror(-err));
	json_object_put(list);
}

/* Journal first: the begin entry of x going to state (with the gate's bytes when it is
 * written). 0, or -errno with err saying so: then nothing may change. */
static int journal_first(struct breakers *b, const struct breaker *x, const char *state,
			 uint64_t *seq, char *err, size_t err_len)
{
	struct json_object *desc = breaker_obj(b, x, false);
	int r = -ENOMEM;

	if (desc) {
		json_object_object_add(desc, "state", json_object_new_string(state));
		r = journal_begin(b->journal,
				  &(struct journal_subject){ x->incident_id, x->rule, x->policy,
							     x->has_endpoint ? x->pid : x->plan.pid,
							     x->has_endpoint ? "" : x->plan.path },
				  0, desc, seq);
	}
	json_object_put(desc);
	if (r)
		snprintf(err, err_len, "journal %s: %s", journal_path(b->journal), strerror(-r));
	return r;
}

static void journal_last(struct breakers *b, uint64_t seq, const char *outcome)
{
	struct json_object *end = json_object_new_object();

	if (end && !report_add(end, "do", json_object_new_string("breaker")) &&
	    !report_add(end, "outcome", json_object_new_string(outcome)))
		journal_end(b->journal, seq, end);
	json_object_put(end);
}

/* ---- mechanisms ----------------------------------------------------------------------- */

/* Let calls through: calls of them from now on (0: none). A gate's count of what it
 * turned away is folded in before its counter is set again. */
static int let_through(struct breakers *b, struct breaker *x, int64_t calls, char *err,
		       size_t err_len)
{
	int64_t left;
	int r;

	if (x->has_endpoint)
		return netbreak_state(b->nb, x->slot, calls ? SALVE_BRK_HALF_OPEN : SALVE_BRK_OPEN,
				      calls, err, err_len);
	if (!repair_gate_left(&x->plan, &left) && left < 0)
		x->turned_away += (uint64_t)-left;
	if ((r = repair_gate_set(&x->plan, calls)))
		snprintf(err, err_len, "process %u: the gate of %s: %s", x->plan.pid, x->plan.symbol,
			 strerror(-r));
	return r;
}

/* What half-open may still let through. */
static int64_t calls_left(struct breakers *b, const struct breaker *x)
{
	struct netbreak_counts n;
	int64_t left = 0;

	if (x->has_endpoint)
		return b->nb && !netbreak_read(b->nb, x->slot, &n) ? n.admit : 0;
	return repair_gate_left(&x->plan, &left) ? 0 : left;
}

/* Nothing of it left in the process or the cgroup. -ESRCH: the process is gone. */
static int take_away(struct breakers *b, struct breaker *x, char *err, size_t err_len)
{
	uint64_t total = turned_away(b, x); /* its last line says them all */
	int r = 0;

	if (x->has_endpoint) {
		if (b->nb)
			netbreak_clear(b->nb, x->slot);
		b->slots[x->slot] = false;
	} else {
		r = repair_undo(&x->plan, NULL, err, err_len);
	}
	if (!r || r == -ESRCH)
		x->turned_away = total;
	return r;
}

/* ---- transitions ---------------------------------------------------------------------- */

static struct breaker **find(struct breakers *b, uint64_t id)
{
	struct breaker **at = &b->list;

	while (*at && (*at)->id != id)
		at = &(*at)->next;
	return at;
}

static void drop(struct breakers *b, struct breaker **at)
{
	struct breaker *x = *at;

	*at = x->next;
	breaker_free(x);
	save(b);
}

/* x's clock moved from state from (its mechanism to follow): journaled, done, its line.
 * A mechanism that fails closes the breaker: salve never leaves half of one. */
static void follow(struct breakers *b, struct breaker **at, enum breaker_state from,
		   const char *reason)
{
	struct breaker *x = *at;
	enum breaker_state to = x->clock.state;
	char err[512] = "", why[768];
	uint64_t seq;
	int r;

	if ((r = journal_first(b, x, breaker_state_name(to), &seq, err, sizeof(err))))
		goto failed;
	if (to == BREAKER_CLOSED)
		r = take_away(b, x, err, sizeof(err));
	else if (to == BREAKER_HALF_OPEN)
		r = let_through(b, x, x->timing.half_open_calls, err, sizeof(err));
	else if (from == BREAKER_HALF_OPEN)
		r = let_through(b, x, 0, err, sizeof(err));
	journal_last(b, seq, r ? err : breaker_state_name(to));
	if (r == -EBUSY && to == BREAKER_CLOSED) {
		/* A thread is in the gate: the next tick tries again. */
		x->clock.state = from;
		return;
	}
	if (r == -ESRCH) {
		x->clock.state = BREAKER_CLOSED;
		emit(b, x, "its process is gone");
		drop(b, at);
		return;
	}
	if (!r) {
		emit(b, x, reason);
		if (to == BREAKER_CLOSED)
			drop(b, at);
		else
			save(b);
		return;
	}
failed:
	snprintf(why, sizeof(why), "it could not go %s: %s", breaker_state_name(to), err);
	salve_log_ctx(LOG_ERR, &(struct log_fields){ .rule = x->rule, .policy = x->policy,
						     .pid = x->pid, .action = "breaker",
						     .incident = x->incident_id, .repair = x->id },
		      "breaker %llu (rule %s): %s", (unsigned long long)x->id, x->rule, why);
	if (to != BREAKER_CLOSED)
		take_away(b, x, err, sizeof(err));
	x->clock.state = BREAKER_CLOSED;
	emit(b, x, why);
	drop(b, at);
}

/* The same breaker: the rule's, around the same function of the same process, or the
 * same endpoint for the same cgroup. */
static bool same(const struct breaker *x, const struct breaker_spec *s, const char *cgroup)
{
	if (strcmp(x->rule, s->rule) || x->has_endpoint != s->has_endpoint)
		return false;
	if (x->has_endpoint)
		return !strcmp(x->cgroup, cgroup) && x->ep.family == s->endpoint.family &&
		       x->ep.prefix == s->endpoint.prefix && x->ep.port == s->endpoint.port &&
		       !memcmp(x->ep.addr, s->endpoint.addr, sizeof(x->ep.addr));
	return x->plan.pid == s->pid && !strcmp(x->plan.symbol, s->symbol) &&
	       x->plan.start_ns == repair_process_start_ns(s->pid);
}

/* A free slot of the endpoint breakers' map for x, and its cgroup's id (a cgroup2
 * directory's inode), which events carry. -ENOSPC when every slot is taken. */
static int endpoint_slot(const struct breakers *b, struct breaker *x, char *err, size_t err_len)
{
	struct stat st;

	x->cgroup_id = stat(x->cgroup, &st) ? 0 : st.st_ino;
	for (x->slot = 0; x->slot < SALVE_BREAKERS_MAX && b->slots[x->slot]; x->slot++)
		;
	if (x->slot < SALVE_BREAKERS_MAX)
		return 0;
	snprintf(err, err_len, "already %d endpoint breakers are in effect", SALVE_BREAKERS_MAX);
	return -ENOSPC;
}

static int breaker_new(struct breakers *b, const struct breaker_spec *s, const char *cgroup,
		       struct breaker **out, char *err, size_t err_len)
{
	struct breaker *x = calloc(1, sizeof(*x));
	int r;

	if (!x)
		return -ENOMEM;
	x->incident_id = s->incident_id;
	snprintf(x->rule, sizeof(x->rule), "%s", s->rule);
	snprintf(x->policy, sizeof(x->policy), "%s", s->policy);
	for (size_t i = 0; i < s->n_probes && i < PROBES_MAX; i++) {
		if (!(x->probes[i] = strdup(s->probes[i]))) {
			breaker_free(x);
			return -ENOMEM;
		}
		x->n_probes++;
	}
	x->timing = s->timing;
	x->pid = s->pid;
	if (s->has_endpoint) {
		x->has_endpoint = true;
		x->ep = s->endpoint;
		snprintf(x->cgroup, sizeof(x->cgroup), "%s", cgroup);
		if ((r = endpoint_slot(b, x, err, err_len))) {
			breaker_free(x);
			return r;
		}
	} else if ((r = repair_plan_gate(s->binary, s->symbol, s->value, s->pid, &x->plan, err,
					 err_len))) {
		breaker_free(x);
		return r;
	}
	*out = x;
	return 0;
}

/* A new breaker, open: journaled, its gate written (or its endpoint set), its line. */
static int open_new(struct breakers *b, struct breaker *x, const char *reason, char *err,
		    size_t err_len)
{
	uint64_t seq;
	int r;

	x->id = (*b->next_id)++;
	breaker_step(&x->clock, &x->timing, BREAKER_TRIP, loop_now_ns(CLOCK_BOOTTIME), 0);
	if ((r = journal_first(b, x, "open", &seq, err, err_len)))
		return r;
	if (x->has_endpoint)
		r = netbreak_set(b->nb, x->slot, x->cgroup, &x->ep, SALVE_BRK_OPEN, 0, err, err_len);
	else
		r = repair_apply(&x->plan, NULL, err, err_len);
	journal_last(b, seq, r ? err : "open");
	if (r)
		return r;
	if (x->has_endpoint)
		b->slots[x->slot] = true;
	x->next = b->list;
	b->list = x;
	save(b);
	emit(b, x, reason);
	return 0;
}

int breakers_trip(struct breakers *b, const struct breaker_spec *s, uint64_t *id,
		  enum breaker_state *state, char *err, size_t err_len)
{
	char cgroup[PATH_MAX] = "", reason[512];
	struct breaker **at, *x;
	int r;

	if (s->has_endpoint) {
		if (!b->nb) {
			snprintf(err, err_len, "this salved has no cgroup connect programs (salvectl "
				 "features says why)");
			return -ENOTSUP;
		}
		if ((r = netbreak_cgroup_of((int)s->pid, cgroup, sizeof(cgroup), err, err_len)))
			return r;
	}
	for (at = &b->list; *at && !same(*at, s, cgroup); at = &(*at)->next)
		;
	snprintf(reason, sizeof(reason), "rule %s fired (incident %llu)", s->rule,
		 (unsigned long long)s->incident_id);
	if ((x = *at)) {
		enum breaker_state from = x->clock.state;

		*id = x->id;
		if (breaker_step(&x->clock, &x->timing, BREAKER_TRIP, loop_now_ns(CLOCK_BOOTTIME), 0))
			follow(b, at, from, reason);
		*state = (x = *find(b, *id)) ? x->clock.state : BREAKER_CLOSED;
		return 0;
	}
	if ((r = breaker_new(b, s, cgroup, &x, err, err_len)))
		return r;
	if ((r = open_new(b, x, reason, err, err_len))) {
		breaker_free(x);
		return r;
	}
	*id = x->id;
	*state = x->clock.state;
	return 0;
}

/* Whether process pid is in cgroup dir or below it. */
static bool in_cgroup(uint32_t pid, const char *dir)
{
	char mine[PATH_MAX], e[128];
	size_t n = strlen(dir);

	return !netbreak_cgroup_of((int)pid, mine, sizeof(mine), e, sizeof(e)) &&
	       !strncmp(mine, dir, n) && (mine[n] == 0 || mine[n] == '/');
}

void breakers_event(struct breakers *b, const char *probe, uint32_t pid, uint64_t cgroup_id)
{
	for (struct breaker **at = &b->list; *at;) {
		struct breaker *x = *at;
		bool watched = false;
		char reason[512];

		for (size_t i = 0; i < x->n_probes && !watched; i++)
			watched = !strcmp(x->probes[i], probe);
		if (x->clock.state != BREAKER_HALF_OPEN || !watched ||
		    (x->has_endpoint ? cgroup_id != x->cgroup_id && !in_cgroup(pid, x->cgroup)
				     : pid != x->plan.pid)) {
			at = &x->next;
			continue;
		}
		snprintf(reason, sizeof(reason), "a call let through failed: probe %s in process %u",
			 probe, pid);
		breaker_step(&x->clock, &x->timing, BREAKER_TRIP, loop_now_ns(CLOCK_BOOTTIME), 0);
		follow(b, at, BREAKER_HALF_OPEN, reason);
		if (*at == x)
			at = &x->next;
	}
}

void breakers_tick(struct breakers *b)
{
	uint64_t now = loop_now_ns(CLOCK_BOOTTIME);

	for (struct breaker **at = &b->list; *at;) {
		struct breaker *x = *at;
		enum breaker_state from = x->clock.state;
		const char *reason;

		if (!x->has_endpoint && repair_process_start_ns(x->plan.pid) != x->plan.start_ns) {
			x->clock.state = BREAKER_CLOSED;
			emit(b, x, "its process is gone");
			drop(b, at);
			continue;
		}
		if (!breaker_step(&x->clock, &x->timing, BREAKER_TICK, now, calls_left(b, x))) {
			at = &x->next;
			continue;
		}
		reason = x->clock.state == BREAKER_HALF_OPEN
				 ? "open_for passed: letting calls through to see"
				 : "the calls let through succeeded";
		follow(b, at, from, reason);
		if (*at == x)
			at = &x->next;
	}
}

bool breakers_has(const struct breakers *b, uint64_t id)
{
	return *find((struct breakers *)b, id) != NULL;
}

int breakers_remove(struct breakers *b, uint64_t id, const char *reason, char *err,
		    size_t err_len)
{
	struct breaker **at = find(b, id);
	enum breaker_state from;

	if (!*at)
		return -ENOENT;
	from = (*at)->clock.state;
	(*at)->clock.state = BREAKER_CLOSED;
	follow(b, at, from, reason);
	if (*find(b, id)) {
		snprintf(err, err_len, "breaker %llu: a thread is inside its gate; try again",
			 (unsigned long long)id);
		return -EBUSY;
	}
	return 0;
}

void breakers_prune(struct breakers *b, breakers_rule_fn *rule_loaded, void *ctx)
{
	char err[256];

	for (struct breaker *x = b->list, *next; x; x = next) {
		next = x->next;
		if (!rule_loaded(ctx, x->rule))
			breakers_remove(b, x->id, "its rule is no longer loaded", err, sizeof(err));
	}
}

int breakers_list(const struct breakers *b, struct json_object *a)
{
	for (const struct breaker *x = b->list; x; x = x->next) {
		struct json_object *o = breaker_obj(b, x, true);

		if (o)
			json_object_object_del(o, "until_boot_ns");
		if (o)
			json_object_object_del(o, "turned_away_before");
		if (!o || json_object_array_add(a, o)) {
			json_object_put(o);
			return -ENOMEM;
		}
	}
	return 0;
}

size_t breakers_count(const struct breakers *b)
{
	size_t n = 0;

	for (const struct breaker *x = b->list; x; x = x->next)
		n++;
	return n;
}

/* ---- restore -------------------------------------------------------------------------- */

static uint64_t u64_of(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? (uint64_t)json_object_get_int64(v) : 0;
}

/* x as the file has it; -EINVAL when it is not a breaker. */
static int from_json(struct json_object *o, struct breaker *x, char *err, size_t err_len)
{
	const char *state = report_string_of(o, "state"), *rule = report_string_of(o, "rule"),
		   *policy = report_string_of(o, "policy"), *ep = report_string_of(o, "endpoint"),
		   *cgroup = report_string_of(o, "cgroup");
	struct json_object *probes, *gate;

	if (!state || !rule || !(x->id = u64_of(o, "id")))
		return -EINVAL;
	x->incident_id = u64_of(o, "incident");
	snprintf(x->rule, sizeof(x->rule), "%s", rule);
	snprintf(x->policy, sizeof(x->policy), "%s", policy ?: "");
	x->clock.state = !strcmp(state, "open") ? BREAKER_OPEN
			 : !strcmp(state, "half_open") ? BREAKER_HALF_OPEN : BREAKER_CLOSED;
	x->clock.open_for_ns = u64_of(o, "open_for_ms") * 1000000;
	x->clock.until_ns = u64_of(o, "until_boot_ns");
	x->timing = (struct breaker_timing){ u64_of(o, "open_for_base_ms") * 1000000,
					     u64_of(o, "max_open_for_ms") * 1000000,
					     u64_of(o, "half_open_watch_ms") * 1000000,
					     (uint32_t)u64_of(o, "half_open_calls") };
	x->turned_away = u64_of(o, "turned_away_before");
	x->pid = (uint32_t)u64_of(o, "pid");
	if (json_object_object_get_ex(o, "probes", &probes))
		for (size_t i = 0; i < json_object_array_length(probes) && x->n_probes < PROBES_MAX; i++)
			if (!(x->probes[x->n_probes++] =
				      strdup(json_object_get_string(json_object_array_get_idx(probes, i)))))
				return -ENOMEM;
	if (ep) {
		x->has_endpoint = true;
		snprintf(x->cgroup, sizeof(x->cgroup), "%s", cgroup ?: "");
		return endpoint_parse(ep, &x->ep, err, err_len);
	}
	if (!json_object_object_get_ex(o, "gate", &gate) || repair_plan_from_json(gate, &x->plan) ||
	    !x->plan.gate)
		return -EINVAL;
	return 0;
}

/* Whether x's gate is in its process as salve wrote it. */
static bool gate_in_place(const struct breaker *x)
{
	uint8_t now[CODE_MAX];

	return repair_process_start_ns(x->plan.pid) == x->plan.start_ns &&
	       !patch_read((pid_t)x->plan.pid, x->plan.addr, now, x->plan.len) &&
	       !memcmp(now, x->plan.code, x->plan.len);
}

/* Resume x, found in the file: back in the list in its state, or undone. */
static void resume(struct breakers *b, struct breaker *x, bool loaded)
{
	char err[512], reason[640];
	int r = 0;

	if (!x->has_endpoint && !gate_in_place(x)) {
		breaker_free(x); /* the process is gone, or never got the gate */
		return;
	}
	if (!loaded) {
		if (!x->has_endpoint)
			repair_undo(&x->plan, NULL, err, sizeof(err));
		x->clock.state = BREAKER_CLOSED;
		emit(b, x, "salved started again without its rule: undone");
		breaker_free(x);
		return;
	}
	if (x->has_endpoint) {
		/* The programs ended with the last salved: set again, half-open trying anew. */
		if (!b->nb) {
			r = -ENOTSUP;
			snprintf(err, sizeof(err), "%s", strerror(-r));
		} else if (!(r = endpoint_slot(b, x, err, sizeof(err)))) {
			r = netbreak_set(b->nb, x->slot, x->cgroup, &x->ep,
					 x->clock.state == BREAKER_HALF_OPEN ? SALVE_BRK_HALF_OPEN
									     : SALVE_BRK_OPEN,
					 x->clock.state == BREAKER_HALF_OPEN ? x->timing.half_open_calls
									     : 0,
					 err, sizeof(err));
		}
		if (x->clock.state == BREAKER_HALF_OPEN)
			x->clock.until_ns = 0;
		if (r) {
			snprintf(reason, sizeof(reason), "salved started again; it cannot be set: %s",
				 err);
			x->clock.state = BREAKER_CLOSED;
			emit(b, x, reason);
			breaker_free(x);
			return;
		}
		b->slots[x->slot] = true;
	}
	if (x->id >= *b->next_id)
		*b->next_id = x->id + 1;
	x->next = b->list;
	b->list = x;
	emit(b, x, "salved started again: resumed");
}

void breakers_restore(struct breakers *b, breakers_rule_fn *rule_loaded, void *ctx)
{
	struct json_object *list;
	char err[256];
	int fd = openat(b->dirfd, BREAKERS_FILE, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	list = json_object_from_fd(fd);
	close(fd);
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		struct json_object *o = json_object_array_get_idx(list, i);
		struct breaker *x = calloc(1, sizeof(*x));

		if (!x)
			break;
		if (from_json(o, x, err, sizeof(err))) {
			salve_log(LOG_WARNING, "%s: entry %zu is not a breaker; skipped", BREAKERS_FILE, i);
			breaker_free(x);
			continue;
		}
		resume(b, x, rule_loaded(ctx, x->rule));
	}
	json_object_put(list);
	save(b);
}
