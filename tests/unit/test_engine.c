/* engine: rules built in C (not from JSON) fed decoded records; what fires, for whom,
 * how often, and what verify says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "engine/engine.h"
#include "events/events.h"

#define MS 1000000ull
#define S 1000000000ull
#define T0 (1000 * S) /* a boot time well past zero */

#define PROBES 4
#define RULES 4
#define INCS 64

struct seen {
	struct incident inc;
	unsigned char rec[INCIDENT_RECORDS_MAX][sizeof(struct salve_call_event)];
};

struct fx {
	struct policy pol;
	struct policy_set set;
	struct policy_probe probes[PROBES];
	struct policy_rule rules[RULES];
	struct policy_cond kids[RULES][2];
	struct policy_action action;
	struct engine_config cfg;
	struct engine *e;
	struct seen seen[INCS];
	size_t n_inc;
	struct {
		uint64_t id, now;
		bool resolved;
	} verdicts[16];
	size_t n_verdicts;
	uint64_t dev, ino; /* the exe of the events sent */
};

static void on_fire(void *ctx, const struct incident *inc)
{
	struct fx *f = ctx;
	struct seen *s = &f->seen[f->n_inc++];

	assert_true(f->n_inc <= INCS);
	s->inc = *inc;
	for (size_t i = 0; i < inc->n_records; i++) {
		assert_true(inc->records[i].len < sizeof(s->rec[i]));
		memcpy(s->rec[i], inc->records[i].line, inc->records[i].len);
		s->rec[i][inc->records[i].len] = 0;
		s->inc.records[i].line = (const char *)s->rec[i];
	}
}

static void on_verify(void *ctx, uint64_t id, const struct policy_rule *rule, bool resolved,
		      uint64_t now)
{
	struct fx *f = ctx;
	bool fired = false;

	assert_non_null(rule);
	/* A verdict comes after its incident was handed on (salved writes the incident's
	 * line then, so a verify line never comes first). */
	for (size_t i = 0; i < f->n_inc; i++)
		fired |= f->seen[i].inc.id == id;
	assert_true(fired);
	f->verdicts[f->n_verdicts].id = id;
	f->verdicts[f->n_verdicts].now = now;
	f->verdicts[f->n_verdicts++].resolved = resolved;
}

static const char *const probe_ids[PROBES] = { "a", "b", "c", "d" };
static const char *const rule_ids[RULES] = { "r0", "r1", "r2", "r3" };

static struct policy_cond leaf(const struct policy_probe *p, uint32_t count, uint64_t within)
{
	return (struct policy_cond){ .kind = POLICY_COND_COUNT, .probe_id = p->id, .probe = p,
				     .count = count, .within_ns = within };
}

/* Rules r0..r3: by process, 3 events of probe a (r1: b...) within 1s, budget 10. */
static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->pol.file = "test.json";
	f->pol.name = "test";
	f->pol.probes = f->probes;
	f->pol.n_probes = PROBES;
	f->pol.rules = f->rules;
	f->pol.n_rules = 1;
	f->set.policies = &f->pol;
	f->set.n_policies = 1;
	f->action = (struct policy_action){ .kind = POLICY_ACTION_LOG };
	for (int i = 0; i < PROBES; i++)
		f->probes[i] = (struct policy_probe){ .id = (char *)probe_ids[i],
						      .kind = POLICY_PROBE_RETURN, .policy = &f->pol };
	for (int i = 0; i < RULES; i++)
		f->rules[i] = (struct policy_rule){ .id = (char *)rule_ids[i], .by = POLICY_BY_PROCESS,
						    .when = leaf(&f->probes[i], 3, S), .budget = 10,
						    .policy = &f->pol };
	f->dev = 0x800001;
	f->ino = 77;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	engine_free(f->e);
	free(f);
	return 0;
}

static void start(struct fx *f, size_t n_rules)
{
	f->pol.n_rules = n_rules;
	assert_int_equal(engine_new(&f->cfg, on_fire, on_verify, f, &f->e), 0);
	assert_int_equal(engine_set_rules(f->e, &f->set), 0);
}

/* The line of an event, as far as these tests read it. */
static size_t line_of(char *buf, size_t size, uint32_t pid, int64_t ret)
{
	return (size_t)snprintf(buf, size, "{\"pid\":%u,\"ret\":%lld}", pid, (long long)ret);
}

/* A return event of probe p (its site id is its index), decoded from the record the
 * kernel writes, with its line. */
static void call(struct fx *f, int p, uint32_t pid, uint64_t t, int64_t ret)
{
	struct salve_call_event rec = { .hdr = { .kind = SALVE_EV_RETURN, .size = sizeof(rec),
						 .version = SALVE_EVENT_VERSION, .pid = pid,
						 .tid = pid, .boot_ns = t },
					.site = (uint32_t)p, .ret = ret };
	struct event ev;
	char line[64];
	size_t len = line_of(line, sizeof(line), pid, ret);

	assert_int_equal(events_decode(&rec, sizeof(rec), &ev), 0);
	ev.exe.dev = f->dev;
	ev.exe.ino = f->ino;
	strcpy(ev.exe.path, "/srv/app");
	engine_event(f->e, &(struct engine_input){ .ev = &ev, .probe = &f->probes[p],
						   .line = line, .line_len = len });
}

static void send(struct fx *f, int p, struct event *ev, const char *const *syms, size_t n_syms)
{
	engine_event(f->e, &(struct engine_input){ .ev = ev, .probe = &f->probes[p],
						   .symbols = syms, .n_symbols = n_syms });
}

static uint32_t rec_pid(const struct seen *s, size_t i)
{
	unsigned pid = 0;

	assert_int_equal(sscanf(s->inc.records[i].line, "{\"pid\":%u,", &pid), 1);
	return pid;
}

/* What each incident of the run says, to compare two runs. */
struct fired {
	const char *rule;
	uint32_t pid;
	size_t n_records;
	uint32_t last_pid;
};

/* 300 events over 4 rules and 8 processes, through engine_event one by one or through
 * engine_events in batches of 37 (over the engine's own 32); what fired, in order. */
