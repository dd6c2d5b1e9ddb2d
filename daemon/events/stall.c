#include <errno.h>
#include <signal.h>
#include <stdlib.h>

#include "events/stall.h"

#define STALL_TRACKED 4096 /* (site, process) pairs remembered as already reported */

struct reported {
	uint32_t site, tgid;
	uint64_t last_ns; /* the last call of the stall that was reported */
};

struct stall {
	struct reported seen[STALL_TRACKED];
	size_t n_seen, next; /* next: the slot a full table reuses */
	stall_last_calls_fn last_calls;
	/* For the walk's callback. */
	struct probes *p;
	const struct site_plan *sites;
	struct pipeline *pl;
	uint64_t now_ns;
};

int stall_new_from(stall_last_calls_fn last_calls, struct stall **out)
{
	if (!(*out = calloc(1, sizeof(**out))))
		return -ENOMEM;
	(*out)->last_calls = last_calls;
	return 0;
}

int stall_new(struct stall **out)
{
	return stall_new_from(probes_last_calls, out);
}

void stall_free(struct stall *st)
{
	free(st);
}

static struct reported *find(struct stall *st, uint32_t site, uint32_t tgid)
{
	for (size_t i = 0; i < st->n_seen; i++)
		if (st->seen[i].site == site && st->seen[i].tgid == tgid)
			return &st->seen[i];
	return NULL;
}

static bool check_one(void *ctx, __u32 site_id, __u32 tgid, __u64 last_ns)
{
	struct stall *st = ctx;
	const struct site *site = sites_find(st->sites, site_id);
	struct reported *r;

	if (kill(tgid, 0) && errno == ESRCH) {
		if ((r = find(st, site_id, tgid)))
			*r = st->seen[--st->n_seen];
		return true; /* the process is gone: forget it */
	}
	if (!site || site->cfg.kind != SALVE_SITE_STALL || st->now_ns < last_ns ||
	    st->now_ns - last_ns <= site->probe->every_ns)
		return false;
	r = find(st, site_id, tgid);
	if (r && r->last_ns == last_ns)
		return false; /* this stall was reported already */
	if (!r) {
		if (st->n_seen < STALL_TRACKED)
			r = &st->seen[st->n_seen++];
		else
			r = &st->seen[st->next++ % STALL_TRACKED];
	}
	*r = (struct reported){ site_id, tgid, last_ns };
	pipeline_stall(st->pl, site, tgid, st->now_ns, st->now_ns - last_ns);
	return false;
}

void stall_check(struct stall *st, struct probes *p, const struct site_plan *sites,
		 struct pipeline *pl, uint64_t now_ns)
{
	st->p = p;
	st->sites = sites;
	st->pl = pl;
	st->now_ns = now_ns;
	st->last_calls(p, check_one, st);
}
