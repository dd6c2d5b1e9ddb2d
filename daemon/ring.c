/* ring: how salved reads the kernel's ring buffer of records.
 *
 * Woken by the kernel when a record arrives in an empty ring, salved reads RING_BATCH
 * records at most at a time: what the ring still holds keeps its descriptor ready, and
 * the loop comes back to it after the timers, the control socket and the actions that
 * were ready too, so a storm delays none of them by more than a batch.
 *
 * Under a storm, a wake-up per record (the kernel wakes the reader whenever it had
 * caught up) would cost more than the record: woken again within RING_PACE_NS of the
 * last time, salved stops listening for wake-ups and reads the ring every RING_PACE_NS
 * instead, until a read finds it empty. The ring holds hundreds of stack-carrying
 * records (thousands without stacks), several milliseconds of the fastest storm, so a
 * millisecond's pace loses nothing; a lone record waits a millisecond at most. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/loop.h"
#include "events/pipeline.h"
#include "kernel/probes.h"
#include "salved.h"

/* Records read before the loop serves the others ready: about a millisecond of a storm
 * at a few microseconds a record. */
#define RING_BATCH 256
#define RING_PACE_NS 1000000ULL

/* Read up to budget records (0: every one the ring holds) and hand the events held for
 * their rules on; true when records remain. */
static bool drain(struct daemon *d, size_t budget, size_t *read)
{
	int n;

	pipeline_budget(d->pipeline, budget);
	n = probes_consume(d->probes);
	*read = pipeline_budget_spent(d->pipeline);
	pipeline_flush(d->pipeline);
	if (n < 0 && n != -EINTR && n != -EAGAIN)
		salve_log(LOG_ERR, "reading the ring buffer: %s", strerror(-n));
	return n == -EAGAIN;
}

void daemon_drain_ring(struct daemon *d)
{
	size_t read;

	drain(d, 0, &read);
}

static void set_paced(struct daemon *d, bool paced)
{
	int err;

	if ((err = loop_watch(d->loop, probes_ring_fd(d->probes), paced ? 0 : LOOP_IN))) {
		salve_log(LOG_ERR, "the ring buffer's descriptor: %s", strerror(-err));
		return;
	}
	d->ring_paced = paced;
	if (paced && (err = loop_timer_arm(d->loop, &d->ring_pace, RING_PACE_NS)))
		set_paced(d, false); /* no timer: woken per record, as before */
}

/* The ring's descriptor is ready: the kernel woke us. */
static int on_ring(int fd, void *ctx)
{
	struct daemon *d = ctx;
	uint64_t now = loop_now_ns(CLOCK_MONOTONIC);
	bool storm = d->ring_woken_ns && now - d->ring_woken_ns < RING_PACE_NS;
	size_t read;

	(void)fd;
	d->ring_woken_ns = now;
	if (!drain(d, RING_BATCH, &read) && storm)
		set_paced(d, true);
	return daemon_output_gone(d, 0);
}

/* Paced: the ring's time to be read. */
static int on_pace(struct loop_timer *t, void *ctx)
{
	struct daemon *d = ctx;
	size_t read;
	int err = 0;

	(void)t;
	if (drain(d, RING_BATCH, &read)) /* more: the others first, then at once */
		err = loop_timer_arm(d->loop, &d->ring_pace, 0);
	else if (read)
		err = loop_timer_arm(d->loop, &d->ring_pace, RING_PACE_NS);
	else /* the storm is over */
		set_paced(d, false);
	if (err)
		set_paced(d, false);
	return daemon_output_gone(d, 0);
}

int daemon_ring_start(struct daemon *d)
{
	d->ring_pace = (struct loop_timer){ .handler = on_pace, .ctx = d };
	return loop_add(d->loop, probes_ring_fd(d->probes), on_ring, d);
}