static size_t run_mixed(struct fx *f, bool batched, struct fired *out)
{
	static struct salve_call_event recs[300];
	static struct event evs[300];
	static char lines[300][64];
	struct engine_input in[300];
	uint64_t seed = 7;

	f->n_inc = 0;
	for (size_t i = 0; i < 300; i++) {
		int p;
		uint32_t pid;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		p = (int)(seed >> 60) % PROBES;
		pid = 100 + (uint32_t)(seed >> 40) % 8;
		recs[i] = (struct salve_call_event){ .hdr = { .kind = SALVE_EV_RETURN,
							      .size = sizeof(recs[i]),
							      .version = SALVE_EVENT_VERSION, .pid = pid,
							      .tid = pid, .boot_ns = T0 + i * 20 * MS },
						     .site = (uint32_t)p, .ret = -1 };
		assert_int_equal(events_decode(&recs[i], sizeof(recs[i]), &evs[i]), 0);
		in[i] = (struct engine_input){ .ev = &evs[i], .probe = &f->probes[p], .line = lines[i],
					       .line_len = line_of(lines[i], sizeof(lines[i]), pid, -1) };
	}
	if (batched)
		for (size_t at = 0; at < 300; at += 37)
			engine_events(f->e, &in[at], 300 - at < 37 ? 300 - at : 37);
	else
		for (size_t i = 0; i < 300; i++)
			engine_event(f->e, &in[i]);
	for (size_t i = 0; i < f->n_inc; i++)
		out[i] = (struct fired){ f->seen[i].inc.rule->id, f->seen[i].inc.pid,
					 f->seen[i].inc.n_records,
					 rec_pid(&f->seen[i], f->seen[i].inc.n_records - 1) };
	return f->n_inc;
}

/* engine_events is engine_event in order: the same incidents, the same records. */
static void test_events_batched(void **state)
{
	struct fx *f = *state;
	struct fired one[INCS], batch[INCS];
	size_t n_one, n_batch;

	for (int i = 0; i < RULES; i++)
		f->rules[i].cooldown_ns = 200 * MS;
	start(f, RULES);
	n_one = run_mixed(f, false, one);
	engine_free(f->e);
	start(f, RULES);
	n_batch = run_mixed(f, true, batch);
	assert_true(n_one > 10);
	assert_int_equal(n_batch, n_one);
	for (size_t i = 0; i < n_one; i++) {
		assert_string_equal(batch[i].rule, one[i].rule);
		assert_int_equal(batch[i].pid, one[i].pid);
		assert_int_equal(batch[i].n_records, one[i].n_records);
		assert_int_equal(batch[i].last_pid, one[i].last_pid);
	}
}

/* The case: 3 errors within 1s fire exactly once; a 4th within the cooldown
 * does not. The incident names the group, counts and the records in full. */
static void test_count_fires_once(void **state)
{
	struct fx *f = *state;
	struct engine_stats st;

	f->rules[0].cooldown_ns = 10 * S;
	start(f, 1);
	call(f, 0, 42, T0, -1);
	call(f, 0, 42, T0 + 300 * MS, -2);
	assert_int_equal(f->n_inc, 0);
	call(f, 0, 42, T0 + 600 * MS, -3);
	assert_int_equal(f->n_inc, 1);
	call(f, 0, 42, T0 + 900 * MS, -4);
	assert_int_equal(f->n_inc, 1);

	const struct incident *inc = &f->seen[0].inc;
	assert_int_equal(inc->id, 1);
	assert_int_equal(inc->boot_ns, T0 + 600 * MS);
	assert_ptr_equal(inc->rule, &f->rules[0]);
	assert_int_equal(inc->by, POLICY_BY_PROCESS);
	assert_int_equal(inc->pid, 42);
	assert_int_equal(inc->exe_dev, f->dev);
	assert_int_equal(inc->exe_ino, f->ino);
	assert_string_equal(inc->exe, "/srv/app");
	assert_false(inc->dry_run);
	assert_false(inc->budget_exhausted);
	assert_int_equal(inc->n_counts, 1);
	assert_string_equal(inc->counts[0].probe_id, "a");
	assert_int_equal(inc->counts[0].events, 3);
	assert_int_equal(inc->n_records, 3);
	for (size_t i = 0; i < 3; i++) {
		char want[64];

		line_of(want, sizeof(want), 42, -1 - (int64_t)i); /* oldest first */
		assert_string_equal(inc->records[i].line, want);
	}
	engine_stats(f->e, &st);
	assert_int_equal(st.incidents, 1);
	assert_int_equal(st.matched, 4);
	assert_int_equal(st.groups, 1);
	assert_int_equal(st.rules, 1);
}

/* Only the last INCIDENT_RECORDS_MAX records are kept. */
static void test_last_records_kept(void **state)
{
	struct fx *f = *state;

	f->rules[0].when.count = 6;
	start(f, 1);
	for (int i = 0; i < 6; i++)
		call(f, 0, 42, T0 + i * MS, -1 - i);
	assert_int_equal(f->n_inc, 1);
	assert_int_equal(f->seen[0].inc.n_records, INCIDENT_RECORDS_MAX);
	for (size_t i = 0; i < INCIDENT_RECORDS_MAX; i++) {
		char want[64];

		line_of(want, sizeof(want), 42, -3 - (int64_t)i);
		assert_string_equal(f->seen[0].inc.records[i].line, want);
	}
}

/* 31ms windows have 1ms buckets: 3 events count when the first is 31 buckets before
 * the last, not 32. */
static void test_count_at_bucket_boundary(void **state)
{
	struct fx *f = *state;

	f->rules[0].when.within_ns = 31 * MS;
	start(f, 1);
	call(f, 0, 1, T0, -1);
	call(f, 0, 1, T0 + MS, -1);
	call(f, 0, 1, T0 + 32 * MS - 1, -1);
	assert_int_equal(f->n_inc, 1);
	assert_int_equal(f->seen[0].inc.pid, 1);
	call(f, 0, 2, T0, -1);
	call(f, 0, 2, T0 + MS, -1);
	call(f, 0, 2, T0 + 32 * MS, -1);
	assert_int_equal(f->n_inc, 1);
	call(f, 0, 2, T0 + 32 * MS + 1, -1); /* the 1ms and 32ms ones and this: 3 */
	assert_int_equal(f->n_inc, 2);
	assert_int_equal(f->seen[1].inc.pid, 2);
}

/* Within the cooldown events still count; the first one after it fires. */
static void test_cooldown(void **state)
{
	struct fx *f = *state;

	f->rules[0].cooldown_ns = 10 * S;
	start(f, 1);
	for (int i = 0; i < 3; i++)
		call(f, 0, 42, T0 + i * 100 * MS, -1);
	assert_int_equal(f->n_inc, 1); /* at T0 + 200ms: cooldown until T0 + 10.2s */
	call(f, 0, 42, T0 + 9700 * MS, -1);
	call(f, 0, 42, T0 + 9900 * MS, -1);
	call(f, 0, 42, T0 + 10100 * MS, -1);
	assert_int_equal(f->n_inc, 1);
	call(f, 0, 42, T0 + 10200 * MS, -1);
	assert_int_equal(f->n_inc, 2);
	assert_int_equal(f->seen[1].inc.counts[0].events, 4);
	/* The firing emptied the window: the next incident needs 3 new events. */
	call(f, 0, 42, T0 + 20300 * MS, -1);
	call(f, 0, 42, T0 + 20400 * MS, -1);
	assert_int_equal(f->n_inc, 2);
}

/* Budget 2 an hour: the third incident in the hour is flagged, and the budget comes
 * back exactly an hour after the first. Dry runs take none. */
static void test_budget_over_an_hour(void **state)
{
	struct fx *f = *state;
	struct engine_stats st;

	f->rules[0].when.count = 1;
	f->rules[0].budget = 2;
	f->rules[0].actions = &f->action;
	f->rules[0].n_actions = 1;
	start(f, 1);
	call(f, 0, 1, T0, -1);
	call(f, 0, 1, T0 + 60 * S, -1);
	call(f, 0, 1, T0 + 120 * S, -1);
	call(f, 0, 1, T0 + 3600 * S - 1, -1);
	call(f, 0, 1, T0 + 3600 * S, -1);
	call(f, 0, 1, T0 + 3600 * S + 1, -1);
	call(f, 0, 1, T0 + 3660 * S, -1);
	assert_int_equal(f->n_inc, 7);
	assert_false(f->seen[0].inc.budget_exhausted);
	assert_false(f->seen[1].inc.budget_exhausted);
	assert_true(f->seen[2].inc.budget_exhausted);
	assert_true(f->seen[3].inc.budget_exhausted);
	assert_false(f->seen[4].inc.budget_exhausted); /* T0 left the hour */
	assert_true(f->seen[5].inc.budget_exhausted);
	assert_false(f->seen[6].inc.budget_exhausted); /* T0 + 60s left it */
	engine_stats(f->e, &st);
	assert_int_equal(st.budget_exhausted, 3);
	assert_int_equal(st.incidents, 7);
}

static void test_dry_run_takes_no_budget(void **state)
{
	struct fx *f = *state;

	f->rules[0].when.count = 1;
	f->rules[0].budget = 1;
	f->rules[0].actions = &f->action;
	f->rules[0].n_actions = 1;
	f->pol.dry_run = true;
	start(f, 1);
	for (int i = 0; i < 3; i++)
		call(f, 0, 1, T0 + i * S, -1);
	assert_int_equal(f->n_inc, 3);
	for (int i = 0; i < 3; i++) {
		assert_true(f->seen[i].inc.dry_run);
		assert_false(f->seen[i].inc.budget_exhausted);
	}
}

static void test_daemon_dry_run(void **state)
{
	struct fx *f = *state;

	f->cfg.dry_run = true;
	f->rules[0].when.count = 1;
	start(f, 1);
	call(f, 0, 1, T0, -1);
	assert_int_equal(f->n_inc, 1);
	assert_true(f->seen[0].inc.dry_run);
}

/* By process: the process that erred fires, not its sibling. */
static void test_by_process_isolates_sibling(void **state)
{
	struct fx *f = *state;

	start(f, 1);
	call(f, 0, 100, T0, -1);
	call(f, 0, 101, T0 + 10 * MS, -1);
	call(f, 0, 100, T0 + 20 * MS, -1);
	call(f, 0, 101, T0 + 30 * MS, -1);
	call(f, 0, 100, T0 + 40 * MS, -1);
	assert_int_equal(f->n_inc, 1);
	assert_int_equal(f->seen[0].inc.pid, 100);
	for (size_t i = 0; i < f->seen[0].inc.n_records; i++)
		assert_int_equal(rec_pid(&f->seen[0], i), 100);
}

/* By binary: processes of one binary count together, another binary apart. */
static void test_by_binary(void **state)
{
	struct fx *f = *state;

	f->rules[0].by = POLICY_BY_BINARY;
	start(f, 1);
	call(f, 0, 1, T0, -1);
	call(f, 0, 2, T0 + MS, -1);
	f->ino = 78; /* another binary */
	call(f, 0, 3, T0 + 2 * MS, -1);
	call(f, 0, 4, T0 + 3 * MS, -1);
	assert_int_equal(f->n_inc, 0);
	f->ino = 77;
	call(f, 0, 5, T0 + 4 * MS, -1);
	assert_int_equal(f->n_inc, 1);
	assert_int_equal(f->seen[0].inc.by, POLICY_BY_BINARY);
	assert_int_equal(f->seen[0].inc.exe_dev, f->dev);
	assert_int_equal(f->seen[0].inc.exe_ino, 77);
	assert_int_equal(f->seen[0].inc.pid, 5);
	assert_int_equal(rec_pid(&f->seen[0], 0), 1);
	assert_int_equal(rec_pid(&f->seen[0], 2), 5);
}

static void test_by_host(void **state)
{
	struct fx *f = *state;
	struct engine_stats st;

	f->rules[0].by = POLICY_BY_HOST;
	start(f, 1);
	call(f, 0, 1, T0, -1);
	f->ino = 99;
	call(f, 0, 2, T0 + MS, -1);
	call(f, 0, 3, T0 + 2 * MS, -1);
	assert_int_equal(f->n_inc, 1);
	assert_int_equal(f->seen[0].inc.pid, 3);
	engine_stats(f->e, &st);
	assert_int_equal(st.groups, 1);
}

/* At most max_groups per rule; a group no event touched since the clock hand last
 * passed goes (one seen once goes before one seen again), and its counts with it. */
static void test_eviction_bound(void **state)
{
	struct fx *f = *state;
	struct engine_stats st;

	f->cfg.max_groups = 4;
	start(f, 1);
	for (uint32_t pid = 1; pid <= 4; pid++)
		call(f, 0, pid, T0, -1);
	call(f, 0, 1, T0 + MS, -1); /* 1 is seen again: 2 is the first seen once */
	call(f, 0, 5, T0 + 2 * MS, -1);
	engine_stats(f->e, &st);
	assert_int_equal(st.groups, 4);
	assert_int_equal(st.evicted, 1);
	call(f, 0, 1, T0 + 3 * MS, -1);
	assert_int_equal(f->n_inc, 1); /* 1 kept its two events */
	call(f, 0, 2, T0 + 4 * MS, -1);
	call(f, 0, 2, T0 + 5 * MS, -1);
	assert_int_equal(f->n_inc, 1); /* 2 lost its first one */
	/* A fork storm: memory stays at the bound. */
	for (uint32_t pid = 1000; pid < 11000; pid++)
		call(f, 0, pid, T0 + 6 * MS, -1);
	engine_stats(f->e, &st);
	assert_int_equal(st.groups, 4);
	assert_int_equal(st.evicted, 2 + 10000);
}

static void test_forget(void **state)
{
	struct fx *f = *state;
	struct engine_stats st;

	start(f, 1);
	call(f, 0, 7, T0, -1);
	call(f, 0, 7, T0 + MS, -1);
	call(f, 0, 8, T0 + MS, -1);
	engine_forget(f->e, 7);
	engine_forget(f->e, 9); /* unknown: nothing */
	engine_stats(f->e, &st);
	assert_int_equal(st.groups, 1);
	call(f, 0, 7, T0 + 2 * MS, -1); /* pid reused: a new process, from zero */
	assert_int_equal(f->n_inc, 0);
	call(f, 0, 8, T0 + 3 * MS, -1);
	call(f, 0, 8, T0 + 4 * MS, -1);
	assert_int_equal(f->n_inc, 1);
}

/* all: both leaves in their windows; counts per leaf in the incident. */
static void test_all(void **state)
{
	struct fx *f = *state;

	f->kids[0][0] = leaf(&f->probes[0], 2, S);
	f->kids[0][1] = leaf(&f->probes[1], 1, S);
	f->rules[0].when = (struct policy_cond){ .kind = POLICY_COND_ALL, .children = f->kids[0],
						 .n_children = 2 };
	start(f, 1);
	call(f, 1, 1, T0, -1);
	call(f, 0, 1, T0 + MS, -1);
	assert_int_equal(f->n_inc, 0);
	call(f, 0, 1, T0 + 2 * MS, -1);
	assert_int_equal(f->n_inc, 1);
	assert_int_equal(f->seen[0].inc.n_counts, 2);
	assert_string_equal(f->seen[0].inc.counts[0].probe_id, "a");
	assert_int_equal(f->seen[0].inc.counts[0].events, 2);
	assert_string_equal(f->seen[0].inc.counts[1].probe_id, "b");
	assert_int_equal(f->seen[0].inc.counts[1].events, 1);
	assert_int_equal(f->seen[0].inc.n_records, 3); /* both probes' records */
	/* b's event leaves the window: a alone does not fire. */
	call(f, 0, 1, T0 + 2 * S, -1);
	call(f, 0, 1, T0 + 2 * S + MS, -1);
	assert_int_equal(f->n_inc, 1);
}

static void test_any(void **state)
{
	struct fx *f = *state;

	f->kids[0][0] = leaf(&f->probes[0], 2, S);
	f->kids[0][1] = leaf(&f->probes[1], 1, S);
	f->rules[0].when = (struct policy_cond){ .kind = POLICY_COND_ANY, .children = f->kids[0],
						 .n_children = 2 };
	start(f, 1);
	call(f, 0, 1, T0, -1);
	assert_int_equal(f->n_inc, 0);
	call(f, 1, 1, T0 + MS, -1);
	assert_int_equal(f->n_inc, 1);
	call(f, 0, 2, T0, -1);
	call(f, 0, 2, T0 + MS, -1);
	assert_int_equal(f->n_inc, 2);
	call(f, 2, 3, T0, -1); /* a probe no rule uses */
	assert_int_equal(f->n_inc, 2);
}

/* rate: more than 2 events a second over a 1s window; exactly 2/s is not more. */
static void test_rate_at_boundary(void **state)
{
	struct fx *f = *state;

	f->rules[0].when = (struct policy_cond){ .kind = POLICY_COND_RATE, .probe_id = "a",
						 .probe = &f->probes[0], .rate = 2,
						 .within_ns = 31 * MS * 32 };
	f->rules[1].when = (struct policy_cond){ .kind = POLICY_COND_RATE, .probe_id = "b",
						 .probe = &f->probes[1], .rate = 0.5,
						 .within_ns = 10 * S };
	start(f, 2);
	/* 992ms window: 2 events is 2.02/s, over; for rate 2 that needs 2 events. */
	call(f, 0, 1, T0, -1);
	assert_int_equal(f->n_inc, 0);
	call(f, 0, 1, T0 + MS, -1);
	assert_int_equal(f->n_inc, 1);
	/* 0.5/s over 10s: 5 events is exactly the rate, the sixth is over it. */
	for (int i = 0; i < 5; i++)
		call(f, 1, 2, T0 + i * S, -1);
	assert_int_equal(f->n_inc, 1);
	call(f, 1, 2, T0 + 5 * S, -1);
	assert_int_equal(f->n_inc, 2);
	assert_ptr_equal(f->seen[1].inc.rule, &f->rules[1]);
	assert_int_equal(f->seen[1].inc.counts[0].events, 6);
}

static void test_filter_signal(void **state)
{
	struct fx *f = *state;
	struct event ev = { .kind = SALVE_EV_SIGNAL, .pid = 5 };

	f->probes[0].kind = POLICY_PROBE_SIGNAL;
	f->rules[0].when.count = 1;
	f->rules[0].when.filter.signals_mask = 1u << SIGSEGV;
	start(f, 1);
	ev.boot_ns = T0;
	ev.sig.signo = SIGABRT;
	send(f, 0, &ev, NULL, 0);
	assert_int_equal(f->n_inc, 0);
	ev.sig.signo = SIGSEGV;
	send(f, 0, &ev, NULL, 0);
	assert_int_equal(f->n_inc, 1);
	assert_int_equal(f->seen[0].inc.n_records, 0); /* none given */
}

/* A signal filter on an exit probe matches processes killed by that signal. */
static void test_filter_signal_of_exit(void **state)
{
	struct fx *f = *state;
	struct event ev = { .kind = SALVE_EV_EXIT, .pid = 5, .boot_ns = T0 };

	f->probes[0].kind = POLICY_PROBE_EXIT;
	f->rules[0].when.count = 1;
	f->rules[0].when.filter.signals_mask = 1u << SIGKILL;
	start(f, 1);
	ev.exit.status = 1 << 8; /* exit(1) */
	send(f, 0, &ev, NULL, 0);
	ev.exit.status = SIGSEGV | 0x80; /* core dumped */
	send(f, 0, &ev, NULL, 0);
	assert_int_equal(f->n_inc, 0);
	ev.exit.status = SIGKILL;
	send(f, 0, &ev, NULL, 0);
	assert_int_equal(f->n_inc, 1);
}

/* Records live in one ring for the whole engine: one that later records overwrote
 * before its incident fired is counted, not handed on. */
static void test_record_overwritten(void **state)
{
	struct fx *f = *state;
	struct engine_stats st;
	struct event ev = { .kind = SALVE_EV_RETURN, .pid = 5, .boot_ns = T0 };
	char line[sizeof(struct salve_call_event)] = "{}"; /* a record's size, padded */
	size_t len;

	f->rules[0].when.count = 2;
	f->rules[0].when.within_ns = 1000 * S;
	start(f, 1);
	len = line_of(line, sizeof(line), 5, -1);
	engine_event(f->e, &(struct engine_input){ .ev = &ev, .probe = &f->probes[0],
						   .line = line, .line_len = sizeof(line) - 1 });
	/* Other processes' lines, more than the ring holds: 16 MiB of them. */
	for (uint32_t i = 0; i < (16u << 20) / sizeof(line) + 1; i++) {
		struct event other = { .kind = SALVE_EV_RETURN, .pid = 100 + i % 1000, .boot_ns = T0 };

		line_of(line, sizeof(line), other.pid, -1);
		engine_event(f->e, &(struct engine_input){ .ev = &other, .probe = &f->probes[0],
							   .line = line, .line_len = sizeof(line) - 1 });
		f->n_inc = 0; /* their incidents do not matter here */
	}
	f->n_inc = 0;
	len = line_of(line, sizeof(line), 5, -1);
	ev.boot_ns = T0 + 1;
	engine_event(f->e, &(struct engine_input){ .ev = &ev, .probe = &f->probes[0],
						   .line = line, .line_len = len });
	assert_int_equal(f->n_inc, 1);
	assert_int_equal(f->seen[0].inc.pid, 5);
	assert_int_equal(f->seen[0].inc.n_records, 1); /* the first was overwritten */
	assert_int_equal(rec_pid(&f->seen[0], 0), 5);
	engine_stats(f->e, &st);
	assert_int_equal(st.records_skipped, 1);
}

static void test_filter_errno(void **state)
{
	struct fx *f = *state;
	int errnos[] = { EAGAIN, ECONNREFUSED };
	struct event ev = { .kind = SALVE_EV_SYSCALL, .pid = 5, .boot_ns = T0 };

	f->probes[0].kind = POLICY_PROBE_SYSCALL;
	f->rules[0].when.count = 1;
	f->rules[0].when.filter.errnos = errnos;
	f->rules[0].when.filter.n_errnos = 2;
	start(f, 1);
	ev.call.ret = -ENOENT;
	send(f, 0, &ev, NULL, 0);
	ev.call.ret = EAGAIN; /* positive: not an error */
	send(f, 0, &ev, NULL, 0);
	assert_int_equal(f->n_inc, 0);
	ev.call.ret = -ECONNREFUSED;
	send(f, 0, &ev, NULL, 0);
	assert_int_equal(f->n_inc, 1);
}

static void test_filter_ret(void **state)
{
	struct fx *f = *state;

	f->rules[0].when.count = 1;
	f->rules[0].when.filter.has_ret = true;
	f->rules[0].when.filter.ret = (struct policy_predicate){ .op = PRED_IN,
								 .values = { -5, -7 }, .n_values = 2 };
	f->rules[1].when.count = 1;
	f->rules[1].when.filter.has_ret = true;
	f->rules[1].when.filter.ret = (struct policy_predicate){ .op = PRED_LE, .values = { -2 },
								 .n_values = 1 };
	start(f, 2);
	call(f, 0, 1, T0, -6);
	call(f, 1, 1, T0, -1);
	assert_int_equal(f->n_inc, 0);
	call(f, 0, 1, T0, -7);
	call(f, 1, 1, T0, -2);
	assert_int_equal(f->n_inc, 2);
}

static void test_pred_match(void **state)
{
	struct policy_predicate p = { .op = PRED_LT, .values = { 0 }, .n_values = 1 };

	(void)state;
	assert_true(engine_pred_match(&p, -1));
	assert_false(engine_pred_match(&p, 0));
	p.op = PRED_GE;
	assert_true(engine_pred_match(&p, 0));
	p.op = PRED_GT;
	assert_false(engine_pred_match(&p, 0));
	p.op = PRED_NE;
	assert_true(engine_pred_match(&p, INT64_MIN));
	p.op = PRED_EQ;
	assert_true(engine_pred_match(&p, 0));
}

static void test_filter_type(void **state)
{
	struct fx *f = *state;
	char *types[] = { "std::bad_alloc" };
	struct event ev = { .kind = SALVE_EV_EXCEPTION, .pid = 5, .boot_ns = T0 };

	f->probes[0].kind = POLICY_PROBE_EXCEPTION;
	f->rules[0].when.count = 1;
	f->rules[0].when.filter.types = types;
	f->rules[0].when.filter.n_types = 1;
	start(f, 1);
	strcpy(ev.text.text, "std::runtime_error");
	send(f, 0, &ev, NULL, 0);
	assert_int_equal(f->n_inc, 0);
	strcpy(ev.text.text, "std::bad_alloc");
	send(f, 0, &ev, NULL, 0);
	assert_int_equal(f->n_inc, 1);
}

static void test_filter_stack_has(void **state)
{
	struct fx *f = *state;
	struct event ev = { .kind = SALVE_EV_SIGNAL, .pid = 5, .boot_ns = T0, .sig = { .signo = SIGSEGV } };
	const char *other[] = { "memcpy", NULL, "main" };
	const char *hit[] = { "memcpy", "parse", "main" };

	f->probes[0].kind = POLICY_PROBE_SIGNAL;
	f->rules[0].when.count = 1;
	f->rules[0].when.filter.stack_has = "parse";
	start(f, 1);
	assert_true(engine_needs_symbols(f->e, &f->probes[0]));
	assert_false(engine_needs_symbols(f->e, &f->probes[1]));
	send(f, 0, &ev, other, 3);
	send(f, 0, &ev, NULL, 0);
	assert_int_equal(f->n_inc, 0);
	send(f, 0, &ev, hit, 3);
	assert_int_equal(f->n_inc, 1);
}

/* The repair helped: the verify window ends without the fault, tick says resolved. */
static void test_verify_resolved(void **state)
{
	struct fx *f = *state;

	f->rules[0].actions = &f->action;
	f->rules[0].n_actions = 1;
	f->rules[0].verify_ns = 5 * S;
	start(f, 1);
	for (int i = 0; i < 3; i++)
		call(f, 0, 1, T0 + i * MS, -1);
	assert_int_equal(f->n_inc, 1);
	call(f, 0, 1, T0 + 3 * S, -1); /* one event: the condition does not hold */
	engine_tick(f->e, T0 + 5 * S + 2 * MS - 1);
	assert_int_equal(f->n_verdicts, 0);
	engine_tick(f->e, T0 + 5 * S + 2 * MS);
	assert_int_equal(f->n_verdicts, 1);
	assert_int_equal(f->verdicts[0].id, f->seen[0].inc.id);
	assert_true(f->verdicts[0].resolved);
	engine_tick(f->e, T0 + 7 * S);
	assert_int_equal(f->n_verdicts, 1);
}

/* The fault came back within the window (in the cooldown, too): resolved = false,
 * once. A dry run is not verified. */
static void test_verify_not_resolved(void **state)
{
	struct fx *f = *state;

	f->rules[0].actions = &f->action;
	f->rules[0].n_actions = 1;
	f->rules[0].verify_ns = 5 * S;
	f->rules[0].cooldown_ns = 60 * S;
	f->rules[1] = f->rules[0];
	f->rules[1].id = "r1";
	f->rules[1].when = leaf(&f->probes[1], 3, S);
	f->rules[1].dry_run = true;
	start(f, 2);
	for (int i = 0; i < 3; i++) {
		call(f, 0, 1, T0 + i * MS, -1);
		call(f, 1, 1, T0 + i * MS, -1);
	}
	assert_int_equal(f->n_inc, 2);
	for (int i = 0; i < 5; i++)
		call(f, 0, 1, T0 + S + i * MS, -1);
	assert_int_equal(f->n_inc, 2);
	assert_int_equal(f->n_verdicts, 1);
	assert_int_equal(f->verdicts[0].id, 1);
	assert_false(f->verdicts[0].resolved);
	assert_int_equal(f->verdicts[0].now, T0 + S + 2 * MS);
	for (int i = 0; i < 3; i++)
		call(f, 1, 1, T0 + S + i * MS, -1);
	engine_tick(f->e, T0 + 10 * S);
	assert_int_equal(f->n_verdicts, 1);
}

/* A cooldown past the end of the clock: the rule never fires again for the group,
 * rather than the deadline wrapping into the past and firing on the next event. */
static void test_cooldown_saturates(void **state)
{
	struct fx *f = *state;

	f->rules[0].cooldown_ns = UINT64_MAX - T0 / 2;
	start(f, 1);
	for (int i = 0; i < 3; i++)
		call(f, 0, 42, T0 + i * MS, -1);
	assert_int_equal(f->n_inc, 1);
	for (int i = 0; i < 6; i++)
		call(f, 0, 42, T0 + S + i * MS, -1);
	assert_int_equal(f->n_inc, 1);
}

/* A verify window past the end of the clock: no early "resolved" from a wrapped
 * deadline; the verification ends only when the fault comes back, in the process or,
 * once it has gone, in another of the same executable. */
static void test_verify_saturates(void **state)
{
	struct fx *f = *state;

	f->rules[0].actions = &f->action;
	f->rules[0].n_actions = 1;
	f->rules[0].verify_ns = UINT64_MAX - T0 / 2;
	start(f, 1);
	for (int i = 0; i < 3; i++)
		call(f, 0, 1, T0 + i * MS, -1);
	assert_int_equal(f->n_inc, 1);
	engine_tick(f->e, T0 + S);
	engine_tick(f->e, UINT64_MAX - 1);
	assert_int_equal(f->n_verdicts, 0);
	engine_forget(f->e, 1);
	engine_tick(f->e, UINT64_MAX - 1);
	assert_int_equal(f->n_verdicts, 0);
	for (int i = 0; i < 3; i++)
		call(f, 0, 2, T0 + 2 * S + i * MS, -1);
	assert_int_equal(f->n_verdicts, 1);
	assert_false(f->verdicts[0].resolved);
}

/* A process under verification exits (a crash): the window goes on, watching its
 * executable. Nothing comes back: resolved at the window's end, not at the exit. */
static void test_verify_forgotten(void **state)
{
	struct fx *f = *state;

	f->rules[0].actions = &f->action;
	f->rules[0].n_actions = 1;
	f->rules[0].verify_ns = 5 * S;
	start(f, 1);
	for (int i = 0; i < 3; i++)
		call(f, 0, 1, T0 + i * MS, -1);
	engine_forget(f->e, 1);
	assert_int_equal(f->n_verdicts, 0);
	engine_tick(f->e, T0 + 4 * S);
	assert_int_equal(f->n_verdicts, 0);
	/* Another executable's process erring is not the service coming back. */
	f->ino++;
	for (int i = 0; i < 3; i++)
		call(f, 0, 3, T0 + 3 * S + i * MS, -1);
	f->ino--;
	assert_int_equal(f->n_inc, 2);
	assert_int_equal(f->n_verdicts, 0);
	engine_tick(f->e, T0 + 5 * S + 2 * MS);
	assert_int_equal(f->n_verdicts, 1);
	assert_int_equal(f->verdicts[0].id, 1);
	assert_true(f->verdicts[0].resolved);
	assert_int_equal(f->verdicts[0].now, T0 + 5 * S + 2 * MS);
	engine_tick(f->e, T0 + 20 * S);
	assert_int_equal(f->n_verdicts, 2); /* the other executable's own incident */
	assert_int_equal(f->verdicts[1].id, 2);
}

/* The crashed process's service restarts and fails again within the window: the
 * repair did not help (persists), and the new process's fault is an incident of its own. */
static void test_verify_restarted(void **state)
{
	struct fx *f = *state;

	f->rules[0].actions = &f->action;
	f->rules[0].n_actions = 1;
	f->rules[0].verify_ns = 5 * S;
	start(f, 1);
	for (int i = 0; i < 3; i++)
		call(f, 0, 1, T0 + i * MS, -1);
	engine_forget(f->e, 1);
	for (int i = 0; i < 3; i++)
		call(f, 0, 2, T0 + S + i * MS, -1);
	assert_int_equal(f->n_verdicts, 1);
	assert_int_equal(f->verdicts[0].id, 1);
	assert_false(f->verdicts[0].resolved);
	assert_int_equal(f->verdicts[0].now, T0 + S + 2 * MS);
	assert_int_equal(f->n_inc, 2);
	engine_forget(f->e, 2);
	engine_tick(f->e, T0 + 20 * S);
	assert_int_equal(f->n_verdicts, 2);
	assert_true(f->verdicts[1].resolved);
}

/* Latency percentile over a window, fixed value: by host, from the site's histogram. */
static void test_percentile_fixed(void **state)
{
	struct fx *f = *state;
	uint64_t h[SALVE_HIST_BUCKETS] = { 0 };

	f->probes[0].kind = POLICY_PROBE_LATENCY;
	f->probes[0].binary = "/srv/app";
	f->rules[0].by = POLICY_BY_HOST;
	f->rules[0].when = (struct policy_cond){ .kind = POLICY_COND_PERCENTILE, .probe_id = "a",
						 .probe = &f->probes[0], .percentile = 99,
						 .above_ns = 2 * MS, .within_ns = 31 * S };
	start(f, 1);
	assert_true(engine_needs_histogram(f->e, &f->probes[0])); /* salved reads it then */
	assert_false(engine_needs_histogram(f->e, &f->probes[1]));
	h[10] = 1000; /* calls before salved looked: not in any window */
	h[30] = 1000;
	engine_histogram(f->e, &f->probes[0], h, T0);
	assert_int_equal(f->n_inc, 0);
	h[19] += 100; /* [524us, 1ms): p99 is 1.05ms, under 2ms */
	engine_histogram(f->e, &f->probes[0], h, T0 + S);
	assert_int_equal(f->n_inc, 0);
	h[20] += 1; /* 1 of 101 calls: p99 still in bucket 19 */
	engine_histogram(f->e, &f->probes[0], h, T0 + 2 * S);
	assert_int_equal(f->n_inc, 0);
	h[20] += 1; /* 2 of 102: p99 reaches [1ms, 2ms) whose upper edge 2.097ms is over */
	engine_histogram(f->e, &f->probes[0], h, T0 + 3 * S);
	assert_int_equal(f->n_inc, 1);
	assert_int_equal(f->seen[0].inc.counts[0].value_ns, 2ull << 20);
	assert_int_equal(f->seen[0].inc.counts[0].events, 102);
	assert_int_equal(f->seen[0].inc.boot_ns, T0 + 3 * S);
	assert_string_equal(f->seen[0].inc.exe, "/srv/app");
	/* The slow calls leave the 31s window (1s buckets) after 31 more seconds. */
	engine_histogram(f->e, &f->probes[0], h, T0 + 34 * S);
	assert_int_equal(f->n_inc, 2); /* no cooldown: it holds while one slow call is left */
	engine_histogram(f->e, &f->probes[0], h, T0 + 35 * S);
	assert_int_equal(f->n_inc, 2);
}

/* Above a baseline: the percentile of the window over factor times the percentile of
 * the longer baseline. */
static void test_percentile_baseline(void **state)
{
	struct fx *f = *state;
	uint64_t h[SALVE_HIST_BUCKETS] = { 0 };

	f->probes[0].kind = POLICY_PROBE_LATENCY;
	f->rules[0].by = POLICY_BY_BINARY;
	f->rules[0].cooldown_ns = 3600 * S;
	f->rules[0].when = (struct policy_cond){ .kind = POLICY_COND_PERCENTILE, .probe_id = "a",
						 .probe = &f->probes[0], .percentile = 99,
						 .baseline_factor = 2, .baseline_ns = 310 * S,
						 .within_ns = 31 * S };
	start(f, 1);
	engine_histogram(f->e, &f->probes[0], h, T0);
	/* Each second 1,000 fast calls and 20 slow ones (2%): p99 is slow in the window
	 * and in the baseline alike, 2^21 against 2 x 2^21. */
	for (int t = 1; t <= 100; t++) {
		h[10] += 1000;
		h[20] += 20;
		engine_histogram(f->e, &f->probes[0], h, T0 + t * S);
	}
	assert_int_equal(f->n_inc, 0);
	/* 1,000 very slow calls: 3% of the window's 32,620 but under 1% of the
	 * baseline's 103,020, whose p99 stays at 2^21. */
	h[25] += 1000;
	engine_histogram(f->e, &f->probes[0], h, T0 + 101 * S);
	assert_int_equal(f->n_inc, 1);
	assert_int_equal(f->seen[0].inc.counts[0].value_ns, 2ull << 25);
	assert_int_equal(f->seen[0].inc.counts[0].events, 31 * 1020 + 1000);
	assert_int_equal(f->seen[0].inc.by, POLICY_BY_BINARY);
}

/* A reload keeps the windows of unchanged rules (by content, not pointer); changed and
 * new rules start empty; a failed reload keeps the old rules. */
static void test_reload(void **state)
{
	struct fx *f = *state;
	struct engine_stats st;
	struct fx *g;
	void *gs;

	start(f, 3);
	for (int i = 0; i < 2; i++) {
		call(f, 0, 1, T0 + i * MS, -1);
		call(f, 1, 1, T0 + i * MS, -1);
		call(f, 2, 1, T0 + i * MS, -1);
	}
	/* The new set: its own copies. r0 the same, r1 with a longer window, r2 gone,
	 * r3 new. */
	setup(&gs);
	g = gs;
	g->rules[1].when.within_ns = 2 * S;
	g->rules[2] = g->rules[3];
	g->pol.n_rules = 3;
	assert_int_equal(engine_set_rules(f->e, &g->set), 0);
	engine_stats(f->e, &st);
	assert_int_equal(st.rules, 3);
	assert_int_equal(st.groups, 1);
	f->n_inc = 0;
	for (int p = 0; p < 4; p++) {
		struct salve_call_event rec = { .hdr = { .kind = SALVE_EV_RETURN, .size = sizeof(rec),
							 .version = SALVE_EVENT_VERSION, .pid = 1,
							 .boot_ns = T0 + 2 * MS } };
		struct event ev;
		char line[64];
		size_t len = line_of(line, sizeof(line), 1, 0);

		assert_int_equal(events_decode(&rec, sizeof(rec), &ev), 0);
		engine_event(f->e, &(struct engine_input){ .ev = &ev, .probe = &g->probes[p],
							   .line = line, .line_len = len });
	}
	assert_int_equal(f->n_inc, 1);
	assert_ptr_equal(f->seen[0].inc.rule, &g->rules[0]);
	assert_int_equal(f->seen[0].inc.counts[0].events, 3);
	assert_int_equal(f->seen[0].inc.n_records, 3);

	/* A broken set (a leaf without its probe) changes nothing. */
	f->rules[1].when.probe = NULL;
	f->pol.n_rules = 2;
	assert_int_equal(engine_set_rules(f->e, &f->set), -EINVAL);
	engine_stats(f->e, &st);
	assert_int_equal(st.rules, 3);
	for (int i = 0; i < 2; i++) {
		struct salve_call_event rec = { .hdr = { .kind = SALVE_EV_RETURN, .size = sizeof(rec),
							 .version = SALVE_EVENT_VERSION, .pid = 1,
							 .boot_ns = T0 + (3 + i) * MS } };
		struct event ev;

		assert_int_equal(events_decode(&rec, sizeof(rec), &ev), 0);
		engine_event(f->e, &(struct engine_input){ .ev = &ev, .probe = &g->probes[1] });
	}
	assert_int_equal(f->n_inc, 2); /* the changed r1 still runs */
	assert_ptr_equal(f->seen[1].inc.rule, &g->rules[1]);
	engine_set_rules(f->e, NULL);
	engine_stats(f->e, &st);
	assert_int_equal(st.rules, 0);
	assert_int_equal(st.groups, 0);
	free(g);
}

static void test_bad_rules(void **state)
{
	struct fx *f = *state;
	struct policy_cond many[INCIDENT_LEAVES_MAX + 1];

	start(f, 0);
	f->pol.n_rules = 1;
	f->rules[0].when.within_ns = 0;
	assert_int_equal(engine_set_rules(f->e, &f->set), -EINVAL);
	f->rules[0].when = (struct policy_cond){ .kind = POLICY_COND_PERCENTILE, .probe_id = "a",
						 .probe = &f->probes[0], .percentile = 99,
						 .above_ns = MS, .within_ns = S };
	assert_int_equal(engine_set_rules(f->e, &f->set), -EINVAL); /* by process */
	for (size_t i = 0; i < INCIDENT_LEAVES_MAX + 1; i++)
		many[i] = leaf(&f->probes[0], 1, S);
	f->rules[0].when = (struct policy_cond){ .kind = POLICY_COND_ANY, .children = many,
						 .n_children = INCIDENT_LEAVES_MAX + 1 };
	assert_int_equal(engine_set_rules(f->e, &f->set), -E2BIG);
	/* A budget past what the engine remembers is refused, not counted as less. */
	f->rules[0].when = leaf(&f->probes[0], 1, S);
	f->rules[0].budget = POLICY_BUDGET_MAX + 1;
	assert_int_equal(engine_set_rules(f->e, &f->set), -EINVAL);
	f->rules[0].budget = POLICY_BUDGET_MAX;
	assert_int_equal(engine_set_rules(f->e, &f->set), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_count_fires_once),
		T(test_last_records_kept),
		T(test_count_at_bucket_boundary),
		T(test_cooldown),
		T(test_budget_over_an_hour),
		T(test_dry_run_takes_no_budget),
		T(test_daemon_dry_run),
		T(test_by_process_isolates_sibling),
		T(test_by_binary),
		T(test_by_host),
		T(test_eviction_bound),
		T(test_events_batched),
		T(test_forget),
		T(test_all),
		T(test_any),
		T(test_rate_at_boundary),
		T(test_filter_signal),
		T(test_filter_signal_of_exit),
		T(test_record_overwritten),
		T(test_filter_errno),
		T(test_filter_ret),
		cmocka_unit_test(test_pred_match),
		T(test_filter_type),
		T(test_filter_stack_has),
		T(test_verify_resolved),
		T(test_verify_not_resolved),
		T(test_verify_forgotten),
		T(test_verify_restarted),
		T(test_cooldown_saturates),
		T(test_verify_saturates),
		T(test_percentile_fixed),
		T(test_percentile_baseline),
		T(test_reload),
		T(test_bad_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
